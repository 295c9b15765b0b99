//! The embedded API: [`Ledger`] opens a file, takes writes and ingests, and
//! answers queries.

mod classify;
mod history;
mod records;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase};
use serde::Serialize;

pub use classify::{Classification, MatchKind, classify_with};
pub use history::HistoryEntry;

use crate::error::{Error, Result};
use crate::id::{RepositoryId, TagId};
use crate::model::{Clock, Observation, SystemClock, Timestamp};
use crate::store::{self, NameCache, Snapshot, TagWrite, WriteSummary, Writer};

/// One page of a listing, and the cursor for the next (`None` at the end).
///
/// Cursors are opaque strings that name the last item returned, so a page
/// stays stable while other writes go on: new items never shift what comes
/// after a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Pass this back to get the next page.
    pub next: Option<String>,
}

/// What an [`Ledger::ingest`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// Observations in the batch.
    pub observations: u64,
    /// Repositories created.
    pub repositories_created: u64,
    /// Tags created.
    pub tags_created: u64,
    /// (tag, digest) references created.
    pub references_created: u64,
    /// Distinct observations recorded in move logs (exact repeats of an
    /// (instant, digest) already known are not).
    pub recorded: u64,
    /// Tags whose current digest changed.
    pub tags_moved: u64,
}

/// Database-wide figures, for `ociledger stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Row counts.
    #[serde(flatten)]
    pub counts: store::Counts,
    /// File size in bytes (0 in memory).
    pub file_bytes: u64,
}

/// An ociledger database: one redb file.
///
/// Writes run one at a time, each in its own transaction; reads never wait
/// for them. All methods take `&self`, so one `Ledger` can be shared across
/// threads (`Arc<Ledger>`).
///
/// ```
/// use ociledger::{Ledger, model::Observation};
///
/// let ledger = Ledger::in_memory()?;
/// let obs: Vec<Observation> = [
///     r#"{"repository":"nginx","tag":"latest","digest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","observed_at":"2024-01-01T00:00:00Z"}"#,
///     r#"{"repository":"nginx","tag":"latest","digest":"sha256:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed","observed_at":"2024-02-01T00:00:00Z"}"#,
/// ].iter().map(|l| serde_json::from_str(l).unwrap()).collect();
/// ledger.ingest("scanner", &obs)?;
///
/// // The first digest is still known: a stale deployment, not an unknown image.
/// let matches = ledger.tags_for_digest(&obs[0].digest)?;
/// assert_eq!(matches[0].tag.to_string(), "docker.io/library/nginx:latest");
/// assert!(!matches[0].current);
/// # Ok::<(), ociledger::Error>(())
/// ```
pub struct Ledger {
    db: Database,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    names: Arc<NameCache>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the ledger at `path`, creating the file if it does not exist.
    ///
    /// # Errors
    /// [`Error::NotALedger`] for a file that is not an ociledger database,
    /// [`Error::Version`] for one of another schema version, storage errors.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let db = Database::create(path).map_err(|e| open_error(path, e))?;
        Self::from_db(db, path)
    }

    /// Opens an existing ledger; a missing file is an error, not a new ledger.
    ///
    /// # Errors
    /// As [`Ledger::create`], and [`Error::NotFound`] when there is no file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::NotFound {
                what: "ledger file",
                id: path.display().to_string(),
            });
        }
        let db = Database::open(path).map_err(|e| open_error(path, e))?;
        store::check(&db, path)?;
        Self::from_db(db, path)
    }

    /// A ledger that lives in memory only: for tests and one-off tools.
    ///
    /// # Errors
    /// Storage errors.
    pub fn in_memory() -> Result<Self> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Self::from_db(db, Path::new(":memory:"))
    }

    fn from_db(db: Database, path: &Path) -> Result<Self> {
        store::initialize(&db, path)?;
        let names = store::load_names(&db)?;
        Ok(Self {
            db,
            path: path.to_owned(),
            clock: Arc::new(SystemClock),
            names,
        })
    }

    /// Replaces the clock that stamps writes (`created_on`, API tag moves).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A consistent read-only view, for many queries in a row.
    ///
    /// # Errors
    /// Storage errors.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::new(self.db.begin_read()?, &self.names)
    }

    fn now(&self) -> Timestamp {
        store::rows::truncate(self.clock.now())
    }

    /// Runs `op` in one write transaction; commits only if it succeeds.
    fn write<T>(&self, op: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_write()?;
        let (value, new_names) = {
            let mut writer = Writer::open(&txn)?;
            let value = op(&mut writer)?;
            writer.flush_index()?;
            (value, std::mem::take(&mut writer.new_names))
        };
        // Names go in before the commit makes their numbers visible to readers.
        let before = self.names.len();
        self.names.extend(new_names);
        if let Err(e) = txn.commit() {
            self.names.truncate(before);
            return Err(e.into());
        }
        Ok(value)
    }

    /// Applies a batch of scan observations in one transaction.
    ///
    /// Repositories and tags are created as needed; each repository's
    /// `last_scanned_on` becomes the latest observation of it. Observations
    /// may come in any order: history is ordered by `observed_at`, so an old
    /// observation is inserted into the past and never moves a tag's current
    /// digest backwards. Observing the digest a tag already points to adds no
    /// interval and no reference (it is kept only as evidence, see
    /// `docs/data-model.md`). Either the whole batch is applied or none of it.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty actor; storage errors.
    pub fn ingest(&self, actor: &str, batch: &[Observation]) -> Result<IngestSummary> {
        check_actor(actor)?;
        let now = self.now();
        let mut by_tag: BTreeMap<&TagId, Vec<TagWrite>> = BTreeMap::new();
        let mut scanned: BTreeMap<&RepositoryId, Timestamp> = BTreeMap::new();
        for o in batch {
            by_tag
                .entry(&o.tag)
                .or_default()
                .push((store::rows::micros(o.observed_at), Some(o.digest)));
            let latest = scanned.entry(o.tag.repository()).or_insert(o.observed_at);
            *latest = (*latest).max(o.observed_at);
        }
        self.write(|w| {
            let mut summary = IngestSummary {
                observations: batch.len() as u64,
                ..IngestSummary::default()
            };
            let mut repo_numbers = BTreeMap::new();
            for (repo, t) in scanned {
                let (n, created) =
                    w.upsert_scanned_repo(repo, store::rows::truncate(t), actor, now)?;
                summary.repositories_created += u64::from(created);
                repo_numbers.insert(repo, n);
            }
            // Numbers first (in name order, the order of `tag_keys`), then the
            // logs in number order: the move log, references and tag rows are
            // keyed by number, so their inserts go in key order.
            let mut tags = Vec::with_capacity(by_tag.len());
            for (tag, writes) in by_tag {
                let repo = repo_numbers.get(tag.repository()).copied().ok_or_else(|| {
                    Error::Corrupt(format!("repository of {tag} was not interned"))
                })?;
                let (n, row, created) = w.ensure_tag(tag, repo, actor, now)?;
                summary.tags_created += u64::from(created);
                tags.push((n, row, writes));
            }
            tags.sort_unstable_by_key(|t| t.0);
            for (n, mut row, mut writes) in tags {
                writes.sort_unstable();
                add(&mut summary, w.apply(n, &mut row, &writes, actor, now)?);
            }
            Ok(summary)
        })
    }

    /// Database-wide counts and the file size.
    ///
    /// # Errors
    /// Storage errors.
    pub fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            counts: self.snapshot()?.counts()?,
            file_bytes: self.file_bytes(),
        })
    }

    /// Gives the file's free pages back to the file system.
    ///
    /// redb never overwrites a page a reader might still see: every write
    /// transaction copies the pages it changes, and the file keeps the space
    /// the old copies held for later writes. After a large import that space
    /// can be half the file (measured at 1M references: see
    /// `docs/benchmarks.md`); compacting moves the live pages down and
    /// truncates the file. Nothing in the ledger changes.
    ///
    /// Takes `&mut self`, and fails while any [`Snapshot`] of this ledger is
    /// alive, because it rewrites pages readers would see.
    ///
    /// ```
    /// # fn main() -> ociledger::Result<()> {
    /// # let dir = std::env::temp_dir().join(format!("ociledger-doc-compact-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).ok();
    /// let mut ledger = ociledger::Ledger::create(dir.join("tags.redb"))?;
    /// let c = ledger.compact()?;
    /// assert!(c.file_bytes_after <= c.file_bytes_before);
    /// # drop(ledger); std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Storage`] when a snapshot is still open or the file cannot be
    /// written.
    pub fn compact(&mut self) -> Result<Compaction> {
        let file_bytes_before = self.file_bytes();
        // Each call moves what it can; repeat until nothing moves.
        while self.db.compact()? {}
        Ok(Compaction {
            file_bytes_before,
            file_bytes_after: self.file_bytes(),
        })
    }

    fn file_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }
}

/// What [`Ledger::compact`] did to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Compaction {
    /// File size before, in bytes (0 in memory).
    pub file_bytes_before: u64,
    /// File size after, in bytes (0 in memory).
    pub file_bytes_after: u64,
}

fn add(summary: &mut IngestSummary, w: WriteSummary) {
    summary.recorded += w.recorded;
    summary.references_created += w.references;
    summary.tags_moved += w.tags_moved;
}

fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() {
        return Err(Error::Invalid {
            location: "actor".to_owned(),
            message: "the actor's name (who makes the write) may not be empty".to_owned(),
            value: Some(actor.to_owned()),
        });
    }
    Ok(())
}

fn open_error(path: &Path, e: redb::DatabaseError) -> Error {
    match e {
        // redb reads a file whose header it does not know as invalid data.
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            Error::NotALedger {
                path: path.to_owned(),
                reason: format!("not a redb database ({io})"),
            }
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => {
            Error::Storage(redb::Error::Io(io))
        }
        redb::DatabaseError::DatabaseAlreadyOpen => {
            Error::Storage(redb::Error::DatabaseAlreadyOpen)
        }
        other => Error::NotALedger {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    }
}
