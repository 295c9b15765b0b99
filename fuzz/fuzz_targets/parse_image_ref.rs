//! Fuzz target: ImageRef::from_str never panics and round-trips.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::ImageRef;

fuzz_target!(|data: &[u8]| {
    let _ = common::round_trip::<ImageRef>(data);
});
