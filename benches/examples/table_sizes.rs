//! Bytes per table of a ledger file, per reference: where a file's size goes.
//!
//! `cargo run --release -p ociledger-bench --example table_sizes -- FILE [REFERENCES]`
//! prints one line per non-empty table (entries, stored, metadata and fragmented bytes,
//! and their total divided by REFERENCES when given).

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: table_sizes FILE [REFERENCES]");
        std::process::exit(2);
    };
    let references: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let mut total = 0u64;
    println!(
        "| table | entries | stored | metadata | fragmented | leaf pages | total / reference |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for t in ociledger_bench::stats::table_bytes(&path) {
        if t.entries == 0 {
            continue;
        }
        let sum = t.stored_bytes + t.metadata_bytes + t.fragmented_bytes;
        total += sum;
        #[allow(clippy::cast_precision_loss)]
        let per = sum as f64 / references;
        println!(
            "| `{}` | {} | {} | {} | {} | {} | {per:.1} |",
            t.name, t.entries, t.stored_bytes, t.metadata_bytes, t.fragmented_bytes, t.leaf_pages
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let per = total as f64 / references;
    println!("| all tables | | | | | | {per:.1} |");
}
