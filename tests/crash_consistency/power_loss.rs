//! Power loss at every write and sync of the workloads, each crash image
//! reopened, verified and compared with the clean run's answers.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use ociledger::Error;

use super::disk::{FaultyDisk, to_usize};
use super::workload::{COMPACTING_WORKLOAD, Step, Workload, answers, finish, load, open, state_of};
use crate::common::rng::Rng;

/// The floor on the number of simulated power losses.
const MIN_POWER_LOSSES: usize = 1_000;

/// Runs workload `w` on `disk` until it ends or a step fails; every step is
/// tried (a scanner goes on after an error). Returns how many steps (the
/// open included) returned `Ok` before the first error; no step after an
/// error may succeed, and nothing may panic.
fn run_until_failure(w: &Workload, disk: &FaultyDisk, what: &str) -> usize {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Ok(ledger) = open(disk.clone()) else {
            return 0;
        };
        let mut ok = 1;
        for (i, step) in w.steps.iter().enumerate() {
            match step.run(i + 1, &ledger) {
                Ok(()) if ok == i + 1 => ok += 1,
                Ok(()) => panic!(
                    "{what}: step {} succeeded after step {} failed on a dead disk",
                    i + 1,
                    ok
                ),
                Err(_) => {}
            }
        }
        drop(ledger);
        ok
    }));
    outcome.unwrap_or_else(|_| panic!("{what}: a panic instead of an error"))
}

#[derive(Default)]
struct Tally {
    power_losses: usize,
    images: usize,
    /// Crash images that reopened to the last `Ok` state / to the failing
    /// step's state (committed although an operation after it failed).
    at_last_ok: usize,
    at_failing_step: usize,
    resumed: usize,
    /// Crashes while redb formatted the new storage, refused on reopen.
    unformatted: usize,
    by_kind: std::collections::BTreeMap<&'static str, usize>,
    /// The compaction's operations (1-based, of the clean run's) and the
    /// file's length before and after it.
    compaction_ops: Option<CompactionOps>,
    /// Power losses inside the compaction, and the crash images they left.
    compaction_power_losses: usize,
    compaction_images: usize,
}

/// Operations (1-based) of a compaction, and the file's length before and
/// after it.
type CompactionOps = (std::ops::RangeInclusive<u64>, usize, usize);

/// Workload `w` (number `wi`) on a backend without faults: every step must
/// succeed, compaction included (redb's `compact` shrinks the file with
/// `set_len`: an error here is a bug, not a fault of the test's making),
/// and end with the in-memory run's answers. Returns how many writes,
/// `set_len`s and syncs it made, and which of them were the compaction's.
fn clean_backend_run(wi: usize, w: &Workload) -> (u64, Option<CompactionOps>) {
    let disk = FaultyDisk::default();
    let ledger = open(disk.clone()).expect("open a clean disk");
    let mut compaction = None;
    for (i, step) in w.steps.iter().enumerate() {
        let (ops_before, _, _) = disk.counters();
        let len_before = disk.lock().volatile.len();
        step.run(i + 1, &ledger)
            .unwrap_or_else(|e| panic!("workload {wi}: step {} on a clean backend: {e}", i + 1));
        if matches!(step, Step::Compact) {
            let (ops_after, _, _) = disk.counters();
            compaction = Some((
                ops_before + 1..=ops_after,
                len_before,
                disk.lock().volatile.len(),
            ));
        }
    }
    assert_eq!(
        answers(&ledger, &w.probes).expect("answers"),
        w.expected[w.steps.len() + 1]
    );
    if let Some((ops, len_before, len_after)) = &compaction {
        assert!(
            ops.end() - ops.start() >= 10 && len_after < len_before,
            "workload {wi}: the compaction made {} writes and syncs and took the file \
             from {len_before} to {len_after} bytes: it no longer rewrites and shrinks it",
            ops.end() + 1 - ops.start()
        );
    }
    drop(ledger);
    (disk.counters().0, compaction)
}

// Guards against a crash (power loss) at any write or sync of a multi-batch
// ingest losing a batch whose commit returned Ok, leaving part of a batch
// visible, leaving a disk that does not reopen, or a ledger that cannot take
// the rest of the workload after recovery; and against a panic instead of an
// error on the dying disk; and against a compaction that a crash can leave
// half done (a table deleted before its copy is committed: the file then
// does not open, or answers differently), or that fails on this backend
// (redb's compact needs `set_len`). 1,159 fault points (150 inside the
// compaction), 2,981 crash images (323 from the compaction): 18 s in a debug
// build on 2 shared cores (14.5 s without the compaction).
#[test]
#[allow(clippy::too_many_lines)] // one fault loop: its checks and its report read best together
fn power_loss_at_any_write_or_sync_keeps_every_committed_batch_and_no_partial_one() {
    let started = Instant::now();
    let workloads = load();
    let mut tally = Tally::default();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for (wi, w) in workloads.iter().enumerate() {
        // A clean run through the backend: the answers must match the in-memory
        // ledger's, and it counts the operations to fail.
        let (total_ops, compaction) = clean_backend_run(wi, w);
        if let Some(c) = &compaction {
            tally.compaction_ops = Some(c.clone());
        }

        for n in 1..=total_ops {
            let what = format!("workload {wi}, power loss at operation {n} of {total_ops}");
            let disk = FaultyDisk::default();
            disk.power_loss_at(n);
            let ok = run_until_failure(w, &disk, &what);
            assert!(disk.lock().dead, "{what}: the fault never fired");
            tally.power_losses += 1;
            // The power went during the compaction: its images must answer
            // as before it (= after it), and verify clean.
            let compacting = compaction
                .as_ref()
                .is_some_and(|(ops, _, _)| ops.contains(&n));
            if compacting {
                tally.compaction_power_losses += 1;
                assert!(
                    matches!(w.steps.get(ok.wrapping_sub(1)), Some(Step::Compact)),
                    "{what}: the fault fell in the compaction, but step {ok} failed"
                );
            }
            let images = disk.crash_images(&mut rng);
            let resume = to_usize(n) % images.len();
            for (i, (kind, image)) in images.into_iter().enumerate() {
                let what = format!("{what}, {kind} image");
                tally.images += 1;
                *tally.by_kind.entry(kind).or_default() += 1;
                let reopened =
                    catch_unwind(AssertUnwindSafe(|| open(FaultyDisk::from_image(image))))
                        .unwrap_or_else(|_| panic!("{what}: reopening panicked"));
                let reopened = match reopened {
                    Ok(l) => l,
                    // redb writes its magic number last when it formats new
                    // storage, so a crash inside that window leaves storage
                    // that is neither empty nor a database: it is refused,
                    // never taken for a ledger (see docs/reliability.md).
                    Err(Error::NotALedger { reason, .. })
                        if ok == 0 && reason.contains("magic number") =>
                    {
                        tally.unformatted += 1;
                        continue;
                    }
                    Err(e) => panic!("{what}: does not reopen: {e}"),
                };
                let report = reopened
                    .0
                    .verify()
                    .unwrap_or_else(|e| panic!("{what}: verify: {e}"));
                assert!(report.is_clean(), "{what}: verify: {report:?}");
                let got = answers(&reopened, &w.probes)
                    .unwrap_or_else(|e| panic!("{what}: reading after reopen: {e}"));
                // `ok` steps returned Ok (the open is step 0, so state `ok`);
                // the failing step may be durable too; nothing else. Compared
                // by answers: a compaction leaves them as they were, so the
                // states on either side of it have the same ones.
                let allowed = [ok.max(1), ok + 1];
                let state = allowed
                    .into_iter()
                    .find(|&s| w.expected.get(s) == Some(&got));
                if compacting {
                    tally.compaction_images += 1;
                }
                match state {
                    Some(s) => {
                        if s == ok.max(1) {
                            tally.at_last_ok += 1;
                        } else {
                            tally.at_failing_step += 1;
                        }
                        if i == resume {
                            finish(w, &reopened, s, &what);
                            tally.resumed += 1;
                        }
                    }
                    None => match state_of(w, &got) {
                        Some(s) => panic!(
                            "{what}: {ok} steps returned Ok, but the reopened ledger answers as after {s}"
                        ),
                        None => panic!(
                            "{what}: {ok} steps returned Ok, and the reopened ledger answers as after no step: a partial batch or a lost commit"
                        ),
                    },
                }
            }
        }
    }
    let took = started.elapsed();
    let compaction_ops = tally.compaction_ops.clone().expect("a workload compacts");
    println!(
        "power loss: {} workloads of {} steps, {} fault points, {} crash images ({:?}): \
         {} refused as unformatted (crash while redb formatted new storage), \
         {} at the last Ok step, {} with the failing step durable, {} resumed to the end; \
         compaction (workload {COMPACTING_WORKLOAD}, operations {:?}, file {} -> {} bytes): \
         {} power losses inside it, {} crash images, each verified clean and answering as before it; \
         in {:.1} s",
        workloads.len(),
        workloads[0].steps.len() + 1,
        tally.power_losses,
        tally.images,
        tally.by_kind,
        tally.unformatted,
        tally.at_last_ok,
        tally.at_failing_step,
        tally.resumed,
        compaction_ops.0,
        compaction_ops.1,
        compaction_ops.2,
        tally.compaction_power_losses,
        tally.compaction_images,
        took.as_secs_f64()
    );
    assert!(
        tally.power_losses >= MIN_POWER_LOSSES,
        "only {} power-loss cases; issue 13 asks for at least {MIN_POWER_LOSSES}",
        tally.power_losses
    );
    assert_eq!(
        tally.compaction_power_losses,
        to_usize(compaction_ops.0.end() + 1 - compaction_ops.0.start()),
        "a power loss at every operation of the compaction"
    );
}
