//! The move log is stored in chunks of at most 16 entries (64 until
//! 2026-12-01). The limit is the writer's policy, not the format: guards
//! against a reader or `verify` that assumes it, so that a file an older
//! ociledger wrote with longer chunks still reads, verifies and answers as
//! before, and a write to such a tag splits its long chunk.

use crate::common;

use common::tables::TAG_LOG;
use ociledger::id::{Algorithm, Digest, TagId};
use ociledger::model::{Observation, Timestamp};
use ociledger::{HistoryEntry, Ledger};
use redb::{ReadableDatabase, ReadableTable};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_timestamp(1_600_000_000 + seconds, 0).expect("in range")
}

fn d(n: i64) -> Digest {
    Digest::of(Algorithm::Sha256, &n.to_le_bytes())
}

/// What a reader sees of the tag: its whole history, the digests' matches,
/// and the tag in force at a few instants.
fn answers(ledger: &Ledger, tag: &TagId) -> String {
    let history: Vec<HistoryEntry> = ledger.history(tag, None, 1000).expect("history").items;
    let matches: Vec<_> = (0..3)
        .map(|n| ledger.tags_for_digest(&d(n)).expect("lookup"))
        .collect();
    let at_times = [0, 17, 33, 59, 500].map(|s| ledger.tag_at(tag, at(s)).expect("tag_at"));
    format!("{history:?}\n{matches:?}\n{at_times:?}")
}

/// The tag's chunks: (first instant, entries).
fn chunks(path: &std::path::Path) -> Vec<(i64, usize)> {
    let db = redb::Database::open(path).expect("open raw");
    let txn = db.begin_read().expect("read");
    let table = txn.open_table(TAG_LOG).expect("tag_log");
    table
        .iter()
        .expect("iter")
        .map(|row| {
            let (k, v) = row.expect("row");
            (k.value().1, common::tables::log_entries(v.value()))
        })
        .collect()
}

#[test]
fn chunks_longer_than_the_limit_read_and_are_split_when_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tags.redb");
    let tag: TagId = "registry.example/app:latest".parse().expect("tag");
    let observations: Vec<Observation> = (0..60)
        .map(|i| Observation::new(tag.clone(), d(i % 3), at(i)))
        .collect();
    let ledger = Ledger::create(&path).expect("create");
    ledger.ingest("scanner", &observations).expect("ingest");
    let before = answers(&ledger, &tag);
    drop(ledger);
    let written = chunks(&path);
    assert!(
        written.len() >= 4,
        "60 entries in chunks of at most 16: {written:?}"
    );
    assert!(written.iter().all(|&(_, entries)| entries <= 16));

    // Merge them into one row, as the 64-entry limit wrote them.
    {
        let db = redb::Database::open(&path).expect("open raw");
        let txn = db.begin_write().expect("write");
        {
            let mut table = txn.open_table(TAG_LOG).expect("tag_log");
            let rows: Vec<((u32, i64), Vec<u8>)> = table
                .iter()
                .expect("iter")
                .map(|row| {
                    let (k, v) = row.expect("row");
                    (k.value(), v.value().to_vec())
                })
                .collect();
            for (key, _) in &rows {
                table.remove(*key).expect("remove");
            }
            // Each chunk's first gap is from its own key (0, one byte); in
            // the merged row it is from the entry before.
            let mut merged: Vec<u8> = Vec::new();
            let mut last: Option<i64> = None;
            for ((_, start), value) in &rows {
                assert_eq!(value[0], 0, "a first gap of zero");
                match last {
                    None => merged.extend_from_slice(value),
                    Some(previous) => {
                        let gap = u64::try_from(start - previous).expect("after");
                        merged.extend(common::tables::varint(gap));
                        merged.extend_from_slice(&value[1..]);
                    }
                }
                last = common::tables::log_instants(*start, value).last().copied();
            }
            table.insert(rows[0].0, merged.as_slice()).expect("insert");
        }
        txn.commit().expect("commit");
    }
    assert_eq!(chunks(&path), vec![(written[0].0, 60)]);

    let ledger = Ledger::open(&path).expect("open");
    let report = ledger.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(
        answers(&ledger, &tag),
        before,
        "one long chunk answers differently"
    );

    // A new entry lands in the long chunk: written back, it is split.
    ledger
        .ingest("scanner", &[Observation::new(tag.clone(), d(0), at(60))])
        .expect("ingest");
    let report = ledger.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    let history = ledger.history(&tag, None, 1000).expect("history").items;
    assert_eq!(history.len(), 61, "60 moves and the new one");
    drop(ledger);
    let rewritten = chunks(&path);
    assert!(
        rewritten.len() >= 4 && rewritten.iter().all(|&(_, entries)| entries <= 16),
        "{rewritten:?}"
    );
    assert_eq!(
        rewritten.iter().map(|&(_, entries)| entries).sum::<usize>(),
        61
    );
}

/// `classify` counts how many times a tag moved since a stale container's
/// digest was replaced by reading the log only from the chunk that holds
/// the entry before that instant. Guards against that partial read
/// starting at the wrong chunk (too late: moves missed or the digest in
/// force before them unknown) in a history of many chunks, with the instant
/// falling on chunk boundaries and inside chunks alike.
#[test]
fn moves_behind_counts_from_the_right_chunk_of_a_long_log() {
    const MOVES: i64 = 200;
    let ledger = Ledger::in_memory().expect("ledger");
    let tag: TagId = "registry.example/app:latest".parse().expect("tag");
    // A new digest each second: every entry is a move, and the container
    // running d(k) is behind by every entry after k.
    let observations: Vec<Observation> = (0..MOVES)
        .map(|i| Observation::new(tag.clone(), d(i), at(i)))
        .collect();
    ledger.ingest("scanner", &observations).expect("ingest");
    for k in 0..MOVES {
        let c = ledger
            .classify("registry.example/app:latest", Some(&d(k)))
            .expect("classify");
        // The digest in force is current: nothing behind.
        let behind = (k < MOVES - 1).then(|| u64::try_from(MOVES - 1 - k).expect("positive"));
        assert_eq!(c.moves_behind, behind, "d({k})");
    }
}

/// A write reads a tag's log back from its end only to the entries it can
/// change (the seam), and counts new references from the digest index, not
/// from the whole log. Guards against a write into the middle of a long
/// log that derives other intervals than the whole log does: an interval in
/// force at the seam that began chunks earlier (a run of one digest across
/// chunk boundaries) given the wrong start, a late entry before every chunk,
/// one at an instant already logged, or a digest the tag pointed to chunks
/// ago counted again as a new reference.
#[test]
fn late_writes_into_a_long_log_answer_as_the_whole_history_at_once() {
    let tag: TagId = "registry.example/app:latest".parse().expect("tag");
    let ms = |ms: i64| at(0) + chrono::Duration::milliseconds(ms);
    let ob = |digest: i64, t: Timestamp| Observation::new(tag.clone(), d(digest), t);
    // 80 seconds, five chunks: d(0), then d(1) for 40 entries (a run over
    // three chunks), then d(2) with one d(0) among it.
    let in_order: Vec<Observation> = (0..80)
        .map(|s| {
            let digest = match s {
                0..10 | 60 => 0,
                10..50 => 1,
                _ => 2,
            };
            ob(digest, at(s))
        })
        .collect();
    let late = [
        vec![ob(2, ms(45_500))], // inside the run of d(1) that began at 10 s
        vec![ob(0, ms(30_250)), ob(1, ms(70_000))], // a move back, and a repeat later
        vec![ob(2, ms(-5_000))], // before every chunk
        vec![ob(2, at(20))],     // an instant already logged, another digest
    ];

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tags.redb");
    let ledger = Ledger::create(&path).expect("create");
    let mut references = 0;
    for batch in in_order
        .chunks(7)
        .map(<[_]>::to_vec)
        .chain(late.iter().cloned())
    {
        references += ledger
            .ingest("scanner", &batch)
            .expect("ingest")
            .references_created;
    }

    let at_once = Ledger::in_memory().expect("ledger");
    let everything: Vec<Observation> = in_order
        .iter()
        .chain(late.iter().flatten())
        .cloned()
        .collect();
    let summary = at_once.ingest("scanner", &everything).expect("ingest");
    assert_eq!((references, summary.references_created), (3, 3));
    assert_eq!(answers(&ledger, &tag), answers(&at_once, &tag));
    assert!(ledger.verify().expect("verify").is_clean());
    drop(ledger);
    let written = chunks(&path);
    assert!(
        written.len() >= 5,
        "84 entries in chunks of at most 16: {written:?}"
    );
}

/// A scanner records every tag it lists on every scan, so a tag that
/// never moves gets an entry per scan, all of one digest: a run as long as
/// its log. Guards against a write that reads such a log back to the
/// run's start (the interval the write extends or ends began there), which
/// made each scan of a stable tag cost in proportion to the scans before
/// it: the run's start is in the digest index. The log's first chunk is
/// damaged here, so a write that read back to it would fail; `verify`
/// still finds it.
#[test]
fn a_write_to_a_tag_that_never_moved_reads_the_end_of_its_log_only() {
    let tag: TagId = "registry.example/app:stable".parse().expect("tag");
    let ob = |digest: i64, s: i64| Observation::new(tag.clone(), d(digest), at(s));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tags.redb");
    let ledger = Ledger::create(&path).expect("create");
    for scan in 0..100 {
        ledger.ingest("scanner", &[ob(0, scan)]).expect("scan");
    }
    drop(ledger);
    let written = chunks(&path);
    assert!(written.len() >= 6, "100 entries: {written:?}");
    {
        let db = redb::Database::open(&path).expect("open raw");
        let txn = db.begin_write().expect("write");
        {
            let mut table = txn.open_table(TAG_LOG).expect("tag_log");
            let (tag_number, first) = table
                .first()
                .expect("first")
                .map(|(k, _)| k.value())
                .expect("a chunk");
            table
                .insert((tag_number, first), [0xffu8; 7].as_slice())
                .expect("damage");
        }
        txn.commit().expect("commit");
    }

    let ledger = Ledger::open(&path).expect("open");
    ledger
        .ingest("scanner", &[ob(0, 100)])
        .expect("another scan, unchanged");
    ledger
        .ingest("scanner", &[ob(1, 102), ob(0, 101)])
        .expect("a move");
    ledger
        .ingest("scanner", &[ob(2, 50)])
        .expect("a late observation inside the run");
    let runs: Vec<_> = ledger
        .tags_for_digest(&d(0))
        .expect("lookup")
        .into_iter()
        .map(|m| (m.since, m.until))
        .collect();
    assert_eq!(
        runs,
        [(at(51), Some(at(102))), (at(0), Some(at(50)))],
        "the run from the first scan, cut by the late observation"
    );
    assert!(!ledger.verify().expect("verify").is_clean());
}
