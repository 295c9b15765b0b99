//! The digest index's rows, copied byte for byte into one arena, and found
//! by key through a [`RowTable`].

use std::sync::atomic::{AtomicBool, Ordering};

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};

use super::pages::PageBytes;
use super::table::RowTable;
use crate::error::{Error, Result};
use crate::id::Digest;
use crate::store::DIGEST_INDEX;
use crate::store::packed::{self, Group};

/// One digest's group in the copy: the offset in the arena of its first
/// byte. Unique per group, and what the relation links point at, so
/// following a link is no probe and no walk along a row.
pub(crate) type GroupId = u64;

/// Bytes of a row's length before its bytes in the arena (`u32` LE).
const ROW_LEN: usize = 4;

/// The copied rows.
pub(super) struct IndexRows {
    /// Row key → offset in `bytes` of the row: its length (`u32` LE), then
    /// its bytes.
    offsets: RowTable,
    bytes: PageBytes,
}

/// The error a cancelled build gives.
pub(super) fn cancelled() -> Error {
    Error::Busy {
        operation: "copy the digest index into memory",
        reason: "the ledger is closing or compacting".to_owned(),
    }
}

impl IndexRows {
    /// Copies the digest index `txn` sees; gives up with [`Error::Busy`] as
    /// soon as `cancel` is set (the ledger is closing or compacting).
    pub fn build(txn: &ReadTransaction, cancel: &AtomicBool) -> Result<Self> {
        let table = txn.open_table(DIGEST_INDEX)?;
        let rows = usize::try_from(table.len()?).unwrap_or(usize::MAX);
        let stored = usize::try_from(table.stats()?.stored_bytes()).unwrap_or(usize::MAX);
        let mut keys: Vec<(u64, u64)> = Vec::new();
        // Sized up front when the engine's counts allow it (a damaged file
        // can claim anything: then the copy grows as it reads).
        let _ = keys.try_reserve_exact(rows);
        let mut bytes =
            PageBytes::with_capacity(stored.saturating_add(rows.saturating_mul(ROW_LEN)))
                .or_else(|_| PageBytes::with_capacity(0))?;
        for (i, row) in table.iter()?.enumerate() {
            if i % 4096 == 0 && cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            let (k, v) = row?;
            let v = v.value();
            let len = u32::try_from(v.len()).map_err(|_| {
                Error::Corrupt(format!(
                    "table digest_index, key {:016x}: a row of {} bytes",
                    k.value(),
                    v.len()
                ))
            })?;
            keys.push((k.value(), bytes.len() as u64));
            bytes.extend_from_slice(&len.to_le_bytes())?;
            bytes.extend_from_slice(v)?;
        }
        Ok(Self {
            offsets: RowTable::new(&keys)?,
            bytes,
        })
    }

    /// Rows held.
    pub fn len(&self) -> u64 {
        self.offsets.rows
    }

    /// Memory the rows and their table take.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.resident_bytes() + self.offsets.heap_bytes()
    }

    #[inline]
    fn row_at(&self, at: u64) -> Option<&[u8]> {
        let at = usize::try_from(at).ok()?;
        let (len, rest) = self
            .bytes
            .as_slice()
            .get(at..)?
            .split_first_chunk::<ROW_LEN>()?;
        rest.get(..u32::from_le_bytes(*len) as usize)
    }

    /// `d`'s group and its id, if the index has one.
    #[inline]
    pub fn group(&self, d: &Digest) -> Result<Option<(GroupId, Group<'_>)>> {
        let Some(at) = self.locate(d) else {
            return Ok(None);
        };
        group_in(at, self.row_at(at).unwrap_or_default(), d)
    }

    /// Where the row that would hold `d`'s group starts, if there is one:
    /// the first half of [`IndexRows::group`], for callers that probe many
    /// digests at once so that the probes' cache misses overlap.
    #[inline]
    pub fn locate(&self, d: &Digest) -> Option<u64> {
        self.offsets.get(packed::key(d))
    }

    /// The row at `at` (from [`IndexRows::locate`]); empty if none.
    #[inline]
    pub fn row(&self, at: u64) -> &[u8] {
        self.row_at(at).unwrap_or_default()
    }

    /// The group `id` names (an id this copy gave out). The copy does not
    /// change once built, and `id` was given out for a group read within
    /// its row, so reading from `id` to the arena's end reads that group.
    #[inline]
    pub fn group_at(&self, id: GroupId) -> Result<Group<'_>> {
        let bytes = usize::try_from(id)
            .ok()
            .and_then(|at| self.bytes.as_slice().get(at..))
            .ok_or_else(|| {
                Error::Corrupt(format!("no digest-index group at {id:#x} in the copy"))
            })?;
        packed::group_starting(bytes)
    }
}

/// `d`'s group in `row`, the row at `at`: the second half of
/// [`IndexRows::group`].
#[inline]
pub(super) fn group_in<'a>(
    at: u64,
    row: &'a [u8],
    d: &Digest,
) -> Result<Option<(GroupId, Group<'a>)>> {
    // Each group's offset in the arena: past the row's length, then past
    // the groups before it.
    let mut id = at + ROW_LEN as u64;
    for g in packed::groups(row) {
        let g = g?;
        if g.is(d) {
            return Ok(Some((id, g)));
        }
        id += g.stored_len() as u64;
    }
    Ok(None)
}
