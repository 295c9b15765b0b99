//! Moves of a tag, and the moves that broke its repository's immutability:
//! pure functions of the tag's move log, so every ingest order gives the
//! same answer.
//!
//! A **move** is an instant at which the digest in force (the one
//! [`super::coalesce`] makes current from that instant on) changes from one
//! digest straight to another. Not moves: the first observation, a repeat,
//! a digest that loses the same-instant rule (an empty interval: it was
//! never in force), and a deletion followed by a new digest (the tag was
//! gone; ECR lets an untagged tag be pushed again). A move is a
//! **violation** when the tag was immutable under the repository's setting
//! in force at that instant.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use super::template::{MutabilitySetting, TagMutability};
use crate::id::{Digest, TagId};

/// One move of a tag: at `at`, it went from `from` straight to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TagMove {
    /// The instant of the observation that made `to` the digest in force.
    pub at: Timestamp,
    /// The digest in force before.
    pub from: Digest,
    /// The digest in force from `at` on.
    pub to: Digest,
}

/// A move of a tag that its repository's setting made immutable: what a
/// registry must not do. Recorded by ingest (never refused there: it is what
/// the registry did); the API refuses to make one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The tag that moved.
    pub tag: TagId,
    /// The digest it pointed to.
    pub from: Digest,
    /// The digest it was then observed pointing to.
    pub to: Digest,
    /// When it was observed pointing to `to`.
    pub observed_at: Timestamp,
    /// The rule that made the tag immutable.
    pub rule: TagMutability,
}

/// The digest in force after each instant of a move log, in order: one
/// entry per instant (the instant's winner under the same-instant rule,
/// `None` for a deletion).
fn in_force_by_instant(log: &[(Timestamp, Option<Digest>)]) -> Vec<(Timestamp, Option<Digest>)> {
    let mut out: Vec<(Timestamp, Option<Digest>)> = Vec::new();
    for &(t, d) in log {
        match out.last_mut() {
            // The log is in key order, so the last entry of an instant is its winner.
            Some(last) if last.0 == t => last.1 = d,
            _ => out.push((t, d)),
        }
    }
    out
}

/// A tag's moves, oldest first, from its move log in the log's order (by
/// instant, and at one instant by digest, deletions first), as
/// [`super::coalesce`] takes it.
///
/// ```
/// use ociledger::id::{Algorithm, Digest};
/// use ociledger::model::{tag_moves, Timestamp};
///
/// let (a, b) = (Digest::of(Algorithm::Sha256, b"a"), Digest::of(Algorithm::Sha256, b"b"));
/// let t = |s: &str| s.parse::<Timestamp>().unwrap();
/// let log = [(t("2024-01-01T00:00:00Z"), Some(a)), (t("2024-02-01T00:00:00Z"), Some(a)),
///            (t("2024-03-01T00:00:00Z"), Some(b)), (t("2024-04-01T00:00:00Z"), None),
///            (t("2024-05-01T00:00:00Z"), Some(a))];
/// let moves = tag_moves(&log);
/// assert_eq!(moves.len(), 1); // a → b; the repeat, the deletion and the return after it are not moves
/// assert_eq!((moves[0].from, moves[0].to), (a, b));
/// ```
#[must_use]
pub fn tag_moves(log: &[(Timestamp, Option<Digest>)]) -> Vec<TagMove> {
    let mut out = Vec::new();
    let mut in_force: Option<Digest> = None;
    for (at, now) in in_force_by_instant(log) {
        if let (Some(from), Some(to)) = (in_force, now)
            && from != to
        {
            out.push(TagMove { at, from, to });
        }
        in_force = now;
    }
    out
}

/// How many times the digest in force changed (a deletion counts) at or
/// after `since`: how far a container that ran the digest in force just
/// before `since` is behind the tag.
pub(crate) fn changes_since(log: &[(Timestamp, Option<Digest>)], since: Timestamp) -> u64 {
    let mut in_force: Option<Digest> = None;
    let mut n = 0;
    for (at, now) in in_force_by_instant(log) {
        if now != in_force && at >= since {
            n += 1;
        }
        in_force = now;
    }
    n
}

/// The setting of `settings` (oldest first) in force at `t`: the last one
/// whose `since` is at or before `t` (the first has no `since`).
#[must_use]
pub(crate) fn setting_at(
    settings: &[MutabilitySetting],
    t: Timestamp,
) -> Option<&MutabilitySetting> {
    settings
        .iter()
        .rev()
        .find(|s| s.since.is_none_or(|since| since <= t))
}

/// The moves of tag `tag` (its name within the repository) that broke the
/// repository's settings: each move with the rule in force at its instant.
pub(crate) fn violations_in(
    tag: &str,
    log: &[(Timestamp, Option<Digest>)],
    settings: &[MutabilitySetting],
) -> Vec<(TagMove, TagMutability)> {
    if !settings.iter().any(MutabilitySetting::restricts) {
        return Vec::new();
    }
    tag_moves(log)
        .into_iter()
        .filter_map(|m| {
            let rule = setting_at(settings, m.at)?.for_tag(tag);
            (!rule.mutable).then_some((m, rule))
        })
        .collect()
}
