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
//! view of that version reads every row from the copy. A view of a later
//! version reads the rows the commits since then changed from the file and
//! the others from the copy: `index_changes` (`changes.rs`) lists them, and
//! a lookup that reaches a changed row, directly or through a relation,
//! reads the file for its whole answer. When the list does not reach back
//! to the copy's version, or names many rows, a new copy is built in the
//! background from a later transaction (views read the file meanwhile, or
//! the old copy with its list). So an answer never depends on whether the
//! copy was used: it is the view's commit's answer either way.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::ReadTransaction;

mod pages;
mod relations;
mod rows;
mod table;

use relations::RelationCopy;
pub(crate) use relations::{Link, Links};
pub(crate) use rows::GroupId;
use rows::IndexRows;
use table::RowTable;

use super::changes::{self, Mark};
use super::packed::Group;
use crate::error::{Error, Result};
use crate::id::Digest;

/// The digest index of one [`Mark`], in memory, with the manifest
/// relations a lookup follows.
pub(crate) struct MemoryIndex {
    mark: Mark,
    rows: IndexRows,
    relations: RelationCopy,
    built_in: Duration,
}

/// The rows of a copy that a view of a later version must read from the
/// file: their keys, from version `from` (the copy's) to `to`.
pub(crate) struct Stale {
    from: Mark,
    to: Mark,
    keys: RowTable,
    /// One bit per `filter.len() * 64` of the key space, set where a key
    /// is: most lookups miss the list, and a few cache-resident words tell
    /// them so without probing the table, whose slots the copy's random
    /// reads keep evicting. Eight bits per key: about one probe in eight
    /// for a key not in the list.
    filter: Vec<u64>,
}

impl Stale {
    fn new(from: Mark, to: Mark, keys: &[u64]) -> Result<Self> {
        let bits = (keys.len() * 8).next_power_of_two().clamp(512, 1 << 20);
        let mut filter = vec![0u64; bits / 64];
        let mask = bits - 1;
        for &k in keys {
            let bit = Self::bit(k, mask);
            filter[bit / 64] |= 1 << (bit % 64);
        }
        let pairs: Vec<(u64, u64)> = keys.iter().map(|&k| (k, 0)).collect();
        Ok(Self {
            from,
            to,
            keys: RowTable::new(&pairs)?,
            filter,
        })
    }

    /// The filter's bit for `key`: its low bits (keys are digest prefixes,
    /// random; a registry grinding them only makes the filter pass more
    /// lookups on to the table).
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // masked to the filter's size
    fn bit(key: u64, mask: usize) -> usize {
        key as usize & mask
    }

    #[inline]
    fn holds(&self, key: u64) -> bool {
        let bit = Self::bit(key, self.filter.len() * 64 - 1);
        self.filter
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
            && self.keys.get(key).is_some()
    }
}

/// The copy as one view uses it: the rows of `stale` (if any) are read from
/// the file.
#[derive(Clone)]
pub(crate) struct CopyView {
    index: Arc<MemoryIndex>,
    stale: Option<Arc<Stale>>,
}

impl CopyView {
    /// The copy.
    #[inline]
    pub fn index(&self) -> &MemoryIndex {
        &self.index
    }

    /// Whether `d`'s answer may have changed since the copy's version: a
    /// lookup that reaches it must read the file.
    #[inline]
    pub fn is_stale(&self, d: &Digest) -> bool {
        self.stale
            .as_ref()
            .is_some_and(|s| s.holds(super::packed::key(d)))
    }

    /// [`CopyView::is_stale`] of the digest under the row key `key` (a
    /// link's target, known by its key).
    #[inline]
    pub fn is_stale_row(&self, key: u64) -> bool {
        self.stale.as_ref().is_some_and(|s| s.holds(key))
    }

    /// How many digest-index rows the view reads from the file.
    pub fn stale_rows(&self) -> u64 {
        self.stale.as_ref().map_or(0, |s| s.keys.rows)
    }
}

/// What a copy holds and cost: see [`crate::IndexMemory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CopyStats {
    pub rows: u64,
    pub links: u64,
    pub heap_bytes: u64,
    pub built_in: Duration,
}

impl MemoryIndex {
    /// Copies the digest index and the relations `txn` sees; gives up with
    /// [`Error::Busy`] as soon as `cancel` is set (the ledger is closing or
    /// compacting).
    fn build(txn: &ReadTransaction, cancel: &AtomicBool) -> Result<Self> {
        let start = Instant::now();
        let mark = Mark::of(txn)?;
        let rows = IndexRows::build(txn, cancel)?;
        let relations = RelationCopy::build(txn, &rows, cancel)?;
        Ok(Self {
            mark,
            rows,
            relations,
            built_in: start.elapsed(),
        })
    }

    /// `d`'s group in the digest index, with its id, if it has one.
    #[inline]
    pub fn group(&self, d: &Digest) -> Result<Option<(GroupId, Group<'_>)>> {
        self.rows.group(d)
    }

    /// The image indexes with intervals that list the platform manifest
    /// whose group is `child`, each with the manifest's platform there.
    pub fn parents(&self, child: GroupId) -> Links<'_> {
        self.relations.parents(&self.rows, child)
    }

    /// [`MemoryIndex::parents`] of the manifest a config's link reached.
    pub fn parents_of(&self, manifest: &Link<'_>) -> Links<'_> {
        self.relations.parents_of(&self.rows, manifest)
    }

    /// The manifests with a group whose config's group is `config`.
    pub fn manifests(&self, config: GroupId) -> Links<'_> {
        self.relations.manifests(&self.rows, config)
    }

    /// The rows whose answers may differ between this copy's version and
    /// `mark`, `txn`'s version: those `index_changes` names, and the
    /// sources of links the copy left out to them. `None` when the table
    /// does not reach back to this copy's version.
    fn stale_since(&self, txn: &ReadTransaction, mark: Mark) -> Result<Option<Stale>> {
        let Some(mut keys) = changes::since(txn, self.mark, mark)? else {
            return Ok(None);
        };
        let dependents: Vec<u64> = keys
            .iter()
            .flat_map(|&k| self.relations.dependents(k))
            .collect();
        if !dependents.is_empty() {
            keys.extend(dependents);
            keys.sort_unstable();
            keys.dedup();
        }
        Stale::new(self.mark, mark, &keys).map(Some)
    }

    /// Whether a view with `stale` should rather have a new copy: when a
    /// sixty-fourth of the rows (at least 1,024) read the file.
    fn wants_rebuild(&self, stale: &Stale) -> bool {
        stale.keys.rows > (self.rows.len() / 64).max(1024)
    }

    fn stats(&self) -> CopyStats {
        CopyStats {
            rows: self.rows.len(),
            links: self.relations.len(),
            heap_bytes: (self.rows.heap_bytes() + self.relations.heap_bytes()) as u64,
            built_in: self.built_in,
        }
    }
}

/// A store's copy, if it keeps one, and the background rebuild of it.
#[derive(Default)]
pub(crate) struct MemoryState {
    /// Whether the embedder asked for a copy (and a rebuild may install one).
    wanted: Arc<AtomicBool>,
    current: Arc<RwLock<Option<Arc<MemoryIndex>>>>,
    /// The stale rows of the last version views asked for, worked out once
    /// for all of its views.
    stale: Mutex<Option<Arc<Stale>>>,
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
        *self.stale.lock().unwrap_or_else(PoisonError::into_inner) = None;
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

    /// The copy a view of `txn` may use: the kept one, with the rows
    /// changed since its version when it is older than `txn`'s. When the
    /// change list does not reach back to the copy, or names too many rows,
    /// a rebuild starts from a transaction that `begin` gives (unless one
    /// is running); in the first case the view reads the file.
    pub fn for_view(
        &self,
        txn: &ReadTransaction,
        begin: impl FnOnce() -> Result<ReadTransaction>,
        path: &Path,
    ) -> Result<Option<CopyView>> {
        if !self.wanted.load(Ordering::Acquire) {
            return Ok(None);
        }
        let mark = Mark::of(txn)?;
        let current = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(index) = current else {
            self.start_refresh(begin, path);
            return Ok(None);
        };
        if index.mark == mark {
            return Ok(Some(CopyView { index, stale: None }));
        }
        let mut cached = self.stale.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(stale) = cached.as_ref()
            && stale.from == index.mark
            && stale.to == mark
        {
            let stale = Some(Arc::clone(stale));
            return Ok(Some(CopyView { index, stale }));
        }
        // Best effort, as a rebuild is: a list that does not read leaves
        // this view on the file.
        let stale = match index.stale_since(txn, mark) {
            Ok(stale) => stale,
            Err(e) => {
                self.note_error(&e);
                None
            }
        };
        let Some(stale) = stale else {
            drop(cached);
            self.start_refresh(begin, path);
            return Ok(None);
        };
        let rebuild = index.wants_rebuild(&stale);
        let stale = Arc::new(stale);
        *cached = Some(Arc::clone(&stale));
        drop(cached);
        if rebuild {
            self.start_refresh(begin, path);
        }
        Ok(Some(CopyView {
            index,
            stale: Some(stale),
        }))
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
