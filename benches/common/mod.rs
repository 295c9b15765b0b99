//! Shared data sets for the ledger benchmarks (`lookup`, `ingest`, `classify`).
//!
//! The base is the real tag → digest history in `../shared/data/`
//! (`tag-events.jsonl.gz` + `pinned-tag-history.jsonl.gz`, ~208k observations).
//! Larger sets replay those same tag histories under new repository names
//! (`r<k>.bench.example/<domain>/<path>`) with fresh digests
//! (`Digest::of(Sha256, raw digest ‖ k)`), so every replica has exactly the real
//! tag-move statistics: the same events per tag, the same A → B → A returns,
//! the same digests shared by several tags, the same same-instant ties.
//!
//! A size is a number of **references** ((tag, digest) pairs). Repositories are
//! taken whole (all their tags, each tag's whole history), in a fixed shuffled
//! order, replica after replica, until the count is reached (the last tag is
//! cut after the event that reaches it).
//!
//! Each size is built once and cached under
//! `target/bench-data/g<generator>-s<schema>-<hash of src/store>-<source>/<size>/`:
//! `ociledger.redb` (filled through `Ledger::ingest` in batches of 10k, in
//! observed-time order per replica), `raw.redb` (compact digest → u64, one row
//! per distinct digest), `sqlite.db` (WITHOUT ROWID digest index + tag names),
//! `queries.tsv` (the fixed query mix) and `stats.json`. A `complete` marker is
//! written last; a set without it is rebuilt.
//!
//! Without `../shared`, the bundled `data/sample-events.jsonl.gz` is the base;
//! without that, a synthetic generator with a similar shape.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::Criterion;
use flate2::read::MultiGzDecoder;
use ociledger::Ledger;
use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::{Observation, Timestamp, coalesce};
use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};
use serde::{Deserialize, Serialize};

/// Bump when the generated data change, so old caches are not reused.
pub const GENERATOR_VERSION: u32 = 6;
/// Observations per `ingest` call (and per transaction in the alternatives).
pub const BATCH: usize = 10_000;
/// The actor of every bench write.
pub const ACTOR: &str = "bench";
/// `until` of an open (current) interval, as in the ledger's index.
pub const OPEN: i64 = i64::MAX;
/// The raw redb table: compact digest → `count << 32 | tag number` of one row per digest.
pub const RAW_TABLE: redb::TableDefinition<&[u8], u64> = redb::TableDefinition::new("digest");
/// In the same raw file, for the breakdown: the ledger's digest-index key layout,
/// (compact digest, tag number, since) → until, every row.
pub const RAW_INDEX: redb::TableDefinition<(&[u8], u32, i64), i64> =
    redb::TableDefinition::new("digest_index");
/// In the same raw file, a prototype of a one-row-per-digest index: compact
/// digest → every (tag u32, since i64, until i64) entry, 20 bytes each, little
/// endian, already in answer order (current first, newest first, then tag name).
pub const RAW_PACKED: redb::TableDefinition<&[u8], &[u8]> =
    redb::TableDefinition::new("digest_packed");
/// Queries per size: 40 % hits on current tags, 40 % on historical references, 20 % misses.
pub const QUERIES: usize = 1000;

/// `OCILEDGER_BENCH_QUICK=1`: 10k only, short criterion runs (CI).
pub fn quick() -> bool {
    std::env::var("OCILEDGER_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Sizes to run: `OCILEDGER_BENCH_SIZES=10k,1M` overrides; quick mode is 10k.
pub fn sizes() -> Vec<u64> {
    if let Ok(list) = std::env::var("OCILEDGER_BENCH_SIZES") {
        return list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(parse_size)
            .collect();
    }
    if quick() {
        vec![10_000]
    } else {
        vec![10_000, 1_000_000, 10_000_000]
    }
}

fn parse_size(s: &str) -> u64 {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1_000),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .expect("OCILEDGER_BENCH_SIZES: numbers like 10k,1M,10000000")
        * mul
}

/// "10k", "1M", "10M": for names and tables.
pub fn size_label(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// The criterion configuration: short in quick mode. Command-line flags
/// (`--quick`, `--measurement-time`, filters) still apply on top.
pub fn criterion() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(600))
            .sample_size(10)
    } else {
        c
    }
}

/// `target/` (or `$CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// `target/bench-data/`.
pub fn bench_root() -> PathBuf {
    target_dir().join("bench-data")
}

/// Where the benches leave figures for `examples/bench_report.rs`.
pub fn report_dir() -> PathBuf {
    let d = bench_root().join("report");
    fs::create_dir_all(&d).expect("create target/bench-data/report");
    d
}

/// A scratch directory on the same disk as the data sets (not a tmpfs), for ingest runs.
pub fn scratch_dir() -> tempfile::TempDir {
    let root = bench_root().join("tmp");
    fs::create_dir_all(&root).expect("create target/bench-data/tmp");
    tempfile::tempdir_in(root).expect("scratch directory")
}

// ---------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------

/// xorshift64*: fixed seeds, so every run draws the same data and queries.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).expect("fits")
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------
// The base: real histories
// ---------------------------------------------------------------------------

/// One tag of the base history.
#[derive(Debug, Clone)]
pub struct BaseTag {
    pub repo: RepositoryId,
    pub tag: String,
    /// (instant in µs, index into [`Base::digests`]), in observed order.
    pub events: Vec<(i64, u32)>,
}

/// The real (or fallback) history that every data set replays.
#[derive(Debug)]
pub struct Base {
    /// `shared`, `sample` or `synthetic`.
    pub source: &'static str,
    pub tags: Vec<BaseTag>,
    pub digests: Vec<Digest>,
    pub observations: usize,
    /// Distinct (tag, digest) pairs in one full replica.
    pub references: u64,
}

fn shared_data_dir() -> PathBuf {
    std::env::var_os("OCILEDGER_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

fn read_observations(path: &Path, out: &mut Vec<Observation>) {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    for (i, line) in BufReader::new(MultiGzDecoder::new(file))
        .lines()
        .enumerate()
    {
        let line = line.unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if line.trim().is_empty() {
            continue;
        }
        let o: Observation = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        out.push(o);
    }
}

/// The base, loaded once per process.
pub fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(Base::load)
}

impl Base {
    /// The source that [`Base::load`] would use, without reading it.
    pub fn source_name() -> &'static str {
        let shared = shared_data_dir();
        if shared.join("tag-events.jsonl.gz").exists() {
            "shared"
        } else if Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/sample-events.jsonl.gz")
            .exists()
        {
            "sample"
        } else {
            "synthetic"
        }
    }

    fn load() -> Base {
        let start = Instant::now();
        let shared = shared_data_dir();
        let mut obs = Vec::new();
        let source = Self::source_name();
        match source {
            "shared" => {
                read_observations(&shared.join("tag-events.jsonl.gz"), &mut obs);
                let pinned = shared.join("pinned-tag-history.jsonl.gz");
                if pinned.exists() {
                    read_observations(&pinned, &mut obs);
                }
            }
            "sample" => {
                read_observations(
                    &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-events.jsonl.gz"),
                    &mut obs,
                );
            }
            _ => obs = synthetic_observations(),
        }
        let base = Self::from_observations(source, &obs);
        eprintln!(
            "[bench-data] base: {} observations, {} tags, {} digests, {} references from {source} ({:.1?})",
            base.observations,
            base.tags.len(),
            base.digests.len(),
            base.references,
            start.elapsed()
        );
        base
    }

    fn from_observations(source: &'static str, obs: &[Observation]) -> Base {
        let mut tag_index: HashMap<&TagId, u32> = HashMap::new();
        let mut digest_index: HashMap<Digest, u32> = HashMap::new();
        let mut tags: Vec<BaseTag> = Vec::new();
        let mut digests = Vec::new();
        for o in obs {
            let t = *tag_index.entry(&o.tag).or_insert_with(|| {
                tags.push(BaseTag {
                    repo: o.tag.repository().clone(),
                    tag: o.tag.tag().to_owned(),
                    events: Vec::new(),
                });
                u32::try_from(tags.len() - 1).expect("fits")
            });
            let d = *digest_index.entry(o.digest).or_insert_with(|| {
                digests.push(o.digest);
                u32::try_from(digests.len() - 1).expect("fits")
            });
            tags[t as usize]
                .events
                .push((o.observed_at.timestamp_micros(), d));
        }
        let mut references = 0;
        for t in &mut tags {
            t.events.sort_by_key(|e| e.0); // stable: keeps file order within an instant
            references += t.events.iter().map(|e| e.1).collect::<HashSet<_>>().len() as u64;
        }
        Base {
            source,
            observations: obs.len(),
            tags,
            digests,
            references,
        }
    }

    /// Tag indices in the fixed order sizes are cut from: whole repositories
    /// in a fixed shuffled order (digests are shared mostly between the tags
    /// of one repository: `latest`, `1`, `1.13`, `1.13.5`), each repository's
    /// tags in their first-seen order.
    fn order(&self) -> Vec<u32> {
        let mut repos: Vec<&RepositoryId> = Vec::new();
        let mut by_repo: HashMap<&RepositoryId, Vec<u32>> = HashMap::new();
        for (i, t) in self.tags.iter().enumerate() {
            let tags = by_repo.entry(&t.repo).or_insert_with(|| {
                repos.push(&t.repo);
                Vec::new()
            });
            tags.push(u32::try_from(i).expect("fits"));
        }
        Rng::new(0x0C1_1ED6E5).shuffle(&mut repos);
        repos.iter().flat_map(|r| by_repo[r].iter().copied()).collect()
    }

    /// Replica `k`'s name for base repository `repo` (replica 0 is the real name).
    pub fn replica_repo(repo: &RepositoryId, k: u32, fallback: usize) -> RepositoryId {
        if k == 0 {
            return repo.clone();
        }
        let domain: String = repo
            .domain()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("r{k}.bench.example/{domain}/{}", repo.path())
            .parse()
            .unwrap_or_else(|_| {
                format!("r{k}.bench.example/long/x{fallback}")
                    .parse()
                    .expect("valid repository")
            })
    }

    /// Replica `k`'s digests: the real ones for k = 0, fresh ones otherwise.
    pub fn replica_digests(&self, k: u32) -> Vec<Digest> {
        if k == 0 {
            return self.digests.clone();
        }
        self.digests
            .iter()
            .map(|d| {
                let mut seed = d.as_bytes().to_vec();
                seed.extend_from_slice(&k.to_le_bytes());
                Digest::of(Algorithm::Sha256, &seed)
            })
            .collect()
    }

    /// The parts of a data set of `references` references.
    pub fn plan(&self, references: u64) -> Vec<Part> {
        let order = self.order();
        let mut parts = Vec::new();
        let mut remaining = references;
        let mut k = 0;
        while remaining > 0 {
            let mut part = Part {
                replica: k,
                tags: Vec::new(),
            };
            for &t in &order {
                let events = &self.tags[t as usize].events;
                let mut seen = HashSet::new();
                let mut cut = events.len();
                for (i, e) in events.iter().enumerate() {
                    if seen.insert(e.1) && seen.len() as u64 == remaining {
                        cut = i + 1;
                        break;
                    }
                }
                remaining -= seen.len() as u64;
                part.tags.push((t, u32::try_from(cut).expect("fits")));
                if remaining == 0 {
                    break;
                }
            }
            parts.push(part);
            k += 1;
        }
        parts
    }

    /// A part's tags (as [`TagId`]s, in part order) and its observations
    /// (tag position in the part, observation), sorted by observed time.
    pub fn materialize(&self, part: &Part) -> (Vec<TagId>, Vec<(u32, Observation)>) {
        let digests = self.replica_digests(part.replica);
        let mut ids = Vec::with_capacity(part.tags.len());
        let mut obs = Vec::new();
        for (pos, &(t, n)) in part.tags.iter().enumerate() {
            let bt = &self.tags[t as usize];
            let repo = Self::replica_repo(&bt.repo, part.replica, t as usize);
            let id = TagId::new(repo, &bt.tag).expect("base tags are valid");
            for &(us, d) in &bt.events[..n as usize] {
                obs.push((
                    u32::try_from(pos).expect("fits"),
                    Observation::new(id.clone(), digests[d as usize], micros_to_ts(us)),
                ));
            }
            ids.push(id);
        }
        obs.sort_by_key(|(_, o)| o.observed_at);
        (ids, obs)
    }
}

/// Tags of one replica taken into a data set: (base tag, events taken).
#[derive(Debug, Clone)]
pub struct Part {
    pub replica: u32,
    pub tags: Vec<(u32, u32)>,
}

pub fn micros_to_ts(us: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_micros(us).expect("in range")
}

/// Without any real data: 20k tags, geometric history lengths (median ~3,
/// long tail), some digests shared between tags.
fn synthetic_observations() -> Vec<Observation> {
    let mut rng = Rng::new(42);
    let mut out = Vec::new();
    let start = 1_500_000_000_i64;
    let mut shared: Vec<Digest> = Vec::new();
    for i in 0..20_000u32 {
        let repo: RepositoryId = format!("synthetic.example/lib/img{}", i / 10)
            .parse()
            .expect("valid");
        let tag = TagId::new(repo, &format!("t{}", i % 10)).expect("valid");
        let mut n = 1;
        while n < 300 && rng.below(100) < 70 {
            n += 1;
        }
        let mut t = start + i64::try_from(rng.below(86_400 * 365)).expect("fits");
        for j in 0..n {
            let d = if !shared.is_empty() && rng.below(10) == 0 {
                shared[rng.below(shared.len())]
            } else {
                let d = Digest::of(Algorithm::Sha256, format!("synthetic-{i}-{j}").as_bytes());
                if rng.below(4) == 0 {
                    shared.push(d);
                }
                d
            };
            out.push(Observation::new(
                tag.clone(),
                d,
                micros_to_ts(t * 1_000_000),
            ));
            t += 3600 + i64::try_from(rng.below(86_400 * 30)).expect("fits");
        }
    }
    out.sort_by_key(|o| o.observed_at);
    out
}

// ---------------------------------------------------------------------------
// Data sets on disk
// ---------------------------------------------------------------------------

/// One digest-index row: the tag (global number in the data set) pointed to
/// the digest over `[since, until)` (µs; `until == OPEN` while current).
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub digest: Digest,
    pub tag: u32,
    pub since: i64,
    pub until: i64,
}

/// A query of the fixed mix.
#[derive(Debug, Clone)]
pub struct Query {
    /// `C` hit on a current tag, `H` hit on a historical reference, `M` miss.
    pub kind: char,
    pub digest: Digest,
    /// Matches (digest-index rows) expected.
    pub expected: usize,
    /// The tag of the sampled row (`C`/`H`).
    pub tag: Option<TagId>,
}

/// Figures written when a set is built.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetStats {
    pub size: u64,
    pub source: String,
    pub observations: u64,
    pub ledger_references: u64,
    pub ledger_observations: u64,
    pub ledger_intervals: u64,
    pub ledger_tags: u64,
    pub ledger_repositories: u64,
    pub rows: u64,
    pub distinct_digests: u64,
    /// The ledger file after `Ledger::compact` (the lookups run on it).
    pub ledger_bytes: u64,
    /// The ledger file as the batches of `ingest` left it, before compacting.
    #[serde(default)]
    pub ledger_bytes_ingested: u64,
    pub raw_bytes: u64,
    pub sqlite_bytes: u64,
    pub ledger_build_seconds: f64,
    pub ledger_ingest_obs_per_second: f64,
    pub raw_build_seconds: f64,
    pub sqlite_build_seconds: f64,
    /// Per redb table of the ledger file: (name, entries, stored, metadata, fragmented, leaf pages, branch pages, height).
    pub ledger_tables: Vec<TableBytes>,
    pub raw_tables: Vec<TableBytes>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableBytes {
    pub name: String,
    pub entries: u64,
    pub stored_bytes: u64,
    pub metadata_bytes: u64,
    pub fragmented_bytes: u64,
    pub leaf_pages: u64,
    pub branch_pages: u64,
    pub height: u32,
}

/// The files of one size.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub size: u64,
    pub dir: PathBuf,
    pub ledger: PathBuf,
    pub raw: PathBuf,
    pub sqlite: PathBuf,
    pub queries: PathBuf,
    pub stats: PathBuf,
}

/// SQLite settings for reading: a page cache as large as redb's default (1 GiB).
pub const SQLITE_READ_PRAGMAS: &str = "PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY;";

/// The lookup query: the same matches as `tags_for_digest` (names joined in).
pub const SQLITE_LOOKUP: &str = "SELECT t.name, d.since, d.until FROM digest_index AS d JOIN tags AS t ON t.id = d.tag WHERE d.digest = ?1";

impl DataSet {
    /// The set of `size` references, built if it is missing.
    pub fn ensure(size: u64) -> DataSet {
        let dir = bench_root()
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
            raw: dir.join("raw.redb"),
            sqlite: dir.join("sqlite.db"),
            queries: dir.join("queries.tsv"),
            stats: dir.join("stats.json"),
            dir,
        };
        let usable = set.dir.join("complete").exists()
            && Ledger::open(&set.ledger).and_then(|l| l.snapshot().map(drop)).is_ok();
        if !usable {
            set.build();
        }
        set
    }

    pub fn load_stats(&self) -> SetStats {
        serde_json::from_slice(&fs::read(&self.stats).expect("read stats.json"))
            .expect("stats.json")
    }

    pub fn load_queries(&self) -> Vec<Query> {
        let text = fs::read_to_string(&self.queries).expect("read queries.tsv");
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Query {
                    kind: f[0].chars().next().expect("kind"),
                    digest: f[1].parse().expect("digest"),
                    expected: f[2].parse().expect("count"),
                    tag: (f[3] != "-").then(|| f[3].parse().expect("tag")),
                }
            })
            .collect()
    }

    /// Opens the SQLite copy read-only with the read pragmas.
    pub fn open_sqlite(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_with_flags(
            &self.sqlite,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open sqlite");
        conn.execute_batch(SQLITE_READ_PRAGMAS).expect("pragmas");
        conn
    }

    /// Tag names by the set's tag numbers (for the packed-index prototype).
    pub fn load_names(&self) -> Vec<std::sync::Arc<TagId>> {
        let conn = self.open_sqlite();
        let mut stmt = conn
            .prepare("SELECT id, name FROM tags ORDER BY id")
            .expect("prepare");
        
        stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .expect("query")
            .enumerate()
            .map(|(i, r)| {
                let (id, name) = r.expect("row");
                assert_eq!(id, i as i64, "dense tag ids");
                std::sync::Arc::new(name.parse().expect("tag id"))
            })
            .collect()
    }

    /// Every digest-index row, from the SQLite copy (for the HashMap contender).
    pub fn load_rows(&self) -> Vec<Row> {
        let conn = self.open_sqlite();
        let mut stmt = conn
            .prepare("SELECT digest, tag, since, until FROM digest_index")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| {
                let d: Vec<u8> = r.get(0)?;
                Ok(Row {
                    digest: Digest::from_compact(&d).expect("compact digest"),
                    tag: r.get(1)?,
                    since: r.get(2)?,
                    until: r.get(3)?,
                })
            })
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
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
        let mut rows: Vec<Row> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut observations = 0u64;
        for part in &parts {
            let (ids, obs) = base.materialize(part);
            observations += obs.len() as u64;
            let first = u32::try_from(names.len()).expect("fits");
            let mut per_tag: Vec<Vec<(Timestamp, Option<Digest>)>> = vec![Vec::new(); ids.len()];
            for (pos, o) in &obs {
                per_tag[*pos as usize].push((o.observed_at, Some(o.digest)));
            }
            for (pos, mut log) in per_tag.into_iter().enumerate() {
                log.sort_unstable();
                log.dedup();
                for (d, iv) in coalesce(log) {
                    rows.push(Row {
                        digest: d,
                        tag: first + u32::try_from(pos).expect("fits"),
                        since: iv.since.timestamp_micros(),
                        until: iv.until.map_or(OPEN, |u| u.timestamp_micros()),
                    });
                }
            }
            names.extend(ids.iter().map(ToString::to_string));
        }
        rows.sort_unstable_by_key(|a| (a.digest, a.tag, a.since));
        eprintln!(
            "[bench-data] {observations} observations, {} rows, {} tags ({:.1?})",
            rows.len(),
            names.len(),
            t.elapsed()
        );

        // 2. The ledger through its ingest API (one thread), while this thread
        //    writes the raw redb and SQLite copies.
        let mut stats = SetStats {
            size: self.size,
            source: base.source.to_owned(),
            observations,
            rows: rows.len() as u64,
            ..SetStats::default()
        };
        let ledger_stats = std::thread::scope(|s| {
            let ledger = s.spawn(|| build_ledger(base, &parts, &self.ledger, observations));
            let t = Instant::now();
            let distinct = build_raw(&rows, &names, &self.raw);
            stats.raw_build_seconds = t.elapsed().as_secs_f64();
            stats.distinct_digests = distinct;
            let t = Instant::now();
            build_sqlite(&rows, &names, &self.sqlite);
            stats.sqlite_build_seconds = t.elapsed().as_secs_f64();
            eprintln!(
                "[bench-data] raw redb {:.1}s, sqlite {:.1}s",
                stats.raw_build_seconds, stats.sqlite_build_seconds
            );
            write_queries(&rows, &names, &self.queries);
            ledger.join().expect("ledger build")
        });
        stats.ledger_build_seconds = ledger_stats.0;
        stats.ledger_ingest_obs_per_second = observations as f64 / ledger_stats.0;
        let counts = ledger_stats.1;
        stats.ledger_references = counts.references;
        stats.ledger_observations = counts.observations;
        stats.ledger_intervals = counts.moves;
        stats.ledger_tags = counts.tags;
        stats.ledger_repositories = counts.repositories;
        stats.ledger_bytes_ingested = file_len(&self.ledger);
        let compaction = Ledger::open(&self.ledger)
            .and_then(|mut l| l.compact())
            .expect("compact the ledger");
        eprintln!("[bench-data] compacted the ledger: {compaction:?}");
        stats.ledger_bytes = file_len(&self.ledger);
        stats.raw_bytes = file_len(&self.raw);
        stats.sqlite_bytes = file_len(&self.sqlite);
        stats.ledger_tables = table_bytes(&self.ledger);
        stats.raw_tables = table_bytes(&self.raw);
        assert_eq!(
            stats.ledger_intervals, stats.rows,
            "the ledger's digest index and the independent replay disagree on the number of intervals"
        );
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
}

/// A hash of `src/store/*.rs`: the file layout can change without a schema
/// version bump while the code is young, and a cached file of another layout
/// must not be reused (it is also checked by opening it).
fn store_fingerprint() -> u32 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut h: u32 = 0x811c_9dc5; // FNV-1a
    for f in files {
        for b in fs::read(&f).unwrap_or_default() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    h
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map_or(0, |m| m.len())
}

fn build_ledger(base: &Base, parts: &[Part], path: &Path, total: u64) -> (f64, ociledger::Counts) {
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
    let counts = ledger.stats().expect("stats").counts;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "[bench-data] ledger ingest {secs:.1}s ({:.0} observations/s)",
        total as f64 / secs
    );
    (secs, counts)
}

/// One row per distinct digest: `count << 32 | tag of its newest interval`.
fn build_raw(rows: &[Row], names: &[String], path: &Path) -> u64 {
    let db = redb::Database::create(path).expect("create raw redb");
    let txn = db.begin_write().expect("write txn");
    let mut distinct = 0;
    {
        let mut table = txn.open_table(RAW_TABLE).expect("table");
        for group in rows.chunk_by(|a, b| a.digest == b.digest) {
            let newest = group.iter().max_by_key(|r| r.since).expect("non-empty");
            let (buf, len) = group[0].digest.compact_array();
            table
                .insert(
                    &buf[..len],
                    (group.len() as u64) << 32 | u64::from(newest.tag),
                )
                .expect("insert");
            distinct += 1;
        }
        let mut index = txn.open_table(RAW_INDEX).expect("table");
        for r in rows {
            let (buf, len) = r.digest.compact_array();
            index
                .insert((&buf[..len], r.tag, r.since), r.until)
                .expect("insert");
        }
        let mut packed = txn.open_table(RAW_PACKED).expect("table");
        let mut value = Vec::new();
        for group in rows.chunk_by(|a, b| a.digest == b.digest) {
            let mut entries: Vec<&Row> = group.iter().collect();
            entries.sort_by(|a, b| {
                (b.until == OPEN)
                    .cmp(&(a.until == OPEN))
                    .then(b.since.cmp(&a.since))
                    .then_with(|| {
                        // The ledger's tie order: by TagId (repository, then tag).
                        let id = |r: &Row| names[r.tag as usize].parse::<TagId>().expect("tag id");
                        id(a).cmp(&id(b))
                    })
            });
            value.clear();
            for r in entries {
                value.extend_from_slice(&r.tag.to_le_bytes());
                value.extend_from_slice(&r.since.to_le_bytes());
                value.extend_from_slice(&r.until.to_le_bytes());
            }
            let (buf, len) = group[0].digest.compact_array();
            packed
                .insert(&buf[..len], value.as_slice())
                .expect("insert");
        }
    }
    txn.commit().expect("commit");
    distinct
}

fn build_sqlite(rows: &[Row], names: &[String], path: &Path) {
    let mut conn = rusqlite::Connection::open(path).expect("create sqlite");
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576;
         CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE digest_index(digest BLOB NOT NULL, tag INTEGER NOT NULL, since INTEGER NOT NULL,
                                   until INTEGER NOT NULL, PRIMARY KEY (digest, tag, since)) WITHOUT ROWID;",
    )
    .expect("schema");
    let txn = conn.transaction().expect("txn");
    {
        let mut ins = txn
            .prepare("INSERT INTO tags(id, name) VALUES (?1, ?2)")
            .expect("prepare");
        for (i, n) in names.iter().enumerate() {
            ins.execute(rusqlite::params![i as i64, n])
                .expect("insert tag");
        }
        let mut ins = txn
            .prepare("INSERT INTO digest_index(digest, tag, since, until) VALUES (?1, ?2, ?3, ?4)")
            .expect("prepare");
        for r in rows {
            let (buf, len) = r.digest.compact_array();
            ins.execute(rusqlite::params![&buf[..len], r.tag, r.since, r.until])
                .expect("insert row");
        }
    }
    txn.commit().expect("commit");
    // No ANALYZE: the bundled SQLite is built with STAT4, and with stat4 rows a
    // prepared statement is re-prepared whenever a bound key changes (80 % of
    // the lookup's instructions in callgrind). The plan is optimal without it.
}

/// 40 % current hits, 40 % historical hits, 20 % misses, shuffled.
fn write_queries(rows: &[Row], names: &[String], path: &Path) {
    let mut rng = Rng::new(0x005E_ED0F_1007);
    let count = |d: &Digest| {
        let lo = rows.partition_point(|r| r.digest < *d);
        let hi = rows.partition_point(|r| r.digest <= *d);
        hi - lo
    };
    let want = QUERIES * 2 / 5;
    let mut picked: Vec<(char, Digest, usize, String)> = Vec::new();
    for (kind, current) in [('C', true), ('H', false)] {
        let mut n = 0;
        let mut tries = 0;
        while n < want && tries < 1_000 * QUERIES {
            tries += 1;
            let r = &rows[rng.below(rows.len())];
            if (r.until == OPEN) == current {
                picked.push((
                    kind,
                    r.digest,
                    count(&r.digest),
                    names[r.tag as usize].clone(),
                ));
                n += 1;
            }
        }
    }
    for i in 0..QUERIES - picked.len() {
        let d = Digest::of(
            Algorithm::Sha256,
            format!("ociledger-bench-miss-{i}").as_bytes(),
        );
        assert_eq!(count(&d), 0);
        picked.push(('M', d, 0, "-".to_owned()));
    }
    rng.shuffle(&mut picked);
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("queries.tsv"));
    for (k, d, c, t) in picked {
        writeln!(f, "{k}\t{d}\t{c}\t{t}").expect("write");
    }
    f.flush().expect("flush");
}

/// Per-table storage of a redb file (every table is a plain table).
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

// ---------------------------------------------------------------------------
// An endless stream of observations for the ingest bench
// ---------------------------------------------------------------------------

/// Replica after replica (from replica 1000 on, so no name meets a data set's),
/// each replica the whole base in observed-time order, cut into batches.
pub struct Stream {
    replica: u32,
    buf: std::collections::VecDeque<Observation>,
}

impl Stream {
    pub fn new() -> Self {
        Self {
            replica: 1000,
            buf: std::collections::VecDeque::new(),
        }
    }

    pub fn next_batch(&mut self) -> Vec<Observation> {
        let base = base();
        while self.buf.len() < BATCH {
            let part = Part {
                replica: self.replica,
                tags: base
                    .tags
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        (
                            u32::try_from(i).expect("fits"),
                            u32::try_from(t.events.len()).expect("fits"),
                        )
                    })
                    .collect(),
            };
            self.replica += 1;
            let (_, obs) = base.materialize(&part);
            self.buf.extend(obs.into_iter().map(|(_, o)| o));
        }
        self.buf.drain(..BATCH).collect()
    }
}

impl Default for Stream {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes a bench's figures for the report tool.
pub fn write_report(name: &str, value: &impl Serialize) {
    let path = report_dir().join(format!("{name}.json"));
    fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write report json");
}
