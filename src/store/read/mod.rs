//! Reads: a [`View`] is one redb read transaction with its tables open, so a
//! classifier can answer many questions from one consistent view without
//! reopening anything. Writers never block it (MVCC). The public
//! [`crate::Snapshot`] wraps one.

mod answer;
mod lookup;

pub(crate) use answer::RawAnswer;

use std::sync::{Arc, OnceLock};

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata};

use super::journal::{self, JOURNAL};
use super::log::{self, LogEntry, TAG_LOG};
use super::memory::CopyView;
use super::names::{NameCache, Names};
use super::packed;
use super::relations::RelationReader;
use super::rows::{self, RepoRow, TagRow, from_micros, micros};
use super::tag_keys::{self, TAG_KEYS};
use super::{DIGEST_INDEX, REPO_KEYS, REPOS, TAGS};
use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{Reference, Repository, Tag, Timestamp};

/// A consistent, read-only view of the file at one commit.
pub(crate) struct View {
    pub(super) txn: ReadTransaction,
    pub(super) repo_keys: ReadOnlyTable<&'static str, u32>,
    pub(super) repos: ReadOnlyTable<u32, &'static [u8]>,
    pub(super) tag_keys: ReadOnlyTable<(u32, &'static str), u32>,
    pub(super) tags: ReadOnlyTable<u32, &'static [u8]>,
    pub(super) tag_log: ReadOnlyTable<(u32, i64), &'static [u8]>,
    pub(super) digest_index: ReadOnlyTable<u64, &'static [u8]>,
    /// The journal, opened on first use (references and `head` read it).
    journal: OnceLock<ReadOnlyTable<u32, &'static [u8]>>,
    /// The tables of the other record families, opened on first use: most
    /// snapshots (a digest lookup) never read them, and a one-shot lookup
    /// would otherwise open nine more tables each time.
    relations: OnceLock<RelationReader>,
    /// Templates, repository settings and violations.
    templates: OnceLock<super::TemplateReader>,
    /// The registry integration tables.
    integrations: OnceLock<super::IntegrationReader>,
    /// The file, for errors (a panic in the engine is reported as damage to it).
    path: Arc<std::path::Path>,
    /// The tag names as they were when the snapshot was made (it cannot see
    /// later tags anyway): read with no lock.
    names: Arc<Names>,
    /// The in-memory copy of this commit's digest index, when the ledger
    /// keeps one and it is of this commit (`memory/`).
    pub(super) memory: Option<CopyView>,
}

/// Row counts, for `stats`: what the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Repositories.
    pub repositories: u64,
    /// Tags, deleted ones included.
    pub tags: u64,
    /// (tag, digest) references.
    pub references: u64,
    /// Distinct observations in the move logs.
    pub observations: u64,
    /// Intervals (digest-index entries): each time a tag started pointing somewhere.
    pub intervals: u64,
    /// (image index, platform manifest) relations.
    pub index_manifests: u64,
    /// (manifest, config) relations.
    pub manifest_configs: u64,
}

impl View {
    /// Whether lookups of this view read the in-memory copy of the digest index.
    pub(crate) fn reads_index_copy(&self) -> bool {
        self.memory.is_some()
    }

    /// Rows of the digest index changed since the version of the copy this
    /// view reads: it reads those from the file.
    pub(crate) fn index_copy_lag(&self) -> u64 {
        self.memory.as_ref().map_or(0, CopyView::stale_rows)
    }

    /// Runs a read of this view with the engine's panics on damaged pages
    /// turned into [`Error::Corrupt`] naming the file (see `handle::guard`).
    pub(crate) fn guarded<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        super::handle::guard(&self.path, || f(self))
    }

    pub(crate) fn new(
        txn: ReadTransaction,
        names: &NameCache,
        path: &std::path::Path,
        memory: Option<CopyView>,
    ) -> Result<Self> {
        Ok(Self {
            path: Arc::from(path),
            repo_keys: txn.open_table(REPO_KEYS)?,
            repos: txn.open_table(REPOS)?,
            tag_keys: txn.open_table(TAG_KEYS)?,
            tags: txn.open_table(TAGS)?,
            tag_log: txn.open_table(TAG_LOG)?,
            digest_index: txn.open_table(DIGEST_INDEX)?,
            journal: OnceLock::new(),
            relations: OnceLock::new(),
            templates: OnceLock::new(),
            integrations: OnceLock::new(),
            txn,
            names: names.current(),
            memory,
        })
    }

    /// The image indexes that list `child`, each with its platform.
    pub(crate) fn parents(&self, child: &Digest) -> Result<Vec<(Digest, crate::model::Platform)>> {
        self.relations()?.parents(child)
    }

    /// The config of `manifest`, if recorded.
    pub(crate) fn config_of(&self, manifest: &Digest) -> Result<Option<Digest>> {
        self.relations()?.config_of(manifest)
    }

    /// The name of tag number `n`. The view's name list holds every tag its
    /// transaction can see (`Store::view` reads new rows first), so a
    /// number beyond it can only come from a damaged file.
    pub(super) fn tag_name(&self, n: u32) -> Result<Arc<TagId>> {
        self.tag_name_ref(n).cloned()
    }

    /// [`View::tag_name`], borrowed: no reference count touched.
    #[inline]
    pub(super) fn tag_name_ref(&self, n: u32) -> Result<&Arc<TagId>> {
        self.names.get(n).ok_or_else(|| {
            Error::Corrupt(format!(
                "table digest_index: tag number {n} has no row in table tags"
            ))
        })
    }

    /// The tag names this view sees, by number.
    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// Tag `id`'s number: its repository's number (`repo_keys`), then
    /// `tag_keys`. A damaged `repo_keys` entry would lead to another
    /// repository's tag, or to none: a number found is checked against the
    /// name cache (in memory), and a miss against the repository's row.
    pub(crate) fn tag_number(&self, id: &TagId) -> Result<Option<u32>> {
        let Some(repo) = self.repo_number(id.repository())? else {
            return Ok(None);
        };
        let found = tag_keys::get(&self.tag_keys, repo, id.tag())?;
        if let Some(n) = found {
            if let Some(named) = self.names.get(n)
                && **named != *id
            {
                return Err(Error::Corrupt(format!(
                    "table repo_keys or tag_keys: {id} leads to tag number {n}, which is {named}"
                )));
            }
        } else {
            let row = self.repos.get(repo)?.ok_or_else(|| no_repo_row(repo))?;
            RepoRow::check_stored_key(row.value(), repo, id.repository())?;
        }
        Ok(found)
    }

    fn tag_row(&self, n: u32) -> Result<TagRow> {
        let row = self.tags.get(n)?.ok_or_else(|| no_tag_row(n))?;
        rows::decode_row("tags", n, row.value())
    }

    /// Fails unless tag number `n` (from `tag_keys`) has a row: a question
    /// that finds no move-log entries or references for a tag asks this, so
    /// a number pointing nowhere is reported instead of read as an empty
    /// history. Costs one point get, and only on that path.
    fn require_tag_row(&self, n: u32) -> Result<()> {
        match self.tags.get(n)? {
            Some(_) => Ok(()),
            None => Err(no_tag_row(n)),
        }
    }

    /// Where tag `n` points now; `None` once deleted.
    pub(crate) fn tag_current(&self, n: u32) -> Result<Option<Digest>> {
        self.require_tag_row(n)?;
        log::current(&self.tag_log, n)
    }

    /// The tag record; `None` for a tag never seen or deleted.
    pub(crate) fn tag_record(&self, id: &TagId) -> Result<Option<Tag>> {
        match self.tag_number(id)? {
            Some(n) => {
                let row = self.tag_row(n)?;
                row.check_name(n, id)?;
                row.to_record(id, log::current(&self.tag_log, n)?)
            }
            None => Ok(None),
        }
    }

    fn repo_number(&self, id: &RepositoryId) -> Result<Option<u32>> {
        Ok(self.repo_keys.get(id.as_str())?.map(|v| v.value()))
    }

    fn repo_row(&self, n: u32) -> Result<RepoRow> {
        let row = self.repos.get(n)?.ok_or_else(|| no_repo_row(n))?;
        rows::decode_row("repos", n, row.value())
    }

    /// The repository record, if it exists.
    pub(crate) fn repository(&self, id: &RepositoryId) -> Result<Option<Repository>> {
        match self.repo_number(id)? {
            Some(n) => self.repo_row(n)?.to_record(id).map(Some),
            None => Ok(None),
        }
    }

    /// Repositories in ID order, after the ID `after`, at most `limit`.
    pub(crate) fn repo_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(RepositoryId, Repository)>> {
        let mut out = Vec::new();
        let iter = match after {
            Some(c) => self
                .repo_keys
                .range::<&str>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))?,
            None => self.repo_keys.iter()?,
        };
        for entry in iter.take(limit) {
            let (k, v) = entry?;
            let id: RepositoryId = k.value().parse().map_err(|e| {
                Error::Corrupt(format!(
                    "table repo_keys, key {:?}: not a repository ID: {e}",
                    k.value()
                ))
            })?;
            let record = self.repo_row(v.value())?.to_record(&id)?;
            out.push((id, record));
        }
        Ok(out)
    }

    /// Tags of `repository` after tag name `after`, in name order, at most
    /// `limit`: each name with its record (`None` for a deleted tag). One
    /// key range of `tag_keys`, then each tag's row and log's end.
    pub(crate) fn repo_tag_page(
        &self,
        repository: &RepositoryId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Option<Tag>)>> {
        let Some(repo) = self.repo_number(repository)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (name, n) in tag_keys::page(&self.tag_keys, repo, after, limit)? {
            let id = TagId::new(repository.clone(), &name).map_err(|e| {
                Error::Corrupt(format!(
                    "table tag_keys, key ({repo}, {name:?}): not a tag ID: {e}"
                ))
            })?;
            let row = self.tag_row(n)?;
            row.check_name(n, &id)?;
            let record = row.to_record(&id, log::current(&self.tag_log, n)?)?;
            out.push((name, record));
        }
        Ok(out)
    }

    /// Tag `n`'s move log, in order.
    pub(crate) fn log(&self, n: u32) -> Result<Vec<(Timestamp, Option<Digest>)>> {
        with_timestamps(n, self.raw_log(n)?)
    }

    /// Tag `n`'s log from its last entry before `t` on (see
    /// [`log::read_log_from`]), as [`View::log`] gives it.
    pub(crate) fn log_from(
        &self,
        n: u32,
        t: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<Digest>)>> {
        with_timestamps(
            n,
            self.kept(n, log::read_log_from(&self.tag_log, n, micros(t))?)?,
        )
    }

    /// Tag `n`'s log as stored; a tag with none must have a row.
    fn raw_log(&self, n: u32) -> Result<Vec<LogEntry>> {
        self.kept(n, log::read_log(&self.tag_log, n)?)
    }

    /// `log`, read for tag `n`, once an empty one is checked against the
    /// tag's row (a number with neither is damage, not an empty history).
    fn kept(&self, n: u32, log: Vec<LogEntry>) -> Result<Vec<LogEntry>> {
        if log.is_empty() {
            self.require_tag_row(n)?;
        }
        Ok(log)
    }

    /// The entry in force at `t` (the last with instant ≤ t): one descent.
    pub(crate) fn in_force(&self, n: u32, t: Timestamp) -> Result<Option<Digest>> {
        if let Some(e) = log::in_force(&self.tag_log, n, micros(t))? {
            return Ok(e.digest);
        }
        self.require_tag_row(n)?;
        Ok(None)
    }

    /// The reference record of (tag, digest), if the tag ever pointed there:
    /// made from the tag's log (the batch that first recorded the pair) and
    /// that batch's journal record (who and when).
    pub(crate) fn reference_record(
        &self,
        tag: &TagId,
        digest: &Digest,
    ) -> Result<Option<Reference>> {
        let Some(n) = self.tag_number(tag)? else {
            return Ok(None);
        };
        let Some(seq) = self
            .raw_log(n)?
            .iter()
            .filter(|e| e.digest.as_ref() == Some(digest))
            .map(|e| e.seq)
            .min()
        else {
            return Ok(None);
        };
        let record = journal::record(self.journal()?, seq)
            .map_err(rows::at(format_args!("reference {tag}@{digest}")))?;
        let created_on =
            from_micros(record.at).map_err(rows::at(format_args!("table journal, batch {seq}")))?;
        Ok(Some(Reference {
            schema: None,
            tag: tag.clone(),
            artifact: *digest,
            created_by: record.actor.clone(),
            created_on,
            last_modified_by: record.actor,
            last_modified_on: created_on,
        }))
    }

    /// Tag `n`'s references newest first (by first observation, then
    /// digest), strictly older than `before` (an instant and digest), at
    /// most `limit`: from the tag's log, which holds every entry of every
    /// reference (O(entries of the tag) per page; not a hot path).
    pub(crate) fn reference_page(
        &self,
        n: u32,
        before: Option<(Timestamp, Digest)>,
        limit: usize,
    ) -> Result<Vec<(Timestamp, Digest)>> {
        let before = before.map(|(t, d)| (micros(t), d));
        let mut first: Vec<(i64, Digest)> = Vec::new();
        for e in self.raw_log(n)? {
            let Some(d) = e.digest else { continue };
            // The log is in time order: the first entry of a digest is its
            // first observation.
            if !first.iter().any(|f| f.1 == d) {
                first.push((e.at, d));
            }
        }
        let mut all: Vec<(i64, Digest)> = first
            .into_iter()
            .filter(|r| before.is_none_or(|b| *r < b))
            .collect();
        // Digests sort like their compact forms, so this is the cursor's order.
        all.sort_unstable_by(|a, b| b.cmp(a));
        all.truncate(limit);
        all.into_iter()
            .map(|(t, d)| {
                let t = from_micros(t).map_err(rows::at(format_args!(
                    "table tag_log, reference {d} of tag number {n}, first observed"
                )))?;
                Ok((t, d))
            })
            .collect()
    }

    /// The journal, opened on first use.
    pub(super) fn journal(&self) -> Result<&ReadOnlyTable<u32, &'static [u8]>> {
        lazily(&self.journal, || Ok(self.txn.open_table(JOURNAL)?))
    }

    /// The last journal record: its number, and its hash (what `head` shows).
    pub(crate) fn head(&self) -> Result<Option<journal::Head>> {
        Ok(journal::head(self.journal()?)?.map(|(seq, row, hash)| (seq, row.at, row.actor, hash)))
    }

    /// The relation tables, opened on first use.
    pub(super) fn relations(&self) -> Result<&RelationReader> {
        lazily(&self.relations, || RelationReader::open(&self.txn))
    }

    /// The template tables (templates, repository settings, violations),
    /// opened on first use.
    pub(crate) fn templates(&self) -> Result<&super::TemplateReader> {
        lazily(&self.templates, || super::TemplateReader::open(&self.txn))
    }

    /// The registry integration tables, opened on first use.
    pub(crate) fn integrations(&self) -> Result<&super::IntegrationReader> {
        lazily(&self.integrations, || {
            super::IntegrationReader::open(&self.txn)
        })
    }

    /// Every repository of registry `domain`, with its number.
    pub(crate) fn repos_in_domain(&self, domain: &str) -> Result<Vec<(RepositoryId, u32)>> {
        super::templates::repos_in_domain(&self.repo_keys, domain)
    }

    /// The settings of the repository of tag number `n` (oldest first):
    /// no read at all while no repository has a setting.
    pub(crate) fn tag_settings(&self, n: u32) -> Result<Vec<crate::model::MutabilitySetting>> {
        if self.templates()?.any_setting() {
            self.templates()?.settings(self.tag_row(n)?.repo)
        } else {
            Ok(vec![crate::model::MutabilitySetting::none()])
        }
    }

    /// The settings of repository `id` (oldest first), if it exists.
    pub(crate) fn repository_settings(
        &self,
        id: &RepositoryId,
    ) -> Result<Option<Vec<crate::model::MutabilitySetting>>> {
        match self.repo_number(id)? {
            Some(n) => self.templates()?.settings(n).map(Some),
            None => Ok(None),
        }
    }

    /// Violations in (observed instant, tag ID) order: see
    /// `TemplateReader::violations`.
    pub(crate) fn violations(
        &self,
        since: Option<i64>,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<(i64, crate::model::Violation)>> {
        self.templates()?.violations(since, after, limit)
    }

    /// Row counts of the main tables.
    pub(crate) fn counts(&self) -> Result<Counts> {
        let (index_manifests, manifest_configs) = self.relations()?.counts()?;
        let (observations, references) = self.log_counts()?;
        Ok(Counts {
            repositories: self.repos.len()?,
            tags: self.tags.len()?,
            references,
            observations,
            intervals: self.interval_count()?,
            index_manifests,
            manifest_configs,
        })
    }

    /// Observations and references: a pass over every tag's log (`stats`
    /// is not on a hot path).
    fn log_counts(&self) -> Result<(u64, u64)> {
        let (mut observations, mut references) = (0u64, 0u64);
        let mut tag = None;
        let mut digests: Vec<Digest> = Vec::new();
        for row in self.tag_log.iter()? {
            let (k, v) = row?;
            let (n, start) = k.value();
            if tag != Some(n) {
                tag = Some(n);
                digests.clear();
            }
            let entries = log::decode(
                v.value(),
                start,
                &format_args!("table tag_log, tag number {n}, chunk at {start}"),
            )?;
            observations = observations.saturating_add(entries.len() as u64);
            for d in entries.into_iter().filter_map(|e| e.digest) {
                if !digests.contains(&d) {
                    digests.push(d);
                    references = references.saturating_add(1);
                }
            }
        }
        Ok((observations, references))
    }

    /// Intervals are packed several to a digest-index row: count them all
    /// (a full scan; `stats` is not on a hot path).
    fn interval_count(&self) -> Result<u64> {
        let mut n = 0u64;
        for row in self.digest_index.iter()? {
            let (k, v) = row?;
            for g in packed::groups(v.value()) {
                let g = g.map_err(rows::at(format_args!(
                    "table digest_index, key {:016x}",
                    k.value()
                )))?;
                n = n.saturating_add(g.count() as u64);
            }
        }
        Ok(n)
    }
}

/// Tag `n`'s log entries with their instants converted.
fn with_timestamps(n: u32, log: Vec<LogEntry>) -> Result<Vec<(Timestamp, Option<Digest>)>> {
    log.into_iter()
        .map(|e| {
            let t = from_micros(e.at)
                .map_err(rows::at(format_args!("table tag_log, tag number {n}")))?;
            Ok((t, e.digest))
        })
        .collect()
}

fn no_repo_row(n: u32) -> Error {
    Error::Corrupt(format!(
        "table repo_keys: repository number {n} has no row in table repos"
    ))
}

fn no_tag_row(n: u32) -> Error {
    Error::Corrupt(format!(
        "table tag_keys: tag number {n} has no row in table tags"
    ))
}

/// The value of `cell`, made by `open` the first time.
fn lazily<T>(cell: &OnceLock<T>, open: impl FnOnce() -> Result<T>) -> Result<&T> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = open()?;
    Ok(cell.get_or_init(|| value))
}
