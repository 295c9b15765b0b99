//! Repository creation templates (the Amazon ECR document), the setting each
//! repository got from one, and the violations: moves of tags a setting
//! made immutable.
//!
//! - `templates`: (registry domain, template key) → [`TemplateRow`]. The key
//!   is the prefix without a trailing `/`, or `ROOT` (which no prefix can be:
//!   prefixes are lowercase), so a registry's templates are one key range and
//!   the template of a new repository is found with one point get per
//!   ancestor of its path, longest first (`model::candidate_keys`).
//! - `repository_settings`: repository number → the list of
//!   [`SettingRow`]s, oldest first: the setting the repository was created
//!   with (no `since`), then one per `template apply` that changed it. A
//!   repository no template matched has no row (every tag mutable).
//! - `violations`: (observed instant, canonical tag ID) → [`ViolationRow`].
//!   A tag has at most one move per instant, so the key is unique; the tag's
//!   ID rather than its number (which depends on the order tags were first
//!   seen) makes the listing's order, like its content, independent of the
//!   order observations arrived in. The rows are a
//!   function of each tag's move log and its repository's settings
//!   (`model::violations_in`), kept equal to it by every write: `apply`
//!   recomputes a tag's violations from its log before and after and writes
//!   the difference, as it does for the digest index. That is what makes
//!   every ingest order give the same violations.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::rows::{self, from_micros, micros};
use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{
    AppliedFor, EncryptionConfiguration, EncryptionType, ExclusionFilter, ImageTagMutability,
    MutabilitySetting, RepositoryCreationTemplate, ResourceTag, TagMutability, Timestamp,
    Violation, candidate_keys, violations_in,
};

/// (registry domain, template key) → `TemplateRow`.
pub(crate) const TEMPLATES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("templates");
/// repository number → `Vec<SettingRow>`, oldest first.
pub(crate) const REPO_SETTINGS: TableDefinition<u32, &[u8]> =
    TableDefinition::new("repository_settings");
/// (observed instant, canonical tag ID) → `ViolationRow`.
pub(crate) const VIOLATIONS: TableDefinition<(i64, &str), &[u8]> =
    TableDefinition::new("violations");

/// A stored template: every member present (postcard is not
/// self-describing), enums as their codes below.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TemplateRow {
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
struct SettingRow {
    since: Option<i64>,
    template: Option<String>,
    mutability: u8,
    filters: Vec<String>,
}

/// A violation: the move and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ViolationRow {
    from: Vec<u8>,
    to: Vec<u8>,
    template: Option<String>,
    mutability: u8,
    filter: Option<String>,
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

fn mutability_of(code: u8, place: &dyn std::fmt::Display) -> Result<ImageTagMutability> {
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

fn corrupt(place: &dyn std::fmt::Display, what: &str) -> Error {
    Error::Corrupt(format!("{place}: {what}"))
}

impl TemplateRow {
    fn from_record(t: &RepositoryCreationTemplate) -> Self {
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

    fn to_record(&self, place: &dyn std::fmt::Display) -> Result<RepositoryCreationTemplate> {
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
    fn from_setting(s: &MutabilitySetting) -> Self {
        Self {
            since: s.since.map(micros),
            template: s.template.clone(),
            mutability: mutability_code(s.image_tag_mutability),
            filters: s.exclusion_filters.clone(),
        }
    }

    fn to_setting(&self, place: &dyn std::fmt::Display) -> Result<MutabilitySetting> {
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
    fn new(from: &Digest, to: &Digest, rule: &TagMutability) -> Self {
        Self {
            from: from.to_compact(),
            to: to.to_compact(),
            template: rule.template.clone(),
            mutability: mutability_code(rule.image_tag_mutability),
            filter: rule.filter.clone(),
        }
    }
}

/// A template's row, decoded; `place` names it in errors.
fn decode_template(domain: &str, key: &str, bytes: &[u8]) -> Result<RepositoryCreationTemplate> {
    let place = format!("table templates, registry {domain}, prefix {key}");
    rows::decode_row::<TemplateRow>("templates", format_args!("{domain} {key}"), bytes)?
        .to_record(&place)
}

fn get_template(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    domain: &str,
    key: &str,
) -> Result<Option<RepositoryCreationTemplate>> {
    match table.get((domain, key))? {
        Some(v) => decode_template(domain, key, v.value()).map(Some),
        None => Ok(None),
    }
}

/// A registry's templates in key order after `after`, at most `limit`.
fn list_templates(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    domain: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, RepositoryCreationTemplate)>> {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let start = match after {
        Some(k) => Excluded((domain, k)),
        None => Included((domain, "")),
    };
    let mut out = Vec::new();
    for entry in table.range::<(&str, &str)>((start, Unbounded))? {
        let (k, v) = entry?;
        let (d, key) = k.value();
        if d != domain || out.len() == limit {
            break;
        }
        out.push((key.to_owned(), decode_template(domain, key, v.value())?));
    }
    Ok(out)
}

/// The template a repository path gets in `domain`: the longest prefix
/// that matches, else ROOT, else none; with its key.
fn choose(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    domain: &str,
    path: &str,
) -> Result<Option<(String, RepositoryCreationTemplate)>> {
    for key in candidate_keys(path) {
        if let Some(t) = get_template(table, domain, key)? {
            return Ok(Some((key.to_owned(), t)));
        }
    }
    Ok(None)
}

/// Repository `n`'s settings, oldest first; a repository without a row has
/// the one setting "no template".
fn read_settings(
    table: &impl ReadableTable<u32, &'static [u8]>,
    n: u32,
) -> Result<Vec<MutabilitySetting>> {
    let Some(v) = table.get(n)? else {
        return Ok(vec![MutabilitySetting::none()]);
    };
    let place = format!("table repository_settings, repository number {n}");
    let rows: Vec<SettingRow> = rows::decode_row("repository_settings", n, v.value())?;
    if rows.is_empty() {
        return Err(corrupt(&place, "no setting"));
    }
    rows.iter().map(|r| r.to_setting(&place)).collect()
}

/// Every repository of `domain` (keys `<domain>/…`), in ID order, with its number.
pub(super) fn repos_in_domain(
    repo_keys: &impl ReadableTable<&'static str, u32>,
    domain: &str,
) -> Result<Vec<(RepositoryId, u32)>> {
    // `0` is the byte after `/`: the keys `<domain>/…` are one range.
    let (start, end) = (format!("{domain}/"), format!("{domain}0"));
    let mut out = Vec::new();
    for entry in repo_keys.range::<&str>(start.as_str()..end.as_str())? {
        let (k, v) = entry?;
        let id: RepositoryId = k.value().parse().map_err(|e| {
            Error::Corrupt(format!(
                "table repo_keys, key {:?}: not a repository ID: {e}",
                k.value()
            ))
        })?;
        out.push((id, v.value()));
    }
    Ok(out)
}

/// Every tag of `repo` (keys `<repo>:…`, deleted ones included): number and name.
pub(super) fn tags_in_repo(
    tag_keys: &impl ReadableTable<&'static str, u32>,
    repo: &RepositoryId,
) -> Result<Vec<(u32, String)>> {
    let (start, end) = (format!("{repo}:"), format!("{repo};"));
    let mut out = Vec::new();
    for entry in tag_keys.range::<&str>(start.as_str()..end.as_str())? {
        let (k, v) = entry?;
        let name = k.value().get(start.len()..).unwrap_or_default().to_owned();
        out.push((v.value(), name));
    }
    Ok(out)
}

/// A stored log (microseconds) as timestamps, for the pure rules.
fn timed(tag: u32, log: &[(i64, Option<Digest>)]) -> Result<Vec<(Timestamp, Option<Digest>)>> {
    log.iter()
        .map(|&(t, d)| {
            let t =
                from_micros(t).map_err(rows::at(format_args!("table moves, tag number {tag}")))?;
            Ok((t, d))
        })
        .collect()
}

/// The violation rows of tag `id` (number `n`, name `name` within its
/// repository) for its log under `settings`, by instant.
fn violation_rows(
    n: u32,
    name: &str,
    log: &[(i64, Option<Digest>)],
    settings: &[MutabilitySetting],
) -> Result<BTreeMap<i64, ViolationRow>> {
    if !settings.iter().any(MutabilitySetting::restricts) {
        return Ok(BTreeMap::new());
    }
    Ok(violations_in(name, &timed(n, log)?, settings)
        .into_iter()
        .map(|(m, rule)| (micros(m.at), ViolationRow::new(&m.from, &m.to, &rule)))
        .collect())
}

/// A tag's number, name (within its repository) and stored move log.
pub(crate) type TagLog = (u32, String, Vec<(i64, Option<Digest>)>);

/// The template tables of one write transaction.
pub(crate) struct TemplateWriter<'t> {
    templates: Table<'t, (&'static str, &'static str), &'static [u8]>,
    settings: Table<'t, u32, &'static [u8]>,
    violations: Table<'t, (i64, &'static str), &'static [u8]>,
    /// Settings by repository number, read once per transaction.
    cache: HashMap<u32, Arc<Vec<MutabilitySetting>>>,
    /// Whether any template exists (read once): without one, creating a
    /// repository looks nothing up.
    any_template: Option<bool>,
}

impl<'t> TemplateWriter<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Ok(Self {
            templates: txn.open_table(TEMPLATES)?,
            settings: txn.open_table(REPO_SETTINGS)?,
            violations: txn.open_table(VIOLATIONS)?,
            cache: HashMap::new(),
            any_template: None,
        })
    }

    /// The template stored under (`domain`, `key`).
    pub fn get(&self, domain: &str, key: &str) -> Result<Option<RepositoryCreationTemplate>> {
        get_template(&self.templates, domain, key)
    }

    /// Every template of `domain`, in key order, with its key.
    pub fn all(&self, domain: &str) -> Result<Vec<(String, RepositoryCreationTemplate)>> {
        list_templates(&self.templates, domain, None, usize::MAX)
    }

    /// Stores a template under (`domain`, `key`).
    pub fn put(&mut self, domain: &str, key: &str, t: &RepositoryCreationTemplate) -> Result<()> {
        let row = rows::encode(&TemplateRow::from_record(t))?;
        self.templates.insert((domain, key), row.as_slice())?;
        self.any_template = Some(true);
        Ok(())
    }

    /// Removes the template under (`domain`, `key`); returns it.
    pub fn remove(
        &mut self,
        domain: &str,
        key: &str,
    ) -> Result<Option<RepositoryCreationTemplate>> {
        let old = match self.templates.remove((domain, key))? {
            Some(v) => Some(decode_template(domain, key, v.value())?),
            None => None,
        };
        self.any_template = None;
        Ok(old)
    }

    /// The hook for a repository created in this transaction (by the API or
    /// by ingest): records the setting of the template that matches it, if
    /// one does.
    pub fn on_repository_created(&mut self, id: &RepositoryId, n: u32) -> Result<()> {
        let any = if let Some(any) = self.any_template {
            any
        } else {
            let any = !self.templates.is_empty()?;
            self.any_template = Some(any);
            any
        };
        let setting = if any {
            choose(&self.templates, id.domain(), id.path())?.map(|(_, t)| t.setting())
        } else {
            None
        };
        match setting {
            Some(s) => {
                let row = rows::encode(&vec![SettingRow::from_setting(&s)])?;
                self.settings.insert(n, row.as_slice())?;
                self.cache.insert(n, Arc::new(vec![s]));
            }
            None => {
                self.cache
                    .insert(n, Arc::new(vec![MutabilitySetting::none()]));
            }
        }
        Ok(())
    }

    /// Repository `n`'s settings, oldest first (read once per transaction).
    pub fn settings(&mut self, n: u32) -> Result<Arc<Vec<MutabilitySetting>>> {
        if let Some(s) = self.cache.get(&n) {
            return Ok(Arc::clone(s));
        }
        let s = Arc::new(read_settings(&self.settings, n)?);
        self.cache.insert(n, Arc::clone(&s));
        Ok(s)
    }

    /// Brings the violations of tag `id` (number `n`, `name` within its
    /// repository) from what its log `before` gave to what its log `after`
    /// gives (both under `settings`); returns how many violations are new.
    pub fn revise(
        &mut self,
        (id, n, name): (&str, u32, &str),
        settings: &[MutabilitySetting],
        before: &[(i64, Option<Digest>)],
        after: &[(i64, Option<Digest>)],
    ) -> Result<u64> {
        let old = violation_rows(n, name, before, settings)?;
        let new = violation_rows(n, name, after, settings)?;
        self.replace(id, &old, &new)
    }

    /// Writes the difference between two sets of tag `id`'s violation rows.
    fn replace(
        &mut self,
        id: &str,
        old: &BTreeMap<i64, ViolationRow>,
        new: &BTreeMap<i64, ViolationRow>,
    ) -> Result<u64> {
        for t in old.keys().filter(|t| !new.contains_key(t)) {
            self.violations.remove((*t, id))?;
        }
        let mut created = 0;
        for (t, row) in new {
            match old.get(t) {
                Some(was) if was == row => {}
                was => {
                    created += u64::from(was.is_none());
                    self.violations
                        .insert((*t, id), rows::encode(row)?.as_slice())?;
                }
            }
        }
        Ok(created)
    }

    /// Appends `setting` to repository `id`'s (number `n`) settings
    /// (`template apply`) and recomputes the violations of its tags (each
    /// with its number, name and log); returns how many violations are new.
    pub fn append_setting(
        &mut self,
        id: &RepositoryId,
        n: u32,
        setting: MutabilitySetting,
        tags: &[TagLog],
    ) -> Result<u64> {
        let old = self.settings(n)?;
        let mut new = (*old).clone();
        new.push(setting);
        let row: Vec<SettingRow> = new.iter().map(SettingRow::from_setting).collect();
        self.settings.insert(n, rows::encode(&row)?.as_slice())?;
        let mut created = 0;
        for (tag, name, log) in tags {
            let before = violation_rows(*tag, name, log, &old)?;
            let after = violation_rows(*tag, name, log, &new)?;
            created += self.replace(&format!("{id}:{name}"), &before, &after)?;
        }
        self.cache.insert(n, Arc::new(new));
        Ok(created)
    }
}

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
