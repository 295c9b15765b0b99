//! `import`: JSON lines of observations (or, with `--manifests`, of manifest
//! relations) into the ledger, in batches.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ociledger::id::{Digest, TagId};
use ociledger::model::{ManifestRelation, Observation, Timestamp};
use ociledger::{Error, IngestSummary, Ledger};
use serde::Serialize;

use crate::lines::{self, Lines};
use crate::output::{print, problem};

#[derive(Args)]
pub struct ImportArgs {
    /// File to read (`.gz` or plain, detected from its first bytes), or `-` for stdin.
    file: PathBuf,
    /// Observations per write transaction.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Fail on the first bad line and write nothing, instead of reporting and skipping it.
    #[arg(long)]
    strict: bool,
    /// The lines are manifest relations, not observations: {"index","manifests":[{"digest","platform","config"?}]}
    /// or {"manifest","config"} (the shapes of ../shared/data/manifest-*.jsonl.gz).
    #[arg(long)]
    manifests: bool,
}

/// The end-of-import summary. Every count but the timings is the same
/// whatever `--batch` is: `tags_moved` counts the tags whose current digest
/// differs between the start and the end of the import (a new tag counts),
/// and `violations_created` the violations the import leaves that were not
/// there at its start, as if it were one batch (see `Changes`).
#[derive(Serialize, Default)]
struct ImportReport {
    #[serde(flatten)]
    summary: IngestSummary,
    lines: u64,
    skipped: u64,
    seconds: f64,
    observations_per_second: f64,
}

fn merge(total: &mut IngestSummary, s: IngestSummary) {
    total.observations += s.observations;
    total.repositories_created += s.repositories_created;
    total.tags_created += s.tags_created;
    total.references_created += s.references_created;
    total.recorded += s.recorded;
    // `tags_moved` and `violations_created` are measured over the whole
    // import instead (see `Changes`); the sum only bounds the latter.
    total.violations_created += s.violations_created;
    total.relations_created += s.relations_created;
}

/// One kind of line an import reads, and how a batch of them is written.
trait Line: serde::de::DeserializeOwned {
    const NOUN: &'static str;
    fn write(ledger: &Ledger, actor: &str, batch: &[Self]) -> Result<IngestSummary, Error>;
    /// What the ledger would refuse in this item alone, checked before it
    /// joins a batch, so the line is skipped instead of failing its batch.
    fn check(&self, _ledger: &Ledger) -> Result<(), Error> {
        Ok(())
    }
    /// Whether these items move tags (and so may record violations).
    const MOVES_TAGS: bool = false;
    /// The tag this item may move.
    fn tag(&self) -> Option<&TagId> {
        None
    }
}

impl Line for Observation {
    const NOUN: &'static str = "observations";
    const MOVES_TAGS: bool = true;
    fn write(ledger: &Ledger, actor: &str, batch: &[Self]) -> Result<IngestSummary, Error> {
        ledger.ingest(actor, batch)
    }
    fn check(&self, ledger: &Ledger) -> Result<(), Error> {
        // The ledger's own rule and clock: a time in the future.
        ledger.check_observed_at(self.observed_at)
    }
    fn tag(&self) -> Option<&TagId> {
        Some(&self.tag)
    }
}

/// What the whole import changed, measured at its start and end rather
/// than summed over batches, so the summary does not depend on `--batch`: a
/// tag moved in three batches moved once, and a violation one batch recorded
/// and a later batch's late observation took back was never created.
#[derive(Default)]
struct Changes {
    /// Where each tag the import touches pointed before its first batch.
    tags: HashMap<TagId, Option<Digest>>,
    /// The violations at the start, by (tag, observed instant): their key.
    violations: HashSet<(TagId, Timestamp)>,
}

impl Changes {
    fn start<T: Line>(ledger: &Ledger) -> Result<Self, Error> {
        Ok(Self {
            tags: HashMap::new(),
            violations: if T::MOVES_TAGS {
                violations(&ledger.snapshot()?)?
            } else {
                HashSet::new()
            },
        })
    }

    /// Notes the current digest of every tag of `batch` not seen before
    /// (one point read each), before the batch is written.
    fn before<T: Line>(&mut self, ledger: &Ledger, batch: &[T]) -> Result<(), Error> {
        let mut snapshot = None;
        for tag in batch.iter().filter_map(Line::tag) {
            if self.tags.contains_key(tag) {
                continue;
            }
            let snap = match &mut snapshot {
                Some(s) => s,
                None => snapshot.insert(ledger.snapshot()?),
            };
            self.tags.insert(tag.clone(), current(snap, tag)?);
        }
        Ok(())
    }

    /// How many of the tags point elsewhere now than before the import.
    fn tags_moved(&self, ledger: &Ledger) -> Result<u64, Error> {
        if self.tags.is_empty() {
            return Ok(0);
        }
        let snap = ledger.snapshot()?;
        let mut n = 0;
        for (tag, before) in &self.tags {
            n += u64::from(current(&snap, tag)? != *before);
        }
        Ok(n)
    }

    /// Violations now that were not there at the start. `summed`, the
    /// batches' own count, is at least that (each such violation was new to
    /// some batch), so 0 needs no listing.
    fn violations_created(&self, ledger: &Ledger, summed: u64) -> Result<u64, Error> {
        if summed == 0 {
            return Ok(0);
        }
        let now = violations(&ledger.snapshot()?)?;
        Ok(now.difference(&self.violations).count() as u64)
    }
}

/// Every violation's key, page by page.
fn violations(snap: &ociledger::Snapshot) -> Result<HashSet<(TagId, Timestamp)>, Error> {
    let mut keys = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = snap.violations(None, cursor.as_deref(), ociledger::MAX_PAGE)?;
        keys.extend(page.items.into_iter().map(|v| (v.tag, v.observed_at)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
}

/// The digest `tag` points to now; `None` if it does not exist or is deleted.
fn current(snap: &ociledger::Snapshot, tag: &TagId) -> Result<Option<Digest>, Error> {
    match snap.tag(tag) {
        Ok(t) => Ok(Some(t.artifact)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Line for ManifestRelation {
    const NOUN: &'static str = "manifest relations";
    fn write(ledger: &Ledger, actor: &str, batch: &[Self]) -> Result<IngestSummary, Error> {
        Ok(IngestSummary {
            relations_created: ledger.record_relations(actor, batch)?,
            ..IngestSummary::default()
        })
    }
}

/// Opens the input before the ledger, so a missing file creates no database.
pub fn open_input(args: &ImportArgs) -> Result<Box<dyn BufRead>, Error> {
    lines::open(&args.file).map_err(|e| Error::Invalid {
        location: "file".to_owned(),
        message: format!("cannot read: {e}"),
        value: Some(args.file.display().to_string()),
    })
}

pub fn run(
    ledger: &Ledger,
    actor: &str,
    args: &ImportArgs,
    reader: Box<dyn BufRead>,
) -> Result<ExitCode, Error> {
    if args.manifests {
        run_lines::<ManifestRelation>(ledger, actor, args, reader)
    } else {
        run_lines::<Observation>(ledger, actor, args, reader)
    }
}

fn run_lines<T: Line>(
    ledger: &Ledger,
    actor: &str,
    args: &ImportArgs,
    reader: Box<dyn BufRead>,
) -> Result<ExitCode, Error> {
    let start = Instant::now();
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {{pos}} {}, {{per_sec}} [{{elapsed_precise}}] {{msg}}",
            T::NOUN
        ))
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(120));

    let batch_size = args.batch.max(1);
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(batch_size);
    // The line number of each item of `batch`.
    let mut numbers = Vec::with_capacity(batch_size);
    let mut bad = Vec::new();
    let mut changes = Changes::start::<T>(ledger)?;
    for line in Lines::new(reader) {
        let (n, line) =
            line.map_err(|e| ociledger::Error::io(format!("reading {}", args.file.display()), e))?;
        report.lines += 1;
        let Some(item) = item::<T>(ledger, n, line) else {
            continue;
        };
        match item {
            Ok(o) => {
                batch.push(o);
                numbers.push(n);
            }
            Err(err) => {
                if args.strict {
                    progress.finish_and_clear();
                    return Err(err);
                }
                report.skipped += 1;
                progress.suspend(|| problem(&err));
                bad.push(n);
            }
        }
        // In strict mode everything is held until the end: one bad line means nothing is written.
        if !args.strict && batch.len() == batch_size {
            let mut skipped = |n: usize, err: &Error| {
                report.skipped += 1;
                progress.suspend(|| problem(err));
                bad.push(n);
            };
            changes.before(ledger, &batch)?;
            let summary =
                write_batch(ledger, actor, &mut batch, &mut numbers, false, &mut skipped)?;
            merge(&mut report.summary, summary);
            progress.inc(batch.len() as u64);
            batch.clear();
            numbers.clear();
        }
    }
    if !batch.is_empty() {
        let mut skipped = |n: usize, err: &Error| {
            report.skipped += 1;
            progress.suspend(|| problem(err));
            bad.push(n);
        };
        changes.before(ledger, &batch)?;
        let summary = write_batch(
            ledger,
            actor,
            &mut batch,
            &mut numbers,
            args.strict,
            &mut skipped,
        )?;
        merge(&mut report.summary, summary);
        progress.inc(batch.len() as u64);
    }
    report.summary.tags_moved = changes.tags_moved(ledger)?;
    report.summary.violations_created =
        changes.violations_created(ledger, report.summary.violations_created)?;
    progress.finish_and_clear();
    report.seconds = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // a rate for people to read
    let rate = report.summary.observations as f64 / report.seconds.max(1e-9);
    report.observations_per_second = rate.round();
    print(&report)?;
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Line `n` as an item, or the bad line's error: unparsable, or refused by
/// the ledger's check of the item alone ([`Line::check`]). `None` for a
/// blank line.
fn item<T: Line>(
    ledger: &Ledger,
    n: usize,
    line: Result<String, lines::BadLine>,
) -> Option<Result<T, Error>> {
    let parsed = match &line {
        Ok(text) if text.trim().is_empty() => return None,
        Ok(text) => serde_json::from_str::<T>(text).map_err(|e| e.to_string()),
        Err(bad) => Err(bad.to_string()),
    };
    let item = parsed.map_err(|message| Error::Invalid {
        location: format!("line {n}"),
        message: lines::quote(&message),
        value: line.ok().map(|text| lines::quote(&text)),
    });
    Some(item.and_then(|o| match o.check(ledger) {
        Ok(()) => Ok(o),
        Err(Error::Invalid {
            location,
            message,
            value,
        }) => Err(Error::Invalid {
            location: format!("line {n}: {location}"),
            message,
            value,
        }),
        Err(e) => Err(e),
    }))
}

/// Writes `batch` (one transaction). An item the ledger refuses although its
/// line parsed (a relation that conflicts with a recorded one, an
/// observation carrying one) is a bad line like any other: reported with its
/// line number through `skipped` and left out, and the rest is written. With
/// `strict`, it ends the import instead, and nothing is written.
fn write_batch<T: Line>(
    ledger: &Ledger,
    actor: &str,
    batch: &mut Vec<T>,
    numbers: &mut Vec<usize>,
    strict: bool,
    skipped: &mut impl FnMut(usize, &Error),
) -> Result<IngestSummary, Error> {
    loop {
        match T::write(ledger, actor, batch) {
            Ok(summary) => return Ok(summary),
            Err(Error::Invalid {
                location,
                message,
                value,
            }) => {
                let Some((i, rest)) = refused_item(&location).filter(|(i, _)| *i < batch.len())
                else {
                    return Err(Error::Invalid {
                        location,
                        message,
                        value,
                    });
                };
                let err = Error::Invalid {
                    location: format!("line {}: {rest}", numbers[i]),
                    message,
                    value,
                };
                if strict {
                    return Err(err);
                }
                skipped(numbers[i], &err);
                batch.remove(i);
                numbers.remove(i);
                if batch.is_empty() {
                    return Ok(IngestSummary::default());
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// `observation 3: manifests[0].platform` → (3, `manifests[0].platform`):
/// which item of a batch the ledger refused (see `Ledger::ingest` and
/// `Ledger::record_relations`).
fn refused_item(location: &str) -> Option<(usize, &str)> {
    let rest = location
        .strip_prefix("observation ")
        .or_else(|| location.strip_prefix("relation "))?;
    let (i, rest) = rest.split_once(": ")?;
    Some((i.parse().ok()?, rest))
}
