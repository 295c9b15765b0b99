//! `ociledger id parse`: the parser, from outside, one JSON object per input.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use clap::Subcommand;
use ociledger::id::ImageRef;
use serde::Serialize;

#[derive(Subcommand)]
pub enum IdCommand {
    /// Parse image strings and print what each one means, as JSON lines.
    ///
    /// Exit status 0 when every input is valid, 1 when any is invalid.
    Parse {
        /// Strings to parse; `-` reads one string per line from stdin.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
}

/// One line of `id parse` output. Absent parts are `null`.
#[derive(Serialize)]
struct ParseReport<'a> {
    input: &'a str,
    valid: bool,
    kind: Option<&'static str>,
    domain: Option<&'a str>,
    path: Option<&'a str>,
    registry: Option<&'a str>,
    namespace: Option<&'a str>,
    tag: Option<&'a str>,
    digest: Option<String>,
    canonical: Option<String>,
    familiar: Option<String>,
    error: Option<String>,
    position: Option<usize>,
}

fn report<'a>(
    input: &'a str,
    parsed: &'a Result<ImageRef, ociledger::id::IdError>,
) -> ParseReport<'a> {
    match parsed {
        Ok(r) => {
            let repo = r.repository();
            ParseReport {
                input,
                valid: true,
                kind: Some(r.kind().as_str()),
                domain: repo.map(ociledger::id::RepositoryId::domain),
                path: repo.map(ociledger::id::RepositoryId::path),
                registry: repo.map(ociledger::id::RepositoryId::registry),
                namespace: repo.map(ociledger::id::RepositoryId::namespace),
                tag: r.tag(),
                digest: r.digest().map(ToString::to_string),
                canonical: Some(r.to_string()),
                familiar: Some(r.familiar()),
                error: None,
                position: None,
            }
        }
        Err(e) => ParseReport {
            input,
            valid: false,
            kind: None,
            domain: None,
            path: None,
            registry: None,
            namespace: None,
            tag: None,
            digest: None,
            canonical: None,
            familiar: None,
            error: Some(e.to_string()),
            position: e.position(),
        },
    }
}

pub fn run(cmd: &IdCommand) -> io::Result<ExitCode> {
    let IdCommand::Parse { inputs } = cmd;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut all_valid = true;
    let mut one = |input: &str, out: &mut dyn Write| -> io::Result<()> {
        let parsed = input.parse::<ImageRef>();
        all_valid &= parsed.is_ok();
        serde_json::to_writer(&mut *out, &report(input, &parsed))?;
        out.write_all(b"\n")
    };
    for input in inputs {
        if input == "-" {
            for line in io::stdin().lock().lines() {
                let line = line?;
                let line = line.trim_end_matches('\r');
                if !line.is_empty() {
                    one(line, &mut out)?;
                }
            }
        } else {
            one(input, &mut out)?;
        }
    }
    out.flush()?;
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
