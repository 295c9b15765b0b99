//! The Chkk documents' rules (seeds 000, 001, 003), one test each, through the
//! library API. Each test names the rule it protects.

use std::sync::Arc;

use chrono::Duration;
use ociledger::id::{Algorithm, Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{
    FixedClock, Observation, Repository, RepositoryBody, Tag, TagBody, Timestamp,
};
use ociledger::problem::ErrorModel;
use ociledger::{Error, Ledger, MatchKind};

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn d(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

fn ledger() -> (Ledger, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(t("2024-06-01T00:00:00Z")));
    (
        Ledger::in_memory().unwrap().with_clock(clock.clone()),
        clock,
    )
}

fn obs(tag: &str, digest: Digest, at: &str) -> Observation {
    Observation::new(tag.parse().unwrap(), digest, t(at))
}

fn repo_body(id: &str) -> RepositoryBody {
    RepositoryBody::new(&id.parse().unwrap(), t("2024-01-01T00:00:00Z"))
}

#[test]
fn create_conflicts_when_the_record_exists() {
    let (l, _) = ledger();
    l.create_repository("alice", &repo_body("docker.io/istio/pilot"))
        .unwrap();
    assert!(matches!(
        l.create_repository("bob", &repo_body("istio/pilot")),
        Err(Error::Conflict { .. })
    ));
    let tag: TagId = "istio/pilot:1.3.0".parse().unwrap();
    l.create_tag("alice", &TagBody::new(&tag, d(1))).unwrap();
    assert!(matches!(
        l.create_tag("alice", &TagBody::new(&tag, d(2))),
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        l.get_tag(&tag).unwrap().artifact,
        d(1),
        "a failed create changes nothing"
    );
}

#[test]
fn update_of_a_missing_record_is_not_found_and_writes_nothing() {
    let (l, _) = ledger();
    let id: RepositoryId = "nginx".parse().unwrap();
    assert!(matches!(
        l.update_repository("a", &id, &repo_body("nginx")),
        Err(Error::NotFound { .. })
    ));
    let tag: TagId = "nginx:1".parse().unwrap();
    assert!(matches!(
        l.update_tag("a", &tag, &TagBody::new(&tag, d(1))),
        Err(Error::NotFound { .. })
    ));
    // A tag's repository must exist before the tag is created.
    assert!(matches!(
        l.create_tag("a", &TagBody::new(&tag, d(1))),
        Err(Error::NotFound {
            what: "repository",
            ..
        })
    ));
    let counts = l.stats().unwrap().counts;
    assert_eq!(
        (counts.repositories, counts.tags, counts.references),
        (0, 0, 0)
    );
}

#[test]
fn update_replaces_mutable_fields_and_keeps_created() {
    let (l, clock) = ledger();
    let id: RepositoryId = "ghcr.io/acme/app".parse().unwrap();
    let created = l
        .create_repository("alice", &repo_body("ghcr.io/acme/app"))
        .unwrap();
    clock.advance(Duration::hours(1));
    let mut body = repo_body("ghcr.io/acme/app");
    body.projects = Some(vec!["proj-1".into()]);
    body.packages = Some(vec!["pkg-1".into(), "pkg-2".into()]);
    body.last_scanned_on = t("2024-05-05T05:05:05Z");
    let updated = l.update_repository("bob", &id, &body).unwrap();
    assert_eq!(
        (updated.created_by.as_str(), updated.created_on),
        ("alice", created.created_on)
    );
    assert_eq!(
        (updated.last_modified_by.as_str(), updated.last_modified_on),
        ("bob", t("2024-06-01T01:00:00Z"))
    );
    assert_eq!(updated.projects, Some(vec!["proj-1".to_owned()]));
    assert_eq!(updated.project_components, None);
    assert_eq!(updated.last_scanned_on, t("2024-05-05T05:05:05Z"));
    assert_eq!(l.get_repository(&id).unwrap(), updated);
    // A body that names another repository is refused.
    assert!(matches!(
        l.update_repository("bob", &id, &repo_body("nginx")),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn records_serialize_to_exactly_the_seed_schemas() {
    let (l, _) = ledger();
    l.ingest(
        "scanner",
        &[obs("nginx:latest", d(1), "2024-01-01T00:00:00Z")],
    )
    .unwrap();
    let keys = |v: serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let audit = [
        "created_by",
        "created_on",
        "last_modified_by",
        "last_modified_on",
    ];
    let with = |extra: &[&str]| {
        let mut v: Vec<String> = audit.iter().chain(extra).map(|s| (*s).to_owned()).collect();
        v.sort();
        v
    };
    let repo = serde_json::to_value(l.get_repository(&"nginx".parse().unwrap()).unwrap()).unwrap();
    assert_eq!(
        keys(repo.clone()),
        with(&[
            "registry",
            "namespace",
            "last_scanned_on",
            "projects",
            "project_components",
            "packages"
        ])
    );
    assert_eq!(repo["registry"], "docker.io/library");
    assert_eq!(repo["projects"], serde_json::Value::Null);
    assert_eq!(repo["last_scanned_on"], "2024-01-01T00:00:00Z");
    let tag = serde_json::to_value(l.get_tag(&"nginx:latest".parse().unwrap()).unwrap()).unwrap();
    assert_eq!(keys(tag.clone()), with(&["repository", "tag", "artifact"]));
    assert_eq!(tag["repository"], "docker.io/library/nginx");
    let r = l
        .get_reference(&format!("nginx:latest@{}", d(1)).parse().unwrap())
        .unwrap();
    let r = serde_json::to_value(r).unwrap();
    assert_eq!(keys(r.clone()), with(&["tag", "artifact"]));
    assert_eq!(r["tag"], "docker.io/library/nginx:latest");
    assert!(r["created_on"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn unknown_and_missing_fields_are_rejected() {
    let good = r#"{"artifact":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","repository":"nginx","tag":"1",
        "created_by":"a","created_on":"2024-01-01T00:00:00Z","last_modified_by":"a","last_modified_on":"2024-01-01T00:00:00+02:00"}"#;
    let tag: Tag = serde_json::from_str(good).unwrap();
    assert_eq!(
        tag.artifact,
        Digest::of(Algorithm::Sha256, b"abc"),
        "bare hex is sha256"
    );
    assert_eq!(
        tag.last_modified_on,
        t("2023-12-31T22:00:00Z"),
        "offsets become UTC"
    );
    assert!(
        serde_json::from_str::<Tag>(&good.replace(r#""tag":"1","#, r#""tag":"1","color":"red","#))
            .is_err()
    );
    assert!(serde_json::from_str::<Tag>(&good.replace(r#""created_by":"a","#, "")).is_err());
    let repo = r#"{"registry":"docker.io/library","namespace":"nginx","last_scanned_on":"2024-01-01T00:00:00Z",
        "project_components":null,"packages":null,"created_by":"a","created_on":"2024-01-01T00:00:00Z",
        "last_modified_by":"a","last_modified_on":"2024-01-01T00:00:00Z"}"#;
    let err = serde_json::from_str::<Repository>(repo)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing field `projects`"),
        "required even though nullable: {err}"
    );
    assert!(serde_json::from_str::<RepositoryBody>(r#"{"registry":"x.io","namespace":"a","last_scanned_on":"2024-01-01T00:00:00Z","projects":null,"project_components":null,"packages":null,"owner":"me"}"#).is_err());
}

#[test]
fn a_tag_that_goes_a_b_a_keeps_three_intervals_and_two_references() {
    let (l, _) = ledger();
    l.ingest(
        "s",
        &[
            obs("nginx:latest", d(1), "2024-01-01T00:00:00Z"),
            obs("nginx:latest", d(2), "2024-02-01T00:00:00Z"),
            obs("nginx:latest", d(1), "2024-03-01T00:00:00Z"),
        ],
    )
    .unwrap();
    let tag: TagId = "nginx:latest".parse().unwrap();
    let h = l.history(&tag, None, 10).unwrap().items;
    assert_eq!(
        h.iter().map(|e| e.artifact).collect::<Vec<_>>(),
        vec![d(1), d(2), d(1)]
    );
    assert_eq!(l.references(&tag, None, 10).unwrap().items.len(), 2);
    let m = l.tags_for_digest(&d(1)).unwrap();
    assert_eq!(m.len(), 2);
    assert!(m[0].current && !m[1].current);
    assert_eq!(m[1].until, Some(t("2024-02-01T00:00:00Z")));
    assert_eq!(
        l.tag_at(&tag, t("2024-02-15T00:00:00Z"))
            .unwrap()
            .unwrap()
            .artifact,
        d(2)
    );
}

#[test]
fn out_of_order_observations_never_move_the_current_digest_backwards() {
    let (l, _) = ledger();
    let tag: TagId = "python:3".parse().unwrap();
    l.ingest("s", &[obs("python:3", d(3), "2024-03-01T00:00:00Z")])
        .unwrap();
    l.ingest("s", &[obs("python:3", d(1), "2024-01-01T00:00:00Z")])
        .unwrap();
    assert_eq!(
        l.get_tag(&tag).unwrap().artifact,
        d(3),
        "an older observation goes into the past"
    );
    l.ingest("s", &[obs("python:3", d(2), "2024-02-01T00:00:00Z")])
        .unwrap();
    let h: Vec<_> = l
        .history(&tag, None, 10)
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.artifact, e.since))
        .collect();
    assert_eq!(
        h,
        vec![
            (d(3), t("2024-03-01T00:00:00Z")),
            (d(2), t("2024-02-01T00:00:00Z")),
            (d(1), t("2024-01-01T00:00:00Z")),
        ]
    );
    // The same digest again changes no answer.
    let before = l.stats().unwrap().counts;
    l.ingest("s", &[obs("python:3", d(3), "2024-03-01T00:00:00Z")])
        .unwrap();
    assert_eq!(l.stats().unwrap().counts, before);
}

#[test]
fn same_instant_observations_resolve_by_digest_not_by_arrival() {
    let at = "2024-01-01T00:00:00Z";
    let (lo, hi) = if d(1) < d(2) {
        (d(1), d(2))
    } else {
        (d(2), d(1))
    };
    for order in [[lo, hi], [hi, lo]] {
        let (l, _) = ledger();
        for x in order {
            l.ingest("s", &[obs("ubuntu:20.04", x, at)]).unwrap();
        }
        assert_eq!(
            l.get_tag(&"ubuntu:20.04".parse().unwrap())
                .unwrap()
                .artifact,
            hi
        );
        let loser = l.tags_for_digest(&lo).unwrap();
        assert_eq!(
            (loser[0].since, loser[0].until),
            (t(at), Some(t(at))),
            "found, with an empty interval"
        );
    }
}

#[test]
fn delete_ends_the_current_interval_and_keeps_history() {
    let (l, clock) = ledger();
    let tag: TagId = "nginx:stable".parse().unwrap();
    l.ingest("s", &[obs("nginx:stable", d(1), "2024-01-01T00:00:00Z")])
        .unwrap();
    l.delete_tag("ops", &tag).unwrap();
    assert!(matches!(l.get_tag(&tag), Err(Error::NotFound { .. })));
    assert!(matches!(
        l.delete_tag("ops", &tag),
        Err(Error::NotFound { .. })
    ));
    let m = l.tags_for_digest(&d(1)).unwrap();
    assert_eq!(
        (m.len(), m[0].current, m[0].until),
        (1, false, Some(clock.as_ref().now_for_test()))
    );
    assert!(
        l.get_reference(&ReferenceId::new(tag.clone(), d(1)))
            .is_ok(),
        "references are never deleted"
    );
    assert_eq!(
        l.classify("nginx:stable", Some(&d(1))).unwrap().kind,
        MatchKind::Historical
    );
}

trait NowForTest {
    fn now_for_test(&self) -> Timestamp;
}
impl NowForTest for FixedClock {
    fn now_for_test(&self) -> Timestamp {
        ociledger::model::Clock::now(self)
    }
}

#[test]
fn pagination_is_stable_under_concurrent_appends() {
    let (l, _) = ledger();
    let tag: TagId = "ghost:latest".parse().unwrap();
    let batch: Vec<Observation> = (0..20u8)
        .map(|i| {
            obs(
                "ghost:latest",
                d(i),
                &format!("2024-01-{:02}T00:00:00Z", i + 1),
            )
        })
        .collect();
    l.ingest("s", &batch).unwrap();
    let first = l.references(&tag, None, 5).unwrap();
    // Newer references arrive between pages.
    l.ingest(
        "s",
        &[
            obs("ghost:latest", d(100), "2024-02-01T00:00:00Z"),
            obs("ghost:latest", d(101), "2024-02-02T00:00:00Z"),
        ],
    )
    .unwrap();
    let mut seen: Vec<Digest> = first.items.iter().map(|r| r.artifact).collect();
    let mut cursor = first.next;
    while let Some(c) = cursor {
        let page = l.references(&tag, Some(&c), 5).unwrap();
        seen.extend(page.items.iter().map(|r| r.artifact));
        cursor = page.next;
    }
    let want: Vec<Digest> = (0..20u8).rev().map(d).collect();
    assert_eq!(
        seen, want,
        "every original reference once, newest first, none shifted"
    );
    // The same holds for history, whose cursor also names a position.
    let h1 = l.history(&tag, None, 3).unwrap();
    let h2 = l.history(&tag, h1.next.as_deref(), 3).unwrap();
    assert_eq!(h2.items[0].artifact, d(18), "page 1 was d101, d100, d19");
    assert!(matches!(
        l.references(&tag, Some("nonsense"), 5),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn problem_json_carries_status_title_and_the_offending_value() {
    let (l, _) = ledger();
    let err = l.classify("nginx:bad tag", None).unwrap_err();
    let p = serde_json::to_value(ErrorModel::from(&err)).unwrap();
    assert_eq!(
        (p["status"].as_u64(), p["title"].as_str()),
        (Some(400), Some("Bad Request"))
    );
    assert_eq!(p["errors"][0]["location"], "image");
    assert_eq!(p["errors"][0]["value"], "nginx:bad tag");
    let nf = l.get_tag(&"nginx:x".parse().unwrap()).unwrap_err();
    let nf = ErrorModel::from(&nf);
    assert_eq!((nf.status, nf.title.as_str()), (404, "Not Found"));
}

#[test]
fn classify_answers_every_kind() {
    let (l, _) = ledger();
    l.ingest(
        "s",
        &[
            obs("nginx:latest", d(1), "2024-01-01T00:00:00Z"),
            obs("nginx:latest", d(2), "2024-02-01T00:00:00Z"),
            obs("nginx:1.25", d(2), "2024-02-01T00:00:00Z"),
        ],
    )
    .unwrap();
    let kind =
        |image: &str, digest: Option<Digest>| l.classify(image, digest.as_ref()).unwrap().kind;
    assert_eq!(
        kind("nginx", Some(d(2))),
        MatchKind::Current,
        "no tag means latest"
    );
    assert_eq!(kind("nginx:latest", Some(d(1))), MatchKind::Historical);
    assert_eq!(
        kind("mirror.example.com/nginx:1", Some(d(2))),
        MatchKind::OtherTags
    );
    assert_eq!(
        kind(&format!("docker-pullable://nginx@{}", d(1)), None),
        MatchKind::OtherTags
    );
    assert_eq!(kind("nginx:1.25", Some(d(9))), MatchKind::TagOnly);
    assert_eq!(kind("nginx:1.25", None), MatchKind::TagOnly);
    assert_eq!(kind("redis:7", Some(d(9))), MatchKind::Unknown);
    let answer = l
        .classify(&format!("nginx:latest@{}", d(1)), Some(&d(2)))
        .unwrap();
    assert_eq!(
        (answer.kind, answer.digest),
        (MatchKind::Current, Some(d(2))),
        "the given digest wins"
    );
}
