//! One repository's connection to its registry: the auth handshake (by
//! oci-client), and the requests of a scan (tag listing pages, manifest
//! HEAD and GET) with the good-client rules: a limit on requests in flight,
//! a timeout per request, retries with backoff on 5xx, timeouts and failed
//! connections, `429` honoured with its `Retry-After`, a size limit on every
//! answer, and counters of what was sent.
//!
//! Why these requests are sent here and not by oci-client's `list_tags`,
//! `fetch_manifest_digest` and `pull_manifest_raw`: those drop the response
//! headers the scan needs (`Link` for the listing's pages, `Retry-After` on
//! a 429, `Content-Type`), and without a token they repeat the `GET /v2/`
//! handshake before every request. They go through reqwest, the HTTP stack
//! oci-client itself runs on (see `docs/decisions.md`).
//!
//! This file holds the connection itself (its clients, its auth state, its
//! counters); each kind of request lives beside it, so that the rules every
//! request obeys are read in one place (`request.rs`).

mod auth;
mod errors;
mod listing;
mod manifests;
mod request;

use std::cell::{Cell, RefCell};

use oci_client::Reference;
use oci_client::client::{ClientConfig, ClientProtocol};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use tokio::sync::Semaphore;

use super::{Credentials, Options, ScanError};
use crate::id::RepositoryId;
use errors::chain;

const USER_AGENT: &str = concat!("ociledger/", env!("CARGO_PKG_VERSION"));

/// How requests are authenticated, after the handshake.
enum Auth {
    /// Nothing (an open registry, or no credentials).
    None,
    /// HTTP basic with the scan's credentials.
    Basic,
    /// A bearer token from the registry's token service.
    Bearer(secrecy::SecretString),
}

/// A registry's answer, read whole (within a limit).
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type`, if readable.
    pub fn content_type(&self) -> Option<&str> {
        self.header(CONTENT_TYPE)
    }

    /// The `Docker-Content-Digest`, if present.
    pub fn content_digest(&self) -> Option<&str> {
        self.headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
    }
}

/// What one repository's scan sent.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: Cell<u64>,
    pub retries: Cell<u64>,
    pub manifests: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// A repository's registry, for one scan.
pub(crate) struct Registry<'a> {
    options: &'a Options,
    credentials: Option<&'a Credentials>,
    repository: &'a RepositoryId,
    http: reqwest::Client,
    oci: oci_client::Client,
    reference: Reference,
    base: Url,
    auth: RefCell<Auth>,
    permits: Semaphore,
    pub counters: Counters,
}

impl<'a> Registry<'a> {
    /// Builds the HTTP clients; sends nothing.
    pub fn new(
        options: &'a Options,
        repository: &'a RepositoryId,
        credentials: Option<&'a Credentials>,
    ) -> Result<Self, ScanError> {
        let reference = Reference::with_tag(
            repository.domain().to_owned(),
            repository.path().to_owned(),
            "latest".to_owned(),
        );
        let scheme = if options.plain_http { "http" } else { "https" };
        let host = reference.resolve_registry().to_owned();
        let base = Url::parse(&format!("{scheme}://{host}/v2/{}/", repository.path()))
            .map_err(|e| ScanError::Setup(format!("registry URL for {repository}: {e}")))?;
        let timeout = options.timeout;
        // Both clients take the process's rustls provider. An embedder that
        // installed one keeps it (then this returns an error, ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let oci = oci_client::Client::try_from(ClientConfig {
            protocol: if options.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(timeout),
            connect_timeout: Some(timeout),
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        })
        .map_err(|e| ScanError::Setup(format!("registry client: {e}")))?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .build()
            .map_err(|e| ScanError::Setup(format!("HTTP client: {}", chain(&e))))?;
        Ok(Self {
            options,
            credentials,
            repository,
            http,
            oci,
            reference,
            base,
            auth: RefCell::new(Auth::None),
            permits: Semaphore::new(options.concurrency.max(1)),
            counters: Counters::default(),
        })
    }

    fn registry(&self) -> &str {
        self.repository.domain()
    }

    fn unauthorized(&self) -> ScanError {
        ScanError::Unauthorized {
            registry: self.registry().to_owned(),
            repository: self.repository.to_string(),
            had_credentials: self.credentials.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Options, Registry, RepositoryId};

    /// Guards against a scanner that cannot reach any HTTPS registry: rustls
    /// is built without a default crypto provider (no aws-lc-rs), so building
    /// the clients panics unless the scanner installs ring first.
    #[test]
    fn https_clients_build_with_the_ring_provider() {
        let repository: RepositoryId = "registry.example/team/app".parse().unwrap();
        let options = Options::default();
        assert!(!options.plain_http);
        assert!(Registry::new(&options, &repository, None).is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
