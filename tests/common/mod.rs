//! Helpers the integration tests share: plain-redb mirrors of the store's
//! tables ([`tables`]), the bundled sample data ([`sample`]) and a seeded
//! random source ([`rng`]). A module of both test binaries (`tests/behaviour.rs`
//! takes it as `crate::common`, `tests/corrupt_rows.rs` with `mod common;`).

// Each of the two test binaries uses only a part of it: without this, each
// would warn (and `-D warnings` fail) about the helpers it does not call.
#![allow(dead_code)]

pub mod rng;
pub mod sample;
pub mod tables;

/// The name libtest knows a test of this binary by, for a child process
/// re-running that one test (`--exact`): `module_path` is the test's
/// `module_path!()`, whose first segment (the crate) libtest leaves out.
///
/// ```ignore
/// common::test_name(module_path!(), "reader_child") // "multi_process::reader_child"
/// ```
pub fn test_name(module_path: &str, test: &str) -> String {
    match module_path.split_once("::") {
        Some((_crate, module)) => format!("{module}::{test}"),
        None => test.to_owned(),
    }
}
