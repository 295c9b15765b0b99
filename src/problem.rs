//! For servers and command-line tools: [`Error`] rendered as the Chkk
//! documents' `application/problem+json` body (RFC 9457, the seeds'
//! `ErrorModel`). The ledger itself speaks in Rust types; only an edge that
//! answers over HTTP or prints JSON needs this module.
//!
//! ```
//! use ociledger::{Error, problem::ErrorModel};
//!
//! let err = Error::NotFound { what: "tag", id: "docker.io/library/nginx:x".into() };
//! let problem = ErrorModel::from(&err);
//! assert_eq!((problem.status, problem.title.as_str()), (404, "Not Found"));
//! ```

use serde::{Deserialize, Serialize};

use crate::Error;

/// RFC 9457 problem details, as the Chkk `ErrorModel` schema defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorModel {
    /// HTTP status code: 400, 404, 409, 500, 507 (no room on the disk).
    pub status: u16,
    /// A short summary that does not change between occurrences: "Not Found".
    pub title: String,
    /// What went wrong this time.
    pub detail: String,
    /// Individual problems, each with where and what.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errors: Option<Vec<ErrorDetail>>,
    /// A URI reference for the problem type.
    #[serde(rename = "type", default = "about_blank")]
    pub kind: String,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

/// One problem: where (`body.tag`, `path.tag-id`, `line 17`), what, and the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Where the error occurred.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// The offending value, when showing it is safe.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<serde_json::Value>,
}

impl From<&Error> for ErrorModel {
    fn from(err: &Error) -> Self {
        let status = err.status();
        let title = match status {
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            409 => "Conflict",
            423 => "Locked",
            507 => "Insufficient Storage",
            _ => "Internal Server Error",
        };
        let errors = match err {
            Error::Invalid {
                location,
                message,
                value,
            } => Some(vec![ErrorDetail {
                location: location.clone(),
                message: message.clone(),
                value: value.clone().map(serde_json::Value::String),
            }]),
            // The template API's refusals carry the Amazon ECR error kind.
            Error::Template(e) => Some(vec![ErrorDetail {
                location: e.location.clone(),
                message: e.message.clone(),
                value: e.value.clone().map(serde_json::Value::String),
            }]),
            Error::TagImmutable {
                requested, rule, ..
            } => Some(vec![ErrorDetail {
                location: "body.artifact".to_owned(),
                message: format!("the tag is immutable under {rule}"),
                value: Some(serde_json::Value::String(requested.clone())),
            }]),
            _ => None,
        };
        // `type`: the ECR error kind as a relative URI reference
        // (`ValidationException`), the name ECR's own `__type` carries.
        let kind = match err {
            Error::Template(e) => e.kind.as_str().to_owned(),
            Error::TagImmutable { .. } => "ImageTagAlreadyExistsException".to_owned(),
            _ => about_blank(),
        };
        Self {
            status,
            title: title.to_owned(),
            detail: err.to_string(),
            errors,
            kind,
        }
    }
}
