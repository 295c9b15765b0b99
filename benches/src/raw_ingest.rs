//! The raw redb contender of the ingest bench: one row per observation
//! (compact digest → tag number, tags interned in a `HashMap`) in one redb
//! write transaction per batch. The engine's limit for the ingest path: none
//! of the ledger's logs, intervals or references.

use std::collections::HashMap;
use std::path::Path;

use ociledger::id::TagId;
use ociledger::model::Observation;

/// The contender's one table.
pub const RAW_INGEST: redb::TableDefinition<&[u8], u64> =
    redb::TableDefinition::new("observations");

/// A raw redb file that batches go into.
#[derive(Debug)]
pub struct RawIngest {
    db: redb::Database,
    tags: HashMap<TagId, u32>,
}

impl RawIngest {
    /// A new, empty file at `path`.
    #[must_use]
    pub fn create(path: &Path) -> Self {
        Self {
            db: redb::Database::create(path).expect("create the raw redb file"),
            tags: HashMap::new(),
        }
    }

    /// Inserts `batch` in one durable write transaction.
    pub fn apply(&mut self, batch: &[Observation]) {
        let txn = self.db.begin_write().expect("write");
        {
            let mut table = txn.open_table(RAW_INGEST).expect("table");
            for o in batch {
                let next = u32::try_from(self.tags.len()).expect("fits");
                let tag = *self.tags.entry(o.tag.clone()).or_insert(next);
                let (buf, len) = o.digest.compact_array();
                table.insert(&buf[..len], u64::from(tag)).expect("insert");
            }
        }
        txn.commit().expect("commit");
    }
}
