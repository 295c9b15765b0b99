//! The repository side of a write: repository rows and their keys, the
//! settings templates append, and the repository a scan or an ingest
//! names.

use redb::ReadableTable;

use super::Writer;
use crate::error::{Error, Result};
use crate::id::RepositoryId;
use crate::model::{Repository, RepositoryBody, Timestamp};
use crate::store::rows::{self, AuditRow, RepoRow, micros};

impl<'t> Writer<'t> {
    pub fn repo_number(&self, id: &RepositoryId) -> Result<Option<u32>> {
        Ok(self.repo_keys.get(id.as_str())?.map(|v| v.value()))
    }

    /// Repository `id`'s number, checked against that repository's row (a
    /// damaged `repo_keys` entry would lead to another repository's tags):
    /// the number [`Writer::ensure_tag`] takes.
    pub fn checked_repo_number(&self, id: &RepositoryId) -> Result<Option<u32>> {
        let Some(n) = self.repo_number(id)? else {
            return Ok(None);
        };
        self.repo(n)?.check_key(n, id)?;
        Ok(Some(n))
    }

    /// Repository number `n`'s row, checked: it is written back.
    pub(super) fn repo(&self, n: u32) -> Result<RepoRow> {
        let row = self.repos.get(n)?.ok_or_else(|| {
            Error::Corrupt(format!(
                "table repo_keys: repository number {n} has no row in table repos"
            ))
        })?;
        let row: RepoRow = rows::decode_row("repos", n, row.value())?;
        row.check(n)?;
        Ok(row)
    }

    fn put_repo(&mut self, n: u32, row: &RepoRow) -> Result<()> {
        self.repos.insert(n, rows::encode(row)?.as_slice())?;
        Ok(())
    }

    /// Interns a new repository and stores its row.
    fn intern_repo(&mut self, id: &RepositoryId, row: &RepoRow) -> Result<u32> {
        let n = self.next_repo;
        self.next_repo = n
            .checked_add(1)
            .ok_or_else(|| Error::Corrupt("repository numbers exhausted".to_owned()))?;
        self.repo_keys.insert(id.as_str(), n)?;
        self.put_repo(n, row)?;
        // Every repository is first created here (API or ingest): it gets
        // the setting of the repository creation template that matches it.
        self.templates.on_repository_created(id, n)?;
        Ok(n)
    }

    /// The template tables (templates, repository settings, violations).
    pub fn templates(&mut self) -> &mut crate::store::TemplateWriter<'t> {
        &mut self.templates
    }

    /// Every repository of registry `domain`, with its number.
    pub fn repos_in_domain(&self, domain: &str) -> Result<Vec<(RepositoryId, u32)>> {
        crate::store::templates::repos_in_domain(&self.repo_keys, domain)
    }

    /// `template apply`: appends `setting` to repository `id`'s (number `n`)
    /// settings and recomputes its tags' violations from their logs;
    /// returns how many violations are new.
    pub fn append_setting(
        &mut self,
        id: &RepositoryId,
        n: u32,
        setting: crate::model::MutabilitySetting,
    ) -> Result<u64> {
        let mut tags = Vec::new();
        for (name, tag) in crate::store::tag_keys::page(&self.tag_keys, n, None, usize::MAX)? {
            tags.push((
                tag,
                name,
                super::plain(&crate::store::log::read_log(&self.tag_log, tag)?),
            ));
        }
        self.templates.append_setting(id, n, setting, &tags)
    }

    /// Creates repository `id` with `body`'s fields.
    ///
    /// # Errors
    /// [`Error::Conflict`] when it exists.
    pub fn create_repository(
        &mut self,
        id: &RepositoryId,
        body: &RepositoryBody,
        actor: &str,
        now: Timestamp,
    ) -> Result<Repository> {
        if self.repo_number(id)?.is_some() {
            return Err(Error::Conflict {
                what: "repository",
                id: id.to_string(),
            });
        }
        let row = RepoRow {
            id: id.as_str().to_owned(),
            last_scanned_on: micros(body.last_scanned_on),
            projects: body.projects.clone(),
            project_components: body.project_components.clone(),
            packages: body.packages.clone(),
            audit: AuditRow::new(actor, now),
        };
        self.intern_repo(id, &row)?;
        row.to_record(id)
    }

    /// Replaces repository `id`'s mutable fields with `body`'s.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist.
    pub fn update_repository(
        &mut self,
        id: &RepositoryId,
        body: &RepositoryBody,
        actor: &str,
        now: Timestamp,
    ) -> Result<Repository> {
        let n = self.repo_number(id)?.ok_or_else(|| Error::NotFound {
            what: "repository",
            id: id.to_string(),
        })?;
        let mut row = self.repo(n)?;
        row.last_scanned_on = micros(body.last_scanned_on);
        row.projects.clone_from(&body.projects);
        row.project_components.clone_from(&body.project_components);
        row.packages.clone_from(&body.packages);
        row.audit.touch(actor, now);
        self.put_repo(n, &row)?;
        row.to_record(id)
    }

    /// The repository's checked number (as [`Writer::checked_repo_number`])
    /// and whether it was created (by `actor`, scanned at `scanned`); an
    /// existing one gets `last_scanned_on = max(old, scanned)`.
    pub fn upsert_scanned_repo(
        &mut self,
        id: &RepositoryId,
        scanned: Timestamp,
        actor: &str,
        now: Timestamp,
    ) -> Result<(u32, bool)> {
        if let Some(n) = self.repo_number(id)? {
            let mut row = self.repo(n)?;
            row.check_key(n, id)?;
            if micros(scanned) > row.last_scanned_on {
                row.last_scanned_on = micros(scanned);
                row.audit.touch(actor, now);
                self.put_repo(n, &row)?;
            }
            return Ok((n, false));
        }
        let row = RepoRow {
            id: id.as_str().to_owned(),
            last_scanned_on: micros(scanned),
            projects: None,
            project_components: None,
            packages: None,
            audit: AuditRow::new(actor, now),
        };
        Ok((self.intern_repo(id, &row)?, true))
    }
}
