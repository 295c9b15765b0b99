//! The fallback history when neither `../shared/data/` nor the bundled sample
//! is present: 20k tags, geometric history lengths (median ~3, long tail), some
//! digests shared between tags.

use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::Observation;

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
