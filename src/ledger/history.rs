//! History queries: digest → tags, tag → digest at a time, and paginated history.

use serde::Serialize;

use super::records::{MAX_PAGE, reference_record};
use super::{Ledger, Page};
use crate::error::{Error, Result};
use crate::id::{Digest, TagId};
use crate::model::{Reference, TagMatch, Timestamp};
use crate::store::rows::micros;

/// One interval of a tag's history: it pointed to `artifact` over `[since, until)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The digest.
    pub artifact: Digest,
    /// Whether the tag points there now.
    pub current: bool,
    /// When it started pointing there.
    pub since: Timestamp,
    /// When it stopped; `null` while current.
    pub until: Option<Timestamp>,
}

/// Cursor text `<micros>/<digest>`: the position of the last item returned.
fn parse_cursor(cursor: &str) -> Result<(i64, Digest)> {
    let invalid = || Error::Invalid {
        location: "cursor".to_owned(),
        message: "not a cursor returned by this listing".to_owned(),
        value: Some(cursor.to_owned()),
    };
    let (t, d) = cursor.split_once('/').ok_or_else(invalid)?;
    Ok((
        t.parse().map_err(|_| invalid())?,
        d.parse().map_err(|_| invalid())?,
    ))
}

fn make_cursor(t: i64, d: &Digest) -> String {
    format!("{t}/{d}")
}

impl Ledger {
    /// Every tag that points or pointed to `digest`, one [`TagMatch`] per
    /// interval: current ones first, then newest first. Unknown digests give
    /// an empty list. For many lookups in a row, use [`Ledger::snapshot`] and
    /// [`crate::Snapshot::tags_for_digest`] to skip opening a transaction each time.
    ///
    /// # Errors
    /// Storage errors.
    pub fn tags_for_digest(&self, digest: &Digest) -> Result<Vec<TagMatch>> {
        self.snapshot()?.tags_for_digest(digest)
    }

    /// The digest `tag` pointed to at `t`, with that interval; `None` before
    /// its first observation or while it was deleted.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a tag never seen.
    pub fn tag_at(&self, tag: &TagId, t: Timestamp) -> Result<Option<HistoryEntry>> {
        let snap = self.snapshot()?;
        let n = snap.tag_number(tag)?.ok_or_else(|| Error::NotFound {
            what: "tag",
            id: tag.to_string(),
        })?;
        let Some(digest) = snap.in_force(n, t)? else {
            return Ok(None);
        };
        // The interval that holds t (the last one starting at or before t:
        // empty same-instant intervals of losing digests are skipped).
        let entry = snap
            .intervals(n)?
            .into_iter()
            .rev()
            .find(|(d, iv)| *d == digest && iv.contains(t))
            .map(|(artifact, iv)| HistoryEntry {
                artifact,
                current: iv.is_current(),
                since: iv.since,
                until: iv.until,
            });
        Ok(entry)
    }

    /// A tag's history, newest interval first, after `cursor` (from a previous
    /// page's `next`), at most `limit`. A tag that went A → B → A shows three
    /// entries. Deleted tags keep their history.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a tag never seen; [`Error::Invalid`] for a bad cursor.
    pub fn history(
        &self,
        tag: &TagId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<HistoryEntry>> {
        let limit = limit.clamp(1, MAX_PAGE);
        let after = cursor.map(parse_cursor).transpose()?;
        let snap = self.snapshot()?;
        let n = snap.tag_number(tag)?.ok_or_else(|| Error::NotFound {
            what: "tag",
            id: tag.to_string(),
        })?;
        let mut items: Vec<HistoryEntry> = snap
            .intervals(n)?
            .into_iter()
            .rev()
            .filter(|(d, iv)| after.is_none_or(|(t, cd)| (micros(iv.since), *d) < (t, cd)))
            .take(limit + 1)
            .map(|(artifact, iv)| HistoryEntry {
                artifact,
                current: iv.is_current(),
                since: iv.since,
                until: iv.until,
            })
            .collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|e| make_cursor(micros(e.since), &e.artifact))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// A tag's references (seed 003), newest first by when the pair was
    /// first observed, after `cursor`, at most `limit`. The cursor names a
    /// position, so references appended meanwhile (newer ones) do not shift
    /// the pages that follow it.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a tag never seen; [`Error::Invalid`] for a bad cursor.
    pub fn references(
        &self,
        tag: &TagId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Reference>> {
        let limit = limit.clamp(1, MAX_PAGE);
        let before = cursor.map(parse_cursor).transpose()?;
        let snap = self.snapshot()?;
        let n = snap.tag_number(tag)?.ok_or_else(|| Error::NotFound {
            what: "tag",
            id: tag.to_string(),
        })?;
        let before_key = before.map(|(t, d)| (t, d.to_compact()));
        let rows = snap.reference_page(
            n,
            before_key.as_ref().map(|(t, d)| (*t, d.as_slice())),
            limit,
        )?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|(t, d)| make_cursor(*t, d)))
            .flatten();
        let mut items = Vec::with_capacity(rows.len());
        for (_, digest) in rows {
            let record = reference_record(&snap, tag, &digest)?.ok_or_else(|| {
                Error::Corrupt(format!(
                    "reference {tag}@{digest} is ordered but has no record"
                ))
            })?;
            items.push(record);
        }
        Ok(Page { items, next })
    }
}
