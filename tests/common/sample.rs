//! The bundled sample: `data/sample-events.jsonl.gz` (5,143 observations)
//! and `data/sample-manifests.jsonl.gz` (2,476 manifest relation lines).

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use ociledger::id::Digest;
use ociledger::model::{ManifestRelation, Observation};
use serde_json::Value;

/// `data/NAME` of this crate.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// The non-blank lines of a gzip file (every member).
pub fn gz_lines(path: &Path) -> Vec<String> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(MultiGzDecoder::new(file))
        .lines()
        .map(|l| l.expect("sample line"))
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// Every line parsed as JSON into `T`; a line that does not parse fails the
/// test, naming it.
pub fn parse_all<T: serde::de::DeserializeOwned>(lines: &[String]) -> Vec<T> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The lines of `data/sample-events.jsonl.gz`, one observation each.
pub fn sample_lines() -> Vec<String> {
    gz_lines(&data("sample-events.jsonl.gz"))
}

/// The lines of `data/sample-manifests.jsonl.gz`, one relation each.
pub fn relation_lines() -> Vec<String> {
    gz_lines(&data("sample-manifests.jsonl.gz"))
}

/// The sample's observations, in file order.
pub fn sample_observations() -> Vec<Observation> {
    parse_all(&sample_lines())
}

/// The sample's manifest relations, in file order.
pub fn sample_relations() -> Vec<ManifestRelation> {
    parse_all(&relation_lines())
}

/// Every digest the sample's relation lines name (index, manifest, config,
/// and each listed manifest's digest and config), in file order.
pub fn relation_digests() -> Vec<Digest> {
    let mut digests = Vec::new();
    for r in parse_all::<Value>(&relation_lines()) {
        for d in [&r["index"], &r["manifest"], &r["config"]] {
            if let Some(d) = d.as_str() {
                digests.push(d.parse().expect("digest"));
            }
        }
        for m in r["manifests"].as_array().into_iter().flatten() {
            for d in [&m["digest"], &m["config"]] {
                if let Some(d) = d.as_str() {
                    digests.push(d.parse().expect("digest"));
                }
            }
        }
    }
    digests
}
