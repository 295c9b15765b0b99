//! The raw redb baseline of the lookup bench: its file (`raw.redb`: the
//! engine's limit, a point get with none of the ledger's records, names or
//! decoding, plus two layouts for the lookup breakdown), written once, and
//! its lookups over the breakdown's layouts.
//!
//! Since ledger schema 4 the ledger's digest index also holds a key for every
//! platform manifest and config its relations flag (most of them untagged:
//! a value of just the flag byte). [`RAW_TABLE`] and [`RAW_PACKED`] hold the
//! same keys, so the baseline searches a B-tree of the same number of keys as
//! the ledger does; [`RAW_PACKED`] values carry the same trailing flag byte
//! (`len % 20 == 1`), which [`packed_lookup`] skips. [`RAW_INDEX`] (the
//! schema-1 layout, one key per interval) has no relation keys.

use std::path::Path;
use std::sync::Arc;

use ociledger::id::{Digest, TagId};
use ociledger::model::TagMatch;

use crate::base::micros_to_ts;
use crate::rows::{DigestIndex, OPEN, Row};

/// Compact digest → `count << 32 | tag number` of one row per digest
/// (`0` for a digest known only through a relation).
pub const RAW_TABLE: redb::TableDefinition<&[u8], u64> = redb::TableDefinition::new("digest");
/// In the same raw file, for the breakdown: the ledger's digest-index key layout,
/// (compact digest, tag number, since) → until, every row.
pub const RAW_INDEX: redb::TableDefinition<(&[u8], u32, i64), i64> =
    redb::TableDefinition::new("digest_index");
/// In the same raw file, a prototype of a one-row-per-digest index: compact
/// digest → every (tag u32, since i64, until i64) entry, 20 bytes each, little
/// endian, already in answer order (current first, newest first, then tag name),
/// then the ledger's flag byte if the digest is a platform manifest or a config.
pub const RAW_PACKED: redb::TableDefinition<&[u8], &[u8]> =
    redb::TableDefinition::new("digest_packed");

/// Writes the three tables at `path`, with the digests the relations flag
/// (`flagged`, sorted) in the first and the third; returns the number of
/// distinct tagged digests.
#[must_use]
pub fn build(index: &DigestIndex, flagged: &[(Digest, u8)], path: &Path) -> u64 {
    let rows = &index.rows;
    let flags = |d: &Digest| {
        flagged
            .binary_search_by(|f| f.0.cmp(d))
            .map_or(0, |i| flagged[i].1)
    };
    // Flagged digests with no interval: keys of their own.
    let flag_only: Vec<(Digest, u8)> = flagged
        .iter()
        .filter(|f| index.count(&f.0) == 0)
        .copied()
        .collect();
    let db = redb::Database::create(path).expect("create raw redb");
    let txn = db.begin_write().expect("write txn");
    let mut distinct = 0;
    {
        let mut table = txn.open_table(RAW_TABLE).expect("table");
        for group in rows.chunk_by(|a, b| a.digest == b.digest) {
            let newest = group.iter().max_by_key(|r| r.since).expect("non-empty");
            let (buf, len) = group[0].digest.compact_array();
            table
                .insert(
                    &buf[..len],
                    ((group.len() as u64) << 32) | u64::from(newest.tag),
                )
                .expect("insert");
            distinct += 1;
        }
        for (d, _) in &flag_only {
            let (buf, len) = d.compact_array();
            table.insert(&buf[..len], 0).expect("insert");
        }
        let mut table = txn.open_table(RAW_INDEX).expect("table");
        for r in rows {
            let (buf, len) = r.digest.compact_array();
            table
                .insert((&buf[..len], r.tag, r.since), r.until)
                .expect("insert");
        }
        let mut table = txn.open_table(RAW_PACKED).expect("table");
        let mut value = Vec::new();
        for group in rows.chunk_by(|a, b| a.digest == b.digest) {
            let mut entries: Vec<&Row> = group.iter().collect();
            entries.sort_by(|a, b| {
                (b.until == OPEN)
                    .cmp(&(a.until == OPEN))
                    .then(b.since.cmp(&a.since))
                    .then_with(|| {
                        // The ledger's tie order: by TagId (repository, then tag).
                        let id = |r: &Row| {
                            index.names[r.tag as usize]
                                .parse::<TagId>()
                                .expect("tag id")
                        };
                        id(a).cmp(&id(b))
                    })
            });
            value.clear();
            for r in entries {
                value.extend_from_slice(&r.tag.to_le_bytes());
                value.extend_from_slice(&r.since.to_le_bytes());
                value.extend_from_slice(&r.until.to_le_bytes());
            }
            let f = flags(&group[0].digest);
            if f != 0 {
                value.push(f);
            }
            let (buf, len) = group[0].digest.compact_array();
            table.insert(&buf[..len], value.as_slice()).expect("insert");
        }
        for (d, f) in &flag_only {
            let (buf, len) = d.compact_array();
            table.insert(&buf[..len], &[*f][..]).expect("insert");
        }
    }
    txn.commit().expect("commit");
    distinct
}

/// [`RAW_PACKED`] opened for reading.
pub type Packed = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// [`RAW_INDEX`] opened for reading.
pub type Index = redb::ReadOnlyTable<(&'static [u8], u32, i64), i64>;

/// The one-row-per-digest prototype: one point get, decode, names from memory
/// (direct matches only: a trailing flag byte is skipped, relations are not
/// followed).
#[inline]
#[must_use]
pub fn packed_lookup(table: &Packed, names: &[Arc<TagId>], d: &Digest) -> Vec<TagMatch> {
    let (buf, len) = d.compact_array();
    let Some(v) = table.get(&buf[..len]).expect("get") else {
        return Vec::new();
    };
    let value = v.value();
    // 20 × n bytes, or 20 × n + 1 with the flag byte.
    let bytes = match value.len() % 20 {
        0 => value,
        1 => &value[..value.len() - 1],
        n => panic!(
            "packed value of {} bytes ({n} past whole entries)",
            value.len()
        ),
    };
    let mut out = Vec::with_capacity(bytes.len() / 20);
    for e in bytes.chunks_exact(20) {
        let tag = u32::from_le_bytes(e[..4].try_into().expect("4"));
        let since = i64::from_le_bytes(e[4..12].try_into().expect("8"));
        let until = i64::from_le_bytes(e[12..].try_into().expect("8"));
        out.push(TagMatch {
            tag: names[tag as usize].clone(),
            current: until == OPEN,
            since: micros_to_ts(since),
            until: (until != OPEN).then(|| micros_to_ts(until)),
            via: None,
        });
    }
    out
}

/// The ledger's range scan with nothing around it: entries for `d`, values read.
#[inline]
#[must_use]
pub fn range_count(table: &Index, d: &Digest) -> (usize, i64) {
    let (buf, len) = d.compact_array();
    let key = &buf[..len];
    let mut n = 0;
    let mut acc = 0;
    for e in table
        .range((key, 0, i64::MIN)..=(key, u32::MAX, i64::MAX))
        .expect("range")
    {
        let (k, v) = e.expect("entry");
        acc ^= k.value().2 ^ v.value();
        n += 1;
    }
    (n, acc)
}
