//! [`Lookup`]: digest → tags into a buffer reused across lookups, for
//! classifiers that answer millions of digests and read each answer once.

use crate::error::Result;
use crate::id::Digest;
use crate::model::TagMatchRef;
use crate::store::RawAnswer;

use super::Snapshot;

/// Digest → tags on one [`Snapshot`], answered into a buffer that the next
/// lookup reuses: after the first few lookups it allocates nothing, touches
/// no reference count and converts no dates, where
/// [`Snapshot::tags_for_digest`] builds a `Vec` of owned [`crate::model::TagMatch`]es.
/// The matches, their order and the errors are the same as that method's
/// (the two share one code path, generic over where matches go).
///
/// Take one per thread (it is cheap) with [`Snapshot::lookup`].
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ociledger::{Ledger, model::Observation};
/// let ledger = Ledger::in_memory()?;
/// let seen: Observation = serde_json::from_str(r#"{"repository": "nginx", "tag": "1.25",
///     "digest": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
///     "observed_at": "2023-11-14T22:13:20Z"}"#)?;
/// let digest = seen.digest;
/// ledger.ingest("scanner", &[seen])?;
/// let snap = ledger.snapshot()?;
/// let mut lookup = snap.lookup();
/// for running in [digest, digest] {
///     let answer = lookup.tags_for_digest(&running)?;
///     let current: Vec<String> = answer
///         .iter()
///         .filter(|m| m.is_current())
///         .map(|m| m.tag().to_string())
///         .collect();
///     assert_eq!(current, ["docker.io/library/nginx:1.25"]);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Lookup<'s> {
    snapshot: &'s Snapshot,
    answer: RawAnswer,
}

impl Snapshot {
    /// A [`Lookup`] on this snapshot: digest → tags into a reused buffer.
    #[must_use]
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup {
            snapshot: self,
            answer: RawAnswer::default(),
        }
    }
}

impl Lookup<'_> {
    /// Every tag that points or pointed to `digest`, as
    /// [`Snapshot::tags_for_digest`] answers it, borrowed from this buffer
    /// until the next lookup.
    ///
    /// # Errors
    /// Storage errors only, as [`Snapshot::tags_for_digest`]; after one,
    /// the buffer is empty.
    pub fn tags_for_digest(&mut self, digest: &Digest) -> Result<Matches<'_>> {
        let view = &self.snapshot.view;
        let answer = &mut self.answer;
        if let Err(e) = view.guarded(|v| v.answer(digest, answer)) {
            self.answer = RawAnswer::default();
            return Err(e);
        }
        Ok(Matches {
            snapshot: self.snapshot,
            answer: &self.answer,
        })
    }
}

/// The answer of one [`Lookup::tags_for_digest`]: current matches first,
/// then newest first, direct ones before those reached through a relation.
#[derive(Debug, Clone, Copy)]
pub struct Matches<'a> {
    snapshot: &'a Snapshot,
    answer: &'a RawAnswer,
}

impl<'a> Matches<'a> {
    /// How many matches (one per interval).
    #[must_use]
    pub fn len(&self) -> usize {
        self.answer.len()
    }

    /// Whether no tag ever pointed to the digest.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.answer.len() == 0
    }

    /// Match `i`, in answer order.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<TagMatchRef<'a>> {
        self.answer.get(self.snapshot.view.names(), i)
    }

    /// The matches in answer order.
    pub fn iter(&self) -> impl Iterator<Item = TagMatchRef<'a>> + 'a {
        let (names, answer) = (self.snapshot.view.names(), self.answer);
        (0..answer.len()).filter_map(move |i| answer.get(names, i))
    }
}
