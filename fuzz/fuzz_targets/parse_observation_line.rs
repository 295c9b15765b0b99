//! Fuzz target: an observation JSON line (`serde_json::from_slice::<Observation>`,
//! what `ociledger ingest` reads): no panic, JSON round trip
//! (`from_str(to_string(x)) == x`), and the manifest relation it carries
//! (`"config"` or `"manifests"`) round-trips as a `ManifestRelation` line too.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::model::{ManifestRelation, Observation};

fuzz_target!(|data: &[u8]| {
    let Some(o) = common::json_round_trip::<Observation>(data) else {
        return;
    };
    assert!(
        o.config.is_none() || o.manifests.is_empty(),
        "an observation read with both config and manifests: {o:?}"
    );
    match o.relation() {
        Some(ManifestRelation::Index(r)) => {
            assert_eq!((r.index, &r.manifests), (o.digest, &o.manifests));
        }
        Some(ManifestRelation::Config(r)) => {
            assert_eq!((r.manifest, Some(r.config)), (o.digest, o.config));
        }
        None => assert!(o.config.is_none() && o.manifests.is_empty(), "{o:?}"),
    }
    if let Some(relation) = o.relation() {
        let line = serde_json::to_string(&relation).expect("a relation serializes");
        common::json_round_trip::<ManifestRelation>(line.as_bytes())
            .unwrap_or_else(|| panic!("the relation line {line} of {o:?} does not read"));
    }
});
