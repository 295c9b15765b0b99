//! What to keep, and under which numbers: the [`Plan`] of the new file,
//! made from the [`Harvest`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use redb::TableHandle;

use super::super::journal::{BatchHash, JournalRow};
use super::super::log::LogEntry;
use super::super::rows::{RepoRow, TagRow};
use super::super::{
    CONFIG_MANIFESTS, CONFIGS, INTEGRATION_NAMES, INTEGRATIONS, JOURNAL, REPO_KEYS, REPO_SETTINGS,
    REPOS, TAG_KEYS, TAG_LOG, TAGS, TEMPLATES,
};
use super::harvest::Harvest;
use super::{Renumbering, SALVAGE_ACTOR, Salvaged};
use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{ConfigRelation, IndexRelation, ManifestRelation, PlatformManifest};

/// A kept tag: its ID, its row (repository renumbered) and its log's
/// chunks (batches renumbered).
pub(super) struct NewTag {
    old: u32,
    pub(super) id: TagId,
    pub(super) row: TagRow,
    pub(super) chunks: Vec<Vec<LogEntry>>,
}

impl NewTag {
    pub(super) fn log(&self) -> Vec<(i64, Option<Digest>)> {
        self.chunks.iter().flatten().map(LogEntry::key).collect()
    }
}

/// The new file's contents; numbers are positions (batches from 1).
pub(super) struct Plan {
    pub(super) repos: Vec<(u32, RepositoryId, RepoRow)>,
    pub(super) tags: Vec<NewTag>,
    pub(super) journal: Vec<JournalRow>,
    /// New repository number → settings row.
    pub(super) settings: Vec<(u32, Vec<u8>)>,
    pub(super) templates: Vec<(String, String, Vec<u8>)>,
    /// (ID, name, row).
    pub(super) integrations: Vec<(String, String, Vec<u8>)>,
    pub(super) integration_meta: Vec<(String, Vec<u8>)>,
    pub(super) relations: Vec<ManifestRelation>,
    pub(super) report: Salvaged,
}

/// A number as a `u32` (positions of kept records, never more than read).
pub(super) fn number(i: usize) -> Result<u32> {
    u32::try_from(i).map_err(|_| Error::Corrupt(format!("number {i} out of range")))
}

impl Harvest {
    /// Keeps the records whose references survived, renumbers them, and
    /// rebuilds the journal.
    pub(super) fn plan(mut self, now: i64) -> Result<Plan> {
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
        let mut ids: BTreeSet<(u32, String)> = BTreeSet::new();
        let mut ids_in_order: Vec<(u32, String)> = Vec::new();
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
            let key = (row.repo, row.name.clone());
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
            if log.last().and_then(|c| c.last()).is_none() {
                report.lose(format!(
                    "table tags, tag number {n} ({id}): no entry of its log survived"
                ));
                continue;
            }
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
        let by_number: HashMap<u32, &(u32, String)> = kept
            .iter()
            .zip(&ids_in_order)
            .map(|(t, key)| (t.old, key))
            .collect();
        let keys = self.tables.entry(TAG_KEYS.name()).or_default();
        for (key, n) in &self.tag_keys {
            if by_number.get(n) == Some(&key) {
                keys.kept += 1;
            } else {
                let (repo, name) = key;
                keys.lose(format!(
                    "(repository number {repo}, {name:?}) → {n}: no such tag was kept"
                ));
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
