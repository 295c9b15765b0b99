//! Fuzz target: a manifest relation JSON line
//! (`serde_json::from_slice::<ManifestRelation>`, what `ociledger import
//! --manifests` reads; `{"index", "manifests"}` or `{"manifest", "config"}`):
//! no panic, JSON round trip, and the round trip keeps the shape.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::model::ManifestRelation;

fuzz_target!(|data: &[u8]| {
    let Some(r) = common::json_round_trip::<ManifestRelation>(data) else {
        return;
    };
    // The written line has an "index" key exactly when it is an index relation
    // (that key is how the reader tells the shapes apart).
    let value = serde_json::to_value(&r).expect("a relation serializes");
    let has_index = value.get("index").is_some();
    assert_eq!(
        has_index,
        matches!(r, ManifestRelation::Index(_)),
        "shape of {value}"
    );
});
