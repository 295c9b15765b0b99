//! The ledger against a plain in-memory model (BTreeMaps), step by step.
//!
//! Guards against every way the redb layout can drift from the meaning of the
//! history: the digest index disagreeing with the move log, out-of-order or
//! same-instant observations giving answers that depend on arrival order, a
//! failed write leaving half its changes behind, the name cache or the file
//! losing something across close and reopen.
//!
//! The model keeps, per tag, the set of every distinct (instant, digest)
//! observation, deletions included, and derives everything else from it with
//! `coalesce`; the ledger must answer exactly as if it did the same.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Duration;
use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::{
    FixedClock, Interval, Observation, RepositoryBody, TagBody, TagMatch, Timestamp, coalesce,
};
use ociledger::{Error, HistoryEntry, Ledger};
use proptest::prelude::*;

const REPOS: [&str; 3] = ["nginx", "ghcr.io/acme/app", "registry.k8s.io/pause"];
const TAG_NAMES: [&str; 3] = ["latest", "1", "v2"];
const ACTORS: [&str; 2] = ["alice", "scanner"];

fn epoch() -> Timestamp {
    "2024-01-01T00:00:00Z".parse().expect("constant")
}

fn at(seconds: i64) -> Timestamp {
    epoch() + Duration::seconds(seconds)
}

fn repo(i: usize) -> RepositoryId {
    REPOS[i].parse().expect("constant")
}

fn tag(i: usize) -> TagId {
    TagId::new(repo(i / TAG_NAMES.len()), TAG_NAMES[i % TAG_NAMES.len()]).expect("constant")
}

/// Digests of all three algorithms, so the same-instant rule is exercised
/// across algorithms too.
fn digest(i: usize) -> Digest {
    let alg = match i % 4 {
        0 | 1 => Algorithm::Sha256,
        2 => Algorithm::Sha512,
        _ => Algorithm::Blake3,
    };
    Digest::of(alg, &[u8::try_from(i).expect("small")])
}
const DIGESTS: usize = 6;
const TAGS: usize = REPOS.len() * TAG_NAMES.len();

#[derive(Debug, Clone)]
enum Op {
    Ingest(usize, Vec<(usize, usize, i64)>),
    CreateRepo(usize, usize, i64),
    UpdateRepo(usize, usize, i64, bool),
    CreateTag(usize, usize, usize),
    UpdateTag(usize, usize, usize),
    DeleteTag(usize, usize),
    Advance(i64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let obs = (0..TAGS, 0..DIGESTS, 0i64..40);
    prop_oneof![
        6 => (0..2usize, prop::collection::vec(obs, 1..6)).prop_map(|(a, v)| Op::Ingest(a, v)),
        1 => (0..2usize, 0..REPOS.len(), 0i64..40).prop_map(|(a, r, t)| Op::CreateRepo(a, r, t)),
        1 => (0..2usize, 0..REPOS.len(), 0i64..40, any::<bool>()).prop_map(|(a, r, t, p)| Op::UpdateRepo(a, r, t, p)),
        2 => (0..2usize, 0..TAGS, 0..DIGESTS).prop_map(|(a, t, d)| Op::CreateTag(a, t, d)),
        2 => (0..2usize, 0..TAGS, 0..DIGESTS).prop_map(|(a, t, d)| Op::UpdateTag(a, t, d)),
        1 => (0..2usize, 0..TAGS).prop_map(|(a, t)| Op::DeleteTag(a, t)),
        2 => (0i64..6).prop_map(Op::Advance),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct Audit {
    created_by: String,
    created_on: Timestamp,
    last_modified_by: String,
    last_modified_on: Timestamp,
}

impl Audit {
    fn new(actor: &str, now: Timestamp) -> Self {
        Self {
            created_by: actor.into(),
            created_on: now,
            last_modified_by: actor.into(),
            last_modified_on: now,
        }
    }
    fn touch(&mut self, actor: &str, now: Timestamp) {
        self.last_modified_by = actor.into();
        self.last_modified_on = now;
    }
}

#[derive(Debug, Clone)]
struct MRepo {
    last_scanned: Timestamp,
    packages: Option<Vec<String>>,
    audit: Audit,
}

#[derive(Debug, Clone)]
struct MTag {
    audit: Audit,
    log: BTreeSet<(Timestamp, Option<Digest>)>,
}

impl MTag {
    fn current(&self) -> Option<Digest> {
        self.log.last().and_then(|e| e.1)
    }
    fn intervals(&self) -> Vec<(Digest, Interval)> {
        coalesce(self.log.iter().copied())
    }
}

#[derive(Debug, Clone)]
struct MRef {
    audit: Audit,
    first_observed: Timestamp,
}

#[derive(Debug, Clone, Default)]
struct Model {
    repos: BTreeMap<RepositoryId, MRepo>,
    tags: BTreeMap<TagId, MTag>,
    refs: BTreeMap<(TagId, Digest), MRef>,
}

impl Model {
    /// Adds writes to a tag's log, creating references; returns whether
    /// the current digest changed. Mirrors `Writer::apply`.
    fn apply(
        &mut self,
        id: &TagId,
        writes: &[(Timestamp, Option<Digest>)],
        actor: &str,
        now: Timestamp,
    ) {
        let t = self.tags.get_mut(id).expect("ensured");
        let before = t.current();
        for &(at, d) in writes {
            if t.log.insert((at, d))
                && let Some(d) = d
            {
                {
                    self.refs
                        .entry((id.clone(), d))
                        .and_modify(|r| r.first_observed = r.first_observed.min(at))
                        .or_insert_with(|| MRef {
                            audit: Audit::new(actor, now),
                            first_observed: at,
                        });
                }
            }
        }
        if t.current() != before {
            t.audit.touch(actor, now);
        }
    }

    fn ensure_tag(&mut self, id: &TagId, actor: &str, now: Timestamp) {
        self.tags.entry(id.clone()).or_insert_with(|| MTag {
            audit: Audit::new(actor, now),
            log: BTreeSet::new(),
        });
    }

    fn live(&self, id: &TagId) -> bool {
        self.tags.get(id).is_some_and(|t| t.current().is_some())
    }

    fn ingest(&mut self, actor: &str, now: Timestamp, batch: &[Observation]) {
        let mut scanned: BTreeMap<RepositoryId, Timestamp> = BTreeMap::new();
        for o in batch {
            let e = scanned
                .entry(o.tag.repository().clone())
                .or_insert(o.observed_at);
            *e = (*e).max(o.observed_at);
        }
        for (r, t) in scanned {
            match self.repos.get_mut(&r) {
                Some(m) if t > m.last_scanned => {
                    m.last_scanned = t;
                    m.audit.touch(actor, now);
                }
                Some(_) => {}
                None => {
                    self.repos.insert(
                        r,
                        MRepo {
                            last_scanned: t,
                            packages: None,
                            audit: Audit::new(actor, now),
                        },
                    );
                }
            }
        }
        let mut by_tag: BTreeMap<TagId, Vec<(Timestamp, Option<Digest>)>> = BTreeMap::new();
        for o in batch {
            by_tag
                .entry(o.tag.clone())
                .or_default()
                .push((o.observed_at, Some(o.digest)));
        }
        for (id, writes) in by_tag {
            self.ensure_tag(&id, actor, now);
            self.apply(&id, &writes, actor, now);
        }
    }
}

/// What the ledger must answer for `op`, applied to the model: Ok, or the
/// error kind, in which case the model is left unchanged.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    NotFound,
    Conflict,
    Invalid,
}

fn outcome<T>(r: &Result<T, Error>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(Error::NotFound { .. }) => Outcome::NotFound,
        Err(Error::Conflict { .. }) => Outcome::Conflict,
        Err(Error::Invalid { .. }) => Outcome::Invalid,
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn model_step(m: &mut Model, op: &Op, now: Timestamp) -> Outcome {
    match op {
        Op::Ingest(a, obs) => {
            let batch: Vec<Observation> = obs
                .iter()
                .map(|&(t, d, s)| Observation::new(tag(t), digest(d), at(s)))
                .collect();
            m.ingest(ACTORS[*a], now, &batch);
            Outcome::Ok
        }
        Op::CreateRepo(a, r, t) => {
            if m.repos.contains_key(&repo(*r)) {
                return Outcome::Conflict;
            }
            m.repos.insert(
                repo(*r),
                MRepo {
                    last_scanned: at(*t),
                    packages: None,
                    audit: Audit::new(ACTORS[*a], now),
                },
            );
            Outcome::Ok
        }
        Op::UpdateRepo(a, r, t, p) => {
            let Some(rec) = m.repos.get_mut(&repo(*r)) else {
                return Outcome::NotFound;
            };
            rec.last_scanned = at(*t);
            rec.packages = p.then(|| vec![format!("pkg-{t}")]);
            rec.audit.touch(ACTORS[*a], now);
            Outcome::Ok
        }
        Op::CreateTag(a, t, d) => {
            let id = tag(*t);
            if !m.repos.contains_key(id.repository()) {
                return Outcome::NotFound;
            }
            if m.live(&id) {
                return Outcome::Conflict;
            }
            let mut next = m.clone();
            next.ensure_tag(&id, ACTORS[*a], now);
            next.tags.get_mut(&id).expect("ensured").audit = Audit::new(ACTORS[*a], now);
            next.apply(&id, &[(now, Some(digest(*d)))], ACTORS[*a], now);
            if next.tags[&id].current() != Some(digest(*d)) {
                return Outcome::Invalid;
            }
            *m = next;
            Outcome::Ok
        }
        Op::UpdateTag(a, t, d) => {
            let id = tag(*t);
            if !m.live(&id) {
                return Outcome::NotFound;
            }
            let mut next = m.clone();
            next.apply(&id, &[(now, Some(digest(*d)))], ACTORS[*a], now);
            if next.tags[&id].current() != Some(digest(*d)) {
                return Outcome::Invalid;
            }
            next.tags
                .get_mut(&id)
                .expect("live")
                .audit
                .touch(ACTORS[*a], now);
            *m = next;
            Outcome::Ok
        }
        Op::DeleteTag(a, t) => {
            let id = tag(*t);
            if !m.live(&id) {
                return Outcome::NotFound;
            }
            let mut next = m.clone();
            next.apply(&id, &[(now, None)], ACTORS[*a], now);
            if next.tags[&id].current().is_some() {
                return Outcome::Invalid;
            }
            *m = next;
            Outcome::Ok
        }
        Op::Advance(_) | Op::Reopen => Outcome::Ok,
    }
}

fn ledger_step(l: &Ledger, op: &Op) -> Outcome {
    match op {
        Op::Ingest(a, obs) => {
            let batch: Vec<Observation> = obs
                .iter()
                .map(|&(t, d, s)| Observation::new(tag(t), digest(d), at(s)))
                .collect();
            outcome(&l.ingest(ACTORS[*a], &batch))
        }
        Op::CreateRepo(a, r, t) => {
            outcome(&l.create_repository(ACTORS[*a], &RepositoryBody::new(&repo(*r), at(*t))))
        }
        Op::UpdateRepo(a, r, t, p) => {
            let mut body = RepositoryBody::new(&repo(*r), at(*t));
            body.packages = p.then(|| vec![format!("pkg-{t}")]);
            outcome(&l.update_repository(ACTORS[*a], &repo(*r), &body))
        }
        Op::CreateTag(a, t, d) => {
            outcome(&l.create_tag(ACTORS[*a], &TagBody::new(&tag(*t), digest(*d))))
        }
        Op::UpdateTag(a, t, d) => {
            outcome(&l.update_tag(ACTORS[*a], &tag(*t), &TagBody::new(&tag(*t), digest(*d))))
        }
        Op::DeleteTag(a, t) => outcome(&l.delete_tag(ACTORS[*a], &tag(*t))),
        Op::Advance(_) | Op::Reopen => Outcome::Ok,
    }
}

fn expected_matches(m: &Model, d: &Digest) -> Vec<TagMatch> {
    let mut out: Vec<TagMatch> = m
        .tags
        .iter()
        .flat_map(|(id, t)| {
            t.intervals()
                .into_iter()
                .filter(|(x, _)| x == d)
                .map(|(_, iv)| TagMatch {
                    tag: Arc::new(id.clone()),
                    current: iv.is_current(),
                    since: iv.since,
                    until: iv.until,
                })
        })
        .collect();
    out.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(b.since.cmp(&a.since))
            .then(a.tag.cmp(&b.tag))
    });
    out
}

fn check(l: &Ledger, m: &Model) {
    let snap = l.snapshot().expect("snapshot");
    for d in (0..DIGESTS).map(digest) {
        assert_eq!(
            snap.tags_for_digest(&d).expect("lookup"),
            expected_matches(m, &d),
            "tags_for_digest({d})"
        );
    }
    for id in (0..TAGS).map(tag) {
        let Some(mt) = m.tags.get(&id) else {
            assert!(matches!(l.get_tag(&id), Err(Error::NotFound { .. })));
            assert!(matches!(
                l.history(&id, None, 10),
                Err(Error::NotFound { .. })
            ));
            continue;
        };
        match (l.get_tag(&id), mt.current()) {
            (Ok(rec), Some(cur)) => {
                assert_eq!(rec.artifact, cur, "{id} artifact");
                assert_eq!(
                    (
                        rec.created_by.as_str(),
                        rec.created_on,
                        rec.last_modified_by.as_str(),
                        rec.last_modified_on
                    ),
                    (
                        mt.audit.created_by.as_str(),
                        mt.audit.created_on,
                        mt.audit.last_modified_by.as_str(),
                        mt.audit.last_modified_on
                    ),
                    "{id} audit"
                );
            }
            (Err(Error::NotFound { .. }), None) => {}
            (got, want) => panic!("get_tag({id}) = {got:?}, model current {want:?}"),
        }
        let intervals = mt.intervals();
        let history: Vec<HistoryEntry> = intervals
            .iter()
            .rev()
            .map(|(d, iv)| HistoryEntry {
                artifact: *d,
                current: iv.is_current(),
                since: iv.since,
                until: iv.until,
            })
            .collect();
        assert_eq!(
            l.history(&id, None, 1000).expect("history").items,
            history,
            "history({id})"
        );
        for s in (-1..42).step_by(3) {
            let t = at(s);
            let want = mt
                .log
                .range(..=(t, Some(digest_max())))
                .next_back()
                .and_then(|e| e.1)
                .and_then(|d| {
                    intervals
                        .iter()
                        .rev()
                        .find(|(x, iv)| *x == d && iv.contains(t))
                        .map(|(x, iv)| HistoryEntry {
                            artifact: *x,
                            current: iv.is_current(),
                            since: iv.since,
                            until: iv.until,
                        })
                });
            assert_eq!(l.tag_at(&id, t).expect("tag_at"), want, "tag_at({id}, {t})");
        }
        let mut refs: Vec<(&Digest, &MRef)> = m
            .refs
            .iter()
            .filter(|((t, _), _)| t == &id)
            .map(|((_, d), r)| (d, r))
            .collect();
        refs.sort_by(|a, b| (b.1.first_observed, b.0).cmp(&(a.1.first_observed, a.0)));
        let got = l.references(&id, None, 1000).expect("references").items;
        let got: Vec<(Digest, String, Timestamp)> = got
            .into_iter()
            .map(|r| (r.artifact, r.created_by, r.created_on))
            .collect();
        let want: Vec<(Digest, String, Timestamp)> = refs
            .iter()
            .map(|(d, r)| (**d, r.audit.created_by.clone(), r.audit.created_on))
            .collect();
        assert_eq!(got, want, "references({id})");
    }
    for (id, mr) in &m.repos {
        let rec = l.get_repository(id).expect("repository exists");
        assert_eq!(rec.last_scanned_on, mr.last_scanned, "{id} last_scanned_on");
        assert_eq!(rec.packages, mr.packages, "{id} packages");
        assert_eq!(
            (
                rec.created_by.as_str(),
                rec.created_on,
                rec.last_modified_by.as_str(),
                rec.last_modified_on
            ),
            (
                mr.audit.created_by.as_str(),
                mr.audit.created_on,
                mr.audit.last_modified_by.as_str(),
                mr.audit.last_modified_on
            ),
            "{id} audit"
        );
    }
    let counts = snap.counts().expect("counts");
    assert_eq!(counts.repositories, m.repos.len() as u64);
    assert_eq!(counts.tags, m.tags.len() as u64);
    assert_eq!(counts.references, m.refs.len() as u64);
    assert_eq!(
        counts.observations,
        m.tags.values().map(|t| t.log.len() as u64).sum::<u64>()
    );
    assert_eq!(
        counts.intervals,
        m.tags
            .values()
            .map(|t| t.intervals().len() as u64)
            .sum::<u64>()
    );
}

/// Greater than any digest, for "the last entry at or before t".
fn digest_max() -> Digest {
    Digest::from_raw(Algorithm::Sha512, &[0xff; 64]).expect("64 bytes")
}

fn run(ops: &[Op], on_disk: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.redb");
    let clock = Arc::new(FixedClock::at(at(20)));
    let open = |create: bool| {
        let l = if !on_disk {
            Ledger::in_memory()
        } else if create {
            Ledger::create(&path)
        } else {
            Ledger::open(&path)
        };
        l.expect("open").with_clock(clock.clone())
    };
    let mut ledger = open(true);
    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Advance(s) => clock.advance(Duration::seconds(*s)),
            Op::Reopen if on_disk => {
                drop(ledger);
                ledger = open(false);
            }
            _ => {}
        }
        let now = ociledger::model::Clock::now(&*clock);
        let want = model_step(&mut model, op, now);
        let got = ledger_step(&ledger, op);
        assert_eq!(got, want, "step {i}: {op:?}");
        check(&ledger, &model);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn ledger_matches_model_in_memory(ops in prop::collection::vec(op(), 1..30)) {
        run(&ops, false);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn ledger_matches_model_across_reopen(ops in prop::collection::vec(op(), 1..30)) {
        run(&ops, true);
    }
}
