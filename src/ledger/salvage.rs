//! `salvage` (issue 13): a new ledger file made of what still reads of a
//! damaged one, and a report of what was lost.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::{Head, Ledger, VerifyReport};
use crate::error::{Error, Result};
use crate::model::{Clock, SystemClock};
use crate::store::{self, TempFile};
pub use crate::store::{Renumbering, TableSalvage};

/// What [`Ledger::salvage`] read from the damaged file and wrote to the new
/// one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Salvage {
    /// The damaged file (never written).
    pub damaged: PathBuf,
    /// The new ledger file.
    pub path: PathBuf,
    /// Nothing was lost: every table that is not rebuilt from others was
    /// read whole and every row of it kept, and no repair may have rolled
    /// the file back.
    pub complete: bool,
    /// Why the damaged file needed a repair first (made on a copy), if it
    /// did.
    pub repaired: Option<String>,
    /// Per table of the damaged file: rows read, kept, lost (with the first
    /// few described), unreadable stretches.
    pub tables: BTreeMap<&'static str, TableSalvage>,
    /// Repositories kept, and how many got a new number.
    pub repositories: Renumbering,
    /// Tags kept, and how many got a new number.
    pub tags: Renumbering,
    /// The journal, rebuilt.
    pub journal: JournalSalvage,
    /// [`Ledger::verify`] of the new file, run before it was put in place
    /// (always clean: a salvage whose file does not verify fails instead).
    pub verify: VerifyReport,
    /// The new file's size.
    pub bytes: u64,
    /// How long it took.
    pub seconds: f64,
}

/// The journal of the new file.
///
/// Its batch hashes cover tag and batch numbers, which salvage may change,
/// so it is always written anew: one record per batch of which an entry
/// survived, batches numbered densely in their old order, each with its old
/// record's time and author, entry count and hash recomputed, chained. A
/// batch whose record was lost gets the author `salvage` and the salvage's
/// time, and so do the references it first recorded (`created_by`,
/// `created_on`). Of an undamaged file, the same journal and head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalSalvage {
    /// The new chain differs from the damaged file's (its head differs, or
    /// the damaged file's did not read).
    pub rebuilt: bool,
    /// Records written.
    pub batches: u64,
    /// Batches whose number changed.
    pub renumbered: u64,
    /// Records of the damaged file dropped: none of their batch's entries
    /// survived.
    pub dropped: u64,
    /// Batches whose record was lost, now by `salvage` at the salvage's time.
    pub attributed_to_salvage: u64,
    /// The damaged file's last record, if it read.
    pub damaged_head: Option<Head>,
    /// The new file's last record.
    pub head: Option<Head>,
}

fn head(sequence: u32, at: i64, actor: String, hash: &[u8; 32]) -> Option<Head> {
    Some(Head {
        sequence,
        written_on: store::from_micros(at).ok()?,
        written_by: actor,
        hash: hash.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }),
    })
}

impl Ledger {
    /// Copies every row of the damaged ledger file `damaged` that still
    /// reads and verifies into the new ledger file `new`, and reports what
    /// was lost.
    ///
    /// The damaged file is only read (a repair it needs is made on a copy
    /// beside `new`). Each row is read and decoded on its own, so one bad row
    /// loses only itself, and a damaged page only its rows; a row is kept
    /// when it decodes and what it refers to was kept (a tag's repository, a
    /// log chunk's tag). The digest index and the violations are rebuilt
    /// from the logs, so damage in them loses nothing. Repositories, tags
    /// and journal batches are renumbered densely, and the journal rebuilt
    /// (see [`JournalSalvage`]). The new file is written under a temporary
    /// name beside `new`, verified ([`Ledger::verify`]), and only then
    /// linked into place. Stored credentials stay sealed: the new ledger
    /// needs the same secret key.
    ///
    /// ```
    /// # fn main() -> ociledger::Result<()> {
    /// # let dir = std::env::temp_dir().join(format!("ociledger-doc-salvage-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).ok();
    /// use ociledger::Ledger;
    ///
    /// drop(Ledger::create(dir.join("tags.redb"))?);
    /// let report = Ledger::salvage(dir.join("tags.redb"), dir.join("saved.redb"))?;
    /// assert!(report.complete && report.verify.is_clean());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when `new` exists; [`Error::NotFound`] when
    /// `damaged` does not; [`Error::NotALedger`] or [`Error::Version`] for a
    /// file that is not a ledger of this schema; [`Error::Corrupt`] when
    /// nothing of it can be read (the engine cannot open it, or not one
    /// table opens), or when the new file does not verify (a bug); storage
    /// and I/O errors of the new file. `new` is then left absent.
    pub fn salvage(damaged: impl AsRef<Path>, new: impl AsRef<Path>) -> Result<Salvage> {
        let start = Instant::now();
        let (damaged, new) = (damaged.as_ref(), new.as_ref());
        if new.symlink_metadata().is_ok() {
            return Err(Error::Conflict {
                what: "salvage file",
                id: new.display().to_string(),
            });
        }
        if !damaged.exists() {
            return Err(Error::NotFound {
                what: "ledger file",
                id: damaged.display().to_string(),
            });
        }
        let now = store::truncate(SystemClock.now());
        let tmp = TempFile::beside(new, "salvage")?;
        let found = store::salvage(damaged, new, tmp.path(), now)?;
        let (verify, new_head) = {
            let ledger = Ledger::open(tmp.path())?;
            (ledger.verify()?, ledger.head()?)
        };
        if !verify.is_clean() {
            let findings: Vec<String> = verify
                .tables
                .findings
                .iter()
                .map(|(check, f)| format!("{check}: {} ({})", f.count, f.examples.join("; ")))
                .collect();
            return Err(Error::Corrupt(format!(
                "salvage of {} wrote a file that does not verify, a bug in salvage (engine check: {:?}; findings: {})",
                damaged.display(),
                verify.engine_check,
                findings.join(", ")
            )));
        }
        let file = File::open(tmp.path())
            .map_err(|e| Error::io(format!("opening {}", tmp.path().display()), e))?;
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", tmp.path().display()), e))?;
        let bytes = file.metadata().map_or(0, |m| m.len());
        drop(file);
        tmp.persist(new, false, "salvage file")?;

        let damaged_head = found
            .damaged_head
            .and_then(|(seq, at, actor, hash)| head(seq, at, actor, &hash));
        let complete = !found.tables.values().any(TableSalvage::lost_anything)
            && !found
                .repaired
                .as_ref()
                .is_some_and(|(_, rollback)| *rollback);
        Ok(Salvage {
            damaged: damaged.to_owned(),
            path: new.to_owned(),
            complete,
            repaired: found.repaired.map(|(why, _)| why),
            tables: found.tables,
            repositories: found.repositories,
            tags: found.tags,
            journal: JournalSalvage {
                rebuilt: damaged_head.as_ref().map(|h| &h.hash)
                    != new_head.as_ref().map(|h| &h.hash),
                batches: found.batches.kept,
                renumbered: found.batches.renumbered,
                dropped: found.batches_dropped,
                attributed_to_salvage: found.attributed_to_salvage,
                damaged_head,
                head: new_head,
            },
            verify,
            bytes,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
