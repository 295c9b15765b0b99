//! A classifier loop, as an embedder writes one: open the ledger read-only
//! (beside the process that writes it), read running images from standard
//! input, and answer each with one snapshot per batch.
//!
//! ```sh
//! cargo run --example ingest -- target/example.redb data/sample-events.jsonl.gz
//! printf '%s\n' 'nginx:latest sha256:…' 'docker-pullable://redis@sha256:…' \
//!   | cargo run --example classifier -- target/example.redb
//! ```
//!
//! Each input line is an image string as the cluster shows it, optionally
//! followed by whitespace and the digest the container runs. Each output
//! line is `kind<TAB>image<TAB>best tag`. A snapshot is one read
//! transaction: taking one per batch keeps the answers of a batch
//! consistent with each other and lets the next batch see the writer's
//! newer commits.
//!
//! With `--index-in-memory` after the file, the classifier copies the
//! digest index into memory first (`Ledger::keep_index_in_memory`): lookups
//! then cost 0.35–0.4 × a lookup in the file, for about 100 bytes of memory per reference;
//! answers are the same either way. While the writer keeps committing, each
//! batch's snapshot reads the rows the commits since the copy changed from
//! the file and the rest from the copy (`Snapshot::index_copy_lag`).

use std::io::{self, BufRead, BufWriter, Write};

use ociledger::Ledger;
use ociledger::id::Digest;

/// Lines answered from one snapshot.
const BATCH: usize = 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next() else {
        return Err("usage: classifier LEDGER_FILE [--index-in-memory] < images".into());
    };
    let ledger = Ledger::open_read_only(path)?;
    match args.next() {
        Some(flag) if flag == "--index-in-memory" => {
            let copy = ledger.keep_index_in_memory()?;
            eprintln!(
                "digest index in memory: {} rows, {} bytes, built in {:?}",
                copy.rows, copy.heap_bytes, copy.built_in
            );
        }
        Some(other) => return Err(format!("unknown argument {}", other.display()).into()),
        None => {}
    }
    let stdin = io::stdin();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut lines = stdin.lock().lines();
    loop {
        let batch: Vec<String> = lines.by_ref().take(BATCH).collect::<Result<_, _>>()?;
        if batch.is_empty() {
            break;
        }
        let snap = ledger.snapshot()?;
        for line in &batch {
            let mut parts = line.split_whitespace();
            let Some(image) = parts.next() else { continue };
            let digest = match parts.next().map(str::parse::<Digest>).transpose() {
                Ok(d) => d,
                Err(e) => {
                    writeln!(out, "error\t{image}\t{e}")?;
                    continue;
                }
            };
            match snap.classify(image, digest.as_ref()) {
                Ok(answer) => {
                    let best = answer
                        .matches
                        .first()
                        .map(|m| m.tag.to_string())
                        .unwrap_or_default();
                    let kind = serde_json::to_value(answer.kind)?;
                    writeln!(out, "{}\t{image}\t{best}", kind.as_str().unwrap_or("?"))?;
                }
                Err(e) => writeln!(out, "error\t{image}\t{e}")?,
            }
        }
        out.flush()?;
    }
    Ok(())
}
