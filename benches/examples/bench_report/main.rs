//! Renders the ledger benchmark results: reads criterion's estimates
//! (`target/criterion/{digest_lookup,digest_lookup_breakdown,lookup_direct,
//! lookup_via_child,lookup_via_config,digest_lookup_threads,ingest,classify}`)
//! and the figures the benches leave in `target/bench-data/`, prints the
//! markdown tables for `docs/benchmarks.md`, and writes the lookup plot
//! (time per lookup against size, log–log, the five contenders) as SVG.
//!
//! `ociledger_memory` (ociledger reading the in-memory copy of the digest
//! index) has a column beside `ociledger` wherever both were measured, and
//! the copy's own cost (heap, build time) has a table of its own, so that
//! the latency it buys and the memory it costs are read together.
//!
//! Run from the repository root, after the benches:
//!
//! ```text
//! cargo bench -p ociledger-bench --bench lookup --bench ingest --bench classify
//! cargo run -p ociledger-bench --profile bench --example bench_report -- docs/benchmarks-lookup.svg
//! ```

// Report math: counts and byte sizes far below 2^52 as f64.
#![allow(clippy::cast_precision_loss)]

mod plot;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ociledger_bench::settings::size_label as label;
use ociledger_bench::{paths, report};
use serde_json::Value;

const LOOKUP: [&str; 7] = [
    "ociledger",
    "ociledger_lookup",
    "ociledger_memory",
    "ociledger_memory_lookup",
    "redb_raw",
    "sqlite",
    "hashmap",
];
const BREAKDOWN: [&str; 4] = [
    "redb_range",
    "redb_packed",
    "ociledger_txn_per_lookup",
    "sqlite_autocommit",
];
const INGEST: [&str; 3] = ["ociledger", "redb_raw", "sqlite"];

fn read_json(p: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// (estimate, lower, upper) in ns of one criterion benchmark: the slope where
/// criterion fitted one (linear sampling), else the mean, as criterion prints.
fn estimate(group: &str, func: &str, param: u64) -> Option<(f64, f64, f64)> {
    let v = read_json(&paths::target_dir().join(format!(
        "criterion/{group}/{func}/{param}/new/estimates.json"
    )))?;
    let m = if v["slope"].is_object() {
        &v["slope"]
    } else {
        &v["mean"]
    };
    Some((
        m["point_estimate"].as_f64()?,
        m["confidence_interval"]["lower_bound"].as_f64()?,
        m["confidence_interval"]["upper_bound"].as_f64()?,
    ))
}

fn sizes_of(group: &str, func: &str) -> Vec<u64> {
    let mut out: Vec<u64> =
        std::fs::read_dir(paths::target_dir().join(format!("criterion/{group}/{func}")))
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
    out.sort_unstable();
    out
}

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// One estimate with its 95 % interval, `–` when it was not measured.
fn cell(v: Option<(f64, f64, f64)>) -> String {
    v.map_or("–".to_owned(), |(m, lo, hi)| {
        format!("{} ({}–{})", time(m), time(lo), time(hi))
    })
}

/// `a / b` of two estimates, `–` unless both were measured.
fn ratio(a: Option<(f64, f64, f64)>, b: Option<(f64, f64, f64)>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a.0 / b.0),
        _ => "–".to_owned(),
    }
}

/// The newest data-set directory's `stats.json` per size.
fn set_stats() -> BTreeMap<u64, Value> {
    let mut out = BTreeMap::new();
    let root = paths::bench_root();
    let Ok(rd) = std::fs::read_dir(&root) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("..").is_dir())
        .collect();
    dirs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    for d in dirs {
        let Ok(sub) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in sub.flatten() {
            if let (Some(size), Some(v)) = (
                e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()),
                read_json(&e.path().join("stats.json")),
            ) {
                out.insert(size, v);
            }
        }
    }
    out
}

/// Lookups through manifest relations: the relation queries' three lookups on
/// one snapshot, the same index digests without relations and with a raw
/// get, and the ratios between them (all from one run).
fn relations_table(md: &mut String) {
    let sizes = sizes_of("lookup_direct", "ociledger");
    if sizes.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### lookups through manifest relations (mean time per lookup, 95 % CI; matches per lookup)\n"
    );
    let _ = writeln!(
        md,
        "| references | direct (index) | via child | via config | direct, file without relations | redb_raw (same index digests) | via child / direct | via config / direct | direct / without relations | direct / redb_raw | mix: ociledger / without relations |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for &s in &sizes {
        let e = |g: &str, f: &str| estimate(g, f, s);
        let rel = read_json(&report::path(&format!("lookup-relations-{s}")));
        let matches = |k: &str| {
            rel.as_ref()
                .and_then(|v| v[k].as_f64())
                .map_or(String::new(), |m| format!("; {m:.2}"))
        };
        let cell = |v: Option<(f64, f64, f64)>, m: String| {
            v.map_or("–".to_owned(), |(x, lo, hi)| {
                format!("{} ({}–{}{m})", time(x), time(lo), time(hi))
            })
        };
        let direct = e("lookup_direct", "ociledger");
        let child = e("lookup_via_child", "ociledger");
        let config = e("lookup_via_config", "ociledger");
        let bare = e("lookup_direct", "ociledger_no_relations");
        let raw = e("lookup_direct", "redb_raw");
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | **{}** | **{}** | **{}** | {} | {} |",
            label(s),
            cell(direct, matches("direct_matches_per_query")),
            cell(child, matches("via_child_matches_per_query")),
            cell(config, matches("via_config_matches_per_query")),
            cell(bare, String::new()),
            cell(raw, String::new()),
            ratio(child, direct),
            ratio(config, direct),
            ratio(direct, bare),
            ratio(direct, raw),
            ratio(
                e("digest_lookup", "ociledger"),
                e("digest_lookup_breakdown", "ociledger_no_relations")
            ),
        );
    }
}

/// The relation queries' lookups from the in-memory copy of the digest
/// index, beside the same lookups from the file (same run, same queries).
fn relations_memory_table(md: &mut String) {
    let sizes = sizes_of("lookup_direct", "ociledger_memory");
    if sizes.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### lookups through manifest relations from the in-memory copy (mean time per lookup, 95 % CI)\n"
    );
    let _ = writeln!(
        md,
        "| references | direct (index) | via child | via config | direct / redb_raw | memory / file: direct | memory / file: via child | memory / file: via config |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &s in &sizes {
        let e = |g: &str, f: &str| estimate(g, f, s);
        let direct = e("lookup_direct", "ociledger_memory");
        let child = e("lookup_via_child", "ociledger_memory");
        let config = e("lookup_via_config", "ociledger_memory");
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | **{}** | **{}** | **{}** | **{}** |",
            label(s),
            cell(direct),
            cell(child),
            cell(config),
            ratio(direct, e("lookup_direct", "redb_raw")),
            ratio(direct, e("lookup_direct", "ociledger")),
            ratio(child, e("lookup_via_child", "ociledger")),
            ratio(config, e("lookup_via_config", "ociledger")),
        );
    }
}

/// The same lookups through a reused `Lookup` buffer (`ociledger_lookup`,
/// `ociledger_memory_lookup`) beside the owned answers, file and copy.
fn buffered_table(md: &mut String) {
    let sizes = sizes_of("digest_lookup", "ociledger_lookup");
    if sizes.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### through a reused `Lookup` buffer (mean time per lookup, 95 % CI; allocations per lookup)\n"
    );
    let _ = writeln!(
        md,
        "| references | mix, file: owned | mix, file: buffer | mix, copy: owned | mix, copy: buffer | buffer ÷ owned: file, copy | buffer ÷ redb_raw: file, copy | via child ÷ direct, copy: owned, buffer | via config ÷ direct, copy: owned, buffer |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &s in &sizes {
        let e = |g: &str, f: &str| estimate(g, f, s);
        let allocs = read_json(&report::path(&format!("lookup-{s}")));
        let with_allocs = |v: Option<(f64, f64, f64)>, key: &str| {
            let a = allocs
                .as_ref()
                .and_then(|j| j[key].as_f64())
                .map_or(String::new(), |a| format!("; {a:.2}"));
            v.map_or("–".to_owned(), |(x, lo, hi)| {
                format!("{} ({}–{}{a})", time(x), time(lo), time(hi))
            })
        };
        let (file, file_buf, copy, copy_buf, raw) = (
            e("digest_lookup", "ociledger"),
            e("digest_lookup", "ociledger_lookup"),
            e("digest_lookup", "ociledger_memory"),
            e("digest_lookup", "ociledger_memory_lookup"),
            e("digest_lookup", "redb_raw"),
        );
        let via = |g: &str| {
            format!(
                "{}, **{}**",
                ratio(
                    e(g, "ociledger_memory"),
                    e("lookup_direct", "ociledger_memory")
                ),
                ratio(
                    e(g, "ociledger_memory_lookup"),
                    e("lookup_direct", "ociledger_memory_lookup")
                )
            )
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {}, {} | **{}**, **{}** | {} | {} |",
            label(s),
            with_allocs(file, "ociledger_allocs_per_lookup"),
            with_allocs(file_buf, "ociledger_lookup_allocs_per_lookup"),
            with_allocs(copy, "ociledger_memory_allocs_per_lookup"),
            with_allocs(copy_buf, "ociledger_memory_lookup_allocs_per_lookup"),
            ratio(file_buf, file),
            ratio(copy_buf, copy),
            ratio(file_buf, raw),
            ratio(copy_buf, raw),
            via("lookup_via_child"),
            via("lookup_via_config"),
        );
    }
    if let (Some(first), Some(last)) = (sizes.first(), sizes.last()) {
        let growth = |f: &str| match (
            estimate("digest_lookup", f, *first),
            estimate("digest_lookup", f, *last),
        ) {
            (Some(a), Some(b)) => format!("{:.2}×", b.0 / a.0),
            _ => "–".to_owned(),
        };
        let _ = writeln!(
            md,
            "\nGrowth {} → {}: file buffer {}, copy buffer {}, redb_raw {}.",
            label(*first),
            label(*last),
            growth("ociledger_lookup"),
            growth("ociledger_memory_lookup"),
            growth("redb_raw"),
        );
    }
}

/// What the in-memory copy of the digest index costs per size
/// (`lookup-memory-<size>.json`), beside the lookup time it buys.
fn memory_table(md: &mut String, sizes: &[u64]) {
    let rows: Vec<(u64, Value)> = sizes
        .iter()
        .filter_map(|&s| Some((s, read_json(&report::path(&format!("lookup-memory-{s}")))?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### in-memory copy of the digest index (`keep_index_in_memory`)\n"
    );
    let _ = writeln!(
        md,
        "| references | rows | relation links | heap | B / reference | B / row | build (warm) | first build (cold handle) | warm build per million rows | lookups checked against the file | lookup: memory / file |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (s, v) in rows {
        let f = |k: &str| v[k].as_f64();
        let ms = |x: Option<f64>| x.map_or("–".to_owned(), |x| time(x * 1e6));
        let rows = f("rows").unwrap_or(0.0);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | **{}** |",
            label(s),
            v["rows"],
            v.get("relation_links")
                .map_or("–".to_owned(), ToString::to_string),
            f("heap_bytes").map_or("–".to_owned(), |b| format!("{:.1} MiB", b / 1_048_576.0)),
            f("heap_bytes_per_reference").map_or("–".to_owned(), |x| format!("{x:.1}")),
            f("heap_bytes_per_row").map_or("–".to_owned(), |x| format!("{x:.1}")),
            ms(f("build_ms")),
            ms(f("first_build_ms")),
            ms(f("build_ms").filter(|_| rows > 0.0).map(|b| b / rows * 1e6)),
            v["lookups_checked"],
            ratio(
                estimate("digest_lookup", "ociledger_memory", s),
                estimate("digest_lookup", "ociledger", s)
            ),
        );
    }
}

/// Several threads, each on its own snapshot: time per lookup per thread,
/// reading the file and reading the in-memory copy.
fn threads_table(md: &mut String) {
    let sizes = sizes_of("digest_lookup_threads", "ociledger_1_threads");
    if sizes.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### threads, each on its own snapshot (mean time per lookup per thread, 95 % CI)\n"
    );
    let _ = writeln!(
        md,
        "| references | ociledger, 1 thread | ociledger, 2 threads | ociledger_memory, 1 thread | ociledger_memory, 2 threads | 2 / 1 threads: ociledger | 2 / 1 threads: ociledger_memory |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|");
    for &s in &sizes {
        let e = |f: &str| estimate("digest_lookup_threads", f, s);
        let (o1, o2) = (e("ociledger_1_threads"), e("ociledger_2_threads"));
        let (m1, m2) = (
            e("ociledger_memory_1_threads"),
            e("ociledger_memory_2_threads"),
        );
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            label(s),
            cell(o1),
            cell(o2),
            cell(m1),
            cell(m2),
            ratio(o2, o1),
            ratio(m2, m1),
        );
    }
}

// The tables one after the other, in the order of docs/benchmarks.md: one
// reading order, kept whole.
#[allow(clippy::too_many_lines)]
fn main() {
    let svg_path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/benchmarks-lookup.svg".to_owned());
    let sizes = sizes_of("digest_lookup", "ociledger");
    let mut md = String::new();

    // Lookup table.
    let _ = writeln!(md, "### digest → tags lookup (time per lookup, 95 % CI)\n");
    let _ = writeln!(
        md,
        "| references | ociledger | ociledger_memory | redb_raw | sqlite | hashmap | ociledger / redb_raw | ociledger_memory / redb_raw | ociledger_memory / ociledger | sqlite / ociledger | ociledger / hashmap |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut series: BTreeMap<&str, Vec<(u64, f64)>> = BTreeMap::new();
    for &s in &sizes {
        let e = |f: &str| estimate("digest_lookup", f, s);
        for f in LOOKUP {
            if let Some(v) = e(f) {
                series.entry(f).or_default().push((s, v.0));
            }
        }
        let (ours, memory, raw, sql, map) = (
            e("ociledger"),
            e("ociledger_memory"),
            e("redb_raw"),
            e("sqlite"),
            e("hashmap"),
        );
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | **{}** | **{}** | **{}** | **{}** | {} |",
            label(s),
            cell(ours),
            cell(memory),
            cell(raw),
            cell(sql),
            cell(map),
            ratio(ours, raw),
            ratio(memory, raw),
            ratio(memory, ours),
            ratio(sql, ours),
            ratio(ours, map),
        );
    }
    if let (Some(first), Some(last)) = (sizes.first(), sizes.last()) {
        let _ = writeln!(
            md,
            "\nScaling {} → {} (time ratio):",
            label(*first),
            label(*last)
        );
        for f in LOOKUP {
            if let (Some(a), Some(b)) = (
                estimate("digest_lookup", f, *first),
                estimate("digest_lookup", f, *last),
            ) {
                let _ = writeln!(md, "- {f}: {:.2}×", b.0 / a.0);
            }
        }
    }

    // Breakdown.
    let _ = writeln!(md, "\n### breakdown (mean time per lookup)\n");
    let _ = writeln!(
        md,
        "| references | ociledger | redb_raw (point get) | redb_range (same range, no decoding) | redb_packed (one row per digest, full answer) | ociledger_txn_per_lookup | sqlite (held read txn) | sqlite_autocommit |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &s in &sizes {
        let g = |grp: &str, f: &str| estimate(grp, f, s).map_or("–".to_owned(), |v| time(v.0));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            label(s),
            g("digest_lookup", "ociledger"),
            g("digest_lookup", "redb_raw"),
            g("digest_lookup_breakdown", BREAKDOWN[0]),
            g("digest_lookup_breakdown", BREAKDOWN[1]),
            g("digest_lookup_breakdown", BREAKDOWN[2]),
            g("digest_lookup", "sqlite"),
            g("digest_lookup_breakdown", BREAKDOWN[3]),
        );
    }

    relations_table(&mut md);
    relations_memory_table(&mut md);
    buffered_table(&mut md);
    threads_table(&mut md);
    memory_table(&mut md, &sizes);

    // Allocations.
    let _ = writeln!(
        md,
        "\n### allocations per lookup (counting global allocator, over the 1000 queries)\n"
    );
    let _ = writeln!(
        md,
        "| references | matches / query | ociledger | of which the answer itself | ociledger_memory | redb_raw | redb_range | redb_packed | sqlite | hashmap | ociledger_txn_per_lookup |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for &s in &sizes {
        if let Some(v) = read_json(&report::path(&format!("lookup-{s}"))) {
            let f = |k: &str| v[k].as_f64().map_or("–".to_owned(), |x| format!("{x:.2}"));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                label(s),
                f("matches_per_query"),
                f("ociledger_allocs_per_lookup"),
                f("ociledger_result_allocs_per_lookup"),
                f("ociledger_memory_allocs_per_lookup"),
                f("redb_raw_allocs_per_lookup"),
                f("redb_range_allocs_per_lookup"),
                f("redb_packed_allocs_per_lookup"),
                f("sqlite_allocs_per_lookup"),
                f("hashmap_allocs_per_lookup"),
                f("ociledger_txn_per_lookup_allocs_per_lookup"),
            );
        }
    }

    // Ingest.
    let _ = writeln!(
        md,
        "\n### ingest (batches of 10k observations, one transaction each)\n"
    );
    let _ = writeln!(
        md,
        "| contender | time per batch (95 % CI) | observations / s | ociledger / this |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let ours = estimate("ingest", "ociledger", 10_000);
    for f in INGEST {
        if let Some((m, lo, hi)) = estimate("ingest", f, 10_000) {
            let rate = 10_000.0 / (m / 1e9);
            let rel = ours.map_or("–".to_owned(), |o| {
                format!("{:.2}", (10_000.0 / (o.0 / 1e9)) / rate)
            });
            let _ = writeln!(
                md,
                "| {f} | {} ({}–{}) | {:.0} | {rel} |",
                time(m),
                time(lo),
                time(hi),
                rate
            );
        }
    }

    // Classify.
    let _ = writeln!(
        md,
        "\n### classify (batch of 1000 image strings + digests on one snapshot)\n"
    );
    let _ = writeln!(
        md,
        "| references | per batch | per image | images / s | answers |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---|");
    for s in sizes_of("classify", "classify_with") {
        if let Some((m, _, _)) = estimate("classify", "classify_with", s) {
            let kinds = read_json(&report::path(&format!("classify-{s}")))
                .map_or(String::new(), |v| v.to_string());
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0} | {kinds} |",
                label(s),
                time(m),
                time(m / 1000.0),
                1000.0 / (m / 1e9)
            );
        }
    }

    // Sizes on disk.
    let _ = writeln!(md, "\n### file sizes\n");
    let _ = writeln!(
        md,
        "| references | observations | intervals | tags | ociledger file as ingested | after `compact` | B / reference (compacted) | digest_index table (stored + metadata + fragmented) | B / interval | raw.redb | sqlite.db | ledger build (ingest) |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let stats = set_stats();
    for (s, v) in &stats {
        let u = |k: &str| v[k].as_u64().unwrap_or(0);
        let refs = u("ledger_references").max(1);
        let idx = v["ledger_tables"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == "digest_index"))
            .map_or(0, |t| {
                t["stored_bytes"].as_u64().unwrap_or(0)
                    + t["metadata_bytes"].as_u64().unwrap_or(0)
                    + t["fragmented_bytes"].as_u64().unwrap_or(0)
            });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} | {} | {} | {:.1} s ({:.0} obs/s) |",
            label(*s),
            u("observations"),
            u("ledger_intervals"),
            u("ledger_tags"),
            u("ledger_bytes_ingested"),
            u("ledger_bytes"),
            u("ledger_bytes") as f64 / refs as f64,
            idx,
            idx as f64 / u("ledger_intervals").max(1) as f64,
            u("raw_bytes"),
            u("sqlite_bytes"),
            v["ledger_build_seconds"].as_f64().unwrap_or(0.0),
            v["ledger_ingest_obs_per_second"].as_f64().unwrap_or(0.0),
        );
    }
    if let Some((s, v)) = stats.iter().next_back() {
        let _ = writeln!(
            md,
            "\nPer table at {} (bytes per reference: stored / metadata / fragmented):\n",
            label(*s)
        );
        let _ = writeln!(
            md,
            "| table | entries | stored | metadata | fragmented | total / reference |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
        let refs = v["ledger_references"].as_f64().unwrap_or(1.0);
        if let Some(tables) = v["ledger_tables"].as_array() {
            for t in tables {
                let g = |k: &str| t[k].as_f64().unwrap_or(0.0);
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                    t["name"].as_str().unwrap_or("?"),
                    t["entries"],
                    g("stored_bytes") / refs,
                    g("metadata_bytes") / refs,
                    g("fragmented_bytes") / refs,
                    (g("stored_bytes") + g("metadata_bytes") + g("fragmented_bytes")) / refs
                );
            }
        }
    }
    print!("{md}");

    std::fs::write(&svg_path, plot::lookup(&series)).expect("write svg");
    eprintln!("wrote {svg_path}");
}
