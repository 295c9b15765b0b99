//! A consistent copy of a ledger file, taken beside a running writer.
//!
//! redb has no backup API, and copying the bytes of a file that a writer
//! commits to is not consistent (the header and the pages it points to move
//! under the copy). So a backup is a logical copy: one read transaction of
//! the source (a snapshot: the writer goes on), every row of every table
//! inserted in key order into a new file created under a temporary name
//! beside the destination, committed in one large write transaction (redb
//! is fastest with large, key-sorted ones), compacted, synced, and only then
//! linked into place, so nobody ever finds a half-written backup under the
//! destination's name.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{
    Builder, Key, ReadTransaction, ReadableTable, Table, TableDefinition, Value, WriteTransaction,
};

use super::{
    CONFIG_MANIFESTS, CONFIGS, DIGEST_INDEX, INDEX_CHANGES, INTEGRATION_META, INTEGRATION_NAMES,
    INTEGRATIONS, JOURNAL, META, PARENTS, REPO_KEYS, REPO_SETTINGS, REPOS, TAG_KEYS, TAG_LOG, TAGS,
    TEMPLATES, VIOLATIONS,
};
use crate::error::{Error, Result};

/// What [`write`] copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BackupReport {
    /// Tables copied (`meta` included).
    pub tables: u64,
    /// Rows copied, over every table.
    pub rows: u64,
    /// The backup file's size once compacted and closed.
    pub bytes: u64,
}

/// Copies every row of `def` from `src` to `dst`, in key order; returns how
/// many.
fn copy_table<K: Key + 'static, V: Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64> {
    copy_rows(&src.open_table(def)?, &mut dst.open_table(def)?)
}

/// Inserts every row of `from` into `to`, in key order (which fills the
/// pages of a table written from empty); returns how many. Shared with
/// compaction's rewrite (`compact.rs`).
pub(super) fn copy_rows<K: Key + 'static, V: Value + 'static>(
    from: &impl ReadableTable<K, V>,
    to: &mut Table<'_, K, V>,
) -> Result<u64> {
    let mut rows = 0;
    for entry in from.iter()? {
        let (k, v) = entry?;
        to.insert(k.value(), v.value())?;
        rows += 1;
    }
    Ok(rows)
}

/// Copies every table; returns the row count of each.
fn copy_tables(src: &ReadTransaction, dst: &WriteTransaction) -> Result<Vec<u64>> {
    // Every table of the schema: keep in sync with SCHEMA_VERSION. A table
    // left out here is missing from every backup (and the backup then fails
    // the format check); `backup_copies_every_table_of_the_file` catches it.
    Ok(vec![
        copy_table(src, dst, META)?,
        copy_table(src, dst, REPO_KEYS)?,
        copy_table(src, dst, REPOS)?,
        copy_table(src, dst, TAG_KEYS)?,
        copy_table(src, dst, TAGS)?,
        copy_table(src, dst, TAG_LOG)?,
        copy_table(src, dst, JOURNAL)?,
        copy_table(src, dst, DIGEST_INDEX)?,
        copy_table(src, dst, PARENTS)?,
        copy_table(src, dst, CONFIGS)?,
        copy_table(src, dst, CONFIG_MANIFESTS)?,
        copy_table(src, dst, TEMPLATES)?,
        copy_table(src, dst, REPO_SETTINGS)?,
        copy_table(src, dst, VIOLATIONS)?,
        copy_table(src, dst, INTEGRATIONS)?,
        copy_table(src, dst, INTEGRATION_NAMES)?,
        copy_table(src, dst, INTEGRATION_META)?,
        copy_table(src, dst, INDEX_CHANGES)?,
    ])
}

/// A file under a temporary name, removed when dropped unless kept.
pub(crate) struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// Creates a new, empty file beside `dest` (so a rename stays on one file
    /// system), named `.<dest name>.<what>-<pid>-<n>`; never an existing one.
    pub(crate) fn beside(dest: &Path, what: &str) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = dest.file_name().ok_or_else(|| Error::Invalid {
            location: "path".to_owned(),
            message: "a file path is needed, not a directory or a root".to_owned(),
            value: Some(dest.display().to_string()),
        })?;
        loop {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(
                ".{what}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let path = dest.with_file_name(tmp_name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Self { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::io(format!("creating {}", path.display()), e));
                }
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the file `dest` as its name: with `replace`, over whatever is
    /// there (an atomic rename); without, only if nothing is
    /// ([`Error::Conflict`] otherwise, `what` naming the file's role).
    pub(crate) fn persist(mut self, dest: &Path, replace: bool, what: &'static str) -> Result<()> {
        let placed = if replace {
            fs::rename(&self.path, dest)
        } else {
            link_new(&self.path, dest)
        };
        match placed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Conflict {
                    what,
                    id: dest.display().to_string(),
                });
            }
            Err(e) => {
                return Err(Error::io(
                    format!("renaming {} to {}", self.path.display(), dest.display()),
                    e,
                ));
            }
        }
        if !replace {
            // The link is in place; the temporary name goes.
            let _ = fs::remove_file(&self.path);
        }
        self.keep = true;
        sync_dir(dest)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Links `from` as `to` only if `to` does not exist (atomically, where the
/// file system has hard links); `AlreadyExists` otherwise.
fn link_new(from: &Path, to: &Path) -> std::io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        // No hard links here (some file systems): check, then rename.
        Err(_) if to.symlink_metadata().is_ok() => {
            Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
        }
        Err(_) => fs::rename(from, to),
    }
}

/// Syncs the directory holding `path`, so a rename or link into it survives
/// a crash (a no-op where directories cannot be opened, as on Windows).
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes every row `src` sees into a new ledger file at `dest`, which must
/// not exist ([`Error::Conflict`] otherwise). `builder` opens files the way
/// the handle does.
pub(crate) fn write(src: &ReadTransaction, dest: &Path, builder: &Builder) -> Result<BackupReport> {
    if dest.symlink_metadata().is_ok() {
        return Err(Error::Conflict {
            what: "backup file",
            id: dest.display().to_string(),
        });
    }
    let tmp = TempFile::beside(dest, "backup")?;
    let copied = {
        let mut db = builder.create(tmp.path())?;
        let txn = db.begin_write()?;
        let copied = copy_tables(src, &txn)?;
        txn.commit()?;
        while db.compact()? {}
        copied
    };
    let file = fs::File::open(tmp.path())
        .map_err(|e| Error::io(format!("opening {}", tmp.path().display()), e))?;
    file.sync_all()
        .map_err(|e| Error::io(format!("syncing {}", tmp.path().display()), e))?;
    let bytes = file.metadata().map_or(0, |m| m.len());
    drop(file);
    tmp.persist(dest, false, "backup file")?;
    Ok(BackupReport {
        tables: copied.len() as u64,
        rows: copied.iter().sum(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};

    use super::*;
    use crate::Ledger;
    use crate::id::{Algorithm, Digest};
    use crate::model::{ImageIntegration, ManifestRelation, Observation, TemplateBody};
    use crate::secrets::SecretKey;

    fn d(n: u8) -> Digest {
        Digest::of(Algorithm::Sha256, &[n])
    }

    /// A ledger at `path` with rows in every table family: observations (a
    /// move of an immutable tag, so a violation), a template, manifest
    /// relations, an integration with an encrypted credential.
    fn full_ledger(path: &Path) -> Ledger {
        let l = Ledger::create(path)
            .expect("create")
            .with_secret_key(SecretKey::from_bytes([7; 32]));
        let template =
            TemplateBody::from_json(r#"{"prefix": "prod", "imageTagMutability": "IMMUTABLE"}"#)
                .expect("template body");
        l.create_template("ghcr.io", &template).expect("template");
        let obs = |digest: Digest, at: &str| {
            Observation::new(
                "ghcr.io/prod/app:v1".parse().expect("tag"),
                digest,
                at.parse().expect("time"),
            )
        };
        let s = l
            .ingest(
                "test",
                &[
                    obs(d(1), "2024-01-01T00:00:00Z"),
                    obs(d(2), "2024-02-01T00:00:00Z"),
                ],
            )
            .expect("ingest");
        assert_eq!(s.violations_created, 1, "a move of an immutable tag");
        let relations: Vec<ManifestRelation> = [
            format!(r#"{{"index": "{}", "manifests": [{{"digest": "{}", "platform": {{"os": "linux", "architecture": "amd64"}}}}]}}"#, d(2), d(3)),
            format!(r#"{{"manifest": "{}", "config": "{}"}}"#, d(3), d(4)),
        ]
        .iter()
        .map(|j| serde_json::from_str(j).expect("relation"))
        .collect();
        assert_eq!(
            l.record_relations("test", &relations).expect("relations"),
            2
        );
        let hub = ImageIntegration::from_json(
            br#"{"name": "hub", "type": "docker", "categories": ["REGISTRY"],
                 "docker": {"endpoint": "registry-1.docker.io", "username": "me", "password": "pw"}}"#,
        )
        .expect("integration body");
        l.create_integration(&hub).expect("integration");
        l
    }

    /// Every table of a file with its row count, read without knowing the
    /// tables' types.
    fn tables_of(path: &Path) -> BTreeMap<String, u64> {
        let db = Builder::new()
            .open_read_only(path)
            .expect("open the file with redb");
        let txn = db.begin_read().expect("read transaction");
        assert_eq!(
            txn.list_multimap_tables().expect("list").count(),
            0,
            "the schema has no multimap tables; copy_tables would need one"
        );
        txn.list_tables()
            .expect("list tables")
            .map(|t| {
                let name = t.name().to_owned();
                let table = txn.open_untyped_table(t).expect("open table");
                (name, table.len().expect("table length"))
            })
            .collect()
    }

    // Guards against a table missing from the copy list (a schema change
    // that adds a table and forgets `copy_tables`): the backup would lack
    // it or its rows. A ledger with rows in every table family is backed
    // up, and the two files must list the same tables with the same lengths,
    // every one of them non-empty (so no table passes by being empty).
    #[test]
    fn backup_copies_every_table_of_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = dir.path().join("source.redb");
        let ledger = full_ledger(&source);
        let copy = dir.path().join("copy.redb");
        let backup = ledger.backup(&copy).expect("backup");
        drop(ledger);

        let before = tables_of(&source);
        let after = tables_of(&copy);
        let empty: Vec<_> = before.iter().filter(|(_, n)| **n == 0).collect();
        assert!(empty.is_empty(), "fill every table first: {empty:?}");
        assert_eq!(after, before, "tables and their lengths, copy vs source");
        assert_eq!(backup.tables, before.len() as u64);
        assert_eq!(backup.rows, before.values().sum::<u64>());
        assert_eq!(backup.bytes, fs::metadata(&copy).expect("backup").len());
    }
}
