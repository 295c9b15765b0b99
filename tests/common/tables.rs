//! The tables of schema 7, with their exact key and value types, as
//! `src/store/` defines them (`mod.rs`, `log.rs`, `journal.rs`,
//! `relations.rs`, `templates/mod.rs`, `integrations.rs`): what a test
//! opens with plain redb to damage or read one row. Each is mirrored once,
//! here; a name or a type that drifts from the store's makes the tests that
//! open it fail (`Error::Storage` on a type mismatch, a missing table).

use redb::{TableDefinition, TableHandle};

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// canonical repository ID → repository number
pub const REPO_KEYS: TableDefinition<&str, u32> = TableDefinition::new("repo_keys");
/// repository number → `RepoRow`
pub const REPOS: TableDefinition<u32, &[u8]> = TableDefinition::new("repos");
/// (repository number, tag name) → tag number; also a repository's tags in
/// name order, one key range
pub const TAG_KEYS: TableDefinition<(u32, &str), u32> = TableDefinition::new("tag_keys");
/// tag number → `TagRow`
pub const TAGS: TableDefinition<u32, &[u8]> = TableDefinition::new("tags");
/// (tag number, instant of the chunk's first entry) → packed entries, each
/// `varint gap since the entry before (the first: since the key), varint
/// batch, algorithm byte (0: deletion), raw digest` (postcard's varints).
pub const TAG_LOG: TableDefinition<(u32, i64), &[u8]> = TableDefinition::new("tag_log");

/// The instants of an undamaged `tag_log` value stored under `start`.
pub fn log_instants(start: i64, mut value: &[u8]) -> Vec<i64> {
    fn varint(value: &mut &[u8]) -> u64 {
        let end = value.iter().position(|b| b & 0x80 == 0).expect("varint");
        let v = value[..=end]
            .iter()
            .rev()
            .fold(0u64, |v, b| (v << 7) | u64::from(b & 0x7f));
        *value = &value[end + 1..];
        v
    }
    let mut out = Vec::new();
    let mut previous = start;
    loop {
        let gap = varint(&mut value);
        let _batch = varint(&mut value);
        let digest = match value[0] {
            0 => 0,
            1 | 2 => 32,
            3 => 64,
            other => panic!("algorithm byte {other}"),
        };
        value = &value[1 + digest..];
        previous += i64::try_from(gap).expect("gap");
        out.push(previous);
        if value.is_empty() {
            return out;
        }
    }
}

/// How many entries an undamaged `tag_log` value holds.
pub fn log_entries(value: &[u8]) -> usize {
    log_instants(0, value).len()
}

/// postcard's varint of `v`.
pub fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(u8::try_from(v & 0x7f).expect("7 bits") | 0x80);
        v >>= 7;
    }
    out.push(u8::try_from(v).expect("7 bits"));
    out
}

/// batch sequence number → `JournalRow`
pub const JOURNAL: TableDefinition<u32, &[u8]> = TableDefinition::new("journal");
/// the digest's first 8 bytes (big-endian) → groups, each `algorithm byte,
/// flags byte, count u32 LE, the digest's other bytes, count × (tag u32,
/// since i64, until i64) LE`.
pub const DIGEST_INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("digest_index");
/// (platform manifest, image index) → platform (compact digests).
pub const PARENTS: TableDefinition<(&[u8], &[u8]), &[u8]> =
    TableDefinition::new("manifest_parents");
/// manifest → config (compact digests).
pub const CONFIGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("manifest_configs");
/// (config, manifest) → (): the manifests whose config this is.
pub const CONFIG_MANIFESTS: TableDefinition<(&[u8], &[u8]), ()> =
    TableDefinition::new("config_manifests");
/// (registry domain, template key) → `TemplateRow`.
pub const TEMPLATES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("templates");
/// repository number → `Vec<SettingRow>`, oldest first.
pub const REPO_SETTINGS: TableDefinition<u32, &[u8]> = TableDefinition::new("repository_settings");
/// (observed instant, canonical tag ID) → `ViolationRow`.
pub const VIOLATIONS: TableDefinition<(i64, &str), &[u8]> = TableDefinition::new("violations");
/// integration ID → `IntegrationRow`
pub const INTEGRATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("image_integrations");
/// integration name → integration ID: unique names, listings in name order
pub const INTEGRATION_NAMES: TableDefinition<&str, &str> =
    TableDefinition::new("image_integration_names");
/// `key_check` → a value sealed with the secret key that seals the
/// credentials, written with the first credential: a wrong key is known
/// before anything is sealed with it.
pub const INTEGRATION_META: TableDefinition<&str, &[u8]> =
    TableDefinition::new("image_integration_meta");

/// commit number → the digest index's marks before and after the commit,
/// and the keys of the rows it changed (the change list, schema 8).
pub const INDEX_CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("index_changes");

/// The name of every table of the schema, `meta` first, in the order of
/// `table_names` in `src/store/mod.rs`: what opening a file requires.
pub fn names() -> [&'static str; 18] {
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
