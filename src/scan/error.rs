//! The scanner's error type: what went wrong, with which registry, and at
//! which URL. No variant holds a credential or a token, and URLs are the
//! ones the scanner built or the registry's `Link` gave, never with a
//! password in them.

use std::time::Duration;

use crate::id::Digest;

/// Why a scan of a repository, or the resolution of one tag, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The registry answered 401 (or refused the credentials in its token
    /// exchange).
    #[error(
        "registry {registry} refused access to {repository} (401 Unauthorized){}",
        if *.had_credentials {
            ": the credentials given for it were refused".to_owned()
        } else {
            format!(": no credentials were given; add a REGISTRY integration whose endpoint is {registry} (`ociledger integration create`), or pass --username USER --password-stdin")
        }
    )]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The repository asked for.
        repository: String,
        /// Whether the scan sent credentials.
        had_credentials: bool,
    },
    /// The registry answered with an error status.
    #[error("{url}: the registry answered {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        /// The request.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error message (shortened).
        message: String,
    },
    /// Too many requests, and the registry asked to wait longer than the
    /// scanner will (or the retries ran out).
    #[error("{url}: rate limited (429){}", match .retry_after { Some(d) => format!(", the registry asks to retry after {} s", d.as_secs()), None => String::new() })]
    RateLimited {
        /// The request.
        url: String,
        /// The registry's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// No answer within the per-request timeout.
    #[error("{url}: no answer within {} ms", .after.as_millis())]
    Timeout {
        /// The request.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The connection failed (refused, reset, TLS, DNS).
    #[error("{url}: {reason}")]
    Connection {
        /// The request.
        url: String,
        /// What the HTTP stack said.
        reason: String,
    },
    /// The bytes the registry sent are not the content of the digest
    /// asked for (or announced in `Docker-Content-Digest`): refused.
    #[error("{url}: the manifest's bytes have digest {actual}, not {expected}: refused")]
    DigestMismatch {
        /// The request.
        url: String,
        /// The digest asked for or announced.
        expected: Box<Digest>,
        /// The digest of the bytes received.
        actual: Box<Digest>,
    },
    /// A body that is not what the API promises: malformed JSON, a bad
    /// digest string, a missing header.
    #[error("{url}: {reason}")]
    Malformed {
        /// The request.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A body larger than the scanner accepts.
    #[error("{url}: the answer is larger than {limit} bytes")]
    TooLarge {
        /// The request.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The tag listing's `Link` pagination came back to a page already
    /// read, or went on past the page limit.
    #[error("{url}: {reason}")]
    Pagination {
        /// The page that was one too many.
        url: String,
        /// Why the listing was abandoned.
        reason: String,
    },
    /// The scanner could not be set up (the HTTP client, a bad option).
    #[error("scanner setup: {0}")]
    Setup(String),
    /// The ledger refused the scan's write (nothing of it was written).
    #[error(transparent)]
    Ledger(#[from] crate::Error),
}

impl ScanError {
    /// Whether another try may succeed: a 5xx answer, a timeout, a failed
    /// connection, or a rate limit.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500,
            Self::Timeout { .. } | Self::Connection { .. } | Self::RateLimited { .. } => true,
            _ => false,
        }
    }
}
