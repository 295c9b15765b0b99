//! The Chkk documents' `application/problem+json` error shape.

use serde::{Deserialize, Serialize};

/// RFC 9457 problem details, as the Chkk `ErrorModel` schema defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorModel {
    /// HTTP status code: 400, 404, 409, 500.
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
