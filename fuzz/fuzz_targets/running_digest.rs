//! Fuzz target: `model::pods::running_digest` (the digest in a runtime's
//! `imageID`: `docker-pullable://repo@sha256:…`, `docker://sha256:…`,
//! `repo@sha256:…`, bare `sha256:…`, or empty): no panic; blank input is
//! `Ok(None)`; a digest found round-trips as a `Digest`; an error keeps the
//! `IdError` contract (renders, points inside the input, quotes the input).
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::Digest;
use ociledger::model::pods::running_digest;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else { return };
    match running_digest(s) {
        Ok(Some(d)) => {
            let shown = d.to_string();
            match shown.parse::<Digest>() {
                Ok(again) => assert_eq!(again, d, "digest {shown:?} read from {s:?}"),
                Err(e) => panic!("digest {shown:?} read from {s:?} does not parse: {e}"),
            }
            common::round_trip::<Digest>(&shown);
        }
        Ok(None) => {}
        Err(e) => {
            assert!(!s.trim().is_empty(), "blank imageID {s:?} is an error: {e}");
            common::check_error(s, &e);
        }
    }
});
