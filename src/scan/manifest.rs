//! Manifest bodies: the digest check every downloaded body passes, and the
//! little the scanner reads from them (an index's platform manifests, a
//! manifest's config).

use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use serde::Deserialize;

use super::ScanError;
use crate::id::Digest;
use crate::model::Platform;

/// The `Accept` of manifest requests: OCI index and manifest, Docker
/// manifest list and v2 manifest.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// At most this many entries in one index (real ones have a few dozen).
pub(crate) const MAX_CHILDREN: usize = 4096;

/// Refuses `body` unless its digest (by `expected`'s algorithm) is `expected`.
pub(crate) fn verify(url: &str, expected: &Digest, body: &[u8]) -> Result<(), ScanError> {
    let actual = Digest::of(expected.algorithm(), body);
    if &actual == expected {
        Ok(())
    } else {
        Err(ScanError::DigestMismatch {
            url: url.to_owned(),
            expected: Box::new(*expected),
            actual: Box::new(actual),
        })
    }
}

/// What a manifest body says, as far as the ledger cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// An image index (OCI) or manifest list (Docker).
    Index(Vec<Child>),
    /// A single manifest and its config.
    Manifest { config: Digest },
    /// Anything else (a schema 1 manifest, an unknown type): tagged, but
    /// with nothing to record about it.
    Other,
}

/// One entry of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Child {
    pub digest: Digest,
    /// `None` when the entry names no platform (then no relation is
    /// recorded for it: the ledger's relation needs one).
    pub platform: Option<Platform>,
    /// The entry is itself an index (nested): no config to read.
    pub is_index: bool,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<Vec<Descriptor>>,
    config: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    digest: String,
    platform: Option<PlatformBody>,
}

/// The OCI `platform` object; `os.features` and `features` are ignored.
#[derive(Deserialize)]
struct PlatformBody {
    os: String,
    architecture: String,
    variant: Option<String>,
    #[serde(rename = "os.version")]
    os_version: Option<String>,
}

fn is_index_type(t: &str) -> bool {
    t == OCI_IMAGE_INDEX_MEDIA_TYPE || t == IMAGE_MANIFEST_LIST_MEDIA_TYPE
}

fn is_manifest_type(t: &str) -> bool {
    t == OCI_IMAGE_MEDIA_TYPE || t == IMAGE_MANIFEST_MEDIA_TYPE
}

/// Reads a (verified) manifest body. The body's `mediaType` decides, then
/// the response's `Content-Type`, then its shape (`manifests` or `config`).
pub(crate) fn parse(
    url: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Parsed, ScanError> {
    let malformed = |reason: String| ScanError::Malformed {
        url: url.to_owned(),
        reason,
    };
    let parsed: Body = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the manifest is not valid JSON: {e}")))?;
    let content_type = content_type.map(|c| c.split(';').next().unwrap_or(c).trim());
    let media_type = parsed.media_type.as_deref().or(content_type).unwrap_or("");
    if parsed.schema_version == Some(1) {
        return Ok(Parsed::Other);
    }
    let index = is_index_type(media_type)
        || (!is_manifest_type(media_type) && parsed.manifests.is_some() && parsed.config.is_none());
    if index {
        let entries = parsed
            .manifests
            .ok_or_else(|| malformed("an image index without \"manifests\"".to_owned()))?;
        if entries.len() > MAX_CHILDREN {
            return Err(malformed(format!(
                "an image index of {} entries (at most {MAX_CHILDREN} are read)",
                entries.len()
            )));
        }
        let children = entries
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let digest = d
                    .digest
                    .parse::<Digest>()
                    .map_err(|e| malformed(format!("manifests[{i}].digest {:?}: {e}", d.digest)))?;
                Ok(Child {
                    digest,
                    is_index: d.media_type.as_deref().is_some_and(is_index_type),
                    platform: d.platform.map(|p| Platform {
                        os: p.os,
                        architecture: p.architecture,
                        variant: p.variant.filter(|v| !v.is_empty()),
                        os_version: p.os_version.filter(|v| !v.is_empty()),
                    }),
                })
            })
            .collect::<Result<_, ScanError>>()?;
        return Ok(Parsed::Index(children));
    }
    match parsed.config {
        Some(config) => {
            let digest = config
                .digest
                .parse::<Digest>()
                .map_err(|e| malformed(format!("config.digest {:?}: {e}", config.digest)))?;
            Ok(Parsed::Manifest { config: digest })
        }
        None if is_manifest_type(media_type) => {
            Err(malformed(format!("a {media_type} without \"config\"")))
        }
        None => Ok(Parsed::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::{Parsed, parse, verify};
    use crate::id::{Algorithm, Digest};

    const A: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const B: &str = "sha256:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed";

    /// Guards against accepting bytes that are not the content asked for.
    #[test]
    fn verify_refuses_bytes_of_another_digest() {
        let d = Digest::of(Algorithm::Sha256, b"abc");
        assert!(verify("u", &d, b"abc").is_ok());
        let err = verify("u", &d, b"abd").unwrap_err().to_string();
        assert!(
            err.contains("refused") && err.contains(&d.to_string()),
            "{err}"
        );
    }

    /// Guards against losing the platform of an index entry, or reading a
    /// Docker manifest list (no `mediaType` on the entries' platform
    /// fields) differently from an OCI index.
    #[test]
    fn an_index_yields_its_entries_with_platforms() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
            "manifests":[{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{A}","size":1,
            "platform":{{"os":"linux","architecture":"arm","variant":"v7","os.features":["x"]}}}},
            {{"digest":"{B}","size":1}}]}}"#
        );
        let Parsed::Index(children) = parse("u", body.as_bytes(), None).unwrap() else {
            panic!("not an index")
        };
        assert_eq!(children.len(), 2);
        assert_eq!(
            children[0].platform.as_ref().unwrap().to_string(),
            "linux/arm/v7"
        );
        assert!(children[1].platform.is_none());
    }

    /// Guards against a manifest without `mediaType` (allowed by OCI)
    /// being misread, and against malformed JSON passing silently.
    #[test]
    fn a_manifest_yields_its_config_and_garbage_is_refused() {
        let body =
            format!(r#"{{"schemaVersion":2,"config":{{"digest":"{A}","size":2}},"layers":[]}}"#);
        assert_eq!(
            parse(
                "u",
                body.as_bytes(),
                Some("application/vnd.oci.image.manifest.v1+json")
            )
            .unwrap(),
            Parsed::Manifest {
                config: A.parse().unwrap()
            }
        );
        let err = parse("u", b"{\"schemaVersion\":2,", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");
        let err = parse(
            "u",
            br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("without \"config\""), "{err}");
    }
}
