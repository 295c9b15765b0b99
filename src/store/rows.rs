//! Stored row types (postcard-encoded), the stored time encoding, and the
//! conversions to the records the ledger returns. Private to the store.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{Reference, Repository, Tag, Timestamp};

/// Microseconds since the Unix epoch: the stored form of every instant.
pub(super) fn micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

/// Back from microseconds. Every stored value came from [`micros`], so it is
/// in range; an out-of-range value means a damaged file.
pub(super) fn from_micros(us: i64) -> Result<Timestamp> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::Corrupt(format!("timestamp {us} out of range")))
}

/// Truncates to the stored precision, so what a write returns equals what a read returns.
pub(crate) fn truncate(t: Timestamp) -> Timestamp {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AuditRow {
    pub created_by: String,
    pub created_on: i64,
    pub last_modified_by: String,
    pub last_modified_on: i64,
}

impl AuditRow {
    pub fn new(actor: &str, now: Timestamp) -> Self {
        Self {
            created_by: actor.to_owned(),
            created_on: micros(now),
            last_modified_by: actor.to_owned(),
            last_modified_on: micros(now),
        }
    }

    pub fn touch(&mut self, actor: &str, now: Timestamp) {
        actor.clone_into(&mut self.last_modified_by);
        self.last_modified_on = micros(now);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RepoRow {
    pub id: String,
    pub last_scanned_on: i64,
    pub projects: Option<Vec<String>>,
    pub project_components: Option<Vec<String>>,
    pub packages: Option<Vec<String>>,
    pub audit: AuditRow,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TagRow {
    pub repo: u32,
    /// The tag part of the tag's ID (the repository is `repo`'s): lets a
    /// reader process name tags it has not seen without scanning `tag_keys`.
    pub name: String,
    /// Compact digest the tag points to now (the last move-log entry);
    /// `None` once deleted. Cached here so `get` is one lookup.
    pub current: Option<Vec<u8>>,
    pub audit: AuditRow,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RefRow {
    /// The earliest instant the pair was observed: the reference's place in
    /// its tag's order (`View::reference_page`).
    pub first_observed: i64,
    pub audit: AuditRow,
}

pub(super) fn encode<T: Serialize>(row: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(row).map_err(|e| Error::Corrupt(format!("encoding a row: {e}")))
}

pub(super) fn decode<'a, T: Deserialize<'a>>(table: &str, bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Error::Corrupt(format!("undecodable row in table {table}: {e}")))
}

/// The ID of repository number `n`, from its row.
pub(super) fn repository_id(
    repos: &impl redb::ReadableTable<u32, &'static [u8]>,
    n: u32,
) -> Result<RepositoryId> {
    let row = repos
        .get(n)?
        .ok_or_else(|| Error::Corrupt(format!("repository number {n} has no row")))?;
    let row: RepoRow = decode("repos", row.value())?;
    row.id
        .parse()
        .map_err(|e| Error::Corrupt(format!("repository number {n} has an invalid ID: {e}")))
}

impl RepoRow {
    pub fn to_record(&self, id: &RepositoryId) -> Result<Repository> {
        Ok(Repository {
            schema: None,
            registry: id.registry().to_owned(),
            namespace: id.namespace().to_owned(),
            last_scanned_on: from_micros(self.last_scanned_on)?,
            projects: self.projects.clone(),
            project_components: self.project_components.clone(),
            packages: self.packages.clone(),
            created_by: self.audit.created_by.clone(),
            created_on: from_micros(self.audit.created_on)?,
            last_modified_by: self.audit.last_modified_by.clone(),
            last_modified_on: from_micros(self.audit.last_modified_on)?,
        })
    }
}

impl TagRow {
    pub fn current_digest(&self, n: u32) -> Result<Option<Digest>> {
        self.current
            .as_deref()
            .map(Digest::from_compact)
            .transpose()
            .map_err(|e| Error::Corrupt(format!("tag number {n}: {e}")))
    }

    /// The tag record, or `None` for a deleted tag (its row stays for history).
    pub fn to_record(&self, id: &TagId) -> Result<Option<Tag>> {
        let Some(current) = &self.current else {
            return Ok(None);
        };
        let artifact =
            Digest::from_compact(current).map_err(|e| Error::Corrupt(format!("tag {id}: {e}")))?;
        Ok(Some(Tag {
            schema: None,
            artifact,
            repository: id.repository().clone(),
            tag: id.tag().to_owned(),
            created_by: self.audit.created_by.clone(),
            created_on: from_micros(self.audit.created_on)?,
            last_modified_by: self.audit.last_modified_by.clone(),
            last_modified_on: from_micros(self.audit.last_modified_on)?,
        }))
    }
}

impl RefRow {
    pub fn to_record(&self, tag: &TagId, digest: &Digest) -> Result<Reference> {
        Ok(Reference {
            schema: None,
            tag: tag.clone(),
            artifact: *digest,
            created_by: self.audit.created_by.clone(),
            created_on: from_micros(self.audit.created_on)?,
            last_modified_by: self.audit.last_modified_by.clone(),
            last_modified_on: from_micros(self.audit.last_modified_on)?,
        })
    }
}
