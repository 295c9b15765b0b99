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
//! `src/store/`, mirrored in `tests/common/tables.rs`), and then checks `open_read_only`, `open`, every query
//! and an `ingest` touching the damage: each must return `Error::Corrupt` or
//! the answer the undamaged ledger gives (the baseline), never panic (a panic
//! is caught and reported with the operation's name), and the whole check must
//! take well under a second. Where the damaged row is necessarily read, the
//! test also requires `Corrupt` (the damage must be noticed, not passed on).
//! `Ledger::verify` must never call a damaged file clean (it reports a finding
//! or fails), and must call the undamaged one clean.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ociledger::id::{Algorithm, Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{FixedClock, Observation, RepositoryBody, TagMatch, Timestamp};
use ociledger::{Error, Ledger, VerifyReport};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

mod common;
use common::rng::noise;
use common::tables::{
    DIGEST_INDEX, INDEX_CHANGES, JOURNAL, META, REPO_KEYS, REPOS, TAG_KEYS, TAG_LOG, TAGS,
};

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
/// Tags that do not exist in the undamaged ledger; `ingest` creates them.
const GHOST: &str = "nginx:ghost";
const PILOT: &str = "istio/pilot:1.0";
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

/// Digest-index entries (tag number, since, until) as stored: 20 bytes each.
fn packed(entries: &[(u32, i64, i64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, since, until) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&since.to_le_bytes());
        out.extend_from_slice(&until.to_le_bytes());
    }
    out
}

/// One move-log entry: instant, batch sequence number, digest (`None`: a
/// deletion).
type Entry = (i64, u32, Option<Digest>);

/// A `tag_log` value stored under instant `start`: per entry, varints of
/// the gap since the entry before (the first: since `start`) and of the
/// batch number, the algorithm byte, the digest.
fn chunk_at(start: i64, entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous = start;
    for (at, seq, digest) in entries {
        varint(&mut out, at.abs_diff(previous));
        varint(&mut out, u64::from(*seq));
        match digest {
            Some(d) => out.extend_from_slice(&d.to_compact()),
            None => out.push(0),
        }
        previous = *at;
    }
    out
}

/// A `tag_log` value as the writer stores it: under its first instant.
fn chunk(entries: &[Entry]) -> Vec<u8> {
    chunk_at(entries.first().map_or(0, |e| e.0), entries)
}

/// Where entry `i`'s algorithm byte is in [`chunk`]`(entries)`.
fn algorithm_byte_of(entries: &[Entry], i: usize) -> usize {
    let before = chunk(&entries[..i]).len();
    let (at, seq, _) = entries[i];
    let previous = if i == 0 { at } else { entries[i - 1].0 };
    let mut head = Vec::new();
    varint(&mut head, at.abs_diff(previous));
    varint(&mut head, u64::from(seq));
    before + head.len()
}

/// postcard's varint, read.
fn take_varint(bytes: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..).step_by(7) {
        let (&b, rest) = bytes.split_first().unwrap();
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
    }
    v
}

/// The mirror's reading of an undamaged `tag_log` value stored under `start`.
fn unchunk(start: i64, mut bytes: &[u8]) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut previous = start;
    while !bytes.is_empty() {
        let at = previous + i64::try_from(take_varint(&mut bytes)).unwrap();
        let seq = u32::try_from(take_varint(&mut bytes)).unwrap();
        let (&alg, rest) = bytes.split_first().unwrap();
        let (digest, rest) = if alg == 0 {
            (None, rest)
        } else {
            let alg = Algorithm::from_compact_byte(alg).expect("algorithm byte");
            let (raw, rest) = rest.split_at(alg.digest_len());
            (Some(Digest::from_raw(alg, raw).unwrap()), rest)
        };
        out.push((at, seq, digest));
        previous = at;
        bytes = rest;
    }
    out
}

/// The digest-index key of `d`: its first 8 bytes, big-endian.
fn index_key(d: &Digest) -> u64 {
    u64::from_be_bytes(d.as_bytes()[..8].try_into().unwrap())
}

/// One digest's group in a `digest_index` value.
fn group(d: &Digest, flags: u8, entries: &[(u32, i64, i64)]) -> Vec<u8> {
    let mut out = vec![d.algorithm().compact_byte(), flags];
    out.extend_from_slice(&u32::try_from(entries.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&d.as_bytes()[8..]);
    out.extend(packed(entries));
    out
}

type Group = (Digest, u8, Vec<(u32, i64, i64)>);

/// The mirror's reading of an undamaged `digest_index` row.
fn ungroup(key: u64, mut bytes: &[u8]) -> Vec<Group> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let alg = Algorithm::from_compact_byte(bytes[0]).expect("algorithm byte");
        let flags = bytes[1];
        let count = usize::try_from(u32::from_le_bytes(bytes[2..6].try_into().unwrap())).unwrap();
        let (rest, tail) = bytes[6..].split_at(alg.digest_len() - 8);
        let mut raw = key.to_be_bytes().to_vec();
        raw.extend_from_slice(rest);
        let (entries, tail) = tail.split_at(count * 20);
        let entries = entries
            .chunks_exact(20)
            .map(|e| {
                (
                    u32::from_le_bytes(e[..4].try_into().unwrap()),
                    i64::from_le_bytes(e[4..12].try_into().unwrap()),
                    i64::from_le_bytes(e[12..].try_into().unwrap()),
                )
            })
            .collect();
        out.push((Digest::from_raw(alg, &raw).unwrap(), flags, entries));
        bytes = tail;
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
        obs(PILOT, d(5), day(3)),
    ];
    l.ingest("scanner", &batch).map(|s| format!("{s:?}"))
}

type Query = Box<dyn Fn(&Ledger) -> ociledger::Result<String>>;

fn show<T: Debug>(r: ociledger::Result<T>) -> ociledger::Result<String> {
    r.map(|v| format!("{v:?}"))
}

/// Asks `Lookup::tags_for_digest` what `owned` answered: the same matches,
/// or the same error. Guards against the buffered path skipping a check the
/// owned one makes (a tag number without a name, an instant out of range).
fn same_as_buffered(
    l: &Ledger,
    digest: &Digest,
    owned: &ociledger::Result<Vec<TagMatch>>,
) -> ociledger::Result<()> {
    let snap = l.snapshot()?;
    let mut lookup = snap.lookup();
    let buffered = lookup
        .tags_for_digest(digest)
        .map(|m| m.iter().map(|x| x.to_owned_match()).collect::<Vec<_>>());
    match (owned, &buffered) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}: Lookup::tags_for_digest({digest})", case_name()),
        (Err(a), Err(b)) => assert_eq!(
            a.to_string(),
            b.to_string(),
            "{}: Lookup::tags_for_digest({digest})",
            case_name()
        ),
        (a, b) => panic!(
            "{}: tags_for_digest({digest}) gave {a:?}, Lookup::tags_for_digest {b:?}",
            case_name()
        ),
    }
    Ok(())
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
            Box::new(move |l| {
                let owned = l.tags_for_digest(&d(n));
                same_as_buffered(l, &d(n), &owned)?;
                show(owned)
            }),
        ));
    }
    for tag in [LATEST, V125, APP, GHOST, PILOT] {
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
    q.push(("head".into(), Box::new(|l| show(l.head()))));
    q
}

/// The answers compared with the baseline's: `stats` counts rows the damage
/// may have added, and `head` is the hash of the last journal record as
/// stored, so an edited record must show as a different one.
fn compared(name: &str) -> bool {
    name != "stats" && name != "head"
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
    /// The answers once `ingest` is written.
    after: Vec<(String, String)>,
}

fn answers(l: &Ledger) -> Vec<(String, String)> {
    queries()
        .into_iter()
        .map(|(name, q)| (name, render(&q(l))))
        .collect()
}

/// The undamaged ledger's answers, computed once.
fn baseline() -> &'static Baseline {
    static BASELINE: OnceLock<Baseline> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.redb");
        build(&path);
        let l = with_clock(Ledger::open(&path).unwrap());
        let before = answers(&l);
        let ingest = render(&ingest(&l));
        assert!(l.verify().unwrap().is_clean(), "the baseline verifies");
        Baseline {
            answers: before,
            ingest,
            after: answers(&l),
        }
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
    let repo = |s: &str| repo_keys.get(repo_id(s).as_str()).unwrap().unwrap().value();
    let tag = |s: &str| {
        let id = tag_id(s);
        let repo = repo_keys
            .get(id.repository().as_str())
            .unwrap()
            .unwrap()
            .value();
        tag_keys.get((repo, id.tag())).unwrap().unwrap().value()
    };
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

fn journal_row(txn: &WriteTransaction, seq: u32) -> JournalRow {
    let table = txn.open_table(JOURNAL).unwrap();
    let row = table.get(seq).unwrap().unwrap();
    postcard::from_bytes(row.value()).unwrap()
}

/// Tag `n`'s only chunk (every tag of the small ledger has one): its key
/// instant and its entries.
fn only_chunk(txn: &WriteTransaction, n: u32) -> (i64, Vec<Entry>) {
    let table = txn.open_table(TAG_LOG).unwrap();
    let chunks: Vec<(i64, Vec<Entry>)> = table
        .range((n, i64::MIN)..=(n, i64::MAX))
        .unwrap()
        .map(|e| {
            let (k, v) = e.unwrap();
            (k.value().1, unchunk(k.value().1, v.value()))
        })
        .collect();
    assert_eq!(chunks.len(), 1, "tag number {n}: one chunk");
    chunks.into_iter().next().unwrap()
}

fn put_tag(txn: &WriteTransaction, n: u32, bytes: &[u8]) {
    txn.open_table(TAGS).unwrap().insert(n, bytes).unwrap();
}

fn put_repo(txn: &WriteTransaction, n: u32, bytes: &[u8]) {
    txn.open_table(REPOS).unwrap().insert(n, bytes).unwrap();
}

fn put_tag_key(txn: &WriteTransaction, tag: &str, n: u32) {
    let id = tag_id(tag);
    let repo = txn
        .open_table(REPO_KEYS)
        .unwrap()
        .get(id.repository().as_str())
        .unwrap()
        .unwrap()
        .value();
    txn.open_table(TAG_KEYS)
        .unwrap()
        .insert((repo, id.tag()), n)
        .unwrap();
}

fn put_repo_key(txn: &WriteTransaction, repo: &str, n: u32) {
    txn.open_table(REPO_KEYS).unwrap().insert(repo, n).unwrap();
}

fn put_chunk(txn: &WriteTransaction, n: u32, at: i64, bytes: &[u8]) {
    txn.open_table(TAG_LOG)
        .unwrap()
        .insert((n, at), bytes)
        .unwrap();
}

/// Replaces tag `n`'s only chunk by `bytes` under the key instant `at`.
fn replace_chunk(txn: &WriteTransaction, n: u32, at: i64, bytes: &[u8]) {
    let (old, _) = only_chunk(txn, n);
    txn.open_table(TAG_LOG).unwrap().remove((n, old)).unwrap();
    put_chunk(txn, n, at, bytes);
}

fn put_journal(txn: &WriteTransaction, seq: u32, bytes: &[u8]) {
    txn.open_table(JOURNAL).unwrap().insert(seq, bytes).unwrap();
}

fn put_index(txn: &WriteTransaction, key: u64, bytes: &[u8]) {
    txn.open_table(DIGEST_INDEX)
        .unwrap()
        .insert(key, bytes)
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

/// Whether the file was damaged: `verify` must say so, or must call it clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    Some,
    None,
}

/// What `exercise` saw: the operations that found the damage, and the
/// report `verify` gave (`None`: the open or `verify` failed).
struct Seen {
    found: Vec<String>,
    report: Option<VerifyReport>,
}

/// Runs `Ledger::verify`: on a damaged file it must report at least one
/// finding or fail with `Corrupt`, never call the file clean; on an
/// undamaged one it must be clean.
fn verify(l: &Ledger, op: &str, damage: Damage) -> Option<VerifyReport> {
    let case = case_name();
    match (guarded(op, || l.verify()), damage) {
        (Outcome::Ok(r), Damage::Some) => {
            assert!(
                !r.is_clean(),
                "{case}: {op} called the damaged file clean: {r:?}"
            );
            Some(r)
        }
        (Outcome::Ok(r), Damage::None) => {
            assert!(r.is_clean(), "{case}: {op} on an undamaged file: {r:?}");
            Some(r)
        }
        (Outcome::Corrupt(_), Damage::Some) => None,
        (Outcome::Corrupt(m), Damage::None) => {
            panic!("{case}: {op} on an undamaged file gave Corrupt({m})")
        }
        (Outcome::Other(e), _) => panic!("{case}: {op} gave {e:?}, expected a report or Corrupt"),
    }
}

/// Asks every question of `l`: each answer must be `expected`'s (the
/// baseline's, by name) or `Corrupt`, and the ones `must_fail` names must be
/// `Corrupt`. Returns the operations that found the damage.
fn ask(l: &Ledger, mode: &str, expected: &[(String, String)], must_fail: &[&str]) -> Vec<String> {
    let case = case_name();
    let mut found = Vec::new();
    for ((name, q), (base_name, base_answer)) in queries().into_iter().zip(expected) {
        assert_eq!(&name, base_name);
        let op = format!("{mode}: {name}");
        match guarded(&op, || q(l)) {
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
                if compared(&name) {
                    assert_eq!(
                        &answer, base_answer,
                        "{case}: {op} neither reported Corrupt nor gave the undamaged answer"
                    );
                }
            }
        }
    }
    found
}

/// Opens the damaged file with `open`, then asks every question, runs
/// `verify` (see [`verify`]) and, for a writer, writes: each answer must be
/// the baseline's or `Corrupt`, and the ones `must_fail` names must be
/// `Corrupt`. A write that succeeds must leave every answer the baseline's
/// after the same write, or `Corrupt`: the damage is never merged into what
/// the write adds.
fn exercise(
    path: &Path,
    mode: &str,
    expected: Open,
    must_fail: &[&str],
    write: bool,
    damage: Damage,
) -> Seen {
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
    let refused = |found: String| Seen {
        found: vec![found],
        report: None,
    };
    let l = match (opened, expected) {
        (Outcome::Ok(l), Open::Ok) => with_clock(l),
        (Outcome::Corrupt(m), Open::Corrupt) => return refused(format!("{open_op}: {m}")),
        (Outcome::Other(Error::NotALedger { .. } | Error::Version { .. }), Open::Refused) => {
            return refused(open_op);
        }
        (Outcome::Corrupt(_) | Outcome::Other(_), Open::Fails) => return refused(open_op),
        (Outcome::Ok(_), e) => panic!("{case}: {mode} succeeded, expected {e:?}"),
        (Outcome::Corrupt(m), e) => panic!("{case}: {mode} gave Corrupt({m}), expected {e:?}"),
        (Outcome::Other(err), e) => panic!("{case}: {mode} gave {err:?}, expected {e:?}"),
    };
    let mut found = ask(&l, mode, &base.answers, must_fail);
    let report = verify(&l, &format!("{mode}: verify"), damage);
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
                let after = format!("{mode} after ingest");
                found.extend(ask(&l, &after, &base.after, &[]));
            }
            Outcome::Other(e) => panic!("{case}: {op} gave {e:?}, expected Corrupt or success"),
        }
    }
    Seen { found, report }
}

fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Builds a ledger and damages it with `damage` (plain redb, one write
/// transaction).
fn damaged_file(damage: impl FnOnce(&Fx, &WriteTransaction)) -> (tempfile::TempDir, PathBuf) {
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
    (dir, path)
}

/// Builds a ledger, damages it with `damage`, and checks a reader and then a
/// writer on it (see the module doc). Returns the writer's `verify` report.
fn check(
    expected: Open,
    must_fail: &[&str],
    damage: impl FnOnce(&Fx, &WriteTransaction),
) -> Option<VerifyReport> {
    run(expected, must_fail, Damage::Some, damage)
}

fn run(
    expected: Open,
    must_fail: &[&str],
    damaged: Damage,
    damage: impl FnOnce(&Fx, &WriteTransaction),
) -> Option<VerifyReport> {
    let case = case_name();
    baseline();
    let (_dir, path) = damaged_file(damage);
    let start = Instant::now();
    let read = exercise(&path, "open_read_only", expected, must_fail, false, damaged);
    let written = exercise(&path, "open", expected, must_fail, true, damaged);
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
            must_fail.is_empty() || !written.found.is_empty(),
            "{case}: no operation noticed the damage"
        );
    }
    eprintln!(
        "{case}: damage found by {:?} / {:?} in {took:?}; verify: {:?}",
        read.found,
        written.found,
        written
            .report
            .as_ref()
            .map(|r| r.tables.findings.keys().collect::<Vec<_>>())
    );
    written.report
}

// ---------------------------------------------------------------------------
// The mirrors are right, and the undamaged ledger passes its own check.
// ---------------------------------------------------------------------------

/// Guards the test itself: the mirrored row types and packed formats must
/// decode and re-encode every stored row byte for byte, and read back what
/// `build` wrote, or the damage below is not what it says.
#[test]
fn the_mirrored_rows_match_the_stored_format() {
    fn round_trip<T: Serialize + for<'a> Deserialize<'a>>(bytes: &[u8]) -> T {
        let row: T = postcard::from_bytes(bytes).unwrap();
        assert_eq!(encode(&row), bytes);
        row
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    build(&path);
    let fx = numbers(&path);
    let db = Database::open(&path).unwrap();
    let r = db.begin_read().unwrap();
    for e in r.open_table(TAGS).unwrap().iter().unwrap() {
        round_trip::<TagRow>(e.unwrap().1.value());
    }
    for e in r.open_table(REPOS).unwrap().iter().unwrap() {
        round_trip::<RepoRow>(e.unwrap().1.value());
    }
    assert_eq!(r.open_table(TAGS).unwrap().len().unwrap(), 3);

    // One batch (the ingest) wrote every log entry: journal record 1.
    let journal = r.open_table(JOURNAL).unwrap();
    assert_eq!(journal.len().unwrap(), 1);
    let record: JournalRow = round_trip(journal.get(1).unwrap().unwrap().value());
    assert_eq!(
        (record.at, record.actor.as_str(), record.count, record.prev),
        (us(t("2025-01-01T00:00:00Z")), "scanner", 4, [0; 32])
    );

    // Each tag's log is one chunk, keyed by its first instant.
    let mut logs = BTreeMap::new();
    for e in r.open_table(TAG_LOG).unwrap().iter().unwrap() {
        let (k, v) = e.unwrap();
        let (n, start) = k.value();
        let entries = unchunk(start, v.value());
        assert_eq!(chunk(&entries), v.value());
        assert_eq!(entries[0].0, start, "tag number {n}: key instant");
        assert!(
            logs.insert(n, entries).is_none(),
            "tag number {n}: one chunk"
        );
    }
    let at = |n: i64, digest: u32| (us(day(n)), 1, Some(d(digest)));
    assert_eq!(
        logs,
        BTreeMap::from([
            (fx.latest, vec![at(1, 1), at(2, 2)]),
            (fx.v125, vec![at(2, 2)]),
            (fx.app, vec![at(1, 3)]),
        ])
    );

    // Each digest is a group under its first 8 bytes, entries in the
    // answer's order (one instant's by tag name: "1.25" before "latest")
    // and flagged so (4).
    let mut groups = BTreeMap::new();
    for e in r.open_table(DIGEST_INDEX).unwrap().iter().unwrap() {
        let (k, v) = e.unwrap();
        let mut again = Vec::new();
        for (digest, flags, entries) in ungroup(k.value(), v.value()) {
            assert_eq!(index_key(&digest), k.value());
            again.extend(group(&digest, flags, &entries));
            groups.insert(digest, (flags, entries));
        }
        assert_eq!(again, v.value());
    }
    let d2 = vec![
        (fx.v125, us(day(2)), i64::MAX),
        (fx.latest, us(day(2)), i64::MAX),
    ];
    assert_eq!(
        groups,
        BTreeMap::from([
            (d(1), (4, vec![(fx.latest, us(day(1)), us(day(2)))])),
            (d(2), (4, d2)),
            (d(3), (4, vec![(fx.app, us(day(1)), i64::MAX)])),
        ])
    );
}

/// Guards the harness: every answer, `verify` (clean) and the write agree
/// with the baseline on an undamaged file.
#[test]
fn an_undamaged_ledger_gives_the_baseline_answers() {
    let report = run(Open::Ok, &[], Damage::None, |_, _| {});
    assert!(report.is_some_and(|r| r.engine_check == Some(true)));
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
fn tags_row_with_a_huge_created_by_length_prefix() {
    check(Open::Corrupt, &[], |fx, txn| {
        let row = tag_row(txn, fx.latest);
        let mut bytes = encode(&(row.repo, row.name));
        varint(&mut bytes, u64::MAX);
        bytes.extend_from_slice(&[b'a'; 40]);
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
// `tag_keys`: (repository number, tag name) → number, read by every query
// that names a tag.
// ---------------------------------------------------------------------------

/// The original bug: this number once sized the name cache at `open`.
/// A write finds the tag through the process's map of the rows it has
/// read (`numbers.rs`), not this entry, so it succeeds and gives the
/// undamaged answers after; the reads through the entry report it.
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
        ],
        |_, txn| put_tag_key(txn, LATEST, u32::MAX),
    );
}

/// Number 3 is the next free one: a writer must not take the key's word
/// that the tag exists, nor hand the number out twice unnoticed. It finds
/// the tag by its row (the process's map), so the write succeeds as on the
/// undamaged file.
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
/// checks the record reads and the write directly.) A write finds the tag
/// by its row, through the process's map (`numbers.rs`), not by the
/// damaged key: it files the observation under the right tag.
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
        verify(&l, "open: verify", Damage::Some);
        let expect_corrupt = |op: &str, r: ociledger::Result<String>| match r {
            Err(Error::Corrupt(m)) => assert!(m.contains("tag_keys"), "{op}: {m}"),
            got => panic!("{victim} -> {other}'s number: {op} gave {got:?}, expected Corrupt"),
        };
        expect_corrupt("get_tag", show(l.get_tag(&tag_id(victim))));
        expect_corrupt("tags", show(l.tags(&repo_id(NGINX), None, 100)));
        let before = l.history(&tag_id(other), None, 100).unwrap();
        let summary = l
            .ingest("scanner", &[obs(victim, d(7), day(5))])
            .unwrap_or_else(|e| panic!("{victim} -> {other}'s number: ingest gave {e:?}"));
        assert_eq!((summary.recorded, summary.tags_created), (1, 0));
        assert_eq!(
            l.history(&tag_id(other), None, 100).unwrap(),
            before,
            "{victim}'s observation filed under {other}"
        );
        drop(l);
        // The key mended: the victim's log has the observation.
        {
            let db = Database::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            put_tag_key(&txn, victim, fx.latest);
            txn.commit().unwrap();
        }
        let l = with_clock(Ledger::open(&path).unwrap());
        assert!(
            l.verify().unwrap().is_clean(),
            "{victim} -> {other}: mended"
        );
        let at = l.tag_at(&tag_id(victim), day(6)).unwrap();
        assert_eq!(at.map(|t| t.artifact), Some(d(7)), "{victim} -> {other}");
    }
}

#[test]
fn tag_keys_entry_that_is_not_a_tag_id() {
    check(Open::Ok, &["tags nginx"], |fx, txn| {
        txn.open_table(TAG_KEYS)
            .unwrap()
            .insert((fx.nginx, "!bad tag"), fx.v125)
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
// `tag_log`: each tag's move log, in chunks keyed by their first instant.
// ---------------------------------------------------------------------------

const HOUR: i64 = 3_600_000_000;

/// Every question that reads nginx:latest's whole log (its references are
/// ordered by it, and their records found through it), and the write that
/// rewrites it.
const LATEST_LOG: &[&str] = &[
    "history nginx:latest",
    "tag_at nginx:latest",
    "references nginx:latest",
    "get_reference nginx:latest",
    "ingest",
];

/// [`LATEST_LOG`] and `stats`, which decodes every chunk.
fn latest_log_and_stats() -> Vec<&'static str> {
    let mut must = LATEST_LOG.to_vec();
    must.push("stats");
    must
}

/// A chunk ending inside its last entry: in the digest, in the head (one
/// byte of its gap's varint left).
#[test]
fn tag_log_chunk_cut_short() {
    for in_head in [false, true] {
        check(Open::Ok, &latest_log_and_stats(), move |fx, txn| {
            let (at, entries) = only_chunk(txn, fx.latest);
            let bytes = chunk(&entries);
            let cut = if in_head {
                bytes.len() - chunk(&entries[..entries.len() - 1]).len() - 1
            } else {
                1
            };
            put_chunk(txn, fx.latest, at, &bytes[..bytes.len() - cut]);
        });
    }
}

/// The algorithm byte sizes the digest that follows: an unknown one must
/// stop the decoding, not guess a length.
#[test]
fn tag_log_entry_with_an_unknown_algorithm_byte() {
    check(Open::Ok, &latest_log_and_stats(), |fx, txn| {
        let (at, entries) = only_chunk(txn, fx.latest);
        let mut bytes = chunk(&entries);
        bytes[algorithm_byte_of(&entries, 1)] = 0x7f;
        put_chunk(txn, fx.latest, at, &bytes);
    });
}

/// The log's order (instant, then digest, deletion first) is what every
/// reader relies on to find the entry in force: an entry repeated, a
/// deletion after a digest of its instant. (An earlier instant after a later
/// one cannot be written since schema 7: instants are stored as gaps of zero
/// or more.)
#[test]
fn tag_log_entries_out_of_order() {
    let disorders: [fn(&mut Vec<Entry>); 2] = [|e| e.push(e[1]), |e| e.push((e[1].0, 1, None))];
    for disorder in disorders {
        check(Open::Ok, &latest_log_and_stats(), move |fx, txn| {
            let (at, mut entries) = only_chunk(txn, fx.latest);
            disorder(&mut entries);
            put_chunk(txn, fx.latest, at, &chunk(&entries));
        });
    }
}

/// The entry in force at an instant is found by the chunk keys, and the key
/// is the only copy of a chunk's first instant (schema 7): the first entry's
/// gap is zero. A chunk whose first gap is not is misplaced: its first entry
/// a microsecond after its key, and a day after (after the instant `tag_at`
/// asks about, so that the descent finds no entry in force). A chunk moved
/// to another key moves its entries with it: the next test.
#[test]
fn tag_log_chunk_whose_first_instant_differs_from_its_key() {
    for shift in [1, us(day(3)) - us(day(1))] {
        check(Open::Ok, LATEST_LOG, move |fx, txn| {
            let (at, entries) = only_chunk(txn, fx.latest);
            let moved: Vec<Entry> = entries.iter().map(|&(t, s, d)| (t + shift, s, d)).collect();
            replace_chunk(txn, fx.latest, at, &chunk_at(at, &moved));
        });
    }
}

/// Guards the cost of schema 7's gap encoding: with no second copy of a
/// chunk's first instant, a chunk stored under another key reads as entries
/// at other instants, and no read can tell. `verify` must: the journal
/// hashes every entry's instant, so the batch's hash no longer matches.
#[test]
fn tag_log_chunk_moved_to_another_key_is_found_by_verify() {
    for shift in [1, HOUR, -HOUR] {
        let (_dir, path) = damaged_file(|fx, txn| {
            let (at, entries) = only_chunk(txn, fx.latest);
            replace_chunk(txn, fx.latest, at + shift, &chunk(&entries));
        });
        let report = Ledger::open(&path).unwrap().verify().unwrap();
        assert!(
            report.tables.findings.contains_key("journal"),
            "shift {shift}: {report:?}"
        );
    }
}

/// Chunks of one tag never overlap: a second chunk repeating the last entry,
/// and one with an entry between the first chunk's two (which a descent to
/// `tag_at`'s instant lands in).
///
/// A write reads the log back from its end only as far as the interval in
/// force (whose start it takes from the digest index, where the log's end
/// is one run of a digest): past the repeated entry's chunk, to the overlap,
/// only when the chunk does not agree with the index. So the write over the
/// repeat succeeds, with the answers of the undamaged file, and writes
/// nothing of the damage back; every whole-log read and `verify` still
/// report it.
#[test]
fn tag_log_two_chunks_overlapping() {
    let whole_log_reads: Vec<&str> = LATEST_LOG
        .iter()
        .copied()
        .filter(|&q| q != "ingest")
        .collect();
    for (at, digest, must) in [
        (us(day(2)), d(2), whole_log_reads.as_slice()),
        (us(day(1)) + HOUR, d(9), LATEST_LOG),
    ] {
        check(Open::Ok, must, move |fx, txn| {
            put_chunk(txn, fx.latest, at, &chunk(&[(at, 1, Some(digest))]));
        });
    }
}

/// The writer never stores an empty chunk; a descent that lands in one
/// must not read it as "no entry".
#[test]
fn tag_log_empty_chunk() {
    check(Open::Ok, &latest_log_and_stats(), |fx, txn| {
        put_chunk(txn, fx.latest, us(day(2)) + HOUR, &[]);
    });
}

/// Instants are converted when read: one beyond chrono's range must be
/// reported, not unwrapped (nor carried into the digest index by a write).
#[test]
fn tag_log_instant_i64_max() {
    check(
        Open::Ok,
        &["history nginx:latest", "tag_at nginx:latest", "ingest"],
        |fx, txn| {
            let (at, mut entries) = only_chunk(txn, fx.latest);
            entries.push((i64::MAX, 1, Some(d(1))));
            put_chunk(txn, fx.latest, at, &chunk(&entries));
        },
    );
}

/// As above, as a first entry: it is also the first observation of its
/// reference, which `references` converts.
#[test]
fn tag_log_instant_i64_min() {
    check(
        Open::Ok,
        &[
            "history nginx:latest",
            "tag_at nginx:latest",
            "references nginx:latest",
            "ingest",
        ],
        |fx, txn| {
            let (_, mut entries) = only_chunk(txn, fx.latest);
            entries.insert(0, (i64::MIN, 1, Some(d(1))));
            replace_chunk(txn, fx.latest, i64::MIN, &chunk(&entries));
        },
    );
}

/// A deletion (algorithm byte 0, no digest) at an instant out of range.
#[test]
fn tag_log_deletion_at_i64_max() {
    check(
        Open::Ok,
        &["history nginx:latest", "tag_at nginx:latest", "ingest"],
        |fx, txn| {
            let (at, mut entries) = only_chunk(txn, fx.latest);
            entries.push((i64::MAX, 1, None));
            put_chunk(txn, fx.latest, at, &chunk(&entries));
        },
    );
}

#[test]
fn tag_log_key_for_tag_number_u32_max() {
    // A log with no tag: only `stats` reads it; every answer stays right.
    check(Open::Ok, &[], |_, txn| {
        put_chunk(txn, u32::MAX, i64::MAX, &[0xff; 3]);
    });
}

/// A log for a tag number with no row: nothing but `stats` reads it, and a
/// write must not give that number to a new tag with the stray log as its
/// history (3 and 4 are the numbers the write's two new tags get).
#[test]
fn tag_log_chunk_for_a_tag_with_no_row() {
    for n in [3, 4, 7] {
        check(Open::Ok, &[], move |_, txn| {
            let at = us(day(1));
            put_chunk(txn, n, at, &chunk(&[(at, 1, Some(d(9)))]));
        });
    }
}

// ---------------------------------------------------------------------------
// `journal`: batch number → when, by whom, how many entries, the hashes.
// ---------------------------------------------------------------------------

/// Every question that reads journal record 1 (batch 1 made every
/// reference of the small ledger; `head` reads the last record).
const BATCH_1: &[&str] = &[
    "references nginx:latest",
    "references nginx:1.25",
    "references ghcr.io/acme/app:v1",
    "get_reference",
    "head",
];

fn batch_1_and(op: &'static str) -> Vec<&'static str> {
    let mut must = BATCH_1.to_vec();
    must.push(op);
    must
}

/// The change list only steers in-memory copies of the digest index: a
/// row of it that does not read must not stop a write (the writer drops it,
/// or starts the list over) nor change an answer, and `verify` must report
/// it until a write has dropped it.
#[test]
fn index_changes_rows_of_garbage_bytes() {
    for (first, last) in [(true, false), (false, true), (true, true)] {
        let damage = move |_: &Fx, txn: &WriteTransaction| {
            let mut table = txn.open_table(INDEX_CHANGES).unwrap();
            let lo = table.first().unwrap().expect("a change row").0.value();
            let hi = table.last().unwrap().expect("a change row").0.value();
            for (damage, key) in [(first, lo), (last, hi)] {
                if damage {
                    // 2: no `Option` tag, so the header cannot read.
                    let garbage = [&[2][..], &noise(24, key)].concat();
                    table.insert(key, garbage.as_slice()).unwrap();
                }
            }
        };
        let report = check(Open::Ok, &[], damage).expect("verify ran");
        assert!(
            report.tables.findings.contains_key("index_changes"),
            "{:?}",
            report.tables.findings.keys().collect::<Vec<_>>()
        );

        let (_dir, path) = damaged_file(damage);
        let ledger = Ledger::open(&path).unwrap();
        ledger.keep_index_in_memory().unwrap();
        ledger
            .ingest("scanner", &[obs(GHOST, d(4242), day(40))])
            .unwrap_or_else(|e| panic!("first {first}, last {last}: a write over the damage: {e}"));
        let snap = ledger.snapshot().unwrap();
        assert!(snap.reads_index_from_memory() && snap.index_copy_lag() > 0);
        assert_eq!(
            *snap.tags_for_digest(&d(4242)).unwrap()[0].tag,
            tag_id(GHOST)
        );
        drop(snap);
        ledger.release_index_memory();
        let after = ledger.verify().unwrap();
        assert!(after.is_clean(), "first {first}, last {last}: {after:?}");
    }
}

/// The write reads the last record too: it chains its own to it.
#[test]
fn journal_row_of_garbage_bytes() {
    check(Open::Ok, &batch_1_and("ingest"), |_, txn| {
        put_journal(txn, 1, &noise(40, 6));
    });
}

/// A length prefix read from the file must not size an allocation.
#[test]
fn journal_row_with_a_huge_actor_length_prefix() {
    check(Open::Ok, &batch_1_and("ingest"), |_, txn| {
        let row = journal_row(txn, 1);
        let mut bytes = encode(&row.at);
        varint(&mut bytes, u64::MAX >> 1);
        bytes.extend_from_slice(b"scanner");
        put_journal(txn, 1, &bytes);
    });
}

/// A reference's `created_on` and `head`'s `written_on` are the record's
/// instant: one out of range must be reported (and found by `verify`).
#[test]
fn journal_row_written_at_an_instant_out_of_range() {
    check(Open::Ok, BATCH_1, |_, txn| {
        let mut row = journal_row(txn, 1);
        row.at = i64::MAX;
        put_journal(txn, 1, &encode(&row));
    });
}

/// The log names batch 1 but its record is gone: the reference records
/// (who made each, when) cannot be made, and the next write must not take
/// number 1 again (its record would claim the old entries as its own).
#[test]
fn journal_record_missing_for_a_batch_the_log_names() {
    let report = check(
        Open::Ok,
        &[
            "references nginx:latest",
            "references nginx:1.25",
            "references ghcr.io/acme/app:v1",
            "get_reference",
            "ingest",
        ],
        |_, txn| {
            txn.open_table(JOURNAL).unwrap().remove(1).unwrap();
        },
    );
    assert!(
        report.is_some_and(|r| r.tables.findings.contains_key("journal")),
        "verify must name the journal"
    );
}

/// A record whose count, batch hash or chain link is not what the log and
/// the records before it say: no query reads them (`head` shows the stored
/// record's hash, whatever it is), so `verify` must find it.
#[test]
fn journal_record_whose_count_or_hashes_differ_from_the_log() {
    let edits: [fn(&mut JournalRow); 3] =
        [|r| r.count += 1, |r| r.batch[0] ^= 1, |r| r.prev[31] ^= 1];
    for edit in edits {
        let report = check(Open::Ok, &[], move |_, txn| {
            let mut row = journal_row(txn, 1);
            edit(&mut row);
            put_journal(txn, 1, &encode(&row));
        });
        assert!(
            report.is_some_and(|r| r.tables.findings.contains_key("journal")),
            "verify must name the journal"
        );
    }
}

// ---------------------------------------------------------------------------
// `digest_index`: a digest's first 8 bytes → its group: algorithm, flags,
// count, the rest of the digest, count × (tag, since, until).
// ---------------------------------------------------------------------------

/// Every question that reads digest 1's group, and the write that rewrites it.
const D1_INDEX: &[&str] = &["tags_for_digest d1", "classify d1", "ingest"];

/// [`D1_INDEX`] and `stats`, which decodes every group.
fn d1_index_and_stats() -> Vec<&'static str> {
    let mut must = D1_INDEX.to_vec();
    must.push("stats");
    must
}

/// Digest 1's group as `build` stores it.
fn d1_group(fx: &Fx) -> Vec<u8> {
    group(&d(1), 0, &[(fx.latest, us(day(1)), us(day(2)))])
}

/// Digest 1's row is `group(d1_group)` changed by `edit`.
fn edit_d1_group(fx: &Fx, txn: &WriteTransaction, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = d1_group(fx);
    edit(&mut bytes);
    put_index(txn, index_key(&d(1)), &bytes);
}

/// A group ending inside its entries, its digest, its head.
#[test]
fn digest_index_group_cut_short() {
    for keep in [6 + 24 + 19, 6 + 20, 5] {
        check(Open::Ok, &d1_index_and_stats(), move |fx, txn| {
            edit_d1_group(fx, txn, |b| b.truncate(keep));
        });
    }
}

/// The count sizes the entries: one more than there are, and `u32::MAX`
/// (an allocation of 80 GB if trusted).
#[test]
fn digest_index_group_count_larger_than_its_bytes() {
    for count in [2, u32::MAX] {
        check(Open::Ok, &d1_index_and_stats(), move |fx, txn| {
            edit_d1_group(fx, txn, |b| b[2..6].copy_from_slice(&count.to_le_bytes()));
        });
    }
}

/// Flags send lookups to the relation tables (or spare them a sort); an
/// unknown one means a layout this build does not know.
#[test]
fn digest_index_group_with_unknown_flags() {
    for flags in [0x08, 0x80] {
        check(Open::Ok, &d1_index_and_stats(), move |fx, txn| {
            edit_d1_group(fx, txn, |b| b[1] = flags);
        });
    }
}

/// A group flagged as stored in the answer's order (4) whose entries of
/// one instant are not in name order: a lookup trusts the flag and answers
/// in the stored order (it reads no names: that is what the flag is for),
/// so `verify` must report the group, and nothing may panic. Guards
/// against a verify that checks only what a lookup checks.
#[test]
fn a_group_out_of_the_order_its_flag_claims_is_reported_by_verify() {
    let (_dir, path) = damaged_file(|fx, txn| {
        let d2 = group(
            &d(2),
            4,
            &[
                (fx.latest, us(day(2)), i64::MAX),
                (fx.v125, us(day(2)), i64::MAX),
            ],
        );
        put_index(txn, index_key(&d(2)), &d2);
    });
    let l = Ledger::open_read_only(&path).unwrap();
    let answer = l.snapshot().unwrap().tags_for_digest(&d(2)).unwrap();
    let names: Vec<String> = answer.iter().map(|m| m.tag.to_string()).collect();
    assert_eq!(
        names,
        [
            "docker.io/library/nginx:latest",
            "docker.io/library/nginx:1.25"
        ],
        "the stored order, trusted"
    );
    let report = l.verify().unwrap();
    assert!(
        report
            .tables
            .findings
            .get("digest_index")
            .is_some_and(|f| f.examples.iter().any(|e| e.contains("answer's order"))),
        "{:?}",
        report.tables.findings
    );
    // Unflagged (as schema 8 wrote it), the same bytes are in order for
    // a lookup, which sorts them, and for verify.
    drop(l);
    let fx = numbers(&path);
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let d2 = group(
            &d(2),
            0,
            &[
                (fx.latest, us(day(2)), i64::MAX),
                (fx.v125, us(day(2)), i64::MAX),
            ],
        );
        put_index(&txn, index_key(&d(2)), &d2);
        txn.commit().unwrap();
    }
    let l = Ledger::open_read_only(&path).unwrap();
    let answer = l.snapshot().unwrap().tags_for_digest(&d(2)).unwrap();
    let names: Vec<String> = answer.iter().map(|m| m.tag.to_string()).collect();
    assert_eq!(
        names,
        [
            "docker.io/library/nginx:1.25",
            "docker.io/library/nginx:latest"
        ]
    );
    assert!(l.verify().unwrap().is_clean());
}

/// The algorithm byte sizes the rest of the digest; 0 (a deletion in the
/// move log) is no digest here.
#[test]
fn digest_index_group_with_an_unknown_algorithm_byte() {
    for alg in [0, 0x7f] {
        check(Open::Ok, &d1_index_and_stats(), move |fx, txn| {
            edit_d1_group(fx, txn, |b| b[0] = alg);
        });
    }
}

/// The writer drops a group with nothing in it; one found means damage.
#[test]
fn digest_index_group_with_no_entries_and_no_flags() {
    check(Open::Ok, &d1_index_and_stats(), |_, txn| {
        put_index(txn, index_key(&d(1)), &group(&d(1), 0, &[]));
    });
}

/// A lookup names tags from their numbers: one with no row must be
/// reported, and a write must not carry the entry back beside its own.
#[test]
fn digest_index_entry_naming_a_tag_number_with_no_row() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        put_index(
            txn,
            index_key(&d(1)),
            &group(
                &d(1),
                0,
                &[
                    (fx.latest, us(day(1)), us(day(2))),
                    (77, us(day(1)), i64::MAX),
                ],
            ),
        );
    });
}

#[test]
fn digest_index_entry_naming_tag_number_u32_max_minus_1() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        put_index(
            txn,
            index_key(&d(1)),
            &group(
                &d(1),
                0,
                &[
                    (fx.latest, us(day(1)), us(day(2))),
                    (u32::MAX - 1, us(day(1)), i64::MAX),
                ],
            ),
        );
    });
}

#[test]
fn digest_index_entry_with_since_out_of_range() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        let bytes = group(&d(1), 0, &[(fx.latest, i64::MIN, us(day(2)))]);
        put_index(txn, index_key(&d(1)), &bytes);
    });
}

#[test]
fn digest_index_entry_with_until_out_of_range() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        let bytes = group(&d(1), 0, &[(fx.latest, us(day(1)), i64::MIN)]);
        put_index(txn, index_key(&d(1)), &bytes);
    });
}

#[test]
fn digest_index_entry_with_since_i64_max() {
    check(Open::Ok, D1_INDEX, |fx, txn| {
        let bytes = group(&d(1), 0, &[(fx.latest, i64::MAX, i64::MAX)]);
        put_index(txn, index_key(&d(1)), &bytes);
    });
}

/// The key is only a digest's first 8 bytes: a lookup must compare the
/// rest (and the algorithm), and never answer with the tags of another
/// digest under the same key. Digest 5 is in no tag's log (its row holds
/// only a stranger's group); digest 1's row gains a stranger before its
/// own group, of the same algorithm and of another.
#[test]
fn digest_index_group_of_another_digest_under_the_looked_up_key() {
    type Stranger = fn(&Digest) -> Digest;
    let strangers: [(u32, Stranger); 3] = [
        (5, |d| sibling(d, Algorithm::Sha256)),
        (1, |d| sibling(d, Algorithm::Sha256)),
        (1, |d| sibling(d, Algorithm::Sha512)),
    ];
    for (n, stranger) in strangers {
        check(Open::Ok, &[], move |fx, txn| {
            let digest = d(n);
            let mut bytes = group(&stranger(&digest), 0, &[(fx.app, us(day(1)), i64::MAX)]);
            if n == 1 {
                bytes.extend(d1_group(fx));
            }
            put_index(txn, index_key(&digest), &bytes);
        });
    }
}

/// A digest of `algorithm` whose first 8 bytes are `d`'s, and the rest not.
fn sibling(d: &Digest, algorithm: Algorithm) -> Digest {
    let mut raw = d.as_bytes()[..8].to_vec();
    raw.extend(d.as_bytes()[8..].iter().map(|b| !b));
    raw.resize(algorithm.digest_len(), 0x5a);
    Digest::from_raw(algorithm, &raw).unwrap()
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
    // Every table `check` in src/store/handle/format.rs requires, and `meta`.
    for name in common::tables::names() {
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
