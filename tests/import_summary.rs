//! `ociledger import`'s summary does not depend on `--batch` (issue 13).
//!
//! Guards against the bug where `tags_moved` was the sum of each batch's
//! moves, so one import reported different numbers with `--batch 10` and
//! `--batch 10000` (a tag moved in three batches counted three times). Every
//! field of the summary must be the same whatever the batch size, except the
//! two timings (`seconds`, `observations_per_second`), which measure the run.
//!
//! Input: every other line of three repositories of the bundled
//! `data/sample-events.jsonl.gz` (redis, `python` as pinned by bots, alpine:
//! 164 real observations of 6 tags that move often), shuffled with a fixed
//! seed so observations arrive out of order and tags move back and forth
//! across batches, and split in two imports into one file (so the second
//! starts from tags that already point somewhere); the second also holds an
//! exact repeat, an unparsable line and a line dated 2099. About 1.6 s in a
//! debug build, most of it the 166 one-line transactions of `--batch 1`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common;
use common::rng::Rng;

/// The repositories taken from the sample, as the sample spells them.
const REPOSITORIES: [&str; 3] = [
    "docker.io/library/redis",
    "python",
    "docker.io/library/alpine",
];

/// Every other line of [`REPOSITORIES`] in the sample.
fn sample_lines() -> Vec<String> {
    common::sample::sample_lines()
        .into_iter()
        .filter(|l| {
            let o: Value = serde_json::from_str(l).expect("a sample line");
            REPOSITORIES.iter().any(|r| o["repository"] == *r)
        })
        .step_by(2)
        .collect()
}

/// The slice, shuffled (xorshift, fixed seed), in two parts; the second
/// with a repeat, a bad line and a future line among it.
fn input() -> (String, String) {
    let mut lines = sample_lines();
    Rng(0x9E37_79B9_7F4A_7C15).shuffle(&mut lines);
    let mut second = lines.split_off(lines.len() / 2);
    second.insert(10, lines[3].clone());
    second.insert(30, "{\"repository\": \"nginx\"".to_owned());
    second.insert(
        50,
        r#"{"repository":"nginx","tag":"latest","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","observed_at":"2099-01-01T00:00:00Z"}"#.to_owned(),
    );
    (lines.join("\n"), second.join("\n"))
}

/// Runs `ociledger import --batch N FILE`, returns the summary without its
/// timings.
fn import(db: &Path, file: &Path, batch: usize, bad_lines: bool) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_ACTOR")
        .arg("--db")
        .arg(db)
        .args(["import", "--batch", &batch.to_string()])
        .arg(file)
        .output()
        .expect("run ociledger import");
    assert_eq!(
        out.status.code(),
        Some(i32::from(bad_lines)),
        "exit 1 for bad lines, else 0; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut summary: Value =
        serde_json::from_slice(&out.stdout).expect("the summary is one JSON object");
    let fields = summary.as_object_mut().expect("an object");
    for timing in ["seconds", "observations_per_second"] {
        assert!(fields.remove(timing).is_some(), "{timing} is reported");
    }
    summary
}

/// Guards `tags_moved` (and every other count) against depending on how the
/// import is cut into transactions.
#[test]
fn the_import_summary_is_the_same_for_every_batch_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, second) = input();
    let files = [
        dir.path().join("first.jsonl"),
        dir.path().join("second.jsonl"),
    ];
    std::fs::write(&files[0], first).expect("write the input");
    std::fs::write(&files[1], second).expect("write the input");
    let mut runs = Vec::new();
    for batch in [1, 7, 100_000] {
        let db = dir.path().join(format!("batch-{batch}.redb"));
        let start = std::time::Instant::now();
        let first = import(&db, &files[0], batch, false);
        let second = import(&db, &files[1], batch, true);
        eprintln!(
            "--batch {batch}: {first}\n  then {second}\n  in {:?}",
            start.elapsed()
        );
        runs.push((batch, first, second));
    }
    let (_, first, second) = &runs[runs.len() - 1];
    assert!(
        second["tags_moved"].as_u64() > Some(0) && second["tags_created"] == 0,
        "the second part moves tags the first created: {second}"
    );
    assert_eq!(second["skipped"], 2, "{second}");
    for (batch, f, s) in &runs {
        assert_eq!(f, first, "first import, --batch {batch} vs --batch 100000");
        assert_eq!(
            s, second,
            "second import, --batch {batch} vs --batch 100000"
        );
    }
}

/// Guards `violations_created` against the same dependence: a late
/// observation can take back a violation an earlier batch recorded
/// (A@1, B@3 flags A→B@3; a late B@2 makes it A→B@2 and @3 no move), so
/// summing batches counted two where the import leaves one.
#[test]
fn violations_created_is_the_same_for_every_batch_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("moves.jsonl");
    let line = |hex: char, day: u32| {
        format!(
            r#"{{"repository":"ghcr.io/prod/app","tag":"v1","digest":"sha256:{}","observed_at":"2024-01-0{day}T00:00:00Z"}}"#,
            hex.to_string().repeat(64)
        )
    };
    std::fs::write(&file, [line('a', 1), line('b', 3), line('b', 2)].join("\n"))
        .expect("write the input");
    let mut summaries = Vec::new();
    for batch in [1, 2, 100_000] {
        let db = dir.path().join(format!("batch-{batch}.redb"));
        let template = Command::new(env!("CARGO_BIN_EXE_ociledger"))
            .env_remove("OCILEDGER_DB")
            .arg("--db")
            .arg(&db)
            .args(["template", "create", "--registry", "ghcr.io"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(br#"{"prefix": "prod", "imageTagMutability": "IMMUTABLE"}"#)?;
                child.wait()
            })
            .expect("template create");
        assert!(template.success(), "template create");
        let summary = import(&db, &file, batch, false);
        eprintln!("--batch {batch}: {summary}");
        summaries.push((batch, summary));
    }
    let (_, whole) = &summaries[summaries.len() - 1];
    assert_eq!(whole["violations_created"], 1, "{whole}");
    for (batch, s) in &summaries {
        assert_eq!(s, whole, "--batch {batch} vs --batch 100000");
    }
}
