//! The real histories in `../shared/data/`, imported in a shuffled order, must
//! answer every event's `tag_at` and `tags_for_digest` exactly as an
//! independent computation over the raw lines does.
//!
//! Guards against answers that depend on arrival order, against normalization
//! splitting one repository in two (`python` vs `docker.io/library/python`),
//! and against the digest index missing a reference the log holds.
//!
//! When the shared data is absent the test is skipped with a message on
//! stderr, except under `CI=true`, where it fails: CI must not pass without
//! having run it.
//!
//! Sizing: `OCILEDGER_PROPTEST_CASES=N` (the knob of `tests/ledger_model.rs`:
//! a count, or `full` for 2000; unset, 256) imports and checks the tags whose
//! name hashes into N of 2000 buckets: about 13 % of them by default (about
//! 4 s in a debug build), every tag at `full` or 2000 and above, as `.ci/run`
//! runs it (about 30 s). A tag is always taken whole, so every check stays
//! exact.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use ociledger::Ledger;
use ociledger::id::{Digest, TagId};
use ociledger::model::{Observation, Timestamp};

/// The `OCILEDGER_PROPTEST_CASES` value at which every tag is checked.
const FULL: u64 = 2000;

/// `OCILEDGER_PROPTEST_CASES`: a count, or `full` for [`FULL`]; unset or
/// empty, 256.
fn cases() -> u64 {
    match std::env::var("OCILEDGER_PROPTEST_CASES")
        .as_deref()
        .map(str::trim)
    {
        Ok("full") => FULL,
        Ok(v) if !v.is_empty() => v.parse().unwrap_or_else(|_| {
            panic!("OCILEDGER_PROPTEST_CASES={v:?} is neither a number nor `full`")
        }),
        _ => 256,
    }
}

/// Whether `tag` is in the sample: FNV-1a of its canonical name, so the
/// sample is the same on every run and every machine.
fn sampled(tag: &TagId, cases: u64) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % FULL < cases
}

fn data_file(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name);
    p.exists().then_some(p)
}

fn read(path: &PathBuf) -> Vec<Observation> {
    let file = std::fs::File::open(path).expect("open data file");
    BufReader::new(MultiGzDecoder::new(file))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("read line")).expect("every shipped line is valid"))
        .collect()
}

/// A deterministic shuffle (xorshift), so a failure reproduces.
fn shuffle<T>(v: &mut [T]) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = usize::try_from(x % (i as u64 + 1)).expect("fits");
        v.swap(i, j);
    }
}

/// Guards against answers that depend on arrival order, normalization
/// splitting one repository in two, and the digest index missing a reference.
#[test]
fn shuffled_real_history_answers_every_event_like_an_independent_replay() {
    let (Some(events), Some(pinned)) = (
        data_file("tag-events.jsonl.gz"),
        data_file("pinned-tag-history.jsonl.gz"),
    ) else {
        let why = "../shared/data (tag-events.jsonl.gz, pinned-tag-history.jsonl.gz) is absent";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why}, and CI=true: the real-data test must run in CI"
        );
        eprintln!("skipped: {why}");
        return;
    };
    let cases = cases();
    let mut all = read(&events);
    all.extend(read(&pinned));
    let total = all.len();
    all.retain(|o| sampled(&o.tag, cases));

    // Independent replay: per tag, instant → digests seen then.
    let mut truth: HashMap<TagId, BTreeMap<Timestamp, BTreeSet<Digest>>> = HashMap::new();
    for o in &all {
        truth
            .entry(o.tag.clone())
            .or_default()
            .entry(o.observed_at)
            .or_default()
            .insert(o.digest);
    }
    // At an instant with several digests, the greatest wins (documented rule).
    let digest_at = |tag: &TagId, t: Timestamp| -> Option<Digest> {
        truth[tag]
            .range(..=t)
            .next_back()
            .and_then(|(_, ds)| ds.last().copied())
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::create(dir.path().join("real.redb")).expect("create");
    let mut shuffled = all.clone();
    shuffle(&mut shuffled);
    // 10,000 observations a batch at full size, proportionally fewer in a
    // sample, so a sample spreads over as many transactions.
    let batch = usize::try_from(10_000 * cases.min(FULL) / FULL).expect("small");
    for batch in shuffled.chunks(batch.max(500)) {
        ledger.ingest("test", batch).expect("ingest");
    }

    let snap = ledger.snapshot().expect("snapshot");
    for o in &all {
        let got = ledger
            .tag_at(&o.tag, o.observed_at)
            .expect("tag_at")
            .map(|e| e.artifact);
        assert_eq!(
            got,
            digest_at(&o.tag, o.observed_at),
            "tag_at({}, {})",
            o.tag,
            o.observed_at
        );
    }

    let mut by_digest: HashMap<Digest, BTreeSet<&TagId>> = HashMap::new();
    for o in &all {
        by_digest.entry(o.digest).or_default().insert(&o.tag);
    }
    for (d, tags) in &by_digest {
        let matches = snap.tags_for_digest(d).expect("lookup");
        let found: BTreeSet<&TagId> = matches.iter().map(|m| &*m.tag).collect();
        assert_eq!(&found, tags, "tags_for_digest({d})");
        for tag in tags {
            // Current once (its open interval) exactly when the tag points there now;
            // an A -> B -> A tag also has an earlier, closed interval for A.
            let current = matches
                .iter()
                .filter(|m| *m.tag == **tag && m.current)
                .count();
            let now = digest_at(tag, Timestamp::MAX_UTC);
            assert_eq!(
                current,
                usize::from(now == Some(*d)),
                "current intervals of {tag} for {d}"
            );
        }
        for m in &matches {
            // Every interval's start is an instant the tag was seen at this digest.
            assert!(
                truth[&m.tag][&m.since].contains(d),
                "{} since {} not an observation of {d}",
                m.tag,
                m.since
            );
        }
    }
    eprintln!(
        "checked {} of {total} events and {} digests (OCILEDGER_PROPTEST_CASES={cases}, full at {FULL})",
        all.len(),
        by_digest.len()
    );
}
