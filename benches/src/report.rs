//! The figures the benches leave beside criterion's estimates for the report
//! tool (`examples/bench_report/`): one JSON file per name in
//! `target/bench-data/report/`.

use std::fs;
use std::path::PathBuf;

use serde::Serialize;

use crate::paths;

/// `target/bench-data/report/<name>.json`.
#[must_use]
pub fn path(name: &str) -> PathBuf {
    paths::bench_root()
        .join("report")
        .join(format!("{name}.json"))
}

/// Writes a bench's figures under `name`.
pub fn write(name: &str, value: &impl Serialize) {
    let path = path(name);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("create target/bench-data/report");
    }
    fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write report json");
}
