//! What makes a file a ledger of this version: the format record and tables
//! a new file gets, the in-place upgrade from the older schemas that have
//! one, the check every open runs, and redb's open errors said in the
//! ledger's terms. Salvage reads a damaged file by the same rules, so they
//! live apart from the handle.

use std::path::Path;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTableMetadata, TableHandle};

use super::open::read_pid;
use crate::error::{Error, Result};
use crate::store::{
    CONFIG_MANIFESTS, CONFIGS, DIGEST_INDEX, FORMAT_KEY, FORMAT_NAME, INDEX_CHANGES, JOURNAL, META,
    PARENTS, REPO_KEYS, REPOS, SCHEMA_VERSION, TAG_KEYS, TAG_LOG, TAGS, VERSION_KEY,
};
use crate::store::{INTEGRATION_META, INTEGRATION_NAMES, INTEGRATIONS};
use crate::store::{REPO_SETTINGS, TEMPLATES, VIOLATIONS};

/// Writes the format record and creates every table in a new file, or checks
/// the format and version of an existing one. Only a new file takes a write
/// transaction.
pub(in crate::store) fn initialize(db: &Database, path: &Path) -> Result<()> {
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

/// The older schemas a writable open upgrades in place: 8 only added the
/// empty `index_changes` table, and 9 only stores a digest's entries of one
/// instant in name order, flagging each group it writes so (a group
/// without the flag is read as schema 8 wrote it, and sorted by lookups).
const UPGRADES_FROM: [u32; 2] = [7, 8];

/// Upgrades a file of a schema in [`UPGRADES_FROM`] to this one, in one
/// write transaction (a crash leaves it as it was); any other file is left
/// to [`check`].
pub(super) fn upgrade(db: &Database) -> Result<()> {
    let version = |txn: &ReadTransaction| -> Result<Option<u32>> {
        let Ok(meta) = txn.open_table(META) else {
            return Ok(None);
        };
        Ok(meta
            .get(VERSION_KEY)?
            .and_then(|v| <[u8; 4]>::try_from(v.value()).ok())
            .map(u32::from_le_bytes))
    };
    if !version(&db.begin_read()?)?.is_some_and(|v| UPGRADES_FROM.contains(&v)) {
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
pub(super) fn check(txn: &ReadTransaction, path: &Path) -> Result<()> {
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
    for name in crate::store::table_names().into_iter().skip(1) {
        if !txn.list_tables()?.any(|t| t.name() == name) {
            return Err(not_ledger(&format!("its {name} table is missing")));
        }
    }
    Ok(())
}

pub(in crate::store) fn open_error(path: &Path, e: redb::DatabaseError) -> Error {
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
