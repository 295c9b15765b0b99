//! Where things are: the repository this package sits in (its `data/` and
//! `src/store/`), the real histories beside it, and the workspace's `target/`,
//! where the data sets, scratch files and figures go.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root: the `ociledger` package, whose `benches/` this package is.
#[must_use]
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench package sits in the repository's benches/")
}

/// A path given in the environment: relative ones are taken from the repository
/// root, where the bench commands are run.
#[must_use]
pub fn from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(|p| repo_root().join(p))
}

/// The workspace's `target/` (or `$CARGO_TARGET_DIR`).
#[must_use]
pub fn target_dir() -> PathBuf {
    from_env("CARGO_TARGET_DIR").unwrap_or_else(|| repo_root().join("target"))
}

/// `target/bench-data/`: the cached data sets, scratch space and the benches' figures.
#[must_use]
pub fn bench_root() -> PathBuf {
    target_dir().join("bench-data")
}

/// The real tag histories: `$OCILEDGER_BENCH_DATA`, else `../shared/data/` beside the repository.
#[must_use]
pub fn shared_data_dir() -> PathBuf {
    from_env("OCILEDGER_BENCH_DATA").unwrap_or_else(|| repo_root().join("../shared/data"))
}

/// A scratch directory on the same disk as the data sets (not a tmpfs), for ingest runs.
#[must_use = "the directory is removed when dropped"]
pub fn scratch_dir() -> tempfile::TempDir {
    let root = bench_root().join("tmp");
    fs::create_dir_all(&root).expect("create target/bench-data/tmp");
    tempfile::tempdir_in(root).expect("scratch directory")
}
