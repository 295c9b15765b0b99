//! The digest index's side of a write: the changes a transaction's tag
//! writes and relations make to `digest_index` rows, collected as they are
//! made and written once per row, in key order, when the transaction
//! finishes.

use std::cmp::Ordering;
use std::sync::Arc;

use redb::ReadableTable;

use super::Writer;
use super::intervals::IndexRun;
use crate::error::{Error, Result};
use crate::id::{Digest, TagId};
use crate::model::ManifestRelation;
use crate::store::names::Names;
use crate::store::packed::{self, IndexEntry};
use crate::store::rows::{self, from_micros};
use crate::store::{OPEN, replace_in_place};

/// One change to a digest's index entries.
#[derive(Debug, Clone, Copy)]
pub(super) enum IndexChange {
    Remove(IndexEntry),
    Add(IndexEntry),
    /// Relation flags to set.
    Flags(u8),
}

/// One digest-index row's groups (one per digest with the row's prefix,
/// almost always one), read and changed by `Writer::flush_index`. Changes
/// are applied in the order they were made, so an entry added and removed
/// again in one transaction (two `apply`s of one tag) leaves the row as it
/// was. Reused from row to row: a row costs no allocation once the first
/// few have sized the buffers.
///
/// It stores each group's entries in the answer's order, an instant's
/// entries by tag name ([`TieNames`]), so a lookup does not sort them.
///
/// It also counts the references the changes create: a tag has an entry in
/// a digest's group for every digest its log names (an interval, or an
/// empty one for an entry that lost its instant), and the log only grows,
/// so a (tag, digest) pair is a new reference exactly when a change adds
/// an entry of the tag to a group that, as read, had none.
#[derive(Debug, Default)]
struct RowGroups {
    groups: Vec<(Digest, u8, Vec<IndexEntry>)>,
    /// Entry vectors of earlier rows' groups, kept for their capacity.
    spare: Vec<Vec<IndexEntry>>,
    /// (group, tag) of the entries as read, sorted.
    tags_read: Vec<(usize, u32)>,
    /// (group, tag) pairs the changes brought that the row as read did not
    /// have: the row's new references.
    tags_new: Vec<(usize, u32)>,
    /// The names that order entries of one instant.
    names: TieNames,
}

/// The tag names a write orders a digest's entries of one instant by: the
/// process's list for the tags older than the transaction, the
/// transaction's own list for those it created.
#[derive(Debug, Default)]
struct TieNames {
    known: Arc<Names>,
    /// `Writer::new_names`, lent for the flush: numbered from `first_new`.
    new: Vec<(u32, u32, TagId)>,
    first_new: u32,
}

impl TieNames {
    fn get(&self, n: u32) -> Option<&TagId> {
        if n >= self.first_new {
            let (m, _, id) = self.new.get(usize::try_from(n - self.first_new).ok()?)?;
            (*m == n).then_some(id)
        } else {
            self.known.get(n).map(|id| &**id)
        }
    }

    /// Puts each run of entries of one instant (as [`packed::answer_order`]
    /// left them) in tag-name order, keeping the order of a tag's own
    /// entries; returns whether every run could be named. A run with a tag
    /// the lists lack stays in tag-number order, and the group goes
    /// unflagged, for lookups to sort.
    fn order_ties(&self, entries: &mut [IndexEntry]) -> bool {
        if entries.len() < 2 {
            return true;
        }
        let instant = |e: &IndexEntry| (e.until != OPEN, e.since);
        let mut named = true;
        for run in entries.chunk_by_mut(|a, b| instant(a) == instant(b)) {
            if run.len() < 2 {
                continue;
            }
            if run.iter().any(|e| self.get(e.tag).is_none()) {
                named = false;
                continue;
            }
            // Stable: one tag's entries (an empty interval beside a real
            // one) keep their order, as a lookup's stable sort keeps it.
            run.sort_by(|a, b| match (self.get(a.tag), self.get(b.tag)) {
                (Some(x), Some(y)) => x.cmp(y),
                _ => Ordering::Equal,
            });
        }
        named
    }
}

impl RowGroups {
    fn named(names: TieNames) -> Self {
        Self {
            names,
            ..Self::default()
        }
    }

    fn clear(&mut self) {
        for (_, _, mut entries) in self.groups.drain(..) {
            entries.clear();
            self.spare.push(entries);
        }
        self.tags_read.clear();
        self.tags_new.clear();
    }

    /// The (tag, digest) references the changes applied so far created.
    fn new_references(&self) -> usize {
        self.tags_new.len()
    }

    /// Reads the stored row `key`, checking each entry as a lookup would.
    fn read(&mut self, key: u64, bytes: &[u8], next_tag: u32) -> Result<()> {
        for g in packed::groups(bytes) {
            // Named only when a group is damaged: formatting the place of
            // every group read cost 1 % of an ingest.
            let place = format_args!("table digest_index, key {key:016x}");
            let g = g.map_err(rows::at(place))?;
            let d = g.digest(key).map_err(rows::at(place))?;
            let mut entries = self.spare.pop().unwrap_or_default();
            let group = self.groups.len();
            for e in g.decode() {
                let e = check_entry(next_tag, &d, e)?;
                self.tags_read.push((group, e.tag));
                entries.push(e);
            }
            self.groups.push((d, g.flags, entries));
        }
        self.tags_read.sort_unstable();
        self.tags_read.dedup();
        Ok(())
    }

    fn apply(&mut self, d: Digest, change: IndexChange) {
        let i = if let Some(i) = self.groups.iter().position(|g| g.0 == d) {
            i
        } else {
            let entries = self.spare.pop().unwrap_or_default();
            self.groups.push((d, 0, entries));
            self.groups.len() - 1
        };
        let Some((_, flags, entries)) = self.groups.get_mut(i) else {
            return;
        };
        match change {
            IndexChange::Add(e) => {
                let pair = (i, e.tag);
                if self.tags_read.binary_search(&pair).is_err() && !self.tags_new.contains(&pair) {
                    self.tags_new.push(pair);
                }
                entries.push(e);
            }
            IndexChange::Remove(e) => {
                if let Some(at) = entries.iter().position(|x| *x == e) {
                    entries.swap_remove(at);
                }
            }
            // Never cleared: relations are content-addressed and permanent.
            IndexChange::Flags(f) => *flags |= f,
        }
    }

    /// Applies `changes` in the order made and writes the row's new value
    /// into `out`.
    fn apply_all<'c>(
        &mut self,
        changes: impl Iterator<Item = &'c (u64, Digest, IndexChange)>,
        out: &mut Vec<u8>,
    ) {
        for (_, d, change) in changes {
            self.apply(*d, *change);
        }
        self.encode(out);
    }

    /// The row's new value; empty when no group is left (the row goes).
    fn encode(&mut self, out: &mut Vec<u8>) {
        let Self { groups, names, .. } = self;
        groups.sort_unstable_by_key(|g| g.0);
        for (d, flags, entries) in groups {
            if *flags == 0 && entries.is_empty() {
                continue;
            }
            packed::answer_order(entries);
            let named = names.order_ties(entries);
            packed::encode_group(out, d, *flags, named, entries);
        }
    }
}

impl Writer<'_> {
    /// Records that tag `n`'s entries in the digest index go from `before`
    /// to `after` (each as [`index_runs`](super::intervals::index_runs)
    /// makes them); `Writer::flush_index` writes them.
    pub(in crate::store) fn reindex(&mut self, n: u32, before: &[IndexRun], after: &[IndexRun]) {
        // Both are in log order, and a write almost always adds at the log's
        // end: only the last interval or two differ, so skip the common
        // prefix before sorting what is left.
        let same = before.iter().zip(after).take_while(|(b, a)| b == a).count();
        let (removed, added) = (&before[same..], &after[same..]);
        // An entry is in neither list twice (a tag's entries are distinct
        // intervals), so each side is checked against the other as a set.
        if removed.len() * added.len() <= 64 {
            // The usual write, one or two entries a side: compared in place,
            // no copies (two allocations per tag written, 1 % of an ingest).
            self.push_index_diff(n, removed, |x| added.contains(x), IndexChange::Remove);
            self.push_index_diff(n, added, |x| removed.contains(x), IndexChange::Add);
        } else {
            let (mut removed, mut added) = (removed.to_vec(), added.to_vec());
            removed.sort_unstable();
            added.sort_unstable();
            self.push_index_diff(
                n,
                &removed,
                |x| added.binary_search(x).is_ok(),
                IndexChange::Remove,
            );
            self.push_index_diff(
                n,
                &added,
                |x| removed.binary_search(x).is_ok(),
                IndexChange::Add,
            );
        }
    }

    /// Records `change` for each of tag `n`'s entries in `entries` the other
    /// side does not have.
    fn push_index_diff(
        &mut self,
        n: u32,
        entries: &[IndexRun],
        other_has: impl Fn(&IndexRun) -> bool,
        change: fn(IndexEntry) -> IndexChange,
    ) {
        for &(d, since, until) in entries.iter().filter(|x| !other_has(x)) {
            self.reindexed.insert(n);
            let entry = IndexEntry {
                tag: n,
                since,
                until: until.unwrap_or(OPEN),
            };
            self.index_changes.push((packed::key(&d), d, change(entry)));
        }
    }

    /// When tag `n`'s interval of `d` that holds instant `held` (one its
    /// log gives `d`) began, as the digest index stores it: a write reads a
    /// tag's log back to where its intervals can change, and a run of one
    /// digest can reach back through the whole log. `None` when the row
    /// holds no such interval (a damaged row: the caller reads the log,
    /// and the transaction's end reports the row).
    pub(in crate::store) fn run_start(&self, n: u32, d: &Digest, held: i64) -> Result<Option<i64>> {
        let Some(row) = self.digest_index.get(packed::key(d))? else {
            return Ok(None);
        };
        let Ok(Some(group)) = packed::find(row.value(), d) else {
            return Ok(None);
        };
        // A tag's intervals of one digest are disjoint: one at most holds
        // `held` (an empty one, of an entry that lost its instant, holds
        // nothing).
        Ok(group
            .decode()
            .find(|e| e.tag == n && e.since <= held && held < e.until)
            .map(|e| e.since)
            .filter(|&since| from_micros(since).is_ok()))
    }

    /// Writes the digest-index changes, in key order: one read-modify-write
    /// per row (digest prefix) a change names, read through `get_mut` so
    /// that a row that does not grow (an interval closed: the moves' other
    /// half) is replaced in place, one descent of the tree where a `get`
    /// and an `insert` took two.
    pub(in crate::store) fn flush_index(&mut self) -> Result<()> {
        let mut row = RowGroups::named(TieNames {
            known: Arc::clone(&self.names),
            new: std::mem::take(&mut self.new_names),
            first_new: self.first_new_tag,
        });
        let written = self.write_index_rows(&mut row);
        self.new_names = std::mem::take(&mut row.names.new);
        written
    }

    /// [`Writer::flush_index`] with the row buffer that holds the names.
    fn write_index_rows(&mut self, row: &mut RowGroups) -> Result<()> {
        let changes = std::mem::take(&mut self.index_changes);
        self.reindexed.clear();
        // Sorted through (key, position) pairs: 16 bytes moved where a
        // change is over 100, and a row's changes are taken in the order
        // made, so an entry added and then removed cancels out.
        let mut order: Vec<(u64, usize)> =
            changes.iter().enumerate().map(|(i, c)| (c.0, i)).collect();
        order.sort_unstable();
        let next_tag = self.next_tag;
        let mut bytes = Vec::new();
        for run in order.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(key, _)) = run.first() else {
                continue;
            };
            // Every key a change names, rewritten or not: a new relation
            // changes its child's or config's answer without a rewrite
            // when the flag is already set.
            self.changed_keys.push(key);
            let named = || run.iter().filter_map(|&(_, i)| changes.get(i));
            row.clear();
            bytes.clear();
            if named().all(|(_, _, change)| matches!(change, IndexChange::Flags(_))) {
                self.write_flags(key, named(), row, &mut bytes, next_tag)?;
                continue;
            }
            if named().all(|(_, _, change)| !matches!(change, IndexChange::Remove(_))) {
                self.write_additions(key, named(), row, &mut bytes, next_tag)?;
                continue;
            }
            // The guard borrows the table: a removal or a new row waits
            // until it is dropped.
            let mut stored = self.digest_index.get_mut(key)?;
            if let Some(guard) = &stored {
                row.read(key, guard.value(), next_tag)?;
            }
            row.apply_all(named(), &mut bytes);
            self.references_created += row.new_references() as u64;
            let done = match stored.as_mut() {
                // Unchanged (changes that cancelled out, or a flag already
                // set), or no longer (an interval closed).
                Some(guard) => {
                    guard.value() == bytes.as_slice()
                        || (!bytes.is_empty() && replace_in_place(guard, &bytes)?)
                }
                // A new row whose changes cancelled out.
                None => bytes.is_empty(),
            };
            drop(stored);
            if done {
                continue;
            }
            if bytes.is_empty() {
                self.digest_index.remove(key)?;
            } else {
                self.digest_index.insert(key, bytes.as_slice())?;
            }
        }
        Ok(())
    }

    /// Writes a row whose changes are all relation flags. It is read with
    /// `get`, which copies no page, and left alone when it already carries
    /// them; else the new value goes in with one `insert`. Read through
    /// `get_mut`, as rows with entries are, every such row had the pages on
    /// its path copied whether or not it changed, and most flags are
    /// repeats: a platform manifest is listed by a new index each time its
    /// image is pushed again (4.4M (index, manifest) pairs for 1.2M
    /// manifests in the 10M set). A flag that is new costs what it did
    /// before: two descents (a `get` and an `insert` where a `get_mut` and
    /// an in-place write or an `insert` were).
    fn write_flags<'c>(
        &mut self,
        key: u64,
        changes: impl Iterator<Item = &'c (u64, Digest, IndexChange)> + Clone,
        row: &mut RowGroups,
        bytes: &mut Vec<u8>,
        next_tag: u32,
    ) -> Result<()> {
        if let Some(stored) = self.digest_index.get(key)? {
            if carries(stored.value(), changes.clone().map(|(_, d, c)| (d, *c))) {
                return Ok(());
            }
            row.read(key, stored.value(), next_tag)?;
        }
        row.apply_all(changes, bytes);
        if !bytes.is_empty() {
            self.digest_index.insert(key, bytes.as_slice())?;
        }
        Ok(())
    }

    /// Writes a row whose changes only add (entries, flags): almost always
    /// a digest seen for the first time, whose row does not exist yet. The
    /// row the changes make on their own goes in with one `insert`, a
    /// single descent where `get_mut` found nothing and `insert` descended
    /// again (a third of the index's cost on ingest). When the insert hands
    /// back a row that was there (another tag already points at the digest),
    /// it is merged with the changes and inserted again: two descents, as
    /// `get_mut` and `insert` were for a row that grows.
    fn write_additions<'c>(
        &mut self,
        key: u64,
        changes: impl Iterator<Item = &'c (u64, Digest, IndexChange)> + Clone,
        row: &mut RowGroups,
        bytes: &mut Vec<u8>,
        next_tag: u32,
    ) -> Result<()> {
        row.apply_all(changes.clone(), bytes);
        let existed = match self.digest_index.insert(key, bytes.as_slice())? {
            Some(stored) => {
                row.clear();
                bytes.clear();
                row.read(key, stored.value(), next_tag)?;
                true
            }
            None => false,
        };
        if existed {
            row.apply_all(changes, bytes);
            self.digest_index.insert(key, bytes.as_slice())?;
        }
        self.references_created += row.new_references() as u64;
        Ok(())
    }

    /// Records a manifest relation (an index's platform manifests, or a
    /// manifest's config); returns how many relations were new. The digests
    /// it makes reachable get their digest-index flags in `flush_index`.
    pub fn record_relation(&mut self, relation: &ManifestRelation) -> Result<u64> {
        let changes = &mut self.index_changes;
        self.relations.record(relation, &mut |d, flag| {
            changes.push((packed::key(&d), d, IndexChange::Flags(flag)));
        })
    }
}

/// Whether the stored row `bytes` already carries every change: each a
/// flag its digest's group has. Anything else (an entry to add or remove,
/// a digest without a group, a group that does not decode) is a change.
fn carries<'c>(bytes: &[u8], mut changes: impl Iterator<Item = (&'c Digest, IndexChange)>) -> bool {
    changes.all(|(d, change)| match change {
        IndexChange::Flags(f) => packed::find(bytes, d)
            .ok()
            .flatten()
            .is_some_and(|g| g.flags & f == f),
        IndexChange::Add(_) | IndexChange::Remove(_) => false,
    })
}

/// An entry read back from the digest index, checked as a lookup would
/// check it (its tag has a row, its instants decode), so a damaged entry is
/// reported instead of being written back beside the new ones.
fn check_entry(next_tag: u32, d: &Digest, e: IndexEntry) -> Result<IndexEntry> {
    let tag = e.tag;
    // Tag numbers are dense (checked when the file is opened), so every
    // number below the next free one has a row.
    if tag >= next_tag {
        return Err(Error::Corrupt(format!(
            "table digest_index, digest {d}, tag number {tag}: no such tag in table tags"
        )));
    }
    let place = format_args!("table digest_index, digest {d}, tag number {tag}");
    from_micros(e.since).map_err(rows::at(place))?;
    if e.until != OPEN {
        from_micros(e.until).map_err(rows::at(place))?;
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::{IndexChange, IndexEntry, RowGroups, TieNames, carries};
    use crate::id::{Digest, TagId};
    use crate::store::packed;

    fn e(tag: u32, since: i64) -> IndexEntry {
        IndexEntry {
            tag,
            since,
            until: since + 1,
        }
    }

    /// `row` after `changes`, encoded, starting from the stored `bytes`.
    fn after(d: Digest, bytes: &[u8], changes: &[IndexChange]) -> Vec<u8> {
        let key = packed::key(&d);
        let mut row = RowGroups::default();
        row.read(key, bytes, 100).unwrap();
        for c in changes {
            row.apply(d, *c);
        }
        let mut out = Vec::new();
        row.encode(&mut out);
        out
    }

    /// Guards the deferred digest index: two `apply`s of one tag in a
    /// transaction must compose, so an entry added then removed (or removed
    /// then added back) leaves the row as stored, and flags accumulate.
    #[test]
    fn an_entry_added_and_removed_in_one_transaction_cancels_out() {
        use IndexChange::{Add, Flags, Remove};
        let d = Digest::of(crate::id::Algorithm::Sha256, b"cancel");
        let mut stored = Vec::new();
        packed::encode_group(&mut stored, &d, 0, true, &[e(2, 20)]);
        let changes = [
            Add(e(1, 10)),
            Remove(e(1, 10)),
            Remove(e(2, 20)),
            Add(e(2, 20)),
        ];
        assert_eq!(after(d, &stored, &changes), stored);

        let mut entries = vec![e(3, 31), e(2, 20)];
        packed::answer_order(&mut entries);
        let mut expected = Vec::new();
        packed::encode_group(&mut expected, &d, 3, true, &entries);
        let changes = [Remove(e(3, 30)), Flags(1), Add(e(3, 31)), Flags(2)];
        assert_eq!(after(d, &stored, &changes), expected);

        // Everything removed and no flag: the row goes.
        assert!(after(d, &stored, &[Remove(e(2, 20))]).is_empty());
    }

    /// Guards the stored order that spares lookups their sort: a digest's
    /// entries of one instant go in tag-name order, not tag-number order
    /// (older tags named from the process's list, this transaction's from
    /// its own), and the group says so; a run with a tag the writer cannot
    /// name stays in number order, unflagged, for lookups to sort.
    #[test]
    fn entries_of_one_instant_are_stored_in_name_order() {
        use crate::store::names::NameCache;
        use IndexChange::Add;
        let id = |s: &str| -> TagId { s.parse().unwrap() };
        let cache = NameCache::default();
        cache.extend_from(0, vec![(0, 0, id("b:2")), (1, 0, id("b:1"))]);
        let names = || TieNames {
            known: cache.current(),
            new: vec![(2, 1, id("a:x"))],
            first_new: 2,
        };
        let d = Digest::of(crate::id::Algorithm::Sha256, b"ties");
        let stored = |names: TieNames, tags: &[u32]| {
            let mut row = RowGroups::named(names);
            for &tag in tags {
                row.apply(d, Add(e(tag, 10)));
            }
            row.apply(d, Add(e(0, 5)));
            let mut out = Vec::new();
            row.encode(&mut out);
            let g = packed::find(&out, &d).unwrap().unwrap();
            let order: Vec<u32> = g.decode().map(|e| e.tag).collect();
            (order, g.name_ordered)
        };
        // a:x (new), b:1, b:2 at instant 10; then b:2's older interval.
        assert_eq!(stored(names(), &[0, 1, 2]), (vec![2, 1, 0, 0], true));
        assert_eq!(stored(names(), &[2, 0, 1]), (vec![2, 1, 0, 0], true));
        // Tag 7 has no name here: its run stays by number, unflagged.
        assert_eq!(stored(names(), &[7, 1, 0]), (vec![0, 1, 7, 0], false));
        // A group without ties needs no names.
        assert_eq!(stored(TieNames::default(), &[3]), (vec![3, 0], true));
    }

    /// Guards the skipped rewrite of `flush_index`: a row is left unread
    /// for writing only when every change is a flag its digest's group
    /// already has. Were a new flag, an entry, or a digest the row lacks
    /// taken as carried, a relation or a tag write would be lost.
    #[test]
    fn only_flags_a_group_already_has_are_carried() {
        use IndexChange::{Add, Flags, Remove};
        let d = Digest::of(crate::id::Algorithm::Sha256, b"carried");
        let other = Digest::of(crate::id::Algorithm::Sha256, b"absent");
        let mut stored = Vec::new();
        packed::encode_group(&mut stored, &d, packed::FLAG_CHILD, true, &[e(2, 20)]);
        let carried =
            |changes: &[(&Digest, IndexChange)]| carries(&stored, changes.iter().copied());
        assert!(carried(&[(&d, Flags(packed::FLAG_CHILD))]));
        assert!(carried(&[
            (&d, Flags(packed::FLAG_CHILD)),
            (&d, Flags(packed::FLAG_CHILD))
        ]));
        assert!(!carried(&[(&d, Flags(packed::FLAG_CONFIG))]));
        assert!(!carried(&[(
            &d,
            Flags(packed::FLAG_CHILD | packed::FLAG_CONFIG)
        )]));
        assert!(!carried(&[
            (&d, Flags(packed::FLAG_CHILD)),
            (&other, Flags(packed::FLAG_CHILD))
        ]));
        assert!(!carried(&[(&d, Add(e(3, 30)))]));
        assert!(!carried(&[(&d, Remove(e(2, 20)))]));
        // A row that does not decode is left to the read that reports it.
        assert!(!carries(
            &stored[..stored.len() - 3],
            [(&d, Flags(packed::FLAG_CHILD))].into_iter()
        ));
    }
}
