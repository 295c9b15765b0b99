//! The in-memory copy of the digest index (`Ledger::keep_index_in_memory`).
//!
//! A copy is of one version of the index. A snapshot of a later version
//! reads the rows changed since (the change list `index_changes` names
//! them) from the file and the others from the copy; when many changed, a
//! background thread builds a newer copy. Guards against:
//!
//! - an answer that depends on whether the copy was used: a snapshot after
//!   a write (a move, a deletion, a new relation with or without a journal
//!   record) reading a changed row from the copy of an older commit, a copy that lost or
//!   garbled a row (two digests sharing a key's 8 bytes, algorithms that
//!   share a prefix), a lookup of an unknown digest that the copy answers
//!   differently from the file;
//! - a background rebuild that never arrives, or arrives and is not used;
//! - a reader process answering from its copy after a writer process
//!   committed (the copy is of an older commit the reader cannot see change);
//! - `release_index_memory` leaving a copy in use, or a rebuild bringing it
//!   back;
//! - a running rebuild's read transaction making `compact` fail, making a
//!   drop hang, or keeping the file from being reopened for writing;
//! - figures (`IndexMemory`) that do not describe the copy.
//!
//! # Sizing: `OCILEDGER_PROPTEST_CASES`
//!
//! As in `tests/ledger_model.rs`: an absolute count `N`, or `full` for
//! 2000; here `ceil(N / 4)` random programs, since every step of a program
//! looks every digest up through five snapshots and two ledgers. Unset (64
//! programs) the whole file takes about 4 s in a debug build on 2 busy
//! cores; at `full` (500) the property test takes about 20 s.
//!
//! The two-process test runs the real `ociledger import` as the writer.

mod helpers;
mod programs;

use std::time::Duration;

use ociledger::Ledger;
use ociledger::id::Digest;
use ociledger::model::{
    ConfigRelation, IndexRelation, ManifestRelation, Observation, PlatformManifest, TagMatch,
};
use proptest::prelude::*;

use helpers::{drop_within_patience, lookups, many, seen, settle, sha, until_renewed};
use programs::{at, cases, platform, program, run, tag};

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Guards against any lookup answer that depends on whether the copy
    /// was used: a stale copy read after a move, a deletion or a relation
    /// (with no journal record), a row lost or garbled in the copy (shared
    /// 8-byte keys, every algorithm), an unknown digest answered from a row
    /// of another, a rebuild that answers differently from the file.
    #[test]
    fn lookups_from_the_copy_equal_lookups_from_the_file(program in program()) {
        run(&program);
    }
}
/// After a write, the next snapshot reads the copy of the commit before for
/// the rows the write left alone and the file for the others, and shows the
/// write; a copy built then answers the same: checked for a move, a move
/// back, an index relation alone (a `manifest_parents` row), config
/// relations alone (`manifest_configs` rows) and a deletion. Relations write
/// no journal record: only the row counts in the mark see them.
///
/// Guards against a snapshot answering from the copy of an older commit for
/// a row a write changed (a change list that misses a kind of write).
#[test]
fn the_rows_a_write_changed_are_read_from_the_file() {
    let ledger = Ledger::in_memory().expect("ledger");
    let (a, b) = (sha("a"), sha("b"));
    let (arm, arm_config) = (sha("b/arm64"), sha("config of b/arm64"));
    let config_of_a = sha("config of a");
    let probes = [a, b, arm, arm_config, config_of_a, sha("unknown")];
    ledger
        .ingest("scanner", &[seen("nginx", "latest", a, 0)])
        .expect("ingest");
    let memory = ledger.keep_index_in_memory().expect("keep");
    assert_eq!(memory.rows, 1);
    let snap = ledger.snapshot().expect("snapshot");
    assert!(snap.reads_index_from_memory());
    assert_eq!(snap.index_copy_lag(), 0);
    drop(snap);

    // What the first snapshot after a write must answer, with the changed
    // rows from the file, and then a copy built at once too.
    let after = |what: &str, check: &dyn Fn(&[Vec<TagMatch>])| {
        let snap = ledger.snapshot().expect("snapshot");
        assert!(
            snap.reads_index_from_memory() && snap.index_copy_lag() > 0,
            "{what}: the copy of the commit before, with the changed rows from the file (lag {})",
            snap.index_copy_lag()
        );
        let got = lookups(&snap, &probes);
        check(&got);
        drop(snap);
        ledger.keep_index_in_memory().expect("keep again");
        let fresh = ledger.snapshot().expect("snapshot");
        assert_eq!(fresh.index_copy_lag(), 0, "{what}: a copy of this commit");
        assert_eq!(lookups(&fresh, &probes), got, "{what}: the new copy");
    };

    ledger
        .ingest("scanner", &[seen("nginx", "latest", b, 10)])
        .expect("move to b");
    after("a move", &|got| {
        assert_eq!(got[0].len(), 1);
        assert_eq!(got[0][0].until, Some(at(10)), "a ended: {:?}", got[0]);
        assert_eq!(got[1].len(), 1);
        assert!(got[1][0].current, "b is current: {:?}", got[1]);
    });

    ledger
        .ingest("scanner", &[seen("nginx", "latest", a, 20)])
        .expect("move back to a");
    after("a move back", &|got| {
        assert_eq!(got[0].len(), 2, "a twice: {:?}", got[0]);
        assert!(got[0].iter().any(|m| m.current && m.since == at(20)));
        assert_eq!(got[1][0].until, Some(at(20)), "b ended: {:?}", got[1]);
    });

    // A platform manifest of b: a row in `manifest_parents` only.
    let index = ManifestRelation::Index(IndexRelation {
        index: b,
        manifests: vec![PlatformManifest {
            digest: arm,
            platform: platform(1),
            config: None,
        }],
        repository: None,
        first_seen: None,
    });
    assert_eq!(ledger.record_relations("s", &[index]).expect("relate"), 1);
    after("an index relation", &|got| {
        assert_eq!(got[2].len(), 1, "arm64 found through b: {:?}", got[2]);
        assert_eq!(got[2][0].via.as_ref().map(|v| v.digest), Some(b));
    });

    // Configs of that manifest and of a: rows in `manifest_configs` only.
    let config = |manifest, config| {
        ManifestRelation::Config(ConfigRelation {
            manifest,
            config,
            repository: None,
            platform: None,
            source: None,
            first_seen: None,
        })
    };
    let configs = [config(arm, arm_config), config(a, config_of_a)];
    assert_eq!(ledger.record_relations("s", &configs).expect("relate"), 2);
    after("config relations", &|got| {
        assert_eq!(got[3].len(), 1, "found through b: {:?}", got[3]);
        assert_eq!(got[3][0].via.as_ref().map(|v| v.digest), Some(b));
        assert_eq!(got[4].len(), 2, "both intervals of a: {:?}", got[4]);
        assert!(
            got[4]
                .iter()
                .all(|m| m.via.as_ref().map(|v| v.digest) == Some(a))
        );
    });

    // Deleting the tag ends a's interval (now, by the system clock).
    ledger
        .delete_tag("alice", &tag(0))
        .expect("delete nginx:latest");
    after("a deletion", &|got| {
        assert_eq!(got[0].len(), 2, "a twice: {:?}", got[0]);
        assert!(got[0].iter().all(|m| !m.current), "deleted: {:?}", got[0]);
    });
}

/// A reader process with a copy, a writer process importing: after the
/// import, this process's snapshots must show what it wrote, from the file
/// or from a refreshed copy, never the copy's older answer.
///
/// Guards against a reader trusting its copy while another process commits
/// (the copy cannot know, only the mark of the snapshot's transaction does).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    windows
))]
#[test]
fn a_reader_sees_another_process_import_despite_its_copy() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("tags.redb");
    let digest_of = |c: char| -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .expect("digest")
    };
    let line = |tag: &str, c: char, second: i64| {
        serde_json::json!({
            "repository": "docker.io/library/nginx",
            "tag": tag,
            "digest": digest_of(c).to_string(),
            "observed_at": at(second),
        })
        .to_string()
            + "\n"
    };
    let import = |lines: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
            .env_remove("OCILEDGER_DB")
            .env_remove("OCILEDGER_ACTOR")
            .arg("--db")
            .arg(&db)
            .args(["import", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ociledger import");
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(lines.as_bytes()).expect("feed the import");
        drop(pipe);
        let out = child.wait_with_output().expect("wait for the import");
        assert!(
            out.status.success(),
            "import: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let writer = Ledger::create(&db).expect("create");
    writer
        .ingest("scanner", &[seen("nginx", "latest", digest_of('a'), 0)])
        .expect("ingest");
    drop(writer);

    let reader = Ledger::open_read_only(&db).expect("open read-only");
    reader.keep_index_in_memory().expect("keep");
    let probes = [digest_of('a'), digest_of('b'), digest_of('c')];
    let snap = reader.snapshot().expect("snapshot");
    assert!(snap.reads_index_from_memory());
    let before = lookups(&snap, &probes);
    assert!(before[0][0].current && before[1].is_empty() && before[2].is_empty());
    drop(snap);

    // Round 1: latest moves to b, and 1.25 appears on c.
    import(&(line("latest", 'b', 10) + &line("1.25", 'c', 10)));
    let check = |got: &[Vec<TagMatch>], round: &str| {
        assert_eq!(got[0].len(), 1, "{round}: a: {:?}", got[0]);
        assert_eq!(
            got[0][0].until,
            Some(at(10)),
            "{round}: a ended: {:?}",
            got[0]
        );
        assert!(got[1].iter().any(|m| m.current), "{round}: b: {:?}", got[1]);
        assert!(got[2].iter().any(|m| m.current), "{round}: c: {:?}", got[2]);
    };
    let snap = reader.snapshot().expect("snapshot");
    let file = lookups(&snap, &probes);
    check(&file, "after the import");
    // The import's process listed the rows it changed: this snapshot read
    // those from the file, the others from the copy of the commit before.
    assert!(
        snap.reads_index_from_memory() && snap.index_copy_lag() > 0,
        "the copy of the commit before the import, with the changed rows from the file (lag {})",
        snap.index_copy_lag()
    );
    drop(snap);
    reader.release_index_memory();
    let plain = lookups(&reader.snapshot().expect("snapshot"), &probes);
    assert_eq!(file, plain, "the same ledger without its copy");
    reader.keep_index_in_memory().expect("keep again");

    // Round 2, with the refreshed copy in place: latest moves back to a.
    import(&line("latest", 'a', 20));
    let snap = reader.snapshot().expect("snapshot");
    let got = lookups(&snap, &probes);
    assert!(
        got[0].iter().any(|m| m.current && m.since == at(20)),
        "a is current again (reading from memory: {}): {:?}",
        snap.reads_index_from_memory(),
        got[0]
    );
    assert_eq!(got[1].len(), 1);
    assert_eq!(got[1][0].until, Some(at(20)), "b ended: {:?}", got[1]);
    drop(snap);
    reader.release_index_memory();
    let file = lookups(&reader.snapshot().expect("snapshot"), &probes);
    assert_eq!(got, file, "the same ledger without its copy");
}

/// Guards against `release_index_memory` leaving snapshots on the copy,
/// a running rebuild bringing a copy back after the release, and a ledger
/// that cannot keep a copy again.
#[test]
fn release_drops_the_copy_and_keep_works_again() {
    let ledger = Ledger::in_memory().expect("ledger");
    let (a, b) = (sha("a"), sha("b"));
    // Enough rows that the rebuild below is still running at the release.
    ledger.ingest("scanner", &many(30_000)).expect("ingest");
    ledger
        .ingest("scanner", &[seen("nginx", "latest", a, 0)])
        .expect("ingest");
    ledger.keep_index_in_memory().expect("keep");
    assert!(ledger.index_memory().is_some());
    let held = ledger.snapshot().expect("snapshot");
    assert!(held.reads_index_from_memory());

    ledger.release_index_memory();
    assert_eq!(ledger.index_memory(), None);
    let snap = ledger.snapshot().expect("snapshot");
    assert!(!snap.reads_index_from_memory(), "released");
    assert_eq!(
        lookups(&snap, &[a]),
        lookups(&held, &[a]),
        "a snapshot that holds the copy keeps answering from it, the same"
    );
    drop((snap, held));

    // Released while a rebuild runs (a write, then a snapshot that starts
    // one): the rebuild must not bring a copy back.
    ledger.keep_index_in_memory().expect("keep again");
    ledger
        .ingest("scanner", &[seen("nginx", "latest", b, 10)])
        .expect("ingest");
    drop(ledger.snapshot().expect("snapshot starting a rebuild"));
    ledger.release_index_memory();
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..3 {
        assert_eq!(ledger.index_memory(), None, "a rebuild came back");
        assert!(
            !ledger
                .snapshot()
                .expect("snapshot")
                .reads_index_from_memory()
        );
    }

    let again = ledger.keep_index_in_memory().expect("keep again");
    assert_eq!(again.rows, 30_002);
    assert_eq!(ledger.index_memory().map(|m| m.rows), Some(30_002));
    let snap = ledger.snapshot().expect("snapshot");
    assert!(snap.reads_index_from_memory(), "kept again");
    assert!(snap.tags_for_digest(&b).expect("lookup")[0].current);
}
/// `compact` right after a write (a rebuild may be running, holding a read
/// transaction, which redb refuses to compact beside) must succeed; dropping
/// a ledger while a rebuild runs must not hang, and the file must then open
/// for writing at once.
///
/// Guards against a rebuild's read transaction making `compact` fail, a drop
/// that waits forever (or not at all, leaving the file open and the next
/// writer locked out), and a cancelled rebuild leaving the copy unusable.
#[test]
fn compact_and_drop_stop_a_running_rebuild() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tags.redb");
    // Enough digests that a rebuild takes a while (about 20 ms here),
    // so the compactions and drops below come while one runs.
    let batch = many(30_000);
    let probes: Vec<Digest> = (0..30_000)
        .step_by(997)
        .map(|i| sha(&format!("d{i}")))
        .chain([sha("moved 0"), sha("moved 1"), sha("moved 2")])
        .collect();
    let ledger = Ledger::create(&path).expect("create");
    ledger.ingest("scanner", &batch).expect("ingest");
    let copy = ledger.keep_index_in_memory().expect("keep");
    eprintln!("a copy of {} rows takes {:?}", copy.rows, copy.built_in);

    for round in 0..3 {
        ledger
            .ingest(
                "scanner",
                &[seen(
                    "nginx",
                    "t0",
                    sha(&format!("moved {round}")),
                    100 + round,
                )],
            )
            .expect("ingest");
        // Starts a rebuild, and is dropped: compaction refuses open snapshots.
        let want = lookups(&ledger.snapshot().expect("snapshot"), &probes);
        ledger
            .compact()
            .unwrap_or_else(|e| panic!("round {round}: compact beside a rebuild: {e}"));
        let what = format!("round {round}: after compact");
        settle(&ledger, |snap| lookups(snap, &probes), &want, &what);
    }
    drop_within_patience(ledger, "after compaction");

    for round in 0..5 {
        let ledger = Ledger::open(&path).expect("reopen for writing at once");
        ledger.keep_index_in_memory().expect("keep");
        ledger
            .ingest(
                "scanner",
                &[seen(
                    "nginx",
                    "t1",
                    sha(&format!("again {round}")),
                    200 + round,
                )],
            )
            .expect("ingest");
        drop(ledger.snapshot().expect("snapshot starting a rebuild"));
        drop_within_patience(ledger, &format!("round {round}"));
    }
    let ledger = Ledger::open(&path).expect("reopen for writing at once");
    assert!(
        ledger
            .tags_for_digest(&sha("again 4"))
            .expect("lookup")
            .first()
            .is_some_and(|m| m.current)
    );
}

/// Guards against figures that do not describe the copy: a row count that
/// is not one per digest, heap smaller than the rows' own bytes, a stale
/// count after a rebuild, an error reported with none.
#[test]
fn the_figures_describe_the_copy() {
    let ledger = Ledger::in_memory().expect("ledger");
    assert_eq!(ledger.index_memory(), None, "no copy until asked");
    let empty = ledger.keep_index_in_memory().expect("keep");
    assert_eq!(empty.rows, 0);
    assert_eq!(empty.last_error, None);

    // Tagged digests, and an index (tagged) whose platform manifests and
    // their configs are known through it only: one row each.
    let tagged: Vec<Digest> = (0..40).map(|i| sha(&format!("tagged {i}"))).collect();
    let mut batch: Vec<Observation> = tagged
        .iter()
        .enumerate()
        .map(|(i, d)| {
            seen(
                "nginx",
                &format!("t{}", i % 7),
                *d,
                i64::try_from(i).expect("small"),
            )
        })
        .collect();
    let index = sha("index");
    let mut known = tagged.clone();
    known.push(index);
    let mut with_manifests = seen("nginx", "multi", index, 0);
    for (i, arch) in ["amd64", "arm64"].into_iter().enumerate() {
        let manifest = sha(&format!("index/{arch}"));
        let config = sha(&format!("config of index/{arch}"));
        with_manifests.manifests.push(PlatformManifest {
            digest: manifest,
            platform: platform(i),
            config: Some(config),
        });
        known.extend([manifest, config]);
    }
    batch.push(with_manifests);
    // Every digest its own row: distinct first 8 bytes.
    let keys: std::collections::BTreeSet<&[u8]> =
        known.iter().map(|d| &d.as_bytes()[..8]).collect();
    assert_eq!(keys.len(), known.len());
    ledger.ingest("scanner", &batch).expect("ingest");

    let copy = ledger.keep_index_in_memory().expect("keep");
    let rows = u64::try_from(known.len()).expect("small");
    assert_eq!(copy.rows, rows, "one row per digest");
    assert!(
        copy.heap_bytes >= rows * 20,
        "{} bytes for {rows} rows of at least one 20-byte interval",
        copy.heap_bytes
    );
    assert_eq!(copy.last_error, None);
    // Two platform manifests of a tagged index, two configs of manifests
    // that have a row: a link each.
    assert_eq!(copy.relation_links, 4);
    assert_eq!(
        ledger.index_memory().map(|m| (m.rows, m.heap_bytes)),
        Some((copy.rows, copy.heap_bytes))
    );

    // A write of a few rows leaves the copy in place: snapshots read those
    // rows from the file.
    ledger
        .ingest("scanner", &[seen("nginx", "latest", sha("one more"), 50)])
        .expect("ingest");
    let snap = ledger.snapshot().expect("snapshot");
    assert_eq!(snap.index_copy_lag(), 1, "the new digest's row");
    drop(snap);
    assert_eq!(ledger.index_memory().map(|m| m.rows), Some(rows));
    // A write of over 1,024 rows starts a rebuild in the background, which
    // updates the figures.
    ledger.ingest("scanner", &many(1100)).expect("ingest");
    until_renewed(&ledger, "the rebuilt copy");
    let rebuilt = ledger.index_memory().expect("a copy");
    let rows = rows + 1 + 1100;
    assert_eq!(rebuilt.rows, rows);
    assert!(rebuilt.heap_bytes >= rows * 20);
    assert_eq!(rebuilt.last_error, None);

    // An index no tag points to adds nothing to a lookup of its platform
    // manifest: the manifest gets its flagged row, the relation no link.
    let untagged = IndexRelation {
        index: sha("untagged index"),
        manifests: vec![PlatformManifest {
            digest: sha("untagged index/amd64"),
            platform: platform(0),
            config: None,
        }],
        repository: None,
        first_seen: None,
    };
    ledger
        .record_relations("scanner", &[ManifestRelation::Index(untagged)])
        .expect("relate");
    let copy = ledger.keep_index_in_memory().expect("keep");
    assert_eq!((copy.rows, copy.relation_links), (rows + 1, 4));
}

/// The copy links relation rows a batch at a time (so the probes' cache
/// misses overlap). Guards against a record cut or lost at a batch's edge:
/// a platform manifest listed by 600 indexes and two configs of 600
/// manifests each make records that span several batches, every fifth
/// index is untagged (its links are left out mid-record), and every answer
/// from the copy must be the file's.
#[test]
fn links_spanning_many_probe_batches_are_all_kept() {
    const INDEXES: usize = 600;
    let ledger = Ledger::in_memory().expect("ledger");
    let shared = sha("listed by every index");
    let mut probes = vec![shared, sha("never seen")];
    let mut batch = Vec::new();
    let mut relations = Vec::new();
    for i in 0..INDEXES {
        let index = sha(&format!("index {i}"));
        let mut manifests = vec![PlatformManifest {
            digest: shared,
            platform: platform(i),
            config: None,
        }];
        for arch in 0..2 {
            let manifest = sha(&format!("index {i}/{arch}"));
            let config = sha(&format!("config {arch}"));
            manifests.push(PlatformManifest {
                digest: manifest,
                platform: platform(arch),
                config: Some(config),
            });
            probes.push(manifest);
        }
        probes.push(index);
        if i % 5 == 4 {
            relations.push(ManifestRelation::Index(IndexRelation {
                index,
                manifests,
                repository: None,
                first_seen: None,
            }));
        } else {
            let mut tagged = seen("acme/app", &format!("v{i}"), index, 0);
            tagged.manifests = manifests;
            batch.push(tagged);
        }
    }
    probes.extend([sha("config 0"), sha("config 1")]);
    ledger.ingest("scanner", &batch).expect("ingest");
    ledger
        .record_relations("scanner", &relations)
        .expect("relate");

    let from_file = ledger.snapshot().expect("snapshot");
    let copy = ledger.keep_index_in_memory().expect("keep");
    // The shared manifest: a link per tagged index; each own manifest: a
    // link to its tagged index; each config: a link to every manifest.
    let tagged = INDEXES - INDEXES / 5;
    assert_eq!(
        copy.relation_links,
        (tagged + 2 * tagged + 2 * INDEXES) as u64
    );
    let from_copy = ledger.snapshot().expect("snapshot");
    assert!(from_copy.reads_index_from_memory());
    let want = lookups(&from_file, &probes);
    assert_eq!(
        want[0].len(),
        tagged,
        "the shared manifest, through every tagged index"
    );
    for ((d, got), want) in probes.iter().zip(lookups(&from_copy, &probes)).zip(&want) {
        assert!(
            got == *want,
            "{d}: {} matches from the copy, {} from the file",
            got.len(),
            want.len()
        );
    }
}
