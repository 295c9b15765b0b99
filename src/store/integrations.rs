//! Registry integrations (schema 5): one row per integration, keyed by its
//! ID, a name index (names are unique), and the secret key's check value.
//!
//! A row holds the record as the document's JSON with every credential
//! written as the mask (so nothing in it is secret), and beside it the
//! sealed credentials, each under its field path. Sealing and opening are
//! the ledger's (`crate::secrets`); this module stores bytes. Empty
//! credentials are not stored at all.

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::rows;
use crate::error::{Error, Result};
use crate::model::ImageIntegration;

/// integration ID → `IntegrationRow`
pub(crate) const INTEGRATIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("image_integrations");
/// integration name → integration ID: unique names, listings in name order
pub(crate) const INTEGRATION_NAMES: TableDefinition<&str, &str> =
    TableDefinition::new("image_integration_names");
/// `key_check` → a value sealed with the secret key that seals the
/// credentials, written with the first credential: a wrong key is known
/// before anything is sealed with it.
pub(crate) const INTEGRATION_META: TableDefinition<&str, &[u8]> =
    TableDefinition::new("image_integration_meta");

const KEY_CHECK: &str = "key_check";

/// The stored row: every field present (postcard is not self-describing).
#[derive(Serialize, Deserialize)]
struct IntegrationRow {
    /// The record's JSON, credentials written as `******`.
    record: String,
    /// (field path, sealed credential), one per non-empty credential.
    secrets: Vec<(String, Vec<u8>)>,
}

/// An integration as stored: the record without its credentials (they
/// read as empty), and the sealed credentials by field path.
#[derive(Debug, Clone)]
pub(crate) struct StoredIntegration {
    pub record: ImageIntegration,
    pub sealed: Vec<(String, Vec<u8>)>,
}

impl StoredIntegration {
    fn encode(&self) -> Result<Vec<u8>> {
        let record = serde_json::to_string(&self.record)
            .map_err(|e| Error::Corrupt(format!("encoding an integration: {e}")))?;
        rows::encode(&IntegrationRow {
            record,
            secrets: self.sealed.clone(),
        })
    }

    fn decode(id: &str, bytes: &[u8]) -> Result<Self> {
        let corrupt = |m: String| Error::Corrupt(format!("table {}, row {id}: {m}", table()));
        let row: IntegrationRow = rows::decode_row(table(), id, bytes)?;
        let mut record = ImageIntegration::from_json(row.record.as_bytes())
            .map_err(|e| corrupt(format!("undecodable record: {e}")))?;
        if record.id != id {
            return Err(corrupt(format!("the record's id is {:?}", record.id)));
        }
        // The JSON holds masks where credentials were: the record read
        // without its credentials holds empty ones.
        record.clear_secrets();
        let allowed = record.kind().secret_fields();
        for (i, (path, _)) in row.secrets.iter().enumerate() {
            if !allowed.contains(&path.as_str()) {
                return Err(corrupt(format!(
                    "a sealed credential for {path:?}, which a {} integration does not have",
                    record.kind()
                )));
            }
            if row.secrets[..i].iter().any(|(p, _)| p == path) {
                return Err(corrupt(format!("two sealed credentials for {path}")));
            }
        }
        Ok(Self {
            record,
            sealed: row.secrets,
        })
    }
}

fn table() -> &'static str {
    "image_integrations"
}

fn get(
    rows: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<StoredIntegration>> {
    match rows.get(id)? {
        Some(v) => StoredIntegration::decode(id, v.value()).map(Some),
        None => Ok(None),
    }
}

/// The integration named `name`, checked against its row.
fn by_name(
    rows: &impl ReadableTable<&'static str, &'static [u8]>,
    names: &impl ReadableTable<&'static str, &'static str>,
    name: &str,
) -> Result<Option<StoredIntegration>> {
    let Some(id) = names.get(name)? else {
        return Ok(None);
    };
    let id = id.value().to_owned();
    let stored = get(rows, &id)?.ok_or_else(|| {
        Error::Corrupt(format!(
            "table image_integration_names: {name:?} points at integration {id}, which has no row"
        ))
    })?;
    if stored.record.name != name {
        return Err(Error::Corrupt(format!(
            "table image_integration_names: {name:?} points at integration {id}, whose row is named {:?}",
            stored.record.name
        )));
    }
    Ok(Some(stored))
}

/// By ID, else by name.
fn resolve(
    rows: &impl ReadableTable<&'static str, &'static [u8]>,
    names: &impl ReadableTable<&'static str, &'static str>,
    id_or_name: &str,
) -> Result<Option<StoredIntegration>> {
    match get(rows, id_or_name)? {
        Some(s) => Ok(Some(s)),
        None => by_name(rows, names, id_or_name),
    }
}

/// Every integration in name order.
fn all(
    rows: &impl ReadableTable<&'static str, &'static [u8]>,
    names: &impl ReadableTable<&'static str, &'static str>,
) -> Result<Vec<StoredIntegration>> {
    page(rows, names, None, usize::MAX)
}

fn page(
    rows: &impl ReadableTable<&'static str, &'static [u8]>,
    names: &impl ReadableTable<&'static str, &'static str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredIntegration>> {
    let range = match after {
        Some(a) => {
            names.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
        }
        None => names.range::<&str>(..)?,
    };
    let mut out = Vec::new();
    for entry in range {
        if out.len() == limit {
            break;
        }
        let (name, _) = entry?;
        let name = name.value();
        out.push(by_name(rows, names, name)?.ok_or_else(|| {
            Error::Corrupt(format!("table image_integration_names: {name:?} vanished"))
        })?);
    }
    Ok(out)
}

/// The integration tables of one write transaction.
pub(crate) struct IntegrationWriter<'t> {
    rows: Table<'t, &'static str, &'static [u8]>,
    names: Table<'t, &'static str, &'static str>,
    meta: Table<'t, &'static str, &'static [u8]>,
}

impl<'t> IntegrationWriter<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Ok(Self {
            rows: txn.open_table(INTEGRATIONS)?,
            names: txn.open_table(INTEGRATION_NAMES)?,
            meta: txn.open_table(INTEGRATION_META)?,
        })
    }

    /// By ID, else by name.
    pub fn resolve(&self, id_or_name: &str) -> Result<Option<StoredIntegration>> {
        resolve(&self.rows, &self.names, id_or_name)
    }

    /// By ID only.
    pub fn get(&self, id: &str) -> Result<Option<StoredIntegration>> {
        get(&self.rows, id)
    }

    /// Every integration, in name order.
    pub fn all(&self) -> Result<Vec<StoredIntegration>> {
        all(&self.rows, &self.names)
    }

    fn name_taken(&self, name: &str, by_other_than: &str) -> Result<bool> {
        Ok(self
            .names
            .get(name)?
            .is_some_and(|id| id.value() != by_other_than))
    }

    /// Stores a new integration.
    ///
    /// # Errors
    /// [`Error::Conflict`] when its ID or its name is taken.
    pub fn create(&mut self, new: &StoredIntegration) -> Result<()> {
        let (id, name) = (new.record.id.as_str(), new.record.name.as_str());
        if self.rows.get(id)?.is_some() {
            return Err(Error::Conflict {
                what: "image integration",
                id: id.to_owned(),
            });
        }
        if self.name_taken(name, id)? {
            return Err(name_conflict(name));
        }
        self.names.insert(name, id)?;
        self.rows.insert(id, new.encode()?.as_slice())?;
        Ok(())
    }

    /// Replaces `old` (as read in this transaction) with `new` (same ID).
    ///
    /// # Errors
    /// [`Error::Conflict`] when `new`'s name belongs to another integration.
    pub fn replace(&mut self, old: &StoredIntegration, new: &StoredIntegration) -> Result<()> {
        let id = new.record.id.as_str();
        if old.record.id != id {
            return Err(Error::Corrupt(format!(
                "replacing integration {} with {id}",
                old.record.id
            )));
        }
        if old.record.name != new.record.name {
            if self.name_taken(&new.record.name, id)? {
                return Err(name_conflict(&new.record.name));
            }
            self.names.remove(old.record.name.as_str())?;
            self.names.insert(new.record.name.as_str(), id)?;
        }
        self.rows.insert(id, new.encode()?.as_slice())?;
        Ok(())
    }

    /// Rewrites the sealed credentials of an integration (key rotation).
    pub fn reseal(&mut self, stored: &StoredIntegration) -> Result<()> {
        self.rows
            .insert(stored.record.id.as_str(), stored.encode()?.as_slice())?;
        Ok(())
    }

    /// Removes an integration (as read in this transaction).
    pub fn remove(&mut self, stored: &StoredIntegration) -> Result<()> {
        self.rows.remove(stored.record.id.as_str())?;
        self.names.remove(stored.record.name.as_str())?;
        Ok(())
    }

    /// The secret key's check value, once a credential was stored.
    pub fn key_check(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(KEY_CHECK)?.map(|v| v.value().to_vec()))
    }

    pub fn set_key_check(&mut self, check: &[u8]) -> Result<()> {
        self.meta.insert(KEY_CHECK, check)?;
        Ok(())
    }
}

fn name_conflict(name: &str) -> Error {
    Error::Conflict {
        what: "image integration named",
        id: name.to_owned(),
    }
}

/// The integration tables of one read transaction.
pub(crate) struct IntegrationReader {
    rows: ReadOnlyTable<&'static str, &'static [u8]>,
    names: ReadOnlyTable<&'static str, &'static str>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
}

impl IntegrationReader {
    pub fn open(txn: &ReadTransaction) -> Result<Self> {
        Ok(Self {
            rows: txn.open_table(INTEGRATIONS)?,
            names: txn.open_table(INTEGRATION_NAMES)?,
            meta: txn.open_table(INTEGRATION_META)?,
        })
    }

    /// By ID, else by name.
    pub fn resolve(&self, id_or_name: &str) -> Result<Option<StoredIntegration>> {
        resolve(&self.rows, &self.names, id_or_name)
    }

    /// In name order, after the name `after`, at most `limit`.
    pub fn page(&self, after: Option<&str>, limit: usize) -> Result<Vec<StoredIntegration>> {
        page(&self.rows, &self.names, after, limit)
    }

    /// Every integration, in name order.
    pub fn all(&self) -> Result<Vec<StoredIntegration>> {
        all(&self.rows, &self.names)
    }

    /// The secret key's check value, once a credential was stored.
    pub fn key_check(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(KEY_CHECK)?.map(|v| v.value().to_vec()))
    }
}
