//! Run: `cargo bench -p ociledger-bench --bench classify` (from the repository root).
//!
//! The classifier's question end to end: `Snapshot::classify` on one snapshot,
//! over a batch of image strings as clusters show them, with the running digests.
//!
//! Group `classify`, function `classify_with` (the name of the free function
//! this measured before it became `Snapshot::classify`, kept so that results
//! and saved baselines stay comparable), parameter = references in the
//! data set (10k and 1M; 10k in quick mode). One iteration classifies the
//! whole batch (`Throughput::Elements` = images). The batch is built from the
//! data set's fixed query list, in five forms that rotate:
//! - a current hit as `nginx:1.13` (familiar) + running digest → `current`;
//! - a historical hit as `docker.io/library/nginx:1.13@sha256:…` (digest in the string) → `historical`;
//! - a digest only as `docker-pullable://…@sha256:…` → `other_tags`;
//! - a known tag with an unknown digest → `tag_only`;
//! - an unknown repository → `unknown`.
//!
//! The kinds the ledger answers are counted before timing and written to
//! `target/bench-data/report/classify-<size>.json`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ociledger::Ledger;
use ociledger::id::{Algorithm, Digest};
use ociledger_bench::dataset::DataSet;
use ociledger_bench::{report, settings};

fn inputs(set: &DataSet) -> Vec<(String, Option<Digest>)> {
    let queries = set.load_queries();
    let mut out = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let miss = Digest::of(Algorithm::Sha256, format!("classify-miss-{i}").as_bytes());
        match (q.kind, &q.tag) {
            ('C', Some(tag)) => out.push((tag.familiar(), Some(q.digest))),
            ('H', Some(tag)) if i % 2 == 0 => out.push((format!("{tag}@{}", q.digest), None)),
            ('H', Some(tag)) => out.push((
                format!("docker-pullable://{}@{}", tag.repository(), q.digest),
                None,
            )),
            ('M', _) if i % 2 == 0 => out.push((
                format!("unknown{i}.example/nobody/nothing:v{i}"),
                Some(miss),
            )),
            _ => {
                // A known tag with a digest never seen for it.
                if let Some(tag) = queries.iter().find_map(|q| q.tag.as_ref()) {
                    out.push((tag.to_string(), Some(miss)));
                }
            }
        }
    }
    out
}

fn classify(c: &mut Criterion) {
    let sizes: Vec<u64> = settings::sizes()
        .into_iter()
        .filter(|&s| s <= 1_000_000)
        .collect();
    let mut group = c.benchmark_group("classify");
    for size in sizes {
        let set = DataSet::ensure(size);
        let batch = inputs(&set);
        let ledger = Ledger::open(&set.ledger).expect("open ledger");
        let snap = ledger.snapshot().expect("snapshot");
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for (image, digest) in &batch {
            let answer = snap.classify(image, digest.as_ref()).expect("classify");
            *kinds.entry(format!("{:?}", answer.kind)).or_default() += 1;
        }
        eprintln!("[classify {size}] {} images: {kinds:?}", batch.len());
        report::write(&format!("classify-{size}"), &kinds);
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(BenchmarkId::new("classify_with", size), |b| {
            b.iter(|| {
                for (image, digest) in &batch {
                    black_box(
                        snap.classify(black_box(image), digest.as_ref())
                            .expect("classify"),
                    );
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = classify
}
criterion_main!(benches);
