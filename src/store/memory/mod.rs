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

mod pages;
mod relations;
mod rows;
mod table;

pub(crate) use relations::Link;
use relations::RelationCopy;
pub(crate) use rows::GroupId;
use rows::IndexRows;

use super::packed::Group;
use super::{CONFIGS, JOURNAL, PARENTS};
use crate::error::{Error, Result};
use crate::id::Digest;

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

/// The digest index of one [`Mark`], in memory, with the manifest
/// relations a lookup follows.
pub(crate) struct MemoryIndex {
    mark: Mark,
    rows: IndexRows,
    relations: RelationCopy,
    built_in: Duration,
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
    pub fn parents(&self, child: GroupId) -> impl Iterator<Item = Result<Link<'_>>> + '_ {
        self.relations.parents(&self.rows, child)
    }

    /// The manifests with a group whose config's group is `config`.
    pub fn manifests(&self, config: GroupId) -> impl Iterator<Item = Result<Link<'_>>> + '_ {
        self.relations.manifests(&self.rows, config)
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
