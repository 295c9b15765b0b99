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
//!
//! Group `classify_pods` (issue 9: "classify of 10k pod containers end to
//! end from a read-only open, as a ratio to 10k bare lookups"), parameter =
//! references: `end_to_end` opens the ledger read-only, parses a `PodList` of
//! 10,000 containers (JSON text, as `kubectl get pods -A -o json` prints
//! it), reads every container's image and runtime `imageID`, and classifies
//! each on one snapshot, as `ociledger classify --pods` does; `bare_lookups`
//! is 10,000 `Snapshot::tags_for_digest` calls on an open snapshot, of the
//! same running digests (cycled: a container whose digest is only in its
//! image string has no `imageID`). The containers cycle through the classify batch above and
//! the data set's relation queries, with the `imageID` forms runtimes
//! report: containerd's `repo@digest` of the index, CRI-O's platform
//! manifest, a bare config digest, and a pending container with none.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ociledger::id::{Algorithm, Digest};
use ociledger::model::pods;
use ociledger::{Ledger, Snapshot};
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

/// Containers in the pod-list bench.
const CONTAINERS: usize = 10_000;

/// A `PodList` of [`CONTAINERS`] containers (two per pod), as JSON text, and
/// the running digest of each (what the bare lookups look up).
fn pod_list(set: &DataSet) -> (String, Vec<Digest>) {
    let batch = inputs(set);
    let relations = set.load_relation_queries();
    let mut items = Vec::new();
    let mut digests = Vec::new();
    let mut containers = Vec::new();
    for i in 0..CONTAINERS {
        // Every fifth container comes from the relation queries: a platform
        // manifest (CRI-O) or a config (a runtime without repo digests).
        let (image, image_id, digest) = match relations.get(i / 5 % relations.len().max(1)) {
            Some(q) if i % 5 == 0 => {
                let (d, id) = if i % 10 == 0 {
                    (q.child, format!("quay.io/mirror/app@{}", q.child))
                } else {
                    (q.config, q.config.to_string())
                };
                (format!("registry.example/app:v{i}"), id, Some(d))
            }
            _ => {
                let (image, digest) = &batch[i % batch.len()];
                let id = digest.map_or_else(String::new, |d| format!("docker-pullable://app@{d}"));
                (image.clone(), id, *digest)
            }
        };
        if let Some(d) = digest {
            digests.push(d);
        }
        containers.push(serde_json::json!({
            "spec": {"name": format!("c{i}"), "image": image},
            "status": {"name": format!("c{i}"), "image": image, "imageID": image_id},
        }));
        if containers.len() == 2 {
            let (a, b) = (containers.remove(0), containers.remove(0));
            items.push(serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"namespace": "bench", "name": format!("pod-{i}")},
                "spec": {"containers": [a["spec"], b["spec"]]},
                "status": {"containerStatuses": [a["status"], b["status"]]},
            }));
        }
    }
    let doc = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    (doc.to_string(), digests)
}

/// The whole `classify --pods` path: open read-only, parse, classify all.
fn classify_pod_list(path: &std::path::Path, text: &str) -> usize {
    let ledger = Ledger::open_read_only(path).expect("open read-only");
    let snap: Snapshot = ledger.snapshot().expect("snapshot");
    let mut answered = 0;
    for c in pods::containers_in_json(text).expect("pod list") {
        let c = c.expect("container");
        let digest = c.digest().expect("imageID");
        black_box(snap.classify(&c.image, digest.as_ref()).expect("classify"));
        answered += 1;
    }
    answered
}

fn classify_pods(c: &mut Criterion) {
    let sizes: Vec<u64> = settings::sizes()
        .into_iter()
        .filter(|&s| s <= 1_000_000)
        .collect();
    let mut group = c.benchmark_group("classify_pods");
    group.throughput(Throughput::Elements(CONTAINERS as u64));
    for size in sizes {
        let set = DataSet::ensure(size);
        let (text, digests) = pod_list(&set);
        assert_eq!(classify_pod_list(&set.ledger, &text), CONTAINERS);
        eprintln!(
            "[classify_pods {size}] {CONTAINERS} containers ({} with a running digest), {} bytes of JSON",
            digests.len(),
            text.len()
        );
        group.bench_function(BenchmarkId::new("end_to_end", size), |b| {
            b.iter(|| classify_pod_list(&set.ledger, black_box(&text)));
        });
        let ledger = Ledger::open_read_only(&set.ledger).expect("open read-only");
        let snap = ledger.snapshot().expect("snapshot");
        group.bench_function(BenchmarkId::new("bare_lookups", size), |b| {
            b.iter(|| {
                for d in digests.iter().cycle().take(CONTAINERS) {
                    black_box(snap.tags_for_digest(black_box(d)).expect("lookup"));
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = classify, classify_pods
}
criterion_main!(benches);
