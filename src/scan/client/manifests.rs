//! Manifests by tag or digest: a tag resolved with the fewest requests, and
//! no manifest's bytes accepted before they are verified against their
//! digest.

use reqwest::{Method, Url};

use super::{Registry, Reply, bump};
use crate::id::Digest;
use crate::scan::{ScanError, manifest};

impl Registry<'_> {
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
        let reply = self.get_manifest(&url).await?;
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
        let reply = self.get_manifest(&url).await?;
        manifest::verify(url.as_str(), digest, &reply.body)?;
        Ok(reply)
    }

    /// One manifest `GET`, counted: within the manifest size limit.
    async fn get_manifest(&self, url: &Url) -> Result<Reply, ScanError> {
        let reply = self
            .send(
                Method::GET,
                url,
                Some(manifest::ACCEPT),
                self.options.max_manifest_bytes,
            )
            .await?;
        bump(&self.counters.manifests);
        Ok(reply)
    }
}

fn parse_digest(url: &Url, value: &str) -> Result<Digest, ScanError> {
    value.trim().parse().map_err(|e| ScanError::Malformed {
        url: url.to_string(),
        reason: format!("Docker-Content-Digest {value:?}: {e}"),
    })
}
