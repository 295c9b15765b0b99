//! Fuzz target: `ReferenceId::from_str`: no panic, canonical round trip, and
//! its canonical form read as an `ImageRef` is the same tag and digest.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::{ImageRef, ImageRefKind, ReferenceId};

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else { return };
    if let Some(x) = common::round_trip::<ReferenceId>(s) {
        let canonical = x.to_string();
        let r: ImageRef = match canonical.parse() {
            Ok(r) => r,
            Err(e) => panic!("reference {canonical:?} is not an image ref: {e}"),
        };
        assert_eq!(r.kind(), ImageRefKind::Reference, "{canonical:?}");
        assert_eq!(r.tag_id().as_ref(), Some(x.tag()), "{canonical:?}");
        assert_eq!(r.digest(), Some(x.digest()), "{canonical:?}");
    }
});
