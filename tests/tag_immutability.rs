//! Tag mutability from repository creation templates: the API refuses to
//! move an immutable tag (and writes nothing); ingest records what the
//! registry did and flags the move as a violation; violations are the same
//! in any ingest order (a property test against an independent replay);
//! `history` marks them, `violations` lists them, `classify` reports the
//! tag's mutability and how far a stale container is behind, and `template
//! apply` judges moves by the setting in force when they were observed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::{
    FixedClock, ImageTagMutability, Observation, RepositoryBody, TagBody, TemplateBody, Timestamp,
    Violation,
};
use ociledger::{Error, Ledger, MatchKind};
use proptest::prelude::*;
use serde_json::json;

const REG: &str = "ghcr.io";

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn day(n: i64) -> Timestamp {
    t("2024-01-01T00:00:00Z") + Duration::days(n - 1)
}

fn d(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

fn tag(s: &str) -> TagId {
    format!("{REG}/{s}").parse().expect("test tag")
}

fn obs(s: &str, digest: Digest, at: Timestamp) -> Observation {
    Observation::new(tag(s), digest, at)
}

/// A ledger whose clock is at 2025-01-01 (after every observation here),
/// with templates on ghcr.io: `prod` `IMMUTABLE`, `ex` `IMMUTABLE_WITH_EXCLUSION`
/// (`latest`, `dev-*` stay mutable), `mx` `MUTABLE_WITH_EXCLUSION` (`v*`
/// immutable); anything else has no template.
fn ledger() -> (Ledger, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(t("2025-01-01T00:00:00Z")));
    let l = Ledger::in_memory().unwrap().with_clock(clock.clone());
    templates(&l);
    (l, clock)
}

fn templates(l: &Ledger) {
    for body in [
        json!({"prefix": "prod", "imageTagMutability": "IMMUTABLE"}),
        json!({"prefix": "ex", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
               "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"},
                                                      {"filterType": "WILDCARD", "filter": "dev-*"}]}),
        json!({"prefix": "mx", "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
               "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "v*"}]}),
    ] {
        l.create_template(REG, &TemplateBody::from_json(&body.to_string()).unwrap())
            .unwrap();
    }
}

fn create_repo(l: &Ledger, path: &str) {
    let id: RepositoryId = format!("{REG}/{path}").parse().unwrap();
    let body: RepositoryBody = serde_json::from_value(json!({
        "registry": id.registry(), "namespace": id.namespace(),
        "last_scanned_on": "2024-01-01T00:00:00Z", "projects": null, "project_components": null, "packages": null,
    }))
    .unwrap();
    l.create_repository("alice", &body).unwrap();
}

fn tag_body(s: &str, digest: Digest) -> TagBody {
    let id = tag(s);
    serde_json::from_value(json!({
        "repository": id.repository(), "tag": id.tag(), "artifact": digest,
    }))
    .unwrap()
}

fn all_violations(l: &Ledger) -> Vec<Violation> {
    let page = l.violations(None, None, 1000).unwrap();
    assert!(page.next.is_none());
    page.items
}

// ---------------------------------------------------------------------------
// The API refuses. Guards against an immutable tag moved through the API,
// and against a refusal that leaves part of the write behind.
// ---------------------------------------------------------------------------

/// Guards the API rule (ECR's `ImageTagAlreadyExistsException`): moving a
/// tag of an IMMUTABLE repository is refused with `TagImmutable`, and the
/// tag, its history, its references and every count stay exactly as they
/// were. Creating it, and pointing it at the digest it has, are allowed.
#[test]
fn an_api_move_of_an_immutable_tag_is_refused_and_writes_nothing() {
    let (l, clock) = ledger();
    create_repo(&l, "prod/app");
    let created = l
        .create_tag("alice", &tag_body("prod/app:v1", d(1)))
        .unwrap();
    clock.advance(Duration::seconds(1));
    let before = (
        l.get_tag(&tag("prod/app:v1")).unwrap(),
        l.history(&tag("prod/app:v1"), None, 100).unwrap(),
        l.references(&tag("prod/app:v1"), None, 100).unwrap(),
        l.stats().unwrap().counts,
    );
    let err = l
        .update_tag("bob", &tag("prod/app:v1"), &tag_body("prod/app:v1", d(2)))
        .unwrap_err();
    match &err {
        Error::TagImmutable {
            tag: t,
            current,
            requested,
            rule,
        } => {
            assert_eq!(t, &tag("prod/app:v1").to_string());
            assert_eq!((current, requested), (&d(1).to_string(), &d(2).to_string()));
            assert_eq!(rule, "IMMUTABLE (template prod)");
        }
        other => panic!("expected TagImmutable, got {other:?}"),
    }
    assert_eq!(err.status(), 409);
    let problem = ociledger::problem::ErrorModel::from(&err);
    assert_eq!(problem.kind, "ImageTagAlreadyExistsException");
    let after = (
        l.get_tag(&tag("prod/app:v1")).unwrap(),
        l.history(&tag("prod/app:v1"), None, 100).unwrap(),
        l.references(&tag("prod/app:v1"), None, 100).unwrap(),
        l.stats().unwrap().counts,
    );
    assert_eq!(after, before, "a refused move writes nothing");
    assert!(all_violations(&l).is_empty(), "the API makes no violations");
    let same = l
        .update_tag("bob", &tag("prod/app:v1"), &tag_body("prod/app:v1", d(1)))
        .unwrap();
    assert_eq!(
        (same.artifact, &same.created_by),
        (created.artifact, &created.created_by)
    );
}

/// Guards the ECR reading of "move": a deleted tag may be created again at
/// another digest (ECR lets an untagged tag be pushed again), and that is no
/// violation either.
#[test]
fn an_immutable_tag_may_be_deleted_and_created_again_elsewhere() {
    let (l, clock) = ledger();
    create_repo(&l, "prod/app");
    l.create_tag("alice", &tag_body("prod/app:v1", d(1)))
        .unwrap();
    clock.advance(Duration::seconds(1));
    l.delete_tag("alice", &tag("prod/app:v1")).unwrap();
    clock.advance(Duration::seconds(1));
    l.create_tag("alice", &tag_body("prod/app:v1", d(2)))
        .unwrap();
    assert_eq!(l.get_tag(&tag("prod/app:v1")).unwrap().artifact, d(2));
    let h = l.history(&tag("prod/app:v1"), None, 10).unwrap().items;
    assert!(h.iter().all(|e| e.violation.is_none()), "{h:?}");
}

/// Guards the exclusion filters with wildcards, both ways: under
/// `IMMUTABLE_WITH_EXCLUSION` the matched tags (`latest`, `dev-*`) may move and
/// the rest may not; under `MUTABLE_WITH_EXCLUSION` the matched tags (`v*`)
/// may not and the rest may. A repository without a template is mutable.
#[test]
fn exclusion_filters_give_the_matched_tags_the_opposite_rule() {
    let (l, clock) = ledger();
    for path in ["ex/app", "mx/app", "free/app"] {
        create_repo(&l, path);
    }
    let cases = [
        ("ex/app:latest", true),
        ("ex/app:dev-42", true),
        ("ex/app:dev", false),
        ("ex/app:1.0", false),
        ("mx/app:v1.2", false),
        ("mx/app:latest", true),
        ("mx/app:V1", true),
        ("free/app:v1", true),
    ];
    for (name, mutable) in cases {
        l.create_tag("alice", &tag_body(name, d(1))).unwrap();
        clock.advance(Duration::seconds(1));
        let moved = l.update_tag("alice", &tag(name), &tag_body(name, d(2)));
        assert_eq!(moved.is_ok(), mutable, "{name}: {moved:?}");
        if !mutable {
            assert!(matches!(moved, Err(Error::TagImmutable { .. })));
        }
        let m = l.snapshot().unwrap().tag_mutability(&tag(name)).unwrap();
        assert_eq!(m.mutable, mutable, "{name}");
    }
    let m = l
        .snapshot()
        .unwrap()
        .tag_mutability(&tag("ex/app:dev-42"))
        .unwrap();
    assert_eq!(
        (
            m.image_tag_mutability,
            m.template.as_deref(),
            m.filter.as_deref()
        ),
        (
            ImageTagMutability::ImmutableWithExclusion,
            Some("ex"),
            Some("dev-*")
        )
    );
}

// ---------------------------------------------------------------------------
// Ingest records. Guards against ingest refusing what a registry did, and
// against violations that are lost, doubled or depend on arrival order.
// ---------------------------------------------------------------------------

/// Guards the ingest rule: a move of an immutable tag is stored (the tag
/// points to the new digest) and recorded as a violation with the tag, both
/// digests, the instant and the rule; the summary counts it; `history`
/// marks that move and no other.
#[test]
fn ingest_stores_a_move_of_an_immutable_tag_and_flags_it() {
    let (l, _) = ledger();
    let s = l
        .ingest(
            "scanner",
            &[
                obs("prod/app:v1", d(1), day(1)),
                obs("prod/app:v1", d(1), day(2)),
                obs("prod/app:v1", d(2), day(3)),
            ],
        )
        .unwrap();
    assert_eq!((s.tags_moved, s.violations_created), (1, 1));
    assert_eq!(
        l.get_tag(&tag("prod/app:v1")).unwrap().artifact,
        d(2),
        "never refused"
    );
    let v = all_violations(&l);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (&v[0].tag, v[0].from, v[0].to, v[0].observed_at),
        (&tag("prod/app:v1"), d(1), d(2), day(3))
    );
    assert_eq!(
        (
            v[0].rule.mutable,
            v[0].rule.template.as_deref(),
            v[0].rule.image_tag_mutability
        ),
        (false, Some("prod"), ImageTagMutability::Immutable)
    );
    let h = l.history(&tag("prod/app:v1"), None, 10).unwrap().items;
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].violation.as_ref(), Some(&v[0].rule));
    assert_eq!(h[1].violation, None, "the first observation is no move");
    assert_eq!(
        l.tag_at(&tag("prod/app:v1"), day(4))
            .unwrap()
            .unwrap()
            .violation,
        Some(v[0].rule.clone())
    );
    let again = l
        .ingest("scanner", &[obs("prod/app:v1", d(2), day(3))])
        .unwrap();
    assert_eq!(
        again.violations_created, 0,
        "a repeat is not a new violation"
    );
    let mutable = l
        .ingest(
            "scanner",
            &[
                obs("free/app:v1", d(1), day(1)),
                obs("free/app:v1", d(2), day(2)),
            ],
        )
        .unwrap();
    assert_eq!(mutable.violations_created, 0);
}

/// Guards what is not a move: a digest that loses the same-instant rule
/// (never in force), a repeat, and a return after a deletion. The winner of
/// an instant is judged like any move.
#[test]
fn same_instant_losers_repeats_and_returns_after_deletion_are_not_violations() {
    let (l, clock) = ledger();
    let (lo, hi) = if d(1).to_string() < d(2).to_string() {
        (d(1), d(2))
    } else {
        (d(2), d(1))
    };
    // hi in force; lo observed at the same instant as a repeat of hi: lo loses.
    l.ingest(
        "scanner",
        &[
            obs("prod/a:x", hi, day(1)),
            obs("prod/a:x", lo, day(2)),
            obs("prod/a:x", hi, day(2)),
        ],
    )
    .unwrap();
    assert!(all_violations(&l).is_empty(), "{:?}", all_violations(&l));
    // lo in force; hi wins its instant: a move.
    l.ingest(
        "scanner",
        &[
            obs("prod/b:x", lo, day(1)),
            obs("prod/b:x", lo, day(2)),
            obs("prod/b:x", hi, day(2)),
        ],
    )
    .unwrap();
    let v = all_violations(&l);
    assert_eq!(
        (v.len(), v[0].from, v[0].to, v[0].observed_at),
        (1, lo, hi, day(2))
    );
    // Through a deletion: no move.
    create_repo(&l, "prod/c");
    l.create_tag("alice", &tag_body("prod/c:x", d(1))).unwrap();
    clock.advance(Duration::seconds(1));
    l.delete_tag("alice", &tag("prod/c:x")).unwrap();
    // The clock past the observation: a future one would be refused.
    clock.set(t("2025-06-01T00:00:00Z"));
    l.ingest(
        "scanner",
        &[obs("prod/c:x", d(3), t("2025-06-01T00:00:00Z"))],
    )
    .unwrap();
    assert_eq!(all_violations(&l).len(), 1);
}

/// Guards order independence on the smallest case that breaks a naive
/// design (flagging at arrival): A@1 and B@3 make one violation A→B@3; a
/// late C@2 makes it A→C@2 and C→B@3 — exactly what in-order ingest gives.
#[test]
fn a_late_observation_gives_the_violations_in_order_ingest_gives() {
    let (late, _) = ledger();
    late.ingest(
        "s",
        &[
            obs("prod/app:v1", d(1), day(1)),
            obs("prod/app:v1", d(2), day(3)),
        ],
    )
    .unwrap();
    assert_eq!(all_violations(&late).len(), 1);
    let s = late
        .ingest("s", &[obs("prod/app:v1", d(3), day(2))])
        .unwrap();
    assert_eq!(
        s.violations_created, 1,
        "A→C@2 is new; C→B@3 replaces A→B@3"
    );
    let (in_order, _) = ledger();
    in_order
        .ingest(
            "s",
            &[
                obs("prod/app:v1", d(1), day(1)),
                obs("prod/app:v1", d(3), day(2)),
                obs("prod/app:v1", d(2), day(3)),
            ],
        )
        .unwrap();
    let v = all_violations(&late);
    assert_eq!(v, all_violations(&in_order));
    let moves: Vec<_> = v.iter().map(|v| (v.from, v.to, v.observed_at)).collect();
    assert_eq!(moves, [(d(1), d(3), day(2)), (d(3), d(2), day(3))]);
}

/// Guards the `violations(since, cursor, limit)` query: oldest observation
/// first, `since` inclusive, pages that neither skip nor repeat.
#[test]
fn violations_page_by_since_cursor_and_limit() {
    let (l, _) = ledger();
    let mut batch = Vec::new();
    for (i, name) in ["prod/a:1", "prod/b:1", "prod/c:1"].iter().enumerate() {
        let i = i64::try_from(i).unwrap();
        batch.push(obs(name, d(1), day(1)));
        batch.push(obs(name, d(2), day(10 + i)));
        batch.push(obs(name, d(3), day(20 + i)));
    }
    l.ingest("s", &batch).unwrap();
    let all = all_violations(&l);
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].observed_at <= w[1].observed_at));
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = l.violations(None, cursor.as_deref(), 4).unwrap();
        paged.extend(page.items);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, all);
    let since = l.violations(Some(day(11)), None, 100).unwrap().items;
    assert_eq!(since, all[1..]);
    let since_page = l.violations(Some(day(20)), None, 1).unwrap();
    assert_eq!(since_page.items, all[3..4]);
    let rest = l
        .violations(Some(day(20)), since_page.next.as_deref(), 100)
        .unwrap();
    assert_eq!(rest.items, all[4..]);
    assert!(matches!(
        l.violations(None, Some("nonsense"), 10),
        Err(Error::Invalid { .. })
    ));
}

// ---------------------------------------------------------------------------
// Order independence, as a property: any permutation and any batching of
// the same observations gives the same violations, equal to an independent
// replay of the documented rules.
// ---------------------------------------------------------------------------

const TAGS: [&str; 6] = [
    "prod/app:v1",
    "prod/app:latest",
    "ex/app:dev-1",
    "ex/app:2.0",
    "mx/app:v3",
    "mx/app:edge",
];

/// Whether a tag of [`TAGS`] is immutable (as the templates of [`ledger`] say).
fn immutable(name: &str) -> bool {
    !matches!(name, "ex/app:dev-1" | "mx/app:edge")
}

/// The model: per tag, the digest in force after each instant is the
/// greatest (in canonical string order) observed at it; a violation is each
/// instant where it changes from one digest to another, for an immutable tag.
fn model(observations: &[(usize, u8, i64)]) -> Vec<(String, Digest, Digest, Timestamp)> {
    let mut logs: BTreeMap<usize, BTreeMap<i64, String>> = BTreeMap::new();
    for &(ti, di, s) in observations {
        let e = logs.entry(ti).or_default().entry(s).or_default();
        let text = d(di).to_string();
        if text > *e {
            *e = text;
        }
    }
    let mut out = Vec::new();
    for (ti, log) in logs {
        if !immutable(TAGS[ti]) {
            continue;
        }
        let mut in_force: Option<&String> = None;
        for (s, digest) in &log {
            if let Some(before) = in_force
                && before != digest
            {
                out.push((
                    tag(TAGS[ti]).to_string(),
                    before.parse().unwrap(),
                    digest.parse().unwrap(),
                    day(1) + Duration::seconds(*s),
                ));
            }
            in_force = Some(digest);
        }
    }
    out.sort_by(|a, b| (a.3, &a.0).cmp(&(b.3, &b.0)));
    out
}

fn as_tuples(v: &[Violation]) -> Vec<(String, Digest, Digest, Timestamp)> {
    let mut out: Vec<_> = v
        .iter()
        .map(|v| (v.tag.to_string(), v.from, v.to, v.observed_at))
        .collect();
    out.sort_by(|a, b| (a.3, &a.0).cmp(&(b.3, &b.0)));
    out
}

fn observations_of(program: &[(usize, u8, i64)]) -> Vec<Observation> {
    program
        .iter()
        .map(|&(ti, di, s)| obs(TAGS[ti], d(di), day(1) + Duration::seconds(s)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Guards "out-of-order ingest gives the same violations as in-order":
    /// a shuffled program ingested in random batches ends with exactly the
    /// violations (and history marks) of the sorted program ingested at
    /// once, and both equal the model's replay.
    #[test]
    fn violations_do_not_depend_on_ingest_order_or_batching(
        program in prop::collection::vec((0..TAGS.len(), 0u8..4, 0i64..12), 1..40),
        order in any::<prop::sample::Index>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let mut sorted = program.clone();
        sorted.sort_by_key(|&(ti, di, s)| (s, ti, di));
        let (reference, _) = ledger();
        reference.ingest("s", &observations_of(&sorted)).unwrap();

        // A deterministic shuffle from `order`, then batches cut at `cuts`.
        let mut shuffled = program.clone();
        let rotate = order.index(shuffled.len());
        shuffled.rotate_left(rotate);
        shuffled.reverse();
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(shuffled.len() + 1)).collect();
        bounds.push(0);
        bounds.push(shuffled.len());
        bounds.sort_unstable();
        bounds.dedup();
        let (other, _) = ledger();
        let mut created = 0;
        for w in bounds.windows(2) {
            created += other.ingest("s", &observations_of(&shuffled[w[0]..w[1]])).unwrap().violations_created;
        }

        let expected = model(&program);
        let got = all_violations(&other);
        prop_assert_eq!(as_tuples(&got), expected.clone());
        prop_assert_eq!(&got, &all_violations(&reference));
        prop_assert!(created >= expected.len() as u64);
        for name in TAGS {
            let id = tag(name);
            if let (Ok(a), Ok(b)) = (reference.history(&id, None, 1000), other.history(&id, None, 1000)) {
                prop_assert_eq!(a.items, b.items);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// classify, apply, persistence.
// ---------------------------------------------------------------------------

/// Guards the classifier's new evidence: the named tag's mutability, and
/// for a mutable tag the container is stale on, how many times the tag
/// changed since (a deletion counts); nothing of the kind for unknown
/// repositories or current matches.
#[test]
fn classify_reports_mutability_and_how_many_moves_behind() {
    let (l, clock) = ledger();
    l.ingest(
        "s",
        &[
            obs("free/app:latest", d(1), day(1)),
            obs("free/app:latest", d(2), day(2)),
            obs("free/app:latest", d(1), day(3)),
            obs("free/app:latest", d(3), day(4)),
            obs("free/app:latest", d(4), day(5)),
        ],
    )
    .unwrap();
    let c = l
        .classify(&format!("{REG}/free/app:latest"), Some(&d(1)))
        .unwrap();
    assert_eq!(c.kind, MatchKind::Historical);
    assert!(
        c.mutability
            .as_ref()
            .is_some_and(|m| m.mutable && m.template.is_none())
    );
    assert_eq!(
        c.moves_behind,
        Some(2),
        "d(1) last held until day 4: d(3), d(4) since"
    );
    let c = l
        .classify(&format!("{REG}/free/app:latest"), Some(&d(2)))
        .unwrap();
    assert_eq!(c.moves_behind, Some(3));
    let c = l
        .classify(&format!("{REG}/free/app:latest"), Some(&d(4)))
        .unwrap();
    assert_eq!((c.kind, c.moves_behind), (MatchKind::Current, None));
    clock.advance(Duration::days(1));
    l.delete_tag("alice", &tag("free/app:latest")).unwrap();
    let c = l
        .classify(&format!("{REG}/free/app:latest"), Some(&d(4)))
        .unwrap();
    assert_eq!(
        (c.kind, c.moves_behind),
        (MatchKind::Historical, Some(1)),
        "the deletion counts"
    );

    l.ingest(
        "s",
        &[
            obs("prod/app:v1", d(1), day(1)),
            obs("prod/app:v1", d(2), day(2)),
        ],
    )
    .unwrap();
    let c = l
        .classify(&format!("{REG}/prod/app:v1"), Some(&d(1)))
        .unwrap();
    assert_eq!(c.kind, MatchKind::Historical);
    assert!(c.mutability.as_ref().is_some_and(|m| !m.mutable));
    assert_eq!(
        c.moves_behind, None,
        "an immutable tag is not expected to move"
    );
    let c = l.classify("nginx:1.25", None).unwrap();
    assert_eq!((c.mutability, c.moves_behind), (None, None));
}

/// Guards `template apply` against rewriting the past: a repository made
/// IMMUTABLE from now on flags only moves observed after that instant, and
/// made MUTABLE again it keeps the violations observed while it was not.
#[test]
fn apply_judges_each_move_by_the_setting_in_force_when_it_was_observed() {
    let (l, clock) = ledger();
    let later = |n: i64| t("2025-01-01T00:00:00Z") + Duration::days(n);
    l.ingest(
        "s",
        &[
            obs("dev/app:v1", d(1), day(1)),
            obs("dev/app:v1", d(2), day(2)),
        ],
    )
    .unwrap();
    let body = |v: serde_json::Value| TemplateBody::from_json(&v.to_string()).unwrap();
    l.create_template(
        REG,
        &body(json!({"prefix": "dev", "imageTagMutability": "IMMUTABLE"})),
    )
    .unwrap();
    assert!(
        all_violations(&l).is_empty(),
        "creating a template changes no repository"
    );
    let applied = l.apply_template(REG, "dev", false).unwrap();
    assert_eq!(
        (applied.changes.len(), applied.violations_created),
        (1, Some(0))
    );
    assert!(
        all_violations(&l).is_empty(),
        "moves before the setting are not judged by it"
    );
    // The clock past the observations: a future one would be refused.
    clock.set(later(1));
    let s = l
        .ingest(
            "s",
            &[
                obs("dev/app:v1", d(3), later(1)),
                obs("dev/app:v1", d(1), day(3)),
            ],
        )
        .unwrap();
    assert_eq!(
        s.violations_created, 1,
        "only the move observed after the apply"
    );
    assert_eq!(all_violations(&l)[0].observed_at, later(1));
    // The API refuses from now on.
    clock.set(later(2));
    let refused = l.update_tag("alice", &tag("dev/app:v1"), &tag_body("dev/app:v1", d(4)));
    assert!(matches!(refused, Err(Error::TagImmutable { .. })));

    clock.set(later(3));
    l.update_template(REG, &body(json!({"prefix": "dev"})))
        .unwrap();
    l.apply_template(REG, "dev", false).unwrap();
    clock.set(later(4));
    l.ingest("s", &[obs("dev/app:v1", d(4), later(4))]).unwrap();
    let v = all_violations(&l);
    assert_eq!(
        v.len(),
        1,
        "the old violation stays; the new move is allowed: {v:?}"
    );
    let settings = l
        .snapshot()
        .unwrap()
        .repository_mutability(&tag("dev/app:v1").repository().clone())
        .unwrap();
    assert_eq!(settings.len(), 3);
}

/// Guards persistence and the reader side: settings and violations survive
/// close and reopen, and a read-only handle answers `violations`,
/// `history` marks and `classify` without writing.
#[test]
fn violations_and_settings_survive_reopen_and_read_only_handles_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    {
        let l = Ledger::create(&path).unwrap();
        templates(&l);
        l.ingest(
            "s",
            &[
                obs("prod/app:v1", d(1), day(1)),
                obs("prod/app:v1", d(2), day(2)),
            ],
        )
        .unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    assert_eq!(all_violations(&l).len(), 1);
    l.ingest("s", &[obs("prod/app:v1", d(3), day(3))]).unwrap();
    let reader = Ledger::open_read_only(&path).unwrap();
    let v = all_violations(&reader);
    assert_eq!(v.len(), 2);
    let h = reader.history(&tag("prod/app:v1"), None, 10).unwrap().items;
    assert_eq!(h.iter().filter(|e| e.violation.is_some()).count(), 2);
    let c = reader
        .classify(&format!("{REG}/prod/app:v1"), Some(&d(1)))
        .unwrap();
    assert_eq!(c.mutability.map(|m| m.mutable), Some(false));
    assert!(matches!(
        reader.create_template(REG, &TemplateBody::from_json(r#"{"prefix": "x"}"#).unwrap()),
        Err(Error::ReadOnly { .. })
    ));
    assert!(
        reader.apply_template(REG, "prod", true).is_ok(),
        "a dry run reads only"
    );
}
