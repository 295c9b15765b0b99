//! Fuzz target: `Digest::from_str`: no panic, canonical round trip, and the
//! compact (storage key) form round-trips too.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::Digest;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else { return };
    if let Some(d) = common::round_trip::<Digest>(s) {
        assert_eq!(
            Digest::from_compact(&d.to_compact()).ok(),
            Some(d),
            "compact form of {d}"
        );
        assert_eq!(d.to_string(), format!("{}:{}", d.algorithm(), d.hex()));
    }
});
