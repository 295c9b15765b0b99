//! Scan observations: "tag T pointed to digest D at time t".

use serde::{Deserialize, Serialize};

use super::{ConfigRelation, IndexRelation, ManifestRelation, PlatformManifest, Timestamp};
use crate::id::{Digest, IdError, RepositoryId, TagId};

/// One scan observation, the unit of [`crate::Ledger::ingest`].
///
/// Its JSON line is `{"repository", "tag", "digest", "observed_at"}`; the
/// repository may be written in any form (`python`, `docker.io/library/python`)
/// and the time with any offset: both are normalized when read. A scanner
/// that read the manifest adds what it saw, both optional: `"config"` for a
/// single-platform manifest, or `"manifests"` (each `{"digest", "platform",
/// "config"?}`) for an image index; the ledger records them as relations
/// (see [`ManifestRelation`]).
///
/// ```
/// use ociledger::model::Observation;
///
/// let o: Observation = serde_json::from_str(r#"{"repository":"python","tag":"3.14",
///   "digest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
///   "observed_at":"2021-01-27T19:44:34-06:00"}"#)?;
/// assert_eq!(o.tag.to_string(), "docker.io/library/python:3.14");
/// assert_eq!(o.observed_at.to_rfc3339(), "2021-01-28T01:44:34+00:00");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ObservationLine", into = "ObservationLine")]
pub struct Observation {
    /// The tag observed.
    pub tag: TagId,
    /// The digest it pointed to.
    pub digest: Digest,
    /// When it was seen so.
    pub observed_at: Timestamp,
    /// The config digest, when `digest` is a single-platform manifest and
    /// the scanner read it.
    pub config: Option<Digest>,
    /// The platform manifests, when `digest` is an image index and the
    /// scanner read it; empty otherwise.
    pub manifests: Vec<PlatformManifest>,
}

impl Observation {
    /// An observation of a tag alone, without manifest details.
    #[must_use]
    pub fn new(tag: TagId, digest: Digest, observed_at: Timestamp) -> Self {
        Self {
            tag,
            digest,
            observed_at,
            config: None,
            manifests: Vec::new(),
        }
    }

    /// The manifest relation this observation carries, if any.
    #[must_use]
    pub fn relation(&self) -> Option<ManifestRelation> {
        if !self.manifests.is_empty() {
            return Some(ManifestRelation::Index(IndexRelation {
                index: self.digest,
                manifests: self.manifests.clone(),
                repository: None,
                first_seen: None,
            }));
        }
        self.config.map(|config| {
            ManifestRelation::Config(ConfigRelation {
                manifest: self.digest,
                config,
                repository: None,
                platform: None,
                source: None,
                first_seen: None,
            })
        })
    }
}

/// The JSON line form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservationLine {
    repository: RepositoryId,
    tag: String,
    digest: Digest,
    observed_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<Digest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    manifests: Vec<PlatformManifest>,
}

/// Why an observation line is not one, beyond its identifiers.
#[derive(Debug, thiserror::Error)]
enum LineError {
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(
        "an observation has either \"config\" (a single manifest) or \"manifests\" (an image index), not both"
    )]
    ConfigAndManifests,
}

impl TryFrom<ObservationLine> for Observation {
    type Error = LineError;

    fn try_from(line: ObservationLine) -> Result<Self, Self::Error> {
        if line.config.is_some() && !line.manifests.is_empty() {
            return Err(LineError::ConfigAndManifests);
        }
        Ok(Self {
            tag: TagId::new(line.repository, &line.tag)?,
            digest: line.digest,
            observed_at: line.observed_at,
            config: line.config,
            manifests: line.manifests,
        })
    }
}

impl From<Observation> for ObservationLine {
    fn from(o: Observation) -> Self {
        Self {
            tag: o.tag.tag().to_owned(),
            repository: o.tag.repository().clone(),
            digest: o.digest,
            observed_at: o.observed_at,
            config: o.config,
            manifests: o.manifests,
        }
    }
}
