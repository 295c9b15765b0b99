//! One repository's scan: list, resolve each chosen tag, read the manifests
//! the ledger does not know yet (verified), then record everything in one
//! [`Ledger::record_scan`].

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use futures_util::{StreamExt, future::try_join_all, stream};
use tokio::sync::OnceCell;

use super::client::{Registry, Reply};
use super::manifest::{self, Parsed};
use super::{Credentials, Options, Progress, RepositoryReport, ScanError, TagFailure};
use crate::id::{Digest, RepositoryId, TagId};
use crate::model::{Observation, PlatformManifest, Timestamp};
use crate::{Ledger, ScanBatch, Snapshot};

/// What the scan learned about a tag's digest.
#[derive(Debug, Clone)]
enum Described {
    /// The ledger knows it already: nothing to record beyond the tag.
    Known,
    /// An image index and its platform manifests (with their configs).
    Index(Vec<PlatformManifest>),
    /// A single manifest and its config.
    Manifest(Digest),
    /// A manifest of another kind: only the tag is recorded.
    Other,
}

type Shared<T> = Rc<OnceCell<Result<T, String>>>;

/// The tag resolutions of one repository's scan, sharing one ledger
/// snapshot and one download per digest (two tags on one new index, or a
/// manifest both tagged and listed in an index, fetch it once).
struct Resolver<'r, 'a> {
    registry: &'r Registry<'a>,
    snapshot: Snapshot,
    fetched: RefCell<HashMap<Digest, Shared<Parsed>>>,
}

pub(super) async fn scan(
    options: &Options,
    credentials: Option<&Credentials>,
    scanned_at: Timestamp,
    ledger: &Ledger,
    actor: &str,
    repository: &RepositoryId,
    progress: &dyn Fn(Progress<'_>),
) -> RepositoryReport {
    let mut report = RepositoryReport::empty(repository, scanned_at);
    let registry = match Registry::new(options, repository, credentials) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let outcome = run(&registry, options, ledger, actor, progress, &mut report).await;
    report.requests = registry.counters.requests.get();
    report.retries = registry.counters.retries.get();
    report.manifests_fetched = registry.counters.manifests.get();
    if let Err(e) = outcome {
        report.error = Some(e);
    }
    report
}

async fn run(
    registry: &Registry<'_>,
    options: &Options,
    ledger: &Ledger,
    actor: &str,
    progress: &dyn Fn(Progress<'_>),
    report: &mut RepositoryReport,
) -> Result<(), ScanError> {
    let repository = report.repository.clone();
    let scanned_at = report.scanned_at;
    let resolver = Resolver {
        registry,
        snapshot: ledger.snapshot()?,
        fetched: RefCell::default(),
    };
    registry.authenticate().await?;
    let listed = registry.list_tags().await?;
    let chosen: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|t| options.tags.matches(t))
        .collect();
    report.tags_listed = listed.len() as u64;
    report.tags_scanned = chosen.len() as u64;
    progress(Progress::Listed {
        repository: &repository,
        tags: chosen.len(),
    });
    let shared = &resolver;
    let repo = &repository;
    let mut results: Vec<Result<Observation, TagFailure>> = stream::iter(chosen)
        .map(|tag| async move {
            let result = shared.tag(repo, tag, scanned_at).await;
            progress(Progress::Resolved {
                repository: repo,
                tag,
            });
            result
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| tag_of(a).cmp(tag_of(b)));
    let mut observations = Vec::new();
    for result in results {
        match result.and_then(|o| resolver.check(&o).map(|()| o)) {
            Ok(o) => observations.push(o),
            Err(f) => report.failures.push(f),
        }
    }
    // The snapshot is let go before the write.
    drop(resolver);
    let batch = ScanBatch {
        repository,
        scanned_at,
        listed: listed.into_iter().collect::<BTreeSet<_>>(),
        observations,
    };
    let record = ledger.record_scan(actor, &batch)?;
    report.add_record(&record);
    Ok(())
}

fn tag_of(r: &Result<Observation, TagFailure>) -> &str {
    match r {
        Ok(o) => o.tag.tag(),
        Err(f) => &f.tag,
    }
}

fn failure(tag: &str, digest: Option<Digest>, reason: impl Into<String>) -> TagFailure {
    TagFailure {
        tag: tag.to_owned(),
        digest,
        reason: reason.into(),
    }
}

fn ledger_error(e: &crate::Error) -> String {
    format!("reading the ledger: {e}")
}

impl Resolver<'_, '_> {
    /// One tag: its digest, and what the ledger does not know of it yet.
    async fn tag(
        &self,
        repository: &RepositoryId,
        tag: &str,
        at: Timestamp,
    ) -> Result<Observation, TagFailure> {
        let id = TagId::new(repository.clone(), tag).map_err(|e| {
            failure(
                tag,
                None,
                format!("the registry lists a tag name that is not one: {e}"),
            )
        })?;
        let (digest, body) = self
            .registry
            .resolve(tag)
            .await
            .map_err(|e| failure(tag, None, e.to_string()))?;
        let described = self
            .describe(digest, body)
            .await
            .map_err(|reason| failure(tag, Some(digest), reason))?;
        let mut o = Observation::new(id, digest, at);
        match described {
            Described::Index(manifests) => o.manifests = manifests,
            Described::Manifest(config) => o.config = Some(config),
            Described::Known | Described::Other => {}
        }
        Ok(o)
    }

    /// Whether the ledger knows `digest` already: a tag pointed to it (the
    /// scan that saw it recorded its relations in the same transaction), or
    /// its config is recorded.
    fn known(&self, digest: &Digest) -> Result<bool, String> {
        if self
            .snapshot
            .config_of(digest)
            .map_err(|e| ledger_error(&e))?
            .is_some()
        {
            return Ok(true);
        }
        Ok(self
            .snapshot
            .tags_for_digest(digest)
            .map_err(|e| ledger_error(&e))?
            .iter()
            .any(|m| m.via.is_none()))
    }

    /// What `digest` is, downloading it unless the ledger knows it.
    /// `prefetched` is its body when resolving the tag downloaded it already.
    async fn describe(
        &self,
        digest: Digest,
        prefetched: Option<Reply>,
    ) -> Result<Described, String> {
        if self.known(&digest)? {
            return Ok(Described::Known);
        }
        match self.parsed(digest, prefetched).await? {
            Parsed::Manifest { config } => Ok(Described::Manifest(config)),
            Parsed::Other => Ok(Described::Other),
            Parsed::Index(children) => {
                // One platform per (index, manifest): an index that lists a
                // manifest twice keeps the first entry's platform.
                let mut seen = HashSet::new();
                let entries = children.into_iter().filter_map(|c| {
                    let platform = c.platform?;
                    seen.insert(c.digest)
                        .then_some((c.digest, platform, c.is_index))
                });
                let url = self.url(&digest);
                let url = &url;
                let manifests = try_join_all(entries.map(|(child, platform, nested)| async move {
                    if child == digest {
                        return Err(format!("{url}: the image index lists itself"));
                    }
                    let config = if nested {
                        None
                    } else {
                        self.config_of(child).await?
                    };
                    Ok(PlatformManifest {
                        digest: child,
                        platform,
                        config,
                    })
                }))
                .await?;
                Ok(Described::Index(manifests))
            }
        }
    }

    /// The manifest `digest`, downloaded and verified at most once per scan
    /// (whether a tag or an index names it), and read.
    async fn parsed(&self, digest: Digest, prefetched: Option<Reply>) -> Result<Parsed, String> {
        let cell = Rc::clone(self.fetched.borrow_mut().entry(digest).or_default());
        cell.get_or_init(|| async move {
            let reply = match prefetched {
                Some(reply) => reply,
                None => self
                    .registry
                    .manifest(&digest)
                    .await
                    .map_err(|e| e.to_string())?,
            };
            manifest::parse(&self.url(&digest), &reply.body, reply.content_type())
                .map_err(|e| e.to_string())
        })
        .await
        .clone()
    }

    /// The config of a platform manifest: from the ledger, or from the
    /// manifest, downloaded once per scan.
    async fn config_of(&self, manifest: Digest) -> Result<Option<Digest>, String> {
        if let Some(config) = self
            .snapshot
            .config_of(&manifest)
            .map_err(|e| ledger_error(&e))?
        {
            return Ok(Some(config));
        }
        match self
            .parsed(manifest, None)
            .await
            .map_err(|e| format!("platform manifest {manifest}: {e}"))?
        {
            Parsed::Manifest { config } => Ok(Some(config)),
            Parsed::Index(_) | Parsed::Other => Ok(None),
        }
    }

    fn url(&self, digest: &Digest) -> String {
        self.registry
            .manifest_url(&digest.to_string())
            .map_or_else(|_| digest.to_string(), |u| u.to_string())
    }

    /// Refuses an observation whose relations the ledger would refuse (a
    /// different config or platform than it records, a self-reference), so
    /// that one odd manifest fails its tag instead of the repository's
    /// whole write.
    fn check(&self, o: &Observation) -> Result<(), TagFailure> {
        let fail = |reason: String| failure(o.tag.tag(), Some(o.digest), reason);
        let config_conflict = |manifest: &Digest, config: &Digest| -> Result<(), TagFailure> {
            if manifest == config {
                return Err(fail(format!(
                    "manifest {manifest} names itself as its config"
                )));
            }
            match self.snapshot.config_of(manifest) {
                Ok(Some(old)) if &old != config => Err(fail(format!(
                    "manifest {manifest} names config {config}, but the ledger records {old} for it"
                ))),
                Ok(_) => Ok(()),
                Err(e) => Err(fail(ledger_error(&e))),
            }
        };
        if let Some(config) = &o.config {
            config_conflict(&o.digest, config)?;
        }
        for child in &o.manifests {
            if let Some(config) = &child.config {
                config_conflict(&child.digest, config)?;
            }
            let parents = self
                .snapshot
                .indexes_listing(&child.digest)
                .map_err(|e| fail(ledger_error(&e)))?;
            if let Some((_, old)) = parents
                .iter()
                .find(|(index, p)| index == &o.digest && p != &child.platform)
            {
                return Err(fail(format!(
                    "image index {} lists {} for platform {}, but the ledger records {old}",
                    o.digest, child.digest, child.platform
                )));
            }
        }
        Ok(())
    }
}
