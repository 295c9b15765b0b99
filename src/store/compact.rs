//! Compaction's second half: every large table rewritten in key order.
//!
//! redb's `compact` moves live pages to the front of the file and truncates
//! it, but keeps each page as full as it was. Pages fill by half when keys
//! arrive in random order, which is how digests and tags arrive: about a
//! third of `tag_log`, `digest_index`, `tag_keys` and the relation tables
//! was free space inside pages at 10M references (`docs/benchmarks.md`). A
//! table copied in key order fills its pages; the copy replaces the table
//! in the same write transaction (one commit: readers see the old table or
//! the new one, and a crash leaves the old one), and the next `compact`
//! gives the old pages back.

use redb::{Database, Key, TableDefinition, TableHandle, Value, WriteTransaction};

use super::{
    CONFIG_MANIFESTS, CONFIGS, DIGEST_INDEX, JOURNAL, PARENTS, REPO_KEYS, REPOS, TAG_KEYS, TAG_LOG,
    TAGS, VIOLATIONS,
};
use crate::error::Result;

/// Rewrites the tables that grow with the history in key order, in one
/// write transaction. The small ones (templates, settings, integrations,
/// `meta`) are left as they are.
pub(super) fn refill(db: &Database) -> Result<()> {
    let txn = db.begin_write()?;
    rewrite(&txn, REPO_KEYS)?;
    rewrite(&txn, REPOS)?;
    rewrite(&txn, TAG_KEYS)?;
    rewrite(&txn, TAGS)?;
    rewrite(&txn, TAG_LOG)?;
    rewrite(&txn, JOURNAL)?;
    rewrite(&txn, DIGEST_INDEX)?;
    rewrite(&txn, PARENTS)?;
    rewrite(&txn, CONFIGS)?;
    rewrite(&txn, CONFIG_MANIFESTS)?;
    rewrite(&txn, VIOLATIONS)?;
    txn.commit()?;
    Ok(())
}

/// Copies `def` in key order into a new table, then puts the copy in its
/// place.
fn rewrite<K: Key + 'static, V: Value + 'static>(
    txn: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<()> {
    let name = format!("{}.refill", def.name());
    let copy: TableDefinition<K, V> = TableDefinition::new(&name);
    super::backup::copy_rows(&txn.open_table(def)?, &mut txn.open_table(copy)?)?;
    txn.delete_table(def)?;
    txn.rename_table(copy, def)?;
    Ok(())
}
