//! Reference IDs: `<tag id>@<digest>`, one per (tag, digest) pair ever seen.

use std::fmt;
use std::str::FromStr;

use super::grammar;
use super::{Digest, IdError, RepositoryId, TagId};

/// The relationship "this tag pointed to this digest":
/// `docker.io/cert-manager/cert-manager:latest@sha256:…`.
///
/// ```
/// use ociledger::id::ReferenceId;
///
/// let s = "nginx:latest@sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/// let r: ReferenceId = s.parse()?;
/// assert_eq!(r.tag().to_string(), "docker.io/library/nginx:latest");
/// assert_eq!(r.digest().algorithm().name(), "sha256");
/// # Ok::<(), ociledger::id::IdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReferenceId {
    tag: TagId,
    digest: Digest,
}

impl ReferenceId {
    /// A reference from its two parts.
    #[must_use]
    pub fn new(tag: TagId, digest: Digest) -> Self {
        Self { tag, digest }
    }

    /// The tag.
    #[must_use]
    pub fn tag(&self) -> &TagId {
        &self.tag
    }

    /// The digest the tag pointed to.
    #[must_use]
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
}

impl FromStr for ReferenceId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = grammar::parse_reference(s, 0)?;
        let Some((tag, _)) = parsed.tag else {
            return Err(IdError::MissingTag {
                input: s.to_owned(),
            });
        };
        let Some((digest, _)) = parsed.digest else {
            return Err(IdError::MissingDigest {
                input: s.to_owned(),
            });
        };
        let repository = RepositoryId::from_parts(&parsed.domain, &parsed.path);
        let tag = TagId::new(repository, &tag)?;
        Ok(Self { tag, digest })
    }
}

impl fmt::Display for ReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.tag, self.digest)
    }
}

impl fmt::Debug for ReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReferenceId({self})")
    }
}

super::string_serde!(
    ReferenceId,
    "a reference ID such as docker.io/library/nginx:latest@sha256:<64 hex>"
);
