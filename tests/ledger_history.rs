//! Tag history through the `Ledger` API: intervals, digest lookups, time
//! travel, out-of-order and same-instant observations, deletion, stable
//! pagination, and classification.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use chrono::Duration;
use ociledger::id::{Algorithm, Digest, ReferenceId, TagId};
use ociledger::model::{FixedClock, Observation, TagBody, TagMatch, Timestamp};
use ociledger::{Error, HistoryEntry, Ledger, MatchKind};

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

/// Day `n` of 2024 at midnight UTC (n = 1 is January 1st).
fn day(n: i64) -> Timestamp {
    t("2024-01-01T00:00:00Z") + Duration::days(n - 1)
}

fn d(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

fn tag_id(s: &str) -> TagId {
    s.parse().expect("test tag id")
}

fn ledger() -> (Ledger, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(t("2025-01-01T00:00:00Z")));
    let ledger = Ledger::in_memory().unwrap().with_clock(clock.clone());
    (ledger, clock)
}

fn obs(tag: &str, digest: Digest, at: Timestamp) -> Observation {
    Observation::new(tag_id(tag), digest, at)
}

fn history(l: &Ledger, tag: &TagId) -> Vec<HistoryEntry> {
    let page = l.history(tag, None, 1000).unwrap();
    assert!(page.next.is_none());
    page.items
}

/// History as (digest, since, until) triples, newest first.
fn spans(l: &Ledger, tag: &TagId) -> Vec<(Digest, Timestamp, Option<Timestamp>)> {
    history(l, tag)
        .into_iter()
        .map(|e| {
            assert_eq!(e.current, e.until.is_none(), "current iff open: {e:?}");
            (e.artifact, e.since, e.until)
        })
        .collect()
}

fn match_spans(m: &[TagMatch]) -> Vec<(String, bool, Timestamp, Option<Timestamp>)> {
    m.iter()
        .map(|m| (m.tag.to_string(), m.current, m.since, m.until))
        .collect()
}

fn ref_digests(l: &Ledger, tag: &TagId) -> Vec<Digest> {
    l.references(tag, None, 1000)
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.artifact)
        .collect()
}

// ---------------------------------------------------------------------------
// A → B → A. Guards against keeping only the first (or only the current)
// digest of a mutable tag, and against merging the two lives of A.
// ---------------------------------------------------------------------------

/// Guards against keeping only the first (or current) digest of a moving tag, and merging A's two lives.
#[test]
fn a_b_a_gives_three_intervals_and_two_references() {
    let (l, _) = ledger();
    let tag = tag_id("nginx:latest");
    l.ingest(
        "s",
        &[
            obs("nginx:latest", d(1), day(1)),
            obs("nginx:latest", d(2), day(2)),
            obs("nginx:latest", d(1), day(3)),
        ],
    )
    .unwrap();
    assert_eq!(
        spans(&l, &tag),
        [
            (d(1), day(3), None),
            (d(2), day(2), Some(day(3))),
            (d(1), day(1), Some(day(2))),
        ]
    );
    assert_eq!(
        ref_digests(&l, &tag),
        [d(2), d(1)],
        "newest first by first sighting"
    );
    assert_eq!(l.get_tag(&tag).unwrap().artifact, d(1));
    let c = l.stats().unwrap().counts;
    assert_eq!((c.references, c.intervals), (2, 3));
}

/// Guards against a digest lookup that loses the earlier life of A or misorders current and past.
#[test]
fn tags_for_digest_after_a_b_a_returns_both_lives_current_first() {
    let (l, _) = ledger();
    l.ingest(
        "s",
        &[
            obs("nginx:latest", d(1), day(1)),
            obs("nginx:latest", d(2), day(2)),
            obs("nginx:latest", d(1), day(3)),
        ],
    )
    .unwrap();
    let m = l.tags_for_digest(&d(1)).unwrap();
    let tag = "docker.io/library/nginx:latest".to_owned();
    assert_eq!(
        match_spans(&m),
        [
            (tag.clone(), true, day(3), None),
            (tag.clone(), false, day(1), Some(day(2))),
        ]
    );
    assert_eq!(
        match_spans(&l.tags_for_digest(&d(2)).unwrap()),
        [(tag, false, day(2), Some(day(3)))]
    );
    assert!(
        l.tags_for_digest(&d(99)).unwrap().is_empty(),
        "unknown digest: no matches"
    );
}

/// Guards against the lookup's order (current first, then newest) and a snapshot that sees later commits.
#[test]
fn tags_for_digest_lists_every_tag_current_first_then_newest_first() {
    let (l, _) = ledger();
    l.ingest(
        "s",
        &[
            obs("nginx:1", d(1), day(1)),
            obs("nginx:1", d(2), day(5)),
            obs("nginx:1.25", d(1), day(2)),
            obs("mirror.example.com/nginx:1", d(1), day(3)),
            obs("nginx:latest", d(1), day(4)),
            obs("nginx:latest", d(3), day(6)),
        ],
    )
    .unwrap();
    let got = match_spans(&l.tags_for_digest(&d(1)).unwrap());
    assert_eq!(
        got,
        [
            ("mirror.example.com/nginx:1".to_owned(), true, day(3), None),
            (
                "docker.io/library/nginx:1.25".to_owned(),
                true,
                day(2),
                None
            ),
            (
                "docker.io/library/nginx:latest".to_owned(),
                false,
                day(4),
                Some(day(6))
            ),
            (
                "docker.io/library/nginx:1".to_owned(),
                false,
                day(1),
                Some(day(5))
            ),
        ]
    );
    // A snapshot answers the same, and keeps answering so after later writes.
    let snap = l.snapshot().unwrap();
    assert_eq!(match_spans(&snap.tags_for_digest(&d(1)).unwrap()), got);
    l.ingest("s", &[obs("redis:7", d(1), day(7))]).unwrap();
    assert_eq!(
        match_spans(&snap.tags_for_digest(&d(1)).unwrap()),
        got,
        "MVCC view"
    );
    assert_eq!(l.tags_for_digest(&d(1)).unwrap().len(), 5);
}

/// Guards against the digest index handling only sha256.
#[test]
fn digests_of_every_algorithm_are_indexed() {
    let (l, _) = ledger();
    let digests = Algorithm::ALL.map(|a| Digest::of(a, b"x"));
    for (i, dg) in digests.iter().enumerate() {
        let i = i64::try_from(i).unwrap();
        l.ingest("s", &[obs("app/x:v", *dg, day(1 + i))]).unwrap();
    }
    for dg in digests {
        let m = l.tags_for_digest(&dg).unwrap();
        assert_eq!(m.len(), 1, "{dg}");
        assert_eq!(m[0].tag.to_string(), "docker.io/app/x:v");
    }
}

// ---------------------------------------------------------------------------
// Out of order. Guards against ordering history by arrival instead of by
// observed time, and against an old observation moving a tag backwards.
// ---------------------------------------------------------------------------

/// Every query answer about `tags` and `digests`, to compare two ledgers.
fn answers(l: &Ledger, tags: &[&str], digests: &[Digest]) -> String {
    let mut out = String::new();
    for tag in tags {
        let tag = tag_id(tag);
        let current = l.get_tag(&tag).map(|t| t.artifact).ok();
        writeln!(out, "tag {tag}: {current:?}").unwrap();
        writeln!(out, "history: {:?}", spans(l, &tag)).unwrap();
        let refs = l.references(&tag, None, 1000).unwrap();
        writeln!(out, "references: {refs:?}").unwrap();
    }
    for dg in digests {
        let m = match_spans(&l.tags_for_digest(dg).unwrap());
        writeln!(out, "{dg}: {m:?}").unwrap();
    }
    let c = l.stats().unwrap().counts;
    writeln!(out, "counts: {c:?}").unwrap();
    out
}

fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first.clone());
            out.push(p);
        }
    }
    out
}

/// Guards against ordering history by arrival instead of by observed time.
#[test]
fn out_of_order_t3_t1_t2_in_separate_batches_gives_the_in_order_intervals() {
    let tag = tag_id("python:3");
    let (in_order, _) = ledger();
    for (n, at) in [(1, day(1)), (2, day(2)), (3, day(3))] {
        in_order.ingest("s", &[obs("python:3", d(n), at)]).unwrap();
    }
    let (shuffled, _) = ledger();
    shuffled
        .ingest("s", &[obs("python:3", d(3), day(3))])
        .unwrap();
    shuffled
        .ingest("s", &[obs("python:3", d(1), day(1))])
        .unwrap();
    shuffled
        .ingest("s", &[obs("python:3", d(2), day(2))])
        .unwrap();
    let want = [
        (d(3), day(3), None),
        (d(2), day(2), Some(day(3))),
        (d(1), day(1), Some(day(2))),
    ];
    assert_eq!(spans(&in_order, &tag), want);
    assert_eq!(spans(&shuffled, &tag), want);
    assert_eq!(
        ref_digests(&shuffled, &tag),
        [d(3), d(2), d(1)],
        "ordered by observed time"
    );
    let all = [d(1), d(2), d(3)];
    assert_eq!(
        answers(&shuffled, &["python:3"], &all),
        answers(&in_order, &["python:3"], &all)
    );
}

/// Guards against any answer that depends on the order batches arrive in.
#[test]
fn every_arrival_order_of_separate_batches_gives_the_same_answers() {
    // A → B → A → C with a repeat of C, over two tags that share digests.
    let events = [
        ("ubuntu:20.04", d(1), day(1)),
        ("ubuntu:20.04", d(2), day(2)),
        ("ubuntu:20.04", d(1), day(3)),
        ("ubuntu:20.04", d(3), day(4)),
        ("ubuntu:20.04", d(3), day(5)),
        ("ubuntu:focal", d(2), day(2)),
    ];
    let tags = ["ubuntu:20.04", "ubuntu:focal"];
    let digests = [d(1), d(2), d(3)];
    let (reference, _) = ledger();
    let all: Vec<Observation> = events
        .iter()
        .map(|(tg, dg, at)| obs(tg, *dg, *at))
        .collect();
    reference.ingest("s", &all).unwrap();
    let want = answers(&reference, &tags, &digests);
    let mut tried = 0;
    for order in permutations(&events) {
        let (l, _) = ledger();
        for (tg, dg, at) in &order {
            l.ingest("s", &[obs(tg, *dg, *at)]).unwrap();
        }
        assert_eq!(
            answers(&l, &tags, &digests),
            want,
            "arrival order {order:?}"
        );
        tried += 1;
    }
    assert_eq!(tried, 720);
}

/// Guards against an old observation moving a tag backwards (or stamping it modified).
#[test]
fn an_old_observation_never_changes_the_current_digest() {
    let (l, clock) = ledger();
    let tag = tag_id("redis:7");
    l.ingest("s", &[obs("redis:7", d(5), day(10))]).unwrap();
    let before = l.get_tag(&tag).unwrap();
    clock.advance(Duration::hours(1));
    for (n, at) in [(1, day(1)), (3, day(3)), (5, day(2)), (9, day(9))] {
        let s = l.ingest("s", &[obs("redis:7", d(n), at)]).unwrap();
        assert_eq!(s.tags_moved, 0, "d({n}) at {at}");
        assert_eq!(l.get_tag(&tag).unwrap().artifact, d(5));
    }
    let after = l.get_tag(&tag).unwrap();
    assert_eq!(after, before, "not moved, so not modified");
    let h = history(&l, &tag);
    assert_eq!(
        (h[0].artifact, h[0].current, h[0].since),
        (d(5), true, day(10))
    );
    assert_eq!(
        l.classify("redis:7", Some(&d(9))).unwrap().kind,
        MatchKind::Historical
    );
}

/// Guards against a late observation inside a run not splitting it (or changing the present).
#[test]
fn an_old_observation_inside_a_later_interval_splits_history_but_not_the_present() {
    // Known: A at day 1, A again at day 5 (kept as evidence). Then B is seen
    // at day 3: A [1,3), B [3,5), A [5,-).
    let (l, _) = ledger();
    let tag = tag_id("alpine:3");
    l.ingest(
        "s",
        &[obs("alpine:3", d(1), day(1)), obs("alpine:3", d(1), day(5))],
    )
    .unwrap();
    assert_eq!(spans(&l, &tag), [(d(1), day(1), None)]);
    l.ingest("s", &[obs("alpine:3", d(2), day(3))]).unwrap();
    assert_eq!(
        spans(&l, &tag),
        [
            (d(1), day(5), None),
            (d(2), day(3), Some(day(5))),
            (d(1), day(1), Some(day(3))),
        ]
    );
    assert_eq!(l.get_tag(&tag).unwrap().artifact, d(1));
}

/// Guards against repeats of the digest in force adding intervals, references or moves.
#[test]
fn observing_the_in_force_digest_again_adds_nothing() {
    let (l, _) = ledger();
    let tag = tag_id("nginx:1");
    l.ingest(
        "s",
        &[obs("nginx:1", d(1), day(1)), obs("nginx:1", d(2), day(5))],
    )
    .unwrap();
    let counts = l.stats().unwrap().counts;
    let before = (
        history(&l, &tag),
        l.references(&tag, None, 100).unwrap(),
        l.get_tag(&tag).unwrap(),
    );
    // Later, in the same interval, an exact repeat, and in the past interval.
    for at in [day(6), day(5), day(9)] {
        let s = l.ingest("s", &[obs("nginx:1", d(2), at)]).unwrap();
        assert_eq!(
            (s.tags_moved, s.references_created, s.tags_created),
            (0, 0, 0)
        );
    }
    let s = l.ingest("s", &[obs("nginx:1", d(1), day(2))]).unwrap();
    assert_eq!((s.tags_moved, s.references_created), (0, 0));
    let s = l.ingest("s", &[obs("nginx:1", d(1), day(1))]).unwrap();
    assert_eq!(s.recorded, 0, "an exact repeat is not even recorded");
    let after = l.stats().unwrap().counts;
    assert_eq!(
        (after.intervals, after.references, after.tags),
        (counts.intervals, counts.references, counts.tags)
    );
    assert_eq!(
        (
            history(&l, &tag),
            l.references(&tag, None, 100).unwrap(),
            l.get_tag(&tag).unwrap()
        ),
        before
    );
}

// ---------------------------------------------------------------------------
// Same instant, different digests (multi-arch pins). Guards against breaking
// the tie by arrival order, and against losing the other digest.
// ---------------------------------------------------------------------------

fn ordered(a: Digest, b: Digest) -> (Digest, Digest) {
    if a.to_string() < b.to_string() {
        (a, b)
    } else {
        (b, a)
    }
}

/// Guards against breaking a same-instant tie by arrival order, and losing the other digest.
#[test]
fn same_instant_the_greater_canonical_string_wins_whatever_the_arrival() {
    let (lo, hi) = ordered(d(1), d(2));
    let tag = tag_id("ubuntu:22.04");
    let at = day(1);
    let arrivals: [&[&[Digest]]; 4] =
        [&[&[lo, hi]], &[&[hi, lo]], &[&[lo], &[hi]], &[&[hi], &[lo]]];
    for batches in arrivals {
        let (l, _) = ledger();
        for batch in batches {
            let batch: Vec<Observation> =
                batch.iter().map(|x| obs("ubuntu:22.04", *x, at)).collect();
            l.ingest("s", &batch).unwrap();
        }
        let why = format!("arrival {batches:?}");
        assert_eq!(l.get_tag(&tag).unwrap().artifact, hi, "{why}");
        assert_eq!(l.tag_at(&tag, at).unwrap().unwrap().artifact, hi, "{why}");
        let loser = l.tags_for_digest(&lo).unwrap();
        assert_eq!(
            match_spans(&loser),
            [(tag.to_string(), false, at, Some(at))],
            "{why}"
        );
        let winner = l.tags_for_digest(&hi).unwrap();
        assert_eq!(
            match_spans(&winner),
            [(tag.to_string(), true, at, None)],
            "{why}"
        );
        assert_eq!(
            spans(&l, &tag),
            [(hi, at, None), (lo, at, Some(at))],
            "{why}"
        );
        assert_eq!(
            l.references(&tag, None, 10).unwrap().items.len(),
            2,
            "{why}"
        );
        assert_eq!(
            l.classify("ubuntu:22.04", Some(&lo)).unwrap().kind,
            MatchKind::Historical
        );
    }
}

/// Guards against a same-instant tie compared by raw bytes instead of canonical strings.
#[test]
fn same_instant_tie_compares_canonical_strings_across_algorithms() {
    // "sha512:…" > "sha256:…" > "blake3:…", whatever the raw bytes.
    let blake = Digest::from_raw(Algorithm::Blake3, &[0xff; 32]).unwrap();
    let sha256 = Digest::from_raw(Algorithm::Sha256, &[0x00; 32]).unwrap();
    let sha512 = Digest::from_raw(Algorithm::Sha512, &[0x00; 64]).unwrap();
    assert!(blake.to_string() < sha256.to_string() && sha256.to_string() < sha512.to_string());
    let tag = tag_id("app/multi:v1");
    for order in permutations(&[blake, sha256, sha512]) {
        let (l, _) = ledger();
        for x in &order {
            l.ingest("s", &[obs("app/multi:v1", *x, day(1))]).unwrap();
        }
        assert_eq!(l.get_tag(&tag).unwrap().artifact, sha512, "{order:?}");
        for loser in [blake, sha256] {
            let m = l.tags_for_digest(&loser).unwrap();
            assert_eq!(
                match_spans(&m),
                [(tag.to_string(), false, day(1), Some(day(1)))]
            );
        }
    }
    let (l, _) = ledger();
    l.ingest(
        "s",
        &[
            obs("app/two:v1", sha256, day(1)),
            obs("app/two:v1", blake, day(1)),
        ],
    )
    .unwrap();
    assert_eq!(l.get_tag(&tag_id("app/two:v1")).unwrap().artifact, sha256);
}

/// Guards against the same-instant rule ignoring the digest in force before the instant.
#[test]
fn same_instant_tie_with_the_digest_already_in_force() {
    let (lo, hi) = ordered(d(1), d(2));
    let tag = tag_id("debian:12");
    // In force: lo. At day 2, lo and hi both seen: hi wins from day 2 on.
    let (l, _) = ledger();
    l.ingest("s", &[obs("debian:12", lo, day(1))]).unwrap();
    l.ingest(
        "s",
        &[obs("debian:12", hi, day(2)), obs("debian:12", lo, day(2))],
    )
    .unwrap();
    assert_eq!(l.get_tag(&tag).unwrap().artifact, hi);
    assert_eq!(l.tag_at(&tag, day(2)).unwrap().unwrap().artifact, hi);
    assert_eq!(
        l.tag_at(&tag, day(2) - Duration::microseconds(1))
            .unwrap()
            .unwrap()
            .artifact,
        lo
    );
    // In force: hi. At day 2, lo and hi both seen: hi stays, lo is still found.
    let (l, _) = ledger();
    l.ingest("s", &[obs("debian:12", hi, day(1))]).unwrap();
    l.ingest(
        "s",
        &[obs("debian:12", lo, day(2)), obs("debian:12", hi, day(2))],
    )
    .unwrap();
    assert_eq!(l.get_tag(&tag).unwrap().artifact, hi);
    assert_eq!(l.tag_at(&tag, day(2)).unwrap().unwrap().artifact, hi);
    assert_eq!(l.tag_at(&tag, day(1)).unwrap().unwrap().artifact, hi);
    let m = l.tags_for_digest(&lo).unwrap();
    assert_eq!(
        match_spans(&m),
        [(tag.to_string(), false, day(2), Some(day(2)))]
    );
    assert!(l.tags_for_digest(&hi).unwrap()[0].current);
}

/// Guards against a same-instant loser splitting the winner's continuing interval in two.
#[test]
fn same_instant_loser_does_not_split_the_interval_already_in_force() {
    // hi is in force from day 1. At day 2, lo and hi are both seen: hi wins,
    // so it never stopped pointing there; lo gets [day 2, day 2).
    let (lo, hi) = ordered(d(1), d(2));
    let tag = tag_id("debian:12");
    let (l, _) = ledger();
    l.ingest("s", &[obs("debian:12", hi, day(1))]).unwrap();
    l.ingest(
        "s",
        &[obs("debian:12", lo, day(2)), obs("debian:12", hi, day(2))],
    )
    .unwrap();
    assert_eq!(
        match_spans(&l.tags_for_digest(&hi).unwrap()),
        [(tag.to_string(), true, day(1), None)],
        "one continuous interval"
    );
    // History is newest `since` first: lo's empty interval at day 2, then hi since day 1.
    assert_eq!(
        spans(&l, &tag),
        [(lo, day(2), Some(day(2))), (hi, day(1), None)]
    );
    assert_eq!(l.stats().unwrap().counts.intervals, 2);
}

// ---------------------------------------------------------------------------
// tag_at. Guards against off-by-one at interval boundaries ([since, until))
// and against inventing a digest before the first observation.
// ---------------------------------------------------------------------------

/// Guards against `tag_at` inventing a digest before the first observation.
#[test]
fn tag_at_before_the_first_observation_is_none() {
    let (l, _) = ledger();
    let tag = tag_id("nginx:1");
    l.ingest("s", &[obs("nginx:1", d(1), day(10))]).unwrap();
    assert_eq!(l.tag_at(&tag, day(1)).unwrap(), None);
    assert_eq!(
        l.tag_at(&tag, day(10) - Duration::microseconds(1)).unwrap(),
        None
    );
    assert_eq!(l.tag_at(&tag, t("1970-01-01T00:00:00Z")).unwrap(), None);
    assert_eq!(l.tag_at(&tag, t("1900-01-01T00:00:00Z")).unwrap(), None);
    assert!(matches!(
        l.tag_at(&tag_id("nginx:2"), day(10)),
        Err(Error::NotFound { .. })
    ));
}

/// Guards against off-by-one at interval boundaries ([since, until)).
#[test]
fn tag_at_boundaries_since_inclusive_until_exclusive() {
    let (l, _) = ledger();
    let tag = tag_id("nginx:1");
    l.ingest(
        "s",
        &[obs("nginx:1", d(1), day(1)), obs("nginx:1", d(2), day(5))],
    )
    .unwrap();
    let at = |x: Timestamp| l.tag_at(&tag, x).unwrap();
    let first = at(day(1)).expect("in force at since");
    assert_eq!(
        first,
        HistoryEntry {
            artifact: d(1),
            current: false,
            since: day(1),
            until: Some(day(5)),
            violation: None,
        }
    );
    assert_eq!(at(day(5) - Duration::microseconds(1)), Some(first.clone()));
    assert_eq!(
        at(day(5) - Duration::nanoseconds(1)),
        Some(first),
        "below the stored precision"
    );
    let second = at(day(5)).expect("until is exclusive");
    assert_eq!(
        second,
        HistoryEntry {
            artifact: d(2),
            current: true,
            since: day(5),
            until: None,
            violation: None,
        }
    );
    assert_eq!(at(t("2999-01-01T00:00:00Z")), Some(second));
}

/// Guards against negative instants (before 1970) sorting or encoding wrongly.
#[test]
fn tag_at_uses_observed_times_before_the_epoch() {
    let (l, _) = ledger();
    let tag = tag_id("old:1");
    l.ingest(
        "s",
        &[
            obs("old:1", d(2), t("1970-01-01T00:00:01Z")),
            obs("old:1", d(1), t("1969-12-31T23:59:59Z")),
        ],
    )
    .unwrap();
    assert_eq!(l.tag_at(&tag, t("1969-12-31T23:59:58Z")).unwrap(), None);
    assert_eq!(
        l.tag_at(&tag, t("1970-01-01T00:00:00Z"))
            .unwrap()
            .unwrap()
            .artifact,
        d(1)
    );
    assert_eq!(
        l.tag_at(&tag, t("1970-01-01T00:00:01Z"))
            .unwrap()
            .unwrap()
            .artifact,
        d(2)
    );
}

// ---------------------------------------------------------------------------
// Deletion. Guards against deletion erasing history (a stale deployment of a
// deleted tag must still classify) or leaving the interval open.
// ---------------------------------------------------------------------------

/// Guards against deletion erasing history (a stale deployment must still classify) or leaving the interval open.
#[test]
fn delete_ends_the_current_interval_at_the_delete_time() {
    let (l, clock) = ledger();
    let tag = tag_id("nginx:stable");
    l.ingest(
        "s",
        &[
            obs("nginx:stable", d(1), day(1)),
            obs("nginx:stable", d(2), day(2)),
        ],
    )
    .unwrap();
    clock.set(day(3));
    l.delete_tag("ops", &tag).unwrap();
    assert_eq!(
        spans(&l, &tag),
        [(d(2), day(2), Some(day(3))), (d(1), day(1), Some(day(2)))]
    );
    let m = l.tags_for_digest(&d(2)).unwrap();
    assert_eq!(
        match_spans(&m),
        [(tag.to_string(), false, day(2), Some(day(3)))]
    );
    assert_eq!(
        l.tag_at(&tag, day(3)).unwrap(),
        None,
        "deleted from the delete time on"
    );
    assert_eq!(
        l.tag_at(&tag, day(3) - Duration::microseconds(1))
            .unwrap()
            .unwrap()
            .artifact,
        d(2)
    );
    let c = l.classify("nginx:stable", Some(&d(2))).unwrap();
    assert_eq!((c.kind, c.tag_current), (MatchKind::Historical, None));
    assert!(
        l.get_reference(&ReferenceId::new(tag.clone(), d(2)))
            .is_ok()
    );
    assert_eq!(l.stats().unwrap().counts.intervals, 2);
}

/// Guards against an observation from before a delete undoing it, or one after it not bringing the tag back.
#[test]
fn an_observation_after_a_delete_brings_the_tag_back() {
    let (l, clock) = ledger();
    let tag = tag_id("nginx:stable");
    l.ingest("s", &[obs("nginx:stable", d(1), day(1))]).unwrap();
    clock.set(day(3));
    l.delete_tag("ops", &tag).unwrap();
    // An observation from before the delete does not undo it.
    l.ingest("s", &[obs("nginx:stable", d(2), day(2))]).unwrap();
    assert!(matches!(l.get_tag(&tag), Err(Error::NotFound { .. })));
    // One after it does (the clock past it: a future one would be refused).
    clock.set(day(4));
    l.ingest("s", &[obs("nginx:stable", d(3), day(4))]).unwrap();
    assert_eq!(l.get_tag(&tag).unwrap().artifact, d(3));
    assert_eq!(
        spans(&l, &tag),
        [
            (d(3), day(4), None),
            (d(2), day(2), Some(day(3))),
            (d(1), day(1), Some(day(2))),
        ]
    );
}

// ---------------------------------------------------------------------------
// Pagination. Guards against duplicated or skipped items when paging, and
// against cursors that shift when new observations arrive between pages.
// ---------------------------------------------------------------------------

/// A tag with many intervals, including A → B → A repeats and a same-instant pair.
fn busy_ledger() -> (Ledger, TagId, Vec<Observation>) {
    let (l, _) = ledger();
    let mut batch = Vec::new();
    for i in 1..=12u8 {
        let digest = if i % 4 == 0 { d(1) } else { d(i) };
        batch.push(obs("busybox:latest", digest, day(i64::from(i))));
    }
    batch.push(obs("busybox:latest", d(50), day(6)));
    l.ingest("s", &batch).unwrap();
    (l, tag_id("busybox:latest"), batch)
}

fn page_history(l: &Ledger, tag: &TagId, limit: usize) -> Vec<HistoryEntry> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = l.history(tag, cursor.as_deref(), limit).unwrap();
        assert!(page.items.len() <= limit);
        out.extend(page.items);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn page_references(l: &Ledger, tag: &TagId, limit: usize) -> Vec<Digest> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = l.references(tag, cursor.as_deref(), limit).unwrap();
        assert!(page.items.len() <= limit);
        out.extend(page.items.iter().map(|r| r.artifact));
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Guards against history pages that skip or repeat intervals, at every page size.
#[test]
fn history_pages_return_every_interval_once_newest_first() {
    let (l, tag, _) = busy_ledger();
    let all = history(&l, &tag);
    assert_eq!(all.len(), 13);
    for w in all.windows(2) {
        assert!(w[0].since >= w[1].since, "newest first: {w:?}");
    }
    for limit in 1..=14 {
        assert_eq!(page_history(&l, &tag, limit), all, "limit {limit}");
    }
}

/// Guards against reference pages that skip or repeat, or misorder same-instant references.
#[test]
fn reference_pages_return_every_reference_once_newest_first() {
    let (l, tag, _) = busy_ledger();
    let all = ref_digests(&l, &tag);
    // By first sighting, newest first; d(1) was first seen on day 1. On day 6
    // d(6) and d(50) share an instant: the greater digest comes first.
    let (lo, hi) = ordered(d(6), d(50));
    let want = [d(11), d(10), d(9), d(7), hi, lo, d(5), d(3), d(2), d(1)];
    assert_eq!(all, want);
    for limit in 1..=12 {
        assert_eq!(page_references(&l, &tag, limit), all, "limit {limit}");
    }
}

/// Guards against cursors that shift when newer observations are committed between two pages (one thread).
#[test]
fn pages_are_unaffected_by_newer_observations_between_pages() {
    for limit in [1, 2, 3, 5] {
        let (l, tag, _) = busy_ledger();
        let all_history = history(&l, &tag);
        let all_refs = ref_digests(&l, &tag);

        let first_h = l.history(&tag, None, limit).unwrap();
        let first_r = l.references(&tag, None, limit).unwrap();
        let mut got_h = first_h.items.clone();
        let mut got_r: Vec<Digest> = first_r.items.iter().map(|r| r.artifact).collect();
        let (mut ch, mut cr) = (first_h.next, first_r.next);
        let mut fresh = 100u8;
        while ch.is_some() || cr.is_some() {
            // Appends between two pages (same thread, see the test below for
            // a writer thread): a new digest, and a move back to an old one.
            fresh += 1;
            let at = day(100 + i64::from(fresh));
            l.ingest("s", &[obs("busybox:latest", d(fresh), at)])
                .unwrap();
            l.ingest("s", &[obs("busybox:latest", d(2), at + Duration::hours(1))])
                .unwrap();
            if let Some(c) = ch.take() {
                let p = l.history(&tag, Some(&c), limit).unwrap();
                got_h.extend(p.items);
                ch = p.next;
            }
            if let Some(c) = cr.take() {
                let p = l.references(&tag, Some(&c), limit).unwrap();
                got_r.extend(p.items.iter().map(|r| r.artifact));
                cr = p.next;
            }
        }
        // The first page's current interval has been closed since; compare
        // positions (digest, since), which never change.
        let key = |h: &[HistoryEntry]| h.iter().map(|e| (e.artifact, e.since)).collect::<Vec<_>>();
        assert_eq!(key(&got_h), key(&all_history), "history, limit {limit}");
        assert_eq!(got_r, all_refs, "references, limit {limit}");
    }
}

/// Guards against cursors that shift, skip or repeat while another thread
/// commits (a classifier paging while the scanner ingests): each page is a
/// new snapshot, and the pages after the first must hold exactly what the
/// first page's snapshot listed after it.
#[test]
fn pages_are_stable_while_a_writer_thread_appends() {
    let (l, tag, _) = busy_ledger();
    let done = AtomicBool::new(false);
    let start = Barrier::new(2);
    let key = |h: &[HistoryEntry]| h.iter().map(|e| (e.artifact, e.since)).collect::<Vec<_>>();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            start.wait();
            for i in 0..200u32 {
                // Newer than everything listed: a new digest, or a move back to d(2).
                let at = day(100) + Duration::hours(i64::from(i));
                let digest = if i % 2 == 0 {
                    Digest::of(Algorithm::Sha512, &i.to_le_bytes())
                } else {
                    d(2)
                };
                l.ingest("writer", &[obs("busybox:latest", digest, at)])
                    .unwrap();
            }
            done.store(true, Ordering::Release);
        });
        start.wait();
        let mut passes = 0;
        while passes < 3 || !done.load(Ordering::Acquire) {
            let limit = passes % 3 + 1;
            // The whole listing and the first page, from one snapshot.
            let snap = l.snapshot().unwrap();
            let all_h = snap.history(&tag, None, 1000).unwrap().items;
            let all_r: Vec<Digest> = snap
                .references(&tag, None, 1000)
                .unwrap()
                .items
                .iter()
                .map(|r| r.artifact)
                .collect();
            let first_h = snap.history(&tag, None, limit).unwrap();
            let first_r = snap.references(&tag, None, limit).unwrap();
            drop(snap);
            // The rest from the ledger while the writer commits.
            let mut got_h = first_h.items;
            let mut cursor = first_h.next;
            while let Some(c) = cursor {
                let p = l.history(&tag, Some(&c), limit).unwrap();
                got_h.extend(p.items);
                cursor = p.next;
            }
            let mut got_r: Vec<Digest> = first_r.items.iter().map(|r| r.artifact).collect();
            let mut cursor = first_r.next;
            while let Some(c) = cursor {
                let p = l.references(&tag, Some(&c), limit).unwrap();
                got_r.extend(p.items.iter().map(|r| r.artifact));
                cursor = p.next;
            }
            assert_eq!(key(&got_h), key(&all_h), "history, pass {passes}");
            assert_eq!(got_r, all_r, "references, pass {passes}");
            passes += 1;
        }
        writer.join().unwrap();
    });
    assert_eq!(l.stats().unwrap().counts.intervals, 13 + 200);
}

/// Guards against a malformed cursor read as some position (or a panic) instead of Invalid.
#[test]
fn a_bad_cursor_is_invalid() {
    let (l, tag, _) = busy_ledger();
    for bad in [
        "",
        "garbage",
        "12",
        "/",
        "abc/sha256:00",
        "123/notadigest",
        "1/sha256:xyz",
    ] {
        for result in [
            l.history(&tag, Some(bad), 5).map(drop),
            l.references(&tag, Some(bad), 5).map(drop),
        ] {
            match result {
                Err(Error::Invalid {
                    location, value, ..
                }) => {
                    assert_eq!(location, "cursor");
                    assert_eq!(value.as_deref(), Some(bad));
                }
                other => panic!("cursor {bad:?}: {other:?}"),
            }
        }
    }
    assert!(matches!(
        l.history(&tag_id("busybox:never"), None, 5),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        l.references(&tag_id("busybox:never"), None, 5),
        Err(Error::NotFound { .. })
    ));
}

/// Guards against a zero limit returning empty pages forever.
#[test]
fn a_zero_limit_still_makes_progress() {
    let (l, tag, _) = busy_ledger();
    let p = l.history(&tag, None, 0).unwrap();
    assert_eq!(p.items.len(), 1, "a limit below one is read as one");
    assert!(p.next.is_some());
    let p = l.references(&tag, None, 0).unwrap();
    assert_eq!(p.items.len(), 1);
}

// ---------------------------------------------------------------------------
// classify. Guards against misclassifying stale deployments as unknown, and
// against ignoring how clusters actually write image strings.
// ---------------------------------------------------------------------------

fn classify_ledger() -> Ledger {
    let (l, _) = ledger();
    l.ingest(
        "s",
        &[
            obs("nginx:latest", d(1), day(1)),
            obs("nginx:latest", d(2), day(2)),
            obs("nginx:1.25", d(2), day(2)),
            obs("nginx:1.24", d(3), day(1)),
            obs("ghcr.io/acme/app:v1", d(4), day(1)),
        ],
    )
    .unwrap();
    l
}

fn kind(l: &Ledger, image: &str, digest: Option<Digest>) -> MatchKind {
    l.classify(image, digest.as_ref()).unwrap().kind
}

/// Guards against `current` answers without the named tag first or its evidence.
#[test]
fn classify_current_when_the_named_tag_points_there_now() {
    let l = classify_ledger();
    let c = l.classify("nginx:latest", Some(&d(2))).unwrap();
    assert_eq!(c.kind, MatchKind::Current);
    assert_eq!(c.tag, Some(tag_id("nginx:latest")));
    assert_eq!(c.tag_current, Some(d(2)));
    assert_eq!(c.digest, Some(d(2)));
    assert_eq!(
        c.matches[0].tag.to_string(),
        "docker.io/library/nginx:latest",
        "named tag first"
    );
    assert_eq!(c.matches.len(), 2, "nginx:1.25 too");
    assert_eq!(c.image.to_string(), "docker.io/library/nginx:latest");
}

/// Guards against an image without a tag not meaning `latest`.
#[test]
fn classify_an_image_without_a_tag_means_latest() {
    let l = classify_ledger();
    let c = l.classify("nginx", Some(&d(2))).unwrap();
    assert_eq!(
        (c.kind, c.tag),
        (MatchKind::Current, Some(tag_id("nginx:latest")))
    );
    assert_eq!(
        kind(&l, "docker.io/library/nginx", Some(d(1))),
        MatchKind::Historical
    );
    assert_eq!(kind(&l, "index.docker.io/nginx", None), MatchKind::TagOnly);
}

/// Guards against a stale deployment of a moved tag classified as unknown.
#[test]
fn classify_historical_when_the_named_tag_pointed_there_before() {
    let l = classify_ledger();
    let c = l.classify("nginx:latest", Some(&d(1))).unwrap();
    assert_eq!((c.kind, c.tag_current), (MatchKind::Historical, Some(d(2))));
    assert!(!c.matches[0].current);
    assert_eq!(c.matches[0].until, Some(day(2)));
}

/// Guards against a digest known under other tags (mirrors, bare digests) classified as unknown.
#[test]
fn classify_other_tags_when_the_digest_is_known_elsewhere() {
    let l = classify_ledger();
    assert_eq!(kind(&l, "nginx:1.24", Some(d(2))), MatchKind::OtherTags);
    assert_eq!(
        kind(&l, "mirror.example.com/nginx:latest", Some(d(2))),
        MatchKind::OtherTags
    );
    let c = l.classify("quay.io/someone/else:v9", Some(&d(4))).unwrap();
    assert_eq!((c.kind, c.tag_current), (MatchKind::OtherTags, None));
    assert_eq!(c.matches[0].tag.to_string(), "ghcr.io/acme/app:v1");
    // A bare digest names no tag.
    let c = l.classify(&d(3).to_string(), None).unwrap();
    assert_eq!((c.kind, c.tag), (MatchKind::OtherTags, None));
}

/// Guards against misreading how clusters write image strings (docker-pullable://).
#[test]
fn classify_docker_pullable_strings() {
    let l = classify_ledger();
    let c = l
        .classify(&format!("docker-pullable://nginx@{}", d(1)), None)
        .unwrap();
    assert_eq!(
        (c.kind, c.digest, c.tag),
        (MatchKind::OtherTags, Some(d(1)), None)
    );
    assert_eq!(c.matches.len(), 1);
    let c = l
        .classify(
            &format!("docker-pullable://ghcr.io/acme/app@{}", d(4)),
            None,
        )
        .unwrap();
    assert_eq!(c.kind, MatchKind::OtherTags);
    assert_eq!(c.matches[0].tag.to_string(), "ghcr.io/acme/app:v1");
    let c = l
        .classify(&format!("docker-pullable://nginx:latest@{}", d(1)), None)
        .unwrap();
    assert_eq!(c.kind, MatchKind::Historical);
    let c = l
        .classify(&format!("docker-pullable://nginx@{}", d(9)), None)
        .unwrap();
    assert_eq!(c.kind, MatchKind::Unknown);
}

/// Guards against the digest in the string winning over the one given.
#[test]
fn classify_the_given_digest_overrides_the_one_in_the_string() {
    let l = classify_ledger();
    let image = format!("nginx:latest@{}", d(1));
    assert_eq!(kind(&l, &image, None), MatchKind::Historical);
    let c = l.classify(&image, Some(&d(2))).unwrap();
    assert_eq!((c.kind, c.digest), (MatchKind::Current, Some(d(2))));
    let c = l.classify(&image, Some(&d(9))).unwrap();
    assert_eq!((c.kind, c.digest), (MatchKind::TagOnly, Some(d(9))));
}

/// Guards against `tag_only` and `unknown` being confused, or evidence invented for them.
#[test]
fn classify_tag_only_and_unknown() {
    let l = classify_ledger();
    let c = l.classify("nginx:1.25", Some(&d(9))).unwrap();
    assert_eq!(
        (c.kind, c.tag_current, c.matches.len()),
        (MatchKind::TagOnly, Some(d(2)), 0)
    );
    assert_eq!(kind(&l, "nginx:1.25", None), MatchKind::TagOnly);
    assert_eq!(kind(&l, "redis:7", Some(d(9))), MatchKind::Unknown);
    assert_eq!(kind(&l, "redis", None), MatchKind::Unknown);
    let c = l.classify("redis:7", None).unwrap();
    assert_eq!((c.digest, c.tag_current), (None, None));
    assert!(c.matches.is_empty());
}

/// Guards against invalid image strings classified instead of refused with location `image`.
#[test]
fn classify_an_invalid_image_string_is_invalid() {
    let l = classify_ledger();
    for bad in [
        "",
        "Nginx:1",
        "nginx:bad tag",
        "nginx@sha256:xyz",
        "docker-pullable://",
        "a//b",
    ] {
        match l.classify(bad, None) {
            Err(Error::Invalid { location, .. }) => assert_eq!(location, "image", "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

/// Guards against classify not following API creates, updates and deletes.
#[test]
fn classify_follows_api_writes_and_deletes() {
    let (l, clock) = ledger();
    let tag = tag_id("nginx:edge");
    l.create_repository(
        "a",
        &ociledger::model::RepositoryBody::new(tag.repository(), day(1)),
    )
    .unwrap();
    l.create_tag("a", &TagBody::new(&tag, d(1))).unwrap();
    assert_eq!(kind(&l, "nginx:edge", Some(d(1))), MatchKind::Current);
    clock.advance(Duration::minutes(1));
    l.update_tag("a", &tag, &TagBody::new(&tag, d(2))).unwrap();
    assert_eq!(kind(&l, "nginx:edge", Some(d(1))), MatchKind::Historical);
    assert_eq!(kind(&l, "nginx:edge", Some(d(2))), MatchKind::Current);
    clock.advance(Duration::minutes(1));
    l.delete_tag("a", &tag).unwrap();
    assert_eq!(kind(&l, "nginx:edge", Some(d(2))), MatchKind::Historical);
}
