//! Where a lookup puts its matches. The hot path is written once, generic
//! over a [`Sink`]: a `Vec<TagMatch>` (the owned answer) or a reused
//! [`RawAnswer`] that keeps the stored integers, so a classifier that
//! reuses one buffer pays no allocation, no reference count and no date
//! conversion per match.

use std::cmp::{Ordering, Reverse};
use std::fmt;
use std::sync::Arc;

use super::View;
use super::lookup::in_entry;
use crate::error::{Error, Result};
use crate::id::{DigestParts, TagId};
use crate::model::{Platform, TagMatchRef, Via};
use crate::store::OPEN;
use crate::store::names::Names;
use crate::store::packed::IndexEntry;

/// How an indirect match was reached, borrowed: the owned answer makes an
/// `Arc<Via>` of it per parent, the reused buffer writes it into a `Via`
/// it keeps from one lookup to the next.
///
/// Its digest stays in the parts the digest index stores it as until the
/// via is written: the copy's links reach a parent's group, not its
/// `Digest`, and building one to move it into the slot cost a copy more.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViaRef<'a> {
    pub digest: DigestParts<'a>,
    pub platform: Option<ViaPlatform<'a>>,
}

/// Where a via's platform comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ViaPlatform<'a> {
    /// One the in-memory copy holds: an answer shares it.
    Shared(&'a Arc<Platform>),
    /// One decoded from the file for this parent: an answer copies it.
    Decoded(&'a Platform),
}

impl ViaPlatform<'_> {
    fn to_shared(self) -> Arc<Platform> {
        match self {
            ViaPlatform::Shared(p) => Arc::clone(p),
            ViaPlatform::Decoded(p) => Arc::new(p.clone()),
        }
    }
}

impl ViaRef<'_> {
    pub(crate) fn to_via(self) -> Result<Via> {
        Ok(Via {
            digest: self.digest.to_digest().map_err(|e| damaged_via(&e))?,
            platform: self.platform.map(ViaPlatform::to_shared),
        })
    }

    /// Overwrites `via` with this one: the digest where it stands, a shared
    /// platform by reference (untouched when `via` shares it already: no
    /// count to move), a decoded one into the platform `via` holds alone
    /// when it does (reusing its strings' buffers).
    fn write_into(self, via: &mut Via) -> Result<()> {
        self.digest
            .write_to(&mut via.digest)
            .map_err(|e| damaged_via(&e))?;
        match (&mut via.platform, self.platform) {
            (Some(to), Some(ViaPlatform::Shared(from))) if Arc::ptr_eq(to, from) => {}
            (Some(to), Some(ViaPlatform::Decoded(from))) => match Arc::get_mut(to) {
                Some(to) => {
                    // Field by field: a derived `clone_from` allocates anew.
                    to.os.clone_from(&from.os);
                    to.architecture.clone_from(&from.architecture);
                    to.variant.clone_from(&from.variant);
                    to.os_version.clone_from(&from.os_version);
                }
                None => *to = Arc::new(from.clone()),
            },
            (to, from) => *to = from.map(ViaPlatform::to_shared),
        }
        Ok(())
    }
}

/// The error of a via whose digest's parts do not make one (a damaged
/// digest-index group; the copy checked each when it was built).
#[cold]
fn damaged_via(e: &crate::id::IdError) -> Error {
    Error::Corrupt(format!("a digest-index group's digest: {e}"))
}

/// What a lookup writes its matches into.
pub(crate) trait Sink {
    /// How the sink holds one via for the matches that share it: made once
    /// per group of matches (one parent's), so that a match costs no via
    /// comparison and no copy.
    type Via;
    /// Empties the sink for a new answer (keeping its capacity).
    fn clear(&mut self);
    /// Makes room for `additional` more matches.
    fn reserve(&mut self, additional: usize);
    /// Takes in `via` (`None`: direct) for the matches pushed with it next,
    /// which come from one group, stored in the answer's order with names
    /// or (schema 8) without (`name_ordered`).
    fn via(&mut self, via: Option<&ViaRef<'_>>, name_ordered: bool) -> Result<Self::Via>;
    /// Appends the match of entry `e` of `digest`'s row, reached through
    /// `via` (from [`Sink::via`] of this answer).
    fn push(
        &mut self,
        view: &View,
        digest: &dyn fmt::Display,
        e: IndexEntry,
        via: &Self::Via,
    ) -> Result<()>;
    /// How many matches it holds.
    fn len(&self) -> usize;
    /// Sorts the matches from `from` on in answer order: current first,
    /// then newest first, then by tag name, then by via.
    fn sort_from(&mut self, names: &Names, from: usize);
    /// [`Sink::sort_from`] of all the matches, which came from one group
    /// that schema 8 wrote: in its stored order, where only names may be
    /// out of order (schema 9 stores them in name order, unsorted here).
    fn sort_group(&mut self, names: &Names) {
        self.sort_from(names, 0);
    }
    /// Whether matches `i` and `j` are one interval reached twice: the same
    /// tag, start and tagged digest.
    fn same_interval(&self, i: usize, j: usize) -> bool;
    /// Swaps matches `i` and `j`.
    fn swap(&mut self, i: usize, j: usize);
    /// Keeps the first `len` matches.
    fn truncate(&mut self, len: usize);

    /// Sorts the matches reached through relations (from `direct` on) and,
    /// when `may_repeat`, drops repeats: a config shared by two manifests
    /// of one index reaches the same interval twice, and the first is kept.
    /// Matches reached from one source (a child's parents, or a config's
    /// only manifest and its parents) cannot repeat: each carries a
    /// different via.
    fn finish_indirect(&mut self, names: &Names, direct: usize, may_repeat: bool) {
        self.sort_from(names, direct);
        if !may_repeat {
            return;
        }
        // Repeats are neighbours once sorted: they share whether current,
        // the start and the tag, and the via's digest comes first in its
        // order. So each match is compared with the last one kept only.
        let mut kept = direct;
        for i in direct..self.len() {
            if kept == direct || !self.same_interval(kept - 1, i) {
                self.swap(kept, i);
                kept += 1;
            }
        }
        self.truncate(kept);
    }
}

/// No via: a direct match.
const DIRECT: u32 = u32::MAX;

/// One match as the digest index stores it.
#[derive(Debug, Clone, Copy)]
struct RawMatch {
    tag: u32,
    since: i64,
    until: i64,
    /// Index into [`RawAnswer::vias`], or [`DIRECT`].
    via: u32,
}

/// Bits of a [`RawMatch::sort_key`] that hold the match's place.
const PLACE_BITS: u32 = 31;

impl RawMatch {
    /// Where the match's instant puts it: current first, then newest
    /// first.
    #[inline]
    fn instant(&self) -> (bool, Reverse<i64>) {
        (self.until != OPEN, Reverse(self.since))
    }

    /// [`RawMatch::instant`] as one integer, with the match's place `at`
    /// (below `2^PLACE_BITS`) in its lowest bits: every key differs, and
    /// matches of one instant keep the order they came in.
    #[inline]
    fn sort_key(&self, at: u32) -> u128 {
        // `since` mapped to an unsigned integer of the same order, then
        // inverted: newest first.
        let newest_first = !(self.since.cast_unsigned() ^ (1 << 63));
        (u128::from(self.until != OPEN) << 127) | (u128::from(newest_first) << 63) | u128::from(at)
    }
}

/// The order of two matches of one instant: by tag name, then by via.
#[inline]
fn by_name(names: &Names, vias: &[ViaSlot], a: &RawMatch, b: &RawMatch) -> Ordering {
    let via = |m: &RawMatch| {
        if m.via == DIRECT {
            None
        } else {
            vias.get(m.via as usize).map(|s| &s.via)
        }
    };
    match (names.name(a.tag), names.name(b.tag)) {
        (Some(x), Some(y)) => x.cmp_id(y),
        _ => Ordering::Equal,
    }
    .then_with(|| via(a).cmp(&via(b)))
}

/// Answers up to this long are sorted by insertion.
const INSERTION_SORTED: usize = 8;

/// Sorts the keys of an answer's matches reached through relations. Those
/// are a few groups' matches, each group's in order, so the keys of a
/// short answer are a few ascending runs: an insertion sort moves each key
/// past the few before it that sort after it, where the library's sort
/// (built for any input) spends more on setup and sorting networks at
/// these lengths. A longer answer gets the library's: insertion up to 16
/// or 32 keys, or merging the runs of a long one, cost more in all
/// (callgrind, the nineteenth run in docs/benchmarks.md).
fn sort_keys(keys: &mut [u128]) {
    if keys.len() > INSERTION_SORTED {
        keys.sort_unstable();
        return;
    }
    for i in 1..keys.len() {
        let key = keys[i];
        let mut j = i;
        while j > 0 && keys[j - 1] > key {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = key;
    }
}

/// The place a [`RawMatch::sort_key`] was made with.
#[inline]
fn place(key: u128) -> usize {
    // Below 2^31: fits any usize this crate builds for.
    (key & ((1 << PLACE_BITS) - 1)) as usize
}

/// Whether neighbours `a` and `b` (sorted by instant) may be out of name
/// order: they share an instant, and either came from different groups or
/// from one that schema 8 stored (ties by tag number).
#[inline]
fn names_may_disorder(vias: &[ViaSlot], a: &RawMatch, b: &RawMatch) -> bool {
    a.instant() == b.instant()
        && (a.via != b.via || !vias.get(a.via as usize).is_some_and(|s| s.name_ordered))
}

/// Puts the matches of each instant of `matches` (sorted by instant) in
/// name order, unless they are one group's that schema 9 stored so.
#[inline(never)]
fn order_ties(names: &Names, vias: &[ViaSlot], matches: &mut [RawMatch]) {
    let by_name = |a: &RawMatch, b: &RawMatch| by_name(names, vias, a, b);
    for run in matches.chunk_by_mut(|a, b| a.instant() == b.instant()) {
        let [first, rest @ ..] = &*run else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let one_ordered_group = rest.iter().all(|m| m.via == first.via)
            && vias.get(first.via as usize).is_some_and(|s| s.name_ordered);
        // Mostly in order already: a check costs less than a sort.
        if !one_ordered_group && !run.is_sorted_by(|a, b| by_name(a, b).is_le()) {
            run.sort_by(by_name);
        }
    }
}

/// A via of a [`RawAnswer`], and how its group is ordered.
#[derive(Debug)]
struct ViaSlot {
    via: Via,
    /// Whether the group whose matches carry this via stored them in the
    /// answer's order, names included (schema 9).
    name_ordered: bool,
}

/// An answer kept as stored integers, reused across lookups: the buffer
/// behind [`crate::Lookup`].
#[derive(Debug, Default)]
pub(crate) struct RawAnswer {
    matches: Vec<RawMatch>,
    /// The vias of this answer (the first `vias_used`), each once: a
    /// parent's matches share one. Those past it are kept for their
    /// platforms' buffers, so a lookup through relations from the file
    /// allocates nothing once the buffer has seen as many parents (from
    /// the copy, a via shares the copy's platform).
    vias: Vec<ViaSlot>,
    vias_used: usize,
    /// Scratch of [`Sink::sort_from`], kept for its capacity.
    keys: Vec<u128>,
    scratch: Vec<RawMatch>,
}

impl RawAnswer {
    pub(crate) fn len(&self) -> usize {
        self.matches.len()
    }

    /// Match `i`, its tag named from `names` (the view's list, which holds
    /// every number a push accepted).
    pub(crate) fn get<'a>(&'a self, names: &'a Names, i: usize) -> Option<TagMatchRef<'a>> {
        let m = self.matches.get(i)?;
        let tag: &Arc<TagId> = names.get(m.tag)?;
        let via = if m.via == DIRECT {
            None
        } else {
            Some(&self.vias.get(m.via as usize)?.via)
        };
        let until = (m.until != OPEN).then_some(m.until);
        Some(TagMatchRef::new(tag, m.since, until, via))
    }

    fn via(&self, m: &RawMatch) -> Option<&Via> {
        if m.via == DIRECT {
            None
        } else {
            self.vias.get(m.via as usize).map(|s| &s.via)
        }
    }
}

impl Sink for RawAnswer {
    /// Index into [`RawAnswer::vias`], or [`DIRECT`].
    type Via = u32;

    #[inline]
    fn clear(&mut self) {
        self.matches.clear();
        self.vias_used = 0;
    }

    fn reserve(&mut self, additional: usize) {
        self.matches.reserve(additional);
    }

    #[inline]
    fn via(&mut self, via: Option<&ViaRef<'_>>, name_ordered: bool) -> Result<u32> {
        let Some(&v) = via else {
            return Ok(DIRECT);
        };
        match self.vias.get_mut(self.vias_used) {
            Some(slot) => {
                v.write_into(&mut slot.via)?;
                slot.name_ordered = name_ordered;
            }
            None => self.vias.push(ViaSlot {
                via: v.to_via()?,
                name_ordered,
            }),
        }
        self.vias_used += 1;
        Ok(u32::try_from(self.vias_used - 1).unwrap_or(DIRECT))
    }

    #[inline]
    fn push(
        &mut self,
        view: &View,
        digest: &dyn fmt::Display,
        e: IndexEntry,
        via: &u32,
    ) -> Result<()> {
        // The same checks the owned answer makes while converting, so the
        // two answer alike, errors included.
        view.tag_name_ref(e.tag)?;
        // `since` is never open; `until` is `OPEN` while current.
        for us in [Some(e.since), (e.until != OPEN).then_some(e.until)]
            .into_iter()
            .flatten()
        {
            if !TagMatchRef::in_range(us) {
                return Err(in_entry(digest, &e)(Error::Corrupt(format!(
                    "timestamp {us} out of range"
                ))));
            }
        }
        self.matches.push(RawMatch {
            tag: e.tag,
            since: e.since,
            until: e.until,
            via: *via,
        });
        Ok(())
    }

    fn len(&self) -> usize {
        self.matches.len()
    }

    fn sort_from(&mut self, names: &Names, from: usize) {
        let Self {
            matches,
            vias,
            keys,
            scratch,
            ..
        } = self;
        let matches = &mut matches[from..];
        // Matches of several groups, each in the answer's order (its
        // stored order): sorted by instant as one integer each, which
        // holds the match's place last, so matches of one instant keep the
        // order they came in (a stable sort); then the names of each
        // instant's matches, unless they are one group's that schema 9
        // stored in name order. Most answers have ties (an index's tags
        // moved to it at one instant), but ties within one such group: one
        // pass over neighbours says whether any need names compared, where
        // walking the runs of one instant cost 30 instructions a match
        // (callgrind, the twentieth run in docs/benchmarks.md).
        if !matches.is_sorted_by_key(RawMatch::instant) {
            if matches.len() < 1 << PLACE_BITS {
                keys.clear();
                keys.extend(matches.iter().zip(0..).map(|(m, at)| m.sort_key(at)));
                sort_keys(keys);
                scratch.clear();
                scratch.extend(keys.iter().map(|&k| matches[place(k)]));
                matches.copy_from_slice(scratch);
            } else {
                // More matches than a key has places for (never seen): the
                // library's stable sort.
                matches.sort_by_key(RawMatch::instant);
            }
        }
        if matches
            .windows(2)
            .any(|w| names_may_disorder(vias, &w[0], &w[1]))
        {
            order_ties(names, vias, matches);
        }
    }

    fn sort_group(&mut self, names: &Names) {
        // In order but for ties of one instant, which the library's
        // insertion sort puts in order in a pass when they are few.
        let Self { matches, vias, .. } = self;
        matches.sort_by(|a, b| {
            a.instant()
                .cmp(&b.instant())
                .then_with(|| by_name(names, vias, a, b))
        });
    }

    fn same_interval(&self, i: usize, j: usize) -> bool {
        let (a, b) = (&self.matches[i], &self.matches[j]);
        a.tag == b.tag
            && a.since == b.since
            && self.via(a).map(|v| v.digest) == self.via(b).map(|v| v.digest)
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.matches.swap(i, j);
    }

    fn truncate(&mut self, len: usize) {
        self.matches.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{OPEN, RawMatch, place, sort_keys};

    fn raw_match() -> impl Strategy<Value = RawMatch> {
        // Few tags and instants, so that ties are common; the instants'
        // extremes, where a careless mapping to unsigned wraps.
        let instant = prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(-1i64),
            Just(0i64),
            -3i64..3,
            any::<i64>(),
        ];
        (0u32..4, instant.clone(), prop_oneof![Just(OPEN), instant]).prop_map(
            |(tag, since, until)| RawMatch {
                tag,
                since,
                until,
                via: 0,
            },
        )
    }

    proptest! {
        /// Guards the sort of matches reached through relations: sorting
        /// their keys must order them as a stable sort by `instant` does
        /// (current first, newest first, then the order they came in, which
        /// keeps a schema 9 group's ties in name order), or answers come out
        /// of order.
        #[test]
        fn sorted_keys_order_matches_as_a_stable_sort_does(
            // Past `INSERTION_SORTED`, the library's sort.
            matches in proptest::collection::vec(raw_match(), 0..48),
        ) {
            let mut keys: Vec<u128> = matches.iter().zip(0..).map(|(m, at)| m.sort_key(at)).collect();
            sort_keys(&mut keys);
            let by_keys: Vec<usize> = keys.iter().map(|&k| place(k)).collect();
            let mut by_order: Vec<usize> = (0..matches.len()).collect();
            by_order.sort_by_key(|&i| matches[i].instant());
            prop_assert_eq!(by_keys, by_order);
        }
    }
}
