//! The tag side of a write: finding a tag by its ID (through the
//! process's map, `numbers.rs`, or `tag_keys`), creating it, and its row.

use redb::ReadableTable;

use super::{TagState, Writer, log};
use crate::error::{Error, Result};
use crate::id::{RepositoryId, TagId};
use crate::model::Timestamp;
use crate::store::numbers::Known;
use crate::store::rows::{self, AuditRow, TagRow};
use crate::store::tag_keys;

impl Writer<'_> {
    /// Tag `id`'s number: its repository's number (`repo_keys`, checked
    /// against that repository's row: a damaged entry would lead to another
    /// repository's tag), then `tag_keys`.
    pub fn tag_number(&self, id: &TagId) -> Result<Option<u32>> {
        let Some(repo) = self.checked_repo_number(id.repository())? else {
            return Ok(None);
        };
        tag_keys::get(&self.tag_keys, repo, id.tag())
    }

    /// Tag number `n`'s row, checked: it is written back.
    fn tag(&self, n: u32) -> Result<TagRow> {
        let row = self.tags.get(n)?.ok_or_else(|| {
            Error::Corrupt(format!(
                "table tag_keys: tag number {n} has no row in table tags"
            ))
        })?;
        let row: TagRow = rows::decode_row("tags", n, row.value())?;
        row.check(n)?;
        Ok(row)
    }

    pub(super) fn put_tag(&mut self, n: u32, row: &TagRow) -> Result<()> {
        let bytes = rows::encode(row)?;
        // A tag older than this transaction has a row, usually rewritten at
        // its size (its audit touched): replaced in place (see
        // `super::replace_in_place`).
        if n < self.first_new_tag
            && let Some(mut stored) = self.tags.get_mut(n)?
            && crate::store::replace_in_place(&mut stored, &bytes)?
        {
            return Ok(());
        }
        self.tags.insert(n, bytes.as_slice())?;
        Ok(())
    }

    /// Every tag of `repository` ever seen (deleted ones included), in name
    /// order: one key range of `tag_keys`, as `View::repo_tag_page` reads it.
    pub fn repo_tags(&self, repository: &RepositoryId) -> Result<Vec<TagId>> {
        let Some(repo) = self.repo_number(repository)? else {
            return Ok(Vec::new());
        };
        tag_keys::page(&self.tag_keys, repo, None, usize::MAX)?
            .into_iter()
            .map(|(name, _)| {
                TagId::new(repository.clone(), &name).map_err(|e| {
                    Error::Corrupt(format!(
                        "table tag_keys, key ({repo}, {name:?}): not a tag of repository {repository}: {e}"
                    ))
                })
            })
            .collect()
    }

    /// Tag `id` as it is now, if it was ever seen (deleted tags included).
    pub fn tag_state(&self, id: &TagId) -> Result<Option<TagState>> {
        match self.tag_number(id)? {
            Some(n) => {
                let row = self.tag(n)?;
                row.check_name(n, id)?;
                Ok(Some(self.loaded(n, row)?))
            }
            None => Ok(None),
        }
    }

    /// The state of existing tag `n` (row `row`): its log read once, for
    /// where it points now and for the next `apply`.
    pub(super) fn loaded(&self, n: u32, row: TagRow) -> Result<TagState> {
        let chunks: Vec<log::Chunk> = log::chunk_before(&self.tag_log, n, None)?
            .into_iter()
            .collect();
        let current = chunks
            .last()
            .and_then(|c| c.entries.last())
            .and_then(|e| e.digest);
        Ok(TagState {
            n,
            row,
            current,
            chunks: Some(chunks),
            row_changed: false,
        })
    }

    /// The tag, creating an empty (not yet pointing) one in repository number
    /// `repo` if needed, and whether it did. `repo` is its repository's
    /// checked number ([`Writer::checked_repo_number`],
    /// [`Writer::upsert_scanned_repo`]): an ingest resolves each repository
    /// once, not once per tag.
    pub fn ensure_tag(
        &mut self,
        id: &TagId,
        repo: u32,
        actor: &str,
        now: Timestamp,
    ) -> Result<(TagState, bool)> {
        // The process's map answers for the tags older than this
        // transaction; `tag_keys` for the rest, and where the map is unsure.
        let ask_index = match self.numbers.get(repo, id.tag()) {
            Known::Number(n) if n < self.first_new_tag => {
                let row = self.tag(n)?;
                if row.repo == repo && row.name == id.tag() {
                    return Ok((self.loaded(n, row)?, false));
                }
                // Another tag's row: a hash two tags share (one of them not
                // in the map yet), or a map gone wrong. The index decides.
                true
            }
            Known::Absent => self.numbers.covers() < self.first_new_tag as usize,
            Known::Number(_) | Known::Unsure => true,
        };
        if ask_index && let Some(n) = tag_keys::get(&self.tag_keys, repo, id.tag())? {
            return self.existing_tag(id, repo, n);
        }
        let n = self.next_tag;
        let next = n
            .checked_add(1)
            .filter(|&next| next < u32::MAX)
            .ok_or_else(|| Error::Corrupt("tag numbers exhausted".to_owned()))?;
        // A tag the map did not know may still be in `tag_keys` (created
        // earlier in this transaction): the insert shows it, and the entry
        // is put back.
        let held = self
            .tag_keys
            .insert((repo, id.tag()), n)?
            .map(|held| held.value());
        if let Some(held) = held {
            self.tag_keys.insert((repo, id.tag()), held)?;
            return self.existing_tag(id, repo, held);
        }
        self.next_tag = next;
        let row = TagRow {
            repo,
            name: id.tag().to_owned(),
            audit: AuditRow::new(actor, now),
        };
        // The row itself is written by `apply`, which every caller runs next.
        self.unapplied.push(true);
        self.new_names.push((n, repo, id.clone()));
        Ok((
            TagState {
                n,
                row,
                current: None,
                chunks: None,
                row_changed: true,
            },
            true,
        ))
    }

    /// Existing tag number `n`, which `tag_keys` gave for `id` of
    /// repository number `repo`: checked against its row.
    fn existing_tag(&self, id: &TagId, repo: u32, n: u32) -> Result<(TagState, bool)> {
        let row = self.tag(n)?;
        row.check_name(n, id)?;
        if row.repo != repo {
            return Err(Error::Corrupt(format!(
                "table tag_keys: {id} points at tag number {n}, whose row in table tags is in repository number {}, not {repo}",
                row.repo
            )));
        }
        Ok((self.loaded(n, row)?, false))
    }

    /// A deleted tag that is created again starts a new life: new audit.
    pub fn restart_tag(tag: &mut TagState, actor: &str, now: Timestamp) {
        tag.row.audit = AuditRow::new(actor, now);
        tag.row_changed = true;
    }

    /// Marks a modification of the tag (written by the next `apply`).
    pub fn touch_tag(tag: &mut TagState, actor: &str, now: Timestamp) {
        tag.row.audit.touch(actor, now);
        tag.row_changed = true;
    }

    /// The tag number, for ordering a batch's writes.
    pub fn tag_order(tag: &TagState) -> u32 {
        tag.n
    }
}
