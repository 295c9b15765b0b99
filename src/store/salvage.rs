//! Salvage (issue 13): a new ledger file made of every row of a damaged one
//! that still reads and verifies.
//!
//! **Read.** One read transaction of the damaged file, opened read-only
//! (when the engine wants a repair first, of a copy beside the new file,
//! opened as a writer, which repairs: the damaged file itself is never
//! written). Every table is read row by row ([`scan`]), each row decoded on
//! its own, so one bad row loses only itself. Where the engine fails on a
//! damaged page (an error, or a panic deep in its B-tree code), the scan
//! starts again after the last key it read, and then reads the table from
//! its end backwards, so only the rows of the page(s) that do not read are
//! lost. A row is kept when it decodes and what it refers to was kept:
//! a repository whose `repo_keys` entry agrees (or is missing), a tag whose
//! repository was kept, whose `tag_keys` entry agrees (or is missing) and of
//! whose log something survived, a log chunk whose tag was kept, a
//! repository setting whose repository was kept; templates, relations,
//! integrations (checked against their names and the stored record's ID;
//! the sealed credentials and the key check are copied byte for byte, as
//! neither the key nor the associated data depend on the file) and journal
//! records when they decode. The digest index and the violations are not
//! read into the new file at all: they are functions of the move logs (and
//! the settings), rebuilt from them, so damage there loses nothing; the
//! same holds for the key tables (`repo_keys`, `tag_keys`, the integration
//! names) and `config_manifests`, which are rebuilt from the rows they name.
//!
//! **Write.** One write transaction of a new ledger file: repositories and
//! tags renumbered densely in their old order (so an undamaged file keeps
//! every number), the tag rows' `current` recomputed from the surviving log,
//! the logs, the digest index and the violations rebuilt with the
//! [`Writer`]'s own machinery, relations recorded with
//! [`Writer::record_relation`] (which sets the index flags). The journal is
//! rebuilt too: its batch hashes cover tag numbers and batch numbers, which
//! salvage may change, and `verify` wants batch numbers dense and every
//! record backed by entries. So batches are renumbered densely in their old
//! order (a batch none of whose entries survived is dropped), each keeps its
//! record's time and author (or, when its record was lost, gets the
//! salvage's: author `salvage`, time now; references' `created_by` and
//! `created_on` come from these records), and `count`, `batch` and `prev`
//! are recomputed. An undamaged file gives the same numbers, hashes and
//! head.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use redb::{
    AccessGuard, Builder, Database, DatabaseError, Key, ReadOnlyDatabase, ReadOnlyTable,
    ReadTransaction, ReadableDatabase, ReadableTableMetadata, TableDefinition, TableHandle, Value,
    WriteTransaction,
};
use serde::Serialize;

use super::backup::TempFile;
use super::handle::{builder, guard, initialize, open_error};
use super::journal::{self, BatchHash, JournalRow};
use super::log::{self, Chunk, LogEntry};
use super::relations::PlatformRow;
use super::rows::{self, RepoRow, TagRow, from_micros, micros};
use super::write::{Writer, interval_set};
use super::{
    CONFIG_MANIFESTS, CONFIGS, DIGEST_INDEX, FORMAT_KEY, FORMAT_NAME, INTEGRATION_META,
    INTEGRATION_NAMES, INTEGRATIONS, IntegrationReader, JOURNAL, META, PARENTS, REPO_KEYS,
    REPO_SETTINGS, REPOS, SCHEMA_VERSION, TAG_KEYS, TAG_LOG, TAGS, TEMPLATES, TemplateReader,
    VERSION_KEY, VIOLATIONS,
};
use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{
    ConfigRelation, IndexRelation, ManifestRelation, MutabilitySetting, Platform, PlatformManifest,
    Timestamp,
};

/// At most this many losses of one table are described.
const DESCRIBED: usize = 10;

/// The author of a batch whose journal record was lost.
pub(crate) const SALVAGE_ACTOR: &str = "salvage";

/// What salvage did with one table of the damaged file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableSalvage {
    /// Rows the engine returned.
    pub read: u64,
    /// Rows carried into the new file. For a derived table (`derived`), the
    /// rows that agreed with what was kept; 0 for the digest index and the
    /// violations, which are not compared but rebuilt.
    pub kept: u64,
    /// Rows read and not carried over: undecodable, or what they refer to
    /// was lost (`examples` says which and why).
    pub lost: u64,
    /// Stretches of the table the engine could not read at all (a damaged
    /// page, or a table that does not open): how many rows they held is
    /// unknown.
    pub unreadable: u64,
    /// `tag_log`: entries lost with chunks that decoded but whose tag was
    /// lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_lost: Option<u64>,
    /// `tag_log`: bytes of chunks that did not decode (their entries are
    /// unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_lost: Option<u64>,
    /// The table is a function of others (an index, a key table, the
    /// violations) and was rebuilt from them: damage here loses nothing.
    pub derived: bool,
    /// Rows of this table in the new file.
    pub written: u64,
    /// The first few losses (row and reason) and recoveries, described.
    pub examples: Vec<String>,
}

impl TableSalvage {
    fn derived() -> Self {
        Self {
            derived: true,
            ..Self::default()
        }
    }

    fn describe(&mut self, what: impl Into<String>) {
        if self.examples.len() < DESCRIBED {
            self.examples.push(what.into());
        }
    }

    fn lose(&mut self, why: impl Into<String>) {
        self.lost += 1;
        self.describe(why);
    }

    /// Whether this table lost something no other table gives back.
    #[must_use]
    pub fn lost_anything(&self) -> bool {
        !self.derived
            && (self.lost > 0
                || self.unreadable > 0
                || self.entries_lost.unwrap_or(0) > 0
                || self.bytes_lost.unwrap_or(0) > 0)
    }
}

/// How many records of one kind were kept, and how many of those got a new
/// number (numbers are dense: a lost record's number goes to the next one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Renumbering {
    /// Kept.
    pub kept: u64,
    /// Kept under another number than in the damaged file.
    pub renumbered: u64,
}

/// What [`salvage`] read and wrote.
#[derive(Debug, Clone)]
pub(crate) struct Salvaged {
    /// Per table of the damaged file.
    pub tables: BTreeMap<&'static str, TableSalvage>,
    pub repositories: Renumbering,
    pub tags: Renumbering,
    /// Journal batches written, and how many got a new number.
    pub batches: Renumbering,
    /// Journal records dropped: none of their batch's entries survived.
    pub batches_dropped: u64,
    /// Batches whose record was lost: their author is now `salvage`, their
    /// time the salvage's.
    pub attributed_to_salvage: u64,
    /// The damaged file's last journal record, when it read: sequence, time
    /// (µs), author, hash.
    pub damaged_head: Option<(u32, i64, String, [u8; 32])>,
    /// Why the engine would not open the damaged file read-only, when it
    /// needed a repair (made on a copy), and whether the repair may have
    /// rolled the file back to the commit before its newest one (it was
    /// damaged, not just left open by a crash).
    pub repaired: Option<(String, bool)>,
}

/// Runs `f`, catching a panic (the engine's, on a damaged page): `None` then.
fn attempt<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

// ---------------------------------------------------------------------------
// Reading a damaged table row by row.
// ---------------------------------------------------------------------------

/// How one pass over a key range ended.
enum Outcome {
    /// The range was read to its end.
    Done,
    /// A row's key read and its value did not: the bound moved past it.
    RowFailed,
    /// The engine failed before a key was read.
    PageFailed,
}

/// The bound just past raw key `b` (`Unbounded` for none).
fn past<K: Key + 'static>(b: Option<&[u8]>) -> Bound<K::SelfType<'_>> {
    b.map_or(Bound::Unbounded, |b| Bound::Excluded(K::from_bytes(b)))
}

/// One pass over the keys strictly between `low` and `high`, forward (moving
/// `low` up) or backward (moving `high` down), handing each row to `row`.
fn pass<K: Key + 'static, V: Value + 'static>(
    table: &ReadOnlyTable<K, V>,
    (low, high): (&mut Option<Vec<u8>>, &mut Option<Vec<u8>>),
    back: bool,
    report: &mut TableSalvage,
    row: &mut impl FnMut(&mut TableSalvage, &AccessGuard<'_, K>, &AccessGuard<'_, V>),
) -> Outcome {
    let opened = attempt(|| table.range((past::<K>(low.as_deref()), past::<K>(high.as_deref()))));
    let Some(Ok(mut range)) = opened else {
        return Outcome::PageFailed;
    };
    let outcome = loop {
        let mut key: Option<Vec<u8>> = None;
        let bound = if back {
            high.as_deref()
        } else {
            low.as_deref()
        };
        let step = attempt(|| {
            let next = if back {
                range.next_back()
            } else {
                range.next()
            };
            match next {
                None => Some(true),
                Some(Err(_)) => None,
                Some(Ok((k, v))) => {
                    let bytes = K::as_bytes(&k.value()).as_ref().to_vec();
                    // A damaged branch page can lead back to keys already
                    // read (even round in a cycle): the keys of a pass must
                    // move on, else the pass ends here.
                    let wanted = if back {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    };
                    if bound.is_some_and(|b| K::compare(&bytes, b) != wanted) {
                        return None;
                    }
                    key = Some(bytes);
                    report.read += 1;
                    row(report, &k, &v);
                    Some(false)
                }
            }
        });
        let bound = if back { &mut *high } else { &mut *low };
        match (step, key) {
            (Some(Some(true)), _) => break Outcome::Done,
            (Some(Some(false)), key) => *bound = key,
            (_, Some(key)) => {
                let shown = rows::Hex(&key).to_string();
                *bound = Some(key);
                report.lose(format!(
                    "key {shown}: the storage engine failed on its value"
                ));
                break Outcome::RowFailed;
            }
            (_, None) => break Outcome::PageFailed,
        }
    };
    // Dropping an iterator over a damaged page may fail as well.
    let _ = attempt(move || drop(range));
    outcome
}

/// Reads every row of `def` that the engine still reads and hands each to
/// `row` (which decodes it and counts it lost or keeps it); returns whether
/// the table opened.
///
/// Forward from the first key; where the engine fails (an error or a panic
/// on a damaged page), once more from just after the last key read (a
/// value that failed loses only its row); when that fails at the same place
/// too, backward from the last key down to it. What lies between the two
/// is counted as one unreadable stretch.
fn scan<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
    report: &mut TableSalvage,
    mut row: impl FnMut(&mut TableSalvage, &AccessGuard<'_, K>, &AccessGuard<'_, V>),
) -> bool {
    let table = match attempt(|| txn.open_table(def)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            report.unreadable += 1;
            report.describe(format!("the table does not open: {e}"));
            return false;
        }
        None => {
            report.unreadable += 1;
            report.describe("the table does not open: the storage engine failed");
            return false;
        }
    };
    let (mut low, mut high) = (None, None);
    for back in [false, true] {
        let mut stuck: Option<Option<Vec<u8>>> = None;
        loop {
            match pass(&table, (&mut low, &mut high), back, report, &mut row) {
                Outcome::Done => return true,
                Outcome::RowFailed => {}
                Outcome::PageFailed => {
                    let at = if back { &high } else { &low };
                    if stuck.as_ref() == Some(at) {
                        break;
                    }
                    stuck = Some(at.clone());
                }
            }
        }
    }
    report.unreadable += 1;
    let show = |b: &Option<Vec<u8>>| {
        b.as_deref()
            .map_or_else(|| "the end".to_owned(), |k| rows::Hex(k).to_string())
    };
    report.describe(format!(
        "the rows between key {} and key {} do not read (a damaged page)",
        show(&low),
        show(&high)
    ));
    true
}

// ---------------------------------------------------------------------------
// The read phase: every row that decodes, by table.
// ---------------------------------------------------------------------------

/// Everything read from the damaged file that decoded.
#[derive(Default)]
struct Harvest {
    tables: BTreeMap<&'static str, TableSalvage>,
    /// The tables that opened.
    opened: BTreeSet<&'static str>,
    meta: BTreeMap<String, Vec<u8>>,
    repo_keys: BTreeMap<String, u32>,
    repos: BTreeMap<u32, RepoRow>,
    tag_keys: BTreeMap<String, u32>,
    tags: BTreeMap<u32, TagRow>,
    /// Decoded chunks by tag number: (key instant, entries).
    chunks: BTreeMap<u32, Vec<(i64, Vec<LogEntry>)>>,
    journal: BTreeMap<u32, JournalRow>,
    head: Option<(u32, JournalRow, [u8; 32])>,
    /// (child, index, platform).
    parents: Vec<(Digest, Digest, Platform)>,
    /// (manifest, config) from `manifest_configs`.
    configs: Vec<(Digest, Digest)>,
    /// (manifest, config) from `config_manifests`.
    config_manifests: Vec<(Digest, Digest)>,
    /// Manifests whose `manifest_configs` row did not decode: the relation
    /// may come back from `config_manifests`.
    configs_unread: BTreeSet<Digest>,
    templates: Vec<(String, String, Vec<u8>)>,
    settings: BTreeMap<u32, Vec<u8>>,
    /// (ID, name, row).
    integrations: Vec<(String, String, Vec<u8>)>,
    integration_names: BTreeMap<String, String>,
    integration_meta: Vec<(String, Vec<u8>)>,
}

/// A compact digest read from a key or value.
fn digest(bytes: &[u8], what: &str) -> Result<Digest> {
    Digest::from_compact(bytes)
        .map_err(|e| Error::Corrupt(format!("{what} {}: {e}", rows::Hex(bytes))))
}

/// A decoded chunk stored under instant `start`, checked: it starts there,
/// and every instant is one a timestamp can hold.
fn checked_chunk(start: i64, entries: Vec<LogEntry>, place: &str) -> Result<Vec<LogEntry>> {
    if entries.first().map(|e| e.at) != Some(start) {
        return Err(Error::Corrupt(format!(
            "{place}: its first entry is not at its key"
        )));
    }
    for e in &entries {
        from_micros(e.at).map_err(rows::at(place))?;
    }
    Ok(entries)
}

impl Harvest {
    fn read(txn: &ReadTransaction) -> Self {
        let mut h = Self::default();
        h.read_keys(txn);
        h.read_records(txn);
        h.read_log(txn);
        h.read_relations(txn);
        h.read_settings(txn);
        h.read_integrations(txn);
        h.read_derived(txn);
        h
    }

    fn note(&mut self, name: &'static str, opened: bool, report: TableSalvage) {
        if opened {
            self.opened.insert(name);
        }
        self.tables.insert(name, report);
    }

    fn read_keys(&mut self, txn: &ReadTransaction) {
        let (mut r, meta) = (TableSalvage::derived(), &mut self.meta);
        let ok = scan(txn, META, &mut r, |_, k, v| {
            meta.insert(k.value().to_owned(), v.value().to_vec());
        });
        r.kept = r.read;
        self.note(META.name(), ok, r);
        let (mut r, keys) = (TableSalvage::derived(), &mut self.repo_keys);
        let ok = scan(txn, REPO_KEYS, &mut r, |_, k, v| {
            keys.insert(k.value().to_owned(), v.value());
        });
        self.note(REPO_KEYS.name(), ok, r);
        let (mut r, keys) = (TableSalvage::derived(), &mut self.tag_keys);
        let ok = scan(txn, TAG_KEYS, &mut r, |_, k, v| {
            keys.insert(k.value().to_owned(), v.value());
        });
        self.note(TAG_KEYS.name(), ok, r);
    }

    fn read_records(&mut self, txn: &ReadTransaction) {
        let (mut r, repos) = (TableSalvage::default(), &mut self.repos);
        let ok = scan(txn, REPOS, &mut r, |r, k, v| {
            let n = k.value();
            match rows::decode_row::<RepoRow>("repos", n, v.value())
                .and_then(|row| row.check(n).map(|()| row))
            {
                Ok(row) => {
                    repos.insert(n, row);
                }
                Err(e) => r.lose(e.to_string()),
            }
        });
        self.note(REPOS.name(), ok, r);
        let (mut r, tags) = (TableSalvage::default(), &mut self.tags);
        let ok = scan(txn, TAGS, &mut r, |r, k, v| {
            let n = k.value();
            match rows::decode_row::<TagRow>("tags", n, v.value())
                .and_then(|row| row.check(n).map(|()| row))
            {
                Ok(row) => {
                    tags.insert(n, row);
                }
                Err(e) => r.lose(e.to_string()),
            }
        });
        self.note(TAGS.name(), ok, r);
        let (mut r, journal) = (TableSalvage::default(), &mut self.journal);
        let ok = scan(txn, JOURNAL, &mut r, |r, k, v| {
            let seq = k.value();
            let row = rows::decode_row::<JournalRow>("journal", seq, v.value()).and_then(|row| {
                from_micros(row.at)
                    .map_err(rows::at(format_args!("table journal, batch {seq}")))
                    .map(|_| row)
            });
            match row {
                Ok(row) => {
                    journal.insert(seq, row);
                }
                Err(e) => r.lose(e.to_string()),
            }
        });
        self.note(JOURNAL.name(), ok, r);
        self.head = attempt(|| {
            txn.open_table(JOURNAL)
                .map_err(Error::from)
                .and_then(|t| journal::head(&t))
        })
        .and_then(Result::ok)
        .flatten();
    }

    fn read_log(&mut self, txn: &ReadTransaction) {
        let mut r = TableSalvage {
            entries_lost: Some(0),
            bytes_lost: Some(0),
            ..TableSalvage::default()
        };
        let chunks = &mut self.chunks;
        let ok = scan(txn, TAG_LOG, &mut r, |r, k, v| {
            let (n, start) = k.value();
            let bytes = v.value();
            let place = format!("table tag_log, tag number {n}, chunk at {start}");
            match log::decode(bytes, &place).and_then(|e| checked_chunk(start, e, &place)) {
                Ok(entries) => chunks.entry(n).or_default().push((start, entries)),
                Err(e) => {
                    r.lose(e.to_string());
                    *r.bytes_lost.get_or_insert(0) += bytes.len() as u64;
                }
            }
        });
        self.note(TAG_LOG.name(), ok, r);
    }

    fn read_relations(&mut self, txn: &ReadTransaction) {
        let (mut r, parents) = (TableSalvage::default(), &mut self.parents);
        let ok = scan(txn, PARENTS, &mut r, |r, k, v| {
            let (child, index) = k.value();
            let row = digest(child, "table manifest_parents, platform manifest").and_then(|c| {
                let i = digest(index, "table manifest_parents, image index")?;
                let p: PlatformRow = rows::decode("manifest_parents", v.value())?;
                Ok((c, i, Platform::from(p)))
            });
            match row {
                Ok(row) => parents.push(row),
                Err(e) => r.lose(e.to_string()),
            }
        });
        self.note(PARENTS.name(), ok, r);
        let mut r = TableSalvage::default();
        let (configs, unread) = (&mut self.configs, &mut self.configs_unread);
        let ok = scan(txn, CONFIGS, &mut r, |r, k, v| {
            let manifest = digest(k.value(), "table manifest_configs, manifest");
            match manifest
                .and_then(|m| Ok((m, digest(v.value(), "table manifest_configs, config")?)))
            {
                Ok(pair) => configs.push(pair),
                Err(e) => {
                    if let Ok(m) = digest(k.value(), "") {
                        unread.insert(m);
                    }
                    r.lose(e.to_string());
                }
            }
        });
        self.note(CONFIGS.name(), ok, r);
        let (mut r, configs) = (TableSalvage::derived(), &mut self.config_manifests);
        let ok = scan(txn, CONFIG_MANIFESTS, &mut r, |r, k, _| {
            let (config, manifest) = k.value();
            match digest(config, "table config_manifests, config")
                .and_then(|c| Ok((digest(manifest, "table config_manifests, manifest")?, c)))
            {
                Ok(pair) => configs.push(pair),
                Err(e) => r.lose(e.to_string()),
            }
        });
        self.note(CONFIG_MANIFESTS.name(), ok, r);
        let (mut r, templates) = (TableSalvage::default(), &mut self.templates);
        let ok = scan(txn, TEMPLATES, &mut r, |_, k, v| {
            let (domain, key) = k.value();
            templates.push((domain.to_owned(), key.to_owned(), v.value().to_vec()));
        });
        // Decoded by the reader, which knows the row type.
        let reader = attempt(|| TemplateReader::open(txn)).and_then(Result::ok);
        self.templates.retain(|(domain, key, _)| {
            let decoded = reader
                .as_ref()
                .and_then(|reader| attempt(|| reader.get(domain, key)));
            match decoded {
                Some(Ok(Some(_))) => true,
                Some(Err(e)) => {
                    r.lose(e.to_string());
                    false
                }
                _ => {
                    r.lose(format!(
                        "table templates, registry {domain}, prefix {key}: does not read"
                    ));
                    false
                }
            }
        });
        self.note(TEMPLATES.name(), ok, r);
    }

    fn read_settings(&mut self, txn: &ReadTransaction) {
        let (mut r, settings) = (TableSalvage::default(), &mut self.settings);
        let ok = scan(txn, REPO_SETTINGS, &mut r, |_, k, v| {
            settings.insert(k.value(), v.value().to_vec());
        });
        let reader = attempt(|| TemplateReader::open(txn)).and_then(Result::ok);
        self.settings.retain(|&n, _| {
            let decoded = reader
                .as_ref()
                .and_then(|reader| attempt(|| reader.settings(n)));
            match decoded {
                Some(Ok(_)) => true,
                Some(Err(e)) => {
                    r.lose(e.to_string());
                    false
                }
                None => {
                    r.lose(format!(
                        "table repository_settings, repository number {n}: does not read"
                    ));
                    false
                }
            }
        });
        self.note(REPO_SETTINGS.name(), ok, r);
    }

    fn read_integrations(&mut self, txn: &ReadTransaction) {
        let mut r = TableSalvage::default();
        let mut read: Vec<(String, Vec<u8>)> = Vec::new();
        let ok = scan(txn, INTEGRATIONS, &mut r, |_, k, v| {
            read.push((k.value().to_owned(), v.value().to_vec()));
        });
        // Decoded by the reader, which knows the row type and checks it.
        let reader = attempt(|| IntegrationReader::open(txn)).and_then(Result::ok);
        for (id, bytes) in read {
            let decoded = reader
                .as_ref()
                .and_then(|reader| attempt(|| reader.resolve(&id)));
            match decoded {
                Some(Ok(Some(s))) if s.record.id == id => {
                    self.integrations.push((id, s.record.name, bytes));
                }
                Some(Err(e)) => r.lose(e.to_string()),
                _ => r.lose(format!("table image_integrations, row {id}: does not read")),
            }
        }
        self.note(INTEGRATIONS.name(), ok, r);
        let (mut r, names) = (TableSalvage::derived(), &mut self.integration_names);
        let ok = scan(txn, INTEGRATION_NAMES, &mut r, |_, k, v| {
            names.insert(k.value().to_owned(), v.value().to_owned());
        });
        self.note(INTEGRATION_NAMES.name(), ok, r);
        let (mut r, meta) = (TableSalvage::default(), &mut self.integration_meta);
        let ok = scan(txn, INTEGRATION_META, &mut r, |_, k, v| {
            meta.push((k.value().to_owned(), v.value().to_vec()));
        });
        r.kept = r.read - r.lost;
        self.note(INTEGRATION_META.name(), ok, r);
    }

    /// The digest index and the violations: only read through (they are
    /// rebuilt), so the report says how much of them was damaged.
    fn read_derived(&mut self, txn: &ReadTransaction) {
        let mut r = TableSalvage::derived();
        let ok = scan(txn, DIGEST_INDEX, &mut r, |_, _, _| {});
        self.note(DIGEST_INDEX.name(), ok, r);
        let mut r = TableSalvage::derived();
        let ok = scan(txn, VIOLATIONS, &mut r, |_, _, _| {});
        self.note(VIOLATIONS.name(), ok, r);
    }

    fn table(&mut self, def: &impl TableHandle) -> &mut TableSalvage {
        self.tables.entry(table_name(def)).or_default()
    }
}

/// The `'static` name of one of the schema's tables.
fn table_name(def: &impl TableHandle) -> &'static str {
    super::table_names()
        .into_iter()
        .find(|n| *n == def.name())
        .unwrap_or("other")
}

// ---------------------------------------------------------------------------
// What to keep, and under which numbers.
// ---------------------------------------------------------------------------

/// A kept tag: its ID, its row (repository renumbered, `current`
/// recomputed) and its log's chunks (batches renumbered).
struct NewTag {
    old: u32,
    id: TagId,
    row: TagRow,
    chunks: Vec<Vec<LogEntry>>,
}

impl NewTag {
    fn log(&self) -> Vec<(i64, Option<Digest>)> {
        self.chunks.iter().flatten().map(LogEntry::key).collect()
    }
}

/// The new file's contents; numbers are positions (batches from 1).
struct Plan {
    repos: Vec<(u32, RepositoryId, RepoRow)>,
    tags: Vec<NewTag>,
    journal: Vec<JournalRow>,
    /// New repository number → settings row.
    settings: Vec<(u32, Vec<u8>)>,
    templates: Vec<(String, String, Vec<u8>)>,
    /// (ID, name, row).
    integrations: Vec<(String, String, Vec<u8>)>,
    integration_meta: Vec<(String, Vec<u8>)>,
    relations: Vec<ManifestRelation>,
    report: Salvaged,
}

/// A number as a `u32` (positions of kept records, never more than read).
fn number(i: usize) -> Result<u32> {
    u32::try_from(i).map_err(|_| Error::Corrupt(format!("number {i} out of range")))
}

impl Harvest {
    /// Keeps the records whose references survived, renumbers them, and
    /// rebuilds the journal.
    fn plan(mut self, now: i64) -> Result<Plan> {
        let repos = self.keep_repositories();
        let repo_numbers: HashMap<u32, u32> = repos
            .iter()
            .enumerate()
            .map(|(new, (old, _, _))| Ok((*old, number(new)?)))
            .collect::<Result<_>>()?;
        let mut tags = self.keep_tags(&repos, &repo_numbers);
        let (journal, batches, dropped, attributed) = self.rebuild_journal(&mut tags, now)?;
        let settings = self.keep_settings(&repo_numbers);
        let integrations = self.keep_integrations();
        let relations = self.relations();
        let renumbered = |pairs: &mut dyn Iterator<Item = (u32, usize)>| {
            let mut r = Renumbering::default();
            for (old, new) in pairs {
                r.kept += 1;
                r.renumbered += u64::from(old as usize != new);
            }
            r
        };
        let mut report = Salvaged {
            repositories: renumbered(&mut repos.iter().enumerate().map(|(i, r)| (r.0, i))),
            tags: renumbered(&mut tags.iter().enumerate().map(|(i, t)| (t.old, i))),
            batches,
            batches_dropped: dropped,
            attributed_to_salvage: attributed,
            damaged_head: self
                .head
                .take()
                .map(|(seq, row, hash)| (seq, row.at, row.actor, hash)),
            repaired: None,
            tables: std::mem::take(&mut self.tables),
        };
        let templates = std::mem::take(&mut self.templates);
        let kept = templates.len() as u64;
        if let Some(t) = report.tables.get_mut(TEMPLATES.name()) {
            t.kept = kept;
        }
        Ok(Plan {
            repos,
            tags,
            journal,
            settings,
            templates,
            integrations,
            integration_meta: std::mem::take(&mut self.integration_meta),
            relations,
            report,
        })
    }

    /// Repositories whose row decoded and whose `repo_keys` entry agrees
    /// (or is missing, when no other entry names the number), in number order.
    fn keep_repositories(&mut self) -> Vec<(u32, RepositoryId, RepoRow)> {
        let mut named: HashMap<u32, Vec<&str>> = HashMap::new();
        for (key, n) in &self.repo_keys {
            named.entry(*n).or_default().push(key);
        }
        let mut kept: Vec<(u32, RepositoryId, RepoRow)> = Vec::new();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        let report = self.tables.entry(REPOS.name()).or_default();
        for (n, row) in std::mem::take(&mut self.repos) {
            let id: RepositoryId = match row.id.parse() {
                Ok(id) => id,
                Err(e) => {
                    report.lose(format!(
                        "table repos, row {n}: invalid repository ID {:?}: {e}",
                        row.id
                    ));
                    continue;
                }
            };
            let agrees = match self.repo_keys.get(&row.id) {
                Some(&m) => m == n,
                None => !named.contains_key(&n),
            };
            if !agrees {
                report.lose(format!(
                    "table repos, row {n} ({id}): repo_keys does not name it with this number"
                ));
            } else if !ids.insert(row.id.clone()) {
                report.lose(format!(
                    "table repos, row {n} ({id}): a second row of that repository"
                ));
            } else {
                kept.push((n, id, row));
            }
        }
        report.kept = kept.len() as u64;
        let by_number: HashMap<u32, &str> =
            kept.iter().map(|(n, id, _)| (*n, id.as_str())).collect();
        let keys = self.tables.entry(REPO_KEYS.name()).or_default();
        for (key, n) in &self.repo_keys {
            if by_number.get(n) == Some(&key.as_str()) {
                keys.kept += 1;
            } else {
                keys.lose(format!("{key} → {n}: no such repository was kept"));
            }
        }
        kept
    }

    /// Tags whose row decoded, whose repository was kept, whose `tag_keys`
    /// entry agrees (or is missing) and of whose log something survived.
    fn keep_tags(
        &mut self,
        repos: &[(u32, RepositoryId, RepoRow)],
        repo_numbers: &HashMap<u32, u32>,
    ) -> Vec<NewTag> {
        let repo_ids: HashMap<u32, &RepositoryId> =
            repos.iter().map(|(n, id, _)| (*n, id)).collect();
        let mut named: HashMap<u32, usize> = HashMap::new();
        for n in self.tag_keys.values() {
            *named.entry(*n).or_default() += 1;
        }
        let mut chunks = std::mem::take(&mut self.chunks);
        let mut kept: Vec<NewTag> = Vec::new();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        let mut ids_in_order: Vec<String> = Vec::new();
        let report = self.tables.entry(TAGS.name()).or_default();
        for (n, mut row) in std::mem::take(&mut self.tags) {
            let (Some(repo), Some(&new_repo)) =
                (repo_ids.get(&row.repo), repo_numbers.get(&row.repo))
            else {
                report.lose(format!(
                    "table tags, tag number {n} ({:?}): its repository (number {}) was lost",
                    row.name, row.repo
                ));
                continue;
            };
            let id = match TagId::new((*repo).clone(), &row.name) {
                Ok(id) => id,
                Err(e) => {
                    report.lose(format!("table tags, tag number {n}: invalid name: {e}"));
                    continue;
                }
            };
            let key = id.to_string();
            let agrees = match self.tag_keys.get(&key) {
                Some(&m) => m == n,
                None => !named.contains_key(&n),
            };
            if !agrees {
                report.lose(format!(
                    "table tags, tag number {n} ({id}): tag_keys does not name it with this number"
                ));
                continue;
            }
            if ids.contains(&key) {
                report.lose(format!(
                    "table tags, tag number {n} ({id}): a second row of that tag"
                ));
                continue;
            }
            let log = merge(chunks.remove(&n).unwrap_or_default());
            let Some(last) = log.last().and_then(|c| c.last()) else {
                report.lose(format!(
                    "table tags, tag number {n} ({id}): no entry of its log survived"
                ));
                continue;
            };
            row.current = last.digest.map(|d| d.to_compact());
            row.repo = new_repo;
            ids.insert(key.clone());
            ids_in_order.push(key);
            kept.push(NewTag {
                old: n,
                id,
                row,
                chunks: log,
            });
        }
        report.kept = kept.len() as u64;
        let by_number: HashMap<u32, &str> = kept
            .iter()
            .zip(&ids_in_order)
            .map(|(t, id)| (t.old, id.as_str()))
            .collect();
        let keys = self.tables.entry(TAG_KEYS.name()).or_default();
        for (key, n) in &self.tag_keys {
            if by_number.get(n) == Some(&key.as_str()) {
                keys.kept += 1;
            } else {
                keys.lose(format!("{key} → {n}: no such tag was kept"));
            }
        }
        let log = self.tables.entry(TAG_LOG.name()).or_default();
        for (n, lost) in chunks {
            for (start, entries) in lost {
                *log.entries_lost.get_or_insert(0) += entries.len() as u64;
                log.lose(format!(
                    "table tag_log, tag number {n}, chunk at {start}: {} entries of a tag that was lost",
                    entries.len()
                ));
            }
        }
        log.kept = kept.iter().map(|t| t.chunks.len() as u64).sum();
        kept
    }

    /// Renumbers the batches of the kept entries densely (in their old
    /// order) and writes one journal record per batch: its old time and
    /// author (the salvage's when its record was lost), its entry count and
    /// hash recomputed, chained. Returns the records, the batches' renumbering,
    /// how many records were dropped and how many batches were attributed to
    /// the salvage.
    fn rebuild_journal(
        &mut self,
        tags: &mut [NewTag],
        now: i64,
    ) -> Result<(Vec<JournalRow>, Renumbering, u64, u64)> {
        let old: BTreeSet<u32> = tags
            .iter()
            .flat_map(|t| t.chunks.iter().flatten().map(|e| e.seq))
            .collect();
        let new: HashMap<u32, u32> = old
            .iter()
            .enumerate()
            .map(|(i, seq)| Ok((*seq, number(i + 1)?)))
            .collect::<Result<_>>()?;
        let mut hashes: Vec<(BatchHash, u64)> = (1..=old.len())
            .map(|s| Ok((BatchHash::new(number(s)?), 0)))
            .collect::<Result<_>>()?;
        for (n, tag) in tags.iter_mut().enumerate() {
            let n = number(n)?;
            for e in tag.chunks.iter_mut().flatten() {
                e.seq = new.get(&e.seq).copied().unwrap_or(e.seq);
                let batch = (e.seq as usize)
                    .checked_sub(1)
                    .and_then(|i| hashes.get_mut(i));
                if let Some((hash, count)) = batch {
                    hash.add(n, e);
                    *count += 1;
                }
            }
        }
        let report = self.tables.entry(JOURNAL.name()).or_default();
        let mut records = Vec::with_capacity(old.len());
        let mut prev = [0u8; 32];
        let (mut renumbered, mut attributed) = (Renumbering::default(), 0);
        for ((seq, (hash, count)), new_seq) in old.iter().zip(hashes).zip(1u32..) {
            let (at, actor) = if let Some(r) = self.journal.remove(seq) {
                (r.at, r.actor)
            } else {
                attributed += 1;
                report.describe(format!(
                    "batch {seq} (now {new_seq}): its record was lost; its author is now {SALVAGE_ACTOR:?}, its time the salvage's"
                ));
                (now, SALVAGE_ACTOR.to_owned())
            };
            let row = JournalRow {
                at,
                actor,
                count,
                batch: hash.finish(),
                prev,
            };
            prev = row.hash(new_seq)?;
            records.push(row);
            renumbered.kept += 1;
            renumbered.renumbered += u64::from(*seq != new_seq);
        }
        report.kept = records.len() as u64 - attributed;
        let dropped = self.journal.len() as u64;
        for seq in std::mem::take(&mut self.journal).into_keys() {
            report.lose(format!("batch {seq}: none of its entries survived"));
        }
        Ok((records, renumbered, dropped, attributed))
    }

    /// Settings rows of kept repositories, under their new numbers.
    fn keep_settings(&mut self, repo_numbers: &HashMap<u32, u32>) -> Vec<(u32, Vec<u8>)> {
        let report = self.tables.entry(REPO_SETTINGS.name()).or_default();
        let mut kept = Vec::new();
        for (old, row) in std::mem::take(&mut self.settings) {
            match repo_numbers.get(&old) {
                Some(&new) => kept.push((new, row)),
                None => report.lose(format!(
                    "table repository_settings, repository number {old}: the repository was lost"
                )),
            }
        }
        report.kept = kept.len() as u64;
        kept
    }

    /// Integrations whose row read, one per name: where two rows claim a
    /// name, the one `image_integration_names` names.
    fn keep_integrations(&mut self) -> Vec<(String, String, Vec<u8>)> {
        let report = self.tables.entry(INTEGRATIONS.name()).or_default();
        let mut by_name: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
        for (id, name, bytes) in std::mem::take(&mut self.integrations) {
            let named = self.integration_names.get(&name) == Some(&id);
            match by_name.get(&name) {
                Some((other, _)) if !named => {
                    report.lose(format!(
                        "table image_integrations, row {id}: named {name:?} like {other}"
                    ));
                }
                Some((other, _)) => {
                    report.lose(format!(
                        "table image_integrations, row {other}: named {name:?} like {id}"
                    ));
                    by_name.insert(name, (id, bytes));
                }
                None => {
                    by_name.insert(name, (id, bytes));
                }
            }
        }
        report.kept = by_name.len() as u64;
        let names = self.tables.entry(INTEGRATION_NAMES.name()).or_default();
        for (name, id) in &self.integration_names {
            if by_name.get(name).is_some_and(|(kept, _)| kept == id) {
                names.kept += 1;
            } else {
                names.lose(format!("{name:?} → {id}: no such integration was kept"));
            }
        }
        by_name
            .into_iter()
            .map(|(name, (id, bytes))| (id, name, bytes))
            .collect()
    }

    /// The relations read: every (index, platform manifest) row, and every
    /// (manifest, config) pair from either of its two tables.
    fn relations(&mut self) -> Vec<ManifestRelation> {
        let mut out: Vec<ManifestRelation> = std::mem::take(&mut self.parents)
            .into_iter()
            .map(|(child, index, platform)| {
                ManifestRelation::Index(IndexRelation {
                    index,
                    manifests: vec![PlatformManifest {
                        digest: child,
                        platform,
                        config: None,
                    }],
                    repository: None,
                    first_seen: None,
                })
            })
            .collect();
        let mut configs: BTreeMap<Digest, Digest> = BTreeMap::new();
        for (manifest, config) in std::mem::take(&mut self.configs) {
            configs.insert(manifest, config);
        }
        let reverse = std::mem::take(&mut self.config_manifests);
        let mut recovered = Vec::new();
        let report = self.table(&CONFIG_MANIFESTS);
        for (manifest, config) in reverse {
            match configs.get(&manifest) {
                Some(c) if *c == config => report.kept += 1,
                Some(c) => report.lose(format!(
                    "config {config} of manifest {manifest}: manifest_configs says {c}"
                )),
                None => {
                    report.kept += 1;
                    recovered.push(manifest);
                    configs.insert(manifest, config);
                }
            }
        }
        // A manifest_configs row that did not decode, whose relation this
        // table gave back: nothing of it is lost.
        let unread = std::mem::take(&mut self.configs_unread);
        let report = self.table(&CONFIGS);
        for manifest in recovered {
            if unread.contains(&manifest) {
                report.lost = report.lost.saturating_sub(1);
            }
            report.describe(format!(
                "manifest {manifest}: its config was recovered from config_manifests"
            ));
        }
        out.extend(configs.into_iter().map(|(manifest, config)| {
            ManifestRelation::Config(ConfigRelation {
                manifest,
                config,
                repository: None,
                platform: None,
                source: None,
                first_seen: None,
            })
        }));
        out
    }
}

/// A tag's surviving chunks, in order: as they were when they do not
/// overlap, else merged into one sorted list (`write_chunks` splits it).
fn merge(mut chunks: Vec<(i64, Vec<LogEntry>)>) -> Vec<Vec<LogEntry>> {
    chunks.sort_by_key(|c| c.0);
    let overlap = chunks.windows(2).any(|w| {
        w[0].1
            .last()
            .zip(w[1].1.first())
            .is_some_and(|(a, b)| a.at >= b.at)
    });
    if !overlap {
        return chunks.into_iter().map(|c| c.1).collect();
    }
    let mut all: Vec<LogEntry> = chunks.into_iter().flat_map(|c| c.1).collect();
    all.sort_by_key(|e| (e.key(), e.seq));
    all.dedup_by_key(|e| e.key());
    vec![all]
}

// ---------------------------------------------------------------------------
// The write phase.
// ---------------------------------------------------------------------------

/// The rows that are copied or renumbered, written straight to the tables.
fn write_rows(txn: &WriteTransaction, plan: &Plan) -> Result<()> {
    {
        let mut keys = txn.open_table(REPO_KEYS)?;
        let mut repos = txn.open_table(REPOS)?;
        for (n, (_, id, row)) in plan.repos.iter().enumerate() {
            let n = number(n)?;
            keys.insert(id.as_str(), n)?;
            repos.insert(n, rows::encode(row)?.as_slice())?;
        }
        let mut settings = txn.open_table(REPO_SETTINGS)?;
        for (n, row) in &plan.settings {
            settings.insert(*n, row.as_slice())?;
        }
    }
    {
        let mut keys = txn.open_table(TAG_KEYS)?;
        let mut tags = txn.open_table(TAGS)?;
        let mut log = txn.open_table(TAG_LOG)?;
        for (n, tag) in plan.tags.iter().enumerate() {
            let n = number(n)?;
            keys.insert(tag.id.to_string().as_str(), n)?;
            tags.insert(n, rows::encode(&tag.row)?.as_slice())?;
            let chunks: Vec<Chunk> = tag
                .chunks
                .iter()
                .map(|entries| Chunk {
                    stored_at: None,
                    entries: entries.clone(),
                    dirty: true,
                })
                .collect();
            log::write_chunks(&mut log, n, &chunks)?;
        }
        let mut journal = txn.open_table(JOURNAL)?;
        for (seq, row) in (1u32..).zip(&plan.journal) {
            journal.insert(seq, rows::encode(row)?.as_slice())?;
        }
    }
    let mut templates = txn.open_table(TEMPLATES)?;
    for (domain, key, row) in &plan.templates {
        templates.insert((domain.as_str(), key.as_str()), row.as_slice())?;
    }
    let mut integrations = txn.open_table(INTEGRATIONS)?;
    let mut names = txn.open_table(INTEGRATION_NAMES)?;
    for (id, name, row) in &plan.integrations {
        integrations.insert(id.as_str(), row.as_slice())?;
        names.insert(name.as_str(), id.as_str())?;
    }
    let mut meta = txn.open_table(INTEGRATION_META)?;
    for (key, value) in &plan.integration_meta {
        meta.insert(key.as_str(), value.as_slice())?;
    }
    Ok(())
}

/// What is a function of the rows: the digest index (with the relations'
/// flags) and the violations, through the writer's own machinery.
fn rebuild(txn: &WriteTransaction, plan: &Plan, report: &mut Salvaged) -> Result<()> {
    let mut w = Writer::open(txn)?;
    let none = BTreeSet::new();
    for (n, tag) in plan.tags.iter().enumerate() {
        let n = number(n)?;
        let log = tag.log();
        w.reindex(n, &none, &interval_set(n, &log)?);
        let settings = w.templates().settings(tag.row.repo)?;
        if settings.iter().any(MutabilitySetting::restricts) {
            let id = tag.id.to_string();
            w.templates()
                .revise((&id, n, &tag.row.name), &settings, &[], &log)?;
        }
    }
    for relation in &plan.relations {
        let table = match relation {
            ManifestRelation::Index(_) => PARENTS.name(),
            ManifestRelation::Config(_) => CONFIGS.name(),
        };
        let r = report.tables.entry(table).or_default();
        // Only a relation that contradicts another one fails here.
        match w.record_relation(relation) {
            Ok(_) => r.kept += 1,
            Err(e) => r.lose(e.to_string()),
        }
    }
    w.flush_index()
}

/// Writes `plan` into the new ledger file `path` (empty), in one write
/// transaction, and compacts it.
fn write(plan: &Plan, path: &Path, builder: &Builder) -> Result<Salvaged> {
    let mut report = plan.report.clone();
    let mut db = builder.create(path).map_err(|e| open_error(path, e))?;
    initialize(&db, path)?;
    let txn = db.begin_write()?;
    write_rows(&txn, plan)?;
    rebuild(&txn, plan, &mut report)?;
    txn.commit()?;
    while db.compact()? {}
    let txn = db.begin_read()?;
    for handle in txn.list_tables()? {
        let name = table_name(&handle);
        let len = txn.open_untyped_table(handle)?.len()?;
        report.tables.entry(name).or_default().written = len;
    }
    Ok(report)
}

// ---------------------------------------------------------------------------
// The damaged file, and the whole salvage.
// ---------------------------------------------------------------------------

/// One read transaction of the damaged file. Fields drop in order: the
/// transaction, the handle, then the repaired copy's file.
struct Source {
    txn: ReadTransaction,
    /// See [`Salvaged::repaired`].
    repaired: Option<(String, bool)>,
    /// The engine's handle on the damaged file, or on its repaired copy.
    _read_only: Option<ReadOnlyDatabase>,
    _repaired: Option<Database>,
    /// The repaired copy, removed when dropped.
    _copy: Option<TempFile>,
}

impl Source {
    /// Opens `damaged` read-only; when the engine refuses (a file not closed
    /// cleanly needs a repair that a read-only open cannot make, or its
    /// newest commit is damaged), copies it beside `beside` and opens the
    /// copy as a writer, which repairs it (falling back to the commit before
    /// a damaged one). The damaged file itself is never written.
    fn open(damaged: &Path, beside: &Path, builder: &Builder) -> Result<Self> {
        let first = match attempt(|| builder.open_read_only(damaged)) {
            Some(Ok(db)) => {
                if let Some(Ok(txn)) = attempt(|| db.begin_read()) {
                    return Ok(Self {
                        txn,
                        repaired: None,
                        _read_only: Some(db),
                        _repaired: None,
                        _copy: None,
                    });
                }
                None
            }
            Some(Err(e)) => Some(e),
            None => None,
        };
        let refused = |first: Option<DatabaseError>| match first {
            Some(e) => open_error(damaged, e),
            None => Error::Corrupt(format!(
                "{}: the storage engine failed opening it",
                damaged.display()
            )),
        };
        // Not a redb file at all, a writer that holds it in another mode, an
        // older format: a repair changes none of that.
        let final_refusal = match &first {
            Some(DatabaseError::Storage(redb::StorageError::Io(io))) => {
                io.kind() == std::io::ErrorKind::InvalidData
            }
            Some(
                DatabaseError::DatabaseAlreadyOpen
                | DatabaseError::LockProtocolMismatch
                | DatabaseError::UpgradeRequired(_),
            ) => true,
            _ => false,
        };
        if final_refusal {
            return Err(refused(first));
        }
        let copy = TempFile::beside(beside, "repairing")?;
        fs::copy(damaged, copy.path()).map_err(|e| {
            Error::io(
                format!("copying {} to {}", damaged.display(), copy.path().display()),
                e,
            )
        })?;
        let repaired = attempt(|| {
            let db = builder.open(copy.path())?;
            let txn = db.begin_read()?;
            Ok::<_, Error>((db, txn))
        });
        match repaired {
            Some(Ok((db, txn))) => Ok(Self {
                txn,
                repaired: Some(match &first {
                    Some(DatabaseError::RepairAborted) => {
                        ("it was not closed cleanly".to_owned(), false)
                    }
                    Some(e) => (e.to_string(), true),
                    None => ("the storage engine failed opening it".to_owned(), true),
                }),
                _read_only: None,
                _repaired: Some(db),
                _copy: Some(copy),
            }),
            _ => Err(refused(first)),
        }
    }
}

/// Reads everything that still reads from the ledger file `damaged` and
/// writes it as a new ledger into the empty file `dest` (a temporary file
/// beside the salvage's destination `beside`, where a repaired copy goes
/// too, if one is needed). `now` is the time of batches whose journal record
/// was lost.
///
/// # Errors
/// [`Error::NotALedger`] or [`Error::Version`] when the file says it is not
/// a ledger of this schema (or holds none of its tables),
/// [`Error::Corrupt`] when the engine cannot open it or not one table of it
/// opens, storage errors of the new file.
pub(crate) fn salvage(
    damaged: &Path,
    beside: &Path,
    dest: &Path,
    now: Timestamp,
) -> Result<Salvaged> {
    let builder = builder();
    let plan = guard(damaged, || {
        let source = Source::open(damaged, beside, &builder)?;
        let mut harvest = Harvest::read(&source.txn);
        check_format(damaged, &mut harvest)?;
        let mut plan = harvest.plan(micros(now))?;
        plan.report.repaired.clone_from(&source.repaired);
        Ok(plan)
    })?;
    guard(dest, || write(&plan, dest, &builder))
}

/// Refuses a file that says it is another program's or another schema's,
/// or that has nothing a ledger has. A format or version record that says
/// otherwise in a file that has this schema's own tables (`tag_log` and
/// `journal`, new in schema 6) is taken for damaged, and noted.
fn check_format(path: &Path, h: &mut Harvest) -> Result<()> {
    let ours = h.opened.contains(TAG_LOG.name()) && h.opened.contains(JOURNAL.name());
    if let Some(format) = h.meta.get(FORMAT_KEY)
        && format != FORMAT_NAME
    {
        if !ours {
            return Err(Error::NotALedger {
                path: path.to_owned(),
                reason: "its meta table has no ociledger format record".to_owned(),
            });
        }
        h.table(&META)
            .describe("the format record is damaged; the tables are a ledger's");
    }
    if let Some(v) = h.meta.get(VERSION_KEY) {
        let found = <[u8; 4]>::try_from(v.as_slice()).map_or(0, u32::from_le_bytes);
        if found != SCHEMA_VERSION {
            if !ours {
                return Err(Error::Version {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            h.table(&META).describe(format!(
                "the schema version record says {found}; the tables are schema {SCHEMA_VERSION}'s"
            ));
        }
    }
    if h.opened.is_empty() {
        let missing = h
            .tables
            .values()
            .all(|t| t.examples.iter().all(|e| e.contains("does not exist")));
        return Err(if missing {
            Error::NotALedger {
                path: path.to_owned(),
                reason: "it has none of a ledger's tables".to_owned(),
            }
        } else {
            Error::Corrupt(format!(
                "{}: nothing could be read: not one table opens",
                path.display()
            ))
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ledger;
    use crate::id::Algorithm;
    use crate::model::Observation;

    /// Guards the repair path: a file not closed cleanly is refused by a
    /// read-only open in the engine's exclusive mode (the mode used where
    /// the platform has no byte-range locks), and salvage must then read a
    /// repaired copy, never write the damaged file, and leave no copy
    /// behind. On Linux the ledger's own mode opens such a file read-only,
    /// so this is the only test that reaches the repair.
    #[test]
    fn a_file_that_needs_a_repair_is_read_from_a_repaired_copy() {
        let dir = tempfile::tempdir().expect("temp dir");
        let live = dir.path().join("live.redb");
        let ledger = Ledger::create(&live).expect("create");
        let o = Observation::new(
            "nginx:latest".parse().expect("tag"),
            Digest::of(Algorithm::Sha256, b"x"),
            "2024-01-01T00:00:00Z".parse().expect("time"),
        );
        ledger.ingest("test", &[o]).expect("ingest");
        // A copy taken while the writer holds the file was not closed.
        let damaged = dir.path().join("unclean.redb");
        fs::copy(&live, &damaged).expect("copy");
        drop(ledger);
        let before = fs::read(&damaged).expect("bytes");

        let mut exclusive = Builder::new();
        exclusive.set_concurrency_mode(redb::ConcurrencyMode::ExclusiveWriter);
        assert!(
            matches!(
                exclusive.open_read_only(&damaged),
                Err(DatabaseError::RepairAborted)
            ),
            "the copy must need a repair for this test to mean anything"
        );
        let new = dir.path().join("new.redb");
        let source = Source::open(&damaged, &new, &exclusive).expect("open");
        assert_eq!(
            source.repaired,
            Some(("it was not closed cleanly".to_owned(), false)),
            "read from a repaired copy"
        );
        let harvest = Harvest::read(&source.txn);
        assert_eq!(harvest.tags.len(), 1);
        drop(source);
        assert_eq!(fs::read(&damaged).expect("bytes"), before, "never written");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 2, "no repaired copy left behind: {names:?}");
    }
}
