//! The integration tests of ociledger, one module per behaviour they protect
//! (`crash_consistency`, `multi_process`, `ledger_model`, ...; each module's
//! docs say which bugs it guards against).
//!
//! One binary rather than one per file: cargo compiled and linked the crate's
//! test code 31 times over, and ran the binaries one after another, so the
//! slow tests (the kill loop, the multi-process readers, the model test) each
//! had the machine to themselves while the other core idled. Here libtest runs
//! them side by side. Run one behaviour with
//! `cargo test --test behaviour crash_consistency::`.
//!
//! Tests that re-run themselves in a child process (`multi_process`,
//! `crash_consistency::full_file_system`) name the test with
//! [`common::test_name`]. `tests/corrupt_rows.rs` is a binary of its own: it
//! checks the peak memory of its whole process.

mod common;
#[cfg(feature = "scan")]
mod support;

mod backup_restore;
mod cli;
mod cli_pods;
mod compaction_refill;
mod crash_consistency;
mod damage_names_file;
mod damaged_files;
mod embedder_api;
mod future_observations;
mod hostile_input;
mod id_grammar;
mod id_props;
mod import_summary;
mod index_memory;
mod integration_leaks;
mod integrations;
mod ledger_files;
mod ledger_history;
mod ledger_model;
mod ledger_records;
mod manifest_relations;
mod move_log_chunks;
mod multi_process;
mod readme_demo;
mod real_data;
mod record_json;
mod salvage;
mod scan_misbehaving;
mod scan_registry;
mod sigkill_import;
mod tag_immutability;
mod templates;
