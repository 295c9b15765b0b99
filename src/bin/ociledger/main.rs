//! `ociledger`: the command-line face of the library.
//!
//! Output is JSON on stdout; errors are problem+json on stderr. Exit status:
//! 0 success, 1 invalid input, not found or a failed operation, 2 usage errors.
#![deny(clippy::pedantic)]
// Doc comments here are clap help text that users read as-is: no Markdown.
#![allow(clippy::doc_markdown)]
#![forbid(unsafe_code)]

mod backup;
mod id_cmd;
mod import;
mod integrations;
mod lines;
mod output;
mod pods;
mod query;
mod records;
mod salvage;
#[cfg(feature = "scan")]
mod scan;
mod templates;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ociledger::Ledger;

/// Tag-history ledger for OCI images: which repository:tag is digest D, now or in the past?
#[derive(Parser)]
#[command(name = "ociledger", version, about)]
struct Cli {
    /// The ledger file.
    #[arg(
        long,
        global = true,
        env = "OCILEDGER_DB",
        default_value = "ociledger.redb"
    )]
    db: PathBuf,
    /// Who makes the writes (recorded in created_by / last_modified_by).
    #[arg(
        long,
        global = true,
        env = "OCILEDGER_ACTOR",
        default_value = "ociledger"
    )]
    actor: String,
    /// The key that encrypts integration credentials: a file of 32 random bytes,
    /// raw or as 64 hexadecimal characters (e.g. head -c 32 /dev/urandom > ociledger.key).
    #[arg(
        long,
        global = true,
        env = "OCILEDGER_SECRET_KEY_FILE",
        value_name = "PATH"
    )]
    secret_key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with identifiers (no database needed).
    #[command(subcommand)]
    Id(id_cmd::IdCommand),
    /// Import scan observations: JSON lines {"repository","tag","digest","observed_at"}, gzip or plain.
    Import(import::ImportArgs),
    /// Every tag that points or pointed to a digest.
    Lookup {
        /// The digest (`sha256:…` or 64 hex).
        digest: String,
    },
    /// A tag's history, newest first.
    History {
        /// The tag ID (`nginx:latest`, `ghcr.io/a/b:v1`).
        tag: String,
        /// At most this many entries.
        #[arg(long, default_value_t = 50, value_parser = crate::output::page_limit)]
        limit: usize,
        /// Continue after this cursor (a previous answer's `next`).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The digest a tag pointed to at a time.
    At {
        /// The tag ID.
        tag: String,
        /// RFC 3339 time, e.g. 2017-06-01T00:00:00Z.
        time: String,
    },
    /// Classify a running image: current, historical, other tags, tag only or unknown.
    /// With --pods, every container of a cluster (kubectl get pods -A -o json).
    Classify {
        /// The image string as the cluster shows it, or `-` for JSON lines {"image","digest"} on stdin.
        #[arg(required_unless_present = "pods", conflicts_with = "pods")]
        image: Option<String>,
        /// The digest the container runs.
        #[arg(long, conflicts_with = "pods")]
        digest: Option<String>,
        /// A Pod, or a List/PodList of pods (kubectl get pods -A -o json), or `-` for stdin:
        /// classifies every container, init container and ephemeral container.
        #[arg(long, value_name = "FILE")]
        pods: Option<PathBuf>,
        /// With --pods: an aligned table (the default on a terminal) or JSON lines (otherwise).
        #[arg(long, value_enum, requires = "pods", conflicts_with = "image")]
        output: Option<pods::Output>,
    },
    /// Repository records (seed 000).
    #[command(subcommand)]
    Repo(records::RepoCommand),
    /// Tag records (seed 001).
    #[command(subcommand)]
    Tag(records::TagCommand),
    /// Reference records (seed 003).
    #[command(subcommand, name = "ref")]
    Ref(records::RefCommand),
    /// Registry and scanner integrations (StackRox's image integrations): bodies as
    /// JSON on stdin, credentials encrypted at rest and masked in every output.
    #[command(subcommand)]
    Integration(integrations::IntegrationCommand),
    /// Repository creation templates (Amazon ECR's document), per registry: bodies as JSON
    /// on stdin; they give new repositories their tag mutability.
    Template(templates::TemplateArgs),
    /// Moves of immutable tags that ingest observed, oldest observation first.
    Violations {
        /// Only those observed at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Continue after this cursor (a previous answer's `next`).
        #[arg(long)]
        cursor: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Scan registries: list each repository's tags, resolve them (verifying every manifest
    /// downloaded) and record moves, new and deleted tags, image indexes and configs, one
    /// transaction per repository. JSON summary on stdout.
    #[cfg(feature = "scan")]
    Scan(scan::ScanArgs),
    /// Counts of repositories, tags, references, moves, and the file size.
    Stats,
    /// Give the file's free space back (after a large import): file sizes before and after.
    Compact,
    /// Check the file: redb's integrity check, then every cross-table invariant (the digest
    /// index equals what the move log implies, names, relations, the journal's
    /// hash chain). Findings as JSON; exit status 1 when any.
    Verify,
    /// The latest journal record and its hash, which covers every batch before it: write it
    /// down to check later that history was not rewritten.
    Head,
    /// Write a consistent copy of the ledger to PATH (a new file), taken from one snapshot
    /// while a writer goes on, and its blake3 checksum to PATH.blake3 (b3sum format).
    Backup {
        /// The backup file to write; it must not exist.
        path: PathBuf,
    },
    /// Put a backup in place as the --db file: checks BACKUP against BACKUP.blake3 and that
    /// it is a ledger, then copies it beside the target and renames it over the target.
    Restore {
        /// The backup file (written by `backup`).
        backup: PathBuf,
        /// Replace an existing --db file (never one a running writer holds).
        #[arg(long)]
        force: bool,
    },
    /// Copy every row of a damaged ledger that still reads and verifies into a new file, and
    /// report (JSON) what was lost. DAMAGED is only read. Exit 0 when nothing was lost, 1 when
    /// something was (the report says what), or 1 with problem+json on stderr and no report
    /// when nothing could be read. Ignores --db.
    Salvage {
        /// The damaged ledger file.
        damaged: PathBuf,
        /// The new ledger file (must not exist).
        new: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Id(cmd) => {
            return output::exit(
                id_cmd::run(&cmd).map_err(|e| ociledger::Error::io("id parse", e)),
            );
        }
        Command::Import(args) => import::open_input(&args).and_then(|input| {
            with_ledger(&cli.db, true, |l| import::run(l, &cli.actor, &args, input))
        }),
        Command::Lookup { digest } => with_ledger(&cli.db, false, |l| query::lookup(l, &digest)),
        Command::History { tag, limit, cursor } => with_ledger(&cli.db, false, |l| {
            query::history(l, &tag, limit, cursor.as_deref())
        }),
        Command::At { tag, time } => with_ledger(&cli.db, false, |l| query::at(l, &tag, &time)),
        Command::Classify {
            image,
            digest,
            pods,
            output,
        } => with_ledger(&cli.db, false, |l| match (&pods, &image) {
            (Some(file), _) => pods::classify_pods(l, file, output),
            (None, Some(image)) => query::classify(l, image, digest.as_deref()),
            (None, None) => Err(ociledger::Error::Invalid {
                location: "arguments".to_owned(),
                message: "give an image string or --pods FILE".to_owned(),
                value: None,
            }),
        }),
        Command::Repo(cmd) => {
            with_ledger(&cli.db, cmd.writes(), |l| records::repo(l, &cli.actor, cmd))
        }
        Command::Tag(cmd) => {
            with_ledger(&cli.db, cmd.writes(), |l| records::tag(l, &cli.actor, cmd))
        }
        Command::Ref(cmd) => with_ledger(&cli.db, false, |l| records::reference(l, &cmd)),
        Command::Integration(cmd) => {
            integrations::run(&cli.db, cli.secret_key_file.as_deref(), cmd)
        }
        Command::Template(args) => with_ledger(&cli.db, args.writes(), |l| templates::run(l, args)),
        Command::Violations {
            since,
            cursor,
            limit,
        } => with_ledger(&cli.db, false, |l| {
            templates::violations(l, since.as_deref(), cursor.as_deref(), limit)
        }),
        #[cfg(feature = "scan")]
        Command::Scan(args) => {
            scan::run(&cli.db, cli.secret_key_file.as_deref(), &cli.actor, &args)
        }
        Command::Stats => query::stats(&cli.db),
        Command::Compact => query::compact(&cli.db),
        Command::Verify => verify::verify(&cli.db),
        Command::Head => verify::head(&cli.db),
        Command::Backup { path } => backup::backup(&cli.db, &path),
        Command::Restore { backup, force } => backup::restore(&cli.db, &backup, force),
        Command::Salvage { damaged, new } => salvage::salvage(&damaged, &new),
    };
    output::exit(result)
}

/// Opens the ledger and runs `f`: for writes, creating the file if needed;
/// for queries, read-only, so a query never changes the file, works on a
/// read-only file, and runs beside a writing process.
fn with_ledger(
    db: &std::path::Path,
    writes: bool,
    f: impl FnOnce(&Ledger) -> Result<ExitCode, ociledger::Error>,
) -> Result<ExitCode, ociledger::Error> {
    let ledger = if writes {
        Ledger::create(db)?
    } else {
        Ledger::open_read_only(db)?
    };
    f(&ledger)
}
