//! Registry and scanner integrations: `StackRox`'s `StorageImageIntegration`
//! with exactly the JSON of its API document (camelCase), and the update
//! request `V1UpdateImageIntegrationRequest` (`{"config", "updatePassword"}`).
//!
//! An integration is how ociledger reaches a registry, so it carries
//! credentials. In this module they are [`Secret`]s: held in memory in a
//! type that is zeroed when dropped, and written as `******` by every
//! output (`Serialize`, `Debug`, `Display`), whether set or empty. Storing
//! them (encrypted) and the update rules are the ledger's job
//! ([`crate::Ledger::update_integration`]); this module knows which fields
//! are secret and which are bound to them ([`IntegrationKind::secret_fields`],
//! [`IntegrationKind::bound_fields`]).
//!
//! ```
//! use ociledger::model::ImageIntegration;
//!
//! let body = br#"{"name": "hub", "type": "docker", "categories": ["REGISTRY"],
//!   "docker": {"endpoint": "registry-1.docker.io", "username": "me", "password": "hunter2"}}"#;
//! let integration = ImageIntegration::from_json(body)?;
//! assert_eq!(integration.config.secret("docker.password").unwrap().expose(), "hunter2");
//! let json = serde_json::to_string(&integration).unwrap();
//! assert!(json.contains(r#""password":"******""#) && !json.contains("hunter2"));
//! assert!(!format!("{integration:?}").contains("hunter2"));
//! # Ok::<(), ociledger::Error>(())
//! ```

mod check;
mod config;
mod endpoint;
mod kind;
mod record;
mod secret;
mod update;

pub use config::{
    AzureConfig, BoundValue, ClairConfig, ClairV4Config, ClairifyConfig, DockerConfig,
    EcrAuthorizationData, EcrConfig, GoogleConfig, IbmConfig, IntegrationConfig, IntegrationSource,
    QuayConfig, QuayRobotAccount, ScannerV4Config,
};
pub(crate) use endpoint::Endpoint;
pub use kind::{IntegrationCategory, IntegrationKind};
pub use record::ImageIntegration;
pub use secret::{MASK, Secret};
pub use update::UpdateImageIntegrationRequest;
