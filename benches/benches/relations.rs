//! Run: `cargo bench -p ociledger-bench --bench relations` (from the repository root).
//!
//! `Ledger::record_relations` of a scanner's batch of image indexes, in one
//! write transaction, on a data set's ledger that already holds the set's
//! relations. Each index relation adds an (index, manifest) row per platform
//! manifest and flags every platform manifest and config in its digest-index
//! row. The case that matters is a *re-push*: a new index digest listing
//! platform manifests the ledger already knows (the same images pushed again
//! under a new index), whose flags every row already carries, so the digest
//! index should not be written at all (`flush_index`,
//! `src/store/write/index.rs`).
//!
//! Group `relations` (`Throughput::Elements` = the batch's (index, manifest)
//! rows), parameter = references in the data set (10k and 1M; 10k in quick
//! mode; 10M only when `OCILEDGER_BENCH_SIZES` names it). The batch is the
//! first [`INDEXES`] index relations of the set's parts (fewer if the set
//! has fewer):
//! - `ociledger/re-push`: each with a new index digest, the same manifests;
//! - `ociledger/new`: each with its index, platform manifest and config
//!   digests all new (nothing in the batch is known to the ledger);
//! - `redb_raw`: the re-push batch's rows in a bare redb table, (manifest,
//!   index) → platform, one insert per row in one transaction, in a copy of
//!   the set's `raw.redb` whose table already holds every (manifest, index)
//!   row of the set: the engine's own cost of writing those rows among as
//!   many others as the ledger's `manifest_parents` holds.
//!
//! Every iteration opens a fresh copy of the set's file (not timed), so each
//! batch meets the same file, with a cold redb cache, as a scanner process
//! that opens the file once per scan would.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use ociledger::Ledger;
use ociledger::id::{Algorithm, Digest};
use ociledger::model::{IndexRelation, ManifestRelation, PlatformManifest};
use ociledger_bench::base::base;
use ociledger_bench::dataset::DataSet;
use ociledger_bench::relations::base_relations;
use ociledger_bench::{ACTOR, paths, settings};

/// Index relations per batch.
const INDEXES: usize = 1_000;

/// (platform manifest compact digest, index compact digest) → platform.
const RAW_RELATIONS: redb::TableDefinition<(&[u8], &[u8]), &[u8]> =
    redb::TableDefinition::new("index_manifest");

/// A digest no set holds, derived from `d`.
fn renamed(d: &Digest) -> Digest {
    Digest::of(
        Algorithm::Sha256,
        &[&d.to_compact()[..], b"re-push"].concat(),
    )
}

/// The sizes to run: 10M only when `OCILEDGER_BENCH_SIZES` asks for it.
fn sizes() -> Vec<u64> {
    let asked = std::env::var_os("OCILEDGER_BENCH_SIZES").is_some();
    settings::sizes()
        .into_iter()
        .filter(|&s| asked || s <= 1_000_000)
        .collect()
}

/// Every index relation of the set of `size` references, in the order the
/// set recorded them (part by part).
fn set_indexes(size: u64) -> Vec<IndexRelation> {
    let base = base();
    base.plan(size)
        .iter()
        .flat_map(|part| base_relations().for_part(base, part))
        .filter_map(|relation| match relation {
            ManifestRelation::Index(index) => Some(index),
            ManifestRelation::Config(_) => None,
        })
        .collect()
}

/// The re-push batch (new index digests, known manifests) and the all-new
/// batch (index, manifest and config digests all new).
fn batches(indexes: &[IndexRelation]) -> (Vec<ManifestRelation>, Vec<ManifestRelation>) {
    let repush = indexes
        .iter()
        .map(|ix| {
            ManifestRelation::Index(IndexRelation {
                index: renamed(&ix.index),
                ..ix.clone()
            })
        })
        .collect();
    let new = indexes
        .iter()
        .map(|ix| {
            ManifestRelation::Index(IndexRelation {
                index: renamed(&ix.index),
                manifests: ix
                    .manifests
                    .iter()
                    .map(|m| PlatformManifest {
                        digest: renamed(&m.digest),
                        platform: m.platform.clone(),
                        config: m.config.as_ref().map(renamed),
                    })
                    .collect(),
                ..ix.clone()
            })
        })
        .collect();
    (repush, new)
}

/// The re-push batch's rows: (manifest compact digest, index compact
/// digest, platform).
fn raw_rows<'a>(
    batch: impl IntoIterator<Item = &'a IndexRelation>,
) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut rows = Vec::new();
    for ix in batch {
        for m in &ix.manifests {
            rows.push((
                m.digest.to_compact(),
                ix.index.to_compact(),
                m.platform.to_string().into_bytes(),
            ));
        }
    }
    rows
}

/// Inserts `rows` into the raw table of `db`, in one transaction.
fn raw_insert(db: &redb::Database, rows: &[(Vec<u8>, Vec<u8>, Vec<u8>)]) {
    let txn = db.begin_write().expect("write");
    {
        let mut table = txn.open_table(RAW_RELATIONS).expect("table");
        for (child, index, platform) in rows {
            table
                .insert((&child[..], &index[..]), &platform[..])
                .expect("insert");
        }
    }
    txn.commit().expect("commit");
}

fn relations(c: &mut Criterion) {
    let mut group = c.benchmark_group("relations");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    if !settings::quick() {
        group.measurement_time(Duration::from_secs(10));
    }
    for size in sizes() {
        let set = DataSet::ensure(size);
        let indexes = set_indexes(size);
        let (repush, new) = batches(&indexes[..indexes.len().min(INDEXES)]);
        let rows = raw_rows(repush.iter().filter_map(|r| match r {
            ManifestRelation::Index(ix) => Some(ix),
            ManifestRelation::Config(_) => None,
        }));
        let dir = paths::scratch_dir();
        // The raw file with the set's (manifest, index) rows, as the
        // ledger's file holds them.
        let raw = dir.path().join("raw-relations.redb");
        std::fs::copy(&set.raw, &raw).expect("copy raw.redb");
        let mut all = raw_rows(&indexes);
        all.sort_unstable();
        raw_insert(&redb::Database::open(&raw).expect("open"), &all);
        let copy = |from: &Path| {
            let to = dir.path().join("pushed.redb");
            std::fs::copy(from, &to).expect("copy");
            to
        };
        // Not timed: what each batch creates, for the log.
        for (name, batch) in [("re-push", &repush), ("new", &new)] {
            let ledger = Ledger::open(copy(&set.ledger)).expect("open");
            let created = ledger.record_relations(ACTOR, batch).expect("record");
            eprintln!(
                "[relations {size}] {name}: {} indexes, {} (index, manifest) rows, {created} relations created",
                batch.len(),
                rows.len()
            );
        }
        group.throughput(Throughput::Elements(rows.len() as u64));
        for (name, batch) in [("ociledger/re-push", &repush), ("ociledger/new", &new)] {
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_batched(
                    || Ledger::open(copy(&set.ledger)).expect("open"),
                    |ledger| {
                        black_box(ledger.record_relations(ACTOR, batch).expect("record"));
                        ledger
                    },
                    BatchSize::PerIteration,
                );
            });
        }
        group.bench_function(BenchmarkId::new("redb_raw", size), |b| {
            b.iter_batched(
                || redb::Database::open(copy(&raw)).expect("open"),
                |db| {
                    raw_insert(&db, &rows);
                    db
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = relations
}
criterion_main!(benches);
