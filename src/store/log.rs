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
//! of `varint (microseconds since the entry before, or since the key for
//! the first) + varint (batch sequence) + 1 (algorithm byte, 0 for a
//! deletion) + digest bytes`, in log order: by instant, then by digest
//! ("deleted" first). The varints are postcard's (LEB128): a gap of a day
//! takes 6 bytes, a batch number below 16,384 two, so an entry's head is
//! about 8 bytes where fixed-width fields took 13 (schema 7). Chunks of one tag never overlap, so the key
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

/// Bytes of an entry's head at most: two varints (10 and 5) and the
/// algorithm byte. Used only to size buffers.
const HEAD: usize = 16;

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

    /// The longest [`LogEntry::hash_form`].
    pub const HASH_FORM_MAX: usize = 8 + 4 + Digest::MAX_COMPACT_LEN;

    /// The fixed-width form the journal hashes, in a buffer on the stack,
    /// and its length: instant (`i64` LE), batch sequence (`u32` LE),
    /// algorithm byte (0 for a deletion), digest bytes. Schema 6 stored
    /// entries this way; the hash kept it when the stored form changed, so
    /// a journal's hashes do not depend on how the log is packed.
    pub fn hash_form(&self) -> ([u8; Self::HASH_FORM_MAX], usize) {
        let mut out = [0u8; Self::HASH_FORM_MAX];
        out[..8].copy_from_slice(&self.at.to_le_bytes());
        out[8..12].copy_from_slice(&self.seq.to_le_bytes());
        // A deletion's algorithm byte is the 0 already there.
        let len = match &self.digest {
            Some(d) => {
                let (compact, n) = d.compact_array();
                out[12..].copy_from_slice(&compact);
                12 + n
            }
            None => 13,
        };
        (out, len)
    }

    fn digest_into(&self, out: &mut Vec<u8>) {
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

/// Decodes the value of the chunk stored under instant `start`; `place`
/// names it in errors.
pub(crate) fn decode(
    bytes: &[u8],
    start: i64,
    place: &dyn std::fmt::Display,
) -> Result<Vec<LogEntry>> {
    // A sha256 entry takes at least 35 bytes (gap, batch, algorithm, digest):
    // room for every entry of a chunk of them, never a regrowth.
    let mut out = Vec::with_capacity(bytes.len() / 35 + 1);
    walk(bytes, start, place, |e| out.push(e))?;
    Ok(out)
}

/// The last entry of the chunk stored under instant `start`, checked as
/// [`decode`] checks every entry, without collecting them: where a tag
/// points is a question asked per image reference a classifier resolves.
pub(crate) fn last_entry(
    bytes: &[u8],
    start: i64,
    place: &dyn std::fmt::Display,
) -> Result<LogEntry> {
    let mut last = None;
    walk(bytes, start, place, |e| last = Some(e))?;
    last.ok_or_else(|| Error::Corrupt(format!("{place}: an empty chunk")))
}

/// Hands each entry of a chunk to `each`, in order, checking that the
/// varints, algorithm bytes and digests decode, that instants and entries
/// increase, and that the chunk is not empty.
fn walk(
    bytes: &[u8],
    start: i64,
    place: &dyn std::fmt::Display,
    mut each: impl FnMut(LogEntry),
) -> Result<()> {
    let mut rest = bytes;
    let mut previous = start;
    let mut last: Option<(i64, Option<Digest>)> = None;
    let mut count = 0usize;
    while !rest.is_empty() {
        let damaged = |what: &str| {
            Error::Corrupt(format!(
                "{place}: entry {count} (byte {}): {what}",
                bytes.len() - rest.len()
            ))
        };
        let ((gap, seq), tail) = postcard::take_from_bytes::<(u64, u32)>(rest)
            .map_err(|e| damaged(&format!("instant or batch number: {e}")))?;
        let at = i64::try_from(gap)
            .ok()
            .and_then(|gap| previous.checked_add(gap))
            .ok_or_else(|| damaged(&format!("a gap of {gap} microseconds after {previous}")))?;
        let (&alg, tail) = tail.split_first().ok_or_else(|| damaged("cut short"))?;
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
        if last.is_some_and(|key| key >= entry.key()) {
            return Err(damaged("out of order"));
        }
        previous = at;
        last = Some(entry.key());
        count += 1;
        each(entry);
        rest = tail;
    }
    if count == 0 {
        return Err(Error::Corrupt(format!("{place}: an empty chunk")));
    }
    Ok(())
}

/// Encodes a chunk's entries (in log order), to be stored under the first
/// one's instant: each instant as the gap since the entry before it (the
/// first: since the key, so 0), which the log's order keeps at zero or more.
pub(crate) fn encode(entries: &[LogEntry]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(entries.len() * (HEAD + 32));
    let mut previous = entries.first().map_or(0, |e| e.at);
    for e in entries {
        out = postcard::to_extend(&(e.at.abs_diff(previous), e.seq), out)
            .map_err(|err| Error::Corrupt(format!("encoding a log entry: {err}")))?;
        e.digest_into(&mut out);
        previous = e.at;
    }
    Ok(out)
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
    chunks_from(table, tag, i64::MIN)
}

/// Tag `tag`'s chunks stored at or after key `from`, checked as
/// [`read_chunks`] checks them.
fn chunks_from(
    table: &impl ReadableTable<(u32, i64), &'static [u8]>,
    tag: u32,
    from: i64,
) -> Result<Vec<Chunk>> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let range = (
        Bound::Included((tag, from)),
        Bound::Included((tag, i64::MAX)),
    );
    for row in table.range::<(u32, i64)>(range)? {
        let (k, v) = row?;
        let chunk = stored_chunk(tag, k.value().1, v.value())?;
        // One instant's entries are never split across chunks.
        if let Some(prev) = chunks.last().and_then(|c| c.entries.last())
            && chunk
                .entries
                .first()
                .is_some_and(|first| prev.at >= first.at)
        {
            return Err(Error::Corrupt(format!(
                "table tag_log, tag number {tag}, chunk at {}: overlaps the chunk before it",
                k.value().1
            )));
        }
        chunks.push(chunk);
    }
    Ok(chunks)
}

/// Tag `tag`'s log from its last entry before instant `t` on (all of it
/// when none is before `t`): what decides the changes at or after `t`,
/// read from the one chunk that holds that entry instead of from the
/// start of a long history.
pub(crate) fn read_log_from(
    table: &impl ReadableTable<(u32, i64), &'static [u8]>,
    tag: u32,
    t: i64,
) -> Result<Vec<LogEntry>> {
    // The chunk with the greatest key before `t` holds the last entry
    // before `t` (the next chunk starts at or after `t`).
    let before = (Bound::Included((tag, i64::MIN)), Bound::Excluded((tag, t)));
    let from = match table.range::<(u32, i64)>(before)?.next_back() {
        Some(row) => row?.0.value().1,
        None => i64::MIN,
    };
    Ok(chunks_from(table, tag, from)?
        .into_iter()
        .flat_map(|c| c.entries)
        .collect())
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
        let entries = decode(bytes, start, &place)?;
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

/// Where tag `tag` points now: its log's last entry's digest (`None`:
/// deleted, or no log). Reads the last two chunks, checked as
/// [`read_chunks`] checks them (keys, order, no overlap) and the last
/// instant converted, so that damage at the end of a log is reported here
/// as it is by a read of the whole log.
pub(crate) fn current(
    table: &impl ReadableTable<(u32, i64), &'static [u8]>,
    tag: u32,
) -> Result<Option<Digest>> {
    let mut rows = table.range::<(u32, i64)>(range_of(tag))?.rev();
    let Some(row) = rows.next() else {
        return Ok(None);
    };
    let (k, v) = row?;
    let start = k.value().1;
    let place = format_args!("table tag_log, tag number {tag}, chunk at {start}");
    let last = last_entry(v.value(), start, &place)?;
    if let Some(row) = rows.next() {
        let (k, v) = row?;
        let before = k.value().1;
        let previous = last_entry(
            v.value(),
            before,
            &format_args!("table tag_log, tag number {tag}, chunk at {before}"),
        )?;
        if previous.at >= start {
            return Err(Error::Corrupt(format!(
                "{place}: overlaps the chunk before it"
            )));
        }
    }
    super::rows::from_micros(last.at).map_err(super::rows::at(&place))?;
    Ok(last.digest)
}

/// The chunk of tag `tag`'s log stored last before key `before` (the
/// log's last chunk with `None`), checked as [`read_chunks`] checks each:
/// it starts at its key and ends before `before`, the next chunk's first
/// instant. A write holds the end of a tag's log and reads back from it one
/// chunk at a time until it holds every entry the write can change.
pub(crate) fn chunk_before(
    table: &impl ReadableTable<(u32, i64), &'static [u8]>,
    tag: u32,
    before: Option<i64>,
) -> Result<Option<Chunk>> {
    let end = before.map_or(Bound::Included((tag, i64::MAX)), |b| {
        Bound::Excluded((tag, b))
    });
    let Some(row) = table
        .range::<(u32, i64)>((Bound::Included((tag, i64::MIN)), end))?
        .next_back()
    else {
        return Ok(None);
    };
    let (k, v) = row?;
    let chunk = stored_chunk(tag, k.value().1, v.value())?;
    if let (Some(next), Some(last)) = (before, chunk.entries.last())
        && last.at >= next
    {
        return Err(Error::Corrupt(format!(
            "table tag_log, tag number {tag}, chunk at {}: overlaps the chunk after it",
            k.value().1
        )));
    }
    Ok(Some(chunk))
}

/// The chunk stored under instant `start`, decoded and checked to start
/// there.
fn stored_chunk(tag: u32, start: i64, bytes: &[u8]) -> Result<Chunk> {
    let place = format_args!("table tag_log, tag number {tag}, chunk at {start}");
    let entries = decode(bytes, start, &place)?;
    let first = entries.first().map_or(i64::MIN, |e| e.at);
    if first != start {
        return Err(Error::Corrupt(format!(
            "{place}: its first entry is at {first}"
        )));
    }
    Ok(Chunk {
        stored_at: Some(start),
        entries,
        dirty: false,
    })
}

/// Makes room for `additional` entries at the end of a tag's log (in
/// memory), where a write's entries almost always go: one allocation where
/// inserting them one by one regrew the chunk every few entries. An empty
/// log gets an empty chunk, which [`insert`] fills and [`write_chunks`]
/// skips while it stays empty.
pub(crate) fn reserve(chunks: &mut Vec<Chunk>, additional: usize) {
    if let Some(last) = chunks.last_mut() {
        last.entries.reserve(additional);
    } else {
        chunks.push(Chunk {
            stored_at: None,
            entries: Vec::with_capacity(additional),
            dirty: false,
        });
    }
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
            table.insert((tag, start), encode(piece)?.as_slice())?;
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
        let bytes = encode(&entries).unwrap();
        assert_eq!(decode(&bytes, 1, &"t").unwrap(), entries);
        assert!(decode(&bytes[..bytes.len() - 1], 1, &"t").is_err(), "cut");
        assert!(decode(&[], 1, &"t").is_err(), "empty chunk");
        let mut swapped = encode(&[e(5, Some(1))]).unwrap();
        swapped.extend(encode(&[e(5, None)]).unwrap());
        assert!(decode(&swapped, 5, &"t").is_err(), "out of order");
        let mut bad = encode(&[e(1, Some(1))]).unwrap();
        bad[2] = 9;
        assert!(decode(&bad, 1, &"t").is_err(), "unknown algorithm");
        let overflow = encode(&[e(0, None), e(i64::MAX, None)]).unwrap();
        assert!(decode(&overflow, 1, &"t").is_err(), "instant past i64");
    }

    /// Guards the varint head: an entry costs its gap's and batch number's
    /// bytes, not 13 fixed ones (the reason for schema 7's encoding).
    #[test]
    fn instants_are_stored_as_gaps() {
        let day = 86_400_000_000;
        let t0 = 1_700_000_000_000_000;
        let entries = vec![e(t0, Some(1)), e(t0 + day, Some(2)), e(t0 + 2 * day, None)];
        let bytes = encode(&entries).unwrap();
        // 1 + 6 + 6 bytes of gaps, 3 of batch numbers, 3 algorithm bytes, 2 digests.
        assert_eq!(bytes.len(), 13 + 3 + 3 + 64);
        assert_eq!(decode(&bytes, t0, &"t").unwrap(), entries);
        // The key is the first instant: read under another, the chunk moves with it.
        assert_eq!(
            decode(&bytes, t0 + 1, &"t").unwrap()[2].at,
            t0 + 2 * day + 1
        );
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
