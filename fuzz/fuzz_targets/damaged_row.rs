//! Fuzz target: one stored row of a real ledger damaged (issue 13, "postcard
//! row decoding from raw bytes"). The rows are private to `src/store/`, so
//! this reaches them the way a damaged file does: a valid ledger, one row
//! rewritten with plain redb, then the public API.
//!
//! Once per process a small ledger is built with the public API, touching
//! every table of schema 6: observations of a few tags (a tag that went
//! A → B → A, an out-of-order observation in a later batch, a tag deleted
//! through the API), manifest relations (an image index with two platform
//! manifests and their configs, a manifest with its config, a relation of an
//! untagged manifest), a repository and a tag created through the API, two
//! repository creation templates (`IMMUTABLE`, and `MUTABLE_WITH_EXCLUSION`
//! with a filter) with moves that violate them, and a registry integration with a
//! credential (sealed with a fixed key). Its bytes and the keys of every
//! table's rows are kept. Everything in it is fixed (clock, integration ID,
//! key) except the sealing nonces, so only the bytes of a sealed credential
//! and of the key check differ between processes. Files go to `/dev/shm`
//! when there is one (each input commits three times; an fsync on disk
//! costs more than the rest of the run).
//!
//! An input: `[table, row, payload…]`.
//!
//! - `table % 18` picks the table (the order of [`TABLES`]);
//! - `row & 0x7f` modulo (the table's row count + 1) picks an existing row
//!   (in key order), or, for the count itself, a new key; bit 7 of `row`
//!   deletes the row picked instead (or, with "a new key", the whole table);
//! - the payload is the new value. For a new key it first gives the key:
//!   `u32` 4 bytes LE, `u64` 8 bytes LE, `i64` 8 bytes LE, a string or bytes
//!   1 length byte and then that many bytes (strings are made UTF-8 with
//!   replacement characters: redb's `&str` cannot hold anything else), the
//!   last string or bytes of a key all that is left when the value takes no
//!   bytes. Missing bytes read as zeros.
//! - Where the value is a number or `()` the key is fuzzed instead:
//!   `repo_keys`/`tag_keys` (name or (repository number, name) → `u32`)
//!   add the payload's first 4 bytes to the number and rename the row to
//!   the rest (when there is a rest; `tag_keys` keeps the repository number);
//!   `config_manifests` (`(config, manifest)` → `()`) moves the row to the
//!   key the payload gives. `tag_log` adds the payload's first 8 bytes to
//!   its key's instant (so the chunk moves) and the rest is the value. The
//!   identity payload of every row (what leaves it unchanged) is what
//!   [`identity`] writes; `DAMAGED_ROW_WRITE_SEEDS=<dir>` writes one seed
//!   per table from it.
//!
//! The damaged copy is opened with `Ledger::open` (the writer, so the write
//! path reads the damage too) and used: `stats`, `verify`, `head`, `counts`,
//! `tags_for_digest`/`indexes_listing`/`config_of` of every digest the base
//! ledger knows, `tag`/`history` (two pages)/`references`/`tag_at`/
//! `tag_mutability` of every tag and `reference` of every reference,
//! `repositories` (all pages) and `repository`/`tags`/`repository_mutability`/
//! `match_template` of every repository listed or known, `violations`,
//! `integrations`/`integration`/`integration_credentials`/`credentials_for`,
//! `templates`/`template`, `classify` of a few image strings, then
//! `keep_index_in_memory`, one `ingest` (a move of an existing tag and of
//! an immutable one) and one `record_relations`, `tags_for_digest` of every
//! digest again (from the copy and the change list), and `stats` again.
//!
//! Property: every call may fail, but nothing may panic or abort the
//! process, and every `Error::Corrupt` names the file. The ledger turns
//! panics inside its storage calls into errors on purpose
//! (`store::handle::guard`: redb panics on some damaged pages), so, as
//! `open_ledger_bytes` does, this target replaces libFuzzer's aborting panic
//! hook by one that only remembers the message, and aborts itself (a crash)
//! when a panic comes out of the API. Unlike `open_ledger_bytes`, it also
//! aborts on a panic the ledger caught: here every page is one redb wrote
//! itself, so the engine never meets a damaged page, and a caught panic is a
//! panic on a row's content (in the ledger's own decoding, say) that the
//! guard hid.
#![no_main]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock};

use libfuzzer_sys::fuzz_target;
use ociledger::id::{Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{
    FixedClock, ImageIntegration, ManifestRelation, Observation, RepositoryBody, TagBody,
    TemplateBody, Timestamp,
};
use ociledger::secrets::SecretKey;
use ociledger::{Error, Ledger};
use redb::{
    Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction,
};

// The tables of schema 8, with their exact key and value types, as
// `src/store/` defines them (mod.rs, log.rs, journal.rs, relations.rs,
// templates.rs, integrations.rs).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const REPO_KEYS: TableDefinition<&str, u32> = TableDefinition::new("repo_keys");
const REPOS: TableDefinition<u32, &[u8]> = TableDefinition::new("repos");
const TAG_KEYS: TableDefinition<(u32, &str), u32> = TableDefinition::new("tag_keys");
const TAGS: TableDefinition<u32, &[u8]> = TableDefinition::new("tags");
const TAG_LOG: TableDefinition<(u32, i64), &[u8]> = TableDefinition::new("tag_log");
const JOURNAL: TableDefinition<u32, &[u8]> = TableDefinition::new("journal");
const DIGEST_INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("digest_index");
const PARENTS: TableDefinition<(&[u8], &[u8]), &[u8]> = TableDefinition::new("manifest_parents");
const CONFIGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("manifest_configs");
const CONFIG_MANIFESTS: TableDefinition<(&[u8], &[u8]), ()> =
    TableDefinition::new("config_manifests");
const TEMPLATES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("templates");
const REPO_SETTINGS: TableDefinition<u32, &[u8]> = TableDefinition::new("repository_settings");
const VIOLATIONS: TableDefinition<(i64, &str), &[u8]> = TableDefinition::new("violations");
const INTEGRATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("image_integrations");
const INTEGRATION_NAMES: TableDefinition<&str, &str> =
    TableDefinition::new("image_integration_names");
const INTEGRATION_META: TableDefinition<&str, &[u8]> =
    TableDefinition::new("image_integration_meta");
const INDEX_CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("index_changes");

/// The tables, in the order the input's first byte picks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Meta,
    RepoKeys,
    Repos,
    TagKeys,
    Tags,
    TagLog,
    Journal,
    DigestIndex,
    Parents,
    Configs,
    ConfigManifests,
    Templates,
    RepoSettings,
    Violations,
    Integrations,
    IntegrationNames,
    IntegrationMeta,
    IndexChanges,
}

const TABLES: [Table; 18] = [
    Table::Meta,
    Table::RepoKeys,
    Table::Repos,
    Table::TagKeys,
    Table::Tags,
    Table::TagLog,
    Table::Journal,
    Table::DigestIndex,
    Table::Parents,
    Table::Configs,
    Table::ConfigManifests,
    Table::Templates,
    Table::RepoSettings,
    Table::Violations,
    Table::Integrations,
    Table::IntegrationNames,
    Table::IntegrationMeta,
    Table::IndexChanges,
];

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Meta => META.name(),
            Table::RepoKeys => REPO_KEYS.name(),
            Table::Repos => REPOS.name(),
            Table::TagKeys => TAG_KEYS.name(),
            Table::Tags => TAGS.name(),
            Table::TagLog => TAG_LOG.name(),
            Table::Journal => JOURNAL.name(),
            Table::DigestIndex => DIGEST_INDEX.name(),
            Table::Parents => PARENTS.name(),
            Table::Configs => CONFIGS.name(),
            Table::ConfigManifests => CONFIG_MANIFESTS.name(),
            Table::Templates => TEMPLATES.name(),
            Table::RepoSettings => REPO_SETTINGS.name(),
            Table::Violations => VIOLATIONS.name(),
            Table::Integrations => INTEGRATIONS.name(),
            Table::IntegrationNames => INTEGRATION_NAMES.name(),
            Table::IntegrationMeta => INTEGRATION_META.name(),
            Table::IndexChanges => INDEX_CHANGES.name(),
        }
    }
}

/// A stored key, owned.
#[derive(Debug, Clone)]
enum Key {
    Str(String),
    U32(u32),
    U64(u64),
    TagLog(u32, i64),
    TagKey(u32, String),
    Bytes(Vec<u8>),
    Bytes2(Vec<u8>, Vec<u8>),
    Str2(String, String),
    Violation(i64, String),
}

// ---------------------------------------------------------------------------
// The base ledger.
// ---------------------------------------------------------------------------

const NOW: &str = "2025-01-01T00:00:00Z";
const SECRET: [u8; 32] = [7; 32];
const TEMPLATE_REGISTRY: &str = "ghcr.io";

/// Observation lines, one batch each (so the journal has several records and
/// the out-of-order observation arrives in a later batch than newer ones).
const BATCHES: [&[&str]; 3] = [
    &[
        // nginx:latest goes A → B → A.
        r#"{"repository":"docker.io/library/nginx","tag":"latest","digest":"sha256:0324afc5c8191616576f7b23b297d001609726a2f1b6561c90e229e54ab701cf","observed_at":"2024-01-01T00:00:00Z"}"#,
        r#"{"repository":"docker.io/library/nginx","tag":"latest","digest":"sha256:edce1f2a3c3fa2bf4f5e1c5e8ff0c36b47a5f5a2e0c5f4e4b2c0a0d1e2f3a4b5","observed_at":"2024-02-01T00:00:00Z"}"#,
        r#"{"repository":"docker.io/library/nginx","tag":"latest","digest":"sha256:0324afc5c8191616576f7b23b297d001609726a2f1b6561c90e229e54ab701cf","observed_at":"2024-03-01T00:00:00Z"}"#,
        r#"{"repository":"docker.io/library/nginx","tag":"1.25","digest":"sha256:0324afc5c8191616576f7b23b297d001609726a2f1b6561c90e229e54ab701cf","observed_at":"2024-01-01T00:00:00Z"}"#,
        // A manifest with its config.
        r#"{"repository":"docker.io/library/ghost","tag":"latest","digest":"sha256:593e55e3e5392659b03b76a838b993909439305e7f6aedc9243e63c2199373d5","observed_at":"2024-01-01T00:00:00Z","config":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}"#,
        // An image index with two platform manifests and their configs
        // (data/sample-manifests.jsonl.gz, maven).
        r#"{"repository":"docker.io/library/maven","tag":"3","digest":"sha256:002289d804f6148735e28b69beeaefdca4ff9b85011e4a5e62f4723a2c821f13","observed_at":"2024-01-01T00:00:00Z","manifests":[{"digest":"sha256:03f7fa723b3851d6f064b6820ad2e69a260c1eb500c48719e6b3be5b5a971305","platform":{"os":"linux","architecture":"amd64"},"config":"sha256:631c04ea8d9539c697c049ccf06c991bbada57a8ea5dbefa5e4302a9f3736544"},{"digest":"sha256:827a7e7b064535284cfaf4fdf07c101f54abc35d87d761f65c31cc8fa15f6825","platform":{"os":"linux","architecture":"arm","variant":"v5"},"config":"sha256:14135cd70b71888bb78c985487ecc50fc4a882a65dcf4361d4c313f51d176d25"}]}"#,
        // Tags of repositories templates govern (created after the templates).
        r#"{"repository":"ghcr.io/acme/app","tag":"v1","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","observed_at":"2024-01-01T00:00:00Z"}"#,
        r#"{"repository":"ghcr.io/acme/web/site","tag":"v2","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","observed_at":"2024-01-01T00:00:00Z"}"#,
    ],
    &[
        // Moves of immutable tags: violations.
        r#"{"repository":"ghcr.io/acme/app","tag":"v1","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","observed_at":"2024-02-01T00:00:00Z"}"#,
        r#"{"repository":"ghcr.io/acme/web/site","tag":"v2","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","observed_at":"2024-02-01T00:00:00Z"}"#,
    ],
    &[
        // Out of order: older than what nginx:latest's log already holds.
        r#"{"repository":"docker.io/library/nginx","tag":"latest","digest":"sha256:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed","observed_at":"2024-01-15T00:00:00Z"}"#,
    ],
];

/// A relation of a manifest no tag points to (data/sample-manifests.jsonl.gz, erlang).
const RELATION: &str = r#"{"manifest":"sha256:003e3074a6ac2dd3083b7b880d11c730fcda32ffc8e407fed10ec5eaf7dbf6f5","config":"sha256:4fc834c31c1073263ab415f76bf5d7f6cbf2ed2075829f53c02e5d9a8865fc86"}"#;

const TEMPLATE_BODIES: [&str; 2] = [
    r#"{"prefix": "acme", "imageTagMutability": "IMMUTABLE"}"#,
    r#"{"prefix": "acme/web", "imageTagMutability": "MUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "v*"}]}"#,
];

/// With a fixed ID, so every process builds the same rows (the ID is in
/// `image_integrations` keys and `image_integration_names` values).
const INTEGRATION: &str = r#"{"id": "0e9f4f2a-5b7c-4d1e-8f60-123456789abc", "name": "hub", "type": "docker", "categories": ["REGISTRY"], "docker": {"endpoint": "registry-1.docker.io", "username": "me", "password": "hunter2"}}"#;

const API_REPOSITORY: &str = "quay.io/acme/api";
const API_TAG: &str = "quay.io/acme/api:v1";
const API_DIGEST: &str = "sha256:3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7";
const DELETED_TAG: &str = "docker.io/library/nginx:1.25";

/// What every input uses: the base file, its rows, and what it knows.
struct Base {
    bytes: Vec<u8>,
    /// Per table (in [`TABLES`] order): each row's key and identity payload.
    rows: Vec<Vec<(Key, Vec<u8>)>>,
    digests: Vec<Digest>,
    tags: Vec<TagId>,
    references: Vec<ReferenceId>,
    repositories: Vec<RepositoryId>,
    integration_id: String,
    times: Vec<Timestamp>,
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a base time")
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::at(ts(NOW)))
}

/// Where the files go: `/dev/shm` when there is one (every input commits
/// three times, and an fsync on a disk costs more than the rest of the run),
/// else the temp directory.
fn work_file(what: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    parent.join(format!(
        "ociledger-fuzz-damaged-row-{what}-{}.redb",
        std::process::id()
    ))
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(build_base)
}

#[allow(clippy::too_many_lines)]
fn build_base() -> Base {
    let path = work_file("base");
    std::fs::remove_file(&path).ok();
    let ledger = Ledger::create(&path)
        .expect("create the base ledger")
        .with_clock(clock())
        .with_secret_key(SecretKey::from_bytes(SECRET));
    for body in TEMPLATE_BODIES {
        let body = TemplateBody::from_json(body).expect("a base template");
        ledger
            .create_template(TEMPLATE_REGISTRY, &body)
            .expect("create a base template");
    }
    let mut digests = Vec::new();
    let mut times = vec![ts("1970-01-01T00:00:00Z"), ts(NOW)];
    for batch in BATCHES {
        let observations: Vec<Observation> = batch
            .iter()
            .map(|l| serde_json::from_str(l).expect("a base observation"))
            .collect();
        for o in &observations {
            digests.push(o.digest);
            digests.extend(o.config);
            for m in &o.manifests {
                digests.push(m.digest);
                digests.extend(m.config);
            }
            times.push(o.observed_at);
            times.extend(Timestamp::from_timestamp_micros(
                o.observed_at.timestamp_micros() + 86_400_000_000,
            ));
        }
        ledger
            .ingest("fuzz", &observations)
            .expect("ingest a base batch");
    }
    let relation: ManifestRelation = serde_json::from_str(RELATION).expect("the base relation");
    if let ManifestRelation::Config(c) = &relation {
        digests.extend([c.manifest, c.config]);
    }
    ledger
        .record_relations("fuzz", &[relation])
        .expect("record the base relation");
    let api_repo: RepositoryId = API_REPOSITORY.parse().expect("the API repository");
    ledger
        .create_repository(
            "alice",
            &RepositoryBody::new(&api_repo, ts("2024-06-01T00:00:00Z")),
        )
        .expect("create the API repository");
    let api_tag: TagId = API_TAG.parse().expect("the API tag");
    let api_digest: Digest = API_DIGEST.parse().expect("the API digest");
    digests.push(api_digest);
    ledger
        .create_tag("alice", &TagBody::new(&api_tag, api_digest))
        .expect("create the API tag");
    let deleted: TagId = DELETED_TAG.parse().expect("the deleted tag");
    ledger
        .delete_tag("alice", &deleted)
        .expect("delete the base tag");
    let integration = ImageIntegration::from_json(INTEGRATION.as_bytes()).expect("the integration");
    let integration_id = ledger
        .create_integration(&integration)
        .expect("create the integration")
        .id;
    assert!(
        ledger
            .violations(None, None, 10)
            .expect("violations")
            .items
            .len()
            == 2,
        "the base ledger has its two violations"
    );
    ledger.compact().expect("compact the base");
    digests.sort();
    digests.dedup();

    let snap = ledger.snapshot().expect("a base snapshot");
    let repositories: Vec<RepositoryId> = snap
        .repositories(None, 100)
        .expect("base repositories")
        .items
        .iter()
        .map(|r| r.id().expect("a base repository id"))
        .collect();
    let mut tags = Vec::new();
    let mut references = Vec::new();
    for r in &repositories {
        for t in snap.tags(r, None, 100).expect("base tags").items {
            tags.push(t.id().expect("a base tag id"));
        }
    }
    tags.push(deleted);
    for t in &tags {
        for r in snap
            .references(t, None, 100)
            .expect("base references")
            .items
        {
            references.push(ReferenceId::new(r.tag, r.artifact));
        }
    }
    drop(snap);
    drop(ledger);
    let bytes = std::fs::read(&path).expect("read the base ledger");
    let rows = read_rows(&path);
    std::fs::remove_file(&path).ok();
    let base = Base {
        bytes,
        rows,
        digests,
        tags,
        references,
        repositories,
        integration_id,
        times,
    };
    if let Some(dir) = std::env::var_os("DAMAGED_ROW_WRITE_SEEDS") {
        write_seeds(&base, Path::new(&dir));
    }
    base
}

/// Length-prefixed bytes (at most 255 of them), as a payload reads them.
fn prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

/// The payload that rewrites a row as it is (see the module documentation).
fn identity(table: Table, value: &[u8]) -> Vec<u8> {
    match table {
        Table::RepoKeys | Table::TagKeys => vec![0; 4],
        Table::TagLog => [&[0u8; 8][..], value].concat(),
        _ => value.to_vec(),
    }
}

/// Every table's keys and identity payloads, in key order.
fn read_rows(path: &Path) -> Vec<Vec<(Key, Vec<u8>)>> {
    let db = Database::open(path).expect("open the base with redb");
    let txn = db.begin_read().expect("read the base");
    let mut all = Vec::new();
    macro_rules! rows {
        ($def:expr, |$k:ident, $v:ident| $make:expr) => {{
            let table = txn.open_table($def).expect("a base table");
            let mut out = Vec::new();
            for row in table.iter().expect("iterate a base table") {
                let (k, v) = row.expect("a base row");
                let ($k, $v) = (k.value(), v.value());
                out.push($make);
            }
            out
        }};
    }
    for table in TABLES {
        let rows: Vec<(Key, Vec<u8>)> = match table {
            Table::Meta => rows!(META, |k, v| (Key::Str(k.into()), v.to_vec())),
            Table::RepoKeys => rows!(REPO_KEYS, |k, v| (
                Key::Str(k.into()),
                v.to_le_bytes().to_vec()
            )),
            Table::Repos => rows!(REPOS, |k, v| (Key::U32(k), v.to_vec())),
            Table::TagKeys => rows!(TAG_KEYS, |k, v| (
                Key::TagKey(k.0, k.1.into()),
                v.to_le_bytes().to_vec()
            )),
            Table::Tags => rows!(TAGS, |k, v| (Key::U32(k), v.to_vec())),
            Table::TagLog => rows!(TAG_LOG, |k, v| (Key::TagLog(k.0, k.1), v.to_vec())),
            Table::Journal => rows!(JOURNAL, |k, v| (Key::U32(k), v.to_vec())),
            Table::DigestIndex => rows!(DIGEST_INDEX, |k, v| (Key::U64(k), v.to_vec())),
            Table::IndexChanges => rows!(INDEX_CHANGES, |k, v| (Key::U64(k), v.to_vec())),
            Table::Parents => rows!(PARENTS, |k, v| (
                Key::Bytes2(k.0.to_vec(), k.1.to_vec()),
                v.to_vec()
            )),
            Table::Configs => rows!(CONFIGS, |k, v| (Key::Bytes(k.to_vec()), v.to_vec())),
            Table::ConfigManifests => rows!(CONFIG_MANIFESTS, |k, _v| {
                let mut payload = Vec::new();
                prefixed(&mut payload, k.0);
                payload.extend_from_slice(k.1);
                (Key::Bytes2(k.0.to_vec(), k.1.to_vec()), payload)
            }),
            Table::Templates => rows!(TEMPLATES, |k, v| (
                Key::Str2(k.0.into(), k.1.into()),
                v.to_vec()
            )),
            Table::RepoSettings => rows!(REPO_SETTINGS, |k, v| (Key::U32(k), v.to_vec())),
            Table::Violations => rows!(VIOLATIONS, |k, v| (
                Key::Violation(k.0, k.1.into()),
                v.to_vec()
            )),
            Table::Integrations => rows!(INTEGRATIONS, |k, v| (Key::Str(k.into()), v.to_vec())),
            Table::IntegrationNames => rows!(INTEGRATION_NAMES, |k, v| (
                Key::Str(k.into()),
                v.as_bytes().to_vec()
            )),
            Table::IntegrationMeta => {
                rows!(INTEGRATION_META, |k, v| (Key::Str(k.into()), v.to_vec()))
            }
        };
        let rows = rows
            .into_iter()
            .map(|(k, v)| (k, identity(table, &v)))
            .collect();
        all.push(rows);
    }
    all
}

/// One seed per table: its first row (a middle one for the bigger tables)
/// rewritten as it is, so the fuzzer starts from valid rows.
fn write_seeds(base: &Base, dir: &Path) {
    std::fs::create_dir_all(dir).expect("the seed directory");
    for (i, (table, rows)) in TABLES.iter().zip(&base.rows).enumerate() {
        let (row, payload) = match rows.len() {
            0 => (0, Vec::new()),
            n => (n / 2, rows[n / 2].1.clone()),
        };
        let mut seed = vec![
            u8::try_from(i).expect("18 tables"),
            u8::try_from(row).unwrap_or(0),
        ];
        seed.extend_from_slice(&payload);
        std::fs::write(
            dir.join(format!("{:02}-{}-row-{row}", i, table.name())),
            seed,
        )
        .expect("write a seed");
    }
    let counts: Vec<String> = TABLES
        .iter()
        .zip(&base.rows)
        .map(|(t, r)| format!("{} {}", t.name(), r.len()))
        .collect();
    eprintln!("damaged_row: rows per table: {}", counts.join(", "));
}

// ---------------------------------------------------------------------------
// The damage.
// ---------------------------------------------------------------------------

/// The payload, read front to back; missing bytes read as zeros.
struct Payload<'a>(&'a [u8]);

impl<'a> Payload<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.array())
    }

    fn bytes(&mut self) -> &'a [u8] {
        let [len] = self.array();
        self.take(usize::from(len))
    }

    fn string(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }

    fn rest_string(&mut self) -> String {
        String::from_utf8_lossy(self.rest()).into_owned()
    }
}

/// What an input does to its table.
enum Op<'a> {
    Replace(&'a Key),
    Delete(&'a Key),
    New,
    DropTable,
}

#[allow(clippy::too_many_lines)]
fn damage(
    txn: &WriteTransaction,
    table: Table,
    op: &Op<'_>,
    data: &[u8],
) -> Result<(), redb::Error> {
    let mut p = Payload(data);
    // Bytes-valued tables: the value is the payload (after a new key).
    macro_rules! bytes_valued {
        ($def:expr, $key:pat => $borrow:expr, $new_key:expr) => {{
            if let Op::DropTable = op {
                txn.delete_table($def)?;
                return Ok(());
            }
            let mut t = txn.open_table($def)?;
            match op {
                Op::Replace($key) => {
                    t.insert($borrow, p.rest())?;
                }
                Op::Delete($key) => {
                    drop(t.remove($borrow)?);
                }
                Op::New => {
                    let k = $new_key;
                    let $key = &k else { return Ok(()) };
                    t.insert($borrow, p.rest())?;
                }
                _ => {}
            }
        }};
    }
    match table {
        Table::Meta => bytes_valued!(META, Key::Str(k) => k.as_str(), Key::Str(p.string())),
        Table::Integrations => {
            bytes_valued!(INTEGRATIONS, Key::Str(k) => k.as_str(), Key::Str(p.string()));
        }
        Table::IntegrationMeta => {
            bytes_valued!(INTEGRATION_META, Key::Str(k) => k.as_str(), Key::Str(p.string()));
        }
        Table::Repos => bytes_valued!(REPOS, Key::U32(k) => *k, Key::U32(p.u32())),
        Table::Tags => bytes_valued!(TAGS, Key::U32(k) => *k, Key::U32(p.u32())),
        Table::Journal => bytes_valued!(JOURNAL, Key::U32(k) => *k, Key::U32(p.u32())),
        Table::RepoSettings => {
            bytes_valued!(REPO_SETTINGS, Key::U32(k) => *k, Key::U32(p.u32()));
        }
        Table::DigestIndex => bytes_valued!(DIGEST_INDEX, Key::U64(k) => *k, Key::U64(p.u64())),
        Table::IndexChanges => {
            bytes_valued!(INDEX_CHANGES, Key::U64(k) => *k, Key::U64(p.u64()));
        }
        Table::Configs => {
            bytes_valued!(CONFIGS, Key::Bytes(k) => k.as_slice(), Key::Bytes(p.bytes().to_vec()));
        }
        Table::Parents => bytes_valued!(
            PARENTS,
            Key::Bytes2(a, b) => (a.as_slice(), b.as_slice()),
            Key::Bytes2(p.bytes().to_vec(), p.bytes().to_vec())
        ),
        Table::Templates => bytes_valued!(
            TEMPLATES,
            Key::Str2(a, b) => (a.as_str(), b.as_str()),
            Key::Str2(p.string(), p.string())
        ),
        Table::Violations => bytes_valued!(
            VIOLATIONS,
            Key::Violation(at, tag) => (*at, tag.as_str()),
            Key::Violation(p.i64(), p.string())
        ),
        Table::TagLog => {
            if let Op::DropTable = op {
                txn.delete_table(TAG_LOG)?;
                return Ok(());
            }
            let mut t = txn.open_table(TAG_LOG)?;
            match op {
                Op::Replace(Key::TagLog(tag, at)) => {
                    drop(t.remove((*tag, *at))?);
                    let at = at.wrapping_add(p.i64());
                    t.insert((*tag, at), p.rest())?;
                }
                Op::Delete(Key::TagLog(tag, at)) => drop(t.remove((*tag, *at))?),
                Op::New => {
                    let key = (p.u32(), p.i64());
                    t.insert(key, p.rest())?;
                }
                _ => {}
            }
        }
        Table::TagKeys => {
            if let Op::DropTable = op {
                txn.delete_table(TAG_KEYS)?;
                return Ok(());
            }
            let mut t = txn.open_table(TAG_KEYS)?;
            match op {
                Op::Replace(Key::TagKey(repo, name)) => {
                    let old = t.remove((*repo, name.as_str()))?.map_or(0, |v| v.value());
                    let n = old.wrapping_add(p.u32());
                    let name = if p.0.is_empty() {
                        name.clone()
                    } else {
                        p.rest_string()
                    };
                    t.insert((*repo, name.as_str()), n)?;
                }
                Op::Delete(Key::TagKey(repo, name)) => drop(t.remove((*repo, name.as_str()))?),
                Op::New => {
                    let (repo, n) = (p.u32(), p.u32());
                    t.insert((repo, p.rest_string().as_str()), n)?;
                }
                _ => {}
            }
        }
        Table::RepoKeys => {
            let def = REPO_KEYS;
            if let Op::DropTable = op {
                txn.delete_table(def)?;
                return Ok(());
            }
            let mut t = txn.open_table(def)?;
            match op {
                Op::Replace(Key::Str(k)) => {
                    let old = t.remove(k.as_str())?.map_or(0, |v| v.value());
                    let n = old.wrapping_add(p.u32());
                    let name = if p.0.is_empty() {
                        k.clone()
                    } else {
                        p.rest_string()
                    };
                    t.insert(name.as_str(), n)?;
                }
                Op::Delete(Key::Str(k)) => drop(t.remove(k.as_str())?),
                Op::New => {
                    let n = p.u32();
                    t.insert(p.rest_string().as_str(), n)?;
                }
                _ => {}
            }
        }
        Table::ConfigManifests => {
            if let Op::DropTable = op {
                txn.delete_table(CONFIG_MANIFESTS)?;
                return Ok(());
            }
            let mut t = txn.open_table(CONFIG_MANIFESTS)?;
            match op {
                Op::Replace(Key::Bytes2(a, b)) => {
                    drop(t.remove((a.as_slice(), b.as_slice()))?);
                    t.insert((p.bytes(), p.rest()), ())?;
                }
                Op::Delete(Key::Bytes2(a, b)) => drop(t.remove((a.as_slice(), b.as_slice()))?),
                Op::New => {
                    t.insert((p.bytes(), p.rest()), ())?;
                }
                _ => {}
            }
        }
        Table::IntegrationNames => {
            if let Op::DropTable = op {
                txn.delete_table(INTEGRATION_NAMES)?;
                return Ok(());
            }
            let mut t = txn.open_table(INTEGRATION_NAMES)?;
            match op {
                Op::Replace(Key::Str(k)) => {
                    t.insert(k.as_str(), p.rest_string().as_str())?;
                }
                Op::Delete(Key::Str(k)) => drop(t.remove(k.as_str())?),
                Op::New => {
                    let k = p.string();
                    t.insert(k.as_str(), p.rest_string().as_str())?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Writes the base with the input's damage to `path`; `false` when the
/// input makes no file (redb refused the change: nothing to test).
fn make_file(base: &Base, path: &Path, data: &[u8]) -> bool {
    let [t, r, payload @ ..] = data else {
        return false;
    };
    let index = usize::from(*t) % TABLES.len();
    let table = TABLES[index];
    let rows = &base.rows[index];
    let pick = usize::from(r & 0x7f) % (rows.len() + 1);
    let delete = r & 0x80 != 0;
    let op = match (rows.get(pick), delete) {
        (Some((k, _)), false) => Op::Replace(k),
        (Some((k, _)), true) => Op::Delete(k),
        (None, false) => Op::New,
        (None, true) => Op::DropTable,
    };
    if std::fs::write(path, &base.bytes).is_err() {
        return false;
    }
    let Ok(db) = Database::open(path) else {
        return false;
    };
    let Ok(txn) = db.begin_write() else {
        return false;
    };
    if damage(&txn, table, &op, payload).is_err() {
        return false;
    }
    txn.commit().is_ok()
}

// ---------------------------------------------------------------------------
// The property.
// ---------------------------------------------------------------------------

thread_local! {
    /// The last panic's message and place, from the hook.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces libFuzzer's aborting panic hook with one that only remembers
/// the panic (see the module documentation).
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.to_string();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
        }));
    });
}

/// Every error must render, and damage must name the file; `call` says
/// which call failed when it does not.
fn check_call<T>(path: &Path, call: &str, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.is_empty(), "{call}: an empty error message: {e:?}");
            if let Error::Corrupt(m) = &e {
                assert!(
                    m.contains(&path.display().to_string()),
                    "{call}: Error::Corrupt without the file's name: {m}"
                );
            }
            None
        }
    }
}

/// [`check_call`], naming the call by its source text.
macro_rules! check {
    ($path:expr, $call:expr) => {
        check_call($path, stringify!($call), $call)
    };
}

const IMAGES: [&str; 5] = [
    "nginx",
    "nginx:1.25",
    "docker.io/library/maven:3",
    "ghcr.io/acme/app:v1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "quay.io/acme/api:v1",
];

/// Everything the writer does with the damaged file; every call may fail.
#[allow(clippy::too_many_lines)]
fn exercise(base: &Base, path: &Path) {
    let Some(ledger) = check!(path, Ledger::open(path)) else {
        return;
    };
    let ledger = ledger
        .with_clock(clock())
        .with_secret_key(SecretKey::from_bytes(SECRET));
    check!(path, ledger.stats());
    check!(path, ledger.verify());
    check!(path, ledger.head());
    if let Some(snap) = check!(path, ledger.snapshot()) {
        check!(path, snap.counts());
        for d in &base.digests {
            check!(path, snap.tags_for_digest(d));
            check!(path, snap.indexes_listing(d));
            check!(path, snap.config_of(d));
        }
        for tag in &base.tags {
            check!(path, snap.tag(tag));
            if let Some(page) = check!(path, snap.history(tag, None, 2)) {
                check!(path, snap.history(tag, page.next.as_deref(), 2));
            }
            check!(path, snap.references(tag, None, 10));
            for t in &base.times {
                check!(path, snap.tag_at(tag, *t));
            }
            check!(path, snap.tag_mutability(tag));
        }
        for r in &base.references {
            check!(path, snap.reference(r));
        }
        let mut repositories = base.repositories.clone();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let Some(page) = check!(path, snap.repositories(cursor.as_deref(), 3)) else {
                break;
            };
            repositories.extend(page.items.iter().filter_map(|r| r.id().ok()));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        for r in &repositories {
            check!(path, snap.repository(r));
            if let Some(page) = check!(path, snap.tags(r, None, 10)) {
                for t in page.items.iter().filter_map(|t| t.id().ok()) {
                    check!(path, snap.tag(&t));
                }
            }
            check!(path, snap.repository_mutability(r));
            check!(path, snap.match_template(r));
        }
        if let Some(page) = check!(path, snap.violations(None, None, 1)) {
            check!(path, snap.violations(None, page.next.as_deref(), 10));
        }
        check!(
            path,
            snap.violations(Some(ts("2024-02-01T00:00:00Z")), None, 10)
        );
        if let Some(page) = check!(path, snap.integrations(None, 10)) {
            for i in &page.items {
                check!(path, snap.integration(&i.id));
            }
        }
        check!(path, snap.integration(&base.integration_id));
        check!(path, snap.integration("hub"));
        check!(path, snap.templates(TEMPLATE_REGISTRY, None, 10));
        check!(path, snap.template(TEMPLATE_REGISTRY, "acme"));
        check!(path, snap.template(TEMPLATE_REGISTRY, "acme/web"));
        for image in IMAGES {
            check!(path, snap.classify(image, None));
            for d in base.digests.iter().take(3) {
                check!(path, snap.classify(image, Some(d)));
            }
        }
    }
    check!(path, ledger.integration_credentials(&base.integration_id));
    check!(path, ledger.credentials_for("docker.io"));
    // A copy of this commit, which the writes below leave behind: the
    // lookups after them read the change list (`index_changes`).
    check!(path, ledger.keep_index_in_memory());
    let at = ts("2024-06-01T00:00:00Z");
    let moved: Digest = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
        .parse()
        .expect("a digest");
    let observations = [
        Observation::new("nginx:latest".parse().expect("a tag"), moved, at),
        Observation::new("ghcr.io/acme/app:v1".parse().expect("a tag"), moved, at),
    ];
    check!(path, ledger.ingest("fuzz", &observations));
    let relation: ManifestRelation = serde_json::from_str(
        r#"{"index":"sha256:002289d804f6148735e28b69beeaefdca4ff9b85011e4a5e62f4723a2c821f13","manifests":[{"digest":"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd","platform":{"os":"linux","architecture":"s390x"},"config":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]}"#,
    )
    .expect("a relation");
    check!(path, ledger.record_relations("fuzz", &[relation]));
    if let Some(snap) = check!(path, ledger.snapshot()) {
        for d in base.digests.iter().chain([&moved]) {
            check!(path, snap.tags_for_digest(d));
        }
    }
    check!(path, ledger.stats());
}

fuzz_target!(|data: &[u8]| {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    install_hook();
    let base = base();
    let path = PATH.get_or_init(|| work_file("input"));
    if !make_file(base, path, data) {
        std::fs::remove_file(path).ok();
        return;
    }
    let result = std::panic::catch_unwind(|| exercise(base, path));
    std::fs::remove_file(path).ok();
    // A panic the ledger caught left its message too (see the module
    // documentation): both are crashes.
    let message = LAST_PANIC.with(|p| p.borrow_mut().take());
    if result.is_err() || message.is_some() {
        let how = if result.is_err() {
            "came out of the ledger's API"
        } else {
            "was caught by the ledger (and turned into an error)"
        };
        eprintln!(
            "damaged_row: a panic {how}: {}",
            message.unwrap_or_default()
        );
        std::process::abort();
    }
});
