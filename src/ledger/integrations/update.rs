//! Updating an integration, `StackRox`'s way: the `updatePassword` rules
//! that keep or replace the stored credentials, and the fields bound to
//! them.

use super::keys::{ensure_key, seal_all};
use super::{mask_given, not_found};
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::model::integration::BoundValue;
use crate::model::{ImageIntegration, UpdateImageIntegrationRequest};
use crate::store::StoredIntegration;

impl Ledger {
    /// Updates an integration with the document's
    /// `V1UpdateImageIntegrationRequest`, `StackRox`'s way:
    ///
    /// - `updatePassword: true`: the request's credentials replace the
    ///   stored ones (an empty one removes it; `******` is refused).
    /// - `updatePassword: false`: the stored credentials are kept. A
    ///   credential in the request that is neither empty nor `******` is
    ///   refused (`non-zero or unmasked credential field '<path>'`), and so
    ///   is a change of a field bound to the credentials
    ///   ([`crate::model::integration::IntegrationKind::bound_fields`]:
    ///   `credentials required to update field '<path>'`).
    /// - The `type` cannot change.
    ///
    /// Nothing is written when the update is refused.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown `config.id`; [`Error::Invalid`]
    /// (at `body.config.<path>`) for the rules above and those of
    /// [`Ledger::create_integration`]; [`Error::Conflict`] for a name taken
    /// by another integration; the key errors when a credential is stored.
    pub fn update_integration(
        &self,
        request: &UpdateImageIntegrationRequest,
    ) -> Result<ImageIntegration> {
        const PREFIX: &str = "body.config.";
        let mut record = request.config.clone();
        if record.id.is_empty() {
            return Err(Error::Invalid {
                location: "body.config.id".to_owned(),
                message: "is required: the ID of the integration to update".to_owned(),
                value: None,
            });
        }
        let allow_local = self.integrations.allow_local_endpoints;
        let key = if request.update_password {
            self.key_for(&record, "update image integration")?
        } else {
            None
        };
        self.write("update image integration", |w| {
            let old = w
                .integrations
                .get(&record.id)?
                .ok_or_else(|| not_found(&record.id))?;
            let kind = old.record.kind();
            if record.kind() != kind {
                return Err(Error::Invalid {
                    location: "body.config.type".to_owned(),
                    message: format!(
                        "the type of an integration cannot change: {} is a {kind} integration",
                        record.id
                    ),
                    value: Some(record.kind().type_name().to_owned()),
                });
            }
            let sealed = if request.update_password {
                for (path, s) in record.secrets() {
                    if s.is_mask() {
                        return Err(mask_given(
                            PREFIX,
                            path,
                            "with updatePassword true, give the credential (or leave it empty to remove it)",
                        ));
                    }
                }
                record.check(allow_local).map_err(|p| p.at(PREFIX))?;
                match &key {
                    Some(key) => {
                        ensure_key(&mut w.integrations, key)?;
                        seal_all(key, &record)?
                    }
                    None => Vec::new(),
                }
            } else {
                for path in kind.secret_fields() {
                    if let Some(s) = record.config.secret(path)
                        && !s.is_empty()
                        && !s.is_mask()
                    {
                        return Err(Error::Invalid {
                            location: format!("{PREFIX}{path}"),
                            message: format!("non-zero or unmasked credential field '{path}'"),
                            value: None,
                        });
                    }
                }
                for path in kind.bound_fields() {
                    let new = record.config.bound(path);
                    if new != old.record.config.bound(path) {
                        return Err(Error::Invalid {
                            location: format!("{PREFIX}{path}"),
                            message: format!("credentials required to update field '{path}'"),
                            value: new.map(|v| match v {
                                BoundValue::Text(t) => t.to_owned(),
                                BoundValue::Flag(f) => f.to_string(),
                            }),
                        });
                    }
                }
                record.check(allow_local).map_err(|p| p.at(PREFIX))?;
                // The stored credentials stay as they are (sealed for this
                // ID and path): no key is needed. Their objects must exist.
                for (path, _) in &old.sealed {
                    record.config.secret_mut(path);
                }
                old.sealed.clone()
            };
            record.clear_secrets();
            let stored = StoredIntegration { record, sealed };
            w.integrations.replace(&old, &stored)?;
            Ok(stored.record)
        })
    }
}
