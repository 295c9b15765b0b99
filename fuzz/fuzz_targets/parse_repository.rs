//! Fuzz target: `RepositoryId::from_str`: no panic, canonical round trip, and
//! the familiar form (`nginx`, `istio/pilot`) names the same repository.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::RepositoryId;

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else { return };
    if let Some(x) = common::round_trip::<RepositoryId>(s) {
        common::familiar_round_trip(&x, x.familiar());
        assert_eq!(format!("{}/{}", x.registry(), x.namespace()), x.to_string());
        let rebuilt = RepositoryId::from_registry_namespace(x.registry(), x.namespace());
        assert_eq!(rebuilt.as_ref().ok(), Some(&x), "registry/namespace of {x}");
    }
});
