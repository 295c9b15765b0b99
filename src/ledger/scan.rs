//! A registry scan's write: what one scan of one repository saw, recorded
//! in one transaction: an observation per tag it resolved (with the manifest
//! relations it read), a deletion for every tag that disappeared from the
//! registry's listing, and the repository's `last_scanned_on`.
//!
//! This is plain ledger API, with no HTTP in it: `ociledger::scan` (the
//! `scan` feature) produces a [`ScanBatch`] per repository, and any other
//! scanner can too.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Horizon, Ledger, at_item, check_actor};
use crate::error::{Error, Result};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{Observation, Timestamp};
use crate::store::{self, TagState, TagWrite, Writer};

/// What one scan of one repository saw: the input of [`Ledger::record_scan`].
///
/// `listed` must be the registry's *whole* listing of the repository (every
/// page), including tags the scanner did not resolve this time (filtered
/// out, or failed): a live tag of the repository missing from it is
/// recorded as deleted. A scanner that could not list the repository
/// completely must not record a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanBatch {
    /// The repository scanned.
    pub repository: RepositoryId,
    /// The scan's time: deletions are recorded at it, and it becomes the
    /// repository's `last_scanned_on` (unless that is later already).
    pub scanned_at: Timestamp,
    /// Every tag name the registry listed.
    pub listed: BTreeSet<String>,
    /// What the scanner resolved: usually one observation per tag, at
    /// `scanned_at`, with the config (a single manifest) or the platform
    /// manifests (an image index) it read. Each tag must be in `listed`.
    pub observations: Vec<Observation>,
}

/// What [`Ledger::record_scan`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScanRecord {
    /// Whether the repository was new to the ledger.
    pub repository_created: bool,
    /// Tags that point somewhere again or for the first time: new to the
    /// ledger, or deleted before.
    pub tags_new: u64,
    /// Live tags that now point to another digest.
    pub tags_moved: u64,
    /// Observed tags whose digest did not change.
    pub tags_unchanged: u64,
    /// Live tags missing from the listing, now deleted.
    pub tags_deleted: u64,
    /// (tag, digest) references created.
    pub references_created: u64,
    /// Manifest relations recorded for the first time.
    pub relations_created: u64,
    /// Moves of immutable tags recorded for the first time (see
    /// [`crate::model::Violation`]): the registry moved a tag its
    /// repository's template makes immutable.
    pub violations_created: u64,
}

/// One tag's part of the write, and where it pointed before.
struct TagPlan {
    state: TagState,
    writes: Vec<TagWrite>,
    before: Option<Digest>,
    deletion: bool,
}

impl Ledger {
    /// Records one scan of one repository in one write transaction: each
    /// observation (and its manifest relations) as [`Ledger::ingest`] does,
    /// a deletion at `scanned_at` for every live tag of the repository that
    /// is not in `listed`, and the repository's `last_scanned_on`. The
    /// repository is created if needed, also for an empty listing. A tag
    /// seen again after a deletion starts a new life (new `created_*`), as
    /// one created again through the API does. Either all of it is
    /// written or nothing.
    ///
    /// A deletion whose time is before the tag's last observation goes
    /// into the past and leaves the tag live (it is not counted).
    ///
    /// ```
    /// use std::collections::BTreeSet;
    /// use ociledger::{Ledger, ScanBatch, id::Digest, model::Observation};
    ///
    /// let ledger = Ledger::in_memory()?;
    /// let repository: ociledger::id::RepositoryId = "ghcr.io/acme/app".parse()?;
    /// let d = Digest::of(ociledger::id::Algorithm::Sha256, b"manifest");
    /// let scan = |at: &str, tags: &[&str]| ScanBatch {
    ///     repository: repository.clone(),
    ///     scanned_at: at.parse().unwrap(),
    ///     listed: tags.iter().map(|t| t.to_string()).collect(),
    ///     observations: tags.iter().map(|t| Observation::new(
    ///         ociledger::id::TagId::new(repository.clone(), t).unwrap(), d, at.parse().unwrap())).collect(),
    /// };
    /// let first = ledger.record_scan("scanner", &scan("2024-01-01T00:00:00Z", &["v1", "v2"]))?;
    /// assert_eq!((first.tags_new, first.tags_deleted), (2, 0));
    /// let second = ledger.record_scan("scanner", &scan("2024-01-02T00:00:00Z", &["v2"]))?;
    /// assert_eq!((second.tags_unchanged, second.tags_deleted), (1, 1));
    /// assert_eq!(ledger.get_repository(&repository)?.last_scanned_on.to_rfc3339(),
    ///            "2024-01-02T00:00:00+00:00");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty actor, an observation of another
    /// repository or of a tag that is not in `listed` (its location names
    /// the observation), a `scanned_at` or an `observed_at` later than the
    /// ledger's clock plus [`super::MAX_CLOCK_SKEW`], or a conflicting
    /// relation; storage errors.
    pub fn record_scan(&self, actor: &str, batch: &ScanBatch) -> Result<ScanRecord> {
        check_actor(actor)?;
        let now = self.now();
        // A future scan time would delete tags and fix `last_scanned_on` in
        // the future, as a future observation would fix a tag.
        let horizon = Horizon::new(now);
        horizon.check(batch.scanned_at, "scanned_at")?;
        let mut by_tag: BTreeMap<&TagId, Vec<TagWrite>> = BTreeMap::new();
        for (i, o) in batch.observations.iter().enumerate() {
            if o.tag.repository() != &batch.repository {
                return Err(Error::Invalid {
                    location: format!("observation {i}: tag"),
                    message: format!("not a tag of the scanned repository {}", batch.repository),
                    value: Some(o.tag.to_string()),
                });
            }
            if !batch.listed.contains(o.tag.tag()) {
                return Err(Error::Invalid {
                    location: format!("observation {i}: tag"),
                    message: "observed but not in the scan's listing".to_owned(),
                    value: Some(o.tag.to_string()),
                });
            }
            horizon
                .check(o.observed_at, "observed_at")
                .map_err(|e| at_item("observation", i, e))?;
            by_tag
                .entry(&o.tag)
                .or_default()
                .push((o.observed_at, Some(o.digest)));
        }
        let scanned_at = store::truncate(batch.scanned_at);
        self.write("record scan", |w| {
            let mut record = ScanRecord::default();
            let (repo, created) =
                w.upsert_scanned_repo(&batch.repository, scanned_at, actor, now)?;
            record.repository_created = created;
            let mut plans = Vec::with_capacity(by_tag.len());
            for (tag, writes) in by_tag {
                let (mut state, created) = w.ensure_tag(tag, repo, actor, now)?;
                if !created && !state.is_live() {
                    Writer::restart_tag(&mut state, actor, now);
                }
                let before = state.current();
                plans.push(TagPlan {
                    state,
                    writes,
                    before,
                    deletion: false,
                });
            }
            for id in w.repo_tags(&batch.repository)? {
                if batch.listed.contains(id.tag()) {
                    continue;
                }
                if let Some(state) = w.tag_state(&id)?.filter(TagState::is_live) {
                    let before = state.current();
                    plans.push(TagPlan {
                        state,
                        writes: vec![(scanned_at, None)],
                        before,
                        deletion: true,
                    });
                }
            }
            // The logs are keyed by tag number: write them in that order.
            plans.sort_unstable_by_key(|p| Writer::tag_order(&p.state));
            for mut plan in plans {
                plan.writes.sort_unstable();
                let written = w.apply(&mut plan.state, &plan.writes, actor, now)?;
                record.violations_created += written.violations;
                let after = plan.state.current();
                match (plan.deletion, plan.before, after) {
                    (true, Some(_), None) => record.tags_deleted += 1,
                    (false, None, Some(_)) => record.tags_new += 1,
                    (false, Some(a), Some(b)) if a != b => record.tags_moved += 1,
                    (false, _, _) => record.tags_unchanged += 1,
                    (true, _, _) => {}
                }
            }
            for (i, o) in batch.observations.iter().enumerate() {
                if let Some(relation) = o.relation() {
                    record.relations_created += w
                        .record_relation(&relation)
                        .map_err(|e| at_item("observation", i, e))?;
                }
            }
            // After the relations: their flag changes create no reference,
            // and the index rows are then written once.
            record.references_created = w.references_created()?;
            Ok(record)
        })
    }
}
