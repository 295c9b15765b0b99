//! Registry integrations: create, get, list, update (`StackRox`'s credential
//! reconciliation), delete, the decrypted credentials for the scanner, and
//! key rotation. Credentials are sealed with the ledger's [`SecretKey`]
//! before they reach the store, and opened only by
//! [`Ledger::integration_credentials`] / [`Ledger::credentials_for`].

mod credentials;
mod ids;
mod keys;
mod read;
mod update;
mod write;

use std::sync::{Arc, PoisonError, RwLock};

use super::Ledger;
use crate::error::Error;
use crate::secrets::SecretKey;

pub use credentials::{RegistryAuth, RegistryCredentials};
pub use keys::KeyRotation;

/// The ledger's integration settings: the secret key (replaced by a key
/// rotation) and whether scanner endpoints may be local.
#[derive(Default)]
pub(crate) struct IntegrationSettings {
    key: RwLock<Option<Arc<SecretKey>>>,
    allow_local_endpoints: bool,
}

impl IntegrationSettings {
    fn key(&self) -> Option<Arc<SecretKey>> {
        self.key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_key(&self, key: Arc<SecretKey>) {
        *self.key.write().unwrap_or_else(PoisonError::into_inner) = Some(key);
    }
}

const WHAT: &str = "image integration";

fn not_found(id_or_name: &str) -> Error {
    Error::NotFound {
        what: WHAT,
        id: id_or_name.to_owned(),
    }
}

fn mask_given(prefix: &str, path: &str, hint: &str) -> Error {
    Error::Invalid {
        location: format!("{prefix}{path}"),
        message: format!("is the mask ******, not a credential: {hint}"),
        value: None,
    }
}

impl Ledger {
    /// Gives the ledger the key that encrypts stored credentials. Without
    /// one, storing a credential fails with [`Error::SecretKeyMissing`];
    /// records still read (masked). The first credential stored fixes the
    /// key: another one is refused with [`Error::SecretKeyMismatch`] until
    /// [`Ledger::rotate_secret_key`].
    ///
    /// ```
    /// use ociledger::{Ledger, model::ImageIntegration, secrets::SecretKey};
    ///
    /// let ledger = Ledger::in_memory()?.with_secret_key(SecretKey::generate()?);
    /// let hub = ImageIntegration::from_json(br#"{"name": "hub", "type": "docker",
    ///   "categories": ["REGISTRY"], "docker": {"endpoint": "registry-1.docker.io",
    ///   "username": "me", "password": "hunter2"}}"#)?;
    /// let created = ledger.create_integration(&hub)?;
    /// assert!(!serde_json::to_string(&created).unwrap().contains("hunter2"));
    /// let creds = ledger.credentials_for("docker.io")?.expect("an integration for Docker Hub");
    /// assert_eq!(creds.secret("docker.password").map(|s| s.expose()), Some("hunter2"));
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    #[must_use]
    pub fn with_secret_key(self, key: SecretKey) -> Self {
        self.integrations.set_key(Arc::new(key));
        self
    }

    /// Allows scanner integrations (clair, clairV4, clairify, scannerv4)
    /// whose endpoints are loopback or link-local addresses (`localhost`,
    /// `127.0.0.1`, `169.254.169.254`, `[::1]`, `[fe80::…]`): refused by
    /// default, as `StackRox`'s `nolocalendpoint` does.
    #[must_use]
    pub fn with_local_endpoints(mut self, allowed: bool) -> Self {
        self.integrations.allow_local_endpoints = allowed;
        self
    }
}
