//! The update request, `V1UpdateImageIntegrationRequest`
//! (`{"config", "updatePassword"}`), and its JSON. The rules an update
//! follows are the ledger's ([`crate::Ledger::update_integration`]).

use serde::{Deserialize, Deserializer, Serialize};

use super::check::Problem;
use super::record::{ImageIntegration, WireIn, read_json};
use crate::error::Result;

/// `V1UpdateImageIntegrationRequest`: the new record, and whether its
/// credentials replace the stored ones.
///
/// With `updatePassword: false` the stored credentials are kept: each
/// credential field of `config` must be empty or `******`, and no field
/// bound to the credentials may change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateImageIntegrationRequest {
    /// The integration as it should be (its `id` says which).
    pub config: ImageIntegration,
    /// Replace the stored credentials with `config`'s.
    pub update_password: bool,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct UpdateWire {
    config: Option<WireIn>,
    update_password: bool,
}

impl UpdateWire {
    fn into_request(self) -> std::result::Result<UpdateImageIntegrationRequest, Problem> {
        let Some(config) = self.config else {
            return Err(Problem::new(
                "config",
                "is required: the integration as it should be",
                None,
            ));
        };
        let config = config.into_integration().map_err(|p| Problem {
            path: if p.path.is_empty() {
                "config".to_owned()
            } else {
                format!("config.{}", p.path)
            },
            ..p
        })?;
        Ok(UpdateImageIntegrationRequest {
            config,
            update_password: self.update_password,
        })
    }
}

impl<'de> Deserialize<'de> for UpdateImageIntegrationRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        UpdateWire::deserialize(d)?
            .into_request()
            .map_err(|p| serde::de::Error::custom(format!("{}: {}", p.path, p.message)))
    }
}

impl UpdateImageIntegrationRequest {
    /// Reads a `V1UpdateImageIntegrationRequest` JSON body.
    ///
    /// # Errors
    /// As [`ImageIntegration::from_json`], at `body.config.<path>`, and for
    /// a missing `config`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        read_json::<UpdateWire>(bytes)?
            .into_request()
            .map_err(|p| p.at("body."))
    }
}
