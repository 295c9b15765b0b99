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

/// What the chunks held say of a write's seam ([`Seam::find`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum Search {
    /// The seam, settled by the chunks held.
    Found(Seam),
    /// The interval in force just before the write is `digest`'s, and it
    /// began at or before `held_since` (its earliest instant held): the
    /// chunks before it would say when. The seam is `seam` with that
    /// interval's start ([`Seam::since`]).
    RunBefore {
        seam: Seam,
        digest: Digest,
        held_since: i64,
    },
    /// No entry held is before the write: the chunk before must be read.
    Earlier,
}

impl Seam {
    /// The seam of `chunks` (the end of a tag's log, in order; all of it
    /// when `whole`) for a write at or after `from`, found before the write.
    /// One pass over the entries held.
    pub fn find(chunks: &[Chunk], from: i64, whole: bool) -> Search {
        let first_held = chunks.first().and_then(|c| c.entries.first());
        if !whole && first_held.is_none_or(|e| e.at >= from) {
            return Search::Earlier;
        }
        let first_chunk = chunks
            .partition_point(|c| c.entries.first().is_some_and(|e| e.at < from))
            .saturating_sub(1);
        let (_, in_force, settled) = resume_point(&log_keys(chunks), from);
        let seam = Self {
            from,
            first_chunk,
            in_force,
        };
        match in_force {
            // The entries held settle it, or they are the whole log: what
            // it finds is the truth.
            _ if settled || whole => Search::Found(seam),
            Some((digest, held_since)) => Search::RunBefore {
                seam,
                digest,
                held_since,
            },
            None => Search::Earlier,
        }
    }

    /// This seam with `since` as the start of the interval in force, as
    /// the digest index has it ([`Search::RunBefore`]).
    pub fn since(self, since: i64) -> Self {
        Self {
            in_force: self.in_force.map(|(d, _)| (d, since)),
            ..self
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

#[cfg(test)]
mod tests {
    use crate::id::{Algorithm, Digest, TagId};
    use crate::model::{TagMatch, Timestamp};
    use crate::store::Store;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_timestamp_millis(1_600_000_000_000 + ms).expect("in range")
    }

    fn d(n: u8) -> Digest {
        Digest::of(Algorithm::Sha256, &[n])
    }

    /// A store whose one tag got `transactions`: each a write transaction
    /// of one `apply` per list of (milliseconds, digest) writes. The
    /// answers for d(0), d(1) and d(2) after them, and whether each
    /// transaction committed.
    fn written(transactions: &[&[&[(i64, u8)]]]) -> (Vec<Vec<TagMatch>>, Vec<bool>) {
        let store = Store::in_memory().expect("store");
        let tag: TagId = "registry.example/app:latest".parse().expect("tag");
        let mut committed = Vec::new();
        for applies in transactions {
            let result = store.write("test", |w| {
                let (repo, _) = w.upsert_scanned_repo(tag.repository(), at(0), "t", at(0))?;
                let (mut state, _) = w.ensure_tag(&tag, repo, "t", at(0))?;
                for writes in *applies {
                    let writes: Vec<_> =
                        writes.iter().map(|&(ms, n)| (at(ms), Some(d(n)))).collect();
                    w.apply(&mut state, &writes, "t", at(0))?;
                }
                Ok(())
            });
            committed.push(result.is_ok());
        }
        let view = store.view().expect("view");
        let answers = (0..3)
            .map(|n| view.tags_for_digest(&d(n)).expect("lookup"))
            .collect();
        (answers, committed)
    }

    /// A write takes the start of a run of one digest that began before
    /// the chunks it read from the digest index, whose rows a transaction
    /// writes only when it finishes. Guards against taking it there for a
    /// tag an earlier write of the same transaction changed: the row still
    /// has the run's old start, and the second write would remove an entry
    /// that is not there and add one that overlaps, silently. The writer
    /// writes each tag once per transaction; a second write reads its log
    /// back instead, finds the first write's entries (of a batch with no
    /// journal record yet) and is refused with the whole transaction.
    #[test]
    fn a_second_write_to_a_tag_in_one_transaction_is_refused_not_indexed_from_old_rows() {
        // d(1) for 10 s, then d(0) for 40 s: a run over three chunks.
        let log: Vec<(i64, u8)> = (0..50).map(|s| (s * 1000, u8::from(s < 10))).collect();
        // The run of d(0) would start at 9.5 s; then d(2) cuts it at 48.5 s.
        let (earlier, later) = ([(9_500, 0)], [(48_500, 2)]);
        let (two_writes, committed) = written(&[&[&log], &[&earlier, &later]]);
        let (log_only, _) = written(&[&[&log]]);
        assert_eq!(committed, [true, false]);
        assert_eq!(two_writes, log_only);
        // The same entries in one write per transaction: the run's start
        // moves, and the cut is indexed from it.
        let (apart, committed) = written(&[&[&log], &[&earlier], &[&later]]);
        assert_eq!(committed, [true, true, true]);
        let mut all = log.clone();
        all.extend(earlier.iter().chain(&later));
        all.sort_unstable();
        let (at_once, _) = written(&[&[&all]]);
        assert_eq!(apart, at_once);
        assert_eq!(apart[0].len(), 2, "{:?}", apart[0]);
        assert_eq!(apart[0][1].since, at(9_500));
    }
}
