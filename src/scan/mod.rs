//! The registry scanner (cargo feature `scan`, on by default): reads what
//! a registry's tags point to and records it in the ledger, one write
//! transaction per repository.
//!
//! It sits beside the command line, above the ledger API, and uses only
//! the ledger's public API ([`Ledger::snapshot`] to know which digests need
//! no download, [`Ledger::record_scan`] to write); the rest of the library
//! has no HTTP in it, and an embedder that only queries builds with
//! `default-features = false`.
//!
//! For each repository: list its tags (following the listing's `Link`
//! pages), resolve each chosen tag's digest with a `HEAD` (a `GET` when the
//! registry sends no digest), and for a digest the ledger does not know yet,
//! download the manifest, **verify its digest**, and read an index's
//! platform manifests (each one's config too) or a manifest's config. A
//! digest the ledger knows is never downloaded again: content-addressed, its
//! relations cannot change, so a rescan of an unchanged repository costs a
//! `HEAD` per tag. Then one [`ScanBatch`] is recorded: an observation per
//! resolved tag at the scan's time, a deletion for each tag gone from the
//! listing, and `last_scanned_on`. A tag that fails is reported with its
//! reason and does not stop the others; a repository whose listing fails
//! writes nothing.
//!
//! ```no_run
//! use ociledger::{Ledger, scan::{Options, Scanner}};
//!
//! let ledger = Ledger::create("tags.redb")?;
//! let scanner = Scanner::new(Options { plain_http: true, ..Options::default() });
//! let report = scanner.scan_blocking(&ledger, "scanner", &"localhost:5000/team/app".parse()?);
//! if let Some(error) = &report.error {
//!     eprintln!("{error}");
//! }
//! println!("{} tags, {} moved", report.tags_listed, report.tags_moved);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
mod glob;
mod manifest;
mod resolve;
mod retry;
mod summary;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use error::ScanError;
pub use glob::TagFilter;
pub use summary::{RepositoryReport, TagFailure};

use crate::Ledger;
#[cfg(doc)]
use crate::ScanBatch;
use crate::id::RepositoryId;
use crate::model::{Clock, SystemClock};

/// How a scan behaves. `Options::default()` is what `ociledger scan` uses
/// without flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests in flight at once, per repository (default 4).
    pub concurrency: usize,
    /// The longest wait for one request, answer included (default 30 s).
    pub timeout: Duration,
    /// Retries of a request after a 5xx, a 429, a timeout or a failed
    /// connection (default 3).
    pub retries: u32,
    /// The first retry's wait; each next one doubles (default 500 ms).
    pub backoff: Duration,
    /// The longest wait between retries of a backoff (default 30 s).
    pub max_backoff: Duration,
    /// The longest `Retry-After` the scanner honours; a registry asking
    /// for more fails the request (default 60 s).
    pub max_retry_after: Duration,
    /// Talk HTTP instead of HTTPS (a local registry).
    pub plain_http: bool,
    /// The tags to resolve (default: all). Tags outside it are still part
    /// of the listing, so they are never recorded as deleted.
    pub tags: TagFilter,
    /// Ask for tag listing pages of this many tags (`?n=`); `None` leaves
    /// the page size to the registry.
    pub page_size: Option<usize>,
    /// The most pages a tag listing may have (default 10,000).
    pub max_pages: usize,
    /// The largest manifest accepted, in bytes (default 4 MiB, the
    /// distribution registry's own limit).
    pub max_manifest_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 4,
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            plain_http: false,
            tags: TagFilter::default(),
            page_size: None,
            max_pages: 10_000,
            max_manifest_bytes: 4 << 20,
        }
    }
}

/// A user name and password (or token) for a registry's basic auth or
/// token exchange. Never printed: `Debug` shows the user name only, and
/// the password is zeroed when dropped.
///
/// ```
/// let c = ociledger::scan::Credentials::new("ci", "s3cret".into());
/// assert!(!format!("{c:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    username: String,
    password: secrecy::SecretString,
}

impl Credentials {
    /// Credentials of `username` with `password`.
    #[must_use]
    pub fn new(username: impl Into<String>, password: secrecy::SecretString) -> Self {
        Self {
            username: username.into(),
            password,
        }
    }

    /// The user name.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"******")
            .finish()
    }
}

/// What a scan reports while it runs, for a progress bar.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// The repository's tags were listed: `tags` of them will be resolved.
    Listed {
        /// The repository.
        repository: &'a RepositoryId,
        /// Tags chosen for resolution.
        tags: usize,
    },
    /// One tag is done (resolved or failed).
    Resolved {
        /// The repository.
        repository: &'a RepositoryId,
        /// The tag.
        tag: &'a str,
    },
}

/// Scans repositories into a ledger. Holds the options, the credentials
/// per registry and the clock; each repository's scan makes its own
/// connections.
pub struct Scanner {
    options: Options,
    credentials: HashMap<String, Credentials>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scanner")
            .field("options", &self.options)
            .field(
                "credentials_for",
                &self.credentials.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Scanner {
    /// A scanner with `options`, no credentials and the system clock.
    #[must_use]
    pub fn new(options: Options) -> Self {
        Self {
            options,
            credentials: HashMap::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `credentials` for the repositories of `registry` (a host with
    /// an optional port, as in a repository ID: `docker.io`,
    /// `localhost:5000`), and for no other registry.
    #[must_use]
    pub fn with_credentials(mut self, registry: &str, credentials: Credentials) -> Self {
        self.credentials.insert(registry.to_owned(), credentials);
        self
    }

    /// Replaces the clock that gives each scan its time.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Scans one repository and records it in `ledger` (one write
    /// transaction, as `actor`). Never panics on what a registry sends;
    /// a failure of the whole repository is the report's `error`, and
    /// then nothing was written.
    ///
    /// The future is not `Send` (it keeps one ledger snapshot and its
    /// requests on one thread): run it on a current-thread runtime, in a
    /// `LocalSet`, or use [`Scanner::scan_blocking`]. Dropping it before it
    /// finishes writes nothing: the write is the last, synchronous step.
    pub async fn scan_repository(
        &self,
        ledger: &Ledger,
        actor: &str,
        repository: &RepositoryId,
        progress: &dyn Fn(Progress<'_>),
    ) -> RepositoryReport {
        let credentials = self.credentials.get(repository.domain());
        resolve::scan(
            &self.options,
            credentials,
            self.clock.now(),
            ledger,
            actor,
            repository,
            progress,
        )
        .await
    }

    /// [`Scanner::scan_repository`] on a runtime of its own, for callers
    /// without one.
    #[must_use]
    pub fn scan_blocking(
        &self,
        ledger: &Ledger,
        actor: &str,
        repository: &RepositoryId,
    ) -> RepositoryReport {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                runtime.block_on(self.scan_repository(ledger, actor, repository, &|_| {}))
            }
            Err(e) => RepositoryReport::failed(
                repository,
                self.clock.now(),
                ScanError::Setup(format!("cannot start the I/O runtime: {e}")),
            ),
        }
    }
}
