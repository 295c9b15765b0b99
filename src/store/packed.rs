//! The digest index's rows. A digest is uniformly random, so its first 8
//! bytes make a key as good as all of them: the index is keyed by that
//! prefix as a `u64`, a fixed-width key that redb compares as an integer
//! and that takes 8 bytes of a branch page where the compact digest schema
//! 5 used took 33. The rest of the digest is in the value,
//! which groups the digests sharing a prefix (in practice one; two
//! sha256 digests share 8 bytes with probability about 2⁻⁶⁴ per pair).
//!
//! A group: algorithm byte, flags, entry count (`u32` LE), the digest's
//! bytes after the first 8, then `count` entries of 20 bytes (tag number
//! `u32`, since `i64`, until `i64`, little-endian) in the order lookups
//! answer in: current first, then newest first, then by tag name. A lookup
//! is one point get, a compare of the rest of the digest, and a decode
//! loop, with no sort. Two flags say whether the digest is a platform
//! manifest of some image index or the config of some manifest, so only
//! those lookups read the relation tables; a digest known only through a
//! relation has a group with no entries. A third ([`FLAG_NAME_ORDER`])
//! says that entries of one instant are in tag-name order: schema 8 wrote
//! them by tag number, and a lookup sorts a group without it by name.

use crate::error::{Error, Result};
use crate::id::{Algorithm, Digest, DigestParts};

/// Bytes per entry: tag number (4), since (8), until (8).
pub(crate) const ENTRY: usize = 20;

/// Bytes of the digest in the key.
const PREFIX: usize = 8;

/// Bytes of a group before the rest of its digest.
const HEAD: usize = 6;

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
/// The relation flags: what [`Group::flags`] holds.
const RELATION_FLAGS: u8 = FLAG_CHILD | FLAG_CONFIG;
/// Flag: entries of one instant are in tag-name order, so the group is in
/// the answer's order as stored (schema 9). A group written by schema 8
/// has them by tag number and lacks it: a lookup sorts those by name, and
/// the next write of the row stores them in name order.
pub(crate) const FLAG_NAME_ORDER: u8 = 4;
const KNOWN_FLAGS: u8 = RELATION_FLAGS | FLAG_NAME_ORDER;

/// The digest-index key of `d`: its first 8 bytes, big-endian, so keys sort
/// like the digests' bytes.
pub(crate) fn key(d: &Digest) -> u64 {
    d.prefix()
}

/// One digest's group in a row, borrowed from the stored bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group<'a> {
    pub algorithm: Algorithm,
    /// The relation flags ([`FLAG_CHILD`], [`FLAG_CONFIG`]).
    pub flags: u8,
    /// Whether the entries are stored in the answer's order, names
    /// included ([`FLAG_NAME_ORDER`]).
    pub name_ordered: bool,
    /// The digest's bytes after the key's 8.
    pub rest: &'a [u8],
    /// The packed entries.
    pub entries: &'a [u8],
}

impl<'a> Group<'a> {
    /// The whole digest, given the row's key.
    pub fn digest(&self, key: u64) -> Result<Digest> {
        self.digest_parts(key)
            .to_digest()
            .map_err(|e| Error::Corrupt(format!("a digest-index group's digest: {e}")))
    }

    /// The digest as the row holds it, given the row's key: what a lookup
    /// through the in-memory copy names a parent by until it writes one.
    pub fn digest_parts(&self, key: u64) -> DigestParts<'a> {
        DigestParts {
            algorithm: self.algorithm,
            prefix: key,
            rest: self.rest,
        }
    }

    /// Whether this is `d`'s group.
    pub fn is(&self, d: &Digest) -> bool {
        self.algorithm == d.algorithm() && self.rest == &d.as_bytes()[PREFIX..]
    }

    /// The bytes the group takes in its row.
    pub fn stored_len(&self) -> usize {
        HEAD + self.rest.len() + self.entries.len()
    }

    /// The number of entries.
    pub fn count(&self) -> usize {
        self.entries.len() / ENTRY
    }

    /// Decodes the entries.
    pub fn decode(&self) -> impl Iterator<Item = IndexEntry> + '_ {
        self.entries.chunks_exact(ENTRY).map(|c| {
            let (tag, rest) = c.split_at(4);
            let (since, until) = rest.split_at(8);
            IndexEntry {
                tag: u32::from_le_bytes(tag.try_into().unwrap_or_default()),
                since: i64::from_le_bytes(since.try_into().unwrap_or_default()),
                until: i64::from_le_bytes(until.try_into().unwrap_or_default()),
            }
        })
    }
}

/// Iterates the groups of a row; a group cut short, an unknown algorithm
/// or flag, or an empty group mean a damaged file.
pub(crate) fn groups(bytes: &[u8]) -> impl Iterator<Item = Result<Group<'_>>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let group = next_group(rest);
        match group {
            Ok((g, tail)) => {
                rest = tail;
                Some(Ok(g))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// The group `bytes` starts with (what follows it is not read): the one a
/// relation link of the in-memory copy names.
pub(crate) fn group_starting(bytes: &[u8]) -> Result<Group<'_>> {
    next_group(bytes).map(|(g, _)| g)
}

// Inlined where a lookup reads one group (a link of the in-memory copy);
// its errors are built out of line, so the checks are all it adds there.
#[inline]
fn next_group(bytes: &[u8]) -> Result<(Group<'_>, &[u8])> {
    let (head, tail) = bytes
        .split_at_checked(HEAD)
        .ok_or_else(|| damaged(format_args!("{} bytes, not a whole group", bytes.len())))?;
    let algorithm = Algorithm::from_compact_byte(head[0])
        .ok_or_else(|| damaged(format_args!("unknown algorithm byte {}", head[0])))?;
    let stored_flags = head[1];
    if stored_flags & !KNOWN_FLAGS != 0 {
        return Err(damaged(format_args!("unknown flags {stored_flags:#04x}")));
    }
    let flags = stored_flags & RELATION_FLAGS;
    let count = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
    let (rest, tail) = tail
        .split_at_checked(algorithm.digest_len() - PREFIX)
        .ok_or_else(|| damaged(format_args!("digest cut short")))?;
    let len = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(ENTRY))
        .filter(|&len| len <= tail.len())
        .ok_or_else(|| {
            damaged(format_args!(
                "{count} entries announced, {} bytes left",
                tail.len()
            ))
        })?;
    if count == 0 && flags == 0 {
        return Err(damaged(format_args!("no entries and no flags")));
    }
    let (entries, tail) = tail.split_at(len);
    Ok((
        Group {
            algorithm,
            flags,
            name_ordered: stored_flags & FLAG_NAME_ORDER != 0,
            rest,
            entries,
        },
        tail,
    ))
}

/// The error of a damaged group.
#[cold]
#[inline(never)]
fn damaged(what: std::fmt::Arguments<'_>) -> Error {
    Error::Corrupt(format!("digest-index group: {what}"))
}

/// `d`'s group in a row, if it has one.
pub(crate) fn find<'a>(bytes: &'a [u8], d: &Digest) -> Result<Option<Group<'a>>> {
    for g in groups(bytes) {
        let g = g?;
        if g.is(d) {
            return Ok(Some(g));
        }
    }
    Ok(None)
}

/// Sorts a group's entries in the order lookups answer in as far as
/// integers give it (current first, then newest first, then tag number),
/// so a row's bytes depend only on its content; the writer then puts each
/// instant's entries in name order (`write::index`).
pub(crate) fn answer_order(entries: &mut [IndexEntry]) {
    entries.sort_unstable_by_key(|e| {
        (
            e.until != super::OPEN,
            std::cmp::Reverse(e.since),
            e.tag,
            e.until,
        )
    });
}

/// Appends a group: `flags` are its relation flags, and `name_ordered`
/// says the caller put `entries` in the answer's order, ties of one
/// instant by tag name ([`FLAG_NAME_ORDER`]); without it, in
/// [`answer_order`].
pub(crate) fn encode_group(
    out: &mut Vec<u8>,
    d: &Digest,
    flags: u8,
    name_ordered: bool,
    entries: &[IndexEntry],
) {
    // One allocation for the group (a push at a time grew it several times).
    out.reserve(HEAD + d.as_bytes().len() - PREFIX + entries.len() * ENTRY);
    out.push(d.algorithm().compact_byte());
    out.push(flags & RELATION_FLAGS | if name_ordered { FLAG_NAME_ORDER } else { 0 });
    out.extend_from_slice(
        &u32::try_from(entries.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&d.as_bytes()[PREFIX..]);
    for e in entries.iter().take(u32::MAX as usize) {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.since.to_le_bytes());
        out.extend_from_slice(&e.until.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest::of(Algorithm::Sha256, &[n])
    }

    #[test]
    fn groups_round_trip_and_reject_damage() {
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
        let (a, b) = (d(1), Digest::of(Algorithm::Sha512, &[2]));
        let mut row = Vec::new();
        encode_group(&mut row, &a, 0, true, &entries);
        encode_group(&mut row, &b, FLAG_CHILD | FLAG_CONFIG, false, &[]);
        let ga = find(&row, &a).unwrap().unwrap();
        assert_eq!(ga.decode().collect::<Vec<_>>(), entries);
        assert_eq!(ga.digest(key(&a)).unwrap(), a);
        let gb = find(&row, &b).unwrap().unwrap();
        assert_eq!((gb.count(), gb.flags), (0, FLAG_CHILD | FLAG_CONFIG));
        assert!(ga.name_ordered && !gb.name_ordered);
        assert_eq!(ga.flags, 0, "the order flag is not a relation flag");
        assert!(find(&row, &d(3)).unwrap().is_none());
        // The in-memory copy finds a group by where it starts.
        assert_eq!(ga.stored_len() + gb.stored_len(), row.len());
        assert!(group_starting(&row).unwrap().is(&a));
        assert!(group_starting(&row[ga.stored_len()..]).unwrap().is(&b));
        assert!(group_starting(&row[..ga.stored_len() - 1]).is_err(), "cut");
        assert!(groups(&row[..row.len() - 1]).any(|g| g.is_err()), "cut");
        let mut bad = row.clone();
        bad[1] = 0x80;
        assert!(find(&bad, &a).is_err(), "unknown flags are damage");
        let mut empty = Vec::new();
        encode_group(&mut empty, &a, 0, false, &[]);
        assert!(
            find(&empty, &a).is_err(),
            "a group with nothing is never written"
        );
        let mut ordered_only = Vec::new();
        encode_group(&mut ordered_only, &a, 0, true, &[]);
        assert!(
            find(&ordered_only, &a).is_err(),
            "the order flag alone does not make a group"
        );
        let mut huge = row.clone();
        huge[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            find(&huge, &a).is_err(),
            "a count beyond the bytes is damage"
        );
    }
}
