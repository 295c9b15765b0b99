//! The property test's random programs: the small universe of tags,
//! digests and relations they draw from, the operations, and [`run`], which
//! plays one program on a ledger that keeps a copy and one that does not.
//! Apart from `main.rs` so that neither file passes the project's size limit.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::{
    ConfigRelation, FixedClock, IndexRelation, ManifestRelation, Observation, Platform,
    PlatformManifest, TagBody, TagMatch, Timestamp,
};
use ociledger::{Ledger, Snapshot};
use proptest::prelude::*;

use super::helpers::until_from_memory;

/// Random programs when `OCILEDGER_PROPTEST_CASES` is unset: `256 / 4`.
const DEFAULT_CASES: u32 = 256;

/// Random programs at `OCILEDGER_PROPTEST_CASES=full`: `2000 / 4`.
const FULL_CASES: u32 = 2000;

/// `OCILEDGER_PROPTEST_CASES` (a count, or `full`), divided by 4, rounded up.
pub fn cases() -> u32 {
    let n = match std::env::var("OCILEDGER_PROPTEST_CASES")
        .as_deref()
        .map(str::trim)
    {
        Ok("full") => FULL_CASES,
        Ok(v) if !v.is_empty() => v.parse().unwrap_or_else(|_| {
            panic!("OCILEDGER_PROPTEST_CASES={v:?} is neither a number nor `full`")
        }),
        _ => DEFAULT_CASES,
    };
    n.div_ceil(4)
}

const REPOS: [&str; 2] = ["nginx", "ghcr.io/acme/app"];
const TAG_NAMES: [&str; 2] = ["latest", "1"];
const TAGS: usize = REPOS.len() * TAG_NAMES.len();
/// Digests tags point to: `digest(0..DIGESTS)`.
const DIGESTS: usize = 6;
/// Digests relations name: the tagged ones and two only ever a platform
/// manifest or a config.
const RELATION_DIGESTS: usize = 8;
const PLATFORMS: usize = 2;
/// Where the clock starts, in seconds after [`epoch`]: among the
/// observations' instants (`0..40`), so some API writes land in the past.
const CLOCK_START: i64 = 20;

fn epoch() -> Timestamp {
    "2024-01-01T00:00:00Z".parse().expect("constant")
}

pub fn at(seconds: i64) -> Timestamp {
    epoch() + Span::seconds(seconds)
}

fn repo(i: usize) -> RepositoryId {
    REPOS[i].parse().expect("constant")
}

pub fn tag(i: usize) -> TagId {
    TagId::new(repo(i / TAG_NAMES.len()), TAG_NAMES[i % TAG_NAMES.len()]).expect("constant")
}

/// Digest `i` of the programs. The index is keyed by a digest's first 8
/// bytes, whatever its algorithm, so 0 and 1 (both SHA-256) share a row, and
/// so do 2 (SHA-512) and 3 (BLAKE3); 4 to 7 have rows of their own.
fn digest(i: usize) -> Digest {
    let alg = match i % 4 {
        0 | 1 => Algorithm::Sha256,
        2 => Algorithm::Sha512,
        _ => Algorithm::Blake3,
    };
    let prefix = if i < 4 { i / 2 } else { i };
    raw_digest(alg, u8::try_from(prefix).expect("small"), i)
}

/// A digest whose first 8 bytes are `0xc0, prefix, 0…` and whose later
/// bytes depend on `tail`.
fn raw_digest(alg: Algorithm, prefix: u8, tail: usize) -> Digest {
    let mut raw = vec![0u8; alg.digest_len()];
    raw[0] = 0xc0;
    raw[1] = prefix;
    for (j, b) in raw.iter_mut().enumerate().skip(8) {
        *b = u8::try_from((tail * 31 + j * 7) % 251).expect("below 251");
    }
    Digest::from_raw(alg, &raw).expect("the algorithm's length")
}

/// Every digest a program's check looks up: those the programs use, one in
/// the row of digests 0 and 1 but never written, and one in no row.
fn probes() -> Vec<Digest> {
    let mut v: Vec<Digest> = (0..RELATION_DIGESTS).map(digest).collect();
    v.push(raw_digest(Algorithm::Sha256, 0, 999));
    v.push(Digest::of(Algorithm::Sha256, b"never seen"));
    v
}

pub fn platform(i: usize) -> Platform {
    Platform {
        os: "linux".to_owned(),
        architecture: ["amd64", "arm64"][i % PLATFORMS].to_owned(),
        variant: None,
        os_version: None,
    }
}

/// The config manifest `m` usually has (never `m` itself), or an odd one
/// that may conflict with a recorded one, so the batch is refused.
fn config_of(m: usize, odd: Option<usize>) -> Digest {
    digest(odd.unwrap_or((m + 1 + m % 3) % RELATION_DIGESTS))
}

/// A platform manifest of an index: its digest, an odd platform (else the
/// usual one), and maybe a config (odd or usual).
pub type Child = (usize, Option<usize>, Option<Option<usize>>);

fn manifests(index: usize, children: &[Child]) -> Vec<PlatformManifest> {
    children
        .iter()
        .map(|&(c, odd_platform, config)| PlatformManifest {
            digest: digest(c),
            platform: platform(odd_platform.unwrap_or(index + c)),
            config: config.map(|odd| config_of(c, odd)),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub enum Rel {
    /// An index and its platform manifests.
    Index(usize, Vec<Child>),
    /// A manifest and its config (odd or usual).
    Config(usize, Option<usize>),
}

fn relation(r: &Rel) -> ManifestRelation {
    match r {
        Rel::Index(i, children) => ManifestRelation::Index(IndexRelation {
            index: digest(*i),
            manifests: manifests(*i, children),
            repository: None,
            first_seen: None,
        }),
        Rel::Config(m, odd) => ManifestRelation::Config(ConfigRelation {
            manifest: digest(*m),
            config: config_of(*m, *odd),
            repository: None,
            platform: None,
            source: None,
            first_seen: None,
        }),
    }
}

/// What an observation carries besides (tag, digest, instant).
#[derive(Debug, Clone)]
pub enum Extra {
    Plain,
    Config(Option<usize>),
    Manifests(Vec<Child>),
}

/// Tag, digest, second, extra.
pub type Obs = (usize, usize, i64, Extra);

fn observation(&(t, d, s, ref extra): &Obs) -> Observation {
    let mut o = Observation::new(tag(t), digest(d), at(s));
    match extra {
        Extra::Plain => {}
        Extra::Config(odd) => o.config = Some(config_of(d, *odd)),
        Extra::Manifests(children) => o.manifests = manifests(d, children),
    }
    o
}

#[derive(Debug, Clone)]
pub enum Op {
    /// A scanner's batch: tags moving among a few digests, back and forth.
    Ingest(Vec<Obs>),
    /// Relations alone: rows in `manifest_parents` and `manifest_configs`
    /// and digest-index flags, with no journal record.
    Relate(Vec<Rel>),
    /// `update_tag` to a digest, now.
    Move(usize, usize),
    /// `delete_tag`, now: the tag's current interval ends.
    Delete(usize),
    Advance(i64),
    Compact,
}

/// A step: the operation, and whether to wait for the background rebuild
/// before the copy is dropped and built again.
pub type Step = (Op, bool);

fn odd(n: usize) -> impl Strategy<Value = Option<usize>> {
    prop_oneof![8 => Just(None), 1 => (0..n).prop_map(Some)]
}

fn children(index: usize) -> impl Strategy<Value = Vec<Child>> {
    let child = (
        1..RELATION_DIGESTS,
        odd(PLATFORMS),
        prop::option::of(odd(RELATION_DIGESTS)),
    )
        .prop_map(move |(offset, p, c)| ((index + offset) % RELATION_DIGESTS, p, c));
    prop::collection::vec(child, 1..3)
}

fn rel() -> impl Strategy<Value = Rel> {
    prop_oneof![
        2 => (0..RELATION_DIGESTS)
            .prop_flat_map(|i| children(i).prop_map(move |c| Rel::Index(i, c))),
        1 => (0..RELATION_DIGESTS, odd(RELATION_DIGESTS)).prop_map(|(m, c)| Rel::Config(m, c)),
    ]
}

fn obs() -> impl Strategy<Value = Obs> {
    (0..TAGS, 0..DIGESTS, 0i64..40).prop_flat_map(|(t, d, s)| {
        prop_oneof![
            8 => Just(Extra::Plain),
            1 => odd(RELATION_DIGESTS).prop_map(Extra::Config),
            1 => children(d).prop_map(Extra::Manifests),
        ]
        .prop_map(move |e| (t, d, s, e))
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(obs(), 1..5).prop_map(Op::Ingest),
        3 => prop::collection::vec(rel(), 1..3).prop_map(Op::Relate),
        2 => (0..TAGS, 0..DIGESTS).prop_map(|(t, d)| Op::Move(t, d)),
        1 => (0..TAGS).prop_map(Op::Delete),
        2 => (0i64..30).prop_map(Op::Advance),
        1 => Just(Op::Compact),
    ]
}

pub fn program() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec((op(), any::<bool>()), 1..25)
}

/// What a write answered, in a form two ledgers' answers compare by.
fn outcome<T: std::fmt::Debug>(r: &ociledger::Result<T>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error: {e}"),
    }
}

fn apply(ledger: &Ledger, op: &Op) -> String {
    match op {
        Op::Ingest(obs) => {
            outcome(&ledger.ingest("scanner", &obs.iter().map(observation).collect::<Vec<_>>()))
        }
        Op::Relate(rels) => outcome(
            &ledger.record_relations("scanner", &rels.iter().map(relation).collect::<Vec<_>>()),
        ),
        Op::Move(t, d) => {
            outcome(&ledger.update_tag("alice", &tag(*t), &TagBody::new(&tag(*t), digest(*d))))
        }
        Op::Delete(t) => outcome(&ledger.delete_tag("alice", &tag(*t))),
        // No snapshot is open between steps, and a rebuild must not stop it.
        Op::Compact => outcome(&ledger.compact().map(|_| ())),
        Op::Advance(_) => String::new(),
    }
}

/// Every answer of `snap` that goes through the digest index: each probe's
/// matches, and its classification under one tag (which follows the same
/// lookups, `via` included).
fn answers(snap: &Snapshot, probes: &[Digest]) -> Vec<(Vec<TagMatch>, String)> {
    // One buffer for every probe: each answer must start from nothing.
    let mut buffer = snap.lookup();
    probes
        .iter()
        .map(|d| {
            let matches = snap.tags_for_digest(d).expect("tags_for_digest");
            // The buffered lookup shares the copy's path: the same answer.
            let buffered: Vec<TagMatch> = buffer
                .tags_for_digest(d)
                .expect("Lookup::tags_for_digest")
                .iter()
                .map(|m| m.to_owned_match())
                .collect();
            assert_eq!(buffered, matches, "Lookup::tags_for_digest({d})");
            let class = snap
                .classify(&tag(0).to_string(), Some(d))
                .expect("classify");
            (matches, format!("{class:?}"))
        })
        .collect()
}

/// Runs `program` on two ledgers given the same writes: `plain`, which never
/// keeps a copy, and `kept`, which does. After every step, `kept`'s answers
/// must be `plain`'s from every kind of snapshot: the first one after the
/// write (its copy is then of the step before, and it reads the rows the
/// step changed from the file), one that reads a copy
/// rebuilt in the background (when the step says to wait), one after
/// `release_index_memory` (the file), and one after `keep_index_in_memory`
/// (a copy built then).
pub fn run(program: &[Step]) {
    let clock = Arc::new(FixedClock::at(at(CLOCK_START)));
    let plain = Ledger::in_memory()
        .expect("ledger")
        .with_clock(clock.clone());
    let kept = Ledger::in_memory()
        .expect("ledger")
        .with_clock(clock.clone());
    kept.keep_index_in_memory().expect("keep an empty index");
    let probes = probes();
    for (i, (op, settle)) in program.iter().enumerate() {
        if let Op::Advance(s) = op {
            clock.advance(Span::seconds(*s));
        }
        let (want_outcome, got_outcome) = (apply(&plain, op), apply(&kept, op));
        assert_eq!(got_outcome, want_outcome, "step {i}: {op:?}");
        let want = answers(&plain.snapshot().expect("snapshot"), &probes);

        // The copy kept since the last step: of this commit only if the
        // step changed nothing; otherwise the snapshot must read the rows
        // the step changed from the file.
        let first = kept.snapshot().expect("snapshot");
        assert_eq!(
            answers(&first, &probes),
            want,
            "step {i}: {op:?}: the first snapshot after it (reading from memory: {})",
            first.reads_index_from_memory()
        );
        drop(first);
        if *settle {
            let what = format!("step {i}: {op:?}: waiting for the rebuilt copy");
            let ask = |snap: &Snapshot| answers(snap, &probes);
            until_from_memory(&kept, ask, &want, Duration::from_micros(200), &what);
        }

        kept.release_index_memory();
        assert_eq!(kept.index_memory(), None, "step {i}: released");
        let file = kept.snapshot().expect("snapshot");
        assert!(!file.reads_index_from_memory(), "step {i}: released");
        assert_eq!(answers(&file, &probes), want, "step {i}: {op:?}: the file");
        drop(file);

        kept.keep_index_in_memory()
            .expect("keep the index in memory");
        let copy = kept.snapshot().expect("snapshot");
        assert!(
            copy.reads_index_from_memory(),
            "step {i}: a copy built just now must be of the last commit"
        );
        assert_eq!(answers(&copy, &probes), want, "step {i}: {op:?}: the copy");
    }
}
