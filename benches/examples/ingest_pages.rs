//! Per batch of a growing file: its time, the bytes it wrote and how many
//! write calls that took. A redb commit writes every page the transaction
//! dirtied, one call a page, so the calls count the pages: where a grown
//! file's batch goes, which a profile of instructions does not show.
//!
//! `cargo run --release -p ociledger-bench --example ingest_pages -- [--raw] BEFORE COUNTED`
//! ingests BEFORE batches of the ingest bench's stream untimed, then COUNTED
//! batches, one line each, and their mean. `--raw` runs the bench's raw redb
//! contender instead of `Ledger::ingest`. Then, for the ledger, each table's
//! entries and leaf pages. The bytes and calls come from `/proc/self/io`
//! (Linux); elsewhere only the time is printed.

use std::time::Instant;

use ociledger::Ledger;
use ociledger::model::Observation;
use ociledger_bench::raw_ingest::RawIngest;
use ociledger_bench::stream::Stream;
use ociledger_bench::{ACTOR, paths};

/// One contender's batch.
type Apply = Box<dyn FnMut(&[Observation])>;

/// Bytes written and write calls made by this process so far.
fn written() -> Option<(u64, u64)> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let field = |name: &str| -> Option<u64> {
        io.lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .parse()
            .ok()
    };
    Some((field("wchar:")?, field("syscw:")?))
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let raw = args.iter().any(|a| a == "--raw");
    args.retain(|a| a != "--raw");
    let (Some(before), Some(counted)) = (
        args.first().and_then(|s| s.parse::<usize>().ok()),
        args.get(1).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: ingest_pages [--raw] BEFORE COUNTED");
        std::process::exit(2);
    };
    let dir = paths::scratch_dir();
    let path = dir.path().join("pages.redb");
    let mut stream = Stream::new();
    // Owns its file, so that dropping it closes the file for the table stats.
    let mut apply: Apply = if raw {
        let mut file = RawIngest::create(&path);
        Box::new(move |b| file.apply(b))
    } else {
        let ledger = Ledger::create(&path).expect("create");
        Box::new(move |b| {
            ledger.ingest(ACTOR, b).expect("ingest");
        })
    };
    for _ in 0..before {
        apply(&stream.next_batch());
    }
    let (mut ms_sum, mut calls_sum) = (0.0, 0);
    for i in before..before + counted {
        let batch = stream.next_batch();
        let io_before = written();
        let start = Instant::now();
        apply(&batch);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        ms_sum += ms;
        match (io_before, written()) {
            (Some((b0, c0)), Some((b1, c1))) => {
                calls_sum += c1 - c0;
                #[allow(clippy::cast_precision_loss)]
                let mb = (b1 - b0) as f64 / 1e6;
                println!(
                    "batch {i}: {ms:.1} ms, {mb:.2} MB written in {} calls",
                    c1 - c0
                );
            }
            _ => println!("batch {i}: {ms:.1} ms"),
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let n = counted.max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let calls = calls_sum as f64 / n;
    println!("mean: {:.1} ms, {calls:.0} write calls", ms_sum / n);
    drop(apply);
    if !raw {
        for t in ociledger_bench::stats::table_bytes(&path) {
            if t.entries > 0 {
                println!(
                    "{:16} {:>10} entries {:>8} leaf pages",
                    t.name, t.entries, t.leaf_pages
                );
            }
        }
    }
}
