//! The digest-index rows of a data set, computed from the base with the
//! public `coalesce`, independently of the ledger: what the raw redb and
//! SQLite copies hold, what the queries are drawn from, and the interval count
//! the ledger is checked against.

use ociledger::id::Digest;
use ociledger::model::{Timestamp, coalesce};

use crate::base::{Base, Part};

/// `until` of an open (current) interval, as in the ledger's index.
pub const OPEN: i64 = i64::MAX;

/// One digest-index row: the tag (global number in the data set) pointed to
/// the digest over `[since, until)` (µs; `until == OPEN` while current).
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The digest pointed to.
    pub digest: Digest,
    /// The tag's number in the data set (an index into [`DigestIndex::names`]).
    pub tag: u32,
    /// Start of the interval, µs.
    pub since: i64,
    /// End of the interval, µs, or [`OPEN`].
    pub until: i64,
}

/// Every row of a data set, with its tag names.
#[derive(Debug)]
pub struct DigestIndex {
    /// Sorted by (digest, tag, since), the ledger's key order.
    pub rows: Vec<Row>,
    /// Tag names (`TagId` text) by tag number.
    pub names: Vec<String>,
    /// Observations replayed.
    pub observations: u64,
}

impl DigestIndex {
    /// The rows of the data set made of `parts`.
    #[must_use]
    pub fn compute(base: &Base, parts: &[Part]) -> Self {
        let mut rows: Vec<Row> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut observations = 0u64;
        for part in parts {
            let (ids, obs) = base.materialize(part);
            observations += obs.len() as u64;
            let first = u32::try_from(names.len()).expect("fits");
            let mut per_tag: Vec<Vec<(Timestamp, Option<Digest>)>> = vec![Vec::new(); ids.len()];
            for (pos, o) in &obs {
                per_tag[*pos as usize].push((o.observed_at, Some(o.digest)));
            }
            for (pos, mut log) in per_tag.into_iter().enumerate() {
                log.sort_unstable();
                log.dedup();
                for (d, iv) in coalesce(log) {
                    rows.push(Row {
                        digest: d,
                        tag: first + u32::try_from(pos).expect("fits"),
                        since: iv.since.timestamp_micros(),
                        until: iv.until.map_or(OPEN, |u| u.timestamp_micros()),
                    });
                }
            }
            names.extend(ids.iter().map(ToString::to_string));
        }
        rows.sort_unstable_by_key(|a| (a.digest, a.tag, a.since));
        Self {
            rows,
            names,
            observations,
        }
    }

    /// The number of rows for `d` (rows are sorted by digest).
    #[must_use]
    pub fn count(&self, d: &Digest) -> usize {
        let lo = self.rows.partition_point(|r| r.digest < *d);
        let hi = self.rows.partition_point(|r| r.digest <= *d);
        hi - lo
    }
}
