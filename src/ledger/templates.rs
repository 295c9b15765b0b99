//! Repository creation templates (the Amazon ECR document) and tag
//! immutability: template create, update, get, list and delete per registry;
//! which template a repository gets; `apply` to existing repositories; the
//! violations query; and the checks API writes and answers make (a refused
//! move, the marks in `history`, the mutability in `classify`).

use std::collections::HashMap;

use serde::Serialize;

use super::records::MAX_PAGE;
use super::{Ledger, MatchKind, Page, Snapshot};
use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{
    Interval, MutabilitySetting, RepositoryCreationTemplate, TagMatch, TagMutability, TemplateBody,
    TemplateError, TemplateErrorKind, TemplateList, TemplateResponse, Timestamp, Violation,
    changes_since, check_prefix, choose_template, coalesce, registry_domain, registry_id,
    setting_at, template_key, violations_in,
};
use crate::store::{TagState, View, Writer};

/// Which template a repository gets, and the setting it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMatch {
    /// The registry, as in the document's responses.
    pub registry_id: String,
    /// The repository asked about.
    pub repository: RepositoryId,
    /// The chosen template's prefix (as written), `ROOT`, or `null` for none.
    pub prefix: Option<String>,
    /// The chosen template.
    pub repository_creation_template: Option<RepositoryCreationTemplate>,
    /// The settings the repository has recorded, oldest first, when it
    /// exists in the ledger (a later template change does not rewrite them:
    /// `template apply` does).
    pub applied: Option<Vec<MutabilitySetting>>,
}

/// One repository whose setting `template apply` changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingChange {
    /// The repository.
    pub repository: RepositoryId,
    /// Its setting before.
    pub from: MutabilitySetting,
    /// Its setting from now on.
    pub to: MutabilitySetting,
}

/// What [`Ledger::apply_template`] changed, or would change in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateApplication {
    /// The registry, as in the document's responses.
    pub registry_id: String,
    /// The template's prefix (as written).
    pub prefix: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The repositories the template governs whose setting differs from it.
    pub changes: Vec<SettingChange>,
    /// The repositories the template governs that already have its setting.
    pub unchanged: u64,
    /// Violations recorded for the first time (moves observed after the new
    /// setting took effect); `null` in a dry run.
    pub violations_created: Option<u64>,
}

fn template_not_found(domain: &str, prefix: &str) -> Error {
    TemplateError::new(
        TemplateErrorKind::TemplateNotFound,
        "prefix",
        format!("registry {domain} has no repository creation template with prefix {prefix}"),
        Some(prefix),
    )
    .into()
}

fn response(domain: &str, template: RepositoryCreationTemplate) -> TemplateResponse {
    TemplateResponse {
        registry_id: registry_id(domain),
        repository_creation_template: template,
    }
}

/// The prefix of a get/delete/apply, checked as a body's prefix is.
fn key_of(prefix: &str) -> Result<&str> {
    check_prefix(prefix).map_err(|e| TemplateError {
        location: "prefix".to_owned(),
        ..e
    })?;
    Ok(template_key(prefix))
}

/// The repositories template `key` governs (it is their chosen template)
/// and how their settings compare with its.
fn plan(
    keys: &[String],
    key: &str,
    template: &RepositoryCreationTemplate,
    repos: Vec<(RepositoryId, u32, Vec<MutabilitySetting>)>,
) -> (Vec<(u32, SettingChange)>, u64) {
    let target = template.setting();
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for (id, n, settings) in repos {
        if choose_template(keys.iter().map(String::as_str), id.path()) != Some(key) {
            continue;
        }
        let from = settings
            .last()
            .cloned()
            .unwrap_or_else(MutabilitySetting::none);
        if from.same_rule(&target) {
            unchanged += 1;
        } else {
            changes.push((
                n,
                SettingChange {
                    repository: id,
                    from,
                    to: target.clone(),
                },
            ));
        }
    }
    (changes, unchanged)
}

impl Ledger {
    /// Creates a repository creation template in registry `registry` (a
    /// domain: `docker.io`, `123456789012.dkr.ecr.us-west-2.amazonaws.com`)
    /// from the document's body. Repositories created from now on whose
    /// path it matches get its tag mutability; existing ones keep theirs
    /// until [`Ledger::apply_template`].
    ///
    /// ```
    /// use ociledger::{Ledger, model::TemplateBody};
    ///
    /// let ledger = Ledger::in_memory()?;
    /// let body = TemplateBody::from_json(r#"{"prefix": "prod", "imageTagMutability": "IMMUTABLE"}"#)?;
    /// let created = ledger.create_template("docker.io", &body)?;
    /// assert_eq!(created.repository_creation_template.prefix, "prod");
    /// assert!(ledger.create_template("docker.io", &body).is_err()); // TemplateAlreadyExists
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Template`]: `TemplateAlreadyExists`, or `Validation` /
    /// `InvalidParameter` naming the field and the limit; storage errors.
    pub fn create_template(&self, registry: &str, body: &TemplateBody) -> Result<TemplateResponse> {
        let domain = registry_domain(registry)?;
        let template = RepositoryCreationTemplate::create(body, self.now())?;
        let key = template_key(&body.prefix);
        self.write("create repository creation template", |w| {
            let t = w.templates();
            if t.get(&domain, key)?.is_some() {
                return Err(TemplateError::new(
                    TemplateErrorKind::TemplateAlreadyExists,
                    "body.prefix",
                    format!(
                        "registry {domain} already has a repository creation template with prefix {key}"
                    ),
                    Some(&body.prefix),
                )
                .into());
            }
            t.put(&domain, key, &template)?;
            Ok(response(&domain, template))
        })
    }

    /// Updates the template with the body's prefix: members the body leaves
    /// out keep their stored values, except `imageTagMutability` (omitted
    /// means MUTABLE, as the document says). Existing repositories keep
    /// their settings.
    ///
    /// # Errors
    /// [`Error::Template`]: `TemplateNotFound`, or `Validation` /
    /// `InvalidParameter`; storage errors.
    pub fn update_template(&self, registry: &str, body: &TemplateBody) -> Result<TemplateResponse> {
        let domain = registry_domain(registry)?;
        body.check()?;
        let key = template_key(&body.prefix);
        let now = self.now();
        self.write("update repository creation template", |w| {
            let t = w.templates();
            let old = t
                .get(&domain, key)?
                .ok_or_else(|| template_not_found(&domain, &body.prefix))?;
            let new = old.update(body, now)?;
            t.put(&domain, key, &new)?;
            Ok(response(&domain, new))
        })
    }

    /// Deletes a template; returns it. Repositories keep their settings.
    ///
    /// # Errors
    /// [`Error::Template`]: `TemplateNotFound`, or `Validation` for a bad
    /// prefix; storage errors.
    pub fn delete_template(&self, registry: &str, prefix: &str) -> Result<TemplateResponse> {
        let domain = registry_domain(registry)?;
        let key = key_of(prefix)?;
        self.write("delete repository creation template", |w| {
            let old = w
                .templates()
                .remove(&domain, key)?
                .ok_or_else(|| template_not_found(&domain, prefix))?;
            Ok(response(&domain, old))
        })
    }

    /// Gives the repositories a template governs (those it is the chosen
    /// template of, by longest prefix, or every otherwise unmatched one for
    /// ROOT) its current setting, from now on: moves observed before keep
    /// being judged by the setting in force then. With `dry_run`, writes
    /// nothing (and works on a read-only ledger) and says what would change.
    ///
    /// # Errors
    /// [`Error::Template`]: `TemplateNotFound`, `Validation`; storage errors.
    pub fn apply_template(
        &self,
        registry: &str,
        prefix: &str,
        dry_run: bool,
    ) -> Result<TemplateApplication> {
        let domain = registry_domain(registry)?;
        let key = key_of(prefix)?;
        if dry_run {
            let snap = self.snapshot()?;
            let view = &snap.view;
            let templates = view.templates()?;
            let template = templates
                .get(&domain, key)?
                .ok_or_else(|| template_not_found(&domain, prefix))?;
            let keys: Vec<String> = templates
                .page(&domain, None, usize::MAX)?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            let mut repos = Vec::new();
            for (id, n) in view.repos_in_domain(&domain)? {
                repos.push((id, n, templates.settings(n)?));
            }
            let (changes, unchanged) = plan(&keys, key, &template, repos);
            return Ok(TemplateApplication {
                registry_id: registry_id(&domain),
                prefix: template.prefix,
                dry_run,
                changes: changes.into_iter().map(|(_, c)| c).collect(),
                unchanged,
                violations_created: None,
            });
        }
        let now = self.now();
        self.write("apply repository creation template", |w| {
            let template = w
                .templates()
                .get(&domain, key)?
                .ok_or_else(|| template_not_found(&domain, prefix))?;
            let keys: Vec<String> = w
                .templates()
                .all(&domain)?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            let mut repos = Vec::new();
            for (id, n) in w.repos_in_domain(&domain)? {
                let settings = w.templates().settings(n)?;
                repos.push((id, n, (*settings).clone()));
            }
            let (changes, unchanged) = plan(&keys, key, &template, repos);
            let mut created = 0;
            let mut out = Vec::with_capacity(changes.len());
            for (n, mut change) in changes {
                // A clock behind an earlier setting's start cannot put this
                // one before it: settings stay in order.
                let since = change.from.since.map_or(now, |s| s.max(now));
                change.to.since = Some(since);
                created += w.append_setting(&change.repository, n, change.to.clone())?;
                out.push(change);
            }
            Ok(TemplateApplication {
                registry_id: registry_id(&domain),
                prefix: template.prefix,
                dry_run,
                changes: out,
                unchanged,
                violations_created: Some(created),
            })
        })
    }

    /// [`Snapshot::template`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::template`].
    pub fn get_template(&self, registry: &str, prefix: &str) -> Result<TemplateResponse> {
        self.snapshot()?.template(registry, prefix)
    }

    /// [`Snapshot::templates`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::templates`].
    pub fn templates(
        &self,
        registry: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TemplateList> {
        self.snapshot()?.templates(registry, cursor, limit)
    }

    /// [`Snapshot::match_template`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::match_template`].
    pub fn match_template(&self, repository: &RepositoryId) -> Result<TemplateMatch> {
        self.snapshot()?.match_template(repository)
    }

    /// [`Snapshot::violations`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::violations`].
    pub fn violations(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Violation>> {
        self.snapshot()?.violations(since, cursor, limit)
    }
}

impl Snapshot {
    /// The template with `prefix` (`prod`, `prod/` and `ROOT` as written in
    /// the body) in registry `registry`, in the document's response shape.
    ///
    /// # Errors
    /// [`Error::Template`]: `TemplateNotFound`, or `Validation` for a bad
    /// prefix or `InvalidParameter` for a bad registry.
    pub fn template(&self, registry: &str, prefix: &str) -> Result<TemplateResponse> {
        self.view.guarded(|_| {
            let domain = registry_domain(registry)?;
            let key = key_of(prefix)?;
            let t = self
                .view
                .templates()?
                .get(&domain, key)?
                .ok_or_else(|| template_not_found(&domain, prefix))?;
            Ok(response(&domain, t))
        })
    }

    /// A registry's templates in prefix order (`ROOT` among them), after
    /// `cursor` (a previous page's `nextToken`), at most `limit` (1 to
    /// [`MAX_PAGE`]).
    ///
    /// # Errors
    /// [`Error::Template`] for a bad registry or cursor; storage errors.
    pub fn templates(
        &self,
        registry: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TemplateList> {
        self.view.guarded(|_| {
            let domain = registry_domain(registry)?;
            if let Some(c) = cursor
                && (c != template_key(c) || check_prefix(c).is_err())
            {
                return Err(TemplateError::new(
                    TemplateErrorKind::InvalidParameter,
                    "nextToken",
                    "not a token returned by this listing",
                    Some(c),
                )
                .into());
            }
            let limit = limit.clamp(1, MAX_PAGE);
            let page = self.view.templates()?.page(&domain, cursor, limit)?;
            let next_token = (page.len() == limit)
                .then(|| page.last().map(|(k, _)| k.clone()))
                .flatten();
            Ok(TemplateList {
                registry_id: registry_id(&domain),
                repository_creation_templates: page.into_iter().map(|(_, t)| t).collect(),
                next_token,
            })
        })
    }

    /// The template a repository gets in its registry (the longest prefix
    /// that matches whole path components, else `ROOT`, else none), and the
    /// settings the repository recorded, if it exists in the ledger.
    ///
    /// # Errors
    /// Storage errors.
    pub fn match_template(&self, repository: &RepositoryId) -> Result<TemplateMatch> {
        self.view.guarded(|_| {
            let chosen = self.view.templates()?.choose(repository)?;
            Ok(TemplateMatch {
                registry_id: registry_id(repository.domain()),
                repository: repository.clone(),
                prefix: chosen.as_ref().map(|(_, t)| t.prefix.clone()),
                repository_creation_template: chosen.map(|(_, t)| t),
                applied: self.view.repository_settings(repository)?,
            })
        })
    }

    /// The settings repository `id` recorded, oldest first: the one it was
    /// created with, then one per [`Ledger::apply_template`] that changed it.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a repository not in the ledger.
    pub fn repository_mutability(&self, id: &RepositoryId) -> Result<Vec<MutabilitySetting>> {
        self.view.guarded(|_| {
            self.view
                .repository_settings(id)?
                .ok_or_else(|| Error::NotFound {
                    what: "repository",
                    id: id.to_string(),
                })
        })
    }

    /// Whether `tag` may move now, and the rule that says so.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a repository not in the ledger.
    pub fn tag_mutability(&self, tag: &TagId) -> Result<TagMutability> {
        self.view.guarded(|_| {
            let settings = self.repository_mutability(tag.repository())?;
            Ok(settings
                .last()
                .cloned()
                .unwrap_or_else(MutabilitySetting::none)
                .for_tag(tag.tag()))
        })
    }

    /// Violations (moves of immutable tags), oldest observation first,
    /// observed at or after `since`, after `cursor` (a previous page's
    /// `next`), at most `limit` (1 to [`MAX_PAGE`]). An observation that
    /// arrives late can add a violation before a cursor already passed:
    /// watch the import summary's `violations_created`, or list again from a
    /// `since` that covers late arrivals.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad cursor; storage errors.
    pub fn violations(
        &self,
        since: Option<Timestamp>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Violation>> {
        self.view.guarded(|_| {
            let limit = limit.clamp(1, MAX_PAGE);
            let after = cursor.map(parse_cursor).transpose()?;
            let rows = self
                .view
                .violations(since.map(|t| t.timestamp_micros()), after, limit)?;
            let next = (rows.len() == limit)
                .then(|| rows.last().map(|(t, v)| format!("{t}/{}", v.tag)))
                .flatten();
            Ok(Page {
                items: rows.into_iter().map(|(_, v)| v).collect(),
                next,
            })
        })
    }
}

/// A violations cursor: `<microseconds>/<tag ID>`, the last item's position.
fn parse_cursor(cursor: &str) -> Result<(i64, &str)> {
    let invalid = || Error::Invalid {
        location: "cursor".to_owned(),
        message: "not a cursor returned by this listing".to_owned(),
        value: Some(cursor.chars().take(200).collect()),
    };
    let (t, tag) = cursor.split_once('/').ok_or_else(invalid)?;
    tag.parse::<TagId>().map_err(|_| invalid())?;
    Ok((t.parse().map_err(|_| invalid())?, tag))
}

/// The API refuses to move a tag its repository's setting makes immutable
/// (now): an update to another digest of a live tag. Creating a tag, or
/// pointing it at the digest it has, is no move.
pub(super) fn refuse_immutable_move(
    w: &mut Writer<'_>,
    tag: &TagState,
    id: &TagId,
    to: Digest,
    now: Timestamp,
) -> Result<()> {
    let Some(from) = tag.current() else {
        return Ok(());
    };
    if from == to {
        return Ok(());
    }
    let Some(repo) = w.repo_number(id.repository())? else {
        return Ok(());
    };
    let settings = w.templates().settings(repo)?;
    match setting_at(&settings, now).map(|s| s.for_tag(id.tag())) {
        Some(rule) if !rule.mutable => Err(Error::TagImmutable {
            tag: id.to_string(),
            current: from.to_string(),
            requested: to.to_string(),
            rule: rule.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Tag number `n`'s intervals, oldest first, each with the rule its move
/// broke when the move into it was a violation.
pub(super) fn marked_intervals(
    view: &View,
    tag: &TagId,
    n: u32,
) -> Result<Vec<(Digest, Interval, Option<TagMutability>)>> {
    let log = view.log(n)?;
    let settings = view.tag_settings(n)?;
    let mut marks: HashMap<(Timestamp, Digest), TagMutability> =
        violations_in(tag.tag(), &log, &settings)
            .into_iter()
            .map(|(m, rule)| ((m.at, m.to), rule))
            .collect();
    Ok(coalesce(log)
        .into_iter()
        .map(|(d, iv)| {
            // A same-instant loser's empty interval is no move.
            let mark = if iv.until == Some(iv.since) {
                None
            } else {
                marks.remove(&(iv.since, d))
            };
            (d, iv, mark)
        })
        .collect())
}

/// The named tag's mutability now (when its repository is in the ledger)
/// and, for a mutable tag the container's digest is historical for, how
/// many times the tag changed where it points since it last pointed there.
/// `number` is the tag's number, when the tag is known: then its settings
/// cost nothing while no repository has one.
pub(super) fn tag_state(
    view: &View,
    tag: &TagId,
    number: Option<u32>,
    kind: MatchKind,
    matches: &[TagMatch],
) -> Result<(Option<TagMutability>, Option<u64>)> {
    let settings = match number {
        Some(n) => view.tag_settings(n)?,
        None => match view.repository_settings(tag.repository())? {
            Some(s) => s,
            None => return Ok((None, None)),
        },
    };
    let rule = settings
        .last()
        .cloned()
        .unwrap_or_else(MutabilitySetting::none)
        .for_tag(tag.tag());
    let mut behind = None;
    if kind == MatchKind::Historical && rule.mutable {
        let last_until = matches
            .iter()
            .filter(|m| *m.tag == *tag && !m.current)
            .filter_map(|m| m.until)
            .max();
        if let (Some(since), Some(n)) = (last_until, number) {
            behind = Some(changes_since(&view.log_from(n, since)?, since));
        }
    }
    Ok((Some(rule), behind))
}
