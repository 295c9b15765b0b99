//! The real histories in `../shared/data/`, imported in a shuffled order, must
//! answer every event's `tag_at` and `tags_for_digest` exactly as an
//! independent computation over the raw lines does.
//!
//! Guards against answers that depend on arrival order, against normalization
//! splitting one repository in two (`python` vs `docker.io/library/python`),
//! and against the digest index missing a reference the log holds.
//! Skipped, with a message, when the shared data is absent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use ociledger::Ledger;
use ociledger::id::{Digest, TagId};
use ociledger::model::{Observation, Timestamp};

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

#[test]
fn shuffled_real_history_answers_every_event_like_an_independent_replay() {
    let (Some(events), Some(pinned)) = (
        data_file("tag-events.jsonl.gz"),
        data_file("pinned-tag-history.jsonl.gz"),
    ) else {
        eprintln!("skipped: ../shared/data is absent");
        return;
    };
    let mut all = read(&events);
    all.extend(read(&pinned));

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
    for batch in shuffled.chunks(10_000) {
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
        "checked {} events and {} digests",
        all.len(),
        by_digest.len()
    );
}
