//! The embedded API: [`Ledger`] opens a file, takes writes and ingests, and
//! answers queries.

mod classify;
mod history;
mod integrations;
mod records;
mod scan;
mod snapshot;
mod templates;
mod verify;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use classify::{Classification, MatchKind};
pub use history::HistoryEntry;
pub use integrations::{KeyRotation, RegistryAuth, RegistryCredentials};
pub use records::MAX_PAGE;
pub use scan::{ScanBatch, ScanRecord};
pub use snapshot::Snapshot;
pub use templates::{SettingChange, TemplateApplication, TemplateMatch};
pub use verify::{Findings, Head, Verification, VerifyReport};

use crate::error::{Error, Result};
use crate::id::{RepositoryId, TagId};
use crate::model::{Clock, ManifestRelation, Observation, SystemClock, Timestamp};
use crate::store::{self, Store, TagWrite, WriteSummary, Writer};

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
    /// Manifest relations recorded for the first time: (index, platform
    /// manifest) pairs and (manifest, config) pairs.
    pub relations_created: u64,
    /// Violations recorded for the first time: moves of tags their
    /// repository's template made immutable (see [`crate::model::Violation`]).
    pub violations_created: u64,
}

/// Database-wide figures, for `ociledger stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Row counts.
    #[serde(flatten)]
    pub counts: crate::Counts,
    /// File size in bytes (0 in memory).
    pub file_bytes: u64,
    /// Bytes the file occupies on disk (allocated blocks, on Unix; elsewhere
    /// the file size). redb grows a file by doubling (up to 4 GiB regions)
    /// and the new space is sparse until written, so right after
    /// [`Ledger::compact`] one small write can double `file_bytes` while
    /// `disk_bytes` hardly moves.
    pub disk_bytes: u64,
}

/// An ociledger database: one redb file.
///
/// Open it for writing ([`Ledger::create`], [`Ledger::open`]) in the one
/// process that writes, and read-only ([`Ledger::open_read_only`]) in any
/// number of other processes at the same time: readers follow the writer's
/// commits, one whole batch at a time.
///
/// Writes run one at a time, each in its own transaction; reads never wait
/// for them. All methods take `&self`, and `Ledger` is `Send + Sync`, so one
/// `Arc<Ledger>` can serve every thread.
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
    store: Store,
    clock: Arc<dyn Clock>,
    /// The secret key for integration credentials, and their options.
    integrations: integrations::IntegrationSettings,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.store.path())
            .field("read_only", &self.store.is_read_only())
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the ledger at `path` for writing, creating the file if it does
    /// not exist. One process at a time may hold a ledger for writing.
    ///
    /// # Errors
    /// [`Error::InUse`] while another process writes to the file,
    /// [`Error::NotALedger`] for a file that is not an ociledger database,
    /// [`Error::Version`] for one of another schema version, storage errors.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_store(Store::create(path.as_ref())?))
    }

    /// Opens an existing ledger for writing; a missing file is an error, not
    /// a new ledger. Opening never writes to the file.
    ///
    /// # Errors
    /// As [`Ledger::create`], and [`Error::NotFound`] when there is no file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_store(Store::open(path.as_ref())?))
    }

    /// Opens an existing ledger for reading only: nothing is ever written to
    /// the file (a read-only file works), any number of processes may do so
    /// while one process writes, and each [`Ledger::snapshot`] sees the
    /// writer's last whole commit. Writes fail with [`Error::ReadOnly`].
    ///
    /// ```
    /// # fn main() -> ociledger::Result<()> {
    /// # let dir = std::env::temp_dir().join(format!("ociledger-doc-ro-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).ok();
    /// let path = dir.join("tags.redb");
    /// let writer = ociledger::Ledger::create(&path)?;
    /// let reader = ociledger::Ledger::open_read_only(&path)?; // usually another process
    /// assert_eq!(reader.stats()?.counts.tags, 0);
    /// assert!(reader.ingest("me", &[]).is_err());
    /// # drop((reader, writer)); std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no file, [`Error::NotALedger`],
    /// [`Error::Version`], storage errors.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_store(Store::open_read_only(path.as_ref())?))
    }

    /// A ledger that lives in memory only: for tests and one-off tools.
    ///
    /// # Errors
    /// Storage errors.
    pub fn in_memory() -> Result<Self> {
        Ok(Self::from_store(Store::in_memory()?))
    }

    fn from_store(store: Store) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            integrations: integrations::IntegrationSettings::default(),
        }
    }

    /// Replaces the clock that stamps writes (`created_on`, API tag moves).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The file this ledger was opened from (`:memory:` in memory).
    #[must_use]
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// A consistent read-only view, for many queries in a row: one read
    /// transaction that sees the last commit and nothing after it. Take a
    /// new one to see later writes.
    ///
    /// # Errors
    /// Storage errors.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot::new(self.store.view()?))
    }

    fn now(&self) -> Timestamp {
        store::truncate(self.clock.now())
    }

    /// Runs `op` in one write transaction; commits only if it succeeds.
    fn write<T>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        self.store.write(operation, op)
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
                .push((o.observed_at, Some(o.digest)));
            let latest = scanned.entry(o.tag.repository()).or_insert(o.observed_at);
            *latest = (*latest).max(o.observed_at);
        }
        self.write("ingest", |w| {
            let mut summary = IngestSummary {
                observations: batch.len() as u64,
                ..IngestSummary::default()
            };
            let mut repo_numbers = BTreeMap::new();
            for (repo, t) in scanned {
                let (n, created) = w.upsert_scanned_repo(repo, store::truncate(t), actor, now)?;
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
                let (state, created) = w.ensure_tag(tag, repo, actor, now)?;
                summary.tags_created += u64::from(created);
                tags.push((state, writes));
            }
            tags.sort_unstable_by_key(|t| Writer::tag_order(&t.0));
            for (mut state, mut writes) in tags {
                writes.sort_unstable();
                add(&mut summary, w.apply(&mut state, &writes, actor, now)?);
            }
            for (i, o) in batch.iter().enumerate() {
                if let Some(relation) = o.relation() {
                    summary.relations_created += w
                        .record_relation(&relation)
                        .map_err(|e| at_item("observation", i, e))?;
                }
            }
            Ok(summary)
        })
    }

    /// Records manifest relations (image index → platform manifests,
    /// manifest → config) in one transaction: what a scanner learned when it
    /// read manifests, or the `import --manifests` file. Relations are
    /// content-addressed: recording one again changes nothing, and a
    /// different platform for a recorded (index, manifest) or a different
    /// config for a recorded manifest is refused, naming both. Either every
    /// relation of the batch is recorded or none. Returns how many were new.
    ///
    /// ```
    /// use ociledger::{Ledger, model::ManifestRelation};
    ///
    /// let ledger = Ledger::in_memory()?;
    /// let index: ManifestRelation = serde_json::from_str(r#"{"index": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ///   "manifests": [{"digest": "sha256:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed",
    ///                  "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}"#).unwrap();
    /// assert_eq!(ledger.record_relations("scanner", &[index.clone()])?, 1);
    /// assert_eq!(ledger.record_relations("scanner", &[index])?, 0);
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] for a conflicting or self-referencing relation
    /// (its location names the item); storage errors.
    pub fn record_relations(&self, actor: &str, relations: &[ManifestRelation]) -> Result<u64> {
        check_actor(actor)?;
        self.write("record relations", |w| {
            let mut created = 0;
            for (i, r) in relations.iter().enumerate() {
                created += w
                    .record_relation(r)
                    .map_err(|e| at_item("relation", i, e))?;
            }
            Ok(created)
        })
    }

    /// Database-wide counts and the file size.
    ///
    /// # Errors
    /// Storage errors.
    pub fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            counts: self.snapshot()?.counts()?,
            file_bytes: self.store.file_bytes(),
            disk_bytes: self.store.disk_bytes(),
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
    /// Works through a shared handle (`Arc<Ledger>`): it waits for a write
    /// in progress, and refuses with [`Error::Busy`] while a [`Snapshot`] of
    /// this ledger is alive, because it moves pages that snapshot reads.
    ///
    /// ```
    /// # fn main() -> ociledger::Result<()> {
    /// # let dir = std::env::temp_dir().join(format!("ociledger-doc-compact-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).ok();
    /// let ledger = ociledger::Ledger::create(dir.join("tags.redb"))?;
    /// let c = ledger.compact()?;
    /// assert!(c.file_bytes_after <= c.file_bytes_before);
    /// # drop(ledger); std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Busy`] while a snapshot is open, [`Error::ReadOnly`] on a
    /// read-only ledger, storage errors.
    pub fn compact(&self) -> Result<Compaction> {
        let file_bytes_before = self.store.file_bytes();
        self.store.compact()?;
        Ok(Compaction {
            file_bytes_before,
            file_bytes_after: self.store.file_bytes(),
        })
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
    summary.violations_created += w.violations;
}

/// Prefixes an `Invalid` error's location with the batch item it is about.
fn at_item(what: &str, i: usize, e: Error) -> Error {
    match e {
        Error::Invalid {
            location,
            message,
            value,
        } => Error::Invalid {
            location: format!("{what} {i}: {location}"),
            message,
            value,
        },
        other => other,
    }
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
