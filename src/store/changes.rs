//! The digest index's versions, and which of its rows each recent commit
//! changed: what lets a process that keeps the in-memory copy of an older
//! version (`memory/`) use it for every row a later commit left alone,
//! instead of reading the whole file again after each write.
//!
//! A row of `index_changes` is one commit that moved the index's [`Mark`]:
//! the marks before and after it and the digest-index keys whose answers
//! it may have changed (the rows it rewrote, and the children and configs
//! of relations it added, whose rows a new relation need not rewrite). The
//! rows chain: each one's `before` is the previous one's `after`. A reader
//! walks back from its transaction's last row to the mark of its copy; a
//! commit without a row (a writer of schema 7, or a pruned row) breaks the
//! chain, and the reader then copies the index again, as before this table.
//! Only the newest [`KEPT_KEYS`] keys are kept: beyond that a fresh copy is
//! cheaper than a long list.

use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition, TableHandle,
};
use serde::{Deserialize, Serialize};

use super::{CONFIGS, JOURNAL, PARENTS, rows};
use crate::error::{Error, Result};

/// commit number → `ChangeHeader` (postcard) and then the changed keys, 8
/// bytes each, big-endian, ascending.
pub(crate) const INDEX_CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("index_changes");

/// Keys the table keeps across its rows (1 MiB): a commit of more starts
/// the list over, and readers with older copies copy again.
pub(crate) const KEPT_KEYS: u64 = 1 << 17;

/// Which version of the digest index a transaction sees.
///
/// The digest index is derived from the move log and the relations (what
/// `verify` checks): a write changes it only by adding log entries, which
/// appends a journal record, or by recording a new relation, which adds a
/// row to `manifest_parents` or `manifest_configs` (relations are never
/// removed). So the last journal record and those two row counts change
/// whenever the index does, and cost three cheap reads. Salvage and restore
/// make new files, which a process holding the old one never sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mark {
    journal: Option<u32>,
    parents: u64,
    configs: u64,
}

impl Mark {
    /// The version `txn` sees.
    pub fn of(txn: &ReadTransaction) -> Result<Self> {
        Self::of_tables(
            &txn.open_table(JOURNAL)?,
            &txn.open_table(PARENTS)?,
            &txn.open_table(CONFIGS)?,
        )
    }

    /// The version these tables (of one transaction) hold.
    pub fn of_tables(
        journal: &impl ReadableTable<u32, &'static [u8]>,
        parents: &impl ReadableTableMetadata,
        configs: &impl ReadableTableMetadata,
    ) -> Result<Self> {
        Ok(Self {
            journal: journal.last()?.map(|(k, _)| k.value()),
            parents: parents.len()?,
            configs: configs.len()?,
        })
    }
}

/// The front of a row; the keys follow it.
#[derive(Debug, Serialize, Deserialize)]
struct ChangeHeader {
    before: Mark,
    after: Mark,
    /// Keys recorded since the table began, this row's included: the rows
    /// kept hold `last.through - first.through + first's keys`.
    through: u64,
}

fn decode(number: u64, bytes: &[u8]) -> Result<(ChangeHeader, &[u8])> {
    let (header, keys) = postcard::take_from_bytes::<ChangeHeader>(bytes).map_err(|e| {
        Error::Corrupt(format!(
            "table {}, commit {number}: {e}",
            INDEX_CHANGES.name()
        ))
    })?;
    if keys.len() % 8 != 0 {
        return Err(Error::Corrupt(format!(
            "table {}, commit {number}: {} bytes of keys, not a multiple of 8",
            INDEX_CHANGES.name(),
            keys.len()
        )));
    }
    Ok((header, keys))
}

fn keys_of(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes
        .chunks_exact(8)
        .map(|k| u64::from_be_bytes(k.try_into().unwrap_or_default()))
}

fn key_count(bytes: &[u8]) -> u64 {
    (bytes.len() / 8) as u64
}

/// Records one commit that moved the index from `before` to `after`,
/// changing the answers under `keys` (ascending, distinct), and drops the
/// oldest rows beyond [`KEPT_KEYS`].
pub(crate) fn record(
    table: &mut Table<'_, u64, &'static [u8]>,
    before: Mark,
    after: Mark,
    keys: &[u64],
) -> Result<()> {
    let added = keys.len() as u64;
    if added > KEPT_KEYS {
        // More than a reader would follow: start over. Readers with an
        // older copy find no row that ends at their mark, and copy again.
        table.retain(|_, _| false)?;
        return Ok(());
    }
    let last = table.last()?.map(|(k, v)| {
        (
            k.value(),
            decode(k.value(), v.value()).map(|(h, _)| h.through),
        )
    });
    let (number, through) = match last {
        None => (0, added),
        Some((n, Ok(through))) => (n.saturating_add(1), through.saturating_add(added)),
        // A row that does not read (`verify` reports it) must not stop
        // writes over a list that only steers copies: it starts over.
        Some((n, Err(_))) => {
            table.retain(|_, _| false)?;
            (n.saturating_add(1), added)
        }
    };
    // Oldest rows first, while the kept keys with this commit's exceed the
    // budget (a row that does not read goes too).
    loop {
        let Some((k, v)) = table.first()? else { break };
        let oldest = k.value();
        let kept = decode(oldest, v.value())
            .map(|(h, keys)| through.saturating_sub(h.through) + key_count(keys));
        drop((k, v));
        if matches!(kept, Ok(kept) if kept <= KEPT_KEYS) {
            break;
        }
        table.remove(oldest)?;
    }
    let mut bytes = rows::encode(&ChangeHeader {
        before,
        after,
        through,
    })?;
    bytes.reserve(keys.len() * 8);
    for k in keys {
        bytes.extend_from_slice(&k.to_be_bytes());
    }
    table.insert(number, bytes.as_slice())?;
    Ok(())
}

/// The keys whose answers changed from version `from` to version `to`
/// (`to` being `txn`'s), ascending and distinct, if the table's rows chain
/// from one to the other; `None` when they do not (a commit of a writer
/// without this table, or rows dropped as the table kept its budget).
pub(crate) fn since(txn: &ReadTransaction, from: Mark, to: Mark) -> Result<Option<Vec<u64>>> {
    if from == to {
        return Ok(Some(Vec::new()));
    }
    let table = txn.open_table(INDEX_CHANGES)?;
    let mut want = to;
    let mut keys = Vec::new();
    for row in table.iter()?.rev() {
        let (k, v) = row?;
        let (header, row_keys) = decode(k.value(), v.value())?;
        if header.after != want {
            return Ok(None);
        }
        if key_count(row_keys) + keys.len() as u64 > KEPT_KEYS {
            return Ok(None);
        }
        keys.extend(keys_of(row_keys));
        if header.before == from {
            keys.sort_unstable();
            keys.dedup();
            return Ok(Some(keys));
        }
        want = header.before;
    }
    Ok(None)
}

/// Checks that every row of the table decodes, for `verify`: the first
/// that does not is the error.
pub(crate) fn check(table: &impl ReadableTable<u64, &'static [u8]>) -> Result<()> {
    for row in table.iter()? {
        let (k, v) = row?;
        decode(k.value(), v.value())?;
    }
    Ok(())
}
