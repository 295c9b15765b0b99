//! digest → tags, the classifier's hot path: a view's answer from the
//! file, or from the in-memory copy when the view has one (`memory/`).
//! Both paths make the same matches in the same order: the copy holds the
//! file's rows byte for byte and links only the relations that can add a
//! match.

use std::fmt;
use std::sync::Arc;

use super::View;
use super::answer::{Sink, ViaPlatform, ViaRef};
use crate::error::Result;
use crate::id::Digest;
use crate::model::{Platform, TagMatch, Via};
use crate::store::memory::{CopyView, GroupId, Links};
use crate::store::names::Names;
use crate::store::packed::{self, Group, IndexEntry};
use crate::store::{OPEN, from_micros, rows};

impl View {
    /// Every tag that points or pointed to `digest`, one match per interval:
    /// the direct matches first, then those reached through a manifest
    /// relation (each with its `via`); within each, current ones first, then
    /// newest first. A direct hit is one B-tree point get into the digest
    /// index (or one probe of the copy) and a decode of its packed value,
    /// stored in the answer's order (a group schema 8 wrote is sorted by
    /// name here); names come from memory. Only a value flagged as a child or a config
    /// reads the relation tables (or the copy's links).
    pub(crate) fn tags_for_digest(&self, digest: &Digest) -> Result<Vec<TagMatch>> {
        let mut out = Vec::new();
        self.answer(digest, &mut out)?;
        Ok(out)
    }

    /// [`View::tags_for_digest`] into any [`Sink`]: a `Vec<TagMatch>`, or
    /// a reused [`super::RawAnswer`] that keeps the stored integers.
    pub(crate) fn answer<S: Sink>(&self, digest: &Digest, out: &mut S) -> Result<()> {
        out.clear();
        if let Some(copy) = &self.memory {
            if self.answer_from_copy(copy, digest, out)? == FromCopy::Answered {
                return Ok(());
            }
            // A row the copy holds changed since: the file answers.
            out.clear();
        }
        let Stored {
            flags,
            name_ordered,
        } = self.direct_matches(digest, None, out)?;
        if !name_ordered {
            out.sort_group(&self.names);
        }
        if flags == 0 {
            return Ok(());
        }
        self.indirect_matches(digest, flags, out)
    }

    /// The matches reached through relations from `digest`, whose group's
    /// relation flags are `flags`, after its direct ones. Out of line: most
    /// lookups end before it, and inlined it would cost each of them the
    /// setup of a larger function.
    #[inline(never)]
    fn indirect_matches<S: Sink>(&self, digest: &Digest, flags: u8, out: &mut S) -> Result<()> {
        let direct = out.len();
        // Where matches come from: the parents, and each manifest (with
        // its parents). Only two or more can reach one interval twice.
        let mut sources = 0;
        if flags & packed::FLAG_CHILD != 0 {
            sources += 1;
            self.parent_matches(digest, out)?;
        }
        if flags & packed::FLAG_CONFIG != 0 {
            for manifest in self.relations()?.manifests_of_config(digest)? {
                sources += 1;
                let via = ViaRef {
                    digest: manifest.parts(),
                    platform: None,
                };
                if self.direct_matches(&manifest, Some(&via), out)?.flags & packed::FLAG_CHILD != 0
                {
                    self.parent_matches(&manifest, out)?;
                }
            }
        }
        out.finish_indirect(&self.names, direct, sources > 1);
        Ok(())
    }

    /// [`View::answer`] from the in-memory copy: the same steps, with each
    /// relation read a followed link. Gives up, leaving `out` partly
    /// filled, at the first row it reaches that changed since the copy's
    /// version.
    fn answer_from_copy<S: Sink>(
        &self,
        copy: &CopyView,
        digest: &Digest,
        out: &mut S,
    ) -> Result<FromCopy> {
        if copy.is_stale(digest) {
            return Ok(FromCopy::Stale);
        }
        let index = copy.index();
        let Some((id, group)) = index.group(digest).map_err(in_index(digest))? else {
            return Ok(FromCopy::Answered);
        };
        self.push_matches(digest, &group, None, out)?;
        if !group.name_ordered {
            out.sort_group(&self.names);
        }
        if group.flags == 0 {
            return Ok(FromCopy::Answered);
        }
        self.copied_indirect_matches(copy, id, group.flags, out)
    }

    /// [`View::indirect_matches`] from the copy, for the digest whose group
    /// is `id`; out of line for the same reason.
    #[inline(never)]
    fn copied_indirect_matches<S: Sink>(
        &self,
        copy: &CopyView,
        id: GroupId,
        flags: u8,
        out: &mut S,
    ) -> Result<FromCopy> {
        let index = copy.index();
        let direct = out.len();
        // As in `indirect_matches`; a manifest the copy left out adds no
        // match, so counting only the linked ones is exact.
        let mut sources = 0;
        if flags & packed::FLAG_CHILD != 0 {
            sources += 1;
            if self.copied_parent_matches(copy, index.parents(id), out)? == FromCopy::Stale {
                return Ok(FromCopy::Stale);
            }
        }
        if flags & packed::FLAG_CONFIG != 0 {
            for manifest in index.manifests(id) {
                sources += 1;
                let manifest = manifest?;
                if copy.is_stale_row(manifest.key) {
                    return Ok(FromCopy::Stale);
                }
                let via = ViaRef {
                    digest: manifest.digest(),
                    platform: None,
                };
                self.push_matches(&via.digest, &manifest.group, Some(&via), out)?;
                if manifest.group.flags & packed::FLAG_CHILD != 0
                    && self.copied_parent_matches(copy, index.parents_of(&manifest), out)?
                        == FromCopy::Stale
                {
                    return Ok(FromCopy::Stale);
                }
            }
        }
        out.finish_indirect(&self.names, direct, sources > 1);
        Ok(FromCopy::Answered)
    }

    /// Appends the matches of every image index that lists `child`.
    fn parent_matches<S: Sink>(&self, child: &Digest, out: &mut S) -> Result<()> {
        // One platform for the lookup, its strings' buffers reused from one
        // parent to the next.
        let mut platform = Platform {
            os: String::new(),
            architecture: String::new(),
            variant: None,
            os_version: None,
        };
        self.relations()?.for_each_parent(child, |index, stored| {
            stored.write_into(&mut platform);
            let via = ViaRef {
                digest: index.parts(),
                platform: Some(ViaPlatform::Decoded(&platform)),
            };
            self.direct_matches(&index, Some(&via), out).map(drop)
        })
    }

    /// [`View::parent_matches`] from the copy, for a child's `parents`
    /// (its links); stops at a parent whose row changed since the copy's
    /// version.
    fn copied_parent_matches<S: Sink>(
        &self,
        copy: &CopyView,
        parents: Links<'_>,
        out: &mut S,
    ) -> Result<FromCopy> {
        for parent in parents {
            let parent = parent?;
            if copy.is_stale_row(parent.key) {
                return Ok(FromCopy::Stale);
            }
            let via = ViaRef {
                digest: parent.digest(),
                platform: parent.platform.map(ViaPlatform::Shared),
            };
            self.push_matches(&via.digest, &parent.group, Some(&via), out)?;
        }
        Ok(FromCopy::Answered)
    }

    /// Appends the tag intervals stored in the file under `digest` (each
    /// with `via`) and says what its group's flags say; an unknown digest
    /// adds nothing.
    fn direct_matches<S: Sink>(
        &self,
        digest: &Digest,
        via: Option<&ViaRef<'_>>,
        out: &mut S,
    ) -> Result<Stored> {
        let nothing = Stored {
            flags: 0,
            name_ordered: true,
        };
        let Some(value) = self.digest_index.get(packed::key(digest))? else {
            return Ok(nothing);
        };
        let Some(group) = packed::find(value.value(), digest).map_err(in_index(digest))? else {
            return Ok(nothing);
        };
        self.push_matches(digest, &group, via, out)?;
        Ok(Stored {
            flags: group.flags,
            name_ordered: group.name_ordered,
        })
    }

    /// Appends a match per entry of `digest`'s `group`, each with `via`.
    #[inline]
    fn push_matches<S: Sink>(
        &self,
        digest: &dyn fmt::Display,
        group: &Group<'_>,
        via: Option<&ViaRef<'_>>,
        out: &mut S,
    ) -> Result<()> {
        // The group's real length bounds this (20 bytes per entry).
        let count = group.count();
        if count == 0 {
            return Ok(());
        }
        out.reserve(count);
        let via = out.via(via, group.name_ordered)?;
        for e in group.decode() {
            out.push(self, digest, e, &via)?;
        }
        Ok(())
    }
}

/// What a digest's group says beside its entries.
#[derive(Debug, Clone, Copy)]
struct Stored {
    /// Its relation flags.
    flags: u8,
    /// Whether its entries are in the answer's order, ties of one instant
    /// by name (schema 9); if not, the answer sorts them.
    name_ordered: bool,
}

/// Whether the copy answered a lookup, or reached a row that changed since
/// its version (the file must answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FromCopy {
    Answered,
    Stale,
}

/// Places an error in one entry of `digest`'s digest-index row.
pub(super) fn in_entry<'a>(
    digest: &'a dyn fmt::Display,
    e: &IndexEntry,
) -> impl FnOnce(crate::error::Error) -> crate::error::Error + 'a {
    let tag = e.tag;
    move |err| {
        rows::at(format_args!(
            "table digest_index, digest {digest}, tag number {tag}"
        ))(err)
    }
}

/// Places an error in `digest`'s digest-index row.
fn in_index(digest: &Digest) -> impl FnOnce(crate::error::Error) -> crate::error::Error + '_ {
    move |e| rows::at(format_args!("table digest_index, digest {digest}"))(e)
}

impl Sink for Vec<TagMatch> {
    /// A parent's matches share one `Via`.
    type Via = Option<Arc<Via>>;

    fn clear(&mut self) {
        Vec::clear(self);
    }

    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional);
    }

    fn via(&mut self, via: Option<&ViaRef<'_>>, _name_ordered: bool) -> Result<Option<Arc<Via>>> {
        via.map(|v| v.to_via().map(Arc::new)).transpose()
    }

    #[inline]
    fn push(
        &mut self,
        view: &View,
        digest: &dyn fmt::Display,
        e: IndexEntry,
        via: &Option<Arc<Via>>,
    ) -> Result<()> {
        let instant = |us| from_micros(us).map_err(in_entry(digest, &e));
        Vec::push(
            self,
            TagMatch {
                tag: view.tag_name(e.tag)?,
                current: e.until == OPEN,
                since: instant(e.since)?,
                until: if e.until == OPEN {
                    None
                } else {
                    Some(instant(e.until)?)
                },
                via: via.clone(),
            },
        );
        Ok(())
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn sort_from(&mut self, _names: &Names, from: usize) {
        self[from..].sort_by(|a, b| {
            b.current
                .cmp(&a.current)
                .then(b.since.cmp(&a.since))
                .then_with(|| a.tag.cmp(&b.tag))
                .then_with(|| a.via.cmp(&b.via))
        });
    }

    fn same_interval(&self, i: usize, j: usize) -> bool {
        let (a, b) = (&self[i], &self[j]);
        Arc::ptr_eq(&a.tag, &b.tag)
            && a.since == b.since
            && a.via.as_ref().map(|v| v.digest) == b.via.as_ref().map(|v| v.digest)
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.as_mut_slice().swap(i, j);
    }

    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}
