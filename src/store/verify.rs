//! `verify`: every invariant that ties the tables together, checked from
//! one read transaction. The move log is the ledger's truth; the digest
//! index, the references and the journal's
//! batch hashes are all functions of it, so each is recomputed and
//! compared. A finding names the check, the row and what differs.

use std::collections::BTreeMap;

use redb::{ReadableTable, ReadableTableMetadata};
use serde::Serialize;

use super::OPEN;
use super::journal::{BatchHash, JournalRow};
use super::log::{self, LogEntry};
use super::packed::{self, FLAG_CHILD, FLAG_CONFIG, IndexEntry};
use super::read::View;
use super::relations::{CONFIG_MANIFESTS, PARENTS};
use super::rows::{self, RepoRow, TagRow, from_micros};
use crate::error::Result;
use crate::id::{Digest, RepositoryId, TagId};

/// A tag row as `verify` read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagRowState {
    /// It does not decode (already a finding).
    Damaged,
    /// It decodes.
    Decodes,
}

/// Each batch number the move log carries: the hash of its entries so far,
/// and how many.
type Batches = BTreeMap<u32, (BatchHash, u64)>;

/// At most this many findings of one check are described; the rest are
/// counted.
const DESCRIBED: usize = 20;

/// What `verify` found: counts of what it read, and every finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Rows and entries read, per kind.
    pub checked: BTreeMap<&'static str, u64>,
    /// Findings per check: how many, and the first few described.
    pub findings: BTreeMap<&'static str, Findings>,
}

/// The findings of one check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Findings {
    /// How many rows or entries failed the check.
    pub count: u64,
    /// The first few, described (row and difference).
    pub examples: Vec<String>,
}

impl Verification {
    /// Whether nothing was found.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Records a finding of `check`.
    pub(crate) fn find(&mut self, check: &'static str, detail: impl Into<String>) {
        let f = self.findings.entry(check).or_default();
        f.count += 1;
        if f.examples.len() < DESCRIBED {
            f.examples.push(detail.into());
        }
    }

    fn count(&mut self, what: &'static str, n: u64) {
        *self.checked.entry(what).or_default() += n;
    }
}

/// An order-independent digest of a multiset of index entries: a count and
/// a wrapping sum of each entry's blake3. Two equal multisets give equal
/// digests; the chance that two different ones do is about 2⁻¹²⁸, so the
/// index is compared with the log in two passes and constant memory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct MultisetHash {
    count: u64,
    sum: u128,
}

impl MultisetHash {
    fn add(&mut self, d: &Digest, e: &IndexEntry) {
        let mut h = blake3::Hasher::new();
        h.update(&[d.algorithm().compact_byte()]);
        h.update(d.as_bytes());
        h.update(&e.tag.to_le_bytes());
        h.update(&e.since.to_le_bytes());
        h.update(&e.until.to_le_bytes());
        let mut lo = [0u8; 16];
        lo.copy_from_slice(&h.finalize().as_bytes()[..16]);
        self.count += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(lo));
    }
}

impl View {
    /// Checks every cross-table invariant; damage is reported as findings,
    /// not errors (an error is returned only when the engine cannot read).
    pub(crate) fn verify(&self) -> Result<Verification> {
        let mut out = Verification::default();
        let repos = self.verify_repositories(&mut out)?;
        let tags = self.verify_tags(&mut out, &repos)?;
        let (expected, batches) = self.verify_log(&mut out, &tags)?;
        let (found, flags) = self.verify_index(&mut out, tags.len())?;
        if expected != found {
            out.find(
                "digest_index",
                format!(
                    "the digest index holds {} entries, the move log implies {}{}",
                    found.count,
                    expected.count,
                    if found.count == expected.count {
                        " (same number, different entries)"
                    } else {
                        ""
                    }
                ),
            );
        }
        self.verify_relations(&mut out, &flags)?;
        self.verify_journal(&mut out, batches)?;
        self.verify_records(&mut out);
        // The change list only steers copies of the index; a row that does
        // not read makes readers copy again, and is still damage.
        if let Err(e) = super::changes::check(&self.txn.open_table(super::INDEX_CHANGES)?) {
            out.find("index_changes", e.to_string());
        }
        Ok(out)
    }

    /// `repo_keys` and `repos` name each other.
    fn verify_repositories(&self, out: &mut Verification) -> Result<BTreeMap<u32, RepositoryId>> {
        let mut ids = BTreeMap::new();
        for row in self.repo_keys.iter()? {
            let (k, n) = row?;
            let (key, n) = (k.value().to_owned(), n.value());
            out.count("repositories", 1);
            let id: RepositoryId = match key.parse() {
                Ok(id) => id,
                Err(e) => {
                    out.find("repositories", format!("repo_keys {key:?}: not an ID: {e}"));
                    continue;
                }
            };
            match self.repos.get(n)? {
                None => out.find("repositories", format!("{id}: number {n} has no row")),
                Some(r) => match rows::decode_row::<RepoRow>("repos", n, r.value()) {
                    Err(e) => out.find("repositories", e.to_string()),
                    Ok(row) if row.id != key => {
                        out.find("repositories", format!("{id}: row {n} names {:?}", row.id));
                    }
                    Ok(row) => {
                        if let Err(e) = row.check(n) {
                            out.find("repositories", e.to_string());
                        }
                    }
                },
            }
            ids.insert(n, id);
        }
        if self.repos.len()? != ids.len() as u64 {
            out.find(
                "repositories",
                format!(
                    "{} rows in repos, {} names in repo_keys",
                    self.repos.len()?,
                    ids.len()
                ),
            );
        }
        Ok(ids)
    }

    /// Tag numbers are dense, every row decodes, and `tag_keys` names
    /// exactly the rows (same name, same repository). Returns whether each
    /// tag's row decodes.
    fn verify_tags(
        &self,
        out: &mut Verification,
        repos: &BTreeMap<u32, RepositoryId>,
    ) -> Result<Vec<TagRowState>> {
        let mut current = Vec::new();
        let mut names = BTreeMap::new();
        for row in self.tags.iter()? {
            let (k, r) = row?;
            let n = k.value();
            out.count("tags", 1);
            if n as usize != current.len() {
                out.find(
                    "tags",
                    format!(
                        "tag numbers are not dense: {n} where {} was due",
                        current.len()
                    ),
                );
            }
            let decoded = rows::decode_row::<TagRow>("tags", n, r.value())
                .and_then(|row| row.check(n).map(|()| row));
            match decoded {
                Err(e) => {
                    out.find("tags", e.to_string());
                    current.push(TagRowState::Damaged);
                }
                Ok(row) => {
                    current.push(TagRowState::Decodes);
                    match repos
                        .get(&row.repo)
                        .map(|r| TagId::new(r.clone(), &row.name))
                    {
                        Some(Ok(id)) => {
                            names.insert((row.repo, row.name), (n, id));
                        }
                        Some(Err(e)) => out.find("tags", format!("tag number {n}: name: {e}")),
                        None => out.find(
                            "tags",
                            format!("tag number {n}: repository number {} has no name", row.repo),
                        ),
                    }
                }
            }
        }
        for row in self.tag_keys.iter()? {
            let (k, n) = row?;
            let ((repo, name), n) = (k.value(), n.value());
            match names.remove(&(repo, name.to_owned())) {
                Some((m, _)) if m == n => {}
                Some((m, id)) => {
                    out.find("tag_keys", format!("{id} → {n}, but row {m} has that name"));
                }
                None => out.find(
                    "tag_keys",
                    format!("(repository number {repo}, {name:?}) → {n}: no tag row has that name"),
                ),
            }
        }
        for (n, name) in names.into_values() {
            out.find(
                "tag_keys",
                format!("tag number {n} ({name}) is missing from tag_keys"),
            );
        }
        Ok(current)
    }

    /// Every chunk decodes and is in place, every tag with a log has a row;
    /// returns the index the log implies (as a
    /// multiset hash) and each batch's recomputed hash and entry count.
    fn verify_log(
        &self,
        out: &mut Verification,
        tags: &[TagRowState],
    ) -> Result<(MultisetHash, Batches)> {
        let mut expected = MultisetHash::default();
        let mut batches = Batches::new();
        let mut tag: Option<u32> = None;
        let mut entries: Vec<LogEntry> = Vec::new();
        let mut finish = |out: &mut Verification, n: u32, entries: &mut Vec<LogEntry>| {
            Self::check_tag_log(out, n, entries, tags, &mut expected);
            entries.clear();
        };
        for row in self.tag_log.iter()? {
            let (k, val) = row?;
            let (n, start) = k.value();
            if tag != Some(n) {
                if let Some(prev) = tag {
                    finish(out, prev, &mut entries);
                }
                tag = Some(n);
            }
            out.count("log chunks", 1);
            let place = format_args!("table tag_log, tag number {n}, chunk at {start}");
            let chunk = match log::decode(val.value(), start, &place) {
                Ok(c) => c,
                Err(e) => {
                    out.find("tag_log", e.to_string());
                    continue;
                }
            };
            if chunk.first().map(|e| e.at) != Some(start) {
                out.find("tag_log", format!("{place}: its first entry is elsewhere"));
            }
            if let (Some(last), Some(first)) = (entries.last(), chunk.first())
                && last.at >= first.at
            {
                out.find("tag_log", format!("{place}: overlaps the chunk before it"));
            }
            for e in &chunk {
                let (hash, count) = batches
                    .entry(e.seq)
                    .or_insert_with(|| (BatchHash::new(e.seq), 0));
                hash.add(n, e);
                *count += 1;
            }
            out.count("log entries", chunk.len() as u64);
            entries.extend(chunk);
        }
        if let Some(prev) = tag {
            finish(out, prev, &mut entries);
        }
        let without_log =
            tags.len() as u64 - out.checked.get("tags with a log").copied().unwrap_or(0);
        // A tag created by the API and deleted before... always has a log
        // entry: every tag row is written with at least one.
        if without_log > 0 {
            out.find("tag_log", format!("{without_log} tags have no log"));
        }
        Ok((expected, batches))
    }

    fn check_tag_log(
        out: &mut Verification,
        n: u32,
        entries: &[LogEntry],
        tags: &[TagRowState],
        expected: &mut MultisetHash,
    ) {
        if tags.get(n as usize).is_none() {
            out.find("tag_log", format!("tag number {n} has a log but no row"));
            return;
        }
        out.count("tags with a log", 1);
        let mut log = Vec::with_capacity(entries.len());
        for e in entries {
            match from_micros(e.at) {
                Ok(t) => log.push((t, e.digest)),
                Err(err) => {
                    out.find("tag_log", format!("tag number {n}: {err}"));
                    return;
                }
            }
        }
        for (d, iv) in crate::model::coalesce(log) {
            expected.add(
                &d,
                &IndexEntry {
                    tag: n,
                    since: iv.since.timestamp_micros(),
                    until: iv.until.map_or(OPEN, |u| u.timestamp_micros()),
                },
            );
        }
    }

    /// Every digest-index row decodes under its key, names existing tags;
    /// returns its entries as a multiset hash and every digest's flags.
    fn verify_index(
        &self,
        out: &mut Verification,
        tag_count: usize,
    ) -> Result<(MultisetHash, BTreeMap<Digest, u8>)> {
        let mut found = MultisetHash::default();
        let mut flags = BTreeMap::new();
        for row in self.digest_index.iter()? {
            let (k, val) = row?;
            let key = k.value();
            for g in packed::groups(val.value()) {
                let place = format!("table digest_index, key {key:016x}");
                let Ok(g) = g.map_err(|e| out.find("digest_index", format!("{place}: {e}"))) else {
                    break;
                };
                let d = match g.digest(key) {
                    Ok(d) => d,
                    Err(e) => {
                        out.find("digest_index", format!("{place}: {e}"));
                        continue;
                    }
                };
                out.count("digests", 1);
                if g.flags != 0 {
                    flags.insert(d, g.flags);
                }
                if g.name_ordered && !self.in_answer_order(g.decode()) {
                    out.find(
                        "digest_index",
                        format!(
                            "{place}: {d}: the entries are flagged as in the answer's order (ties by tag name) and are not"
                        ),
                    );
                }
                for e in g.decode() {
                    if e.tag as usize >= tag_count {
                        out.find(
                            "digest_index",
                            format!("{d}: tag number {} has no row", e.tag),
                        );
                    }
                    found.add(&d, &e);
                }
            }
        }
        out.count("intervals", found.count);
        Ok((found, flags))
    }

    /// Whether a group's entries are in the order a lookup answers in:
    /// current first, then newest first, an instant's entries by tag name
    /// (a tag without a name is reported by the tag checks).
    fn in_answer_order(&self, entries: impl Iterator<Item = IndexEntry>) -> bool {
        let names = self.names();
        let instant = |e: &IndexEntry| (e.until != OPEN, std::cmp::Reverse(e.since));
        let order = |a: &IndexEntry, b: &IndexEntry| {
            instant(a)
                .cmp(&instant(b))
                .then_with(|| match (names.get(a.tag), names.get(b.tag)) {
                    (Some(x), Some(y)) => x.cmp(y),
                    _ => std::cmp::Ordering::Equal,
                })
        };
        let mut last: Option<IndexEntry> = None;
        for e in entries {
            if last.is_some_and(|before| order(&before, &e).is_gt()) {
                return false;
            }
            last = Some(e);
        }
        true
    }

    /// Every relation decodes and its digests carry the flag that makes
    /// lookups follow it.
    fn verify_relations(&self, out: &mut Verification, flags: &BTreeMap<Digest, u8>) -> Result<()> {
        let flagged = |d: &[u8], flag: u8| {
            Digest::from_compact(d)
                .ok()
                .and_then(|d| flags.get(&d))
                .is_some_and(|f| f & flag != 0)
        };
        let parents = self.txn.open_table(PARENTS)?;
        for row in parents.iter()? {
            let (k, _) = row?;
            let (child, _) = k.value();
            out.count("index manifests", 1);
            if !flagged(child, FLAG_CHILD) {
                out.find(
                    "relations",
                    format!(
                        "platform manifest {} is not flagged as one",
                        rows::Hex(child)
                    ),
                );
            } else if let Ok(d) = Digest::from_compact(child)
                && let Err(e) = self.parents(&d)
            {
                out.find("relations", e.to_string());
            }
        }
        let configs = self.txn.open_table(CONFIG_MANIFESTS)?;
        for row in configs.iter()? {
            let (k, _) = row?;
            let (config, _) = k.value();
            out.count("manifest configs", 1);
            if !flagged(config, FLAG_CONFIG) {
                out.find(
                    "relations",
                    format!("config {} is not flagged as one", rows::Hex(config)),
                );
            }
        }
        Ok(())
    }

    /// The journal is a chain with no gap, and each record's count and hash
    /// equal what the move log holds for its batch.
    fn verify_journal(&self, out: &mut Verification, mut batches: Batches) -> Result<()> {
        let mut prev = [0u8; 32];
        let mut due = 1u32;
        for row in self.journal()?.iter()? {
            let (k, val) = row?;
            let seq = k.value();
            out.count("journal records", 1);
            if seq != due {
                out.find("journal", format!("batch {seq} where {due} was due"));
            }
            due = seq.saturating_add(1);
            let record: JournalRow = match rows::decode_row("journal", seq, val.value()) {
                Ok(r) => r,
                Err(e) => {
                    out.find("journal", e.to_string());
                    continue;
                }
            };
            if let Err(e) = from_micros(record.at) {
                out.find("journal", format!("batch {seq}: written on: {e}"));
            }
            if record.prev != prev {
                out.find(
                    "journal",
                    format!("batch {seq}: the chain is broken before it"),
                );
            }
            prev = record.hash(seq)?;
            match batches.remove(&seq) {
                None => out.find("journal", format!("batch {seq}: no log entry carries it")),
                Some((hash, count)) => {
                    if count != record.count || hash.finish() != record.batch {
                        out.find(
                            "journal",
                            format!(
                                "batch {seq}: the log holds {count} entries of it, the record says {}{}",
                                record.count,
                                if count == record.count { ", with other contents" } else { "" }
                            ),
                        );
                    }
                }
            }
        }
        for (seq, (_, count)) in batches {
            out.find(
                "journal",
                format!("{count} log entries carry batch {seq}, which has no record"),
            );
        }
        Ok(())
    }

    /// The other record families decode.
    fn verify_records(&self, out: &mut Verification) {
        match self.integrations().and_then(super::IntegrationReader::all) {
            Ok(all) => out.count("integrations", all.len() as u64),
            Err(e) => out.find("integrations", e.to_string()),
        }
        match self.violations(None, None, usize::MAX) {
            Ok(all) => out.count("violations", all.len() as u64),
            Err(e) => out.find("violations", e.to_string()),
        }
    }
}
