//! The scanner against registries that misbehave, each a small HTTP server
//! in the test (a `TcpListener` on 127.0.0.1 and hand-written answers):
//! bytes that are not their digest, malformed JSON, 401, 429 then success,
//! 5xx then success, a server that never answers, a listing whose `Link`
//! loops, a listing of several `Link` pages, a `HEAD` without a digest.
//! After each, the ledger holds exactly what was sound: nothing of a failed
//! repository, nothing of a failed tag, everything of the others.
#![cfg(feature = "scan")]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::scan::{Options, RepositoryReport, ScanError, Scanner};
use ociledger::{Ledger, MatchKind};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An answer of the fake registry, or none at all.
#[derive(Clone)]
enum Answer {
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Keep the connection open and never answer.
    Hang,
}

fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    Answer::Reply {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_vec(),
    }
}

fn ok_json(body: &str) -> Answer {
    reply(
        200,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// What the handler is asked: the method, the path with its query, and how
/// many times the same method and path were asked before.
struct Asked<'a> {
    method: &'a str,
    path: &'a str,
    before: usize,
    authorization: Option<&'a str>,
}

type Handler = dyn Fn(&Asked<'_>) -> Answer + Send + Sync;

/// A fake registry on 127.0.0.1; its threads end with the test process.
struct Fake {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn start(handler: impl Fn(&Asked<'_>) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = Arc::clone(&asked);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        Self { port, asked }
    }

    fn repository(&self) -> RepositoryId {
        format!("127.0.0.1:{}/bad/app", self.port).parse().unwrap()
    }

    fn tag(&self, name: &str) -> TagId {
        TagId::new(self.repository(), name).unwrap()
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// Answers the requests of one connection (keep-alive), until it closes.
fn serve(mut stream: TcpStream, handler: &Handler, log: &Mutex<Vec<String>>) {
    let mut pending = Vec::new();
    loop {
        let end = loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let mut buf = [0u8; 4096];
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
        pending.drain(..end + 4);
        let mut words = head.split_whitespace();
        let method = words.next().unwrap_or("").to_owned();
        let path = words.next().unwrap_or("").to_owned();
        let authorization = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_owned())
        });
        let key = format!("{method} {path}");
        let before = {
            let mut log = log.lock().unwrap();
            let before = log.iter().filter(|k| **k == key).count();
            log.push(key);
            before
        };
        match handler(&Asked {
            method: &method,
            path: &path,
            before,
            authorization: authorization.as_deref(),
        }) {
            Answer::Hang => {
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            Answer::Reply {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in &headers {
                    let _ = write!(out, "{k}: {v}\r\n");
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                if method != "HEAD" {
                    bytes.extend_from_slice(&body);
                }
                if stream.write_all(&bytes).is_err() {
                    return;
                }
            }
        }
    }
}

fn options() -> Options {
    Options {
        plain_http: true,
        timeout: Duration::from_millis(500),
        retries: 2,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        ..Options::default()
    }
}

fn sha(bytes: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, bytes)
}

/// An OCI manifest whose config is the digest of `salt`.
fn manifest_body(salt: &str) -> (Vec<u8>, Digest) {
    let config = sha(salt.as_bytes());
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{}}},"layers":[]}}"#,
        salt.len()
    );
    (body.into_bytes(), config)
}

/// A registry of `tags` (the listing, one page) whose manifests are
/// `bodies` by tag: HEAD answers each body's own digest, and GET by that
/// digest answers `served` (the body itself unless told otherwise).
fn registry_of(
    tags: &[&str],
    bodies: HashMap<String, Vec<u8>>,
    served: HashMap<Digest, Vec<u8>>,
) -> Fake {
    let listing = serde_json::json!({"name": "bad/app", "tags": tags}).to_string();
    Fake::start(move |a| standard(a, &listing, &bodies, &served).unwrap_or_else(not_found))
}

fn not_found() -> Answer {
    reply(
        404,
        &[("Content-Type", "application/json")],
        br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
    )
}

/// The well-behaved part of a fake registry; `None` for anything else.
fn standard(
    a: &Asked<'_>,
    listing: &str,
    bodies: &HashMap<String, Vec<u8>>,
    served: &HashMap<Digest, Vec<u8>>,
) -> Option<Answer> {
    if a.path == "/v2/" {
        return Some(ok_json("{}"));
    }
    if a.path.starts_with("/v2/bad/app/tags/list") {
        return Some(ok_json(listing));
    }
    let reference = a.path.strip_prefix("/v2/bad/app/manifests/")?;
    if let Some(body) = bodies.get(reference) {
        let digest = sha(body).to_string();
        let media_type = if body.windows(9).any(|w| w == b"manifests") {
            OCI_INDEX
        } else {
            OCI_MANIFEST
        };
        return Some(reply(
            200,
            &[
                ("Docker-Content-Digest", &digest),
                ("Content-Type", media_type),
            ],
            body,
        ));
    }
    let digest: Digest = reference.parse().ok()?;
    let body = served
        .get(&digest)
        .cloned()
        .or_else(|| bodies.values().find(|b| sha(b) == digest).cloned())?;
    Some(reply(200, &[("Content-Type", OCI_MANIFEST)], &body))
}

fn scan(fake: &Fake, ledger: &Ledger, options: Options) -> RepositoryReport {
    Scanner::new(options).scan_blocking(ledger, "scanner", &fake.repository())
}

fn nothing_written(ledger: &Ledger) {
    let counts = ledger.stats().unwrap().counts;
    assert_eq!(
        (
            counts.repositories,
            counts.tags,
            counts.observations,
            counts.index_manifests,
            counts.manifest_configs
        ),
        (0, 0, 0, 0, 0),
        "{counts:?}"
    );
}

/// Guards against recording a digest for bytes that are not its content
/// (a tampering registry or proxy), and against one bad tag stopping the
/// others: the bad tag is refused and named, the good one recorded.
#[test]
fn manifest_bytes_that_do_not_match_their_digest_are_refused_and_named() {
    let (good, good_config) = manifest_body("good");
    let (honest, _) = manifest_body("honest");
    let (tampered, _) = manifest_body("tampered");
    let honest_digest = sha(&honest);
    let fake = registry_of(
        &["bad", "good"],
        HashMap::from([
            ("good".to_owned(), good.clone()),
            ("bad".to_owned(), honest),
        ]),
        HashMap::from([(honest_digest, tampered)]),
    );
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    assert!(report.error.is_none() && report.written, "{report:?}");
    assert_eq!(report.failures.len(), 1, "{report:?}");
    let failure = &report.failures[0];
    assert_eq!(
        (failure.tag.as_str(), failure.digest),
        ("bad", Some(honest_digest))
    );
    assert!(
        failure.reason.contains("refused") && failure.reason.contains(&honest_digest.to_string()),
        "{}",
        failure.reason
    );
    assert!(ledger.get_tag(&fake.tag("bad")).is_err());
    assert!(ledger.tags_for_digest(&honest_digest).unwrap().is_empty());
    assert_eq!(
        ledger.get_tag(&fake.tag("good")).unwrap().artifact,
        sha(&good)
    );
    assert_eq!(
        ledger.snapshot().unwrap().config_of(&sha(&good)).unwrap(),
        Some(good_config)
    );
}

/// Guards against a platform manifest with the wrong bytes slipping into
/// the relations of an index: the whole tag is refused, and none of the
/// index's relations are written.
#[test]
fn an_index_whose_platform_manifest_is_tampered_records_nothing_of_the_index() {
    let (amd64, _) = manifest_body("amd64");
    let (arm64, _) = manifest_body("arm64");
    let (evil, _) = manifest_body("evil");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
        {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},
        {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#,
        sha(&amd64),
        sha(&arm64)
    )
    .into_bytes();
    let fake = registry_of(
        &["multi"],
        HashMap::from([("multi".to_owned(), index.clone())]),
        HashMap::from([(sha(&amd64), amd64.clone()), (sha(&arm64), evil)]),
    );
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    assert!(report.written, "{report:?}");
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0].reason.contains(&sha(&arm64).to_string()),
        "{:?}",
        report.failures
    );
    let snap = ledger.snapshot().unwrap();
    assert!(snap.indexes_listing(&sha(&amd64)).unwrap().is_empty());
    assert!(snap.config_of(&sha(&amd64)).unwrap().is_none());
    assert!(snap.tags_for_digest(&sha(&index)).unwrap().is_empty());
}

/// Guards against a manifest that is not JSON crashing the scan or being
/// recorded as if it were read.
#[test]
fn malformed_manifest_json_fails_its_tag_with_the_reason() {
    let garbage = b"{\"schemaVersion\": 2, \"config\": {\"digest\": ".to_vec();
    let (good, _) = manifest_body("good");
    let fake = registry_of(
        &["broken", "good"],
        HashMap::from([
            ("broken".to_owned(), garbage.clone()),
            ("good".to_owned(), good),
        ]),
        HashMap::new(),
    );
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].tag, "broken");
    assert!(
        report.failures[0].reason.contains("not valid JSON"),
        "{:?}",
        report.failures
    );
    assert!(ledger.get_tag(&fake.tag("broken")).is_err());
    assert!(ledger.get_tag(&fake.tag("good")).is_ok());

    // A listing that is not JSON fails the repository: nothing is written.
    let fake = Fake::start(|a| {
        if a.path == "/v2/" {
            ok_json("{}")
        } else {
            ok_json("{\"tags\": [\"a\",")
        }
    });
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    assert!(
        matches!(report.error, Some(ScanError::Malformed { .. })),
        "{:?}",
        report.error
    );
    nothing_written(&ledger);
}

/// Guards against a 401 that is retried, written around, or reported
/// without saying which registry and how to give credentials.
#[test]
fn unauthorized_without_credentials_names_the_registry_and_how_to_add_an_integration() {
    let fake = Fake::start(|_| {
        reply(
            401,
            &[
                ("WWW-Authenticate", "Basic realm=\"fake\""),
                ("Content-Type", "application/json"),
            ],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
    });
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    let error = report.error.expect("refused");
    let message = error.to_string();
    assert!(matches!(error, ScanError::Unauthorized { .. }), "{error:?}");
    assert!(
        message.contains(&format!("127.0.0.1:{}", fake.port)),
        "{message}"
    );
    assert!(
        message.contains("REGISTRY integration") && message.contains("--username"),
        "{message}"
    );
    assert_eq!(report.retries, 0);
    nothing_written(&ledger);
}

/// Guards against ignoring `Retry-After` (hammering a registry that asked
/// for a pause) and against giving up on a 429 that a wait fixes.
#[test]
fn a_429_is_retried_after_the_registrys_retry_after_and_then_succeeds() {
    let (body, _) = manifest_body("v1");
    let bodies = HashMap::from([("v1".to_owned(), body)]);
    let listing = r#"{"name":"bad/app","tags":["v1"]}"#.to_owned();
    let fake = Fake::start(move |a| {
        if a.path.contains("/tags/list") && a.before == 0 {
            return reply(429, &[("Retry-After", "1")], b"slow down");
        }
        standard(a, &listing, &bodies, &HashMap::new()).unwrap_or_else(not_found)
    });
    let ledger = Ledger::in_memory().unwrap();
    let started = Instant::now();
    let report = scan(&fake, &ledger, options());
    assert!(report.error.is_none() && report.written, "{report:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(report.retries, 1);
    assert_eq!(report.tags_new, 1);

    // A registry that asks for longer than the scanner waits: refused at
    // once, with the wait it asked for.
    let fake = Fake::start(|a| {
        if a.path == "/v2/" {
            ok_json("{}")
        } else {
            reply(429, &[("Retry-After", "3600")], b"")
        }
    });
    let ledger = Ledger::in_memory().unwrap();
    let started = Instant::now();
    let report = scan(&fake, &ledger, options());
    let message = report.error.expect("rate limited").to_string();
    assert!(
        message.contains("429") && message.contains("3600 s"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    nothing_written(&ledger);
}

/// Guards against giving up on a registry's passing 5xx, and against
/// retrying forever: the retries are bounded and counted.
#[test]
fn server_errors_are_retried_with_backoff_a_bounded_number_of_times() {
    let (body, _) = manifest_body("v1");
    let bodies = HashMap::from([("v1".to_owned(), body)]);
    let listing = r#"{"name":"bad/app","tags":["v1","down"]}"#.to_owned();
    let fake = Fake::start(move |a| {
        if a.method == "HEAD" && a.path.ends_with("/v1") && a.before < 2 {
            return reply(503, &[], b"busy");
        }
        if a.path.ends_with("/manifests/down") {
            return reply(502, &[], b"bad gateway");
        }
        standard(a, &listing, &bodies, &HashMap::new()).unwrap_or_else(not_found)
    });
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    assert!(report.written, "{report:?}");
    assert_eq!(report.tags_new, 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].tag, "down");
    assert!(
        report.failures[0].reason.contains("502"),
        "{:?}",
        report.failures
    );
    // v1: two retries; down: two retries, then given up.
    assert_eq!(report.retries, 4);
    let heads_of_down = fake
        .asked()
        .iter()
        .filter(|k| k.ends_with("/manifests/down"))
        .count();
    assert_eq!(heads_of_down, 3);
}

/// Guards against a scan that hangs on a registry that accepts the
/// connection and never answers: a timeout per request, retries bounded,
/// nothing written; a tag that hangs fails alone.
#[test]
fn a_registry_that_never_answers_times_out_and_writes_nothing() {
    let fake = Fake::start(|_| Answer::Hang);
    let ledger = Ledger::in_memory().unwrap();
    let started = Instant::now();
    let report = scan(
        &fake,
        &ledger,
        Options {
            timeout: Duration::from_millis(300),
            retries: 1,
            ..options()
        },
    );
    assert!(
        matches!(report.error, Some(ScanError::Timeout { .. })),
        "{:?}",
        report.error
    );
    assert!(report.error.unwrap().to_string().contains("300 ms"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.retries, 1);
    nothing_written(&ledger);

    let (body, _) = manifest_body("v1");
    let bodies = HashMap::from([("v1".to_owned(), body)]);
    let listing = r#"{"name":"bad/app","tags":["v1","slow"]}"#.to_owned();
    let fake = Fake::start(move |a| {
        if a.path.ends_with("/manifests/slow") {
            return Answer::Hang;
        }
        standard(a, &listing, &bodies, &HashMap::new()).unwrap_or_else(not_found)
    });
    let report = scan(
        &fake,
        &ledger,
        Options {
            timeout: Duration::from_millis(300),
            retries: 0,
            ..options()
        },
    );
    assert!(report.written, "{report:?}");
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].tag, "slow");
    assert!(ledger.get_tag(&fake.tag("v1")).is_ok());
    assert!(ledger.get_tag(&fake.tag("slow")).is_err());
}

/// Guards against following a `Link` that loops forever (a scan that never
/// ends) or recording a listing that was not read to its end.
#[test]
fn a_tag_listing_whose_link_loops_is_abandoned_and_nothing_is_written() {
    let fake = Fake::start(|a| {
        if a.path == "/v2/" {
            return ok_json("{}");
        }
        if a.path == "/v2/bad/app/tags/list" {
            return reply(
                200,
                &[("Link", "</v2/bad/app/tags/list?last=b>; rel=\"next\"")],
                br#"{"name":"bad/app","tags":["a","b"]}"#,
            );
        }
        // Every later page links to itself.
        reply(
            200,
            &[("Link", "</v2/bad/app/tags/list?last=b>; rel=\"next\"")],
            br#"{"name":"bad/app","tags":["c"]}"#,
        )
    });
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    let error = report.error.expect("abandoned");
    assert!(matches!(error, ScanError::Pagination { .. }), "{error:?}");
    assert!(error.to_string().contains("loop"), "{error}");
    assert!(fake.asked().len() < 10, "{:?}", fake.asked());
    nothing_written(&ledger);
}

/// Guards against reading only the first page of a listing (and then
/// recording the other pages' tags as deleted): every `Link` page is
/// followed, relative and absolute.
#[test]
fn a_tag_listing_of_several_link_pages_is_read_to_its_end() {
    let (body, _) = manifest_body("v");
    let tags = ["a", "b", "c", "d", "e"];
    let bodies: HashMap<String, Vec<u8>> = tags
        .iter()
        .map(|t| ((*t).to_owned(), body.clone()))
        .collect();
    let port = Arc::new(Mutex::new(0u16));
    let port_in = Arc::clone(&port);
    let fake = Fake::start(move |a| {
        let absolute = format!(
            "<http://127.0.0.1:{}/v2/bad/app/tags/list?n=2&last=d>; rel=\"next\"",
            port_in.lock().unwrap()
        );
        match a.path {
            "/v2/bad/app/tags/list?n=2" => reply(
                200,
                &[("Link", "</v2/bad/app/tags/list?n=2&last=b>; rel=\"next\"")],
                br#"{"tags":["a","b"]}"#,
            ),
            "/v2/bad/app/tags/list?n=2&last=b" => {
                reply(200, &[("Link", &absolute)], br#"{"tags":["c","d"]}"#)
            }
            "/v2/bad/app/tags/list?n=2&last=d" => ok_json(r#"{"tags":["e"]}"#),
            _ => standard(a, "", &bodies, &HashMap::new()).unwrap_or_else(not_found),
        }
    });
    *port.lock().unwrap() = fake.port;
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(
        &fake,
        &ledger,
        Options {
            page_size: Some(2),
            ..options()
        },
    );
    assert!(report.error.is_none(), "{report:?}");
    assert_eq!((report.tags_listed, report.tags_new), (5, 5));
    // One download for five tags on one manifest.
    assert_eq!(report.manifests_fetched, 1);
    assert_eq!(ledger.stats().unwrap().counts.tags, 5);
}

/// Guards against a registry that sends no `Docker-Content-Digest` on
/// `HEAD`: the tag is resolved by a `GET` whose bytes give the digest (one
/// download, not two), and a digest header on that `GET` that the bytes do
/// not match is refused.
#[test]
fn a_head_without_a_digest_falls_back_to_a_verified_get() {
    let (body, config) = manifest_body("v1");
    let (other, _) = manifest_body("other");
    let lying = sha(&other).to_string();
    let fake = Fake::start(move |a| match (a.method, a.path) {
        (_, "/v2/") => ok_json("{}"),
        (_, "/v2/bad/app/tags/list") => ok_json(r#"{"tags":["v1","liar"]}"#),
        ("HEAD", _) => reply(200, &[("Content-Type", OCI_MANIFEST)], b""),
        ("GET", "/v2/bad/app/manifests/v1") => reply(200, &[("Content-Type", OCI_MANIFEST)], &body),
        ("GET", "/v2/bad/app/manifests/liar") => reply(
            200,
            &[
                ("Content-Type", OCI_MANIFEST),
                ("Docker-Content-Digest", &lying),
            ],
            &body,
        ),
        _ => not_found(),
    });
    let ledger = Ledger::in_memory().unwrap();
    let report = scan(&fake, &ledger, options());
    assert!(report.written, "{report:?}");
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].tag, "liar");
    assert!(
        report.failures[0].reason.contains("refused"),
        "{:?}",
        report.failures
    );
    let (expected, _) = manifest_body("v1");
    let v1 = ledger.get_tag(&fake.tag("v1")).unwrap();
    assert_eq!(v1.artifact, sha(&expected));
    assert_eq!(
        ledger.snapshot().unwrap().config_of(&v1.artifact).unwrap(),
        Some(config)
    );
    assert_eq!(report.manifests_fetched, 2);
    let answer = ledger
        .classify(&format!("{}:v1", fake.repository()), Some(&config))
        .unwrap();
    assert_eq!(answer.kind, MatchKind::Current);
}

/// Guards against the bearer-token challenge (Docker Hub's, GHCR's) not
/// being followed, credentials not reaching the token service, or an
/// expired token failing the scan instead of being renewed once.
#[test]
fn a_bearer_challenge_is_answered_with_a_token_and_an_expired_token_is_renewed() {
    let (body, _) = manifest_body("v1");
    let bodies = HashMap::from([("v1".to_owned(), body)]);
    let listing = r#"{"name":"bad/app","tags":["v1"]}"#.to_owned();
    let port = Arc::new(Mutex::new(0u16));
    let port_in = Arc::clone(&port);
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let tokens_in = Arc::clone(&tokens);
    let fake = Fake::start(move |a| {
        let challenge = format!(
            "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"fake\"",
            port_in.lock().unwrap()
        );
        if a.path.starts_with("/token") {
            // Basic "ci:pw", as the client sends the credentials.
            tokens_in
                .lock()
                .unwrap()
                .push(a.authorization.map(str::to_owned));
            let token = if a.authorization == Some("Basic Y2k6cHc=") {
                format!("t{}", a.before)
            } else {
                "anon".to_owned()
            };
            return ok_json(&format!(r#"{{"token":"{token}"}}"#));
        }
        // The first token (t0) expires after the listing.
        let valid = match a.authorization {
            Some("Bearer t0") => a.path.contains("/tags/list"),
            Some("Bearer t1") => true,
            _ => false,
        };
        if !valid {
            return reply(401, &[("WWW-Authenticate", challenge.as_str())], b"");
        }
        standard(a, &listing, &bodies, &HashMap::new()).unwrap_or_else(not_found)
    });
    *port.lock().unwrap() = fake.port;
    let ledger = Ledger::in_memory().unwrap();
    let scanner = Scanner::new(options()).with_credentials(
        &format!("127.0.0.1:{}", fake.port),
        ociledger::scan::Credentials::new("ci", "pw".into()),
    );
    let report = scanner.scan_blocking(&ledger, "scanner", &fake.repository());
    assert!(
        report.error.is_none() && report.failures.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.tags_new, 1);
    let asked = tokens.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.iter().all(|a| a.as_deref() == Some("Basic Y2k6cHc=")));

    // Anonymous: the token service's anonymous token is refused, and the
    // error says how to give credentials.
    let ledger = Ledger::in_memory().unwrap();
    let report = Scanner::new(options()).scan_blocking(&ledger, "scanner", &fake.repository());
    let message = report.error.expect("refused").to_string();
    assert!(message.contains("no credentials were given"), "{message}");
    nothing_written(&ledger);
}
