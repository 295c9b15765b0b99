//! One writer process and many reader processes on one ledger file, with real
//! processes: the `ociledger` binary, and this test binary re-executed as a
//! reader child (`reader_child`, driven by the `OCILEDGER_MP_READER`
//! environment variable; without it that test passes doing nothing).
//!
//! Guards against:
//!
//! - a reader process seeing part of a batch, a commit that is not a whole
//!   one, or an older commit after a newer one (torn or stale snapshots across
//!   processes): every answer of every reader (counts, and the matches of a few
//!   probed digests, from one snapshot) must be the answer of some committed
//!   prefix of the import's batches, and the prefixes one reader sees never go
//!   backwards. Three readers: one process holding one `Ledger`, one opening
//!   the file anew for every answer, and `ociledger stats` / `lookup`
//!   processes one after another;
//! - a writer reusing pages a reader in another process still reads: the
//!   holding reader reads each snapshot twice, a few commits apart, and both
//!   readings must agree;
//! - readers blocking the writer, or failing (`open_read_only` or `snapshot`
//!   errors) while it writes;
//! - a second writer process being let in (two writers corrupt the file), or
//!   refused without the first writer's pid, or touching its pid file, or
//!   changing anything; a reader in a third process not following the writer;
//! - a writer killed mid-import losing or tearing a batch a reader saw, or its
//!   stale pid file keeping the next writer out;
//! - a query command (lookup, history, at, classify, stats, repo/tag/ref get
//!   and list) writing to the file: its bytes, mtime and directory stay the
//!   same; the library's read-only handle is `O_RDONLY` (checked through
//!   `/proc` on Linux, as root too, whom permissions do not stop); and queries
//!   work on a read-only file in a read-only directory.
//!
//! Data: the real histories of `../shared/data/` (208,521 observations) under
//! `CI=true` or with `OCILEDGER_MP_DATA=full` (they must then be present),
//! else the bundled `data/sample-events.jsonl.gz` (5,143), so a newcomer's
//! `cargo test` stays quick; the test prints which. Nothing here is ever
//! skipped.
//!
//! Timing, measured on 2 cores shared with other builds (load 3-5), debug
//! build with `opt-level = 2` dependencies: the full history in 418 batches of
//! 500 takes 2 s to load, 24-26 s for the scratch ingests that give every
//! prefix (counted on a second thread meanwhile), and 28-46 s for the import
//! beside the three readers (the bound is 5 x the ingests + 30 s), so
//! `readers_see_only_whole_batches_while_an_import_writes` takes 57-76 s.
//! With the sample (429 batches of 12) it takes 3 s; the other tests take 3 s
//! together.
//!
//! Only where redb's `SingleWriter` mode exists (byte-range locks: Linux,
//! Android, Apple, Windows); elsewhere the ledger locks the file whole and
//! readers cannot run beside a writer by design.
#![cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    windows
))]

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use flate2::read::MultiGzDecoder;
use ociledger::id::Digest;
use ociledger::model::{Observation, TagMatch};
use ociledger::{Error, Ledger, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Set (to a JSON [`ReaderConfig`]) only in the reader children.
const READER_ENV: &str = "OCILEDGER_MP_READER";
/// The name of the test that is a reader child when [`READER_ENV`] is set.
const READER_TEST: &str = "reader_child";
/// How long anything may take before the test gives up waiting (a hang is
/// a failure, not a stuck CI job).
const PATIENCE: Duration = Duration::from_secs(600);
/// `full`: the real histories (the default under `CI=true`); `sample`: the
/// bundled sample (the default otherwise, and under `CI=true` on request).
const DATA_ENV: &str = "OCILEDGER_MP_DATA";

// ---------------------------------------------------------------------------
// Answers and their comparison with the committed prefixes

/// The row counts of `stats` (the CLI's `file_bytes` is left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Tally {
    repositories: u64,
    tags: u64,
    references: u64,
    observations: u64,
    intervals: u64,
}

impl From<ociledger::Counts> for Tally {
    fn from(c: ociledger::Counts) -> Self {
        Self {
            repositories: c.repositories,
            tags: c.tags,
            references: c.references,
            observations: c.observations,
            intervals: c.intervals,
        }
    }
}

/// A lookup answer in short: how many matches, and a hash of all of them
/// (tag, current, since, until), so a changed `until` counts too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Print {
    n: usize,
    hash: String,
}

fn print_of(matches: &[TagMatch]) -> Print {
    let bytes = serde_json::to_vec(matches).expect("matches serialize");
    Print {
        n: matches.len(),
        hash: blake3::hash(&bytes).to_hex()[..16].to_owned(),
    }
}

/// What one snapshot says: the counts and every probed digest's matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    counts: Tally,
    probes: Vec<Print>,
}

/// The state `snap` shows.
fn state_of(snap: &Snapshot, probes: &[Digest]) -> ociledger::Result<State> {
    let counts = Tally::from(snap.counts()?);
    let mut prints = Vec::with_capacity(probes.len());
    for d in probes {
        prints.push(print_of(&snap.tags_for_digest(d)?));
    }
    Ok(State {
        counts,
        probes: prints,
    })
}

/// The state `snap` shows, read twice `hold` apart: a writer that reused
/// the snapshot's pages meanwhile (while committing further batches) would
/// show as two different answers, or as an error.
fn state_held(snap: &Snapshot, probes: &[Digest], hold: Duration) -> ociledger::Result<State> {
    let first = state_of(snap, probes)?;
    thread::sleep(hold);
    let again = state_of(snap, probes)?;
    if again != first {
        return Err(Error::Corrupt(format!(
            "one snapshot answered {first:?}, then {again:?}"
        )));
    }
    Ok(first)
}

/// The state after each whole batch: `states[k]` after the first `k`.
struct Prefixes {
    states: Vec<State>,
}

impl Prefixes {
    fn last(&self) -> usize {
        self.states.len() - 1
    }

    /// The first prefix at or after `from` that `fits`.
    fn find(&self, from: usize, fits: impl Fn(&State) -> bool) -> Option<usize> {
        (from..self.states.len()).find(|&k| fits(&self.states[k]))
    }

    /// Checks that a reader's answers, in order, are the states of
    /// non-decreasing prefixes; returns how many answers were strictly
    /// between the empty ledger and the complete one, and the distinct
    /// prefixes seen.
    fn check<A: std::fmt::Debug>(
        &self,
        who: &str,
        answers: &[A],
        fits: impl Fn(&A, &State) -> bool,
    ) -> (usize, BTreeSet<usize>) {
        let mut at = 0;
        let mut between = 0;
        let mut seen = BTreeSet::new();
        for (i, a) in answers.iter().enumerate() {
            let Some(k) = self.find(at, |s| fits(a, s)) else {
                let earlier = self.find(0, |s| fits(a, s));
                panic!(
                    "{who}: answer {i} of {} is no committed prefix at or after {at} \
                     (matches prefix {earlier:?}; {} prefixes)\n  answer: {a:?}\n  \
                     prefix {at}: {:?}",
                    answers.len(),
                    self.states.len(),
                    self.states[at]
                );
            };
            at = k;
            seen.insert(k);
            if !fits(a, &self.states[0]) && !fits(a, &self.states[self.last()]) {
                between += 1;
            }
        }
        (between, seen)
    }
}

// ---------------------------------------------------------------------------
// The reader child

#[derive(Debug, Serialize, Deserialize)]
struct ReaderConfig {
    db: PathBuf,
    probes: Vec<String>,
    /// Open the ledger again for every answer instead of once.
    reopen: bool,
    /// The pause between answers.
    pause: Duration,
    /// How long each snapshot is held between its two readings.
    hold: Duration,
}

/// Not a test of its own: the reader process that
/// `readers_see_only_whole_batches_while_an_import_writes` starts by running
/// this test binary again with [`READER_ENV`] set. Prints `@state {json}` for
/// every snapshot until its stdin closes (and once after), or `@error msg`
/// and fails. A closed stdin also ends it when the test dies.
#[test]
fn reader_child() {
    let Ok(config) = std::env::var(READER_ENV) else {
        return;
    };
    let config: ReaderConfig = serde_json::from_str(&config).expect("reader config");
    let probes: Vec<Digest> = config
        .probes
        .iter()
        .map(|d| d.parse().expect("probe digest"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        thread::spawn(move || {
            std::io::copy(&mut std::io::stdin(), &mut std::io::sink()).ok();
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut out = std::io::stdout().lock();
    let held = if config.reopen {
        None
    } else {
        Some(Ledger::open_read_only(&config.db).unwrap_or_else(|e| fail(&mut out, &e)))
    };
    loop {
        let last = stop.load(Ordering::SeqCst);
        let state = match &held {
            Some(l) => l
                .snapshot()
                .and_then(|s| state_held(&s, &probes, config.hold)),
            None => Ledger::open_read_only(&config.db)
                .and_then(|l| l.snapshot())
                .and_then(|s| state_held(&s, &probes, config.hold)),
        }
        .unwrap_or_else(|e| fail(&mut out, &e));
        let line = serde_json::to_string(&state).expect("state serializes");
        writeln!(out, "@state {line}")
            .and_then(|()| out.flush())
            .expect("write to the test");
        if last {
            return;
        }
        thread::sleep(config.pause);
    }
}

/// Tells the test what failed, then fails.
fn fail(out: &mut impl Write, e: &Error) -> ! {
    writeln!(out, "@error {e}").and_then(|()| out.flush()).ok();
    panic!("reader: {e}");
}

/// A running reader child and the answers it printed. Dropped without
/// [`Reader::finish`] (the test failed), it kills the child.
struct Reader {
    name: String,
    child: Child,
    lines: Option<thread::JoinHandle<Vec<Result<State, String>>>>,
    stderr: PathBuf,
}

impl Reader {
    fn spawn(name: &str, config: &ReaderConfig, dir: &Path, first: mpsc::Sender<()>) -> Self {
        let stderr = dir.join(format!("{name}.stderr"));
        let mut child = Command::new(this_test_binary())
            .arg(common::test_name(module_path!(), READER_TEST))
            .args(["--exact", "--nocapture", "--test-threads=1"])
            .env(READER_ENV, serde_json::to_string(config).expect("config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn a reader child");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = thread::spawn(move || {
            let mut answers = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let answer = if let Some(json) = line.strip_prefix("@state ") {
                    serde_json::from_str(json).map_err(|e| format!("bad line ({e}): {line}"))
                } else if let Some(e) = line.strip_prefix("@error ") {
                    Err(e.to_owned())
                } else {
                    continue; // the test harness's own lines
                };
                if answers.is_empty() {
                    first.send(()).ok();
                }
                answers.push(answer);
            }
            answers
        });
        Self {
            name: name.to_owned(),
            child,
            lines: Some(lines),
            stderr,
        }
    }

    /// Closes the reader's stdin (it answers once more and exits) and
    /// returns every answer.
    fn finish(mut self) -> (String, Vec<State>) {
        drop(self.child.stdin.take());
        let exit = wait_until(&mut self.child, Instant::now() + PATIENCE, &self.name);
        let answers = self
            .lines
            .take()
            .expect("not finished yet")
            .join()
            .expect("reader output thread");
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let states: Vec<State> = answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|e| panic!("{}: reader error: {e}\n{stderr}", self.name)))
            .collect();
        assert!(exit.success(), "{}: {exit}\n{stderr}", self.name);
        (std::mem::take(&mut self.name), states)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.lines.is_some() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// This very test binary: on Linux through `/proc/self/exe`, which stays
/// valid when a concurrent `cargo test` rebuilds the file meanwhile.
fn this_test_binary() -> PathBuf {
    let proc = Path::new("/proc/self/exe");
    if cfg!(target_os = "linux") && proc.exists() {
        proc.to_owned()
    } else {
        std::env::current_exe().expect("test binary")
    }
}

/// Waits for a child of this test, killing it (and failing) past `deadline`.
fn wait_until(child: &mut Child, deadline: Instant, what: &str) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{what} did not finish in time; killed");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Data and the command line

/// JSON lines of observations, and the same parsed.
struct Input {
    source: String,
    lines: Vec<String>,
    observations: Vec<Observation>,
}

fn sample_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-events.jsonl.gz")
}

/// The real histories under `CI=true` or when [`DATA_ENV`] says `full`
/// (then they must be there), else the bundled sample (also when
/// [`DATA_ENV`] says `sample`).
fn input() -> Input {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let real = ["tag-events.jsonl.gz", "pinned-tag-history.jsonl.gz"].map(|f| shared.join(f));
    let choice = std::env::var(DATA_ENV).unwrap_or_default();
    let full =
        choice == "full" || (choice != "sample" && std::env::var("CI").is_ok_and(|v| v == "true"));
    assert!(
        !full || real.iter().all(|f| f.exists()),
        "the full run (CI=true or {DATA_ENV}=full) needs ../shared/data/tag-events.jsonl.gz and pinned-tag-history.jsonl.gz"
    );
    let (source, files): (String, Vec<PathBuf>) = if full {
        (
            "the real histories in ../shared/data".to_owned(),
            real.to_vec(),
        )
    } else {
        (
            format!(
                "the bundled data/sample-events.jsonl.gz ({})",
                if choice == "sample" {
                    format!("{DATA_ENV}=sample")
                } else {
                    format!("quick default; CI=true or {DATA_ENV}=full uses ../shared/data")
                }
            ),
            vec![sample_file()],
        )
    };
    load(source, &files)
}

fn load(source: String, files: &[PathBuf]) -> Input {
    let mut lines = Vec::new();
    let mut observations = Vec::new();
    for f in files {
        let gz = MultiGzDecoder::new(File::open(f).expect("open data file"));
        for (i, line) in BufReader::new(gz).lines().enumerate() {
            let line = line.expect("read data line");
            if line.trim().is_empty() {
                continue;
            }
            let o: Observation = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", f.display(), i + 1));
            observations.push(o);
            lines.push(line);
        }
    }
    Input {
        source,
        lines,
        observations,
    }
}

fn cli(db: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_ACTOR")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ociledger");
    let mut pipe = child.stdin.take().expect("piped stdin");
    // A command may fail (or not read stdin) before it takes all of it.
    match pipe.write_all(stdin.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    drop(pipe);
    child.wait_with_output().expect("wait for ociledger")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed and print JSON; returns its last line.
fn ok(db: &Path, args: &[&str], stdin: &str) -> Value {
    let out = cli(db, args, stdin);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{args:?}: no output"));
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {last}"))
}

/// A command that must fail with exit 1 and one problem+json line.
fn problem(db: &Path, args: &[&str], stdin: &str) -> Value {
    problem_of(&cli(db, args, stdin), &format!("{args:?}"))
}

/// The problem+json line of a failed run (exit 1, nothing on stdout).
fn problem_of(out: &Output, what: &str) -> Value {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what} should fail: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{what}: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: one problem line: {stderr}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"))
}

fn tally(stats: &Value) -> Tally {
    serde_json::from_value(stats.clone()).expect("stats has every count")
}

/// Polls `f` until it gives a value.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------
// 1. Readers beside an import

/// Digests whose matches change at different points of the import: first,
/// quarter, middle, three quarters and last observation, and the digest seen
/// under the most tags.
fn probes(observations: &[Observation]) -> Vec<Digest> {
    let n = observations.len();
    let mut tags_of: BTreeMap<Digest, BTreeSet<&ociledger::id::TagId>> = BTreeMap::new();
    for o in observations {
        tags_of.entry(o.digest).or_default().insert(&o.tag);
    }
    let busiest = tags_of
        .iter()
        .max_by_key(|(_, tags)| tags.len())
        .map(|(d, _)| *d)
        .expect("some observation");
    let mut picked = Vec::new();
    for d in [0, n / 4, n / 2, 3 * n / 4, n - 1]
        .map(|i| observations[i].digest)
        .into_iter()
        .chain([busiest])
    {
        if !picked.contains(&d) {
            picked.push(d);
        }
    }
    picked
}

/// What a `ociledger` query process answered: the stats counts, or one
/// probe's lookup.
#[derive(Debug)]
enum CliAnswer {
    Stats(Tally),
    Lookup(usize, Print),
}

fn cli_fits(a: &CliAnswer, s: &State) -> bool {
    match a {
        CliAnswer::Stats(t) => s.counts == *t,
        CliAnswer::Lookup(i, p) => s.probes[*i] == *p,
    }
}

/// Runs `stats` and `lookup` processes one after another until `done`, and
/// once more after.
fn cli_reader(db: &Path, probes: &[Digest], pause: Duration, done: &AtomicBool) -> Vec<CliAnswer> {
    let mut answers = Vec::new();
    for i in (0..probes.len()).cycle() {
        let last = done.load(Ordering::SeqCst);
        answers.push(CliAnswer::Stats(tally(&ok(db, &["stats"], ""))));
        let found = ok(db, &["lookup", &probes[i].to_string()], "");
        let matches: Vec<TagMatch> =
            serde_json::from_value(found["matches"].clone()).expect("lookup matches");
        answers.push(CliAnswer::Lookup(i, print_of(&matches)));
        if last {
            break;
        }
        thread::sleep(pause);
    }
    answers
}

/// Every prefix's state, from the library on a scratch file in `dir`: the
/// same batches in the same transactions as the import's. Returns them with
/// the time the ingests took, the yardstick for the import. A second thread
/// counts each prefix's snapshot (a full scan) while the next batch goes in.
fn prefixes(dir: &Path, data: &Input, batch: usize, probes: &[Digest]) -> (Prefixes, Duration) {
    let scratch = Ledger::create(dir.join("scratch.redb")).expect("scratch ledger");
    let (tx, rx) = mpsc::sync_channel::<Snapshot>(2);
    thread::scope(|scope| {
        let counter = scope.spawn(move || {
            rx.iter()
                .map(|snap| state_of(&snap, probes).expect("prefix state"))
                .collect::<Vec<State>>()
        });
        tx.send(scratch.snapshot().expect("snapshot"))
            .expect("to the counter");
        let mut ingest_time = Duration::ZERO;
        for chunk in data.observations.chunks(batch) {
            let t = Instant::now();
            scratch.ingest("ociledger", chunk).expect("scratch ingest");
            ingest_time += t.elapsed();
            tx.send(scratch.snapshot().expect("snapshot"))
                .expect("to the counter");
        }
        drop(tx);
        let states = counter.join().expect("the counter");
        (Prefixes { states }, ingest_time)
    })
}

/// `ociledger import FILE --batch N`, its output piped.
fn spawn_import(db: &Path, file: &Path, batch: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_ACTOR")
        .arg("--db")
        .arg(db)
        .args(["import", file.to_str().expect("utf-8 path")])
        .args(["--batch", &batch.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the import")
}

/// What happened while the import ran beside the readers.
struct Run {
    import_time: Duration,
    summary: Value,
    readers: Vec<(String, Vec<State>)>,
    cli: Vec<CliAnswer>,
}

/// Creates the ledger `db` empty, starts the readers, and once each has
/// answered, imports `data` in batches of `batch` and stops the readers.
fn import_beside_readers(
    db: &Path,
    data: &Input,
    batch: usize,
    probes: &[Digest],
    pause: Duration,
) -> Run {
    let dir = db.parent().expect("parent");
    drop(Ledger::create(db).expect("create the ledger"));
    let file = dir.join("input.jsonl");
    std::fs::write(&file, data.lines.join("\n") + "\n").expect("write input");

    let (first_tx, first_rx) = mpsc::channel();
    // One reader opens the file once and holds each snapshot across a few
    // commits; the other opens the file anew for every answer.
    let hold = pause * 12;
    let readers: Vec<Reader> = [("held", false, hold), ("reopening", true, Duration::ZERO)]
        .into_iter()
        .map(|(name, reopen, hold)| {
            let config = ReaderConfig {
                db: db.to_owned(),
                probes: probes.iter().map(ToString::to_string).collect(),
                reopen,
                pause,
                hold,
            };
            Reader::spawn(name, &config, dir, first_tx.clone())
        })
        .collect();
    drop(first_tx);
    for _ in &readers {
        first_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("every reader answers before the import starts");
    }
    let done = Arc::new(AtomicBool::new(false));
    let cli_thread = {
        let (db, probes, done) = (db.to_owned(), probes.to_vec(), done.clone());
        thread::spawn(move || cli_reader(&db, &probes, pause, &done))
    };

    let import_start = Instant::now();
    let mut import = spawn_import(db, &file, batch);
    let exit = wait_until(&mut import, import_start + PATIENCE, "the import");
    let import_time = import_start.elapsed();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(mut o) = import.stdout.take() {
        o.read_to_string(&mut stdout).ok();
    }
    if let Some(mut e) = import.stderr.take() {
        e.read_to_string(&mut stderr).ok();
    }

    // Readers answer once more after the import ended, then stop.
    done.store(true, Ordering::SeqCst);
    let readers = readers.into_iter().map(Reader::finish).collect();
    let cli = cli_thread.join().expect("the CLI reader");
    assert!(exit.success(), "import: {exit}\n{stdout}\n{stderr}");
    let summary = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("import summary ({e}): {stdout}"));
    Run {
        import_time,
        summary,
        readers,
        cli,
    }
}

#[test]
fn readers_see_only_whole_batches_while_an_import_writes() {
    let started = Instant::now();
    let data = input();
    let n = data.observations.len();
    // About 400 commits whatever the data: 500 per batch for the real
    // histories, 12 for the sample. Readers pause between answers to leave
    // the import some of the two cores, less when the whole import takes a
    // second or two.
    let batch = (n / 400).clamp(1, 500);
    let pause = Duration::from_millis(if n > 50_000 { 25 } else { 2 });
    println!(
        "data: {n} observations from {}; {} batches of {batch}",
        data.source,
        n.div_ceil(batch)
    );
    let probes = probes(&data.observations);
    let loaded = started.elapsed();

    let dir = tempfile::tempdir().expect("tempdir");
    let (prefixes, ingest_time) = prefixes(dir.path(), &data, batch, &probes);
    println!(
        "loading {}; {} prefix states in {} (their ingests {})",
        secs(loaded),
        prefixes.states.len(),
        secs(started.elapsed().saturating_sub(loaded)),
        secs(ingest_time),
    );

    let db = dir.path().join("ledger.redb");
    let run = import_beside_readers(&db, &data, batch, &probes, pause);
    assert_eq!(run.summary["observations"], json!(n), "{}", run.summary);
    assert_eq!(run.summary["skipped"], json!(0), "{}", run.summary);

    let last = &prefixes.states[prefixes.last()];
    let reader = Ledger::open_read_only(&db).expect("open after the import");
    let snap = reader.snapshot().expect("snapshot");
    let final_state = state_of(&snap, &probes).expect("final state");
    assert_eq!(&final_state, last, "the imported file is the last prefix");

    for (name, answers) in &run.readers {
        let (between, seen) = prefixes.check(name, answers, |a, s| a == s);
        println!(
            "reader {name}: {} answers, {between} of them mid-import, {} distinct prefixes",
            answers.len(),
            seen.len()
        );
        assert!(
            answers.len() >= 20,
            "{name}: only {} answers",
            answers.len()
        );
        assert!(between >= 1, "{name} never saw the import in progress");
        assert_eq!(answers.last(), Some(last), "{name}'s last answer");
    }
    let (between, seen) = prefixes.check("ociledger stats/lookup", &run.cli, cli_fits);
    println!(
        "ociledger stats/lookup processes: {} answers, {between} of them mid-import, {} distinct \
         prefixes",
        run.cli.len(),
        seen.len()
    );
    assert!(run.cli.len() >= 10, "only {} CLI answers", run.cli.len());
    assert!(
        between >= 1,
        "the CLI queries never saw the import in progress"
    );

    // No reader blocks the writer: a sanity bound against a writer waiting
    // on readers, not a benchmark (three readers share two cores with it).
    let bound = ingest_time * 5 + Duration::from_secs(30);
    println!(
        "import beside the readers {} (its own figure {} s), the same ingests alone {}, bound {}; \
         whole test {}",
        secs(run.import_time),
        run.summary["seconds"],
        secs(ingest_time),
        secs(bound),
        secs(started.elapsed())
    );
    assert!(
        run.import_time < bound,
        "the import took {} beside readers, its ingests {} alone",
        secs(run.import_time),
        secs(ingest_time)
    );
}

// ---------------------------------------------------------------------------
// 2. One writer at a time

fn line(tag: &str, c: char, at: &str) -> String {
    json!({
        "repository": "docker.io/library/nginx",
        "tag": tag,
        "digest": format!("sha256:{}", c.to_string().repeat(64)),
        "observed_at": at,
    })
    .to_string()
        + "\n"
}

fn pid_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".writer");
    PathBuf::from(name)
}

fn observations_in(db: &Path) -> Option<u64> {
    let out = cli(db, &["stats"], "");
    if !out.status.success() {
        return None;
    }
    let stats: Value = serde_json::from_slice(&out.stdout).ok()?;
    stats["observations"].as_u64()
}

fn assert_in_use(p: &Value, pid: u32, what: &str) {
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("is in use by another writer (pid {pid})")),
        "{what}: {p}"
    );
    assert_eq!(p["status"], json!(423), "{what}: {p}");
}

#[test]
fn a_second_writer_is_refused_with_the_writers_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ledger.redb");
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, line("1.0", 'c', "2024-03-01T00:00:00Z")).expect("write");

    // The writer: an import from a pipe that stays open, one commit per line.
    let mut writer = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_ACTOR")
        .arg("--db")
        .arg(&db)
        .args(["import", "-", "--batch", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let pid = writer.id();
    let mut feed = writer.stdin.take().expect("piped stdin");
    feed.write_all(line("latest", 'a', "2024-01-01T00:00:00Z").as_bytes())
        .and_then(|()| feed.flush())
        .expect("feed the writer");
    let pid_text = eventually("the writer's pid file", || {
        std::fs::read_to_string(pid_file(&db))
            .ok()
            .filter(|t| t.trim() == pid.to_string())
    });
    // A reader in a third process sees the first commit while the writer
    // still holds the file.
    eventually("the first commit", || {
        (observations_in(&db)? == 1).then_some(())
    });

    // Second writers, through the command line and the library: refused,
    // with the writer's pid, changing nothing.
    let p = problem(&db, &["import", other.to_str().expect("utf-8 path")], "");
    assert_in_use(&p, pid, "import");
    let body = json!({"repository": "docker.io/library/nginx", "tag": "x",
        "artifact": format!("sha256:{}", "d".repeat(64))});
    assert_in_use(
        &problem(&db, &["tag", "create"], &body.to_string()),
        pid,
        "tag create",
    );
    assert_in_use(&problem(&db, &["compact"], ""), pid, "compact");
    for open in [Ledger::open, Ledger::create] {
        match open(&db) {
            Err(Error::InUse { path, pid: Some(p) }) => {
                assert_eq!((path, p), (db.clone(), pid));
            }
            other => panic!("a second writer in this process: {other:?}"),
        }
    }
    // Readers meanwhile: read-only queries answer, and follow the writer.
    let found = ok(&db, &["lookup", &format!("sha256:{}", "a".repeat(64))], "");
    assert_eq!(
        found["matches"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    let reader = Ledger::open_read_only(&db).expect("a reader beside the writer");
    assert_eq!(reader.stats().expect("stats").counts.observations, 1);
    feed.write_all(line("latest", 'b', "2024-02-01T00:00:00Z").as_bytes())
        .and_then(|()| feed.flush())
        .expect("feed the writer");
    eventually("the second commit", || {
        (observations_in(&db)? == 2).then_some(())
    });
    assert_eq!(reader.stats().expect("stats").counts.observations, 2);
    let tag = ok(&db, &["tag", "get", "nginx:latest"], "");
    assert_eq!(
        tag["artifact"],
        json!(format!("sha256:{}", "b".repeat(64))),
        "{tag}"
    );
    let missing = problem(&db, &["tag", "get", "nginx:x"], "");
    assert_eq!(
        missing["status"],
        json!(404),
        "the refused tag create wrote: {missing}"
    );
    // Neither the refused writers nor the readers touched the pid file.
    assert_eq!(
        std::fs::read_to_string(pid_file(&db)).ok().as_deref(),
        Some(pid_text.as_str())
    );

    // The writer ends cleanly, takes its pid file with it, and the next
    // writer is let in.
    drop(feed);
    let status = wait_until(&mut writer, Instant::now() + PATIENCE, "the writer");
    let mut stdout = String::new();
    writer
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .ok();
    assert!(status.success(), "writer: {status}: {stdout}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("writer summary");
    assert_eq!(summary["observations"], json!(2), "{summary}");
    assert!(!pid_file(&db).exists(), "the writer's pid file outlived it");
    drop(reader);
    ok(&db, &["import", other.to_str().expect("utf-8 path")], "");
    assert_eq!(observations_in(&db), Some(3));
    assert!(!pid_file(&db).exists());
}

/// A writer killed mid-import (`SIGKILL`, no chance to clean up) leaves the
/// batches it committed, whole: once the next writer has opened the file
/// (redb repairs it then), it holds a committed prefix no shorter than what a
/// reader saw before the kill, the stale pid file keeps nobody out, and
/// importing everything again completes the ledger.
#[test]
fn a_killed_import_leaves_whole_batches_and_lets_the_next_writer_in() {
    let data = load("the bundled sample".to_owned(), &[sample_file()]);
    let n = data.observations.len();
    let batch = 5;
    let probes = probes(&data.observations);
    let dir = tempfile::tempdir().expect("tempdir");
    let (prefixes, _) = prefixes(dir.path(), &data, batch, &probes);

    let db = dir.path().join("ledger.redb");
    drop(Ledger::create(&db).expect("create the ledger"));
    let file = dir.path().join("input.jsonl");
    std::fs::write(&file, data.lines.join("\n") + "\n").expect("write input");
    let reader = Ledger::open_read_only(&db).expect("a reader");
    let mut import = spawn_import(&db, &file, batch);
    let seen = eventually("a third of the import", || {
        let state = state_of(&reader.snapshot().ok()?, &probes).ok()?;
        (state.counts.observations >= n as u64 / 3).then_some(state)
    });
    import.kill().expect("kill the import");
    let exit = import.wait().expect("wait for the import");
    assert!(!exit.success(), "the import ended before it was killed");
    let k_seen = prefixes
        .find(0, |s| *s == seen)
        .expect("a committed prefix");

    // Readers after the crash, before any writer: the one that was open
    // still answers, with a committed prefix; a new one, in this process or
    // a query process, answers one too or is told the file needs a repair
    // that only a writer makes (what redb does today).
    let held = state_of(&reader.snapshot().expect("held snapshot"), &probes).expect("held");
    let k_held = prefixes
        .find(k_seen, |s| *s == held)
        .unwrap_or_else(|| panic!("held reader: no prefix at or after {k_seen}: {held:?}"));
    match Ledger::open_read_only(&db).and_then(|l| state_of(&l.snapshot()?, &probes)) {
        Ok(state) => assert_eq!(state, held, "a new reader after the kill"),
        Err(Error::RepairRequired { .. }) => {}
        Err(e) => panic!("a new reader after the kill: {e:?}"),
    }
    let query = cli(&db, &["stats"], "");
    if query.status.success() {
        let stats: Value = serde_json::from_slice(&query.stdout).expect("stats JSON");
        assert_eq!(tally(&stats), held.counts);
    } else {
        let p = problem_of(&query, "stats after the kill");
        assert!(
            p["detail"]
                .as_str()
                .is_some_and(|d| d.contains("needs a repair")),
            "{p}"
        );
    }
    drop(reader);

    // The next writer: let in despite the stale pid file, and what any
    // reader saw is still there, whole.
    let writer = Ledger::open(&db).expect("the next writer is let in");
    let after = state_of(&writer.snapshot().expect("snapshot"), &probes).expect("state");
    let k = prefixes
        .find(k_held, |s| *s == after)
        .unwrap_or_else(|| panic!("not a committed prefix at or after {k_held}: {after:?}"));
    println!(
        "killed after a reader saw {k_seen} of {} batches; it then saw {k_held}; the next writer \
         found {k}",
        prefixes.last()
    );
    drop(writer);
    assert!(!pid_file(&db).exists());
    ok(&db, &["import", file.to_str().expect("utf-8 path")], "");
    let reader = Ledger::open_read_only(&db).expect("a reader");
    let done = state_of(&reader.snapshot().expect("snapshot"), &probes).expect("state");
    assert_eq!(done, prefixes.states[prefixes.last()]);
}

// ---------------------------------------------------------------------------
// 3. Queries never write

/// Everything a write would change: the bytes, the mtime, and the directory.
#[derive(Debug, PartialEq, Eq)]
struct FileState {
    hash: blake3::Hash,
    modified: SystemTime,
    len: u64,
    dir: BTreeSet<std::ffi::OsString>,
}

fn file_state(db: &Path) -> FileState {
    let meta = std::fs::metadata(db).expect("metadata");
    FileState {
        hash: blake3::hash(&std::fs::read(db).expect("read the ledger")),
        modified: meta.modified().expect("mtime"),
        len: meta.len(),
        dir: std::fs::read_dir(db.parent().expect("parent"))
            .expect("read dir")
            .map(|e| e.expect("dir entry").file_name())
            .collect(),
    }
}

/// Every read-only command, each of which must succeed.
fn run_every_query(db: &Path, o: &Observation) {
    let digest = o.digest.to_string();
    let tag = o.tag.to_string();
    let repo = o.tag.repository().to_string();
    let at = o.observed_at.to_rfc3339();
    let reference = format!("{tag}@{digest}");
    let found = ok(db, &["lookup", &digest], "");
    assert!(
        !found["matches"].as_array().expect("matches").is_empty(),
        "{found}"
    );
    let page = ok(db, &["history", &tag, "--limit", "1"], "");
    if let Some(next) = page["next"].as_str() {
        ok(db, &["history", &tag, "--limit", "1", "--cursor", next], "");
    }
    ok(db, &["history", &tag], "");
    ok(db, &["at", &tag, &at], "");
    ok(db, &["classify", &tag, "--digest", &digest], "");
    ok(
        db,
        &["classify", "-"],
        &(json!({"image": tag, "digest": digest}).to_string() + "\n"),
    );
    ok(db, &["stats"], "");
    ok(db, &["repo", "get", &repo], "");
    ok(db, &["repo", "list"], "");
    ok(db, &["tag", "get", &tag], "");
    ok(db, &["tag", "list", &repo], "");
    ok(db, &["ref", "get", &reference], "");
    ok(db, &["ref", "list", &tag], "");
}

/// On Linux, the descriptors this process holds on `db` must all be opened
/// read-only: that holds for root too, whom file permissions do not stop.
#[cfg(target_os = "linux")]
fn assert_opened_read_only(db: &Path) {
    let db = db.canonicalize().expect("canonical path");
    let mut seen = 0;
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Ok(entry) = entry else { continue };
        if std::fs::read_link(entry.path()).ok().as_deref() != Some(db.as_path()) {
            continue;
        }
        let fdinfo = Path::new("/proc/self/fdinfo").join(entry.file_name());
        let Ok(info) = std::fs::read_to_string(&fdinfo) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .expect("flags in fdinfo");
        assert_eq!(
            flags & 0o3,
            0,
            "{} is open with flags {flags:o}",
            db.display()
        );
        seen += 1;
    }
    assert!(seen > 0, "no descriptor on {}", db.display());
}

#[cfg(not(target_os = "linux"))]
fn assert_opened_read_only(_: &Path) {}

#[test]
fn queries_never_write_to_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ledger.redb");
    let sample = sample_file();
    ok(&db, &["import", sample.to_str().expect("utf-8 path")], "");
    let first: Observation = {
        let mut l = String::new();
        BufReader::new(MultiGzDecoder::new(File::open(&sample).expect("sample")))
            .read_line(&mut l)
            .expect("a line");
        serde_json::from_str(&l).expect("an observation")
    };
    let before = file_state(&db);
    // Filesystems with coarse timestamps would hide a write made in the same
    // tick as the import.
    thread::sleep(Duration::from_millis(20));

    run_every_query(&db, &first);
    {
        let reader = Ledger::open_read_only(&db).expect("open read-only");
        let snap = reader.snapshot().expect("snapshot");
        assert!(
            !snap
                .tags_for_digest(&first.digest)
                .expect("lookup")
                .is_empty()
        );
        assert_opened_read_only(&db);
    }
    assert_eq!(file_state(&db), before, "a query changed the file");

    // A read-only file in a read-only directory: every query still answers
    // (and as root, where permissions stop nothing, still writes nothing).
    let set_readonly = |p: &Path, ro: bool| {
        let mut perms = std::fs::metadata(p).expect("metadata").permissions();
        perms.set_readonly(ro);
        std::fs::set_permissions(p, perms).expect("chmod");
    };
    set_readonly(&db, true);
    set_readonly(dir.path(), true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_every_query(&db, &first);
        assert_eq!(
            Ledger::open_read_only(&db)
                .expect("open read-only")
                .stats()
                .expect("stats")
                .counts,
            Ledger::open_read_only(&db)
                .expect("again")
                .stats()
                .expect("stats")
                .counts
        );
    }));
    set_readonly(dir.path(), false);
    set_readonly(&db, false);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    let after = file_state(&db);
    assert_eq!(after, before, "a query on a read-only file changed it");
}

/// Guards the creation window: a reader that opens the file while the first
/// writer is still making it used to be told the file "is not an ociledger
/// database" (an empty file, or a redb file without tables yet), a
/// permanent-sounding error for a classifier started beside its first
/// import. A new ledger now appears whole (made under a temporary name and
/// linked into place): a reader sees no file, or a ledger.
#[test]
fn a_reader_never_sees_a_half_created_ledger() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("one.jsonl");
    std::fs::write(&input, line("latest", 'a', "2024-01-01T00:00:00Z")).expect("write input");
    let mut opens = 0;
    for round in 0..30 {
        let db = dir.path().join(format!("r{round}.redb"));
        let mut writer = spawn_import(&db, &input, 1);
        loop {
            let done = writer.try_wait().expect("poll import").is_some();
            match Ledger::open_read_only(&db) {
                Ok(_) => opens += 1,
                Err(Error::NotFound { .. }) => {}
                Err(e) => panic!("round {round}: a reader of a ledger being created got {e:?}"),
            }
            if done {
                break;
            }
        }
        assert!(writer.wait().expect("import").success());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.contains("creating"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files left behind: {leftovers:?}"
        );
    }
    assert!(opens > 0, "the readers never found a ledger");
}
