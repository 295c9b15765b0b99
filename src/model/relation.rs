//! Manifest relations: an image index lists platform manifests, a manifest
//! names its config. They are content-addressed, so a relation, once seen,
//! never changes.
//!
//! Kubernetes often reports a digest of the image other than the one a tag
//! points to: containerd reports the index a multi-arch tag resolved to,
//! CRI-O often the platform manifest, and a runtime without a repo digest
//! the config digest (the "image ID"). These relations let a lookup of any
//! of them reach the tags.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::id::{Digest, RepositoryId};

/// The platform of a manifest in an image index, as the OCI image-index
/// `platform` object writes it.
///
/// ```
/// use ociledger::model::Platform;
///
/// let p: Platform = serde_json::from_str(r#"{"os":"linux","architecture":"arm64","variant":"v8"}"#)?;
/// assert_eq!(p.to_string(), "linux/arm64/v8");
/// assert!(serde_json::from_str::<Platform>(r#"{"os":"linux"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Operating system: `linux`, `windows`.
    pub os: String,
    /// CPU architecture: `amd64`, `arm64`, `arm`.
    pub architecture: String,
    /// CPU variant: `v7`, `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Operating-system version (Windows images): `10.0.14393.1593`.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl std::fmt::Display for Platform {
    /// `os/architecture[/variant][ (os.version)]`, as `docker` prints platforms.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        if let Some(v) = &self.os_version {
            write!(f, " ({v})")?;
        }
        Ok(())
    }
}

/// One entry of an image index: a platform manifest, its platform, and
/// (when the scanner fetched it) the manifest's config digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformManifest {
    /// The platform manifest's digest.
    pub digest: Digest,
    /// The platform it is for.
    pub platform: Platform,
    /// Its config digest, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Digest>,
}

/// How an indirect match was reached: the digest that was tagged, and the
/// platform of the manifest the lookup started from when that digest is an
/// image index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Via {
    /// The digest the tag points or pointed to (an index, or the manifest
    /// of a config).
    pub digest: Digest,
    /// The platform of the manifest within that index; `None` when the
    /// tagged digest is the manifest itself. Shared: an image's platforms
    /// are few, and the matches of an answer, the answers of a lookup
    /// buffer and the in-memory copy's links hold each by reference
    /// instead of copying its strings (it serializes as the platform).
    pub platform: Option<Arc<Platform>>,
}

/// What a scanner learned about one manifest: either an image index with
/// its platform manifests, or a single manifest with its config. The JSON
/// line forms, accepted by `ociledger import --manifests` and written by
/// the real-data extraction (`../shared/data/manifest-*.jsonl.gz`):
///
/// ```json
/// {"index": "sha256:…", "manifests": [{"digest": "sha256:…", "platform": {"os": "linux", "architecture": "amd64"}, "config": "sha256:…"}]}
/// {"manifest": "sha256:…", "config": "sha256:…"}
/// ```
///
/// A line with an `index` field is the first form, any other the second.
/// Both may carry `repository` and `first_seen`, and the second `platform`
/// and `source`: where, when and how it was seen. The relation itself does
/// not depend on them. Unknown fields are refused.
///
/// ```
/// use ociledger::model::ManifestRelation;
///
/// let r: ManifestRelation = serde_json::from_str(r#"{"manifest":
///   "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
///   "config": "sha256:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"}"#)?;
/// assert!(matches!(r, ManifestRelation::Config(_)));
/// assert!(serde_json::from_str::<ManifestRelation>(r#"{"index": "sha256:x", "extra": 1}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ManifestRelation {
    /// An image index and its platform manifests.
    Index(IndexRelation),
    /// A manifest and its config.
    Config(ConfigRelation),
}

/// An image index and its platform manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRelation {
    /// The index digest.
    pub index: Digest,
    /// Its platform manifests.
    pub manifests: Vec<PlatformManifest>,
    /// Where it was seen (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryId>,
    /// When it was first seen (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
}

/// A manifest and its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRelation {
    /// The manifest digest.
    pub manifest: Digest,
    /// Its config digest.
    pub config: Digest,
    /// Where it was seen (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryId>,
    /// The platform its config names (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// `tag` or `manifest-list`: how the extraction found it (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When it was first seen (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
}

impl<'de> Deserialize<'de> for ManifestRelation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let is_index = map.contains_key("index");
        let value = serde_json::Value::Object(map);
        if is_index {
            serde_json::from_value(value)
                .map(Self::Index)
                .map_err(D::Error::custom)
        } else {
            serde_json::from_value(value)
                .map(Self::Config)
                .map_err(D::Error::custom)
        }
    }
}
