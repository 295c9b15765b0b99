//! The digest index's value: every (tag, interval) of one digest, packed as
//! fixed-width little-endian entries, so a lookup is one point get and a
//! decode loop, with no per-entry B-tree work and no allocation in redb.

use crate::error::{Error, Result};

/// Bytes per entry: tag number (4), since (8), until (8).
pub(crate) const ENTRY: usize = 20;

/// One (tag, interval) of a digest. `until` is [`super::OPEN`] while current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct IndexEntry {
    pub tag: u32,
    pub since: i64,
    pub until: i64,
}

/// The number of entries of a packed value; a length that is not a whole
/// number of entries means a damaged file.
pub(crate) fn count(bytes: &[u8]) -> Result<usize> {
    if bytes.len().is_multiple_of(ENTRY) {
        Ok(bytes.len() / ENTRY)
    } else {
        Err(Error::Corrupt(format!(
            "value of {} bytes, not a whole number of {ENTRY}-byte entries",
            bytes.len()
        )))
    }
}

/// Decodes a packed value; a length that is not a whole number of entries
/// means a damaged file.
pub(crate) fn decode(bytes: &[u8]) -> Result<impl Iterator<Item = IndexEntry> + '_> {
    count(bytes)?;
    Ok(bytes.chunks_exact(ENTRY).map(|c| {
        let (tag, rest) = c.split_at(4);
        let (since, until) = rest.split_at(8);
        IndexEntry {
            tag: u32::from_le_bytes(tag.try_into().unwrap_or_default()),
            since: i64::from_le_bytes(since.try_into().unwrap_or_default()),
            until: i64::from_le_bytes(until.try_into().unwrap_or_default()),
        }
    }))
}

/// Encodes entries (callers keep them sorted, so a value's bytes depend only on its content).
pub(crate) fn encode(entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY);
    for e in entries {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.since.to_le_bytes());
        out.extend_from_slice(&e.until.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_entries_round_trip_and_reject_partial_values() {
        let entries = [
            IndexEntry {
                tag: 1,
                since: -5,
                until: 7,
            },
            IndexEntry {
                tag: u32::MAX,
                since: i64::MIN,
                until: i64::MAX,
            },
        ];
        let bytes = encode(&entries);
        assert_eq!(bytes.len(), 2 * ENTRY);
        assert_eq!(decode(&bytes).unwrap().collect::<Vec<_>>(), entries);
        assert!(decode(&bytes[..=ENTRY]).is_err());
    }
}
