//! Stored row types (postcard-encoded), the stored time encoding, and the
//! conversions to the records the ledger returns. Private to the store.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{Repository, Tag, Timestamp};

/// Microseconds since the Unix epoch: the stored form of every instant.
pub(super) fn micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

/// Back from microseconds. Every stored value came from [`micros`], so it is
/// in range; an out-of-range value means a damaged file.
pub(crate) fn from_micros(us: i64) -> Result<Timestamp> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::Corrupt(format!("timestamp {us} out of range")))
}

/// Puts where a damaged value was read (`table tags, tag number 3`) in
/// front of a [`Error::Corrupt`] message; other errors pass unchanged.
pub(super) fn at(place: impl std::fmt::Display) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::Corrupt(m) => Error::Corrupt(format!("{place}: {m}")),
        other => other,
    }
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

    /// Checks that both instants decode, as a read of the record does.
    fn check(&self) -> Result<()> {
        from_micros(self.created_on)?;
        from_micros(self.last_modified_on)?;
        Ok(())
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
    /// Where the tag points is not here: it is the move log's last entry
    /// (one descent). Schema 6 cached it in the row, 35 bytes per tag.
    pub audit: AuditRow,
}

pub(super) fn encode<T: Serialize>(row: &T) -> Result<Vec<u8>> {
    // Sized for a tag row with its audit (the row an ingest writes most):
    // grown from empty, a row took four reallocations.
    postcard::to_extend(row, Vec::with_capacity(128))
        .map_err(|e| Error::Corrupt(format!("encoding a row: {e}")))
}

pub(super) fn decode<'a, T: Deserialize<'a>>(table: &str, bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Error::Corrupt(format!("undecodable row in table {table}: {e}")))
}

/// [`decode`] of the row of `table` at `key`, naming both on failure.
/// (postcard checks every length prefix against the bytes left, so a huge
/// one fails here instead of sizing an allocation.)
/// Whether repository row `n`, whose ID is `stored`, is the one
/// `repo_keys` entry `id` → `n` names.
fn key_matches(stored: &str, n: u32, id: &RepositoryId) -> Result<()> {
    if stored == id.as_str() {
        Ok(())
    } else {
        Err(Error::Corrupt(format!(
            "table repo_keys: {id} → repository number {n}, whose row is {stored:?}"
        )))
    }
}

pub(super) fn decode_row<'a, T: Deserialize<'a>>(
    table: &str,
    key: impl std::fmt::Display,
    bytes: &'a [u8],
) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Error::Corrupt(format!("table {table}, row {key}: undecodable: {e}")))
}

/// The ID of repository number `n`, from its row.
pub(super) fn repository_id(
    repos: &impl redb::ReadableTable<u32, &'static [u8]>,
    n: u32,
) -> Result<RepositoryId> {
    let row = repos.get(n)?.ok_or_else(|| {
        Error::Corrupt(format!(
            "table repos: repository number {n} (named by a tags row) has no row"
        ))
    })?;
    let row: RepoRow = decode_row("repos", n, row.value())?;
    row.id.parse().map_err(|e| {
        Error::Corrupt(format!(
            "table repos, row {n}: invalid repository ID {:?}: {e}",
            row.id
        ))
    })
}

/// The IDs of the tags numbered from `start` on (tag number, repository
/// number, ID), read from their rows: what a process's name list lacks
/// when another process, or an earlier run, created them. Tag numbers are
/// dense, so a gap is damage.
pub(super) fn tag_ids_from(
    tags: &impl redb::ReadableTable<u32, &'static [u8]>,
    repos: &impl redb::ReadableTable<u32, &'static [u8]>,
    start: u32,
) -> Result<Vec<(u32, u32, TagId)>> {
    let mut new = Vec::new();
    let mut repo_ids: std::collections::HashMap<u32, RepositoryId> =
        std::collections::HashMap::new();
    for entry in tags.range(start..)? {
        let (k, v) = entry?;
        let n = k.value();
        let expected = start as usize + new.len();
        if n as usize != expected {
            return Err(Error::Corrupt(format!(
                "tag numbers are not dense: found {n} where {expected} was due"
            )));
        }
        let row: TagRow = decode_row("tags", n, v.value())?;
        let repo = if let Some(id) = repo_ids.get(&row.repo) {
            id.clone()
        } else {
            let id = repository_id(repos, row.repo)
                .map_err(at(format_args!("table tags, tag number {n}")))?;
            repo_ids.insert(row.repo, id.clone());
            id
        };
        let id = TagId::new(repo, &row.name).map_err(|e| {
            Error::Corrupt(format!("table tags, tag number {n}: invalid name: {e}"))
        })?;
        new.push((n, row.repo, id));
    }
    Ok(new)
}

impl RepoRow {
    /// Checks every stored instant, for the write path (which would otherwise
    /// carry a damaged value into the row it writes back).
    pub fn check(&self, n: u32) -> Result<()> {
        from_micros(self.last_scanned_on)
            .and_then(|_| self.audit.check())
            .map_err(at(format_args!("table repos, repository number {n}")))
    }

    /// Checks that this row, found through `repo_keys` entry `id` → `n`,
    /// is that repository's (a damaged entry would otherwise lead to
    /// another repository's tags).
    pub fn check_key(&self, n: u32, id: &RepositoryId) -> Result<()> {
        key_matches(&self.id, n, id)
    }

    /// [`RepoRow::check_key`] on a stored row, decoding only its first
    /// field (the ID): a reader asks it for every tag it does not find, and
    /// a classifier resolves many such image references.
    pub fn check_stored_key(bytes: &[u8], n: u32, id: &RepositoryId) -> Result<()> {
        let (stored, _) = postcard::take_from_bytes::<&str>(bytes)
            .map_err(|e| Error::Corrupt(format!("table repos, row {n}: undecodable: {e}")))?;
        key_matches(stored, n, id)
    }

    pub fn to_record(&self, id: &RepositoryId) -> Result<Repository> {
        self.record(id)
            .map_err(at(format_args!("table repos, repository {id}")))
    }

    fn record(&self, id: &RepositoryId) -> Result<Repository> {
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
    /// Checks every stored instant, for the write path (which would
    /// otherwise carry a damaged value into the row it writes back).
    pub fn check(&self, n: u32) -> Result<()> {
        self.audit
            .check()
            .map_err(at(format_args!("table tags, tag number {n}")))
    }

    /// Checks that this row, found through `tag_keys` entry `id`, is that
    /// tag's (a key pointing at another tag's number would otherwise read,
    /// or write, the other tag's record).
    pub fn check_name(&self, n: u32, id: &TagId) -> Result<()> {
        if self.name == id.tag() {
            Ok(())
        } else {
            Err(Error::Corrupt(format!(
                "table tag_keys: {id} points at tag number {n}, whose row in table tags is tag {:?}",
                self.name
            )))
        }
    }

    /// The tag record of a tag pointing at `current` (the log's last
    /// entry), or `None` for a deleted tag (its row stays for history).
    pub fn to_record(&self, id: &TagId, current: Option<Digest>) -> Result<Option<Tag>> {
        let Some(artifact) = current else {
            return Ok(None);
        };
        self.record(id, artifact)
            .map(Some)
            .map_err(at(format_args!("table tags, tag {id}")))
    }

    fn record(&self, id: &TagId, artifact: Digest) -> Result<Tag> {
        Ok(Tag {
            schema: None,
            artifact,
            repository: id.repository().clone(),
            tag: id.tag().to_owned(),
            created_by: self.audit.created_by.clone(),
            created_on: from_micros(self.audit.created_on)?,
            last_modified_by: self.audit.last_modified_by.clone(),
            last_modified_on: from_micros(self.audit.last_modified_on)?,
        })
    }
}

/// Stored bytes shown as hex, for messages about keys that may not be
/// digests; formats only when a message is made.
pub(super) struct Hex<'a>(pub &'a [u8]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
