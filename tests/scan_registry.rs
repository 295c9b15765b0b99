//! The scanner against a real registry (Debian's `docker-registry`, the CNCF
//! distribution registry) on 127.0.0.1: content pushed through the
//! registry's API (real-shaped blobs, OCI and Docker manifests, an OCI index
//! and a Docker manifest list of two platforms), scanned, changed (a tag
//! moved, a new index pushed for a tag, a tag deleted), scanned again, and
//! checked in the ledger and in the registry's access log. Anonymous and
//! with htpasswd basic auth, through the library and the `ociledger` binary.
//!
//! Skips (printing why) when `docker-registry` / `htpasswd` are missing,
//! except under `CI=true`.
#![cfg(feature = "scan")]

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ociledger::id::{Digest, RepositoryId, TagId};
use ociledger::model::Timestamp;
use ociledger::scan::{Credentials, Options, RepositoryReport, ScanError, Scanner};
use ociledger::{Ledger, MatchKind};
use serde_json::Value;
use support::registry::{Image, Pushed, Registry};

const REPO: &str = "team/app";

fn options() -> Options {
    Options {
        plain_http: true,
        // Asked for, though the registry of Debian 12 (distribution 2.8)
        // answers the whole listing at once; tests/scan_misbehaving.rs
        // has a listing of several `Link` pages.
        page_size: Some(2),
        timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

fn repository(registry: &Registry) -> RepositoryId {
    format!("{}/{REPO}", registry.host()).parse().unwrap()
}

fn tag(registry: &Registry, name: &str) -> TagId {
    TagId::new(repository(registry), name).unwrap()
}

fn scan(scanner: &Scanner, ledger: &Ledger, registry: &Registry) -> RepositoryReport {
    let report = scanner.scan_blocking(ledger, "scanner", &repository(registry));
    assert!(report.error.is_none(), "{:?}", report.error);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.written);
    report
}

/// `GET …/manifests/…` lines of the access log after line `from`.
fn manifest_gets(registry: &Registry, from: usize) -> Vec<String> {
    registry.access_log()[from..]
        .iter()
        .filter(|l| l.contains("\"GET /v2/") && l.contains("/manifests/"))
        .cloned()
        .collect()
}

/// What was pushed first.
struct Content {
    amd64: Pushed,
    arm64: Pushed,
    docker_amd64: Pushed,
    docker_armv7: Pushed,
    gone: Pushed,
    index: Digest,
    list: Digest,
}

/// multi → OCI index [amd64, arm64/v8]; single and alias → one Docker v2
/// manifest; dlist → Docker manifest list [amd64, arm/v7]; gone → an OCI
/// manifest of its own.
fn push_content(registry: &Registry) -> Content {
    let amd64 = registry.push_image(REPO, &Image::new("amd64", true, "1"));
    let arm64 = registry.push_image(REPO, &Image::new("arm64", true, "1"));
    let index = registry.push_index(
        REPO,
        "multi",
        true,
        &[(&amd64, "linux/amd64"), (&arm64, "linux/arm64/v8")],
    );
    let docker_amd64 = registry.push_image(REPO, &Image::new("amd64", false, "1"));
    let docker_armv7 = registry.push_image(REPO, &Image::new("arm", false, "1"));
    registry.tag(REPO, "single", &docker_amd64);
    registry.tag(REPO, "alias", &docker_amd64);
    let list = registry.push_index(
        REPO,
        "dlist",
        false,
        &[
            (&docker_amd64, "linux/amd64"),
            (&docker_armv7, "linux/arm/v7"),
        ],
    );
    let gone = registry.push_image(REPO, &Image::new("amd64", true, "gone"));
    registry.tag(REPO, "gone", &gone);
    Content {
        amd64,
        arm64,
        docker_amd64,
        docker_armv7,
        gone,
        index,
        list,
    }
}

fn platform_of(ledger: &Ledger, child: &Digest, index: &Digest) -> String {
    let parents = ledger.snapshot().unwrap().indexes_listing(child).unwrap();
    let (_, platform) = parents
        .iter()
        .find(|(d, _)| d == index)
        .unwrap_or_else(|| panic!("{child} is not recorded as a child of {index}: {parents:?}"));
    platform.to_string()
}

fn last_scanned_on(ledger: &Ledger, registry: &Registry) -> Timestamp {
    ledger
        .get_repository(&repository(registry))
        .unwrap()
        .last_scanned_on
}

/// The whole life of a repository against a real registry, anonymous.
/// Guards against: missing or wrong history, intervals, index children,
/// platforms and configs; a moved tag or a new index not recorded; a
/// deleted tag left current; `last_scanned_on` not set; and a rescan that
/// downloads manifests the ledger knows (the promise: one request per tag
/// for an unchanged repository).
#[test]
#[allow(clippy::too_many_lines)] // one repository's story, scan after scan
fn scans_record_history_relations_and_deletions_and_rescans_fetch_only_new_manifests() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let c = push_content(&registry);
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(dir.path().join("ledger.redb")).unwrap();
    let scanner = Scanner::new(options());

    // First scan: five tags, every manifest read once (alias and single
    // share one; the Docker list's amd64 entry is that same manifest).
    let first = scan(&scanner, &ledger, &registry);
    assert_eq!(
        (
            first.tags_listed,
            first.tags_new,
            first.tags_moved,
            first.tags_deleted
        ),
        (5, 5, 0, 0)
    );
    // multi (index), amd64, arm64, the Docker manifest, dlist (list), arm/v7, gone.
    assert_eq!(first.manifests_fetched, 7, "{first:?}");
    let t1 = first.scanned_at;
    assert_eq!(last_scanned_on(&ledger, &registry), ociledger_truncated(t1));

    let snap = ledger.snapshot().unwrap();
    assert_eq!(
        snap.tag(&tag(&registry, "multi")).unwrap().artifact,
        c.index
    );
    assert_eq!(
        snap.tag(&tag(&registry, "alias")).unwrap().artifact,
        c.docker_amd64.manifest
    );
    assert_eq!(
        snap.config_of(&c.amd64.manifest).unwrap(),
        Some(c.amd64.config)
    );
    assert_eq!(
        snap.config_of(&c.arm64.manifest).unwrap(),
        Some(c.arm64.config)
    );
    assert_eq!(
        snap.config_of(&c.docker_armv7.manifest).unwrap(),
        Some(c.docker_armv7.config)
    );
    assert_eq!(
        snap.config_of(&c.docker_amd64.manifest).unwrap(),
        Some(c.docker_amd64.config)
    );
    assert_eq!(
        snap.config_of(&c.gone.manifest).unwrap(),
        Some(c.gone.config)
    );
    drop(snap);
    assert_eq!(
        platform_of(&ledger, &c.arm64.manifest, &c.index),
        "linux/arm64/v8"
    );
    assert_eq!(
        platform_of(&ledger, &c.amd64.manifest, &c.index),
        "linux/amd64"
    );
    assert_eq!(
        platform_of(&ledger, &c.docker_armv7.manifest, &c.list),
        "linux/arm/v7"
    );
    assert_eq!(
        platform_of(&ledger, &c.docker_amd64.manifest, &c.list),
        "linux/amd64"
    );

    // What a cluster reports: the arm64 platform manifest of multi's index.
    let image = format!("{}:multi", repository(&registry));
    let answer = ledger.classify(&image, Some(&c.arm64.manifest)).unwrap();
    assert_eq!(answer.kind, MatchKind::Current);
    let via = answer.via.expect("reached through the index");
    assert_eq!(via.digest, c.index);
    assert_eq!(via.platform.unwrap().to_string(), "linux/arm64/v8");
    // A config digest (a runtime without a repo digest) finds the tag too.
    let answer = ledger.classify(&image, Some(&c.arm64.config)).unwrap();
    assert_eq!(answer.kind, MatchKind::Current);

    // Changes: single moves to a new Docker image, multi gets a new index
    // (amd64 kept, a new arm64), gone is deleted; alias and dlist stay.
    let new_single = registry.push_image(REPO, &Image::new("amd64", false, "2"));
    registry.tag(REPO, "single", &new_single);
    let new_arm64 = registry.push_image(REPO, &Image::new("arm64", true, "2"));
    let new_index = registry.push_index(
        REPO,
        "multi",
        true,
        &[(&c.amd64, "linux/amd64"), (&new_arm64, "linux/arm64/v8")],
    );
    registry.delete_manifest(REPO, &c.gone.manifest);

    let log_before = registry.access_log().len();
    let second = scan(&scanner, &ledger, &registry);
    assert_eq!(
        (
            second.tags_listed,
            second.tags_new,
            second.tags_moved,
            second.tags_unchanged,
            second.tags_deleted
        ),
        (4, 0, 2, 2, 1),
        "{second:?}"
    );
    // Only the new index, its new arm64 manifest and single's new manifest:
    // amd64 (in the new index too) is known, so is everything else.
    assert_eq!(second.manifests_fetched, 3, "{second:?}");
    let gets = manifest_gets(&registry, log_before);
    assert_eq!(gets.len(), 3, "{gets:#?}");
    for known in [
        c.amd64.manifest,
        c.arm64.manifest,
        c.index,
        c.list,
        c.docker_amd64.manifest,
    ] {
        assert!(
            !gets.iter().any(|l| l.contains(&known.to_string())),
            "{known} was fetched again: {gets:#?}"
        );
    }
    let t2 = second.scanned_at;
    assert!(t2 > t1);
    assert_eq!(last_scanned_on(&ledger, &registry), ociledger_truncated(t2));

    // History and intervals.
    let multi = ledger
        .history(&tag(&registry, "multi"), None, 10)
        .unwrap()
        .items;
    assert_eq!(multi.len(), 2, "{multi:?}");
    assert_eq!(
        (multi[0].artifact, multi[0].current, multi[0].until),
        (new_index, true, None)
    );
    assert_eq!(multi[0].since, ociledger_truncated(t2));
    assert_eq!((multi[1].artifact, multi[1].current), (c.index, false));
    assert_eq!(
        (multi[1].since, multi[1].until),
        (ociledger_truncated(t1), Some(ociledger_truncated(t2)))
    );
    let single = ledger
        .history(&tag(&registry, "single"), None, 10)
        .unwrap()
        .items;
    assert_eq!(single[0].artifact, new_single.manifest);
    assert_eq!(
        ledger
            .snapshot()
            .unwrap()
            .config_of(&new_single.manifest)
            .unwrap(),
        Some(new_single.config)
    );
    assert_eq!(
        platform_of(&ledger, &new_arm64.manifest, &new_index),
        "linux/arm64/v8"
    );
    assert_eq!(
        platform_of(&ledger, &c.amd64.manifest, &new_index),
        "linux/amd64"
    );

    // The old arm64 manifest is now historical, through the old index.
    let answer = ledger.classify(&image, Some(&c.arm64.manifest)).unwrap();
    assert_eq!(answer.kind, MatchKind::Historical);
    assert_eq!(answer.via.unwrap().digest, c.index);

    // gone: deleted at the second scan's time, still found by digest.
    assert!(ledger.get_tag(&tag(&registry, "gone")).is_err());
    let matches = ledger.tags_for_digest(&c.gone.manifest).unwrap();
    assert_eq!(matches.len(), 1);
    assert!(!matches[0].current);
    assert_eq!(matches[0].until, Some(ociledger_truncated(t2)));

    // Third scan of an unchanged repository: no manifest downloaded, one
    // HEAD per tag, plus the handshake and the listing (one page here).
    let log_before = registry.access_log().len();
    let third = scan(&scanner, &ledger, &registry);
    assert_eq!(
        (
            third.tags_unchanged,
            third.tags_moved,
            third.tags_new,
            third.tags_deleted
        ),
        (4, 0, 0, 0)
    );
    assert_eq!(third.manifests_fetched, 0);
    assert_eq!(third.requests, 1 + 1 + 4, "{third:?}");
    assert!(manifest_gets(&registry, log_before).is_empty());
    let heads = registry.access_log()[log_before..]
        .iter()
        .filter(|l| l.contains("\"HEAD /v2/"))
        .count();
    assert_eq!(heads, 4);
}

/// The ledger stores instants to the microsecond.
fn ociledger_truncated(t: Timestamp) -> Timestamp {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap()
}

/// Guards against a `--tags` filter that makes the unlisted tags look
/// deleted, or resolves tags it should leave alone.
#[test]
fn a_tag_filter_resolves_only_matching_tags_and_deletes_none_of_the_others() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let c = push_content(&registry);
    let ledger = Ledger::in_memory().unwrap();
    let all = scan(&Scanner::new(options()), &ledger, &registry);
    assert_eq!(all.tags_new, 5);
    let only_multi = Scanner::new(Options {
        tags: ociledger::scan::TagFilter::new(["mul*"]),
        ..options()
    });
    let log_before = registry.access_log().len();
    let report = scan(&only_multi, &ledger, &registry);
    assert_eq!(
        (report.tags_listed, report.tags_scanned, report.tags_deleted),
        (5, 1, 0)
    );
    let heads: Vec<_> = registry.access_log()[log_before..]
        .iter()
        .filter(|l| l.contains("\"HEAD /v2/"))
        .cloned()
        .collect();
    assert_eq!(heads.len(), 1, "{heads:#?}");
    assert!(heads[0].contains("/manifests/multi"));
    assert!(ledger.get_tag(&tag(&registry, "gone")).is_ok());
    assert_eq!(
        ledger.get_tag(&tag(&registry, "multi")).unwrap().artifact,
        c.index
    );
}

/// htpasswd basic auth. Guards against: a scan without credentials that
/// writes anything or fails without saying how to give credentials; a scan
/// with them that fails; credentials sent to a registry they are not for.
#[test]
fn basic_auth_registry_needs_credentials_and_says_how_to_give_them() {
    let Some(registry) = Registry::start(Some(("ci", "pa55-w0rd"))) else {
        return;
    };
    let c = push_content(&registry);
    let ledger = Ledger::in_memory().unwrap();

    let report = Scanner::new(options()).scan_blocking(&ledger, "scanner", &repository(&registry));
    let error = report.error.expect("refused without credentials");
    assert!(
        matches!(
            error,
            ScanError::Unauthorized {
                had_credentials: false,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&registry.host()), "{message}");
    assert!(
        message.contains("integration") && message.contains("--username"),
        "{message}"
    );
    assert!(!report.written);
    assert_eq!(ledger.stats().unwrap().counts.repositories, 0);

    // Credentials for another registry are not used for this one.
    let elsewhere = Scanner::new(options())
        .with_credentials("127.0.0.1:1", Credentials::new("ci", "pa55-w0rd".into()));
    let report = elsewhere.scan_blocking(&ledger, "scanner", &repository(&registry));
    assert!(matches!(report.error, Some(ScanError::Unauthorized { .. })));

    let wrong = Scanner::new(options())
        .with_credentials(&registry.host(), Credentials::new("ci", "nope".into()));
    let report = wrong.scan_blocking(&ledger, "scanner", &repository(&registry));
    assert!(
        matches!(
            report.error,
            Some(ScanError::Unauthorized {
                had_credentials: true,
                ..
            })
        ),
        "{:?}",
        report.error
    );
    assert!(!format!("{:?}", report.error).contains("nope"));

    let scanner = Scanner::new(options())
        .with_credentials(&registry.host(), Credentials::new("ci", "pa55-w0rd".into()));
    let report = scan(&scanner, &ledger, &registry);
    assert_eq!(report.tags_new, 5);
    assert_eq!(
        platform_of(&ledger, &c.arm64.manifest, &c.index),
        "linux/arm64/v8"
    );
}

fn run_cli(db: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_SECRET_KEY_FILE")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

/// The command line, with basic auth. Guards against: the password
/// appearing in any output; a summary without the promised counts; an exit
/// status that hides a refusal; a refusal that does not name the registry.
#[test]
fn the_scan_command_reads_the_password_from_stdin_and_never_prints_it() {
    let password = "cli-s3cret-p4ss";
    let Some(registry) = Registry::start(Some(("ci", password))) else {
        return;
    };
    push_content(&registry);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.redb");
    let repo = repository(&registry).to_string();

    let refused = run_cli(&db, &["scan", "--plain-http", &repo], "");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&registry.host()) && stderr.contains("--username"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(summary["repositories_scanned"], 0);
    assert_eq!(summary["failures"][0]["repository"], repo);

    let out = run_cli(
        &db,
        &[
            "scan",
            "--plain-http",
            "--username",
            "ci",
            "--password-stdin",
            "--page-size",
            "2",
            &repo,
        ],
        &format!("{password}\n"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains(password) && !stderr.contains(password));
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    for key in [
        "tags_listed",
        "tags_new",
        "tags_moved",
        "tags_deleted",
        "manifests_fetched",
        "requests",
        "retries",
        "failures",
    ] {
        assert!(summary.get(key).is_some(), "{key} missing: {summary}");
    }
    assert_eq!(
        (
            summary["tags_listed"].as_u64(),
            summary["tags_new"].as_u64()
        ),
        (Some(5), Some(5))
    );
    assert_eq!(summary["manifests_fetched"], 7);

    let lookup = run_cli(&db, &["history", &format!("{repo}:multi")], "");
    assert_eq!(lookup.status.code(), Some(0));
}

/// `--every` and Ctrl-C. Guards against a loop that cannot be stopped, an
/// interrupt that leaves the ledger unreadable or half-written, and a
/// summary that is not printed per round.
#[test]
fn scan_every_runs_rounds_until_interrupted_and_leaves_whole_transactions() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    push_content(&registry);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.redb");
    let repo = repository(&registry).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
        .env_remove("OCILEDGER_DB")
        .env_remove("OCILEDGER_SECRET_KEY_FILE")
        .arg("--db")
        .arg(&db)
        .args(["scan", "--plain-http", "--every", "200ms", &repo])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (first["round"].as_u64(), first["tags_new"].as_u64()),
        (Some(1), Some(5))
    );
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (second["round"].as_u64(), second["tags_unchanged"].as_u64()),
        (Some(2), Some(5))
    );
    assert_eq!(second["manifests_fetched"], 0);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "scan --every did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
    let ledger = Ledger::open_read_only(&db).unwrap();
    let counts = ledger.stats().unwrap().counts;
    assert_eq!((counts.repositories, counts.tags), (1, 5));
    let scanned = ledger
        .get_repository(&repository(&registry))
        .unwrap()
        .last_scanned_on;
    assert!(scanned.timestamp() > 1_700_000_000, "{scanned}");
}

/// Credentials from the REGISTRY integration that matches the registry
/// (issue 10). Guards against the scanner ignoring a stored integration,
/// needing `--username` when one exists, or printing its password; and
/// against a missing secret key failing without saying how to give one.
#[test]
fn the_scan_command_uses_the_registry_integration_for_the_registry() {
    let password = "integr4tion-pw";
    let Some(registry) = Registry::start(Some(("ci", password))) else {
        return;
    };
    push_content(&registry);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.redb");
    let key = dir.path().join("ledger.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let key = key.to_str().unwrap();
    let body = serde_json::json!({
        "name": "test-registry", "type": "docker", "categories": ["REGISTRY"],
        "docker": {"endpoint": registry.host(), "username": "ci", "password": password},
    })
    .to_string();
    let created = run_cli(
        &db,
        &["--secret-key-file", key, "integration", "create"],
        &body,
    );
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let repo = repository(&registry).to_string();

    let without_key = run_cli(&db, &["scan", "--plain-http", &repo], "");
    assert_eq!(without_key.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&without_key.stderr);
    assert!(stderr.contains("--secret-key-file"), "{stderr}");
    assert_eq!(ledger_counts(&db).0, 0, "nothing written without the key");

    let out = run_cli(
        &db,
        &["--secret-key-file", key, "scan", "--plain-http", &repo],
        "",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains(password) && !stderr.contains(password));
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["tags_new"], 5);
    assert_eq!(ledger_counts(&db), (1, 5));
}

/// (repositories, tags) in the ledger file.
fn ledger_counts(db: &std::path::Path) -> (u64, u64) {
    let counts = Ledger::open_read_only(db).unwrap().stats().unwrap().counts;
    (counts.repositories, counts.tags)
}
