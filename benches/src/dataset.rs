//! One size's data set on disk: built once from the base, then cached.
//!
//! Each size lives in
//! `target/bench-data/g<generator>-s<schema>-<hash of src/store>-<source>/<size>/`:
//! `ociledger.redb` (filled through `Ledger::ingest` in batches of 10k, in
//! observed-time order per replica, then the set's manifest relations through
//! `Ledger::record_relations`, then compacted), `ociledger-no-relations.redb`
//! (the same file before the relations were recorded, compacted: the lookup
//! bench's in-run baseline for direct hits), `raw.redb` (see
//! [`raw_redb`]), `sqlite.db` (see [`sqlite`]),
//! `queries.tsv` (see [`queries`]), `relation-queries.tsv`
//! (see [`relations`]) and `stats.json` (see
//! [`stats`](crate::stats)). A `complete` marker is written last; a set
//! without it, or whose ledgers no longer open, is rebuilt.

// Rates and averages for the build log and stats.json: counts far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ociledger::Ledger;
use ociledger::model::{ManifestRelation, Observation};

use crate::base::{Base, Part, base};
use crate::queries::{self, Query};
use crate::relations::{self, RelationQuery, RelationSet, base_relations};
use crate::rows::DigestIndex;
use crate::stats::{SetStats, file_len, table_bytes};
use crate::{ACTOR, BATCH, paths, raw_redb, sqlite};

/// Bump when the generated data change, so old caches are not reused.
/// 7: manifest relations (schema 4), `ociledger-no-relations.redb`,
/// `relation-queries.tsv`, relation digests in `raw.redb`.
pub const GENERATOR_VERSION: u32 = 7;

/// The files of one size.
#[derive(Debug, Clone)]
pub struct DataSet {
    /// References in the set.
    pub size: u64,
    /// The set's directory.
    pub dir: PathBuf,
    /// `ociledger.redb`.
    pub ledger: PathBuf,
    /// `ociledger-no-relations.redb`: the same observations, no relations.
    pub ledger_no_relations: PathBuf,
    /// `raw.redb`.
    pub raw: PathBuf,
    /// `sqlite.db`.
    pub sqlite: PathBuf,
    /// `queries.tsv`.
    pub queries: PathBuf,
    /// `relation-queries.tsv`.
    pub relation_queries: PathBuf,
    /// `stats.json`.
    pub stats: PathBuf,
}

impl DataSet {
    /// The set of `size` references, built if it is missing.
    #[must_use]
    pub fn ensure(size: u64) -> DataSet {
        let dir = paths::bench_root()
            .join(format!(
                "g{GENERATOR_VERSION}-s{}-{:08x}-{}",
                ociledger::SCHEMA_VERSION,
                store_fingerprint(),
                Base::source_name()
            ))
            .join(size.to_string());
        let set = DataSet {
            size,
            ledger: dir.join("ociledger.redb"),
            ledger_no_relations: dir.join("ociledger-no-relations.redb"),
            raw: dir.join("raw.redb"),
            sqlite: dir.join("sqlite.db"),
            queries: dir.join("queries.tsv"),
            relation_queries: dir.join("relation-queries.tsv"),
            stats: dir.join("stats.json"),
            dir,
        };
        let opens = |p: &Path| Ledger::open(p).and_then(|l| l.snapshot().map(drop)).is_ok();
        let usable = set.dir.join("complete").exists()
            && opens(&set.ledger)
            && opens(&set.ledger_no_relations);
        if !usable {
            set.build();
        }
        set
    }

    /// The set's fixed query mix.
    #[must_use]
    pub fn load_queries(&self) -> Vec<Query> {
        queries::load(&self.queries)
    }

    /// The set's relation queries (index, platform manifest, config).
    #[must_use]
    pub fn load_relation_queries(&self) -> Vec<RelationQuery> {
        relations::load_queries(&self.relation_queries)
    }

    fn build(&self) {
        let total = Instant::now();
        let base = base();
        eprintln!(
            "[bench-data] building {} references in {}",
            self.size,
            self.dir.display()
        );
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir).expect("clear old set");
        }
        fs::create_dir_all(&self.dir).expect("create set dir");
        let parts = base.plan(self.size);

        // 1. The digest-index rows, computed independently of the ledger (public `coalesce`).
        let t = Instant::now();
        let index = DigestIndex::compute(base, &parts);
        let observations = index.observations;
        eprintln!(
            "[bench-data] {observations} observations, {} rows, {} tags ({:.1?})",
            index.rows.len(),
            index.names.len(),
            t.elapsed()
        );
        let t = Instant::now();
        let rels = RelationSet::compute(base, base_relations(), &parts, &index);
        eprintln!(
            "[bench-data] relations: {:?}, {} relation queries ({:.1?})",
            rels.stats,
            rels.queries.len(),
            t.elapsed()
        );

        // 2. The ledger through its ingest API (one thread), while this thread
        //    writes the raw redb and SQLite copies.
        let mut stats = SetStats {
            size: self.size,
            source: base.source.to_owned(),
            observations,
            rows: index.rows.len() as u64,
            ..SetStats::default()
        };
        let (ledger_seconds, counts) = std::thread::scope(|s| {
            let ledger = s.spawn(|| {
                build_ledger(
                    base,
                    &parts,
                    &self.ledger,
                    &self.ledger_no_relations,
                    observations,
                )
            });
            let t = Instant::now();
            stats.distinct_digests = raw_redb::build(&index, &rels.flagged, &self.raw);
            stats.raw_build_seconds = t.elapsed().as_secs_f64();
            let t = Instant::now();
            sqlite::build(&index, &self.sqlite);
            stats.sqlite_build_seconds = t.elapsed().as_secs_f64();
            eprintln!(
                "[bench-data] raw redb {:.1}s, sqlite {:.1}s",
                stats.raw_build_seconds, stats.sqlite_build_seconds
            );
            queries::write(&index, &self.queries);
            rels.write_queries(&self.relation_queries);
            ledger.join().expect("ledger build")
        });
        let (counts, relation_seconds) = counts;
        stats.relations = rels.stats;
        stats.relations.record_seconds = relation_seconds;
        stats.ledger_build_seconds = ledger_seconds;
        stats.ledger_ingest_obs_per_second = observations as f64 / ledger_seconds;
        self.finish(&mut stats, &counts);
        fs::write(
            &self.stats,
            serde_json::to_vec_pretty(&stats).expect("json"),
        )
        .expect("write stats.json");
        fs::write(self.dir.join("complete"), b"").expect("marker");
        eprintln!(
            "[bench-data] {} references ready in {:.1?}: ledger {} B ({:.1} B/ref; {} B before compacting), raw {} B, sqlite {} B",
            stats.ledger_references,
            total.elapsed(),
            stats.ledger_bytes,
            stats.ledger_bytes as f64 / stats.ledger_references.max(1) as f64,
            stats.ledger_bytes_ingested,
            stats.raw_bytes,
            stats.sqlite_bytes
        );
    }

    /// Takes the ledger's counts and the files' sizes into `stats`, compacts
    /// both ledger files, and checks the ledger against the independent
    /// replay.
    fn finish(&self, stats: &mut SetStats, counts: &ociledger::Counts) {
        stats.ledger_references = counts.references;
        stats.ledger_observations = counts.observations;
        stats.ledger_intervals = counts.intervals;
        stats.ledger_tags = counts.tags;
        stats.ledger_repositories = counts.repositories;
        stats.ledger_index_manifests = counts.index_manifests;
        stats.ledger_manifest_configs = counts.manifest_configs;
        stats.ledger_bytes_ingested = file_len(&self.ledger_no_relations);
        stats.ledger_bytes_with_relations = file_len(&self.ledger);
        for path in [&self.ledger, &self.ledger_no_relations] {
            let compaction = Ledger::open(path)
                .and_then(|l| l.compact())
                .expect("compact the ledger");
            eprintln!("[bench-data] compacted {}: {compaction:?}", path.display());
        }
        stats.ledger_bytes_no_relations = file_len(&self.ledger_no_relations);
        stats.ledger_bytes = file_len(&self.ledger);
        stats.raw_bytes = file_len(&self.raw);
        stats.sqlite_bytes = file_len(&self.sqlite);
        stats.ledger_tables = table_bytes(&self.ledger);
        stats.raw_tables = table_bytes(&self.raw);
        assert_eq!(
            stats.ledger_intervals, stats.rows,
            "the ledger's digest index and the independent replay disagree on the number of intervals"
        );
        assert_eq!(
            (stats.ledger_index_manifests, stats.ledger_manifest_configs),
            (
                stats.relations.index_manifests,
                stats.relations.manifest_configs
            ),
            "the ledger and the set's relations disagree on the number of (index, manifest) and (manifest, config) pairs"
        );
    }
}

/// A hash of the files of `src/store/` that decide what a write stores: the
/// file layout can change without a schema version bump while the code is
/// young, and a cached file of another layout must not be reused (it is
/// also checked by opening it). Files that only read (verify, backup) are
/// left out, and so are the subdirectories (`handle/`: opening files, whose
/// tables are the schema version's; `read/`: the lookups; `memory/`: the
/// in-memory copy; `salvage/`; `templates/`, which the sets do not use), so
/// changing them does not rebuild the sets.
fn store_fingerprint() -> u32 {
    const NOT_LAYOUT: [&str; 2] = ["verify.rs", "backup.rs"];
    let dir = paths::repo_root().join("src/store");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|f| {
        f.is_file()
            && f.file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| !NOT_LAYOUT.contains(&n))
    });
    files.sort();
    let mut h: u32 = 0x811c_9dc5; // FNV-1a
    for f in files {
        for b in fs::read(&f).unwrap_or_default() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// Fills the ledger at `path` through `Ledger::ingest`, copies it to
/// `no_relations`, then records the parts' manifest relations in `path`;
/// returns the seconds the ingest took, and the ledger's counts with the
/// seconds the relations took.
fn build_ledger(
    base: &Base,
    parts: &[Part],
    path: &Path,
    no_relations: &Path,
    total: u64,
) -> (f64, (ociledger::Counts, f64)) {
    let start = Instant::now();
    let ledger = Ledger::create(path).expect("create ledger");
    let mut pending: Vec<Observation> = Vec::with_capacity(2 * BATCH);
    let mut done = 0u64;
    let mut last_report = Instant::now();
    let mut flush = |pending: &mut Vec<Observation>, all: bool| {
        while pending.len() >= BATCH || (all && !pending.is_empty()) {
            let n = pending.len().min(BATCH);
            ledger.ingest(ACTOR, &pending[..n]).expect("ingest");
            pending.drain(..n);
            done += n as u64;
            if last_report.elapsed() > Duration::from_secs(30) {
                last_report = Instant::now();
                eprintln!(
                    "[bench-data]   ledger: {done}/{total} observations ({:.0}/s)",
                    done as f64 / start.elapsed().as_secs_f64()
                );
            }
        }
    };
    for part in parts {
        let (_, obs) = base.materialize(part);
        pending.extend(obs.into_iter().map(|(_, o)| o));
        flush(&mut pending, false);
    }
    flush(&mut pending, true);
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "[bench-data] ledger ingest {secs:.1}s ({:.0} observations/s)",
        total as f64 / secs
    );
    drop(ledger);
    fs::copy(path, no_relations).expect("copy the ledger before its relations");

    // The relations, as a scanner would record them after the tags: per part,
    // in transactions of up to BATCH relations.
    let start = Instant::now();
    let ledger = Ledger::open(path).expect("reopen ledger");
    let mut recorded = 0;
    for part in parts {
        let relations: Vec<ManifestRelation> = base_relations().for_part(base, part);
        for chunk in relations.chunks(BATCH) {
            ledger
                .record_relations(ACTOR, chunk)
                .expect("record relations");
            recorded += chunk.len();
        }
    }
    let rel_secs = start.elapsed().as_secs_f64();
    eprintln!(
        "[bench-data] ledger relations {rel_secs:.1}s ({recorded} relations, {:.0}/s)",
        recorded as f64 / rel_secs
    );
    let counts = ledger.stats().expect("stats").counts;
    (secs, (counts, rel_secs))
}
