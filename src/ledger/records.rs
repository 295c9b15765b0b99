//! Create, update, get, list and delete of the seeds' records.

use super::{Ledger, Page, Snapshot, check_actor};
use crate::error::{Error, Result};
use crate::id::{Digest, ReferenceId, RepositoryId, TagId};
use crate::model::{Reference, Repository, RepositoryBody, Tag, TagBody, Timestamp};
use crate::store::{TagState, Writer};

/// Listings return at most this many items per page, whatever is asked.
pub const MAX_PAGE: usize = 1000;

fn body_repository(body: &RepositoryBody) -> Result<RepositoryId> {
    RepositoryId::from_registry_namespace(&body.registry, &body.namespace).map_err(|e| {
        Error::Invalid {
            location: "body.registry".to_owned(),
            message: e.to_string(),
            value: Some(format!("{}/{}", body.registry, body.namespace)),
        }
    })
}

fn body_tag(body: &TagBody) -> Result<TagId> {
    TagId::new(body.repository.clone(), &body.tag).map_err(|e| Error::invalid_id("body.tag", &e))
}

fn mismatch(location: &str, path_id: &str, body_id: &str) -> Error {
    Error::Invalid {
        location: location.to_owned(),
        message: format!("the body describes {body_id}, not {path_id}"),
        value: Some(body_id.to_owned()),
    }
}

fn clamp(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE)
}

/// A cursor that no listing returned: listings' cursors are the last item's
/// ID (a repository ID, a tag name), so anything else is a caller's mistake.
fn bad_cursor(cursor: &str) -> Error {
    Error::Invalid {
        location: "cursor".to_owned(),
        message: "not a cursor returned by this listing".to_owned(),
        value: Some(cursor.chars().take(200).collect()),
    }
}

fn not_found(what: &'static str, id: &impl ToString) -> Error {
    Error::NotFound {
        what,
        id: id.to_string(),
    }
}

impl Snapshot {
    /// The repository record.
    ///
    /// # Errors
    /// [`Error::NotFound`] if it does not exist.
    pub fn repository(&self, id: &RepositoryId) -> Result<Repository> {
        self.view.guarded(|_| {
            self.view
                .repository(id)?
                .ok_or_else(|| not_found("repository", id))
        })
    }

    /// Repositories in ID order, after `cursor` (a repository ID from a
    /// previous page's `next`), at most `limit` (1 to [`MAX_PAGE`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn repositories(&self, cursor: Option<&str>, limit: usize) -> Result<Page<Repository>> {
        self.view.guarded(|_| {
            let limit = clamp(limit);
            if let Some(c) = cursor {
                c.parse::<RepositoryId>().map_err(|_| bad_cursor(c))?;
            }
            let rows = self.view.repo_page(cursor, limit)?;
            let next = (rows.len() == limit)
                .then(|| rows.last().map(|(id, _)| id.to_string()))
                .flatten();
            Ok(Page {
                items: rows.into_iter().map(|(_, r)| r).collect(),
                next,
            })
        })
    }

    /// The tag record: where it points now.
    ///
    /// # Errors
    /// [`Error::NotFound`] if it does not exist or was deleted.
    pub fn tag(&self, id: &TagId) -> Result<Tag> {
        self.view.guarded(|_| {
            self.view
                .tag_record(id)?
                .ok_or_else(|| not_found("tag", id))
        })
    }

    /// A repository's live tags in name order, after `cursor` (a tag name
    /// from a previous page's `next`), at most `limit` (1 to [`MAX_PAGE`]).
    ///
    /// # Errors
    /// [`Error::NotFound`] if the repository does not exist.
    pub fn tags(
        &self,
        repository: &RepositoryId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Tag>> {
        self.view.guarded(|_| {
            let limit = clamp(limit);
            if self.view.repository(repository)?.is_none() {
                return Err(not_found("repository", repository));
            }
            if let Some(c) = cursor {
                TagId::new(repository.clone(), c).map_err(|_| bad_cursor(c))?;
            }
            let mut items = Vec::new();
            let mut after = cursor.map(str::to_owned);
            // Deleted tags are skipped, so a page may need more than one scan.
            loop {
                let batch = self
                    .view
                    .repo_tag_page(repository, after.as_deref(), limit)?;
                let exhausted = batch.len() < limit;
                for (name, record) in batch {
                    after = Some(name);
                    if let Some(tag) = record {
                        items.push(tag);
                        if items.len() == limit {
                            return Ok(Page { items, next: after });
                        }
                    }
                }
                if exhausted {
                    return Ok(Page { items, next: None });
                }
            }
        })
    }

    /// The reference record for a (tag, digest) pair.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the tag never pointed to the digest.
    pub fn reference(&self, id: &ReferenceId) -> Result<Reference> {
        self.view.guarded(|_| {
            self.view
                .reference_record(id.tag(), id.digest())?
                .ok_or_else(|| not_found("reference", id))
        })
    }
}

impl Ledger {
    /// Creates a repository from `body`.
    ///
    /// # Errors
    /// [`Error::Conflict`] if it exists, [`Error::Invalid`] for a bad
    /// registry/namespace or actor.
    pub fn create_repository(&self, actor: &str, body: &RepositoryBody) -> Result<Repository> {
        check_actor(actor)?;
        let id = body_repository(body)?;
        let now = self.now();
        self.write("create repository", |w| {
            w.create_repository(&id, body, actor, now)
        })
    }

    /// Replaces a repository's mutable fields with `body`'s, keeping `created_*`.
    ///
    /// # Errors
    /// [`Error::NotFound`] if it does not exist; [`Error::Invalid`] if the
    /// body names another repository.
    pub fn update_repository(
        &self,
        actor: &str,
        id: &RepositoryId,
        body: &RepositoryBody,
    ) -> Result<Repository> {
        check_actor(actor)?;
        let body_id = body_repository(body)?;
        if &body_id != id {
            return Err(mismatch("body.registry", id.as_str(), body_id.as_str()));
        }
        let now = self.now();
        self.write("update repository", |w| {
            w.update_repository(id, body, actor, now)
        })
    }

    /// [`Snapshot::repository`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::repository`].
    pub fn get_repository(&self, id: &RepositoryId) -> Result<Repository> {
        self.snapshot()?.repository(id)
    }

    /// [`Snapshot::repositories`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::repositories`].
    pub fn repositories(&self, cursor: Option<&str>, limit: usize) -> Result<Page<Repository>> {
        self.snapshot()?.repositories(cursor, limit)
    }

    /// Creates a tag pointing at `body.artifact`, observed now. Its repository must exist.
    ///
    /// # Errors
    /// [`Error::Conflict`] if the tag exists (and is not deleted);
    /// [`Error::NotFound`] if its repository does not exist.
    pub fn create_tag(&self, actor: &str, body: &TagBody) -> Result<Tag> {
        check_actor(actor)?;
        let id = body_tag(body)?;
        let now = self.now();
        self.write("create tag", |w| {
            let repo = w
                .checked_repo_number(id.repository())?
                .ok_or_else(|| not_found("repository", id.repository()))?;
            let (mut tag, _) = w.ensure_tag(&id, repo, actor, now)?;
            if tag.is_live() {
                return Err(Error::Conflict {
                    what: "tag",
                    id: id.to_string(),
                });
            }
            // A deleted tag that is created again starts a new life.
            Writer::restart_tag(&mut tag, actor, now);
            point_now(w, &mut tag, &id, body.artifact, actor, now)?;
            tag.to_record(&id)?.ok_or_else(|| stale_clock(&id))
        })
    }

    /// Points an existing tag at `body.artifact`, observed now: appends to its
    /// history when the digest changes, and sets `last_modified_*` either way.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the tag does not exist or was deleted;
    /// [`Error::Invalid`] if the body names another tag.
    pub fn update_tag(&self, actor: &str, id: &TagId, body: &TagBody) -> Result<Tag> {
        check_actor(actor)?;
        let body_id = body_tag(body)?;
        if &body_id != id {
            return Err(mismatch("body.tag", &id.to_string(), &body_id.to_string()));
        }
        let now = self.now();
        self.write("update tag", |w| {
            let mut tag = live_tag(w, id)?;
            // A move of a tag its repository made immutable is refused.
            super::templates::refuse_immutable_move(w, &tag, id, body.artifact, now)?;
            // Touched first: `apply` writes the row back, so one write does.
            Writer::touch_tag(&mut tag, actor, now);
            point_now(w, &mut tag, id, body.artifact, actor, now)?;
            tag.to_record(id)?.ok_or_else(|| stale_clock(id))
        })
    }

    /// Deletes a tag: its current interval ends now; its history and
    /// references stay, and digest lookups still find it as historical.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the tag does not exist or was already deleted.
    pub fn delete_tag(&self, actor: &str, id: &TagId) -> Result<()> {
        check_actor(actor)?;
        let now = self.now();
        self.write("delete tag", |w| {
            let mut tag = live_tag(w, id)?;
            w.apply(&mut tag, &[(now, None)], actor, now)?;
            if tag.is_live() {
                // The clock is behind the tag's last observation: the deletion
                // went into the past and did not end the current interval.
                return Err(stale_clock(id));
            }
            Ok(())
        })
    }

    /// [`Snapshot::tag`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::tag`].
    pub fn get_tag(&self, id: &TagId) -> Result<Tag> {
        self.snapshot()?.tag(id)
    }

    /// [`Snapshot::tags`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::tags`].
    pub fn tags(
        &self,
        repository: &RepositoryId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Tag>> {
        self.snapshot()?.tags(repository, cursor, limit)
    }

    /// [`Snapshot::reference`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::reference`].
    pub fn get_reference(&self, id: &ReferenceId) -> Result<Reference> {
        self.snapshot()?.reference(id)
    }
}

/// Tag `id`, if it exists and is not deleted.
fn live_tag(w: &Writer<'_>, id: &TagId) -> Result<TagState> {
    match w.tag_state(id)? {
        Some(tag) if tag.is_live() => Ok(tag),
        _ => Err(not_found("tag", id)),
    }
}

/// Points the tag at `artifact` from `now` on (appending to its history if
/// the digest changes); fails if the clock is behind the tag's last
/// observation, because then the write would land in the past.
fn point_now(
    w: &mut Writer<'_>,
    tag: &mut TagState,
    id: &TagId,
    artifact: Digest,
    actor: &str,
    now: Timestamp,
) -> Result<()> {
    w.apply(tag, &[(now, Some(artifact))], actor, now)?;
    if tag.current() != Some(artifact) {
        return Err(stale_clock(id));
    }
    Ok(())
}

fn stale_clock(id: &TagId) -> Error {
    Error::Invalid {
        location: "clock".to_owned(),
        message: format!(
            "the write's time is earlier than {id}'s last observation, so it cannot change where the tag points now"
        ),
        value: None,
    }
}
