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

/// One match of a [`crate::Lookup`] answer, borrowed from the snapshot and
/// the lookup's buffer: the same tag, interval and via as the [`TagMatch`]
/// that [`crate::Snapshot::tags_for_digest`] gives, without building it.
///
/// The times stay the stored microseconds until asked for as dates, and
/// the tag is the snapshot's own name, not a counted copy, so reading an
/// answer allocates and writes nothing. [`TagMatchRef::to_owned_match`]
/// makes the owned [`TagMatch`].
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ociledger::{Ledger, model::Observation};
/// let ledger = Ledger::in_memory()?;
/// let seen: Observation = serde_json::from_str(r#"{"repository": "nginx", "tag": "1.25",
///     "digest": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
///     "observed_at": "2023-11-14T22:13:20Z"}"#)?;
/// let digest = seen.digest;
/// ledger.ingest("scanner", &[seen])?;
/// let snap = ledger.snapshot()?;
/// let mut lookup = snap.lookup();
/// let answer = lookup.tags_for_digest(&digest)?;
/// let m = answer.iter().next().expect("one match");
/// assert_eq!(m.tag().to_string(), "docker.io/library/nginx:1.25");
/// assert!(m.is_current());
/// assert_eq!(m.since_micros(), 1_700_000_000_000_000);
/// assert_eq!(m.to_owned_match(), snap.tags_for_digest(&digest)?[0]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagMatchRef<'a> {
    tag: &'a Arc<TagId>,
    since: i64,
    until: Option<i64>,
    via: Option<&'a Via>,
}

impl<'a> TagMatchRef<'a> {
    /// A match of stored microseconds, each within [`Timestamp`]'s range
    /// (the lookup checked them, see [`TagMatchRef::in_range`]).
    pub(crate) fn new(
        tag: &'a Arc<TagId>,
        since: i64,
        until: Option<i64>,
        via: Option<&'a Via>,
    ) -> Self {
        Self {
            tag,
            since,
            until,
            via,
        }
    }

    /// Whether `micros` is an instant a [`Timestamp`] can hold.
    pub(crate) fn in_range(micros: i64) -> bool {
        const MIN: i64 = chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_micros();
        const MAX: i64 = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_micros();
        (MIN..=MAX).contains(&micros)
    }

    /// The tag.
    #[must_use]
    pub fn tag(&self) -> &'a TagId {
        self.tag
    }

    /// Whether the tag points to the digest now.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.until.is_none()
    }

    /// When the tag started pointing there, in microseconds since the Unix
    /// epoch (the stored unit).
    #[must_use]
    pub fn since_micros(&self) -> i64 {
        self.since
    }

    /// When it stopped, in microseconds since the Unix epoch; `None` while
    /// current.
    #[must_use]
    pub fn until_micros(&self) -> Option<i64> {
        self.until
    }

    /// When the tag started pointing there.
    #[must_use]
    pub fn since(&self) -> Timestamp {
        to_timestamp(self.since)
    }

    /// When it stopped; `None` while current.
    #[must_use]
    pub fn until(&self) -> Option<Timestamp> {
        self.until.map(to_timestamp)
    }

    /// `None` for a direct match, else how it was reached (see [`TagMatch::via`]).
    #[must_use]
    pub fn via(&self) -> Option<&'a Via> {
        self.via
    }

    /// The owned [`TagMatch`], equal to the one
    /// [`crate::Snapshot::tags_for_digest`] gives for this interval.
    #[must_use]
    pub fn to_owned_match(&self) -> TagMatch {
        TagMatch {
            tag: Arc::clone(self.tag),
            current: self.is_current(),
            since: self.since(),
            until: self.until(),
            via: self.via.map(|v| Arc::new(v.clone())),
        }
    }
}

/// A checked instant as a [`Timestamp`]; the lookup refused any other.
fn to_timestamp(micros: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
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
    runs(entries)
        .into_iter()
        .map(|(d, since, until)| (d, Interval { since, until }))
        .collect()
}

/// [`coalesce`] over any kind of instant, as `(digest, since, until)`.
fn runs<T, I>(entries: I) -> Vec<(Digest, T, Option<T>)>
where
    T: Copy + PartialEq,
    I: IntoIterator<Item = (T, Option<Digest>)>,
{
    let mut out = Vec::new();
    runs_from(None, entries, &mut out);
    out
}

/// [`runs`] over the rest of a log, appended to `out`, `in_force` being the
/// interval that runs into it (digest, since) as [`resume_point`] finds it:
/// that interval comes first, closed or continued by `entries`. Every
/// interval [`runs`] makes of the whole log and this one does not make ends
/// before `entries` start. The store runs it on the log's raw microseconds,
/// so a write derives a tag's index entries without converting each instant
/// to a [`Timestamp`] and back, from the part of the log it changes only,
/// into a buffer it reuses from tag to tag.
pub(crate) fn runs_from<T, I>(
    in_force: Option<(Digest, T)>,
    entries: I,
    out: &mut Vec<(Digest, T, Option<T>)>,
) where
    T: Copy + PartialEq,
    I: IntoIterator<Item = (T, Option<Digest>)>,
{
    let mut entries = entries.into_iter().peekable();
    // At most one interval per entry, and the one in force.
    out.reserve(entries.size_hint().0 + 1);
    // Index in `out` of the interval in force, if any.
    let mut running: Option<usize> = None;
    if let Some((d, since)) = in_force {
        out.push((d, since, None));
        running = Some(out.len() - 1);
    }
    while let Some((t, first)) = entries.next() {
        let in_force = running.map(|i| out[i].0);
        // The instant's last entry wins; the ones before it lose (no
        // buffer: an instant almost always has one entry).
        let mut winner = first;
        while let Some((_, d)) = entries.next_if(|(next, _)| *next == t) {
            if let Some(loser) = winner
                && Some(loser) != in_force
            {
                out.push((loser, t, Some(t)));
            }
            winner = d;
        }
        if winner != in_force {
            if let Some(i) = running.take() {
                out[i].2 = Some(t);
            }
            if let Some(w) = winner {
                out.push((w, t, None));
                running = Some(out.len() - 1);
            }
        }
    }
}

/// Where [`runs_from`] can take over a log for a change at or after
/// instant `from`: the index of the first entry at or after `from`, the
/// interval in force just before it (digest, since) if one is, and whether
/// that answer is settled, that is, holds whatever entries come before
/// `log`. It is not when no entry precedes `from` in `log`, or when the
/// digest in force won every instant from `log`'s first on (its interval may
/// have started earlier): the caller then passes more of the log, and for a
/// whole log the answer given is the truth.
///
/// After each instant the digest in force is the instant's last entry's
/// ([`runs`]' same-instant rule), so its interval started at the first of
/// the instants before `from` whose last entries all name it.
pub(crate) fn resume_point<T: Copy + PartialOrd>(
    log: &[(T, Option<Digest>)],
    from: T,
) -> (usize, Option<(Digest, T)>, bool) {
    let at = log.partition_point(|(t, _)| *t < from);
    let before = log.get(..at).unwrap_or_default();
    let Some(&(mut since, last)) = before.last() else {
        return (at, None, false);
    };
    let Some(d) = last else {
        return (at, None, true);
    };
    // An instant's first entry: its predecessor is the instant before's last.
    let mut start = before.partition_point(|(t, _)| *t < since);
    while let Some(&(t, last)) = start.checked_sub(1).and_then(|i| before.get(i)) {
        if last != Some(d) {
            return (at, Some((d, since)), true);
        }
        since = t;
        start = before.partition_point(|(u, _)| *u < t);
    }
    (at, Some((d, since)), false)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{TagMatchRef, resume_point, runs, runs_from};
    use crate::id::{Algorithm, Digest};

    type Run = (Digest, u8, Option<u8>);

    fn sorted(mut v: Vec<Run>) -> Vec<Run> {
        v.sort_unstable_by_key(|(d, since, until)| (d.to_string(), *since, *until));
        v
    }

    proptest! {
        /// A write re-derives a tag's index entries from its log's tail only
        /// (`resume_point` + `runs_from`); guards against that differing from
        /// the whole log's `runs`: an interval lost or doubled at the seam, a
        /// wrong `since` for the interval that runs into the tail (runs of one
        /// digest, same-instant losers), or a "settled" answer from part of a
        /// log that the entries before it would change.
        #[test]
        fn the_tail_from_its_resume_point_derives_what_the_whole_log_does(
            raw in proptest::collection::vec((0u8..12, proptest::option::of(0u8..3)), 0..24),
            from in 0u8..14,
            cut in 0usize..24,
        ) {
            let digests: Vec<Digest> =
                (0u8..3).map(|i| Digest::of(Algorithm::Sha256, &[i])).collect();
            let mut log = raw;
            log.sort_unstable();
            log.dedup();
            let log: Vec<(u8, Option<Digest>)> = log
                .into_iter()
                .map(|(t, d)| (t, d.map(|i| digests[usize::from(i)])))
                .collect();

            let (at, in_force, _) = resume_point(&log, from);
            let mut joined: Vec<Run> = runs(log[..at].iter().copied());
            let open: Vec<(Digest, u8)> =
                joined.iter().filter(|r| r.2.is_none()).map(|r| (r.0, r.1)).collect();
            prop_assert_eq!(open.first().copied(), in_force);
            joined.retain(|r| r.2.is_some());
            runs_from(in_force, log[at..].iter().copied(), &mut joined);
            prop_assert_eq!(sorted(joined), sorted(runs(log.iter().copied())));

            // Part of the log, starting at an instant's first entry before
            // `from`: an answer it calls settled is the whole log's.
            let start = log.partition_point(|(t, _)| *t < log.get(cut).map_or(u8::MAX, |e| e.0));
            if start <= at {
                let (part_at, part_in_force, settled) = resume_point(&log[start..], from);
                prop_assert_eq!(start + part_at, at);
                if settled {
                    prop_assert_eq!(part_in_force, in_force);
                }
            }
        }
    }

    /// The buffered lookup checks instants with `in_range` instead of
    /// converting them; guards against its bounds drifting from what
    /// chrono converts (a stored instant accepted there but refused by the
    /// owned answer, or a date silently replaced by the epoch).
    #[test]
    fn in_range_is_exactly_what_chrono_converts() {
        let min = chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_micros();
        let max = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_micros();
        for us in [i64::MIN, min - 1, min, -1, 0, 1, max, max + 1, i64::MAX] {
            assert_eq!(
                TagMatchRef::in_range(us),
                chrono::DateTime::from_timestamp_micros(us).is_some(),
                "{us}"
            );
        }
    }
}
