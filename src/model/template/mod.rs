//! Repository creation templates, as the Amazon ECR document
//! (`UpdateRepositoryCreationTemplate`, seed 004) defines them: the request
//! body, the stored template and the response, every limit the document
//! sets, the prefix matching that picks a template for a new repository, and
//! the tag-mutability setting a repository gets from it.
//!
//! Nothing here touches storage. Validation failures are [`TemplateError`]s
//! that name the field (`body.description`) and the limit, with the
//! document's error kind ([`TemplateErrorKind`]).
//!
//! ```
//! use ociledger::model::{TemplateBody, ImageTagMutability};
//!
//! let body = TemplateBody::from_json(r#"{"prefix": "prod", "imageTagMutability": "IMMUTABLE"}"#)?;
//! assert_eq!(body.image_tag_mutability, Some(ImageTagMutability::Immutable));
//! let err = TemplateBody::from_json(r#"{"prefix": "Prod"}"#).and_then(|b| b.check().map(|()| b)).unwrap_err();
//! assert_eq!(err.kind.to_string(), "ValidationException");
//! assert_eq!(err.location, "body.prefix");
//! # Ok::<(), ociledger::model::TemplateError>(())
//! ```

mod build;
mod check;
mod error;
mod matching;
mod mutability;
mod records;
mod registry;

pub use check::check_prefix;
pub use error::{TemplateError, TemplateErrorKind};
pub use matching::{candidate_keys, choose_template, prefix_matches, template_key};
pub use mutability::{MutabilitySetting, TagMutability, wildcard_matches};
pub use records::{
    AppliedFor, EncryptionConfiguration, EncryptionType, ExclusionFilter, FilterType,
    ImageTagMutability, RepositoryCreationTemplate, ResourceTag, TemplateBody, TemplateList,
    TemplateResponse,
};
pub use registry::{registry_domain, registry_id};

/// The prefix of the template that applies to every repository no other
/// template matches.
pub const ROOT: &str = "ROOT";

/// The document's limits, in characters.
pub mod limits {
    /// `prefix`: 1 to this many.
    pub const PREFIX: usize = 256;
    /// `customRoleArn`: at most this many.
    pub const CUSTOM_ROLE_ARN: usize = 2048;
    /// `description`: at most this many.
    pub const DESCRIPTION: usize = 256;
    /// `encryptionConfiguration.kmsKey`: 1 to this many (ECR's API reference).
    pub const KMS_KEY: usize = 2048;
    /// `lifecyclePolicy`: at most this many.
    pub const LIFECYCLE_POLICY: usize = 30720;
    /// `repositoryPolicy`: at most this many.
    pub const REPOSITORY_POLICY: usize = 10240;
    /// A resource tag's `Key`: 1 to this many.
    pub const TAG_KEY: usize = 128;
    /// A resource tag's `Value`: at most this many.
    pub const TAG_VALUE: usize = 256;
    /// `imageTagMutabilityExclusionFilters`: 1 to this many filters.
    pub const EXCLUSION_FILTERS: usize = 5;
    /// An exclusion filter: 1 to this many characters of `[0-9a-zA-Z._*-]`.
    pub const FILTER: usize = 128;
}
