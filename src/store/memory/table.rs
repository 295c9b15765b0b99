//! The copy's hash table: digest-index keys (or group ids) to offsets in
//! an arena of bytes.

use crate::error::{Error, Result};

/// The copy's hash table: open addressing with linear probing, at most two
/// thirds full, a slot being (row key, offset + 1), 0 meaning empty. A probe reads
/// one 16-byte slot, where std's `HashMap` reads a control group and then a
/// slot elsewhere: at 10M references every line touched is a cache and TLB
/// miss, and the copy exists to save those.
pub(super) struct RowTable {
    /// Random per copy: row keys are digest prefixes, random unless someone
    /// grinds digests, and a registry that did could not aim at slots it
    /// cannot compute.
    seed: u64,
    mask: usize,
    slots: Vec<[u64; 2]>,
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
        let mut slots = Vec::new();
        slots.try_reserve_exact(len).map_err(|_| Error::Busy {
            operation: "copy the digest index into memory",
            reason: format!("no memory for {len} slots"),
        })?;
        slots.resize(len, [0, 0]);
        let mut table = Self {
            seed: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u64),
            mask: len - 1,
            slots,
            rows: keys.len() as u64,
        };
        for &(key, offset) in keys {
            let mut i = table.home(key);
            while table.slots[i][1] != 0 {
                i = (i + 1) & table.mask;
            }
            table.slots[i] = [key, offset + 1];
        }
        Ok(table)
    }

    /// Where `key`'s probe starts: a seeded murmur3 finalizer.
    #[inline]
    fn home(&self, key: u64) -> usize {
        let mut x = key ^ self.seed;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        // Truncation intended: the mask keeps the low bits.
        #[allow(clippy::cast_possible_truncation)]
        let x = x as usize;
        x & self.mask
    }

    /// Heap the slots take.
    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 16
    }

    #[inline]
    pub(super) fn get(&self, key: u64) -> Option<u64> {
        let mut i = self.home(key);
        loop {
            let [k, offset] = *self.slots.get(i)?;
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
        assert!(table.slots.len() >= 4500);
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
