//! The fixed query mix of a data set (`queries.tsv`): 40 % hits on current
//! tags, 40 % on historical references, 20 % misses, drawn once when the set
//! is built and read by the lookup and classify benches.

use std::fs;
use std::io::Write;
use std::path::Path;

use ociledger::id::{Algorithm, Digest, TagId};

use crate::rng::Rng;
use crate::rows::{DigestIndex, OPEN};

/// Queries per data set.
pub const QUERIES: usize = 1000;

/// A query of the fixed mix.
#[derive(Debug, Clone)]
pub struct Query {
    /// `C` hit on a current tag, `H` hit on a historical reference, `M` miss.
    pub kind: char,
    /// The digest looked up.
    pub digest: Digest,
    /// Matches (digest-index rows) expected.
    pub expected: usize,
    /// The tag of the sampled row (`C`/`H`).
    pub tag: Option<TagId>,
}

/// Draws the mix from `index`, shuffled, and writes it to `path`.
pub fn write(index: &DigestIndex, path: &Path) {
    let rows = &index.rows;
    let mut rng = Rng::new(0x005E_ED0F_1007);
    let want = QUERIES * 2 / 5;
    let mut picked: Vec<(char, Digest, usize, String)> = Vec::new();
    for (kind, current) in [('C', true), ('H', false)] {
        let mut n = 0;
        let mut tries = 0;
        while n < want && tries < 1_000 * QUERIES {
            tries += 1;
            let r = &rows[rng.below(rows.len())];
            if (r.until == OPEN) == current {
                picked.push((
                    kind,
                    r.digest,
                    index.count(&r.digest),
                    index.names[r.tag as usize].clone(),
                ));
                n += 1;
            }
        }
    }
    for i in 0..QUERIES - picked.len() {
        let d = Digest::of(
            Algorithm::Sha256,
            format!("ociledger-bench-miss-{i}").as_bytes(),
        );
        assert_eq!(index.count(&d), 0);
        picked.push(('M', d, 0, "-".to_owned()));
    }
    rng.shuffle(&mut picked);
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("queries.tsv"));
    for (k, d, c, t) in picked {
        writeln!(f, "{k}\t{d}\t{c}\t{t}").expect("write");
    }
    f.flush().expect("flush");
}

/// Reads the mix written by [`write()`].
#[must_use]
pub fn load(path: &Path) -> Vec<Query> {
    let text = fs::read_to_string(path).expect("read queries.tsv");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Query {
                kind: f[0].chars().next().expect("kind"),
                digest: f[1].parse().expect("digest"),
                expected: f[2].parse().expect("count"),
                tag: (f[3] != "-").then(|| f[3].parse().expect("tag")),
            }
        })
        .collect()
}
