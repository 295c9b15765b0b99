//! An embedder's ingest: create (or open) a ledger and feed it observations
//! in batches, one write transaction each, as a scanner process does.
//!
//! ```sh
//! cargo run --example ingest -- target/example.redb data/sample-events.jsonl.gz
//! ```
//!
//! The input is JSON lines `{"repository","tag","digest","observed_at"}`,
//! gzip-compressed when the name ends in `.gz`. Observations may come in any
//! order; a batch is applied whole or not at all.

use std::fs::File;
use std::io::{BufRead, BufReader};

use flate2::read::MultiGzDecoder;
use ociledger::Ledger;
use ociledger::model::Observation;

/// Observations per write transaction: large, key-sorted transactions are
/// what redb writes fastest.
const BATCH: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(db), Some(input)) = (args.next(), args.next()) else {
        return Err("usage: ingest LEDGER_FILE OBSERVATIONS.jsonl[.gz]".into());
    };
    let ledger = Ledger::create(&db)?;
    let file = File::open(&input)?;
    let reader: Box<dyn BufRead> = if input.to_string_lossy().ends_with(".gz") {
        Box::new(BufReader::new(MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut batch = Vec::with_capacity(BATCH);
    let (mut lines, mut moved) = (0u64, 0u64);
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let observation: Observation = serde_json::from_str(&line)
            .map_err(|e| format!("{}: line {}: {e}", input.to_string_lossy(), i + 1))?;
        batch.push(observation);
        lines += 1;
        if batch.len() == BATCH {
            moved += ledger.ingest("example-ingest", &batch)?.tags_moved;
            batch.clear();
        }
    }
    moved += ledger.ingest("example-ingest", &batch)?.tags_moved;
    let stats = ledger.stats()?;
    println!(
        "{lines} observations: {} tags, {} references, {moved} tag moves",
        stats.counts.tags, stats.counts.references
    );
    Ok(())
}
