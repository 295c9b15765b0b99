//! Registry integrations: create, get, list, update (`StackRox`'s credential
//! reconciliation), delete, the decrypted credentials for the scanner, and
//! key rotation. Credentials are sealed with the ledger's [`SecretKey`]
//! before they reach the store, and opened only by
//! [`Ledger::integration_credentials`] / [`Ledger::credentials_for`].

use std::sync::{Arc, PoisonError, RwLock};

use chacha20poly1305::aead::Generate;
use serde::Serialize;

use super::{Ledger, MAX_PAGE, Page, Snapshot};
use crate::error::{Error, Result};
use crate::model::integration::{
    BoundValue, EcrConfig, Endpoint, IntegrationCategory, IntegrationConfig, Secret,
};
use crate::model::{ImageIntegration, UpdateImageIntegrationRequest};
use crate::secrets::{OpenError, SecretKey};
use crate::store::{IntegrationWriter, StoredIntegration, View};

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

/// The decrypted credentials of one integration: for the code that talks to
/// the registry (the scanner), never for output.
///
/// It is not `Serialize`; `Debug` and the record's `Serialize` write every
/// credential as `******`; read one with [`RegistryCredentials::auth`] or
/// [`RegistryCredentials::secret`] and [`Secret::expose`]. The credentials
/// are zeroed in memory when it is dropped.
#[derive(Debug)]
pub struct RegistryCredentials {
    integration: ImageIntegration,
    registry: Option<String>,
}

/// How to authenticate to a registry, from an integration's credentials.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RegistryAuth<'a> {
    /// No credentials: pull anonymously.
    Anonymous,
    /// HTTP basic / `docker login`: docker and azure user and password, a
    /// Quay robot (or `$oauthtoken` and the OAuth token), IBM's
    /// `iamapikey` and API key, Google's `_json_key` and service account.
    Basic {
        /// The user name.
        username: &'a str,
        /// The password, token or key.
        password: &'a Secret,
    },
    /// Amazon ECR: access keys, an IAM role or an authorization token,
    /// which the caller exchanges with AWS.
    Ecr(&'a EcrConfig),
    /// Workload identity federation (azure, google): the platform's
    /// identity, no stored credential.
    WorkloadIdentity,
}

impl RegistryCredentials {
    /// The integration, its credentials decrypted (and still masked in
    /// every output).
    #[must_use]
    pub fn integration(&self) -> &ImageIntegration {
        &self.integration
    }

    /// The registry host it pulls from (`host[:port]`, Docker Hub's names as
    /// `docker.io`); `None` for a scanner.
    #[must_use]
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The credential at `path` (`docker.password`), decrypted.
    #[must_use]
    pub fn secret(&self, path: &str) -> Option<&Secret> {
        self.integration.config.secret(path)
    }

    /// How to authenticate to the registry.
    #[must_use]
    pub fn auth(&self) -> RegistryAuth<'_> {
        match &self.integration.config {
            IntegrationConfig::Docker(c) if !c.username.is_empty() || !c.password.is_empty() => {
                RegistryAuth::Basic {
                    username: &c.username,
                    password: &c.password,
                }
            }
            IntegrationConfig::Quay(c) => match &c.registry_robot_credentials {
                Some(r) if !r.username.is_empty() => RegistryAuth::Basic {
                    username: &r.username,
                    password: &r.password,
                },
                _ if !c.oauth_token.is_empty() => RegistryAuth::Basic {
                    username: "$oauthtoken",
                    password: &c.oauth_token,
                },
                _ => RegistryAuth::Anonymous,
            },
            IntegrationConfig::Ecr(c) => RegistryAuth::Ecr(c),
            IntegrationConfig::Google(c) if c.wif_enabled => RegistryAuth::WorkloadIdentity,
            IntegrationConfig::Google(c) if !c.service_account.is_empty() => RegistryAuth::Basic {
                username: "_json_key",
                password: &c.service_account,
            },
            IntegrationConfig::Azure(c) if c.wif_enabled => RegistryAuth::WorkloadIdentity,
            IntegrationConfig::Azure(c) if !c.username.is_empty() || !c.password.is_empty() => {
                RegistryAuth::Basic {
                    username: &c.username,
                    password: &c.password,
                }
            }
            IntegrationConfig::Ibm(c) if !c.api_key.is_empty() => RegistryAuth::Basic {
                username: "iamapikey",
                password: &c.api_key,
            },
            _ => RegistryAuth::Anonymous,
        }
    }
}

/// What [`Ledger::rotate_secret_key`] re-encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyRotation {
    /// Integrations with at least one credential.
    pub integrations: u64,
    /// Credentials re-encrypted.
    pub secrets: u64,
}

const WHAT: &str = "image integration";

fn not_found(id_or_name: &str) -> Error {
    Error::NotFound {
        what: WHAT,
        id: id_or_name.to_owned(),
    }
}

/// A new random (version 4) UUID, lowercase.
fn new_id() -> Result<String> {
    let mut b = <[u8; 16]>::try_generate().map_err(|e| {
        Error::io(
            "reading the operating system's random number generator",
            std::io::Error::other(e.to_string()),
        )
    })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b
        .iter()
        .flat_map(|x| [x >> 4, x & 0xf])
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `8-4-4-4-12` lowercase hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn mask_given(prefix: &str, path: &str, hint: &str) -> Error {
    Error::Invalid {
        location: format!("{prefix}{path}"),
        message: format!("is the mask ******, not a credential: {hint}"),
        value: None,
    }
}

/// Checks that `key` is the ledger's key, or makes it so when no credential
/// was ever stored.
fn ensure_key(w: &mut IntegrationWriter<'_>, key: &SecretKey) -> Result<()> {
    match w.key_check()? {
        Some(check) => verify(key, &check),
        None => w.set_key_check(&key.key_check()?),
    }
}

fn verify(key: &SecretKey, check: &[u8]) -> Result<()> {
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
fn seal_all(key: &SecretKey, record: &ImageIntegration) -> Result<Vec<(String, Vec<u8>)>> {
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
fn open_one(key: &SecretKey, id: &str, path: &str, sealed: &[u8]) -> Result<Secret> {
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

impl Snapshot {
    /// The integration with this ID, or else this name; credentials read
    /// as empty (and print masked).
    ///
    /// # Errors
    /// [`Error::NotFound`]; storage errors.
    pub fn integration(&self, id_or_name: &str) -> Result<ImageIntegration> {
        self.view.guarded(|_| {
            self.view
                .integrations()?
                .resolve(id_or_name)?
                .map(|s| s.record)
                .ok_or_else(|| not_found(id_or_name))
        })
    }

    /// Integrations in name order, after `cursor` (a name from a previous
    /// page's `next`), at most `limit` (1 to [`MAX_PAGE`]); credentials read
    /// as empty (and print masked).
    ///
    /// # Errors
    /// Storage errors.
    pub fn integrations(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ImageIntegration>> {
        self.view.guarded(|_| {
            let limit = limit.clamp(1, MAX_PAGE);
            let items: Vec<_> = self
                .view
                .integrations()?
                .page(cursor, limit)?
                .into_iter()
                .map(|s| s.record)
                .collect();
            let next = (items.len() == limit)
                .then(|| items.last().map(|i| i.name.clone()))
                .flatten();
            Ok(Page { items, next })
        })
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

    /// The key, when `record` has a credential to seal.
    fn key_for(
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

    /// [`Snapshot::integration`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::integration`].
    pub fn get_integration(&self, id_or_name: &str) -> Result<ImageIntegration> {
        self.snapshot()?.integration(id_or_name)
    }

    /// [`Snapshot::integrations`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::integrations`].
    pub fn integrations(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ImageIntegration>> {
        self.snapshot()?.integrations(cursor, limit)
    }

    /// The decrypted credentials of the integration with this ID, or else
    /// this name.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::SecretKeyMissing`] when it has
    /// credentials and the ledger no key; [`Error::SecretKeyMismatch`] for a
    /// wrong key (or an altered value); [`Error::Corrupt`].
    pub fn integration_credentials(&self, id_or_name: &str) -> Result<RegistryCredentials> {
        let snap = self.snapshot()?;
        let stored = snap
            .view
            .integrations()?
            .resolve(id_or_name)?
            .ok_or_else(|| not_found(id_or_name))?;
        self.open_credentials(&snap.view, stored)
    }

    /// The decrypted credentials of the REGISTRY integration whose endpoint
    /// is the registry `registry` (a host, `host:port` or URL; Docker Hub's
    /// names are one registry), for the scanner; the first by name when
    /// several match, `None` when none does.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `registry` is not a host or URL; as
    /// [`Ledger::integration_credentials`].
    pub fn credentials_for(&self, registry: &str) -> Result<Option<RegistryCredentials>> {
        let wanted = Endpoint::parse(registry)
            .map_err(|message| Error::Invalid {
                location: "registry".to_owned(),
                message,
                value: Endpoint::shown(registry).map(str::to_owned),
            })?
            .registry();
        let snap = self.snapshot()?;
        for stored in snap.view.integrations()?.all()? {
            if stored
                .record
                .categories
                .contains(&IntegrationCategory::Registry)
                && stored.record.config.registry_endpoint().as_deref() == Some(wanted.as_str())
            {
                return self.open_credentials(&snap.view, stored).map(Some);
            }
        }
        Ok(None)
    }

    fn open_credentials(
        &self,
        view: &View,
        stored: StoredIntegration,
    ) -> Result<RegistryCredentials> {
        let StoredIntegration { mut record, sealed } = stored;
        if !sealed.is_empty() {
            let key = self.integrations.key().ok_or(Error::SecretKeyMissing {
                operation: "reading an integration's credentials",
            })?;
            if let Some(check) = view.integrations()?.key_check()? {
                verify(&key, &check)?;
            }
            for (path, bytes) in &sealed {
                let secret = open_one(&key, &record.id, path, bytes)?;
                if let Some(slot) = record.config.secret_mut(path) {
                    *slot = secret;
                }
            }
        }
        let registry = record.config.registry_endpoint();
        Ok(RegistryCredentials {
            integration: record,
            registry,
        })
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

#[cfg(test)]
mod tests {
    use super::{is_uuid, new_id};

    /// Guards assigned IDs: version 4, variant 1, and accepted by the check
    /// a given ID must pass.
    #[test]
    fn assigned_ids_are_v4_uuids() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_ne!(a, b);
        for id in [a, b] {
            assert!(is_uuid(&id), "{id}");
            assert_eq!(&id[14..15], "4", "{id}");
            assert!("89ab".contains(&id[19..20]), "{id}");
        }
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF"));
    }
}
