//! Fuzz target: `TagId::from_str`: no panic, canonical round trip, and the
//! familiar form (`nginx:1.25`) names the same tag.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::TagId;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else { return };
    if let Some(x) = common::round_trip::<TagId>(s) {
        common::familiar_round_trip(&x, &x.familiar());
    }
});
