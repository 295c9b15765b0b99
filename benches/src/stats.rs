//! The figures of a built data set (`stats.json`): sizes of the three files
//! and of every redb table, build times, and the ledger's own counts.

use std::fs;
use std::path::Path;

use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};
use serde::Serialize;

use crate::relations::RelationStats;

/// Figures written when a set is built.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SetStats {
    /// References asked for.
    pub size: u64,
    /// Where the base came from: `shared`, `sample` or `synthetic`.
    pub source: String,
    /// Observations ingested.
    pub observations: u64,
    // The ledger's own counts after the build (`ledger_intervals` == `rows`).
    pub ledger_references: u64,
    pub ledger_observations: u64,
    pub ledger_intervals: u64,
    pub ledger_tags: u64,
    pub ledger_repositories: u64,
    pub ledger_index_manifests: u64,
    pub ledger_manifest_configs: u64,
    /// Digest-index rows computed independently of the ledger.
    pub rows: u64,
    /// Distinct digests among the rows.
    pub distinct_digests: u64,
    /// The ledger file after `Ledger::compact` (the lookups run on it).
    pub ledger_bytes: u64,
    /// The ledger file as the batches of `ingest` left it, before compacting
    /// and before the relations.
    pub ledger_bytes_ingested: u64,
    /// The ledger file after `record_relations`, before compacting.
    pub ledger_bytes_with_relations: u64,
    /// `ociledger-no-relations.redb` after `Ledger::compact`.
    pub ledger_bytes_no_relations: u64,
    /// The set's manifest relations.
    pub relations: RelationStats,
    /// `raw.redb`.
    pub raw_bytes: u64,
    /// `sqlite.db`.
    pub sqlite_bytes: u64,
    /// Wall time of the ledger's ingest.
    pub ledger_build_seconds: f64,
    /// Observations per second of that ingest.
    pub ledger_ingest_obs_per_second: f64,
    /// Wall time of writing `raw.redb`.
    pub raw_build_seconds: f64,
    /// Wall time of writing `sqlite.db`.
    pub sqlite_build_seconds: f64,
    /// Per redb table of the ledger file.
    pub ledger_tables: Vec<TableBytes>,
    /// Per redb table of `raw.redb`.
    pub raw_tables: Vec<TableBytes>,
}

/// Storage of one redb table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableBytes {
    /// Table name.
    pub name: String,
    /// Entries.
    pub entries: u64,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes of page headers and tree structure.
    pub metadata_bytes: u64,
    /// Unused bytes in the table's pages.
    pub fragmented_bytes: u64,
    /// Leaf pages.
    pub leaf_pages: u64,
    /// Branch pages.
    pub branch_pages: u64,
    /// Height of the table's tree.
    pub height: u32,
}

/// Per-table storage of a redb file (every table is a plain table).
#[must_use]
pub fn table_bytes(path: &Path) -> Vec<TableBytes> {
    let db = redb::Database::open(path).expect("open redb for stats");
    let txn = db.begin_read().expect("read");
    let mut out = Vec::new();
    for handle in txn.list_tables().expect("tables") {
        let name = handle.name().to_owned();
        let table = txn.open_untyped_table(handle).expect("open untyped");
        let s = table.stats().expect("stats");
        out.push(TableBytes {
            name,
            entries: table.len().expect("len"),
            stored_bytes: s.stored_bytes(),
            metadata_bytes: s.metadata_bytes(),
            fragmented_bytes: s.fragmented_bytes(),
            leaf_pages: s.leaf_pages(),
            branch_pages: s.branch_pages(),
            height: s.tree_height(),
        });
    }
    out
}

/// A file's length, 0 when missing.
#[must_use]
pub fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map_or(0, |m| m.len())
}
