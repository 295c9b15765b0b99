//! The digest index's value: every (tag, interval) of one digest, packed as
//! fixed-width little-endian entries, so a lookup is one point get and a
//! decode loop, with no per-entry B-tree work and no allocation in redb.
//!
//! A digest that is also a platform manifest of some image index, or the
//! config of some manifest, carries one more byte after the entries: flags
//! saying which relation tables to follow. A value is `20 × n` bytes, or
//! `20 × n + 1` with flags (then `n` may be 0: a digest known only as a
//! child or a config). A direct lookup of any other digest pays nothing for
//! relations.

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

/// Flag: the digest is a platform manifest listed by some image index
/// (follow `manifest_parents`).
pub(crate) const FLAG_CHILD: u8 = 1;
/// Flag: the digest is the config of some manifest (follow `config_manifests`).
pub(crate) const FLAG_CONFIG: u8 = 2;
const KNOWN_FLAGS: u8 = FLAG_CHILD | FLAG_CONFIG;

/// Splits a packed value into its entries' bytes and its flags; a length
/// that is neither a whole number of entries nor one more, or unknown
/// flags, mean a damaged file.
fn split(bytes: &[u8]) -> Result<(&[u8], u8)> {
    match bytes.len() % ENTRY {
        0 => Ok((bytes, 0)),
        1 => {
            let (entries, flags) = bytes.split_at(bytes.len() - 1);
            let flags = flags.first().copied().unwrap_or(0);
            if flags == 0 || flags & !KNOWN_FLAGS != 0 {
                return Err(Error::Corrupt(format!(
                    "value with unknown flags {flags:#04x}"
                )));
            }
            Ok((entries, flags))
        }
        _ => Err(Error::Corrupt(format!(
            "value of {} bytes, not a whole number of {ENTRY}-byte entries (and a flag byte)",
            bytes.len()
        ))),
    }
}

/// The number of entries of a packed value.
pub(crate) fn count(bytes: &[u8]) -> Result<usize> {
    Ok(split(bytes)?.0.len() / ENTRY)
}

/// The flags of a packed value.
pub(crate) fn flags(bytes: &[u8]) -> Result<u8> {
    Ok(split(bytes)?.1)
}

/// Decodes a packed value's entries.
pub(crate) fn decode(bytes: &[u8]) -> Result<impl Iterator<Item = IndexEntry> + '_> {
    let (bytes, _) = split(bytes)?;
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

/// Encodes entries and flags (callers keep entries sorted, so a value's
/// bytes depend only on its content); no flags, no flag byte.
pub(crate) fn encode(entries: &[IndexEntry], flags: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY + 1);
    for e in entries {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.since.to_le_bytes());
        out.extend_from_slice(&e.until.to_le_bytes());
    }
    if flags != 0 {
        out.push(flags);
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
        let bytes = encode(&entries, 0);
        assert_eq!(bytes.len(), 2 * ENTRY);
        assert_eq!(decode(&bytes).unwrap().collect::<Vec<_>>(), entries);
        assert_eq!(flags(&bytes).unwrap(), 0);
        assert!(decode(&bytes[..ENTRY + 2]).is_err());
        let flagged = encode(&entries, FLAG_CHILD | FLAG_CONFIG);
        assert_eq!(flagged.len(), 2 * ENTRY + 1);
        assert_eq!(decode(&flagged).unwrap().collect::<Vec<_>>(), entries);
        assert_eq!(flags(&flagged).unwrap(), FLAG_CHILD | FLAG_CONFIG);
        assert_eq!(count(&encode(&[], FLAG_CONFIG)).unwrap(), 0);
        assert!(flags(&[0x80]).is_err(), "unknown flags are damage");
        assert!(flags(&[0]).is_err(), "a flag byte of 0 is never written");
    }
}
