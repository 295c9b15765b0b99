//! Repository creation templates (the Amazon ECR document), the setting each
//! repository got from one, and the violations: moves of tags a setting
//! made immutable.
//!
//! - `templates`: (registry domain, template key) → [`TemplateRow`](codec::TemplateRow). The key
//!   is the prefix without a trailing `/`, or `ROOT` (which no prefix can be:
//!   prefixes are lowercase), so a registry's templates are one key range and
//!   the template of a new repository is found with one point get per
//!   ancestor of its path, longest first (`model::candidate_keys`).
//! - `repository_settings`: repository number → the list of
//!   [`SettingRow`](codec::SettingRow)s, oldest first: the setting the repository was created
//!   with (no `since`), then one per `template apply` that changed it. A
//!   repository no template matched has no row (every tag mutable).
//! - `violations`: (observed instant, canonical tag ID) → [`ViolationRow`](codec::ViolationRow).
//!   A tag has at most one move per instant, so the key is unique; the tag's
//!   ID rather than its number (which depends on the order tags were first
//!   seen) makes the listing's order, like its content, independent of the
//!   order observations arrived in. The rows are a
//!   function of each tag's move log and its repository's settings
//!   (`model::violations_in`), kept equal to it by every write: `apply`
//!   recomputes a tag's violations from its log before and after and writes
//!   the difference, as it does for the digest index. That is what makes
//!   every ingest order give the same violations.

mod codec;
mod lookup;
mod reader;
mod writer;

use redb::TableDefinition;

pub(super) use lookup::repos_in_domain;
pub(crate) use reader::TemplateReader;
pub(crate) use writer::TemplateWriter;

/// (registry domain, template key) → `TemplateRow`.
pub(crate) const TEMPLATES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("templates");
/// repository number → `Vec<SettingRow>`, oldest first.
pub(crate) const REPO_SETTINGS: TableDefinition<u32, &[u8]> =
    TableDefinition::new("repository_settings");
/// (observed instant, canonical tag ID) → `ViolationRow`.
pub(crate) const VIOLATIONS: TableDefinition<(i64, &str), &[u8]> =
    TableDefinition::new("violations");
