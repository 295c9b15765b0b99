//! Fuzz target: RepositoryId::from_str never panics and round-trips, familiar form included.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::RepositoryId;

fuzz_target!(|data: &[u8]| {
    if let Some(x) = common::round_trip::<RepositoryId>(data) {
        assert_eq!(x.familiar().parse::<RepositoryId>().ok(), Some(x.clone()), "familiar form of {x}");
    }
});
