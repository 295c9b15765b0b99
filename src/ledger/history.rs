//! History queries: digest → tags, tag → digest at a time, and paginated history.

use serde::Serialize;

use super::records::MAX_PAGE;
use super::{Ledger, Page, Snapshot};
use crate::error::{Error, Result};
use crate::id::{Digest, TagId};
use crate::model::{Reference, TagMatch, TagMutability, Timestamp};

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
    /// When the move into this interval (from the previous digest) was a
    /// violation, the rule it broke: the tag was immutable. Left out of the
    /// JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<TagMutability>,
}

/// Cursor text `<microseconds since the epoch>/<digest>`: the position of
/// the last item returned.
fn parse_cursor(cursor: &str) -> Result<(Timestamp, Digest)> {
    let invalid = || Error::Invalid {
        location: "cursor".to_owned(),
        message: "not a cursor returned by this listing".to_owned(),
        value: Some(cursor.to_owned()),
    };
    let (t, d) = cursor.split_once('/').ok_or_else(invalid)?;
    let t = t
        .parse()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    Ok((t, d.parse().map_err(|_| invalid())?))
}

fn make_cursor(t: Timestamp, d: &Digest) -> String {
    format!("{}/{d}", t.timestamp_micros())
}

impl Snapshot {
    fn tag_number(&self, tag: &TagId) -> Result<u32> {
        self.view.tag_number(tag)?.ok_or_else(|| Error::NotFound {
            what: "tag",
            id: tag.to_string(),
        })
    }

    /// The digest `tag` pointed to at `t`, with that interval; `None` before
    /// its first observation or while it was deleted.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a tag never seen.
    pub fn tag_at(&self, tag: &TagId, t: Timestamp) -> Result<Option<HistoryEntry>> {
        self.view.guarded(|_| {
            let n = self.tag_number(tag)?;
            let Some(digest) = self.view.in_force(n, t)? else {
                return Ok(None);
            };
            // The interval that holds t (the last one starting at or before t:
            // empty same-instant intervals of losing digests are skipped).
            let entry = super::templates::marked_intervals(&self.view, tag, n)?
                .into_iter()
                .rev()
                .find(|(d, iv, _)| *d == digest && iv.contains(t))
                .map(|(artifact, iv, violation)| HistoryEntry {
                    artifact,
                    current: iv.is_current(),
                    since: iv.since,
                    until: iv.until,
                    violation,
                });
            Ok(entry)
        })
    }

    /// A tag's history, newest interval first, after `cursor` (from a previous
    /// page's `next`), at most `limit` (1 to [`MAX_PAGE`]). A tag that went
    /// A → B → A shows three entries. Deleted tags keep their history.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a tag never seen; [`Error::Invalid`] for a bad cursor.
    pub fn history(
        &self,
        tag: &TagId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<HistoryEntry>> {
        self.view.guarded(|_| {
            let limit = limit.clamp(1, MAX_PAGE);
            let after = cursor.map(parse_cursor).transpose()?;
            let n = self.tag_number(tag)?;
            let mut items: Vec<HistoryEntry> =
                super::templates::marked_intervals(&self.view, tag, n)?
                    .into_iter()
                    .rev()
                    .filter(|(d, iv, _)| after.is_none_or(|(t, cd)| (iv.since, *d) < (t, cd)))
                    .take(limit + 1)
                    .map(|(artifact, iv, violation)| HistoryEntry {
                        artifact,
                        current: iv.is_current(),
                        since: iv.since,
                        until: iv.until,
                        violation,
                    })
                    .collect();
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|e| make_cursor(e.since, &e.artifact))
            } else {
                None
            };
            Ok(Page { items, next })
        })
    }

    /// A tag's references (seed 003), newest first by when the pair was
    /// first observed, after `cursor`, at most `limit` (1 to [`MAX_PAGE`]).
    /// The cursor names a position, so references appended meanwhile (newer
    /// ones) do not shift the pages that follow it.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a tag never seen; [`Error::Invalid`] for a bad cursor.
    pub fn references(
        &self,
        tag: &TagId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Reference>> {
        self.view.guarded(|_| {
            let limit = limit.clamp(1, MAX_PAGE);
            let before = cursor.map(parse_cursor).transpose()?;
            let n = self.tag_number(tag)?;
            let rows = self.view.reference_page(n, before, limit)?;
            let next = (rows.len() == limit)
                .then(|| rows.last().map(|(t, d)| make_cursor(*t, d)))
                .flatten();
            let mut items = Vec::with_capacity(rows.len());
            for (_, digest) in rows {
                let record = self.view.reference_record(tag, &digest)?.ok_or_else(|| {
                    Error::Corrupt(format!(
                        "reference {tag}@{digest} is ordered but has no record"
                    ))
                })?;
                items.push(record);
            }
            Ok(Page { items, next })
        })
    }
}

impl Ledger {
    /// [`Snapshot::tags_for_digest`] on a new snapshot. For many lookups in
    /// a row, take one [`Ledger::snapshot`] and ask it.
    ///
    /// # Errors
    /// Storage errors.
    pub fn tags_for_digest(&self, digest: &Digest) -> Result<Vec<TagMatch>> {
        self.snapshot()?.tags_for_digest(digest)
    }

    /// [`Snapshot::tag_at`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::tag_at`].
    pub fn tag_at(&self, tag: &TagId, t: Timestamp) -> Result<Option<HistoryEntry>> {
        self.snapshot()?.tag_at(tag, t)
    }

    /// [`Snapshot::history`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::history`].
    pub fn history(
        &self,
        tag: &TagId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<HistoryEntry>> {
        self.snapshot()?.history(tag, cursor, limit)
    }

    /// [`Snapshot::references`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::references`].
    pub fn references(
        &self,
        tag: &TagId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Reference>> {
        self.snapshot()?.references(tag, cursor, limit)
    }
}
