//! The journal: one record per committed batch that added to the move log,
//! chained by hashes, so history cannot be edited without it showing.
//!
//! A record holds the batch's sequence number (its key), when and by whom
//! it was written, how many log entries it added, the blake3 hash of those
//! entries in a canonical order, and the hash of the record before it.
//! Every log entry carries its batch's number, so `verify` recomputes each
//! batch's hash from the move log and the chain from the records; `head`
//! is the last record's hash, for an auditor or a replica to compare.
//!
//! The journal is also where a reference's `created_by` and `created_on`
//! come from: the record of the batch that first recorded the pair.

use redb::{ReadableTable, Table, TableDefinition};
use serde::{Deserialize, Serialize};

use super::log::LogEntry;
use super::rows;
use crate::error::{Error, Result};

/// batch sequence number → `JournalRow`
pub(crate) const JOURNAL: TableDefinition<u32, &[u8]> = TableDefinition::new("journal");

/// One committed batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalRow {
    /// When the batch was written (the writer's clock, µs).
    pub at: i64,
    /// Who wrote it.
    pub actor: String,
    /// Log entries it added.
    pub count: u64,
    /// blake3 of those entries in the canonical order (see [`BatchHash`]).
    pub batch: [u8; 32],
    /// The previous record's hash; zeros for the first.
    pub prev: [u8; 32],
}

impl JournalRow {
    /// This record's hash: what the next record's `prev` and `head` show.
    pub fn hash(&self, seq: u32) -> Result<[u8; 32]> {
        let mut h = blake3::Hasher::new_derive_key("ociledger journal record v1");
        h.update(&seq.to_le_bytes());
        h.update(&rows::encode(self)?);
        Ok(*h.finalize().as_bytes())
    }
}

/// The hash of one batch's log entries, fed in the canonical order: by tag
/// number, then as the log orders them (instant, then digest). That is the
/// order of the `tag_log` table, so `verify` recomputes every batch's hash
/// in one pass over it, holding 32 bytes per batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchHash([u8; 32]);

impl BatchHash {
    pub fn new(seq: u32) -> Self {
        let mut h = blake3::Hasher::new_derive_key("ociledger journal batch v1");
        h.update(&seq.to_le_bytes());
        Self(*h.finalize().as_bytes())
    }

    pub fn add(&mut self, tag: u32, entry: &LogEntry) {
        // On the stack: a buffer per entry was 1 % of an ingest.
        let mut bytes = [0u8; 32 + 4 + LogEntry::HASH_FORM_MAX];
        let (form, n) = entry.hash_form();
        bytes[..32].copy_from_slice(&self.0);
        bytes[32..36].copy_from_slice(&tag.to_le_bytes());
        bytes[36..].copy_from_slice(&form);
        let len = 36 + n;
        self.0 = *blake3::hash(bytes.get(..len).unwrap_or(&bytes)).as_bytes();
    }

    pub fn finish(self) -> [u8; 32] {
        self.0
    }
}

/// The last record as `head` shows it: number, written on (µs), written
/// by, hash.
pub(crate) type Head = (u32, i64, String, [u8; 32]);

/// The last record: its sequence number and hash.
pub(crate) fn head(
    table: &impl ReadableTable<u32, &'static [u8]>,
) -> Result<Option<(u32, JournalRow, [u8; 32])>> {
    let Some(row) = table.last()? else {
        return Ok(None);
    };
    let (k, v) = row;
    let seq = k.value();
    let row: JournalRow = rows::decode_row("journal", seq, v.value())?;
    let hash = row.hash(seq)?;
    Ok(Some((seq, row, hash)))
}

/// Record `seq`.
pub(crate) fn record(
    table: &impl ReadableTable<u32, &'static [u8]>,
    seq: u32,
) -> Result<JournalRow> {
    let row = table.get(seq)?.ok_or_else(|| {
        Error::Corrupt(format!(
            "table journal: batch {seq}, named by the move log, has no record"
        ))
    })?;
    rows::decode_row("journal", seq, row.value())
}

/// The journal side of one write transaction: the batch's number, its
/// author, and the entries it adds (hashed and recorded at the end).
pub(crate) struct JournalWriter<'t> {
    table: Table<'t, u32, &'static [u8]>,
    /// This transaction's batch number.
    pub seq: u32,
    prev: [u8; 32],
    author: Option<(String, i64)>,
    added: Vec<(u32, LogEntry)>,
}

impl<'t> JournalWriter<'t> {
    pub fn open(txn: &'t redb::WriteTransaction) -> Result<Self> {
        let table = txn.open_table(JOURNAL)?;
        let (seq, prev) = match head(&table)? {
            Some((last, _, hash)) => (
                last.checked_add(1)
                    .ok_or_else(|| Error::Corrupt("journal sequence numbers exhausted".into()))?,
                hash,
            ),
            None => (1, [0; 32]),
        };
        Ok(Self {
            table,
            seq,
            prev,
            author: None,
            added: Vec::new(),
        })
    }

    /// The journal table, as this transaction has it so far.
    pub fn table(&self) -> &Table<'t, u32, &'static [u8]> {
        &self.table
    }

    /// Notes an entry tag `tag`'s log gained in this batch, written by
    /// `actor` at `now` (µs). A transaction has one author.
    /// Room for `entries` more notes.
    pub fn reserve(&mut self, entries: usize) {
        self.added.reserve(entries);
    }

    pub fn note(&mut self, tag: u32, entry: LogEntry, actor: &str, now: i64) -> Result<()> {
        match &self.author {
            None => self.author = Some((actor.to_owned(), now)),
            Some((a, t)) if a == actor && *t == now => {}
            Some((a, t)) => {
                return Err(Error::Corrupt(format!(
                    "one batch written by two authors: {a:?} at {t} and {actor:?} at {now}"
                )));
            }
        }
        self.added.push((tag, entry));
        Ok(())
    }

    /// Appends the batch's record, if it added anything to the log.
    pub fn finish(&mut self) -> Result<()> {
        let Some((actor, at)) = self.author.take() else {
            return Ok(());
        };
        let mut added = std::mem::take(&mut self.added);
        added.sort_unstable_by_key(|(tag, e)| (*tag, e.key()));
        let mut hash = BatchHash::new(self.seq);
        for (tag, e) in &added {
            hash.add(*tag, e);
        }
        let row = JournalRow {
            at,
            actor,
            count: added.len() as u64,
            batch: hash.finish(),
            prev: self.prev,
        };
        self.table
            .insert(self.seq, rows::encode(&row)?.as_slice())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::BatchHash;
    use crate::id::{Algorithm, Digest};
    use crate::store::log::LogEntry;

    /// Pins what a batch's hash means: stored journals are verified against
    /// it, so building its input differently (a stack buffer now, a heap
    /// one before) must feed blake3 the same bytes: the previous hash, the
    /// tag number (LE), the instant (LE), the batch number (LE), the
    /// algorithm byte (0 for a deletion) and the digest's bytes.
    #[test]
    fn a_batch_hash_is_blake3_of_the_documented_bytes() {
        let d = Digest::of(Algorithm::Sha512, &[7; 64]);
        let entries = [
            (
                3u32,
                LogEntry {
                    at: -5,
                    digest: Some(d),
                    seq: 9,
                },
            ),
            (
                4,
                LogEntry {
                    at: 1_700_000_000_000_000,
                    digest: None,
                    seq: 9,
                },
            ),
        ];
        let mut hash = BatchHash::new(9);
        let mut expected = hash.finish();
        for (tag, e) in &entries {
            hash.add(*tag, e);
            let mut bytes = expected.to_vec();
            bytes.extend_from_slice(&tag.to_le_bytes());
            bytes.extend_from_slice(&e.at.to_le_bytes());
            bytes.extend_from_slice(&e.seq.to_le_bytes());
            match e.digest {
                Some(d) => {
                    bytes.push(Algorithm::Sha512.compact_byte());
                    bytes.extend_from_slice(d.as_bytes());
                }
                None => bytes.push(0),
            }
            expected = *blake3::hash(&bytes).as_bytes();
            assert_eq!(hash.finish(), expected, "after tag {tag}");
        }
    }
}
