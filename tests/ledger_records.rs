//! The seeds' record rules (000 `OCIRepository`, 001 `OCITag`, 003
//! `OCIReference`) through the `Ledger` API: create, update, get, list and
//! delete, the audit fields, and what a refused write leaves (nothing). The
//! records' exact JSON and the problem+json errors are in
//! `tests/record_json.rs`; history and classify rules in
//! `tests/ledger_history.rs`. (`tests/seed_rules.rs` was merged into these.)

use std::sync::Arc;

use chrono::Duration;
use ociledger::id::{Algorithm, Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{FixedClock, Observation, RepositoryBody, TagBody, Timestamp};
use ociledger::{Counts, Error, Ledger};

const T0: &str = "2024-06-01T00:00:00Z";

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

/// Guards against create dropping body fields or stamping audit fields from anything but the actor and the clock.
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

/// Guards against create silently overwriting, and other spellings of one repository creating a second one.
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

/// Guards against update silently creating a repository (upsert).
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

/// Guards against update merging instead of replacing, or losing or forging the audit fields.
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

/// Guards against an update whose body names another repository writing to either one.
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

/// Guards against a body with an invalid registry or namespace creating a repository no ID can name.
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

/// Guards against writes with no actor (audit fields that name nobody).
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

/// Guards against repository pages out of ID order, or cursors that skip or repeat.
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

/// Guards against tags without a repository.
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
    let c = counts(&l);
    assert_eq!(
        (
            c.repositories,
            c.tags,
            c.references,
            c.observations,
            c.intervals
        ),
        (0, 0, 0, 0, 0)
    );
}

/// Guards against an API-created tag missing its first interval or its reference.
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

/// Guards against create overwriting a live tag.
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

/// Guards against `update_tag` silently creating a tag (upsert).
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

/// Guards against update (or a second delete) resurrecting a deleted tag.
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

/// Guards against an update whose body names another tag, or an invalid tag name, writing anything.
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

/// Guards against a move losing created_*, leaving the old interval open, or rewriting the old reference.
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

/// Guards against a same-digest update adding an interval or reference (or not stamping `last_modified_*`).
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

/// Guards against deleted tags still answering get or listed, and delete erasing history.
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

/// Guards against pages of deleted tags ending a listing early or returning more than the limit.
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

/// Guards the tag listing, which reads one key range of `tag_keys` (schema
/// 2 to 6: `<repository>:` to `<repository>;`; since 7: one repository
/// number's keys): repositories whose names extend
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
                seen.extend(page.items.into_iter().map(|t| t.tag));
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

/// Guards against a re-created tag keeping its old audit fields or losing its first life's history.
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

/// Guards against a re-created tag merging its two lives or duplicating the reference.
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

/// Guards against references invented for pairs never seen (or for unknown tags).
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

/// Guards against later (or earlier) sightings rewriting a reference record.
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

/// Guards against ingest creating records without audit fields or moving `last_scanned_on` backwards.
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

/// Guards against a record read back differing from the one returned by the write (sub-microsecond clock digits).
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
