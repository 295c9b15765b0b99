//! Run: `cargo bench -p ociledger-bench --bench rescan` (from the repository root).
//!
//! A scanner lists every tag of a repository on every scan and records each
//! one, moved or not (`Ledger::record_scan`; an unchanged observation is
//! kept as evidence), so a tag that never moves gets an entry per scan, all
//! of one digest. One more scan must cost what the first ones did, however
//! many came before: this bench measures it against the history's length.
//!
//! Group `rescan` (`Throughput::Elements` = the 1,000 tags a scan records),
//! parameter = scans already recorded per tag (10, 100, 1,000; 10 in quick
//! mode):
//! - `ociledger`: `Ledger::ingest` of one scan, every tag observed at the
//!   digest it has pointed to since the first scan;
//! - `redb_raw`: the same entries as rows of one redb table, (tag number,
//!   instant) → digest, one insert per tag per scan, one transaction per
//!   scan: the engine's cost of appending to a history of that length.
//!
//! Each file is written once per parameter (`scans` entries per tag, in one
//! transaction); every iteration opens a fresh copy of it (not timed) and
//! times one scan at the next second, so the history is the same length in
//! every iteration. The copies start with a cold redb cache, as a scanner
//! process that opens the file once per scan would.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use ociledger::Ledger;
use ociledger::id::{Algorithm, Digest, TagId};
use ociledger::model::{Observation, Timestamp};
use ociledger_bench::{ACTOR, paths, settings};

/// Tags per repository scan.
const TAGS: u32 = 1_000;

const RAW_LOG: redb::TableDefinition<(u32, i64), &[u8]> = redb::TableDefinition::new("log");

fn at(scan: i64) -> Timestamp {
    Timestamp::from_timestamp(1_700_000_000 + scan, 0).expect("in range")
}

fn digest(tag: u32) -> Digest {
    Digest::of(Algorithm::Sha256, &tag.to_le_bytes())
}

/// Scan number `scan`: every tag at its one digest.
fn scan(tags: &[TagId], scan: i64) -> Vec<Observation> {
    (0..TAGS)
        .zip(tags)
        .map(|(n, tag)| Observation::new(tag.clone(), digest(n), at(scan)))
        .collect()
}

/// Appends scans `first..first + count` to the raw table, in one
/// transaction: every tag's entry of each, keyed (tag number, instant).
fn raw_append(db: &redb::Database, first: i64, count: i64) {
    let txn = db.begin_write().expect("write");
    {
        let mut log = txn.open_table(RAW_LOG).expect("table");
        for n in 0..TAGS {
            let d = digest(n);
            for s in first..first + count {
                log.insert((n, at(s).timestamp_micros()), d.as_bytes())
                    .expect("insert");
            }
        }
    }
    txn.commit().expect("commit");
}

fn rescan(c: &mut Criterion) {
    let tags: Vec<TagId> = (0..TAGS)
        .map(|n| {
            format!("bench.example/rescan:tag-{n}")
                .parse()
                .expect("tag")
        })
        .collect();
    let histories: &[i64] = if settings::quick() {
        &[10]
    } else {
        &[10, 100, 1_000]
    };
    let mut group = c.benchmark_group("rescan");
    group.throughput(Throughput::Elements(u64::from(TAGS)));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    if !settings::quick() {
        group.measurement_time(Duration::from_secs(5));
    }
    for &scans in histories {
        // The files as `scans` scans left them; every iteration scans a
        // copy of one, so the history does not grow as criterion iterates.
        let dir = paths::scratch_dir();
        let (ledger_file, raw_file) = (dir.path().join("ledger.redb"), dir.path().join("raw.redb"));
        {
            let ledger = Ledger::create(&ledger_file).expect("create");
            let history: Vec<Observation> = (0..scans).flat_map(|s| scan(&tags, s)).collect();
            ledger.ingest(ACTOR, &history).expect("history");
            let db = redb::Database::create(&raw_file).expect("create");
            raw_append(&db, 0, scans);
        }
        let copy = |from: &Path| {
            let to = dir.path().join("scanned.redb");
            std::fs::copy(from, &to).expect("copy");
            to
        };
        group.bench_function(BenchmarkId::new("ociledger", scans), |b| {
            b.iter_batched(
                || {
                    let ledger = Ledger::open(copy(&ledger_file)).expect("open");
                    (ledger, scan(&tags, scans))
                },
                |(ledger, batch)| {
                    black_box(ledger.ingest(ACTOR, &batch).expect("scan"));
                    ledger
                },
                BatchSize::PerIteration,
            );
        });
        group.bench_function(BenchmarkId::new("redb_raw", scans), |b| {
            b.iter_batched(
                || redb::Database::open(copy(&raw_file)).expect("open"),
                |db| {
                    raw_append(&db, scans, 1);
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
    targets = rescan
}
criterion_main!(benches);
