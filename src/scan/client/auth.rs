//! The auth handshake, by oci-client: the one step whose protocol (the
//! `/v2/` challenge, the token service) is left to that crate, and whose
//! errors are said here in the scan's terms.

use oci_client::RegistryOperation;
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use secrecy::ExposeSecret;

use super::errors::{shorten, transport_error};
use super::{Auth, Registry, bump};
use crate::scan::ScanError;

impl Registry<'_> {
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
}
