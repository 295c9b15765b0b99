//! A damaged file can never crash the process.
//!
//! Guards against numbers and bytes read from the file being trusted: one bad
//! row in `tag_keys` (a tag number of about `u32::MAX`) once made `open`
//! abort the process with a 275 GB allocation while it rebuilt the tag-name
//! cache. Every number read from the file that sizes an allocation, indexes a
//! list or is converted (tag and repository numbers, lengths, instants,
//! digests) must be checked, and a bad row must give `Error::Corrupt` naming
//! the table or row, never a panic, an abort or a huge allocation.
//!
//! Each test builds a small valid ledger with the public API, closes it,
//! damages ONE thing with plain redb (tables of the same names and types as
//! `src/store/mod.rs`), and then checks `open_read_only`, `open`, every query
//! and an `ingest` touching the damage: each must return `Error::Corrupt` or
//! the answer the undamaged ledger gives (the baseline), never panic (a panic
//! is caught and reported with the operation's name), and the whole check must
//! take well under a second. Where the damaged row is necessarily read, the
//! test also requires `Corrupt` (the damage must be noticed, not passed on).
//! `Ledger::verify` must never call a damaged file clean (it reports a finding
//! or fails), and must call the undamaged one clean.

use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ociledger::id::{Algorithm, Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{FixedClock, Observation, RepositoryBody, Timestamp};
use ociledger::{Error, Ledger};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

// The tables, as `src/store/mod.rs` defines them.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const REPO_KEYS: TableDefinition<&str, u32> = TableDefinition::new("repo_keys");
const REPOS: TableDefinition<u32, &[u8]> = TableDefinition::new("repos");
const TAG_KEYS: TableDefinition<&str, u32> = TableDefinition::new("tag_keys");
const TAGS: TableDefinition<u32, &[u8]> = TableDefinition::new("tags");
/// (tag number, instant of the chunk's first entry) → packed entries, each
/// `instant i64 LE, batch u32 LE, algorithm byte (0: deletion), raw digest`.
const TAG_LOG: TableDefinition<(u32, i64), &[u8]> = TableDefinition::new("tag_log");
/// batch sequence number → `JournalRow`
const JOURNAL: TableDefinition<u32, &[u8]> = TableDefinition::new("journal");
/// the digest's first 8 bytes (big-endian) → groups, each `algorithm byte,
/// flags byte, count u32 LE, the digest's other bytes, count × (tag u32,
/// since i64, until i64) LE`.
const DIGEST_INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("digest_index");

// The stored rows, as `src/store/rows.rs` defines them (postcard). The test
// `the_mirrored_rows_match_the_stored_format` keeps them in step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AuditRow {
    created_by: String,
    created_on: i64,
    last_modified_by: String,
    last_modified_on: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RepoRow {
    id: String,
    last_scanned_on: i64,
    projects: Option<Vec<String>>,
    project_components: Option<Vec<String>>,
    packages: Option<Vec<String>>,
    audit: AuditRow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TagRow {
    repo: u32,
    name: String,
    current: Option<Vec<u8>>,
    audit: AuditRow,
}

/// As `src/store/journal.rs` defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JournalRow {
    at: i64,
    actor: String,
    count: u64,
    batch: [u8; 32],
    prev: [u8; 32],
}

/// How long the checks of one damaged file may take (they take milliseconds;
/// a huge allocation or a scan of `u32::MAX` numbers takes far longer).
const TIME_LIMIT: Duration = Duration::from_secs(1);
/// Peak resident memory of the whole test process, all cases included.
const MEMORY_LIMIT_KB: u64 = 1 << 20;

const LATEST: &str = "nginx:latest";
const V125: &str = "nginx:1.25";
const APP: &str = "ghcr.io/acme/app:v1";
/// A tag that does not exist in the undamaged ledger.
const GHOST: &str = "nginx:ghost";
const ISTIO: &str = "istio/pilot";
const NGINX: &str = "nginx";
const ACME: &str = "ghcr.io/acme/app";

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn day(n: i64) -> Timestamp {
    t("2024-01-01T00:00:00Z") + chrono::Duration::days(n - 1)
}

fn us(at: Timestamp) -> i64 {
    at.timestamp_micros()
}

fn d(n: u32) -> Digest {
    Digest::of(Algorithm::Sha256, &n.to_le_bytes())
}

fn tag_id(s: &str) -> TagId {
    s.parse().expect("test tag id")
}

fn repo_id(s: &str) -> RepositoryId {
    s.parse().expect("test repository id")
}

fn obs(tag: &str, digest: Digest, at: Timestamp) -> Observation {
    Observation::new(tag_id(tag), digest, at)
}

fn with_clock(l: Ledger) -> Ledger {
    l.with_clock(Arc::new(FixedClock::at(t("2025-01-01T00:00:00Z"))))
}

/// Deterministic pseudo-random bytes (xorshift).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// postcard's varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(u8::try_from(v & 0x7f).unwrap() | 0x80);
        v >>= 7;
    }
    out.push(u8::try_from(v).unwrap());
}

fn encode<T: Serialize>(row: &T) -> Vec<u8> {
    postcard::to_stdvec(row).unwrap()
}

fn packed(entries: &[(u32, i64, i64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, since, until) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&since.to_le_bytes());
        out.extend_from_slice(&until.to_le_bytes());
    }
    out
}

// ---------------------------------------------------------------------------
// The ledger, the questions asked of it, and the answers of the undamaged one.
// ---------------------------------------------------------------------------

/// Builds the small ledger every case starts from: a repository with no tags
/// (and associations), two tags in one repository that share a digest, one
/// in another, a move.
fn build(path: &Path) {
    let l = with_clock(Ledger::create(path).unwrap());
    let mut body = RepositoryBody::new(&repo_id(ISTIO), day(1));
    body.projects = Some(vec!["istio".into()]);
    l.create_repository("alice", &body).unwrap();
    l.ingest(
        "scanner",
        &[
            obs(LATEST, d(1), day(1)),
            obs(LATEST, d(2), day(2)),
            obs(V125, d(2), day(2)),
            obs(APP, d(3), day(1)),
        ],
    )
    .unwrap();
}

/// The write every case tries last: it touches every tag and repository
/// (and digest 1's index entry and reference), and creates two tags.
fn ingest(l: &Ledger) -> ociledger::Result<String> {
    let batch = [
        obs(LATEST, d(1), day(3)),
        obs(LATEST, d(4), day(4)),
        obs(V125, d(3), day(3)),
        obs(APP, d(2), day(3)),
        obs(GHOST, d(5), day(3)),
        obs("istio/pilot:1.0", d(5), day(3)),
    ];
    l.ingest("scanner", &batch).map(|s| format!("{s:?}"))
}

type Query = Box<dyn Fn(&Ledger) -> ociledger::Result<String>>;

fn show<T: Debug>(r: ociledger::Result<T>) -> ociledger::Result<String> {
    r.map(|v| format!("{v:?}"))
}

/// Every question asked of a damaged ledger, by name. Names are words, so a
/// case can name the ones that must fail (`must_fail`).
fn queries() -> Vec<(String, Query)> {
    let mut q: Vec<(String, Query)> = Vec::new();
    q.push((
        "stats".into(),
        Box::new(|l| l.stats().map(|s| format!("{:?}", s.counts))),
    ));
    for n in 1..=5 {
        q.push((
            format!("tags_for_digest d{n}"),
            Box::new(move |l| show(l.tags_for_digest(&d(n)))),
        ));
    }
    for tag in [LATEST, V125, APP, GHOST] {
        q.push((
            format!("get_tag {tag}"),
            Box::new(move |l| show(l.get_tag(&tag_id(tag)))),
        ));
        q.push((
            format!("history {tag}"),
            Box::new(move |l| show(l.history(&tag_id(tag), None, 100))),
        ));
        q.push((
            format!("tag_at {tag}"),
            Box::new(move |l| show(l.tag_at(&tag_id(tag), day(2) + chrono::Duration::hours(12)))),
        ));
        q.push((
            format!("references {tag}"),
            Box::new(move |l| show(l.references(&tag_id(tag), None, 100))),
        ));
        for n in [1, 2] {
            q.push((
                format!("classify {tag} d{n}"),
                Box::new(move |l| show(l.classify(tag, Some(&d(n))))),
            ));
        }
    }
    q.push((
        format!("get_reference {LATEST} d1"),
        Box::new(|l| show(l.get_reference(&ReferenceId::new(tag_id(LATEST), d(1))))),
    ));
    q.push((
        "repositories".into(),
        Box::new(|l| show(l.repositories(None, 100))),
    ));
    for repo in [ISTIO, NGINX, ACME] {
        q.push((
            format!("get_repository {repo}"),
            Box::new(move |l| show(l.get_repository(&repo_id(repo)))),
        ));
        q.push((
            format!("tags {repo}"),
            Box::new(move |l| show(l.tags(&repo_id(repo), None, 100))),
        ));
    }
    q
}

/// An answer as text: the value's `Debug`, or the error's message.
fn render(r: &ociledger::Result<String>) -> String {
    match r {
        Ok(v) => format!("ok {v}"),
        Err(e) => format!("error {e}"),
    }
}

struct Baseline {
    answers: Vec<(String, String)>,
    ingest: String,
}

/// The undamaged ledger's answers, computed once.
fn baseline() -> &'static Baseline {
    static BASELINE: OnceLock<Baseline> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.redb");
        build(&path);
        let l = with_clock(Ledger::open(&path).unwrap());
        let answers = queries()
            .into_iter()
            .map(|(name, q)| (name, render(&q(&l))))
            .collect();
        let ingest = render(&ingest(&l));
        Baseline { answers, ingest }
    })
}

// ---------------------------------------------------------------------------
// Damaging a file and checking what a ledger does with it.
// ---------------------------------------------------------------------------

/// The numbers the undamaged ledger gave its tags and repositories.
struct Fx {
    latest: u32,
    v125: u32,
    app: u32,
    istio: u32,
    nginx: u32,
}

fn numbers(path: &Path) -> Fx {
    let db = Database::open(path).unwrap();
    let r = db.begin_read().unwrap();
    let tag_keys = r.open_table(TAG_KEYS).unwrap();
    let repo_keys = r.open_table(REPO_KEYS).unwrap();
    let tag = |s: &str| {
        tag_keys
            .get(tag_id(s).to_string().as_str())
            .unwrap()
            .unwrap()
            .value()
    };
    let repo = |s: &str| repo_keys.get(repo_id(s).as_str()).unwrap().unwrap().value();
    Fx {
        latest: tag(LATEST),
        v125: tag(V125),
        app: tag(APP),
        istio: repo(ISTIO),
        nginx: repo(NGINX),
    }
}

fn tag_row(txn: &WriteTransaction, n: u32) -> TagRow {
    let table = txn.open_table(TAGS).unwrap();
    let row = table.get(n).unwrap().unwrap();
    postcard::from_bytes(row.value()).unwrap()
}

fn repo_row(txn: &WriteTransaction, n: u32) -> RepoRow {
    let table = txn.open_table(REPOS).unwrap();
    let row = table.get(n).unwrap().unwrap();
    postcard::from_bytes(row.value()).unwrap()
}

fn ref_row(txn: &WriteTransaction, n: u32, digest: &[u8]) -> RefRow {
    let table = txn.open_table(REFS).unwrap();
    let row = table.get((n, digest)).unwrap().unwrap();
    postcard::from_bytes(row.value()).unwrap()
}

fn put_tag(txn: &WriteTransaction, n: u32, bytes: &[u8]) {
    txn.open_table(TAGS).unwrap().insert(n, bytes).unwrap();
}

fn put_repo(txn: &WriteTransaction, n: u32, bytes: &[u8]) {
    txn.open_table(REPOS).unwrap().insert(n, bytes).unwrap();
}

fn put_tag_key(txn: &WriteTransaction, tag: &str, n: u32) {
    txn.open_table(TAG_KEYS)
        .unwrap()
        .insert(tag_id(tag).to_string().as_str(), n)
        .unwrap();
}

fn put_repo_key(txn: &WriteTransaction, repo: &str, n: u32) {
    txn.open_table(REPO_KEYS).unwrap().insert(repo, n).unwrap();
}

fn put_move(txn: &WriteTransaction, n: u32, at: i64, digest: &[u8]) {
    txn.open_table(MOVES)
        .unwrap()
        .insert((n, at, digest), ())
        .unwrap();
}

fn put_ref(txn: &WriteTransaction, n: u32, digest: &[u8], bytes: &[u8]) {
    txn.open_table(REFS)
        .unwrap()
        .insert((n, digest), bytes)
        .unwrap();
}

fn put_index(txn: &WriteTransaction, digest: &Digest, bytes: &[u8]) {
    txn.open_table(DIGEST_INDEX)
        .unwrap()
        .insert(digest.to_compact().as_slice(), bytes)
        .unwrap();
}

/// What opening the damaged file must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// It opens; the damage is found (or not needed) by the queries.
    Ok,
    /// `Error::Corrupt`: the damage is in what `open` reads.
    Corrupt,
    /// `Error::NotALedger` or `Error::Version`: the format record or a table
    /// is gone, so it is not (this version's) ledger at all.
    Refused,
    /// Some error, not a panic: what the error should be is not settled.
    Fails,
}

/// What one operation did.
enum Outcome<T> {
    Ok(T),
    Corrupt(String),
    Other(Error),
}

fn case_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("case")
        .rsplit("::")
        .next()
        .unwrap_or("case")
        .to_owned()
}

/// Runs `f`, turning a panic into a test failure that names the case and
/// the operation.
fn guarded<T>(op: &str, f: impl FnOnce() -> ociledger::Result<T>) -> Outcome<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Outcome::Ok(v),
        Ok(Err(Error::Corrupt(msg))) => {
            assert!(
                !msg.is_empty(),
                "{}: {op}: empty Corrupt message",
                case_name()
            );
            Outcome::Corrupt(msg)
        }
        Ok(Err(e)) => Outcome::Other(e),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!(
                "{}: {op} PANICKED on a damaged file (it must return Error::Corrupt): {msg}",
                case_name()
            );
        }
    }
}

/// Whether operation `op` is named by one of the patterns: every word of
/// the pattern is a word of the operation's name.
fn named(op: &str, patterns: &[&str]) -> bool {
    patterns.iter().any(|p| {
        p.split_whitespace()
            .all(|w| op.split_whitespace().any(|o| o == w))
    })
}

/// Opens the damaged file with `open`, then asks every question (and writes,
/// for a writer): each answer must be the baseline's or `Corrupt`, and the
/// ones `must_fail` names must be `Corrupt`. Returns the operations that
/// found the damage.
fn exercise(
    path: &Path,
    mode: &str,
    expected: Open,
    must_fail: &[&str],
    write: bool,
) -> Vec<String> {
    let case = case_name();
    let base = baseline();
    let open_op = mode.to_owned();
    let opened = guarded(&open_op, || {
        if write {
            Ledger::open(path)
        } else {
            Ledger::open_read_only(path)
        }
    });
    let l = match (opened, expected) {
        (Outcome::Ok(l), Open::Ok) => with_clock(l),
        (Outcome::Corrupt(m), Open::Corrupt) => return vec![format!("{open_op}: {m}")],
        (Outcome::Other(Error::NotALedger { .. } | Error::Version { .. }), Open::Refused) => {
            return vec![open_op];
        }
        (Outcome::Corrupt(_) | Outcome::Other(_), Open::Fails) => return vec![open_op],
        (Outcome::Ok(_), e) => panic!("{case}: {mode} succeeded, expected {e:?}"),
        (Outcome::Corrupt(m), e) => panic!("{case}: {mode} gave Corrupt({m}), expected {e:?}"),
        (Outcome::Other(err), e) => panic!("{case}: {mode} gave {err:?}, expected {e:?}"),
    };
    let mut found = Vec::new();
    for ((name, q), (base_name, base_answer)) in queries().into_iter().zip(&base.answers) {
        assert_eq!(&name, base_name);
        let op = format!("{mode}: {name}");
        match guarded(&op, || q(&l)) {
            Outcome::Corrupt(m) => found.push(format!("{name}: {m}")),
            outcome => {
                assert!(
                    !named(&name, must_fail),
                    "{case}: {op} must report Error::Corrupt, it read the damaged row"
                );
                let answer = match outcome {
                    Outcome::Ok(v) => render(&Ok(v)),
                    Outcome::Other(e) => render(&Err(e)),
                    Outcome::Corrupt(_) => unreachable!(),
                };
                // Counts may change with rows added by the damage.
                if name != "stats" {
                    assert_eq!(
                        &answer, base_answer,
                        "{case}: {op} neither reported Corrupt nor gave the undamaged answer"
                    );
                }
            }
        }
    }
    if write {
        let op = format!("{mode}: ingest");
        match guarded(&op, || ingest(&l)) {
            Outcome::Corrupt(m) => found.push(format!("ingest: {m}")),
            Outcome::Ok(v) => {
                assert!(
                    !named("ingest", must_fail),
                    "{case}: {op} must report Error::Corrupt, it read the damaged row"
                );
                assert_eq!(render(&Ok(v)), base.ingest, "{case}: {op}");
            }
            Outcome::Other(e) => panic!("{case}: {op} gave {e:?}, expected Corrupt or success"),
        }
    }
    found
}

fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Builds a ledger, damages it with `damage`, and checks a reader and then a
/// writer on it (see the module doc).
fn check(expected: Open, must_fail: &[&str], damage: impl FnOnce(&Fx, &WriteTransaction)) {
    let case = case_name();
    baseline();
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("damaged.redb");
    build(&path);
    let fx = numbers(&path);
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        damage(&fx, &txn);
        txn.commit().unwrap();
    }
    let start = Instant::now();
    let read = exercise(&path, "open_read_only", expected, must_fail, false);
    let written = exercise(&path, "open", expected, must_fail, true);
    let took = start.elapsed();
    assert!(
        took < TIME_LIMIT,
        "{case}: the checks took {took:?} (limit {TIME_LIMIT:?})"
    );
    if let Some(kb) = peak_memory_kb() {
        assert!(kb < MEMORY_LIMIT_KB, "{case}: peak memory {kb} kB");
    }
    if expected == Open::Ok {
        assert!(
            must_fail.is_empty() || !written.is_empty(),
            "{case}: no operation noticed the damage"
        );
    }
    eprintln!("{case}: damage found by {read:?} / {written:?} in {took:?}");
}

// ---------------------------------------------------------------------------
// The mirrors are right, and the undamaged ledger passes its own check.
// ---------------------------------------------------------------------------

/// Guards the test itself: the mirrored row types must decode and re-encode
/// every stored row byte for byte, or the damage below is not what it says.
#[test]
fn the_mirrored_rows_match_the_stored_format() {
    fn round_trip<T: Serialize + for<'a> Deserialize<'a>>(bytes: &[u8]) {
        let row: T = postcard::from_bytes(bytes).unwrap();
        assert_eq!(encode(&row), bytes);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    build(&path);
    let db = Database::open(&path).unwrap();
    let r = db.begin_read().unwrap();
    for e in r.open_table(TAGS).unwrap().iter().unwrap() {
        round_trip::<TagRow>(e.unwrap().1.value());
    }
    for e in r.open_table(REPOS).unwrap().iter().unwrap() {
        round_trip::<RepoRow>(e.unwrap().1.value());
    }
    for e in r.open_table(REFS).unwrap().iter().unwrap() {
        round_trip::<RefRow>(e.unwrap().1.value());
    }
    for e in r.open_table(DIGEST_INDEX).unwrap().iter().unwrap() {
        assert_eq!(e.unwrap().1.value().len() % 20, 0);
    }
    assert_eq!(r.open_table(TAGS).unwrap().len().unwrap(), 3);
}

#[test]
fn an_undamaged_ledger_gives_the_baseline_answers() {
    check(Open::Ok, &[], |_, _| {});
}

// ---------------------------------------------------------------------------
// `tags`: read by `open` (the name cache) for every row.
// ---------------------------------------------------------------------------

#[test]
fn tags_row_of_garbage_bytes() {
    check(Open::Corrupt, &[], |fx, txn| {
        put_tag(txn, fx.latest, &noise(37, 1));
    });
}

#[test]
fn tags_row_that_is_empty() {
    check(Open::Corrupt, &[], |fx, txn| put_tag(txn, fx.latest, &[]));
}

#[test]
fn tags_row_whose_repository_number_has_no_repository() {
    check(Open::Corrupt, &[], |fx, txn| {
        let mut row = tag_row(txn, fx.latest);
        row.repo = 99;
        put_tag(txn, fx.latest, &encode(&row));
    });
}

#[test]
fn tags_row_whose_repository_number_is_u32_max() {
    check(Open::Corrupt, &[], |fx, txn| {
        let mut row = tag_row(txn, fx.app);
        row.repo = u32::MAX;
        put_tag(txn, fx.app, &encode(&row));
    });
}

#[test]
fn tags_row_with_a_huge_name_length_prefix() {
    check(Open::Corrupt, &[], |fx, txn| {
        let mut bytes = Vec::new();
        varint(&mut bytes, u64::from(fx.nginx));
        varint(&mut bytes, 275_000_000_000);
        bytes.extend_from_slice(b"latest");
        put_tag(txn, fx.latest, &bytes);
    });
}

#[test]
fn tags_row_with_a_huge_current_digest_length_prefix() {
    check(Open::Corrupt, &[], |fx, txn| {
        let row = tag_row(txn, fx.latest);
        let mut bytes = encode(&(row.repo, row.name));
        bytes.push(1);
        varint(&mut bytes, u64::MAX);
        bytes.extend_from_slice(&[2; 40]);
        put_tag(txn, fx.latest, &bytes);
    });
}

#[test]
fn tags_row_with_an_invalid_tag_name() {
    check(Open::Corrupt, &[], |fx, txn| {
        let mut row = tag_row(txn, fx.latest);
        row.name = "NOT a tag/name!".into();
        put_tag(txn, fx.latest, &encode(&row));
    });
}

#[test]
fn tags_row_whose_current_digest_is_three_bytes() {
    check(
        Open::Ok,
        &[
            "get_tag nginx:latest",
            "classify nginx:latest",
            "tags nginx",
            "ingest",
        ],
        |fx, txn| {
            let mut row = tag_row(txn, fx.latest);
            row.current = Some(vec![2, 0xab, 0xcd]);
            put_tag(txn, fx.latest, &encode(&row));
        },
    );
}

#[test]
fn tags_row_whose_current_digest_has_an_unknown_algorithm() {
    check(
        Open::Ok,
        &[
            "get_tag nginx:latest",
            "classify nginx:latest",
            "tags nginx",
            "ingest",
        ],
        |fx, txn| {
            let mut row = tag_row(txn, fx.latest);
            row.current = Some(vec![0x7f; 33]);
            put_tag(txn, fx.latest, &encode(&row));
        },
    );
}

/// The write path must refuse an undecodable timestamp as the read path does,
/// not carry it into the rows it writes back.
#[test]
fn tags_row_with_an_audit_instant_out_of_range() {
    check(
        Open::Ok,
        &["get_tag nginx:latest", "tags nginx", "ingest"],
        |fx, txn| {
            let mut row = tag_row(txn, fx.latest);
            row.audit.created_on = i64::MAX;
            put_tag(txn, fx.latest, &encode(&row));
        },
    );
}

#[test]
fn tags_row_with_a_last_modified_instant_of_i64_min() {
    check(
        Open::Ok,
        &["get_tag nginx:latest", "tags nginx", "ingest"],
        |fx, txn| {
            let mut row = tag_row(txn, fx.latest);
            row.audit.last_modified_on = i64::MIN;
            put_tag(txn, fx.latest, &encode(&row));
        },
    );
}

// ---------------------------------------------------------------------------
// `tags` keys: dense numbers 0..n.
// ---------------------------------------------------------------------------

#[test]
fn tags_keys_with_a_gap_a_row_for_number_5_of_3() {
    check(Open::Corrupt, &[], |fx, txn| {
        let row = tag_row(txn, fx.v125);
        put_tag(txn, 5, &encode(&row));
    });
}

#[test]
fn tags_keys_with_a_row_at_u32_max() {
    check(Open::Corrupt, &[], |fx, txn| {
        let row = tag_row(txn, fx.v125);
        put_tag(txn, u32::MAX, &encode(&row));
    });
}

#[test]
fn tags_keys_with_a_missing_row_in_the_middle() {
    check(Open::Corrupt, &[], |_, txn| {
        txn.open_table(TAGS).unwrap().remove(1).unwrap();
    });
}

/// The last row gone: the numbers are still dense, so `open` cannot tell;
/// everything that reads the tag must.
#[test]
fn tags_keys_with_the_last_row_missing() {
    check(
        Open::Ok,
        &[
            "get_tag ghcr.io/acme/app:v1",
            "classify ghcr.io/acme/app:v1",
            "tags_for_digest d3",
            "tags ghcr.io/acme/app",
            "ingest",
        ],
        |fx, txn| {
            assert_eq!(fx.app, 2, "the last tag number");
            txn.open_table(TAGS).unwrap().remove(fx.app).unwrap();
        },
    );
}

#[test]
fn tags_table_emptied() {
    check(
        Open::Ok,
        &[
            "get_tag nginx:latest",
            "tags_for_digest d1",
            "classify",
            "tags nginx",
            "ingest",
        ],
        |_, txn| {
            let mut t = txn.open_table(TAGS).unwrap();
            t.retain(|_, _| false).unwrap();
        },
    );
}

// ---------------------------------------------------------------------------
// `tag_keys`: tag ID → number, read by every query that names a tag.
// ---------------------------------------------------------------------------

/// The original bug: this number once sized the name cache at `open`.
#[test]
fn tag_keys_entry_pointing_at_u32_max_minus_1() {
    check(
        Open::Ok,
        &[
            "get_tag nginx:latest",
            "history nginx:latest",
            "tag_at nginx:latest",
            "references nginx:latest",
            "classify nginx:latest",
            "get_reference nginx:latest",
            "tags nginx",
            "ingest",
        ],
        |_, txn| put_tag_key(txn, LATEST, u32::MAX - 1),
    );
}

#[test]
fn tag_keys_entry_pointing_at_u32_max() {
    check(
        Open::Ok,
        &[
            "get_tag nginx:latest",
            "history nginx:latest",
            "tag_at nginx:latest",
            "references nginx:latest",
            "classify nginx:latest",
            "tags nginx",
            "ingest",
        ],
        |_, txn| put_tag_key(txn, LATEST, u32::MAX),
    );
}

/// Number 3 is the next free one: a writer must not take the key's word
/// that the tag exists, nor hand the number out twice unnoticed.
#[test]
fn tag_keys_entry_pointing_at_the_next_free_number() {
    check(
        Open::Ok,
        &[
            "get_tag nginx:latest",
            "history nginx:latest",
            "tag_at nginx:latest",
            "references nginx:latest",
            "classify nginx:latest",
            "tags nginx",
            "ingest",
        ],
        |_, txn| put_tag_key(txn, LATEST, 3),
    );
}

#[test]
fn tag_keys_extra_entry_for_a_tag_with_no_row() {
    check(
        Open::Ok,
        &[
            "get_tag nginx:ghost",
            "history nginx:ghost",
            "tag_at nginx:ghost",
            "references nginx:ghost",
            "classify nginx:ghost",
            "tags nginx",
            "ingest",
        ],
        |_, txn| put_tag_key(txn, GHOST, 7),
    );
}

/// A key pointing at another tag's row: the questions that read the row
/// can tell (its name differs), and a write must not file one tag's
/// observations under the other. (`history`, `tag_at` and `references` read
/// only the move log and `refs` by number, so they cannot tell; this case
/// checks the record reads and the write directly.)
#[test]
fn tag_keys_entry_pointing_at_another_tags_number() {
    for (victim, other) in [(LATEST, APP), (LATEST, V125)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swapped.redb");
        build(&path);
        let fx = numbers(&path);
        let n = if other == APP { fx.app } else { fx.v125 };
        {
            let db = Database::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            put_tag_key(&txn, victim, n);
            txn.commit().unwrap();
        }
        let l = with_clock(Ledger::open(&path).unwrap());
        let expect_corrupt = |op: &str, r: ociledger::Result<String>| match r {
            Err(Error::Corrupt(m)) => assert!(m.contains("tag_keys"), "{op}: {m}"),
            got => panic!("{victim} -> {other}'s number: {op} gave {got:?}, expected Corrupt"),
        };
        expect_corrupt("get_tag", show(l.get_tag(&tag_id(victim))));
        expect_corrupt("tags", show(l.tags(&repo_id(NGINX), None, 100)));
        let before = l.history(&tag_id(other), None, 100).unwrap();
        expect_corrupt(
            "ingest",
            show(l.ingest("scanner", &[obs(victim, d(7), day(5))])),
        );
        assert_eq!(
            l.history(&tag_id(other), None, 100).unwrap(),
            before,
            "{victim}'s observation filed under {other}"
        );
    }
}

#[test]
fn tag_keys_entry_that_is_not_a_tag_id() {
    check(Open::Ok, &["tags nginx"], |fx, txn| {
        txn.open_table(TAG_KEYS)
            .unwrap()
            .insert("docker.io/library/nginx:!bad tag", fx.v125)
            .unwrap();
    });
}

// ---------------------------------------------------------------------------
// `repos` and `repo_keys`.
// ---------------------------------------------------------------------------

/// A repository with tags: `open` names the tags from it.
#[test]
fn repos_row_of_garbage_bytes_for_a_repository_with_tags() {
    check(Open::Corrupt, &[], |fx, txn| {
        put_repo(txn, fx.nginx, &noise(50, 2));
    });
}

/// A repository with no tags: only the queries that read it can tell.
#[test]
fn repos_row_of_garbage_bytes_for_a_repository_without_tags() {
    check(
        Open::Ok,
        &[
            "repositories",
            "get_repository istio/pilot",
            "tags istio/pilot",
            "ingest",
        ],
        |fx, txn| put_repo(txn, fx.istio, &noise(50, 3)),
    );
}

#[test]
fn repos_row_with_an_invalid_repository_id() {
    check(Open::Corrupt, &[], |fx, txn| {
        let mut row = repo_row(txn, fx.nginx);
        row.id = "NOT a repository!!".into();
        put_repo(txn, fx.nginx, &encode(&row));
    });
}

#[test]
fn repos_row_with_a_huge_projects_count() {
    check(
        Open::Ok,
        &[
            "repositories",
            "get_repository istio/pilot",
            "tags istio/pilot",
            "ingest",
        ],
        |fx, txn| {
            let row = repo_row(txn, fx.istio);
            let mut bytes = encode(&(row.id, row.last_scanned_on));
            bytes.push(1);
            varint(&mut bytes, u64::MAX >> 1);
            bytes.extend_from_slice(&[3, b'a', b'b', b'c']);
            put_repo(txn, fx.istio, &bytes);
        },
    );
}

#[test]
fn repos_row_with_last_scanned_on_out_of_range() {
    check(
        Open::Ok,
        &[
            "repositories",
            "get_repository istio/pilot",
            "tags istio/pilot",
            "ingest",
        ],
        |fx, txn| {
            let mut row = repo_row(txn, fx.istio);
            row.last_scanned_on = i64::MIN;
            put_repo(txn, fx.istio, &encode(&row));
        },
    );
}

#[test]
fn repos_row_with_an_audit_instant_out_of_range() {
    check(
        Open::Ok,
        &[
            "repositories",
            "get_repository nginx",
            "tags nginx",
            "ingest",
        ],
        |fx, txn| {
            let mut row = repo_row(txn, fx.nginx);
            row.audit.created_on = i64::MAX;
            put_repo(txn, fx.nginx, &encode(&row));
        },
    );
}

#[test]
fn repos_row_at_u32_max() {
    // The next repository number would overflow: writes must refuse.
    check(Open::Ok, &["ingest"], |fx, txn| {
        let row = repo_row(txn, fx.istio);
        let mut other = row.clone();
        other.id = "example.com/extra".into();
        put_repo(txn, u32::MAX, &encode(&other));
    });
}

#[test]
fn repo_keys_entry_pointing_nowhere() {
    check(
        Open::Ok,
        &[
            "repositories",
            "get_repository nginx",
            "tags nginx",
            "ingest",
        ],
        |_, txn| put_repo_key(txn, "docker.io/library/nginx", 99),
    );
}

#[test]
fn repo_keys_entry_pointing_at_u32_max() {
    check(
        Open::Ok,
        &[
            "repositories",
            "get_repository nginx",
            "tags nginx",
            "ingest",
        ],
        |_, txn| put_repo_key(txn, "docker.io/library/nginx", u32::MAX),
    );
}

#[test]
fn repo_keys_entry_that_is_not_a_repository_id() {
    check(Open::Ok, &["repositories"], |fx, txn| {
        put_repo_key(txn, "NOT a repository!!", fx.istio);
    });
}

// ---------------------------------------------------------------------------
// `moves`: the move log.
// ---------------------------------------------------------------------------

const LATEST_LOG: &[&str] = &["history nginx:latest", "tag_at nginx:latest", "ingest"];

#[test]
fn moves_key_with_a_three_byte_digest() {
    check(Open::Ok, LATEST_LOG, |fx, txn| {
        put_move(txn, fx.latest, us(day(1)) + 1, &[2, 0xab, 0xcd]);
    });
}

#[test]
fn moves_key_with_an_unknown_algorithm_byte() {
    check(Open::Ok, LATEST_LOG, |fx, txn| {
        let mut bytes = d(9).to_compact();
        bytes[0] = 0x7f;
        put_move(txn, fx.latest, us(day(1)) + 1, &bytes);
    });
}

#[test]
fn moves_key_with_a_sha512_length_under_sha256() {
    check(Open::Ok, LATEST_LOG, |fx, txn| {
        let mut bytes = vec![2];
        bytes.extend_from_slice(&[0x11; 64]);
        put_move(txn, fx.latest, us(day(1)) + 1, &bytes);
    });
}

#[test]
fn moves_instant_i64_max() {
    check(Open::Ok, LATEST_LOG, |fx, txn| {
        put_move(txn, fx.latest, i64::MAX, &d(1).to_compact());
    });
}

#[test]
fn moves_instant_i64_min() {
    check(Open::Ok, LATEST_LOG, |fx, txn| {
        put_move(txn, fx.latest, i64::MIN, &d(1).to_compact());
    });
}

#[test]
fn moves_deletion_at_i64_max() {
    check(Open::Ok, LATEST_LOG, |fx, txn| {
        put_move(txn, fx.latest, i64::MAX, &[]);
    });
}

#[test]
fn moves_key_for_tag_number_u32_max() {
    // A log with no tag: nothing reads it; every answer stays right.
    check(Open::Ok, &[], |_, txn| {
        put_move(txn, u32::MAX, i64::MAX, &[0xff; 3]);
    });
}

// ---------------------------------------------------------------------------
// `refs`: (tag, digest) → first observed + audit.
// ---------------------------------------------------------------------------

#[test]
fn refs_value_of_garbage_bytes() {
    check(
        Open::Ok,
        &[
            "references nginx:latest",
            "get_reference nginx:latest",
            "ingest",
        ],
        |fx, txn| put_ref(txn, fx.latest, &d(1).to_compact(), &noise(23, 4)),
    );
}

#[test]
fn refs_row_with_first_observed_i64_max() {
    check(
        Open::Ok,
        &["references nginx:latest", "ingest"],
        |fx, txn| {
            let key = d(1).to_compact();
            let mut row = ref_row(txn, fx.latest, &key);
            row.first_observed = i64::MAX;
            put_ref(txn, fx.latest, &key, &encode(&row));
        },
    );
}

#[test]
fn refs_row_with_first_observed_i64_min() {
    check(
        Open::Ok,
        &["references nginx:latest", "ingest"],
        |fx, txn| {
            let key = d(1).to_compact();
            let mut row = ref_row(txn, fx.latest, &key);
            row.first_observed = i64::MIN;
            put_ref(txn, fx.latest, &key, &encode(&row));
        },
    );
}

#[test]
fn refs_row_with_an_audit_instant_out_of_range() {
    check(
        Open::Ok,
        &[
            "references nginx:latest",
            "get_reference nginx:latest",
            "ingest",
        ],
        |fx, txn| {
            let key = d(1).to_compact();
            let mut row = ref_row(txn, fx.latest, &key);
            row.audit.last_modified_on = i64::MIN;
            put_ref(txn, fx.latest, &key, &encode(&row));
        },
    );
}

#[test]
fn refs_key_with_a_three_byte_digest() {
    check(Open::Ok, &["references nginx:latest"], |fx, txn| {
        let row = ref_row(txn, fx.latest, &d(1).to_compact());
        put_ref(txn, fx.latest, &[2, 1, 2], &encode(&row));
    });
}

// ---------------------------------------------------------------------------
// `digest_index`: digest → packed (tag, since, until) entries.
// ---------------------------------------------------------------------------

/// Every question that reads digest 1's index value, and the write that
/// rewrites it.
const D1_INDEX: &[&str] = &["tags_for_digest d1", "classify d1", "ingest"];

#[test]
fn digest_index_value_not_a_multiple_of_20_bytes() {
    let mut must = D1_INDEX.to_vec();
    must.push("stats");
    check(Open::Ok, &must, |fx, txn| {
        let mut bytes = packed(&[(fx.latest, us(day(1)), us(day(2)))]);
        bytes.push(0);
        put_index(txn, &d(1), &bytes);
    });
}

#[test]
fn digest_index_value_of_19_bytes() {
    let mut must = D1_INDEX.to_vec();
    must.push("stats");
    check(Open::Ok, &must, |_, txn| put_index(txn, &d(1), &[7; 19]));
}

#[test]
fn digest_index_entry_naming_a_tag_number_with_no_name() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        put_index(
            txn,
            &d(1),
            &packed(&[
                (fx.latest, us(day(1)), us(day(2))),
                (77, us(day(1)), i64::MAX),
            ]),
        );
    });
}

#[test]
fn digest_index_entry_naming_tag_number_u32_max_minus_1() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        put_index(
            txn,
            &d(1),
            &packed(&[
                (fx.latest, us(day(1)), us(day(2))),
                (u32::MAX - 1, us(day(1)), i64::MAX),
            ]),
        );
    });
}

#[test]
fn digest_index_entry_with_since_out_of_range() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        put_index(txn, &d(1), &packed(&[(fx.latest, i64::MIN, us(day(2)))]));
    });
}

#[test]
fn digest_index_entry_with_until_out_of_range() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        put_index(txn, &d(1), &packed(&[(fx.latest, us(day(1)), i64::MIN)]));
    });
}

#[test]
fn digest_index_entry_with_since_i64_max() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        put_index(txn, &d(1), &packed(&[(fx.latest, i64::MAX, i64::MAX)]));
    });
}

#[test]
fn digest_index_key_that_is_not_a_digest() {
    // Nothing looks it up; every answer stays right.
    check(Open::Ok, &[], |fx, txn| {
        txn.open_table(DIGEST_INDEX)
            .unwrap()
            .insert(&[0xff, 1][..], packed(&[(fx.latest, 0, 1)]).as_slice())
            .unwrap();
    });
}

// ---------------------------------------------------------------------------
// `meta` and the tables themselves: not (this version's) ledger.
// ---------------------------------------------------------------------------

#[test]
fn meta_schema_version_of_garbage_bytes() {
    check(Open::Refused, &[], |_, txn| {
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", noise(7, 5).as_slice())
            .unwrap();
    });
}

#[test]
fn meta_schema_version_u32_max() {
    check(Open::Refused, &[], |_, txn| {
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", u32::MAX.to_le_bytes().as_slice())
            .unwrap();
    });
}

#[test]
fn meta_format_record_missing() {
    check(Open::Refused, &[], |_, txn| {
        txn.open_table(META).unwrap().remove("format").unwrap();
    });
}

fn drop_table(txn: &WriteTransaction, name: &str) {
    let handle = txn
        .list_tables()
        .unwrap()
        .find(|t| t.name() == name)
        .unwrap_or_else(|| panic!("table {name}"));
    assert!(txn.delete_table(handle).unwrap());
}

#[test]
fn a_missing_table() {
    for name in [
        "repo_keys",
        "repos",
        "tag_keys",
        "tags",
        "moves",
        "refs",
        "digest_index",
        "meta",
    ] {
        check(Open::Refused, &[], |_, txn| drop_table(txn, name));
    }
}

/// A table of the right name but other types (another program's, or a
/// future layout) must not be read as ours. Today `open` reports the
/// engine's type mismatch as `Error::Storage` (from `Store::view`);
/// `NotALedger`, as for a missing table, would say more.
#[test]
fn a_table_of_other_types() {
    check(Open::Fails, &[], |_, txn| {
        drop_table(txn, "tags");
        let theirs: TableDefinition<u64, u64> = TableDefinition::new("tags");
        txn.open_table(theirs).unwrap().insert(0, 1).unwrap();
    });
}
