//! What an integration is: its category (`StorageImageIntegrationCategory`)
//! and its kind (`type`), with the per-kind tables: allowed categories,
//! credential fields and the fields bound to them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an integration is for (`StorageImageIntegrationCategory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrationCategory {
    /// Pulls images: a registry.
    Registry,
    /// Scans images.
    Scanner,
    /// Scans nodes.
    NodeScanner,
}

impl fmt::Display for IntegrationCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Registry => "REGISTRY",
            Self::Scanner => "SCANNER",
            Self::NodeScanner => "NODE_SCANNER",
        })
    }
}

/// The kind of an integration: its `type` and which config it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IntegrationKind {
    /// `docker`
    Docker,
    /// `quay`
    Quay,
    /// `ecr`
    Ecr,
    /// `google`
    Google,
    /// `azure`
    Azure,
    /// `ibm`
    Ibm,
    /// `clair`
    Clair,
    /// `clairV4`
    ClairV4,
    /// `clairify`
    Clairify,
    /// `scannerv4` (config `scannerV4`)
    ScannerV4,
}

impl IntegrationKind {
    /// Every kind.
    pub const ALL: [Self; 10] = [
        Self::Docker,
        Self::Quay,
        Self::Ecr,
        Self::Google,
        Self::Azure,
        Self::Ibm,
        Self::Clair,
        Self::ClairV4,
        Self::Clairify,
        Self::ScannerV4,
    ];

    /// The `type` string, as `StackRox` spells it (`scannerv4`, `clairV4`).
    #[must_use]
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Docker => "docker",
            Self::Quay => "quay",
            Self::Ecr => "ecr",
            Self::Google => "google",
            Self::Azure => "azure",
            Self::Ibm => "ibm",
            Self::Clair => "clair",
            Self::ClairV4 => "clairV4",
            Self::Clairify => "clairify",
            Self::ScannerV4 => "scannerv4",
        }
    }

    /// The name of its config field (`scannerV4`).
    #[must_use]
    pub fn config_key(self) -> &'static str {
        match self {
            Self::ScannerV4 => "scannerV4",
            other => other.type_name(),
        }
    }

    /// The kind of a `type` string; case does not matter (`scannerV4` and
    /// `scannerv4` are one kind).
    #[must_use]
    pub fn from_type(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.type_name().eq_ignore_ascii_case(s))
    }

    /// A scanner (clair, clairV4, clairify, scannerv4): its endpoints may not
    /// be loopback or link-local unless local endpoints are allowed.
    #[must_use]
    pub fn is_scanner(self) -> bool {
        matches!(
            self,
            Self::Clair | Self::ClairV4 | Self::Clairify | Self::ScannerV4
        )
    }

    /// The categories an integration of this kind may have.
    #[must_use]
    pub fn allowed_categories(self) -> &'static [IntegrationCategory] {
        use IntegrationCategory::{NodeScanner, Registry, Scanner};
        match self {
            Self::Docker | Self::Ecr | Self::Azure | Self::Ibm => &[Registry],
            Self::Quay | Self::Google => &[Registry, Scanner],
            Self::Clair | Self::ClairV4 => &[Scanner],
            Self::Clairify | Self::ScannerV4 => &[Scanner, NodeScanner],
        }
    }

    /// The paths of its credentials: always masked, stored encrypted.
    #[must_use]
    pub fn secret_fields(self) -> &'static [&'static str] {
        match self {
            Self::Docker => &["docker.password"],
            Self::Quay => &["quay.oauthToken", "quay.registryRobotCredentials.password"],
            Self::Ecr => &[
                "ecr.accessKeyId",
                "ecr.secretAccessKey",
                "ecr.authorizationData.password",
            ],
            Self::Google => &["google.serviceAccount"],
            Self::Azure => &["azure.password"],
            Self::Ibm => &["ibm.apiKey"],
            Self::Clair | Self::ClairV4 | Self::Clairify | Self::ScannerV4 => &[],
        }
    }

    /// The paths of the fields bound to the credentials: an update that
    /// keeps the stored credentials (`updatePassword: false`) may not change
    /// them, so stored credentials cannot be sent somewhere else. `StackRox`'s
    /// set, and more (see `docs/decisions.md`).
    #[must_use]
    pub fn bound_fields(self) -> &'static [&'static str] {
        match self {
            Self::Docker => &["docker.endpoint", "docker.username", "docker.insecure"],
            Self::Quay => &[
                "quay.endpoint",
                "quay.insecure",
                "quay.registryRobotCredentials.username",
            ],
            Self::Ecr => &[
                "ecr.registryId",
                "ecr.region",
                "ecr.useIam",
                "ecr.endpoint",
                "ecr.useAssumeRole",
                "ecr.assumeRoleId",
                "ecr.assumeRoleExternalId",
            ],
            Self::Google => &["google.endpoint", "google.project", "google.wifEnabled"],
            Self::Azure => &["azure.endpoint", "azure.username", "azure.wifEnabled"],
            Self::Ibm => &["ibm.endpoint"],
            Self::Clair | Self::ClairV4 | Self::Clairify | Self::ScannerV4 => &[],
        }
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}
