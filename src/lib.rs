//! # ociledger
//!
//! An embedded storage engine and tag-history indexer for OCI container
//! images. A classifier embeds it to answer, very often and very fast: *this
//! container runs digest D — which repository:tag is it, now or in the past?*
//!
//! Mutable tags (`latest`, `1.25`) move, so ociledger keeps every digest each
//! tag ever pointed to, append-only, and indexes it by digest.
//!
//! The [`id`] module parses and normalizes every identifier a registry or a
//! cluster shows:
//!
//! ```
//! use ociledger::id::{ImageRef, TagId};
//!
//! let tag: TagId = "index.docker.io/nginx:1.25".parse()?;
//! assert_eq!(tag.to_string(), "docker.io/library/nginx:1.25");
//!
//! let running: ImageRef = "docker-pullable://nginx@sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".parse()?;
//! assert_eq!(running.repository(), Some(tag.repository()));
//! # Ok::<(), ociledger::id::IdError>(())
//! ```
#![deny(missing_docs)]
#![deny(clippy::pedantic)]
#![forbid(unsafe_code)]

pub mod error;
pub mod id;
pub mod model;
mod store;

pub use error::{Error, Result};
mod ledger;

pub use ledger::{
    Classification, Compaction, HistoryEntry, IngestSummary, Ledger, MatchKind, Page, Stats,
    classify_with,
};
pub use store::{Counts, SCHEMA_VERSION, Snapshot};
