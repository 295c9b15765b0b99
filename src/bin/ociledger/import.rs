//! `import`: JSON lines of observations (or, with `--manifests`, of manifest
//! relations) into the ledger, in batches.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ociledger::model::{ManifestRelation, Observation};
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

/// The end-of-import summary.
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
    total.tags_moved += s.tags_moved;
    total.relations_created += s.relations_created;
    total.violations_created += s.violations_created;
}

/// One kind of line an import reads, and how a batch of them is written.
trait Line: serde::de::DeserializeOwned {
    const NOUN: &'static str;
    fn write(ledger: &Ledger, actor: &str, batch: &[Self]) -> Result<IngestSummary, Error>;
}

impl Line for Observation {
    const NOUN: &'static str = "observations";
    fn write(ledger: &Ledger, actor: &str, batch: &[Self]) -> Result<IngestSummary, Error> {
        ledger.ingest(actor, batch)
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
    for line in Lines::new(reader) {
        let (n, line) =
            line.map_err(|e| ociledger::Error::io(format!("reading {}", args.file.display()), e))?;
        report.lines += 1;
        let parsed = match &line {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => serde_json::from_str::<T>(text).map_err(|e| e.to_string()),
            Err(bad) => Err(bad.to_string()),
        };
        match parsed {
            Ok(o) => {
                batch.push(o);
                numbers.push(n);
            }
            Err(message) => {
                let err = Error::Invalid {
                    location: format!("line {n}"),
                    message: lines::quote(&message),
                    value: line.ok().map(|text| lines::quote(&text)),
                };
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
