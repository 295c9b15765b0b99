//! The damaged file: one read transaction of it ([`Source`]), from a
//! repaired copy when the engine wants a repair, and the check that it is a
//! ledger of this schema ([`check_format`]).

use std::fs;
use std::path::Path;

use redb::{
    Builder, Database, DatabaseError, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
    TableHandle,
};

use super::super::backup::TempFile;
use super::super::handle::open_error;
use super::super::{FORMAT_KEY, FORMAT_NAME, JOURNAL, META, SCHEMA_VERSION, TAG_LOG, VERSION_KEY};
use super::harvest::Harvest;
use super::scan::attempt;
use crate::error::{Error, Result};

/// One read transaction of the damaged file. Fields drop in order: the
/// transaction, the handle, then the repaired copy's file.
pub(super) struct Source {
    pub(super) txn: ReadTransaction,
    /// See [`Salvaged::repaired`](super::Salvaged::repaired).
    pub(super) repaired: Option<(String, bool)>,
    /// The engine's handle on the damaged file, or on its repaired copy.
    _read_only: Option<ReadOnlyDatabase>,
    _repaired: Option<Database>,
    /// The repaired copy, removed when dropped.
    _copy: Option<TempFile>,
}

impl Source {
    /// Opens `damaged` read-only; when the engine refuses (a file not closed
    /// cleanly needs a repair that a read-only open cannot make, or its
    /// newest commit is damaged), copies it beside `beside` and opens the
    /// copy as a writer, which repairs it (falling back to the commit before
    /// a damaged one). The damaged file itself is never written.
    pub(super) fn open(damaged: &Path, beside: &Path, builder: &Builder) -> Result<Self> {
        let first = match attempt(|| builder.open_read_only(damaged)) {
            Some(Ok(db)) => {
                if let Some(Ok(txn)) = attempt(|| db.begin_read()) {
                    return Ok(Self {
                        txn,
                        repaired: None,
                        _read_only: Some(db),
                        _repaired: None,
                        _copy: None,
                    });
                }
                None
            }
            Some(Err(e)) => Some(e),
            None => None,
        };
        let refused = |first: Option<DatabaseError>| match first {
            Some(e) => open_error(damaged, e),
            None => Error::Corrupt(format!(
                "{}: the storage engine failed opening it",
                damaged.display()
            )),
        };
        // Not a redb file at all, a writer that holds it in another mode, an
        // older format: a repair changes none of that.
        let final_refusal = match &first {
            Some(DatabaseError::Storage(redb::StorageError::Io(io))) => {
                io.kind() == std::io::ErrorKind::InvalidData
            }
            Some(
                DatabaseError::DatabaseAlreadyOpen
                | DatabaseError::LockProtocolMismatch
                | DatabaseError::UpgradeRequired(_),
            ) => true,
            _ => false,
        };
        if final_refusal {
            return Err(refused(first));
        }
        let copy = TempFile::beside(beside, "repairing")?;
        fs::copy(damaged, copy.path()).map_err(|e| {
            Error::io(
                format!("copying {} to {}", damaged.display(), copy.path().display()),
                e,
            )
        })?;
        let repaired = attempt(|| {
            let db = builder.open(copy.path())?;
            let txn = db.begin_read()?;
            Ok::<_, Error>((db, txn))
        });
        match repaired {
            Some(Ok((db, txn))) => Ok(Self {
                txn,
                repaired: Some(match &first {
                    Some(DatabaseError::RepairAborted) => {
                        ("it was not closed cleanly".to_owned(), false)
                    }
                    Some(e) => (e.to_string(), true),
                    None => ("the storage engine failed opening it".to_owned(), true),
                }),
                _read_only: None,
                _repaired: Some(db),
                _copy: Some(copy),
            }),
            _ => Err(refused(first)),
        }
    }
}

/// Refuses a file that says it is another program's or another schema's,
/// or that has nothing a ledger has. A format or version record that says
/// otherwise in a file that has this schema's own tables (`tag_log` and
/// `journal`, new in schema 6) is taken for damaged, and noted.
pub(super) fn check_format(path: &Path, h: &mut Harvest) -> Result<()> {
    let ours = h.opened.contains(TAG_LOG.name()) && h.opened.contains(JOURNAL.name());
    if let Some(format) = h.meta.get(FORMAT_KEY)
        && format != FORMAT_NAME
    {
        if !ours {
            return Err(Error::NotALedger {
                path: path.to_owned(),
                reason: "its meta table has no ociledger format record".to_owned(),
            });
        }
        h.table(&META)
            .describe("the format record is damaged; the tables are a ledger's");
    }
    if let Some(v) = h.meta.get(VERSION_KEY) {
        let found = <[u8; 4]>::try_from(v.as_slice()).map_or(0, u32::from_le_bytes);
        if found != SCHEMA_VERSION {
            if !ours {
                return Err(Error::Version {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            h.table(&META).describe(format!(
                "the schema version record says {found}; the tables are schema {SCHEMA_VERSION}'s"
            ));
        }
    }
    if h.opened.is_empty() {
        let missing = h
            .tables
            .values()
            .all(|t| t.examples.iter().all(|e| e.contains("does not exist")));
        return Err(if missing {
            Error::NotALedger {
                path: path.to_owned(),
                reason: "it has none of a ledger's tables".to_owned(),
            }
        } else {
            Error::Corrupt(format!(
                "{}: nothing could be read: not one table opens",
                path.display()
            ))
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ledger;
    use crate::id::{Algorithm, Digest};
    use crate::model::Observation;

    /// Guards the repair path: a file not closed cleanly is refused by a
    /// read-only open in the engine's exclusive mode (the mode used where
    /// the platform has no byte-range locks), and salvage must then read a
    /// repaired copy, never write the damaged file, and leave no copy
    /// behind. On Linux the ledger's own mode opens such a file read-only,
    /// so this is the only test that reaches the repair.
    #[test]
    fn a_file_that_needs_a_repair_is_read_from_a_repaired_copy() {
        let dir = tempfile::tempdir().expect("temp dir");
        let live = dir.path().join("live.redb");
        let ledger = Ledger::create(&live).expect("create");
        let o = Observation::new(
            "nginx:latest".parse().expect("tag"),
            Digest::of(Algorithm::Sha256, b"x"),
            "2024-01-01T00:00:00Z".parse().expect("time"),
        );
        ledger.ingest("test", &[o]).expect("ingest");
        // A copy taken while the writer holds the file was not closed.
        let damaged = dir.path().join("unclean.redb");
        fs::copy(&live, &damaged).expect("copy");
        drop(ledger);
        let before = fs::read(&damaged).expect("bytes");

        let mut exclusive = Builder::new();
        exclusive.set_concurrency_mode(redb::ConcurrencyMode::ExclusiveWriter);
        assert!(
            matches!(
                exclusive.open_read_only(&damaged),
                Err(DatabaseError::RepairAborted)
            ),
            "the copy must need a repair for this test to mean anything"
        );
        let new = dir.path().join("new.redb");
        let source = Source::open(&damaged, &new, &exclusive).expect("open");
        assert_eq!(
            source.repaired,
            Some(("it was not closed cleanly".to_owned(), false)),
            "read from a repaired copy"
        );
        let harvest = Harvest::read(&source.txn);
        assert_eq!(harvest.tags.len(), 1);
        drop(source);
        assert_eq!(fs::read(&damaged).expect("bytes"), before, "never written");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 2, "no repaired copy left behind: {names:?}");
    }
}
