//! Create, update, get, list and delete of the seeds' records.

use super::{Ledger, Page, check_actor};
use crate::error::{Error, Result};
use crate::id::{Digest, ReferenceId, RepositoryId, TagId};
use crate::model::{Reference, Repository, RepositoryBody, Tag, TagBody, Timestamp};
use crate::store::{Snapshot, Writer};
use crate::store::rows::{AuditRow, RepoRow, TagRow, from_micros, micros};

/// Listings return at most this many items per page, whatever is asked.
pub const MAX_PAGE: usize = 1000;

fn repository_record(id: &RepositoryId, row: &RepoRow) -> Result<Repository> {
    let audit = row.audit.to_audit()?;
    Ok(Repository {
        schema: None,
        registry: id.registry().to_owned(),
        namespace: id.namespace().to_owned(),
        last_scanned_on: from_micros(row.last_scanned_on)?,
        projects: row.projects.clone(),
        project_components: row.project_components.clone(),
        packages: row.packages.clone(),
        created_by: audit.created_by,
        created_on: audit.created_on,
        last_modified_by: audit.last_modified_by,
        last_modified_on: audit.last_modified_on,
    })
}

/// The tag record, or `None` for a deleted tag (its row stays for history).
fn tag_record(id: &TagId, row: &TagRow) -> Result<Option<Tag>> {
    let Some(current) = &row.current else {
        return Ok(None);
    };
    let artifact =
        Digest::from_compact(current).map_err(|e| Error::Corrupt(format!("tag {id}: {e}")))?;
    let audit = row.audit.to_audit()?;
    Ok(Some(Tag {
        schema: None,
        artifact,
        repository: id.repository().clone(),
        tag: id.tag().to_owned(),
        created_by: audit.created_by,
        created_on: audit.created_on,
        last_modified_by: audit.last_modified_by,
        last_modified_on: audit.last_modified_on,
    }))
}

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
        let row = RepoRow {
            id: id.as_str().to_owned(),
            last_scanned_on: micros(body.last_scanned_on),
            projects: body.projects.clone(),
            project_components: body.project_components.clone(),
            packages: body.packages.clone(),
            audit: AuditRow::new(actor, now),
        };
        self.write(|w| {
            if w.repo_number(&id)?.is_some() {
                return Err(Error::Conflict {
                    what: "repository",
                    id: id.to_string(),
                });
            }
            w.create_repo(&id, &row)?;
            repository_record(&id, &row)
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
        self.write(|w| {
            let n = w.repo_number(id)?.ok_or_else(|| Error::NotFound {
                what: "repository",
                id: id.to_string(),
            })?;
            let mut row = w.repo(n)?;
            row.last_scanned_on = micros(body.last_scanned_on);
            row.projects.clone_from(&body.projects);
            row.project_components.clone_from(&body.project_components);
            row.packages.clone_from(&body.packages);
            row.audit.touch(actor, now);
            w.put_repo(n, &row)?;
            repository_record(id, &row)
        })
    }

    /// The repository record.
    ///
    /// # Errors
    /// [`Error::NotFound`] if it does not exist.
    pub fn get_repository(&self, id: &RepositoryId) -> Result<Repository> {
        let snap = self.snapshot()?;
        let n = snap.repo_number(id)?.ok_or_else(|| Error::NotFound {
            what: "repository",
            id: id.to_string(),
        })?;
        repository_record(id, &snap.repo_row(n)?)
    }

    /// Repositories in ID order, after `cursor` (a repository ID from a
    /// previous page's `next`), at most `limit` (capped at [`MAX_PAGE`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn repositories(&self, cursor: Option<&str>, limit: usize) -> Result<Page<Repository>> {
        let limit = clamp(limit);
        let rows = self.snapshot()?.repo_page(cursor, limit)?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|(k, _)| k.clone()))
            .flatten();
        let items = rows
            .iter()
            .map(|(k, row)| {
                let id: RepositoryId = k
                    .parse()
                    .map_err(|e| Error::Corrupt(format!("repository key {k:?}: {e}")))?;
                repository_record(&id, row)
            })
            .collect::<Result<_>>()?;
        Ok(Page { items, next })
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
        self.write(|w| {
            let repo = w
                .repo_number(id.repository())?
                .ok_or_else(|| Error::NotFound {
                    what: "repository",
                    id: id.repository().to_string(),
                })?;
            let (n, mut row, _) = w.ensure_tag(&id, repo, actor, now)?;
            if row.current.is_some() {
                return Err(Error::Conflict {
                    what: "tag",
                    id: id.to_string(),
                });
            }
            // A deleted tag that is created again starts a new life.
            row.audit = AuditRow::new(actor, now);
            point_now(w, (n, &mut row), &id, body.artifact, actor, now)?;
            tag_record(&id, &row)?.ok_or_else(|| stale_clock(&id))
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
        self.write(|w| {
            let (n, mut row) = live_tag(w, id)?;
            // Touched first: `apply` writes the row back, so one write does.
            row.audit.touch(actor, now);
            point_now(w, (n, &mut row), id, body.artifact, actor, now)?;
            tag_record(id, &row)?.ok_or_else(|| stale_clock(id))
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
        self.write(|w| {
            let (n, mut row) = live_tag(w, id)?;
            w.apply(n, &mut row, &[(micros(now), None)], actor, now)?;
            if row.current.is_some() {
                // The clock is behind the tag's last observation: the deletion
                // went into the past and did not end the current interval.
                return Err(stale_clock(id));
            }
            Ok(())
        })
    }

    /// The tag record: where it points now.
    ///
    /// # Errors
    /// [`Error::NotFound`] if it does not exist or was deleted.
    pub fn get_tag(&self, id: &TagId) -> Result<Tag> {
        let snap = self.snapshot()?;
        let not_found = || Error::NotFound {
            what: "tag",
            id: id.to_string(),
        };
        let n = snap.tag_number(id)?.ok_or_else(not_found)?;
        tag_record(id, &snap.tag_row(n)?)?.ok_or_else(not_found)
    }

    /// A repository's live tags in name order, after `cursor` (a tag name
    /// from a previous page's `next`), at most `limit`.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the repository does not exist.
    pub fn tags(
        &self,
        repository: &RepositoryId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Tag>> {
        let limit = clamp(limit);
        let snap = self.snapshot()?;
        snap.repo_number(repository)?
            .ok_or_else(|| Error::NotFound {
                what: "repository",
                id: repository.to_string(),
            })?;
        let mut items = Vec::new();
        let mut after = cursor.map(str::to_owned);
        // Deleted tags are skipped, so a page may need more than one scan.
        loop {
            let batch = snap.repo_tag_page(repository, after.as_deref(), limit)?;
            let exhausted = batch.len() < limit;
            for (name, n) in batch {
                after = Some(name.clone());
                let id = TagId::new(repository.clone(), &name)
                    .map_err(|e| Error::Corrupt(e.to_string()))?;
                if let Some(tag) = tag_record(&id, &snap.tag_row(n)?)? {
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
    }

    /// The reference record for a (tag, digest) pair.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the tag never pointed to the digest.
    pub fn get_reference(&self, id: &ReferenceId) -> Result<Reference> {
        let snap = self.snapshot()?;
        reference_record(&snap, id.tag(), id.digest())?.ok_or_else(|| Error::NotFound {
            what: "reference",
            id: id.to_string(),
        })
    }
}

pub(super) fn reference_record(
    snap: &Snapshot,
    tag: &TagId,
    digest: &Digest,
) -> Result<Option<Reference>> {
    let Some(n) = snap.tag_number(tag)? else {
        return Ok(None);
    };
    let Some(row) = snap.reference_row(n, digest)? else {
        return Ok(None);
    };
    let audit = row.audit.to_audit()?;
    Ok(Some(Reference {
        schema: None,
        tag: tag.clone(),
        artifact: *digest,
        created_by: audit.created_by,
        created_on: audit.created_on,
        last_modified_by: audit.last_modified_by,
        last_modified_on: audit.last_modified_on,
    }))
}

/// Tag `id`'s number and row, if it exists and is not deleted.
fn live_tag(w: &Writer<'_>, id: &TagId) -> Result<(u32, TagRow)> {
    let found = w.tag_number(id)?.map(|n| w.tag(n).map(|r| (n, r))).transpose()?;
    match found {
        Some((n, row)) if row.current.is_some() => Ok((n, row)),
        _ => Err(Error::NotFound {
            what: "tag",
            id: id.to_string(),
        }),
    }
}

/// Points tag `n` at `artifact` from `now` on (appending to its history if
/// the digest changes); fails if the clock is behind the tag's last
/// observation, because then the write would land in the past.
fn point_now(
    w: &mut Writer<'_>,
    (n, row): (u32, &mut TagRow),
    id: &TagId,
    artifact: Digest,
    actor: &str,
    now: Timestamp,
) -> Result<()> {
    w.apply(n, row, &[(micros(now), Some(artifact))], actor, now)?;
    if row.current != Some(artifact.to_compact()) {
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
