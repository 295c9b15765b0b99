//! Tag IDs → tag numbers, kept in memory by the writing process so that a
//! write finds the tags it names without a `tag_keys` descent each.
//!
//! An ingest resolves every tag of its batch: 25,444 `tag_keys` gets in
//! ten of the ingest bench's batches, 3.3 % of its instructions
//! (`docs/benchmarks.md`). The process already holds every tag's ID, by
//! number ([`super::names::Names`]); this is the other direction, built
//! from it. It holds no strings: a 64-bit hash of (repository number, tag
//! name) → tag number, a 16-byte slot and a control byte per tag, 20–40
//! bytes a tag at hashbrown's load (36 at 1M tags, 24 at 3M). Two tags
//! whose hashes collide (about one pair in 2^64 / tags²) are marked, and
//! the writer asks `tag_keys` for them, as for any tag the map does not
//! cover.
//!
//! What the map says is checked, so a stale or wrong map (or a new tag
//! whose hash an old one has) cannot bend the file: a number it gives is
//! checked against that tag's row, which the write reads anyway, and
//! `tag_keys` decides when the row is another tag's; a tag it does not
//! know is created with an insert into `tag_keys` that returns the number
//! already there, if any (see `Writer::ensure_tag`). The writer finds a
//! tag it knows by its row, not by its `tag_keys` entry: a damaged entry
//! shows in the reads that go through it and in `verify`, not in writes.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::{FixedState, RandomState as FoldHash};

use super::names::Names;

/// The number that marks a hash two tags share.
const SHARED: u32 = u32::MAX;

/// The writing process's map of tag IDs to numbers (module docs).
#[derive(Debug, Clone)]
pub(crate) struct TagNumbers {
    by_hash: HashMap<u64, u32, FoldHash>,
    /// The hash of a (repository number, tag name): fixed for the map's
    /// life, so its entries stay where they were put.
    key: FixedState,
    /// Tags `0..covers` are in the map.
    covers: usize,
}

impl Default for TagNumbers {
    fn default() -> Self {
        Self {
            by_hash: HashMap::default(),
            key: FixedState::with_seed(0x6f63_696c_6564_6765),
            covers: 0,
        }
    }
}

/// What the map knows of one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// Its number, for the caller to check against the tag's row.
    Number(u32),
    /// Not among the tags the map covers.
    Absent,
    /// The map cannot say (a shared hash): ask `tag_keys`.
    Unsure,
}

impl TagNumbers {
    /// How many tags (numbers `0..`) the map covers.
    pub fn covers(&self) -> usize {
        self.covers
    }

    /// Adds the tags of `names` the map does not cover yet.
    pub fn extend(&mut self, names: &Names) {
        if names.len() <= self.covers {
            return;
        }
        self.by_hash.reserve(names.len() - self.covers);
        for n in self.covers..names.len() {
            let Some((name, number)) = u32::try_from(n)
                .ok()
                .and_then(|number| Some((names.name(number)?, number)))
            else {
                // Names are dense: a gap means the list is not what this
                // map assumes, so it covers nothing beyond.
                break;
            };
            self.insert(self.hash(name.repo(), name.id.tag()), number);
            self.covers = n + 1;
        }
    }

    /// Maps `hash` to tag `number`, or marks it shared if a tag has it.
    fn insert(&mut self, hash: u64, number: u32) {
        self.by_hash
            .entry(hash)
            .and_modify(|held| *held = SHARED)
            .or_insert(number);
    }

    /// What the map knows of tag `name` of repository number `repo`.
    pub fn get(&self, repo: u32, name: &str) -> Known {
        match self.by_hash.get(&self.hash(repo, name)) {
            Some(&SHARED) => Known::Unsure,
            Some(&n) => Known::Number(n),
            None => Known::Absent,
        }
    }

    fn hash(&self, repo: u32, name: &str) -> u64 {
        self.key.hash_one((repo, name))
    }
}

#[cfg(test)]
mod tests {
    use super::{Known, TagNumbers};
    use crate::store::names::NameCache;

    fn cache(tags: &[(u32, &str)]) -> NameCache {
        let cache = NameCache::default();
        let new = tags
            .iter()
            .enumerate()
            .map(|(n, &(repo, id))| (u32::try_from(n).unwrap(), repo, id.parse().unwrap()))
            .collect();
        cache.extend_from(0, new);
        cache
    }

    /// Guards the map's two answers a write trusts: the number of a tag it
    /// covers, and "absent" for a tag of another repository with the same
    /// name, or one created after it was extended.
    #[test]
    fn the_map_gives_each_covered_tag_its_number_and_no_other() {
        let names = cache(&[(0, "r.io/a:x"), (0, "r.io/a:y"), (1, "r.io/b:x")]);
        let mut map = TagNumbers::default();
        map.extend(&names.current());
        assert_eq!(map.covers(), 3);
        assert_eq!(map.get(0, "x"), Known::Number(0));
        assert_eq!(map.get(0, "y"), Known::Number(1));
        assert_eq!(map.get(1, "x"), Known::Number(2));
        assert_eq!(map.get(1, "y"), Known::Absent);
        assert_eq!(map.get(2, "x"), Known::Absent);
        names.extend_from(3, vec![(3, 1, "r.io/b:y".parse().unwrap())]);
        assert_eq!(map.get(1, "y"), Known::Absent, "not extended yet");
        map.extend(&names.current());
        assert_eq!((map.covers(), map.get(1, "y")), (4, Known::Number(3)));
    }

    /// Guards the shared-hash mark: a second tag with the hash of one
    /// already held makes the map unsure of both, never the first's number
    /// for the second.
    #[test]
    fn a_shared_hash_makes_the_map_unsure() {
        let names = cache(&[(0, "r.io/a:x")]);
        let mut map = TagNumbers::default();
        map.extend(&names.current());
        assert_eq!(map.get(0, "x"), Known::Number(0));
        // A real collision of 64-bit hashes cannot be built: tag 1 is
        // given tag 0's hash.
        map.insert(map.hash(0, "x"), 1);
        assert_eq!(map.get(0, "x"), Known::Unsure);
        map.insert(map.hash(0, "x"), 2);
        assert_eq!(map.get(0, "x"), Known::Unsure, "a third keeps it shared");
    }
}

/// How `Writer::ensure_tag` uses the map: what it says is checked, so a
/// map that is wrong or behind never files an observation under another
/// tag or hands a number out twice.
#[cfg(test)]
mod writer_tests {
    use std::sync::Arc;

    use super::TagNumbers;
    use crate::id::TagId;
    use crate::model::Timestamp;
    use crate::store::Store;
    use crate::store::write::Writer;

    fn now() -> Timestamp {
        Timestamp::from_timestamp_millis(1_600_000_000_000).expect("in range")
    }

    fn tag(s: &str) -> TagId {
        format!("registry.example/app:{s}").parse().expect("tag")
    }

    /// Ensures `tags` in one write, with the map `numbers` (`None`: the
    /// process's own): each tag's number and whether it was created.
    fn ensured(
        store: &Store,
        tags: &[&str],
        numbers: Option<TagNumbers>,
    ) -> crate::error::Result<Vec<(u32, bool)>> {
        store.write("test", |w| {
            if let Some(map) = numbers {
                w.take_numbers(Arc::new(map));
            }
            let (repo, _) = w.upsert_scanned_repo(tag("x").repository(), now(), "t", now())?;
            let mut out = Vec::new();
            for t in tags {
                let (mut state, created) = w.ensure_tag(&tag(t), repo, "t", now())?;
                out.push((Writer::tag_order(&state), created));
                if created {
                    // Its row is written by `apply`, as every caller does.
                    w.apply(&mut state, &[], "t", now())?;
                }
            }
            Ok(out)
        })
    }

    /// Guards the insert that checks a miss: a tag the map does not know
    /// but `tag_keys` has (created earlier in the same transaction) keeps
    /// its number, and the number the miss would have taken is not spent.
    #[test]
    fn a_tag_the_map_misses_keeps_its_number() {
        let store = Store::in_memory().expect("store");
        assert_eq!(
            ensured(&store, &["a", "b", "a"], None).expect("write"),
            [(0, true), (1, true), (0, false)]
        );
        // A map that covers every tag and knows none of them.
        let blind = TagNumbers {
            covers: usize::MAX,
            ..TagNumbers::default()
        };
        assert_eq!(
            ensured(&store, &["b", "c", "a"], Some(blind)).expect("write"),
            [(1, false), (2, true), (0, false)]
        );
        // The process's own map, extended by the writes: all known.
        assert_eq!(
            ensured(&store, &["c", "a", "d"], None).expect("write"),
            [(2, false), (0, false), (3, true)]
        );
    }

    /// Guards the row check of a hit: a map that gives tags "b" and "c"
    /// tag "a"'s number (as a hash a new tag shares with an old one would)
    /// leaves the answer to `tag_keys`: "b" keeps its number, "c" is
    /// created, and neither is filed under "a".
    #[test]
    fn a_number_the_map_gives_wrongly_is_checked_against_the_row() {
        let store = Store::in_memory().expect("store");
        ensured(&store, &["a", "b"], None).expect("write");
        let mut wrong = TagNumbers::default();
        wrong.insert(wrong.hash(0, "b"), 0);
        wrong.insert(wrong.hash(0, "c"), 0);
        wrong.covers = 2;
        assert_eq!(
            ensured(&store, &["b", "c"], Some(wrong)).expect("write"),
            [(1, false), (2, true)]
        );
    }
}
