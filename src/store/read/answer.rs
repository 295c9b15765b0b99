//! Where a lookup puts its matches. The hot path is written once, generic
//! over a [`Sink`]: a `Vec<TagMatch>` (the owned answer) or a reused
//! [`RawAnswer`] that keeps the stored integers, so a classifier that
//! reuses one buffer pays no allocation, no reference count and no date
//! conversion per match.

use std::cmp::Ordering;
use std::sync::Arc;

use super::View;
use super::lookup::in_entry;
use crate::error::{Error, Result};
use crate::id::{Digest, TagId};
use crate::model::{Platform, TagMatchRef, Via};
use crate::store::OPEN;
use crate::store::names::Names;
use crate::store::packed::IndexEntry;

/// How an indirect match was reached, borrowed: the owned answer makes an
/// `Arc<Via>` of it per parent, the reused buffer copies it into a `Via`
/// it keeps from one lookup to the next.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViaRef<'a> {
    pub digest: Digest,
    pub platform: Option<&'a Platform>,
}

impl ViaRef<'_> {
    pub(crate) fn to_via(self) -> Via {
        Via {
            digest: self.digest,
            platform: self.platform.cloned(),
        }
    }

    /// Overwrites `via` with this one, reusing its strings' buffers.
    fn write_into(self, via: &mut Via) {
        via.digest = self.digest;
        match (&mut via.platform, self.platform) {
            (Some(to), Some(from)) => {
                to.os.clone_from(&from.os);
                to.architecture.clone_from(&from.architecture);
                to.variant.clone_from(&from.variant);
                to.os_version.clone_from(&from.os_version);
            }
            (to, from) => *to = from.cloned(),
        }
    }
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
    /// Takes in `via` (`None`: direct) for the matches pushed with it next.
    fn via(&mut self, via: Option<&ViaRef<'_>>) -> Self::Via;
    /// Appends the match of entry `e` of `digest`'s row, reached through
    /// `via` (from [`Sink::via`] of this answer).
    fn push(&mut self, view: &View, digest: &Digest, e: IndexEntry, via: &Self::Via) -> Result<()>;
    /// How many matches it holds.
    fn len(&self) -> usize;
    /// Sorts the matches from `from` on in answer order: current first,
    /// then newest first, then by tag name, then by via.
    fn sort_from(&mut self, names: &Names, from: usize);
    /// Whether matches `i` and `j` are one interval reached twice: the same
    /// tag, start and tagged digest.
    fn same_interval(&self, i: usize, j: usize) -> bool;
    /// Swaps matches `i` and `j`.
    fn swap(&mut self, i: usize, j: usize);
    /// Keeps the first `len` matches.
    fn truncate(&mut self, len: usize);

    /// Sorts the matches reached through relations (from `direct` on) and
    /// drops repeats: a config shared by two manifests of one index reaches
    /// the same interval twice, and the first is kept.
    fn finish_indirect(&mut self, names: &Names, direct: usize) {
        self.sort_from(names, direct);
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

/// An answer kept as stored integers, reused across lookups: the buffer
/// behind [`crate::Lookup`].
#[derive(Debug, Default)]
pub(crate) struct RawAnswer {
    matches: Vec<RawMatch>,
    /// The vias of this answer (the first `vias_used`), each once: a
    /// parent's matches share one. Those past it are kept for their
    /// strings' buffers, so a lookup through relations allocates nothing
    /// once the buffer has seen as many parents.
    vias: Vec<Via>,
    vias_used: usize,
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
            Some(self.vias.get(m.via as usize)?)
        };
        let until = (m.until != OPEN).then_some(m.until);
        Some(TagMatchRef::new(tag, m.since, until, via))
    }

    fn via(&self, m: &RawMatch) -> Option<&Via> {
        if m.via == DIRECT {
            None
        } else {
            self.vias.get(m.via as usize)
        }
    }
}

impl Sink for RawAnswer {
    /// Index into [`RawAnswer::vias`], or [`DIRECT`].
    type Via = u32;

    fn clear(&mut self) {
        self.matches.clear();
        self.vias_used = 0;
    }

    fn reserve(&mut self, additional: usize) {
        self.matches.reserve(additional);
    }

    fn via(&mut self, via: Option<&ViaRef<'_>>) -> u32 {
        let Some(&v) = via else {
            return DIRECT;
        };
        match self.vias.get_mut(self.vias_used) {
            Some(slot) => v.write_into(slot),
            None => self.vias.push(v.to_via()),
        }
        self.vias_used += 1;
        u32::try_from(self.vias_used - 1).unwrap_or(DIRECT)
    }

    #[inline]
    fn push(&mut self, view: &View, digest: &Digest, e: IndexEntry, via: &u32) -> Result<()> {
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
        let Self { matches, vias, .. } = self;
        let via = |m: &RawMatch| {
            if m.via == DIRECT {
                None
            } else {
                vias.get(m.via as usize)
            }
        };
        matches[from..].sort_by(|a, b| {
            (b.until == OPEN)
                .cmp(&(a.until == OPEN))
                .then(b.since.cmp(&a.since))
                .then_with(|| match (names.name(a.tag), names.name(b.tag)) {
                    (Some(x), Some(y)) => x.cmp_id(y),
                    _ => Ordering::Equal,
                })
                .then_with(|| via(a).cmp(&via(b)))
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
