//! Salvage (issue 13): a new ledger file made of every row of a damaged one
//! that still reads and verifies.
//!
//! **Read.** One read transaction of the damaged file, opened read-only
//! (when the engine wants a repair first, of a copy beside the new file,
//! opened as a writer, which repairs: the damaged file itself is never
//! written). Every table is read row by row ([`scan`]), each row decoded on
//! its own, so one bad row loses only itself. Where the engine fails on a
//! damaged page (an error, or a panic deep in its B-tree code), the scan
//! starts again after the last key it read, and then reads the table from
//! its end backwards, so only the rows of the page(s) that do not read are
//! lost. A row is kept when it decodes and what it refers to was kept:
//! a repository whose `repo_keys` entry agrees (or is missing), a tag whose
//! repository was kept, whose `tag_keys` entry agrees (or is missing) and of
//! whose log something survived, a log chunk whose tag was kept, a
//! repository setting whose repository was kept; templates, relations,
//! integrations (checked against their names and the stored record's ID;
//! the sealed credentials and the key check are copied byte for byte, as
//! neither the key nor the associated data depend on the file) and journal
//! records when they decode. The digest index and the violations are not
//! read into the new file at all: they are functions of the move logs (and
//! the settings), rebuilt from them, so damage there loses nothing; the
//! same holds for the key tables (`repo_keys`, `tag_keys`, the integration
//! names) and `config_manifests`, which are rebuilt from the rows they name.
//!
//! **Write.** One write transaction of a new ledger file: repositories and
//! tags renumbered densely in their old order (so an undamaged file keeps
//! every number), the logs, the digest index and the violations rebuilt with the
//! [`Writer`]'s own machinery, relations recorded with
//! [`Writer::record_relation`] (which sets the index flags). The journal is
//! rebuilt too: its batch hashes cover tag numbers and batch numbers, which
//! salvage may change, and `verify` wants batch numbers dense and every
//! record backed by entries. So batches are renumbered densely in their old
//! order (a batch none of whose entries survived is dropped), each keeps its
//! record's time and author (or, when its record was lost, gets the
//! salvage's: author `salvage`, time now; references' `created_by` and
//! `created_on` come from these records), and `count`, `batch` and `prev`
//! are recomputed. An undamaged file gives the same numbers, hashes and
//! head.
//!
//! The submodules, one step each: [`scan`] reads one table row by row,
//! `harvest` decodes what it reads, `plan` decides what to keep and under
//! which numbers, `output` writes the new file, and `source` opens the
//! damaged one.
//!
//! [`scan`]: scan::scan
//! [`Writer`]: super::write::Writer
//! [`Writer::record_relation`]: super::write::Writer::record_relation

mod harvest;
mod output;
mod plan;
mod scan;
mod source;

use std::collections::BTreeMap;
use std::path::Path;

use redb::TableHandle;
use serde::Serialize;

use super::handle::{builder, guard};
use super::rows::micros;
use crate::error::Result;
use crate::model::Timestamp;
use harvest::Harvest;
use output::write;
use source::{Source, check_format};

/// At most this many losses of one table are described.
const DESCRIBED: usize = 10;

/// The author of a batch whose journal record was lost.
pub(crate) const SALVAGE_ACTOR: &str = "salvage";

/// What salvage did with one table of the damaged file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableSalvage {
    /// Rows the engine returned.
    pub read: u64,
    /// Rows carried into the new file. For a derived table (`derived`), the
    /// rows that agreed with what was kept; 0 for the digest index and the
    /// violations, which are not compared but rebuilt.
    pub kept: u64,
    /// Rows read and not carried over: undecodable, or what they refer to
    /// was lost (`examples` says which and why).
    pub lost: u64,
    /// Stretches of the table the engine could not read at all (a damaged
    /// page, or a table that does not open): how many rows they held is
    /// unknown.
    pub unreadable: u64,
    /// `tag_log`: entries lost with chunks that decoded but whose tag was
    /// lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_lost: Option<u64>,
    /// `tag_log`: bytes of chunks that did not decode (their entries are
    /// unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_lost: Option<u64>,
    /// The table is a function of others (an index, a key table, the
    /// violations) and was rebuilt from them: damage here loses nothing.
    pub derived: bool,
    /// Rows of this table in the new file.
    pub written: u64,
    /// The first few losses (row and reason) and recoveries, described.
    pub examples: Vec<String>,
}

impl TableSalvage {
    fn derived() -> Self {
        Self {
            derived: true,
            ..Self::default()
        }
    }

    fn describe(&mut self, what: impl Into<String>) {
        if self.examples.len() < DESCRIBED {
            self.examples.push(what.into());
        }
    }

    fn lose(&mut self, why: impl Into<String>) {
        self.lost += 1;
        self.describe(why);
    }

    /// Whether this table lost something no other table gives back.
    #[must_use]
    pub fn lost_anything(&self) -> bool {
        !self.derived
            && (self.lost > 0
                || self.unreadable > 0
                || self.entries_lost.unwrap_or(0) > 0
                || self.bytes_lost.unwrap_or(0) > 0)
    }
}

/// How many records of one kind were kept, and how many of those got a new
/// number (numbers are dense: a lost record's number goes to the next one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Renumbering {
    /// Kept.
    pub kept: u64,
    /// Kept under another number than in the damaged file.
    pub renumbered: u64,
}

/// What [`salvage`] read and wrote.
#[derive(Debug, Clone)]
pub(crate) struct Salvaged {
    /// Per table of the damaged file.
    pub tables: BTreeMap<&'static str, TableSalvage>,
    pub repositories: Renumbering,
    pub tags: Renumbering,
    /// Journal batches written, and how many got a new number.
    pub batches: Renumbering,
    /// Journal records dropped: none of their batch's entries survived.
    pub batches_dropped: u64,
    /// Batches whose record was lost: their author is now `salvage`, their
    /// time the salvage's.
    pub attributed_to_salvage: u64,
    /// The damaged file's last journal record, when it read: sequence, time
    /// (µs), author, hash.
    pub damaged_head: Option<(u32, i64, String, [u8; 32])>,
    /// Why the engine would not open the damaged file read-only, when it
    /// needed a repair (made on a copy), and whether the repair may have
    /// rolled the file back to the commit before its newest one (it was
    /// damaged, not just left open by a crash).
    pub repaired: Option<(String, bool)>,
}

/// The `'static` name of one of the schema's tables.
fn table_name(def: &impl TableHandle) -> &'static str {
    super::table_names()
        .into_iter()
        .find(|n| *n == def.name())
        .unwrap_or("other")
}

/// Reads everything that still reads from the ledger file `damaged` and
/// writes it as a new ledger into the empty file `dest` (a temporary file
/// beside the salvage's destination `beside`, where a repaired copy goes
/// too, if one is needed). `now` is the time of batches whose journal record
/// was lost.
///
/// # Errors
/// [`Error::NotALedger`] or [`Error::Version`] when the file says it is not
/// a ledger of this schema (or holds none of its tables),
/// [`Error::Corrupt`] when the engine cannot open it or not one table of it
/// opens, storage errors of the new file.
///
/// [`Error::NotALedger`]: crate::error::Error::NotALedger
/// [`Error::Version`]: crate::error::Error::Version
/// [`Error::Corrupt`]: crate::error::Error::Corrupt
pub(crate) fn salvage(
    damaged: &Path,
    beside: &Path,
    dest: &Path,
    now: Timestamp,
) -> Result<Salvaged> {
    let builder = builder();
    let plan = guard(damaged, || {
        let source = Source::open(damaged, beside, &builder)?;
        let mut harvest = Harvest::read(&source.txn);
        check_format(damaged, &mut harvest)?;
        let mut plan = harvest.plan(micros(now))?;
        plan.report.repaired.clone_from(&source.repaired);
        Ok(plan)
    })?;
    guard(dest, || write(&plan, dest, &builder))
}
