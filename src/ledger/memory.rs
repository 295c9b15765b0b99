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
    /// Answers never depend on it. A snapshot of the copy's commit reads
    /// every row from the copy. A snapshot of a later commit (this
    /// process's write or the writer process's) reads the rows the commits
    /// since changed from the file, and the rest from the copy: every
    /// commit lists the digest-index rows it changed (see
    /// [`Snapshot::index_copy_lag`]), and a lookup that reaches a changed
    /// row, directly or through a manifest relation, answers from the file.
    /// Once many rows changed, a new copy is built in a background thread
    /// and later snapshots use it when it is done. Each call here builds a
    /// new copy at once, for an embedder that wants to control when.
    ///
    /// **While writes keep coming** (a scanner commits once per repository
    /// during a scan round) the copy keeps helping: lookups of digests the
    /// round did not touch read the copy, the round's own digests the file.
    /// A snapshot of a commit the change list no longer reaches back from
    /// (it keeps the newest 131,072 rows' keys) reads the file until the
    /// background copy is done.
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

    /// How many digest-index rows changed between the in-memory copy's
    /// commit and this snapshot's: lookups that reach one of them read the
    /// file, the others read the copy. 0 when the copy is of this
    /// snapshot's commit, or when the snapshot does not read the copy.
    ///
    /// Every commit lists the rows it changed (the table `index_changes`,
    /// which keeps the newest 131,072), so a copy stays useful while a
    /// writer, in this process or another, keeps committing: a snapshot
    /// reads the copy for everything else. Once a sixty-fourth of the
    /// copy's rows (at least 1,024) changed, or the list no longer reaches
    /// back to the copy, a new copy is built in the background.
    ///
    /// ```
    /// use ociledger::Ledger;
    /// use ociledger::id::{Algorithm, Digest};
    /// use ociledger::model::Observation;
    ///
    /// let ledger = Ledger::in_memory()?;
    /// let digest = |n: u8| Digest::of(Algorithm::Sha256, &[n]);
    /// let seen = |tag: &str, n: u8| {
    ///     Observation::new(tag.parse().unwrap(), digest(n), "2024-01-01T00:00:00Z".parse().unwrap())
    /// };
    /// ledger.ingest("scanner", &[seen("nginx:1.25", 1)])?;
    /// ledger.keep_index_in_memory()?;
    /// ledger.ingest("scanner", &[seen("nginx:1.26", 2)])?;
    ///
    /// let snap = ledger.snapshot()?;
    /// assert!(snap.reads_index_from_memory());
    /// assert_eq!(snap.index_copy_lag(), 1); // the new digest's row: read from the file
    /// assert!(snap.tags_for_digest(&digest(2))?[0].current);
    /// # Ok::<(), ociledger::Error>(())
    /// ```
    #[must_use]
    pub fn index_copy_lag(&self) -> u64 {
        self.view.index_copy_lag()
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

    /// Random writes of every kind that reaches the digest index, over a
    /// few dozen digests so that they meet: tags moving, relations added
    /// to digests with and without tags (and tags arriving later on an
    /// image index a relation named first).
    struct Writes {
        state: u64,
        platform: Platform,
    }

    impl Writes {
        fn new(seed: u64) -> Self {
            Self {
                state: seed | 1,
                platform: Platform {
                    os: "linux".to_owned(),
                    architecture: "amd64".to_owned(),
                    variant: None,
                    os_version: None,
                },
            }
        }

        fn next(&mut self, n: u64) -> u64 {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            self.state % n
        }

        fn digest(n: u64) -> Digest {
            Digest::of(Algorithm::Sha256, &n.to_le_bytes())
        }

        /// Every digest a write may name.
        fn digests() -> impl Iterator<Item = Digest> {
            (0..16).chain(100..106).chain(200..206).map(Self::digest)
        }

        fn observation(&mut self) -> Observation {
            let tag: TagId = format!("example.com/r{}:t{}", self.next(3), self.next(4))
                .parse()
                .unwrap();
            let at =
                Timestamp::from_timestamp(1_600_000_000 + (self.next(500) * 60).cast_signed(), 0)
                    .unwrap();
            // Digests 12..16 rarely get tags: relations name them first.
            let digest = if self.next(10) == 0 {
                12 + self.next(4)
            } else {
                self.next(12)
            };
            let mut o = Observation::new(tag, Self::digest(digest), at);
            if self.next(3) == 0 {
                o.config = Some(Self::digest(100 + self.next(6)));
            }
            if self.next(4) == 0 {
                o.manifests = vec![PlatformManifest {
                    digest: Self::digest(200 + self.next(6)),
                    platform: self.platform.clone(),
                    config: None,
                }];
            }
            o
        }

        fn relation(&mut self) -> ManifestRelation {
            if self.next(2) == 0 {
                // Manifests 12..16 rarely have tags; configs 100.. are shared.
                ManifestRelation::Config(ConfigRelation {
                    manifest: Self::digest(self.next(16)),
                    config: Self::digest(100 + self.next(6)),
                    repository: None,
                    platform: None,
                    source: None,
                    first_seen: None,
                })
            } else {
                ManifestRelation::Index(IndexRelation {
                    index: Self::digest(self.next(16)),
                    manifests: vec![PlatformManifest {
                        digest: Self::digest(200 + self.next(6)),
                        platform: self.platform.clone(),
                        config: None,
                    }],
                    repository: None,
                    first_seen: None,
                })
            }
        }

        /// One random write (or none); refused batches (an index listing
        /// itself, a second config) change nothing either.
        fn apply(&mut self, ledger: &Ledger) {
            match self.next(4) {
                0 | 1 => {
                    let batch: Vec<Observation> =
                        (0..=self.next(5)).map(|_| self.observation()).collect();
                    let _ = ledger.ingest("test", &batch);
                }
                2 => {
                    let relation = self.relation();
                    let _ = ledger.record_relations("test", &[relation]);
                }
                _ => {}
            }
        }
    }

    /// A copy is used only while its mark equals the snapshot's, so the mark
    /// must move whenever the digest index does: guards against a write
    /// path that changes the index without a journal record or a new
    /// relation row, which would let snapshots answer from a stale copy.
    #[test]
    fn every_change_to_the_digest_index_moves_its_mark() {
        let ledger = Ledger::in_memory().unwrap();
        let mut writes = Writes::new(0x9e37_79b9_7f4a_7c15);
        let (mut changed, mut unchanged) = (0, 0);
        let (mut before, mut rows) = ledger.store.index_mark_and_rows().unwrap();
        for step in 0..400 {
            writes.apply(&ledger);
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

    /// A copy of an older commit answers for the rows the change list says
    /// did not change, and the file for the others: after every random
    /// write, every digest's answer from the snapshot (copy and list) must
    /// equal the file's. Guards against a write that changes an answer
    /// without listing its key (a new relation under an already flagged
    /// child, tags arriving on an index the copy left out), which would
    /// let the copy answer from before the write.
    #[test]
    fn a_copy_and_the_change_list_answer_as_the_file() {
        for seed in [1_u64, 0x51_7cc1_b727_220a, 0xdead_beef] {
            let ledger = Ledger::in_memory().unwrap();
            let mut writes = Writes::new(seed);
            for _ in 0..20 {
                writes.apply(&ledger);
            }
            ledger.keep_index_in_memory().unwrap();
            let (mut lagging, mut stale_answers) = (0, 0);
            for step in 0..300 {
                writes.apply(&ledger);
                if writes.next(50) == 0 {
                    ledger.keep_index_in_memory().unwrap();
                }
                let snap = ledger.snapshot().unwrap();
                assert!(
                    snap.reads_index_from_memory(),
                    "seed {seed:#x}, step {step}: the list reaches back to the copy"
                );
                lagging += u64::from(snap.index_copy_lag() > 0);
                let file = ledger.store.file_view().unwrap();
                for d in Writes::digests() {
                    let (copy, want) = (
                        snap.tags_for_digest(&d).unwrap(),
                        file.tags_for_digest(&d).unwrap(),
                    );
                    stale_answers += u64::from(!want.is_empty());
                    assert_eq!(
                        copy, want,
                        "seed {seed:#x}, step {step}, digest {d}: the copy's answer"
                    );
                }
            }
            assert!(lagging > 100, "seed {seed:#x}: {lagging} lagging snapshots");
            assert!(stale_answers > 1000, "{stale_answers} answers");
        }
    }
}
