//! The manifest relations a data set records (ledger schema 4): image index →
//! platform manifests (each with its platform and config), and single
//! manifest → config.
//!
//! The real ones come from `../shared/data/manifest-children.jsonl.gz` and
//! `manifest-configs.jsonl.gz` (Docker Hub `library/*`: 20,688 of the
//! 108,152 base digests are image indexes, with 4.4 platform manifests each
//! and 3.8 indexes per platform manifest; 18,793 are single manifests with a
//! known config); with the bundled sample base, `data/sample-manifests.jsonl.gz`;
//! with the synthetic base, [`synthetic::relations`].
//!
//! A data set records, per part, the relations of the base digests that the
//! part's events use, under the part's replica's digests: the index, each
//! platform manifest and each config all go through [`Base::replica_digest`]
//! (`Digest::of(Sha256, raw digest ‖ k)` from replica 1 on), so every replica,
//! and so every size, has the real share of indexes among its digests, the
//! real number of platform manifests per index, and the real sharing of
//! platform manifests and configs between indexes.
//!
//! [`RelationSet`] also draws the relation queries of the lookup bench
//! (`relation-queries.tsv`): an index digest of the set, one of its platform
//! manifests, and that manifest's config, each with the number of matches its
//! lookup must return, computed from the digest-index rows and the relations,
//! independently of the ledger.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use flate2::read::MultiGzDecoder;
use ociledger::id::Digest;
use ociledger::model::{ConfigRelation, IndexRelation, ManifestRelation, PlatformManifest};
use serde::Serialize;

use crate::base::{Base, Part, base};
use crate::queries::QUERIES;
use crate::rng::Rng;
use crate::rows::DigestIndex;
use crate::{paths, synthetic};

/// Digest-index flag of a platform manifest listed by some index (the ledger's
/// `FLAG_CHILD`, `src/store/packed.rs`).
pub const FLAG_CHILD: u8 = 1;
/// Digest-index flag of the config of some manifest (the ledger's `FLAG_CONFIG`).
pub const FLAG_CONFIG: u8 = 2;

/// The relations of the base digests (by index into [`Base::digests`]), with
/// the real (replica 0) digests.
#[derive(Debug, Default)]
pub struct BaseRelations {
    /// `shared`, `sample` or `synthetic`: as the base.
    pub source: &'static str,
    /// Image indexes among the base digests: their platform manifests.
    pub indexes: HashMap<u32, Vec<PlatformManifest>>,
    /// Single manifests among the base digests whose config is known.
    pub configs: HashMap<u32, Digest>,
}

/// The base's relations, loaded once per process (only by the processes that
/// build a data set).
pub fn base_relations() -> &'static BaseRelations {
    static RELATIONS: OnceLock<BaseRelations> = OnceLock::new();
    RELATIONS.get_or_init(|| BaseRelations::load(base()))
}

fn read_relations(path: &Path, out: &mut Vec<ManifestRelation>) {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    for (i, line) in BufReader::new(MultiGzDecoder::new(file))
        .lines()
        .enumerate()
    {
        let line = line.unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if line.trim().is_empty() {
            continue;
        }
        let r: ManifestRelation = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        out.push(r);
    }
}

impl BaseRelations {
    /// No relations yet.
    #[must_use]
    pub fn new(source: &'static str) -> Self {
        Self {
            source,
            ..Self::default()
        }
    }

    fn load(base: &Base) -> Self {
        let start = Instant::now();
        let files = match base.source {
            "shared" => {
                let dir = paths::shared_data_dir();
                vec![
                    dir.join("manifest-children.jsonl.gz"),
                    dir.join("manifest-configs.jsonl.gz"),
                ]
            }
            "sample" => vec![paths::repo_root().join("data/sample-manifests.jsonl.gz")],
            _ => return synthetic::relations(&base.digests),
        };
        let mut lines = Vec::new();
        for f in files.iter().filter(|f| f.exists()) {
            read_relations(f, &mut lines);
        }
        let position: HashMap<Digest, u32> = base
            .digests
            .iter()
            .enumerate()
            .map(|(i, d)| (*d, u32::try_from(i).expect("fits")))
            .collect();
        let mut out = Self::new(base.source);
        for r in lines {
            match r {
                ManifestRelation::Index(ix) => {
                    if let Some(&i) = position.get(&ix.index) {
                        out.indexes.entry(i).or_insert(ix.manifests);
                    }
                }
                ManifestRelation::Config(c) => {
                    if let Some(&i) = position.get(&c.manifest) {
                        out.configs.entry(i).or_insert(c.config);
                    }
                }
            }
        }
        let manifests: usize = out.indexes.values().map(Vec::len).sum();
        eprintln!(
            "[bench-data] relations: {} image indexes ({manifests} platform manifests), {} manifest configs among {} base digests, from {} of {:?} ({:.1?})",
            out.indexes.len(),
            out.configs.len(),
            base.digests.len(),
            base.source,
            files
                .iter()
                .filter(|f| f.exists())
                .filter_map(|f| f.file_name())
                .collect::<Vec<_>>(),
            start.elapsed()
        );
        out
    }

    /// The relations of `part` (of the base digests its events use, in
    /// ascending order), under the part's replica's digests.
    #[must_use]
    pub fn for_part(&self, base: &Base, part: &Part) -> Vec<ManifestRelation> {
        let k = part.replica;
        let copy = |d: &Digest| Base::replica_digest(d, k);
        let mut out = Vec::new();
        for i in base.part_digests(part) {
            let d = &base.digests[i as usize];
            if let Some(manifests) = self.indexes.get(&i) {
                out.push(ManifestRelation::Index(IndexRelation {
                    index: copy(d),
                    manifests: manifests
                        .iter()
                        .map(|m| PlatformManifest {
                            digest: copy(&m.digest),
                            platform: m.platform.clone(),
                            config: m.config.as_ref().map(copy),
                        })
                        .collect(),
                    repository: None,
                    first_seen: None,
                }));
            }
            if let Some(config) = self.configs.get(&i) {
                out.push(ManifestRelation::Config(ConfigRelation {
                    manifest: copy(d),
                    config: copy(config),
                    repository: None,
                    platform: None,
                    source: None,
                    first_seen: None,
                }));
            }
        }
        out
    }
}

/// One query of the relation groups: an index digest of the set, one of its
/// platform manifests and that manifest's config, each with the number of
/// matches its lookup returns.
#[derive(Debug, Clone)]
pub struct RelationQuery {
    /// The image index (a tagged digest).
    pub index: Digest,
    /// One of its platform manifests.
    pub child: Digest,
    /// That manifest's config.
    pub config: Digest,
    /// Matches of a lookup of `index` (all direct).
    pub direct: usize,
    /// Matches of a lookup of `child`: through every index of the set that
    /// lists it (and its own, if it is tagged too).
    pub via_child: usize,
    /// Matches of a lookup of `config`: through every manifest with that
    /// config and every index listing one of them.
    pub via_config: usize,
    /// Indexes of the set that list `child`.
    pub child_parents: usize,
}

/// Figures of a set's relations, for `stats.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelationStats {
    /// Distinct tagged digests in the set.
    pub digests: u64,
    /// Image indexes among them (with their platform manifests recorded).
    pub indexes: u64,
    /// Single manifests among them whose config is recorded.
    pub manifests_with_config: u64,
    /// (index, platform manifest) pairs: the ledger's `index_manifests` count.
    pub index_manifests: u64,
    /// (manifest, config) pairs: the ledger's `manifest_configs` count.
    pub manifest_configs: u64,
    /// Distinct digests flagged as platform manifests.
    pub flagged_children: u64,
    /// Distinct digests flagged as configs.
    pub flagged_configs: u64,
    /// Flagged digests that are not tagged: digest-index keys the relations add.
    pub flag_only_digests: u64,
    /// Wall time of the ledger's `record_relations` calls.
    pub record_seconds: f64,
}

/// The relations of one data set, seen from outside the ledger.
#[derive(Debug)]
pub struct RelationSet {
    /// Every digest the relations flag, with its flags ([`FLAG_CHILD`],
    /// [`FLAG_CONFIG`]), sorted by digest: what the raw redb copy flags.
    pub flagged: Vec<(Digest, u8)>,
    /// The relation queries, shuffled.
    pub queries: Vec<RelationQuery>,
    /// Counts.
    pub stats: RelationStats,
}

/// One part's relations as maps, for the expected answers.
#[derive(Default)]
struct PartMaps {
    /// Platform manifest → the indexes listing it.
    parents: HashMap<Digest, Vec<Digest>>,
    /// Config → the manifests having it.
    config_manifests: HashMap<Digest, Vec<Digest>>,
    /// Manifest → config.
    config_of: HashMap<Digest, Digest>,
}

impl PartMaps {
    fn new(relations: &[ManifestRelation]) -> Self {
        let mut maps = Self::default();
        let mut pairs: HashSet<(Digest, Digest)> = HashSet::new();
        for r in relations {
            match r {
                ManifestRelation::Index(ix) => {
                    for m in &ix.manifests {
                        if pairs.insert((m.digest, ix.index)) {
                            maps.parents.entry(m.digest).or_default().push(ix.index);
                        }
                        if let Some(c) = m.config {
                            maps.config(m.digest, c);
                        }
                    }
                }
                ManifestRelation::Config(c) => maps.config(c.manifest, c.config),
            }
        }
        maps
    }

    fn config(&mut self, manifest: Digest, config: Digest) {
        if self.config_of.insert(manifest, config).is_none() {
            self.config_manifests
                .entry(config)
                .or_default()
                .push(manifest);
        }
    }

    /// The matches `tags_for_digest(d)` returns: `d`'s own intervals, plus
    /// those of every digest it reaches (the indexes listing it, the
    /// manifests whose config it is and the indexes listing those), each
    /// reached digest counted once, as the ledger keeps one match per
    /// (tag, since, via digest).
    fn expected(&self, rows: &DigestIndex, d: &Digest) -> usize {
        let mut via: HashSet<Digest> = HashSet::new();
        via.extend(self.parents.get(d).into_iter().flatten());
        for m in self.config_manifests.get(d).into_iter().flatten() {
            via.insert(*m);
            via.extend(self.parents.get(m).into_iter().flatten());
        }
        rows.count(d) + via.iter().map(|v| rows.count(v)).sum::<usize>()
    }
}

impl RelationSet {
    /// The relations of the set made of `parts` (whose rows are `rows`), and
    /// [`QUERIES`] relation queries drawn uniformly from its image indexes.
    #[must_use]
    pub fn compute(
        base: &Base,
        relations: &BaseRelations,
        parts: &[Part],
        rows: &DigestIndex,
    ) -> Self {
        let mut stats = RelationStats::default();
        let indexes_per_part: Vec<usize> = parts
            .iter()
            .map(|p| {
                let used = base.part_digests(p);
                stats.digests += used.len() as u64;
                used.iter()
                    .filter(|i| relations.indexes.contains_key(i))
                    .count()
            })
            .collect();
        let total: usize = indexes_per_part.iter().sum();
        let mut rng = Rng::new(0x0005_1B11_0C5E);
        let mut picks: Vec<usize> = if total == 0 {
            Vec::new()
        } else {
            (0..QUERIES).map(|_| rng.below(total)).collect()
        };
        picks.sort_unstable();

        let mut flags: HashMap<Digest, u8> = HashMap::new();
        let mut queries = Vec::new();
        let mut first = 0; // global position of this part's first index
        let mut next_pick = 0;
        for (part, &n) in parts.iter().zip(&indexes_per_part) {
            let part_relations = relations.for_part(base, part);
            let maps = PartMaps::new(&part_relations);
            stats.index_manifests += maps.parents.values().map(|v| v.len() as u64).sum::<u64>();
            stats.manifest_configs += maps.config_of.len() as u64;
            for child in maps.parents.keys() {
                *flags.entry(*child).or_default() |= FLAG_CHILD;
            }
            for config in maps.config_manifests.keys() {
                *flags.entry(*config).or_default() |= FLAG_CONFIG;
            }
            let index_relations: Vec<&IndexRelation> = part_relations
                .iter()
                .filter_map(|r| match r {
                    ManifestRelation::Index(ix) => Some(ix),
                    ManifestRelation::Config(_) => None,
                })
                .collect();
            debug_assert_eq!(index_relations.len(), n);
            stats.indexes += index_relations.len() as u64;
            stats.manifests_with_config += (part_relations.len() - index_relations.len()) as u64;
            while next_pick < picks.len() && picks[next_pick] < first + n {
                let ix = index_relations[picks[next_pick] - first];
                next_pick += 1;
                let with_config: Vec<&PlatformManifest> =
                    ix.manifests.iter().filter(|m| m.config.is_some()).collect();
                if with_config.is_empty() {
                    continue;
                }
                let m = with_config[rng.below(with_config.len())];
                let config = m.config.expect("filtered");
                queries.push(RelationQuery {
                    index: ix.index,
                    child: m.digest,
                    config,
                    direct: maps.expected(rows, &ix.index),
                    via_child: maps.expected(rows, &m.digest),
                    via_config: maps.expected(rows, &config),
                    child_parents: maps.parents.get(&m.digest).map_or(0, Vec::len),
                });
            }
            first += n;
        }
        rng.shuffle(&mut queries);
        let mut flagged: Vec<(Digest, u8)> = flags.into_iter().collect();
        flagged.sort_unstable();
        stats.flagged_children = flagged.iter().filter(|f| f.1 & FLAG_CHILD != 0).count() as u64;
        stats.flagged_configs = flagged.iter().filter(|f| f.1 & FLAG_CONFIG != 0).count() as u64;
        stats.flag_only_digests = flagged.iter().filter(|f| rows.count(&f.0) == 0).count() as u64;
        Self {
            flagged,
            queries,
            stats,
        }
    }

    /// Writes the relation queries to `path` (`relation-queries.tsv`).
    pub fn write_queries(&self, path: &Path) {
        let mut f = std::io::BufWriter::new(fs::File::create(path).expect("relation-queries.tsv"));
        for q in &self.queries {
            writeln!(
                f,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                q.index, q.child, q.config, q.direct, q.via_child, q.via_config, q.child_parents
            )
            .expect("write");
        }
        f.flush().expect("flush");
    }
}

/// Reads the relation queries written by [`RelationSet::write_queries`].
#[must_use]
pub fn load_queries(path: &Path) -> Vec<RelationQuery> {
    let text = fs::read_to_string(path).expect("read relation-queries.tsv");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let n = |i: usize| f[i].parse::<usize>().expect("count");
            RelationQuery {
                index: f[0].parse().expect("digest"),
                child: f[1].parse().expect("digest"),
                config: f[2].parse().expect("digest"),
                direct: n(3),
                via_child: n(4),
                via_config: n(5),
                child_parents: n(6),
            }
        })
        .collect()
}
