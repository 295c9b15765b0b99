//! Run: `cargo bench -p ociledger-bench --bench parse` (from the repository root).
//!
//! Parsing 10,000 real image strings: the identifier parsers against a baseline
//! that only splits the string (no validation, no normalization, no allocation).
//!
//! Input: `data/image-strings.txt`, made from the real histories in
//! `../shared/data/` by `data/make-samples.py` (see `data/README.md`). The bundled
//! file is used whether or not `../shared` is present, so every machine measures
//! the same 10,000 strings; `OCILEDGER_PARSE_STRINGS=<file>` measures another list
//! (one string per line; a relative path is taken from the repository root).
//!
//! Group `parse`, throughput in elements (strings):
//! - `split_only`: `split_once('@')` + `rfind(':')` over all 10,000 strings (baseline);
//! - `image_ref`: `ImageRef::from_str` over all 10,000 strings;
//! - `tag_id`: `TagId::from_str` over the `name:tag` part, as written, of every string
//!   that has a tag (transport prefix and `@digest` cut off);
//! - `digest`: `Digest::from_str` over the digest part, as written, of every string
//!   that has one (`sha256:…` or bare 64-hex).
//!
//! Quick run (CI smoke, ~15 s): `cargo bench -p ociledger-bench --bench parse -- --quick --noplot`.
//!
//! Counting mode, for instruction counts that do not depend on machine load
//! (`valgrind --tool=callgrind`): `OCILEDGER_PARSE_PASSES=<function>:<n>` makes the
//! binary run `n` passes of one function over its list, outside criterion, and exit.
//! Instructions per string = (Ir with n passes − Ir with 0 passes) / (n × list length);
//! see docs/benchmarks.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use ociledger::id::{Digest, ImageRef, TagId};
use ociledger_bench::paths;

/// The three lists the functions run over.
struct Inputs {
    all: Vec<String>,
    tags: Vec<String>,
    digests: Vec<String>,
}

const FUNCTIONS: [&str; 4] = ["split_only", "image_ref", "tag_id", "digest"];

impl Inputs {
    fn load() -> Self {
        let path = paths::from_env("OCILEDGER_PARSE_STRINGS")
            .unwrap_or_else(|| paths::repo_root().join("data/image-strings.txt"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let all: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        assert!(!all.is_empty(), "{} has no strings", path.display());
        // The parts of each string as written, chosen with the parsers (outside
        // the timed loops), so every timed call succeeds.
        let mut tags = Vec::new();
        let mut digests = Vec::new();
        for s in &all {
            let r: ImageRef = s
                .parse()
                .unwrap_or_else(|e| panic!("{s:?} is not an image ref: {e}"));
            let text = ["docker-pullable://", "docker://"]
                .iter()
                .find_map(|t| s.strip_prefix(t))
                .unwrap_or(s);
            let (name, digest) = match text.split_once('@') {
                Some((name, digest)) => (Some(name), Some(digest)),
                None if r.repository().is_none() => (None, Some(text)),
                None => (Some(text), None),
            };
            if let (Some(name), Some(_)) = (name, r.tag()) {
                tags.push(name.to_owned());
            }
            if let Some(d) = digest {
                digests.push(d.to_owned());
            }
        }
        assert!(!tags.is_empty() && tags.iter().all(|s| s.parse::<TagId>().is_ok()));
        assert!(!digests.is_empty() && digests.iter().all(|s| s.parse::<Digest>().is_ok()));
        Self { all, tags, digests }
    }

    /// The list `function` runs over.
    fn list(&self, function: &str) -> &[String] {
        match function {
            "split_only" | "image_ref" => &self.all,
            "tag_id" => &self.tags,
            "digest" => &self.digests,
            _ => panic!("unknown function {function:?}; one of {FUNCTIONS:?}"),
        }
    }
}

/// One pass of `function` over `list`: what one criterion iteration times.
fn pass(function: &str, list: &[String]) {
    match function {
        "split_only" => {
            let mut n = 0usize;
            for s in list {
                let s = black_box(s.as_str());
                let (name, digest) = s.split_once('@').unwrap_or((s, ""));
                let tag = name.rfind(':').map_or("", |i| &name[i + 1..]);
                n += name.len() + tag.len() + digest.len();
            }
            black_box(n);
        }
        "image_ref" => {
            for s in list {
                let _ = black_box(black_box(s.as_str()).parse::<ImageRef>());
            }
        }
        "tag_id" => {
            for s in list {
                let _ = black_box(black_box(s.as_str()).parse::<TagId>());
            }
        }
        "digest" => {
            for s in list {
                let _ = black_box(black_box(s.as_str()).parse::<Digest>());
            }
        }
        _ => panic!("unknown function {function:?}; one of {FUNCTIONS:?}"),
    }
}

fn parse(c: &mut Criterion) {
    let inputs = Inputs::load();
    eprintln!(
        "parse: {} strings, {} with a tag, {} with a digest",
        inputs.all.len(),
        inputs.tags.len(),
        inputs.digests.len()
    );
    let mut g = c.benchmark_group("parse");
    for function in FUNCTIONS {
        let list = inputs.list(function);
        g.throughput(Throughput::Elements(list.len() as u64));
        g.bench_function(function, |b| b.iter(|| pass(function, list)));
    }
    g.finish();
}

criterion_group!(benches, parse);

fn main() {
    if let Ok(spec) = std::env::var("OCILEDGER_PARSE_PASSES") {
        let (function, n) = spec
            .split_once(':')
            .and_then(|(f, n)| Some((f, n.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("OCILEDGER_PARSE_PASSES={spec:?}: want <function>:<n>"));
        let inputs = Inputs::load();
        let list = inputs.list(function);
        for _ in 0..n {
            pass(function, list);
        }
        println!("{function}: {n} passes over {} strings", list.len());
        return;
    }
    // What criterion_main! expands to.
    benches();
    Criterion::default().configure_from_args().final_summary();
}
