//! The refusals of the template API: [`TemplateError`], with the document's
//! error kinds ([`TemplateErrorKind`]).

use std::fmt;

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

    pub(super) fn validation(
        location: impl Into<String>,
        message: impl Into<String>,
        value: &str,
    ) -> Self {
        Self::new(
            TemplateErrorKind::Validation,
            location,
            message,
            Some(value),
        )
    }

    pub(super) fn parameter(
        location: impl Into<String>,
        message: impl Into<String>,
        value: &str,
    ) -> Self {
        Self::new(
            TemplateErrorKind::InvalidParameter,
            location,
            message,
            Some(value),
        )
    }
}
