//! Fuzz target: `Digest::from_compact` (the storage key form): no panic, and
//! an accepted input is exactly the compact form of the digest it decodes to,
//! whose text form round-trips.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::Digest;

fuzz_target!(|data: &[u8]| {
    match Digest::from_compact(data) {
        Ok(d) => {
            assert_eq!(d.to_compact(), data, "compact round trip of {d}");
            let (array, len) = d.compact_array();
            assert_eq!(&array[..len], data, "compact_array of {d}");
            common::round_trip::<Digest>(&d.to_string());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
