//! [`TemplateWriter`]: the template tables of one write transaction, and
//! keeping the violation rows equal to what each tag's log and settings
//! give.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use redb::{ReadableTableMetadata, Table, WriteTransaction};

use super::codec::{SettingRow, TemplateRow, ViolationRow};
use super::lookup::{choose, decode_template, get_template, list_templates, read_settings};
use super::{REPO_SETTINGS, TEMPLATES, VIOLATIONS};
use crate::error::Result;
use crate::id::{Digest, RepositoryId};
use crate::model::{MutabilitySetting, RepositoryCreationTemplate, Timestamp, violations_in};
use crate::store::rows::{self, from_micros, micros};

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
