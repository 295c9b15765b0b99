//! Records: plain serde types whose JSON is exactly the Chkk documents'
//! schemas, plus the history types the ledger answers with.
//!
//! Nothing here touches storage. Timestamps are UTC ([`Timestamp`]) and
//! serialize as RFC 3339 (`2016-09-15T19:42:12Z`); input with an offset
//! (`2021-01-27T19:44:34-06:00`) is converted to UTC.

mod clock;
mod history;
pub mod integration;
mod lifecycle;
mod observation;
pub mod pods;
mod records;
mod relation;
mod template;
mod violation;

pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use history::{Interval, TagMatch, TagMatchRef, coalesce};
pub(crate) use history::{resume_point, runs_from};
pub use integration::{ImageIntegration, UpdateImageIntegrationRequest};
pub use lifecycle::{MAX_PATTERN_WILDCARDS, check_lifecycle_policy};
pub use observation::Observation;
pub use records::{Reference, Repository, RepositoryBody, Tag, TagBody};
pub use relation::{
    ConfigRelation, IndexRelation, ManifestRelation, Platform, PlatformManifest, Via,
};
pub use template::{
    AppliedFor, EncryptionConfiguration, EncryptionType, ExclusionFilter, FilterType,
    ImageTagMutability, MutabilitySetting, ROOT, RepositoryCreationTemplate, ResourceTag,
    TagMutability, TemplateBody, TemplateError, TemplateErrorKind, TemplateList, TemplateResponse,
    candidate_keys, check_prefix, choose_template, limits, prefix_matches, registry_domain,
    registry_id, template_key, wildcard_matches,
};
pub use violation::{TagMove, Violation, tag_moves};
pub(crate) use violation::{changes_since, setting_at, violations_in};
