//! The file's size and the space in it: [`Ledger::stats`] and
//! [`Ledger::compact`]. Apart from the writes and queries because they are
//! about the file, not the ledger's content, and compaction takes the file
//! for itself.

use serde::Serialize;

use super::Ledger;
use crate::error::Result;

/// Database-wide figures, for `ociledger stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Row counts.
    #[serde(flatten)]
    pub counts: crate::Counts,
    /// File size in bytes (0 in memory).
    pub file_bytes: u64,
    /// Bytes the file occupies on disk (allocated blocks, on Unix; elsewhere
    /// the file size). redb grows a file by doubling (up to 4 GiB regions)
    /// and the new space is sparse until written, so right after
    /// [`Ledger::compact`] one small write can double `file_bytes` while
    /// `disk_bytes` hardly moves.
    pub disk_bytes: u64,
}

impl Ledger {
    /// Database-wide counts and the file size.
    ///
    /// # Errors
    /// Storage errors.
    pub fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            counts: self.snapshot()?.counts()?,
            file_bytes: self.store.file_bytes(),
            disk_bytes: self.store.disk_bytes(),
        })
    }

    /// Gives the file's free pages back to the file system.
    ///
    /// redb never overwrites a page a reader might still see: every write
    /// transaction copies the pages it changes, and the file keeps the space
    /// the old copies held for later writes. After a large import that space
    /// can be half the file (measured at 1M references: see
    /// `docs/benchmarks.md`); compacting moves the live pages down and
    /// truncates the file. Then it rewrites the tables that grow with the
    /// history in key order, in one write transaction, and compacts again:
    /// digests and tags arrive in random order and leave pages half full,
    /// which moving pages does not change (at 10M references: 200 bytes per
    /// reference after moving pages, 151 after the rewrite). redb stops
    /// moving pages at the first one it cannot move lower, so when the file
    /// is still far larger than its tables after that, the rewrite and the
    /// compaction run again, up to three times in all (after the relations
    /// of 10M references were recorded, one round left 3,194 MB for 2,001
    /// MB of tables; a second brought it to 2,002 MB). Nothing in the
    /// ledger changes; a crash during a rewrite leaves the tables as they
    /// were. A rewrite needs free disk space for a copy of those tables
    /// and memory for redb's write cache: at 10M references 53 s and a
    /// peak of 1.8 GB resident on the machine of `docs/benchmarks.md`.
    ///
    /// Works through a shared handle (`Arc<Ledger>`): it waits for a write
    /// in progress, and refuses with [`Error::Busy`](crate::Error::Busy) while a [`Snapshot`](crate::Snapshot) of
    /// this ledger is alive, because it moves pages that snapshot reads.
    ///
    /// ```
    /// # fn main() -> ociledger::Result<()> {
    /// # let dir = std::env::temp_dir().join(format!("ociledger-doc-compact-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).ok();
    /// let ledger = ociledger::Ledger::create(dir.join("tags.redb"))?;
    /// let c = ledger.compact()?;
    /// assert!(c.file_bytes_after <= c.file_bytes_before);
    /// # drop(ledger); std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Busy`](crate::Error::Busy) while a snapshot is open, [`Error::ReadOnly`](crate::Error::ReadOnly) on a
    /// read-only ledger, storage errors.
    pub fn compact(&self) -> Result<Compaction> {
        let file_bytes_before = self.store.file_bytes();
        self.store.compact()?;
        Ok(Compaction {
            file_bytes_before,
            file_bytes_after: self.store.file_bytes(),
        })
    }
}

/// What [`Ledger::compact`] did to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Compaction {
    /// File size before, in bytes (0 in memory).
    pub file_bytes_before: u64,
    /// File size after, in bytes (0 in memory).
    pub file_bytes_after: u64,
}
