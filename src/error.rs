//! The ledger's one error type.
//!
//! Every failure is a variant of [`Error`](enum@Error) that says what went wrong and
//! where. The storage engine's own errors are wrapped in the opaque
//! [`StorageError`], so an upgrade of the engine never changes this crate's
//! public signatures. The HTTP / problem+json rendering lives in
//! [`crate::problem`], for servers and the command line.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::id::IdError;

/// Everything a ledger operation can fail with.
///
/// A failed write changes nothing: every write runs in one transaction that
/// is committed only when the whole operation succeeded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The record does not exist (an update, get or delete of a missing record).
    #[error("{what} {id} not found")]
    NotFound {
        /// "repository", "tag", "reference", "ledger file".
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
    /// The file is in an older storage-engine format that must be upgraded
    /// with the engine's own tools before this ociledger can open it.
    #[error(
        "{path}: storage format {format} is too old for this ociledger; upgrade the file first"
    )]
    UpgradeRequired {
        /// The file.
        path: PathBuf,
        /// The engine's file-format number found.
        format: u8,
    },
    /// The file was not closed cleanly and needs a repair that a read-only
    /// open cannot make: open it once for writing.
    #[error("{path} needs a repair (it was not closed cleanly); open it once for writing")]
    RepairRequired {
        /// The file.
        path: PathBuf,
    },
    /// Another process holds the file for writing: a ledger has one writer
    /// process at a time (and any number of readers).
    #[error("{path} is in use by another writer{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InUse {
        /// The file.
        path: PathBuf,
        /// The writing process, when it left its process ID beside the file.
        pid: Option<u32>,
    },
    /// A write on a ledger opened with [`crate::Ledger::open_read_only`].
    #[error("{path} is open read-only: {operation} needs a ledger opened for writing")]
    ReadOnly {
        /// The file.
        path: PathBuf,
        /// What was attempted: "ingest", "compact", …
        operation: &'static str,
    },
    /// The operation cannot run now because of other work in this process
    /// (for example compaction while snapshots are open); retry once it is done.
    #[error("{operation} cannot run now: {reason}")]
    Busy {
        /// What was attempted.
        operation: &'static str,
        /// What stands in its way.
        reason: String,
    },
    /// The repository creation template API (the Amazon ECR document)
    /// refused a request: the document's error kind, where and what.
    #[error(transparent)]
    Template(#[from] crate::model::TemplateError),
    /// A write through the API would move a tag that its repository's
    /// template made immutable (ECR answers `ImageTagAlreadyExistsException`).
    /// Nothing was written. Creating the tag, or pointing it at the digest it
    /// already has, is allowed.
    #[error(
        "tag {tag} is immutable under {rule}: it points to {current} and cannot move to {requested}"
    )]
    TagImmutable {
        /// The tag.
        tag: String,
        /// The digest it points to.
        current: String,
        /// The digest the write asked for.
        requested: String,
        /// The rule that makes it immutable: `IMMUTABLE (template prod)`.
        rule: String,
    },
    /// Storing (or reading) a credential needs the ledger's secret key, and
    /// none is configured.
    #[error(
        "{operation} needs the secret key that encrypts stored credentials, and none is configured: give the ledger one (Ledger::with_secret_key; on the command line --secret-key-file PATH or OCILEDGER_SECRET_KEY_FILE), a file of 32 random bytes, raw or as 64 hexadecimal characters (e.g. `head -c 32 /dev/urandom > ociledger.key`)"
    )]
    SecretKeyMissing {
        /// What needed the key: "create image integration", …
        operation: &'static str,
    },
    /// The secret key given is not the one the ledger's credentials were
    /// encrypted with (or a stored credential was altered): nothing is
    /// decrypted into garbage, and nothing is sealed with a second key.
    #[error(
        "the secret key does not open {what}: it is not the key the ledger's credentials were encrypted with, or the stored value was altered"
    )]
    SecretKeyMismatch {
        /// What did not open: "the ledger's key check", "credential docker.password of image integration …".
        what: String,
    },
    /// A backup does not match its checksum file (`<backup>.blake3`), or has
    /// no usable one: it was damaged or altered after it was written, and
    /// nothing was restored.
    #[error("backup {backup} fails its checksum file {checksum_file}: {reason}")]
    Checksum {
        /// The backup file.
        backup: PathBuf,
        /// Its checksum file.
        checksum_file: PathBuf,
        /// What is wrong: both hashes, or why there is no expected one.
        reason: String,
    },
    /// A stored value could not be decoded: the file is damaged.
    #[error("corrupt ledger: {0}")]
    Corrupt(String),
    /// Reading or writing a file or stream outside the ledger (an import's
    /// input, standard output) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read or written.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The storage engine failed (I/O on the ledger file, a damaged page, …).
    #[error("storage: {0}")]
    Storage(#[source] StorageError),
}

/// Shorthand for results of ledger operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure inside the storage engine, kept opaque: its message for people,
/// and the engine's error as [`std::error::Error::source`] for diagnostics.
/// Nothing in this crate's API names the engine's types.
pub struct StorageError {
    message: String,
    /// Every engine error is kept as the engine's one error type, whatever
    /// call returned it (a commit, the start of a transaction, a table
    /// open…), so [`StorageError::is_io`] sees an I/O error wherever it came
    /// from: the engine's errors have no `source()` chain to follow.
    source: redb::Error,
}

impl StorageError {
    fn new(source: impl Into<redb::Error>) -> Self {
        let source = source.into();
        Self {
            message: source.to_string(),
            source,
        }
    }

    /// Whether the engine failed because of an I/O error on the ledger's
    /// storage (a full disk, a failing one, a storage backend's `io::Error`),
    /// whichever engine call met it; also the engine's refusal after such an
    /// error ("Previous I/O error occurred"), which lasts until the file is
    /// reopened. A ledger on a file reopens it itself after a write fails
    /// this way; on a caller's storage backend the caller must reopen
    /// (`docs/reliability.md`).
    #[must_use]
    pub fn is_io(&self) -> bool {
        matches!(self.source, redb::Error::Io(_) | redb::Error::PreviousIo)
    }

    /// The operating system's error kind, when the engine met an I/O error.
    fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match &self.source {
            redb::Error::Io(e) => Some(e.kind()),
            _ => None,
        }
    }
}

/// No room to store the data: a full file system or quota, or a file size
/// limit. HTTP's 507 Insufficient Storage.
fn is_storage_full(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind;
    matches!(
        kind,
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}

impl fmt::Debug for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageError")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

// Crate-private conversions: `?` on an engine call inside the crate. These
// impls are not visible to users, who see only `Error::Storage`.
macro_rules! from_engine {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::Storage(StorageError::new(e))
            }
        }
    )*};
}
from_engine!(
    redb::Error,
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

    /// An [`Error::Io`] for `context` ("reading standard input", "writing
    /// /tmp/x"): for tools built on the ledger that fail outside it.
    #[must_use]
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// The HTTP status a server would answer with: 400 invalid input, 404
    /// not found, 409 conflict or busy, 423 in use by another writer, 507
    /// no room on the disk (the ledger's storage or an output file: a full
    /// file system or quota, or a file size limit; the write changed nothing
    /// and can be retried on the same ledger once there is room), 500 the
    /// file or the engine otherwise (other I/O errors included: their detail
    /// names the operating system's error).
    ///
    /// ```
    /// let err = ociledger::Error::NotFound { what: "tag", id: "docker.io/library/nginx:x".into() };
    /// assert_eq!(err.status(), 404);
    /// let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
    /// assert_eq!(ociledger::Error::io("writing out.json", full).status(), 507);
    /// ```
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::Conflict { .. } | Self::Busy { .. } | Self::TagImmutable { .. } => 409,
            Self::Template(e) => match e.kind {
                crate::model::TemplateErrorKind::TemplateNotFound => 404,
                crate::model::TemplateErrorKind::TemplateAlreadyExists => 409,
                _ => 400,
            },
            Self::Invalid { .. } => 400,
            Self::InUse { .. } => 423,
            Self::ReadOnly { .. } => 405,
            Self::Storage(e) if e.io_kind().is_some_and(is_storage_full) => 507,
            Self::Io { source, .. } if is_storage_full(source.kind()) => 507,
            Self::Version { .. }
            | Self::NotALedger { .. }
            | Self::UpgradeRequired { .. }
            | Self::RepairRequired { .. }
            | Self::SecretKeyMissing { .. }
            | Self::SecretKeyMismatch { .. }
            | Self::Corrupt(_)
            | Self::Checksum { .. }
            | Self::Io { .. }
            | Self::Storage(_) => 500,
        }
    }
}
