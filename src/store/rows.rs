//! Stored row types (postcard-encoded) and the conversions to records.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Audit, Timestamp};

/// Microseconds since the Unix epoch: the stored form of every instant.
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

/// Back from microseconds. Every stored value came from [`micros`], so it is
/// in range; an out-of-range value means a damaged file.
pub(crate) fn from_micros(us: i64) -> Result<Timestamp> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::Corrupt(format!("timestamp {us} out of range")))
}

/// Truncates to the stored precision, so what a write returns equals what a read returns.
pub(crate) fn truncate(t: Timestamp) -> Timestamp {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AuditRow {
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

    pub fn to_audit(&self) -> Result<Audit> {
        Ok(Audit {
            created_by: self.created_by.clone(),
            created_on: from_micros(self.created_on)?,
            last_modified_by: self.last_modified_by.clone(),
            last_modified_on: from_micros(self.last_modified_on)?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RepoRow {
    pub id: String,
    pub last_scanned_on: i64,
    pub projects: Option<Vec<String>>,
    pub project_components: Option<Vec<String>>,
    pub packages: Option<Vec<String>>,
    pub audit: AuditRow,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TagRow {
    pub repo: u32,
    /// Compact digest the tag points to now (the last move-log entry);
    /// `None` once deleted. Cached here so `get` is one lookup.
    pub current: Option<Vec<u8>>,
    pub audit: AuditRow,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefRow {
    /// The earliest instant the pair was observed: the reference's place in
    /// its tag's order (`Snapshot::reference_page`).
    pub first_observed: i64,
    pub audit: AuditRow,
}

pub(crate) fn encode<T: Serialize>(row: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(row).map_err(|e| Error::Corrupt(format!("encoding a row: {e}")))
}

pub(crate) fn decode<'a, T: Deserialize<'a>>(table: &str, bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Error::Corrupt(format!("undecodable row in table {table}: {e}")))
}
