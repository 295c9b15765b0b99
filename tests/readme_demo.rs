//! The README shows what `bash scripts/demo.sh` prints. Guards against the
//! two drifting apart: the cluster table the README shows must be exactly
//! what the CLI prints for the bundled data (the demo script runs these same
//! commands on a release build).

use std::path::Path;
use std::process::Command;

fn ociledger(db: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run ociledger");
    assert!(
        out.status.success(),
        "ociledger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_readme_shows_what_the_demo_prints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.redb");
    ociledger(&db, &["import", "data/sample-events.jsonl.gz"]);
    ociledger(
        &db,
        &["import", "--manifests", "data/sample-manifests.jsonl.gz"],
    );
    let out = ociledger(
        &db,
        &[
            "classify",
            "--pods",
            "data/demo-pods.json",
            "--output",
            "table",
        ],
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("\nPOD ")
        .expect("the README shows the pod table")
        + 1;
    let end = start + readme[start..].find("```").expect("the block ends");
    assert_eq!(
        printed,
        &readme[start..end],
        "README.md's demo block and the CLI differ"
    );
}
