//! The workloads the tests run, the probes their answers are compared on,
//! and the answers of a clean run after each step.

use std::sync::Arc;

use ociledger::id::{Digest, RepositoryId, TagId};
use ociledger::model::{FixedClock, ManifestRelation, Observation, RepositoryBody, TagBody};
use ociledger::{Error, Ledger};

use super::disk::FaultyDisk;
use crate::common::rng::Rng;
use crate::common::sample::{sample_observations, sample_relations};

/// Power-loss workloads: each is a different slice of the sample, so their
/// fault points together pass the 1,000 cases.
const WORKLOADS: usize = 5;
/// Observations per ingested batch.
const BATCH: usize = 40;
/// The workload that compacts its ledger midway (after its fourth batch):
/// not workload 0, which the disk-full tests run step by step with a
/// snapshot open (which `compact` refuses).
pub const COMPACTING_WORKLOAD: usize = 1;

pub enum Step {
    Ingest(Vec<Observation>),
    Relations(Vec<ManifestRelation>),
    CreateRepository(RepositoryBody),
    CreateTag(TagBody),
    UpdateTag(TagId, TagBody),
    /// `Ledger::compact`: pages moved down, the large tables rewritten in
    /// key order in one write transaction, pages moved down again. The
    /// answers must not change.
    Compact,
}

impl Step {
    /// Runs step `i` (1-based) at its own time, so the API move of a tag
    /// comes after its creation whatever ran before.
    pub fn run(&self, i: usize, (ledger, clock): &Opened) -> Result<(), Error> {
        clock.set(t0() + chrono::Duration::hours(i64::try_from(i).expect("few steps")));
        match self {
            Step::Ingest(batch) => ledger.ingest("scanner", batch).map(drop),
            Step::Relations(r) => ledger.record_relations("scanner", r).map(drop),
            Step::CreateRepository(body) => ledger.create_repository("alice", body).map(drop),
            Step::CreateTag(body) => ledger.create_tag("alice", body).map(drop),
            Step::UpdateTag(id, body) => ledger.update_tag("alice", id, body).map(drop),
            Step::Compact => ledger.compact().map(drop),
        }
    }
}

/// What the answers are compared on.
pub struct Probes {
    digests: Vec<Digest>,
    tags: Vec<TagId>,
    manifests: Vec<Digest>,
    repository: RepositoryId,
}

/// Step 0 is opening (creating) the ledger; `steps[i]` is step `i + 1`.
/// `expected[j]` is the answers after the first `j` steps.
pub struct Workload {
    pub steps: Vec<Step>,
    pub probes: Probes,
    pub expected: Vec<String>,
}

fn t0() -> ociledger::model::Timestamp {
    "2025-01-01T00:00:00Z".parse().expect("a timestamp")
}

/// A ledger and the clock that stamps its writes.
pub type Opened = (Ledger, Arc<FixedClock>);

pub fn with_clock(ledger: Ledger) -> Opened {
    let clock = Arc::new(FixedClock::at(t0()));
    (ledger.with_clock(clock.clone()), clock)
}

pub fn open(disk: FaultyDisk) -> Result<Opened, Error> {
    Ok(with_clock(Ledger::create_with_backend(disk)?))
}

/// Workload `w`: six batches of the sample (a different slice per `w`,
/// shuffled so history arrives out of order), two sets of relations, a
/// repository and a tag created and moved through the API.
fn workload(w: usize, events: &[Observation], manifests: &[ManifestRelation]) -> Workload {
    let start = w * 6 * BATCH;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (w as u64 + 1));
    let mut batches: Vec<Vec<Observation>> = (0..6)
        .map(|b| events[start + b * BATCH..start + (b + 1) * BATCH].to_vec())
        .collect();
    for batch in &mut batches {
        for i in (1..batch.len()).rev() {
            batch.swap(i, rng.below(i + 1));
        }
    }
    let seen: std::collections::HashSet<Digest> =
        batches.iter().flatten().map(|o| o.digest).collect();
    // Relations of indexes this workload tags first (so lookups of their
    // platform manifests answer through them), then any others.
    let mut relations: Vec<&ManifestRelation> = manifests
        .iter()
        .filter(|r| matches!(r, ManifestRelation::Index(i) if seen.contains(&i.index)))
        .take(6)
        .collect();
    relations.extend(manifests.iter().skip(w * 4).take(4));
    let mut children = Vec::new();
    for r in &relations {
        if let ManifestRelation::Index(i) = r {
            children.extend(i.manifests.iter().take(2).map(|m| m.digest));
        }
    }
    let repository: RepositoryId = format!("example.com/crash/app{w}")
        .parse()
        .expect("a repository ID");
    let api_tag: TagId = format!("{repository}:stable").parse().expect("a tag ID");
    let api_digests = [batches[0][0].digest, batches[1][0].digest];

    let mut probes = Probes {
        digests: batches
            .iter()
            .flat_map(|b| [b[0].digest, b[7].digest, b[BATCH - 1].digest])
            .collect(),
        tags: batches
            .iter()
            .flat_map(|b| [b[1].tag.clone(), b[BATCH / 2].tag.clone()])
            .collect(),
        manifests: children.clone(),
        repository: repository.clone(),
    };
    probes.digests.extend(children);
    probes.tags.push(api_tag.clone());

    let (half_a, half_b) = relations.split_at(relations.len() / 2);
    let mut batches = batches.into_iter();
    let mut next = || Step::Ingest(batches.next().expect("six batches"));
    let mut steps = vec![
        next(),
        next(),
        Step::Relations(half_a.iter().map(|r| (*r).clone()).collect()),
        next(),
        Step::CreateRepository(RepositoryBody::new(
            &repository,
            "2024-06-01T00:00:00Z".parse().expect("a timestamp"),
        )),
        Step::CreateTag(TagBody::new(&api_tag, api_digests[0])),
        next(),
        Step::UpdateTag(api_tag.clone(), TagBody::new(&api_tag, api_digests[1])),
        Step::Relations(half_b.iter().map(|r| (*r).clone()).collect()),
        next(),
        next(),
    ];
    if w == COMPACTING_WORKLOAD {
        // After four batches, relations and API writes (every large table
        // has rows), with writes after it.
        steps.insert(7, Step::Compact);
    }
    let mut workload = Workload {
        steps,
        probes,
        expected: Vec::new(),
    };
    // The answers of a clean run, in memory, after each step.
    let clean = with_clock(Ledger::in_memory().expect("in memory"));
    workload
        .expected
        .push(answers(&clean, &workload.probes).expect("answers"));
    workload
        .expected
        .push(answers(&clean, &workload.probes).expect("answers"));
    for (i, step) in workload.steps.iter().enumerate() {
        step.run(i + 1, &clean).expect("a clean run");
        workload
            .expected
            .push(answers(&clean, &workload.probes).expect("answers"));
    }
    for (i, pair) in workload.expected[1..].windows(2).enumerate() {
        if !matches!(workload.steps[i], Step::Compact) {
            assert_ne!(
                pair[0], pair[1],
                "every step but compaction must change the answers"
            );
        }
    }
    workload
}

/// Everything the probes answer, from one snapshot, as one string.
pub fn answers((ledger, _): &Opened, p: &Probes) -> Result<String, Error> {
    snapshot_answers(&ledger.snapshot()?, p)
}

/// [`answers`] from snapshot `s`.
pub fn snapshot_answers(s: &ociledger::Snapshot, p: &Probes) -> Result<String, Error> {
    fn absent<T: serde::Serialize>(r: Result<T, Error>) -> Result<serde_json::Value, Error> {
        match r {
            Ok(v) => Ok(serde_json::to_value(v).expect("serializable")),
            Err(Error::NotFound { .. }) => Ok(serde_json::Value::Null),
            Err(e) => Err(e),
        }
    }
    let mut out = vec![serde_json::to_value(s.counts()?).expect("counts")];
    for d in &p.digests {
        out.push(serde_json::to_value(s.tags_for_digest(d)?).expect("matches"));
    }
    for t in &p.tags {
        out.push(absent(s.history(t, None, 100).map(|page| page.items))?);
        out.push(absent(s.tag(t))?);
    }
    for m in &p.manifests {
        out.push(serde_json::to_value(s.indexes_listing(m)?).expect("indexes"));
        out.push(serde_json::to_value(s.config_of(m)?).expect("config"));
    }
    out.push(absent(s.repository(&p.repository))?);
    Ok(serde_json::Value::Array(out).to_string())
}

pub fn load() -> Vec<Workload> {
    let events = sample_observations();
    let manifests = sample_relations();
    (0..WORKLOADS)
        .map(|w| workload(w, &events, &manifests))
        .collect()
}

/// Which `expected` state `got` is, if any.
pub fn state_of(w: &Workload, got: &str) -> Option<usize> {
    // Index 0 and 1 are the same answers (nothing); report 1 (created).
    (1..w.expected.len()).find(|&j| w.expected[j] == got)
}

/// Runs the steps after state `from` on `ledger`, which must all succeed
/// and end with the clean run's answers.
pub fn finish(w: &Workload, ledger: &Opened, from: usize, what: &str) {
    for (i, step) in w.steps.iter().enumerate().skip(from.saturating_sub(1)) {
        step.run(i + 1, ledger)
            .unwrap_or_else(|e| panic!("{what}: step {} after recovery: {e}", i + 1));
    }
    let got = answers(ledger, &w.probes).unwrap_or_else(|e| panic!("{what}: answers: {e}"));
    assert!(
        got == w.expected[w.steps.len() + 1],
        "{what}: the workload finished after recovery does not give the clean run's answers"
    );
}
