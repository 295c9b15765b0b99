//! Run: `cargo bench -p ociledger-bench --bench lookup` (from the repository root).
//!
//! digest → tags, the classifier's hot path: ociledger against the engine's
//! limit (a plain redb point get), against SQLite in its best layout for the
//! query, and against an in-memory `HashMap`, on the same rows and queries.
//!
//! Group `digest_lookup`, functions `ociledger`, `redb_raw`, `sqlite`,
//! `hashmap`, parameter = references (10k, 1M, 10M; 10k in quick mode).
//! Each iteration is one lookup; the iterations cycle through a fixed list of
//! 1000 queries (40 % current hits, 40 % historical hits, 20 % misses).
//!
//! SQLite runs inside one long read transaction (`BEGIN` then the first
//! `SELECT` holds the shared lock), the analogue of a `Snapshot`.
//!
//! Group `digest_lookup_breakdown` splits ociledger's cost: `redb_range` is
//! the same range scan over the same key layout with no decoding, names or
//! sorting; `redb_packed` is a prototype of one row per digest (point get,
//! value = the packed entries in answer order) decoded into the same
//! `Vec<TagMatch>` with names from memory; `ociledger_txn_per_lookup` is
//! `Ledger::tags_for_digest`, which opens a read transaction per call;
//! `sqlite_autocommit` is SQLite without the held read transaction (a lock and
//! a header read per statement).
//!
//! `ociledger_no_relations` (in the breakdown) is the same lookup on
//! `ociledger-no-relations.redb`: the same observations without the manifest
//! relations, so the cost the relations add to a plain lookup is measured in
//! one run.
//!
//! `ociledger_memory` is `ociledger` reading the in-memory copy of the digest
//! index (`Ledger::keep_index_in_memory`): a second, read-only handle on the
//! same file keeps the copy, and its snapshot (checked to read the copy, as
//! every thread's snapshot in `digest_lookup_threads` is) runs the same
//! lookups, in groups `digest_lookup`, `lookup_direct`, `lookup_via_child`,
//! `lookup_via_config` and `digest_lookup_threads`. So the B-tree descent the
//! copy saves is measured against the file in one run, at every size.
//!
//! `ociledger_lookup` and `ociledger_memory_lookup` are the same lookups
//! through `Snapshot::lookup` (a `Lookup` buffer reused across lookups,
//! borrowed matches), from the file and from the copy, in groups
//! `digest_lookup`, `lookup_direct`, `lookup_via_child` and
//! `lookup_via_config`; each iteration reads every match of the answer.
//! Before timing, their answers to every query are checked to be the owned
//! answers.
//!
//! Lookups through manifest relations (ledger schema 4), on the same snapshot,
//! each over the set's 1000 relation queries (an image index of the set, one
//! of its platform manifests, that manifest's config; `relation-queries.tsv`):
//! - group `lookup_direct`: `ociledger` looks up the index digests (direct
//!   hits), `ociledger_no_relations` the same digests in the file without
//!   relations, `redb_raw` the same digests with a raw point get,
//!   `ociledger_memory` the same digests from the in-memory copy;
//! - group `lookup_via_child`: `ociledger` looks up the platform manifests
//!   (one hop: manifest → every index that lists it → their tags), and
//!   `ociledger_memory` the same from the copy;
//! - group `lookup_via_config`: `ociledger` looks up the configs (two hops:
//!   config → manifests → indexes → tags), and `ociledger_memory` the same
//!   from the copy.
//!
//! Before timing, every query's answer is checked to be the same in all
//! four (counts, and for SQLite the full match lists; direct matches only,
//! as only ociledger follows relations), every relation query's answer to
//! have the number of matches computed from the rows and the relations,
//! every query's and relation query's answer from the in-memory copy to be
//! exactly the file's (same matches, same order, relations included), and
//! the allocations per lookup of each contender are counted with a counting
//! global allocator; they are written to
//! `target/bench-data/report/lookup-<size>.json` and `lookup-relations-<size>.json`.
//! The copy's rows (checked against the set's `digest_index` entries), heap
//! bytes (in all, per reference, per row) and build time (the first build
//! through the new handle, and a second from its warm cache) are written to
//! `lookup-memory-<size>.json`.
//!
//! `OCILEDGER_BENCH_PROFILE=<contender>[:<passes>]` runs 100 (or `passes`)
//! passes of that contender's lookups and nothing else, for
//! `valgrind --tool=callgrind` (`ociledger`, `ociledger_memory`,
//! `ociledger_no_relations`, `redb_raw`, `redb_packed`, `sqlite`, or on the
//! relation queries `direct`, `direct_memory`, `direct_no_relations`,
//! `redb_raw_direct`, `via_child`, `via_child_memory`, `via_config`,
//! `via_config_memory`; with `_lookup` appended, through a reused `Lookup`
//! buffer that reads every match, as the criterion groups' `*_lookup`
//! functions do). The in-memory copy is built only for the `*memory`
//! ones (at 10M references it takes seconds, far more under valgrind).

// Averages per lookup for the report: counts far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ociledger::id::{Digest, TagId};
use ociledger::model::TagMatch;
use ociledger::{IndexMemory, Ledger, Matches, Snapshot};
use ociledger_bench::dataset::DataSet;
use ociledger_bench::queries::Query;
use ociledger_bench::raw_redb::{
    Packed, RAW_INDEX, RAW_PACKED, RAW_TABLE, packed_lookup, range_count,
};
use ociledger_bench::relations::RelationQuery;
use ociledger_bench::sqlite::{self, SQLITE_LOOKUP, SqlMatch};
use ociledger_bench::{report, settings};
use redb::ReadableDatabase;
use serde::Serialize;

// ---------------------------------------------------------------------------
// Counting allocator (one relaxed atomic add per allocation: noise next to a lookup)
// ---------------------------------------------------------------------------

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

// The one unsafe item of the bench package (see Cargo.toml's [lints]): a global
// allocator cannot be written without it.
// SAFETY: forwards every call to the system allocator unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations, bytes) made by `f`.
fn count_allocs(f: impl FnOnce()) -> (u64, u64) {
    let (a, b) = (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
    );
    f();
    (
        ALLOCS.load(Ordering::Relaxed) - a,
        ALLOC_BYTES.load(Ordering::Relaxed) - b,
    )
}

// ---------------------------------------------------------------------------
// The HashMap contender (the others' lookups are in the library's `sqlite` and `raw_redb`)
// ---------------------------------------------------------------------------

type Map = HashMap<Digest, Vec<(u32, i64, i64)>>;

#[derive(Debug, Serialize)]
struct AllocReport {
    size: u64,
    queries: usize,
    matches_per_query: f64,
    ociledger_allocs_per_lookup: f64,
    ociledger_bytes_per_lookup: f64,
    /// What the answer itself needs: the Vec (1 if any match); names are shared `Arc<TagId>`s.
    ociledger_result_allocs_per_lookup: f64,
    /// `ociledger` reading the in-memory copy of the digest index.
    ociledger_memory_allocs_per_lookup: f64,
    ociledger_memory_bytes_per_lookup: f64,
    /// `ociledger_lookup`: a reused `Lookup` buffer, from the file and the copy.
    ociledger_lookup_allocs_per_lookup: f64,
    ociledger_memory_lookup_allocs_per_lookup: f64,
    redb_raw_allocs_per_lookup: f64,
    redb_range_allocs_per_lookup: f64,
    redb_packed_allocs_per_lookup: f64,
    sqlite_autocommit_allocs_per_lookup: f64,
    sqlite_allocs_per_lookup: f64,
    hashmap_allocs_per_lookup: f64,
    ociledger_txn_per_lookup_allocs_per_lookup: f64,
    by_kind: Vec<(char, usize, f64)>,
    /// Queries of the mix whose digest is also a platform manifest or a
    /// config, so that ociledger returns matches through relations as well.
    queries_with_indirect_matches: usize,
}

/// The relation queries' figures, for the report.
#[derive(Debug, Serialize)]
struct RelationReport {
    size: u64,
    queries: usize,
    direct_matches_per_query: f64,
    via_child_matches_per_query: f64,
    via_config_matches_per_query: f64,
    /// Indexes of the set listing the queried platform manifest.
    indexes_per_child: f64,
    direct_allocs_per_lookup: f64,
    via_child_allocs_per_lookup: f64,
    via_config_allocs_per_lookup: f64,
    /// The same three from the in-memory copy of the digest index.
    direct_memory_allocs_per_lookup: f64,
    via_child_memory_allocs_per_lookup: f64,
    via_config_memory_allocs_per_lookup: f64,
}

/// The in-memory copy of the digest index: what it holds, costs and takes to
/// build, for the report (`lookup-memory-<size>.json`).
#[derive(Debug, Serialize)]
struct MemoryReport {
    size: u64,
    /// Rows copied (equal to the file's `digest_index` entries).
    rows: u64,
    /// Manifest relations copied as links (`IndexMemory::relation_links`).
    relation_links: u64,
    /// Heap the copy takes (`IndexMemory::heap_bytes`).
    heap_bytes: u64,
    heap_bytes_per_reference: f64,
    heap_bytes_per_row: f64,
    /// The first build, through the new handle's empty page cache.
    first_build_ms: f64,
    /// The build reported: a second one, from the handle's warm cache (the
    /// case `keep_index_in_memory`'s documentation quotes).
    build_ms: f64,
    /// Lookups whose answer from the copy was checked to be the file's.
    lookups_checked: usize,
}

/// A second handle on a set's ledger that keeps the digest index in memory,
/// and a snapshot of it that reads the copy.
struct InMemory {
    // Before `ledger`: dropped first, while its file is still open.
    snap: Snapshot,
    copy: IndexMemory,
    first_build: Duration,
    ledger: Ledger,
}

impl InMemory {
    /// Opens `path` read-only (the bench's other handle holds it for
    /// writing, and a process may hold a file for writing once) and copies
    /// its digest index into memory twice: the first build pays for this
    /// handle's cold cache, the second is the figure reported.
    fn open(path: &Path) -> Self {
        let ledger = Ledger::open_read_only(path).expect("open the ledger read-only");
        let first_build = ledger
            .keep_index_in_memory()
            .expect("copy the digest index into memory")
            .built_in;
        let copy = ledger
            .keep_index_in_memory()
            .expect("copy the digest index into memory again");
        assert_eq!(copy.last_error, None, "the copy of {}", path.display());
        let snap = ledger.snapshot().expect("snapshot");
        assert!(
            snap.reads_index_from_memory(),
            "a snapshot of {} taken right after keep_index_in_memory reads the file, not the copy",
            path.display()
        );
        Self {
            snap,
            copy,
            first_build,
            ledger,
        }
    }
}

/// The `digest_index` table's entries in the set's `stats.json` (counted
/// with redb's own `len` when the set was built).
fn digest_index_entries(stats: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stats).expect("read stats.json")).expect("json");
    v["ledger_tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "digest_index"))
        .and_then(|t| t["entries"].as_u64())
        .expect("stats.json: ledger_tables → digest_index → entries")
}

/// Checks that the copy answers every query of the mix and all three of
/// every relation query exactly as the file does (same matches in the same
/// order, those through relations included); returns the lookups checked.
fn check_memory(
    size: u64,
    file: &Snapshot,
    memory: &Snapshot,
    digests: &[Digest],
    rq: &[RelationQuery],
) -> usize {
    let relation_digests = rq.iter().flat_map(|q| [q.index, q.child, q.config]);
    let mut checked = 0;
    let mut matches = 0;
    for d in digests.iter().copied().chain(relation_digests) {
        let want = file.tags_for_digest(&d).expect("lookup");
        let got = memory.tags_for_digest(&d).expect("lookup from the copy");
        assert!(
            got == want,
            "[lookup {size}] the in-memory copy answers {d} differently from the file: {} matches from the copy, {} from the file\ncopy: {got:?}\nfile: {want:?}",
            got.len(),
            want.len()
        );
        checked += 1;
        matches += want.len();
    }
    eprintln!(
        "[lookup {size}] the in-memory copy answers all {checked} lookups ({} of the mix, {} of relation queries; {matches} matches) exactly as the file",
        digests.len(),
        checked - digests.len()
    );
    checked
}

/// Direct matches only (the other contenders do not follow relations).
fn direct(mut v: Vec<TagMatch>) -> Vec<TagMatch> {
    v.retain(|m| m.via.is_none());
    v
}

/// Checks each relation query's three answers against the counts computed
/// from the rows and the relations.
fn check_relations(
    size: u64,
    snap: &ociledger::Snapshot,
    bare: &ociledger::Snapshot,
    rq: &[RelationQuery],
) {
    for q in rq {
        let d = snap.tags_for_digest(&q.index).expect("lookup");
        assert_eq!(d.len(), q.direct, "direct lookup of index {}", q.index);
        assert!(d.iter().all(|m| m.via.is_none()), "index {}", q.index);
        assert_eq!(
            bare.tags_for_digest(&q.index).expect("lookup"),
            d,
            "the file without relations on index {}",
            q.index
        );
        let c = snap.tags_for_digest(&q.child).expect("lookup");
        assert_eq!(
            c.len(),
            q.via_child,
            "lookup of platform manifest {}",
            q.child
        );
        assert!(
            c.iter().any(|m| m
                .via
                .as_ref()
                .is_some_and(|v| v.digest == q.index && v.platform.is_some())),
            "platform manifest {} reaches its index {}",
            q.child,
            q.index
        );
        let g = snap.tags_for_digest(&q.config).expect("lookup");
        assert_eq!(g.len(), q.via_config, "lookup of config {}", q.config);
        assert!(
            g.iter()
                .any(|m| m.via.as_ref().is_some_and(|v| v.digest == q.index)),
            "config {} reaches index {}",
            q.config,
            q.index
        );
    }
    let mean = |f: fn(&RelationQuery) -> usize| {
        rq.iter().map(f).sum::<usize>() as f64 / rq.len().max(1) as f64
    };
    eprintln!(
        "[lookup {size}] {} relation queries agree with the relations: matches per lookup direct {:.2}, via child {:.2} ({:.2} indexes per child), via config {:.2}",
        rq.len(),
        mean(|q| q.direct),
        mean(|q| q.via_child),
        mean(|q| q.child_parents),
        mean(|q| q.via_config),
    );
}

/// Reads every match of a buffered answer, as a classifier would.
fn read_all(answer: Matches<'_>) -> usize {
    let mut n = 0;
    for m in answer.iter() {
        black_box(m);
        n += 1;
    }
    n
}

/// Every query's and relation query's answer through a reused `Lookup`
/// buffer must be the owned answer, match for match.
fn check_buffered(size: u64, snap: &Snapshot, digests: &[Digest], rq: &[RelationQuery]) {
    let mut lookup = snap.lookup();
    let relation_digests = rq.iter().flat_map(|q| [q.index, q.child, q.config]);
    for d in digests.iter().copied().chain(relation_digests) {
        let owned = snap.tags_for_digest(&d).expect("lookup");
        let buffered: Vec<TagMatch> = lookup
            .tags_for_digest(&d)
            .expect("buffered lookup")
            .iter()
            .map(|m| m.to_owned_match())
            .collect();
        assert_eq!(
            buffered, owned,
            "[lookup {size}] Lookup::tags_for_digest({d})"
        );
    }
}

// One size's setup, answer checks, allocation counts and three groups share a
// dozen open handles (snapshot, tables, statements borrowing their connections);
// split up, every part would take them all as arguments.
#[allow(clippy::too_many_lines)]
fn lookup(c: &mut Criterion) {
    for size in settings::sizes() {
        let set = DataSet::ensure(size);
        let queries: Vec<Query> = set.load_queries();
        let digests: Vec<Digest> = queries.iter().map(|q| q.digest).collect();
        let n = digests.len();

        let ledger = Ledger::open(&set.ledger).expect("open ledger");
        let snap = ledger.snapshot().expect("snapshot");
        let bare_ledger = Ledger::open(&set.ledger_no_relations).expect("open ledger");
        let bare = bare_ledger.snapshot().expect("snapshot");
        let rq: Vec<RelationQuery> = set.load_relation_queries();
        let rn = rq.len();
        assert!(rn > 0, "the {size} set has no image index with relations");
        let indexes: Vec<Digest> = rq.iter().map(|q| q.index).collect();
        let children: Vec<Digest> = rq.iter().map(|q| q.child).collect();
        let configs: Vec<Digest> = rq.iter().map(|q| q.config).collect();

        let raw_db = redb::Database::open(&set.raw).expect("open raw redb");
        let raw_txn = raw_db.begin_read().expect("read txn");
        let raw = raw_txn.open_table(RAW_TABLE).expect("raw table");
        let raw_index = raw_txn.open_table(RAW_INDEX).expect("raw index table");
        let packed: Packed = raw_txn.open_table(RAW_PACKED).expect("raw packed table");
        let names: Vec<Arc<TagId>> = sqlite::load_names(&set.sqlite);

        let conn = sqlite::open_read(&set.sqlite);
        conn.execute_batch("BEGIN").expect("begin read transaction");
        let mut stmt = conn.prepare(SQLITE_LOOKUP).expect("prepare");
        let conn_auto = sqlite::open_read(&set.sqlite);
        let mut stmt_auto = conn_auto.prepare(SQLITE_LOOKUP).expect("prepare");

        if let Ok(arg) = std::env::var("OCILEDGER_BENCH_PROFILE") {
            // For callgrind: only `who`'s lookups, 100 passes over the queries.
            let (who, passes) = arg.split_once(':').map_or((arg.as_str(), 100), |(w, p)| {
                (w, p.parse::<usize>().expect("passes"))
            });
            // `<contender>_lookup`: through a reused `Lookup` buffer, every match read.
            let (who, buffered) = who
                .strip_suffix("_lookup")
                .map_or((who, false), |w| (w, true));
            let list = match who {
                "direct" | "direct_memory" | "direct_no_relations" | "redb_raw_direct" => &indexes,
                "via_child" | "via_child_memory" => &children,
                "via_config" | "via_config_memory" => &configs,
                _ => &digests,
            };
            let memory = who.ends_with("memory").then(|| InMemory::open(&set.ledger));
            let mem_snap = memory.as_ref().map(|m| &m.snap);
            if buffered {
                let snap = if who.ends_with("memory") {
                    mem_snap.expect("opened above")
                } else {
                    &snap
                };
                let mut lookup = snap.lookup();
                for _ in 0..passes {
                    for d in list {
                        black_box(read_all(lookup.tags_for_digest(d).expect("lookup")));
                    }
                }
                return;
            }
            for _ in 0..passes {
                for d in list {
                    match who {
                        "ociledger" | "direct" | "via_child" | "via_config" => {
                            drop(black_box(snap.tags_for_digest(d).expect("lookup")));
                        }
                        "ociledger_memory" | "direct_memory" | "via_child_memory"
                        | "via_config_memory" => {
                            let mem_snap = mem_snap.expect("opened above");
                            drop(black_box(mem_snap.tags_for_digest(d).expect("lookup")));
                        }
                        "ociledger_no_relations" | "direct_no_relations" => {
                            drop(black_box(bare.tags_for_digest(d).expect("lookup")));
                        }
                        "redb_raw" | "redb_raw_direct" => {
                            drop(black_box(raw.get(&d.compact_array().0[..33]).expect("get")));
                        }
                        "redb_packed" => drop(black_box(packed_lookup(&packed, &names, d))),
                        "sqlite" => drop(black_box(sqlite::lookup(&mut stmt, d))),
                        other => panic!(
                            "OCILEDGER_BENCH_PROFILE={other}: ociledger, ociledger_memory, ociledger_no_relations, redb_raw, redb_packed, sqlite, direct, direct_memory, direct_no_relations, redb_raw_direct, via_child, via_child_memory, via_config or via_config_memory"
                        ),
                    }
                }
            }
            return;
        }

        let mut map: Map = HashMap::new();
        for r in sqlite::load_rows(&set.sqlite) {
            map.entry(r.digest)
                .or_default()
                .push((r.tag, r.since, r.until));
        }

        // Same answers everywhere (this also warms every cache).
        let mut total_matches = 0usize;
        let mut with_indirect = 0;
        for q in &queries {
            let all = snap.tags_for_digest(&q.digest).expect("lookup");
            let n_all = all.len();
            let ours = direct(all);
            with_indirect += usize::from(ours.len() < n_all);
            assert_eq!(
                direct(bare.tags_for_digest(&q.digest).expect("lookup")),
                ours,
                "the file without relations on {}",
                q.digest
            );
            let theirs = sqlite::lookup(&mut stmt, &q.digest);
            assert_eq!(
                ours.len(),
                q.expected,
                "ociledger vs generator, {:?} {}",
                q.kind,
                q.digest
            );
            // Same matches; ties (same instant) may be ordered differently (TagId vs text order).
            let by_text = |mut v: Vec<SqlMatch>| {
                v.sort_by(|a, b| (&a.tag, a.since).cmp(&(&b.tag, b.since)));
                v
            };
            assert_eq!(
                by_text(ours.iter().map(SqlMatch::from).collect()),
                by_text(sqlite::lookup(&mut stmt, &q.digest)),
                "ociledger vs sqlite on {}",
                q.digest
            );
            let (buf, len) = q.digest.compact_array();
            let raw_count = raw
                .get(&buf[..len])
                .expect("get")
                .map_or(0, |v| (v.value() >> 32) as usize);
            assert_eq!(raw_count, q.expected, "redb_raw on {}", q.digest);
            assert_eq!(
                map.get(&q.digest).map_or(0, Vec::len),
                q.expected,
                "hashmap on {}",
                q.digest
            );
            assert_eq!(
                packed_lookup(&packed, &names, &q.digest),
                ours,
                "packed prototype on {}",
                q.digest
            );
            assert_eq!(
                sqlite::lookup(&mut stmt_auto, &q.digest),
                theirs,
                "sqlite autocommit"
            );
            total_matches += q.expected;
        }
        eprintln!(
            "[lookup {size}] {n} queries agree in all four: {total_matches} matches ({:.2} per query); {with_indirect} also match through relations",
            total_matches as f64 / n as f64
        );
        check_relations(size, &snap, &bare, &rq);

        // The in-memory copy: a second handle on the same, unchanged file.
        let mem = InMemory::open(&set.ledger);
        assert_eq!(
            mem.copy.rows,
            digest_index_entries(&set.stats),
            "[lookup {size}] rows in the in-memory copy vs the file's digest_index entries"
        );
        let lookups_checked = check_memory(size, &snap, &mem.snap, &digests, &rq);
        let memory = MemoryReport {
            size,
            rows: mem.copy.rows,
            relation_links: mem.copy.relation_links,
            heap_bytes: mem.copy.heap_bytes,
            heap_bytes_per_reference: mem.copy.heap_bytes as f64 / size as f64,
            heap_bytes_per_row: mem.copy.heap_bytes as f64 / mem.copy.rows.max(1) as f64,
            first_build_ms: mem.first_build.as_secs_f64() * 1e3,
            build_ms: mem.copy.built_in.as_secs_f64() * 1e3,
            lookups_checked,
        };
        eprintln!("[lookup {size}] in-memory copy: {memory:?}");
        report::write(&format!("lookup-memory-{size}"), &memory);

        // Allocations per lookup.
        let per = |(a, _): (u64, u64)| a as f64 / n as f64;
        let ours = count_allocs(|| {
            for d in &digests {
                black_box(snap.tags_for_digest(d).expect("lookup"));
            }
        });
        let result_allocs: usize = queries.iter().map(|q| usize::from(q.expected > 0)).sum();
        let from_memory = count_allocs(|| {
            for d in &digests {
                black_box(mem.snap.tags_for_digest(d).expect("lookup"));
            }
        });
        check_buffered(size, &snap, &digests, &rq);
        check_buffered(size, &mem.snap, &digests, &rq);
        let buffered = |snap: &Snapshot| {
            let mut lookup = snap.lookup();
            // Warm the buffer first: what is counted is the steady state.
            for d in &digests {
                read_all(lookup.tags_for_digest(d).expect("lookup"));
            }
            per(count_allocs(|| {
                for d in &digests {
                    black_box(read_all(lookup.tags_for_digest(d).expect("lookup")));
                }
            }))
        };
        let allocs = AllocReport {
            size,
            ociledger_lookup_allocs_per_lookup: buffered(&snap),
            ociledger_memory_lookup_allocs_per_lookup: buffered(&mem.snap),
            queries: n,
            matches_per_query: total_matches as f64 / n as f64,
            ociledger_allocs_per_lookup: per(ours),
            ociledger_bytes_per_lookup: ours.1 as f64 / n as f64,
            ociledger_result_allocs_per_lookup: result_allocs as f64 / n as f64,
            ociledger_memory_allocs_per_lookup: per(from_memory),
            ociledger_memory_bytes_per_lookup: from_memory.1 as f64 / n as f64,
            redb_raw_allocs_per_lookup: per(count_allocs(|| {
                for d in &digests {
                    let (buf, len) = d.compact_array();
                    black_box(raw.get(&buf[..len]).expect("get").map(|v| v.value()));
                }
            })),
            redb_range_allocs_per_lookup: per(count_allocs(|| {
                for d in &digests {
                    black_box(range_count(&raw_index, d));
                }
            })),
            redb_packed_allocs_per_lookup: per(count_allocs(|| {
                for d in &digests {
                    black_box(packed_lookup(&packed, &names, d));
                }
            })),
            sqlite_autocommit_allocs_per_lookup: per(count_allocs(|| {
                for d in &digests {
                    black_box(sqlite::lookup(&mut stmt_auto, d));
                }
            })),
            sqlite_allocs_per_lookup: per(count_allocs(|| {
                for d in &digests {
                    black_box(sqlite::lookup(&mut stmt, d));
                }
            })),
            hashmap_allocs_per_lookup: per(count_allocs(|| {
                for d in &digests {
                    black_box(map.get(d).map_or(0, Vec::len));
                }
            })),
            ociledger_txn_per_lookup_allocs_per_lookup: per(count_allocs(|| {
                for d in &digests {
                    black_box(ledger.tags_for_digest(d).expect("lookup"));
                }
            })),
            by_kind: ['C', 'H', 'M']
                .into_iter()
                .map(|k| {
                    let qs: Vec<&Query> = queries.iter().filter(|q| q.kind == k).collect();
                    let m = qs.iter().map(|q| q.expected).sum::<usize>() as f64
                        / qs.len().max(1) as f64;
                    (k, qs.len(), m)
                })
                .collect(),
            queries_with_indirect_matches: with_indirect,
        };
        eprintln!("[lookup {size}] allocations: {allocs:?}");
        report::write(&format!("lookup-{size}"), &allocs);
        let per_rq = |snap: &Snapshot, list: &[Digest]| {
            count_allocs(|| {
                for d in list {
                    black_box(snap.tags_for_digest(d).expect("lookup"));
                }
            })
            .0 as f64
                / rn as f64
        };
        let mean =
            |f: fn(&RelationQuery) -> usize| rq.iter().map(f).sum::<usize>() as f64 / rn as f64;
        let relations = RelationReport {
            size,
            queries: rn,
            direct_matches_per_query: mean(|q| q.direct),
            via_child_matches_per_query: mean(|q| q.via_child),
            via_config_matches_per_query: mean(|q| q.via_config),
            indexes_per_child: mean(|q| q.child_parents),
            direct_allocs_per_lookup: per_rq(&snap, &indexes),
            via_child_allocs_per_lookup: per_rq(&snap, &children),
            via_config_allocs_per_lookup: per_rq(&snap, &configs),
            direct_memory_allocs_per_lookup: per_rq(&mem.snap, &indexes),
            via_child_memory_allocs_per_lookup: per_rq(&mem.snap, &children),
            via_config_memory_allocs_per_lookup: per_rq(&mem.snap, &configs),
        };
        eprintln!("[lookup {size}] relation queries: {relations:?}");
        report::write(&format!("lookup-relations-{size}"), &relations);

        let mut group = c.benchmark_group("digest_lookup");
        group.bench_function(BenchmarkId::new("ociledger", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                snap.tags_for_digest(black_box(d)).expect("lookup")
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_memory", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                mem.snap.tags_for_digest(black_box(d)).expect("lookup")
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_lookup", size), |b| {
            let mut lookup = snap.lookup();
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                read_all(lookup.tags_for_digest(black_box(d)).expect("lookup"))
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_memory_lookup", size), |b| {
            let mut lookup = mem.snap.lookup();
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                read_all(lookup.tags_for_digest(black_box(d)).expect("lookup"))
            });
        });
        group.bench_function(BenchmarkId::new("redb_raw", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                let (buf, len) = black_box(d).compact_array();
                raw.get(&buf[..len]).expect("get").map(|v| v.value())
            });
        });
        group.bench_function(BenchmarkId::new("sqlite", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                sqlite::lookup(&mut stmt, black_box(d))
            });
        });
        group.bench_function(BenchmarkId::new("hashmap", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                map.get(black_box(d)).map_or(0, Vec::len)
            });
        });
        group.finish();

        // Through manifest relations: the same snapshot, the relation queries.
        let mut group = c.benchmark_group("lookup_direct");
        group.bench_function(BenchmarkId::new("ociledger", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &indexes[i % rn];
                i += 1;
                snap.tags_for_digest(black_box(d)).expect("lookup")
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_memory", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &indexes[i % rn];
                i += 1;
                mem.snap.tags_for_digest(black_box(d)).expect("lookup")
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_lookup", size), |b| {
            let mut lookup = snap.lookup();
            let mut i = 0;
            b.iter(|| {
                let d = &indexes[i % rn];
                i += 1;
                read_all(lookup.tags_for_digest(black_box(d)).expect("lookup"))
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_memory_lookup", size), |b| {
            let mut lookup = mem.snap.lookup();
            let mut i = 0;
            b.iter(|| {
                let d = &indexes[i % rn];
                i += 1;
                read_all(lookup.tags_for_digest(black_box(d)).expect("lookup"))
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_no_relations", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &indexes[i % rn];
                i += 1;
                bare.tags_for_digest(black_box(d)).expect("lookup")
            });
        });
        group.bench_function(BenchmarkId::new("redb_raw", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &indexes[i % rn];
                i += 1;
                let (buf, len) = black_box(d).compact_array();
                raw.get(&buf[..len]).expect("get").map(|v| v.value())
            });
        });
        group.finish();
        for (name, list) in [
            ("lookup_via_child", &children),
            ("lookup_via_config", &configs),
        ] {
            let mut group = c.benchmark_group(name);
            group.bench_function(BenchmarkId::new("ociledger", size), |b| {
                let mut i = 0;
                b.iter(|| {
                    let d = &list[i % rn];
                    i += 1;
                    snap.tags_for_digest(black_box(d)).expect("lookup")
                });
            });
            group.bench_function(BenchmarkId::new("ociledger_memory", size), |b| {
                let mut i = 0;
                b.iter(|| {
                    let d = &list[i % rn];
                    i += 1;
                    mem.snap.tags_for_digest(black_box(d)).expect("lookup")
                });
            });
            group.bench_function(BenchmarkId::new("ociledger_lookup", size), |b| {
                let mut lookup = snap.lookup();
                let mut i = 0;
                b.iter(|| {
                    let d = &list[i % rn];
                    i += 1;
                    read_all(lookup.tags_for_digest(black_box(d)).expect("lookup"))
                });
            });
            group.bench_function(BenchmarkId::new("ociledger_memory_lookup", size), |b| {
                let mut lookup = mem.snap.lookup();
                let mut i = 0;
                b.iter(|| {
                    let d = &list[i % rn];
                    i += 1;
                    read_all(lookup.tags_for_digest(black_box(d)).expect("lookup"))
                });
            });
            group.finish();
        }

        let mut group = c.benchmark_group("digest_lookup_breakdown");
        group.bench_function(BenchmarkId::new("redb_range", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                range_count(&raw_index, black_box(d))
            });
        });
        group.bench_function(BenchmarkId::new("redb_packed", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                packed_lookup(&packed, &names, black_box(d))
            });
        });
        group.bench_function(BenchmarkId::new("sqlite_autocommit", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                sqlite::lookup(&mut stmt_auto, black_box(d))
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_no_relations", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                bare.tags_for_digest(black_box(d)).expect("lookup")
            });
        });
        group.bench_function(BenchmarkId::new("ociledger_txn_per_lookup", size), |b| {
            let mut i = 0;
            b.iter(|| {
                let d = &digests[i % n];
                i += 1;
                ledger.tags_for_digest(black_box(d)).expect("lookup")
            });
        });
        group.finish();

        // Several classifier threads, each on its own snapshot of one ledger:
        // time per lookup per thread. Equal to one thread's when nothing is
        // shared that every lookup writes (such as a lock word): the copy's
        // snapshots share one `Arc` of it, cloned once per snapshot.
        let mut group = c.benchmark_group("digest_lookup_threads");
        for (name, ledger, from_memory) in [
            ("ociledger", &ledger, false),
            ("ociledger_memory", &mem.ledger, true),
        ] {
            for threads in [1usize, 2] {
                group.bench_function(
                    BenchmarkId::new(format!("{name}_{threads}_threads"), size),
                    |b| {
                        b.iter_custom(|iters| {
                            let start = std::time::Instant::now();
                            std::thread::scope(|s| {
                                for t in 0..threads {
                                    let digests = &digests;
                                    s.spawn(move || {
                                        let snap = ledger.snapshot().expect("snapshot");
                                        assert_eq!(
                                            snap.reads_index_from_memory(),
                                            from_memory,
                                            "{name}: whether a thread's snapshot reads the in-memory copy"
                                        );
                                        let iters = usize::try_from(iters).expect("fits");
                                        for i in 0..iters {
                                            let d = &digests[(i + t * 500) % n];
                                            black_box(
                                                snap.tags_for_digest(black_box(d))
                                                    .expect("lookup"),
                                            );
                                        }
                                    });
                                }
                            });
                            start.elapsed()
                        });
                    },
                );
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = lookup
}
criterion_main!(benches);
