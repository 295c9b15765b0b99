//! The redb layout: tables, key encodings, schema version, the file handle in
//! its two modes (the one writer process, or a reader beside it), and the
//! transactions that read and write the tables. `docs/data-model.md`
//! explains why each table looks the way it does.
//!
//! Only this module knows redb and the stored row types; the ledger layer
//! calls [`View`] and [`Writer`] methods that speak in records, identifiers
//! and timestamps.
//!
//! Conventions:
//! - repositories and tags are interned to `u32` numbers, assigned densely in
//!   creation order;
//! - digests are stored in their compact form (algorithm byte + raw bytes); an
//!   empty slice in the move log is a deletion;
//! - instants are `i64` microseconds since the epoch.

mod backup;
mod handle;
mod integrations;
mod names;
mod packed;
mod read;
mod relations;
mod rows;
mod templates;
mod write;

use redb::{ReadableTable, TableDefinition};

pub(crate) use backup::TempFile;
pub(crate) use handle::Store;
pub use read::Counts;
pub(crate) use read::View;
pub(crate) use rows::truncate;
pub(crate) use write::{TagState, TagWrite, WriteSummary, Writer};

use crate::error::{Error, Result};
use crate::id::Digest;

/// The schema this build reads and writes. Bump it, with a migration or a
/// refusal, whenever a table's key or value layout changes.
///
/// History: 1 had two more tables, `repo_tags` and `ref_order`; 2 answered
/// both from `tag_keys` and `refs`; 3 stores each tag's name in its `tags`
/// row, so a reader process can learn the names of tags another process
/// created from the rows it has not seen (numbers are dense), without
/// scanning `tag_keys`; 4 adds the manifest relation tables and the flag
/// byte of digest-index values that points lookups at them; 5 adds the
/// registry integrations and the repository creation templates.
pub const SCHEMA_VERSION: u32 = 5;
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

pub(crate) use integrations::{
    INTEGRATION_META, INTEGRATION_NAMES, INTEGRATIONS, IntegrationReader, IntegrationWriter,
    StoredIntegration,
};
pub(crate) use relations::{CONFIG_MANIFESTS, CONFIGS, PARENTS};
// Repository creation templates, repository settings and violations (issue 11).
pub(crate) use templates::{REPO_SETTINGS, TEMPLATES, TemplateReader, TemplateWriter, VIOLATIONS};

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
    let end = tag
        .checked_add(1)
        .map_or(std::ops::Bound::Unbounded, |next| {
            std::ops::Bound::Excluded((next, i64::MIN, &[][..]))
        });
    for entry in moves
        .range::<(u32, i64, &[u8])>((std::ops::Bound::Included((tag, i64::MIN, &[][..])), end))?
    {
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
