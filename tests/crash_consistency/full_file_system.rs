//! A full file system under a ledger file: a small tmpfs in a private
//! mount namespace, filled up before a step or a compaction.

use std::fmt;
use std::io;
use std::time::Instant;

use ociledger::{Error, Ledger};

use crate::common;

use super::disk::ENOSPC;
use super::workload::{Workload, answers, finish, load, snapshot_answers, with_clock};

/// Set in the child process that runs the file-system test inside its own
/// mount namespace: the small tmpfs mounted there.
const TMPFS_ENV: &str = "OCILEDGER_TEST_TMPFS";
/// The tmpfs: room for a ledger of a few batches and a filler file.
const TMPFS_SIZE: &str = "16m";
/// What the child prints once the tmpfs is mounted.
const MOUNTED: &str = "ociledger-test: tmpfs mounted";
/// The test the child runs: this file's one test (its name for `--exact` is
/// [`common::test_name`] of it).
const FILE_SYSTEM_TEST: &str =
    "full_file_system_fails_one_write_and_the_same_ledger_writes_again_once_there_is_room";

/// Fills the file system of `path` (a new file) until it has no room left.
fn fill(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create the filler");
    for chunk in [1 << 20, 4096, 512] {
        let data = vec![0xa5_u8; chunk];
        let full = loop {
            if let Err(e) = file.write_all(&data) {
                break e;
            }
        };
        assert_eq!(
            full.kind(),
            io::ErrorKind::StorageFull,
            "filling the tmpfs: {full}"
        );
    }
}

#[derive(Default)]
struct FullTally {
    cases: usize,
    failed: usize,
    /// Steps that found room in the file although the file system was full.
    ok_anyway: usize,
    /// Reads on the same ledger while the file system was still full.
    reads: Outcomes,
    retries_ok: usize,
    /// A snapshot taken before the fault, read after it and the reopen.
    old_snapshot: Outcomes,
    /// Compactions on the full file system, how many failed (all must),
    /// and how many retries on the same ledger succeeded once there was room.
    compactions: usize,
    compactions_failed: usize,
    compactions_retried_ok: usize,
}

/// Reads that must answer the previous state or fail: how many did which,
/// and the first error.
#[derive(Default)]
struct Outcomes {
    ok: usize,
    failed: usize,
    error: Option<String>,
}

impl Outcomes {
    fn add(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.ok += 1,
            Err(e) => {
                self.failed += 1;
                self.error.get_or_insert(e);
            }
        }
    }
}

impl fmt::Display for Outcomes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} Ok, {} failed ({})",
            self.ok,
            self.failed,
            self.error.as_deref().unwrap_or_default()
        )
    }
}

/// Answers read after a failed step: the previous state (`before`), or an
/// error (returned as text), never anything else.
fn same_or_error(
    got: Result<String, Error>,
    before: &str,
    what: &str,
    reader: &str,
) -> Result<(), String> {
    let got = got.map_err(|e| e.to_string())?;
    assert!(
        got == before,
        "{what}: {reader} sees part of the failed step"
    );
    Ok(())
}

/// A write that met the full file system says so: `Error::Storage` with
/// `is_io`, the OS error in its message, and 507 Insufficient Storage.
fn assert_disk_full(what: &str, e: &Error) {
    let os = io::Error::from_raw_os_error(ENOSPC).to_string();
    assert!(
        matches!(e, Error::Storage(se) if se.is_io()) && e.to_string().contains(&os),
        "{what}: the error does not say the disk is full: {e:?}"
    );
    let problem = ociledger::problem::ErrorModel::from(e);
    assert_eq!(
        (problem.status, problem.title.as_str()),
        (507, "Insufficient Storage"),
        "{what}: problem+json of {e}"
    );
}

/// Case `s`: a ledger file on the full tmpfs `dir` takes steps 1..=s, the
/// file system fills up, step s + 1 runs (and fails when it needs room),
/// the filler goes, and the same `Ledger` retries the step and finishes
/// the workload; then the file reopens to the clean run's answers. With
/// `reopen_fails`, the file is moved aside during the failing step, so the
/// ledger's own reopen after the error fails too, and the next operations
/// must try again.
fn full_file_system_case(
    w: &Workload,
    dir: &std::path::Path,
    s: usize,
    reopen_fails: bool,
    tally: &mut FullTally,
) {
    let what = format!(
        "full tmpfs before step {}{}",
        s + 1,
        if reopen_fails {
            ", file moved aside"
        } else {
            ""
        }
    );
    let path = dir.join(format!("case-{s}.redb"));
    let aside = dir.join(format!("case-{s}.aside"));
    let filler = dir.join("filler");
    let ledger = with_clock(Ledger::create(&path).expect("create the ledger on the tmpfs"));
    for (i, step) in w.steps[..s].iter().enumerate() {
        step.run(i + 1, &ledger)
            .expect("the steps before the disk fills");
    }
    // A snapshot from before the fault, kept across it and the reopen.
    let old = ledger.0.snapshot().expect("a snapshot");
    fill(&filler);
    tally.cases += 1;
    let before = &w.expected[s + 1];
    let after = &w.expected[s + 2];
    if reopen_fails {
        std::fs::rename(&path, &aside).expect("move the ledger aside");
    }
    let result = w.steps[s].run(s + 1, &ledger);
    let move_back = || {
        if reopen_fails {
            std::fs::rename(&aside, &path).expect("move the ledger back");
        }
    };
    match result {
        Ok(()) => {
            move_back();
            tally.ok_anyway += 1;
            std::fs::remove_file(&filler).expect("remove the filler");
            let got = answers(&ledger, &w.probes).expect("answers");
            assert!(&got == after, "{what}: Ok, but the step is not all there");
        }
        Err(e) => {
            tally.failed += 1;
            assert_disk_full(&what, &e);
            // Reads on the same ledger while the disk is still full: the
            // previous state, or (if the ledger could not reopen its file
            // yet) an error, never part of the failed step.
            let reads = answers(&ledger, &w.probes);
            if reopen_fails {
                assert!(
                    matches!(&reads, Err(Error::Storage(se)) if se.is_io()),
                    "{what}: reads without the file: {reads:?}"
                );
                move_back();
            }
            let reads = same_or_error(reads, before, &what, "reads while full");
            tally.reads.add(reads);
            std::fs::remove_file(&filler).expect("remove the filler");
            let got = answers(&ledger, &w.probes)
                .unwrap_or_else(|e| panic!("{what}: reads once there is room: {e}"));
            assert!(&got == before, "{what}: the failed step changed the state");
            // The old snapshot's file was closed by the reopen: it answers
            // as before it, or fails; it never answers wrong.
            let old_reads = snapshot_answers(&old, &w.probes);
            let old_reads = same_or_error(old_reads, before, &what, "the old snapshot");
            tally.old_snapshot.add(old_reads);
            // The retry on the same handle: the fix under test.
            w.steps[s]
                .run(s + 1, &ledger)
                .unwrap_or_else(|e| panic!("{what}: the retry on the same ledger: {e}"));
            tally.retries_ok += 1;
            let got = answers(&ledger, &w.probes).expect("answers");
            assert!(&got == after, "{what}: the retry is not all there");
        }
    }
    drop(old);
    finish(w, &ledger, s + 2, &what);
    let report = ledger.0.verify().expect("verify");
    assert!(report.is_clean(), "{what}: verify: {report:?}");
    drop(ledger);
    let reopened = with_clock(Ledger::open(&path).expect("reopen"));
    let got = answers(&reopened, &w.probes).expect("answers after reopen");
    assert!(
        got == w.expected[w.steps.len() + 1],
        "{what}: the reopened file does not give the clean run's answers"
    );
    drop(reopened);
    std::fs::remove_file(&path).expect("remove the ledger");
}

/// A ledger file on the full tmpfs `dir` that took steps 1..=s and was
/// compacted once (so its tables are in key order and its file holds no free
/// pages: the next compaction's page moves need no room, and its rewrite
/// needs room for a copy of every large table); the file system fills up
/// and `compact` runs. It must fail with ENOSPC and change nothing; once
/// the filler is gone the same `Ledger` compacts, verifies clean, writes the
/// rest of the workload, and the file reopens to the clean run's answers.
/// With `reopen_fails`, the file is moved aside during the compaction, as
/// in [`full_file_system_case`].
fn full_file_system_compaction_case(
    w: &Workload,
    dir: &std::path::Path,
    s: usize,
    room_eighths: u64,
    reopen_fails: bool,
    tally: &mut FullTally,
) {
    let what = format!(
        "full tmpfs ({room_eighths}/8 of the file free) before a compaction after step {s}{}",
        if reopen_fails {
            ", file moved aside"
        } else {
            ""
        }
    );
    let path = dir.join(format!("compact-{s}.redb"));
    let aside = dir.join(format!("compact-{s}.aside"));
    let filler = dir.join("filler");
    let ledger = with_clock(Ledger::create(&path).expect("create the ledger on the tmpfs"));
    for (i, step) in w.steps[..s].iter().enumerate() {
        step.run(i + 1, &ledger)
            .expect("the steps before the disk fills");
    }
    ledger
        .0
        .compact()
        .expect("the compaction while there is room");
    let before = &w.expected[s + 1];
    let file_bytes = std::fs::metadata(&path).expect("the ledger file").len();
    fill(&filler);
    // Room for part of the copy: a compaction that committed table by
    // table would get some way and leave a table half rewritten.
    let filler_file = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .expect("open the filler");
    let filler_len = filler_file.metadata().expect("the filler's length").len();
    filler_file
        .set_len(filler_len - file_bytes * room_eighths / 8)
        .expect("make room");
    drop(filler_file);
    tally.compactions += 1;
    if reopen_fails {
        std::fs::rename(&path, &aside).expect("move the ledger aside");
    }
    let e = match ledger.0.compact() {
        Ok(c) => panic!("{what}: compact found room for its copy on a full disk: {c:?}"),
        Err(e) => e,
    };
    assert_disk_full(&what, &e);
    tally.compactions_failed += 1;
    let reads = answers(&ledger, &w.probes);
    if reopen_fails {
        assert!(
            matches!(&reads, Err(Error::Storage(se)) if se.is_io()),
            "{what}: reads without the file: {reads:?}"
        );
        std::fs::rename(&aside, &path).expect("move the ledger back");
    }
    tally
        .reads
        .add(same_or_error(reads, before, &what, "reads while full"));
    std::fs::remove_file(&filler).expect("remove the filler");
    let got = answers(&ledger, &w.probes)
        .unwrap_or_else(|e| panic!("{what}: reads once there is room: {e}"));
    assert!(
        &got == before,
        "{what}: the failed compaction changed the answers"
    );
    let report = ledger.0.verify().expect("verify");
    assert!(
        report.is_clean(),
        "{what}: verify after the failed compaction: {report:?}"
    );
    // The retry on the same handle, once there is room.
    let c = ledger
        .0
        .compact()
        .unwrap_or_else(|e| panic!("{what}: the compaction retried on the same ledger: {e}"));
    assert!(
        c.file_bytes_after <= file_bytes,
        "{what}: the file grew from {file_bytes} to {} bytes in a compaction",
        c.file_bytes_after
    );
    tally.compactions_retried_ok += 1;
    let report = ledger.0.verify().expect("verify");
    assert!(
        report.is_clean(),
        "{what}: verify after the compaction: {report:?}"
    );
    let got = answers(&ledger, &w.probes).expect("answers");
    assert!(&got == before, "{what}: the compaction changed the answers");
    finish(w, &ledger, s + 1, &what);
    drop(ledger);
    let reopened = with_clock(Ledger::open(&path).expect("reopen"));
    let got = answers(&reopened, &w.probes).expect("answers after reopen");
    assert!(
        got == w.expected[w.steps.len() + 1],
        "{what}: the reopened file does not give the clean run's answers"
    );
    drop(reopened);
    std::fs::remove_file(&path).expect("remove the ledger");
}

/// The child's part: every case on the tmpfs at `dir`.
fn full_file_system_cases(dir: &std::path::Path) {
    let started = Instant::now();
    let workloads = load();
    let w = &workloads[0];
    let mut tally = FullTally::default();
    for reopen_fails in [false, true] {
        for s in 0..w.steps.len() {
            full_file_system_case(w, dir, s, reopen_fails, &mut tally);
        }
        // Compactions midway and after the whole workload.
        for s in [6, w.steps.len()] {
            for room_eighths in [0, 2, 4, 6] {
                full_file_system_compaction_case(w, dir, s, room_eighths, reopen_fails, &mut tally);
            }
        }
    }
    println!(
        "full tmpfs ({TMPFS_SIZE}): {} cases, {} failed with ENOSPC (507), {} found room anyway; \
         reads while full: {}; snapshots from before: {}; \
         retries on the same ledger: {} Ok; \
         compactions on a full tmpfs: {}, {} failed with ENOSPC (507) and changed nothing, \
         {} compacted on the same ledger once there was room, verified clean; \
         every case finished the workload and reopened to the clean run's answers; in {:.1} s",
        tally.cases,
        tally.failed,
        tally.ok_anyway,
        tally.reads,
        tally.old_snapshot,
        tally.retries_ok,
        tally.compactions,
        tally.compactions_failed,
        tally.compactions_retried_ok,
        started.elapsed().as_secs_f64()
    );
    assert!(
        tally.failed >= tally.cases / 2,
        "a full file system failed only {} of {} writes: the test no longer tests",
        tally.failed,
        tally.cases
    );
}

// Guards against a ledger on a file that, after one write failed on a full
// disk (redb then refuses every later operation of that handle: "Previous
// I/O error occurred. Please close and re-open the database."), can never
// write again until the process reopens it; and against that write changing
// anything, or a retry, the rest of the workload or a reopen going wrong.
// A real file system fills up: a 16 MiB tmpfs, mounted in a private mount
// namespace (`unshare`; as root, or in a user namespace) by a child process
// that re-runs this test, so the mount goes with it whatever happens. Skips
// with the reason where neither works, fails under `CI=true` (CI runs as
// root). Also guards against a compaction on a full disk that returns Ok,
// reports something else than ENOSPC, commits part of its rewrite (caught
// with room for part of the copy), or leaves a ledger that cannot compact
// again. 22 step cases and 16 compaction cases: 1.0 s in a debug build on
// 2 shared cores.
#[test]
fn full_file_system_fails_one_write_and_the_same_ledger_writes_again_once_there_is_room() {
    if let Some(dir) = std::env::var_os(TMPFS_ENV) {
        full_file_system_cases(std::path::Path::new(&dir));
        return;
    }
    let mount_point = tempfile::tempdir().expect("a mount point");
    let exe = std::env::current_exe().expect("the test binary");
    let script = format!(
        "mount -t tmpfs -o size={TMPFS_SIZE} ociledger-test \"$0\" || exit 1; echo '{MOUNTED}'; exec \"$@\""
    );
    let mut refusals = Vec::new();
    for namespace in [
        &["--mount", "--propagation", "private"][..],
        &[
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
        ],
    ] {
        let output = std::process::Command::new("unshare")
            .args(namespace)
            .args(["sh", "-c", &script])
            .arg(mount_point.path())
            .arg(&exe)
            .args([
                &common::test_name(module_path!(), FILE_SYSTEM_TEST),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(TMPFS_ENV, mount_point.path())
            .stdin(std::process::Stdio::null())
            .output();
        let output = match output {
            Ok(o) => o,
            Err(e) => {
                refusals.push(format!("unshare: {e}"));
                break;
            }
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !stdout.contains(MOUNTED) {
            refusals.push(format!(
                "unshare {}: {}",
                namespace.join(" "),
                stderr.trim()
            ));
            continue;
        }
        print!("{stdout}");
        assert!(
            output.status.success(),
            "the test on the tmpfs failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
        return;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot mount a tmpfs in a private mount namespace (CI runs as root): {refusals:?}"
    );
    eprintln!(
        "SKIPPED: this test mounts a small tmpfs in a private mount namespace, as root or in a user namespace, and neither works here: {refusals:?}"
    );
}
