//! An optional copy of the digest index in memory, for a classifier that
//! wants a lookup to cost the same however large the file grows (issue 9).
//!
//! A warm point get into redb descends three to five B-tree levels, each a
//! page binary search and a cache miss once the index outgrows the CPU's
//! caches: that is why a lookup costs more at 10M references than at 10k.
//! The copy is one hash probe and one read of the row's bytes, which are the
//! stored row exactly (the same decode answers from either).
//!
//! A copy belongs to one version of the index, named by its [`Mark`]. A
//! view uses the copy only when the view's transaction sees that same
//! version; otherwise it reads the file, as without a copy, and asks for a
//! new copy to be built in the background from a later transaction. So an
//! answer never depends on whether the copy was used: it is the view's
//! commit's answer either way.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};

use super::{CONFIGS, DIGEST_INDEX, JOURNAL, PARENTS};
use crate::error::{Error, Result};

/// Which version of the digest index a read transaction sees.
///
/// The digest index is derived from the move log and the relations (what
/// `verify` checks): a write changes it only by adding log entries, which
/// appends a journal record, or by recording a new relation, which adds a
/// row to `manifest_parents` or `manifest_configs` (relations are never
/// removed). So the last journal record and those two row counts change
/// whenever the index does, and cost three cheap reads. Salvage and restore
/// make new files, which a process holding the old one never sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    journal: Option<u32>,
    parents: u64,
    configs: u64,
}

impl Mark {
    /// The version `txn` sees.
    pub fn of(txn: &ReadTransaction) -> Result<Self> {
        Ok(Self {
            journal: txn.open_table(JOURNAL)?.last()?.map(|(k, _)| k.value()),
            parents: txn.open_table(PARENTS)?.len()?,
            configs: txn.open_table(CONFIGS)?.len()?,
        })
    }
}

/// The digest index of one [`Mark`], in memory.
pub(crate) struct MemoryIndex {
    mark: Mark,
    /// Row key → offset in `bytes` of the row: its length (`u32` LE), then
    /// its bytes.
    offsets: RowTable,
    bytes: Vec<u8>,
    built_in: Duration,
}

/// What a copy holds and cost: see [`crate::IndexMemory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CopyStats {
    pub rows: u64,
    pub heap_bytes: u64,
    pub built_in: Duration,
}

impl MemoryIndex {
    /// Copies the digest index `txn` sees; gives up with [`Error::Busy`] as
    /// soon as `cancel` is set (the ledger is closing or compacting).
    fn build(txn: &ReadTransaction, cancel: &AtomicBool) -> Result<Self> {
        let start = Instant::now();
        let mark = Mark::of(txn)?;
        let table = txn.open_table(DIGEST_INDEX)?;
        let rows = usize::try_from(table.len()?).unwrap_or(usize::MAX);
        let stored = usize::try_from(table.stats()?.stored_bytes()).unwrap_or(usize::MAX);
        let mut keys: Vec<(u64, u64)> = Vec::new();
        let mut bytes = Vec::new();
        // Sized up front when the engine's counts allow it (a damaged file
        // can claim anything: then the copy grows as it reads).
        let _ = keys.try_reserve_exact(rows);
        let _ = bytes.try_reserve(stored.saturating_add(rows.saturating_mul(4)));
        for (i, row) in table.iter()?.enumerate() {
            if i % 4096 == 0 && cancel.load(Ordering::Relaxed) {
                return Err(Error::Busy {
                    operation: "copy the digest index into memory",
                    reason: "the ledger is closing or compacting".to_owned(),
                });
            }
            let (k, v) = row?;
            let v = v.value();
            let len = u32::try_from(v.len()).map_err(|_| {
                Error::Corrupt(format!(
                    "table digest_index, key {:016x}: a row of {} bytes",
                    k.value(),
                    v.len()
                ))
            })?;
            keys.push((k.value(), bytes.len() as u64));
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(v);
        }
        bytes.shrink_to_fit();
        Ok(Self {
            mark,
            offsets: RowTable::new(&keys)?,
            bytes,
            built_in: start.elapsed(),
        })
    }

    /// The row stored under `key`, as the file stores it.
    #[inline]
    pub fn get(&self, key: u64) -> Option<&[u8]> {
        let at = usize::try_from(self.offsets.get(key)?).ok()?;
        let (len, rest) = self.bytes.get(at..)?.split_first_chunk::<4>()?;
        rest.get(..u32::from_le_bytes(*len) as usize)
    }

    fn stats(&self) -> CopyStats {
        CopyStats {
            rows: self.offsets.rows,
            heap_bytes: (self.bytes.capacity() + self.offsets.slots.capacity() * 16) as u64,
            built_in: self.built_in,
        }
    }
}

/// The copy's hash table: open addressing with linear probing, at most two
/// thirds full, a slot being (row key, offset + 1), 0 meaning empty. A probe reads
/// one 16-byte slot, where std's `HashMap` reads a control group and then a
/// slot elsewhere: at 10M references every line touched is a cache and TLB
/// miss, and the copy exists to save those.
struct RowTable {
    /// Random per copy: row keys are digest prefixes, random unless someone
    /// grinds digests, and a registry that did could not aim at slots it
    /// cannot compute.
    seed: u64,
    mask: usize,
    slots: Vec<[u64; 2]>,
    rows: u64,
}

impl RowTable {
    fn new(keys: &[(u64, u64)]) -> Result<Self> {
        // Between a third and two thirds full: linear probing then reads
        // 1.5 to 2 slots for a key it finds, mostly in one cache line.
        let len = keys
            .len()
            .checked_add(keys.len() / 2)
            .and_then(usize::checked_next_power_of_two)
            .unwrap_or(usize::MAX)
            .max(16);
        let mut slots = Vec::new();
        slots.try_reserve_exact(len).map_err(|_| Error::Busy {
            operation: "copy the digest index into memory",
            reason: format!("no memory for {len} slots"),
        })?;
        slots.resize(len, [0, 0]);
        let mut table = Self {
            seed: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u64),
            mask: len - 1,
            slots,
            rows: keys.len() as u64,
        };
        for &(key, offset) in keys {
            let mut i = table.home(key);
            while table.slots[i][1] != 0 {
                i = (i + 1) & table.mask;
            }
            table.slots[i] = [key, offset + 1];
        }
        Ok(table)
    }

    /// Where `key`'s probe starts: a seeded murmur3 finalizer.
    #[inline]
    fn home(&self, key: u64) -> usize {
        let mut x = key ^ self.seed;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        // Truncation intended: the mask keeps the low bits.
        #[allow(clippy::cast_possible_truncation)]
        let x = x as usize;
        x & self.mask
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        let mut i = self.home(key);
        loop {
            let [k, offset] = *self.slots.get(i)?;
            if offset == 0 {
                return None;
            }
            if k == key {
                return Some(offset - 1);
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// A store's copy, if it keeps one, and the background rebuild of it.
#[derive(Default)]
pub(crate) struct MemoryState {
    /// Whether the embedder asked for a copy (and a rebuild may install one).
    wanted: Arc<AtomicBool>,
    current: Arc<RwLock<Option<Arc<MemoryIndex>>>>,
    /// The background rebuild, while one runs or until it is joined.
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Tells a running rebuild to give up.
    cancel: Arc<AtomicBool>,
    /// The last rebuild's error, for `index_memory`.
    last_error: Arc<Mutex<Option<String>>>,
}

impl MemoryState {
    /// Builds a copy from `txn` now, keeps it, and asks views to use it.
    pub fn load(&self, txn: &ReadTransaction) -> Result<CopyStats> {
        self.stop_refresh();
        let copy = MemoryIndex::build(txn, &AtomicBool::new(false))?;
        let stats = copy.stats();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(copy));
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.wanted.store(true, Ordering::Release);
        Ok(stats)
    }

    /// Drops the copy; views read the file again.
    pub fn release(&self) {
        self.wanted.store(false, Ordering::Release);
        self.stop_refresh();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The copy's figures, if there is one, and the last rebuild's error.
    pub fn stats(&self) -> Option<(CopyStats, Option<String>)> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let stats = current.as_ref()?.stats();
        let error = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Some((stats, error))
    }

    /// The copy a view of `txn` may use: the kept one if it is of `txn`'s
    /// version. When it is not, a rebuild starts from a transaction that
    /// `begin` gives (unless one is running) and the view reads the file.
    pub fn for_view(
        &self,
        txn: &ReadTransaction,
        begin: impl FnOnce() -> Result<ReadTransaction>,
        path: &Path,
    ) -> Result<Option<Arc<MemoryIndex>>> {
        if !self.wanted.load(Ordering::Acquire) {
            return Ok(None);
        }
        let mark = Mark::of(txn)?;
        let current = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(copy) = current
            && copy.mark == mark
        {
            return Ok(Some(copy));
        }
        self.start_refresh(begin, path);
        Ok(None)
    }

    /// Starts a background rebuild unless one is running. Best effort: a
    /// failure leaves views reading the file, and the next one tries again.
    fn start_refresh(&self, begin: impl FnOnce() -> Result<ReadTransaction>, path: &Path) {
        let running = |w: &Option<JoinHandle<()>>| w.as_ref().is_some_and(|w| !w.is_finished());
        if running(&self.worker.lock().unwrap_or_else(PoisonError::into_inner)) {
            return;
        }
        // Begun with no lock of ours held: beginning may wait for the
        // writer's handle lock, and nothing may wait on it while holding
        // the worker's.
        let txn = match begin() {
            Ok(txn) => txn,
            Err(e) => {
                self.note_error(&e);
                return;
            }
        };
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        if running(&worker) {
            return;
        }
        if let Some(done) = worker.take() {
            let _ = done.join();
        }
        let path: Arc<Path> = Arc::from(path);
        let cancel = Arc::clone(&self.cancel);
        let current = Arc::clone(&self.current);
        let wanted = Arc::clone(&self.wanted);
        let last_error = Arc::clone(&self.last_error);
        let spawned = std::thread::Builder::new()
            .name("ociledger-index-copy".to_owned())
            .spawn(move || {
                let built = super::handle::guard(&path, || MemoryIndex::build(&txn, &cancel));
                drop(txn);
                match built {
                    Ok(copy) => {
                        // Checked under the lock `release` clears the copy
                        // under: a rebuild that a view started just before a
                        // release does not bring the copy back.
                        let mut current = current.write().unwrap_or_else(PoisonError::into_inner);
                        if wanted.load(Ordering::Acquire) {
                            *current = Some(Arc::new(copy));
                        }
                        drop(current);
                        *last_error.lock().unwrap_or_else(PoisonError::into_inner) = None;
                    }
                    // Cancelled: whoever cancelled decides what is kept.
                    Err(Error::Busy { .. }) => {}
                    Err(e) => {
                        *last_error.lock().unwrap_or_else(PoisonError::into_inner) =
                            Some(e.to_string());
                    }
                }
            });
        match spawned {
            Ok(handle) => *worker = Some(handle),
            Err(e) => self.note_error(&Error::Busy {
                operation: "copy the digest index into memory",
                reason: format!("no thread for the rebuild: {e}"),
            }),
        }
    }

    fn note_error(&self, e: &Error) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
    }

    /// Stops a running rebuild and waits for it: before the file closes,
    /// compacts (redb refuses while a read transaction is open) or reopens.
    pub fn stop_refresh(&self) {
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            self.cancel.store(true, Ordering::Relaxed);
            let _ = handle.join();
            self.cancel.store(false, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RowTable;

    /// Guards the probe loop: keys that start at one slot must each be
    /// found past the others, and a key never inserted must end at an
    /// empty slot, not loop or answer another key's row.
    #[test]
    fn the_table_finds_every_key_and_no_other() {
        // Keys differing only in their high bits, and small ones.
        let keys: Vec<(u64, u64)> = (0..3000u64)
            .map(|i| (if i % 2 == 0 { i << 40 } else { i }, i * 7))
            .collect();
        let table = RowTable::new(&keys).unwrap();
        assert_eq!(table.rows, 3000);
        assert!(table.slots.len() >= 4500);
        for &(k, offset) in &keys {
            assert_eq!(table.get(k), Some(offset), "key {k:#x}");
        }
        for i in 3000..6000u64 {
            assert_eq!(table.get(i << 40), None);
            assert_eq!(table.get(i | 1 << 63), None);
        }
        let empty = RowTable::new(&[]).unwrap();
        assert_eq!(empty.get(0), None);
    }
}
