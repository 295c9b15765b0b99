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
//! - digests are stored in their compact form (algorithm byte + raw bytes),
//!   and keyed in the digest index by their first 8 bytes;
//! - instants are `i64` microseconds since the epoch.

mod backup;
mod changes;
mod compact;
mod handle;
mod integrations;
mod journal;
mod log;
mod memory;
mod names;
mod numbers;
mod packed;
mod read;
mod relations;
mod rows;
mod salvage;
mod tag_keys;
mod templates;
mod verify;
mod write;

use redb::{ReadableTable, TableDefinition};

pub(crate) use backup::TempFile;
pub(crate) use handle::Store;
pub use read::Counts;
pub(crate) use read::{RawAnswer, View};
pub(crate) use rows::{from_micros, truncate};
pub(crate) use salvage::salvage;
pub use salvage::{Renumbering, TableSalvage};
pub use verify::{Findings, Verification};
pub(crate) use write::{TagState, TagWrite, WriteSummary, Writer};

use crate::error::{Error, Result};

/// The schema this build reads and writes. Bump it, with a migration or a
/// refusal, whenever a table's key or value layout changes.
///
/// History: 1 had two more tables, `repo_tags` and `ref_order`; 2 answered
/// both from `tag_keys` and `refs`; 3 stores each tag's name in its `tags`
/// row, so a reader process can learn the names of tags another process
/// created from the rows it has not seen (numbers are dense), without
/// scanning `tag_keys`; 4 adds the manifest relation tables and the flag
/// byte of digest-index values that points lookups at them; 5 adds the
/// registry integrations and the repository creation templates; 6 replaces
/// `moves` and `refs` by `tag_log` (each tag's entries packed in chunks,
/// each entry with its batch's number) and the `journal`, and keys the
/// digest index by the digest's first 8 bytes; 7 packs the move log's
/// instants and batch numbers as varints (instants as gaps), keys
/// `tag_keys` by (repository number, tag name) and drops the tag row's
/// cached current digest: 143.6 → 112.1 file bytes per reference at 1M;
/// 8 adds `index_changes`, the digest-index keys each recent commit
/// changed, so a process keeping the index in memory updates what it
/// reads from the file instead of copying the index again (a writable
/// open adds the empty table to a file of version 7); 9 stores a digest's
/// index entries of one instant in tag-name order, the answer's, and says
/// so in a flag of the group, so a lookup does not sort them (a writable
/// open of a file of version 7 or 8 only records the new version: groups
/// without the flag are sorted by lookups until a write rewrites them).
pub const SCHEMA_VERSION: u32 = 9;
const FORMAT_KEY: &str = "format";
const FORMAT_NAME: &[u8] = b"ociledger";
const VERSION_KEY: &str = "schema_version";

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// canonical repository ID → repository number
pub(crate) const REPO_KEYS: TableDefinition<&str, u32> = TableDefinition::new("repo_keys");
/// repository number → `RepoRow`
pub(crate) const REPOS: TableDefinition<u32, &[u8]> = TableDefinition::new("repos");
/// tag number → `TagRow`
pub(crate) const TAGS: TableDefinition<u32, &[u8]> = TableDefinition::new("tags");
/// 8-byte digest prefix → the digests with that prefix, each with its
/// packed (tag number, since, until) entries: the hot path, one point get
pub(crate) const DIGEST_INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("digest_index");
pub(crate) use changes::INDEX_CHANGES;
pub(crate) use journal::JOURNAL;
pub(crate) use log::TAG_LOG;
pub(crate) use tag_keys::TAG_KEYS;

/// The name of every table of the schema, `meta` first: what opening a
/// file requires (`handle::check`) and what salvage accounts for. `backup`
/// copies the same tables, with their types.
pub(crate) fn table_names() -> [&'static str; 18] {
    use redb::TableHandle;
    [
        META.name(),
        REPO_KEYS.name(),
        REPOS.name(),
        TAG_KEYS.name(),
        TAGS.name(),
        TAG_LOG.name(),
        JOURNAL.name(),
        DIGEST_INDEX.name(),
        PARENTS.name(),
        CONFIGS.name(),
        CONFIG_MANIFESTS.name(),
        TEMPLATES.name(),
        REPO_SETTINGS.name(),
        VIOLATIONS.name(),
        INTEGRATIONS.name(),
        INTEGRATION_NAMES.name(),
        INTEGRATION_META.name(),
        INDEX_CHANGES.name(),
    ]
}

/// `until` of an interval that is still open.
pub(crate) const OPEN: i64 = i64::MAX;

pub(crate) use integrations::{
    INTEGRATION_META, INTEGRATION_NAMES, INTEGRATIONS, IntegrationReader, IntegrationWriter,
    StoredIntegration,
};
pub(crate) use relations::{CONFIG_MANIFESTS, CONFIGS, PARENTS};
// Repository creation templates, repository settings and violations (issue 11).
pub(crate) use templates::{REPO_SETTINGS, TEMPLATES, TemplateReader, TemplateWriter, VIOLATIONS};

/// Replaces the value `stored` guards with `bytes` if they are no longer
/// than it, and says whether it did. A row read through `Table::get_mut`
/// and rewritten this way costs one descent of the tree where a `get` and
/// an `insert` took two, and its leaf is patched in place instead of
/// rebuilt. A longer value is left to `Table::insert` (`false`): redb's
/// `AccessGuardMut::insert` would give a leaf that outgrows its page a
/// bigger page instead of splitting it, and leaves that only ever see
/// their values grow would keep growing.
pub(crate) fn replace_in_place(
    stored: &mut redb::AccessGuardMut<'_, &'static [u8]>,
    bytes: &[u8],
) -> Result<bool> {
    if bytes.len() > stored.value().len() {
        return Ok(false);
    }
    stored.insert(bytes)?;
    Ok(true)
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
