//! The classifier's question: which repository:tag is this running container?

use serde::Serialize;

use super::{Ledger, Snapshot};
use crate::error::{Error, Result};
use crate::id::{Digest, ImageRef, TagId};
use crate::model::{TagMatch, TagMutability, Via};

/// How an image was matched, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The digest is what the named tag points to now.
    Current,
    /// The named tag pointed to the digest before: a stale deployment.
    Historical,
    /// The digest is known, but under other tags (or the image string named no tag).
    OtherTags,
    /// The digest is unknown (or not given), but the repository:tag is known.
    TagOnly,
    /// Neither the digest nor the tag is known.
    Unknown,
}

/// The answer to [`Ledger::classify`], with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The image string, canonical.
    pub image: ImageRef,
    /// The digest classified: the one given, else the one in the image string.
    pub digest: Option<Digest>,
    /// The tag the image string names (`latest` when it names neither tag nor digest).
    pub tag: Option<TagId>,
    /// How it matched.
    pub kind: MatchKind,
    /// Where the named tag points now, when the tag is known.
    pub tag_current: Option<Digest>,
    /// How the digest was matched, when not directly: the digest the tag
    /// pointed to (an image index listing the running platform manifest,
    /// with its platform, or the manifest of a running config). The evidence
    /// of the first match; `null` for a direct match or none.
    pub via: Option<Via>,
    /// Every tag interval the digest is known under: the named tag's first
    /// (current before historical), then the others.
    pub matches: Vec<TagMatch>,
    /// Whether the named tag may move, and the rule that says so (its
    /// repository's template); `null` when the repository is not in the ledger.
    pub mutability: Option<TagMutability>,
    /// For a `historical` match of a mutable tag: how many times the tag
    /// changed where it points (a deletion counts) since it last pointed to
    /// the container's digest; `null` otherwise.
    pub moves_behind: Option<u64>,
}

impl Ledger {
    /// Classifies a running container from its image string (as the cluster
    /// shows it: `nginx:1.25`, `docker-pullable://…@sha256:…`) and the digest
    /// it runs, if known (`image_digest` wins over a digest in the string).
    ///
    /// ```
    /// use ociledger::{Ledger, MatchKind};
    ///
    /// let ledger = Ledger::in_memory()?;
    /// let answer = ledger.classify("nginx:1.25", None)?;
    /// assert_eq!(answer.kind, MatchKind::Unknown);
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] for an image string that does not parse; storage errors.
    pub fn classify(&self, image: &str, image_digest: Option<&Digest>) -> Result<Classification> {
        self.snapshot()?.classify(image, image_digest)
    }
}

impl Snapshot {
    /// [`Ledger::classify`] on this snapshot, so a batch shares one read transaction.
    ///
    /// # Errors
    /// As [`Ledger::classify`].
    pub fn classify(&self, image: &str, image_digest: Option<&Digest>) -> Result<Classification> {
        self.view.guarded(|_| {
            let snap = self;
            let image: ImageRef = image.parse().map_err(|e| Error::invalid_id("image", &e))?;
            let digest = image_digest.or(image.digest()).copied();
            let tag = image.effective_tag_id();
            let tag_number = match &tag {
                Some(t) => snap.view.tag_number(t)?,
                None => None,
            };
            let tag_current = match tag_number {
                Some(n) => snap.view.tag_current(n)?,
                None => None,
            };
            let mut matches = match &digest {
                Some(d) => snap.tags_for_digest(d)?,
                None => Vec::new(),
            };
            // The named tag's intervals first, current before historical, so the
            // evidence (`via`) is that of the answer (stable: the store's order is
            // kept otherwise).
            if let Some(t) = &tag {
                matches.sort_by_key(|m| (*m.tag != *t, *m.tag == *t && !m.current));
            }
            let named = |current: bool| {
                tag.as_ref()
                    .is_some_and(|t| matches.iter().any(|m| *m.tag == *t && m.current == current))
            };
            let kind = if named(true) {
                MatchKind::Current
            } else if named(false) {
                MatchKind::Historical
            } else if !matches.is_empty() {
                MatchKind::OtherTags
            } else if tag_current.is_some() {
                MatchKind::TagOnly
            } else {
                MatchKind::Unknown
            };
            let (mutability, moves_behind) = match &tag {
                Some(t) => super::templates::tag_state(&snap.view, t, tag_number, kind, &matches)?,
                None => (None, None),
            };
            Ok(Classification {
                image,
                digest,
                tag,
                kind,
                tag_current,
                via: matches.first().and_then(|m| m.via.as_deref().cloned()),
                matches,
                mutability,
                moves_behind,
            })
        })
    }
}
