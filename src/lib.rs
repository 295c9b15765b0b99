//! # ociledger
//!
//! An embedded storage engine and tag-history indexer for OCI container
//! images. A classifier embeds it to answer, very often and very fast: *this
//! container runs digest D — which repository:tag is it, now or in the past?*
//!
//! Mutable tags (`latest`, `1.25`) move, so ociledger keeps every digest each
//! tag ever pointed to, append-only, in one file, indexed by digest.
//!
//! ```
//! use ociledger::{Ledger, MatchKind, model::Observation};
//!
//! let ledger = Ledger::in_memory()?; // or Ledger::create("tags.redb")?
//! let seen: Observation = serde_json::from_str(r#"{"repository": "nginx", "tag": "1.25",
//!     "digest": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
//!     "observed_at": "2024-01-01T00:00:00Z"}"#).unwrap();
//! ledger.ingest("scanner", &[seen])?;
//!
//! // A classifier, usually another process: Ledger::open_read_only("tags.redb")?
//! let snap = ledger.snapshot()?;
//! let answer = snap.classify("docker-pullable://nginx:1.25",
//!     Some(&"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".parse()?))?;
//! assert_eq!(answer.kind, MatchKind::Current);
//! assert_eq!(answer.matches[0].tag.to_string(), "docker.io/library/nginx:1.25");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`id`]: parse and normalize every identifier a registry or a cluster
//!   shows (`nginx` = `docker.io/library/nginx`), with errors that say where.
//! - [`model`]: the records, with exactly the source documents' JSON.
//! - [`Ledger`] opens a file (one writer process, any number of reader
//!   processes), ingests and writes; [`Snapshot`] answers queries.
//! - [`problem`]: errors as problem+json, for servers and tools.
//! - Repository creation templates (Amazon ECR's document) give repositories
//!   their tag mutability ([`Ledger::create_template`]); the API refuses to
//!   move an immutable tag, and ingest records such moves as violations
//!   ([`Ledger::violations`]).
#![deny(missing_docs)]
#![deny(clippy::pedantic)]
#![forbid(unsafe_code)]

pub mod error;
pub mod id;
mod ledger;
pub mod model;
pub mod problem;
#[cfg(feature = "scan")]
pub mod scan;
pub mod secrets;
mod store;

pub use error::{Error, Result, StorageError};
pub use ledger::MAX_CLOCK_SKEW;
pub use ledger::{Backup, Restore};
pub use ledger::{
    Classification, Compaction, HistoryEntry, IndexMemory, IngestSummary, KeyRotation, Ledger,
    Lookup, MAX_PAGE, MatchKind, Matches, Page, RegistryAuth, RegistryCredentials, Snapshot, Stats,
};
pub use ledger::{Findings, Head, Verification, VerifyReport};
pub use ledger::{JournalSalvage, Renumbering, Salvage, TableSalvage};
pub use ledger::{ScanBatch, ScanRecord};
pub use ledger::{SettingChange, TemplateApplication, TemplateMatch};
/// The storage engine's (redb's) storage trait, for
/// [`Ledger::create_with_backend`]: embedders who bring their own storage
/// (bytes kept somewhere other than a local file), and tests that inject
/// faults (power loss, a full disk) under a ledger. Its I/O methods return
/// [`std::io::Error`]. It is the one engine item in the public API, so a
/// major upgrade of redb may change it.
pub use redb::StorageBackend;
pub use store::{Counts, SCHEMA_VERSION};
