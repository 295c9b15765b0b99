//! The document's records and their JSON: the request body, the stored
//! template, the responses, and the enums and members they are made of
//! (`createdAt` / `updatedAt` as epoch seconds).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Timestamp;

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
