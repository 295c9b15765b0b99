//! Parsing 10,000 real image strings (`data/image-strings.txt`, built from the
//! real histories): `ImageRef`, `TagId` and `Digest` parsers against a baseline
//! that only splits the string (no validation, no normalization).
//!
//! `cargo bench --bench parse`; quick: `cargo bench --bench parse -- --warm-up-time 0.2 --measurement-time 0.5`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ociledger::id::{Digest, ImageRef, TagId};

fn strings() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/image-strings.txt");
    let text = std::fs::read_to_string(path).expect("data/image-strings.txt is bundled");
    text.lines().map(str::to_owned).collect()
}

fn parse(c: &mut Criterion) {
    let all = strings();
    let tags: Vec<&String> = all.iter().filter(|s| s.parse::<TagId>().is_ok()).collect();
    let digests: Vec<&String> = all.iter().filter(|s| s.parse::<Digest>().is_ok()).collect();
    let mut g = c.benchmark_group("parse");

    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("split_only", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for s in &all {
                let (name, digest) = s.split_once('@').unwrap_or((s, ""));
                let tag = name.rfind(':').map_or("", |i| &name[i + 1..]);
                n += name.len() + tag.len() + digest.len();
            }
            black_box(n)
        });
    });
    g.bench_function("image_ref", |b| {
        b.iter(|| {
            all.iter()
                .filter(|s| black_box(s.parse::<ImageRef>()).is_ok())
                .count()
        });
    });

    g.throughput(Throughput::Elements(tags.len() as u64));
    g.bench_function("tag_id", |b| {
        b.iter(|| {
            tags.iter()
                .filter(|s| black_box(s.parse::<TagId>()).is_ok())
                .count()
        });
    });

    g.throughput(Throughput::Elements(digests.len() as u64));
    g.bench_function("digest", |b| {
        b.iter(|| {
            digests
                .iter()
                .filter(|s| black_box(s.parse::<Digest>()).is_ok())
                .count()
        });
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
