//! Fuzz target: Digest::from_str never panics and round-trips.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::Digest;

fuzz_target!(|data: &[u8]| {
    let _ = common::round_trip::<Digest>(data);
});
