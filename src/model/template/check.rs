//! Validation: reading a request body, and checking it (and the template
//! it makes) against every limit and rule the document sets.

use super::error::{TemplateError, TemplateErrorKind};
use super::records::{
    EncryptionConfiguration, EncryptionType, ExclusionFilter, RepositoryCreationTemplate,
    ResourceTag, TemplateBody,
};
use super::{ROOT, limits};

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
                crate::model::lifecycle::check_lifecycle_policy(p)?;
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
    /// Exclusion filters go with a `*_WITH_EXCLUSION` mutability, and only there.
    pub(super) fn check_exclusions(&self) -> Result<(), TemplateError> {
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
