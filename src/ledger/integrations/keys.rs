//! The secret key's glue: checking it against the ledger's key check,
//! sealing and opening credentials with it, choosing it for a write, and
//! rotating it.

use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::model::ImageIntegration;
use crate::model::integration::Secret;
use crate::secrets::{OpenError, SecretKey};
use crate::store::IntegrationWriter;

/// What [`Ledger::rotate_secret_key`] re-encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyRotation {
    /// Integrations with at least one credential.
    pub integrations: u64,
    /// Credentials re-encrypted.
    pub secrets: u64,
}

/// Checks that `key` is the ledger's key, or makes it so when no credential
/// was ever stored.
pub(super) fn ensure_key(w: &mut IntegrationWriter<'_>, key: &SecretKey) -> Result<()> {
    match w.key_check()? {
        Some(check) => verify(key, &check),
        None => w.set_key_check(&key.key_check()?),
    }
}

pub(super) fn verify(key: &SecretKey, check: &[u8]) -> Result<()> {
    match key.verify(check) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::SecretKeyMismatch {
            what: "the ledger's key check".to_owned(),
        }),
        Err(_) => Err(Error::Corrupt(
            "table image_integration_meta: the key check is not a sealed value".to_owned(),
        )),
    }
}

/// Seals every non-empty credential of `record` (whose ID is final).
pub(super) fn seal_all(
    key: &SecretKey,
    record: &ImageIntegration,
) -> Result<Vec<(String, Vec<u8>)>> {
    record
        .secrets()
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(path, s)| {
            Ok((
                path.to_owned(),
                key.seal_field(&record.id, path, s.expose())?,
            ))
        })
        .collect()
}

/// Opens one sealed credential.
pub(super) fn open_one(key: &SecretKey, id: &str, path: &str, sealed: &[u8]) -> Result<Secret> {
    let plain = key.open_field(id, path, sealed).map_err(|e| match e {
        OpenError::Malformed => Error::Corrupt(format!(
            "table image_integrations, row {id}: the credential {path} is not a sealed value"
        )),
        OpenError::Authentication => Error::SecretKeyMismatch {
            what: format!("credential {path} of image integration {id}"),
        },
    })?;
    let text = std::str::from_utf8(&plain).map_err(|_| {
        Error::Corrupt(format!(
            "table image_integrations, row {id}: the credential {path} is not UTF-8"
        ))
    })?;
    Ok(Secret::new(text))
}

impl Ledger {
    /// The key, when `record` has a credential to seal.
    pub(super) fn key_for(
        &self,
        record: &ImageIntegration,
        operation: &'static str,
    ) -> Result<Option<Arc<SecretKey>>> {
        if record.secrets().iter().all(|(_, s)| s.is_empty()) {
            return Ok(None);
        }
        self.integrations
            .key()
            .map(Some)
            .ok_or(Error::SecretKeyMissing { operation })
    }

    /// Re-encrypts every stored credential with `new_key`, in one
    /// transaction (all or nothing), and from then on uses it. Needs the
    /// current key when credentials are stored.
    ///
    /// ```
    /// use ociledger::{Ledger, model::ImageIntegration, secrets::SecretKey};
    ///
    /// let ledger = Ledger::in_memory()?.with_secret_key(SecretKey::from_bytes([1; 32]));
    /// ledger.create_integration(&ImageIntegration::from_json(br#"{"name": "q", "type": "quay",
    ///   "categories": ["REGISTRY"], "quay": {"endpoint": "quay.io", "oauthToken": "t0k3n"}}"#)?)?;
    /// let done = ledger.rotate_secret_key(SecretKey::from_bytes([2; 32]))?;
    /// assert_eq!((done.integrations, done.secrets), (1, 1));
    /// let creds = ledger.credentials_for("quay.io")?.unwrap();
    /// assert_eq!(creds.secret("quay.oauthToken").unwrap().expose(), "t0k3n");
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::SecretKeyMissing`] / [`Error::SecretKeyMismatch`] for a
    /// missing or wrong current key; [`Error::Corrupt`]; storage errors.
    pub fn rotate_secret_key(&self, new_key: SecretKey) -> Result<KeyRotation> {
        let new_key = Arc::new(new_key);
        let old_key = self.integrations.key();
        let done = self.write("rotate secret key", |w| {
            let check = w.integrations.key_check()?;
            let all = w.integrations.all()?;
            let mut done = KeyRotation {
                integrations: 0,
                secrets: 0,
            };
            let with_secrets: Vec<_> = all.into_iter().filter(|s| !s.sealed.is_empty()).collect();
            if check.is_some() || !with_secrets.is_empty() {
                let old_key = old_key.as_ref().ok_or(Error::SecretKeyMissing {
                    operation: "rotate secret key",
                })?;
                if let Some(check) = &check {
                    verify(old_key, check)?;
                }
                for mut stored in with_secrets {
                    let id = stored.record.id.clone();
                    for (path, bytes) in &mut stored.sealed {
                        let secret = open_one(old_key, &id, path, bytes)?;
                        *bytes = new_key.seal_field(&id, path, secret.expose())?;
                        done.secrets += 1;
                    }
                    w.integrations.reseal(&stored)?;
                    done.integrations += 1;
                }
            }
            w.integrations.set_key_check(&new_key.key_check()?)?;
            Ok(done)
        })?;
        self.integrations.set_key(new_key);
        Ok(done)
    }
}
