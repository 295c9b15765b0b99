//! The stored rows of the three tables, the enum codes they hold (the file
//! format: never renumbered), and their conversion to and from records.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::Digest;
use crate::model::{
    AppliedFor, EncryptionConfiguration, EncryptionType, ExclusionFilter, ImageTagMutability,
    MutabilitySetting, RepositoryCreationTemplate, ResourceTag, TagMutability,
};
use crate::store::rows::{self, from_micros, micros};

/// A stored template: every member present (postcard is not
/// self-describing), enums as their codes below.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TemplateRow {
    prefix: String,
    applied_for: Vec<u8>,
    custom_role_arn: Option<String>,
    description: Option<String>,
    /// Encryption type code and KMS key.
    encryption: Option<(u8, Option<String>)>,
    mutability: u8,
    filters: Option<Vec<String>>,
    lifecycle_policy: Option<String>,
    repository_policy: Option<String>,
    /// (Key, Value) pairs.
    resource_tags: Vec<(String, String)>,
    created_at: i64,
    updated_at: i64,
}

/// A repository's setting from one instant on (`since`, microseconds;
/// `None` for the one it was created with).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SettingRow {
    since: Option<i64>,
    template: Option<String>,
    mutability: u8,
    filters: Vec<String>,
}

/// A violation: the move and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ViolationRow {
    pub(super) from: Vec<u8>,
    pub(super) to: Vec<u8>,
    pub(super) template: Option<String>,
    pub(super) mutability: u8,
    pub(super) filter: Option<String>,
}

// Stored codes. Never renumber: they are the file format.
fn mutability_code(m: ImageTagMutability) -> u8 {
    match m {
        ImageTagMutability::Mutable => 0,
        ImageTagMutability::Immutable => 1,
        ImageTagMutability::ImmutableWithExclusion => 2,
        ImageTagMutability::MutableWithExclusion => 3,
    }
}

pub(super) fn mutability_of(code: u8, place: &dyn std::fmt::Display) -> Result<ImageTagMutability> {
    Ok(match code {
        0 => ImageTagMutability::Mutable,
        1 => ImageTagMutability::Immutable,
        2 => ImageTagMutability::ImmutableWithExclusion,
        3 => ImageTagMutability::MutableWithExclusion,
        _ => {
            return Err(corrupt(
                place,
                &format!("unknown tag mutability code {code}"),
            ));
        }
    })
}

fn applied_code(a: AppliedFor) -> u8 {
    match a {
        AppliedFor::Replication => 0,
        AppliedFor::PullThroughCache => 1,
        AppliedFor::CreateOnPush => 2,
    }
}

fn applied_of(code: u8, place: &dyn std::fmt::Display) -> Result<AppliedFor> {
    Ok(match code {
        0 => AppliedFor::Replication,
        1 => AppliedFor::PullThroughCache,
        2 => AppliedFor::CreateOnPush,
        _ => return Err(corrupt(place, &format!("unknown appliedFor code {code}"))),
    })
}

fn encryption_code(e: EncryptionType) -> u8 {
    match e {
        EncryptionType::Aes256 => 0,
        EncryptionType::Kms => 1,
    }
}

fn encryption_of(code: u8, place: &dyn std::fmt::Display) -> Result<EncryptionType> {
    Ok(match code {
        0 => EncryptionType::Aes256,
        1 => EncryptionType::Kms,
        _ => {
            return Err(corrupt(
                place,
                &format!("unknown encryption type code {code}"),
            ));
        }
    })
}

pub(super) fn corrupt(place: &dyn std::fmt::Display, what: &str) -> Error {
    Error::Corrupt(format!("{place}: {what}"))
}

impl TemplateRow {
    pub(super) fn from_record(t: &RepositoryCreationTemplate) -> Self {
        Self {
            prefix: t.prefix.clone(),
            applied_for: t.applied_for.iter().copied().map(applied_code).collect(),
            custom_role_arn: t.custom_role_arn.clone(),
            description: t.description.clone(),
            encryption: t
                .encryption_configuration
                .as_ref()
                .map(|e| (encryption_code(e.encryption_type), e.kms_key.clone())),
            mutability: mutability_code(t.image_tag_mutability),
            filters: t
                .image_tag_mutability_exclusion_filters
                .as_ref()
                .map(|f| f.iter().map(|f| f.filter.clone()).collect()),
            lifecycle_policy: t.lifecycle_policy.clone(),
            repository_policy: t.repository_policy.clone(),
            resource_tags: t
                .resource_tags
                .iter()
                .map(|r| (r.key.clone(), r.value.clone()))
                .collect(),
            created_at: micros(t.created_at),
            updated_at: micros(t.updated_at),
        }
    }

    pub(super) fn to_record(
        &self,
        place: &dyn std::fmt::Display,
    ) -> Result<RepositoryCreationTemplate> {
        let time = |us| from_micros(us).map_err(rows::at(place));
        Ok(RepositoryCreationTemplate {
            applied_for: self
                .applied_for
                .iter()
                .map(|&c| applied_of(c, place))
                .collect::<Result<_>>()?,
            created_at: time(self.created_at)?,
            custom_role_arn: self.custom_role_arn.clone(),
            description: self.description.clone(),
            encryption_configuration: self
                .encryption
                .as_ref()
                .map(|(code, key)| {
                    Ok::<_, Error>(EncryptionConfiguration {
                        encryption_type: encryption_of(*code, place)?,
                        kms_key: key.clone(),
                    })
                })
                .transpose()?,
            image_tag_mutability: mutability_of(self.mutability, place)?,
            image_tag_mutability_exclusion_filters: self
                .filters
                .as_ref()
                .map(|f| f.iter().map(|f| ExclusionFilter::wildcard(f)).collect()),
            lifecycle_policy: self.lifecycle_policy.clone(),
            prefix: self.prefix.clone(),
            repository_policy: self.repository_policy.clone(),
            resource_tags: self
                .resource_tags
                .iter()
                .map(|(k, v)| ResourceTag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            updated_at: time(self.updated_at)?,
        })
    }
}

impl SettingRow {
    pub(super) fn from_setting(s: &MutabilitySetting) -> Self {
        Self {
            since: s.since.map(micros),
            template: s.template.clone(),
            mutability: mutability_code(s.image_tag_mutability),
            filters: s.exclusion_filters.clone(),
        }
    }

    pub(super) fn to_setting(&self, place: &dyn std::fmt::Display) -> Result<MutabilitySetting> {
        Ok(MutabilitySetting {
            template: self.template.clone(),
            image_tag_mutability: mutability_of(self.mutability, place)?,
            exclusion_filters: self.filters.clone(),
            since: self
                .since
                .map(from_micros)
                .transpose()
                .map_err(rows::at(place))?,
        })
    }
}

impl ViolationRow {
    pub(super) fn new(from: &Digest, to: &Digest, rule: &TagMutability) -> Self {
        Self {
            from: from.to_compact(),
            to: to.to_compact(),
            template: rule.template.clone(),
            mutability: mutability_code(rule.image_tag_mutability),
            filter: rule.filter.clone(),
        }
    }
}
