//! What one repository's scan did: the counts of the JSON summary and the
//! failures with their reasons.

use serde::{Serialize, Serializer};

use super::ScanError;
use crate::ScanRecord;
use crate::id::{Digest, RepositoryId};
use crate::model::Timestamp;

/// A tag the scan could not resolve, and why. Its earlier history is
/// untouched, and it is not recorded as deleted (it was listed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagFailure {
    /// The tag name.
    pub tag: String,
    /// The digest it pointed to, when that much was learned.
    pub digest: Option<Digest>,
    /// What went wrong, with the URL.
    pub reason: String,
}

/// One repository's scan: what was listed, written and sent.
#[derive(Debug, Serialize)]
pub struct RepositoryReport {
    /// The repository.
    pub repository: RepositoryId,
    /// The scan's time: every observation and deletion is at it.
    pub scanned_at: Timestamp,
    /// Whether the scan was recorded (false when `error` is set).
    pub written: bool,
    /// Tags in the registry's listing.
    pub tags_listed: u64,
    /// Tags chosen by the filter and resolved (failures included).
    pub tags_scanned: u64,
    /// Tags new to the ledger, or back after a deletion.
    pub tags_new: u64,
    /// Tags that point to another digest than at the last scan.
    pub tags_moved: u64,
    /// Tags that point where they did.
    pub tags_unchanged: u64,
    /// Tags gone from the listing, recorded as deleted.
    pub tags_deleted: u64,
    /// Manifest relations recorded for the first time.
    pub relations_created: u64,
    /// Moves of immutable tags this scan found (`ociledger violations`
    /// lists them).
    pub violations: u64,
    /// Manifest bodies downloaded (each verified against its digest).
    pub manifests_fetched: u64,
    /// HTTP requests sent, retries and auth handshakes included.
    pub requests: u64,
    /// Requests that were tries after a failure.
    pub retries: u64,
    /// Tags that could not be resolved.
    pub failures: Vec<TagFailure>,
    /// Why the whole repository failed (then nothing was written).
    #[serde(serialize_with = "display")]
    pub error: Option<ScanError>,
}

#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<_>`
fn display<S: Serializer>(error: &Option<ScanError>, s: S) -> Result<S::Ok, S::Error> {
    match error {
        Some(e) => s.serialize_str(&e.to_string()),
        None => s.serialize_none(),
    }
}

impl RepositoryReport {
    /// A report of a repository that failed before anything was counted.
    #[must_use]
    pub fn failed(repository: &RepositoryId, scanned_at: Timestamp, error: ScanError) -> Self {
        let mut report = Self::empty(repository, scanned_at);
        report.error = Some(error);
        report
    }

    pub(crate) fn empty(repository: &RepositoryId, scanned_at: Timestamp) -> Self {
        Self {
            repository: repository.clone(),
            scanned_at,
            written: false,
            tags_listed: 0,
            tags_scanned: 0,
            tags_new: 0,
            tags_moved: 0,
            tags_unchanged: 0,
            tags_deleted: 0,
            relations_created: 0,
            violations: 0,
            manifests_fetched: 0,
            requests: 0,
            retries: 0,
            failures: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn add_record(&mut self, record: &ScanRecord) {
        self.written = true;
        self.tags_new = record.tags_new;
        self.tags_moved = record.tags_moved;
        self.tags_unchanged = record.tags_unchanged;
        self.tags_deleted = record.tags_deleted;
        self.relations_created = record.relations_created;
        self.violations = record.violations_created;
    }
}
