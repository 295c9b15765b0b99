//! Writes: everything that changes the file happens through a [`Writer`],
//! inside one redb write transaction that the ledger commits only when the
//! whole operation succeeded.

use super::journal::JournalWriter;
use super::log::{self, LogEntry, TAG_LOG};

use std::collections::HashSet;
use std::sync::Arc;

use foldhash::fast::RandomState as FoldHash;
use redb::{ReadableTable, Table, WriteTransaction};

mod index;
mod intervals;
mod repos;
mod tags;

use index::IndexChange;
pub(super) use intervals::index_runs;
use intervals::{IndexRun, Seam, Search, check_instant, log_keys};

use super::changes::{self, INDEX_CHANGES, Mark};
use super::names::{NameCache, Names};
use super::numbers::TagNumbers;
use super::relations::RelationWriter;
use super::rows::{self, TagRow, micros};
use super::tag_keys::TAG_KEYS;
use super::{DIGEST_INDEX, REPO_KEYS, REPOS, TAGS};
use crate::error::{Error, Result};
use crate::id::{Digest, TagId};
use crate::model::{Tag, Timestamp};

/// One entry to add to a tag's move log: an instant and a digest, or `None`
/// for a deletion.
pub(crate) type TagWrite = (Timestamp, Option<Digest>);

/// A tag as a write transaction holds it: its number and its row, written
/// back by [`Writer::apply`]. One state per tag per transaction: like the
/// row, the log it holds is as of its loading, so a second state of the same
/// tag applied after the first would write back stale copies.
pub(crate) struct TagState {
    n: u32,
    row: TagRow,
    /// Where it points: its log's last entry, read with the row and kept
    /// by [`Writer::apply`].
    current: Option<Digest>,
    /// The log as read for `current`, handed to the next `apply` so that
    /// an ingest reads each tag's log once (`None`: read it there).
    chunks: Option<Vec<log::Chunk>>,
    /// Whether `row` differs from the stored one (a new tag, or its audit
    /// touched): `apply` writes it back only then.
    row_changed: bool,
}

impl TagState {
    /// Whether the tag exists and is not deleted.
    pub fn is_live(&self) -> bool {
        self.current.is_some()
    }

    /// Where it points now; `None` once deleted (or not yet pointing).
    pub fn current(&self) -> Option<Digest> {
        self.current
    }

    /// The tag record; `None` while deleted.
    pub fn to_record(&self, id: &TagId) -> Result<Option<Tag>> {
        self.row.to_record(id, self.current)
    }
}

/// What a write changed, for summaries and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteSummary {
    /// Distinct observations added to move logs.
    pub recorded: u64,
    /// Tags whose current digest changed.
    pub tags_moved: u64,
    /// Violations (moves of immutable tags) recorded for the first time.
    pub violations: u64,
}

/// The tables of one write transaction, opened once.
pub(crate) struct Writer<'t> {
    repo_keys: Table<'t, &'static str, u32>,
    repos: Table<'t, u32, &'static [u8]>,
    tag_keys: Table<'t, (u32, &'static str), u32>,
    tags: Table<'t, u32, &'static [u8]>,
    tag_log: Table<'t, (u32, i64), &'static [u8]>,
    digest_index: Table<'t, u64, &'static [u8]>,
    /// This batch's journal record.
    journal: JournalWriter<'t>,
    next_repo: u32,
    next_tag: u32,
    /// Tags created in this transaction, for the name cache: tag number,
    /// repository number, ID.
    pub new_names: Vec<(u32, u32, TagId)>,
    /// The names of the tags older than this transaction, as far as the
    /// process knows them ([`Writer::take_names`]): `flush_index` stores a
    /// digest's entries of one instant in name order with them.
    names: Arc<Names>,
    /// Tag IDs → numbers for the tags older than this transaction, as far
    /// as the process knows them ([`Writer::take_numbers`]; empty: ask
    /// `tag_keys` for every tag).
    numbers: Arc<TagNumbers>,
    /// Tags created by `ensure_tag` that `apply` has not seen yet: their log
    /// is known to be empty, so it is not read.
    /// Indexed by number from `first_new_tag` (new tags are numbered in turn).
    unapplied: Vec<bool>,
    /// The first number a tag created in this transaction gets.
    first_new_tag: u32,
    /// Digest-index changes of this transaction, applied by
    /// `Writer::flush_index` in key order: a batch's digests are random, and
    /// redb rewrites a page once per transaction however many of its keys
    /// change, so sorted writes touch each page once while it is hot.
    /// Recorded in the order made (a push each: cheaper than an ordered map
    /// per change) with the index's key, sorted once by `flush_index`.
    index_changes: Vec<(u64, Digest, IndexChange)>,
    /// The digest-index keys `flush_index` touched, and the index's
    /// version when the transaction began: the commit's row of
    /// `index_changes`, for processes that keep a copy of the index.
    changed_keys: Vec<u64>,
    /// A tag's digest-index entries before and after `apply` writes it,
    /// kept for their capacity.
    runs_before: Vec<IndexRun>,
    runs_after: Vec<IndexRun>,
    /// Tags whose digest-index changes wait in `index_changes`: their
    /// stored entries are not yet what their logs make.
    reindexed: HashSet<u32, FoldHash>,
    /// (tag, digest) references the digest-index changes written so far
    /// created (see [`Writer::references_created`]).
    references_created: u64,
    mark_before: Mark,
    index_log: Table<'t, u64, &'static [u8]>,
    relations: RelationWriter<'t>,
    /// Templates, repository settings and violations (issue 11).
    templates: super::TemplateWriter<'t>,
    /// The registry integration tables.
    pub integrations: super::IntegrationWriter<'t>,
}

impl<'t> Writer<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Self> {
        let repos = txn.open_table(REPOS)?;
        let tags = txn.open_table(TAGS)?;
        let next_repo = super::next_number(&repos)?;
        let next_tag = super::next_number(&tags)?;
        let tag_log = txn.open_table(TAG_LOG)?;
        // A new tag's log is known to be empty and not read (`unapplied`):
        // a stray chunk under a number not yet given out would otherwise
        // become the history of the next tag created. One read per write.
        if let Some((k, _)) = tag_log.last()?
            && k.value().0 >= next_tag
        {
            return Err(Error::Corrupt(format!(
                "table tag_log: a chunk of tag number {}, which has no row in table tags (the next is {next_tag})",
                k.value().0
            )));
        }
        let journal = JournalWriter::open(txn)?;
        let relations = RelationWriter::open(txn)?;
        let (parents, configs) = relations.counted_tables();
        let mark_before = Mark::of_tables(journal.table(), parents, configs)?;
        Ok(Self {
            repo_keys: txn.open_table(REPO_KEYS)?,
            repos,
            tag_keys: txn.open_table(TAG_KEYS)?,
            tags,
            tag_log,
            digest_index: txn.open_table(DIGEST_INDEX)?,
            journal,
            next_repo,
            next_tag,
            new_names: Vec::new(),
            names: Arc::default(),
            numbers: Arc::default(),
            unapplied: Vec::new(),
            first_new_tag: next_tag,
            index_changes: Vec::new(),
            changed_keys: Vec::new(),
            runs_before: Vec::new(),
            runs_after: Vec::new(),
            reindexed: HashSet::default(),
            references_created: 0,
            mark_before,
            index_log: txn.open_table(INDEX_CHANGES)?,
            relations,
            templates: super::TemplateWriter::open(txn)?,
            integrations: super::IntegrationWriter::open(txn)?,
        })
    }

    /// Takes the process's tag names for this transaction, after adding to
    /// `cache` the tags it lacks (created by another process or before this
    /// one opened the file: a process that only writes learns them all at
    /// its first write, as a reader does at its first view). Without them
    /// a digest-index group is written with its entries of one instant in
    /// tag-number order, unflagged, and lookups sort it.
    pub fn take_names(&mut self, cache: &NameCache) -> Result<()> {
        let known = cache.len();
        if self.next_tag as usize > known {
            let start = u32::try_from(known)
                .map_err(|_| Error::Corrupt(format!("tag number {known} out of range")))?;
            cache.extend_from(known, rows::tag_ids_from(&self.tags, &self.repos, start)?);
        }
        self.names = cache.current();
        Ok(())
    }

    /// Takes the process's map of tag IDs to numbers (`numbers.rs`), for
    /// [`Writer::ensure_tag`] to find tags without a `tag_keys` get each.
    pub fn take_numbers(&mut self, numbers: Arc<TagNumbers>) {
        self.numbers = numbers;
    }

    /// Adds `writes` to the tag's move log (skipping exact repeats), keeps
    /// the digest index equal to the log's intervals, and updates the tag's
    /// current digest. `tag` is the tag as the caller holds it; its row is
    /// written back. Every entry added is noted in this batch's journal
    /// record. It reads the log from its end back to the entries the writes
    /// can change only (a whole log where a setting can make the tag
    /// immutable), and takes the start of a run of one digest that reaches
    /// further back from the digest index: a write to a tag with a long
    /// history, moved or never moved, reads about what a write to a young
    /// one does.
    pub fn apply(
        &mut self,
        tag: &mut TagState,
        writes: &[TagWrite],
        actor: &str,
        now: Timestamp,
    ) -> Result<WriteSummary> {
        let TagState {
            n,
            row,
            current,
            chunks: read,
            row_changed,
        } = tag;
        let n = *n;
        let mut summary = WriteSummary::default();
        let unapplied = n
            .checked_sub(self.first_new_tag)
            .and_then(|i| self.unapplied.get_mut(usize::try_from(i).ok()?))
            .is_some_and(std::mem::take);
        // The end of the log (its last chunk, as `ensure_tag` read it),
        // read back from until it holds every entry the write can change.
        let (mut chunks, whole) = if unapplied {
            (Vec::new(), true)
        } else if let Some(chunks) = read.take() {
            (chunks, false)
        } else {
            (
                log::chunk_before(&self.tag_log, n, None)?
                    .into_iter()
                    .collect(),
                false,
            )
        };
        // Moves of tags the repository's settings make immutable are
        // violations: a function of the whole log, recomputed from it before
        // and after (only where a setting can make a tag immutable).
        let settings = self.templates.settings(row.repo)?;
        let restricts = settings
            .iter()
            .any(crate::model::MutabilitySetting::restricts);
        // Only the intervals from the earliest write on can change.
        let from = writes.iter().map(|&(at, _)| micros(at)).min();
        let seam = self.read_to_seam(n, &mut chunks, whole, from, restricts)?;
        // Entries of a batch numbered at or after this one mean the journal
        // lost records (the next number is one past the last record): this
        // batch would take their number and hide the damage. Checked over
        // the chunks read, as is every instant (`verify` reads them all).
        for e in chunks.iter().flat_map(|c| &c.entries) {
            if e.seq >= self.journal.seq {
                return Err(Error::Corrupt(format!(
                    "table tag_log, tag number {n}: an entry of batch {}, which has no journal record (the next batch is {})",
                    e.seq, self.journal.seq
                )));
            }
            check_instant(n, e.at)?;
        }
        // Buffers kept by the writer: two allocations per tag written less.
        let mut before = std::mem::take(&mut self.runs_before);
        seam.index_runs(&chunks, &mut before);
        let log_before = if restricts {
            log_keys(&chunks)
        } else {
            Vec::new()
        };
        let seq = self.journal.seq;
        log::reserve(&mut chunks, writes.len());
        for &(at, digest) in writes {
            // Only an exact repeat (same instant, same digest) is dropped. A
            // repeat of the digest in force at a later instant is kept as
            // evidence: an older observation of another digest may still
            // arrive between the two, and then this one marks the move back.
            // (Whether it makes a new reference, `flush_index` finds in the
            // digest index: see `Writer::references_created`.)
            let entry = LogEntry {
                at: micros(at),
                digest,
                seq,
            };
            if !log::insert(&mut chunks, entry) {
                continue;
            }
            self.journal.note(n, entry, actor, micros(now))?;
            summary.recorded += 1;
        }
        log::write_chunks(&mut self.tag_log, n, &chunks)?;
        let mut after = std::mem::take(&mut self.runs_after);
        seam.index_runs(&chunks, &mut after);
        self.reindex(n, &before, &after);
        (self.runs_before, self.runs_after) = (before, after);
        if restricts {
            let log_after = log_keys(&chunks);
            let id = format!("{}:{}", self.repo(row.repo)?.id, row.name);
            summary.violations +=
                self.templates
                    .revise((&id, n, &row.name), &settings, &log_before, &log_after)?;
        }
        let after_current = chunks
            .last()
            .and_then(|c| c.entries.last())
            .and_then(|e| e.digest);
        if after_current != *current {
            *current = after_current;
            row.audit.touch(actor, now);
            *row_changed = true;
            summary.tags_moved += 1;
        }
        if std::mem::take(row_changed) {
            self.put_tag(n, row)?;
        }
        Ok(summary)
    }

    /// Reads tag `n`'s log back from `chunks` (its end, or all of it when
    /// `whole`) until it holds every entry a write at or after `from` can
    /// change, and returns that write's seam; the whole log when `restricts`.
    fn read_to_seam(
        &self,
        n: u32,
        chunks: &mut Vec<log::Chunk>,
        mut whole: bool,
        from: Option<i64>,
        restricts: bool,
    ) -> Result<Seam> {
        // A run of one digest that began before the chunks held (a tag
        // observed unchanged scan after scan: its whole log) has its start
        // in the digest index, unless this transaction already changed the
        // tag's entries there (they are written when it finishes).
        let mut ask_index = !self.reindexed.contains(&n);
        loop {
            whole |= chunks.is_empty();
            if whole || !restricts {
                match Seam::find(chunks, from.unwrap_or(i64::MAX), whole) {
                    Search::Found(seam) => return Ok(seam),
                    Search::RunBefore {
                        seam,
                        digest,
                        held_since,
                    } if ask_index => {
                        if let Some(since) = self.run_start(n, &digest, held_since)? {
                            return Ok(seam.since(since));
                        }
                        // Not there as expected: the log says, read back.
                        ask_index = false;
                    }
                    Search::RunBefore { .. } | Search::Earlier => {}
                }
            }
            // Held chunks are never empty here (an empty log is whole).
            let first = chunks.first().and_then(|c| c.stored_at);
            match log::chunk_before(&self.tag_log, n, first)? {
                Some(chunk) if first.is_some() => chunks.insert(0, chunk),
                _ => whole = true,
            }
        }
    }

    /// The (tag, digest) references the transaction's tag writes created
    /// so far: it writes the digest-index changes recorded so far, which is
    /// where a new reference shows (a tag's first entry in a digest's
    /// group; see `RowGroups`), so a write learns its count without reading
    /// its tags' whole logs. Call it after the transaction's last `apply`
    /// and relation, so the rows are written once.
    pub fn references_created(&mut self) -> Result<u64> {
        self.flush_index()?;
        Ok(self.references_created)
    }

    /// Sizes the transaction's change lists for `observations` more log
    /// entries (a batch's size is known before its first write), so they
    /// are not regrown and copied as they fill.
    pub fn reserve(&mut self, observations: usize) {
        // An entry usually closes one index interval and opens another.
        self.index_changes.reserve(observations.saturating_mul(2));
        self.changed_keys.reserve(observations.saturating_mul(2));
        self.journal.reserve(observations);
    }

    /// Finishes the transaction's writes: the digest-index changes recorded
    /// so far, and the batch's journal record. The store calls it once,
    /// before the commit.
    pub fn finish(&mut self) -> Result<()> {
        self.flush_index()?;
        self.journal.finish()?;
        let (parents, configs) = self.relations.counted_tables();
        let after = Mark::of_tables(self.journal.table(), parents, configs)?;
        if after == self.mark_before {
            return Ok(());
        }
        let mut keys = std::mem::take(&mut self.changed_keys);
        keys.sort_unstable();
        keys.dedup();
        changes::record(&mut self.index_log, self.mark_before, after, &keys)
    }
}

/// A log without its batch numbers, as the templates read it.
fn plain(log: &[LogEntry]) -> Vec<(i64, Option<Digest>)> {
    log.iter().map(LogEntry::key).collect()
}
