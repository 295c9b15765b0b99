//! `Ledger::salvage` and `ociledger salvage DAMAGED NEW` (issue 13): every
//! row of a damaged ledger that still reads and verifies goes into a new
//! file, and the report says what was lost.
//!
//! The ledger salvaged is the bundled sample (`data/sample-events.jsonl.gz`,
//! 5,143 observations in 6 batches of 1,000, each written at its own clock
//! time so a reference's batch shows in its `created_on`;
//! `data/sample-manifests.jsonl.gz`, 2,476 relation lines), two templates
//! (Docker Hub's `library` immutable, so the sample's moves are violations
//! too) and two integrations with sealed credentials. Rows are damaged with
//! plain redb (tables of the same names and types as `src/store/`, mirrored
//! in `tests/common/tables.rs`), as
//! `tests/corrupt_rows.rs` does, or by flipping random bytes, as
//! `tests/damaged_files.rs` does.
//!
//! Run time, debug build on 2 cores shared with other jobs (load 5-6): 37 s
//! for the file (the nine damaged-row cases 25-30 s, the flipped files about
//! 10 s, each other test 2-5 s; building the sample ledger once, 2 s, is
//! shared); every wait on a child process is bounded (120 s).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ociledger::id::{Digest, RepositoryId, TagId};
use ociledger::model::{FixedClock, ImageIntegration, Observation, TemplateBody, Timestamp};
use ociledger::secrets::SecretKey;
use ociledger::{Error, Ledger, MAX_PAGE, Salvage, Snapshot};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde_json::{Value, json};

use crate::common;
use common::rng::Rng;
use common::sample::{relation_digests, sample_observations, sample_relations};
use common::tables::{
    CONFIG_MANIFESTS, CONFIGS, DIGEST_INDEX, INTEGRATION_NAMES, INTEGRATIONS, JOURNAL, META,
    PARENTS, REPO_KEYS, REPO_SETTINGS, REPOS, TAG_KEYS, TAG_LOG, TAGS, TEMPLATES, VIOLATIONS,
};

/// A value no postcard row decodes from: a varint that never ends.
const UNDECODABLE: &[u8] = b"\xff";
/// A `tag_log` chunk cut short after its first entry's two varints.
const CUT_CHUNK: &[u8] = b"\x00\x01";

/// How long a child process may take before the test kills it and fails.
const PATIENCE: Duration = Duration::from_secs(120);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ociledger")
}

fn key() -> SecretKey {
    SecretKey::from_bytes([42; 32])
}

fn tag_id(s: &str) -> TagId {
    s.parse().expect("test tag ID")
}

fn repo_id(s: &str) -> RepositoryId {
    s.parse().expect("test repository ID")
}

/// The writer's clock during batch `k` (1-based): one hour apart, after
/// every sample observation, so each batch's references show it.
fn batch_time(k: i64) -> Timestamp {
    "2030-01-01T00:00:00Z".parse::<Timestamp>().expect("time") + chrono::Duration::hours(k)
}

// ---------------------------------------------------------------------------
// The ledger, and everything it answers.
// ---------------------------------------------------------------------------

/// The undamaged ledger file, what it answers, and the questions.
struct Base {
    bytes: Vec<u8>,
    tags: BTreeSet<TagId>,
    repos: BTreeSet<RepositoryId>,
    digests: BTreeSet<Digest>,
    answers: BTreeMap<String, Value>,
    head: String,
}

/// Builds the ledger at `path`: something in every table family.
fn build(path: &Path) -> Vec<Observation> {
    let clock = Arc::new(FixedClock::at(batch_time(0)));
    let l = Ledger::create(path)
        .expect("create")
        .with_secret_key(key())
        .with_clock(clock.clone());
    for body in [
        json!({"prefix": "library", "imageTagMutability": "IMMUTABLE"}),
        json!({"prefix": "bitnami", "imageTagMutability": "MUTABLE"}),
    ] {
        l.create_template(
            "docker.io",
            &TemplateBody::from_json(&body.to_string()).expect("template body"),
        )
        .expect("template");
    }
    let observations = sample_observations();
    for (k, batch) in (1..).zip(observations.chunks(1000)) {
        clock.set(batch_time(k));
        l.ingest("test", batch).expect("ingest the sample");
    }
    let relations = sample_relations();
    l.record_relations("test", &relations)
        .expect("record the sample's relations");
    for (name, password) in [("hub", "hunter2"), ("quay", "s3cret")] {
        let body = json!({"name": name, "type": "docker", "categories": ["REGISTRY"],
            "docker": {"endpoint": format!("{name}.example.com"), "username": "me", "password": password}});
        l.create_integration(
            &ImageIntegration::from_json(body.to_string().as_bytes()).expect("integration body"),
        )
        .expect("integration");
    }
    assert_eq!(
        l.head().expect("head").expect("a journal").sequence,
        6,
        "one journal record per ingested batch"
    );
    l.compact().expect("compact");
    observations
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("base.redb");
        let observations = build(&path);
        let tags: BTreeSet<TagId> = observations.iter().map(|o| o.tag.clone()).collect();
        let repos = tags.iter().map(|t| t.repository().clone()).collect();
        let mut digests: BTreeSet<Digest> = observations.iter().map(|o| o.digest).collect();
        digests.extend(relation_digests());
        let mut base = Base {
            bytes: fs::read(&path).expect("base bytes"),
            tags,
            repos,
            digests,
            answers: BTreeMap::new(),
            head: String::new(),
        };
        let ledger = Ledger::open_read_only(&path).expect("open the base");
        base.answers = dump(&ledger.snapshot().expect("snapshot"), &base);
        base.head = ledger.head().expect("head").expect("a journal").hash;
        base
    })
}

fn all_pages<T: serde::Serialize>(
    mut page: impl FnMut(Option<&str>) -> ociledger::Result<ociledger::Page<T>>,
) -> ociledger::Result<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = page(cursor.as_deref())?;
        out.extend(
            p.items
                .iter()
                .map(|i| serde_json::to_value(i).expect("json")),
        );
        match p.next {
            Some(next) => cursor = Some(next),
            None => return Ok(Value::Array(out)),
        }
    }
}

fn answer<T: serde::Serialize>(r: ociledger::Result<T>) -> Value {
    match r {
        Ok(v) => serde_json::to_value(v).expect("json"),
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// Every answer of the ledger, by question: the listings, and for every tag
/// of the sample its history, references (with `created_by` and
/// `created_on`) and classification, for every repository its tags and
/// mutability, for every digest (observed or in a relation) its lookup.
fn dump(snap: &Snapshot, base: &Base) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    out.insert("counts".to_owned(), answer(snap.counts()));
    out.insert(
        "repositories".to_owned(),
        answer(all_pages(|c| snap.repositories(c, MAX_PAGE))),
    );
    for r in &base.repos {
        out.insert(
            format!("tags {r}"),
            answer(all_pages(|c| snap.tags(r, c, MAX_PAGE))),
        );
        out.insert(
            format!("mutability {r}"),
            answer(snap.repository_mutability(r)),
        );
    }
    for t in &base.tags {
        out.insert(
            format!("history {t}"),
            answer(all_pages(|c| snap.history(t, c, MAX_PAGE))),
        );
        out.insert(
            format!("references {t}"),
            answer(all_pages(|c| snap.references(t, c, MAX_PAGE))),
        );
        out.insert(
            format!("classify {t}"),
            answer(snap.classify(&t.to_string(), None)),
        );
    }
    for d in &base.digests {
        out.insert(format!("lookup {d}"), answer(snap.tags_for_digest(d)));
    }
    out.insert(
        "templates".to_owned(),
        answer(snap.templates("docker.io", None, 10)),
    );
    out.insert(
        "integrations".to_owned(),
        answer(all_pages(|c| snap.integrations(c, MAX_PAGE))),
    );
    out.insert(
        "violations".to_owned(),
        answer(all_pages(|c| snap.violations(None, c, MAX_PAGE))),
    );
    out
}

// ---------------------------------------------------------------------------
// Comparing a salvaged ledger's answers with the undamaged one's.
// ---------------------------------------------------------------------------

/// What a damage may change; everything else must answer as before.
#[derive(Default)]
struct Changes {
    /// Repositories lost: left out of listings, their answers not compared.
    repos: BTreeSet<String>,
    /// Tags lost or changed: their own answers are not compared, and their
    /// matches and violations are left out of both sides' answers.
    tags: BTreeSet<String>,
    /// Digests whose lookups are not compared.
    digests: BTreeSet<String>,
    /// Questions not compared.
    skip: BTreeSet<&'static str>,
    /// References first recorded in the batch written at this time are now
    /// by `salvage`, at the salvage's time.
    salvaged_batch: Option<Timestamp>,
}

fn repo_of(v: &Value) -> String {
    format!(
        "{}/{}",
        v["registry"].as_str().unwrap_or_default(),
        v["namespace"].as_str().unwrap_or_default()
    )
}

/// `value` with what `changes` allows to differ taken out; `salvaged` says
/// which side it is (for the journal's references).
fn normalize(label: &str, value: &Value, changes: &Changes, salvaged: bool) -> Value {
    let mut v = value.clone();
    let keep_tag = |item: &Value| {
        item["tag"]
            .as_str()
            .is_none_or(|t| !changes.tags.contains(t))
    };
    if let Some(items) = v.as_array_mut() {
        if label == "repositories" {
            items.retain(|r| !changes.repos.contains(&repo_of(r)));
        } else if let Some(repo) = label.strip_prefix("tags ") {
            items.retain(|t| {
                let id = format!("{repo}:{}", t["tag"].as_str().unwrap_or_default());
                !changes.tags.contains(&id)
            });
        } else if label.starts_with("lookup ") || label == "violations" {
            items.retain(keep_tag);
        } else if label.starts_with("references ")
            && let Some(t) = changes.salvaged_batch
        {
            for r in items.iter_mut() {
                let by_salvage = if salvaged {
                    r["created_by"] == "salvage"
                } else {
                    r["created_on"]
                        .as_str()
                        .and_then(|s| s.parse::<Timestamp>().ok())
                        == Some(t)
                };
                if by_salvage {
                    for (field, value) in [
                        ("created_by", "salvage"),
                        ("last_modified_by", "salvage"),
                        ("created_on", "the salvage's time"),
                        ("last_modified_on", "the salvage's time"),
                    ] {
                        r[field] = json!(value);
                    }
                }
            }
        }
    }
    v
}

/// Whether the question `label` is one `changes` lets differ.
fn skipped(label: &str, changes: &Changes) -> bool {
    if changes.skip.contains(label) {
        return true;
    }
    let Some((kind, subject)) = label.split_once(' ') else {
        return false;
    };
    match kind {
        "tags" | "mutability" => changes.repos.contains(subject),
        "history" | "references" | "classify" => {
            changes.tags.contains(subject)
                || changes
                    .repos
                    .iter()
                    .any(|r| subject.starts_with(&format!("{r}:")))
        }
        "lookup" => changes.digests.contains(subject),
        _ => false,
    }
}

/// Compares every answer not let differ; returns how many were compared.
fn compare(case: &str, got: &BTreeMap<String, Value>, changes: &Changes) -> usize {
    let expected = &base().answers;
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    let mut compared = 0;
    for (label, e) in expected {
        if skipped(label, changes) {
            continue;
        }
        let e = normalize(label, e, changes, false);
        let g = normalize(label, &got[label], changes, true);
        assert!(e == g, "{case}: {label}:\nexpected {e}\n     got {g}");
        compared += 1;
    }
    compared
}

// ---------------------------------------------------------------------------
// Files, damage and salvage.
// ---------------------------------------------------------------------------

/// A copy of the base file in a new temporary directory.
fn copy_of_base() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("damaged.redb");
    fs::write(&path, &base().bytes).expect("write the copy");
    (dir, path)
}

/// Damages the closed file at `path` with plain redb.
fn damage(path: &Path, f: impl FnOnce(&WriteTransaction)) {
    let db = Database::open(path).expect("open with redb");
    let txn = db.begin_write().expect("write transaction");
    f(&txn);
    txn.commit().expect("commit the damage");
}

/// Reads the closed file at `path` with plain redb.
fn read<T>(path: &Path, f: impl FnOnce(&redb::ReadTransaction) -> T) -> T {
    let db = Database::open(path).expect("open with redb");
    let txn = db.begin_read().expect("read transaction");
    f(&txn)
}

fn tag_number(txn: &redb::ReadTransaction, tag: &str) -> u32 {
    let id = tag_id(tag);
    let repo = txn
        .open_table(REPO_KEYS)
        .expect("repo_keys")
        .get(id.repository().as_str())
        .expect("get")
        .expect("the repository exists")
        .value();
    txn.open_table(TAG_KEYS)
        .expect("tag_keys")
        .get((repo, id.tag()))
        .expect("get")
        .expect("the tag exists")
        .value()
}

fn repo_number(txn: &redb::ReadTransaction, repo: &str) -> u32 {
    txn.open_table(REPO_KEYS)
        .expect("repo_keys")
        .get(repo_id(repo).as_str())
        .expect("get")
        .expect("the repository exists")
        .value()
}

/// The keys and value lengths of tag `n`'s log chunks.
/// Tag `n`'s chunks: (first instant, entries).
fn chunks(txn: &redb::ReadTransaction, n: u32) -> Vec<(i64, usize)> {
    txn.open_table(TAG_LOG)
        .expect("tag_log")
        .range((n, i64::MIN)..=(n, i64::MAX))
        .expect("range")
        .map(|r| {
            let (k, v) = r.expect("row");
            (k.value().1, common::tables::log_entries(v.value()))
        })
        .collect()
}

/// Salvages `damaged` into `<dir>/new.redb`, checking that the damaged
/// file's bytes do not change and that the new file verifies clean.
fn salvage(damaged: &Path) -> (Salvage, PathBuf) {
    let before = fs::read(damaged).expect("damaged bytes");
    let new = damaged.with_file_name("new.redb");
    let report = Ledger::salvage(damaged, &new).expect("salvage");
    assert!(
        fs::read(damaged).expect("damaged bytes") == before,
        "the damaged file was written"
    );
    assert!(report.verify.is_clean(), "{:?}", report.verify);
    assert_eq!(report.verify.engine_check, Some(true));
    let reopened = Ledger::open(&new).expect("open the new file");
    assert!(reopened.verify().expect("verify").is_clean());
    assert_eq!(report.bytes, fs::metadata(&new).expect("new").len());
    (report, new)
}

fn answers_of(path: &Path) -> BTreeMap<String, Value> {
    let ledger = Ledger::open_read_only(path).expect("open the new file");
    dump(&ledger.snapshot().expect("snapshot"), base())
}

fn lost(report: &Salvage, table: &str) -> u64 {
    report.tables[table].lost
}

/// The tables that lost something no other table gives back.
fn losing_tables(report: &Salvage) -> BTreeSet<&'static str> {
    report
        .tables
        .iter()
        .filter(|(_, t)| t.lost_anything())
        .map(|(name, _)| *name)
        .collect()
}

// ---------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------

// Guards against a salvage that loses or changes anything of a whole file:
// a table not copied, a row re-encoded differently, numbers changed without
// need, a digest index or violations rebuilt differently from the ones
// writes keep, references' authors and times (the journal) rewritten. Every
// question of the dump (11,921: counts, listings, the history,
// references and classification of every tag, every lookup, templates,
// integrations, violations) answers alike, every table has as many rows as
// before, the credentials open with the same key and the key check came
// along (a second key is refused), and the journal's head is the same:
// nothing was renumbered, so
// every batch hash and the chain come out as they were (the head would
// differ only where tag or batch numbers change, see the journal case of
// `a_damaged_row_loses_only_itself_and_what_depends_on_it`). About 4 s.
#[test]
fn an_undamaged_ledger_is_salvaged_whole_and_answers_every_query_alike() {
    let (_dir, damaged) = copy_of_base();
    let (report, new) = salvage(&damaged);
    eprintln!(
        "salvage of the sample: {:.2} s, {} bytes (the damaged file: {})",
        report.seconds,
        report.bytes,
        base().bytes.len()
    );
    assert!(report.complete, "{report:#?}");
    assert!(losing_tables(&report).is_empty(), "{report:#?}");
    assert_eq!(report.repaired, None);
    for (name, t) in &report.tables {
        assert_eq!((t.lost, t.unreadable), (0, 0), "{name}: {t:?}");
        if !t.derived {
            assert_eq!(t.kept, t.read, "{name}: every row read is kept");
        }
    }
    for (name, t) in &report.tables {
        if *name == "index_changes" {
            // The change list names rows of the damaged file's commits, which
            // no process holds a copy of once the new file replaces it.
            assert!(t.read > 0 && t.written == 0, "{name}: {t:?}");
        } else {
            assert_eq!(t.read, t.written, "{name}: the same number of rows");
        }
    }
    assert_eq!(report.repositories.renumbered, 0);
    assert_eq!(report.tags.renumbered, 0);
    assert!(report.tags.kept > 900, "{:?}", report.tags);
    assert!(!report.journal.rebuilt, "{:?}", report.journal);
    assert_eq!(report.journal.batches, 6);
    assert_eq!(report.journal.attributed_to_salvage, 0);
    let head = report.journal.head.as_ref().expect("a head");
    assert_eq!(head.hash, base().head, "same journal, same head");
    assert_eq!(
        report.journal.damaged_head.as_ref().map(|h| &h.hash),
        Some(&base().head)
    );

    let got = answers_of(&new);
    let compared = compare("undamaged", &got, &Changes::default());
    assert_eq!(compared, base().answers.len());
    assert!(compared > 10_000, "{compared} answers");
    let copy = Ledger::open(&new).expect("open").with_secret_key(key());
    for (name, password) in [("hub", "hunter2"), ("quay", "s3cret")] {
        let c = copy.integration_credentials(name).expect("credentials");
        assert_eq!(
            c.secret("docker.password").map(|s| s.expose().to_owned()),
            Some(password.to_owned()),
            "sealed credentials are copied byte for byte"
        );
    }
    drop(copy);
    let wrong_key = Ledger::open(&new)
        .expect("open")
        .with_secret_key(SecretKey::from_bytes([7; 32]));
    let body = json!({"name": "other", "type": "docker", "categories": ["REGISTRY"],
        "docker": {"endpoint": "other.example.com", "username": "me", "password": "pw"}});
    let mixed = wrong_key.create_integration(
        &ImageIntegration::from_json(body.to_string().as_bytes()).expect("body"),
    );
    assert!(
        matches!(mixed, Err(Error::SecretKeyMismatch { .. })),
        "the key check is copied, so a second key is refused: {mixed:?}"
    );
}

/// Every answer of a ledger, by question.
type Answers = BTreeMap<String, Value>;

/// What a case requires of the report and of the new file's answers.
type Check = Box<dyn Fn(&Salvage, &Answers)>;

/// One damaged-row case: what to damage, what the report must say, and
/// what may answer differently.
struct Case {
    name: &'static str,
    damage: Box<dyn Fn(&Path) -> Changes>,
    check: Check,
}

fn cases() -> Vec<Case> {
    vec![
        case_repos(),
        case_tags(),
        case_tag_log(),
        case_journal(),
        case_manifest_parents(),
        case_manifest_configs(),
        case_templates(),
        case_repository_settings(),
        case_image_integrations(),
    ]
}

// A repository's row: it is lost, and with it its tag, the tag's
// log, the repository's setting; later numbers move down.
fn case_repos() -> Case {
    Case {
        name: "repos",
        damage: Box::new(|path| {
            let n = read(path, |t| repo_number(t, "docker.io/library/iojs"));
            damage(path, |txn| {
                txn.open_table(REPOS)
                    .expect("repos")
                    .insert(n, UNDECODABLE)
                    .expect("insert");
            });
            Changes {
                repos: ["docker.io/library/iojs".to_owned()].into(),
                tags: ["docker.io/library/iojs:3.3-slim".to_owned()].into(),
                skip: ["counts"].into(),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, got| {
            assert_eq!(lost(r, "repos"), 1);
            assert_eq!(lost(r, "tags"), 1);
            assert!(r.tables["tags"].examples[0].contains("repository"));
            assert!(r.tables["tag_log"].entries_lost.unwrap_or(0) > 0);
            assert_eq!(lost(r, "repository_settings"), 1);
            assert!(r.repositories.renumbered > 0 && r.tags.renumbered > 0);
            assert!(got["history docker.io/library/iojs:3.3-slim"]["error"].is_string());
            assert_eq!(
                losing_tables(r),
                ["repos", "repository_settings", "tag_log", "tags"].into()
            );
        }),
    }
}

// A tag's row: the tag and its whole log are lost, nothing else.
fn case_tags() -> Case {
    Case {
        name: "tags",
        damage: Box::new(|path| {
            let n = read(path, |t| tag_number(t, "nginx:latest"));
            damage(path, |txn| {
                txn.open_table(TAGS)
                    .expect("tags")
                    .insert(n, UNDECODABLE)
                    .expect("insert");
            });
            Changes {
                tags: ["docker.io/library/nginx:latest".to_owned()].into(),
                skip: ["counts"].into(),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, got| {
            assert_eq!(lost(r, "tags"), 1);
            assert!(r.tables["tags"].examples[0].contains("tags"));
            let entries = base().answers["history docker.io/library/nginx:latest"]
                .as_array()
                .map_or(0, Vec::len);
            assert!(
                r.tables["tag_log"].entries_lost.unwrap_or(0) >= entries as u64,
                "{:?}",
                r.tables["tag_log"]
            );
            assert!(r.tags.renumbered > 0);
            assert_eq!(r.repositories.renumbered, 0);
            assert_eq!(
                got["counts"]["tags"].as_u64().expect("tags") + 1,
                base().answers["counts"]["tags"].as_u64().expect("tags")
            );
            assert_eq!(losing_tables(r), ["tag_log", "tags"].into());
        }),
    }
}

// One chunk of a long log: those entries are lost, the tag and the
// rest of its log stay, and it still points where it did.
fn case_tag_log() -> Case {
    Case {
        name: "tag_log",
        damage: Box::new(|path| {
            let (n, first) = read(path, |t| {
                let n = tag_number(t, "ghost:latest");
                let c = chunks(t, n);
                assert!(c.len() > 2, "a log of several chunks: {c:?}");
                (n, c[0])
            });
            damage(path, |txn| {
                txn.open_table(TAG_LOG)
                    .expect("tag_log")
                    .insert((n, first.0), CUT_CHUNK)
                    .expect("insert");
            });
            CHUNK_ENTRIES.store(first.1, std::sync::atomic::Ordering::SeqCst);
            Changes {
                tags: ["docker.io/library/ghost:latest".to_owned()].into(),
                skip: ["counts"].into(),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, got| {
            let log = &r.tables["tag_log"];
            assert_eq!(
                (log.lost, log.bytes_lost),
                (1, Some(CUT_CHUNK.len() as u64))
            );
            assert_eq!(log.entries_lost, Some(0));
            assert!(log.examples[0].contains("cut short"), "{log:?}");
            let entries = CHUNK_ENTRIES.load(std::sync::atomic::Ordering::SeqCst) as u64;
            let observations = |a: &BTreeMap<String, Value>| {
                a["counts"]["observations"].as_u64().expect("observations")
            };
            assert_eq!(observations(got) + entries, observations(&base().answers));
            let tags = |a: &BTreeMap<String, Value>| {
                a["tags docker.io/library/ghost"]
                    .as_array()
                    .cloned()
                    .expect("tags")
            };
            assert_eq!(
                tags(got),
                tags(&base().answers),
                "still points where it did"
            );
            assert_eq!((r.tags.renumbered, r.repositories.renumbered), (0, 0));
            assert_eq!(losing_tables(r), ["tag_log"].into());
        }),
    }
}

// A journal record: its batch is attributed to the salvage (the
// references it first recorded now say `salvage` and the salvage's
// time), the chain is rebuilt, nothing else changes.
fn case_journal() -> Case {
    Case {
        name: "journal",
        damage: Box::new(|path| {
            damage(path, |txn| {
                txn.open_table(JOURNAL)
                    .expect("journal")
                    .insert(3, UNDECODABLE)
                    .expect("insert");
            });
            Changes {
                salvaged_batch: Some(batch_time(3)),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, got| {
            assert_eq!(lost(r, "journal"), 1);
            assert_eq!(r.journal.attributed_to_salvage, 1);
            assert!(r.journal.rebuilt);
            assert_eq!(r.journal.batches, 6);
            let head = r.journal.head.as_ref().expect("head");
            assert_eq!(head.sequence, 6);
            assert_ne!(head.hash, base().head, "batch 3's record changed");
            assert!(
                r.tables["journal"]
                    .examples
                    .iter()
                    .any(|e| e.contains("batch 3") && e.contains("salvage")),
                "{:?}",
                r.tables["journal"]
            );
            let by_salvage = got
                .iter()
                .filter(|(l, _)| l.starts_with("references "))
                .flat_map(|(_, v)| v.as_array().cloned().unwrap_or_default())
                .filter(|r| r["created_by"] == "salvage")
                .count();
            assert!(by_salvage > 100, "{by_salvage} references of batch 3");
            assert_eq!(losing_tables(r), ["journal"].into());
        }),
    }
}

// A platform manifest's parent: lookups of that manifest (and of
// its config) lose the index's tags; nothing else changes.
fn case_manifest_parents() -> Case {
    Case {
        name: "manifest_parents",
        damage: Box::new(|path| {
            let (child, index, config) = read(path, |t| {
                let parents = t.open_table(PARENTS).expect("parents");
                let (k, _) = parents
                    .iter()
                    .expect("iter")
                    .nth(100)
                    .expect("a row")
                    .expect("row");
                let (child, index) = k.value();
                let config = t
                    .open_table(CONFIGS)
                    .expect("configs")
                    .get(child)
                    .expect("get")
                    .map(|v| v.value().to_vec());
                (child.to_vec(), index.to_vec(), config)
            });
            damage(path, |txn| {
                txn.open_table(PARENTS)
                    .expect("parents")
                    .insert((child.as_slice(), index.as_slice()), UNDECODABLE)
                    .expect("insert");
            });
            let shown = |b: &[u8]| compact(b).to_string();
            Changes {
                digests: std::iter::once(shown(&child))
                    .chain(config.as_deref().map(shown))
                    .collect(),
                skip: ["counts"].into(),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, _| {
            assert_eq!(lost(r, "manifest_parents"), 1);
            assert_eq!(losing_tables(r), ["manifest_parents"].into());
        }),
    }
}

// A manifest's config row: the relation comes back from its mirror,
// config_manifests; nothing is lost at all.
fn case_manifest_configs() -> Case {
    Case {
        name: "manifest_configs",
        damage: Box::new(|path| {
            let manifest = read(path, |t| {
                let configs = t.open_table(CONFIGS).expect("configs");
                let (k, _) = configs
                    .iter()
                    .expect("iter")
                    .nth(50)
                    .expect("a row")
                    .expect("row");
                k.value().to_vec()
            });
            damage(path, |txn| {
                txn.open_table(CONFIGS)
                    .expect("configs")
                    .insert(manifest.as_slice(), UNDECODABLE)
                    .expect("insert");
            });
            Changes::default()
        }),
        check: Box::new(|r, _| {
            assert!(r.complete, "{:?}", r.tables["manifest_configs"]);
            assert_eq!(lost(r, "manifest_configs"), 0);
            assert!(
                r.tables["manifest_configs"]
                    .examples
                    .iter()
                    .any(|e| e.contains("recovered")),
                "{:?}",
                r.tables["manifest_configs"]
            );
        }),
    }
}

// A template: it is gone from the listing; the repositories keep
// the settings they got from it (settings are copied).
fn case_templates() -> Case {
    Case {
        name: "templates",
        damage: Box::new(|path| {
            damage(path, |txn| {
                txn.open_table(TEMPLATES)
                    .expect("templates")
                    .insert(("docker.io", "bitnami"), UNDECODABLE)
                    .expect("insert");
            });
            Changes {
                skip: ["templates"].into(),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, got| {
            assert_eq!(lost(r, "templates"), 1);
            let prefixes = |a: &BTreeMap<String, Value>| {
                a["templates"]["repositoryCreationTemplates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| t["prefix"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            };
            assert_eq!(prefixes(&base().answers), ["bitnami", "library"]);
            assert_eq!(prefixes(got), ["library"]);
            assert_eq!(losing_tables(r), ["templates"].into());
        }),
    }
}

// A repository's setting: its tags become mutable, so their
// violations go (they are recomputed); nothing else changes.
fn case_repository_settings() -> Case {
    Case {
        name: "repository_settings",
        damage: Box::new(|path| {
            let n = read(path, |t| repo_number(t, "docker.io/library/ghost"));
            damage(path, |txn| {
                txn.open_table(REPO_SETTINGS)
                    .expect("settings")
                    .insert(n, UNDECODABLE)
                    .expect("insert");
            });
            Changes {
                tags: base()
                    .tags
                    .iter()
                    .filter(|t| t.repository().as_str() == "docker.io/library/ghost")
                    .map(ToString::to_string)
                    .collect(),
                skip: ["mutability docker.io/library/ghost"].into(),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, got| {
            assert_eq!(lost(r, "repository_settings"), 1);
            let ghost = |a: &BTreeMap<String, Value>| {
                a["violations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|v| {
                        v["tag"]
                            .as_str()
                            .is_some_and(|t| t.starts_with("docker.io/library/ghost:"))
                    })
                    .count()
            };
            assert!(
                ghost(&base().answers) > 0,
                "the case needs ghost's violations"
            );
            assert_eq!(ghost(got), 0);
            assert_eq!(losing_tables(r), ["repository_settings"].into());
        }),
    }
}

// An integration: it is gone, the other one's credentials still
// open with the key.
fn case_image_integrations() -> Case {
    Case {
        name: "image_integrations",
        damage: Box::new(|path| {
            let id = read(path, |t| {
                t.open_table(INTEGRATION_NAMES)
                    .expect("names")
                    .get("quay")
                    .expect("get")
                    .expect("quay")
                    .value()
                    .to_owned()
            });
            damage(path, |txn| {
                txn.open_table(INTEGRATIONS)
                    .expect("integrations")
                    .insert(id.as_str(), UNDECODABLE)
                    .expect("insert");
            });
            Changes {
                skip: ["integrations"].into(),
                ..Changes::default()
            }
        }),
        check: Box::new(|r, got| {
            assert_eq!(lost(r, "image_integrations"), 1);
            assert_eq!(lost(r, "image_integration_names"), 1);
            let names: Vec<&str> = got["integrations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["name"].as_str())
                .collect();
            assert_eq!(names, ["hub"]);
            assert_eq!(losing_tables(r), ["image_integrations"].into());
        }),
    }
}

/// Entries of the chunk the `tag_log` case damages (set by its damage).
static CHUNK_ENTRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn compact(bytes: &[u8]) -> Digest {
    Digest::from_compact(bytes).expect("a compact digest")
}

// Guards against a salvage that loses more than the damage (one bad row of
// a table family losing the table, or rows that do not depend on it), or
// that keeps a row whose references were lost (which `verify` would
// refuse), or whose report does not name what was lost. One row is damaged
// in each family (repositories, tags, the move log, the journal, both
// relation tables, templates, settings, integrations) so that it no longer
// decodes; each salvage must report exactly the tables that lost something,
// name the row, and every other answer of the ledger must be as before. The
// new file verifies clean (`salvage`). 25-30 s (9 salvages, each followed by
// the 11,900 questions).
#[test]
fn a_damaged_row_loses_only_itself_and_what_depends_on_it() {
    for case in cases() {
        let start = Instant::now();
        let (_dir, damaged) = copy_of_base();
        let changes = (case.damage)(&damaged);
        let (report, new) = salvage(&damaged);
        assert_eq!(
            report.complete,
            losing_tables(&report).is_empty(),
            "{}",
            case.name
        );
        let got = answers_of(&new);
        (case.check)(&report, &got);
        let compared = compare(case.name, &got, &changes);
        assert!(
            compared > 10_000,
            "{}: {compared} answers compared",
            case.name
        );
        eprintln!(
            "{}: complete {}, {compared} answers as before, {:.1} s",
            case.name,
            report.complete,
            start.elapsed().as_secs_f64()
        );
    }
}

// Guards against a salvage that copies (or trusts) the tables that are
// functions of others instead of rebuilding them: damage in the digest
// index, the violations, `config_manifests` and the key tables (`repo_keys`,
// `tag_keys`, the integration names) loses nothing at all. All of them are
// damaged in one file; the salvage is complete and every answer is as
// before (the damaged file itself answers lookups of the damaged digest
// with an error). About 3 s.
#[test]
fn damage_in_the_tables_rebuilt_from_others_loses_nothing() {
    let (_dir, damaged) = copy_of_base();
    let probe: Digest = base()
        .answers
        .iter()
        .find(|(l, v)| l.starts_with("lookup ") && v.as_array().is_some_and(|m| !m.is_empty()))
        .and_then(|(l, _)| l.strip_prefix("lookup "))
        .expect("a digest with matches")
        .parse()
        .expect("digest");
    let prefix = u64::from_be_bytes(probe.as_bytes()[..8].try_into().expect("8 bytes"));
    damage(&damaged, |txn| {
        txn.open_table(DIGEST_INDEX)
            .expect("digest_index")
            .insert(prefix, UNDECODABLE)
            .expect("insert");
        let mut violations = txn.open_table(VIOLATIONS).expect("violations");
        let first = violations
            .first()
            .expect("first")
            .map(|(k, _)| (k.value().0, k.value().1.to_owned()))
            .expect("a violation");
        violations
            .insert((first.0, first.1.as_str()), UNDECODABLE)
            .expect("insert");
        let mut reverse = txn.open_table(CONFIG_MANIFESTS).expect("config_manifests");
        let row = reverse
            .first()
            .expect("first")
            .map(|(k, _)| (k.value().0.to_vec(), k.value().1.to_vec()))
            .expect("a row");
        reverse
            .remove((row.0.as_slice(), row.1.as_slice()))
            .expect("remove");
        let tag = tag_id("nginx:latest");
        let repo = txn
            .open_table(REPO_KEYS)
            .expect("repo_keys")
            .get(tag.repository().as_str())
            .expect("get")
            .expect("nginx")
            .value();
        txn.open_table(TAG_KEYS)
            .expect("tag_keys")
            .remove((repo, tag.tag()))
            .expect("remove");
        txn.open_table(REPO_KEYS)
            .expect("repo_keys")
            .remove("docker.io/library/iojs")
            .expect("remove");
        txn.open_table(INTEGRATION_NAMES)
            .expect("names")
            .remove("hub")
            .expect("remove");
    });
    let damaged_answer = Ledger::open_read_only(&damaged)
        .expect("open")
        .tags_for_digest(&probe);
    assert!(
        matches!(damaged_answer, Err(Error::Corrupt(_))),
        "the damage must show: {damaged_answer:?}"
    );
    let (report, new) = salvage(&damaged);
    assert!(report.complete, "{report:#?}");
    assert_eq!(
        (report.repositories.renumbered, report.tags.renumbered),
        (0, 0)
    );
    assert!(!report.journal.rebuilt);
    for table in [
        "tag_keys",
        "repo_keys",
        "image_integration_names",
        "config_manifests",
    ] {
        let t = &report.tables[table];
        assert!(t.derived, "{table}");
        assert_eq!(
            t.read + 1,
            t.written,
            "{table}: the missing row is rebuilt: {t:?}"
        );
    }
    let compared = compare("rebuilt tables", &answers_of(&new), &Changes::default());
    assert_eq!(compared, base().answers.len());
}

// Guards against a salvage that a damaged page takes down (a panic deep in
// the storage engine reaching the caller, an error mid-table that loses the
// rest of the file) or that writes a file that does not verify. Files with
// 1, 10 and 100 random bytes flipped (past the header, as
// `tests/damaged_files.rs` flips them): each salvage returns a report or an
// error, never a panic, and none is refused (the damage is past the header,
// so every file opens, and a damaged page must cost only its rows); every
// new file verifies clean (`salvage` refuses to put one that does not in
// place, and this test opens and verifies it again); some salvages must
// report losses. About 10 s (24 files).
#[test]
fn flipped_bytes_salvage_without_panic_into_a_file_that_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = &base().bytes;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut salvaged, mut lossy, mut refused) = (0, 0, 0);
    for (flips, files) in [(1, 8), (10, 8), (100, 8)] {
        for i in 0..files {
            let mut copy = bytes.clone();
            for _ in 0..flips {
                let at = bytes.len() / 8 + rng.below(bytes.len() - bytes.len() / 8);
                copy[at] ^= u8::try_from(1 + rng.below(255)).expect("byte");
            }
            let damaged = dir.path().join(format!("flipped-{flips}-{i}.redb"));
            fs::write(&damaged, &copy).expect("write");
            let new = dir.path().join(format!("new-{flips}-{i}.redb"));
            let outcome = std::panic::catch_unwind(|| Ledger::salvage(&damaged, &new));
            let result = outcome
                .unwrap_or_else(|_| panic!("salvage panicked on {flips} flipped bytes (file {i})"));
            assert!(fs::read(&damaged).expect("bytes") == copy, "never written");
            match result {
                Ok(report) => {
                    salvaged += 1;
                    lossy += usize::from(!report.complete);
                    assert!(report.verify.is_clean());
                    let reopened = Ledger::open(&new).expect("open the new file");
                    assert!(reopened.verify().expect("verify").is_clean());
                }
                Err(e) => {
                    refused += 1;
                    assert!(!new.exists(), "no new file after {e}");
                    assert!(
                        !e.to_string().contains("does not verify"),
                        "salvage wrote a file that does not verify: {e}"
                    );
                }
            }
        }
    }
    eprintln!("24 damaged files: {salvaged} salvaged ({lossy} with losses), {refused} refused");
    // Flips past the header leave every one of these files openable: a
    // damaged page must cost the rows on it, never the whole salvage (with
    // the engine's failures caught per file instead of per row, 12 of the
    // 24 were refused).
    assert_eq!(refused, 0, "a damaged page took a whole salvage down");
    assert!(lossy > 0, "no salvage noticed the damage");
}

fn run(args: &[&str]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ociledger");
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("ociledger {args:?} did not finish in time; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

// Guards against a salvage that overwrites an existing file, writes the
// damaged one, or exits with the wrong status: an existing NEW is refused
// (`Conflict`, its bytes unchanged, nothing left beside it), a missing
// DAMAGED is `NotFound`; the
// command prints the report and exits 0 when nothing was lost, 1 when
// something was (and names it), and 1 with problem+json and no report when
// nothing could be read. About 4 s.
#[test]
fn an_existing_new_file_is_refused_and_the_exit_status_says_whether_anything_was_lost() {
    let (dir, damaged) = copy_of_base();
    let existing = dir.path().join("existing.redb");
    fs::write(&existing, b"precious").expect("write");
    let refused = Ledger::salvage(&damaged, &existing);
    assert!(
        matches!(
            refused,
            Err(Error::Conflict {
                what: "salvage file",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(fs::read(&existing).expect("existing"), b"precious");
    assert!(
        fs::read(&damaged).expect("damaged") == base().bytes,
        "the damaged file was written"
    );
    let missing = Ledger::salvage(dir.path().join("missing.redb"), dir.path().join("a.redb"));
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let path = |p: &Path| p.to_str().expect("path").to_owned();
    let whole = run(&[
        "salvage",
        &path(&damaged),
        &path(&dir.path().join("whole.redb")),
    ]);
    assert_eq!(whole.status.code(), Some(0), "{whole:?}");
    let report: Value = serde_json::from_slice(&whole.stdout).expect("JSON report");
    assert_eq!(report["complete"], true);
    assert_eq!(report["verify"]["engine_check"], true);

    let again = run(&[
        "salvage",
        &path(&damaged),
        &path(&dir.path().join("whole.redb")),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(again.stdout.is_empty());
    let problem: Value = serde_json::from_slice(&again.stderr).expect("problem+json");
    assert_eq!(problem["status"], 409, "{problem}");

    let n = read(&damaged, |t| tag_number(t, "nginx:latest"));
    damage(&damaged, |txn| {
        txn.open_table(TAGS)
            .expect("tags")
            .insert(n, UNDECODABLE)
            .expect("insert");
    });
    let lossy = run(&[
        "salvage",
        &path(&damaged),
        &path(&dir.path().join("lossy.redb")),
    ]);
    assert_eq!(lossy.status.code(), Some(1), "{lossy:?}");
    let report: Value = serde_json::from_slice(&lossy.stdout).expect("JSON report");
    assert_eq!(report["complete"], false);
    assert_eq!(report["tables"]["tags"]["lost"], 1);
    assert!(dir.path().join("lossy.redb").exists());

    let foreign = dir.path().join("foreign.redb");
    fs::write(&foreign, vec![7u8; 8192]).expect("write");
    let garbage = run(&[
        "salvage",
        &path(&foreign),
        &path(&dir.path().join("c.redb")),
    ]);
    assert_eq!(garbage.status.code(), Some(1));
    assert!(garbage.stdout.is_empty(), "no report when nothing reads");
    serde_json::from_slice::<Value>(&garbage.stderr).expect("problem+json");
}

// Guards against a salvage that takes any redb file for a ledger (and
// writes a "ledger" of another program's rows), or that a damaged format
// record stops: a file that is not a redb file and another program's redb
// file are refused (`NotALedger`, no new file), while a ledger whose schema
// version record is damaged (so every open refuses it) is salvaged whole,
// the report noting the damaged record. About 2 s.
#[test]
fn only_a_ledger_is_salvaged_even_with_a_damaged_version_record() {
    let (dir, damaged) = copy_of_base();
    let foreign = dir.path().join("foreign.redb");
    fs::write(&foreign, vec![7u8; 8192]).expect("write");
    let not_a_ledger = Ledger::salvage(&foreign, dir.path().join("b.redb"));
    assert!(
        matches!(not_a_ledger, Err(Error::NotALedger { .. })),
        "{not_a_ledger:?}"
    );
    assert!(!dir.path().join("b.redb").exists());
    let other = dir.path().join("other.redb");
    {
        let db = Database::create(&other).expect("a redb file of another program");
        let txn = db.begin_write().expect("write");
        txn.open_table(TableDefinition::<u64, u64>::new("things"))
            .expect("table")
            .insert(1, 2)
            .expect("insert");
        txn.commit().expect("commit");
    }
    let theirs = Ledger::salvage(&other, dir.path().join("b.redb"));
    assert!(
        matches!(theirs, Err(Error::NotALedger { .. })),
        "{theirs:?}"
    );
    // A damaged schema version record in a file with this schema's tables
    // refuses every open, and does not stop a salvage.
    let version = dir.path().join("version.redb");
    fs::copy(&damaged, &version).expect("copy");
    damage(&version, |txn| {
        txn.open_table(META)
            .expect("meta")
            .insert("schema_version", 5u32.to_le_bytes().as_slice())
            .expect("insert");
    });
    assert!(matches!(
        Ledger::open_read_only(&version),
        Err(Error::Version { found: 5, .. })
    ));
    let (report, _) = salvage(&version);
    assert!(report.complete, "{report:#?}");
    assert!(
        report.tables["meta"].examples[0].contains("version record says 5"),
        "{:?}",
        report.tables["meta"]
    );
    fs::remove_file(dir.path().join("new.redb")).expect("remove");
}
