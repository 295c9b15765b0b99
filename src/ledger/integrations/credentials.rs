//! The decrypted credentials, for the scanner: [`RegistryCredentials`] and
//! how to authenticate with them ([`RegistryAuth`]), by integration or by
//! registry.

use super::keys::{open_one, verify};
use super::not_found;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::model::ImageIntegration;
use crate::model::integration::{
    EcrConfig, Endpoint, IntegrationCategory, IntegrationConfig, Secret,
};
use crate::store::{StoredIntegration, View};

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

impl Ledger {
    /// The decrypted credentials of the integration with this ID, or else
    /// this name.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::SecretKeyMissing`] when it has
    /// credentials and the ledger no key; [`Error::SecretKeyMismatch`] for a
    /// wrong key (or an altered value); [`Error::Corrupt`].
    pub fn integration_credentials(&self, id_or_name: &str) -> Result<RegistryCredentials> {
        let snap = self.snapshot()?;
        snap.view.guarded(|view| {
            let stored = view
                .integrations()?
                .resolve(id_or_name)?
                .ok_or_else(|| not_found(id_or_name))?;
            self.open_credentials(view, stored)
        })
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
        snap.view.guarded(|view| {
            for stored in view.integrations()?.all()? {
                if stored
                    .record
                    .categories
                    .contains(&IntegrationCategory::Registry)
                    && stored.record.config.registry_endpoint().as_deref() == Some(wanted.as_str())
                {
                    return self.open_credentials(view, stored).map(Some);
                }
            }
            Ok(None)
        })
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
}
