//! The write phase: the [`Plan`] written into the new ledger file, in one
//! write transaction.

use std::path::Path;

use redb::{Builder, ReadableDatabase, ReadableTableMetadata, TableHandle, WriteTransaction};

use super::super::handle::{initialize, open_error};
use super::super::log::{self, Chunk};
use super::super::names::NameCache;
use super::super::rows;
use super::super::write::{Writer, index_runs};
use super::super::{
    CONFIGS, INTEGRATION_META, INTEGRATION_NAMES, INTEGRATIONS, JOURNAL, PARENTS, REPO_KEYS,
    REPO_SETTINGS, REPOS, TAG_KEYS, TAG_LOG, TAGS, TEMPLATES,
};
use super::plan::{Plan, number};
use super::{Salvaged, table_name};
use crate::error::Result;
use crate::model::{ManifestRelation, MutabilitySetting};

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
            keys.insert((tag.row.repo, tag.row.name.as_str()), n)?;
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
    // The salvaged tags' names, from the rows just written, put each
    // digest's entries of one instant in name order. Without them (a row
    // that does not name its tag) the groups are written unflagged, in
    // tag-number order, which lookups sort: still every answer.
    w.take_names(&NameCache::default()).ok();
    for (n, tag) in plan.tags.iter().enumerate() {
        let n = number(n)?;
        let log = tag.log();
        w.reindex(n, &[], &index_runs(n, &log)?);
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
pub(super) fn write(plan: &Plan, path: &Path, builder: &Builder) -> Result<Salvaged> {
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
