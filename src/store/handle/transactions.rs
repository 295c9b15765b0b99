//! Views and writes: every read and write transaction begins here, so the
//! tag-name cache and the digest index's copy in memory stay in step with
//! what the file holds, and a failed write leaves both as they were.

use std::sync::{Arc, PoisonError, RwLock};

use redb::{Database, ReadableTableMetadata};

use super::{Handle, Store, guard};
use crate::error::{Error, Result};
use crate::store::memory::CopyStats;
use crate::store::numbers::TagNumbers;
use crate::store::read::View;
use crate::store::write::Writer;
use crate::store::{REPOS, TAGS, rows};

impl Store {
    /// A consistent view of the last commit. Tags created since the cache
    /// last grew (by another process: this process's own writes extend it
    /// before they commit) are named from their rows first.
    pub fn view(&self) -> Result<View> {
        guard(&self.path, || self.view_unguarded())
    }

    fn view_unguarded(&self) -> Result<View> {
        let txn = self.begin_read()?;
        let tags = txn.open_table(TAGS)?;
        let known = self.names.len();
        let in_file = usize::try_from(tags.len()?).unwrap_or(usize::MAX);
        if in_file > known {
            let repos = txn.open_table(REPOS)?;
            let start = u32::try_from(known)
                .map_err(|_| Error::Corrupt(format!("tag number {known} out of range")))?;
            let new = rows::tag_ids_from(&tags, &repos, start)?;
            self.names.extend_from(known, new);
        }
        drop(tags);
        let memory = self
            .memory
            .for_view(&txn, || self.begin_read(), &self.path)?;
        View::new(txn, &self.names, &self.path, memory)
    }

    /// Runs `op` in one write transaction; commits only if it succeeds.
    pub fn write<T>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        guard(&self.path, || self.write_unguarded(operation, op))
    }

    fn write_unguarded<T>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let Handle::Writer(slot) = &self.handle else {
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                operation,
            });
        };
        let result = self.write_once(slot, op);
        // An I/O error at any point (beginning, writing, committing) leaves
        // redb refusing every later write: reopen the file now, so the next
        // write works once the disk does. This write still fails, and
        // changed nothing. If the reopen fails too, the next operation
        // retries it (`database`); its error is not this write's.
        if let Err(Error::Storage(e)) = &result
            && e.is_io()
        {
            let _ = self.recover(&mut slot.write().unwrap_or_else(PoisonError::into_inner));
        }
        result
    }

    /// One write transaction of [`Store::write`], dropped (rolled back)
    /// unless it commits.
    fn write_once<T>(
        &self,
        slot: &RwLock<Option<Database>>,
        op: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let txn = self.database(slot)?.begin_write()?;
        let (value, new_names) = {
            let mut writer = Writer::open(&txn)?;
            writer.take_names(&self.names)?;
            writer.take_numbers(self.numbers());
            let value = op(&mut writer)?;
            writer.finish()?;
            (value, std::mem::take(&mut writer.new_names))
        };
        // Names go in before the commit makes their numbers visible to readers.
        let before = self.names.len();
        self.names.extend_from(before, new_names);
        if let Err(e) = txn.commit() {
            self.names.truncate(before);
            return Err(e.into());
        }
        Ok(value)
    }

    /// The process's map of tag IDs to numbers, extended to every name it
    /// knows (`numbers.rs`): a write holds the file's write lock, so the
    /// map is the last writer's, not copied.
    fn numbers(&self) -> Arc<TagNumbers> {
        let mut held = self.numbers.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::make_mut(&mut held).extend(&self.names.current());
        Arc::clone(&held)
    }

    /// Copies the digest index into memory now, for later views to use.
    pub fn load_index_copy(&self) -> Result<CopyStats> {
        guard(&self.path, || self.memory.load(&self.begin_read()?))
    }

    /// Drops the copy of the digest index.
    pub fn release_index_copy(&self) {
        self.memory.release();
    }

    /// The copy's figures and the last background rebuild's error.
    pub fn index_copy(&self) -> Option<(CopyStats, Option<String>)> {
        self.memory.stats()
    }

    /// A view of the latest commit that reads the file, never the copy:
    /// what the copy's answers are checked against.
    #[cfg(test)]
    pub fn file_view(&self) -> Result<View> {
        drop(self.view()?);
        View::new(self.begin_read()?, &self.names, &self.path, None)
    }

    /// The digest index's version mark and every row, for the test that
    /// the mark moves whenever a row does.
    #[cfg(test)]
    #[allow(clippy::type_complexity)] // a test's view of raw rows
    pub fn index_mark_and_rows(
        &self,
    ) -> Result<(crate::store::changes::Mark, Vec<(u64, Vec<u8>)>)> {
        use crate::store::DIGEST_INDEX;
        use redb::ReadableTable;
        let txn = self.begin_read()?;
        let mark = crate::store::changes::Mark::of(&txn)?;
        let mut rows = Vec::new();
        for row in txn.open_table(DIGEST_INDEX)?.iter()? {
            let (k, v) = row?;
            rows.push((k.value(), v.value().to_vec()));
        }
        Ok((mark, rows))
    }
}
