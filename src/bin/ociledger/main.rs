//! `ociledger`: the command-line face of the library.
//!
//! Output is JSON on stdout; errors go to stderr. Exit status: 0 success,
//! 1 invalid input or not found, 2 usage errors (clap's own convention).
#![deny(clippy::pedantic)]
#![forbid(unsafe_code)]

mod id_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tag-history ledger for OCI images: which repository:tag is digest D, now or in the past?
#[derive(Parser)]
#[command(name = "ociledger", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with identifiers (no database needed).
    #[command(subcommand)]
    Id(id_cmd::IdCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Id(cmd) => id_cmd::run(&cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ociledger: {err}");
            ExitCode::from(1)
        }
    }
}
