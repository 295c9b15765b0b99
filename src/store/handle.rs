//! The open file: one writer process (`Database` in redb's `SingleWriter`
//! mode) or a reader beside it (`ReadOnlyDatabase` in the same mode), the
//! format check, and the tag-name cache that both keep current.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use redb::{
    Builder, ConcurrencyMode, Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
    ReadableTableMetadata, TableHandle,
};

use super::memory::{CopyStats, MemoryState};
use super::names::NameCache;
use super::read::View;
use super::write::Writer;
use super::{
    CONFIG_MANIFESTS, CONFIGS, DIGEST_INDEX, FORMAT_KEY, FORMAT_NAME, INDEX_CHANGES, JOURNAL, META,
    PARENTS, REPO_KEYS, REPOS, SCHEMA_VERSION, TAG_KEYS, TAG_LOG, TAGS, VERSION_KEY, rows,
};
use super::{INTEGRATION_META, INTEGRATION_NAMES, INTEGRATIONS};
use super::{REPO_SETTINGS, TEMPLATES, VIOLATIONS};
use crate::error::{Error, Result};
use crate::id::{RepositoryId, TagId};

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

/// `ledger.redb` → `ledger.redb.writer`: where the writer's pid goes.
fn pid_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".writer");
    PathBuf::from(name)
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_path(path))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Store {
    /// Opens `path` for writing, creating a new ledger when the file does not
    /// exist or is empty.
    ///
    /// A new file is made whole under a temporary name beside `path` (format
    /// record and every table committed) and only then linked into place, so
    /// a reader process never finds a half-made file and takes it for a
    /// foreign one. Where hard links fail (some file systems, Windows), the
    /// file is created in place.
    pub fn create(path: &Path) -> Result<Self> {
        guard(path, || Self::create_unguarded(path))
    }

    fn create_unguarded(path: &Path) -> Result<Self> {
        #[cfg(unix)]
        if !path.exists()
            && let Some(store) = Self::create_and_link(path)?
        {
            return Ok(store);
        }
        let db = builder().create(path).map_err(|e| open_error(path, e))?;
        initialize(&db, path)?;
        Self::writer(db, path)
    }

    /// The atomic creation of [`Store::create`]; `None` when linking is not
    /// possible here or another process created the file first (then the
    /// caller opens it as an existing file).
    #[cfg(unix)]
    fn create_and_link(path: &Path) -> Result<Option<Self>> {
        let Some(name) = path.file_name() else {
            return Ok(None);
        };
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".creating-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let made = builder()
            .create(&tmp)
            .map_err(|e| open_error(&tmp, e))
            .and_then(|db| initialize(&db, &tmp).map(|()| db));
        let db = match made {
            Ok(db) => db,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let linked = std::fs::hard_link(&tmp, path);
        // The open handle keeps the file (and its locks) by inode: the
        // temporary name can go whatever happened.
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Self::writer(db, path).map(Some),
            // Another process linked its file first (AlreadyExists), or this
            // file system has no hard links: open or create in place.
            Err(_) => Ok(None),
        }
    }

    /// Opens an existing ledger for writing.
    pub fn open(path: &Path) -> Result<Self> {
        guard(path, || Self::open_unguarded(path))
    }

    fn open_unguarded(path: &Path) -> Result<Self> {
        must_exist(path)?;
        let db = builder().open(path).map_err(|e| open_error(path, e))?;
        upgrade(&db)?;
        check(&db.begin_read()?, path)?;
        Self::writer(db, path)
    }

    /// Opens an existing ledger for reading only, beside the writer process
    /// if there is one. Nothing is ever written to the file.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        guard(path, || Self::open_read_only_unguarded(path))
    }

    fn open_read_only_unguarded(path: &Path) -> Result<Self> {
        must_exist(path)?;
        let db = builder()
            .open_read_only(path)
            .map_err(|e| open_error(path, e))?;
        check(&db.begin_read()?, path)?;
        let names = Arc::new(NameCache::default());
        let store = Self {
            handle: Handle::Reader(Some(db)),
            path: path.to_owned(),
            names,
            memory: MemoryState::default(),
            pid_file: None,
            reopens: false,
        };
        store.view()?;
        Ok(store)
    }

    /// A ledger in memory only.
    pub fn in_memory() -> Result<Self> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        let path = Path::new(":memory:");
        initialize(&db, path)?;
        let names = Arc::new(NameCache::default());
        let store = Self {
            handle: Handle::Writer(RwLock::new(Some(db))),
            path: path.to_owned(),
            names,
            memory: MemoryState::default(),
            pid_file: None,
            reopens: false,
        };
        store.view()?;
        Ok(store)
    }

    /// A ledger on storage the caller provides: a new ledger on empty
    /// storage, or the one already on it (checked as [`Store::open`] checks a
    /// file). Shown as `<backend>`; no pid file. redb's default
    /// `ExclusiveWriter` mode: a backend needs no byte-range locks.
    /// redb owns the backend and cannot give it back, so after an I/O error
    /// the store cannot reopen it as it reopens a file ([`Store::recover`]):
    /// every later write fails until the embedder reopens the ledger.
    pub fn with_backend(backend: impl redb::StorageBackend) -> Result<Self> {
        let path = Path::new("<backend>");
        guard(path, || {
            let db = Database::builder()
                .create_with_backend(backend)
                .map_err(|e| open_error(path, e))?;
            initialize(&db, path)?;
            let store = Self {
                handle: Handle::Writer(RwLock::new(Some(db))),
                path: path.to_owned(),
                names: Arc::new(NameCache::default()),
                memory: MemoryState::default(),
                pid_file: None,
                reopens: false,
            };
            store.view()?;
            Ok(store)
        })
    }

    fn writer(db: Database, path: &Path) -> Result<Self> {
        let pid_file = pid_path(path);
        // Best effort: the pid only improves a second writer's error message.
        let pid_file = std::fs::write(&pid_file, format!("{}\n", std::process::id()))
            .is_ok()
            .then_some(pid_file);
        let store = Self {
            handle: Handle::Writer(RwLock::new(Some(db))),
            path: path.to_owned(),
            names: Arc::new(NameCache::default()),
            memory: MemoryState::default(),
            pid_file,
            reopens: true,
        };
        store.view()?;
        Ok(store)
    }

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

    /// After an I/O error (a full disk, a failing one) redb refuses every
    /// later operation of that `Database`: "Previous I/O error occurred.
    /// Please close and re-open the database." A writer on a file does that
    /// itself, so that the next write works once the disk does: it drops the
    /// `Database` (which closes the file and releases its locks; snapshots
    /// taken before fail from then on with "Database has been closed") and
    /// opens the file again as [`Store::open`] does, format check included;
    /// redb's open repairs what the failed commit left. Nothing committed is
    /// lost (commits are durable). The tag-name cache stays right: the failed
    /// write took its names back out, and names of a commit that turned out
    /// durable although it reported an error are read from the file by the
    /// next view, as another process's are.
    ///
    /// Called with the exclusive lock, so nothing begins a transaction
    /// meanwhile. If another thread already reopened the file (a `Database`
    /// that still begins a write), it is kept. If the open fails (the disk
    /// still fails), the slot stays empty and the next operation tries again.
    /// In memory or on a caller's backend there is nothing to reopen
    /// ([`Store::with_backend`]): a no-op.
    fn recover(&self, slot: &mut Option<Database>) -> Result<()> {
        if !self.reopens {
            return Ok(());
        }
        if slot.as_ref().is_some_and(|db| db.begin_write().is_ok()) {
            return Ok(());
        }
        // Closed before the open: the file's locks allow one writer handle.
        *slot = None;
        let db = builder()
            .open(&self.path)
            .map_err(|e| open_error(&self.path, e))?;
        check(&db.begin_read()?, &self.path)?;
        *slot = Some(db);
        Ok(())
    }

    /// A consistent view of the last commit. Tags created since the cache
    /// last grew (by another process: this process's own writes extend it
    /// before they commit) are named from their rows first.
    pub fn view(&self) -> Result<View> {
        guard(&self.path, || self.view_unguarded())
    }

    fn view_unguarded(&self) -> Result<View> {
        let txn = self.begin_read()?;
        let tags = txn.open_table(TAGS)?;
        let known = self.names.len();
        let in_file = usize::try_from(tags.len()?).unwrap_or(usize::MAX);
        if in_file > known {
            let repos = txn.open_table(REPOS)?;
            let mut new = Vec::new();
            let start = u32::try_from(known)
                .map_err(|_| Error::Corrupt(format!("tag number {known} out of range")))?;
            let mut repo_ids: HashMap<u32, RepositoryId> = HashMap::new();
            for entry in tags.range(start..)? {
                let (k, v) = entry?;
                let n = k.value();
                let expected = start as usize + new.len();
                if n as usize != expected {
                    return Err(Error::Corrupt(format!(
                        "tag numbers are not dense: found {n} where {expected} was due"
                    )));
                }
                let row: rows::TagRow = rows::decode_row("tags", n, v.value())?;
                let repo = if let Some(id) = repo_ids.get(&row.repo) {
                    id.clone()
                } else {
                    let id = rows::repository_id(&repos, row.repo)
                        .map_err(rows::at(format_args!("table tags, tag number {n}")))?;
                    repo_ids.insert(row.repo, id.clone());
                    id
                };
                let id = TagId::new(repo, &row.name).map_err(|e| {
                    Error::Corrupt(format!("table tags, tag number {n}: invalid name: {e}"))
                })?;
                new.push((n, row.repo, id));
            }
            self.names.extend_from(known, new);
        }
        drop(tags);
        let memory = self
            .memory
            .for_view(&txn, || self.begin_read(), &self.path)?;
        View::new(txn, &self.names, &self.path, memory)
    }

    /// Runs `op` in one write transaction; commits only if it succeeds.
    pub fn write<T>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        guard(&self.path, || self.write_unguarded(operation, op))
    }

    fn write_unguarded<T>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let Handle::Writer(slot) = &self.handle else {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                operation,
            });
        };
        let result = self.write_once(slot, op);
        // An I/O error at any point (beginning, writing, committing) leaves
        // redb refusing every later write: reopen the file now, so the next
        // write works once the disk does. This write still fails, and
        // changed nothing. If the reopen fails too, the next operation
        // retries it (`database`); its error is not this write's.
        if let Err(Error::Storage(e)) = &result
            && e.is_io()
        {
            let _ = self.recover(&mut slot.write().unwrap_or_else(PoisonError::into_inner));
        }
        result
    }

    /// One write transaction of [`Store::write`], dropped (rolled back)
    /// unless it commits.
    fn write_once<T>(
        &self,
        slot: &RwLock<Option<Database>>,
        op: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let txn = self.database(slot)?.begin_write()?;
        let (value, new_names) = {
            let mut writer = Writer::open(&txn)?;
            let value = op(&mut writer)?;
            writer.finish()?;
            (value, std::mem::take(&mut writer.new_names))
        };
        // Names go in before the commit makes their numbers visible to readers.
        let before = self.names.len();
        self.names.extend_from(before, new_names);
        if let Err(e) = txn.commit() {
            self.names.truncate(before);
            return Err(e.into());
        }
        Ok(value)
    }

    /// Compacts the file; fails with [`Error::Busy`] while a view or a
    /// write of this process is open.
    pub fn compact(&self) -> Result<()> {
        guard(&self.path, || self.compact_unguarded())
    }

    fn compact_unguarded(&self) -> Result<()> {
        let Handle::Writer(slot) = &self.handle else {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                operation: "compact",
            });
        };
        // redb compacts only with no read transaction open.
        self.memory.stop_refresh();
        let mut guard = self.database_mut(slot)?;
        let result = guard.as_mut().ok_or_else(closed).and_then(|db| {
            // First as redb does it: refused while a snapshot is open, before
            // anything is rewritten (the rewrite alone would grow the file).
            // With this lock held, no snapshot of this process begins meanwhile.
            compact_pages(db)?;
            super::compact::refill(db)?;
            compact_pages(db)
        });
        // The rewrite is a write transaction: after an I/O error (a disk
        // too full for the copy) it changed nothing, and the file is
        // reopened as after a failed write.
        if let Err(Error::Storage(e)) = &result
            && e.is_io()
        {
            let _ = self.recover(&mut guard);
        }
        result
    }

    /// redb's own integrity check (page checksums and the allocator's
    /// state), for `verify`: `Some(passed)` from the writing process,
    /// `None` from a reader, which cannot take the file for itself.
    /// Fails with [`Error::Busy`] while a view or write of this process is
    /// open, as `compact` does.
    pub fn check_integrity(&self) -> Result<Option<bool>> {
        guard(&self.path, || {
            let Handle::Writer(slot) = &self.handle else {
                return Ok(None);
            };
            let mut guard = self.database_mut(slot)?;
            let db = guard.as_mut().ok_or_else(closed)?;
            match db.check_integrity() {
                Ok(passed) => Ok(Some(passed)),
                Err(redb::DatabaseError::TransactionInProgress) => Err(Error::Busy {
                    operation: "verify",
                    reason: "snapshots or a write of this ledger are still open; drop them first"
                        .to_owned(),
                }),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Writes a consistent copy of the last commit to the new file `dest`,
    /// from one read transaction: writers go on meanwhile (`backup.rs`).
    pub fn backup(&self, dest: &Path) -> Result<super::backup::BackupReport> {
        guard(&self.path, || {
            super::backup::write(&self.begin_read()?, dest, &builder())
        })
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

    /// Copies the digest index into memory now, for later views to use.
    pub fn load_index_copy(&self) -> Result<CopyStats> {
        guard(&self.path, || self.memory.load(&self.begin_read()?))
    }

    /// Drops the copy of the digest index.
    pub fn release_index_copy(&self) {
        self.memory.release();
    }

    /// The copy's figures and the last background rebuild's error.
    pub fn index_copy(&self) -> Option<(CopyStats, Option<String>)> {
        self.memory.stats()
    }

    /// A view of the latest commit that reads the file, never the copy:
    /// what the copy's answers are checked against.
    #[cfg(test)]
    pub fn file_view(&self) -> Result<View> {
        drop(self.view()?);
        View::new(self.begin_read()?, &self.names, &self.path, None)
    }

    /// The digest index's version mark and every row, for the test that
    /// the mark moves whenever a row does.
    #[cfg(test)]
    #[allow(clippy::type_complexity)] // a test's view of raw rows
    pub fn index_mark_and_rows(&self) -> Result<(super::changes::Mark, Vec<(u64, Vec<u8>)>)> {
        use redb::ReadableTable;
        let txn = self.begin_read()?;
        let mark = super::changes::Mark::of(&txn)?;
        let mut rows = Vec::new();
        for row in txn.open_table(DIGEST_INDEX)?.iter()? {
            let (k, v) = row?;
            rows.push((k.value(), v.value().to_vec()));
        }
        Ok((mark, rows))
    }
}

/// redb's compaction to the end: live pages moved to the front, the file
/// truncated.
fn compact_pages(db: &mut Database) -> Result<()> {
    loop {
        match db.compact() {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(redb::CompactionError::TransactionInProgress) => {
                return Err(Error::Busy {
                    operation: "compact",
                    reason: "snapshots or a write of this ledger are still open; drop them first"
                        .to_owned(),
                });
            }
            Err(e) => return Err(e.into()),
        }
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

/// Runs `f`, turning a panic inside the storage engine into
/// [`Error::Corrupt`] naming the file, and naming the file in every
/// `Corrupt` that `f` returns (see [`name_file`]). redb trusts its own pages; on a
/// damaged file some reads end in a panic deep in its B-tree code, and a
/// file's contents must never take the embedding process down.
pub(crate) fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(|e| name_file(path, e)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(Error::Corrupt(format!(
                "{}: the storage engine failed on a damaged page ({message})",
                path.display()
            )))
        }
    }
}

/// Starts a [`Error::Corrupt`] message with the file's path (unless it
/// does already), so every damage an embedder or the CLI sees names the file,
/// not only the table and row that rows.rs names.
fn name_file(path: &Path, e: Error) -> Error {
    match e {
        Error::Corrupt(m) => {
            let shown = path.display().to_string();
            if m.strip_prefix(&shown)
                .is_some_and(|rest| rest.starts_with(':'))
            {
                Error::Corrupt(m)
            } else {
                Error::Corrupt(format!("{shown}: {m}"))
            }
        }
        other => other,
    }
}

fn must_exist(path: &Path) -> Result<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(Error::NotFound {
            what: "ledger file",
            id: path.display().to_string(),
        })
    }
}

/// Writes the format record and creates every table in a new file, or checks
/// the format and version of an existing one. Only a new file takes a write
/// transaction.
pub(super) fn initialize(db: &Database, path: &Path) -> Result<()> {
    {
        let txn = db.begin_read()?;
        let fresh = match txn.open_table(META) {
            Ok(meta) => meta.is_empty()? && txn.list_tables()?.count() == 1,
            Err(redb::TableError::TableDoesNotExist(_)) => txn.list_tables()?.next().is_none(),
            Err(e) => return Err(foreign_meta(path, e)),
        };
        if !fresh {
            drop(txn);
            upgrade(db)?;
            return check(&db.begin_read()?, path);
        }
    }
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        meta.insert(FORMAT_KEY, FORMAT_NAME)?;
        meta.insert(VERSION_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())?;
        txn.open_table(REPO_KEYS)?;
        txn.open_table(REPOS)?;
        txn.open_table(TAG_KEYS)?;
        txn.open_table(TAGS)?;
        txn.open_table(TAG_LOG)?;
        txn.open_table(JOURNAL)?;
        txn.open_table(DIGEST_INDEX)?;
        txn.open_table(PARENTS)?;
        txn.open_table(CONFIGS)?;
        txn.open_table(CONFIG_MANIFESTS)?;
        txn.open_table(TEMPLATES)?;
        txn.open_table(REPO_SETTINGS)?;
        txn.open_table(VIOLATIONS)?;
        txn.open_table(INTEGRATIONS)?;
        txn.open_table(INTEGRATION_NAMES)?;
        txn.open_table(INTEGRATION_META)?;
        txn.open_table(INDEX_CHANGES)?;
    }
    txn.commit()?;
    Ok(())
}

/// The last schema a writable open upgrades in place: 8 only added the
/// empty `index_changes` table.
const UPGRADES_FROM: u32 = 7;

/// Upgrades a file of schema [`UPGRADES_FROM`] to this one, in one write
/// transaction (a crash leaves it as it was); any other file is left to
/// [`check`].
fn upgrade(db: &Database) -> Result<()> {
    let version = |txn: &ReadTransaction| -> Result<Option<u32>> {
        let Ok(meta) = txn.open_table(META) else {
            return Ok(None);
        };
        Ok(meta
            .get(VERSION_KEY)?
            .and_then(|v| <[u8; 4]>::try_from(v.value()).ok())
            .map(u32::from_le_bytes))
    };
    if version(&db.begin_read()?)? != Some(UPGRADES_FROM) {
        return Ok(());
    }
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        meta.insert(VERSION_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())?;
        txn.open_table(INDEX_CHANGES)?;
    }
    txn.commit()?;
    Ok(())
}

/// A `meta` table of other key/value types is someone else's table.
fn foreign_meta(path: &Path, e: redb::TableError) -> Error {
    match e {
        redb::TableError::TableTypeMismatch { .. } | redb::TableError::TableIsMultimap(_) => {
            Error::NotALedger {
                path: path.to_owned(),
                reason: format!("its meta table is not ociledger's ({e})"),
            }
        }
        other => other.into(),
    }
}

/// Checks that the file is an ociledger file of this schema version.
fn check(txn: &ReadTransaction, path: &Path) -> Result<()> {
    let not_ledger = |reason: &str| Error::NotALedger {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            let reason = if txn.list_tables()?.any(|t| t.name() != META.name()) {
                "a redb database with tables of its own and no ociledger format record"
            } else {
                "it has no meta table"
            };
            return Err(not_ledger(reason));
        }
        Err(e) => return Err(foreign_meta(path, e)),
    };
    match meta.get(FORMAT_KEY)? {
        Some(v) if v.value() == FORMAT_NAME => {}
        _ => return Err(not_ledger("its meta table has no ociledger format record")),
    }
    let version = meta
        .get(VERSION_KEY)?
        .and_then(|v| <[u8; 4]>::try_from(v.value()).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| not_ledger("its schema version record is missing or malformed"))?;
    if version != SCHEMA_VERSION {
        return Err(Error::Version {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    // Every table must be there: a file missing one was not written by this
    // version, and a reader could not open it later.
    for name in super::table_names().into_iter().skip(1) {
        if !txn.list_tables()?.any(|t| t.name() == name) {
            return Err(not_ledger(&format!("its {name} table is missing")));
        }
    }
    Ok(())
}

pub(super) fn open_error(path: &Path, e: redb::DatabaseError) -> Error {
    match e {
        // redb reads a file whose header it does not know as invalid data.
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            Error::NotALedger {
                path: path.to_owned(),
                reason: format!("not a redb database ({io})"),
            }
        }
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            Error::InUse {
                path: path.to_owned(),
                pid: read_pid(path),
            }
        }
        redb::DatabaseError::UpgradeRequired(format) => Error::UpgradeRequired {
            path: path.to_owned(),
            format,
        },
        redb::DatabaseError::RepairAborted => Error::RepairRequired {
            path: path.to_owned(),
        },
        other => other.into(),
    }
}
