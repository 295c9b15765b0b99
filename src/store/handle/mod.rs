//! The open file: one writer process (`Database` in redb's `SingleWriter`
//! mode) or a reader beside it (`ReadOnlyDatabase` in the same mode), the
//! format check, and the tag-name cache that both keep current.
//!
//! This file holds what every operation shares: the handle, its lock, and
//! the one way to the writer's `Database` once it is open (reopened on
//! demand after an I/O error), which every file beside it goes through.

mod format;
mod guard;
mod maintenance;
mod open;
mod transactions;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use redb::{
    Builder, ConcurrencyMode, Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
};

pub(super) use format::{initialize, open_error};
pub(crate) use guard::guard;

use super::memory::MemoryState;
use super::names::NameCache;
use super::numbers::TagNumbers;
use crate::error::{Error, Result};

/// Byte-range locks let one writer process and many reader processes share
/// the file (redb's `SingleWriter`). Where the platform has none, redb
/// refuses that mode, so the file is locked whole instead: one process at a
/// time, writer or readers (see `docs/architecture.md`).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    windows
))]
const MODE: ConcurrencyMode = ConcurrencyMode::SingleWriter;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    windows
)))]
const MODE: ConcurrencyMode = ConcurrencyMode::ExclusiveWriter;

enum Handle {
    /// The writing process. Behind a lock so that `compact`, which redb runs
    /// on `&mut Database`, and the reopening after an I/O error
    /// ([`Store::recover`]) work through a shared `&Store`: every other use
    /// takes the read side for the instant it begins a transaction. `None`
    /// only while a file that an I/O error closed could not be reopened yet.
    Writer(RwLock<Option<Database>>),
    /// A reading process: no write can even be attempted. `None` only
    /// while the store is dropped.
    Reader(Option<ReadOnlyDatabase>),
}

/// An open ledger file and its tag-name cache.
pub(crate) struct Store {
    handle: Handle,
    path: PathBuf,
    names: Arc<NameCache>,
    /// Tag IDs → numbers, for writes: built at the first write from
    /// `names` and extended by each write after (`numbers.rs`). Empty in a
    /// process that never writes.
    numbers: Mutex<Arc<TagNumbers>>,
    /// The optional copy of the digest index in memory (`memory/`).
    memory: MemoryState,
    /// The file beside the ledger where the writer leaves its process ID,
    /// removed when it closes.
    pid_file: Option<PathBuf>,
    /// A writer on a file, which [`Store::recover`] can reopen; not one in
    /// memory or on a caller's backend.
    reopens: bool,
}

impl Drop for Store {
    fn drop(&mut self) {
        // A background copy of the index holds a read transaction: ended
        // first, so the file is closed when this returns.
        self.memory.stop_refresh();
        // redb writes when it closes a file (the writer's clean-shutdown
        // record), and on a damaged file that can panic deep in its page
        // code: seen 1 in 360 damaged files (tests/damaged_files.rs). A
        // `Ledger` going out of scope must not take the process down; the
        // file stays as the engine left it, and the next writer's open
        // repairs it or reports the damage.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &mut self.handle {
            Handle::Writer(db) => drop(db.get_mut().unwrap_or_else(PoisonError::into_inner).take()),
            Handle::Reader(db) => drop(db.take()),
        }));
        if let Some(p) = &self.pid_file {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub(super) fn builder() -> Builder {
    let mut b = Builder::new();
    b.set_concurrency_mode(MODE);
    b
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_read_only(&self) -> bool {
        matches!(self.handle, Handle::Reader(_))
    }

    fn begin_read(&self) -> Result<ReadTransaction> {
        match &self.handle {
            Handle::Writer(slot) => self.database(slot)?.begin_read(),
            Handle::Reader(Some(db)) => Ok(db.begin_read()?),
            Handle::Reader(None) => Err(Error::Corrupt(format!(
                "{}: the ledger is closing",
                self.path.display()
            ))),
        }
    }

    /// The writer's `Database`, for the instant a transaction begins;
    /// reopened first when a reopen after an I/O error failed earlier.
    fn database<'a>(&self, slot: &'a RwLock<Option<Database>>) -> Result<DatabaseRef<'a>> {
        let guard = slot.read().unwrap_or_else(PoisonError::into_inner);
        if guard.is_some() {
            return Ok(DatabaseRef(guard));
        }
        drop(guard);
        self.recover(&mut slot.write().unwrap_or_else(PoisonError::into_inner))?;
        Ok(DatabaseRef(
            slot.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }

    /// The writer's `Database` for `compact` and the integrity check, which
    /// redb runs on `&mut Database`; reopened first as in [`Store::database`].
    fn database_mut<'a>(
        &self,
        slot: &'a RwLock<Option<Database>>,
    ) -> Result<RwLockWriteGuard<'a, Option<Database>>> {
        let mut guard = slot.write().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            self.recover(&mut guard)?;
        }
        Ok(guard)
    }

    /// Allocated bytes on disk: sparse space the engine reserved but never
    /// wrote does not count.
    pub fn disk_bytes(&self) -> u64 {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return 0;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            meta.blocks().saturating_mul(512)
        }
        #[cfg(not(unix))]
        {
            meta.len()
        }
    }

    pub fn file_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }
}

/// The writer's `Database` behind the read side of its lock.
struct DatabaseRef<'a>(RwLockReadGuard<'a, Option<Database>>);

impl DatabaseRef<'_> {
    fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(self.0.as_ref().ok_or_else(closed)?.begin_read()?)
    }

    fn begin_write(&self) -> Result<redb::WriteTransaction> {
        Ok(self.0.as_ref().ok_or_else(closed)?.begin_write()?)
    }
}

/// A writer without a `Database`: only if a reopen reported success and
/// left none, which [`Store::recover`] never does.
fn closed() -> Error {
    redb::StorageError::DatabaseClosed.into()
}
