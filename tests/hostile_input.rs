//! Input a hostile or careless user gives the command line: a damaged gzip,
//! non-UTF-8 and huge lines, JSON in the wrong shape, nonsense limits,
//! cursors and times. Each must get a clear, bounded error and change
//! nothing it should not.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(db: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ociledger");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn line(tag: &str, c: char, second: u32) -> String {
    format!(
        "{{\"repository\":\"example.com/app\",\"tag\":\"{tag}\",\"digest\":\"sha256:{}\",\"observed_at\":\"2024-01-01T00:00:{second:02}Z\"}}\n",
        c.to_string().repeat(64)
    )
}

fn observations(db: &Path) -> u64 {
    let out = run(db, &["stats"], b"");
    let v: Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
    v["observations"].as_u64().expect("a count")
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

/// Guards against committing garbage from a damaged `.gz`: deflate damage in
/// the middle yields well-formed but wrong lines before the CRC check at the
/// end fails, and with small batches those were committed (an invented
/// repository appeared). Now the whole input is checked first.
#[test]
fn a_damaged_gzip_imports_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("l.redb");
    assert!(
        run(&db, &["import", "-"], line("seed", 'a', 0).as_bytes())
            .status
            .success()
    );
    let text: String = (0..2000u32)
        .map(|i| line(&format!("t{i}"), 'b', i % 60))
        .collect();
    let mut damaged = gzip(&text);
    let n = damaged.len();
    for b in &mut damaged[n / 2..n / 2 + 4] {
        *b ^= 0x5a;
    }
    for batch in ["1", "10000"] {
        let out = run(&db, &["import", "-", "--batch", batch], &damaged);
        assert_eq!(out.status.code(), Some(1), "a damaged input fails");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(
            observations(&db),
            1,
            "nothing of a damaged input is committed"
        );
    }
}

/// Guards against one non-UTF-8 line aborting a whole import (it used to
/// give a 500 "storage: I/O error" with no line number): it is a bad line
/// with its number, like any other, and the good lines go in.
#[test]
fn a_non_utf8_line_is_a_bad_line_with_its_number() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("l.redb");
    let mut input = line("a", 'a', 0).into_bytes();
    input.extend_from_slice(b"{\"repository\":\"x\xff\"}\n");
    input.extend_from_slice(line("b", 'b', 1).as_bytes());
    let out = run(&db, &["import", "-"], &input);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary");
    assert_eq!(
        (
            summary["skipped"].as_u64(),
            summary["observations"].as_u64()
        ),
        (Some(1), Some(2))
    );

    // classify - reads lines the same way.
    let out = run(
        &db,
        &["classify", "-"],
        b"{\"image\":\"nginx\xff\"}\n{\"image\":\"nginx\"}\n",
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "the good line is still answered");
    assert_eq!(lines[0]["line"], 1);
}

/// Guards against huge inputs echoed back: a 10 MB line gave 21 MB of
/// stderr. Lines over 1 MiB are bad lines, and an error quotes at most about
/// 200 characters of any value.
#[test]
fn huge_lines_are_refused_and_errors_quote_little() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("l.redb");
    let huge = format!("{{\"repository\":\"{}\"}}\n", "r".repeat(10 << 20));
    let long_but_allowed = format!("{{\"repository\":\"{}\"}}\n", "q".repeat(500_000));
    let input = [
        huge.as_bytes(),
        long_but_allowed.as_bytes(),
        line("ok", 'c', 0).as_bytes(),
    ]
    .concat();
    let out = run(&db, &["import", "-"], &input);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.len() < 4_000,
        "{} bytes of errors",
        out.stderr.len()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1") && err.contains("longer than"),
        "{err}"
    );
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(observations(&db), 1);
}

/// Guards against a JSON array read as a record body (serde fills a
/// struct's fields by position from an array): bodies are objects.
#[test]
fn a_positional_array_is_not_a_record_body() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("l.redb");
    let body = br#"["docker.io", "nginx", "2024-01-01T00:00:00Z", null, null, null]"#;
    let out = run(&db, &["repo", "create"], body);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JSON object"));
    assert!(
        run(&db, &["repo", "list"], b"")
            .stdout
            .starts_with(b"{\"items\":[]")
    );
}

/// Guards against nonsense paging: `--limit 0` returned one item and a
/// garbage cursor listed from the start. Both are errors now.
#[test]
fn zero_limits_and_garbage_cursors_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("l.redb");
    assert!(
        run(&db, &["import", "-"], line("a", 'a', 0).as_bytes())
            .status
            .success()
    );
    for args in [
        &["history", "example.com/app:a", "--limit", "0"][..],
        &["repo", "list", "--limit", "0"],
        &["tag", "list", "example.com/app", "--limit", "1001"],
    ] {
        assert_eq!(run(&db, args, b"").status.code(), Some(2), "{args:?}");
    }
    for args in [
        &["repo", "list", "--cursor", "NOT A REPOSITORY"][..],
        &["tag", "list", "example.com/app", "--cursor", "bad tag!"],
        &["history", "example.com/app:a", "--cursor", "garbage"],
    ] {
        let out = run(&db, args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cursor"),
            "{args:?}"
        );
    }
}

/// Guards against a baffling message: a time without an offset used to get
/// chrono's "premature end of input".
#[test]
fn a_time_without_an_offset_is_told_to_add_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("l.redb");
    assert!(
        run(&db, &["import", "-"], line("a", 'a', 0).as_bytes())
            .status
            .success()
    );
    let out = run(
        &db,
        &["at", "example.com/app:a", "2024-01-01T00:00:00"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs an offset") && err.contains("2024-01-01T00:00:00Z"),
        "{err}"
    );
}
