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

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::error::Error as _;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LINK, RETRY_AFTER};
use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::retry::{Backoff, retry_after};
use super::{Credentials, Options, ScanError, manifest};
use crate::id::{Digest, RepositoryId};

/// A tag listing page may be this large (a repository of 100k tags
/// fits many times over).
const MAX_LISTING_BYTES: usize = 32 << 20;
/// An error answer's body is read this far, for its message.
const MAX_ERROR_BYTES: usize = 64 << 10;

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

    /// The auth handshake: asks `/v2/` how to authenticate and, for a
    /// bearer challenge, gets a pull token (with the credentials, or
    /// anonymously). Retried like any request.
    pub async fn authenticate(&self) -> Result<(), ScanError> {
        let auth = self.credentials.map_or(RegistryAuth::Anonymous, |c| {
            RegistryAuth::Basic(c.username.clone(), c.password.expose_secret().to_owned())
        });
        let url = self.v2_url();
        let mut retry = 0;
        loop {
            bump(&self.counters.requests);
            let attempt = tokio::time::timeout(
                self.options.timeout,
                self.oci
                    .auth(&self.reference, &auth, RegistryOperation::Pull),
            )
            .await;
            let error = match attempt {
                Ok(Ok(token)) => {
                    *self.auth.borrow_mut() = match (token, self.credentials) {
                        (Some(token), _) => Auth::Bearer(token.into()),
                        (None, Some(_)) => Auth::Basic,
                        (None, None) => Auth::None,
                    };
                    return Ok(());
                }
                Ok(Err(e)) => self.auth_error(&url, e),
                Err(_) => ScanError::Timeout {
                    url: url.clone(),
                    after: self.options.timeout,
                },
            };
            self.wait_or_fail(error, &mut retry).await?;
        }
    }

    fn v2_url(&self) -> String {
        let mut url = self.base.clone();
        url.set_path("/v2/");
        url.to_string()
    }

    fn auth_error(&self, url: &str, e: OciDistributionError) -> ScanError {
        match e {
            // The token service's answer is not echoed: it is the registry's
            // to word, and says nothing the user can act on beyond "refused".
            OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::UnauthorizedError { .. } => self.unauthorized(),
            OciDistributionError::RequestError(e) => transport_error(url, &e, self.options.timeout),
            OciDistributionError::ServerError { code, message, .. } => ScanError::Status {
                url: url.to_owned(),
                status: code,
                message: shorten(&message),
            },
            other => ScanError::Malformed {
                url: url.to_owned(),
                reason: format!("the auth handshake failed: {other}"),
            },
        }
    }

    /// Sleeps before the next try of a transient `error`, or returns it when
    /// it is not transient, the retries ran out, or the registry's
    /// `Retry-After` is longer than the scanner waits.
    async fn wait_or_fail(&self, error: ScanError, retry: &mut u32) -> Result<(), ScanError> {
        if !error.is_transient() || *retry >= self.options.retries {
            return Err(error);
        }
        let wait = match &error {
            ScanError::RateLimited {
                retry_after: Some(after),
                ..
            } => {
                if *after > self.options.max_retry_after {
                    return Err(error);
                }
                *after
            }
            _ => Backoff {
                base: self.options.backoff,
                cap: self.options.max_backoff,
            }
            .delay(*retry),
        };
        *retry += 1;
        bump(&self.counters.retries);
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Sends one request (with retries) and reads its answer whole. A 2xx
    /// answer is returned; anything else is an error.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        accept: Option<&str>,
        limit: usize,
    ) -> Result<Reply, ScanError> {
        let shown = url.to_string();
        let mut retry = 0;
        let mut renewed = false;
        loop {
            let outcome = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|e| ScanError::Setup(e.to_string()))?;
                bump(&self.counters.requests);
                let mut request = self.http.request(method.clone(), url.clone());
                if let Some(accept) = accept {
                    request = request.header(ACCEPT, accept);
                }
                request = match (&*self.auth.borrow(), self.credentials) {
                    (Auth::Bearer(token), _) => request.bearer_auth(token.expose_secret()),
                    (Auth::Basic, Some(c)) => {
                        request.basic_auth(&c.username, Some(c.password.expose_secret()))
                    }
                    _ => request,
                };
                let timeout = self.options.timeout;
                match tokio::time::timeout(timeout, read(request, &shown, limit, timeout)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(ScanError::Timeout {
                        url: shown.clone(),
                        after: self.options.timeout,
                    }),
                }
            };
            let error = match outcome {
                Ok(reply) if (200..300).contains(&reply.status) => return Ok(reply),
                Ok(reply) if reply.status == 401 => {
                    // A bearer token may have expired: one new handshake.
                    if !renewed && matches!(*self.auth.borrow(), Auth::Bearer(_)) {
                        renewed = true;
                        self.authenticate().await?;
                        continue;
                    }
                    return Err(self.unauthorized());
                }
                Ok(reply) if reply.status == 429 => ScanError::RateLimited {
                    url: shown.clone(),
                    retry_after: reply
                        .header(RETRY_AFTER)
                        .and_then(|v| retry_after(v, chrono::Utc::now())),
                },
                Ok(reply) => ScanError::Status {
                    url: shown.clone(),
                    status: reply.status,
                    message: error_message(&reply.body),
                },
                Err(e) => e,
            };
            self.wait_or_fail(error, &mut retry).await?;
        }
    }

    /// Every tag of the repository, following the listing's `Link` pages.
    pub async fn list_tags(&self) -> Result<Vec<String>, ScanError> {
        #[derive(Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let mut url = self
            .base
            .join("tags/list")
            .map_err(|e| ScanError::Setup(e.to_string()))?;
        if let Some(n) = self.options.page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        let mut pages = HashSet::new();
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        loop {
            if pages.len() >= self.options.max_pages {
                return Err(ScanError::Pagination {
                    url: url.to_string(),
                    reason: format!(
                        "the tag listing goes on past {} pages: abandoned",
                        self.options.max_pages
                    ),
                });
            }
            if !pages.insert(url.to_string()) {
                return Err(ScanError::Pagination {
                    url: url.to_string(),
                    reason: "the tag listing's Link leads back to a page already read (a loop): abandoned".to_owned(),
                });
            }
            let reply = self
                .send(Method::GET, &url, None, MAX_LISTING_BYTES)
                .await?;
            let page: Page =
                serde_json::from_slice(&reply.body).map_err(|e| ScanError::Malformed {
                    url: url.to_string(),
                    reason: format!("the tag listing is not valid JSON: {e}"),
                })?;
            let page = page.tags.unwrap_or_default();
            let fresh = page.iter().filter(|t| seen.insert((*t).clone())).count();
            if fresh == 0 && !page.is_empty() {
                return Err(ScanError::Pagination {
                    url: url.to_string(),
                    reason:
                        "a page of the tag listing repeats tags already listed (a loop): abandoned"
                            .to_owned(),
                });
            }
            tags.extend(page);
            match next_link(&reply.headers, &url)? {
                Some(next) => url = next,
                None => break,
            }
        }
        tags.sort_unstable();
        tags.dedup();
        Ok(tags)
    }

    /// The URL of a manifest, by tag or digest.
    pub fn manifest_url(&self, reference: &str) -> Result<Url, ScanError> {
        self.base
            .join(&format!("manifests/{reference}"))
            .map_err(|e| ScanError::Setup(format!("manifest URL for {reference:?}: {e}")))
    }

    /// The digest a tag points to: `HEAD` (one request); when the registry
    /// sends no `Docker-Content-Digest`, a `GET` whose body is verified
    /// against the header (if any) and returned with its digest.
    pub async fn resolve(&self, tag: &str) -> Result<(Digest, Option<Reply>), ScanError> {
        let url = self.manifest_url(tag)?;
        let head = self
            .send(
                Method::HEAD,
                &url,
                Some(manifest::ACCEPT),
                self.options.max_manifest_bytes,
            )
            .await?;
        if let Some(value) = head.content_digest() {
            return Ok((parse_digest(&url, value)?, None));
        }
        let reply = self
            .send(
                Method::GET,
                &url,
                Some(manifest::ACCEPT),
                self.options.max_manifest_bytes,
            )
            .await?;
        bump(&self.counters.manifests);
        let digest = match reply.content_digest() {
            Some(value) => {
                let announced = parse_digest(&url, value)?;
                manifest::verify(url.as_str(), &announced, &reply.body)?;
                announced
            }
            None => Digest::of(crate::id::Algorithm::Sha256, &reply.body),
        };
        Ok((digest, Some(reply)))
    }

    /// A manifest by digest, its bytes verified against it.
    pub async fn manifest(&self, digest: &Digest) -> Result<Reply, ScanError> {
        let url = self.manifest_url(&digest.to_string())?;
        let reply = self
            .send(
                Method::GET,
                &url,
                Some(manifest::ACCEPT),
                self.options.max_manifest_bytes,
            )
            .await?;
        bump(&self.counters.manifests);
        manifest::verify(url.as_str(), digest, &reply.body)?;
        Ok(reply)
    }
}

fn parse_digest(url: &Url, value: &str) -> Result<Digest, ScanError> {
    value.trim().parse().map_err(|e| ScanError::Malformed {
        url: url.to_string(),
        reason: format!("Docker-Content-Digest {value:?}: {e}"),
    })
}

/// Sends `request` and reads the answer, at most `limit` body bytes for a
/// success (more is an error) and a bounded prefix of an error's body.
async fn read(
    request: reqwest::RequestBuilder,
    url: &str,
    limit: usize,
    timeout: Duration,
) -> Result<Reply, ScanError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| transport_error(url, &e, timeout))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let success = (200..300).contains(&status);
    let cap = if success { limit } else { MAX_ERROR_BYTES };
    if success
        && response
            .content_length()
            .is_some_and(|n| n > u64::try_from(cap).unwrap_or(u64::MAX))
    {
        return Err(ScanError::TooLarge {
            url: url.to_owned(),
            limit: cap,
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(url, &e, timeout))?
    {
        if body.len() + chunk.len() > cap {
            if success {
                return Err(ScanError::TooLarge {
                    url: url.to_owned(),
                    limit: cap,
                });
            }
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// An HTTP stack error as a scan error: a timeout, or a connection error
/// with its causes (the URL is said once, in front).
fn transport_error(url: &str, e: &reqwest::Error, timeout: Duration) -> ScanError {
    if e.is_timeout() {
        return ScanError::Timeout {
            url: url.to_owned(),
            after: timeout,
        };
    }
    ScanError::Connection {
        url: url.to_owned(),
        reason: chain(e),
    }
}

/// An error and its sources, without the URL reqwest puts in its message.
fn chain(e: &reqwest::Error) -> String {
    let mut text = if e.url().is_some() {
        // `without_url` needs ownership; rebuild the message from the kind.
        if e.is_connect() {
            "cannot connect".to_owned()
        } else if e.is_body() || e.is_decode() {
            "reading the answer failed".to_owned()
        } else {
            "the request failed".to_owned()
        }
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The registry's error message from an error body (`{"errors":[{"code",
/// "message"}]}`), or the start of the body, shortened.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        errors: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(body) {
        let parts: Vec<String> = env
            .errors
            .into_iter()
            .map(|i| match (i.code, i.message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => String::new(),
            })
            .collect();
        return shorten(&parts.join("; "));
    }
    shorten(&String::from_utf8_lossy(body))
}

fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    let text = text.trim();
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(MAX).collect();
    s.push('…');
    s
}

/// The `rel="next"` target of the `Link` headers, resolved against the
/// page's URL. A link to another host is refused: the scan's credentials
/// go to the registry only.
fn next_link(headers: &HeaderMap, page: &Url) -> Result<Option<Url>, ScanError> {
    for value in headers.get_all(LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let Some((target, params)) = link.trim().split_once('>') else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if !is_next {
                continue;
            }
            let target = target.trim().trim_start_matches('<');
            let next = page.join(target).map_err(|e| ScanError::Malformed {
                url: page.to_string(),
                reason: format!("Link {target:?}: {e}"),
            })?;
            if next.origin() != page.origin() {
                return Err(ScanError::Pagination {
                    url: page.to_string(),
                    reason: format!(
                        "the tag listing's Link leads to another host ({next}): refused"
                    ),
                });
            }
            return Ok(Some(next));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::{Options, Registry, RepositoryId, error_message, next_link};
    use reqwest::Url;
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

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

    fn headers(link: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LINK, HeaderValue::from_str(link).unwrap());
        h
    }

    /// Guards against losing the listing's later pages (tags recorded as
    /// deleted that are not) or following a `Link` to another host with the
    /// registry's credentials.
    #[test]
    fn next_link_resolves_relative_links_and_refuses_other_hosts() {
        let page = Url::parse("http://127.0.0.1:5000/v2/a/b/tags/list?n=2").unwrap();
        let next = next_link(
            &headers("</v2/a/b/tags/list?last=x&n=2>; rel=\"next\""),
            &page,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            next.as_str(),
            "http://127.0.0.1:5000/v2/a/b/tags/list?last=x&n=2"
        );
        assert!(next_link(&headers("<http://evil.example/v2/x>; rel=\"next\""), &page).is_err());
        assert!(
            next_link(&headers("</v2/a/b/tags/list?last=x>; rel=\"prev\""), &page)
                .unwrap()
                .is_none()
        );
        assert!(next_link(&HeaderMap::new(), &page).unwrap().is_none());
    }

    /// Guards against error summaries that drop the registry's own words,
    /// or echo a whole page of HTML.
    #[test]
    fn error_messages_read_the_envelope_and_stay_short() {
        let m = error_message(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        );
        assert_eq!(m, "MANIFEST_UNKNOWN: manifest unknown");
        assert!(error_message("x".repeat(5000).as_bytes()).chars().count() <= 201);
    }
}
