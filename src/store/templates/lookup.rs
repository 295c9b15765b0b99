//! Reads shared by the reader and the writer: a template by key, a
//! registry's templates in order, the template a repository path gets, a
//! repository's settings, and the repositories and tags a domain holds.

use redb::ReadableTable;

use super::codec::{SettingRow, TemplateRow, corrupt};
use crate::error::{Error, Result};
use crate::id::RepositoryId;
use crate::model::{MutabilitySetting, RepositoryCreationTemplate, candidate_keys};
use crate::store::rows;

/// A template's row, decoded; `place` names it in errors.
pub(super) fn decode_template(
    domain: &str,
    key: &str,
    bytes: &[u8],
) -> Result<RepositoryCreationTemplate> {
    let place = format!("table templates, registry {domain}, prefix {key}");
    rows::decode_row::<TemplateRow>("templates", format_args!("{domain} {key}"), bytes)?
        .to_record(&place)
}

pub(super) fn get_template(
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
pub(super) fn list_templates(
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
pub(super) fn choose(
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
pub(super) fn read_settings(
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
pub(in crate::store) fn repos_in_domain(
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
