//! The move log: every distinct observation of every tag, packed into
//! chunks of one tag's entries, and the references it implies.
//!
//! Schema 5 kept one B-tree key per observation (`moves`) and one row per
//! (tag, digest) reference (`refs`): two inserts and about 180 file bytes
//! per reference, mostly redb's per-entry overhead. A tag is written as a
//! whole anyway (`Writer::apply` reads its log once per batch), so its
//! entries are stored side by side, at most [`MAX_CHUNK`] to a row, and a
//! reference is derived from them: its first observation is the earliest
//! entry of its digest, and who created it and when is the journal record of
//! the batch that first recorded it (each entry carries that batch's
//! sequence number).
//!
//! Key: `(tag number, instant of the chunk's first entry)`. Value: entries
//! of `8 (instant, i64 LE) + 4 (batch sequence, u32 LE) + 1 (algorithm byte,
//! 0 for a deletion) + digest bytes`, in log order: by instant, then by
//! digest ("deleted" first). Chunks of one tag never overlap, so the key
//! range of a tag read in order is its log in order, and the entry in force
//! at an instant is in the last chunk that starts at or before it.

use std::ops::Bound;

use redb::{ReadableTable, Table, TableDefinition};

use crate::error::{Error, Result};
use crate::id::{Algorithm, Digest};

/// (tag number, first instant of the chunk) → packed entries.
pub(crate) const TAG_LOG: TableDefinition<(u32, i64), &[u8]> = TableDefinition::new("tag_log");

/// At most this many entries in one chunk when a chunk is written: almost
/// every tag (3.5 entries on average in the real histories) is one row, and
/// a full chunk of sha256 entries (720 bytes) leaves little of a 4 KiB page
/// unused. With 64 (up to 2.9 KB a chunk) a page that held one long chunk
/// had no room for the next, and 14 % of `tag_log`'s bytes were free space;
/// 16 makes the compacted file 3.5 % smaller and ingest no slower (see
/// `docs/benchmarks.md`). A policy, not the format: readers accept chunks
/// of any length, and a longer one is split when it is next written.
pub(crate) const MAX_CHUNK: usize = 16;

/// Bytes of an entry before its digest: instant, batch sequence, algorithm.
const HEAD: usize = 13;

/// One observation of a tag, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogEntry {
    /// Microseconds since the epoch.
    pub at: i64,
    /// The digest, or `None` for a deletion.
    pub digest: Option<Digest>,
    /// The journal sequence number of the batch that recorded it.
    pub seq: u32,
}

impl LogEntry {
    /// The log's order: instant, then digest ("deleted" first).
    pub fn key(&self) -> (i64, Option<Digest>) {
        (self.at, self.digest)
    }

    /// Appends the stored form.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.at.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        match &self.digest {
            Some(d) => d.write_compact(out),
            None => out.push(0),
        }
    }
}

/// One stored chunk of a tag's log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunk {
    /// The key it is stored under (`None`: not stored yet).
    pub stored_at: Option<i64>,
    pub entries: Vec<LogEntry>,
    /// Changed since it was read.
    pub dirty: bool,
}

/// Decodes a chunk's value; `place` names it in errors.
pub(crate) fn decode(bytes: &[u8], place: &dyn std::fmt::Display) -> Result<Vec<LogEntry>> {
    let mut out = Vec::with_capacity(bytes.len() / (HEAD + 32));
    let mut rest = bytes;
    while !rest.is_empty() {
        let damaged = |what: &str| {
            Error::Corrupt(format!(
                "{place}: entry {} (byte {}): {what}",
                out.len(),
                bytes.len() - rest.len()
            ))
        };
        let (head, tail) = rest
            .split_at_checked(HEAD)
            .ok_or_else(|| damaged("cut short"))?;
        let (at, head) = head.split_at(8);
        let (seq, alg) = head.split_at(4);
        let at = i64::from_le_bytes(at.try_into().unwrap_or_default());
        let seq = u32::from_le_bytes(seq.try_into().unwrap_or_default());
        let alg = alg.first().copied().unwrap_or(0);
        let (digest, tail) = if alg == 0 {
            (None, tail)
        } else {
            let algorithm = Algorithm::from_compact_byte(alg)
                .ok_or_else(|| damaged(&format!("unknown algorithm byte {alg}")))?;
            let (raw, tail) = tail
                .split_at_checked(algorithm.digest_len())
                .ok_or_else(|| damaged("digest cut short"))?;
            let digest =
                Digest::from_raw(algorithm, raw).map_err(|e| damaged(&format!("digest: {e}")))?;
            (Some(digest), tail)
        };
        let entry = LogEntry { at, digest, seq };
        if let Some(last) = out.last()
            && LogEntry::key(last) >= entry.key()
        {
            return Err(damaged("out of order"));
        }
        out.push(entry);
        rest = tail;
    }
    if out.is_empty() {
        return Err(Error::Corrupt(format!("{place}: an empty chunk")));
    }
    Ok(out)
}

/// Encodes a chunk's entries.
pub(crate) fn encode(entries: &[LogEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * (HEAD + 33));
    for e in entries {
        e.encode_into(&mut out);
    }
    out
}

/// The key range of one tag's chunks.
type TagRange = (Bound<(u32, i64)>, Bound<(u32, i64)>);

fn range_of(tag: u32) -> TagRange {
    (
        Bound::Included((tag, i64::MIN)),
        Bound::Included((tag, i64::MAX)),
    )
}

/// Tag `tag`'s chunks in order, checked: each starts at its key, and each
/// starts after the one before ends.
pub(crate) fn read_chunks(
    table: &impl ReadableTable<(u32, i64), &'static [u8]>,
    tag: u32,
) -> Result<Vec<Chunk>> {
    let mut chunks: Vec<Chunk> = Vec::new();
    for row in table.range::<(u32, i64)>(range_of(tag))? {
        let (k, v) = row?;
        let (_, start) = k.value();
        let place = format_args!("table tag_log, tag number {tag}, chunk at {start}");
        let entries = decode(v.value(), &place)?;
        let first = entries.first().map_or(i64::MIN, |e| e.at);
        if first != start {
            return Err(Error::Corrupt(format!(
                "{place}: its first entry is at {first}"
            )));
        }
        // One instant's entries are never split across chunks.
        if let Some(prev) = chunks.last().and_then(|c| c.entries.last())
            && prev.at >= first
        {
            return Err(Error::Corrupt(format!(
                "{place}: overlaps the chunk before it"
            )));
        }
        chunks.push(Chunk {
            stored_at: Some(start),
            entries,
            dirty: false,
        });
    }
    Ok(chunks)
}

/// Tag `tag`'s whole log, in order.
pub(crate) fn read_log(
    table: &impl ReadableTable<(u32, i64), &'static [u8]>,
    tag: u32,
) -> Result<Vec<LogEntry>> {
    Ok(read_chunks(table, tag)?
        .into_iter()
        .flat_map(|c| c.entries)
        .collect())
}

/// The entry in force at instant `t` (the last one at or before it): one
/// descent to the chunk that holds it. The chunk's key is checked against
/// its first entry, and when no chunk starts at or before `t`, so is the
/// next one's: a key that lies about its chunk would otherwise answer
/// "nothing in force" without a word.
pub(crate) fn in_force(
    table: &impl ReadableTable<(u32, i64), &'static [u8]>,
    tag: u32,
    t: i64,
) -> Result<Option<LogEntry>> {
    let chunk_at = |start: i64, bytes: &[u8]| -> Result<Vec<LogEntry>> {
        let place = format_args!("table tag_log, tag number {tag}, chunk at {start}");
        let entries = decode(bytes, &place)?;
        match entries.first() {
            Some(first) if first.at == start => Ok(entries),
            _ => Err(Error::Corrupt(format!(
                "{place}: its first entry is elsewhere"
            ))),
        }
    };
    let before = table
        .range::<(u32, i64)>((Bound::Included((tag, i64::MIN)), Bound::Included((tag, t))))?
        .next_back();
    if let Some(row) = before {
        let (k, v) = row?;
        let entries = chunk_at(k.value().1, v.value())?;
        return Ok(entries.into_iter().rfind(|e| e.at <= t));
    }
    if let Some(row) = table
        .range::<(u32, i64)>((Bound::Excluded((tag, t)), Bound::Included((tag, i64::MAX))))?
        .next()
    {
        let (k, v) = row?;
        chunk_at(k.value().1, v.value())?;
    }
    Ok(None)
}

/// Inserts `entry` into the chunks (in memory) unless it is an exact repeat
/// of one already there; returns whether it did.
pub(crate) fn insert(chunks: &mut Vec<Chunk>, entry: LogEntry) -> bool {
    let key = entry.key();
    // The last chunk starting at or before the entry, else the first.
    let i = chunks
        .partition_point(|c| c.entries.first().is_some_and(|f| f.at <= entry.at))
        .saturating_sub(1);
    let Some(chunk) = chunks.get_mut(i) else {
        chunks.push(Chunk {
            stored_at: None,
            entries: vec![entry],
            dirty: true,
        });
        return true;
    };
    let pos = chunk.entries.partition_point(|e| e.key() < key);
    if chunk.entries.get(pos).is_some_and(|e| e.key() == key) {
        return false;
    }
    chunk.entries.insert(pos, entry);
    chunk.dirty = true;
    true
}

/// Writes the chunks that changed: a chunk whose first instant moved is
/// stored under its new key, and one grown past [`MAX_CHUNK`] is split at an
/// instant boundary (one instant's entries never span two chunks, so keys
/// stay unique).
pub(crate) fn write_chunks(
    table: &mut Table<'_, (u32, i64), &'static [u8]>,
    tag: u32,
    chunks: &[Chunk],
) -> Result<()> {
    for chunk in chunks.iter().filter(|c| c.dirty) {
        let Some(first) = chunk.entries.first() else {
            continue;
        };
        if let Some(old) = chunk.stored_at
            && old != first.at
        {
            table.remove((tag, old))?;
        }
        let mut rest = chunk.entries.as_slice();
        while !rest.is_empty() {
            let cut = split_point(rest);
            let (piece, tail) = rest.split_at(cut);
            let start = piece.first().map_or(i64::MIN, |e| e.at);
            table.insert((tag, start), encode(piece).as_slice())?;
            rest = tail;
        }
    }
    Ok(())
}

/// How many of `entries` go into the next chunk: all when they fit, else
/// half of a full chunk's worth, moved to the nearest instant boundary.
fn split_point(entries: &[LogEntry]) -> usize {
    if entries.len() <= MAX_CHUNK {
        return entries.len();
    }
    let mut cut = MAX_CHUNK / 2;
    while cut < entries.len() && entries[cut].at == entries[cut - 1].at {
        cut += 1;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest::of(Algorithm::Sha256, &[n; 32])
    }

    fn e(at: i64, n: Option<u8>) -> LogEntry {
        LogEntry {
            at,
            digest: n.map(d),
            seq: 7,
        }
    }

    #[test]
    fn chunks_round_trip_and_refuse_damage() {
        let entries = vec![e(1, None), e(1, Some(2)), e(5, Some(1))];
        let bytes = encode(&entries);
        assert_eq!(decode(&bytes, &"t").unwrap(), entries);
        assert!(decode(&bytes[..bytes.len() - 1], &"t").is_err(), "cut");
        assert!(decode(&[], &"t").is_err(), "empty chunk");
        let mut swapped = encode(&[e(5, Some(1))]);
        swapped.extend(encode(&[e(1, None)]));
        assert!(decode(&swapped, &"t").is_err(), "out of order");
        let mut bad = encode(&[e(1, Some(1))]);
        bad[12] = 9;
        assert!(decode(&bad, &"t").is_err(), "unknown algorithm");
    }

    /// Guards chunk keys: a split must never put one instant's entries in
    /// two chunks, or two chunks would share a key and one would be lost.
    #[test]
    fn a_full_chunk_splits_at_an_instant_boundary() {
        let full = i64::try_from(MAX_CHUNK).unwrap();
        let mut entries: Vec<LogEntry> = (0..full).map(|t| e(t, Some(1))).collect();
        entries.insert(MAX_CHUNK / 2, e(full / 2 - 1, Some(2)));
        let cut = split_point(&entries);
        assert!(cut > MAX_CHUNK / 2);
        assert_ne!(entries[cut].at, entries[cut - 1].at);
    }

    #[test]
    fn insert_skips_exact_repeats_and_keeps_order() {
        let mut chunks = Vec::new();
        assert!(insert(&mut chunks, e(5, Some(1))));
        assert!(insert(&mut chunks, e(3, Some(1))));
        assert!(!insert(&mut chunks, e(5, Some(1))));
        assert!(insert(&mut chunks, e(5, None)));
        let keys: Vec<_> = chunks[0].entries.iter().map(LogEntry::key).collect();
        assert_eq!(keys, vec![(3, Some(d(1))), (5, None), (5, Some(d(1)))]);
    }
}
