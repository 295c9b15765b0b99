//! The redb layout: tables, key encodings, schema version, and the
//! transactions that read and write them. `docs/data-model.md` explains why
//! each table looks the way it does.
//!
//! Conventions:
//! - repositories and tags are interned to `u32` IDs, assigned in creation order;
//! - digests are stored in their compact form (algorithm byte + raw bytes); an
//!   empty slice in the move log is a deletion;
//! - instants are `i64` microseconds since the epoch.

mod names;
mod packed;
mod read;
pub(crate) mod rows;
mod write;

use std::path::Path;
use std::sync::Arc;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
};

pub(crate) use names::{NameCache, Names};
pub use read::{Counts, Snapshot};
pub(crate) use write::{TagWrite, WriteSummary, Writer};

use crate::error::{Error, Result};
use crate::id::{Digest, TagId};

/// The schema this build reads and writes. Bump it, with a migration or a
/// refusal, whenever a table's key or value layout changes.
///
/// History: 1 had two more tables, `repo_tags` (a repository's tags by name)
/// and `ref_order` (a tag's references by age); 2 answers both from `tag_keys`
/// and `refs` (see `docs/data-model.md`), which saves two B-tree inserts per
/// new tag and reference and about 95 bytes per reference.
pub const SCHEMA_VERSION: u32 = 2;
const FORMAT_KEY: &str = "format";
const FORMAT_NAME: &[u8] = b"ociledger";
const VERSION_KEY: &str = "schema_version";

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// canonical repository ID → repository number
pub(crate) const REPO_KEYS: TableDefinition<&str, u32> = TableDefinition::new("repo_keys");
/// repository number → `RepoRow`
pub(crate) const REPOS: TableDefinition<u32, &[u8]> = TableDefinition::new("repos");
/// canonical tag ID → tag number; also a repository's tags in name order, as
/// the keys `<repository>:<tag>` of one repository are one contiguous range
pub(crate) const TAG_KEYS: TableDefinition<&str, u32> = TableDefinition::new("tag_keys");
/// tag number → `TagRow`
pub(crate) const TAGS: TableDefinition<u32, &[u8]> = TableDefinition::new("tags");
/// (tag number, instant, compact digest or empty for a deletion) → (): the move log
pub(crate) const MOVES: TableDefinition<(u32, i64, &[u8]), ()> = TableDefinition::new("moves");
/// (tag number, compact digest) → `RefRow`: one per (tag, digest) pair ever seen
pub(crate) const REFS: TableDefinition<(u32, &[u8]), &[u8]> = TableDefinition::new("refs");
/// compact digest → packed (tag number, since, until) entries: the hot path, one point get
pub(crate) const DIGEST_INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("digest_index");

/// `until` of an interval that is still open.
pub(crate) const OPEN: i64 = i64::MAX;

/// Writes the format record and creates every table in a new file, or checks
/// the format and version of an existing one.
pub(crate) fn initialize(db: &Database, path: &Path) -> Result<()> {
    let txn = db.begin_write()?;
    let (fresh, meta_empty) = {
        let meta = txn.open_table(META).map_err(|e| foreign_meta(path, e))?;
        (meta.get(FORMAT_KEY)?.is_none(), meta.is_empty()?)
    };
    if !fresh {
        drop(txn);
        return check(db, path);
    }
    // A new ledger starts from an empty file: any table, or any record in a
    // `meta` table, means the file belongs to someone else.
    let foreign = !meta_empty || txn.list_tables()?.any(|t| t.name() != META.name());
    if foreign {
        return Err(Error::NotALedger {
            path: path.to_owned(),
            reason: "a redb database with tables of its own and no ociledger format record"
                .to_owned(),
        });
    }
    {
        let mut meta = txn.open_table(META)?;
        meta.insert(FORMAT_KEY, FORMAT_NAME)?;
        meta.insert(VERSION_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())?;
        txn.open_table(REPO_KEYS)?;
        txn.open_table(REPOS)?;
        txn.open_table(TAG_KEYS)?;
        txn.open_table(TAGS)?;
        txn.open_table(MOVES)?;
        txn.open_table(REFS)?;
        txn.open_table(DIGEST_INDEX)?;
    }
    txn.commit()?;
    Ok(())
}

/// A `meta` table of other key/value types is someone else's table.
fn foreign_meta(path: &Path, e: redb::TableError) -> Error {
    match e {
        redb::TableError::TableTypeMismatch { .. } | redb::TableError::TableIsMultimap(_) => Error::NotALedger {
            path: path.to_owned(),
            reason: format!("its meta table is not ociledger's ({e})"),
        },
        other => other.into(),
    }
}

/// Checks that `db` is an ociledger file of this schema version.
pub(crate) fn check(db: &Database, path: &Path) -> Result<()> {
    let not_ledger = |reason: &str| Error::NotALedger {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            return Err(not_ledger("it has no meta table"));
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
    Ok(())
}

/// Loads every tag name into a new cache.
pub(crate) fn load_names(db: &Database) -> Result<Arc<NameCache>> {
    let txn = db.begin_read()?;
    let keys = txn.open_table(TAG_KEYS)?;
    let mut names: Vec<Option<TagId>> = vec![None; usize::try_from(keys.len()?).unwrap_or(0)];
    for row in keys.iter()? {
        let (k, v) = row?;
        let n = v.value() as usize;
        let id: TagId = k
            .value()
            .parse()
            .map_err(|e| Error::Corrupt(format!("tag key {:?}: {e}", k.value())))?;
        if n >= names.len() {
            names.resize(n + 1, None);
        }
        names[n] = Some(id);
    }
    let names = names
        .into_iter()
        .enumerate()
        .map(|(n, id)| id.map(Arc::new).ok_or_else(|| Error::Corrupt(format!("tag number {n} has no name"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(NameCache::new(names)))
}

/// A move-log key's digest part: empty for a deletion, else a compact digest.
pub(crate) fn log_digest(tag: u32, bytes: &[u8]) -> Result<Option<Digest>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    Digest::from_compact(bytes)
        .map(Some)
        .map_err(|e| Error::Corrupt(format!("move log of tag {tag}: {e}")))
}

/// Tag `tag`'s move log in key order (instant, then digest), from a read-only
/// or a write transaction's table.
pub(crate) fn read_log(
    moves: &impl ReadableTable<(u32, i64, &'static [u8]), ()>,
    tag: u32,
) -> Result<Vec<(i64, Option<Digest>)>> {
    let mut log = Vec::new();
    for entry in moves.range((tag, i64::MIN, &[][..])..(tag + 1, i64::MIN, &[][..]))? {
        let key = entry?.0;
        let (_, t, d) = key.value();
        log.push((t, log_digest(tag, d)?));
    }
    Ok(log)
}

/// Reads a `u32` counter from the last key of a table: the next free number.
pub(crate) fn next_number(table: &impl ReadableTable<u32, &'static [u8]>) -> Result<u32> {
    Ok(match table.last()? {
        Some((k, _)) => k
            .value()
            .checked_add(1)
            .ok_or_else(|| Error::Corrupt("more than u32::MAX records".to_owned()))?,
        None => 0,
    })
}
