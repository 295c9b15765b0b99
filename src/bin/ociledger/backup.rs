//! `backup` and `restore` (issue 13).

use std::path::Path;
use std::process::ExitCode;

use ociledger::{Error, Ledger};

use crate::output::print;

/// `ociledger --db FILE backup PATH`: opens FILE read-only, so it runs
/// beside the writer process, and prints the backup's report.
pub fn backup(db: &Path, dest: &Path) -> Result<ExitCode, Error> {
    let ledger = Ledger::open_read_only(db)?;
    print(&ledger.backup(dest)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `ociledger --db TARGET restore BACKUP [--force]`.
pub fn restore(db: &Path, backup: &Path, force: bool) -> Result<ExitCode, Error> {
    print(&Ledger::restore(backup, db, force)?)?;
    Ok(ExitCode::SUCCESS)
}
