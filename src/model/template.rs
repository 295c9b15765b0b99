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

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Timestamp;
use crate::id::RepositoryId;

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

/// The error kinds of the document, carried by every refusal of the
/// template API (and by problem+json `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TemplateErrorKind {
    /// A member breaks a rule the document states in words or that needs
    /// its content read: a lifecycle or repository policy that is not valid,
    /// `kmsKey` without KMS, exclusion filters with a mutability that takes
    /// none, repeated tag keys, a registry that is not a domain.
    InvalidParameter,
    /// The request does not fit the document's shape: not JSON, an unknown
    /// member, a wrong type, a value outside "Valid Values", a missing
    /// required member, a length or pattern constraint.
    Validation,
    /// No template has that prefix in that registry.
    TemplateNotFound,
    /// A template with that prefix already exists in that registry.
    TemplateAlreadyExists,
}

impl TemplateErrorKind {
    /// The exception name, as ECR answers it: `ValidationException`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidParameter => "InvalidParameterException",
            Self::Validation => "ValidationException",
            Self::TemplateNotFound => "TemplateNotFoundException",
            Self::TemplateAlreadyExists => "TemplateAlreadyExistsException",
        }
    }
}

impl fmt::Display for TemplateErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal of the template API: the document's error kind, where
/// (`body.resourceTags[2].Key`), what (with the limit), and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {location}: {message}")]
pub struct TemplateError {
    /// The document's error kind.
    pub kind: TemplateErrorKind,
    /// Where: `body.prefix`, `registry`, `body.lifecyclePolicy.rules[0].rulePriority`.
    pub location: String,
    /// What is wrong, naming the limit.
    pub message: String,
    /// The offending value (cut to 200 characters).
    pub value: Option<String>,
}

impl TemplateError {
    /// A refusal of `kind` at `location`.
    pub fn new(
        kind: TemplateErrorKind,
        location: impl Into<String>,
        message: impl Into<String>,
        value: Option<&str>,
    ) -> Self {
        Self {
            kind,
            location: location.into(),
            message: message.into(),
            value: value.map(|v| v.chars().take(200).collect()),
        }
    }

    fn validation(location: impl Into<String>, message: impl Into<String>, value: &str) -> Self {
        Self::new(
            TemplateErrorKind::Validation,
            location,
            message,
            Some(value),
        )
    }

    fn parameter(location: impl Into<String>, message: impl Into<String>, value: &str) -> Self {
        Self::new(
            TemplateErrorKind::InvalidParameter,
            location,
            message,
            Some(value),
        )
    }
}

/// A repository creation scenario a template applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppliedFor {
    /// Repositories created by replication.
    Replication,
    /// Repositories created by a pull-through cache.
    PullThroughCache,
    /// Repositories created by a push (the current ECR API).
    CreateOnPush,
}

/// How repositories created from a template are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EncryptionType {
    /// Amazon S3-managed keys.
    #[serde(rename = "AES256")]
    Aes256,
    /// AWS KMS keys.
    #[serde(rename = "KMS")]
    Kms,
}

/// `encryptionConfiguration`: `encryptionType` (required) and, with KMS only,
/// `kmsKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptionConfiguration {
    /// AES256 or KMS.
    pub encryption_type: EncryptionType,
    /// The KMS key (only with KMS; ECR's default key when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// Whether tags of repositories created from a template may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImageTagMutability {
    /// Tags may move (the default).
    Mutable,
    /// No tag may move.
    Immutable,
    /// No tag may move, except those an exclusion filter matches.
    ImmutableWithExclusion,
    /// Tags may move, except those an exclusion filter matches.
    MutableWithExclusion,
}

impl ImageTagMutability {
    /// Whether this setting takes exclusion filters.
    #[must_use]
    pub fn has_exclusions(self) -> bool {
        matches!(
            self,
            Self::ImmutableWithExclusion | Self::MutableWithExclusion
        )
    }

    /// The document's name: `IMMUTABLE_WITH_EXCLUSION`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mutable => "MUTABLE",
            Self::Immutable => "IMMUTABLE",
            Self::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
            Self::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
        }
    }
}

impl fmt::Display for ImageTagMutability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of an exclusion filter: only wildcards exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterType {
    /// `*` matches any run of characters (none included); every other
    /// character matches itself.
    Wildcard,
}

/// One `imageTagMutabilityExclusionFilters` entry: the tags it matches get
/// the opposite of the template's rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExclusionFilter {
    /// Always WILDCARD.
    pub filter_type: FilterType,
    /// `^[0-9a-zA-Z._*-]{1,128}$`.
    pub filter: String,
}

impl ExclusionFilter {
    /// A WILDCARD filter.
    #[must_use]
    pub fn wildcard(filter: &str) -> Self {
        Self {
            filter_type: FilterType::Wildcard,
            filter: filter.to_owned(),
        }
    }
}

/// A resource tag: `{"Key", "Value"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceTag {
    /// 1 to 128 characters, unique within a template.
    #[serde(rename = "Key")]
    pub key: String,
    /// At most 256 characters; empty when omitted.
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// The request body of create and update, exactly the document's: every
/// member but `prefix` optional, unknown members refused. On update an
/// omitted member keeps the stored value, except `imageTagMutability`, whose
/// omission means MUTABLE (as the document says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateBody {
    /// The repository namespace prefix (`prod`, `eng/test`), or `ROOT`.
    pub prefix: String,
    /// The creation scenarios it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_for: Option<Vec<AppliedFor>>,
    /// The role ECR assumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role_arn: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The encryption of created repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
    /// The tag mutability of created repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag_mutability: Option<ImageTagMutability>,
    /// With `*_WITH_EXCLUSION`: 1 to 5 filters whose tags get the opposite rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag_mutability_exclusion_filters: Option<Vec<ExclusionFilter>>,
    /// An ECR lifecycle policy (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_policy: Option<String>,
    /// A repository permissions policy (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_policy: Option<String>,
    /// Tags for created repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tags: Option<Vec<ResourceTag>>,
}

/// A stored template, as the document's response shows it (members in the
/// document's order). `createdAt` and `updatedAt` are epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepositoryCreationTemplate {
    /// The creation scenarios it applies to.
    #[serde(default)]
    pub applied_for: Vec<AppliedFor>,
    /// When it was created (whole seconds).
    #[serde(with = "epoch_seconds")]
    pub created_at: Timestamp,
    /// The role ECR assumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role_arn: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The encryption of created repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
    /// The tag mutability of created repositories.
    pub image_tag_mutability: ImageTagMutability,
    /// The exclusion filters of a `*_WITH_EXCLUSION` mutability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag_mutability_exclusion_filters: Option<Vec<ExclusionFilter>>,
    /// An ECR lifecycle policy (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_policy: Option<String>,
    /// The prefix as written when the template was created.
    pub prefix: String,
    /// A repository permissions policy (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_policy: Option<String>,
    /// Tags for created repositories.
    #[serde(default)]
    pub resource_tags: Vec<ResourceTag>,
    /// When it last changed (whole seconds).
    #[serde(with = "epoch_seconds")]
    pub updated_at: Timestamp,
}

/// The document's response: `{"registryId", "repositoryCreationTemplate"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateResponse {
    /// The registry: its 12-digit account for an ECR domain, else the domain.
    pub registry_id: String,
    /// The template.
    pub repository_creation_template: RepositoryCreationTemplate,
}

/// A page of a registry's templates, in prefix order, in the shape of ECR's
/// `DescribeRepositoryCreationTemplates` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateList {
    /// The registry, as in [`TemplateResponse`].
    pub registry_id: String,
    /// The templates.
    pub repository_creation_templates: Vec<RepositoryCreationTemplate>,
    /// Pass back as the cursor for the next page; `null` at the end.
    pub next_token: Option<String>,
}

/// Epoch seconds on output; on input a number (whole or fractional) or an
/// RFC 3339 string, the two forms the document shows.
mod epoch_seconds {
    use super::{Deserializer, Serializer, Timestamp};

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.timestamp())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("epoch seconds or an RFC 3339 time")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                chrono::DateTime::from_timestamp(v, 0)
                    .ok_or_else(|| E::custom(format!("{v} seconds is out of range")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom(format!("{v} seconds is out of range")))
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Timestamp, E> {
                // Whole microseconds, as the ledger stores instants; a value
                // past ±2^53 µs (year ±285) is refused rather than rounded.
                let us = (v * 1e6).round();
                if !us.is_finite() || us.abs() > 9_007_199_254_740_992.0 {
                    return Err(E::custom(format!("{v} seconds is out of range")));
                }
                #[allow(clippy::cast_possible_truncation)] // checked above
                chrono::DateTime::from_timestamp_micros(us as i64)
                    .ok_or_else(|| E::custom(format!("{v} seconds is out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|t| t.to_utc())
                    .map_err(|e| E::custom(format!("not an RFC 3339 time: {e}")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl TemplateBody {
    /// Reads a body from JSON text, refusing anything but one JSON object of
    /// the document's members: a [`TemplateErrorKind::Validation`] error
    /// that says where.
    ///
    /// # Errors
    /// The JSON is malformed, not an object, has an unknown member, a member
    /// of the wrong type or a value outside the document's valid values.
    pub fn from_json(text: &str) -> Result<Self, TemplateError> {
        // serde reads a struct from a JSON array too (members by position).
        if !text.trim_start().starts_with('{') {
            return Err(TemplateError::validation(
                "body",
                "a template body is a JSON object",
                text.trim(),
            ));
        }
        serde_json::from_str(text).map_err(|e| {
            TemplateError::new(
                TemplateErrorKind::Validation,
                format!("body (line {}, column {})", e.line(), e.column()),
                e.to_string(),
                None,
            )
        })
    }

    /// Checks every member against the document's limits, as far as the
    /// body alone can say (whether exclusion filters fit the mutability is
    /// checked on the template the body makes, since an update may keep the
    /// stored filters).
    ///
    /// # Errors
    /// The first member that breaks a limit, with the limit in the message.
    pub fn check(&self) -> Result<(), TemplateError> {
        check_prefix(&self.prefix)?;
        if let Some(list) = &self.applied_for {
            for (i, a) in list.iter().enumerate() {
                if list[..i].contains(a) {
                    let name = serde_json::to_string(a).unwrap_or_default();
                    return Err(TemplateError::parameter(
                        format!("body.appliedFor[{i}]"),
                        format!("{name} is listed twice"),
                        name.trim_matches('"'),
                    ));
                }
            }
        }
        if let Some(arn) = &self.custom_role_arn {
            max_chars("body.customRoleArn", arn, limits::CUSTOM_ROLE_ARN)?;
        }
        if let Some(d) = &self.description {
            max_chars("body.description", d, limits::DESCRIPTION)?;
        }
        if let Some(e) = &self.encryption_configuration {
            check_encryption(e)?;
        }
        if let Some(filters) = &self.image_tag_mutability_exclusion_filters {
            check_filters(filters)?;
        }
        if let Some(p) = &self.lifecycle_policy {
            max_chars("body.lifecyclePolicy", p, limits::LIFECYCLE_POLICY)?;
            if !p.is_empty() {
                super::lifecycle::check_lifecycle_policy(p)?;
            }
        }
        if let Some(p) = &self.repository_policy {
            max_chars("body.repositoryPolicy", p, limits::REPOSITORY_POLICY)?;
            if !p.is_empty() {
                check_repository_policy(p)?;
            }
        }
        if let Some(tags) = &self.resource_tags {
            check_resource_tags(tags)?;
        }
        Ok(())
    }
}

impl RepositoryCreationTemplate {
    /// The template a create request makes, at `now` (cut to whole seconds).
    ///
    /// # Errors
    /// As [`TemplateBody::check`], and [`TemplateErrorKind::InvalidParameter`]
    /// when the exclusion filters do not fit the mutability.
    pub fn create(body: &TemplateBody, now: Timestamp) -> Result<Self, TemplateError> {
        body.check()?;
        let now = whole_seconds(now);
        let template = Self {
            applied_for: body.applied_for.clone().unwrap_or_default(),
            created_at: now,
            custom_role_arn: body.custom_role_arn.clone(),
            description: body.description.clone(),
            encryption_configuration: body.encryption_configuration.clone(),
            image_tag_mutability: body
                .image_tag_mutability
                .unwrap_or(ImageTagMutability::Mutable),
            image_tag_mutability_exclusion_filters: body
                .image_tag_mutability_exclusion_filters
                .clone(),
            lifecycle_policy: body.lifecycle_policy.clone(),
            prefix: body.prefix.clone(),
            repository_policy: body.repository_policy.clone(),
            resource_tags: body.resource_tags.clone().unwrap_or_default(),
            updated_at: now,
        };
        template.check_exclusions()?;
        Ok(template)
    }

    /// This template after an update request at `now`: members the body
    /// leaves out keep their values, except `imageTagMutability` (omitted
    /// means MUTABLE). Exclusion filters left out are kept while the new
    /// mutability takes filters, and dropped when it takes none.
    ///
    /// # Errors
    /// As [`RepositoryCreationTemplate::create`].
    pub fn update(&self, body: &TemplateBody, now: Timestamp) -> Result<Self, TemplateError> {
        body.check()?;
        let mutability = body
            .image_tag_mutability
            .unwrap_or(ImageTagMutability::Mutable);
        let filters = match &body.image_tag_mutability_exclusion_filters {
            Some(f) => Some(f.clone()),
            None if mutability.has_exclusions() => {
                self.image_tag_mutability_exclusion_filters.clone()
            }
            None => None,
        };
        let keep = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
        let template = Self {
            applied_for: body
                .applied_for
                .clone()
                .unwrap_or_else(|| self.applied_for.clone()),
            created_at: self.created_at,
            custom_role_arn: keep(&body.custom_role_arn, &self.custom_role_arn),
            description: keep(&body.description, &self.description),
            encryption_configuration: body
                .encryption_configuration
                .clone()
                .or_else(|| self.encryption_configuration.clone()),
            image_tag_mutability: mutability,
            image_tag_mutability_exclusion_filters: filters,
            lifecycle_policy: keep(&body.lifecycle_policy, &self.lifecycle_policy),
            prefix: self.prefix.clone(),
            repository_policy: keep(&body.repository_policy, &self.repository_policy),
            resource_tags: body
                .resource_tags
                .clone()
                .unwrap_or_else(|| self.resource_tags.clone()),
            updated_at: whole_seconds(now).max(self.created_at),
        };
        template.check_exclusions()?;
        Ok(template)
    }

    /// Exclusion filters go with a `*_WITH_EXCLUSION` mutability, and only there.
    fn check_exclusions(&self) -> Result<(), TemplateError> {
        let location = "body.imageTagMutabilityExclusionFilters";
        let m = self.image_tag_mutability;
        match (
            &self.image_tag_mutability_exclusion_filters,
            m.has_exclusions(),
        ) {
            (None, true) => Err(TemplateError::parameter(
                location,
                format!(
                    "imageTagMutability {m} needs 1 to {} exclusion filters",
                    limits::EXCLUSION_FILTERS
                ),
                m.as_str(),
            )),
            (Some(_), false) => Err(TemplateError::parameter(
                location,
                format!(
                    "exclusion filters go only with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not {m}"
                ),
                m.as_str(),
            )),
            _ => Ok(()),
        }
    }

    /// The setting a repository created from this template gets.
    #[must_use]
    pub fn setting(&self) -> MutabilitySetting {
        MutabilitySetting {
            template: Some(self.prefix.clone()),
            image_tag_mutability: self.image_tag_mutability,
            exclusion_filters: self
                .image_tag_mutability_exclusion_filters
                .iter()
                .flatten()
                .map(|f| f.filter.clone())
                .collect(),
            since: None,
        }
    }
}

fn whole_seconds(t: Timestamp) -> Timestamp {
    chrono::DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn max_chars(location: &str, value: &str, limit: usize) -> Result<(), TemplateError> {
    let n = value.chars().count();
    if n > limit {
        return Err(TemplateError::validation(
            location,
            format!("is {n} characters long; the limit is {limit}"),
            value,
        ));
    }
    Ok(())
}

fn chars_between(location: &str, value: &str, min: usize, max: usize) -> Result<(), TemplateError> {
    if value.chars().count() < min {
        return Err(TemplateError::validation(
            location,
            format!("is empty; it takes {min} to {max} characters"),
            value,
        ));
    }
    max_chars(location, value, max)
}

/// The document's prefix rule: 1 to 256 characters, and either `ROOT` or
/// `^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*/?$`.
///
/// # Errors
/// [`TemplateErrorKind::Validation`] naming `body.prefix`.
pub fn check_prefix(prefix: &str) -> Result<(), TemplateError> {
    chars_between("body.prefix", prefix, 1, limits::PREFIX)?;
    if prefix == ROOT {
        return Ok(());
    }
    let path = prefix.strip_suffix('/').unwrap_or(prefix);
    for component in path.split('/') {
        if let Err(why) = check_component(component) {
            return Err(TemplateError::validation(
                "body.prefix",
                format!(
                    "{why}: a prefix is ROOT or lowercase path components ([a-z0-9]+ joined by single . _ or -) separated by /, with an optional / at the end"
                ),
                prefix,
            ));
        }
    }
    Ok(())
}

fn check_component(c: &str) -> Result<(), String> {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return Err("an empty path component".to_owned());
    };
    if !alnum(first) || !alnum(last) {
        return Err(format!(
            "path component {c:?} must start and end with a lowercase letter or digit"
        ));
    }
    for (i, &b) in bytes.iter().enumerate() {
        let sep = matches!(b, b'.' | b'_' | b'-');
        if !alnum(b) && !sep {
            return Err(format!(
                "path component {c:?} has {:?}",
                c.get(i..).and_then(|s| s.chars().next()).unwrap_or('?')
            ));
        }
        if sep && bytes.get(i + 1).is_some_and(|n| !alnum(*n)) {
            return Err(format!("path component {c:?} has two separators in a row"));
        }
    }
    Ok(())
}

fn check_encryption(e: &EncryptionConfiguration) -> Result<(), TemplateError> {
    let location = "body.encryptionConfiguration.kmsKey";
    match (&e.kms_key, e.encryption_type) {
        (Some(key), EncryptionType::Aes256) => Err(TemplateError::parameter(
            location,
            "kmsKey goes only with encryptionType KMS, not AES256",
            key,
        )),
        (Some(key), EncryptionType::Kms) => chars_between(location, key, 1, limits::KMS_KEY),
        (None, _) => Ok(()),
    }
}

fn check_filters(filters: &[ExclusionFilter]) -> Result<(), TemplateError> {
    let location = "body.imageTagMutabilityExclusionFilters";
    if filters.is_empty() || filters.len() > limits::EXCLUSION_FILTERS {
        return Err(TemplateError::validation(
            location,
            format!(
                "has {} filters; it takes 1 to {}",
                filters.len(),
                limits::EXCLUSION_FILTERS
            ),
            &filters.len().to_string(),
        ));
    }
    for (i, f) in filters.iter().enumerate() {
        let location = format!("{location}[{i}].filter");
        chars_between(&location, &f.filter, 1, limits::FILTER)?;
        if let Some(bad) = f
            .filter
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '*' | '-')))
        {
            return Err(TemplateError::validation(
                location,
                format!(
                    "has {bad:?}; a filter is 1 to {} of [0-9a-zA-Z._*-]",
                    limits::FILTER
                ),
                &f.filter,
            ));
        }
    }
    Ok(())
}

fn check_repository_policy(text: &str) -> Result<(), TemplateError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(TemplateError::parameter(
            "body.repositoryPolicy",
            "a repository policy is a JSON object",
            text,
        )),
        Err(e) => Err(TemplateError::parameter(
            "body.repositoryPolicy",
            format!("not valid JSON: {e}"),
            text,
        )),
    }
}

fn check_resource_tags(tags: &[ResourceTag]) -> Result<(), TemplateError> {
    for (i, t) in tags.iter().enumerate() {
        chars_between(
            &format!("body.resourceTags[{i}].Key"),
            &t.key,
            1,
            limits::TAG_KEY,
        )?;
        max_chars(
            &format!("body.resourceTags[{i}].Value"),
            &t.value,
            limits::TAG_VALUE,
        )?;
        if tags[..i].iter().any(|o| o.key == t.key) {
            return Err(TemplateError::parameter(
                format!("body.resourceTags[{i}].Key"),
                "tag keys must be unique: this key is given twice",
                &t.key,
            ));
        }
    }
    Ok(())
}

/// The key a template is stored and found under: its prefix without a
/// trailing `/` (`prod/` and `prod` are one template), or `ROOT`.
#[must_use]
pub fn template_key(prefix: &str) -> &str {
    if prefix == ROOT {
        return prefix;
    }
    prefix.strip_suffix('/').unwrap_or(prefix)
}

/// Whether a template prefix (as [`template_key`] gives it, not `ROOT`)
/// matches a repository path: the prefix ends with an implied `/` and
/// matches whole path components, so `prod` matches `prod/team1`, and
/// neither `production` nor `prod` itself.
#[must_use]
pub fn prefix_matches(key: &str, path: &str) -> bool {
    key != ROOT
        && path
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// The template for a repository path among a registry's template keys: the
/// longest matching prefix, else `ROOT` if it is there, else none.
///
/// ```
/// use ociledger::model::choose_template;
///
/// let keys = ["prod", "prod/team1", "ROOT"];
/// assert_eq!(choose_template(keys, "prod/team1/api"), Some("prod/team1"));
/// assert_eq!(choose_template(keys, "prod/team2"), Some("prod"));
/// assert_eq!(choose_template(keys, "production/x"), Some("ROOT"));
/// assert_eq!(choose_template(["prod"], "prod"), None);
/// ```
pub fn choose_template<'a>(keys: impl IntoIterator<Item = &'a str>, path: &str) -> Option<&'a str> {
    let mut root = None;
    let mut best: Option<&'a str> = None;
    for key in keys {
        if key == ROOT {
            root = Some(key);
        } else if prefix_matches(key, path) && best.is_none_or(|b| key.len() > b.len()) {
            best = Some(key);
        }
    }
    best.or(root)
}

/// The keys that could match `path`, longest first, `ROOT` last: its
/// ancestors (`a/b/c` → `a/b`, `a`). A store finds the template with one
/// point lookup per key instead of reading every template.
#[must_use]
pub fn candidate_keys(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = path.rmatch_indices('/').map(|(i, _)| &path[..i]).collect();
    out.push(ROOT);
    out
}

/// A registry given as `--registry` / the library's `registry` argument,
/// normalized (`index.docker.io` → `docker.io`).
///
/// # Errors
/// [`TemplateErrorKind::InvalidParameter`] at `registry` for anything but a
/// registry domain (with an optional port).
pub fn registry_domain(registry: &str) -> Result<String, TemplateError> {
    let bad = |why: &str| {
        TemplateError::parameter(
            "registry",
            format!(
                "not a registry domain ({why}): docker.io, ghcr.io, 123456789012.dkr.ecr.us-west-2.amazonaws.com"
            ),
            registry,
        )
    };
    if registry.is_empty() || registry.contains(['/', '@']) {
        return Err(bad("a domain has no / or @"));
    }
    // Parsed as the domain of a repository: a string the grammar would read
    // as a path component (`nginx`) comes out under docker.io instead.
    let id: RepositoryId = format!("{registry}/x")
        .parse()
        .map_err(|e: crate::id::IdError| bad(&e.to_string()))?;
    if id.path() == "x" || (id.path() == "library/x" && registry.contains(['.', ':'])) {
        Ok(id.domain().to_owned())
    } else {
        Err(bad(
            "it reads as a repository name; a domain has a . or a port, or is localhost",
        ))
    }
}

/// `registryId` in responses: the 12-digit account of an ECR domain
/// (`123456789012.dkr.ecr.us-west-2.amazonaws.com`), else the domain itself.
#[must_use]
pub fn registry_id(domain: &str) -> String {
    let account = domain.split('.').next().unwrap_or_default();
    let rest = &domain[account.len()..];
    let ecr = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (rest.starts_with(".dkr.ecr.") || rest.starts_with(".dkr.ecr-fips."))
        && (rest.ends_with(".amazonaws.com") || rest.ends_with(".amazonaws.com.cn"));
    if ecr {
        account.to_owned()
    } else {
        domain.to_owned()
    }
}

/// Whether a WILDCARD filter matches a tag: `*` matches any run of
/// characters (none included), every other character itself (case matters).
///
/// ```
/// use ociledger::model::wildcard_matches;
///
/// assert!(wildcard_matches("release-*", "release-1.2"));
/// assert!(wildcard_matches("*-rc*", "v1-rc2"));
/// assert!(!wildcard_matches("release-*", "Release-1"));
/// ```
#[must_use]
pub fn wildcard_matches(filter: &str, tag: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (filter.chars().collect(), tag.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the tag position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let that `*` take one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The tag-mutability setting a repository got from a template, in force
/// from `since` (`null`: since the repository was created, its whole
/// observed history included) until the next setting of its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutabilitySetting {
    /// The template's prefix (as written) or `ROOT`; `null` when no
    /// template matched, which means MUTABLE.
    pub template: Option<String>,
    /// The template's `imageTagMutability`.
    pub image_tag_mutability: ImageTagMutability,
    /// Its WILDCARD exclusion filters (empty without exclusions).
    pub exclusion_filters: Vec<String>,
    /// When `template apply` set it; `null` for the setting the repository
    /// was created with.
    pub since: Option<Timestamp>,
}

impl MutabilitySetting {
    /// A repository no template matched: every tag mutable.
    #[must_use]
    pub fn none() -> Self {
        Self {
            template: None,
            image_tag_mutability: ImageTagMutability::Mutable,
            exclusion_filters: Vec::new(),
            since: None,
        }
    }

    /// Whether two settings make the same rule (whenever they start).
    #[must_use]
    pub fn same_rule(&self, other: &Self) -> bool {
        (
            &self.template,
            self.image_tag_mutability,
            &self.exclusion_filters,
        ) == (
            &other.template,
            other.image_tag_mutability,
            &other.exclusion_filters,
        )
    }

    /// Whether some tag could be immutable under this setting.
    #[must_use]
    pub fn restricts(&self) -> bool {
        self.image_tag_mutability != ImageTagMutability::Mutable
    }

    /// Whether `tag` may move under this setting, and why.
    ///
    /// ```
    /// use ociledger::model::{ImageTagMutability, MutabilitySetting};
    ///
    /// let s = MutabilitySetting {
    ///     template: Some("prod".into()),
    ///     image_tag_mutability: ImageTagMutability::ImmutableWithExclusion,
    ///     exclusion_filters: vec!["latest".into(), "dev-*".into()],
    ///     since: None,
    /// };
    /// assert!(!s.for_tag("1.2.3").mutable);
    /// assert!(s.for_tag("dev-42").mutable);
    /// assert_eq!(s.for_tag("dev-42").filter.as_deref(), Some("dev-*"));
    /// ```
    #[must_use]
    pub fn for_tag(&self, tag: &str) -> TagMutability {
        let filter = if self.image_tag_mutability.has_exclusions() {
            self.exclusion_filters
                .iter()
                .find(|f| wildcard_matches(f, tag))
                .cloned()
        } else {
            None
        };
        let mutable = match self.image_tag_mutability {
            ImageTagMutability::Mutable => true,
            ImageTagMutability::Immutable => false,
            ImageTagMutability::ImmutableWithExclusion => filter.is_some(),
            ImageTagMutability::MutableWithExclusion => filter.is_none(),
        };
        TagMutability {
            mutable,
            image_tag_mutability: self.image_tag_mutability,
            template: self.template.clone(),
            filter,
        }
    }
}

/// Whether one tag may move, and the rule that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagMutability {
    /// Whether the tag may move.
    pub mutable: bool,
    /// The repository's setting.
    pub image_tag_mutability: ImageTagMutability,
    /// The template it came from (`ROOT` included); `null` for none.
    pub template: Option<String>,
    /// The exclusion filter that matched the tag, if one did.
    pub filter: Option<String>,
}

impl fmt::Display for TagMutability {
    /// `IMMUTABLE (template prod)`, `MUTABLE_WITH_EXCLUSION (template ROOT,
    /// exclusion filter release-* matches)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.image_tag_mutability)?;
        match &self.template {
            Some(t) => write!(f, " (template {t}")?,
            None => write!(f, " (no template")?,
        }
        match &self.filter {
            Some(x) => write!(f, ", exclusion filter {x} matches)"),
            None if self.image_tag_mutability.has_exclusions() => {
                write!(f, ", no exclusion filter matches)")
            }
            None => write!(f, ")"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the wildcard matcher against greedy mistakes (a `*` that eats
    /// what a later literal needs) and against matching a prefix only.
    #[test]
    fn wildcards_backtrack_and_match_the_whole_tag() {
        assert!(wildcard_matches("*", ""));
        assert!(wildcard_matches("a*b*c", "aXbYbZc"));
        assert!(wildcard_matches("**", "x"));
        assert!(!wildcard_matches("a*b", "aXbY"));
        assert!(!wildcard_matches("abc", "ab"));
        assert!(!wildcard_matches("", "a"));
    }

    /// Guards the registryId rule: only an ECR host gives its account.
    #[test]
    fn registry_id_is_the_account_of_an_ecr_domain_only() {
        assert_eq!(
            registry_id("123456789012.dkr.ecr.us-west-2.amazonaws.com"),
            "123456789012"
        );
        assert_eq!(
            registry_id("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com"),
            "123456789012"
        );
        assert_eq!(registry_id("docker.io"), "docker.io");
        assert_eq!(
            registry_id("12345678901.dkr.ecr.us-west-2.amazonaws.com"),
            "12345678901.dkr.ecr.us-west-2.amazonaws.com"
        );
    }

    /// Guards `--registry` against a repository name slipping in as a domain.
    #[test]
    fn registry_domains_are_domains() {
        assert_eq!(registry_domain("docker.io").unwrap(), "docker.io");
        assert_eq!(registry_domain("index.docker.io").unwrap(), "docker.io");
        assert_eq!(registry_domain("localhost:5000").unwrap(), "localhost:5000");
        assert_eq!(registry_domain("localhost").unwrap(), "localhost");
        for bad in ["", "nginx", "a/b", "ghcr.io/acme", "x@y", "bad domain.io"] {
            assert!(registry_domain(bad).is_err(), "{bad}");
        }
    }
}
