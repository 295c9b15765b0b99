//! The SQLite contender of the lookup bench: its copy of a data set
//! (`sqlite.db`: the digest index in its best layout for the lookup,
//! `WITHOUT ROWID` and keyed by digest, plus the tag names), written once,
//! and its lookup.

use std::path::Path;
use std::sync::Arc;

use ociledger::id::{Digest, TagId};
use ociledger::model::TagMatch;
use rusqlite::{Connection, OpenFlags, params};

use crate::rows::{DigestIndex, OPEN, Row};

/// SQLite settings for reading: a page cache as large as redb's default (1 GiB).
pub const SQLITE_READ_PRAGMAS: &str = "PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY;";

/// The lookup query: the same matches as `tags_for_digest` (names joined in).
pub const SQLITE_LOOKUP: &str = "SELECT t.name, d.since, d.until FROM digest_index AS d JOIN tags AS t ON t.id = d.tag WHERE d.digest = ?1";

/// Writes the copy at `path`.
pub fn build(index: &DigestIndex, path: &Path) {
    let mut conn = Connection::open(path).expect("create sqlite");
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576;
         CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE digest_index(digest BLOB NOT NULL, tag INTEGER NOT NULL, since INTEGER NOT NULL,
                                   until INTEGER NOT NULL, PRIMARY KEY (digest, tag, since)) WITHOUT ROWID;",
    )
    .expect("schema");
    let txn = conn.transaction().expect("txn");
    {
        let mut ins = txn
            .prepare("INSERT INTO tags(id, name) VALUES (?1, ?2)")
            .expect("prepare");
        for (i, n) in index.names.iter().enumerate() {
            let id = i64::try_from(i).expect("fits");
            ins.execute(params![id, n]).expect("insert tag");
        }
        let mut ins = txn
            .prepare("INSERT INTO digest_index(digest, tag, since, until) VALUES (?1, ?2, ?3, ?4)")
            .expect("prepare");
        for r in &index.rows {
            let (buf, len) = r.digest.compact_array();
            ins.execute(params![&buf[..len], r.tag, r.since, r.until])
                .expect("insert row");
        }
    }
    txn.commit().expect("commit");
    // No ANALYZE: the bundled SQLite is built with STAT4, and with stat4 rows a
    // prepared statement is re-prepared whenever a bound key changes (80 % of
    // the lookup's instructions in callgrind). The plan is optimal without it.
}

/// Opens the copy at `path` read-only with the read pragmas.
#[must_use]
pub fn open_read(path: &Path) -> Connection {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open sqlite");
    conn.execute_batch(SQLITE_READ_PRAGMAS).expect("pragmas");
    conn
}

/// Tag names by the set's tag numbers (for the packed-index prototype).
#[must_use]
pub fn load_names(path: &Path) -> Vec<Arc<TagId>> {
    let conn = open_read(path);
    let mut stmt = conn
        .prepare("SELECT id, name FROM tags ORDER BY id")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .expect("query")
        .enumerate()
        .map(|(i, r)| {
            let (id, name) = r.expect("row");
            assert_eq!(usize::try_from(id).ok(), Some(i), "dense tag ids");
            Arc::new(name.parse().expect("tag id"))
        })
        .collect()
}

/// Every digest-index row (for the `HashMap` contender).
#[must_use]
pub fn load_rows(path: &Path) -> Vec<Row> {
    let conn = open_read(path);
    let mut stmt = conn
        .prepare("SELECT digest, tag, since, until FROM digest_index")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            let d: Vec<u8> = r.get(0)?;
            Ok(Row {
                digest: Digest::from_compact(&d).expect("compact digest"),
                tag: r.get(1)?,
                since: r.get(2)?,
                until: r.get(3)?,
            })
        })
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}

/// SQLite's answer, in the same shape and order as `TagMatch` (name as text).
#[derive(Debug, PartialEq, Eq)]
pub struct SqlMatch {
    /// The tag's name (`TagId` text).
    pub tag: String,
    /// The tag points to the digest now.
    pub current: bool,
    /// Start of the interval, µs.
    pub since: i64,
    /// End of the interval, µs; `None` while current.
    pub until: Option<i64>,
}

impl From<&TagMatch> for SqlMatch {
    fn from(m: &TagMatch) -> Self {
        SqlMatch {
            tag: m.tag.to_string(),
            current: m.current,
            since: m.since.timestamp_micros(),
            until: m.until.map(|u| u.timestamp_micros()),
        }
    }
}

/// The lookup bench's SQLite contender: `stmt` is [`SQLITE_LOOKUP`] prepared,
/// the matches come sorted in the ledger's answer order.
#[inline]
pub fn lookup(stmt: &mut rusqlite::Statement<'_>, d: &Digest) -> Vec<SqlMatch> {
    let (buf, len) = d.compact_array();
    let mut rows = stmt.query([&buf[..len]]).expect("query");
    let mut out = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let until: i64 = r.get(2).expect("until");
        out.push(SqlMatch {
            tag: r.get(0).expect("name"),
            current: until == OPEN,
            since: r.get(1).expect("since"),
            until: (until != OPEN).then_some(until),
        });
    }
    out.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(b.since.cmp(&a.since))
            .then(a.tag.cmp(&b.tag))
    });
    out
}
