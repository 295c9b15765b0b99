//! The copy's hash table: digest-index keys (or group ids) to offsets in
//! an arena of bytes.

use super::pages::PageBytes;
use crate::error::Result;

/// Bytes of a slot: the row key, then the offset + 1 (native-endian `u64`s).
const SLOT: usize = 16;

/// The copy's hash table: open addressing with linear probing, at most two
/// thirds full, a slot being (row key, offset + 1), 0 meaning empty. A probe reads
/// one 16-byte slot, where std's `HashMap` reads a control group and then a
/// slot elsewhere: at 10M references every line touched is a cache and TLB
/// miss, and the copy exists to save those. The slots are in huge-page
/// memory ([`PageBytes`]) so that the TLB misses go too.
pub(super) struct RowTable {
    /// Random per copy: row keys are digest prefixes, random unless someone
    /// grinds digests, and a registry that did could not aim at slots it
    /// cannot compute.
    seed: u64,
    mask: usize,
    slots: PageBytes,
    pub(super) rows: u64,
}

impl RowTable {
    pub(super) fn new(keys: &[(u64, u64)]) -> Result<Self> {
        // Between a third and two thirds full: linear probing then reads
        // 1.5 to 2 slots for a key it finds, mostly in one cache line.
        let len = keys
            .len()
            .checked_add(keys.len() / 2)
            .and_then(usize::checked_next_power_of_two)
            .unwrap_or(usize::MAX)
            .max(16);
        let seed = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u64);
        let mask = len - 1;
        let mut slots = PageBytes::zeroed(len.saturating_mul(SLOT))?;
        let bytes = slots.as_mut_slice();
        for &(key, offset) in keys {
            let mut i = home(seed, mask, key);
            while slot(bytes, i).is_some_and(|[_, o]| o != 0) {
                i = (i + 1) & mask;
            }
            if let Some(s) = bytes.get_mut(i * SLOT..(i + 1) * SLOT) {
                s[..8].copy_from_slice(&key.to_ne_bytes());
                s[8..].copy_from_slice(&(offset + 1).to_ne_bytes());
            }
        }
        Ok(Self {
            seed,
            mask,
            slots,
            rows: keys.len() as u64,
        })
    }

    /// Memory the slots take.
    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.resident_bytes()
    }

    #[inline]
    pub(super) fn get(&self, key: u64) -> Option<u64> {
        let mut i = home(self.seed, self.mask, key);
        loop {
            let [k, offset] = slot(self.slots.as_slice(), i)?;
            if offset == 0 {
                return None;
            }
            if k == key {
                return Some(offset - 1);
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Where `key`'s probe starts: a seeded murmur3 finalizer.
#[inline]
fn home(seed: u64, mask: usize, key: u64) -> usize {
    let mut x = key ^ seed;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    // Truncation intended: the mask keeps the low bits.
    #[allow(clippy::cast_possible_truncation)]
    let x = x as usize;
    x & mask
}

/// Slot `i` of `slots`: (row key, offset + 1).
#[inline]
fn slot(slots: &[u8], i: usize) -> Option<[u64; 2]> {
    let s = slots.get(i * SLOT..)?;
    let (k, rest) = s.split_first_chunk::<8>()?;
    let (o, _) = rest.split_first_chunk::<8>()?;
    Some([u64::from_ne_bytes(*k), u64::from_ne_bytes(*o)])
}

#[cfg(test)]
mod tests {
    use super::RowTable;

    /// Guards the probe loop: keys that start at one slot must each be
    /// found past the others, and a key never inserted must end at an
    /// empty slot, not loop or answer another key's row.
    #[test]
    fn the_table_finds_every_key_and_no_other() {
        // Keys differing only in their high bits, and small ones.
        let keys: Vec<(u64, u64)> = (0..3000u64)
            .map(|i| (if i % 2 == 0 { i << 40 } else { i }, i * 7))
            .collect();
        let table = RowTable::new(&keys).unwrap();
        assert_eq!(table.rows, 3000);
        assert!(table.slots.len() >= 4500 * 16);
        for &(k, offset) in &keys {
            assert_eq!(table.get(k), Some(offset), "key {k:#x}");
        }
        for i in 3000..6000u64 {
            assert_eq!(table.get(i << 40), None);
            assert_eq!(table.get(i | 1 << 63), None);
        }
        let empty = RowTable::new(&[]).unwrap();
        assert_eq!(empty.get(0), None);
    }
}
