//! The optional in-memory copy of the digest index: lookups at a flat cost
//! for a classifier that can spend the memory.

use std::time::Duration;

use super::{Ledger, Snapshot};
use crate::error::Result;

/// What the in-memory copy of the digest index holds and cost; see
/// [`Ledger::keep_index_in_memory`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMemory {
    /// Rows copied: one per distinct 8-byte digest prefix, so about one per
    /// digest the ledger knows.
    pub rows: u64,
    /// Manifest relations copied as links (image index → platform
    /// manifest, manifest → config), so a lookup through a platform
    /// manifest or a config reads no B-tree either. Only links that can add
    /// to an answer are kept: an index without tags is left out.
    pub relation_links: u64,
    /// Memory the copy takes: the rows' bytes as the file stores them (tag
    /// numbers and raw instants, 20 bytes an interval), 4 bytes of length
    /// each, the hash tables (16 bytes a slot, a third to two thirds full),
    /// and 20 bytes a relation link, each counted in whole 2 MiB pages. On
    /// Linux the copy asks the kernel for huge pages (`madvise`), so that a
    /// lookup's random reads do not also miss the TLB (5–40 % faster at ten
    /// million references in `docs/benchmarks.md`); a kernel with
    /// transparent huge pages off gives ordinary pages and the same answers.
    pub heap_bytes: u64,
    /// How long the copy took to build, from a warm file.
    pub built_in: Duration,
    /// The last background rebuild's error, if it failed (views then read
    /// the file, and the next write's first snapshot tries again).
    pub last_error: Option<String>,
}

impl Ledger {
    /// Copies the digest index and the manifest relations into memory, and
    /// keeps the copy current.
    ///
    /// A lookup then costs one hash probe instead of a B-tree descent of
    /// three to five levels: 0.35–0.40 × a lookup in the file, 97 ns at ten
    /// thousand references and 245 ns at ten million on the machine of
    /// `docs/benchmarks.md`. A lookup through a platform manifest or a
    /// config follows links in the copy instead of reading the relation
    /// tables: 0.17–0.37 × the file path (2.6 µs at ten million). The copy
    /// takes about 100 bytes of memory per reference (see
    /// [`IndexMemory::heap_bytes`]) and is built now, from one read
    /// transaction: about half a second per million digests from a warm
    /// file (4.4 s at ten million references; a cold file adds its reads).
    /// [`Snapshot::lookup`](crate::Snapshot::lookup) reads the copy too,
    /// without building owned answers: 54 ns and 148 ns. Off by default: a classifier that
    /// wants the faster lookups turns it on after opening, and turns it
    /// off with [`Ledger::release_index_memory`].
    ///
    /// Answers never depend on it. A snapshot reads the copy only when the
    /// copy is of the snapshot's own commit; a snapshot taken after a write
    /// (this process's or the writer process's) reads the file, as without
    /// a copy, and starts a rebuild in a background thread, which later
    /// snapshots use once it is done. Each call here builds a new copy at
    /// once, for an embedder that wants to control when.
    ///
    /// **While writes keep coming** the copy does not help: it is of one
    /// commit, and when the writer commits more often than a rebuild takes
    /// (the scanner commits once per repository during a scan round), each
    /// copy is out of date when it is done. Snapshots then read the file,
    /// as without a copy, while the snapshots being taken keep one
    /// background thread rebuilding. The copy pays off between scan rounds
    /// and on read-mostly ledgers; an embedder that knows a long round of
    /// writes is coming can [`Ledger::release_index_memory`] for it and keep
    /// the copy again after.
    ///
    /// ```
    /// use ociledger::Ledger;
    /// use ociledger::model::Observation;
    ///
    /// let ledger = Ledger::in_memory()?;
    /// let seen: Observation = serde_json::from_str(
    ///     r#"{"repository":"nginx","tag":"1.25","digest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","observed_at":"2024-01-01T00:00:00Z"}"#,
    /// ).unwrap();
    /// ledger.ingest("scanner", &[seen.clone()])?;
    ///
    /// let copy = ledger.keep_index_in_memory()?;
    /// assert_eq!(copy.rows, 1);
    /// let snap = ledger.snapshot()?;
    /// assert!(snap.reads_index_from_memory());
    /// assert_eq!(snap.tags_for_digest(&seen.digest)?[0].tag.to_string(), "docker.io/library/nginx:1.25");
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    ///
    /// # Errors
    /// Storage errors, and [`crate::Error::Corrupt`] for a damaged row.
    pub fn keep_index_in_memory(&self) -> Result<IndexMemory> {
        let stats = self.store.load_index_copy()?;
        Ok(IndexMemory {
            rows: stats.rows,
            relation_links: stats.links,
            heap_bytes: stats.heap_bytes,
            built_in: stats.built_in,
            last_error: None,
        })
    }

    /// Drops the in-memory copy of the digest index (waiting for a
    /// background rebuild to stop); snapshots taken from now on read the
    /// file. Snapshots that hold the copy keep it until they are dropped.
    pub fn release_index_memory(&self) {
        self.store.release_index_copy();
    }

    /// The in-memory copy's figures, if the ledger keeps one.
    #[must_use]
    pub fn index_memory(&self) -> Option<IndexMemory> {
        let (stats, last_error) = self.store.index_copy()?;
        Some(IndexMemory {
            rows: stats.rows,
            relation_links: stats.links,
            heap_bytes: stats.heap_bytes,
            built_in: stats.built_in,
            last_error,
        })
    }
}

impl Snapshot {
    /// Whether this snapshot's lookups read the in-memory copy of the
    /// digest index ([`Ledger::keep_index_in_memory`]): only when the copy
    /// is of this snapshot's commit.
    #[must_use]
    pub fn reads_index_from_memory(&self) -> bool {
        self.view.reads_index_copy()
    }
}

#[cfg(test)]
mod tests {
    use crate::Ledger;
    use crate::id::{Algorithm, Digest, TagId};
    use crate::model::{
        ConfigRelation, IndexRelation, ManifestRelation, Observation, Platform, PlatformManifest,
        Timestamp,
    };

    /// A copy is used only while its mark equals the snapshot's, so the mark
    /// must move whenever the digest index does: guards against a write
    /// path that changes the index without a journal record or a new
    /// relation row, which would let snapshots answer from a stale copy.
    #[test]
    fn every_change_to_the_digest_index_moves_its_mark() {
        let ledger = Ledger::in_memory().unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let digest = |n: u64| Digest::of(Algorithm::Sha256, &n.to_le_bytes());
        let platform = Platform {
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
            os_version: None,
        };
        let (mut changed, mut unchanged) = (0, 0);
        let (mut before, mut rows) = ledger.store.index_mark_and_rows().unwrap();
        for step in 0..400 {
            match next(4) {
                0 | 1 => {
                    let batch: Vec<Observation> = (0..=next(5))
                        .map(|_| {
                            let tag: TagId = format!("example.com/r{}:t{}", next(3), next(4))
                                .parse()
                                .unwrap();
                            let at = Timestamp::from_timestamp(
                                1_600_000_000 + (next(500) * 60).cast_signed(),
                                0,
                            )
                            .unwrap();
                            let mut o = Observation::new(tag, digest(next(12)), at);
                            if next(3) == 0 {
                                o.config = Some(digest(100 + next(6)));
                            }
                            if next(4) == 0 {
                                o.manifests = vec![PlatformManifest {
                                    digest: digest(200 + next(6)),
                                    platform: platform.clone(),
                                    config: None,
                                }];
                            }
                            o
                        })
                        .collect();
                    // Refused batches (an index listing itself) change nothing either.
                    let _ = ledger.ingest("test", &batch);
                }
                2 => {
                    // Fresh digests mostly: a relation whose child or config
                    // is new flags it without any journal record.
                    let relation = if next(2) == 0 {
                        ManifestRelation::Config(ConfigRelation {
                            manifest: digest(1000 + next(10_000)),
                            config: digest(20_000 + next(10_000)),
                            repository: None,
                            platform: None,
                            source: None,
                            first_seen: None,
                        })
                    } else {
                        ManifestRelation::Index(IndexRelation {
                            index: digest(next(12)),
                            manifests: vec![PlatformManifest {
                                digest: digest(40_000 + next(10_000)),
                                platform: platform.clone(),
                                config: None,
                            }],
                            repository: None,
                            first_seen: None,
                        })
                    };
                    let _ = ledger.record_relations("test", &[relation]);
                }
                _ => {
                    // Observations already known: no change at all.
                    let _ = ledger.snapshot().unwrap();
                }
            }
            let (mark, now) = ledger.store.index_mark_and_rows().unwrap();
            if now == rows {
                unchanged += 1;
            } else {
                assert_ne!(
                    mark, before,
                    "step {step}: the index changed, its mark did not"
                );
                changed += 1;
            }
            (before, rows) = (mark, now);
        }
        assert!(
            changed > 50 && unchanged > 50,
            "{changed} changed, {unchanged} unchanged"
        );
    }
}
