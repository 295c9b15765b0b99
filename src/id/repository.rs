//! Repository IDs: `registry/namespace`, normalized.

use std::fmt;
use std::str::FromStr;

use super::IdError;
use super::grammar::{self, DOCKER_HUB};

/// A normalized repository: `domain/path`, e.g. `docker.io/library/nginx`.
///
/// The Chkk register reads the same string as `registry/namespace`: the *last*
/// path component is the namespace, everything before it the registry
/// (`docker.io/istio/pilot` = registry `docker.io/istio`, namespace `pilot`).
/// Parsing normalizes, so `nginx`, `docker.io/nginx` and
/// `index.docker.io/library/nginx` are one repository.
///
/// ```
/// use ociledger::id::RepositoryId;
///
/// let r: RepositoryId = "istio/pilot".parse()?;
/// assert_eq!(r.to_string(), "docker.io/istio/pilot");
/// assert_eq!((r.registry(), r.namespace()), ("docker.io/istio", "pilot"));
/// assert_eq!((r.domain(), r.path()), ("docker.io", "istio/pilot"));
/// assert_eq!("nginx".parse::<RepositoryId>()?.familiar(), "nginx");
/// # Ok::<(), ociledger::id::IdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepositoryId {
    // The canonical string first, so the derived Ord sorts by it; the two
    // offsets are derived from it and never disagree.
    full: String,
    domain_len: usize,
    namespace_start: usize,
}

impl RepositoryId {
    /// Builds an ID from an already normalized domain and path.
    pub(crate) fn from_parts(domain: &str, path: &str) -> Self {
        let full = format!("{domain}/{path}");
        let namespace_start = full.rfind('/').map_or(0, |i| i + 1);
        Self {
            full,
            domain_len: domain.len(),
            namespace_start,
        }
    }

    /// Builds an ID from a registry and a namespace, as the Chkk
    /// `OCIRepository` record holds them.
    ///
    /// # Errors
    /// Any [`IdError`] from parsing `registry/namespace`.
    pub fn from_registry_namespace(registry: &str, namespace: &str) -> Result<Self, IdError> {
        let id: Self = format!("{registry}/{namespace}").parse()?;
        if id.registry() != registry || id.namespace() != namespace {
            // e.g. registry "docker.io" + namespace "nginx" normalizes to docker.io/library
            return Err(IdError::InvalidPath {
                input: format!("{registry}/{namespace}"),
                position: 0,
                reason: format!("not in canonical form: this repository is {id}"),
            });
        }
        Ok(id)
    }

    /// The whole canonical string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The registry host with optional port: `docker.io`, `localhost:5000`.
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.full[..self.domain_len]
    }

    /// The path after the domain: `library/nginx`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.full[self.domain_len + 1..]
    }

    /// Everything before the last component (Chkk's "registry"): `docker.io/library`.
    #[must_use]
    pub fn registry(&self) -> &str {
        &self.full[..self.namespace_start - 1]
    }

    /// The last path component (Chkk's "namespace"): `nginx`.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.full[self.namespace_start..]
    }

    /// The short form people type: `docker.io/` removed, and `library/`
    /// removed when one component remains (`nginx`, `istio/pilot`).
    ///
    /// Only when the short form means the same repository: `docker.io/a.b/c`
    /// stays whole (`a.b/c` would name registry `a.b`), and a 64-hex name
    /// keeps `library/` (a bare 64-hex string is an image ID).
    #[must_use]
    pub fn familiar(&self) -> &str {
        if self.domain() != DOCKER_HUB {
            return &self.full;
        }
        let path = self.path();
        match path.strip_prefix("library/") {
            Some(rest) if !rest.contains('/') => {
                if grammar::is_hex64(rest) {
                    path
                } else {
                    rest
                }
            }
            _ => match path.split_once('/') {
                Some((first, _)) if grammar::looks_like_domain(first) => &self.full,
                _ => path,
            },
        }
    }
}

impl FromStr for RepositoryId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = grammar::parse_reference(s, 0)?;
        if let Some((_, at)) = parsed.tag {
            return Err(IdError::Unexpected {
                input: s.to_owned(),
                position: at - 1,
                part: "tag",
                kind: "repository ID",
            });
        }
        if let Some((_, at)) = parsed.digest {
            return Err(IdError::Unexpected {
                input: s.to_owned(),
                position: at - 1,
                part: "digest",
                kind: "repository ID",
            });
        }
        Ok(Self::from_parts(&parsed.domain, &parsed.path))
    }
}

impl fmt::Display for RepositoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for RepositoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepositoryId({})", self.full)
    }
}

super::string_serde!(
    RepositoryId,
    "a repository ID such as docker.io/library/nginx"
);
