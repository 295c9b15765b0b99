//! Making a handle: a new file built whole before anyone can see it, an
//! existing one checked before it is trusted, a reader that can never
//! write, and the ledgers that live in memory or on a caller's storage.
//! Kept apart from the operations so that every way in is read in one place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use redb::{Database, ReadableDatabase};

use super::format::{check, initialize, open_error, upgrade};
use super::{Handle, Store, builder, guard};
use crate::error::{Error, Result};
use crate::store::memory::MemoryState;
use crate::store::names::NameCache;

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
            numbers: Mutex::default(),
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
            numbers: Mutex::default(),
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
                numbers: Mutex::default(),
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
            numbers: Mutex::default(),
            memory: MemoryState::default(),
            pid_file,
            reopens: true,
        };
        store.view()?;
        Ok(store)
    }
}

/// `ledger.redb` → `ledger.redb.writer`: where the writer's pid goes.
fn pid_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".writer");
    PathBuf::from(name)
}

pub(super) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_path(path))
        .ok()?
        .trim()
        .parse()
        .ok()
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
