//! The simulated disk: a fault-injecting [`StorageBackend`] in memory
//! ([`FaultyDisk`]) that loses power or fails a write on cue, and the crash
//! images a power cut can leave.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ociledger::StorageBackend;

use crate::common::rng::Rng;

/// `ENOSPC` and `EIO` on Linux (and most Unixes): the raw codes a full or
/// failing disk returns, without a libc dependency.
pub const ENOSPC: i32 = 28;
pub const EIO: i32 = 5;

/// One change made since the last successful sync.
#[derive(Clone)]
enum Pending {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

#[derive(Default)]
pub struct Disk {
    /// Every change, as a reader of the file sees it.
    pub volatile: Vec<u8>,
    /// What survives a power cut: the state at the last successful sync.
    durable: Vec<u8>,
    /// Changes since that sync, in order.
    pending: Vec<Pending>,
    /// Writes, `set_len`s and syncs attempted.
    ops: u64,
    /// Writes and `set_len`s attempted.
    writes: u64,
    syncs: u64,
    /// The operation (1-based, counted in `ops`) at which the power goes.
    power_loss_at: Option<u64>,
    pub dead: bool,
    /// The write (1-based, counted in `writes`) that fails once with this OS error.
    error_at: Option<(u64, i32)>,
    pub errors_returned: u64,
}

fn apply(image: &mut Vec<u8>, change: &Pending) {
    match change {
        Pending::SetLen(len) => image.resize(to_usize(*len), 0),
        Pending::Write(offset, data) => write_at(image, *offset, data),
    }
}

fn write_at(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = to_usize(offset);
    if image.len() < start + data.len() {
        image.resize(start + data.len(), 0);
    }
    image[start..start + data.len()].copy_from_slice(data);
}

pub fn to_usize(n: u64) -> usize {
    usize::try_from(n).expect("the test disk fits in memory")
}

fn power_lost() -> io::Error {
    io::Error::other("simulated power loss: the disk is gone")
}

impl Disk {
    /// Counts a write, `set_len` or sync, and fails it if a fault is due.
    fn before_change(&mut self, is_sync: bool) -> io::Result<()> {
        if self.dead {
            return Err(power_lost());
        }
        self.ops += 1;
        if self.power_loss_at == Some(self.ops) {
            self.dead = true;
            return Err(power_lost());
        }
        if is_sync {
            self.syncs += 1;
        } else {
            self.writes += 1;
            if let Some((n, code)) = self.error_at
                && n == self.writes
            {
                self.error_at = None;
                self.errors_returned += 1;
                return Err(io::Error::from_raw_os_error(code));
            }
        }
        Ok(())
    }

    fn change(&mut self, change: Pending) {
        apply(&mut self.volatile, &change);
        self.pending.push(change);
    }
}

/// A fault-injecting disk in memory. Clones share the bytes: the test keeps
/// one to arm faults and to take the disk left after a crash.
#[derive(Clone, Default)]
pub struct FaultyDisk(Arc<Mutex<Disk>>);

impl fmt::Debug for FaultyDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let disk = self.lock();
        f.debug_struct("FaultyDisk")
            .field("len", &disk.volatile.len())
            .field("ops", &disk.ops)
            .finish_non_exhaustive()
    }
}

impl FaultyDisk {
    pub fn lock(&self) -> MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A disk holding `image`, all of it durable.
    pub fn from_image(image: Vec<u8>) -> Self {
        let disk = Self::default();
        {
            let mut d = disk.lock();
            d.durable.clone_from(&image);
            d.volatile = image;
        }
        disk
    }

    pub fn power_loss_at(&self, op: u64) {
        self.lock().power_loss_at = Some(op);
    }

    /// The next `n`th write or `set_len` fails once with `code`.
    pub fn error_in(&self, n: u64, code: i32) {
        let mut d = self.lock();
        d.error_at = Some((d.writes + n, code));
    }

    pub fn counters(&self) -> (u64, u64, u64) {
        let d = self.lock();
        (d.ops, d.writes, d.syncs)
    }

    /// What a power cut leaves: the durable image, the durable image with
    /// every unsynced change, and one with a random subset of them, some
    /// torn at a sector boundary. Duplicates dropped.
    pub fn crash_images(&self, rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
        let d = self.lock();
        let mut images = vec![("durable", d.durable.clone())];
        if d.pending.is_empty() {
            return images;
        }
        let mut all = d.durable.clone();
        for change in &d.pending {
            apply(&mut all, change);
        }
        let mut torn = d.durable.clone();
        for change in &d.pending {
            match (change, rng.below(3)) {
                (_, 0) => {}
                (Pending::Write(offset, data), 1) if data.len() > 512 => {
                    let sectors = data.len().div_ceil(512);
                    let keep = 512 * (1 + rng.below(sectors - 1));
                    write_at(&mut torn, *offset, &data[..keep]);
                }
                (change, _) => apply(&mut torn, change),
            }
        }
        if all != d.durable {
            images.push(("all unsynced", all));
        }
        if images.iter().all(|(_, i)| *i != torn) {
            images.push(("torn subset", torn));
        }
        images
    }
}

impl StorageBackend for FaultyDisk {
    fn len(&self) -> io::Result<u64> {
        let d = self.lock();
        if d.dead {
            return Err(power_lost());
        }
        Ok(d.volatile.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let d = self.lock();
        if d.dead {
            return Err(power_lost());
        }
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let source = d
            .volatile
            .get(start..start + out.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        out.copy_from_slice(source);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut d = self.lock();
        d.before_change(false)?;
        d.change(Pending::SetLen(len));
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut d = self.lock();
        d.before_change(true)?;
        let pending = std::mem::take(&mut d.pending);
        for change in &pending {
            apply(&mut d.durable, change);
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut d = self.lock();
        d.before_change(false)?;
        d.change(Pending::Write(offset, data.to_vec()));
        Ok(())
    }
}
