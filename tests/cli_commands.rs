//! The `ociledger` binary from outside: JSON shapes, problem+json errors and
//! exit codes (0 ok, 1 invalid / not found, 2 usage). Guards against the CLI
//! drifting from what scripts and the README promise.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn run(db: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

#[test]
fn id_parse_reports_every_field_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.redb");
    let out = run(
        &db,
        &[
            "id",
            "parse",
            "nginx:1.25",
            &format!("docker-pullable://ghcr.io/a/b@sha256:{HEX}"),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json_lines(&out.stdout);
    assert_eq!(v[0]["kind"], "tag");
    assert_eq!(v[0]["canonical"], "docker.io/library/nginx:1.25");
    assert_eq!(
        (v[0]["registry"].as_str(), v[0]["namespace"].as_str()),
        (Some("docker.io/library"), Some("nginx"))
    );
    assert_eq!(v[0]["familiar"], "nginx:1.25");
    assert_eq!(v[1]["kind"], "reference");
    assert!(v[1]["tag"].is_null() && v[1]["error"].is_null());
    let keys: Vec<&str> = v[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "input",
        "valid",
        "kind",
        "domain",
        "path",
        "registry",
        "namespace",
        "tag",
        "digest",
        "canonical",
        "familiar",
        "error",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    let out = run(&db, &["id", "parse", "-"], "nginx\nNginx:x\n");
    assert_eq!(out.status.code(), Some(1), "any invalid input exits 1");
    let v = json_lines(&out.stdout);
    assert_eq!(
        (v[1]["valid"].as_bool(), v[1]["kind"].is_null()),
        (Some(false), true)
    );
    assert!(v[1]["error"].as_str().unwrap().contains("lowercase"));
    assert_eq!(
        run(&db, &["id", "parse"], "").status.code(),
        Some(2),
        "usage error"
    );
    assert!(!db.exists(), "id parse needs no database");
}

#[test]
fn import_lookup_history_at_classify_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.redb");
    let (a, b) = (digest('a'), digest('b'));
    let lines = format!(
        "{{\"repository\":\"nginx\",\"tag\":\"latest\",\"digest\":\"{a}\",\"observed_at\":\"2024-01-01T00:00:00Z\"}}\n\
         not json\n\
         {{\"repository\":\"docker.io/library/nginx\",\"tag\":\"latest\",\"digest\":\"{b}\",\"observed_at\":\"2024-02-01T01:00:00+01:00\"}}\n"
    );
    let file = dir.path().join("events.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(lines.as_bytes()).unwrap();
    gz.finish().unwrap();

    let strict = run(&db, &["import", "--strict", file.to_str().unwrap()], "");
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("line 2"));
    let stats = json_lines(&run(&db, &["stats"], "").stdout);
    assert_eq!(stats[0]["references"], 0, "--strict wrote nothing");

    let out = run(&db, &["import", file.to_str().unwrap()], "");
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad lines are skipped but reported"
    );
    let problem: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stderr).lines().next().unwrap()).unwrap();
    assert_eq!(problem["errors"][0]["location"], "line 2");
    let summary = &json_lines(&out.stdout)[0];
    assert_eq!(
        (
            summary["observations"].as_u64(),
            summary["skipped"].as_u64()
        ),
        (Some(2), Some(1))
    );

    let v = &json_lines(&run(&db, &["lookup", &a], "").stdout)[0];
    assert_eq!(v["matches"][0]["tag"], "docker.io/library/nginx:latest");
    assert_eq!(
        (
            v["matches"][0]["current"].as_bool(),
            v["matches"][0]["until"].as_str()
        ),
        (Some(false), Some("2024-02-01T00:00:00Z"))
    );

    let page = &json_lines(&run(&db, &["history", "nginx:latest", "--limit", "1"], "").stdout)[0];
    assert_eq!(page["history"][0]["artifact"], b.as_str());
    let next = page["next"].as_str().unwrap();
    let page2 = &json_lines(
        &run(
            &db,
            &["history", "nginx:latest", "--limit", "1", "--cursor", next],
            "",
        )
        .stdout,
    )[0];
    assert_eq!(
        (
            page2["history"][0]["artifact"].as_str(),
            page2["next"].is_null()
        ),
        (Some(a.as_str()), true)
    );

    let at = &json_lines(&run(&db, &["at", "nginx:latest", "2024-01-15T00:00:00Z"], "").stdout)[0];
    assert_eq!(at["reference"]["artifact"], a.as_str());
    assert_eq!(
        run(&db, &["at", "nginx:latest", "2023-01-01T00:00:00Z"], "")
            .status
            .code(),
        Some(1)
    );

    let c = &json_lines(&run(&db, &["classify", "nginx", "--digest", &a], "").stdout)[0];
    assert_eq!(c["kind"], "historical");
    let many = run(
        &db,
        &["classify", "-"],
        &format!("{{\"image\":\"nginx:latest\",\"digest\":\"{b}\"}}\n{{\"image\":\"x y\"}}\n"),
    );
    assert_eq!(many.status.code(), Some(1));
    let v = json_lines(&many.stdout);
    assert_eq!(
        (v[0]["kind"].as_str(), v[1]["error"]["status"].as_u64()),
        (Some("current"), Some(400))
    );

    let s = &json_lines(&run(&db, &["stats"], "").stdout)[0];
    for k in [
        "repositories",
        "tags",
        "references",
        "observations",
        "intervals",
        "file_bytes",
    ] {
        assert!(s[k].as_u64().is_some(), "stats.{k}");
    }
}

#[test]
fn record_commands_take_seed_json_and_answer_problem_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.redb");
    let repo = r#"{"registry":"ghcr.io/acme","namespace":"app","last_scanned_on":"2024-01-01T00:00:00Z","projects":null,"project_components":null,"packages":["p"]}"#;
    assert_eq!(run(&db, &["repo", "create"], repo).status.code(), Some(0));
    let dup = run(&db, &["repo", "create"], repo);
    assert_eq!(dup.status.code(), Some(1));
    let p: serde_json::Value = serde_json::from_slice(&dup.stderr).unwrap();
    assert_eq!(p["status"], 409);
    let got = &json_lines(&run(&db, &["repo", "get", "ghcr.io/acme/app"], "").stdout)[0];
    assert_eq!(got["packages"][0], "p");
    // What get prints can be edited and sent back: audit fields are accepted and ignored.
    let edited = got.to_string().replace("\"p\"", "\"q\"");
    let up = run(
        &db,
        &["--actor", "bob", "repo", "update", "ghcr.io/acme/app"],
        &edited,
    );
    assert_eq!(
        up.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let up = &json_lines(&up.stdout)[0];
    assert_eq!(
        (up["packages"][0].as_str(), up["last_modified_by"].as_str()),
        (Some("q"), Some("bob"))
    );

    let tag = format!(
        r#"{{"repository":"ghcr.io/acme/app","tag":"v1","artifact":"{}"}}"#,
        digest('c')
    );
    assert_eq!(run(&db, &["tag", "create"], &tag).status.code(), Some(0));
    let moved = tag.replace(&digest('c'), &digest('d'));
    assert_eq!(
        run(&db, &["tag", "update", "ghcr.io/acme/app:v1"], &moved)
            .status
            .code(),
        Some(0)
    );
    let list = &json_lines(&run(&db, &["tag", "list", "ghcr.io/acme/app"], "").stdout)[0];
    assert_eq!(list["items"][0]["artifact"], digest('d').as_str());
    let refs = &json_lines(&run(&db, &["ref", "list", "ghcr.io/acme/app:v1"], "").stdout)[0];
    assert_eq!(refs["items"].as_array().unwrap().len(), 2);
    let r = run(
        &db,
        &[
            "ref",
            "get",
            &format!("ghcr.io/acme/app:v1@{}", digest('c')),
        ],
        "",
    );
    assert_eq!(json_lines(&r.stdout)[0]["artifact"], digest('c').as_str());
    assert_eq!(
        run(&db, &["tag", "delete", "ghcr.io/acme/app:v1"], "")
            .status
            .code(),
        Some(0)
    );
    let gone = run(&db, &["tag", "get", "ghcr.io/acme/app:v1"], "");
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&gone.stderr).unwrap()["status"],
        404
    );
    let bad = run(
        &db,
        &["tag", "create"],
        r#"{"repository":"ghcr.io/acme/app","tag":"v2","artifact":"x","color":1}"#,
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&bad.stderr).unwrap()["status"],
        400
    );
}

#[test]
fn queries_on_a_missing_ledger_fail_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.redb");
    let out = run(&db, &["lookup", &digest('a')], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(!db.exists());
}
