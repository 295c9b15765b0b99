//! [`Snapshot`]: one consistent view of the ledger for many queries.

use crate::error::Result;
use crate::id::Digest;
use crate::model::{Platform, TagMatch};
use crate::store::{Counts, View};

/// A consistent, read-only view of the ledger at one commit.
///
/// Every query is a method here; the [`crate::Ledger`] methods of the same
/// names take a snapshot for one answer. A classifier that answers many
/// questions takes one snapshot per batch: one read transaction, no lock
/// shared with other threads, and answers that agree with each other.
/// Holding it keeps that commit's pages alive (and makes
/// [`crate::Ledger::compact`] wait): take a new one to see later writes.
///
/// ```
/// # fn main() -> ociledger::Result<()> {
/// let ledger = ociledger::Ledger::in_memory()?;
/// let snap = ledger.snapshot()?;
/// for image in ["nginx:1.25", "ghcr.io/acme/app:v1"] {
///     let answer = snap.classify(image, None)?;
///     assert_eq!(answer.kind, ociledger::MatchKind::Unknown);
/// }
/// # Ok(()) }
/// ```
pub struct Snapshot {
    pub(super) view: View,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

impl Snapshot {
    pub(super) fn new(view: View) -> Self {
        Self { view }
    }

    /// Every tag that points or pointed to `digest`, one [`TagMatch`] per
    /// interval: current ones first, then newest first. An unknown digest
    /// gives an empty list.
    ///
    /// The hot path: one B-tree point get into the digest index and a decode
    /// of its packed value; tag names come from memory.
    ///
    /// # Errors
    /// Storage errors only.
    pub fn tags_for_digest(&self, digest: &Digest) -> Result<Vec<TagMatch>> {
        self.view.guarded(|_| self.view.tags_for_digest(digest))
    }

    /// The image indexes that list `manifest` as one of their platform
    /// manifests, each with the platform: how a platform manifest digest a
    /// runtime reports leads to the tagged index.
    ///
    /// # Errors
    /// Storage errors.
    pub fn indexes_listing(&self, manifest: &Digest) -> Result<Vec<(Digest, Platform)>> {
        self.view.guarded(|_| self.view.parents(manifest))
    }

    /// The config digest of `manifest`, if a scanner recorded it.
    ///
    /// # Errors
    /// Storage errors.
    pub fn config_of(&self, manifest: &Digest) -> Result<Option<Digest>> {
        self.view.guarded(|_| self.view.config_of(manifest))
    }

    /// Row counts of the ledger's tables.
    ///
    /// # Errors
    /// Storage errors.
    pub fn counts(&self) -> Result<Counts> {
        self.view.guarded(|_| self.view.counts())
    }
}
