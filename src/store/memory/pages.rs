//! The copy's memory: bytes in an anonymous mapping that the kernel is
//! asked to back with huge pages.
//!
//! A classifier's lookups land on random slots and rows spread over the
//! whole copy (a gigabyte at 10M references). With 4 KiB pages every one
//! of them also needs a page-table walk: the processor's TLB holds a few
//! thousand pages, a few megabytes, so at 10M references the walk, itself
//! a chain of cache misses, costs about as much as the read it serves.
//! With 2 MiB pages the whole copy fits in the TLB. On Linux, where
//! transparent huge pages are commonly on for regions that ask for them
//! (`madvise` mode), `madvise(MADV_HUGEPAGE)` asks; elsewhere, or when the
//! kernel declines, the mapping is ordinary memory and only slower.
//!
//! `memmap2` does the mapping and the advice behind a safe API (the crate
//! forbids `unsafe`; `docs/decisions.md`).

use memmap2::MmapMut;

use crate::error::{Error, Result};

/// A huge page on x86-64 and arm64 (4 KiB base pages): what memory the
/// copy takes is counted in these, the unit the kernel backs it with.
const HUGE_PAGE: usize = 2 << 20;

/// A growable run of bytes in huge-page-advised memory: the part of
/// `Vec<u8>` the copy uses.
pub(super) struct PageBytes {
    map: MmapMut,
    len: usize,
}

impl PageBytes {
    /// An empty buffer with room for `capacity` bytes. Room is address
    /// space only: the kernel gives memory to a page when it is first
    /// written, so room asked for from a count a damaged file claims costs
    /// nothing until it is used.
    pub fn with_capacity(capacity: usize) -> Result<Self> {
        Ok(Self {
            map: map(capacity)?,
            len: 0,
        })
    }

    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Result<Self> {
        Ok(Self {
            map: map(len)?,
            len,
        })
    }

    /// Appends `bytes`, growing (to twice the room, or more if needed) when
    /// they do not fit.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or_else(|| no_memory(usize::MAX))?;
        if end > self.map.len() {
            let room = end.max(self.map.len().saturating_mul(2)).max(HUGE_PAGE);
            let mut grown = map(room)?;
            grown[..self.len].copy_from_slice(&self.map[..self.len]);
            self.map = grown;
        }
        self.map[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The bytes held.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.map[..self.len]
    }

    /// The bytes held, to write in place.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.map[..self.len]
    }

    /// Memory the bytes take: whole huge pages up to the end of the bytes
    /// (room past them is never written, so never backed).
    pub fn resident_bytes(&self) -> usize {
        self.len
            .div_ceil(HUGE_PAGE)
            .saturating_mul(HUGE_PAGE)
            .min(self.map.len())
    }
}

/// A mapping of `len` bytes (at least one page: an empty mapping is an
/// error to the kernel), advised to use huge pages where the kernel can.
fn map(len: usize) -> Result<MmapMut> {
    let map = MmapMut::map_anon(len.max(1)).map_err(|e| no_memory_because(len, &e))?;
    #[cfg(target_os = "linux")]
    // Advice, not a requirement: a kernel without transparent huge pages
    // refuses it, and the copy then works on ordinary pages.
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

fn no_memory(len: usize) -> Error {
    Error::Busy {
        operation: "copy the digest index into memory",
        reason: format!("no memory for {len} bytes"),
    }
}

fn no_memory_because(len: usize, e: &std::io::Error) -> Error {
    Error::Busy {
        operation: "copy the digest index into memory",
        reason: format!("no memory for {len} bytes: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{HUGE_PAGE, PageBytes};

    /// Guards growth: bytes appended across a regrowth (from no room, and
    /// from room a count gave) must come back in order and whole.
    #[test]
    fn appended_bytes_survive_growth() {
        for start in [0, 10, HUGE_PAGE] {
            let mut b = PageBytes::with_capacity(start).unwrap();
            let mut model = Vec::new();
            for i in 0..5000u32 {
                let chunk: Vec<u8> = i.to_le_bytes().repeat((i % 300) as usize);
                b.extend_from_slice(&chunk).unwrap();
                model.extend_from_slice(&chunk);
            }
            assert_eq!(b.len(), model.len());
            assert_eq!(b.as_slice(), &model[..], "from room {start}");
            assert!(b.resident_bytes() >= model.len());
            assert_eq!(b.resident_bytes() % HUGE_PAGE, 0);
        }
        let mut z = PageBytes::zeroed(100).unwrap();
        assert!(z.as_slice().iter().all(|&b| b == 0));
        z.as_mut_slice()[99] = 7;
        assert_eq!(z.as_slice()[99], 7);
        assert_eq!(PageBytes::zeroed(0).unwrap().as_slice(), &[] as &[u8]);
    }

    /// Guards the advice itself (the point of this module): on Linux with
    /// transparent huge pages on, the kernel must list the copy's memory as
    /// eligible for them. Without the `madvise` call a region is eligible
    /// only in the kernel's `always` mode, so `madvise` mode is where this
    /// test can tell; `always` mode passes it too.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_memory_is_advised_to_use_huge_pages() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !mode.contains("[madvise]") && !mode.contains("[always]") {
            let reason = format!("transparent huge pages are off ({mode:?})");
            assert!(std::env::var_os("CI").is_none(), "{reason}");
            eprintln!("skipped: {reason}");
            return;
        }
        let mut b = PageBytes::zeroed(4 * HUGE_PAGE).unwrap();
        b.as_mut_slice().fill(1);
        let at = b.as_slice().as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut eligible = None;
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().and_then(|r| {
                let (lo, hi) = r.split_once('-')?;
                Some((
                    usize::from_str_radix(lo, 16).ok()?,
                    usize::from_str_radix(hi, 16).ok()?,
                ))
            });
            if let Some((lo, hi)) = range {
                inside = (lo..hi).contains(&at);
            } else if inside && let Some(v) = line.strip_prefix("THPeligible:") {
                eligible = Some(v.trim().to_owned());
            }
        }
        assert_eq!(eligible.as_deref(), Some("1"), "the mapping at {at:#x}");
    }
}
