//! `salvage DAMAGED NEW` (issue 13).

use std::path::Path;
use std::process::ExitCode;

use ociledger::{Error, Ledger};

use crate::output::print;

/// Salvages DAMAGED into NEW and prints the report: exit status 0 when
/// nothing was lost, 1 when something was. An error (nothing could be read,
/// NEW exists) is problem+json on stderr with status 1 and no report.
pub fn salvage(damaged: &Path, new: &Path) -> Result<ExitCode, Error> {
    let report = Ledger::salvage(damaged, new)?;
    print(&report)?;
    Ok(if report.complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
