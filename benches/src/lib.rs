//! What the benchmarks of `ociledger` share: the bench binaries are in
//! `benches/` (`parse`, `lookup`, `ingest`, `classify`), the report tool in
//! `examples/bench_report/`. Run them from the repository root with
//! `cargo bench -p ociledger-bench` (see this package's `README.md`).
//!
//! The ledger benches run on data sets of 10k, 1M and 10M references replayed
//! from the real tag histories, each built once and cached under
//! `target/bench-data/`:
//! - [`base`]: the history every data set replays (real, else the bundled
//!   sample, else [`synthetic`]), its replicas, and how a size is cut from them;
//! - [`rows`]: a set's digest-index rows, computed independently of the ledger;
//! - [`relations`]: the manifest relations a set records (index → platform
//!   manifests → configs) and the relation queries drawn from them;
//! - [`raw_redb`]: the raw redb baseline's file;
//! - [`raw_ingest`]: the ingest bench's raw redb contender;
//! - [`sqlite`]: the SQLite contender's file;
//! - [`queries`]: a set's fixed query mix;
//! - [`stats`]: the figures recorded when a set is built;
//! - [`dataset`]: one size's files, built once and cached;
//! - [`stream`]: the ingest bench's endless input;
//! - [`settings`]: quick mode, sizes and criterion's configuration;
//! - [`paths`], [`report`], [`rng`]: where files are, the figures left for the
//!   report tool, and deterministic randomness.

// Bench setup fails loudly by design: every helper panics (`expect`) on an I/O
// or data error, and a `# Panics` section on each would only say so again.
#![allow(clippy::missing_panics_doc)]

pub mod base;
pub mod dataset;
pub mod paths;
pub mod queries;
pub mod raw_ingest;
pub mod raw_redb;
pub mod relations;
pub mod report;
pub mod rng;
pub mod rows;
pub mod settings;
pub mod sqlite;
pub mod stats;
pub mod stream;
pub mod synthetic;

/// Observations per `ingest` call (and per transaction in the alternatives).
pub const BATCH: usize = 10_000;

/// The actor of every bench write.
pub const ACTOR: &str = "bench";
