//! `Ledger::backup` and `Ledger::restore` (issue 13): a consistent copy of
//! a ledger taken beside its writer, with a blake3 checksum file, and its
//! checked return into place.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::Ledger;
use crate::Counts;
use crate::error::{Error, Result};
use crate::store::TempFile;

/// What [`Ledger::backup`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backup {
    /// The backup file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The blake3 hash of its bytes, in hexadecimal, as written to
    /// `<path>.blake3`.
    pub checksum: String,
    /// The checksum file: `<checksum>  <file name>` (the `b3sum` format, so
    /// `b3sum -c` checks it from the backup's directory).
    pub checksum_file: PathBuf,
    /// Tables copied.
    pub tables: u64,
    /// Rows copied, over every table.
    pub rows: u64,
    /// How long it took.
    pub seconds: f64,
}

/// What [`Ledger::restore`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restore {
    /// The backup restored.
    pub backup: PathBuf,
    /// The ledger file it became.
    pub target: PathBuf,
    /// Bytes copied.
    pub bytes: u64,
    /// The blake3 hash the backup was checked against.
    pub checksum: String,
    /// Whether a file was replaced (only with `force`).
    pub replaced: bool,
    /// What the restored ledger holds.
    pub counts: Counts,
    /// How long it took.
    pub seconds: f64,
}

/// `tags.redb` → `tags.redb.blake3`.
fn checksum_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".blake3");
    PathBuf::from(name)
}

/// Reads `from` to its end, hashing it, and writing it to `to` if given;
/// returns the hash and the byte count.
fn hash_copy(mut from: impl Read, mut to: Option<&mut File>) -> std::io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(to) = to.as_mut() {
            to.write_all(&buf[..n])?;
        }
        bytes += n as u64;
    }
    Ok((hasher.finalize().to_hex().to_string(), bytes))
}

fn open_backup(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                what: "backup file",
                id: path.display().to_string(),
            }
        } else {
            Error::io(format!("reading {}", path.display()), e)
        }
    })
}

/// The hash `checksum_file` gives for the file named `name`: its line for
/// that name, or its only line (a backup renamed with its checksum file).
fn expected_checksum(backup: &Path, checksum_file: &Path) -> Result<String> {
    let refuse = |reason: String| Error::Checksum {
        backup: backup.to_owned(),
        checksum_file: checksum_file.to_owned(),
        reason,
    };
    let text = fs::read_to_string(checksum_file)
        .map_err(|e| refuse(format!("the checksum file cannot be read ({e})")))?;
    let name = backup
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let entries: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_once("  ").unwrap_or((l, "")))
        .collect();
    let hex = match entries.as_slice() {
        [(hex, _)] => *hex,
        many => many
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(hex, _)| *hex)
            .ok_or_else(|| refuse(format!("the checksum file has no line for {name}")))?,
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refuse(format!(
            "the checksum file does not hold a blake3 hash (64 hexadecimal characters): {hex:?}"
        )));
    }
    Ok(hex.to_ascii_lowercase())
}

fn mismatch(backup: &Path, checksum_file: &Path, actual: &str, expected: &str) -> Error {
    Error::Checksum {
        backup: backup.to_owned(),
        checksum_file: checksum_file.to_owned(),
        reason: format!(
            "its bytes hash to {actual} (blake3), the checksum file says {expected}: \
             the backup was damaged or altered since it was written"
        ),
    }
}

/// Whether the `<target>.writer` pid file names a process that is alive
/// and, where that can be seen, holds `target` open: a writer is running.
/// A stale pid file (a writer that crashed, its number reused since) is not
/// believed on its own where `/proc` says otherwise.
fn live_writer(target: &Path) -> Option<u32> {
    let mut name = target.as_os_str().to_owned();
    name.push(".writer");
    let pid: u32 = fs::read_to_string(PathBuf::from(name))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    holds(pid, target).then_some(pid)
}

#[cfg(target_os = "linux")]
fn holds(pid: u32, target: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if !proc.exists() {
        return false;
    }
    let (Ok(file), Ok(fds)) = (fs::metadata(target), fs::read_dir(proc.join("fd"))) else {
        // Alive, and its open files cannot be listed (another user's
        // process): believe the pid file.
        return true;
    };
    fds.flatten().any(|fd| {
        fs::metadata(fd.path()).is_ok_and(|m| m.dev() == file.dev() && m.ino() == file.ino())
    })
}

/// Without `/proc`, the writer lock that [`Ledger::restore`] takes is the
/// test: a pid file alone proves nothing.
#[cfg(not(target_os = "linux"))]
fn holds(_pid: u32, _target: &Path) -> bool {
    false
}

impl Ledger {
    /// Writes a consistent copy of the ledger to the new file `path`, and
    /// its blake3 checksum to `<path>.blake3`.
    ///
    /// The copy is logical: every row of every table, read in one read
    /// transaction (a snapshot: a writer goes on meanwhile, in this process
    /// or another one, and the backup holds exactly its last commit before
    /// the snapshot), written in key order into a new file under a
    /// temporary name beside `path`, compacted, synced and only then linked
    /// into place. It works from a read-only handle
    /// ([`Ledger::open_read_only`]), so a backup process never disturbs the
    /// writer. Stored credentials stay encrypted: the restored ledger needs
    /// the same secret key.
    ///
    /// ```
    /// # fn main() -> ociledger::Result<()> {
    /// # let dir = std::env::temp_dir().join(format!("ociledger-doc-backup-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).ok();
    /// use ociledger::Ledger;
    ///
    /// let ledger = Ledger::create(dir.join("tags.redb"))?;
    /// let backup = Ledger::open_read_only(dir.join("tags.redb"))?.backup(dir.join("tags-backup.redb"))?;
    /// assert_eq!(backup.checksum.len(), 64);
    /// assert!(dir.join("tags-backup.redb.blake3").exists());
    ///
    /// drop(ledger); // a restore never replaces a file a writer holds
    /// let restored = Ledger::restore(dir.join("tags-backup.redb"), dir.join("tags.redb"), true)?;
    /// assert!(restored.replaced);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when `path` exists (nothing is overwritten);
    /// [`Error::Io`] for the destination's file system; storage errors, and
    /// [`Error::Corrupt`] for a damaged source.
    pub fn backup(&self, path: impl AsRef<Path>) -> Result<Backup> {
        let start = Instant::now();
        let path = path.as_ref();
        let report = self.store.backup(path)?;
        let (checksum, _) = open_backup(path).and_then(|f| {
            hash_copy(f, None).map_err(|e| Error::io(format!("reading {}", path.display()), e))
        })?;
        let checksum_file = checksum_path(path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = TempFile::beside(&checksum_file, "writing")?;
        fs::write(tmp.path(), format!("{checksum}  {name}\n"))
            .and_then(|()| File::open(tmp.path())?.sync_all())
            .map_err(|e| Error::io(format!("writing {}", tmp.path().display()), e))?;
        tmp.persist(&checksum_file, true, "checksum file")?;
        Ok(Backup {
            path: path.to_owned(),
            bytes: report.bytes,
            checksum,
            checksum_file,
            tables: report.tables,
            rows: report.rows,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Puts the backup `backup` (written by [`Ledger::backup`]) in place as
    /// the ledger file `target`.
    ///
    /// First the backup is checked: its bytes against `<backup>.blake3`,
    /// then its contents (it opens as a ledger of this schema version and
    /// answers [`Ledger::stats`]). Then the target: a running writer on it
    /// refuses the restore (its `<target>.writer` pid file names a live
    /// process holding the file, or its writer lock is held), and an
    /// existing file is replaced only with `force`. The backup is copied
    /// under a temporary name beside `target`, checked against the checksum
    /// again as it is copied, synced, and renamed over `target`: nobody ever
    /// finds a half-written target, and with `force` the old file stays
    /// whole until the rename. Reader processes that had the old file open
    /// keep reading it until they open `target` again.
    ///
    /// # Errors
    /// [`Error::Checksum`] for a backup whose checksum file is missing or
    /// disagrees with its bytes (naming both files and both hashes);
    /// [`Error::NotFound`] for a missing backup; the open errors of
    /// [`Ledger::open_read_only`] for a backup that is not a ledger of this
    /// version; [`Error::InUse`] while a writer holds `target`;
    /// [`Error::Conflict`] when `target` exists and `force` is false;
    /// [`Error::Io`]. In every case `target` is left as it was.
    pub fn restore(
        backup: impl AsRef<Path>,
        target: impl AsRef<Path>,
        force: bool,
    ) -> Result<Restore> {
        let start = Instant::now();
        let (backup, target) = (backup.as_ref(), target.as_ref());
        let checksum_file = checksum_path(backup);
        let expected = expected_checksum(backup, &checksum_file)?;
        let (actual, _) = hash_copy(open_backup(backup)?, None)
            .map_err(|e| Error::io(format!("reading {}", backup.display()), e))?;
        if actual != expected {
            return Err(mismatch(backup, &checksum_file, &actual, &expected));
        }
        let counts = {
            let source = Ledger::open_read_only(backup)?;
            let report = source.verify()?;
            if !report.is_clean() {
                let found: Vec<String> = report
                    .tables
                    .findings
                    .iter()
                    .map(|(check, f)| format!("{check}: {}", f.count))
                    .collect();
                return Err(Error::Corrupt(format!(
                    "{}: the backup does not verify (engine check: {:?}; findings: {})",
                    backup.display(),
                    report.engine_check,
                    found.join(", ")
                )));
            }
            source.stats()?.counts
        };

        let exists = target.symlink_metadata().is_ok();
        // Held until the rename: no writer can open the old file meanwhile.
        let mut writer_lock = None;
        if exists {
            if let Some(pid) = live_writer(target) {
                return Err(Error::InUse {
                    path: target.to_owned(),
                    pid: Some(pid),
                });
            }
            if !force {
                return Err(Error::Conflict {
                    what: "restore target",
                    id: target.display().to_string(),
                });
            }
            match Ledger::open(target) {
                Ok(ledger) => writer_lock = Some(ledger),
                Err(e @ Error::InUse { .. }) => return Err(e),
                // Not a ledger this version can open (damaged, foreign,
                // another schema): nothing of ours writes to it.
                Err(_) => {}
            }
        }

        let tmp = TempFile::beside(target, "restoring")?;
        let (copied, bytes) = {
            let mut out = fs::OpenOptions::new()
                .write(true)
                .open(tmp.path())
                .map_err(|e| Error::io(format!("opening {}", tmp.path().display()), e))?;
            let copied = hash_copy(open_backup(backup)?, Some(&mut out))
                .and_then(|c| out.sync_all().map(|()| c))
                .map_err(|e| {
                    Error::io(
                        format!("copying {} to {}", backup.display(), tmp.path().display()),
                        e,
                    )
                })?;
            if let Ok(meta) = fs::metadata(target) {
                // The replaced file's permissions, not the temporary's.
                let _ = fs::set_permissions(tmp.path(), meta.permissions());
            }
            copied
        };
        if copied != expected {
            // The backup changed between the check and the copy.
            return Err(mismatch(backup, &checksum_file, &copied, &expected));
        }
        // A target that was not there when checked is never overwritten.
        tmp.persist(target, exists, "restore target")?;
        drop(writer_lock);
        Ok(Restore {
            backup: backup.to_owned(),
            target: target.to_owned(),
            bytes,
            checksum: expected,
            replaced: exists,
            counts,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
