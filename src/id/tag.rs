//! Tag IDs: `<repository id>:<tag>`.

use std::fmt;
use std::str::FromStr;

use super::grammar;
use super::{IdError, RepositoryId};

/// A tag within a repository: `docker.io/istio/pilot:1.3.0`.
///
/// ```
/// use ociledger::id::TagId;
///
/// let t: TagId = "nginx:1.25".parse()?;
/// assert_eq!(t.to_string(), "docker.io/library/nginx:1.25");
/// assert_eq!(t.tag(), "1.25");
/// assert_eq!(t.repository().namespace(), "nginx");
/// assert_eq!(t.familiar(), "nginx:1.25");
/// # Ok::<(), ociledger::id::IdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TagId {
    repository: RepositoryId,
    tag: String,
}

impl TagId {
    /// A tag ID from a repository and a tag name, checking the tag grammar.
    ///
    /// # Errors
    /// [`IdError::InvalidTag`] or [`IdError::TagTooLong`].
    pub fn new(repository: RepositoryId, tag: &str) -> Result<Self, IdError> {
        grammar::check_tag(tag, 0, tag.len())?;
        Ok(Self {
            repository,
            tag: tag.to_owned(),
        })
    }

    /// The repository.
    #[must_use]
    pub fn repository(&self) -> &RepositoryId {
        &self.repository
    }

    /// The tag name: `latest`, `1.25`.
    #[must_use]
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The short form: `nginx:1.25`.
    #[must_use]
    pub fn familiar(&self) -> String {
        format!("{}:{}", self.repository.familiar(), self.tag)
    }
}

impl FromStr for TagId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = grammar::parse_reference(s, 0)?;
        if let Some((_, at)) = parsed.digest {
            return Err(IdError::Unexpected {
                input: s.to_owned(),
                position: at - 1,
                part: "digest",
                kind: "tag ID",
            });
        }
        let Some((tag, _)) = parsed.tag else {
            return Err(IdError::MissingTag {
                input: s.to_owned(),
            });
        };
        Ok(Self {
            repository: RepositoryId::from_parts(&parsed.domain, &parsed.path),
            tag,
        })
    }
}

impl fmt::Display for TagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

impl fmt::Debug for TagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagId({self})")
    }
}

super::string_serde!(TagId, "a tag ID such as docker.io/library/nginx:1.25");
