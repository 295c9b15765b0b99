//! `compact` gives back the space that random-order inserts leave inside
//! pages, not only the free pages, and changes no answer.

use crate::common;

use common::rng::Rng;
use ociledger::Ledger;
use ociledger::id::{Algorithm, Digest};
use ociledger::model::{Observation, Timestamp};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_timestamp(1_600_000_000 + seconds, 0).expect("in range")
}

/// Guards the rewrite in key order that `compact` does after redb's page
/// compaction: without it, a file filled in random order (digests are
/// random) keeps its half-empty pages, and `compact` left about 200 bytes
/// per reference at 10M where a rewrite in key order (`backup`) takes 151.
/// The compacted file must be about the size of the key-order copy, and
/// every answer, count and check the same as before.
#[test]
fn compact_fills_pages_that_random_order_inserts_left_half_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tags.redb");
    let ledger = Ledger::create(&path).expect("create");
    let mut rng = Rng(0x5eed_c0de_1234_5678);
    let digests: Vec<Digest> = (0..6000u32)
        .map(|i| Digest::of(Algorithm::Sha256, &i.to_le_bytes()))
        .collect();
    let mut observations: Vec<Observation> = (0..12_000i64)
        .map(|i| {
            let tag = format!("registry.example/team{}/app{}:v{}", i % 37, i % 101, i % 29)
                .parse()
                .expect("tag");
            Observation::new(tag, digests[rng.below(digests.len())], at(i))
        })
        .collect();
    rng.shuffle(&mut observations);
    for batch in observations.chunks(300) {
        ledger.ingest("scanner", batch).expect("ingest");
    }
    let answers = |l: &Ledger| {
        let snap = l.snapshot().expect("snapshot");
        let matches: Vec<_> = digests
            .iter()
            .map(|d| snap.tags_for_digest(d).expect("lookup"))
            .collect();
        (matches, snap.counts().expect("counts"))
    };
    let before = answers(&ledger);
    let key_order = dir.path().join("key-order.redb");
    ledger.backup(&key_order).expect("backup");
    let backup_bytes = std::fs::metadata(&key_order).expect("backup size").len();

    let c = ledger.compact().expect("compact");
    assert!(
        c.file_bytes_after * 100 <= backup_bytes * 110,
        "compacted to {} bytes, the key-order copy takes {backup_bytes}",
        c.file_bytes_after
    );
    assert_eq!(answers(&ledger), before, "compaction changed an answer");
    let report = ledger.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");

    // And again on a file that is already compact: nothing changes.
    let again = ledger.compact().expect("compact again");
    assert!(again.file_bytes_after <= c.file_bytes_after);
    drop(ledger);
    let reopened = Ledger::open(&path).expect("reopen");
    assert_eq!(
        answers(&reopened),
        before,
        "the compacted file answers differently"
    );
}
