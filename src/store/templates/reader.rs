//! [`TemplateReader`]: the template tables of one read transaction
//! (templates, settings, and the violations listing).

use redb::{ReadOnlyTable, ReadTransaction, ReadableTableMetadata};

use super::codec::{ViolationRow, corrupt, mutability_of};
use super::lookup::{choose, get_template, list_templates, read_settings};
use super::{REPO_SETTINGS, TEMPLATES, VIOLATIONS};
use crate::error::Result;
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{MutabilitySetting, RepositoryCreationTemplate, TagMutability, Violation};
use crate::store::rows::{self, from_micros};

/// The template tables of one read transaction.
pub(crate) struct TemplateReader {
    templates: ReadOnlyTable<(&'static str, &'static str), &'static [u8]>,
    settings: ReadOnlyTable<u32, &'static [u8]>,
    violations: ReadOnlyTable<(i64, &'static str), &'static [u8]>,
    /// Whether any repository has a setting: without one, every tag is
    /// mutable and a classification reads nothing more.
    any_setting: bool,
}

impl TemplateReader {
    pub fn open(txn: &ReadTransaction) -> Result<Self> {
        let settings = txn.open_table(REPO_SETTINGS)?;
        Ok(Self {
            templates: txn.open_table(TEMPLATES)?,
            any_setting: !settings.is_empty()?,
            settings,
            violations: txn.open_table(VIOLATIONS)?,
        })
    }

    /// The template stored under (`domain`, `key`).
    pub fn get(&self, domain: &str, key: &str) -> Result<Option<RepositoryCreationTemplate>> {
        get_template(&self.templates, domain, key)
    }

    /// A registry's templates in key order after `after`, at most `limit`.
    pub fn page(
        &self,
        domain: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, RepositoryCreationTemplate)>> {
        list_templates(&self.templates, domain, after, limit)
    }

    /// The template a repository gets, with its key.
    pub fn choose(
        &self,
        id: &RepositoryId,
    ) -> Result<Option<(String, RepositoryCreationTemplate)>> {
        choose(&self.templates, id.domain(), id.path())
    }

    /// Whether any repository has a setting (else every tag is mutable).
    pub fn any_setting(&self) -> bool {
        self.any_setting
    }

    /// Repository `n`'s settings, oldest first.
    pub fn settings(&self, n: u32) -> Result<Vec<MutabilitySetting>> {
        if !self.any_setting {
            return Ok(vec![MutabilitySetting::none()]);
        }
        read_settings(&self.settings, n)
    }

    /// Violations in (observed instant, tag ID) order, from `since` on,
    /// strictly after the position `after`, at most `limit`.
    pub fn violations(
        &self,
        since: Option<i64>,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<(i64, Violation)>> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let from = since.unwrap_or(i64::MIN);
        let start = match after {
            Some(a) if a >= (from, "") => Excluded(a),
            _ => Included((from, "")),
        };
        let mut out = Vec::new();
        for entry in self
            .violations
            .range::<(i64, &str)>((start, Unbounded))?
            .take(limit)
        {
            let (k, v) = entry?;
            let (t, tag) = k.value();
            let place = format!("table violations, instant {t}, tag {tag:?}");
            let row: ViolationRow =
                rows::decode_row("violations", format_args!("{t}/{tag}"), v.value())?;
            let digest = |bytes: &[u8]| {
                Digest::from_compact(bytes).map_err(|e| corrupt(&place, &format!("digest: {e}")))
            };
            let tag: TagId = tag
                .parse()
                .map_err(|e| corrupt(&place, &format!("not a tag ID: {e}")))?;
            out.push((
                t,
                Violation {
                    tag,
                    from: digest(&row.from)?,
                    to: digest(&row.to)?,
                    observed_at: from_micros(t).map_err(rows::at(&place))?,
                    rule: TagMutability {
                        mutable: false,
                        image_tag_mutability: mutability_of(row.mutability, &place)?,
                        template: row.template,
                        filter: row.filter,
                    },
                },
            ));
        }
        Ok(out)
    }
}
