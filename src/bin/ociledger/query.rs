//! `lookup`, `history`, `at`, `classify`, `stats`.

use std::io;
use std::process::ExitCode;

use ociledger::id::{Digest, TagId};
use ociledger::model::TagMatch;
use ociledger::{Error, Ledger};
use serde::{Deserialize, Serialize};

use crate::lines::{self, Lines};
use crate::output::{self, print};

fn parse<T: std::str::FromStr<Err = ociledger::id::IdError>>(
    location: &str,
    s: &str,
) -> Result<T, Error> {
    s.parse().map_err(|e| Error::invalid_id(location, &e))
}

#[derive(Serialize)]
struct LookupAnswer<'a> {
    digest: &'a Digest,
    matches: Vec<TagMatch>,
}

pub fn lookup(ledger: &Ledger, digest: &str) -> Result<ExitCode, Error> {
    let digest: Digest = parse("digest", digest)?;
    print(&LookupAnswer {
        digest: &digest,
        matches: ledger.tags_for_digest(&digest)?,
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct HistoryAnswer<'a> {
    tag: &'a TagId,
    history: Vec<ociledger::HistoryEntry>,
    next: Option<String>,
}

pub fn history(
    ledger: &Ledger,
    tag: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<ExitCode, Error> {
    let tag: TagId = parse("tag", tag)?;
    let page = ledger.history(&tag, cursor, limit)?;
    print(&HistoryAnswer {
        tag: &tag,
        history: page.items,
        next: page.next,
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct AtAnswer<'a> {
    tag: &'a TagId,
    at: ociledger::model::Timestamp,
    reference: Option<ociledger::model::Reference>,
    interval: Option<ociledger::HistoryEntry>,
}

pub fn at(ledger: &Ledger, tag: &str, time: &str) -> Result<ExitCode, Error> {
    let tag: TagId = parse("tag", tag)?;
    let t: ociledger::model::Timestamp = time.parse().map_err(|e: chrono::ParseError| {
        // chrono says "premature end of input" for a time without an offset.
        let message = if time.parse::<chrono::NaiveDateTime>().is_ok() {
            format!("a time needs an offset: write {time}Z for UTC, or {time}+02:00")
        } else {
            format!("not an RFC 3339 time (2017-06-01T00:00:00Z): {e}")
        };
        Error::Invalid {
            location: "time".to_owned(),
            message,
            value: Some(crate::lines::quote(time)),
        }
    })?;
    let interval = ledger.tag_at(&tag, t)?;
    let reference = match &interval {
        Some(e) => {
            Some(ledger.get_reference(&ociledger::id::ReferenceId::new(tag.clone(), e.artifact))?)
        }
        None => None,
    };
    let found = interval.is_some();
    print(&AtAnswer {
        tag: &tag,
        at: t,
        reference,
        interval,
    })?;
    Ok(if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyLine {
    image: String,
    #[serde(default)]
    digest: Option<String>,
}

pub fn classify(ledger: &Ledger, image: &str, digest: Option<&str>) -> Result<ExitCode, Error> {
    let snap = ledger.snapshot()?;
    let one = |image: &str, digest: Option<&str>| -> Result<ociledger::Classification, Error> {
        let digest: Option<Digest> = digest.map(|d| parse("digest", d)).transpose()?;
        snap.classify(image, digest.as_ref())
    };
    if image != "-" {
        print(&one(image, digest)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    for line in Lines::new(io::stdin().lock()) {
        let (n, line) = line.map_err(output::stdin_error)?;
        let result = match &line {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => serde_json::from_str::<ClassifyLine>(text)
                .map_err(|e| Error::Invalid {
                    location: format!("line {n}"),
                    message: lines::quote(&e.to_string()),
                    value: Some(lines::quote(text)),
                })
                .and_then(|l| one(&l.image, l.digest.as_deref())),
            Err(bad) => Err(Error::Invalid {
                location: format!("line {n}"),
                message: bad.to_string(),
                value: None,
            }),
        };
        match result {
            Ok(c) => print(&c)?,
            Err(e) => {
                failed = true;
                print(&serde_json::json!({ "line": n, "error": output::to_problem(&e) }))?;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Counts, and the file's size once closed: redb writes its allocator state
/// when the database closes, which can grow the file by a few pages.
pub fn stats(db: &std::path::Path) -> Result<ExitCode, Error> {
    let ledger = Ledger::open_read_only(db)?;
    let mut stats = ledger.stats()?;
    drop(ledger);
    if let Ok(meta) = std::fs::metadata(db) {
        stats.file_bytes = meta.len();
    }
    print(&stats)?;
    Ok(ExitCode::SUCCESS)
}

/// Compacts, and reports the file's size once closed (see [`stats`]).
pub fn compact(db: &std::path::Path) -> Result<ExitCode, Error> {
    let ledger = Ledger::open(db)?;
    let mut compaction = ledger.compact()?;
    drop(ledger);
    if let Ok(meta) = std::fs::metadata(db) {
        compaction.file_bytes_after = meta.len();
    }
    print(&compaction)?;
    Ok(ExitCode::SUCCESS)
}
