//! digest → tags, the classifier's hot path: a view's answer from the
//! file, or from the in-memory copy when the view has one (`memory/`).
//! Both paths make the same matches in the same order: the copy holds the
//! file's rows byte for byte and links only the relations that can add a
//! match.

use std::sync::Arc;

use super::View;
use crate::error::Result;
use crate::id::Digest;
use crate::model::{TagMatch, Via};
use crate::store::memory::{GroupId, MemoryIndex};
use crate::store::packed::{self, Group};
use crate::store::{OPEN, from_micros, rows};

impl View {
    /// Every tag that points or pointed to `digest`, one match per interval:
    /// the direct matches first, then those reached through a manifest
    /// relation (each with its `via`); within each, current ones first, then
    /// newest first. A direct hit is one B-tree point get into the digest
    /// index (or one probe of the copy) and a decode of its packed value;
    /// names come from memory. Only a value flagged as a child or a config
    /// reads the relation tables (or the copy's links).
    pub(crate) fn tags_for_digest(&self, digest: &Digest) -> Result<Vec<TagMatch>> {
        if let Some(copy) = &self.memory {
            return self.tags_from_copy(copy, digest);
        }
        let mut out = Vec::new();
        let flags = self.direct_matches(digest, None, &mut out)?;
        sort_matches(&mut out);
        if flags == 0 {
            return Ok(out);
        }
        let direct = out.len();
        if flags & packed::FLAG_CHILD != 0 {
            self.parent_matches(digest, &mut out)?;
        }
        if flags & packed::FLAG_CONFIG != 0 {
            for manifest in self.relations()?.manifests_of_config(digest)? {
                let via = Arc::new(Via {
                    digest: manifest,
                    platform: None,
                });
                if self.direct_matches(&manifest, Some(&via), &mut out)? & packed::FLAG_CHILD != 0 {
                    self.parent_matches(&manifest, &mut out)?;
                }
            }
        }
        finish_indirect(&mut out, direct);
        Ok(out)
    }

    /// [`View::tags_for_digest`] from the in-memory copy: the same steps,
    /// with each relation read a followed link.
    fn tags_from_copy(&self, copy: &MemoryIndex, digest: &Digest) -> Result<Vec<TagMatch>> {
        let mut out = Vec::new();
        let Some((id, group)) = copy.group(digest).map_err(in_index(digest))? else {
            return Ok(out);
        };
        self.push_matches(digest, &group, None, &mut out)?;
        sort_matches(&mut out);
        if group.flags == 0 {
            return Ok(out);
        }
        let direct = out.len();
        if group.flags & packed::FLAG_CHILD != 0 {
            self.copied_parent_matches(copy, id, &mut out)?;
        }
        if group.flags & packed::FLAG_CONFIG != 0 {
            for manifest in copy.manifests(id) {
                let manifest = manifest.map_err(in_index(digest))?;
                let via = Arc::new(Via {
                    digest: manifest.digest,
                    platform: None,
                });
                self.push_matches(&manifest.digest, &manifest.group, Some(&via), &mut out)?;
                if manifest.group.flags & packed::FLAG_CHILD != 0 {
                    self.copied_parent_matches(copy, manifest.id, &mut out)?;
                }
            }
        }
        finish_indirect(&mut out, direct);
        Ok(out)
    }

    /// Appends the matches of every image index that lists `child`.
    fn parent_matches(&self, child: &Digest, out: &mut Vec<TagMatch>) -> Result<()> {
        for (index, platform) in self.relations()?.parents(child)? {
            let via = Arc::new(Via {
                digest: index,
                platform: Some(platform),
            });
            self.direct_matches(&index, Some(&via), out)?;
        }
        Ok(())
    }

    /// [`View::parent_matches`] from the copy, for the child whose group is `child`.
    fn copied_parent_matches(
        &self,
        copy: &MemoryIndex,
        child: GroupId,
        out: &mut Vec<TagMatch>,
    ) -> Result<()> {
        for parent in copy.parents(child) {
            let parent = parent.map_err(rows::at("the in-memory copy's relations"))?;
            let via = Arc::new(Via {
                digest: parent.digest,
                platform: parent.platform.cloned(),
            });
            self.push_matches(&parent.digest, &parent.group, Some(&via), out)?;
        }
        Ok(())
    }

    /// Appends the tag intervals stored in the file under `digest` (each
    /// with `via`) and returns the value's relation flags; an unknown digest
    /// adds nothing.
    fn direct_matches(
        &self,
        digest: &Digest,
        via: Option<&Arc<Via>>,
        out: &mut Vec<TagMatch>,
    ) -> Result<u8> {
        let Some(value) = self.digest_index.get(packed::key(digest))? else {
            return Ok(0);
        };
        let Some(group) = packed::find(value.value(), digest).map_err(in_index(digest))? else {
            return Ok(0);
        };
        self.push_matches(digest, &group, via, out)?;
        Ok(group.flags)
    }

    /// Appends a match per entry of `digest`'s `group`, each with `via`.
    #[inline]
    fn push_matches(
        &self,
        digest: &Digest,
        group: &Group<'_>,
        via: Option<&Arc<Via>>,
        out: &mut Vec<TagMatch>,
    ) -> Result<()> {
        // The group's real length bounds this (20 bytes per entry).
        out.reserve(group.count());
        for e in group.decode() {
            let tag = self.tag_name(e.tag)?;
            let instant = |us| {
                from_micros(us).map_err(rows::at(format_args!(
                    "table digest_index, digest {digest}, tag number {}",
                    e.tag
                )))
            };
            out.push(TagMatch {
                tag,
                current: e.until == OPEN,
                since: instant(e.since)?,
                until: if e.until == OPEN {
                    None
                } else {
                    Some(instant(e.until)?)
                },
                via: via.cloned(),
            });
        }
        Ok(())
    }
}

/// Places an error in `digest`'s digest-index row.
fn in_index(digest: &Digest) -> impl FnOnce(crate::error::Error) -> crate::error::Error + '_ {
    move |e| rows::at(format_args!("table digest_index, digest {digest}"))(e)
}

/// Sorts the matches reached through relations (from `direct` on) and
/// drops repeats: a config shared by two manifests of one index reaches the
/// same interval twice, and the first is kept.
fn finish_indirect(out: &mut Vec<TagMatch>, direct: usize) {
    let indirect = &mut out[direct..];
    sort_matches(indirect);
    // The indirect matches are few (tens), so a quadratic scan beats
    // hashing them.
    let mut kept = direct;
    for i in direct..out.len() {
        let m = &out[i];
        let seen = out[direct..kept].iter().any(|k| {
            Arc::ptr_eq(&k.tag, &m.tag)
                && k.since == m.since
                && k.via.as_ref().map(|v| v.digest) == m.via.as_ref().map(|v| v.digest)
        });
        if !seen {
            out.swap(kept, i);
            kept += 1;
        }
    }
    out.truncate(kept);
}

/// Current first, then newest first, then by tag: the order every lookup answers in.
fn sort_matches(matches: &mut [TagMatch]) {
    matches.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(b.since.cmp(&a.since))
            .then_with(|| a.tag.cmp(&b.tag))
            .then_with(|| a.via.cmp(&b.via))
    });
}
