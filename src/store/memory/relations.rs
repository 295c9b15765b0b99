//! The manifest relations, copied beside the digest index's rows so that a
//! lookup through a platform manifest or a config reads no B-tree either.
//!
//! A link goes from a child's (or a config's) group straight to its
//! parent's (or manifest's) group in the copied rows: following one is a
//! read at a known offset, where the file path ranges over
//! `manifest_parents` and then descends the digest index once per parent.
//! A link is kept only when following it can add to an answer: a parent
//! without intervals, or a parent or manifest without a group, adds
//! nothing in the file path either, so leaving it out changes no answer of
//! the copy's own commit. Such links are listed apart: when a later commit
//! gives the left-out target intervals, the source's answer changes without
//! its row changing, and a view of that commit must read it from the file.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{AccessGuard, ReadOnlyTable, ReadTransaction, ReadableTable, Value};

use super::pages::PageBytes;
use super::rows::{GroupId, IndexRows, cancelled, group_in};
use super::table::RowTable;
use crate::error::{Error, Result};
use crate::id::{Digest, DigestParts};
use crate::model::Platform;
use crate::store::packed::Group;
use crate::store::relations::PlatformRow;
use crate::store::{CONFIG_MANIFESTS, PARENTS, rows};

/// Bytes of a link: target group id (`u64` LE), target row key (`u64`
/// LE), and a word (`u32` LE): an index link's platform number, a config
/// link's offset of the manifest's parents record ([`NONE`]: none noted,
/// so a lookup probes for it).
const LINK: usize = 20;
const NONE: u32 = u32::MAX;

/// One followed link: the digest it reaches (its row key, the rest is in
/// its group), that digest's group, and the platform the child has in it
/// (image index links only). The digest stays in its parts: a lookup
/// builds it only where it writes it, into the answer's via.
pub(crate) struct Link<'a> {
    pub key: u64,
    pub id: GroupId,
    pub group: Group<'a>,
    pub platform: Option<&'a Arc<Platform>>,
    /// Where the manifest's parents are listed (a config's link, when the
    /// copy noted it): following them then needs no probe.
    parents: Option<u64>,
}

impl<'a> Link<'a> {
    /// The digest the link reaches.
    pub fn digest(&self) -> DigestParts<'a> {
        self.group.digest_parts(self.key)
    }
}

/// The copied relations.
pub(super) struct RelationCopy {
    /// A child's group id → offset in `records` of its record.
    parents: RowTable,
    /// A config's group id → offset in `records` of its record.
    manifests: RowTable,
    /// Records: a link count (`u32` LE), then that many links; in
    /// huge-page memory, as the rows are.
    records: PageBytes,
    /// Each distinct platform once, shared with the answers that name it.
    platforms: Vec<Arc<Platform>>,
    links: u64,
    /// Links left out because their target had no group or no intervals,
    /// as (target's row key, source's row key), sorted: when a later
    /// commit gives such a target intervals, the source's answer changes
    /// though its row did not (see [`RelationCopy::dependents`]).
    left_out: Vec<(u64, u64)>,
}

impl RelationCopy {
    /// Copies the relations `txn` sees, linking groups of `rows` (copied
    /// from the same transaction).
    pub fn build(txn: &ReadTransaction, rows: &IndexRows, cancel: &AtomicBool) -> Result<Self> {
        let mut b = Builder {
            rows,
            cancel,
            records: Vec::new(),
            platforms: Vec::new(),
            interned: HashMap::new(),
            links: 0,
            left_out: Vec::new(),
        };
        // A parent adds to an answer only through its intervals.
        let parents = RowTable::new(&b.copy(
            &txn.open_table(PARENTS)?,
            "manifest_parents",
            |b, _, group, v| (group.count() > 0).then(|| b.intern(v.value())).transpose(),
        )?)?;
        // A manifest adds its intervals and, when it is a child, its
        // parents': the link notes where they are listed.
        let manifests = b.copy(
            &txn.open_table(CONFIG_MANIFESTS)?,
            "config_manifests",
            |_, id, _, _| {
                Ok(Some(
                    parents
                        .get(id)
                        .and_then(|at| u32::try_from(at).ok())
                        .unwrap_or(NONE),
                ))
            },
        )?;
        // Built in a `Vec` (records are cut back when they end empty), then
        // moved: a copy of a tenth of the rows' bytes.
        let mut records = PageBytes::with_capacity(b.records.len())?;
        records.extend_from_slice(&b.records)?;
        let mut left_out = b.left_out;
        left_out.sort_unstable();
        left_out.dedup();
        Ok(Self {
            parents,
            manifests: RowTable::new(&manifests)?,
            records,
            platforms: b.platforms,
            links: b.links,
            left_out,
        })
    }

    /// The row keys of digests whose answer follows a link the copy left
    /// out to a digest under `key`: if a later commit changes that row,
    /// their answers may change too.
    pub fn dependents(&self, key: u64) -> impl Iterator<Item = u64> + '_ {
        let start = self.left_out.partition_point(|&(to, _)| to < key);
        self.left_out
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(move |&&(to, _)| to == key)
            .map(|&(_, from)| from)
    }

    /// Links held.
    pub fn len(&self) -> u64 {
        self.links
    }

    /// Memory the relations take (platforms' strings not counted: a few
    /// hundred distinct platforms).
    pub fn heap_bytes(&self) -> usize {
        self.records.resident_bytes()
            + self.parents.heap_bytes()
            + self.manifests.heap_bytes()
            // Each `Arc`'s allocation: the platform and two counts.
            + self.platforms.len() * (std::mem::size_of::<Platform>() + 2 * std::mem::size_of::<usize>())
            + self.platforms.capacity() * std::mem::size_of::<Arc<Platform>>()
            + self.left_out.capacity() * 16
    }

    /// The image indexes listing the child whose group is `child` and
    /// that have intervals, in `manifest_parents` order.
    pub fn parents<'a>(&'a self, rows: &'a IndexRows, child: GroupId) -> Links<'a> {
        self.follow(rows, self.parents.get(child), Target::Parents)
    }

    /// [`RelationCopy::parents`] of the manifest a config's link reached:
    /// where the link notes them, without a probe.
    pub fn parents_of<'a>(&'a self, rows: &'a IndexRows, manifest: &Link<'_>) -> Links<'a> {
        let record = manifest.parents.or_else(|| self.parents.get(manifest.id));
        self.follow(rows, record, Target::Parents)
    }

    /// The manifests whose config is the digest whose group is `config`
    /// and that have a group, in `config_manifests` order.
    pub fn manifests<'a>(&'a self, rows: &'a IndexRows, config: GroupId) -> Links<'a> {
        self.follow(rows, self.manifests.get(config), Target::Manifests)
    }

    fn follow<'a>(&'a self, rows: &'a IndexRows, record: Option<u64>, target: Target) -> Links<'a> {
        let links = record
            .and_then(|at| usize::try_from(at).ok())
            .and_then(|at| {
                let (count, rest) = self
                    .records
                    .as_slice()
                    .get(at..)?
                    .split_first_chunk::<4>()?;
                rest.get(..(u32::from_le_bytes(*count) as usize).checked_mul(LINK)?)
            })
            .unwrap_or_default();
        Links {
            copy: self,
            rows,
            target,
            ahead: links,
        }
    }
}

/// The links of one record, followed one by one.
pub(crate) struct Links<'a> {
    copy: &'a RelationCopy,
    rows: &'a IndexRows,
    target: Target,
    /// The links not followed yet.
    ahead: &'a [u8],
}

impl<'a> Iterator for Links<'a> {
    type Item = Result<Link<'a>>;

    /// Inlined into the loop that follows links: called, it returned each
    /// `Link` through memory, about 40 instructions a link more (callgrind,
    /// the twentieth run in docs/benchmarks.md).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn next(&mut self) -> Option<Result<Link<'a>>> {
        let (link, rest) = self.ahead.split_first_chunk::<LINK>()?;
        self.ahead = rest;
        let (id, rest) = link.split_at(8);
        let (key, word) = rest.split_at(8);
        let id = u64::from_le_bytes(id.try_into().unwrap_or_default());
        let key = u64::from_le_bytes(key.try_into().unwrap_or_default());
        let word = u32::from_le_bytes(word.try_into().unwrap_or_default());
        let noted = (word != NONE).then_some(word);
        let (platform, parents) = match self.target {
            Target::Parents => (
                noted.and_then(|p| self.copy.platforms.get(p as usize)),
                None,
            ),
            Target::Manifests => (None, noted.map(u64::from)),
        };
        let group = match self.rows.group_at(id) {
            Ok(group) => group,
            Err(e) => return Some(Err(rows::at("the in-memory copy's relations")(e))),
        };
        Some(Ok(Link {
            key,
            id,
            group,
            platform,
            parents,
        }))
    }
}

/// What a record's links reach, which says what their word holds.
#[derive(Clone, Copy)]
enum Target {
    /// Image indexes: the word is the child's platform number.
    Parents,
    /// Manifests: the word is where the manifest's parents are listed.
    Manifests,
}

/// Relation rows resolved together by [`Builder::copy`]: enough for the
/// misses of one batch to overlap, few enough that its slots and rows stay
/// in cache until they are used.
const PROBES: usize = 256;

/// A row of the copy and where it starts (an empty row: none).
type Located<'a> = (u64, &'a [u8]);

/// The record being filled: the `from` digest it belongs to, and its group
/// id and start when that digest has a group.
#[derive(Default)]
struct Record {
    from: Option<Digest>,
    open: Option<(GroupId, usize)>,
}

struct Builder<'r> {
    rows: &'r IndexRows,
    cancel: &'r AtomicBool,
    records: Vec<u8>,
    platforms: Vec<Arc<Platform>>,
    /// A stored platform's bytes → its number.
    interned: HashMap<Vec<u8>, u32>,
    links: u64,
    left_out: Vec<(u64, u64)>,
}

impl Builder<'_> {
    /// Copies one relation table, keyed (from, to): one record per `from`
    /// with a group, holding a link to each `to` with a group for which
    /// `word` gives the link's word, from the `to` group's id, the group
    /// and the row's value (`None`: the link could add nothing).
    ///
    /// The rows are resolved [`PROBES`] at a time: each `to` is a random
    /// digest, so finding its group is a cache (and TLB) miss on the slot
    /// and another on the row; probing a batch before using any answer lets
    /// those misses overlap instead of following one another.
    fn copy<'t, V: Value + 'static>(
        &mut self,
        table: &'t ReadOnlyTable<(&'static [u8], &'static [u8]), V>,
        name: &'static str,
        word: impl Fn(&mut Self, GroupId, &Group<'_>, &AccessGuard<'t, V>) -> Result<Option<u32>>,
    ) -> Result<Vec<(u64, u64)>> {
        let mut keys = Vec::new();
        let mut record = Record::default();
        let mut batch: Vec<(Digest, Digest, AccessGuard<'t, V>)> = Vec::with_capacity(PROBES);
        for (i, row) in table.iter()?.enumerate() {
            if i % 4096 == 0 && self.cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            let (k, v) = row?;
            let (from, to) = k.value();
            batch.push((digest_at(from, name)?, digest_at(to, name)?, v));
            if batch.len() == PROBES {
                self.resolve(&mut batch, &mut record, &mut keys, &word)?;
            }
        }
        self.resolve(&mut batch, &mut record, &mut keys, &word)?;
        self.close(record.open, &mut keys);
        Ok(keys)
    }

    /// Links a batch of relation rows, in order, and empties it.
    fn resolve<'t, V: Value + 'static>(
        &mut self,
        batch: &mut Vec<(Digest, Digest, AccessGuard<'t, V>)>,
        record: &mut Record,
        keys: &mut Vec<(u64, u64)>,
        word: &impl Fn(&mut Self, GroupId, &Group<'_>, &AccessGuard<'t, V>) -> Result<Option<u32>>,
    ) -> Result<()> {
        let rows = self.rows;
        // First every slot, then every row: independent loads, in flight
        // together. A `from` is probed where it changes (rows come in
        // `from` order).
        let mut previous = record.from;
        let found: Vec<(Option<u64>, Option<u64>)> = batch
            .iter()
            .map(|(from, to, _)| {
                let starts = previous != Some(*from);
                previous = Some(*from);
                (starts.then(|| rows.locate(from)).flatten(), rows.locate(to))
            })
            .collect();
        let row = |at: Option<u64>| at.map_or((0, &[][..]), |at| (at, rows.row(at)));
        let targets: Vec<(Located<'_>, Located<'_>)> = found
            .iter()
            .map(|&(from, to)| (row(from), row(to)))
            .collect();
        for ((from, to, v), (source, (at, row))) in batch.drain(..).zip(targets) {
            if record.from != Some(from) {
                self.close(record.open.take(), keys);
                record.from = Some(from);
                record.open = self.open(source, &from)?;
            }
            if record.open.is_none() {
                continue;
            }
            let linked = match group_in(at, row, &to)? {
                Some((id, group)) => word(self, id, &group, &v)?.map(|w| self.push(id, &to, w)),
                None => None,
            };
            if linked.is_none() {
                let key = crate::store::packed::key;
                self.left_out.push((key(&to), key(&from)));
            }
        }
        Ok(())
    }

    /// Starts the record of `from`, if it has a group in `row` (the row at
    /// `at` where `from`'s group would be).
    fn open(&mut self, (at, row): Located<'_>, from: &Digest) -> Result<Option<(GroupId, usize)>> {
        let Some((id, _)) = group_in(at, row, from)? else {
            return Ok(None);
        };
        let at = self.records.len();
        self.records.extend_from_slice(&0u32.to_le_bytes());
        Ok(Some((id, at)))
    }

    /// Appends a link to the open record.
    fn push(&mut self, to: GroupId, digest: &Digest, word: u32) {
        self.records.extend_from_slice(&to.to_le_bytes());
        self.records
            .extend_from_slice(&crate::store::packed::key(digest).to_le_bytes());
        self.records.extend_from_slice(&word.to_le_bytes());
        self.links += 1;
    }

    /// Ends a record: its count is written, or it is dropped when empty.
    fn close(&mut self, record: Option<(GroupId, usize)>, keys: &mut Vec<(u64, u64)>) {
        let Some((id, at)) = record else {
            return;
        };
        let links = (self.records.len() - at - 4) / LINK;
        if links == 0 {
            self.records.truncate(at);
            return;
        }
        let count = u32::try_from(links).unwrap_or(u32::MAX).to_le_bytes();
        self.records[at..at + 4].copy_from_slice(&count);
        keys.push((id, at as u64));
    }

    /// The number of the platform stored as `bytes`.
    fn intern(&mut self, bytes: &[u8]) -> Result<u32> {
        if let Some(&n) = self.interned.get(bytes) {
            return Ok(n);
        }
        let platform: Platform = rows::decode::<PlatformRow>("manifest_parents", bytes)?.into();
        let n = u32::try_from(self.platforms.len())
            .ok()
            .filter(|&n| n != NONE)
            .ok_or_else(|| Error::Corrupt("over 2^32 distinct platforms".to_owned()))?;
        self.platforms.push(Arc::new(platform));
        self.interned.insert(bytes.to_vec(), n);
        Ok(n)
    }
}

fn digest_at(bytes: &[u8], table: &str) -> Result<Digest> {
    Digest::from_compact(bytes)
        .map_err(|e| Error::Corrupt(format!("table {table}, digest {}: {e}", rows::Hex(bytes))))
}
