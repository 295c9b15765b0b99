//! One request under the good-client rules: a permit from the limit on
//! requests in flight, a timeout, retries with backoff (or the registry's
//! `Retry-After`), one new handshake when a token expires, and a size limit
//! on the answer. Every request of a scan goes through [`Registry::send`],
//! so no request can skip a rule.

use std::time::Duration;

use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{Method, Url};
use secrecy::ExposeSecret;

use super::errors::{error_message, transport_error};
use super::{Auth, Registry, Reply, bump};
use crate::scan::ScanError;
use crate::scan::retry::{Backoff, retry_after};

/// An error answer's body is read this far, for its message.
const MAX_ERROR_BYTES: usize = 64 << 10;

impl Registry<'_> {
    /// Sleeps before the next try of a transient `error`, or returns it when
    /// it is not transient, the retries ran out, or the registry's
    /// `Retry-After` is longer than the scanner waits.
    pub(super) async fn wait_or_fail(
        &self,
        error: ScanError,
        retry: &mut u32,
    ) -> Result<(), ScanError> {
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
