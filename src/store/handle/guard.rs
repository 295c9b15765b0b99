//! The panic guard every entry point runs under: a damaged file must end in
//! an error that names it, never in a panic that takes the embedding
//! process down.

use std::path::Path;

use crate::error::{Error, Result};

/// Runs `f`, turning a panic inside the storage engine into
/// [`Error::Corrupt`] naming the file, and naming the file in every
/// `Corrupt` that `f` returns (see [`name_file`]). redb trusts its own pages; on a
/// damaged file some reads end in a panic deep in its B-tree code, and a
/// file's contents must never take the embedding process down.
pub(crate) fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(|e| name_file(path, e)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(Error::Corrupt(format!(
                "{}: the storage engine failed on a damaged page ({message})",
                path.display()
            )))
        }
    }
}

/// Starts a [`Error::Corrupt`] message with the file's path (unless it
/// does already), so every damage an embedder or the CLI sees names the file,
/// not only the table and row that rows.rs names.
fn name_file(path: &Path, e: Error) -> Error {
    match e {
        Error::Corrupt(m) => {
            let shown = path.display().to_string();
            if m.strip_prefix(&shown)
                .is_some_and(|rest| rest.starts_with(':'))
            {
                Error::Corrupt(m)
            } else {
                Error::Corrupt(format!("{shown}: {m}"))
            }
        }
        other => other,
    }
}
