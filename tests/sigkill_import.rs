//! `ociledger import` killed with `SIGKILL` at random moments, again and
//! again, with real processes (issue 13): one ledger file, one import of the
//! whole history after another into it, each killed after a random delay
//! (during its start and open, the repair of the last crash, mid-batch, or
//! in a commit), then checked, and at the end one import left to finish.
//!
//! Guards against:
//!
//! - a killed writer leaving a torn batch or a file that no longer opens:
//!   after every kill the file holds the state of a committed prefix of whole
//!   batches (every row count of `ociledger stats` equal to those the library
//!   gives after the same first k batches, ingested in process in the same
//!   batches as the CLI's import makes them), read by a read-only `stats`
//!   process;
//! - a restart losing committed batches: the count never goes down from one
//!   kill to the next (a re-import from the start only adds);
//! - the stale `<db>.writer` pid file of a killed writer keeping the next
//!   writer out: every import not killed must succeed, the in-process repair
//!   (`Ledger::open`) is let in, and the final import completes;
//! - an import of the same history into the file a crash left behind ending
//!   with anything but the full history (the final count is the in-memory
//!   one), and `ociledger verify` (when the CLI has it) finding damage.
//!
//! A read-only open cannot repair a file a writer left unclean: `stats` then
//! says "needs a repair" (exit 1). That is accepted (redb cannot repair
//! without writing; `tests/multi_process.rs` accepts it too); half the time
//! the test then repairs the file (a writer `Ledger::open`, closed at once)
//! and reads the count, the other half it leaves the repair to the next
//! import, which may itself be killed during it.
//!
//! Data: the real histories of `../shared/data/` (208,521 observations,
//! batches of 500) under `CI=true` (they must then be present), else the
//! bundled `data/sample-events.jsonl.gz` (5,143, batches of 12); the test
//! prints which. Time: the kill loop runs `OCILEDGER_SIGKILL_SECONDS` (60
//! under `CI=true`, else 15) and at least 50 kills; then one import runs to
//! the end (25-40 s for the real histories, 4-5 s for the sample, debug
//! build). Measured on 2 shared cores: 91-107 s in all under `CI=true`,
//! 19-20 s otherwise (the in-memory prefixes, 2-3 s for the sample and
//! 38-51 s for the real histories, are computed beside the kill loop). The
//! seed is `OCILEDGER_SIGKILL_SEED` (printed).
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use ociledger::model::Observation;
use ociledger::{Error, Ledger};
use serde_json::Value;

const SECONDS_ENV: &str = "OCILEDGER_SIGKILL_SECONDS";
const SEED_ENV: &str = "OCILEDGER_SIGKILL_SEED";
/// The fewest kills the loop makes, however long that takes.
const MIN_KILLS: usize = 50;
/// How long one import or query may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(600);
/// The actor the CLI writes as when none is given.
const ACTOR: &str = "ociledger";
/// The CLI's longest accepted line (`src/bin/ociledger/lines.rs`).
const MAX_LINE_BYTES: usize = 1 << 20;

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// What is imported, and in batches of how many.
struct Data {
    source: &'static str,
    file: PathBuf,
    batch: usize,
}

/// The real histories (as one multi-member gzip file in `dir`, which the
/// CLI reads as one) under `CI=true`, else the bundled sample.
fn data(dir: &Path) -> Data {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data");
    let real = ["tag-events.jsonl.gz", "pinned-tag-history.jsonl.gz"].map(|f| shared.join(f));
    if !is_ci() {
        return Data {
            source: "the bundled data/sample-events.jsonl.gz (CI=true uses ../shared/data)",
            file: root.join("data/sample-events.jsonl.gz"),
            batch: 12,
        };
    }
    assert!(
        real.iter().all(|f| f.exists()),
        "under CI=true this test needs {} and {}",
        real[0].display(),
        real[1].display()
    );
    let file = dir.join("history.jsonl.gz");
    let mut bytes = Vec::new();
    for f in &real {
        bytes.extend(std::fs::read(f).expect("read a history file"));
    }
    std::fs::write(&file, bytes).expect("write the history file");
    Data {
        source: "the real histories in ../shared/data (tag-events + pinned-tag-history)",
        file,
        batch: 500,
    }
}

// ---------------------------------------------------------------------------
// The committed prefixes, in process

/// The input as the CLI reads it (`src/bin/ociledger/lines.rs`): gzip when
/// it starts with the gzip magic (every member), else plain.
fn open_input(path: &Path) -> Box<dyn BufRead> {
    let mut file = BufReader::new(File::open(path).expect("open the input"));
    if file
        .fill_buf()
        .expect("read the input")
        .starts_with(&[0x1f, 0x8b])
    {
        Box::new(BufReader::new(MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    }
}

/// `observation 3: digest` → 3: the item of a batch `ingest` refused.
fn refused_item(location: &str) -> Option<usize> {
    location
        .strip_prefix("observation ")?
        .split_once(": ")?
        .0
        .parse()
        .ok()
}

/// One batch, as the CLI's `write_batch` writes it: an item the ledger
/// refuses is left out and the rest written.
fn write_batch(ledger: &Ledger, batch: &mut Vec<Observation>) {
    while !batch.is_empty() {
        match ledger.ingest(ACTOR, batch) {
            Ok(_) => return,
            Err(Error::Invalid { location, .. })
                if refused_item(&location).is_some_and(|i| i < batch.len()) =>
            {
                batch.remove(refused_item(&location).unwrap_or_default());
            }
            Err(e) => panic!("the in-memory ingest failed where the import would fail: {e}"),
        }
    }
}

/// The counts of `stats` (as JSON, the CLI's field names) after each whole
/// batch: `[k]` after the first k batches. The batches are the import's
/// (`src/bin/ociledger/import.rs`, without `--strict`): every line that
/// parses as an observation, in order, `batch` at a time and the rest at
/// the end; blank lines, lines over 1 MiB, lines that are not UTF-8 and
/// lines that are not an observation are skipped.
fn prefix_counts(file: &Path, batch_size: usize) -> Vec<Value> {
    let ledger = Ledger::in_memory().expect("an in-memory ledger");
    let counts = |l: &Ledger| serde_json::to_value(l.stats().expect("stats").counts).expect("json");
    let mut prefixes = vec![counts(&ledger)];
    let mut input = open_input(file);
    let mut batch = Vec::with_capacity(batch_size);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).expect("read a line") == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        if buf.len() > MAX_LINE_BYTES {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let Ok(o) = serde_json::from_str::<Observation>(text) else {
            continue;
        };
        batch.push(o);
        if batch.len() == batch_size {
            write_batch(&ledger, &mut batch);
            batch.clear();
            prefixes.push(counts(&ledger));
        }
    }
    if !batch.is_empty() {
        write_batch(&ledger, &mut batch);
        prefixes.push(counts(&ledger));
    }
    prefixes
}

/// Whether `stats` (the CLI's JSON) shows exactly the counts of `prefix`.
fn same_counts(stats: &Value, prefix: &Value) -> bool {
    prefix
        .as_object()
        .is_some_and(|p| p.iter().all(|(k, v)| stats.get(k) == Some(v)))
}

fn observations(stats: &Value) -> u64 {
    stats["observations"]
        .as_u64()
        .unwrap_or_else(|| panic!("stats without an observation count: {stats}"))
}

// ---------------------------------------------------------------------------
// Processes

fn ociledger(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ociledger"));
    c.env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_ACTOR")
        .arg("--db")
        .arg(db)
        .stdin(Stdio::null());
    c
}

fn spawn_import(db: &Path, data: &Data, stderr: &Path) -> Child {
    ociledger(db)
        .arg("import")
        .arg(&data.file)
        .args(["--batch", &data.batch.to_string()])
        .stdout(Stdio::null())
        .stderr(File::create(stderr).expect("stderr file"))
        .spawn()
        .expect("spawn ociledger import")
}

/// Runs a query to its end (killed, and failing, past [`PATIENCE`]).
fn run(db: &Path, args: &[&str]) -> Output {
    let mut child = ociledger(db)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ociledger");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = thread::spawn(move || {
        stderr.read_to_end(&mut err).ok();
        err
    });
    stdout.read_to_end(&mut out).ok();
    let status = wait(&mut child, Instant::now() + PATIENCE, &format!("{args:?}"));
    Output {
        status,
        stdout: out,
        stderr: reader.join().expect("stderr reader"),
    }
}

fn wait(child: &mut Child, deadline: Instant, what: &str) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{what} did not finish in time; killed");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

/// The process whose pid the writer's pid file names, if any.
fn pid_in(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// Whether the main thread of `pid` is in `fsync`/`fdatasync` (a commit),
/// from `/proc/<pid>/syscall`; `None` where that cannot be told.
fn in_sync(pid: u32) -> Option<bool> {
    let (fsync, fdatasync) = if cfg!(target_arch = "x86_64") {
        ("74", "75")
    } else if cfg!(target_arch = "aarch64") {
        ("82", "83")
    } else {
        return None;
    };
    let s = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let call = s.split_whitespace().next()?;
    Some(call == fsync || call == fdatasync)
}

/// xorshift64*: a seeded, dependency-free random source.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        f64::from(u32::try_from(self.next() >> 32).unwrap_or(0)) / 4_294_967_296.0
    }
}

/// What one killed import left behind, as a read-only `stats` saw it.
enum After {
    /// No file yet: killed before the first import created it.
    NoFile,
    /// `stats` answered at once.
    Clean(Value),
    /// `stats` said the file needs a repair; a writer repaired it and then
    /// `stats` answered.
    Repaired(Value),
    /// `stats` said the file needs a repair, left to the next import.
    Dirty,
}

fn needs_repair(out: &Output) -> bool {
    out.status.code() == Some(1) && text(&out.stderr).contains("needs a repair")
}

/// Reads the file after a kill: `stats`, and when it needs a repair,
/// perhaps the repair (`repair`) and `stats` again.
fn after_kill(db: &Path, repair: bool, file_seen: bool) -> After {
    if !db.exists() {
        assert!(!file_seen, "the ledger file disappeared after a kill");
        return After::NoFile;
    }
    let out = run(db, &["stats"]);
    if out.status.success() {
        return After::Clean(serde_json::from_slice(&out.stdout).expect("stats prints JSON"));
    }
    assert!(
        needs_repair(&out),
        "stats after a kill: {}: {}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    if !repair {
        return After::Dirty;
    }
    // The stale pid file must not keep this writer out either.
    drop(Ledger::open(db).unwrap_or_else(|e| panic!("a writer repairing the file: {e:?}")));
    let out = run(db, &["stats"]);
    assert!(
        out.status.success(),
        "stats after the repair: {}: {}",
        out.status,
        text(&out.stderr)
    );
    After::Repaired(serde_json::from_slice(&out.stdout).expect("stats prints JSON"))
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// One kill, for the checks at the end and the printout.
struct Kill {
    delay: Duration,
    /// When the import had opened the ledger (its pid file named it), if it
    /// had before the kill.
    opened: Option<Duration>,
    in_sync: Option<bool>,
    stale_pid_at_start: bool,
    after: After,
}

impl Kill {
    fn counts(&self) -> Option<&Value> {
        match &self.after {
            After::Clean(v) | After::Repaired(v) => Some(v),
            After::NoFile | After::Dirty => None,
        }
    }
}

/// Whether `ociledger --help` lists a `verify` command.
fn has_verify() -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .arg("--help")
        .output()
        .expect("ociledger --help");
    text(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some("verify"))
}

/// The kill loop's settings.
struct Plan {
    budget: Duration,
    seed: u64,
}

impl Plan {
    fn from_env() -> Self {
        let budget = Duration::from_secs_f64(
            std::env::var(SECONDS_ENV)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(if is_ci() { 60.0 } else { 15.0 }),
        );
        let seed = std::env::var(SEED_ENV)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0x5eed_0013)
            .max(1);
        Self { budget, seed }
    }
}

/// The paths of one ledger under test.
struct Files {
    db: PathBuf,
    pid_file: PathBuf,
    stderr: PathBuf,
}

/// Starts an import, kills it after `delay` (unless it ends first) and
/// returns the kill, or `None` when it ended on its own (successfully: a
/// failure fails the test).
fn kill_one(files: &Files, data: &Data, delay: Duration) -> Option<Kill> {
    let stale_pid_at_start = files.pid_file.exists();
    let t = Instant::now();
    let mut child = spawn_import(&files.db, data, &files.stderr);
    let deadline = t + delay;
    let mut opened = None;
    let mut exited = None;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            exited = Some(status);
            break;
        }
        if opened.is_none() && pid_in(&files.pid_file) == Some(child.id()) {
            opened = Some(t.elapsed());
        }
        thread::sleep(Duration::from_millis(2));
    }
    let sync = in_sync(child.id());
    child.kill().ok();
    let status = match exited {
        Some(s) => s,
        None => child.wait().expect("wait for the import"),
    };
    if status.signal().is_none() {
        // It ended on its own: only a whole import may do that (a stale pid
        // file would show here as "in use by another writer").
        assert!(
            status.success(),
            "an import failed: {status}: {}",
            std::fs::read_to_string(&files.stderr).unwrap_or_default()
        );
        println!("an import finished within {} ms", ms(delay));
        return None;
    }
    Some(Kill {
        delay,
        opened,
        in_sync: sync,
        stale_pid_at_start,
        after: After::NoFile,
    })
}

/// Kills imports until the budget is spent and at least [`MIN_KILLS`] were
/// made, checking the file after each.
fn kill_loop(files: &Files, data: &Data, plan: &Plan, started: Instant) -> Vec<Kill> {
    let budget = plan.budget;
    let mut rng = Rng(plan.seed);
    // A third of the kills fall in the import's start (reading and checking
    // the input, opening and repairing the file: `open` is a running
    // estimate of how long that takes), the rest after it: mostly short
    // runs, and every tenth a long one (3 %, 6 %, … up to 15 % of the
    // budget), so the file grows further than a short run reaches (each
    // restart imports from the start again).
    let short = budget / 100;
    let mut open = Duration::from_millis(100);
    let mut kills: Vec<Kill> = Vec::new();
    // The shortest delay an import finished within: later delays stay
    // below it. Without it a fast machine finishes every long run (the
    // same kill number draws the long delay again) and the loop never
    // reaches its minimum of kills.
    let mut finishes_within: Option<Duration> = None;
    let mut last_observations = 0;
    let mut file_seen = false;
    while kills.len() < MIN_KILLS || started.elapsed() < budget {
        assert!(
            started.elapsed() < budget * 4 + Duration::from_secs(60),
            "only {} kills in {:.0} s",
            kills.len(),
            started.elapsed().as_secs_f64()
        );
        let n = kills.len() + 1;
        let delay = if n.is_multiple_of(10) {
            let j = u32::try_from(n / 10).unwrap_or(5).min(5);
            budget.mul_f64(0.03 * f64::from(j) * (0.8 + 0.4 * rng.unit()))
        } else if rng.unit() < 1.0 / 3.0 {
            open.mul_f64(rng.unit())
        } else {
            let mid = short.saturating_sub(open).max(Duration::from_millis(20));
            open + mid.mul_f64(2.0 * rng.unit())
        };
        // Past the minimum of kills, no run outlasts the budget by much.
        let delay = if n >= MIN_KILLS {
            delay.min(budget.saturating_sub(started.elapsed()).max(short))
        } else {
            delay
        };
        let delay = finishes_within.map_or(delay, |f| delay.min(f.mul_f64(0.9 * rng.unit())));
        let Some(mut kill) = kill_one(files, data, delay) else {
            finishes_within = Some(finishes_within.map_or(delay, |f| f.min(delay)));
            continue;
        };
        if let Some(o) = kill.opened {
            open = open.mul_f64(0.7) + o.mul_f64(0.3);
        }
        // The last kill's file is left to the final import to repair.
        let ending = n >= MIN_KILLS && started.elapsed() >= budget;
        kill.after = after_kill(&files.db, !ending && rng.unit() < 0.5, file_seen);
        file_seen |= !matches!(kill.after, After::NoFile);
        let shown = match &kill.after {
            After::NoFile => "no file yet".to_owned(),
            After::Dirty => "needs a repair (left to the next import)".to_owned(),
            After::Clean(v) => format!("{} observations", observations(v)),
            After::Repaired(v) => {
                format!("needs a repair; repaired: {} observations", observations(v))
            }
        };
        println!(
            "kill {n:2} at {:5} ms ({}{}): {shown}",
            ms(delay),
            kill.opened.map_or_else(
                || "before open".to_owned(),
                |o| format!("opened at {} ms", ms(o))
            ),
            if kill.in_sync == Some(true) {
                ", in fsync"
            } else {
                ""
            },
        );
        if let Some(v) = kill.counts() {
            let now = observations(v);
            assert!(
                now >= last_observations,
                "kill {n}: the observation count went down from {last_observations} to {now}"
            );
            last_observations = now;
        }
        kills.push(kill);
    }
    kills
}

/// Checks that every state a kill left is a committed prefix, never going
/// back; returns the prefix of each.
fn check_prefixes(kills: &[Kill], prefixes: &[Value]) -> Vec<usize> {
    let mut at = 0;
    let mut found = Vec::new();
    for (i, kill) in kills.iter().enumerate() {
        let Some(counts) = kill.counts() else {
            continue;
        };
        let Some(k) = (at..prefixes.len()).find(|&k| same_counts(counts, &prefixes[k])) else {
            let anywhere = (0..prefixes.len()).find(|&k| same_counts(counts, &prefixes[k]));
            panic!(
                "kill {} (at {} ms): the file holds no committed prefix at or after {at} \
                 (anywhere: {anywhere:?}; {} prefixes)\n  stats: {counts}\n  prefix {at}: {}",
                i + 1,
                ms(kill.delay),
                prefixes.len(),
                prefixes[at]
            );
        };
        at = k;
        found.push(k);
    }
    found
}

/// `ociledger verify` when the CLI has it: it must pass.
fn verify(db: &Path) -> String {
    if !has_verify() {
        return "verify: not available".to_owned();
    }
    let out = run(db, &["verify"]);
    assert!(
        out.status.success(),
        "verify after the kills: {}: {}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    format!("verify: ok ({})", text(&out.stdout))
}

fn summary(kills: &[Kill], loop_time: Duration) -> String {
    let count = |f: &dyn Fn(&Kill) -> bool| kills.iter().filter(|k| f(k)).count();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for k in kills {
        *outcomes
            .entry(match k.after {
                After::NoFile => "no file",
                After::Clean(_) => "clean",
                After::Repaired(_) => "repaired",
                After::Dirty => "left dirty",
            })
            .or_default() += 1;
    }
    format!(
        "{} kills in {:.1} s: {} before the import opened the file, {} after ({} in fsync); \
         {} started beside a stale pid file; after the kill: {outcomes:?}",
        kills.len(),
        loop_time.as_secs_f64(),
        count(&|k| k.opened.is_none()),
        count(&|k| k.opened.is_some()),
        count(&|k| k.in_sync == Some(true)),
        count(&|k| k.stale_pid_at_start),
    )
}

#[test]
fn import_killed_at_random_moments_leaves_whole_batches_and_completes() {
    // Guards against a SIGKILLed import tearing a batch, losing committed
    // batches, leaving a file that no longer opens, or a stale pid file that
    // keeps the next writer out.
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = data(dir.path());
    let plan = Plan::from_env();
    println!(
        "data: {}, batches of {}; kill loop {:.0} s ({SECONDS_ENV}) and at least {MIN_KILLS} \
         kills; seed {} ({SEED_ENV})",
        data.source,
        data.batch,
        plan.budget.as_secs_f64(),
        plan.seed
    );

    // The allowed states, computed meanwhile on another thread.
    let prefixes = {
        let (file, batch) = (data.file.clone(), data.batch);
        thread::spawn(move || {
            let t = Instant::now();
            (prefix_counts(&file, batch), t.elapsed())
        })
    };

    let files = Files {
        db: dir.path().join("ledger.redb"),
        pid_file: dir.path().join("ledger.redb.writer"),
        stderr: dir.path().join("import.stderr"),
    };
    let kills = kill_loop(&files, &data, &plan, started);
    let loop_time = started.elapsed();
    println!("{}", summary(&kills, loop_time));
    assert!(
        kills.iter().any(|k| k.opened.is_none()) && kills.iter().any(|k| k.opened.is_some()),
        "the kills should land both before and after the import opens the file"
    );

    // One import to the end, into what the last kill left.
    let stale = files.pid_file.exists();
    let t = Instant::now();
    let mut child = spawn_import(&files.db, &data, &files.stderr);
    let exit = wait(&mut child, t + PATIENCE, "the final import");
    let final_time = t.elapsed();
    assert!(
        exit.success(),
        "the final import (stale pid file: {stale}): {exit}: {}",
        std::fs::read_to_string(&files.stderr).unwrap_or_default()
    );
    assert!(
        !files.pid_file.exists(),
        "the final import left its pid file behind"
    );
    let out = run(&files.db, &["stats"]);
    assert!(
        out.status.success(),
        "stats after the final import: {}",
        text(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).expect("stats prints JSON");

    let (prefixes, prefix_time) = prefixes.join().expect("the prefix thread");
    let whole = prefixes.last().expect("at least the empty prefix");
    assert!(
        same_counts(&done, whole),
        "after the final import: {done}\nthe whole history in memory: {whole}"
    );
    let found = check_prefixes(&kills, &prefixes);
    let verified = verify(&files.db);
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list the directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("creating"))
        .collect();
    let mut distinct = found.clone();
    distinct.dedup();
    println!(
        "prefixes seen: {} distinct of {} (from {:?} to {:?}); final import {:.1} s to {} \
         observations (stale pid file at its start: {stale}); prefixes in memory {:.1} s; \
         creation leftovers: {leftovers:?}; {verified}; total {:.1} s",
        distinct.len(),
        prefixes.len(),
        found.first(),
        found.last(),
        final_time.as_secs_f64(),
        observations(&done),
        prefix_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
