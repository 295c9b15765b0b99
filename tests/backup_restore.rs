//! `Ledger::backup` / `Ledger::restore` and `ociledger backup` / `restore`
//! (issue 13), through the public API and the binary only.
//!
//! Data: the bundled sample (`data/sample-events.jsonl.gz`, 5,143
//! observations; `data/sample-manifests.jsonl.gz`, 2,476 relation lines).
//! Run time, debug build on 2 shared cores (load 4-5): 3.5-7 s for the file
//! (round trip 2.7 s, backups beside an import 3.6 s, each other test under
//! 0.3 s); every wait on a child process is bounded (120 s, then killed).

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ociledger::id::{Digest, TagId};
use ociledger::model::{ImageIntegration, Observation, TemplateBody};
use ociledger::secrets::SecretKey;
use ociledger::{Counts, Error, Ledger, MAX_PAGE, Snapshot};
use serde_json::{Value, json};

use crate::common;
use common::sample::{
    parse_all, relation_digests, sample_lines, sample_observations, sample_relations,
};

/// How long a child process may take before the test kills it and fails.
const PATIENCE: Duration = Duration::from_secs(120);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ociledger")
}

fn key() -> SecretKey {
    SecretKey::from_bytes([42; 32])
}

/// A ledger at `path` with something in every table family: the sample's
/// observations and manifest relations, templates that make Docker Hub's
/// `library` immutable (so the sample's moves are violations too), and two
/// integrations with encrypted credentials.
fn full_ledger(path: &Path) -> Ledger {
    let l = Ledger::create(path)
        .expect("create the source")
        .with_secret_key(key());
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
    for batch in observations.chunks(1000) {
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
    l
}

fn all_pages<T: serde::Serialize>(
    mut page: impl FnMut(Option<&str>) -> ociledger::Result<ociledger::Page<T>>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = page(cursor.as_deref()).expect("page");
        out.extend(
            p.items
                .iter()
                .map(|i| serde_json::to_value(i).expect("json")),
        );
        match p.next {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

/// Everything the ledger answers about `tags` and `digests`, and every
/// listing, as JSON: two ledgers with the same dump answer alike.
fn dump(snap: &Snapshot, tags: &BTreeSet<TagId>, digests: &BTreeSet<Digest>) -> Vec<Value> {
    let mut out = vec![serde_json::to_value(snap.counts().expect("counts")).expect("json")];
    let repositories = all_pages(|c| snap.repositories(c, MAX_PAGE));
    for r in &repositories {
        let id = format!(
            "{}/{}",
            r["registry"].as_str().expect("registry"),
            r["namespace"].as_str().expect("namespace")
        );
        let id = id.parse().expect("repository id");
        out.extend(all_pages(|c| snap.tags(&id, c, MAX_PAGE)));
    }
    out.extend(repositories);
    for t in tags {
        out.extend(all_pages(|c| snap.history(t, c, MAX_PAGE)));
        out.extend(all_pages(|c| snap.references(t, c, MAX_PAGE)));
        let image = t.to_string();
        out.push(
            serde_json::to_value(snap.classify(&image, None).expect("classify")).expect("json"),
        );
    }
    for d in digests {
        out.push(serde_json::to_value(snap.tags_for_digest(d).expect("lookup")).expect("json"));
    }
    out.push(
        serde_json::to_value(snap.templates("docker.io", None, 10).expect("templates"))
            .expect("json"),
    );
    out.extend(all_pages(|c| snap.integrations(c, MAX_PAGE)));
    out.extend(all_pages(|c| snap.violations(None, c, MAX_PAGE)));
    out
}

/// Every file of `dir` whose name starts with a dot: the temporary files
/// of a backup or restore that did not finish.
fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ociledger")
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The problem+json body a failed command printed.
fn problem(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    serde_json::from_slice(&out.stderr).expect("problem+json on stderr")
}

fn wait_bounded(child: &mut Child, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            assert!(status.success(), "{what}: {status}");
            return;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{what} did not finish in time; killed");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// Guards against a backup or a restore that loses or changes anything (a
// table left out, rows out of order, a value re-encoded): the restored file
// answers every query as the source did (counts, every repository and tag
// listing, the history and references of every tag, a classification per
// tag, the lookup of every digest, templates, integrations, violations), its
// credentials open with the same key, it takes writes, and the checksum
// file is `b3sum`'s format. About 3 s.
#[test]
fn a_restored_backup_answers_every_query_as_the_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source_path = dir.path().join("source.redb");
    let source = full_ledger(&source_path);
    let observations = sample_observations();
    let tags: BTreeSet<TagId> = observations.iter().map(|o| o.tag.clone()).collect();
    let mut digests: BTreeSet<Digest> = observations.iter().map(|o| o.digest).collect();
    digests.extend(relation_digests());

    let backup_path = dir.path().join("backup.redb");
    let backup = source.backup(&backup_path).expect("backup");
    let bytes = fs::read(&backup_path).expect("backup bytes");
    assert_eq!(backup.bytes, bytes.len() as u64);
    assert_eq!(backup.checksum, blake3::hash(&bytes).to_hex().to_string());
    assert_eq!(
        fs::read_to_string(&backup.checksum_file).expect("checksum file"),
        format!("{}  backup.redb\n", backup.checksum),
        "b3sum's format: hash, two spaces, the file name"
    );
    assert!(backup.tables >= 17 && backup.rows > 20_000, "{backup:?}");

    let target = dir.path().join("restored.redb");
    let restored = Ledger::restore(&backup_path, &target, false).expect("restore");
    assert!(!restored.replaced);
    assert_eq!(restored.checksum, backup.checksum);
    assert_eq!(fs::read(&target).expect("target"), bytes, "a byte copy");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );

    let copy = Ledger::open(&target)
        .expect("open the restored file for writing")
        .with_secret_key(key());
    let expected = dump(&source.snapshot().expect("snapshot"), &tags, &digests);
    assert!(expected.len() > 15_000, "{} answers", expected.len());
    let got = dump(&copy.snapshot().expect("snapshot"), &tags, &digests);
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "answer {i}");
    }
    assert_eq!(restored.counts, source.stats().expect("stats").counts);
    for name in ["hub", "quay"] {
        let a = source
            .integration_credentials(name)
            .expect("source credentials");
        let b = copy
            .integration_credentials(name)
            .expect("restored credentials");
        assert_eq!(
            a.secret("docker.password").map(|s| s.expose().to_owned()),
            b.secret("docker.password").map(|s| s.expose().to_owned())
        );
    }
    let more = Observation::new(
        "docker.io/library/newcomer:1".parse().expect("tag"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            .parse()
            .expect("digest"),
        "2024-01-01T00:00:00Z".parse().expect("time"),
    );
    copy.ingest("test", &[more])
        .expect("the restored ledger takes writes");
}

/// A snapshot's counts and the lookups of a few digests, for comparing a
/// backup with the committed prefixes of an import.
fn state(snap: &Snapshot, probes: &[Digest]) -> (Counts, Vec<Value>) {
    let lookups = probes
        .iter()
        .map(|d| serde_json::to_value(snap.tags_for_digest(d).expect("lookup")).expect("json"))
        .collect();
    (snap.counts().expect("counts"), lookups)
}

/// Runs `ociledger import` of `lines` into `db`, fed in batches of `batch`
/// lines 10 ms apart, and backs `db` up into `dir` (`b0.redb`, `b1.redb`,
/// ...) until the import has read everything: alternately from a read-only
/// handle of this process and with `ociledger backup`. Returns the backups.
fn back_up_while_importing(
    dir: &Path,
    db: &Path,
    lines: Vec<String>,
    batch: usize,
) -> Vec<PathBuf> {
    let mut import = Command::new(bin())
        .args([
            "--db",
            db.to_str().expect("path"),
            "import",
            "-",
            "--batch",
            &batch.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ociledger import");
    let mut stdin = import.stdin.take().expect("stdin");
    let feeder = thread::spawn(move || {
        for batch in lines.chunks(batch) {
            for l in batch {
                writeln!(stdin, "{l}").expect("feed the import");
            }
            stdin.flush().expect("flush");
            thread::sleep(Duration::from_millis(10));
        }
    });

    let deadline = Instant::now() + PATIENCE;
    let mut backups = Vec::new();
    while !feeder.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the import did not finish in time"
        );
        if !db.exists() {
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        let path = dir.join(format!("b{}.redb", backups.len()));
        if backups.len() % 2 == 0 {
            let reader = Ledger::open_read_only(db).expect("open beside the writer");
            reader.backup(&path).expect("backup beside the writer");
        } else {
            stdout_json(&run(&[
                "--db",
                db.to_str().expect("path"),
                "backup",
                path.to_str().expect("path"),
            ]));
        }
        backups.push(path);
        thread::sleep(Duration::from_millis(100));
    }
    feeder.join().expect("feeder");
    wait_bounded(&mut import, "ociledger import");

    backups
}

// Guards against a backup that is not one consistent commit while a writer
// goes on (a copy of a file's bytes under a committing writer, or tables
// read in different transactions): a real `ociledger import` process writes
// the sample in batches of 25, paced so it lasts at least 2 s, while this
// test backs the file up again and again, from a read-only handle and with
// `ociledger backup`; every backup must restore (checksum and format), and
// answer exactly as some committed prefix of the import's batches does
// (counts and 24 lookups), the prefixes never going backwards, at least two
// of them strictly between empty and complete. 3-4 s.
#[test]
fn backups_taken_while_an_import_writes_are_whole_commits() {
    const BATCH: usize = 25;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("live.redb");
    let lines = sample_lines();
    let observations: Vec<Observation> = parse_all(&lines);
    let probes: Vec<Digest> = observations
        .iter()
        .step_by(observations.len() / 24)
        .map(|o| o.digest)
        .collect();
    // The state after each whole batch: `prefixes[k]` after the first k.
    let scratch = Ledger::in_memory().expect("scratch ledger");
    let mut prefixes = vec![state(&scratch.snapshot().expect("snapshot"), &probes)];
    for batch in observations.chunks(BATCH) {
        scratch.ingest("test", batch).expect("scratch ingest");
        prefixes.push(state(&scratch.snapshot().expect("snapshot"), &probes));
    }

    let backups = back_up_while_importing(dir.path(), &db, lines, BATCH);

    let mut at = 0;
    let mut seen = BTreeSet::new();
    for (i, path) in backups.iter().enumerate() {
        let target = dir.path().join(format!("r{i}.redb"));
        Ledger::restore(path, &target, false).unwrap_or_else(|e| panic!("backup {i}: {e}"));
        let restored = Ledger::open_read_only(&target).expect("open the restored backup");
        let s = state(&restored.snapshot().expect("snapshot"), &probes);
        let k = (at..prefixes.len())
            .find(|&k| prefixes[k] == s)
            .unwrap_or_else(|| {
                panic!(
                    "backup {i} is no committed prefix at or after {at}: {:?}",
                    s.0
                )
            });
        at = k;
        seen.insert(k);
    }
    println!(
        "{} backups during the import saw prefixes {seen:?} of 0..={}",
        backups.len(),
        prefixes.len() - 1
    );
    let between = seen
        .iter()
        .filter(|&&k| k > 0 && k < prefixes.len() - 1)
        .count();
    assert!(
        between >= 2,
        "{} backups saw prefixes {seen:?} of {}: too few taken during the import",
        backups.len(),
        prefixes.len() - 1
    );
    let last = Ledger::open_read_only(&db).expect("open");
    assert_eq!(
        state(&last.snapshot().expect("snapshot"), &probes),
        prefixes[prefixes.len() - 1]
    );
}

/// A small ledger at `path`, its backup at `backup`.
fn small_ledger_and_backup(path: &Path, backup: &Path) -> Ledger {
    let l = Ledger::create(path).expect("create");
    let lines = sample_lines();
    l.ingest("test", &parse_all::<Observation>(&lines[..200]))
        .expect("ingest");
    l.backup(backup).expect("backup");
    l
}

// Guards against restoring a damaged or altered backup (a copy that was
// never checked, or checked after the target was replaced): one flipped
// byte in the middle of the backup is refused with `Error::Checksum` naming
// both files and both hashes, and the existing target (even with `force`)
// keeps its bytes, no target appears where there was none, and no
// temporary file is left; a backup without its checksum file, or with a
// wrong one, is refused too. Under 1 s.
#[test]
fn a_tampered_backup_is_refused_and_the_target_is_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source.redb");
    let backup = dir.path().join("backup.redb");
    drop(small_ledger_and_backup(&source, &backup));
    let checksum_file = dir.path().join("backup.redb.blake3");
    let good = fs::read_to_string(&checksum_file).expect("checksum file");
    let good_hash = good.split_whitespace().next().expect("hash").to_owned();

    let target = dir.path().join("target.redb");
    drop(Ledger::create(&target).expect("an existing target"));
    let target_before = fs::read(&target).expect("target");

    let mut bytes = fs::read(&backup).expect("backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&backup, &bytes).expect("tamper");
    let bad_hash = blake3::hash(&bytes).to_hex().to_string();

    for force in [true, false] {
        let err = Ledger::restore(&backup, &target, force).expect_err("a tampered backup");
        let Error::Checksum {
            backup: b,
            checksum_file: c,
            ..
        } = &err
        else {
            panic!("expected Error::Checksum, got {err:?}");
        };
        assert_eq!((b, c), (&backup, &checksum_file));
        let message = err.to_string();
        for part in [
            &good_hash,
            &bad_hash,
            &backup.display().to_string(),
            &checksum_file.display().to_string(),
        ] {
            assert!(message.contains(part.as_str()), "{message} names {part}");
        }
        assert_eq!(
            fs::read(&target).expect("target"),
            target_before,
            "target untouched"
        );
    }
    let nowhere = dir.path().join("new.redb");
    assert!(matches!(
        Ledger::restore(&backup, &nowhere, false),
        Err(Error::Checksum { .. })
    ));
    assert!(!nowhere.exists(), "no target where there was none");

    // The command line says the same, as problem+json.
    let out = run(&[
        "--db",
        target.to_str().expect("path"),
        "restore",
        backup.to_str().expect("path"),
        "--force",
    ]);
    let p = problem(&out);
    assert!(
        p["detail"].as_str().expect("detail").contains(&bad_hash),
        "{p}"
    );
    assert_eq!(fs::read(&target).expect("target"), target_before);

    // A checksum file that does not match, or none at all.
    fs::write(&backup, {
        bytes[middle] ^= 0x01;
        &bytes
    })
    .expect("untamper");
    fs::write(&checksum_file, format!("{bad_hash}  backup.redb\n")).expect("wrong checksum");
    assert!(matches!(
        Ledger::restore(&backup, &target, true),
        Err(Error::Checksum { .. })
    ));
    fs::remove_file(&checksum_file).expect("remove checksum file");
    let err = Ledger::restore(&backup, &target, true).expect_err("no checksum file");
    assert!(matches!(err, Error::Checksum { .. }), "{err:?}");
    assert_eq!(fs::read(&target).expect("target"), target_before);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );

    // Restored, the good checksum file back, it goes through.
    fs::write(&checksum_file, good).expect("checksum file");
    Ledger::restore(&backup, &target, true).expect("an intact backup restores");
    assert_eq!(fs::read(&target).expect("target"), bytes);
}

// Guards against overwriting files: restore onto an existing target without
// `force` is refused with `Error::Conflict` (409 from the command line) and
// the target keeps its bytes; with `force` (`--force`) it is replaced; a
// backup onto an existing file is refused and the file is kept. Under 1 s.
#[test]
fn an_existing_target_is_refused_without_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source.redb");
    let backup = dir.path().join("backup.redb");
    let ledger = small_ledger_and_backup(&source, &backup);
    let target = dir.path().join("target.redb");
    drop(Ledger::create(&target).expect("an existing target"));
    let before = fs::read(&target).expect("target");

    let err = Ledger::restore(&backup, &target, false).expect_err("an existing target");
    assert!(
        matches!(&err, Error::Conflict { id, .. } if *id == target.display().to_string()),
        "{err:?}"
    );
    assert_eq!(fs::read(&target).expect("target"), before);
    let (db, b) = (
        target.to_str().expect("path"),
        backup.to_str().expect("path"),
    );
    assert_eq!(problem(&run(&["--db", db, "restore", b]))["status"], 409);
    assert_eq!(fs::read(&target).expect("target"), before);

    let out = stdout_json(&run(&["--db", db, "restore", b, "--force"]));
    assert_eq!(out["replaced"], true);
    assert_eq!(
        fs::read(&target).expect("target"),
        fs::read(&backup).expect("backup")
    );
    assert_eq!(
        Ledger::open_read_only(&target)
            .expect("open")
            .stats()
            .expect("stats")
            .counts,
        ledger.stats().expect("stats").counts
    );

    let err = ledger
        .backup(&target)
        .expect_err("an existing backup destination");
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let out = run(&["--db", source.to_str().expect("path"), "backup", b]);
    assert_eq!(problem(&out)["status"], 409);
    assert_eq!(
        fs::read(&target).expect("target"),
        fs::read(&backup).expect("backup")
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

// Guards against replacing the file under a running writer (its next
// commits would go to the unlinked old file and be lost): restore onto a
// file that this process, or a real `ociledger import` process, holds for
// writing is refused with `Error::InUse` naming the writer's pid, even with
// `force`, and the file keeps its bytes; once the writer is gone, its stale
// pid file does not block the restore. Under 1 s.
#[test]
fn restore_onto_a_running_writer_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let backup = dir.path().join("backup.redb");
    drop(small_ledger_and_backup(
        &dir.path().join("source.redb"),
        &backup,
    ));

    let mine = dir.path().join("mine.redb");
    let writer = Ledger::create(&mine).expect("a writer in this process");
    let err = Ledger::restore(&backup, &mine, true).expect_err("a live writer");
    assert!(
        matches!(err, Error::InUse { pid: Some(p), .. } if p == std::process::id()),
        "{err:?}"
    );
    drop(writer);

    let theirs = dir.path().join("theirs.redb");
    let mut import = Command::new(bin())
        .args(["--db", theirs.to_str().expect("path"), "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ociledger import");
    // The importer reads its input's first bytes (gzip or not?), then holds
    // the file, waiting for the rest of its input.
    let mut stdin = import.stdin.take().expect("stdin");
    writeln!(stdin, "{}", sample_lines()[0]).expect("feed the import");
    stdin.flush().expect("flush");
    let pid_file = dir.path().join("theirs.redb.writer");
    let deadline = Instant::now() + PATIENCE;
    while fs::read_to_string(&pid_file).map_or(true, |p| p.trim() != import.id().to_string()) {
        assert!(Instant::now() < deadline, "the importer did not start");
        thread::sleep(Duration::from_millis(10));
    }
    let before = fs::read(&theirs).expect("the writer's file");
    let err = Ledger::restore(&backup, &theirs, true).expect_err("a live writer");
    assert!(
        matches!(err, Error::InUse { pid: Some(p), .. } if p == import.id()),
        "{err:?}"
    );
    let out = run(&[
        "--db",
        theirs.to_str().expect("path"),
        "restore",
        backup.to_str().expect("path"),
        "--force",
    ]);
    assert_eq!(problem(&out)["status"], 423);
    assert_eq!(fs::read(&theirs).expect("the writer's file"), before);

    let pid = import.id();
    drop(stdin);
    wait_bounded(&mut import, "ociledger import");
    // A pid file left by a writer that is gone (a crash) does not block.
    fs::write(&pid_file, format!("{pid}\n")).expect("stale pid file");
    let restored = Ledger::restore(&backup, &theirs, true).expect("no writer any more");
    assert!(restored.replaced);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}
