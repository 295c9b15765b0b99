//! Scan observations: "tag T pointed to digest D at time t".

use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::id::{Digest, IdError, RepositoryId, TagId};

/// One scan observation, the unit of [`crate::Ledger::ingest`].
///
/// Its JSON line is `{"repository", "tag", "digest", "observed_at"}`; the
/// repository may be written in any form (`python`, `docker.io/library/python`)
/// and the time with any offset: both are normalized when read.
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
}

impl Observation {
    /// An observation.
    #[must_use]
    pub fn new(tag: TagId, digest: Digest, observed_at: Timestamp) -> Self {
        Self {
            tag,
            digest,
            observed_at,
        }
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
}

impl TryFrom<ObservationLine> for Observation {
    type Error = IdError;

    fn try_from(line: ObservationLine) -> Result<Self, Self::Error> {
        Ok(Self {
            tag: TagId::new(line.repository, &line.tag)?,
            digest: line.digest,
            observed_at: line.observed_at,
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
        }
    }
}
