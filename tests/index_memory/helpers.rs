//! Helpers the tests share: digests and observations by name, the lookups
//! two ledgers' answers are compared by, and waiting (within [`PATIENCE`])
//! for a background rebuild to arrive or a drop to finish.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ociledger::id::{Algorithm, Digest, TagId};
use ociledger::model::{Observation, TagMatch};
use ociledger::{Ledger, Snapshot};

use super::programs::at;

/// How long a background rebuild may take to arrive before a test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Polls snapshots of `ledger` (every `pause`) until `done` says one is
/// what the test waits for; `check` looks at every snapshot on the way.
fn poll(
    ledger: &Ledger,
    pause: Duration,
    what: &str,
    check: impl Fn(&Snapshot),
    done: impl Fn(&Snapshot) -> bool,
) {
    let start = Instant::now();
    loop {
        let snap = ledger.snapshot().expect("snapshot");
        check(&snap);
        if done(&snap) {
            return;
        }
        drop(snap);
        assert!(
            start.elapsed() < PATIENCE,
            "{what}: not within {PATIENCE:?} (last rebuild error {:?})",
            ledger.index_memory().and_then(|m| m.last_error)
        );
        std::thread::sleep(pause);
    }
}

/// Polls snapshots of `ledger` (every `pause`) until one reads the copy.
/// Every snapshot on the way, from the file or from the copy, must answer
/// `want` through `ask`.
pub fn until_from_memory<T: PartialEq + std::fmt::Debug>(
    ledger: &Ledger,
    ask: impl Fn(&Snapshot) -> T,
    want: &T,
    pause: Duration,
    what: &str,
) {
    let check = |snap: &Snapshot| {
        assert_eq!(
            &ask(snap),
            want,
            "{what}: a snapshot (reading from memory: {}) differs from the file",
            snap.reads_index_from_memory()
        );
    };
    poll(
        ledger,
        pause,
        what,
        check,
        Snapshot::reads_index_from_memory,
    );
}

/// Polls snapshots of `ledger` until one reads a copy of its own commit
/// (`index_copy_lag` 0): a copy rebuilt in the background after a write.
pub fn until_renewed(ledger: &Ledger, what: &str) {
    let renewed = |snap: &Snapshot| snap.reads_index_from_memory() && snap.index_copy_lag() == 0;
    poll(ledger, Duration::from_millis(10), what, |_| {}, renewed);
}

/// [`until_from_memory`], with the pause the tests other than the property
/// test use.
pub fn settle<T: PartialEq + std::fmt::Debug>(
    ledger: &Ledger,
    ask: impl Fn(&Snapshot) -> T,
    want: &T,
    what: &str,
) {
    until_from_memory(ledger, ask, want, Duration::from_millis(10), what);
}

pub fn sha(name: &str) -> Digest {
    Digest::of(Algorithm::Sha256, name.as_bytes())
}

pub fn seen(repository: &str, tag: &str, d: Digest, second: i64) -> Observation {
    let id = TagId::new(repository.parse().expect("repository"), tag).expect("tag");
    Observation::new(id, d, at(second))
}

/// The answers of `snap` for `probes`, `tags_for_digest` only.
pub fn lookups(snap: &Snapshot, probes: &[Digest]) -> Vec<Vec<TagMatch>> {
    probes
        .iter()
        .map(|d| snap.tags_for_digest(d).expect("tags_for_digest"))
        .collect()
}
/// `n` observations of `n` digests (`sha("d{i}")`) over 500 tags: an index
/// large enough that a copy takes some milliseconds to build.
pub fn many(n: i64) -> Vec<Observation> {
    (0..n)
        .map(|i| {
            seen(
                "nginx",
                &format!("t{}", i % 500),
                sha(&format!("d{i}")),
                i / 500,
            )
        })
        .collect()
}

/// Drops `ledger` on another thread; fails if that takes `PATIENCE`.
pub fn drop_within_patience(ledger: Ledger, what: &str) {
    let (done, wait) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        drop(ledger);
        let _ = done.send(());
    });
    assert!(
        wait.recv_timeout(PATIENCE).is_ok(),
        "{what}: dropping the ledger hung with a rebuild running"
    );
    eprintln!("{what}: dropped in {:?}", start.elapsed());
}
