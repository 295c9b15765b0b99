//! Tag numbers → tag IDs, kept in memory so a digest lookup returns names
//! without a second B-tree descent per match.
//!
//! A [`crate::Snapshot`] takes the current [`Names`] once, when it is made,
//! and reads it without any lock: many classifier threads looking up digests
//! at once would otherwise all write the same lock word, and the cache line
//! holding it would travel between their cores on every lookup. Writers
//! append in place when no snapshot shares the list; when one does, they copy
//! only the list of chunks and the last chunk ([`CHUNK`] names), never the
//! whole list.
//!
//! The writer process extends its cache before each commit; a reader
//! process learns the tags another process created when a new view finds
//! more rows in `tags` than it has names (see `Store::view`).

use std::cmp::Ordering;
use std::sync::{Arc, PoisonError, RwLock};

use crate::id::TagId;

/// Names per chunk: small enough that copying the last chunk is cheap, large
/// enough that the list of chunks stays short (733 chunks for 3M tags).
const CHUNK: usize = 4096;

/// An immutable-once-shared list of tag IDs indexed by tag number.
#[derive(Debug, Default, Clone)]
pub(crate) struct Names {
    chunks: Vec<Arc<Vec<Name>>>,
    len: usize,
}

/// A tag's ID, with what decides most comparisons of two names without
/// reading their strings.
///
/// A lookup orders matches of one instant by tag name, and two tags of one
/// digest usually share their first observation: at ten million references
/// each such comparison read two `TagId`s and four strings from random
/// places in the heap, the largest part of a lookup's cost once the row is
/// in cache. The keys here sit beside the `Arc` the lookup reads anyway.
#[derive(Debug, Clone)]
pub(crate) struct Name {
    pub id: Arc<TagId>,
    /// The repository's number in the file: equal numbers, equal
    /// repositories.
    repo: u32,
    /// The first 8 bytes of the repository's and of the tag's string,
    /// big-endian and zero-padded: where two prefixes differ, so do the
    /// strings, the same way round.
    repo_prefix: u64,
    tag_prefix: u64,
}

impl Name {
    pub fn new(id: TagId, repo: u32) -> Self {
        Self {
            repo,
            repo_prefix: prefix(id.repository().as_str()),
            tag_prefix: prefix(id.tag()),
            id: Arc::new(id),
        }
    }

    /// The repository's number in the file.
    pub fn repo(&self) -> u32 {
        self.repo
    }

    /// The order of the two IDs, as `TagId`'s `Ord` gives it, reading the
    /// strings only when the numbers and prefixes leave it open.
    #[inline]
    pub fn cmp_id(&self, other: &Self) -> Ordering {
        let by_prefix = if self.repo == other.repo {
            self.tag_prefix.cmp(&other.tag_prefix)
        } else {
            self.repo_prefix.cmp(&other.repo_prefix)
        };
        by_prefix.then_with(|| self.id.cmp(&other.id))
    }
}

/// `s`'s first 8 bytes as a big-endian integer, zero-padded. Padding with
/// the smallest byte keeps the order: a smaller prefix means a smaller
/// string.
fn prefix(s: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let n = s.len().min(8);
    bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
    u64::from_be_bytes(bytes)
}

impl Names {
    /// The ID of tag number `n`, if the list has it.
    #[inline]
    pub fn get(&self, n: u32) -> Option<&Arc<TagId>> {
        self.name(n).map(|name| &name.id)
    }

    /// Tag number `n`'s entry, if the list has it.
    #[inline]
    pub fn name(&self, n: u32) -> Option<&Name> {
        let n = n as usize;
        self.chunks.get(n / CHUNK)?.get(n % CHUNK)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, name: Name) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(name);
            self.len += 1;
        }
    }

    fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.chunks.truncate(len.div_ceil(CHUNK));
        if let Some(last) = self.chunks.last_mut() {
            let keep = len - (len.div_ceil(CHUNK) - 1) * CHUNK;
            Arc::make_mut(last).truncate(keep);
        }
        self.len = len;
    }
}

/// The ledger's name list, shared by the ledger and its snapshots.
#[derive(Debug, Default)]
pub(crate) struct NameCache(RwLock<Arc<Names>>);

impl NameCache {
    /// The names as they are now, for a snapshot to read without locking.
    pub fn current(&self) -> Arc<Names> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Appends the names of tag numbers `first..` (each with its tag number
    /// and its repository's number), skipping those the cache already has
    /// (another thread of this process may have added them meanwhile);
    /// called before a commit, and by views that find tags another process
    /// created.
    pub fn extend_from(&self, first: usize, new: Vec<(u32, u32, TagId)>) {
        if new.is_empty() {
            return;
        }
        let mut guard = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let names = Arc::make_mut(&mut guard);
        for (i, (n, repo, id)) in new.into_iter().enumerate() {
            let n = n as usize;
            debug_assert_eq!(n, first + i, "tag numbers are dense");
            if n == names.len() {
                names.push(Name::new(id, repo));
            }
        }
    }

    /// Undoes [`NameCache::extend_from`] after a failed commit.
    pub fn truncate(&self, len: usize) {
        let mut guard = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if len < guard.len() {
            Arc::make_mut(&mut guard).truncate(len);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{CHUNK, Name, NameCache};
    use crate::id::TagId;

    proptest! {
        /// Guards the shortcut in a lookup's sort: ordering two names by
        /// repository number and 8-byte prefixes must agree with `TagId`'s
        /// own order in every case, including repositories and tags that
        /// share their first 8 bytes or are shorter than 8, and one tag
        /// that is a prefix of another.
        #[test]
        fn names_compare_as_their_ids_do(
            a in (0usize..4, "[a-c]{1,3}(-[a-c.]{0,9})?"),
            b in (0usize..4, "[a-c]{1,3}(-[a-c.]{0,9})?"),
        ) {
            // Four repositories, two of them sharing their first 8 bytes.
            const REPOS: [&str; 4] = [
                "example.com/aa", "example.com/ab", "ex.io/a", "example.com/a/b",
            ];
            let name = |(r, tag): &(usize, String)| {
                let id: TagId = format!("{}:{tag}", REPOS[*r]).parse().unwrap();
                Name::new(id, u32::try_from(*r).unwrap())
            };
            let (x, y) = (name(&a), name(&b));
            prop_assert_eq!(x.cmp_id(&y), x.id.cmp(&y.id));
            prop_assert_eq!(y.cmp_id(&x), y.id.cmp(&x.id));
        }
    }

    fn id(n: usize) -> TagId {
        format!("example.com/r:t{n}").parse().unwrap()
    }

    /// Guards the lock-free snapshot view: a snapshot's names must not change
    /// when the ledger appends (or undoes an append) afterwards, across chunk
    /// boundaries, and the ledger's own list must see every append.
    #[test]
    fn a_taken_list_stays_as_it_was_while_the_cache_grows_and_shrinks() {
        let cache = NameCache::default();
        let first: Vec<_> = (0..CHUNK + 3)
            .map(|n| (u32::try_from(n).unwrap(), 0, id(n)))
            .collect();
        cache.extend_from(0, first);
        let taken = cache.current();
        let more: Vec<_> = ((CHUNK + 3)..=(2 * CHUNK))
            .map(|n| (u32::try_from(n).unwrap(), 0, id(n)))
            .collect();
        cache.extend_from(CHUNK + 3, more);
        assert_eq!(cache.len(), 2 * CHUNK + 1);
        assert_eq!(taken.len(), CHUNK + 3);
        assert!(taken.get(u32::try_from(CHUNK + 3).unwrap()).is_none());
        let now = cache.current();
        for n in [0, CHUNK - 1, CHUNK, CHUNK + 2, CHUNK + 3, 2 * CHUNK] {
            assert_eq!(**now.get(u32::try_from(n).unwrap()).unwrap(), id(n), "{n}");
        }
        cache.truncate(CHUNK - 1);
        assert_eq!(cache.len(), CHUNK - 1);
        assert!(
            cache
                .current()
                .get(u32::try_from(CHUNK - 1).unwrap())
                .is_none()
        );
        assert_eq!(
            **taken.get(u32::try_from(CHUNK + 2).unwrap()).unwrap(),
            id(CHUNK + 2)
        );
        assert_eq!(
            **now.get(u32::try_from(2 * CHUNK).unwrap()).unwrap(),
            id(2 * CHUNK)
        );
        cache.truncate(0);
        assert_eq!(cache.len(), 0);
        cache.extend_from(0, vec![(0, 0, id(7))]);
        assert_eq!(**cache.current().get(0).unwrap(), id(7));
    }
}
