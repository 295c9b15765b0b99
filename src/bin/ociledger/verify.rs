//! `verify` and `head`.

use std::process::ExitCode;

use ociledger::{Error, Ledger};

use crate::output::print;

/// Verifies the file and prints the report; exit status 1 when anything was
/// found. Opens the file for writing when no other process does, so redb's
/// own check runs too; beside a running writer, read-only (and says so).
pub fn verify(db: &std::path::Path) -> Result<ExitCode, Error> {
    if !db.exists() {
        return Err(Error::NotFound {
            what: "ledger file",
            id: db.display().to_string(),
        });
    }
    let ledger = match Ledger::open(db) {
        Err(Error::InUse { .. } | Error::Storage(_)) => Ledger::open_read_only(db)?,
        other => other?,
    };
    let report = ledger.verify()?;
    print(&report)?;
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints the latest journal record (`null` before the first batch).
pub fn head(db: &std::path::Path) -> Result<ExitCode, Error> {
    let ledger = Ledger::open_read_only(db)?;
    print(&ledger.head()?)?;
    Ok(ExitCode::SUCCESS)
}
