//! `verify` and `head`: whether the file is whole and its tables agree, and
//! the tamper-evident journal's latest hash.

use serde::Serialize;

use super::{Ledger, Snapshot};
use crate::error::Result;
use crate::model::Timestamp;
pub use crate::store::{Findings, Verification};

/// The latest journal record: what an auditor or a replica compares.
///
/// Every committed batch that added to the move log appends a record
/// (sequence number, time, actor, entry count, the blake3 hash of the
/// batch's entries, the previous record's hash). [`Ledger::verify`]
/// recomputes every batch's hash from the move log and the chain from the
/// records, so an edit of history that does not also rewrite every later
/// record shows; one that does shows as a `hash` different from one
/// written down earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// The batch's sequence number (1 for the first).
    pub sequence: u32,
    /// When it was written.
    pub written_on: Timestamp,
    /// Who wrote it.
    pub written_by: String,
    /// The record's hash, hex: it covers every record before it.
    pub hash: String,
}

/// What [`Ledger::verify`] checked and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// redb's own check of the file (page checksums, allocator state):
    /// `Some(passed)` when run, `None` from a read-only handle, which cannot
    /// take the file for itself while a writer may have it.
    pub engine_check: Option<bool>,
    /// The cross-table checks.
    #[serde(flatten)]
    pub tables: Verification,
}

impl VerifyReport {
    /// Nothing found and, where run, the engine's check passed.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.engine_check != Some(false) && self.tables.is_clean()
    }
}

impl Snapshot {
    /// Checks every invariant that ties the tables together, as of this
    /// snapshot: the digest index equals the intervals the move log implies,
    /// `tag_keys` and the tag rows name each other, every row decodes, relations carry the
    /// flags lookups follow, and the journal's chain and batch hashes match
    /// the log. Damage is reported as findings, not as an error.
    ///
    /// Reads the whole file: minutes at 10M references.
    ///
    /// # Errors
    /// Storage errors that stop the reading itself.
    pub fn verify(&self) -> Result<Verification> {
        self.view.guarded(crate::store::View::verify)
    }

    /// The latest journal record, or `None` before the first batch.
    ///
    /// # Errors
    /// Storage errors; [`crate::Error::Corrupt`] for a damaged record.
    pub fn head(&self) -> Result<Option<Head>> {
        self.view.guarded(|view| {
            let Some((sequence, at, actor, hash)) = view.head()? else {
                return Ok(None);
            };
            Ok(Some(Head {
                sequence,
                written_on: crate::store::from_micros(at)?,
                written_by: actor,
                hash: blake3::Hash::from_bytes(hash).to_hex().to_string(),
            }))
        })
    }
}

impl Ledger {
    /// Verifies the file: redb's integrity check (from the writing
    /// process), then [`Snapshot::verify`].
    ///
    /// ```
    /// # fn main() -> ociledger::Result<()> {
    /// let ledger = ociledger::Ledger::in_memory()?;
    /// assert!(ledger.verify()?.is_clean());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::Busy`] while a snapshot of this ledger is open (the
    /// engine's check needs the file to itself); storage errors.
    pub fn verify(&self) -> Result<VerifyReport> {
        let engine_check = self.store.check_integrity()?;
        Ok(VerifyReport {
            engine_check,
            tables: self.snapshot()?.verify()?,
        })
    }

    /// The latest journal record (see [`Head`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn head(&self) -> Result<Option<Head>> {
        self.snapshot()?.head()
    }
}
