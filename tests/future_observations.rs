//! Observations dated in the future (issue 13).
//!
//! Guards against the bug where an observation dated 2099 was accepted and
//! then locked its tag: it became the tag's last observation, so every later
//! `tag update` and `tag delete` (at the ledger's own time, before it) failed
//! with "invalid clock". Now anything later than the ledger's clock plus
//! `MAX_CLOCK_SKEW` is refused: by `Ledger::ingest` (the whole batch, nothing
//! written), by `Ledger::record_scan`, and by `ociledger import` as a bad line
//! (reported with its line number and skipped; the other lines are written).
//!
//! Library tests use a `FixedClock`; the CLI runs on the system clock, so
//! its future line is 2099. Each test takes well under a second (the CLI
//! ones run the binary four to six times on a few lines).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::TimeDelta;
use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::{FixedClock, Observation, TagBody, Timestamp};
use ociledger::{Error, Ledger, MAX_CLOCK_SKEW, ScanBatch};
use serde_json::Value;

const NOW: &str = "2025-01-01T00:00:00Z";

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn d(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

fn tag(s: &str) -> TagId {
    s.parse().expect("test tag")
}

fn obs(tag_id: &str, n: u8, at: Timestamp) -> Observation {
    Observation::new(tag(tag_id), d(n), at)
}

/// A ledger whose clock shows [`NOW`], with `nginx:latest` observed a day
/// before it.
fn ledger() -> (Ledger, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(t(NOW)));
    let l = Ledger::in_memory()
        .expect("ledger")
        .with_clock(clock.clone());
    l.ingest(
        "scanner",
        &[obs("nginx:latest", 1, t(NOW) - TimeDelta::days(1))],
    )
    .expect("ingest of the past");
    (l, clock)
}

/// Everything the ledger holds, to compare before and after a refusal.
fn state(l: &Ledger) -> String {
    let snap = l.snapshot().expect("snapshot");
    format!(
        "{:?} {:?} {:?}",
        snap.counts().expect("counts"),
        l.repositories(None, 100).expect("repositories"),
        l.history(&tag("nginx:latest"), None, 100).expect("history"),
    )
}

/// The refusal `ingest` and `record_scan` must give: where, the time quoted,
/// the limit and the clock's time in the message.
fn assert_future(err: Error, want_location: &str, at: &str) {
    match err {
        Error::Invalid {
            location,
            message,
            value,
        } => {
            assert_eq!(location, want_location);
            assert_eq!(value.as_deref(), Some(at));
            assert!(message.contains(at), "the time quoted: {message}");
            assert!(message.contains(NOW), "the clock's time: {message}");
            assert!(message.contains("5 minutes"), "the allowance: {message}");
        }
        other => panic!("expected Invalid at {want_location}, got {other:?}"),
    }
}

/// Guards against a future observation being written (and locking its tag):
/// the whole batch is refused naming the item, nothing changes, and the tag
/// still takes API writes.
#[test]
fn an_observation_dated_2099_is_refused_and_the_tag_stays_writable() {
    let (l, clock) = ledger();
    let before = state(&l);
    let batch = [
        obs("redis:7", 2, t(NOW)),
        obs("nginx:latest", 3, t("2099-01-01T00:00:00Z")),
    ];
    let err = l.ingest("scanner", &batch).expect_err("2099 refused");
    assert_future(err, "observation 1: observed_at", "2099-01-01T00:00:00Z");
    assert_eq!(state(&l), before, "a refused batch writes nothing");
    assert!(matches!(
        l.get_tag(&tag("redis:7")),
        Err(Error::NotFound { .. })
    ));

    let id = tag("nginx:latest");
    let updated = l
        .update_tag("alice", &id, &TagBody::new(&id, d(4)))
        .expect("tag update after the refusal");
    assert_eq!(updated.artifact, d(4));
    clock.advance(TimeDelta::seconds(1));
    l.delete_tag("alice", &id)
        .expect("tag delete after the refusal");
}

/// Guards the limit itself: up to the clock plus `MAX_CLOCK_SKEW` is
/// accepted (a scanner's clock may run a little ahead), one second more is
/// not.
#[test]
fn observations_up_to_the_clock_plus_the_skew_are_accepted_and_one_second_more_is_not() {
    assert_eq!(
        MAX_CLOCK_SKEW,
        TimeDelta::minutes(5),
        "the documented value"
    );
    let (l, _clock) = ledger();
    let limit = t(NOW) + MAX_CLOCK_SKEW;
    let second = TimeDelta::seconds(1);
    l.ingest("scanner", &[obs("nginx:latest", 2, limit - second)])
        .expect("the clock plus the skew minus 1 s is accepted");
    l.ingest("scanner", &[obs("nginx:latest", 3, limit)])
        .expect("the clock plus the skew is accepted");
    let before = state(&l);
    let over = limit + second;
    let err = l
        .ingest("scanner", &[obs("nginx:latest", 4, over)])
        .expect_err("1 s more is refused");
    assert_future(err, "observation 0: observed_at", "2025-01-01T00:05:01Z");
    assert_eq!(state(&l), before);
    assert!(l.check_observed_at(limit).is_ok());
    assert!(l.check_observed_at(over).is_err());
}

/// Guards against the check reading another clock than the ledger's: the
/// same observation is refused, then accepted once the clock has moved.
#[test]
fn the_limit_follows_the_ledgers_clock() {
    let (l, clock) = ledger();
    let at = t("2025-01-01T01:00:00Z");
    assert!(l.ingest("scanner", &[obs("nginx:latest", 2, at)]).is_err());
    clock.set(at - MAX_CLOCK_SKEW);
    l.ingest("scanner", &[obs("nginx:latest", 2, at)])
        .expect("accepted at clock + skew");
}

/// Guards `record_scan`, whose times come from a scanner: a future scan time
/// (it dates deletions and `last_scanned_on`) and a future observation are
/// refused, naming which, and nothing is written.
#[test]
fn record_scan_refuses_a_future_scan_time_and_a_future_observation() {
    let (l, _clock) = ledger();
    let repository: RepositoryId = "nginx".parse().expect("repository");
    let before = state(&l);
    let scan = |scanned_at: Timestamp, observed_at: Timestamp| ScanBatch {
        repository: repository.clone(),
        scanned_at,
        listed: ["latest".to_owned()].into(),
        observations: vec![obs("nginx:latest", 5, observed_at)],
    };
    let future = t("2099-01-01T00:00:00Z");
    let err = l
        .record_scan("scanner", &scan(future, t(NOW)))
        .expect_err("future scan time");
    assert_future(err, "scanned_at", "2099-01-01T00:00:00Z");
    let err = l
        .record_scan("scanner", &scan(t(NOW), future))
        .expect_err("future observation");
    assert_future(err, "observation 0: observed_at", "2099-01-01T00:00:00Z");
    assert_eq!(state(&l), before);
    l.record_scan("scanner", &scan(t(NOW), t(NOW)))
        .expect("a scan now is accepted");
}

// ---------------------------------------------------------------------------
// The CLI.
// ---------------------------------------------------------------------------

fn ociledger(db: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_ACTOR")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ociledger");
    let mut input = child.stdin.take().expect("stdin");
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().expect("ociledger output")
}

fn json(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn line(tag_name: &str, hex: char, at: &str) -> String {
    format!(
        r#"{{"repository":"nginx","tag":"{tag_name}","digest":"sha256:{}","observed_at":"{at}"}}"#,
        hex.to_string().repeat(64)
    )
}

fn import_file(dir: &Path) -> PathBuf {
    let path = dir.join("events.jsonl");
    let text = [
        line("latest", 'a', "2024-01-01T00:00:00Z"),
        line("latest", 'b', "2099-01-01T00:00:00Z"),
        "not an observation".to_owned(),
        line("stable", 'c', "2024-01-02T00:00:00Z"),
    ]
    .join("\n");
    std::fs::write(&path, text).expect("write events");
    path
}

/// Guards against `import` writing a future line, or failing its whole batch
/// for it: the line is reported with its number and skipped, the others are
/// written, and the tag it named still takes `tag update` and `tag delete`.
/// The line is checked when it is read, before it joins a batch, so bad
/// lines are reported in line order (a refusal at the batch's write came
/// after the batch's later unparsable lines).
#[test]
fn import_skips_a_line_dated_2099_and_the_tag_stays_writable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("ledger.redb");
    let file = import_file(dir.path());
    let out = ociledger(&db, &["import", file.to_str().expect("path")], "");
    assert_eq!(out.status.code(), Some(1), "a bad line exits 1");
    let summary = &json(&out.stdout)[0];
    assert_eq!(
        (
            &summary["observations"],
            &summary["skipped"],
            &summary["lines"]
        ),
        (&Value::from(2), &Value::from(2), &Value::from(4)),
        "{summary}"
    );
    let problems = json(&out.stderr);
    let locations: Vec<&Value> = problems
        .iter()
        .map(|p| &p["errors"][0]["location"])
        .collect();
    assert_eq!(locations, ["line 2: observed_at", "line 3"], "{problems:?}");
    let e = &problems[0]["errors"][0];
    assert_eq!(e["value"], "2099-01-01T00:00:00Z", "{e}");

    let stats = &json(&ociledger(&db, &["stats"], "").stdout)[0];
    assert_eq!(stats["observations"], 2, "{stats}");
    let body = format!(
        r#"{{"repository":"nginx","tag":"latest","artifact":"sha256:{}"}}"#,
        "d".repeat(64)
    );
    let updated = ociledger(&db, &["tag", "update", "nginx:latest"], &body);
    assert!(
        updated.status.success(),
        "tag update: {}",
        String::from_utf8_lossy(&updated.stderr)
    );
    let deleted = ociledger(&db, &["tag", "delete", "nginx:latest"], "");
    assert!(
        deleted.status.success(),
        "tag delete: {}",
        String::from_utf8_lossy(&deleted.stderr)
    );
}

/// Guards `--strict`: a future line is a bad line there too, the first one
/// (line 2, before the unparsable line 3), and nothing is written.
#[test]
fn strict_import_of_a_line_dated_2099_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("ledger.redb");
    let file = import_file(dir.path());
    let out = ociledger(
        &db,
        &["import", "--strict", file.to_str().expect("path")],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let problems = json(&out.stderr);
    assert_eq!(problems[0]["errors"][0]["location"], "line 2: observed_at");
    let stats = &json(&ociledger(&db, &["stats"], "").stdout)[0];
    assert_eq!(
        (&stats["observations"], &stats["tags"]),
        (&Value::from(0), &Value::from(0))
    );
}
