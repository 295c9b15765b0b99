//! The `ociledger` binary end to end: JSON on stdout, problem+json on stderr,
//! exit codes 0 (success), 1 (invalid input, not found, failed operation) and
//! 2 (usage error), each against a fresh temporary database. Guards against
//! the CLI drifting from what scripts and the README promise. (Also holds
//! what `tests/cli_commands.rs` checked before the two were merged.)

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const HEX_A: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        Self { _dir: dir, path }
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap()
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with(Some(&self.path), args, stdin, &[])
    }

    /// Runs and expects exit 0 and exactly one JSON line on stdout.
    fn ok(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.run(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let mut lines = json_lines(&out.stdout);
        assert_eq!(lines.len(), 1, "{args:?}: one JSON line");
        lines.remove(0)
    }

    /// Runs and expects a problem+json failure; returns the problem.
    fn fails(&self, args: &[&str], stdin: &str) -> Value {
        problem(&self.run(args, stdin))
    }

    fn stats(&self) -> Value {
        self.ok(&["stats"], "")
    }

    fn counts(&self) -> Value {
        let mut s = self.stats();
        s.as_object_mut().unwrap().remove("file_bytes");
        s.as_object_mut().unwrap().remove("disk_bytes");
        s
    }
}

fn run_with(db: Option<&Path>, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    run_bytes(db, args, stdin.as_bytes(), env)
}

fn run_bytes(db: Option<&Path>, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ociledger"));
    cmd.env_remove("OCILEDGER_DB").env_remove("OCILEDGER_ACTOR");
    if let Some(db) = db {
        cmd.arg("--db").arg(db);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that does not read stdin may exit first: ignore a broken pipe.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    text(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

/// Checks a failed run: exit 1, nothing on stdout, one problem+json line on
/// stderr in the seeds' `ErrorModel` shape.
fn problem(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "one problem: {}", text(&out.stderr));
    let p = lines.into_iter().next().unwrap();
    let allowed = set(&[
        "$schema", "detail", "errors", "instance", "status", "title", "type",
    ]);
    assert!(keys(&p).is_subset(&allowed), "{p}");
    assert!(
        p["status"].is_u64() && p["title"].is_string() && p["detail"].is_string(),
        "{p}"
    );
    if let Some(errors) = p["errors"].as_array() {
        for e in errors {
            assert!(
                keys(e).is_subset(&set(&["location", "message", "value"])),
                "{e}"
            );
            assert!(e["location"].is_string() && e["message"].is_string(), "{e}");
        }
    }
    p
}

fn line(repository: &str, tag: &str, digest: &str, at: &str) -> String {
    json!({"repository": repository, "tag": tag, "digest": digest, "observed_at": at}).to_string()
}

/// nginx:latest A → B → A, nginx:1.25 → B, and ghcr.io/acme/app:v1 → C.
fn events() -> String {
    [
        line("nginx", "latest", &digest('a'), "2024-01-01T00:00:00Z"),
        line(
            "docker.io/library/nginx",
            "latest",
            &digest('b'),
            "2024-02-01T01:00:00+01:00",
        ),
        line(
            "index.docker.io/library/nginx",
            "latest",
            &digest('a'),
            "2024-03-01T00:00:00Z",
        ),
        line("nginx", "1.25", &digest('b'), "2024-02-01T00:00:00Z"),
        line("ghcr.io/acme/app", "v1", HEX_A, "2024-01-15T00:00:00Z"),
    ]
    .join("\n")
        + "\n"
}

fn write_gz(path: &Path, content: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    gz.write_all(content.as_bytes()).unwrap();
    gz.finish().unwrap();
}

/// A database with `events()` imported.
fn imported() -> Db {
    let db = Db::new();
    let file = db.dir().join("events.jsonl");
    std::fs::write(&file, events()).unwrap();
    db.ok(&["import", file.to_str().unwrap()], "");
    db
}

// ---------------------------------------------------------------------------
// `id parse`. Guards against output fields drifting and exit codes that
// scripts cannot rely on.
// ---------------------------------------------------------------------------

const PARSE_KEYS: [&str; 13] = [
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
    "position",
];

/// Guards against `id parse` output fields drifting (renamed, missing, wrongly normalized) and against it touching a database.
#[test]
fn id_parse_prints_every_field_and_exits_0_when_all_valid() {
    let pullable = format!("docker-pullable://ghcr.io/acme/app@sha256:{HEX_A}");
    let out = run_with(
        None,
        &["id", "parse", "nginx:1.25", &pullable, HEX_A, "quay.io/x/y"],
        "",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 4);
    for r in &v {
        assert_eq!(keys(r), set(&PARSE_KEYS), "{r}");
        assert_eq!(r["valid"], true);
        assert!(r["error"].is_null() && r["position"].is_null());
    }
    assert_eq!(v[0]["input"], "nginx:1.25");
    assert_eq!(v[0]["kind"], "tag");
    assert_eq!(v[0]["domain"], "docker.io");
    assert_eq!(v[0]["path"], "library/nginx");
    assert_eq!(v[0]["registry"], "docker.io/library");
    assert_eq!(v[0]["namespace"], "nginx");
    assert_eq!(v[0]["tag"], "1.25");
    assert!(v[0]["digest"].is_null());
    assert_eq!(v[0]["canonical"], "docker.io/library/nginx:1.25");
    assert_eq!(v[0]["familiar"], "nginx:1.25");

    assert_eq!(v[1]["kind"], "reference");
    assert_eq!(v[1]["registry"], "ghcr.io/acme");
    assert_eq!(v[1]["namespace"], "app");
    assert_eq!(v[1]["digest"], format!("sha256:{HEX_A}"));
    assert!(v[1]["tag"].is_null());
    assert_eq!(
        v[1]["canonical"],
        format!("ghcr.io/acme/app@sha256:{HEX_A}")
    );

    assert_eq!(v[2]["kind"], "digest");
    assert_eq!(
        v[2]["digest"],
        format!("sha256:{HEX_A}"),
        "bare hex is sha256"
    );
    assert!(v[2]["registry"].is_null());

    assert_eq!(v[3]["kind"], "repository");
    assert_eq!(v[3]["canonical"], "quay.io/x/y");

    // Parsing needs no database: a --db given anyway is not created.
    let db = Db::new();
    assert_eq!(db.run(&["id", "parse", "nginx"], "").status.code(), Some(0));
    assert!(!db.path.exists(), "id parse created the database");
}

/// Guards against an invalid input hiding among valid ones (exit 0) or reported without why and where.
#[test]
fn id_parse_exits_1_when_any_input_is_invalid_and_says_where() {
    let out = run_with(None, &["id", "parse", "nginx", "Nginx:1", "redis"], "", &[]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 3, "every input is still reported");
    assert_eq!(
        (v[0]["valid"].as_bool(), v[2]["valid"].as_bool()),
        (Some(true), Some(true))
    );
    let bad = &v[1];
    assert_eq!(keys(bad), set(&PARSE_KEYS));
    assert_eq!(
        (bad["input"].as_str(), bad["valid"].as_bool()),
        (Some("Nginx:1"), Some(false))
    );
    let error = bad["error"].as_str().unwrap_or_default();
    assert!(error.contains("lowercase"), "the error says why: {error}");
    assert_eq!(bad["position"], 0);
    for k in [
        "kind",
        "domain",
        "path",
        "registry",
        "namespace",
        "tag",
        "digest",
        "canonical",
        "familiar",
    ] {
        assert!(bad[k].is_null(), "{k} of an invalid input is null");
    }
}

/// Guards against `-` being read as a name, CRs kept, or blank lines parsed as inputs.
#[test]
fn id_parse_reads_dash_from_stdin_one_per_line() {
    let out = run_with(
        None,
        &["id", "parse", "alpine", "-"],
        "nginx\r\n\nghcr.io/a/b:v1\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let inputs: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|v| v["input"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        inputs,
        ["alpine", "nginx", "ghcr.io/a/b:v1"],
        "CR stripped, blank lines skipped"
    );
    let out = run_with(None, &["id", "parse", "-"], "nginx\nnot a name\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out.stdout).len(), 2);
}

/// Guards against usage errors exiting like data errors (1) or touching the database.
#[test]
fn usage_errors_exit_2() {
    let db = Db::new();
    for args in [
        &[][..],
        &["id", "parse"],
        &["id"],
        &["frobnicate"],
        &["history"],
        &["history", "nginx:1", "--limit", "many"],
        &["at", "nginx:1"],
        &["import"],
        &["tag", "update"],
        &["stats", "--bogus"],
    ] {
        let out = db.run(args, "");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(!db.path.exists(), "no usage error touches the database");
    let help = db.run(&["--help"], "");
    assert_eq!(help.status.code(), Some(0));
}

// ---------------------------------------------------------------------------
// `import`. Guards against lost or half-imported files, bad lines that abort
// (or silently vanish), and --strict writing anything at all.
// ---------------------------------------------------------------------------

const SUMMARY_KEYS: [&str; 12] = [
    "observations",
    "repositories_created",
    "tags_created",
    "references_created",
    "relations_created",
    "recorded",
    "tags_moved",
    "violations_created",
    "lines",
    "skipped",
    "seconds",
    "observations_per_second",
];

/// Guards against the import summary losing fields or miscounting (e.g. nginx spellings as two repositories).
#[test]
fn import_of_a_jsonl_file_prints_the_summary() {
    let db = Db::new();
    let file = db.dir().join("events.jsonl");
    std::fs::write(&file, events()).unwrap();
    let s = db.ok(&["import", file.to_str().unwrap()], "");
    assert_eq!(keys(&s), set(&SUMMARY_KEYS));
    assert_eq!(s["observations"], 5);
    assert_eq!(
        s["repositories_created"], 2,
        "nginx spellings are one repository"
    );
    assert_eq!(s["tags_created"], 3);
    assert_eq!(s["references_created"], 4);
    assert_eq!(s["relations_created"], 0, "plain observations carry none");
    assert_eq!(s["recorded"], 5);
    assert_eq!(s["lines"], 5);
    assert_eq!(s["skipped"], 0);
    assert!(s["seconds"].as_f64().is_some_and(|x| x >= 0.0));
    assert!(s["observations_per_second"].is_number());
    let c = db.counts();
    assert_eq!(
        c,
        json!({"repositories": 2, "tags": 3, "references": 4, "observations": 5, "intervals": 5,
            "index_manifests": 0, "manifest_configs": 0})
    );
}

/// Guards against gzip or stdin input importing something other than the same plain file.
#[test]
fn import_of_a_gzipped_file_and_of_stdin_equal_the_plain_file() {
    let plain = imported();
    let gz = Db::new();
    let file = gz.dir().join("events.jsonl.gz");
    write_gz(&file, &events());
    let s = gz.ok(&["import", file.to_str().unwrap()], "");
    assert_eq!(
        (s["observations"].as_u64(), s["lines"].as_u64()),
        (Some(5), Some(5))
    );
    let stdin = Db::new();
    let s = stdin.ok(&["import", "-", "--batch", "2"], &events());
    assert_eq!(s["observations"], 5);
    for db in [&gz, &stdin] {
        assert_eq!(db.counts(), plain.counts());
        for dg in [digest('a'), digest('b'), HEX_A.to_owned()] {
            assert_eq!(db.ok(&["lookup", &dg], ""), plain.ok(&["lookup", &dg], ""));
        }
    }
}

/// Guards against gzip detection working only for file names, and CRLF lines failing to parse.
#[test]
fn import_reads_gzip_on_stdin_and_crlf_lines() {
    let plain = imported();
    let db = Db::new();
    let crlf = events().replace('\n', "\r\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(crlf.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let out = run_bytes(Some(&db.path), &["import", "-"], &bytes, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = &json_lines(&out.stdout)[0];
    assert_eq!(
        (s["observations"].as_u64(), s["skipped"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(db.counts(), plain.counts());
}

/// Guards against a bad line aborting the import, vanishing silently, or reported with the wrong line number.
#[test]
fn import_reports_a_bad_line_with_its_number_skips_it_and_exits_1() {
    let db = Db::new();
    let mut lines: Vec<String> = events().lines().map(str::to_owned).collect();
    lines.insert(
        2,
        "{\"repository\":\"nginx\",\"tag\":\"bad tag\"}".to_owned(),
    );
    lines.insert(4, String::new());
    lines.insert(5, "not json at all".to_owned());
    let file = db.dir().join("mixed.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = db.run(&["import", "--batch", "1", file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let problems = json_lines(&out.stderr);
    assert_eq!(problems.len(), 2, "{}", text(&out.stderr));
    let locations: Vec<&str> = problems
        .iter()
        .map(|p| p["errors"][0]["location"].as_str().unwrap())
        .collect();
    assert_eq!(locations, ["line 3", "line 6"]);
    for p in &problems {
        assert_eq!(p["status"], 400);
    }
    assert_eq!(problems[1]["errors"][0]["value"], "not json at all");
    let summary = json_lines(&out.stdout);
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["observations"], 5, "the good lines went in");
    assert_eq!(summary[0]["skipped"], 2);
    assert_eq!(summary[0]["lines"], 8);
    assert_eq!(db.counts(), imported().counts());
}

/// Guards against `--strict` committing the batches before the bad line.
#[test]
fn import_strict_stops_at_a_bad_line_and_writes_nothing() {
    let db = imported();
    let before = db.counts();
    let history_before = db.ok(&["history", "nginx:latest"], "");
    let mut content = [
        line("nginx", "latest", &digest('c'), "2024-04-01T00:00:00Z"),
        line("redis", "7", &digest('d'), "2024-04-01T00:00:00Z"),
    ]
    .join("\n");
    content += "\n{\"repository\":\"redis\"}\n";
    content += &line("redis", "8", &digest('e'), "2024-04-01T00:00:00Z");
    for (name, gz) in [("strict.jsonl", false), ("strict.jsonl.gz", true)] {
        let file = db.dir().join(name);
        if gz {
            write_gz(&file, &content);
        } else {
            std::fs::write(&file, &content).unwrap();
        }
        let p = db.fails(
            &["import", "--strict", "--batch", "1", file.to_str().unwrap()],
            "",
        );
        assert_eq!(p["status"], 400);
        assert_eq!(p["errors"][0]["location"], "line 3");
        assert_eq!(db.counts(), before, "{name}: nothing written");
        assert_eq!(db.ok(&["history", "nginx:latest"], ""), history_before);
        assert_eq!(db.ok(&["lookup", &digest('d')], "")["matches"], json!([]));
    }
    // --strict with nothing wrong imports everything.
    let good = db.dir().join("good.jsonl");
    std::fs::write(&good, content.replace("{\"repository\":\"redis\"}\n", "")).unwrap();
    let s = db.ok(&["import", "--strict", good.to_str().unwrap()], "");
    assert_eq!(
        (s["observations"].as_u64(), s["skipped"].as_u64()),
        (Some(3), Some(0))
    );
}

/// Guards against a missing input file being a panic or an empty import instead of a problem.
#[test]
fn import_of_a_missing_file_is_a_problem() {
    let db = Db::new();
    let p = db.fails(
        &["import", db.dir().join("nope.jsonl").to_str().unwrap()],
        "",
    );
    assert_eq!(p["status"], 400);
    assert_eq!(p["errors"][0]["location"], "file");
}

// ---------------------------------------------------------------------------
// Queries. Guards against the CLI answering differently from the library:
// lost intervals, broken cursors, wrong exit codes for "nothing there".
// ---------------------------------------------------------------------------

/// Guards against `lookup` losing an interval (A -> B -> A) or answering differently from the library.
#[test]
fn lookup_lists_every_interval_of_a_digest() {
    let db = imported();
    let v = db.ok(&["lookup", &digest('a')], "");
    assert_eq!(keys(&v), set(&["digest", "matches"]));
    assert_eq!(v["digest"], digest('a'));
    let m = v["matches"].as_array().unwrap();
    assert_eq!(m.len(), 2, "A → B → A: both lives");
    for x in m {
        assert_eq!(keys(x), set(&["tag", "current", "since", "until", "via"]));
        assert!(x["via"].is_null(), "a direct match: {x}");
        assert_eq!(x["tag"], "docker.io/library/nginx:latest");
    }
    assert_eq!(
        (m[0]["current"].as_bool(), m[0]["until"].is_null()),
        (Some(true), true)
    );
    assert_eq!(m[0]["since"], "2024-03-01T00:00:00Z");
    assert_eq!(
        (m[1]["since"].as_str(), m[1]["until"].as_str()),
        (Some("2024-01-01T00:00:00Z"), Some("2024-02-01T00:00:00Z"))
    );
    // Bare hex is sha256; an unknown digest has no matches.
    assert_eq!(
        db.ok(&["lookup", HEX_A], "")["matches"][0]["tag"],
        "ghcr.io/acme/app:v1"
    );
    assert_eq!(db.ok(&["lookup", &digest('f')], "")["matches"], json!([]));
    let p = db.fails(&["lookup", "sha256:nothex"], "");
    assert_eq!(
        (p["status"].as_u64(), p["errors"][0]["location"].as_str()),
        (Some(400), Some("digest"))
    );
}

/// Guards against read-only commands creating an empty database where the user mistyped the path.
#[test]
fn queries_on_a_missing_database_are_not_found_and_create_nothing() {
    let db = Db::new();
    for args in [
        &["lookup", HEX_A][..],
        &["history", "nginx:1"],
        &["at", "nginx:1", "2024-01-01T00:00:00Z"],
        &["classify", "nginx"],
        &["stats"],
        &["repo", "get", "nginx"],
        &["tag", "list", "nginx"],
        &["ref", "list", "nginx:1"],
    ] {
        let p = db.fails(args, "");
        assert_eq!(p["status"], 404, "{args:?}");
    }
    assert!(!db.path.exists());
}

/// Guards against `history` cursors skipping or repeating intervals and bad cursors not being 400.
#[test]
fn history_pages_with_limit_and_cursor() {
    let db = imported();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec!["history", "nginx:latest", "--limit", "1"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page = db.ok(&args, "");
        assert_eq!(keys(&page), set(&["tag", "history", "next"]));
        assert_eq!(page["tag"], "docker.io/library/nginx:latest");
        let items = page["history"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            keys(&items[0]),
            set(&["artifact", "current", "since", "until"])
        );
        seen.push((
            items[0]["artifact"].as_str().unwrap().to_owned(),
            items[0]["since"].as_str().unwrap().to_owned(),
        ));
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            (digest('a'), "2024-03-01T00:00:00Z".to_owned()),
            (digest('b'), "2024-02-01T00:00:00Z".to_owned()),
            (digest('a'), "2024-01-01T00:00:00Z".to_owned()),
        ]
    );
    let all = db.ok(&["history", "nginx:latest"], "");
    assert_eq!(
        (
            all["history"].as_array().unwrap().len(),
            all["next"].is_null()
        ),
        (3, true)
    );
    let p = db.fails(&["history", "nginx:latest", "--cursor", "bogus"], "");
    assert_eq!(
        (p["status"].as_u64(), p["errors"][0]["location"].as_str()),
        (Some(400), Some("cursor"))
    );
    assert_eq!(db.fails(&["history", "nginx:never"], "")["status"], 404);
    assert_eq!(db.fails(&["history", "Nginx:latest"], "")["status"], 400);
}

/// Guards against off-by-one at interval boundaries in `at` and offsets not read as UTC.
#[test]
fn at_answers_the_digest_at_a_time_with_its_reference() {
    let db = imported();
    let v = db.ok(&["at", "nginx:latest", "2024-02-15T00:00:00Z"], "");
    assert_eq!(keys(&v), set(&["tag", "at", "reference", "interval"]));
    assert_eq!(v["at"], "2024-02-15T00:00:00Z");
    assert_eq!(v["interval"]["artifact"], digest('b'));
    assert_eq!(v["interval"]["until"], "2024-03-01T00:00:00Z");
    assert_eq!(v["reference"]["artifact"], digest('b'));
    assert_eq!(v["reference"]["tag"], "docker.io/library/nginx:latest");
    // Boundaries: since inclusive, until exclusive; offsets are read as UTC.
    let at_since = db.ok(&["at", "nginx:latest", "2024-03-01T00:00:00Z"], "");
    assert_eq!(at_since["interval"]["artifact"], digest('a'));
    let before_until = db.ok(&["at", "nginx:latest", "2024-02-29T23:59:59.999999Z"], "");
    assert_eq!(before_until["interval"]["artifact"], digest('b'));
    let offset = db.ok(&["at", "nginx:latest", "2024-03-01T00:30:00+01:00"], "");
    assert_eq!(offset["interval"]["artifact"], digest('b'));
    assert_eq!(offset["at"], "2024-02-29T23:30:00Z");
    // Before the first observation: nothing, exit 1, still JSON on stdout.
    let out = db.run(&["at", "nginx:latest", "2023-12-31T23:59:59Z"], "");
    assert_eq!(out.status.code(), Some(1));
    let v = &json_lines(&out.stdout)[0];
    assert!(v["interval"].is_null() && v["reference"].is_null());
    let p = db.fails(&["at", "nginx:latest", "yesterday"], "");
    assert_eq!(
        (p["status"].as_u64(), p["errors"][0]["location"].as_str()),
        (Some(400), Some("time"))
    );
    assert_eq!(
        db.fails(&["at", "nginx:never", "2024-01-01T00:00:00Z"], "")["status"],
        404
    );
}

/// Guards against `classify` giving the wrong kind for any of its five answers, or ignoring --digest.
#[test]
fn classify_one_image_string() {
    let db = imported();
    let c = db.ok(&["classify", "nginx", "--digest", &digest('a')], "");
    assert_eq!(
        keys(&c),
        set(&[
            "image",
            "digest",
            "tag",
            "kind",
            "tag_current",
            "matches",
            "via",
            "mutability",
            "moves_behind"
        ])
    );
    assert_eq!(
        c["kind"], "current",
        "no tag means latest, which is A again"
    );
    assert_eq!(c["tag"], "docker.io/library/nginx:latest");
    assert_eq!(c["image"], "docker.io/library/nginx");
    assert_eq!(c["tag_current"], digest('a'));
    assert!(c["via"].is_null(), "a direct match: {c}");
    let kind = |args: &[&str]| db.ok(args, "")["kind"].as_str().unwrap().to_owned();
    assert_eq!(
        kind(&["classify", "nginx:1.25", "--digest", &digest('a')]),
        "other_tags"
    );
    assert_eq!(
        kind(&["classify", "nginx:latest", "--digest", &digest('b')]),
        "historical"
    );
    assert_eq!(
        kind(&[
            "classify",
            &format!("docker-pullable://nginx@{}", digest('b'))
        ]),
        "other_tags"
    );
    assert_eq!(
        kind(&[
            "classify",
            &format!("docker-pullable://ghcr.io/acme/app:v1@sha256:{HEX_A}")
        ]),
        "current"
    );
    assert_eq!(
        kind(&["classify", "nginx:1.25", "--digest", &digest('f')]),
        "tag_only"
    );
    assert_eq!(kind(&["classify", "nginx:1.25"]), "tag_only");
    assert_eq!(
        kind(&["classify", "redis:7", "--digest", &digest('f')]),
        "unknown"
    );
    // --digest wins over the digest in the image string.
    let c = db.ok(
        &[
            "classify",
            &format!("nginx:latest@{}", digest('b')),
            "--digest",
            &digest('a'),
        ],
        "",
    );
    assert_eq!(
        (c["kind"].as_str(), c["digest"].as_str()),
        (Some("current"), Some(digest('a').as_str()))
    );
    let p = db.fails(&["classify", "nginx:bad tag"], "");
    assert_eq!(
        (p["status"].as_u64(), p["errors"][0]["location"].as_str()),
        (Some(400), Some("image"))
    );
    assert_eq!(p["errors"][0]["value"], "nginx:bad tag");
    let p = db.fails(&["classify", "nginx", "--digest", "md5:abc"], "");
    assert_eq!(
        (p["status"].as_u64(), p["errors"][0]["location"].as_str()),
        (Some(400), Some("digest"))
    );
}

/// Guards against one bad line in `classify -` aborting the batch or shifting answers off their lines.
#[test]
fn classify_dash_reads_json_lines_and_answers_one_line_each() {
    let db = imported();
    let input = [
        json!({"image": "nginx:latest", "digest": digest('b')}).to_string(),
        String::new(),
        json!({"image": format!("docker-pullable://nginx@{}", digest('a'))}).to_string(),
        json!({"image": "redis"}).to_string(),
    ]
    .join("\n");
    let out = db.run(&["classify", "-"], &input);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let kinds: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|v| v["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["historical", "other_tags", "unknown"]);
    // Bad lines are answered in place, with their line number, and exit 1.
    let input = [
        json!({"image": "nginx", "digest": digest('a')}).to_string(),
        "{\"image\":\"x y\"}".to_owned(),
        "{\"image\":\"nginx\",\"colour\":1}".to_owned(),
        "nope".to_owned(),
        json!({"image": "nginx", "digest": "sha256:short"}).to_string(),
        json!({"image": "nginx:1.25", "digest": digest('b')}).to_string(),
    ]
    .join("\n");
    let out = db.run(&["classify", "-"], &input);
    assert_eq!(out.status.code(), Some(1));
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 6, "one answer per line");
    assert_eq!(v[0]["kind"], "current");
    for (i, bad) in v[1..5].iter().enumerate() {
        assert_eq!(bad["line"], i + 2, "{bad}");
        assert_eq!(bad["error"]["status"], 400, "{bad}");
    }
    assert_eq!(v[5]["kind"], "current");
}

/// Guards `compact`: its output shape, that the size it reports is the size
/// of the closed file, and that compacting changes no count.
#[test]
fn compact_prints_the_sizes_and_keeps_every_count() {
    let db = imported();
    let counts = db.counts();
    let c = db.ok(&["compact"], "");
    assert_eq!(keys(&c), set(&["file_bytes_before", "file_bytes_after"]));
    let after = c["file_bytes_after"].as_u64().unwrap();
    assert!(after <= c["file_bytes_before"].as_u64().unwrap(), "{c}");
    assert_eq!(after, std::fs::metadata(&db.path).unwrap().len());
    assert_eq!(db.counts(), counts);
}

/// Guards against `stats` fields drifting and the file size not being the file's.
#[test]
fn stats_prints_counts_and_file_size() {
    let db = imported();
    let s = db.stats();
    assert_eq!(
        keys(&s),
        set(&[
            "repositories",
            "tags",
            "references",
            "observations",
            "intervals",
            "index_manifests",
            "manifest_configs",
            "file_bytes",
            "disk_bytes"
        ])
    );
    assert_eq!(
        (
            s["repositories"].as_u64(),
            s["tags"].as_u64(),
            s["references"].as_u64()
        ),
        (Some(2), Some(3), Some(4))
    );
    assert_eq!(
        (s["observations"].as_u64(), s["intervals"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(
        s["file_bytes"].as_u64(),
        Some(std::fs::metadata(&db.path).unwrap().len())
    );
}

// ---------------------------------------------------------------------------
// Records. Guards against the CLI's bodies and answers drifting from the
// seeds' JSON, and errors that are not problem+json.
// ---------------------------------------------------------------------------

fn repo_body(registry: &str, namespace: &str) -> Value {
    json!({"registry": registry, "namespace": namespace, "last_scanned_on": "2024-01-01T00:00:00Z",
        "projects": null, "project_components": null, "packages": ["pkg-1"]})
}

const REPO_KEYS: [&str; 10] = [
    "registry",
    "namespace",
    "last_scanned_on",
    "projects",
    "project_components",
    "packages",
    "created_by",
    "created_on",
    "last_modified_by",
    "last_modified_on",
];

/// Guards against repo records losing audit fields, a get not being editable and sendable back, and list cursors.
#[test]
fn repo_create_get_update_list() {
    let db = Db::new();
    let body = repo_body("docker.io/istio", "pilot").to_string();
    let created = db.ok(&["--actor", "alice", "repo", "create"], &body);
    assert_eq!(keys(&created), set(&REPO_KEYS));
    assert_eq!(
        (
            created["created_by"].as_str(),
            created["last_modified_by"].as_str()
        ),
        (Some("alice"), Some("alice"))
    );
    assert!(created["projects"].is_null());
    let got = db.ok(&["repo", "get", "istio/pilot"], "");
    assert_eq!(
        got, created,
        "familiar and canonical IDs name the same record"
    );

    // What get prints can be sent back edited: audit fields are ignored.
    let mut edited = got.clone();
    edited["projects"] = json!(["istio"]);
    edited["created_by"] = json!("mallory");
    let updated = db.ok(
        &["--actor", "bob", "repo", "update", "docker.io/istio/pilot"],
        &edited.to_string(),
    );
    assert_eq!(updated["projects"], json!(["istio"]));
    assert_eq!(updated["created_by"], "alice");
    assert_eq!(updated["created_on"], created["created_on"]);
    assert_eq!(updated["last_modified_by"], "bob");
    assert_eq!(db.ok(&["repo", "get", "istio/pilot"], ""), updated);

    db.ok(
        &["repo", "create"],
        &repo_body("ghcr.io/acme", "app").to_string(),
    );
    let page = db.ok(&["repo", "list", "--limit", "1"], "");
    assert_eq!(page["items"][0]["namespace"], "pilot");
    let next = page["next"].as_str().unwrap().to_owned();
    let page = db.ok(&["repo", "list", "--limit", "1", "--cursor", &next], "");
    assert_eq!(page["items"][0]["registry"], "ghcr.io/acme");
}

/// Guards against repo write errors with the wrong status, not in problem+json, or partly applied.
#[test]
fn repo_errors_are_problem_json() {
    let db = Db::new();
    let body = repo_body("docker.io/istio", "pilot").to_string();
    db.ok(&["repo", "create"], &body);
    assert_eq!(db.fails(&["repo", "create"], &body)["status"], 409);
    let missing = repo_body("quay.io/x", "y").to_string();
    assert_eq!(
        db.fails(&["repo", "update", "quay.io/x/y"], &missing)["status"],
        404
    );
    assert_eq!(db.fails(&["repo", "get", "quay.io/x/y"], "")["status"], 404);
    // The body names another repository than the path.
    assert_eq!(
        db.fails(&["repo", "update", "istio/pilot"], &missing)["status"],
        400
    );
    // Unknown field, missing required-but-nullable field, empty body, bad path ID.
    let mut extra = repo_body("docker.io/istio", "pilot");
    extra["owner"] = json!("me");
    assert_eq!(
        db.fails(&["repo", "update", "istio/pilot"], &extra.to_string())["status"],
        400
    );
    let mut short = repo_body("docker.io/istio", "pilot");
    short.as_object_mut().unwrap().remove("projects");
    let p = db.fails(&["repo", "update", "istio/pilot"], &short.to_string());
    assert_eq!(p["status"], 400);
    assert!(p["detail"].as_str().unwrap().contains("projects"), "{p}");
    assert_eq!(db.fails(&["repo", "create"], "")["status"], 400);
    assert_eq!(db.fails(&["repo", "get", "Not/Valid"], "")["status"], 400);
    assert_eq!(
        db.fails(
            &["--actor", "", "repo", "create"],
            &repo_body("a.io/b", "c").to_string()
        )["status"],
        400
    );
    // None of it changed the record.
    assert_eq!(
        db.ok(&["repo", "get", "istio/pilot"], "")["projects"],
        Value::Null
    );
    assert_eq!(db.counts()["repositories"], 1);
}

/// Guards against tag commands drifting from the seed record, and delete erasing history.
#[test]
fn tag_create_get_update_delete_list() {
    let db = Db::new();
    db.ok(
        &["repo", "create"],
        &repo_body("ghcr.io/acme", "app").to_string(),
    );
    let body = |tag: &str, artifact: &str| {
        json!({"repository": "ghcr.io/acme/app", "tag": tag, "artifact": artifact}).to_string()
    };
    // The seed's bare-hex artifact is read as sha256.
    let created = db.ok(&["--actor", "alice", "tag", "create"], &body("v1", HEX_A));
    assert_eq!(
        keys(&created),
        set(&[
            "artifact",
            "repository",
            "tag",
            "created_by",
            "created_on",
            "last_modified_by",
            "last_modified_on"
        ])
    );
    assert_eq!(created["artifact"], format!("sha256:{HEX_A}"));
    assert_eq!(created["repository"], "ghcr.io/acme/app");
    assert!(created["created_on"].as_str().unwrap().ends_with('Z'));
    db.ok(&["tag", "create"], &body("v2", &digest('c')));
    assert_eq!(db.ok(&["tag", "get", "ghcr.io/acme/app:v1"], ""), created);

    let updated = db.ok(
        &["--actor", "bob", "tag", "update", "ghcr.io/acme/app:v1"],
        &body("v1", &digest('d')),
    );
    assert_eq!(updated["artifact"], digest('d'));
    assert_eq!(
        (
            updated["created_by"].as_str(),
            updated["last_modified_by"].as_str()
        ),
        (Some("alice"), Some("bob"))
    );
    let hist = db.ok(&["history", "ghcr.io/acme/app:v1"], "");
    assert_eq!(hist["history"].as_array().unwrap().len(), 2);

    let page = db.ok(&["tag", "list", "ghcr.io/acme/app", "--limit", "1"], "");
    assert_eq!(page["items"][0]["tag"], "v1");
    let next = page["next"].as_str().unwrap().to_owned();
    let page = db.ok(
        &[
            "tag",
            "list",
            "ghcr.io/acme/app",
            "--limit",
            "1",
            "--cursor",
            &next,
        ],
        "",
    );
    assert_eq!(page["items"][0]["tag"], "v2");

    let deleted = db.ok(&["tag", "delete", "ghcr.io/acme/app:v1"], "");
    assert_eq!(deleted["deleted"], "ghcr.io/acme/app:v1");
    assert_eq!(
        db.fails(&["tag", "get", "ghcr.io/acme/app:v1"], "")["status"],
        404
    );
    let listed = db.ok(&["tag", "list", "ghcr.io/acme/app"], "");
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "deleted tags are not listed"
    );
    let found = db.ok(&["lookup", &digest('d')], "");
    assert_eq!(
        found["matches"][0]["current"], false,
        "history stays after delete"
    );
}

/// Guards against tag write errors with the wrong status or leaving a reference behind.
#[test]
fn tag_errors_are_problem_json() {
    let db = Db::new();
    db.ok(
        &["repo", "create"],
        &repo_body("ghcr.io/acme", "app").to_string(),
    );
    let body = |repo: &str, tag: &str| {
        json!({"repository": repo, "tag": tag, "artifact": digest('a')}).to_string()
    };
    let p = db.fails(&["tag", "create"], &body("ghcr.io/acme/other", "v1"));
    assert_eq!(p["status"], 404, "the repository must exist");
    db.ok(&["tag", "create"], &body("ghcr.io/acme/app", "v1"));
    assert_eq!(
        db.fails(&["tag", "create"], &body("ghcr.io/acme/app", "v1"))["status"],
        409
    );
    assert_eq!(
        db.fails(
            &["tag", "update", "ghcr.io/acme/app:v9"],
            &body("ghcr.io/acme/app", "v9")
        )["status"],
        404
    );
    let p = db.fails(
        &["tag", "update", "ghcr.io/acme/app:v1"],
        &body("ghcr.io/acme/app", "v2"),
    );
    assert_eq!(
        (p["status"].as_u64(), p["errors"][0]["location"].as_str()),
        (Some(400), Some("body.tag"))
    );
    let bad =
        json!({"repository": "ghcr.io/acme/app", "tag": "v1", "artifact": "sha256:zz"}).to_string();
    assert_eq!(
        db.fails(&["tag", "update", "ghcr.io/acme/app:v1"], &bad)["status"],
        400
    );
    let extra =
        json!({"repository": "ghcr.io/acme/app", "tag": "v1", "artifact": digest('b'), "color": 1})
            .to_string();
    assert_eq!(
        db.fails(&["tag", "update", "ghcr.io/acme/app:v1"], &extra)["status"],
        400
    );
    db.ok(&["tag", "delete", "ghcr.io/acme/app:v1"], "");
    assert_eq!(
        db.fails(&["tag", "delete", "ghcr.io/acme/app:v1"], "")["status"],
        404
    );
    assert_eq!(
        db.fails(
            &["tag", "update", "ghcr.io/acme/app:v1"],
            &body("ghcr.io/acme/app", "v1")
        )["status"],
        404
    );
    assert_eq!(
        db.fails(&["tag", "list", "ghcr.io/acme/none"], "")["status"],
        404
    );
    assert_eq!(
        db.counts()["references"],
        1,
        "no failed write left a reference"
    );
}

/// Guards against `ref` answers drifting from seed 003, cursors that repeat, and bad IDs not being 400.
#[test]
fn ref_get_and_list() {
    let db = imported();
    let id = format!("nginx:latest@{}", digest('b'));
    let r = db.ok(&["ref", "get", &id], "");
    assert_eq!(
        keys(&r),
        set(&[
            "tag",
            "artifact",
            "created_by",
            "created_on",
            "last_modified_by",
            "last_modified_on"
        ])
    );
    assert_eq!(
        (r["tag"].as_str(), r["artifact"].as_str()),
        (
            Some("docker.io/library/nginx:latest"),
            Some(digest('b').as_str())
        )
    );
    assert_eq!(r["created_by"], "ociledger", "the default actor");
    let first = db.ok(&["ref", "list", "nginx:latest", "--limit", "1"], "");
    assert_eq!(first["items"][0]["artifact"], digest('b'), "newest first");
    let next = first["next"].as_str().unwrap().to_owned();
    let second = db.ok(
        &[
            "ref",
            "list",
            "nginx:latest",
            "--limit",
            "1",
            "--cursor",
            &next,
        ],
        "",
    );
    assert_eq!(second["items"][0]["artifact"], digest('a'));
    let mut rest = second;
    while let Some(c) = rest["next"].as_str().map(str::to_owned) {
        rest = db.ok(
            &[
                "ref",
                "list",
                "nginx:latest",
                "--limit",
                "1",
                "--cursor",
                &c,
            ],
            "",
        );
        assert_eq!(rest["items"], json!([]), "only two references");
    }
    assert_eq!(
        db.fails(
            &["ref", "get", &format!("nginx:latest@{}", digest('f'))],
            ""
        )["status"],
        404
    );
    assert_eq!(db.fails(&["ref", "get", "nginx:latest"], "")["status"], 400);
    assert_eq!(
        db.fails(&["ref", "list", "nginx:latest", "--cursor", "x"], "")["status"],
        400
    );
}

/// Guards against `OCILEDGER_DB` and `OCILEDGER_ACTOR` being ignored.
#[test]
fn database_and_actor_come_from_the_environment() {
    let db = Db::new();
    let path = db.path.to_str().unwrap();
    let env = [("OCILEDGER_DB", path), ("OCILEDGER_ACTOR", "env-actor")];
    let out = run_with(
        None,
        &["repo", "create"],
        &repo_body("a.io/b", "c").to_string(),
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json_lines(&out.stdout)[0]["created_by"], "env-actor");
    assert!(db.path.exists());
    assert_eq!(
        db.ok(&["repo", "get", "a.io/b/c"], "")["created_by"],
        "env-actor"
    );
}
