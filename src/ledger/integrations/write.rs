//! Creating and deleting integrations: the checks a new record passes, and
//! its credentials sealed before they reach the store.

use super::ids::{is_uuid, new_id};
use super::keys::{ensure_key, seal_all};
use super::{mask_given, not_found};
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::model::ImageIntegration;
use crate::store::StoredIntegration;

impl Ledger {
    /// Creates an integration from the document's `StorageImageIntegration`;
    /// assigns a UUID when `id` is empty. Its credentials are encrypted with
    /// the ledger's key; the answer writes them as `******`.
    ///
    /// # Errors
    /// [`Error::Invalid`] (at `body.<path>`) for a broken rule: no name,
    /// categories its kind does not allow, an endpoint that does not parse
    /// (or a local one for a scanner), a credential given as `******`, an
    /// `id` that is not a UUID; [`Error::Conflict`] for a taken ID or name;
    /// [`Error::SecretKeyMissing`] / [`Error::SecretKeyMismatch`] when it has
    /// a credential and the ledger has no key or another key.
    pub fn create_integration(&self, integration: &ImageIntegration) -> Result<ImageIntegration> {
        let mut record = integration.clone();
        if record.id.is_empty() {
            record.id = new_id()?;
        } else if !is_uuid(&record.id) {
            return Err(Error::Invalid {
                location: "body.id".to_owned(),
                message: "must be empty (one is assigned) or a UUID: 8-4-4-4-12 lowercase hexadecimal digits".to_owned(),
                value: Some(record.id),
            });
        }
        for (path, s) in record.secrets() {
            if s.is_mask() {
                return Err(mask_given(
                    "body.",
                    path,
                    "give the credential, or leave it empty",
                ));
            }
        }
        record
            .check(self.integrations.allow_local_endpoints)
            .map_err(|p| p.at("body."))?;
        let key = self.key_for(&record, "create image integration")?;
        self.write("create image integration", |w| {
            let sealed = match &key {
                Some(key) => {
                    ensure_key(&mut w.integrations, key)?;
                    seal_all(key, &record)?
                }
                None => Vec::new(),
            };
            record.clear_secrets();
            let stored = StoredIntegration { record, sealed };
            w.integrations.create(&stored)?;
            Ok(stored.record)
        })
    }

    /// Deletes the integration with this ID, or else this name, and its
    /// credentials; returns it (credentials empty).
    ///
    /// # Errors
    /// [`Error::NotFound`]; storage errors.
    pub fn delete_integration(&self, id_or_name: &str) -> Result<ImageIntegration> {
        self.write("delete image integration", |w| {
            let stored = w
                .integrations
                .resolve(id_or_name)?
                .ok_or_else(|| not_found(id_or_name))?;
            w.integrations.remove(&stored)?;
            Ok(stored.record)
        })
    }
}
