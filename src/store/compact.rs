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

use redb::{
    Database, Key, ReadableDatabase, ReadableTableMetadata, TableDefinition, TableHandle, Value,
    WriteTransaction,
};

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

/// The bytes the file's tables take in their pages (rows, page metadata and
/// the free space inside pages): what a file compacted to the end holds,
/// besides redb's own system pages.
pub(super) fn table_bytes(db: &Database) -> Result<u64> {
    let txn = db.begin_read()?;
    let mut total = 0u64;
    for handle in txn.list_tables()? {
        let stats = txn.open_untyped_table(handle)?.stats()?;
        total = total
            .saturating_add(stats.stored_bytes())
            .saturating_add(stats.metadata_bytes())
            .saturating_add(stats.fragmented_bytes());
    }
    Ok(total)
}

/// The room redb's system pages and the last region's rounding may take
/// beyond the tables' pages in a file compacted to the end.
const SLACK_BYTES: u64 = 64 << 20;

/// Whether a file of `file_bytes` whose tables take `table_bytes` is still
/// far from compacted, so another rewrite and compaction is worth its
/// time. redb moves a page down only into a free block of its size below
/// it, and stops at the first page it cannot move: after the relations of
/// ten million references were recorded, one round left the file at 3,194
/// MB for 2,001 MB of tables, a second brought it to 2,002 MB.
pub(super) fn another_round(file_bytes: u64, table_bytes: u64) -> bool {
    file_bytes > table_bytes.saturating_add((table_bytes / 4).max(SLACK_BYTES))
}

#[cfg(test)]
mod tests {
    use redb::TableDefinition;
    use redb::backends::InMemoryBackend;

    use super::{another_round, table_bytes};

    const MB: u64 = 1 << 20;

    /// Guards the stop rule of `Store::compact`'s rounds: a file that
    /// holds its tables and a little more is done (else every compaction
    /// of a small file would rewrite it three times), one far larger than
    /// its tables gets another round (else the 10M file stayed at 3,194 MB).
    #[test]
    fn another_round_only_for_a_file_far_larger_than_its_tables() {
        assert!(another_round(3_194 * MB, 2_001 * MB));
        assert!(!another_round(2_002 * MB, 2_001 * MB));
        assert!(!another_round(1_139 * MB, 1_138 * MB));
        // Small files: redb's own pages are most of the file.
        assert!(!another_round(5 * MB, MB / 2));
        assert!(another_round(100 * MB, MB / 2));
        assert!(!another_round(0, 0));
    }

    /// Guards the measure the stop rule compares the file with: every
    /// table's pages counted (rows, page metadata, free space inside
    /// pages), none twice; an empty file counts nothing.
    #[test]
    fn table_bytes_counts_the_rows_of_every_table() {
        let db = redb::Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .expect("in-memory database");
        assert_eq!(table_bytes(&db).expect("empty"), 0);
        let txn = db.begin_write().expect("write");
        for name in ["a", "b"] {
            let def: TableDefinition<u32, &[u8]> = TableDefinition::new(name);
            let mut table = txn.open_table(def).expect("table");
            for i in 0..1000u32 {
                table.insert(i, [7u8; 100].as_slice()).expect("insert");
            }
        }
        txn.commit().expect("commit");
        let bytes = table_bytes(&db).expect("bytes");
        // 2 tables × 1000 rows × 104 bytes of key and value, in pages of
        // 4 KiB that are at least half full.
        assert!((208_000..=2 * 208_000).contains(&bytes), "{bytes}");
    }
}
