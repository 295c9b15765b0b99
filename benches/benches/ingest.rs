//! Run: `cargo bench -p ociledger-bench --bench ingest` (from the repository root).
//!
//! The scanner's path: observations per second, in batches of 10k, one
//! transaction per batch.
//!
//! Group `ingest` (`Throughput::Elements` = observations):
//! - `ociledger`: `Ledger::ingest`;
//! - `redb_raw`: one row per observation (compact digest → tag number, tags
//!   interned in a `HashMap`) in one redb write transaction per batch: the engine's limit
//!   ([`RawIngest`]);
//! - `sqlite`: the same work as `ingest` in one SQLite transaction per batch
//!   (WAL, `synchronous = FULL`, durable like redb's default): repository
//!   upsert per repository in the batch, then per tag its row (looked up, or
//!   inserted), and per observation the move-log row, the reference upsert
//!   (no ordering index: ledger schema 2 has none either), and the digest-index rows (close the open
//!   interval, open the new one), and the tag's current digest.
//!   It handles observations in time order only (an older observation is logged
//!   and referenced but does not re-derive intervals), so it does a little less
//!   than `ingest`, which re-derives the tag's intervals from the one in force at
//!   its earliest new entry on, whatever the order.
//!
//! Every contender starts from an empty file in `target/bench-data/tmp/` and
//! consumes the same endless stream (`ociledger_bench::stream`): the real
//! histories replayed under new names, in observed-time order, so batches mix
//! new tags and moves of tags seen in earlier batches. Each iteration is one
//! batch, timed alone (the batch is built before the clock starts). A
//! contender's file and stream are made once, outside criterion's routine:
//! criterion calls the routine once per sample (and per warm-up step), and
//! until 2026-12-03 each call made a new file, so every figure was of a
//! file's first five to nine batches (docs/benchmarks.md, twenty-second
//! run). Now the samples go on where the last one stopped, so the faster
//! contender is timed on a bigger file; the paired rounds below compare them
//! at equal sizes.
//!
//! **Paired rounds** (after the group; `OCILEDGER_BENCH_PAIRED_ROUNDS`, 200
//! by default, 12 in quick mode, 0 to skip): each round ingests the same
//! batch into every contender's own file, in an order that rotates, each
//! timed alone, and takes the ratios per round. The files grow a batch a
//! round, so each round compares the contenders at the same size, and a busy
//! moment on a shared machine falls on one round, not on one contender's
//! whole estimate. The first [`PAIRED_WARM_UP`] rounds are not counted. The
//! medians, quartiles and the medians of each tenth of the rounds (the files
//! growing) are printed and written to
//! `target/bench-data/report/ingest-paired.json`.
//!
//! `OCILEDGER_BENCH_PROFILE=<ociledger|redb_raw|sqlite>` ingests 10 batches
//! through that contender and nothing else, for `valgrind --tool=callgrind`;
//! with `OCILEDGER_BENCH_PROFILE_AFTER=N`, after N batches into the same file
//! first. Each of the 10 goes through [`counted`], for
//! `--toggle-collect='*ingest::counted*'`.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use ociledger::Ledger;
use ociledger::id::{Digest, TagId};
use ociledger::model::Observation;
use ociledger_bench::raw_ingest::RawIngest;
use ociledger_bench::stream::Stream;
use ociledger_bench::{ACTOR, BATCH, paths, settings};
use rusqlite::{OptionalExtension, params};

/// Runs `iters` batches from `stream` through `apply`, timing only `apply`.
fn timed(stream: &mut Stream, iters: u64, mut apply: impl FnMut(&[Observation])) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let batch = stream.next_batch();
        let start = Instant::now();
        apply(&batch);
        total += start.elapsed();
    }
    total
}

const SQLITE_SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA cache_size = -1048576;
CREATE TABLE repos(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_scanned_on INTEGER NOT NULL,
    created_by TEXT NOT NULL, created_on INTEGER NOT NULL, last_modified_by TEXT NOT NULL, last_modified_on INTEGER NOT NULL);
CREATE TABLE tags(id INTEGER PRIMARY KEY, repo INTEGER NOT NULL, name TEXT NOT NULL, current BLOB, current_since INTEGER,
    created_by TEXT NOT NULL, created_on INTEGER NOT NULL, last_modified_by TEXT NOT NULL, last_modified_on INTEGER NOT NULL,
    UNIQUE (repo, name));
CREATE TABLE moves(tag INTEGER NOT NULL, at INTEGER NOT NULL, digest BLOB NOT NULL, PRIMARY KEY (tag, at, digest)) WITHOUT ROWID;
CREATE TABLE refs(tag INTEGER NOT NULL, digest BLOB NOT NULL, first_observed INTEGER NOT NULL,
    created_by TEXT NOT NULL, created_on INTEGER NOT NULL, last_modified_by TEXT NOT NULL, last_modified_on INTEGER NOT NULL,
    PRIMARY KEY (tag, digest)) WITHOUT ROWID;
CREATE TABLE digest_index(digest BLOB NOT NULL, tag INTEGER NOT NULL, since INTEGER NOT NULL, until INTEGER NOT NULL,
    PRIMARY KEY (digest, tag, since)) WITHOUT ROWID;
";

// One transaction: nine prepared statements and the loops that use them, in the
// order `ingest` does the same work; split up, it reads worse.
#[allow(clippy::too_many_lines)]
fn sqlite_apply(conn: &mut rusqlite::Connection, batch: &[Observation], now: i64) {
    let mut scanned: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_tag: BTreeMap<&TagId, Vec<(i64, Digest)>> = BTreeMap::new();
    for o in batch {
        let t = o.observed_at.timestamp_micros();
        let e = scanned.entry(o.tag.repository().as_str()).or_insert(t);
        *e = (*e).max(t);
        by_tag.entry(&o.tag).or_default().push((t, o.digest));
    }
    let txn = conn.transaction().expect("txn");
    {
        let mut repo_upsert = txn
            .prepare_cached(
                "INSERT INTO repos(name, last_scanned_on, created_by, created_on, last_modified_by, last_modified_on)
                 VALUES (?1, ?2, ?3, ?4, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET last_scanned_on = max(last_scanned_on, excluded.last_scanned_on),
                     last_modified_by = excluded.last_modified_by, last_modified_on = excluded.last_modified_on
                 WHERE excluded.last_scanned_on > repos.last_scanned_on
                 RETURNING id",
            )
            .expect("prepare");
        let mut repo_get = txn
            .prepare_cached("SELECT id FROM repos WHERE name = ?1")
            .expect("prepare");
        let mut tag_get = txn
            .prepare_cached(
                "SELECT id, current, current_since FROM tags WHERE repo = ?1 AND name = ?2",
            )
            .expect("prepare");
        let mut tag_ins = txn
            .prepare_cached(
                "INSERT INTO tags(repo, name, created_by, created_on, last_modified_by, last_modified_on)
                 VALUES (?1, ?2, ?3, ?4, ?3, ?4)",
            )
            .expect("prepare");
        let mut tag_set = txn
            .prepare_cached(
                "UPDATE tags SET current = ?2, current_since = ?3, last_modified_by = ?4, last_modified_on = ?5 WHERE id = ?1",
            )
            .expect("prepare");
        let mut move_ins = txn
            .prepare_cached("INSERT OR IGNORE INTO moves(tag, at, digest) VALUES (?1, ?2, ?3)")
            .expect("prepare");
        let mut ref_upsert = txn
            .prepare_cached(
                "INSERT INTO refs(tag, digest, first_observed, created_by, created_on, last_modified_by, last_modified_on)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?5)
                 ON CONFLICT(tag, digest) DO UPDATE SET first_observed = excluded.first_observed
                 WHERE excluded.first_observed < refs.first_observed",
            )
            .expect("prepare");
        let mut index_close = txn
            .prepare_cached(
                "UPDATE digest_index SET until = ?4 WHERE digest = ?1 AND tag = ?2 AND since = ?3",
            )
            .expect("prepare");
        let mut index_open = txn
            .prepare_cached("INSERT OR REPLACE INTO digest_index(digest, tag, since, until) VALUES (?1, ?2, ?3, ?4)")
            .expect("prepare");

        let mut repo_ids: HashMap<&str, i64> = HashMap::new();
        for (name, t) in scanned {
            let id: Option<i64> = repo_upsert
                .query_row(params![name, t, ACTOR, now], |r| r.get(0))
                .optional()
                .expect("repo upsert");
            let id =
                id.unwrap_or_else(|| repo_get.query_row([name], |r| r.get(0)).expect("repo id"));
            repo_ids.insert(name, id);
        }
        for (tag, mut writes) in by_tag {
            writes.sort_unstable();
            let repo = repo_ids[tag.repository().as_str()];
            let row: Option<(i64, Option<Vec<u8>>, Option<i64>)> = tag_get
                .query_row(params![repo, tag.tag()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .expect("tag get");
            let (id, mut current, mut since) = row.unwrap_or_else(|| {
                tag_ins
                    .execute(params![repo, tag.tag(), ACTOR, now])
                    .expect("tag insert");
                (txn.last_insert_rowid(), None, None)
            });
            let mut moved = false;
            for (t, d) in writes {
                let (buf, len) = d.compact_array();
                let key = &buf[..len];
                if move_ins.execute(params![id, t, key]).expect("move") == 0 {
                    continue; // exact repeat
                }
                ref_upsert
                    .execute(params![id, key, t, ACTOR, now])
                    .expect("ref upsert");
                if since.is_some_and(|s| t < s) || current.as_deref() == Some(key) {
                    continue; // older than the current interval, or no move
                }
                if let (Some(c), Some(s)) = (&current, since) {
                    index_close
                        .execute(params![c, id, s, t])
                        .expect("close interval");
                }
                index_open
                    .execute(params![key, id, t, i64::MAX])
                    .expect("open interval");
                current = Some(key.to_vec());
                since = Some(t);
                moved = true;
            }
            if moved {
                tag_set
                    .execute(params![id, current, since, ACTOR, now])
                    .expect("tag update");
            }
        }
    }
    txn.commit().expect("commit");
}

fn ingest(c: &mut Criterion) {
    if let Ok(who) = std::env::var("OCILEDGER_BENCH_PROFILE") {
        // For callgrind: 10 batches through `who`, nothing else.
        let dir = paths::scratch_dir();
        let mut stream = Stream::new();
        let after: usize = std::env::var("OCILEDGER_BENCH_PROFILE_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let before: Vec<Vec<Observation>> = (0..after).map(|_| stream.next_batch()).collect();
        let batches: Vec<Vec<Observation>> = (0..10).map(|_| stream.next_batch()).collect();
        let mut apply: Apply<'_> = match who.as_str() {
            "ociledger" => {
                let ledger = Ledger::create(dir.path().join("ingest.redb")).expect("create");
                Box::new(move |b| {
                    black_box(ledger.ingest(ACTOR, b).expect("ingest"));
                })
            }
            "sqlite" => {
                let mut conn =
                    rusqlite::Connection::open(dir.path().join("ingest.db")).expect("create");
                conn.execute_batch(SQLITE_SCHEMA).expect("schema");
                Box::new(move |b| sqlite_apply(&mut conn, b, 0))
            }
            _ => {
                let mut raw = RawIngest::create(&dir.path().join("raw.redb"));
                Box::new(move |b| raw.apply(b))
            }
        };
        for b in &before {
            apply(b);
        }
        for b in &batches {
            counted(&mut apply, b);
        }
        return;
    }
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    if !settings::quick() {
        group.measurement_time(Duration::from_secs(10));
    }
    let param = BATCH;

    // Made once: criterion calls each routine once per sample (module docs).
    let dir = paths::scratch_dir();
    let ledger = Ledger::create(dir.path().join("ingest.redb")).expect("create");
    let mut stream = Stream::new();
    group.bench_function(BenchmarkId::new("ociledger", param), |b| {
        b.iter_custom(|iters| {
            timed(&mut stream, iters, |batch| {
                black_box(ledger.ingest(ACTOR, batch).expect("ingest"));
            })
        });
    });

    let mut raw = RawIngest::create(&dir.path().join("raw.redb"));
    let mut stream = Stream::new();
    group.bench_function(BenchmarkId::new("redb_raw", param), |b| {
        b.iter_custom(|iters| timed(&mut stream, iters, |batch| raw.apply(batch)));
    });

    let mut conn = rusqlite::Connection::open(dir.path().join("ingest.db")).expect("create");
    conn.execute_batch(SQLITE_SCHEMA).expect("schema");
    let now = chrono::Utc::now().timestamp_micros();
    let mut stream = Stream::new();
    group.bench_function(BenchmarkId::new("sqlite", param), |b| {
        b.iter_custom(|iters| {
            timed(&mut stream, iters, |batch| {
                sqlite_apply(&mut conn, batch, now);
            })
        });
    });
    group.finish();
    paired(paired_rounds());
}

/// One batch of a profile (module docs): a function of its own, so that
/// callgrind counts these batches and not the ones before them.
#[inline(never)]
fn counted(apply: &mut dyn FnMut(&[Observation]), batch: &[Observation]) {
    apply(batch);
}

/// Rounds of [`paired`] not counted: the empty files' first batches.
const PAIRED_WARM_UP: usize = 4;

/// `OCILEDGER_BENCH_PAIRED_ROUNDS`, else 200 (12 in quick mode).
fn paired_rounds() -> usize {
    std::env::var("OCILEDGER_BENCH_PAIRED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if settings::quick() { 12 } else { 200 })
}

/// One batch through one contender.
type Apply<'a> = Box<dyn FnMut(&[Observation]) + 'a>;

/// What a round times: a contender's name and its [`Apply`].
type Contender<'a> = (&'static str, Apply<'a>);

/// Paired rounds (module docs).
fn paired(rounds: usize) {
    if rounds == 0 {
        return;
    }
    let dir = paths::scratch_dir();
    let ledger = Ledger::create(dir.path().join("paired.redb")).expect("create");
    let mut raw = RawIngest::create(&dir.path().join("paired-raw.redb"));
    let mut conn = rusqlite::Connection::open(dir.path().join("paired.db")).expect("create");
    conn.execute_batch(SQLITE_SCHEMA).expect("schema");
    let now = chrono::Utc::now().timestamp_micros();
    let mut contenders: Vec<Contender<'_>> = vec![
        (
            "ociledger",
            Box::new(|b| {
                black_box(ledger.ingest(ACTOR, b).expect("ingest"));
            }),
        ),
        ("redb_raw", Box::new(|b| raw.apply(b))),
        ("sqlite", Box::new(|b| sqlite_apply(&mut conn, b, now))),
    ];
    let mut stream = Stream::new();
    // Per contender, each counted round's time (seconds).
    let mut times = vec![Vec::with_capacity(rounds); contenders.len()];
    for round in 0..PAIRED_WARM_UP + rounds {
        let batch = stream.next_batch();
        let n = contenders.len();
        for k in 0..n {
            let i = (round + k) % n;
            let start = Instant::now();
            (contenders[i].1)(&batch);
            if round >= PAIRED_WARM_UP {
                times[i].push(start.elapsed().as_secs_f64());
            }
        }
    }
    let names: Vec<&str> = contenders.iter().map(|c| c.0).collect();
    drop(contenders);
    println!(
        "\ningest paired: {rounds} rounds of one {BATCH}-observation batch per contender, files growing (after {PAIRED_WARM_UP} not counted)"
    );
    let mut report = serde_json::Map::new();
    report.insert("rounds".into(), rounds.into());
    for (name, t) in names.iter().zip(&times) {
        let row = Spread::of(t);
        println!(
            "  {name:<22} median {:>7.1} ms (quartiles {:.1}–{:.1}); by tenths: {}",
            row.median * 1e3,
            row.low * 1e3,
            row.high * 1e3,
            row.tenths(1e3, 1)
        );
        report.insert((*name).to_owned(), row.json());
    }
    let at = |name: &str| names.iter().position(|n| *n == name).expect("a contender");
    for (num, den) in [("sqlite", "ociledger"), ("ociledger", "redb_raw")] {
        let ratios: Vec<f64> = times[at(num)]
            .iter()
            .zip(&times[at(den)])
            .map(|(a, b)| a / b)
            .collect();
        let row = Spread::of(&ratios);
        let name = format!("{num} / {den}");
        println!(
            "  {name:<22} median {:>7.2} × (quartiles {:.2}–{:.2}); by tenths: {}",
            row.median,
            row.low,
            row.high,
            row.tenths(1.0, 2)
        );
        report.insert(name, row.json());
    }
    ociledger_bench::report::write("ingest-paired", &report);
}

/// Quartiles of a list of per-round values, and the medians of each tenth
/// of the rounds in order.
struct Spread {
    low: f64,
    median: f64,
    high: f64,
    by_tenths: Vec<f64>,
}

impl Spread {
    fn of(values: &[f64]) -> Self {
        let [low, median, high] = quartiles(values);
        let tenth = values.len().div_ceil(10).max(1);
        let by_tenths = values.chunks(tenth).map(|c| quartiles(c)[1]).collect();
        Self {
            low,
            median,
            high,
            by_tenths,
        }
    }

    fn tenths(&self, scale: f64, digits: usize) -> String {
        let shown: Vec<String> = self
            .by_tenths
            .iter()
            .map(|v| format!("{:.digits$}", v * scale))
            .collect();
        shown.join(" ")
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "quartiles": [self.low, self.median, self.high],
            "by_tenths": self.by_tenths,
        })
    }
}

/// The first quartile, median and third quartile (nearest rank); zeros
/// when empty.
fn quartiles(values: &[f64]) -> [f64; 3] {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let last = v.len().saturating_sub(1);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = (last as f64 * q).round() as usize;
        v.get(i).copied().unwrap_or(0.0)
    };
    [at(0.25), at(0.5), at(0.75)]
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = ingest
}
criterion_main!(benches);
