//! A tag's digest-index entries as its move log makes them: of the whole
//! log (a rebuild), or of the part of it a write can change (an ingest: a
//! write almost always adds at the end of a long history, and re-deriving
//! all of it twice per tag written was 4.5 % of an ingest).

use super::super::log::{Chunk, LogEntry};
use crate::error::{Error, Result};
use crate::id::Digest;
use crate::model::{TagMatchRef, resume_point, runs_from};

/// The (instant, digest) of every entry of `chunks`, in log order, in a
/// vector sized once (a flattening `collect` cannot size it and regrows it).
pub(in crate::store) fn log_keys(chunks: &[Chunk]) -> Vec<(i64, Option<Digest>)> {
    let mut keys = Vec::with_capacity(chunks.iter().map(|c| c.entries.len()).sum());
    keys.extend(
        chunks
            .iter()
            .flat_map(|c| c.entries.iter().map(LogEntry::key)),
    );
    keys
}

/// Checks that `at`, an instant of tag `n`'s log, is one a
/// [`Timestamp`](crate::model::Timestamp) can hold, as a lookup checks it.
pub(in crate::store) fn check_instant(n: u32, at: i64) -> Result<()> {
    if TagMatchRef::in_range(at) {
        Ok(())
    } else {
        Err(Error::Corrupt(format!(
            "table tag_log, tag number {n}: timestamp {at} out of range"
        )))
    }
}

/// One digest-index entry of a tag as its log makes it: digest, since,
/// until (`None`: still in force), in the log's microseconds.
pub(in crate::store) type IndexRun = (Digest, i64, Option<i64>);

/// A tag's digest-index entries as its whole log makes them:
/// [`coalesce`](crate::model::coalesce)'s intervals, in log order. Each
/// instant of tag `n`'s log is checked ([`check_instant`]).
pub(in crate::store) fn index_runs(n: u32, log: &[(i64, Option<Digest>)]) -> Result<Vec<IndexRun>> {
    for &(at, _) in log {
        check_instant(n, at)?;
    }
    let mut out = Vec::with_capacity(log.len());
    runs_from(None, log.iter().copied(), &mut out);
    Ok(out)
}

/// Where a write of entries at or after instant `from` starts changing a
/// tag's intervals: the intervals that end before the log's first entry at
/// or after `from` are the same whatever the write adds there, so
/// [`Seam::index_runs`] before and after the write differ exactly where
/// [`index_runs`] of the whole log would.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seam {
    from: i64,
    /// The chunk holding the log's last entry before `from` (or an earlier
    /// one, when the interval in force there began before it); the write
    /// changes neither the chunks before it nor its entries before `from`.
    first_chunk: usize,
    /// The interval in force just before `from`: digest, since.
    in_force: Option<(Digest, i64)>,
}

impl Seam {
    /// The seam of `chunks` (the end of a tag's log, in order; all of it
    /// when `whole`) for a write at or after `from`, found before the write;
    /// `None` when it may lie before the first chunk held, which the caller
    /// then reads and asks again.
    pub fn find(chunks: &[Chunk], from: i64, whole: bool) -> Option<Self> {
        let mut first_chunk = chunks
            .partition_point(|c| c.entries.first().is_some_and(|e| e.at < from))
            .saturating_sub(1);
        loop {
            let part = chunks.get(first_chunk..).unwrap_or_default();
            let (_, in_force, settled) = resume_point(&log_keys(part), from);
            if settled {
                return Some(Self {
                    from,
                    first_chunk,
                    in_force,
                });
            }
            if first_chunk == 0 {
                // The log's first chunk: what it finds is the truth.
                return whole.then_some(Self {
                    from,
                    first_chunk,
                    in_force,
                });
            }
            first_chunk -= 1;
        }
    }

    /// The digest-index entries that the log from the seam on makes, into
    /// `out` (cleared first): the interval in force at the seam first, then
    /// those that start after it.
    pub fn index_runs(&self, chunks: &[Chunk], out: &mut Vec<IndexRun>) {
        let part = chunks.get(self.first_chunk..).unwrap_or_default();
        let tail = part
            .iter()
            .flat_map(|c| &c.entries)
            .map(LogEntry::key)
            .skip_while(|&(at, _)| at < self.from);
        out.clear();
        // At most one entry per log entry and the one in force: the buffer
        // is not regrown while `runs_from` fills it.
        out.reserve(part.iter().map(|c| c.entries.len()).sum::<usize>() + 1);
        runs_from(self.in_force, tail, out);
    }
}
