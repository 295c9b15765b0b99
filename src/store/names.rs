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

use std::sync::{Arc, PoisonError, RwLock};

use crate::id::TagId;

/// Names per chunk: small enough that copying the last chunk is cheap, large
/// enough that the list of chunks stays short (733 chunks for 3M tags).
const CHUNK: usize = 4096;

/// An immutable-once-shared list of tag IDs indexed by tag number.
#[derive(Debug, Default, Clone)]
pub(crate) struct Names {
    chunks: Vec<Arc<Vec<Arc<TagId>>>>,
    len: usize,
}

impl Names {
    /// The ID of tag number `n`, if the list has it.
    #[inline]
    pub fn get(&self, n: u32) -> Option<&Arc<TagId>> {
        let n = n as usize;
        self.chunks.get(n / CHUNK)?.get(n % CHUNK)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, id: Arc<TagId>) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(id);
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

    /// Appends the names of tag numbers `first..`, skipping those the cache
    /// already has (another thread of this process may have added them
    /// meanwhile); called before a commit, and by views that find tags
    /// another process created.
    pub fn extend_from(&self, first: usize, new: Vec<(u32, TagId)>) {
        if new.is_empty() {
            return;
        }
        let mut guard = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let names = Arc::make_mut(&mut guard);
        for (i, (n, id)) in new.into_iter().enumerate() {
            let n = n as usize;
            debug_assert_eq!(n, first + i, "tag numbers are dense");
            if n == names.len() {
                names.push(Arc::new(id));
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
    use super::{CHUNK, NameCache};
    use crate::id::TagId;

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
            .map(|n| (u32::try_from(n).unwrap(), id(n)))
            .collect();
        cache.extend_from(0, first);
        let taken = cache.current();
        let more: Vec<_> = ((CHUNK + 3)..=(2 * CHUNK))
            .map(|n| (u32::try_from(n).unwrap(), id(n)))
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
        cache.extend_from(0, vec![(0, id(7))]);
        assert_eq!(**cache.current().get(0).unwrap(), id(7));
    }
}
