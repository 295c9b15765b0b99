//! JSON on stdout, problem+json on stderr, and exit codes.

use std::io::{self, Write};
use std::process::ExitCode;

use ociledger::problem::ErrorModel;
use serde::Serialize;

/// Prints one value as a JSON line on stdout.
pub fn print<T: Serialize>(value: &T) -> Result<(), ociledger::Error> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer(&mut out, value).map_err(|e| stdout_error(e.into()))?;
    out.write_all(b"\n").map_err(stdout_error)
}

/// Prints a problem+json line on stderr.
pub fn problem(err: &ociledger::Error) {
    let body = serde_json::to_string(&to_problem(err))
        .unwrap_or_else(|_| format!("{{\"detail\":{:?}}}", err.to_string()));
    eprintln!("{body}");
}

/// The problem+json body of an error.
pub fn to_problem(err: &ociledger::Error) -> ErrorModel {
    ErrorModel::from(err)
}

pub fn stdout_error(e: io::Error) -> ociledger::Error {
    ociledger::Error::io("writing standard output", e)
}

pub fn stdin_error(e: io::Error) -> ociledger::Error {
    ociledger::Error::io("reading standard input", e)
}

/// Reads all of stdin as one JSON value.
pub fn read_body<T: serde::de::DeserializeOwned>() -> Result<T, ociledger::Error> {
    let mut text = String::new();
    io::Read::read_to_string(&mut io::stdin(), &mut text).map_err(stdin_error)?;
    // serde reads a struct from a JSON array too (its fields by position):
    // a record body is an object, as the documents define it.
    if !text.trim_start().starts_with('{') {
        return Err(ociledger::Error::Invalid {
            location: "body".to_owned(),
            message: "a record body is a JSON object".to_owned(),
            value: Some(crate::lines::quote(text.trim())),
        });
    }
    serde_json::from_str(&text).map_err(|e| ociledger::Error::Invalid {
        location: format!("body (line {}, column {})", e.line(), e.column()),
        message: e.to_string(),
        value: None,
    })
}

pub fn exit(result: Result<ExitCode, ociledger::Error>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            problem(&err);
            ExitCode::from(1)
        }
    }
}

/// `--limit`: a page holds 1 to `MAX_PAGE` items; 0 or more is a usage error
/// rather than a silently different page size.
pub fn page_limit(text: &str) -> Result<usize, String> {
    let n: usize = text.parse().map_err(|e| format!("{e}"))?;
    if (1..=ociledger::MAX_PAGE).contains(&n) {
        Ok(n)
    } else {
        Err(format!("a page holds 1 to {} items", ociledger::MAX_PAGE))
    }
}
