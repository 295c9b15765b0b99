//! The template a create or update request makes: the document's update
//! rules (omitted members keep their values, except `imageTagMutability`).

use super::error::TemplateError;
use super::records::{ImageTagMutability, RepositoryCreationTemplate, TemplateBody};
use crate::model::Timestamp;

impl RepositoryCreationTemplate {
    /// The template a create request makes, at `now` (cut to whole seconds).
    ///
    /// # Errors
    /// As [`TemplateBody::check`], and [`TemplateErrorKind::InvalidParameter`](super::TemplateErrorKind::InvalidParameter)
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
}

fn whole_seconds(t: Timestamp) -> Timestamp {
    chrono::DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}
