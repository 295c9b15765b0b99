//! The read phase: every row of the damaged file that decodes, by table
//! ([`Harvest`]).

use std::collections::{BTreeMap, BTreeSet};

use redb::{ReadTransaction, TableHandle};

use super::super::journal::{self, JournalRow};
use super::super::log::{self, LogEntry};
use super::super::relations::PlatformRow;
use super::super::rows::{self, RepoRow, TagRow, from_micros};
use super::super::{
    CONFIG_MANIFESTS, CONFIGS, DIGEST_INDEX, INDEX_CHANGES, INTEGRATION_META, INTEGRATION_NAMES,
    INTEGRATIONS, IntegrationReader, JOURNAL, META, PARENTS, REPO_KEYS, REPO_SETTINGS, REPOS,
    TAG_KEYS, TAG_LOG, TAGS, TEMPLATES, TemplateReader, VIOLATIONS,
};
use super::scan::{attempt, scan};
use super::{TableSalvage, table_name};
use crate::error::{Error, Result};
use crate::id::Digest;
use crate::model::Platform;

/// Everything read from the damaged file that decoded.
#[derive(Default)]
pub(super) struct Harvest {
    pub(super) tables: BTreeMap<&'static str, TableSalvage>,
    /// The tables that opened.
    pub(super) opened: BTreeSet<&'static str>,
    pub(super) meta: BTreeMap<String, Vec<u8>>,
    pub(super) repo_keys: BTreeMap<String, u32>,
    pub(super) repos: BTreeMap<u32, RepoRow>,
    pub(super) tag_keys: BTreeMap<(u32, String), u32>,
    pub(super) tags: BTreeMap<u32, TagRow>,
    /// Decoded chunks by tag number: (key instant, entries).
    pub(super) chunks: BTreeMap<u32, Vec<(i64, Vec<LogEntry>)>>,
    pub(super) journal: BTreeMap<u32, JournalRow>,
    pub(super) head: Option<(u32, JournalRow, [u8; 32])>,
    /// (child, index, platform).
    pub(super) parents: Vec<(Digest, Digest, Platform)>,
    /// (manifest, config) from `manifest_configs`.
    pub(super) configs: Vec<(Digest, Digest)>,
    /// (manifest, config) from `config_manifests`.
    pub(super) config_manifests: Vec<(Digest, Digest)>,
    /// Manifests whose `manifest_configs` row did not decode: the relation
    /// may come back from `config_manifests`.
    pub(super) configs_unread: BTreeSet<Digest>,
    pub(super) templates: Vec<(String, String, Vec<u8>)>,
    pub(super) settings: BTreeMap<u32, Vec<u8>>,
    /// (ID, name, row).
    pub(super) integrations: Vec<(String, String, Vec<u8>)>,
    pub(super) integration_names: BTreeMap<String, String>,
    pub(super) integration_meta: Vec<(String, Vec<u8>)>,
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
    pub(super) fn read(txn: &ReadTransaction) -> Self {
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
            let (repo, name) = k.value();
            keys.insert((repo, name.to_owned()), v.value());
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
            match log::decode(bytes, start, &place).and_then(|e| checked_chunk(start, e, &place)) {
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
    /// rebuilt), so the report says how much of them was damaged. So is the
    /// digest index's change list: a new file starts without one.
    fn read_derived(&mut self, txn: &ReadTransaction) {
        let mut r = TableSalvage::derived();
        let ok = scan(txn, INDEX_CHANGES, &mut r, |_, _, _| {});
        self.note(INDEX_CHANGES.name(), ok, r);
        let mut r = TableSalvage::derived();
        let ok = scan(txn, DIGEST_INDEX, &mut r, |_, _, _| {});
        self.note(DIGEST_INDEX.name(), ok, r);
        let mut r = TableSalvage::derived();
        let ok = scan(txn, VIOLATIONS, &mut r, |_, _, _| {});
        self.note(VIOLATIONS.name(), ok, r);
    }

    pub(super) fn table(&mut self, def: &impl TableHandle) -> &mut TableSalvage {
        self.tables.entry(table_name(def)).or_default()
    }
}
