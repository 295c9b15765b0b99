//! The fallback history when neither `../shared/data/` nor the bundled sample
//! is present: 20k tags, geometric history lengths (median ~3, long tail), some
//! digests shared between tags; and, for the manifest relations, synthetic
//! image indexes, platform manifests and configs ([`relations`]).

use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::{Observation, Platform, PlatformManifest};

use crate::base::micros_to_ts;
use crate::rng::Rng;

/// The synthetic observations, sorted by observed time.
#[must_use]
pub fn observations() -> Vec<Observation> {
    let mut rng = Rng::new(42);
    let mut out = Vec::new();
    let start = 1_500_000_000_i64;
    let mut shared: Vec<Digest> = Vec::new();
    for i in 0..20_000u32 {
        let repo: RepositoryId = format!("synthetic.example/lib/img{}", i / 10)
            .parse()
            .expect("valid");
        let tag = TagId::new(repo, &format!("t{}", i % 10)).expect("valid");
        let mut n = 1;
        while n < 300 && rng.below(100) < 70 {
            n += 1;
        }
        let mut t = start + i64::try_from(rng.below(86_400 * 365)).expect("fits");
        for j in 0..n {
            let d = if !shared.is_empty() && rng.below(10) == 0 {
                shared[rng.below(shared.len())]
            } else {
                let d = Digest::of(Algorithm::Sha256, format!("synthetic-{i}-{j}").as_bytes());
                if rng.below(4) == 0 {
                    shared.push(d);
                }
                d
            };
            out.push(Observation::new(
                tag.clone(),
                d,
                micros_to_ts(t * 1_000_000),
            ));
            t += 3600 + i64::try_from(rng.below(86_400 * 30)).expect("fits");
        }
    }
    out.sort_by_key(|o| o.observed_at);
    out
}

/// Indexes with 1, 2, … 9 platform manifests in the real data
/// (`manifest-children.jsonl.gz`: 20,688 indexes, 4.4 manifests each).
const CHILDREN_PER_INDEX: [usize; 9] = [5540, 994, 1013, 1974, 1587, 2768, 6568, 161, 83];

/// The platforms of a synthetic index, in the order the real indexes list them.
fn platform(i: usize) -> Platform {
    let (os, architecture, variant) = [
        ("linux", "amd64", None),
        ("linux", "arm", Some("v5")),
        ("linux", "arm", Some("v7")),
        ("linux", "arm64", Some("v8")),
        ("linux", "386", None),
        ("linux", "ppc64le", None),
        ("linux", "s390x", None),
        ("linux", "mips64le", None),
        ("windows", "amd64", None),
    ][i % 9];
    Platform {
        os: os.to_owned(),
        architecture: architecture.to_owned(),
        variant: variant.map(str::to_owned),
        os_version: (os == "windows").then(|| "10.0.17763.1".to_owned()),
    }
}

/// Manifest relations of the synthetic digests (by index into `digests`):
/// one digest in three is an image index (platform manifests per index drawn
/// from the real distribution, each with a config), and indexes come in runs
/// of four that list the same platform manifests (the real data: 3.8 indexes
/// per platform manifest); one in five of the other digests is a single
/// manifest with a config.
#[must_use]
pub fn relations(digests: &[Digest]) -> crate::relations::BaseRelations {
    let mut rng = Rng::new(0x4E1A_7105);
    let mut out = crate::relations::BaseRelations::new("synthetic");
    let total: usize = CHILDREN_PER_INDEX.iter().sum();
    let mut run: Vec<PlatformManifest> = Vec::new();
    let mut in_run = 0;
    for i in 0..digests.len() {
        let n = u32::try_from(i).expect("fits");
        if rng.below(3) == 0 {
            if in_run % 4 == 0 {
                let mut pick = rng.below(total);
                let mut count = 1;
                for w in CHILDREN_PER_INDEX {
                    if pick < w {
                        break;
                    }
                    pick -= w;
                    count += 1;
                }
                run = (0..count)
                    .map(|j| PlatformManifest {
                        digest: Digest::of(
                            Algorithm::Sha256,
                            format!("synthetic-manifest-{i}-{j}").as_bytes(),
                        ),
                        platform: platform(j),
                        config: Some(Digest::of(
                            Algorithm::Sha256,
                            format!("synthetic-config-{i}-{j}").as_bytes(),
                        )),
                    })
                    .collect();
            }
            in_run += 1;
            out.indexes.insert(n, run.clone());
        } else if rng.below(5) == 0 {
            out.configs.insert(
                n,
                Digest::of(
                    Algorithm::Sha256,
                    format!("synthetic-config-{i}").as_bytes(),
                ),
            );
        }
    }
    out
}
