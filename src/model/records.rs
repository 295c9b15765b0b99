//! The Chkk Artifact Register records (seeds 000, 001, 003) and write bodies.
//!
//! Each record is a plain struct that serializes to exactly the seed's JSON:
//! its field names, every required field present, `additionalProperties:
//! false` (unknown fields are rejected on input). The audit fields are written
//! out in each record rather than flattened, because serde cannot combine
//! `flatten` with `deny_unknown_fields`.

use serde::{Deserialize, Deserializer, Serialize};

use super::Timestamp;
use crate::id::{Digest, RepositoryId, TagId};

/// A field the schema requires that may be `null`: serde would otherwise read
/// a missing `Option` as `None`, so this makes "missing" an error.
fn required_nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// An `OCIRepository` (seed 000): one namespace within an OCI registry.
///
/// ```
/// use ociledger::model::Repository;
///
/// let json = r#"{"registry":"docker.io/istio","namespace":"pilot",
///   "last_scanned_on":"2024-01-01T00:00:00Z","projects":null,"project_components":null,
///   "packages":["pkg-1"],"created_by":"alice","created_on":"2024-01-01T00:00:00Z",
///   "last_modified_by":"alice","last_modified_on":"2024-01-01T00:00:00Z"}"#;
/// let repo: Repository = serde_json::from_str(json)?;
/// assert_eq!(repo.namespace, "pilot");
/// // Required fields are enforced, unknown fields rejected:
/// assert!(serde_json::from_str::<Repository>(&json.replace(r#""projects":null,"#, "")).is_err());
/// assert!(serde_json::from_str::<Repository>(&json.replace("{", r#"{"extra":1,"#)).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// A URL to the JSON Schema for this object (read-only; ignored on input).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The registry: everything before the last path component (`docker.io/istio`).
    pub registry: String,
    /// The last path component (`pilot`).
    pub namespace: String,
    /// When the repository was last scanned.
    pub last_scanned_on: Timestamp,
    /// Project IDs this repository is associated with.
    #[serde(deserialize_with = "required_nullable")]
    pub projects: Option<Vec<String>>,
    /// `ProjectComponent` IDs this repository is associated with.
    #[serde(deserialize_with = "required_nullable")]
    pub project_components: Option<Vec<String>>,
    /// Package IDs this repository is associated with.
    #[serde(deserialize_with = "required_nullable")]
    pub packages: Option<Vec<String>>,
    /// Who created the record.
    pub created_by: String,
    /// When the record was created.
    pub created_on: Timestamp,
    /// Who last modified the record.
    pub last_modified_by: String,
    /// When the record was last modified.
    pub last_modified_on: Timestamp,
}

impl Repository {
    /// The repository's ID, `registry/namespace`.
    ///
    /// # Errors
    /// When `registry/namespace` is not a canonical repository ID.
    pub fn id(&self) -> Result<RepositoryId, crate::id::IdError> {
        RepositoryId::from_registry_namespace(&self.registry, &self.namespace)
    }
}

/// The body of a repository create or update: the mutable fields.
///
/// The audit fields and `$schema` are accepted so that a record read with
/// `get` can be edited and sent back, but they are ignored: the ledger sets
/// them. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryBody {
    /// See [`Repository::registry`].
    pub registry: String,
    /// See [`Repository::namespace`].
    pub namespace: String,
    /// See [`Repository::last_scanned_on`].
    pub last_scanned_on: Timestamp,
    /// See [`Repository::projects`].
    #[serde(deserialize_with = "required_nullable")]
    pub projects: Option<Vec<String>>,
    /// See [`Repository::project_components`].
    #[serde(deserialize_with = "required_nullable")]
    pub project_components: Option<Vec<String>>,
    /// See [`Repository::packages`].
    #[serde(deserialize_with = "required_nullable")]
    pub packages: Option<Vec<String>>,
    #[serde(rename = "$schema", default, skip_serializing)]
    #[doc(hidden)]
    pub schema: Option<String>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub created_on: Option<Timestamp>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub last_modified_by: Option<String>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub last_modified_on: Option<Timestamp>,
}

impl RepositoryBody {
    /// A body with no associations.
    #[must_use]
    pub fn new(id: &RepositoryId, last_scanned_on: Timestamp) -> Self {
        Self {
            registry: id.registry().to_owned(),
            namespace: id.namespace().to_owned(),
            last_scanned_on,
            projects: None,
            project_components: None,
            packages: None,
            schema: None,
            created_by: None,
            created_on: None,
            last_modified_by: None,
            last_modified_on: None,
        }
    }
}

/// An `OCITag` (seed 001): a name in a repository that points to one digest now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// A URL to the JSON Schema for this object (read-only; ignored on input).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The digest the tag points to *now*. Written `algorithm:hex`; a bare
    /// 64-hex string (the seed's example) is read as sha256.
    pub artifact: Digest,
    /// The repository's ID.
    pub repository: RepositoryId,
    /// The tag name.
    pub tag: String,
    /// Who created the record.
    pub created_by: String,
    /// When the record was created.
    pub created_on: Timestamp,
    /// Who last modified the record.
    pub last_modified_by: String,
    /// When the record was last modified.
    pub last_modified_on: Timestamp,
}

impl Tag {
    /// The tag's ID, `repository:tag`.
    ///
    /// # Errors
    /// When `tag` is not a valid tag name.
    pub fn id(&self) -> Result<TagId, crate::id::IdError> {
        TagId::new(self.repository.clone(), &self.tag)
    }
}

/// The body of a tag create or update: where the tag points. Audit fields
/// and `$schema` are accepted and ignored, as for [`RepositoryBody`]. (The
/// five ignored fields are repeated in each body rather than shared through
/// `#[serde(flatten)]`, because serde does not support `flatten` together
/// with `deny_unknown_fields`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    /// The repository's ID.
    pub repository: RepositoryId,
    /// The tag name.
    pub tag: String,
    /// The digest the tag points to from now on.
    pub artifact: Digest,
    #[serde(rename = "$schema", default, skip_serializing)]
    #[doc(hidden)]
    pub schema: Option<String>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub created_on: Option<Timestamp>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub last_modified_by: Option<String>,
    #[serde(default, skip_serializing)]
    #[doc(hidden)]
    pub last_modified_on: Option<Timestamp>,
}

impl TagBody {
    /// A body pointing `tag` at `artifact`.
    #[must_use]
    pub fn new(tag: &TagId, artifact: Digest) -> Self {
        Self {
            repository: tag.repository().clone(),
            tag: tag.tag().to_owned(),
            artifact,
            schema: None,
            created_by: None,
            created_on: None,
            last_modified_by: None,
            last_modified_on: None,
        }
    }
}

/// An `OCIReference` (seed 003): "this tag pointed to this digest". Created the
/// first time the pair is seen; never rewritten or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// A URL to the JSON Schema for this object (read-only; ignored on input).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The *full* tag ID.
    pub tag: TagId,
    /// The digest the tag pointed to.
    pub artifact: Digest,
    /// Who created the record.
    pub created_by: String,
    /// When the record was created.
    pub created_on: Timestamp,
    /// Who last modified the record.
    pub last_modified_by: String,
    /// When the record was last modified.
    pub last_modified_on: Timestamp,
}
