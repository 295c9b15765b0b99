//! Reading one table of the damaged file row by row ([`scan`]), past the
//! pages the storage engine fails on.

use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};

use redb::{AccessGuard, Key, ReadOnlyTable, ReadTransaction, TableDefinition, Value};

use super::super::rows;
use super::TableSalvage;

/// Runs `f`, catching a panic (the engine's, on a damaged page): `None` then.
pub(super) fn attempt<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// How one pass over a key range ended.
enum Outcome {
    /// The range was read to its end.
    Done,
    /// A row's key read and its value did not: the bound moved past it.
    RowFailed,
    /// The engine failed before a key was read.
    PageFailed,
}

/// The bound just past raw key `b` (`Unbounded` for none).
fn past<K: Key + 'static>(b: Option<&[u8]>) -> Bound<K::SelfType<'_>> {
    b.map_or(Bound::Unbounded, |b| Bound::Excluded(K::from_bytes(b)))
}

/// One pass over the keys strictly between `low` and `high`, forward (moving
/// `low` up) or backward (moving `high` down), handing each row to `row`.
fn pass<K: Key + 'static, V: Value + 'static>(
    table: &ReadOnlyTable<K, V>,
    (low, high): (&mut Option<Vec<u8>>, &mut Option<Vec<u8>>),
    back: bool,
    report: &mut TableSalvage,
    row: &mut impl FnMut(&mut TableSalvage, &AccessGuard<'_, K>, &AccessGuard<'_, V>),
) -> Outcome {
    let opened = attempt(|| table.range((past::<K>(low.as_deref()), past::<K>(high.as_deref()))));
    let Some(Ok(mut range)) = opened else {
        return Outcome::PageFailed;
    };
    let outcome = loop {
        let mut key: Option<Vec<u8>> = None;
        let bound = if back {
            high.as_deref()
        } else {
            low.as_deref()
        };
        let step = attempt(|| {
            let next = if back {
                range.next_back()
            } else {
                range.next()
            };
            match next {
                None => Some(true),
                Some(Err(_)) => None,
                Some(Ok((k, v))) => {
                    let bytes = K::as_bytes(&k.value()).as_ref().to_vec();
                    // A damaged branch page can lead back to keys already
                    // read (even round in a cycle): the keys of a pass must
                    // move on, else the pass ends here.
                    let wanted = if back {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    };
                    if bound.is_some_and(|b| K::compare(&bytes, b) != wanted) {
                        return None;
                    }
                    key = Some(bytes);
                    report.read += 1;
                    row(report, &k, &v);
                    Some(false)
                }
            }
        });
        let bound = if back { &mut *high } else { &mut *low };
        match (step, key) {
            (Some(Some(true)), _) => break Outcome::Done,
            (Some(Some(false)), key) => *bound = key,
            (_, Some(key)) => {
                let shown = rows::Hex(&key).to_string();
                *bound = Some(key);
                report.lose(format!(
                    "key {shown}: the storage engine failed on its value"
                ));
                break Outcome::RowFailed;
            }
            (_, None) => break Outcome::PageFailed,
        }
    };
    // Dropping an iterator over a damaged page may fail as well.
    let _ = attempt(move || drop(range));
    outcome
}

/// Reads every row of `def` that the engine still reads and hands each to
/// `row` (which decodes it and counts it lost or keeps it); returns whether
/// the table opened.
///
/// Forward from the first key; where the engine fails (an error or a panic
/// on a damaged page), once more from just after the last key read (a
/// value that failed loses only its row); when that fails at the same place
/// too, backward from the last key down to it. What lies between the two
/// is counted as one unreadable stretch.
pub(super) fn scan<K: Key + 'static, V: Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
    report: &mut TableSalvage,
    mut row: impl FnMut(&mut TableSalvage, &AccessGuard<'_, K>, &AccessGuard<'_, V>),
) -> bool {
    let table = match attempt(|| txn.open_table(def)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            report.unreadable += 1;
            report.describe(format!("the table does not open: {e}"));
            return false;
        }
        None => {
            report.unreadable += 1;
            report.describe("the table does not open: the storage engine failed");
            return false;
        }
    };
    let (mut low, mut high) = (None, None);
    for back in [false, true] {
        let mut stuck: Option<Option<Vec<u8>>> = None;
        loop {
            match pass(&table, (&mut low, &mut high), back, report, &mut row) {
                Outcome::Done => return true,
                Outcome::RowFailed => {}
                Outcome::PageFailed => {
                    let at = if back { &high } else { &low };
                    if stuck.as_ref() == Some(at) {
                        break;
                    }
                    stuck = Some(at.clone());
                }
            }
        }
    }
    report.unreadable += 1;
    let show = |b: &Option<Vec<u8>>| {
        b.as_deref()
            .map_or_else(|| "the end".to_owned(), |k| rows::Hex(k).to_string())
    };
    report.describe(format!(
        "the rows between key {} and key {} do not read (a damaged page)",
        show(&low),
        show(&high)
    ));
    true
}
