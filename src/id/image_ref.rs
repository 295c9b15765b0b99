//! Image references as a cluster shows them.

use std::fmt;
use std::str::FromStr;

use super::grammar;
use super::{Digest, IdError, RepositoryId, TagId};

/// Transport prefixes container runtimes put in front of image IDs.
const TRANSPORTS: [&str; 2] = ["docker-pullable://", "docker://"];

/// What kind of identifier an [`ImageRef`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageRefKind {
    /// A repository only: `nginx`.
    Repository,
    /// A repository and a tag: `nginx:1.25`.
    Tag,
    /// A repository and a digest, with or without a tag: `nginx@sha256:…`.
    Reference,
    /// A digest only: a Kubernetes image ID such as `sha256:…`.
    Digest,
}

impl ImageRefKind {
    /// The lowercase name used in JSON output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Repository => "repository",
            Self::Tag => "tag",
            Self::Reference => "reference",
            Self::Digest => "digest",
        }
    }
}

/// Any image string a cluster shows: `nginx`, `nginx:1.25`,
/// `ghcr.io/a/b@sha256:…`, `name:tag@digest`, `docker-pullable://name@digest`,
/// or an image ID that is only a digest (`sha256:…`, or 64 bare hex).
///
/// A string that is exactly `sha256:`/`sha512:`/`blake3:` followed by hex is a
/// digest, not the repository `sha256` with a tag: write
/// `docker.io/library/sha256:<tag>` for the (unlikely) latter.
///
/// ```
/// use ociledger::id::{ImageRef, ImageRefKind};
///
/// let r: ImageRef = "docker-pullable://nginx@sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".parse()?;
/// assert_eq!(r.kind(), ImageRefKind::Reference);
/// assert_eq!(r.repository().map(|r| r.as_str()), Some("docker.io/library/nginx"));
/// assert!(r.tag().is_none());
///
/// // Docker's default tag applies only when there is neither tag nor digest.
/// let plain: ImageRef = "nginx".parse()?;
/// assert_eq!(plain.effective_tag_id().map(|t| t.to_string()).as_deref(), Some("docker.io/library/nginx:latest"));
/// # Ok::<(), ociledger::id::IdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    // Invariant: `repository` is None only for a digest-only reference, which
    // then has a digest and no tag.
    repository: Option<RepositoryId>,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// The kind of identifier this is.
    #[must_use]
    pub fn kind(&self) -> ImageRefKind {
        match (&self.repository, &self.tag, &self.digest) {
            (None, _, _) => ImageRefKind::Digest,
            (Some(_), _, Some(_)) => ImageRefKind::Reference,
            (Some(_), Some(_), None) => ImageRefKind::Tag,
            (Some(_), None, None) => ImageRefKind::Repository,
        }
    }

    /// The repository, unless this is a bare digest.
    #[must_use]
    pub fn repository(&self) -> Option<&RepositoryId> {
        self.repository.as_ref()
    }

    /// The tag as written, if any.
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest as written, if any.
    #[must_use]
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The tag ID as written (`None` without a tag).
    #[must_use]
    pub fn tag_id(&self) -> Option<TagId> {
        let repository = self.repository.clone()?;
        let tag = self.tag.as_deref()?;
        TagId::new(repository, tag).ok()
    }

    /// The tag a runtime would pull: the written tag, or `latest` when the
    /// string has neither tag nor digest (`nginx` means `nginx:latest`).
    #[must_use]
    pub fn effective_tag_id(&self) -> Option<TagId> {
        let repository = self.repository.clone()?;
        match (&self.tag, &self.digest) {
            (Some(tag), _) => TagId::new(repository, tag).ok(),
            (None, None) => TagId::new(repository, "latest").ok(),
            (None, Some(_)) => None,
        }
    }

    /// The short form people type: `nginx:1.25`, `istio/pilot@sha256:…`.
    ///
    /// A Docker Hub repository named like a digest algorithm keeps its
    /// `library/` (`library/sha256:abc`): `sha256:abc` would read as a digest.
    #[must_use]
    pub fn familiar(&self) -> String {
        let Some(repository) = &self.repository else {
            return self.to_string();
        };
        let mut s = repository.familiar().to_owned();
        self.push_suffix(&mut s);
        if looks_like_bare_digest(&s) {
            repository.path().clone_into(&mut s);
            self.push_suffix(&mut s);
        }
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(d) = &self.digest {
            if self.repository.is_some() {
                s.push('@');
            }
            s.push_str(&d.to_string());
        }
    }
}

/// Is `text` shaped like `<registered algorithm>:<anything without / or @>`?
/// Then it is read as a digest, so that its errors are digest errors.
fn looks_like_bare_digest(text: &str) -> bool {
    let Some((alg, rest)) = text.split_once(':') else {
        return grammar::is_hex64(text);
    };
    matches!(alg, "sha256" | "sha512" | "blake3")
        && !rest.contains(['/', '@'])
        && rest.bytes().all(|b| b.is_ascii_hexdigit())
}

impl FromStr for ImageRef {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let offset = TRANSPORTS
            .iter()
            .find_map(|t| s.strip_prefix(t).map(|_| t.len()))
            .unwrap_or(0);
        let text = &s[offset..];
        if text.is_empty() {
            return Err(IdError::Empty {
                what: "image reference",
            });
        }
        if looks_like_bare_digest(text) {
            return Ok(Self {
                repository: None,
                tag: None,
                digest: Some(Digest::parse_at(s, offset)?),
            });
        }
        let parsed = grammar::parse_reference(s, offset)?;
        Ok(Self {
            repository: Some(RepositoryId::from_parts(&parsed.domain, &parsed.path)),
            tag: parsed.tag.map(|(t, _)| t),
            digest: parsed.digest.map(|(d, _)| d),
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = match &self.repository {
            Some(r) => r.as_str().to_owned(),
            None => String::new(),
        };
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({self})")
    }
}

super::string_serde!(
    ImageRef,
    "an image reference such as nginx:1.25 or ghcr.io/a/b@sha256:<64 hex>"
);
