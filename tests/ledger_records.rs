//! The seeds' record rules (000 `OCIRepository`, 001 `OCITag`, 003
//! `OCIReference`) through the `Ledger` API, and the records' exact JSON
//! shapes (field names, required fields, RFC 3339 UTC, unknown fields
//! rejected) and the problem+json `ErrorModel` errors map to.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use ociledger::id::{Algorithm, Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{
    FixedClock, Observation, Reference, Repository, RepositoryBody, Tag, TagBody, Timestamp,
};
use ociledger::problem::ErrorModel;
use ociledger::{Counts, Error, Ledger};
use serde_json::{Value, json};

const T0: &str = "2024-06-01T00:00:00Z";
const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn d(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

fn repo_id(s: &str) -> RepositoryId {
    s.parse().expect("test repository id")
}

fn tag_id(s: &str) -> TagId {
    s.parse().expect("test tag id")
}

fn ledger() -> (Ledger, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(t(T0)));
    let ledger = Ledger::in_memory().unwrap().with_clock(clock.clone());
    (ledger, clock)
}

fn repo_body(id: &str) -> RepositoryBody {
    RepositoryBody::new(&repo_id(id), t("2024-01-01T00:00:00Z"))
}

fn obs(tag: &str, digest: Digest, at: &str) -> Observation {
    Observation::new(tag_id(tag), digest, t(at))
}

fn counts(l: &Ledger) -> Counts {
    l.stats().unwrap().counts
}

/// A ledger with repository `docker.io/library/nginx` and tag `nginx:1` → d(1),
/// both created at T0 by alice.
fn ledger_with_tag() -> (Ledger, Arc<FixedClock>, TagId) {
    let (l, clock) = ledger();
    l.create_repository("alice", &repo_body("nginx")).unwrap();
    let tag = tag_id("nginx:1");
    l.create_tag("alice", &TagBody::new(&tag, d(1))).unwrap();
    (l, clock, tag)
}

fn history_digests(l: &Ledger, tag: &TagId) -> Vec<Digest> {
    l.history(tag, None, 100)
        .unwrap()
        .items
        .iter()
        .map(|e| e.artifact)
        .collect()
}

// ---------------------------------------------------------------------------
// Repositories (seed 000). Guards against create silently overwriting, update
// silently creating, and update losing or forging the audit fields.
// ---------------------------------------------------------------------------

#[test]
fn create_repository_returns_the_record_stamped_by_actor_and_clock() {
    let (l, _) = ledger();
    let mut body = repo_body("docker.io/istio/pilot");
    body.projects = Some(vec!["istio".into()]);
    let created = l.create_repository("alice", &body).unwrap();
    assert_eq!(created.registry, "docker.io/istio");
    assert_eq!(created.namespace, "pilot");
    assert_eq!(created.projects, Some(vec!["istio".to_owned()]));
    assert_eq!(created.project_components, None);
    assert_eq!(created.last_scanned_on, t("2024-01-01T00:00:00Z"));
    assert_eq!(
        (created.created_by.as_str(), created.created_on),
        ("alice", t(T0))
    );
    assert_eq!(
        (created.last_modified_by.as_str(), created.last_modified_on),
        ("alice", t(T0))
    );
    assert_eq!(
        l.get_repository(&repo_id("docker.io/istio/pilot")).unwrap(),
        created
    );
}

#[test]
fn create_repository_twice_is_conflict_and_spellings_are_one_repository() {
    let (l, clock) = ledger();
    let first = l
        .create_repository("alice", &repo_body("docker.io/library/nginx"))
        .unwrap();
    clock.advance(Duration::minutes(1));
    let mut again = repo_body("docker.io/library/nginx");
    again.projects = Some(vec!["other".into()]);
    let err = l.create_repository("bob", &again).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conflict {
                what: "repository",
                ..
            }
        ),
        "{err:?}"
    );
    // Other spellings of the ID name the same repository.
    let err = l.create_repository("bob", &repo_body("index.docker.io/library/nginx"));
    assert!(matches!(err, Err(Error::Conflict { .. })), "{err:?}");
    // A body whose registry is written in a non-canonical form is either the
    // same repository (Conflict) or refused (Invalid): never a second one.
    for (registry, namespace) in [("index.docker.io/library", "nginx"), ("docker.io", "nginx")] {
        let mut body = repo_body("nginx");
        registry.clone_into(&mut body.registry);
        namespace.clone_into(&mut body.namespace);
        let err = l.create_repository("bob", &body).unwrap_err();
        assert!(
            matches!(err, Error::Conflict { .. } | Error::Invalid { .. }),
            "{registry}/{namespace}: {err:?}"
        );
    }
    assert_eq!(
        l.get_repository(&repo_id("nginx")).unwrap(),
        first,
        "the conflict wrote nothing"
    );
    assert_eq!(counts(&l).repositories, 1);
}

#[test]
fn update_of_a_missing_repository_is_not_found_and_creates_nothing() {
    let (l, _) = ledger();
    let err = l
        .update_repository(
            "alice",
            &repo_id("ghcr.io/acme/app"),
            &repo_body("ghcr.io/acme/app"),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                what: "repository",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        l.get_repository(&repo_id("ghcr.io/acme/app")),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(counts(&l).repositories, 0);
}

#[test]
fn update_repository_replaces_mutable_fields_keeps_created_and_stamps_modified() {
    let (l, clock) = ledger();
    let id = repo_id("public.ecr.aws/bottlerocket/bottlerocket-operator");
    let mut body = repo_body(id.as_str());
    body.projects = Some(vec!["p1".into(), "p2".into()]);
    body.project_components = None;
    body.packages = Some(vec!["pkg".into()]);
    let created = l.create_repository("alice", &body).unwrap();

    clock.advance(Duration::hours(2));
    let mut update = repo_body(id.as_str());
    update.last_scanned_on = t("2024-05-05T05:05:05Z");
    update.projects = None;
    update.project_components = Some(vec!["c1".into()]);
    update.packages = Some(vec![]);
    // Audit fields in the body are accepted (a record read back can be sent
    // again) but ignored: the ledger sets them.
    update.created_by = Some("mallory".into());
    update.created_on = Some(t("2000-01-01T00:00:00Z"));
    update.last_modified_by = Some("mallory".into());
    update.last_modified_on = Some(t("2000-01-01T00:00:00Z"));
    let updated = l.update_repository("bob", &id, &update).unwrap();

    assert_eq!(updated.projects, None, "replaced, not merged");
    assert_eq!(updated.project_components, Some(vec!["c1".to_owned()]));
    assert_eq!(updated.packages, Some(vec![]));
    assert_eq!(updated.last_scanned_on, t("2024-05-05T05:05:05Z"));
    assert_eq!(
        (updated.registry.as_str(), updated.namespace.as_str()),
        ("public.ecr.aws/bottlerocket", "bottlerocket-operator")
    );
    assert_eq!(
        (updated.created_by.as_str(), updated.created_on),
        ("alice", created.created_on)
    );
    assert_eq!(
        (updated.last_modified_by.as_str(), updated.last_modified_on),
        ("bob", t("2024-06-01T02:00:00Z"))
    );
    assert_eq!(
        l.get_repository(&id).unwrap(),
        updated,
        "get answers what update returned"
    );
}

#[test]
fn update_repository_with_a_body_naming_another_repository_is_invalid_and_writes_nothing() {
    let (l, clock) = ledger();
    let id = repo_id("nginx");
    let before = l.create_repository("alice", &repo_body("nginx")).unwrap();
    l.create_repository("alice", &repo_body("redis")).unwrap();
    clock.advance(Duration::minutes(5));
    let mut other = repo_body("redis");
    other.projects = Some(vec!["x".into()]);
    let err = l.update_repository("bob", &id, &other).unwrap_err();
    match &err {
        Error::Invalid {
            location, value, ..
        } => {
            assert!(location.starts_with("body"), "{location}");
            assert_eq!(value.as_deref(), Some("docker.io/library/redis"));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(l.get_repository(&id).unwrap(), before);
    assert_eq!(l.get_repository(&repo_id("redis")).unwrap().projects, None);
}

#[test]
fn an_unparseable_registry_or_namespace_in_a_body_is_invalid() {
    let (l, _) = ledger();
    let mut body = repo_body("nginx");
    body.namespace = "Upper Case".into();
    assert!(matches!(
        l.create_repository("a", &body),
        Err(Error::Invalid { .. })
    ));
    let mut body = repo_body("nginx");
    body.registry = String::new();
    body.namespace = String::new();
    assert!(matches!(
        l.create_repository("a", &body),
        Err(Error::Invalid { .. })
    ));
    assert_eq!(counts(&l).repositories, 0);
}

#[test]
fn an_empty_actor_is_invalid_for_every_write_and_writes_nothing() {
    let (l, clock, tag) = ledger_with_tag();
    clock.advance(Duration::minutes(1));
    let before = counts(&l);
    let repo_before = l.get_repository(&repo_id("nginx")).unwrap();
    let tag_before = l.get_tag(&tag).unwrap();
    for actor in ["", "   "] {
        let results = [
            l.create_repository(actor, &repo_body("redis")).map(drop),
            l.update_repository(actor, &repo_id("nginx"), &repo_body("nginx"))
                .map(drop),
            l.create_tag(actor, &TagBody::new(&tag_id("nginx:2"), d(2)))
                .map(drop),
            l.update_tag(actor, &tag, &TagBody::new(&tag, d(3)))
                .map(drop),
            l.delete_tag(actor, &tag),
            l.ingest(actor, &[obs("nginx:1", d(4), "2025-01-01T00:00:00Z")])
                .map(drop),
        ];
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Err(Error::Invalid { location, .. }) => assert_eq!(location, "actor", "write {i}"),
                other => panic!("write {i} with actor {actor:?}: {other:?}"),
            }
        }
    }
    assert_eq!(counts(&l), before);
    assert_eq!(l.get_repository(&repo_id("nginx")).unwrap(), repo_before);
    assert_eq!(l.get_tag(&tag).unwrap(), tag_before);
}

#[test]
fn repositories_list_in_id_order_with_cursors() {
    let (l, _) = ledger();
    for id in ["redis", "ghcr.io/acme/app", "nginx", "quay.io/x/y"] {
        l.create_repository("a", &repo_body(id)).unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = l.repositories(cursor.as_deref(), 1).unwrap();
        assert!(page.items.len() <= 1);
        seen.extend(
            page.items
                .iter()
                .map(|r| format!("{}/{}", r.registry, r.namespace)),
        );
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "docker.io/library/nginx",
            "docker.io/library/redis",
            "ghcr.io/acme/app",
            "quay.io/x/y"
        ]
    );
}

// ---------------------------------------------------------------------------
// Tags (seed 001). Guards against tags without a repository, create
// overwriting a live tag, update resurrecting a deleted tag, and a same-digest
// update rewriting history.
// ---------------------------------------------------------------------------

#[test]
fn create_tag_needs_its_repository() {
    let (l, _) = ledger();
    let tag = tag_id("nginx:1.25");
    let err = l
        .create_tag("alice", &TagBody::new(&tag, d(1)))
        .unwrap_err();
    match &err {
        Error::NotFound { what, id } => {
            assert_eq!(*what, "repository");
            assert_eq!(id, "docker.io/library/nginx");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(l.get_tag(&tag), Err(Error::NotFound { .. })));
    assert!(l.tags_for_digest(&d(1)).unwrap().is_empty());
    assert_eq!(
        counts(&l),
        Counts {
            repositories: 0,
            tags: 0,
            references: 0,
            observations: 0,
            intervals: 0
        }
    );
}

#[test]
fn create_tag_returns_the_record_and_starts_history_and_a_reference() {
    let (l, _, tag) = ledger_with_tag();
    let got = l.get_tag(&tag).unwrap();
    assert_eq!(got.artifact, d(1));
    assert_eq!(got.repository, repo_id("docker.io/library/nginx"));
    assert_eq!(got.tag, "1");
    assert_eq!((got.created_by.as_str(), got.created_on), ("alice", t(T0)));
    assert_eq!(
        (got.last_modified_by.as_str(), got.last_modified_on),
        ("alice", t(T0))
    );
    let h = l.history(&tag, None, 10).unwrap().items;
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].artifact, h[0].since, h[0].until, h[0].current),
        (d(1), t(T0), None, true)
    );
    let r = l
        .get_reference(&ReferenceId::new(tag.clone(), d(1)))
        .unwrap();
    assert_eq!(
        (r.tag, r.artifact, r.created_by.as_str()),
        (tag, d(1), "alice")
    );
}

#[test]
fn create_tag_twice_is_conflict_and_keeps_the_first() {
    let (l, clock, tag) = ledger_with_tag();
    clock.advance(Duration::minutes(1));
    let before = counts(&l);
    let err = l.create_tag(
        "bob",
        &TagBody::new(&tag_id("docker.io/library/nginx:1"), d(2)),
    );
    assert!(
        matches!(err, Err(Error::Conflict { what: "tag", .. })),
        "{err:?}"
    );
    let got = l.get_tag(&tag).unwrap();
    assert_eq!((got.artifact, got.created_by.as_str()), (d(1), "alice"));
    assert_eq!(counts(&l), before);
    assert!(l.tags_for_digest(&d(2)).unwrap().is_empty());
}

#[test]
fn update_tag_of_a_missing_tag_is_not_found_and_creates_nothing() {
    let (l, clock, _) = ledger_with_tag();
    clock.advance(Duration::minutes(1));
    let missing = tag_id("nginx:2");
    let before = counts(&l);
    let err = l
        .update_tag("bob", &missing, &TagBody::new(&missing, d(2)))
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { what: "tag", .. }),
        "{err:?}"
    );
    assert!(matches!(l.get_tag(&missing), Err(Error::NotFound { .. })));
    assert!(matches!(
        l.history(&missing, None, 10),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(counts(&l), before);
}

#[test]
fn update_tag_of_a_deleted_tag_is_not_found_and_does_not_resurrect_it() {
    let (l, clock, tag) = ledger_with_tag();
    clock.advance(Duration::minutes(1));
    l.delete_tag("ops", &tag).unwrap();
    clock.advance(Duration::minutes(1));
    let before = counts(&l);
    let err = l
        .update_tag("bob", &tag, &TagBody::new(&tag, d(2)))
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { what: "tag", .. }),
        "{err:?}"
    );
    assert!(matches!(l.get_tag(&tag), Err(Error::NotFound { .. })));
    assert_eq!(counts(&l), before);
    assert!(l.tags_for_digest(&d(2)).unwrap().is_empty());
    // Deleting again is NotFound too.
    assert!(matches!(
        l.delete_tag("ops", &tag),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        l.delete_tag("ops", &tag_id("nginx:never")),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn update_tag_with_a_body_naming_another_tag_is_invalid_and_writes_nothing() {
    let (l, clock, tag) = ledger_with_tag();
    clock.advance(Duration::minutes(1));
    let before = (counts(&l), l.get_tag(&tag).unwrap());
    let other = tag_id("nginx:2");
    let err = l
        .update_tag("bob", &tag, &TagBody::new(&other, d(2)))
        .unwrap_err();
    match &err {
        Error::Invalid {
            location, value, ..
        } => {
            assert_eq!(location, "body.tag");
            assert_eq!(value.as_deref(), Some("docker.io/library/nginx:2"));
        }
        e => panic!("expected Invalid, got {e:?}"),
    }
    // A tag name the grammar refuses is Invalid as well.
    let mut bad = TagBody::new(&tag, d(2));
    bad.tag = "bad tag".into();
    assert!(matches!(
        l.update_tag("bob", &tag, &bad),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        l.create_tag("bob", &bad),
        Err(Error::Invalid { .. })
    ));
    assert_eq!((counts(&l), l.get_tag(&tag).unwrap()), before);
}

#[test]
fn update_tag_to_a_new_digest_moves_it_and_keeps_created() {
    let (l, clock, tag) = ledger_with_tag();
    clock.advance(Duration::hours(1));
    let updated = l
        .update_tag("bob", &tag, &TagBody::new(&tag, d(2)))
        .unwrap();
    assert_eq!(updated.artifact, d(2));
    assert_eq!(
        (updated.created_by.as_str(), updated.created_on),
        ("alice", t(T0))
    );
    assert_eq!(
        (updated.last_modified_by.as_str(), updated.last_modified_on),
        ("bob", t("2024-06-01T01:00:00Z"))
    );
    assert_eq!(l.get_tag(&tag).unwrap(), updated);
    assert_eq!(history_digests(&l, &tag), [d(2), d(1)]);
    let h = l.history(&tag, None, 10).unwrap().items;
    assert_eq!(
        h[1].until,
        Some(t("2024-06-01T01:00:00Z")),
        "the old interval ends at the update"
    );
    let r = l
        .get_reference(&ReferenceId::new(tag.clone(), d(2)))
        .unwrap();
    assert_eq!(
        (r.created_by.as_str(), r.created_on),
        ("bob", t("2024-06-01T01:00:00Z"))
    );
    let old = l
        .get_reference(&ReferenceId::new(tag.clone(), d(1)))
        .unwrap();
    assert_eq!(
        (old.created_by.as_str(), old.created_on),
        ("alice", t(T0)),
        "never rewritten"
    );
}

#[test]
fn update_tag_with_the_same_digest_changes_no_history_but_sets_last_modified() {
    let (l, clock, tag) = ledger_with_tag();
    let history_before = l.history(&tag, None, 10).unwrap();
    let refs_before = l.references(&tag, None, 10).unwrap();
    let moves_before = counts(&l).intervals;
    clock.advance(Duration::hours(3));
    let updated = l
        .update_tag("bob", &tag, &TagBody::new(&tag, d(1)))
        .unwrap();
    assert_eq!(updated.artifact, d(1));
    assert_eq!(
        (updated.created_by.as_str(), updated.created_on),
        ("alice", t(T0))
    );
    assert_eq!(
        (updated.last_modified_by.as_str(), updated.last_modified_on),
        ("bob", t("2024-06-01T03:00:00Z"))
    );
    assert_eq!(l.get_tag(&tag).unwrap(), updated);
    assert_eq!(l.history(&tag, None, 10).unwrap(), history_before);
    assert_eq!(l.references(&tag, None, 10).unwrap(), refs_before);
    let after = counts(&l);
    assert_eq!((after.intervals, after.references), (moves_before, 1));
    let m = l.tags_for_digest(&d(1)).unwrap();
    assert_eq!((m.len(), m[0].since, m[0].current), (1, t(T0), true));
}

#[test]
fn get_after_delete_is_not_found_and_listing_skips_the_deleted_tag() {
    let (l, clock, tag) = ledger_with_tag();
    l.create_tag("alice", &TagBody::new(&tag_id("nginx:2"), d(2)))
        .unwrap();
    clock.advance(Duration::minutes(1));
    l.delete_tag("ops", &tag).unwrap();
    let err = l.get_tag(&tag).unwrap_err();
    assert!(
        matches!(err, Error::NotFound { what: "tag", .. }),
        "{err:?}"
    );
    let names: Vec<String> = l
        .tags(&repo_id("nginx"), None, 10)
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.tag)
        .collect();
    assert_eq!(names, ["2"]);
    // History and the reference stay.
    assert_eq!(history_digests(&l, &tag), [d(1)]);
    assert!(l.get_reference(&ReferenceId::new(tag, d(1))).is_ok());
}

#[test]
fn tag_listing_pages_skip_deleted_tags_and_lose_no_live_one() {
    let (l, clock) = ledger();
    l.create_repository("a", &repo_body("nginx")).unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        l.create_tag(
            "a",
            &TagBody::new(
                &tag_id(&format!("nginx:{name}")),
                d(u8::try_from(i).unwrap()),
            ),
        )
        .unwrap();
    }
    clock.advance(Duration::minutes(1));
    // Delete a run of tags, so whole pages of the index are dead.
    for name in &names[2..7] {
        l.delete_tag("a", &tag_id(&format!("nginx:{name}")))
            .unwrap();
    }
    let live: Vec<String> = names
        .iter()
        .filter(|n| !names[2..7].contains(n))
        .cloned()
        .collect();
    for limit in 1..=8 {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = l.tags(&repo_id("nginx"), cursor.as_deref(), limit).unwrap();
            assert!(page.items.len() <= limit);
            seen.extend(page.items.into_iter().map(|t| t.tag));
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, live, "limit {limit}");
    }
    assert!(matches!(
        l.tags(&repo_id("redis"), None, 5),
        Err(Error::NotFound { .. })
    ));
}

/// Guards schema 2's tag listing, which reads the range of `tag_keys` from
/// `<repository>:` to `<repository>;`: repositories whose names extend
/// another's (`a/b/c`, `a/b-c`, `a/b.c`, `a/b_c`, a port) must not leak into
/// its listing, and a page boundary must not skip or repeat a tag.
#[test]
fn tag_listing_holds_only_the_repositorys_own_tags_when_names_share_a_prefix() {
    let (l, _clock) = ledger();
    let repos = [
        "example.com/a/b",
        "example.com/a/b/c",
        "example.com/a/b-c",
        "example.com/a/b.c",
        "example.com/a/b_c",
        "example.com/a/bc",
        "example.com:5000/a/b",
    ];
    let observations: Vec<Observation> = repos
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            ["1", "1.0", "latest", "z"]
                .into_iter()
                .map(move |tag| obs(&format!("{r}:{tag}"), d(u8::try_from(i).unwrap()), T0))
        })
        .collect();
    l.ingest("scanner", &observations).unwrap();
    for repo in repos {
        for limit in [1, 3, 10] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = l.tags(&repo_id(repo), cursor.as_deref(), limit).unwrap();
                seen.extend(page.items.into_iter().map(|t| t.tag.to_string()));
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let want = ["1", "1.0", "latest", "z"];
            assert_eq!(seen, want, "{repo}, limit {limit}");
        }
    }
}

#[test]
fn recreate_after_delete_starts_a_new_life_and_history_keeps_both() {
    let (l, clock, tag) = ledger_with_tag();
    clock.set(t("2024-06-02T00:00:00Z"));
    l.delete_tag("ops", &tag).unwrap();
    clock.set(t("2024-06-03T00:00:00Z"));
    let again = l.create_tag("carol", &TagBody::new(&tag, d(2))).unwrap();
    assert_eq!(again.artifact, d(2));
    assert_eq!(
        (again.created_by.as_str(), again.created_on),
        ("carol", t("2024-06-03T00:00:00Z"))
    );
    assert_eq!(
        (again.last_modified_by.as_str(), again.last_modified_on),
        ("carol", t("2024-06-03T00:00:00Z"))
    );
    assert_eq!(l.get_tag(&tag).unwrap(), again);
    let h = l.history(&tag, None, 10).unwrap().items;
    let spans: Vec<_> = h
        .iter()
        .map(|e| (e.artifact, e.since, e.until, e.current))
        .collect();
    assert_eq!(
        spans,
        [
            (d(2), t("2024-06-03T00:00:00Z"), None, true),
            (d(1), t(T0), Some(t("2024-06-02T00:00:00Z")), false),
        ]
    );
    // Between the lives the tag pointed nowhere.
    assert_eq!(l.tag_at(&tag, t("2024-06-02T12:00:00Z")).unwrap(), None);
    assert_eq!(l.references(&tag, None, 10).unwrap().items.len(), 2);
    // One tag row (the same tag), two lives.
    assert_eq!(counts(&l).tags, 1);
}

#[test]
fn recreate_after_delete_with_the_same_digest_gives_two_intervals_one_reference() {
    let (l, clock, tag) = ledger_with_tag();
    clock.set(t("2024-06-02T00:00:00Z"));
    l.delete_tag("ops", &tag).unwrap();
    clock.set(t("2024-06-03T00:00:00Z"));
    l.create_tag("carol", &TagBody::new(&tag, d(1))).unwrap();
    let m = l.tags_for_digest(&d(1)).unwrap();
    let spans: Vec<_> = m.iter().map(|m| (m.current, m.since, m.until)).collect();
    assert_eq!(
        spans,
        [
            (true, t("2024-06-03T00:00:00Z"), None),
            (false, t(T0), Some(t("2024-06-02T00:00:00Z"))),
        ]
    );
    let r = l.references(&tag, None, 10).unwrap().items;
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].created_by, "alice",
        "the reference is from the first sighting"
    );
}

#[test]
fn get_reference_of_a_pair_never_seen_is_not_found() {
    let (l, _, tag) = ledger_with_tag();
    let err = l.get_reference(&ReferenceId::new(tag, d(9))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                what: "reference",
                ..
            }
        ),
        "{err:?}"
    );
    let err = l
        .get_reference(&ReferenceId::new(tag_id("redis:7"), d(1)))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                what: "reference",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_reference_is_never_rewritten_by_later_sightings() {
    let (l, clock) = ledger();
    l.ingest(
        "scanner-a",
        &[obs("nginx:latest", d(1), "2024-01-01T00:00:00Z")],
    )
    .unwrap();
    let first = l
        .get_reference(&ReferenceId::new(tag_id("nginx:latest"), d(1)))
        .unwrap();
    clock.advance(Duration::days(1));
    l.ingest(
        "scanner-b",
        &[
            obs("nginx:latest", d(2), "2024-02-01T00:00:00Z"),
            obs("nginx:latest", d(1), "2024-03-01T00:00:00Z"),
        ],
    )
    .unwrap();
    // Even an earlier sighting of the pair leaves the record as it was.
    l.ingest(
        "scanner-c",
        &[obs("nginx:latest", d(1), "2023-01-01T00:00:00Z")],
    )
    .unwrap();
    let again = l
        .get_reference(&ReferenceId::new(tag_id("nginx:latest"), d(1)))
        .unwrap();
    assert_eq!(again, first);
}

#[test]
fn ingest_creates_repository_and_tag_records_with_the_actor_and_scan_time() {
    let (l, _) = ledger();
    let s = l
        .ingest(
            "scanner",
            &[
                obs("nginx:1", d(1), "2024-01-01T00:00:00Z"),
                obs("nginx:2", d(2), "2024-03-01T00:00:00Z"),
                obs("nginx:1", d(3), "2024-02-01T00:00:00Z"),
            ],
        )
        .unwrap();
    assert_eq!(
        (
            s.observations,
            s.repositories_created,
            s.tags_created,
            s.references_created
        ),
        (3, 1, 2, 3)
    );
    let repo = l.get_repository(&repo_id("nginx")).unwrap();
    assert_eq!(
        repo.last_scanned_on,
        t("2024-03-01T00:00:00Z"),
        "the latest observation"
    );
    assert_eq!(
        (repo.created_by.as_str(), repo.created_on),
        ("scanner", t(T0))
    );
    let tag = l.get_tag(&tag_id("nginx:1")).unwrap();
    assert_eq!((tag.artifact, tag.created_by.as_str()), (d(3), "scanner"));
    // An older scan never moves last_scanned_on backwards.
    l.ingest("scanner", &[obs("nginx:1", d(3), "2023-01-01T00:00:00Z")])
        .unwrap();
    assert_eq!(
        l.get_repository(&repo_id("nginx")).unwrap().last_scanned_on,
        t("2024-03-01T00:00:00Z")
    );
}

#[test]
fn write_times_are_stored_to_the_microsecond_and_read_back_equal() {
    let clock = Arc::new(FixedClock::at(t("2024-06-01T00:00:00.123456789Z")));
    let l = Ledger::in_memory().unwrap().with_clock(clock);
    let created = l.create_repository("a", &repo_body("nginx")).unwrap();
    assert_eq!(created.created_on, t("2024-06-01T00:00:00.123456Z"));
    assert_eq!(l.get_repository(&repo_id("nginx")).unwrap(), created);
    let v = serde_json::to_value(&created).unwrap();
    assert_eq!(v["created_on"], "2024-06-01T00:00:00.123456Z");
}

// ---------------------------------------------------------------------------
// JSON shapes. Guards against field renames, missing required keys, local
// offsets in output, and silently accepted typos on input.
// ---------------------------------------------------------------------------

const AUDIT: [&str; 4] = [
    "created_by",
    "created_on",
    "last_modified_by",
    "last_modified_on",
];

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

fn key_set(extra: &[&str]) -> BTreeSet<String> {
    AUDIT.iter().chain(extra).map(|s| (*s).to_owned()).collect()
}

fn assert_utc_rfc3339(v: &Value, field: &str) {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string"));
    assert!(s.ends_with('Z'), "{field} = {s} must be UTC with Z");
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{field} = {s}: {e}"));
}

#[test]
fn repository_json_has_exactly_the_seed_000_keys_with_nullable_lists_present() {
    let (l, _) = ledger();
    l.create_repository("alice", &repo_body("docker.io/istio/pilot"))
        .unwrap();
    let v = serde_json::to_value(l.get_repository(&repo_id("istio/pilot")).unwrap()).unwrap();
    assert_eq!(
        keys(&v),
        key_set(&[
            "registry",
            "namespace",
            "last_scanned_on",
            "projects",
            "project_components",
            "packages"
        ])
    );
    assert_eq!(v["registry"], "docker.io/istio");
    assert_eq!(v["namespace"], "pilot");
    for nullable in ["projects", "project_components", "packages"] {
        assert_eq!(
            v[nullable],
            Value::Null,
            "{nullable} is required: written as null"
        );
    }
    for f in AUDIT
        .iter()
        .filter(|f| f.ends_with("_on"))
        .chain(&["last_scanned_on"])
    {
        assert_utc_rfc3339(&v, f);
    }
    assert_eq!(v["created_on"], "2024-06-01T00:00:00Z");
}

#[test]
fn tag_json_has_exactly_the_seed_001_keys() {
    let (l, _, tag) = ledger_with_tag();
    let v = serde_json::to_value(l.get_tag(&tag).unwrap()).unwrap();
    assert_eq!(keys(&v), key_set(&["artifact", "repository", "tag"]));
    assert_eq!(v["repository"], "docker.io/library/nginx");
    assert_eq!(v["tag"], "1");
    assert_eq!(v["artifact"], d(1).to_string());
    assert!(v["artifact"].as_str().unwrap().starts_with("sha256:"));
    assert_utc_rfc3339(&v, "created_on");
    assert_utc_rfc3339(&v, "last_modified_on");
}

#[test]
fn reference_json_has_exactly_the_seed_003_keys_with_the_full_tag_id() {
    let (l, _) = ledger();
    l.ingest(
        "s",
        &[obs(
            "cert-manager/cert-manager:latest",
            d(1),
            "2024-01-01T00:00:00-05:00",
        )],
    )
    .unwrap();
    let id: ReferenceId = format!("cert-manager/cert-manager:latest@{}", d(1))
        .parse()
        .unwrap();
    let v = serde_json::to_value(l.get_reference(&id).unwrap()).unwrap();
    assert_eq!(keys(&v), key_set(&["tag", "artifact"]));
    assert_eq!(v["tag"], "docker.io/cert-manager/cert-manager:latest");
    assert_eq!(v["artifact"], d(1).to_string());
    assert_utc_rfc3339(&v, "created_on");
    assert_utc_rfc3339(&v, "last_modified_on");
}

fn repository_json() -> Value {
    json!({
        "registry": "docker.io/istio", "namespace": "pilot",
        "last_scanned_on": "2024-01-01T00:00:00Z",
        "projects": null, "project_components": ["c"], "packages": [],
        "created_by": "a", "created_on": "2024-01-01T00:00:00Z",
        "last_modified_by": "b", "last_modified_on": "2024-01-02T00:00:00Z"
    })
}

fn tag_json() -> Value {
    json!({
        "artifact": format!("sha256:{HEX}"), "repository": "docker.io/library/nginx", "tag": "1",
        "created_by": "a", "created_on": "2024-01-01T00:00:00Z",
        "last_modified_by": "b", "last_modified_on": "2024-01-02T00:00:00Z"
    })
}

fn reference_json() -> Value {
    json!({
        "tag": "docker.io/library/nginx:1", "artifact": format!("sha256:{HEX}"),
        "created_by": "a", "created_on": "2024-01-01T00:00:00Z",
        "last_modified_by": "b", "last_modified_on": "2024-01-02T00:00:00Z"
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(key.to_owned(), value);
    v
}

fn without(mut v: Value, key: &str) -> Value {
    assert!(
        v.as_object_mut().unwrap().remove(key).is_some(),
        "{key} was there"
    );
    v
}

#[test]
fn records_round_trip_through_their_json() {
    let r: Repository = serde_json::from_value(repository_json()).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), repository_json());
    let tag: Tag = serde_json::from_value(tag_json()).unwrap();
    assert_eq!(serde_json::to_value(&tag).unwrap(), tag_json());
    let re: Reference = serde_json::from_value(reference_json()).unwrap();
    assert_eq!(serde_json::to_value(&re).unwrap(), reference_json());
}

#[test]
fn deserializing_a_record_with_an_unknown_field_fails() {
    let extra = || json!("surprise");
    assert!(
        serde_json::from_value::<Repository>(with(repository_json(), "owner", extra())).is_err()
    );
    assert!(serde_json::from_value::<Tag>(with(tag_json(), "color", extra())).is_err());
    assert!(serde_json::from_value::<Reference>(with(reference_json(), "note", extra())).is_err());
    let repo_body = without(
        without(
            without(without(repository_json(), "created_by"), "created_on"),
            "last_modified_by",
        ),
        "last_modified_on",
    );
    assert!(serde_json::from_value::<RepositoryBody>(repo_body.clone()).is_ok());
    assert!(serde_json::from_value::<RepositoryBody>(with(repo_body, "owner", extra())).is_err());
    let tag_body = json!({"repository": "nginx", "tag": "1", "artifact": HEX});
    assert!(serde_json::from_value::<TagBody>(tag_body.clone()).is_ok());
    assert!(serde_json::from_value::<TagBody>(with(tag_body, "digest", extra())).is_err());
    // The case of a key matters: `Tag` is not `tag`.
    let renamed = with(without(tag_json(), "tag"), "Tag", json!("1"));
    assert!(serde_json::from_value::<Tag>(renamed).is_err());
}

#[test]
fn deserializing_a_record_missing_any_required_field_fails() {
    let cases: [(&str, Value, &[&str]); 3] = [
        (
            "Repository",
            repository_json(),
            &[
                "registry",
                "namespace",
                "last_scanned_on",
                "projects",
                "project_components",
                "packages",
            ],
        ),
        ("Tag", tag_json(), &["artifact", "repository", "tag"]),
        ("Reference", reference_json(), &["tag", "artifact"]),
    ];
    for (name, full, own) in cases {
        for key in own.iter().chain(AUDIT.iter()) {
            let v = without(full.clone(), key);
            let result = match name {
                "Repository" => serde_json::from_value::<Repository>(v).map(drop),
                "Tag" => serde_json::from_value::<Tag>(v).map(drop),
                _ => serde_json::from_value::<Reference>(v).map(drop),
            };
            let err = result.expect_err(&format!("{name} without {key} must fail"));
            assert!(err.to_string().contains(key), "{name} without {key}: {err}");
        }
    }
}

#[test]
fn required_but_nullable_projects_may_be_null_but_not_missing() {
    // Null: accepted, in the record and in a write body.
    let r: Repository = serde_json::from_value(repository_json()).unwrap();
    assert_eq!(r.projects, None);
    // Missing: refused, in the record and in a write body.
    for key in ["projects", "project_components", "packages"] {
        let err =
            serde_json::from_value::<Repository>(without(repository_json(), key)).unwrap_err();
        assert!(
            err.to_string().contains(&format!("missing field `{key}`")),
            "{err}"
        );
        let body = json!({"registry": "docker.io/istio", "namespace": "pilot",
            "last_scanned_on": "2024-01-01T00:00:00Z",
            "projects": null, "project_components": null, "packages": null});
        assert!(serde_json::from_value::<RepositoryBody>(body.clone()).is_ok());
        assert!(
            serde_json::from_value::<RepositoryBody>(without(body, key)).is_err(),
            "{key}"
        );
    }
}

#[test]
fn schema_field_is_accepted_on_input() {
    let url = json!("https://example.com/schemas/OCIRepository.json");
    let r: Repository =
        serde_json::from_value(with(repository_json(), "$schema", url.clone())).unwrap();
    assert_eq!(r.schema.as_deref(), url.as_str());
    let tag: Tag = serde_json::from_value(with(tag_json(), "$schema", url.clone())).unwrap();
    assert_eq!(tag.artifact, Digest::of(Algorithm::Sha256, b"abc"));
    let _: Reference =
        serde_json::from_value(with(reference_json(), "$schema", url.clone())).unwrap();
    let body = json!({"$schema": url, "registry": "docker.io/istio", "namespace": "pilot",
        "last_scanned_on": "2024-01-01T00:00:00Z",
        "projects": null, "project_components": null, "packages": null});
    let body: RepositoryBody = serde_json::from_value(body).unwrap();
    let (l, _) = ledger();
    let created = l.create_repository("a", &body).unwrap();
    assert!(!keys(&serde_json::to_value(created).unwrap()).contains("$schema"));
    let tag_body: TagBody = serde_json::from_value(
        json!({"$schema": "https://example.com/schemas/OCITag.json", "repository": "istio/pilot", "tag": "1", "artifact": HEX}),
    )
    .unwrap();
    assert_eq!(
        l.create_tag("a", &tag_body).unwrap().artifact,
        Digest::of(Algorithm::Sha256, b"abc")
    );
}

#[test]
fn tag_artifact_given_as_bare_64_hex_is_read_as_sha256() {
    let tag: Tag = serde_json::from_value(with(tag_json(), "artifact", json!(HEX))).unwrap();
    assert_eq!(tag.artifact, Digest::of(Algorithm::Sha256, b"abc"));
    assert_eq!(
        serde_json::to_value(&tag).unwrap()["artifact"],
        format!("sha256:{HEX}")
    );
    let body: TagBody =
        serde_json::from_value(json!({"repository": "nginx", "tag": "1", "artifact": HEX}))
            .unwrap();
    assert_eq!(body.artifact.algorithm(), Algorithm::Sha256);
    let r: Reference =
        serde_json::from_value(with(reference_json(), "artifact", json!(HEX))).unwrap();
    assert_eq!(r.artifact, Digest::of(Algorithm::Sha256, b"abc"));
    // 63 or 65 hex characters, or upper case, are not digests.
    for bad in [&HEX[1..], &format!("{HEX}0"), &HEX.to_uppercase()] {
        assert!(
            serde_json::from_value::<Tag>(with(tag_json(), "artifact", json!(bad))).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn timestamps_with_offsets_are_read_as_utc_and_written_with_z() {
    let v = with(
        repository_json(),
        "last_scanned_on",
        json!("2021-01-27T19:44:34-06:00"),
    );
    let r: Repository = serde_json::from_value(v).unwrap();
    assert_eq!(r.last_scanned_on, t("2021-01-28T01:44:34Z"));
    assert_eq!(
        serde_json::to_value(&r).unwrap()["last_scanned_on"],
        "2021-01-28T01:44:34Z"
    );
    let not_a_time = with(repository_json(), "last_scanned_on", json!("yesterday"));
    assert!(serde_json::from_value::<Repository>(not_a_time).is_err());
}

// ---------------------------------------------------------------------------
// problem+json. Guards against errors that lose their status, their title, or
// the where/what/value a client needs.
// ---------------------------------------------------------------------------

fn problem_json(err: &Error) -> Value {
    serde_json::to_value(ErrorModel::from(err)).unwrap()
}

#[test]
fn not_found_maps_to_404_problem_json() {
    let (l, _) = ledger();
    let err = l.get_tag(&tag_id("nginx:x")).unwrap_err();
    let p = ErrorModel::from(&err);
    assert_eq!((p.status, p.title.as_str()), (404, "Not Found"));
    assert!(
        p.detail.contains("docker.io/library/nginx:x"),
        "{}",
        p.detail
    );
    assert_eq!(p.errors, None);
    let v = problem_json(&err);
    assert_eq!(v["status"], 404);
    assert_eq!(v["title"], "Not Found");
    assert!(v["detail"].is_string());
    let allowed: BTreeSet<String> = [
        "$schema", "detail", "errors", "instance", "status", "title", "type",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert!(
        keys(&v).is_subset(&allowed),
        "ErrorModel allows no other keys: {v}"
    );
}

#[test]
fn conflict_maps_to_409_problem_json() {
    let (l, _) = ledger();
    l.create_repository("a", &repo_body("nginx")).unwrap();
    let err = l.create_repository("a", &repo_body("nginx")).unwrap_err();
    let p = ErrorModel::from(&err);
    assert_eq!((p.status, p.title.as_str()), (409, "Conflict"));
    assert!(p.detail.contains("docker.io/library/nginx"), "{}", p.detail);
    assert_eq!(problem_json(&err)["status"], 409);
}

#[test]
fn invalid_maps_to_400_problem_json_with_location_message_and_value() {
    let (l, _) = ledger();
    let err = l.create_repository("", &repo_body("nginx")).unwrap_err();
    let v = problem_json(&err);
    assert_eq!(v["status"], 400);
    assert_eq!(v["title"], "Bad Request");
    let errors = v["errors"].as_array().expect("errors[] for a 400");
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e["location"], "actor");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(e["value"], "");
    for detail in errors {
        let allowed: BTreeSet<String> = ["location", "message", "value"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert!(keys(detail).is_subset(&allowed), "{detail}");
    }
    // A cursor error names the cursor and echoes it.
    l.ingest("s", &[obs("nginx:1", d(1), "2024-01-01T00:00:00Z")])
        .unwrap();
    let err = l
        .history(&tag_id("nginx:1"), Some("garbage"), 5)
        .unwrap_err();
    let v = problem_json(&err);
    assert_eq!(
        (v["status"].as_u64(), v["errors"][0]["location"].as_str()),
        (Some(400), Some("cursor"))
    );
    assert_eq!(v["errors"][0]["value"], "garbage");
}

#[test]
fn problem_json_reads_back_as_the_error_model() {
    let err = Error::Invalid {
        location: "body.tag".into(),
        message: "bad".into(),
        value: Some("x y".into()),
    };
    let text = serde_json::to_string(&ErrorModel::from(&err)).unwrap();
    let back: ErrorModel = serde_json::from_str(&text).unwrap();
    assert_eq!(back, ErrorModel::from(&err));
    assert_eq!(back.errors.unwrap()[0].value, Some(json!("x y")));
    assert_eq!(err.status(), 400);
}
