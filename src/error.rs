//! The ledger's one error type, and its mapping to problem+json.

use std::path::PathBuf;

use thiserror::Error;

use crate::id::IdError;
use crate::model::{ErrorDetail, ErrorModel};

/// Everything a ledger operation can fail with.
///
/// A failed write changes nothing: every write runs in one redb transaction
/// that is committed only when the whole operation succeeded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The record does not exist (an update, get or delete of a missing record).
    #[error("{what} {id} not found")]
    NotFound {
        /// "repository", "tag", "reference".
        what: &'static str,
        /// The ID asked for.
        id: String,
    },
    /// The record already exists (a create of an existing record).
    #[error("{what} {id} already exists")]
    Conflict {
        /// "repository", "tag".
        what: &'static str,
        /// The ID that exists.
        id: String,
    },
    /// Input that breaks a rule: where, what, and the value.
    #[error("invalid {location}: {message}")]
    Invalid {
        /// Where: `body.tag`, `path.tag-id`, `line 17`.
        location: String,
        /// What is wrong.
        message: String,
        /// The offending value.
        value: Option<String>,
    },
    /// The file was written by an ociledger with another schema version.
    #[error("{path}: ledger schema version {found}, this ociledger reads version {supported}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file is not an ociledger database.
    #[error("{path} is not an ociledger database: {reason}")]
    NotALedger {
        /// The file.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A stored value could not be decoded: the file is damaged.
    #[error("corrupt ledger: {0}")]
    Corrupt(String),
    /// The storage engine failed (I/O, a damaged file, …).
    #[error("storage: {0}")]
    Storage(#[from] redb::Error),
}

/// Shorthand for results of ledger operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! from_redb {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::Storage(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);

impl Error {
    /// An [`Error::Invalid`] from an identifier error found at `location`.
    #[must_use]
    pub fn invalid_id(location: &str, err: &IdError) -> Self {
        Self::Invalid {
            location: location.to_owned(),
            message: err.to_string(),
            value: err.input().map(str::to_owned),
        }
    }

    /// The HTTP status the Chkk API would answer with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::Conflict { .. } => 409,
            Self::Invalid { .. } => 400,
            Self::Version { .. }
            | Self::NotALedger { .. }
            | Self::Corrupt(_)
            | Self::Storage(_) => 500,
        }
    }

    /// The problem+json body for this error, in the seeds' `ErrorModel` shape.
    ///
    /// ```
    /// let err = ociledger::Error::NotFound { what: "tag", id: "docker.io/library/nginx:x".into() };
    /// let problem = err.to_problem();
    /// assert_eq!((problem.status, problem.title.as_str()), (404, "Not Found"));
    /// ```
    #[must_use]
    pub fn to_problem(&self) -> ErrorModel {
        let status = self.status();
        let title = match status {
            404 => "Not Found",
            409 => "Conflict",
            400 => "Bad Request",
            _ => "Internal Server Error",
        };
        let errors = match self {
            Self::Invalid {
                location,
                message,
                value,
            } => Some(vec![ErrorDetail {
                location: location.clone(),
                message: message.clone(),
                value: value.clone().map(serde_json::Value::String),
            }]),
            _ => None,
        };
        ErrorModel {
            status,
            title: title.to_owned(),
            detail: self.to_string(),
            errors,
            kind: "about:blank".to_owned(),
        }
    }
}
