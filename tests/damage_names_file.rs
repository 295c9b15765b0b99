//! Every damage error names the file (issue 13).
//!
//! Guards against `Error::Corrupt` saying which table and row are damaged but
//! not which file: an embedder with several ledgers, or an operator reading a
//! cron job's log, could not tell which file to restore. Every `Corrupt`
//! that leaves the library must start with the file's path, exactly once,
//! for a query, a write and `stats`, through the library and the CLI.
//!
//! The damage is made as `tests/corrupt_rows.rs` makes it: a small ledger
//! built with the public API, closed, and one row rewritten with plain redb
//! (here digest 1's `digest_index` row replaced by 19 bytes of garbage, which a lookup of
//! digest 1, a write that moves its tag and `stats` all read). About 0.2 s.

use std::path::Path;
use std::process::Command;

use ociledger::id::{Algorithm, Digest, TagId};
use ociledger::model::{Observation, Timestamp};
use ociledger::{Error, Ledger};
use redb::{Database, ReadableTable};

use crate::common;
use common::tables::DIGEST_INDEX;

fn d(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn latest() -> TagId {
    "nginx:latest".parse().expect("tag")
}

/// A ledger where `nginx:latest` pointed to digest 1 and then 2, with digest
/// 1's index value damaged.
fn damaged(path: &Path) {
    {
        let l = Ledger::create(path).expect("create");
        l.ingest(
            "scanner",
            &[
                Observation::new(latest(), d(1), t("2024-01-01T00:00:00Z")),
                Observation::new(latest(), d(2), t("2024-01-02T00:00:00Z")),
            ],
        )
        .expect("ingest");
    }
    let db = Database::open(path).expect("open with redb");
    let txn = db.begin_write().expect("write transaction");
    {
        let mut index = txn.open_table(DIGEST_INDEX).expect("digest_index");
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&d(1).as_bytes()[..8]);
        let key = u64::from_be_bytes(prefix);
        assert!(
            index.get(key).expect("get").is_some(),
            "digest 1 is indexed"
        );
        index.insert(key, [7u8; 19].as_slice()).expect("damage");
    }
    txn.commit().expect("commit");
}

/// The error must be `Corrupt` and its message start with the path, once.
fn assert_names_file(what: &str, result: ociledger::Result<()>, path: &Path) {
    let shown = path.display().to_string();
    match result {
        Err(e @ Error::Corrupt(_)) => {
            let text = e.to_string();
            assert!(
                text.contains(&format!("{shown}: ")),
                "{what}: the error does not name the file: {text}"
            );
            assert_eq!(
                text.matches(shown.as_str()).count(),
                1,
                "{what}: the file is named once: {text}"
            );
        }
        other => panic!("{what}: expected Error::Corrupt, got {other:?}"),
    }
}

/// Guards the library: a query (on a writer and on a read-only handle), a
/// write and `stats` each report the damage naming the file.
#[test]
fn corrupt_errors_of_a_query_a_write_and_stats_name_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("damaged.redb");
    damaged(&path);

    let reader = Ledger::open_read_only(&path).expect("open read-only");
    assert_names_file(
        "tags_for_digest (read-only)",
        reader.tags_for_digest(&d(1)).map(drop),
        &path,
    );
    drop(reader);

    let l = Ledger::open(&path).expect("open");
    assert_names_file("tags_for_digest", l.tags_for_digest(&d(1)).map(drop), &path);
    assert_names_file(
        "classify",
        l.classify("nginx:latest", Some(&d(1))).map(drop),
        &path,
    );
    // Moving the tag back to digest 1 rewrites digest 1's index value.
    let back = Observation::new(latest(), d(1), t("2024-01-03T00:00:00Z"));
    assert_names_file("ingest", l.ingest("scanner", &[back]).map(drop), &path);
    assert_names_file("stats", l.stats().map(drop), &path);
}

/// Guards the CLI: `stats` and `lookup` print problem+json whose detail
/// names the file.
#[test]
fn the_cli_reports_damage_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("damaged.redb");
    damaged(&path);
    let shown = path.display().to_string();
    for args in [vec!["stats"], vec!["lookup", &d(1).to_string()]] {
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let out = Command::new(env!("CARGO_BIN_EXE_ociledger"))
            .env_remove("OCILEDGER_DB")
            .arg("--db")
            .arg(&path)
            .args(&args)
            .output()
            .expect("run ociledger");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let problem: serde_json::Value =
            serde_json::from_str(stderr.trim()).expect("problem+json on stderr");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("{shown}: ")),
            "{args:?}: the detail does not name the file: {problem}"
        );
    }
}
