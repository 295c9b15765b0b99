//! History answers: intervals during which a tag pointed to a digest.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Timestamp, Via};
use crate::id::{Digest, TagId};

/// A half-open span `[since, until)` during which a tag pointed to a digest.
/// `until` is `None` while the tag still points there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    /// First observed instant.
    pub since: Timestamp,
    /// The instant the tag was seen pointing elsewhere (or deleted); `None` if current.
    pub until: Option<Timestamp>,
}

impl Interval {
    /// Whether the tag still points there.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.until.is_none()
    }

    /// Whether `t` lies in `[since, until)`.
    #[must_use]
    pub fn contains(&self, t: Timestamp) -> bool {
        self.since <= t && self.until.is_none_or(|u| t < u)
    }
}

/// One answer of [`crate::Ledger::tags_for_digest`]: a tag that points or
/// pointed to the digest, over one interval. A tag that pointed there twice
/// (A → B → A) gives two matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagMatch {
    /// The tag. Shared with the ledger's name cache, so a lookup allocates
    /// nothing per match beyond the result vector.
    pub tag: Arc<TagId>,
    /// Whether the tag points to the digest now.
    pub current: bool,
    /// When the tag started pointing there.
    pub since: Timestamp,
    /// When it stopped; `null` while current.
    pub until: Option<Timestamp>,
    /// `null` for a direct match (the tag pointed to the digest looked up);
    /// otherwise the digest the tag pointed to, reached from the one looked
    /// up through a manifest relation: the image index that lists it (with
    /// its platform), or the manifest whose config it is.
    pub via: Option<Arc<Via>>,
}

/// Turns one tag's move log into intervals.
///
/// `entries` must be in the log's order: by instant, and at one instant by
/// digest (canonical string order, "deleted" first). `None` is a deletion. An
/// entry whose digest is already in force extends the running interval
/// instead of starting one, so the log may hold redundant entries (a late,
/// out-of-order observation can make a later entry redundant; history is never
/// rewritten to remove it).
///
/// Same-instant rule: of several digests observed for a tag at one instant, the
/// greatest in canonical string order is the one in force from that instant on.
/// If it is the digest already in force, that interval simply continues. The
/// others get empty intervals `[t, t)`, so they are still found by digest.
///
/// ```
/// use ociledger::model::{coalesce, Timestamp};
/// use ociledger::id::{Algorithm, Digest};
///
/// let (a, b) = (Digest::of(Algorithm::Sha256, b"a"), Digest::of(Algorithm::Sha256, b"b"));
/// let t = |s: &str| s.parse::<Timestamp>().unwrap();
/// let log = [(t("2020-01-01T00:00:00Z"), Some(a)), (t("2020-02-01T00:00:00Z"), Some(b)),
///            (t("2020-03-01T00:00:00Z"), Some(b)), (t("2020-04-01T00:00:00Z"), Some(a))];
/// let intervals = coalesce(log);
/// assert_eq!(intervals.len(), 3); // a, b (one run), a again
/// assert_eq!(intervals[1].1.until, Some(t("2020-04-01T00:00:00Z")));
/// assert!(intervals[2].1.is_current());
/// ```
pub fn coalesce<I: IntoIterator<Item = (Timestamp, Option<Digest>)>>(
    entries: I,
) -> Vec<(Digest, Interval)> {
    let mut out: Vec<(Digest, Interval)> = Vec::new();
    // Index in `out` of the interval in force, if any.
    let mut running: Option<usize> = None;
    let mut entries = entries.into_iter().peekable();
    let mut at_instant: Vec<Option<Digest>> = Vec::new();
    while let Some((t, first)) = entries.next() {
        at_instant.clear();
        at_instant.push(first);
        while let Some((_, d)) = entries.next_if(|(next, _)| *next == t) {
            at_instant.push(d);
        }
        let Some((&winner, losers)) = at_instant.split_last() else {
            continue;
        };
        let in_force = running.map(|i| out[i].0);
        for &loser in losers.iter().flatten() {
            if Some(loser) != in_force {
                out.push((
                    loser,
                    Interval {
                        since: t,
                        until: Some(t),
                    },
                ));
            }
        }
        if winner != in_force {
            if let Some(i) = running.take() {
                out[i].1.until = Some(t);
            }
            if let Some(w) = winner {
                out.push((
                    w,
                    Interval {
                        since: t,
                        until: None,
                    },
                ));
                running = Some(out.len() - 1);
            }
        }
    }
    out
}
