//! The in-memory copy of the digest index while a writer keeps committing
//! (issue 9, ledger schema 8): lookups from a copy of an older commit, which
//! read only the rows changed since (the change list `index_changes` names
//! them) from the file.
//!
//! Per data set (`OCILEDGER_BENCH_SIZES`, as the other benches): a scratch
//! copy of the set's ledger file, opened for writing, keeps its index in
//! memory; then commits of [`PER_COMMIT`] observations each, as a scanner
//! makes them (one repository's tags, moving to new digests each commit),
//! leave the copy behind by the rows they changed. Group `copy_lag`, each
//! over the set's 1000-query mix through a reused `Lookup` buffer:
//! - `copy_current`: a snapshot of the copy's own commit;
//! - `copy_lag_1`, `copy_lag_8`: snapshots after 1 and 8 commits (about
//!   100 and 800 changed rows: under the 1,024 that start a rebuild, so no
//!   background thread runs while they are timed);
//! - `file`: the same commit as `copy_lag_8`, without a copy.
//!
//! Group `copy_lag_changed`: the 800 digests the commits wrote, which every
//! lookup of `copy_lag_8` must read from the file (`copy_lag_8`), against
//! the same lookups of `file`. Before timing, every answer of the lagging
//! snapshots is checked to be the file's.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ociledger::id::{Algorithm, Digest, TagId};
use ociledger::model::{Observation, Timestamp};
use ociledger::{Ledger, Matches, Snapshot};
use ociledger_bench::dataset::DataSet;
use ociledger_bench::{ACTOR, paths, settings};

/// Observations per commit: one repository's tags.
const PER_COMMIT: usize = 100;
/// Commits before the second lagging snapshot.
const COMMITS: usize = 8;

fn read_all(answer: Matches<'_>) -> usize {
    let mut n = 0;
    for m in answer.iter() {
        black_box(m);
        n += 1;
    }
    n
}

/// Commit `c` of the round: tag `i` of one repository moves to digest
/// `(c, i)`. Returns the digests written.
fn commit(ledger: &Ledger, c: usize, now: Timestamp) -> Vec<Digest> {
    let batch: Vec<Observation> = (0..PER_COMMIT)
        .map(|i| {
            let tag: TagId = format!("bench.example/lag/scanned:t{i}")
                .parse()
                .expect("tag id");
            let digest = Digest::of(Algorithm::Sha256, format!("lag {c} {i}").as_bytes());
            let at = now + chrono::Duration::seconds(i64::try_from(c).expect("small"));
            Observation::new(tag, digest, at)
        })
        .collect();
    ledger.ingest(ACTOR, &batch).expect("commit");
    batch.into_iter().map(|o| o.digest).collect()
}

/// Every digest's answer from `snap` is `file`'s.
fn check(name: &str, snap: &Snapshot, file: &Snapshot, digests: &[Digest]) {
    for d in digests {
        assert_eq!(
            snap.tags_for_digest(d).expect("lookup"),
            file.tags_for_digest(d).expect("lookup"),
            "{name}: {d}"
        );
    }
}

fn bench_lookups(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    size: u64,
    snap: &Snapshot,
    digests: &[Digest],
) {
    group.bench_function(BenchmarkId::new(name, size), |b| {
        let mut lookup = snap.lookup();
        let mut i = 0;
        b.iter(|| {
            let d = &digests[i % digests.len()];
            i += 1;
            read_all(lookup.tags_for_digest(black_box(d)).expect("lookup"))
        });
    });
}

fn copy_lag(c: &mut Criterion) {
    for size in settings::sizes() {
        let set = DataSet::ensure(size);
        let queries: Vec<Digest> = set.load_queries().iter().map(|q| q.digest).collect();
        let scratch = paths::scratch_dir();
        let path = scratch.path().join("lagging.redb");
        std::fs::copy(&set.ledger, &path).expect("copy the set's ledger");
        let ledger = Ledger::open(&path).expect("open the copy for writing");
        let now = chrono::Utc::now() - chrono::Duration::minutes(1);
        let copy = ledger.keep_index_in_memory().expect("keep the index");

        let current = ledger.snapshot().expect("snapshot");
        assert_eq!(current.index_copy_lag(), 0);
        let mut written = commit(&ledger, 0, now);
        let lag_1 = ledger.snapshot().expect("snapshot");
        for c in 1..COMMITS {
            written.extend(commit(&ledger, c, now));
        }
        let lag_8 = ledger.snapshot().expect("snapshot");
        let (lag_1_rows, lag_8_rows) = (lag_1.index_copy_lag(), lag_8.index_copy_lag());
        assert!(
            lag_1.reads_index_from_memory() && lag_8.reads_index_from_memory(),
            "lagging snapshots read the copy"
        );
        assert!(lag_1_rows > 0 && lag_8_rows > lag_1_rows);
        ledger.release_index_memory();
        let file = ledger.snapshot().expect("snapshot");
        assert!(!file.reads_index_from_memory());
        check("copy_lag_8", &lag_8, &file, &queries);
        check("copy_lag_8, changed rows", &lag_8, &file, &written);
        eprintln!(
            "copy_lag/{}: copy of {} rows; lag after 1 commit {lag_1_rows} rows, after {COMMITS} {lag_8_rows}",
            settings::size_label(size),
            copy.rows
        );

        let mut group = c.benchmark_group("copy_lag");
        bench_lookups(&mut group, "copy_current", size, &current, &queries);
        bench_lookups(&mut group, "copy_lag_1", size, &lag_1, &queries);
        bench_lookups(&mut group, "copy_lag_8", size, &lag_8, &queries);
        bench_lookups(&mut group, "file", size, &file, &queries);
        group.finish();
        let mut group = c.benchmark_group("copy_lag_changed");
        bench_lookups(&mut group, "copy_lag_8", size, &lag_8, &written);
        bench_lookups(&mut group, "file", size, &file, &written);
        group.finish();
        // Snapshots and the handle before the scratch directory goes.
        drop((current, lag_1, lag_8, file, ledger, scratch));
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = copy_lag
}
criterion_main!(benches);
