//! Fuzz target: `ImageRef::from_str` (any image string a cluster shows):
//! no panic, canonical round trip, and the familiar form (`nginx:1.25`,
//! `istio/pilot@sha256:…`) names the same image.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else { return };
    if let Some(x) = common::round_trip::<ImageRef>(s) {
        common::familiar_round_trip(&x, &x.familiar());
    }
});
