//! The writer's operations on the whole file: compaction, redb's integrity
//! check, the backup copy, and the reopening after an I/O error. They take
//! the `Database` for themselves (redb runs the first two on
//! `&mut Database`), or close and open it, so they are kept apart from the
//! ordinary views and writes.

use std::path::Path;

use redb::{Database, ReadableDatabase};

use super::format::{check, open_error};
use super::{Handle, Store, builder, closed, guard};
use crate::error::{Error, Result};
use crate::store::compact;

/// At most this many rewrites of the tables per compaction (each needs
/// room for a copy of them and time: a whole call at 10M references took
/// 1.5 to 4 minutes on the machine of `docs/benchmarks.md`). One is enough for a
/// file whose pages redb could all move; a second was needed after a large
/// recording of relations (`compact::another_round`); a third is a bound,
/// not a need seen.
const REFILL_ROUNDS: usize = 3;

impl Store {
    /// After an I/O error (a full disk, a failing one) redb refuses every
    /// later operation of that `Database`: "Previous I/O error occurred.
    /// Please close and re-open the database." A writer on a file does that
    /// itself, so that the next write works once the disk does: it drops the
    /// `Database` (which closes the file and releases its locks; snapshots
    /// taken before fail from then on with "Database has been closed") and
    /// opens the file again as [`Store::open`] does, format check included;
    /// redb's open repairs what the failed commit left. Nothing committed is
    /// lost (commits are durable). The tag-name cache stays right: the failed
    /// write took its names back out, and names of a commit that turned out
    /// durable although it reported an error are read from the file by the
    /// next view, as another process's are.
    ///
    /// Called with the exclusive lock, so nothing begins a transaction
    /// meanwhile. If another thread already reopened the file (a `Database`
    /// that still begins a write), it is kept. If the open fails (the disk
    /// still fails), the slot stays empty and the next operation tries again.
    /// In memory or on a caller's backend there is nothing to reopen
    /// ([`Store::with_backend`]): a no-op.
    pub(super) fn recover(&self, slot: &mut Option<Database>) -> Result<()> {
        if !self.reopens {
            return Ok(());
        }
        if slot.as_ref().is_some_and(|db| db.begin_write().is_ok()) {
            return Ok(());
        }
        // Closed before the open: the file's locks allow one writer handle.
        *slot = None;
        let db = builder()
            .open(&self.path)
            .map_err(|e| open_error(&self.path, e))?;
        check(&db.begin_read()?, &self.path)?;
        *slot = Some(db);
        Ok(())
    }

    /// Compacts the file; fails with [`Error::Busy`] while a view or a
    /// write of this process is open.
    pub fn compact(&self) -> Result<()> {
        guard(&self.path, || self.compact_unguarded())
    }

    fn compact_unguarded(&self) -> Result<()> {
        let Handle::Writer(slot) = &self.handle else {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                operation: "compact",
            });
        };
        // redb compacts only with no read transaction open.
        self.memory.stop_refresh();
        let mut guard = self.database_mut(slot)?;
        let result = guard.as_mut().ok_or_else(closed).and_then(|db| {
            // First as redb does it: refused while a snapshot is open, before
            // anything is rewritten (the rewrite alone would grow the file).
            // With this lock held, no snapshot of this process begins meanwhile.
            compact_pages(db)?;
            for _ in 0..REFILL_ROUNDS {
                compact::refill(db)?;
                compact_pages(db)?;
                if !compact::another_round(self.file_bytes(), compact::table_bytes(db)?) {
                    break;
                }
            }
            Ok(())
        });
        // The rewrite is a write transaction: after an I/O error (a disk
        // too full for the copy) it changed nothing, and the file is
        // reopened as after a failed write.
        if let Err(Error::Storage(e)) = &result
            && e.is_io()
        {
            let _ = self.recover(&mut guard);
        }
        result
    }

    /// redb's own integrity check (page checksums and the allocator's
    /// state), for `verify`: `Some(passed)` from the writing process,
    /// `None` from a reader, which cannot take the file for itself.
    /// Fails with [`Error::Busy`] while a view or write of this process is
    /// open, as `compact` does.
    pub fn check_integrity(&self) -> Result<Option<bool>> {
        guard(&self.path, || {
            let Handle::Writer(slot) = &self.handle else {
                return Ok(None);
            };
            let mut guard = self.database_mut(slot)?;
            let db = guard.as_mut().ok_or_else(closed)?;
            match db.check_integrity() {
                Ok(passed) => Ok(Some(passed)),
                Err(redb::DatabaseError::TransactionInProgress) => Err(Error::Busy {
                    operation: "verify",
                    reason: "snapshots or a write of this ledger are still open; drop them first"
                        .to_owned(),
                }),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Writes a consistent copy of the last commit to the new file `dest`,
    /// from one read transaction: writers go on meanwhile (`backup.rs`).
    pub fn backup(&self, dest: &Path) -> Result<crate::store::backup::BackupReport> {
        guard(&self.path, || {
            crate::store::backup::write(&self.begin_read()?, dest, &builder())
        })
    }
}

/// redb's compaction to the end: live pages moved to the front, the file
/// truncated.
fn compact_pages(db: &mut Database) -> Result<()> {
    loop {
        match db.compact() {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(redb::CompactionError::TransactionInProgress) => {
                return Err(Error::Busy {
                    operation: "compact",
                    reason: "snapshots or a write of this ledger are still open; drop them first"
                        .to_owned(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
}
