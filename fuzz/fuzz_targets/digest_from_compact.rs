//! Fuzz target: Digest::from_compact never panics and round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ociledger::id::Digest;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Digest::from_compact(data) {
        assert_eq!(d.to_compact(), data, "compact round trip");
        assert_eq!(d.to_string().parse::<Digest>().ok(), Some(d));
    }
});
