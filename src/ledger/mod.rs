//! The embedded API: [`Ledger`] opens a file, takes writes and ingests, and
//! answers queries.

mod backup;
mod by_tag;
mod classify;
mod history;
mod integrations;
mod lookup;
mod memory;
mod records;
mod salvage;
mod scan;
mod snapshot;
mod space;
mod templates;
mod verify;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use foldhash::fast::RandomState as FoldHash;

use serde::Serialize;

pub use backup::{Backup, Restore};
pub use classify::{Classification, MatchKind};
pub use history::HistoryEntry;
pub use integrations::{KeyRotation, RegistryAuth, RegistryCredentials};
pub use lookup::{Lookup, Matches};
pub use memory::IndexMemory;
pub use records::MAX_PAGE;
pub use salvage::{JournalSalvage, Renumbering, Salvage, TableSalvage};
pub use scan::{ScanBatch, ScanRecord};
pub use snapshot::Snapshot;
pub use space::{Compaction, Stats};
pub use templates::{SettingChange, TemplateApplication, TemplateMatch};
pub use verify::{Findings, Head, Verification, VerifyReport};

use crate::error::{Error, Result};
use crate::id::RepositoryId;
use crate::model::{Clock, ManifestRelation, Observation, SystemClock, Timestamp};
use crate::store::{self, Store, WriteSummary, Writer};
use by_tag::ByTag;

/// The maps an ingest groups its batch with.
type BatchMap<K, V> = HashMap<K, V, FoldHash>;

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

/// How far past the ledger's clock an observation may be dated: a write
/// whose `observed_at` (or a scan's `scanned_at`) is later than the ledger's
/// clock plus this is refused ([`Ledger::check_observed_at`]).
///
/// Scanners stamp observations with their own clocks, which differ from the
/// writer's: by milliseconds under NTP, by minutes on a machine just resumed
/// or without time sync. Five minutes is the allowance Kerberos has long used
/// for the same problem: it accepts that drift, while a date in the future (a
/// typo's 2099, a clock set years ahead) is refused. Accepted, such an
/// observation would become the tag's last one, and every later write at the
/// ledger's own time (`tag update`, `tag delete`) would land before it and be
/// refused until the clock caught up.
pub const MAX_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

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
    /// A write that fails with an I/O error (a full disk: status 507; see
    /// [`StorageError::is_io`](crate::StorageError::is_io)) changes nothing,
    /// and the ledger then reopens its file itself, so the same `Ledger`
    /// writes again once the disk has room. Snapshots taken before the
    /// failure may then fail ("Database has been closed"): take new ones.
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

    /// A ledger on storage the caller provides (see
    /// [`StorageBackend`](crate::StorageBackend)): initializes a new ledger
    /// on an empty backend, or opens the ledger already on it. For embedders
    /// that keep the bytes somewhere other than a local file, and for tests
    /// that inject faults. [`Ledger::path`] is `<backend>`; the backend is
    /// used in redb's exclusive mode (one handle at a time; its lock methods
    /// may stay unimplemented), and it is closed when the ledger is dropped.
    ///
    /// ```
    /// use std::io;
    /// use std::sync::{Arc, Mutex};
    /// use ociledger::{Ledger, StorageBackend, model::Observation};
    ///
    /// /// Bytes that outlive the ledger: reopen them later.
    /// #[derive(Debug, Clone, Default)]
    /// struct Shared(Arc<Mutex<Vec<u8>>>);
    ///
    /// impl StorageBackend for Shared {
    ///     fn len(&self) -> io::Result<u64> {
    ///         Ok(self.0.lock().unwrap().len() as u64)
    ///     }
    ///     fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
    ///         let bytes = self.0.lock().unwrap();
    ///         let start = usize::try_from(offset).map_err(io::Error::other)?;
    ///         let src = bytes.get(start..start + out.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
    ///         out.copy_from_slice(src);
    ///         Ok(())
    ///     }
    ///     fn set_len(&self, len: u64) -> io::Result<()> {
    ///         let len = usize::try_from(len).map_err(io::Error::other)?;
    ///         self.0.lock().unwrap().resize(len, 0);
    ///         Ok(())
    ///     }
    ///     fn sync_data(&self) -> io::Result<()> {
    ///         Ok(())
    ///     }
    ///     fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
    ///         let mut bytes = self.0.lock().unwrap();
    ///         let start = usize::try_from(offset).map_err(io::Error::other)?;
    ///         if bytes.len() < start + data.len() {
    ///             bytes.resize(start + data.len(), 0);
    ///         }
    ///         bytes[start..start + data.len()].copy_from_slice(data);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let disk = Shared::default();
    /// let ledger = Ledger::create_with_backend(disk.clone())?;
    /// let seen: Observation = serde_json::from_str(r#"{"repository": "nginx", "tag": "1.25",
    ///     "digest": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ///     "observed_at": "2024-01-01T00:00:00Z"}"#).unwrap();
    /// ledger.ingest("scanner", &[seen])?;
    /// drop(ledger);
    ///
    /// // The same bytes again: the ledger already on them is opened.
    /// let reopened = Ledger::create_with_backend(disk)?;
    /// assert_eq!(reopened.stats()?.counts.tags, 1);
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    ///
    /// Commits are durable when they return (`sync_data` has succeeded).
    /// After a backend I/O error, every later write of this ledger fails
    /// until it is dropped and opened again: the engine owns the backend and
    /// cannot give it back, so unlike a ledger on a file (which reopens its
    /// file itself) this one cannot reopen it; such errors have
    /// [`StorageError::is_io`](crate::StorageError::is_io). A crash during the very first
    /// open of empty storage, while the engine formats it, can leave storage
    /// that is neither empty nor a ledger: it is refused with
    /// [`Error::NotALedger`] (never taken for a ledger); empty it to start
    /// again.
    ///
    /// # Errors
    /// [`Error::NotALedger`] for storage that holds something else,
    /// [`Error::Version`] for a ledger of another schema version, storage
    /// errors (the backend's I/O errors among them).
    pub fn create_with_backend(backend: impl crate::StorageBackend) -> Result<Self> {
        Ok(Self::from_store(Store::with_backend(backend)?))
    }

    fn from_store(store: Store) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            integrations: integrations::IntegrationSettings::default(),
        }
    }

    /// Replaces the clock that stamps writes (`created_on`, API tag moves)
    /// and bounds observation times ([`MAX_CLOCK_SKEW`]).
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

    /// Checks that an observation time is not in the future: no later than
    /// the ledger's clock (see [`Ledger::with_clock`]) plus
    /// [`MAX_CLOCK_SKEW`]. [`Ledger::ingest`] and [`Ledger::record_scan`]
    /// apply it to every item; an importer can call it per line first, so a
    /// bad line is skipped instead of failing its batch.
    ///
    /// ```
    /// use ociledger::{Error, Ledger};
    ///
    /// let ledger = Ledger::in_memory()?;
    /// assert!(ledger.check_observed_at("2024-01-01T00:00:00Z".parse().unwrap()).is_ok());
    /// let refused = ledger.check_observed_at("2099-01-01T00:00:00Z".parse().unwrap());
    /// assert!(matches!(refused, Err(Error::Invalid { location, .. }) if location == "observed_at"));
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] at `observed_at`, whose message gives the clock's
    /// time and the allowance, for a time later than that.
    pub fn check_observed_at(&self, observed_at: Timestamp) -> Result<()> {
        not_after(observed_at, self.now(), "observed_at")
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
    /// [`Error::Invalid`] for an empty actor, and for an observation dated
    /// later than the ledger's clock plus [`MAX_CLOCK_SKEW`] (its location
    /// names the item, `observation 12: observed_at`; nothing is written,
    /// see [`Ledger::check_observed_at`]); storage errors.
    pub fn ingest(&self, actor: &str, batch: &[Observation]) -> Result<IngestSummary> {
        check_actor(actor)?;
        let now = self.now();
        let horizon = Horizon::new(now);
        for (i, o) in batch.iter().enumerate() {
            horizon
                .check(o.observed_at, "observed_at")
                .map_err(|e| at_item("observation", i, e))?;
        }
        // Grouped by hashing (an ordered map compared long repository names
        // several times per observation), repositories per tag. foldhash,
        // not std's SipHash: this hashing was 4 % of an ingest, and its
        // per-process random seed still keeps crafted tag names from
        // colliding on purpose (docs/decisions.md).
        let by_tag = ByTag::of(batch);
        let mut scanned: BatchMap<&RepositoryId, Timestamp> = BatchMap::default();
        for (tag, range) in by_tag.tags() {
            // Sorted: the last is the latest.
            if let Some(&(t, _)) = by_tag.writes(range).last() {
                let latest = scanned.entry(tag.repository()).or_insert(t);
                *latest = (*latest).max(t);
            }
        }
        // New repositories are numbered in name order, whatever the batch's.
        let mut scanned: Vec<_> = scanned.into_iter().collect();
        scanned.sort_unstable_by_key(|&(repo, _)| repo);
        self.write("ingest", |w| {
            w.reserve(batch.len());
            let mut summary = IngestSummary {
                observations: batch.len() as u64,
                ..IngestSummary::default()
            };
            let mut repo_numbers =
                BatchMap::with_capacity_and_hasher(scanned.len(), FoldHash::default());
            for (repo, t) in scanned {
                let (n, created) = w.upsert_scanned_repo(repo, store::truncate(t), actor, now)?;
                summary.repositories_created += u64::from(created);
                repo_numbers.insert(repo, n);
            }
            // Numbers first, in the order of `tag_keys` (repository number,
            // tag name), then the logs in number order: the move log,
            // references and tag rows are keyed by number, so their inserts
            // go in key order.
            let mut by_key = Vec::with_capacity(by_tag.tags().len());
            for (tag, writes) in by_tag.tags() {
                let repo = repo_numbers.get(tag.repository()).copied().ok_or_else(|| {
                    Error::Corrupt(format!("repository of {tag} was not interned"))
                })?;
                by_key.push((repo, tag, writes));
            }
            by_key.sort_unstable_by(|a, b| (a.0, a.1.tag()).cmp(&(b.0, b.1.tag())));
            let mut tags = Vec::with_capacity(by_key.len());
            for (repo, tag, writes) in by_key {
                let (state, created) = w.ensure_tag(tag, repo, actor, now)?;
                summary.tags_created += u64::from(created);
                tags.push((state, writes));
            }
            tags.sort_unstable_by_key(|t| Writer::tag_order(&t.0));
            for (mut state, writes) in tags {
                add(
                    &mut summary,
                    w.apply(&mut state, by_tag.writes(writes), actor, now)?,
                );
            }
            for (i, o) in batch.iter().enumerate() {
                if let Some(relation) = o.relation() {
                    summary.relations_created += w
                        .record_relation(&relation)
                        .map_err(|e| at_item("observation", i, e))?;
                }
            }
            // After the relations: their flag changes create no reference,
            // and the index rows are then written once.
            summary.references_created = w.references_created()?;
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
}

fn add(summary: &mut IngestSummary, w: WriteSummary) {
    summary.recorded += w.recorded;
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

/// Refuses `t` (a time from input, at `location`) when it is later than
/// `now` plus [`MAX_CLOCK_SKEW`].
fn not_after(t: Timestamp, now: Timestamp, location: &str) -> Result<()> {
    Horizon::new(now).check(t, location)
}

/// The latest instant a write accepts: the clock plus [`MAX_CLOCK_SKEW`],
/// worked out once per batch (per observation, the date arithmetic was
/// 1.4 % of an ingest).
struct Horizon {
    now: Timestamp,
    /// The limit, and it in stored microseconds (`None`: past the end of
    /// time, nothing is refused).
    limit: Option<(Timestamp, i64)>,
}

impl Horizon {
    fn new(now: Timestamp) -> Self {
        let limit = now
            .checked_add_signed(MAX_CLOCK_SKEW)
            .map(|l| (l, l.timestamp_micros()));
        Self { now, limit }
    }

    /// Refuses `t` (a time from input, at `location`) when it is later
    /// than the limit. Compared as stored (microseconds, rounded down), so
    /// what is accepted is what is kept.
    fn check(&self, t: Timestamp, location: &str) -> Result<()> {
        let Some((limit, limit_us)) = self.limit else {
            return Ok(());
        };
        if t.timestamp_micros() <= limit_us {
            return Ok(());
        }
        let show = |t: Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        Err(Error::Invalid {
            location: location.to_owned(),
            message: format!(
                "{} is in the future: later than the ledger's clock ({}) plus the allowed clock skew of {} minutes, so at most {}; \
                 a future time would fix where the tag points until the clock reaches it",
                show(t),
                show(self.now),
                MAX_CLOCK_SKEW.num_minutes(),
                show(limit),
            ),
            value: Some(show(t)),
        })
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
