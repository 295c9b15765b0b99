//! `ociledger classify --pods` and `ociledger import --manifests` end to end:
//! a ledger built through the CLI (observations, some carrying a config, and
//! a manifest-relations file), then pod lists in the Kubernetes API shape
//! (`kubectl get pods -A -o json`) with every `imageID` form the runtimes
//! write. Guards against the cluster-wide classification drifting from what
//! the README and `scripts/demo.sh` promise: its JSON lines, its table, its
//! summary, its exit status, and how it reports what it cannot read.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

/// A digest whose hex is one character repeated, so that the table's short
/// form (`sha256:` and 12 hex) tells them apart.
fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// The old `nginx:1.25` index, its amd64 manifest and that manifest's config,
/// its arm64/v8 manifest.
const OLD_INDEX: char = '1';
const OLD_AMD64: char = '2';
const OLD_AMD64_CONFIG: char = '3';
const OLD_ARM64: char = '4';
/// The new `nginx:1.25` index and its amd64 manifest.
const NEW_INDEX: char = '5';
const NEW_AMD64: char = '6';
/// `redis:7` (a single manifest) and its config, which its observation carries.
const REDIS: char = '7';
const REDIS_CONFIG: char = '8';
/// `ghcr.io/acme/app:v1` and its config, from the relations file.
const APP: char = '9';
const APP_CONFIG: char = 'a';
/// A digest no one knows.
const STRANGER: char = 'b';

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

    /// Writes `content` to a file in the temporary directory.
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
            .env_remove("OCILEDGER_DB")
            .env_remove("OCILEDGER_ACTOR")
            .arg("--db")
            .arg(&self.path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        // A command that does not read stdin may exit first: ignore a broken pipe.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Runs and expects exit 0 and exactly one JSON line on stdout.
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args, "");
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

    /// The row counts of `stats` (not the sizes, which a read may change).
    fn counts(&self) -> Value {
        let s = self.ok(&["stats"]);
        let counts: serde_json::Map<String, Value> = [
            "repositories",
            "tags",
            "references",
            "observations",
            "intervals",
            "index_manifests",
            "manifest_configs",
        ]
        .iter()
        .map(|k| {
            assert!(s[k].is_u64(), "stats has {k}: {s}");
            ((*k).to_owned(), s[k].clone())
        })
        .collect();
        Value::Object(counts)
    }

    /// Writes a pod document and runs `classify --pods` on it.
    fn classify(&self, doc: &Value, extra: &[&str]) -> Output {
        let file = self.file("pods.json", &serde_json::to_string_pretty(doc).unwrap());
        let mut args = vec!["classify", "--pods", file.to_str().unwrap()];
        args.extend(extra);
        self.run(&args, "")
    }
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

/// The summary `classify --pods` prints on stderr, its last line.
fn summary(out: &Output) -> String {
    text(&out.stderr).lines().last().unwrap_or("").to_owned()
}

/// Checks a failed run: exit 1, nothing on stdout, one problem+json line on
/// stderr; returns it.
fn problem(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "one problem: {}", text(&out.stderr));
    let p = lines.into_iter().next().unwrap();
    assert_eq!(p["status"], 400, "{p}");
    assert!(p["detail"].is_string() && p["title"].is_string(), "{p}");
    p
}

fn observation(repository: &str, tag: &str, digest: &str, at: &str) -> Value {
    json!({"repository": repository, "tag": tag, "digest": digest, "observed_at": at})
}

fn linux(architecture: &str) -> Value {
    json!({"os": "linux", "architecture": architecture})
}

/// The relations file: the old index with both platform manifests (and the
/// amd64 one's config), the new index, and the app's config.
fn manifest_lines() -> Vec<Value> {
    vec![
        json!({"index": digest(OLD_INDEX), "repository": "nginx", "first_seen": "2024-01-01T00:00:00Z",
               "manifests": [
                   {"digest": digest(OLD_AMD64), "platform": linux("amd64"), "config": digest(OLD_AMD64_CONFIG)},
                   {"digest": digest(OLD_ARM64), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}),
        json!({"index": digest(NEW_INDEX), "manifests": [{"digest": digest(NEW_AMD64), "platform": linux("amd64")}]}),
        json!({"manifest": digest(APP), "config": digest(APP_CONFIG), "source": "tag"}),
    ]
}

fn jsonl(lines: &[Value]) -> String {
    lines.iter().map(|l| l.to_string() + "\n").collect()
}

/// A ledger built through the CLI: `nginx:1.25` moved from the old index to
/// the new one; `redis:7`'s observation carries its config; the relations
/// file gives the rest.
fn ledger() -> Db {
    let db = Db::new();
    let mut redis = observation("redis", "7", &digest(REDIS), "2024-01-15T00:00:00Z");
    redis["config"] = json!(digest(REDIS_CONFIG));
    let events = db.file(
        "events.jsonl",
        &jsonl(&[
            observation("nginx", "1.25", &digest(OLD_INDEX), "2024-01-01T00:00:00Z"),
            observation("nginx", "1.25", &digest(NEW_INDEX), "2024-02-01T00:00:00Z"),
            redis,
            observation(
                "ghcr.io/acme/app",
                "v1",
                &digest(APP),
                "2024-01-20T00:00:00Z",
            ),
        ]),
    );
    let s = db.ok(&["import", events.to_str().unwrap()]);
    assert_eq!(
        (s["observations"].as_u64(), s["relations_created"].as_u64()),
        (Some(4), Some(1)),
        "{s}"
    );
    let manifests = db.file("manifests.jsonl", &jsonl(&manifest_lines()));
    let s = db.ok(&["import", "--manifests", manifests.to_str().unwrap()]);
    assert_eq!(
        s["relations_created"], 5,
        "2 + 1 (index, manifest), 1 + 1 (manifest, config): {s}"
    );
    db
}

fn status(name: &str, image_id: &str) -> Value {
    json!({"name": name, "imageID": image_id, "ready": true, "restartCount": 0})
}

fn pod(namespace: &str, name: &str, spec: Value, status: Option<Value>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"namespace": namespace, "name": name, "uid": format!("uid-{name}")}});
    p["spec"] = spec;
    if let Some(s) = status {
        p["status"] = s;
    }
    p
}

/// A cluster with every `imageID` form, init and ephemeral containers, a
/// container still pulling and a pod not scheduled yet.
fn cluster() -> Value {
    let pods = vec![
        pod(
            "web",
            "nginx-new",
            json!({"initContainers": [{"name": "init-config", "image": "nginx:1.25"}],
                   "containers": [{"name": "nginx", "image": "nginx:1.25"}],
                   "ephemeralContainers": [{"name": "debug", "image": "busybox:1.36", "targetContainerName": "nginx"}]}),
            Some(json!({"phase": "Running",
                "initContainerStatuses": [status("init-config", &digest(OLD_AMD64_CONFIG))],
                "containerStatuses": [status("nginx", &format!("docker-pullable://nginx@{}", digest(NEW_INDEX)))],
                "ephemeralContainerStatuses": [status("debug", &format!("docker.io/library/busybox@{}", digest(STRANGER)))]})),
        ),
        pod(
            "web",
            "nginx-old",
            json!({"containers": [{"name": "nginx", "image": "nginx:1.25"}]}),
            Some(json!({"phase": "Running", "containerStatuses": [
                status("nginx", &format!("mirror.example.com/library/nginx@{}", digest(OLD_ARM64)))]})),
        ),
        pod(
            "cache",
            "redis-0",
            json!({"containers": [{"name": "redis", "image": "redis:7"}]}),
            Some(json!({"phase": "Running", "containerStatuses": [
                status("redis", &format!("docker://{}", digest(REDIS_CONFIG)))]})),
        ),
        pod(
            "acme",
            "app-1",
            json!({"containers": [{"name": "app", "image": "ghcr.io/acme/app:v1"},
                                  {"name": "proxy", "image": "my-mirror.example.com/nginx:1.25"}]}),
            Some(json!({"phase": "Running", "containerStatuses": [
                status("proxy", &format!("docker-pullable://my-mirror.example.com/nginx@{}", digest(NEW_INDEX))),
                status("app", &digest(APP_CONFIG))]})),
        ),
        pod(
            "jobs",
            "report-1",
            json!({"containers": [{"name": "report", "image": "redis:7"}]}),
            Some(json!({"phase": "Pending", "containerStatuses": [status("report", "")]})),
        ),
        pod(
            "jobs",
            "pending-1",
            json!({"containers": [{"name": "job", "image": "ghcr.io/acme/app:v1"}]}),
            None,
        ),
    ];
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": pods})
}

const ANSWER_KEYS: [&str; 11] = [
    "namespace",
    "pod",
    "container",
    "role",
    "image",
    "image_id",
    "kind",
    "tag",
    "digest",
    "via",
    "matches",
];

fn via(digest_char: char, platform: Option<Value>) -> Value {
    json!({"digest": digest(digest_char), "platform": platform.unwrap_or(Value::Null)})
}

/// Guards against a container of a cluster being skipped, misread (namespace, pod, role, any `imageID` form) or misclassified, and against the JSON line fields drifting.
#[test]
fn every_container_of_a_list_is_classified_with_its_evidence() {
    let db = ledger();
    let out = db.classify(&cluster(), &["--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out.stdout);
    let nginx = "docker.io/library/nginx:1.25";
    let redis = "docker.io/library/redis:7";
    let app = "ghcr.io/acme/app:v1";
    let arm64 = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
    // Every field but `matches` (and `note`), in spec order: init, app, ephemeral.
    let want = [
        json!({"namespace": "web", "pod": "nginx-new", "container": "init-config", "role": "init",
               "image": "nginx:1.25", "image_id": digest(OLD_AMD64_CONFIG),
               "kind": "historical", "tag": nginx, "digest": digest(OLD_AMD64_CONFIG),
               "via": via(OLD_INDEX, Some(linux("amd64")))}),
        json!({"namespace": "web", "pod": "nginx-new", "container": "nginx", "role": "app",
               "image": "nginx:1.25", "image_id": format!("docker-pullable://nginx@{}", digest(NEW_INDEX)),
               "kind": "current", "tag": nginx, "digest": digest(NEW_INDEX), "via": null}),
        json!({"namespace": "web", "pod": "nginx-new", "container": "debug", "role": "ephemeral",
               "image": "busybox:1.36", "image_id": format!("docker.io/library/busybox@{}", digest(STRANGER)),
               "kind": "unknown", "tag": null, "digest": digest(STRANGER), "via": null}),
        // The spec's image names the tag; the mirror's name in imageID is not the answer.
        json!({"namespace": "web", "pod": "nginx-old", "container": "nginx", "role": "app",
               "image": "nginx:1.25", "image_id": format!("mirror.example.com/library/nginx@{}", digest(OLD_ARM64)),
               "kind": "historical", "tag": nginx, "digest": digest(OLD_ARM64),
               "via": via(OLD_INDEX, Some(arm64.clone()))}),
        json!({"namespace": "cache", "pod": "redis-0", "container": "redis", "role": "app",
               "image": "redis:7", "image_id": format!("docker://{}", digest(REDIS_CONFIG)),
               "kind": "current", "tag": redis, "digest": digest(REDIS_CONFIG), "via": via(REDIS, None)}),
        json!({"namespace": "acme", "pod": "app-1", "container": "app", "role": "app",
               "image": app, "image_id": digest(APP_CONFIG),
               "kind": "current", "tag": app, "digest": digest(APP_CONFIG), "via": via(APP, None)}),
        json!({"namespace": "acme", "pod": "app-1", "container": "proxy", "role": "app",
               "image": "my-mirror.example.com/nginx:1.25",
               "image_id": format!("docker-pullable://my-mirror.example.com/nginx@{}", digest(NEW_INDEX)),
               "kind": "other_tags", "tag": nginx, "digest": digest(NEW_INDEX), "via": null}),
        json!({"namespace": "jobs", "pod": "report-1", "container": "report", "role": "app",
               "image": "redis:7", "image_id": null,
               "kind": "tag_only", "tag": redis, "digest": null, "via": null}),
        json!({"namespace": "jobs", "pod": "pending-1", "container": "job", "role": "app",
               "image": app, "image_id": null,
               "kind": "tag_only", "tag": app, "digest": null, "via": null}),
    ];
    assert_eq!(lines.len(), want.len(), "{}", text(&out.stdout));
    for (got, want) in lines.iter().zip(&want) {
        let what = format!("{}/{}", want["pod"], want["container"]);
        let mut expected_keys: BTreeSet<&str> = ANSWER_KEYS.into_iter().collect();
        if got["digest"].is_null() {
            expected_keys.insert("note");
            assert!(
                got["note"].as_str().unwrap().contains("no imageID"),
                "{what}: {got}"
            );
        }
        assert_eq!(keys(got), expected_keys, "{what}: {got}");
        let mut projected = got.clone();
        let fields = projected.as_object_mut().unwrap();
        let matches = fields.remove("matches").unwrap();
        fields.remove("note");
        assert_eq!(projected, *want, "{what}");
        let matches = matches.as_array().unwrap();
        let kind = want["kind"].as_str().unwrap();
        assert_eq!(
            matches.is_empty(),
            kind == "unknown" || kind == "tag_only",
            "{what}"
        );
        if let Some(first) = matches.first() {
            assert_eq!(
                keys(first),
                ["current", "since", "tag", "until", "via"]
                    .into_iter()
                    .collect(),
                "{what}"
            );
            assert_eq!(
                first["via"], want["via"],
                "{what}: the evidence is the first match's"
            );
        }
    }
    // The old platform manifest: the interval the tag pointed to its index.
    assert_eq!(
        lines[3]["matches"],
        json!([{"tag": nginx, "current": false, "since": "2024-01-01T00:00:00Z",
                "until": "2024-02-01T00:00:00Z",
                "via": via(OLD_INDEX, Some(arm64))}])
    );
    assert_eq!(
        summary(&out),
        "9 containers: 3 current, 2 historical, 1 other_tags, 2 tag_only, 1 unknown"
    );
}

/// Guards against `--pods` reading only a `List`: a `PodList`, a single `Pod`, and either on stdin give the same answers, as JSON lines when stdout is not a terminal.
#[test]
fn a_pod_list_a_single_pod_and_stdin_read_alike() {
    let db = ledger();
    let list = cluster();
    let one = list["items"][1].clone();
    let from_list = db.classify(&list, &["--output", "json"]);
    let expected = &json_lines(&from_list.stdout)[3];
    let pod_list = json!({"apiVersion": "v1", "kind": "PodList", "items": [one.clone()]});
    for (what, out) in [
        ("PodList", db.classify(&pod_list, &[])),
        ("Pod", db.classify(&one, &[])),
        (
            "Pod on stdin",
            db.run(&["classify", "--pods", "-"], &one.to_string()),
        ),
        (
            "PodList on stdin",
            db.run(
                &["classify", "--pods", "-", "--output", "json"],
                &pod_list.to_string(),
            ),
        ),
    ] {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
        assert_eq!(
            json_lines(&out.stdout),
            std::slice::from_ref(expected),
            "{what}"
        );
        assert_eq!(summary(&out), "1 containers: 1 historical", "{what}");
    }
}

/// Guards against a malformed pod or container ending the run or vanishing: it must be an `error` line with its JSON path in `note`, the rest classified, exit 1.
#[test]
fn malformed_entries_are_errors_with_their_path_and_the_run_goes_on() {
    let db = ledger();
    let doc = json!({"kind": "List", "items": [
        pod("x", "broken",
            json!({"initContainers": {"name": "not-a-list"},
                   "containers": [{"name": "ok", "image": "redis:7"},
                                  {"name": "no-image"},
                                  {"name": "bad-id", "image": "redis:7"},
                                  {"name": "bad-image", "image": "Redis:7"}]}),
            Some(json!({"containerStatuses": [
                status("ok", &format!("docker://{}", digest(REDIS_CONFIG))),
                status("bad-id", "docker://sha256:12ab")]}))),
        {"kind": "Pod", "metadata": {"namespace": "x", "name": "no-spec"}},
        {"kind": "Pod", "metadata": {"namespace": "x"}, "spec": {"containers": []}},
        pod("x", "fine", json!({"containers": [{"name": "job", "image": "ghcr.io/acme/app:v1"}]}), None),
    ]});
    let out = db.classify(&doc, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out.stdout);
    let got: Vec<(&str, &str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["pod"].as_str().unwrap(),
                l["container"].as_str().unwrap(),
                l["kind"].as_str().unwrap(),
                l["note"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let note = |i: usize| got[i].3;
    assert_eq!(
        got.iter().map(|g| (g.0, g.1, g.2)).collect::<Vec<_>>(),
        [
            ("broken", "", "error"),
            ("broken", "ok", "current"),
            ("broken", "", "error"),
            ("broken", "bad-id", "error"),
            ("broken", "bad-image", "error"),
            ("no-spec", "", "error"),
            ("", "", "error"),
            ("fine", "job", "tag_only"),
        ],
        "{}",
        text(&out.stdout)
    );
    assert!(
        note(0).starts_with("items[0].spec.initContainers: "),
        "{}",
        note(0)
    );
    assert!(
        note(2).starts_with("items[0].spec.containers[1].image: "),
        "{}",
        note(2)
    );
    assert!(note(3).starts_with("imageID: "), "{}", note(3));
    assert!(note(4).contains("Redis:7"), "{}", note(4));
    assert!(note(5).starts_with("items[1].spec: "), "{}", note(5));
    assert!(
        note(6).starts_with("items[2].metadata.name: "),
        "{}",
        note(6)
    );
    // An unreadable entry has no answer fields; a container that was read keeps its own.
    assert_eq!(
        (&lines[0]["role"], &lines[0]["image"], &lines[0]["matches"]),
        (&Value::Null, &Value::Null, &json!([]))
    );
    assert_eq!(
        (&lines[3]["role"], &lines[3]["image"], &lines[3]["image_id"]),
        (
            &json!("app"),
            &json!("redis:7"),
            &json!("docker://sha256:12ab")
        )
    );
    assert_eq!(
        summary(&out),
        "8 containers: 1 current, 6 error, 1 tag_only"
    );
}

/// Guards against a document that is not pods (or not JSON) being read as an empty cluster: exit 1, nothing on stdout, a problem naming where.
#[test]
fn a_document_that_is_not_pods_is_a_problem_naming_the_path() {
    let db = ledger();
    for (what, content, location) in [
        (
            "items not an array",
            r#"{"kind": "List", "items": {"a": 1}}"#,
            "pods: items",
        ),
        (
            "a Deployment",
            r#"{"kind": "Deployment", "spec": {}}"#,
            "pods: kind",
        ),
        ("an array", "[1, 2]", "pods: $"),
        (
            "invalid JSON",
            "{\"kind\": \"List\",\n \"items\": [",
            "pods (line 2, column",
        ),
    ] {
        let file = db.file("doc.json", content);
        let p = problem(&db.run(&["classify", "--pods", file.to_str().unwrap()], ""));
        let got = p["errors"][0]["location"].as_str().unwrap();
        assert!(got.starts_with(location), "{what}: {p}");
    }
    let p = problem(&db.run(
        &[
            "classify",
            "--pods",
            db.dir().join("missing.json").to_str().unwrap(),
        ],
        "",
    ));
    assert_eq!(p["errors"][0]["location"], "pods");
}

/// Guards against `--output` without `--pods` being silently ignored.
#[test]
fn output_without_pods_is_a_usage_error() {
    // `--output` was declared `requires = "pods"` only, but clap lets a
    // conflict win over a requirement and the image argument conflicts with
    // `--pods`, so `classify IMAGE --output table` printed one JSON answer
    // and exited 0.
    let db = ledger();
    for output in ["json", "table"] {
        let out = db.run(&["classify", "nginx:1.25", "--output", output], "");
        assert_eq!(
            out.status.code(),
            Some(2),
            "--output {output}: {}",
            text(&out.stdout)
        );
    }
}

/// A table row cut at the columns' starts, each cell without its padding;
/// checks that each column is set off by two spaces.
fn cells(row: &str, starts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = row.chars().collect();
    (0..starts.len())
        .map(|i| {
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(chars.len())
                .min(chars.len());
            if i > 0 && starts[i] < chars.len() {
                assert_eq!(
                    chars[starts[i] - 2..starts[i]],
                    [' ', ' '],
                    "two spaces before column {i}: {row}"
                );
            }
            chars[starts[i].min(chars.len())..end]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect()
}

/// Guards against a misaligned or incomplete table: a header, then one row per container, each column where its header is, the evidence `direct` or `via <digest prefix> <platform>`.
#[test]
fn table_output_is_a_header_and_one_aligned_row_per_container() {
    let db = ledger();
    let out = db.classify(&cluster(), &["--output", "table"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), 1 + 9, "{stdout}");
    let header = rows[0];
    let titles = ["POD", "CONTAINER", "IMAGE", "KIND", "TAG", "EVIDENCE"];
    let starts: Vec<usize> = titles.iter().map(|t| header.find(t).unwrap()).collect();
    assert_eq!(starts[0], 0, "{header}");
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{header}");
    assert_eq!(cells(header, &starts), titles);
    let old = format!("via {} linux/arm64/v8", &digest(OLD_INDEX)[..19]);
    let init = format!("via {} linux/amd64", &digest(OLD_INDEX)[..19]);
    let redis = format!("via {}", &digest(REDIS)[..19]);
    let want: [[&str; 6]; 9] = [
        [
            "web/nginx-new",
            "init-config",
            "nginx:1.25",
            "historical",
            "docker.io/library/nginx:1.25",
            &init,
        ],
        [
            "web/nginx-new",
            "nginx",
            "nginx:1.25",
            "current",
            "docker.io/library/nginx:1.25",
            "direct",
        ],
        ["web/nginx-new", "debug", "busybox:1.36", "unknown", "", ""],
        [
            "web/nginx-old",
            "nginx",
            "nginx:1.25",
            "historical",
            "docker.io/library/nginx:1.25",
            &old,
        ],
        [
            "cache/redis-0",
            "redis",
            "redis:7",
            "current",
            "docker.io/library/redis:7",
            &redis,
        ],
        [
            "acme/app-1",
            "app",
            "ghcr.io/acme/app:v1",
            "current",
            "ghcr.io/acme/app:v1",
            &format!("via {}", &digest(APP)[..19]),
        ],
        [
            "acme/app-1",
            "proxy",
            "my-mirror.example.com/nginx:1.25",
            "other_tags",
            "docker.io/library/nginx:1.25",
            "direct",
        ],
        [
            "jobs/report-1",
            "report",
            "redis:7",
            "tag_only",
            "docker.io/library/redis:7",
            "no imageID reported yet (pending, pulling, or no status)",
        ],
        [
            "jobs/pending-1",
            "job",
            "ghcr.io/acme/app:v1",
            "tag_only",
            "ghcr.io/acme/app:v1",
            "no imageID reported yet (pending, pulling, or no status)",
        ],
    ];
    for (row, w) in rows[1..].iter().zip(want) {
        assert_eq!(cells(row, &starts), w, "{row}");
        assert_eq!(*row, row.trim_end(), "no trailing spaces");
    }
    assert_eq!(
        summary(&out),
        "9 containers: 3 current, 2 historical, 1 other_tags, 2 tag_only, 1 unknown"
    );
}

/// Guards against `import --manifests` miscounting relations, aborting on a bad line or losing its line number, and `--strict` writing anything.
#[test]
fn import_manifests_counts_relations_and_reports_bad_lines() {
    let db = ledger();
    let before = db.counts();
    assert_eq!(
        (&before["index_manifests"], &before["manifest_configs"]),
        (&json!(3), &json!(3)),
        "{before}"
    );
    // Recording the same relations again creates none.
    let again = db.file("again.jsonl", &jsonl(&manifest_lines()));
    let s = db.ok(&["import", "--manifests", again.to_str().unwrap()]);
    assert_eq!(
        (&s["relations_created"], &s["lines"]),
        (&json!(0), &json!(3))
    );
    assert_eq!(db.counts(), before);

    // A bad line among good ones: reported with its number, skipped.
    let content = [
        json!({"manifest": digest('c'), "config": digest('d')}).to_string(),
        json!({"index": digest('e'), "manifests": [{"digest": digest('f'), "platform": {"os": "linux"}}]})
            .to_string(),
        String::new(),
        "not json".to_owned(),
        json!({"index": digest('e'), "manifests": [{"digest": digest('f'), "platform": linux("s390x")}]})
            .to_string(),
    ]
    .join("\n");
    let file = db.file("mixed.jsonl", &content);
    let strict = db.run(
        &["import", "--manifests", "--strict", file.to_str().unwrap()],
        "",
    );
    assert_eq!(problem(&strict)["errors"][0]["location"], "line 2");
    assert_eq!(db.counts(), before, "--strict writes nothing");

    let out = db.run(
        &[
            "import",
            "--manifests",
            "--batch",
            "1",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let problems = json_lines(&out.stderr);
    let locations: Vec<&Value> = problems
        .iter()
        .map(|p| &p["errors"][0]["location"])
        .collect();
    assert_eq!(
        locations,
        [&json!("line 2"), &json!("line 4")],
        "{}",
        text(&out.stderr)
    );
    let s = json_lines(&out.stdout);
    assert_eq!(s.len(), 1, "the summary");
    assert_eq!(
        (&s[0]["relations_created"], &s[0]["skipped"], &s[0]["lines"]),
        (&json!(2), &json!(2), &json!(5)),
        "{}",
        s[0]
    );
    let after = db.counts();
    assert_eq!(
        (&after["index_manifests"], &after["manifest_configs"]),
        (&json!(4), &json!(4)),
        "{after}"
    );
}

/// Guards against a conflicting relation line sinking its whole batch and being named by its place in the batch.
#[test]
fn a_conflicting_relation_line_is_reported_by_line_and_skipped() {
    // A line that parses but conflicts with a recorded relation (another
    // platform for a recorded (index, manifest)) used to fail its whole
    // batch: with the default batch no line of the file was written, and the
    // problem said `relation 1` (its place in the batch) for line 2. The
    // README promises bad lines "reported with their line number and skipped".
    let db = ledger();
    let before = db.counts();
    let content = jsonl(&[
        json!({"manifest": digest('c'), "config": digest('d')}),
        // The old index lists its arm64 manifest for another platform.
        json!({"index": digest(OLD_INDEX), "manifests": [{"digest": digest(OLD_ARM64), "platform": linux("amd64")}]}),
        json!({"index": digest('e'), "manifests": [{"digest": digest('f'), "platform": linux("amd64"), "config": digest('0')}]}),
    ]);
    let file = db.file("conflict.jsonl", &content);
    let out = db.run(&["import", "--manifests", file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let problems = json_lines(&out.stderr);
    assert_eq!(problems.len(), 1, "{}", text(&out.stderr));
    let location = problems[0]["errors"][0]["location"].as_str().unwrap();
    assert!(
        location.starts_with("line 2"),
        "the line of the conflict: {location}"
    );
    let after = db.counts();
    assert_eq!(
        (
            after["index_manifests"].as_u64().unwrap()
                - before["index_manifests"].as_u64().unwrap(),
            after["manifest_configs"].as_u64().unwrap()
                - before["manifest_configs"].as_u64().unwrap()
        ),
        (1, 2),
        "the good lines are written"
    );
}

/// Guards against the bundled demo drifting from the README: the import counts, 2 current, 3 historical, 1 `tag_only`, 1 unknown, and the table line for line.
#[test]
fn the_bundled_demo_cluster_classifies_as_the_readme_shows() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let db = Db::new();
    let events = data.join("sample-events.jsonl.gz");
    let manifests = data.join("sample-manifests.jsonl.gz");
    // The import lines of the README's demo output.
    let s = db.ok(&["import", events.to_str().unwrap()]);
    assert_eq!(
        (
            &s["observations"],
            &s["tags_created"],
            &s["references_created"],
            &s["skipped"]
        ),
        (&json!(5143), &json!(946), &json!(4690), &json!(0)),
        "{s}"
    );
    let s = db.ok(&["import", "--manifests", manifests.to_str().unwrap()]);
    assert_eq!(
        (&s["relations_created"], &s["skipped"]),
        (&json!(9114), &json!(0)),
        "{s}"
    );
    let pods = data.join("demo-pods.json");
    let out = db.run(
        &[
            "classify",
            "--pods",
            pods.to_str().unwrap(),
            "--output",
            "json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got: Vec<(String, String, String)> = json_lines(&out.stdout)
        .iter()
        .map(|l| {
            (
                format!(
                    "{}/{}/{}",
                    l["namespace"].as_str().unwrap(),
                    l["pod"].as_str().unwrap(),
                    l["container"].as_str().unwrap()
                ),
                l["kind"].as_str().unwrap().to_owned(),
                l["via"]["digest"]
                    .as_str()
                    .map_or("direct", |_| "via")
                    .to_owned(),
            )
        })
        .collect();
    let want = [
        (
            "web/nginx-6d4cf56db6-x7k2p/wait-for-config",
            "historical",
            "direct",
        ),
        ("web/nginx-6d4cf56db6-x7k2p/nginx", "current", "direct"),
        ("web/nginx-legacy-0/nginx", "historical", "via"),
        ("cache/redis-0/redis", "current", "via"),
        ("cache/redis-0/debugger", "historical", "via"),
        ("jobs/report-28410/report", "tag_only", "direct"),
        ("acme/billing-7f9c/billing", "unknown", "direct"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        summary(&out),
        "7 containers: 2 current, 3 historical, 1 tag_only, 1 unknown"
    );
    // The table and summary, line for line as the README shows them.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let shown: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("POD "))
        .take_while(|l| !l.starts_with("```"))
        .collect();
    let table = db.run(
        &[
            "classify",
            "--pods",
            pods.to_str().unwrap(),
            "--output",
            "table",
        ],
        "",
    );
    assert_eq!(table.status.code(), Some(0), "{}", text(&table.stderr));
    let printed = text(&table.stdout) + &text(&table.stderr);
    assert_eq!(printed.lines().collect::<Vec<_>>(), shown, "{printed}");
}
