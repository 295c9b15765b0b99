//! The ledger file: it keeps everything across close and reopen, refuses
//! files that are not ledgers (or of another schema version) without touching
//! them, a failed write leaves no trace, and compaction changes no answer.
//! (Also holds what `tests/file_format.rs` checked before the two were merged.)

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use chrono::Duration;
use ociledger::id::{Algorithm, Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{
    Clock, FixedClock, IndexRelation, ManifestRelation, Observation, Platform, PlatformManifest,
    RepositoryBody, TagBody, Timestamp,
};
use ociledger::problem::ErrorModel;
use ociledger::{Counts, Error, Ledger, SCHEMA_VERSION};
use redb::{Database, ReadableDatabase, TableDefinition};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn day(n: i64) -> Timestamp {
    t("2024-01-01T00:00:00Z") + Duration::days(n - 1)
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

/// `index` lists `child` for linux/amd64.
fn index_listing(index: Digest, child: Digest) -> ManifestRelation {
    ManifestRelation::Index(IndexRelation {
        index,
        manifests: vec![PlatformManifest {
            digest: child,
            platform: Platform {
                os: "linux".to_owned(),
                architecture: "amd64".to_owned(),
                variant: None,
                os_version: None,
            },
            config: None,
        }],
        repository: None,
        first_seen: None,
    })
}

fn obs(tag: &str, digest: Digest, at: Timestamp) -> Observation {
    Observation::new(tag_id(tag), digest, at)
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::at(t("2025-01-01T00:00:00Z")))
}

fn counts(l: &Ledger) -> Counts {
    l.stats().unwrap().counts
}

/// Deterministic pseudo-random bytes (xorshift), so the test needs no RNG crate.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Fills a ledger with one of everything: repositories with and without
/// associations, live, moved, deleted and re-created tags, A → B → A history.
fn populate(l: &Ledger, clock: &FixedClock) {
    let mut body = RepositoryBody::new(&repo_id("docker.io/istio/pilot"), day(1));
    body.projects = Some(vec!["istio".into()]);
    body.packages = Some(vec![]);
    l.create_repository("alice", &body).unwrap();
    l.create_tag("alice", &TagBody::new(&tag_id("istio/pilot:1.3.0"), d(1)))
        .unwrap();
    l.ingest(
        "scanner",
        &[
            obs("nginx:latest", d(10), day(1)),
            obs("nginx:latest", d(11), day(2)),
            obs("nginx:latest", d(10), day(3)),
            obs("nginx:1.25", d(11), day(2)),
            obs("ghcr.io/acme/app:v1", d(20), day(1)),
        ],
    )
    .unwrap();
    clock.advance(Duration::hours(1));
    l.update_tag(
        "bob",
        &tag_id("istio/pilot:1.3.0"),
        &TagBody::new(&tag_id("istio/pilot:1.3.0"), d(2)),
    )
    .unwrap();
    clock.advance(Duration::hours(1));
    l.delete_tag("ops", &tag_id("ghcr.io/acme/app:v1")).unwrap();
    clock.advance(Duration::hours(1));
    l.delete_tag("ops", &tag_id("nginx:1.25")).unwrap();
    clock.advance(Duration::hours(1));
    l.create_tag("carol", &TagBody::new(&tag_id("nginx:1.25"), d(12)))
        .unwrap();
}

const TAGS: [&str; 4] = [
    "istio/pilot:1.3.0",
    "nginx:latest",
    "nginx:1.25",
    "ghcr.io/acme/app:v1",
];
const REPOS: [&str; 3] = ["istio/pilot", "nginx", "ghcr.io/acme/app"];

/// Every answer the ledger gives about the populated data, as text.
fn everything(l: &Ledger) -> String {
    let mut out = String::new();
    let mut line = |answer: &dyn std::fmt::Debug| writeln!(out, "{answer:?}").unwrap();
    for r in REPOS {
        let r = repo_id(r);
        line(&l.get_repository(&r).unwrap());
        line(&l.tags(&r, None, 100).unwrap());
    }
    line(&l.repositories(None, 100).unwrap());
    for tag in TAGS {
        let tag = tag_id(tag);
        line(&l.get_tag(&tag).ok());
        line(&l.history(&tag, None, 100).unwrap());
        let refs = l.references(&tag, None, 100).unwrap();
        for r in &refs.items {
            let id = ReferenceId::new(tag.clone(), r.artifact);
            assert_eq!(&l.get_reference(&id).unwrap(), r);
        }
        line(&refs);
        line(&l.tag_at(&tag, day(2)).unwrap());
    }
    for n in [1, 2, 10, 11, 12, 20, 99] {
        line(&l.tags_for_digest(&d(n)).unwrap());
        line(&l.classify("nginx:latest", Some(&d(n))).unwrap());
    }
    line(&counts(l));
    out
}

// ---------------------------------------------------------------------------
// Close and reopen. Guards against state that lives only in memory (the name
// cache, counters) and is lost or wrong after a restart.
// ---------------------------------------------------------------------------

/// Guards against state kept only in memory (records, history, name cache, counters) being lost or changed by close and reopen.
#[test]
fn close_and_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    let before = {
        let clock = clock();
        let l = Ledger::create(&path).unwrap().with_clock(clock.clone());
        populate(&l, &clock);
        everything(&l)
    };
    assert!(before.contains("istio"));
    let l = Ledger::open(&path).unwrap();
    assert_eq!(everything(&l), before);
    drop(l);
    // `create` of an existing ledger opens it, changing nothing.
    let l = Ledger::create(&path).unwrap();
    assert_eq!(everything(&l), before);
    assert!(l.stats().unwrap().file_bytes > 0);
}

/// Guards against tag numbers reused after reopen (a new tag colliding with an old one) and old names no longer resolving.
#[test]
fn after_reopen_new_tags_get_fresh_numbers_and_old_names_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    {
        let clock = clock();
        let l = Ledger::create(&path).unwrap().with_clock(clock.clone());
        populate(&l, &clock);
    }
    let clock = clock();
    clock.set(t("2026-01-01T00:00:00Z"));
    let l = Ledger::open(&path).unwrap().with_clock(clock.clone());
    l.ingest(
        "s",
        &[
            obs("redis:7", d(10), day(400)),
            obs("nginx:latest", d(30), day(400)),
        ],
    )
    .unwrap();
    let names: Vec<String> = l
        .tags_for_digest(&d(10))
        .unwrap()
        .iter()
        .map(|m| format!("{} {}", m.tag, m.current))
        .collect();
    assert_eq!(
        names,
        [
            "docker.io/library/redis:7 true",
            "docker.io/library/nginx:latest false",
            "docker.io/library/nginx:latest false",
        ]
    );
    assert_eq!(
        l.get_tag(&tag_id("istio/pilot:1.3.0")).unwrap().artifact,
        d(2)
    );
    assert_eq!(l.get_tag(&tag_id("redis:7")).unwrap().artifact, d(10));
    drop(l);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(
        l.tags_for_digest(&d(10)).unwrap()[0].tag.to_string(),
        "docker.io/library/redis:7"
    );
    assert_eq!(counts(&l).tags, 5);
}

// ---------------------------------------------------------------------------
// Opening what is not a ledger. Guards against creating a ledger where the
// caller meant to open one, and against writing into someone else's file.
// ---------------------------------------------------------------------------

/// Guards against `open` creating a new, empty ledger where the caller meant an existing one.
#[test]
fn open_of_a_missing_file_is_not_found_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.redb");
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.redb"), "{err}");
    assert!(!path.exists());
}

/// Guards against opening (and then writing into) a file that is not a redb database at all.
#[test]
fn a_file_of_random_bytes_or_text_is_not_a_ledger_and_is_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"these are my notes, not a database\n".repeat(200);
    let mut files: Vec<Vec<u8>> = [1usize, 100, 4096, 65_537]
        .into_iter()
        .zip(0u64..)
        .map(|(len, i)| noise(len, 0x9e37_79b9_7f4a_7c15 + i))
        .collect();
    // A text file someone pointed --db at by mistake.
    files.push(text);
    for bytes in files {
        let len = bytes.len();
        let path = dir.path().join(format!("other-{len}.bin"));
        std::fs::write(&path, &bytes).unwrap();
        let err = Ledger::open(&path).unwrap_err();
        assert!(
            matches!(err, Error::NotALedger { .. }),
            "open, {len} bytes: {err:?}"
        );
        let err = Ledger::create(&path).unwrap_err();
        assert!(
            matches!(err, Error::NotALedger { .. }),
            "create, {len} bytes: {err:?}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{len} bytes: file unchanged"
        );
        assert_eq!(ErrorModel::from(&err).status, 500);
    }
}

/// Guards against adopting someone else's redb database and adding our tables to it.
#[test]
fn a_redb_file_with_its_own_tables_is_not_a_ledger_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    let users: TableDefinition<u64, &str> = TableDefinition::new("users");
    {
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(users).unwrap().insert(1, "ada").unwrap();
        w.commit().unwrap();
    }
    for result in [Ledger::open(&path), Ledger::create(&path)] {
        assert!(
            matches!(result, Err(Error::NotALedger { .. })),
            "{result:?}"
        );
    }
    let db = Database::open(&path).unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.open_table(users)
            .unwrap()
            .get(1)
            .unwrap()
            .unwrap()
            .value(),
        "ada"
    );
    assert!(r.open_table(META).is_err(), "no ledger table was added");
}

/// Guards against `open` treating an empty redb file as an empty ledger.
#[test]
fn an_empty_redb_database_is_not_a_ledger_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.redb");
    drop(Database::create(&path).unwrap());
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotALedger { .. }), "{err:?}");
}

/// Guards against a type mismatch on a foreign `meta` table surfacing as a panic or storage error instead of `NotALedger`.
#[test]
fn a_redb_file_whose_own_meta_table_has_other_types_is_not_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta-u64.redb");
    let theirs: TableDefinition<u64, u64> = TableDefinition::new("meta");
    {
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(theirs).unwrap().insert(1, 2).unwrap();
        w.commit().unwrap();
    }
    for result in [Ledger::open(&path), Ledger::create(&path)] {
        assert!(
            matches!(result, Err(Error::NotALedger { .. })),
            "{result:?}"
        );
    }
}

/// Guards against writing our format marker into a foreign database that happens to have a `meta` table.
#[test]
fn a_redb_file_whose_own_meta_table_has_other_records_is_not_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta-theirs.redb");
    {
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META)
            .unwrap()
            .insert("owner", b"someone else".as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    assert!(matches!(Ledger::open(&path), Err(Error::NotALedger { .. })));
    let result = Ledger::create(&path);
    assert!(
        matches!(result, Err(Error::NotALedger { .. })),
        "{result:?}"
    );
    assert_eq!(
        meta(&path, "format"),
        None,
        "nothing written into their file"
    );
}

/// Rewrites one record of the `meta` table with plain redb.
fn set_meta(path: &Path, key: &str, value: &[u8]) {
    let db = Database::open(path).unwrap();
    let w = db.begin_write().unwrap();
    w.open_table(META).unwrap().insert(key, value).unwrap();
    w.commit().unwrap();
}

fn meta(path: &Path, key: &str) -> Option<Vec<u8>> {
    let db = Database::open(path).unwrap();
    let r = db.begin_read().unwrap();
    let table = r.open_table(META).unwrap();
    table.get(key).unwrap().map(|v| v.value().to_vec())
}

/// Guards against reading (or silently migrating) a ledger of another schema version.
#[test]
fn a_ledger_of_another_schema_version_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.redb");
    {
        let l = Ledger::create(&path).unwrap();
        l.ingest("s", &[obs("nginx:1", d(1), day(1))]).unwrap();
    }
    assert_eq!(
        meta(&path, "schema_version"),
        Some(SCHEMA_VERSION.to_le_bytes().to_vec())
    );
    set_meta(&path, "schema_version", &99u32.to_le_bytes());
    for result in [Ledger::open(&path), Ledger::create(&path)] {
        match result {
            Err(
                ref e @ Error::Version {
                    found,
                    supported,
                    path: ref p,
                },
            ) => {
                assert_eq!((found, supported), (99, SCHEMA_VERSION));
                assert_eq!(p, &path);
                assert!(e.to_string().contains("schema version 99"), "{e}");
            }
            other => panic!("expected Version, got {other:?}"),
        }
    }
    assert_eq!(
        meta(&path, "schema_version"),
        Some(99u32.to_le_bytes().to_vec()),
        "not migrated"
    );
    // Put back, the data is all there.
    set_meta(&path, "schema_version", &SCHEMA_VERSION.to_le_bytes());
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.get_tag(&tag_id("nginx:1")).unwrap().artifact, d(1));
}

/// Schema 8 only added the change list `index_changes`: a writable open
/// upgrades a file of schema 7 in place (one transaction), and the data is
/// all there; a read-only open, which may write nothing, refuses it with
/// both versions. Guards against an upgrade that loses or alters a row, or
/// a read-only handle that writes.
#[test]
fn a_ledger_of_schema_7_is_upgraded_by_a_writable_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seven.redb");
    {
        let l = Ledger::create(&path).unwrap();
        l.ingest("s", &[obs("nginx:1", d(1), day(1))]).unwrap();
    }
    // What schema 7 wrote: no change list.
    {
        let db = Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        let changes: TableDefinition<u64, &[u8]> = TableDefinition::new("index_changes");
        assert!(w.delete_table(changes).unwrap());
        w.open_table(META)
            .unwrap()
            .insert("schema_version", 7u32.to_le_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    match Ledger::open_read_only(&path) {
        Err(Error::Version {
            found, supported, ..
        }) => assert_eq!((found, supported), (7, SCHEMA_VERSION)),
        other => panic!("expected Version, got {other:?}"),
    }
    assert_eq!(
        meta(&path, "schema_version"),
        Some(7u32.to_le_bytes().to_vec())
    );
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.get_tag(&tag_id("nginx:1")).unwrap().artifact, d(1));
    l.keep_index_in_memory().unwrap();
    l.ingest("s", &[obs("nginx:1", d(2), day(2))]).unwrap();
    let snap = l.snapshot().unwrap();
    assert!(snap.index_copy_lag() > 0, "the new table lists the write");
    assert!(snap.tags_for_digest(&d(2)).unwrap()[0].current);
    drop(snap);
    l.release_index_memory();
    assert!(l.verify().unwrap().is_clean());
    drop(l);
    assert_eq!(
        meta(&path, "schema_version"),
        Some(SCHEMA_VERSION.to_le_bytes().to_vec())
    );
    assert!(Ledger::open_read_only(&path).is_ok());
}

/// Schema 9 only stores a digest's index entries of one instant in tag-name
/// order and flags each group it writes so, so that lookups skip their
/// sort. A writable open upgrades a file of schema 8 by recording the new
/// version: the groups schema 8 wrote (unflagged, ties in tag-number
/// order) are sorted by lookups, from the file and from the copy, until a
/// write rewrites them; a read-only open refuses the file with both
/// versions. Guards against trusting the order of a group schema 8 wrote.
#[test]
fn a_ledger_of_schema_8_is_upgraded_by_a_writable_open() {
    const DIGEST_INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("digest_index");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eight.redb");
    {
        let l = Ledger::create(&path).unwrap();
        // Numbered in the other order than named, observed at one instant.
        l.ingest("s", &[obs("nginx:zeta", d(1), day(1))]).unwrap();
        l.ingest("s", &[obs("nginx:alpha", d(1), day(1))]).unwrap();
        // d(1) is an image index listing d(2): a lookup of d(2) reaches
        // d(1)'s group through the relation.
        l.record_relations("s", &[index_listing(d(1), d(2))])
            .unwrap();
    }
    let key = u64::from_be_bytes(d(1).as_bytes()[..8].try_into().unwrap());
    let row = |path: &Path| -> Vec<u8> {
        let db = Database::open(path).unwrap();
        let r = db.begin_read().unwrap();
        let t = r.open_table(DIGEST_INDEX).unwrap();
        t.get(key).unwrap().unwrap().value().to_vec()
    };
    // One group: algorithm, flags, count, 24 more digest bytes, then
    // (tag, since, until) entries of 20 bytes.
    let tags = |row: &[u8]| -> Vec<u32> {
        row[30..]
            .chunks_exact(20)
            .map(|e| u32::from_le_bytes(e[..4].try_into().unwrap()))
            .collect()
    };
    let stored = row(&path);
    assert_eq!(
        (stored[1], tags(&stored)),
        (4, vec![1, 0]),
        "alpha (1) first"
    );
    // What schema 8 wrote: no flag, ties by tag number.
    {
        let mut eight = stored[..30].to_vec();
        eight[1] = 0;
        eight.extend_from_slice(&stored[50..70]);
        eight.extend_from_slice(&stored[30..50]);
        let db = Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(DIGEST_INDEX)
            .unwrap()
            .insert(key, eight.as_slice())
            .unwrap();
        w.open_table(META)
            .unwrap()
            .insert("schema_version", 8u32.to_le_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(tags(&row(&path)), vec![0, 1]);
    match Ledger::open_read_only(&path) {
        Err(Error::Version {
            found, supported, ..
        }) => assert_eq!((found, supported), (8, SCHEMA_VERSION)),
        other => panic!("expected Version, got {other:?}"),
    }
    let names = |l: &Ledger| -> Vec<String> {
        let snap = l.snapshot().unwrap();
        snap.tags_for_digest(&d(1))
            .unwrap()
            .iter()
            .map(|m| m.tag.tag().to_owned())
            .collect()
    };
    // Through the relation, as an owned answer and through a reused
    // buffer (which skips the name sort only for a group that says it is
    // in name order: this one does not).
    let through_index = |l: &Ledger| -> [Vec<String>; 2] {
        let snap = l.snapshot().unwrap();
        let owned = snap.tags_for_digest(&d(2)).unwrap();
        let mut lookup = snap.lookup();
        let buffered = lookup.tags_for_digest(&d(2)).unwrap();
        [
            owned.iter().map(|m| m.tag.tag().to_owned()).collect(),
            buffered.iter().map(|m| m.tag().tag().to_owned()).collect(),
        ]
    };
    let l = Ledger::open(&path).unwrap();
    assert_eq!(names(&l), ["alpha", "zeta"], "from the file, sorted");
    assert_eq!(through_index(&l), [["alpha", "zeta"], ["alpha", "zeta"]]);
    l.keep_index_in_memory().unwrap();
    assert_eq!(names(&l), ["alpha", "zeta"], "from the copy, sorted");
    assert_eq!(through_index(&l), [["alpha", "zeta"], ["alpha", "zeta"]]);
    assert!(l.verify().unwrap().is_clean());
    // A write rewrites the group in name order, flagged.
    l.ingest("s", &[obs("nginx:mid", d(1), day(1))]).unwrap();
    assert_eq!(names(&l), ["alpha", "mid", "zeta"]);
    l.release_index_memory();
    assert_eq!(names(&l), ["alpha", "mid", "zeta"]);
    assert!(l.verify().unwrap().is_clean());
    drop(l);
    let stored = row(&path);
    assert_eq!((stored[1], tags(&stored)), (4, vec![1, 2, 0]));
    assert_eq!(
        meta(&path, "schema_version"),
        Some(SCHEMA_VERSION.to_le_bytes().to_vec())
    );
    assert!(Ledger::open_read_only(&path).is_ok());
}

/// Guards against a truncated schema-version record being read as some version (or panicking).
#[test]
fn a_malformed_schema_version_record_is_not_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.redb");
    drop(Ledger::create(&path).unwrap());
    set_meta(&path, "schema_version", &[1, 0, 0]);
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotALedger { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------
// A failed write changes nothing. Guards against half-applied writes: rows,
// move-log entries, index entries or references left behind by a write that
// reported failure.
// ---------------------------------------------------------------------------

/// Runs `fail` (which must fail) and checks that no answer changed, in
/// memory and, for a file, after reopening.
fn assert_no_trace(
    path: &Path,
    clock: &Arc<FixedClock>,
    fail: impl FnOnce(&Ledger) -> Error,
) -> Error {
    let l = Ledger::open(path).unwrap().with_clock(clock.clone());
    let before = everything(&l);
    let err = fail(&l);
    assert_eq!(everything(&l), before, "after {err:?}");
    drop(l);
    let l = Ledger::open(path).unwrap();
    assert_eq!(everything(&l), before, "after reopening, {err:?}");
    err
}

fn populated_file() -> (tempfile::TempDir, std::path::PathBuf, Arc<FixedClock>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    let clock = clock();
    let l = Ledger::create(&path).unwrap().with_clock(clock.clone());
    populate(&l, &clock);
    drop(l);
    (dir, path, clock)
}

/// Guards against a failed create leaving the tag it interned behind (in memory or in the file).
#[test]
fn a_failed_tag_create_for_a_missing_repository_changes_nothing() {
    let (_dir, path, clock) = populated_file();
    let err = assert_no_trace(&path, &clock, |l| {
        l.create_tag("x", &TagBody::new(&tag_id("quay.io/none/here:1"), d(50)))
            .unwrap_err()
    });
    assert!(
        matches!(
            err,
            Error::NotFound {
                what: "repository",
                ..
            }
        ),
        "{err:?}"
    );
    let l = Ledger::open(&path).unwrap();
    assert!(l.tags_for_digest(&d(50)).unwrap().is_empty());
}

/// Guards against an update refused for a mismatching body having written part of it.
#[test]
fn failed_updates_with_mismatching_bodies_change_nothing() {
    let (_dir, path, clock) = populated_file();
    let err = assert_no_trace(&path, &clock, |l| {
        let mut body = RepositoryBody::new(&repo_id("nginx"), day(9));
        body.projects = Some(vec!["p".into()]);
        l.update_repository("x", &repo_id("istio/pilot"), &body)
            .unwrap_err()
    });
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let err = assert_no_trace(&path, &clock, |l| {
        let tag = tag_id("nginx:latest");
        l.update_tag("x", &tag, &TagBody::new(&tag_id("nginx:other"), d(51)))
            .unwrap_err()
    });
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
}

/// Guards against conflicts, not-founds and an empty actor leaving rows behind, and against wrong statuses for them.
#[test]
fn failed_conflicts_and_not_founds_change_nothing() {
    let (_dir, path, clock) = populated_file();
    let errors = [
        assert_no_trace(&path, &clock, |l| {
            l.create_repository("x", &RepositoryBody::new(&repo_id("nginx"), day(9)))
                .unwrap_err()
        }),
        assert_no_trace(&path, &clock, |l| {
            l.create_tag("x", &TagBody::new(&tag_id("nginx:latest"), d(52)))
                .unwrap_err()
        }),
        assert_no_trace(&path, &clock, |l| {
            let tag = tag_id("ghcr.io/acme/app:v1"); // deleted
            l.update_tag("x", &tag, &TagBody::new(&tag, d(53)))
                .unwrap_err()
        }),
        assert_no_trace(&path, &clock, |l| {
            l.delete_tag("x", &tag_id("ghcr.io/acme/app:v1"))
                .unwrap_err()
        }),
        assert_no_trace(&path, &clock, |l| {
            l.update_repository(
                "x",
                &repo_id("quay.io/a/b"),
                &RepositoryBody::new(&repo_id("quay.io/a/b"), day(1)),
            )
            .unwrap_err()
        }),
        assert_no_trace(&path, &clock, |l| {
            l.ingest("", &[obs("nginx:latest", d(54), day(500))])
                .unwrap_err()
        }),
    ];
    let kinds: Vec<u16> = errors.iter().map(Error::status).collect();
    assert_eq!(kinds, [409, 409, 404, 404, 404, 400]);
}

/// Guards against a write that fails after writing the move log, index and references committing them anyway.
#[test]
fn a_write_that_fails_after_touching_the_move_log_is_rolled_back() {
    // The clock stands at the instant the tag was last moved, so pointing the
    // tag at a smaller digest at that instant loses the same-instant tie. The
    // update is refused after the move log, digest index and references were
    // already written inside the transaction, so the rollback is real.
    let (_dir, path, clock) = populated_file();
    let tag = tag_id("nginx:1.25");
    let l = Ledger::open(&path).unwrap().with_clock(clock.clone());
    let current = l.get_tag(&tag).unwrap();
    assert_eq!(current.last_modified_on, Clock::now(clock.as_ref()));
    drop(l);
    let smaller = (100..200)
        .map(d)
        .find(|x| x.to_string() < d(12).to_string())
        .unwrap();
    let err = assert_no_trace(&path, &clock, |l| {
        let err = l
            .update_tag("x", &tag, &TagBody::new(&tag, smaller))
            .unwrap_err();
        assert!(l.tags_for_digest(&smaller).unwrap().is_empty());
        assert!(
            l.get_reference(&ReferenceId::new(tag.clone(), smaller))
                .is_err()
        );
        err
    });
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    // And the ledger still takes writes afterwards.
    clock.advance(Duration::seconds(1));
    let l = Ledger::open(&path).unwrap().with_clock(clock.clone());
    l.update_tag("x", &tag, &TagBody::new(&tag, smaller))
        .unwrap();
    assert_eq!(l.tags_for_digest(&smaller).unwrap().len(), 1);
}

// ---------------------------------------------------------------------------
// Batches. Guards against an ingest applying only part of a batch (the
// first tag, the first repository, one per transaction…).
// ---------------------------------------------------------------------------

/// Guards against an ingest applying only part of a batch (the first tag, the first repository, one per transaction).
#[test]
fn a_batch_with_many_tags_applies_all_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.redb");
    let mut batch = Vec::new();
    for r in 0..40u32 {
        for tg in 0..25u32 {
            let tag = format!("registry.example.com/team{r}/app:v{tg}");
            let n = r * 100 + tg;
            batch.push(obs(&tag, d(n), day(1)));
            batch.push(obs(&tag, d(n + 10_000), day(2)));
        }
    }
    {
        let l = Ledger::create(&path).unwrap().with_clock(clock());
        let s = l.ingest("bulk", &batch).unwrap();
        assert_eq!(s.observations, 2000);
        assert_eq!(s.repositories_created, 40);
        assert_eq!(s.tags_created, 1000);
        assert_eq!(s.references_created, 2000);
        assert_eq!(s.recorded, 2000);
    }
    let l = Ledger::open(&path).unwrap();
    let c = counts(&l);
    assert_eq!(
        (
            c.repositories,
            c.tags,
            c.references,
            c.observations,
            c.intervals
        ),
        (40, 1000, 2000, 2000, 2000)
    );
    for r in [0u32, 17, 39] {
        for tg in [0u32, 12, 24] {
            let tag = tag_id(&format!("registry.example.com/team{r}/app:v{tg}"));
            let n = r * 100 + tg;
            assert_eq!(l.get_tag(&tag).unwrap().artifact, d(n + 10_000));
            let old = l.tags_for_digest(&d(n)).unwrap();
            assert_eq!(old.len(), 1);
            assert_eq!((*old[0].tag).clone(), tag);
            assert_eq!(old[0].until, Some(day(2)));
        }
        let repo = repo_id(&format!("registry.example.com/team{r}/app"));
        assert_eq!(l.tags(&repo, None, 1000).unwrap().items.len(), 25);
        assert_eq!(l.get_repository(&repo).unwrap().last_scanned_on, day(2));
    }
}

/// Guards `Ledger::compact`: it must shrink a file that many write
/// transactions left with free pages, change no answer, keep the file a
/// ledger that reopens, and refuse (changing nothing) while a snapshot is
/// open. redb 4.1's compaction left the file so full that closing it doubled
/// it (redb issue 1165); the reopen below catches that kind of growth.
#[test]
fn compaction_shrinks_the_file_and_changes_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compact.redb");
    let tags: Vec<String> = (0..40)
        .map(|i| format!("example.com/app{}:v{i}", i % 7))
        .collect();
    {
        let l = Ledger::create(&path).unwrap();
        // Many small transactions: each copies the pages it changes.
        for round in 0..60u32 {
            let batch: Vec<Observation> = tags
                .iter()
                .enumerate()
                .map(|(i, tag)| {
                    obs(
                        tag,
                        d(round * 100 + u32::try_from(i).unwrap() % 3),
                        day(i64::from(round) + 1),
                    )
                })
                .collect();
            l.ingest("scanner", &batch).unwrap();
        }
    }
    let answers = |l: &Ledger| {
        let snap = l.snapshot().unwrap();
        let lookups: Vec<_> = (0..60u32)
            .flat_map(|r| (0..3).map(move |k| r * 100 + k))
            .map(|n| snap.tags_for_digest(&d(n)).unwrap())
            .collect();
        let history: Vec<_> = tags
            .iter()
            .map(|t| l.references(&tag_id(t), None, 1000).unwrap())
            .collect();
        (counts(l), format!("{lookups:?}"), format!("{history:?}"))
    };
    let l = Ledger::open(&path).unwrap();
    let before = answers(&l);
    let size_before = std::fs::metadata(&path).unwrap().len();

    let snap = l.snapshot().unwrap();
    assert!(
        l.compact().is_err(),
        "compaction must wait for open snapshots"
    );
    drop(snap);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size_before);

    let c = l.compact().unwrap();
    assert_eq!(c.file_bytes_before, size_before);
    assert!(
        c.file_bytes_after < c.file_bytes_before,
        "60 transactions leave free pages to give back: {c:?}"
    );
    assert_eq!(answers(&l), before);
    drop(l);
    let closed = std::fs::metadata(&path).unwrap().len();
    assert!(
        closed < size_before,
        "closing grew the file back: {closed} >= {size_before}"
    );
    let l = Ledger::open(&path).unwrap();
    assert_eq!(answers(&l), before);
}
