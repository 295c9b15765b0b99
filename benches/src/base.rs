//! The history every data set replays, and its replicas.
//!
//! The base is the real tag → digest history in `../shared/data/`
//! (`tag-events.jsonl.gz` + `pinned-tag-history.jsonl.gz`, ~208k observations);
//! without it the bundled `data/sample-events.jsonl.gz`; without that, the
//! [`synthetic`] generator.
//!
//! Larger sets replay those same tag histories under new repository names
//! (`r<k>.bench.example/<domain>/<path>`) with fresh digests
//! (`Digest::of(Sha256, raw digest ‖ k)`), so every replica has exactly the real
//! tag-move statistics: the same events per tag, the same A → B → A returns,
//! the same digests shared by several tags, the same same-instant ties.
//!
//! A size is a number of **references** ((tag, digest) pairs). Repositories are
//! taken whole (all their tags, each tag's whole history), in a fixed shuffled
//! order, replica after replica, until the count is reached (the last tag is
//! cut after the event that reaches it): see [`Base::plan`].

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use flate2::read::MultiGzDecoder;
use ociledger::id::{Algorithm, Digest, RepositoryId, TagId};
use ociledger::model::{Observation, Timestamp};

use crate::paths;
use crate::rng::Rng;
use crate::synthetic;

/// One tag of the base history.
#[derive(Debug, Clone)]
pub struct BaseTag {
    /// Its repository (replica 0's name).
    pub repo: RepositoryId,
    /// Its tag name.
    pub tag: String,
    /// (instant in µs, index into [`Base::digests`]), in observed order.
    pub events: Vec<(i64, u32)>,
}

/// The real (or fallback) history that every data set replays.
#[derive(Debug)]
pub struct Base {
    /// `shared`, `sample` or `synthetic`.
    pub source: &'static str,
    /// Every tag with its history.
    pub tags: Vec<BaseTag>,
    /// Every digest, in first-seen order.
    pub digests: Vec<Digest>,
    /// Observations read.
    pub observations: usize,
    /// Distinct (tag, digest) pairs in one full replica.
    pub references: u64,
}

/// Tags of one replica taken into a data set.
#[derive(Debug, Clone)]
pub struct Part {
    /// Replica number (0: the real names and digests).
    pub replica: u32,
    /// (base tag, events taken).
    pub tags: Vec<(u32, u32)>,
}

/// The base, loaded once per process.
pub fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(Base::load)
}

/// A ledger timestamp from microseconds since the epoch.
#[must_use]
pub fn micros_to_ts(us: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_micros(us).expect("in range")
}

fn sample_file() -> PathBuf {
    paths::repo_root().join("data/sample-events.jsonl.gz")
}

fn read_observations(path: &Path, out: &mut Vec<Observation>) {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    for (i, line) in BufReader::new(MultiGzDecoder::new(file))
        .lines()
        .enumerate()
    {
        let line = line.unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if line.trim().is_empty() {
            continue;
        }
        let o: Observation = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        out.push(o);
    }
}

impl Base {
    /// The source that the base is loaded from, without reading it.
    #[must_use]
    pub fn source_name() -> &'static str {
        if paths::shared_data_dir()
            .join("tag-events.jsonl.gz")
            .exists()
        {
            "shared"
        } else if sample_file().exists() {
            "sample"
        } else {
            "synthetic"
        }
    }

    fn load() -> Base {
        let start = Instant::now();
        let shared = paths::shared_data_dir();
        let mut obs = Vec::new();
        let source = Self::source_name();
        match source {
            "shared" => {
                read_observations(&shared.join("tag-events.jsonl.gz"), &mut obs);
                let pinned = shared.join("pinned-tag-history.jsonl.gz");
                if pinned.exists() {
                    read_observations(&pinned, &mut obs);
                }
            }
            "sample" => read_observations(&sample_file(), &mut obs),
            _ => obs = synthetic::observations(),
        }
        let base = Self::from_observations(source, &obs);
        eprintln!(
            "[bench-data] base: {} observations, {} tags, {} digests, {} references from {source} ({:.1?})",
            base.observations,
            base.tags.len(),
            base.digests.len(),
            base.references,
            start.elapsed()
        );
        base
    }

    fn from_observations(source: &'static str, obs: &[Observation]) -> Base {
        let mut tag_index: HashMap<&TagId, u32> = HashMap::new();
        let mut digest_index: HashMap<Digest, u32> = HashMap::new();
        let mut tags: Vec<BaseTag> = Vec::new();
        let mut digests = Vec::new();
        for o in obs {
            let t = *tag_index.entry(&o.tag).or_insert_with(|| {
                tags.push(BaseTag {
                    repo: o.tag.repository().clone(),
                    tag: o.tag.tag().to_owned(),
                    events: Vec::new(),
                });
                u32::try_from(tags.len() - 1).expect("fits")
            });
            let d = *digest_index.entry(o.digest).or_insert_with(|| {
                digests.push(o.digest);
                u32::try_from(digests.len() - 1).expect("fits")
            });
            tags[t as usize]
                .events
                .push((o.observed_at.timestamp_micros(), d));
        }
        let mut references = 0;
        for t in &mut tags {
            t.events.sort_by_key(|e| e.0); // stable: keeps file order within an instant
            references += t.events.iter().map(|e| e.1).collect::<HashSet<_>>().len() as u64;
        }
        Base {
            source,
            observations: obs.len(),
            tags,
            digests,
            references,
        }
    }

    /// Tag indices in the fixed order sizes are cut from: whole repositories
    /// in a fixed shuffled order (digests are shared mostly between the tags
    /// of one repository: `latest`, `1`, `1.13`, `1.13.5`), each repository's
    /// tags in their first-seen order.
    fn order(&self) -> Vec<u32> {
        let mut repos: Vec<&RepositoryId> = Vec::new();
        let mut by_repo: HashMap<&RepositoryId, Vec<u32>> = HashMap::new();
        for (i, t) in self.tags.iter().enumerate() {
            let tags = by_repo.entry(&t.repo).or_insert_with(|| {
                repos.push(&t.repo);
                Vec::new()
            });
            tags.push(u32::try_from(i).expect("fits"));
        }
        Rng::new(0x0C1_1ED6E5).shuffle(&mut repos);
        repos
            .iter()
            .flat_map(|r| by_repo[r].iter().copied())
            .collect()
    }

    /// Replica `k`'s name for base repository `repo` (replica 0 is the real name).
    fn replica_repo(repo: &RepositoryId, k: u32, fallback: usize) -> RepositoryId {
        if k == 0 {
            return repo.clone();
        }
        let domain: String = repo
            .domain()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("r{k}.bench.example/{domain}/{}", repo.path())
            .parse()
            .unwrap_or_else(|_| {
                format!("r{k}.bench.example/long/x{fallback}")
                    .parse()
                    .expect("valid repository")
            })
    }

    /// Replica `k`'s copy of digest `d`: `d` itself for k = 0, else
    /// `Digest::of(Sha256, raw digest ‖ k)`. Tagged digests and the platform
    /// manifests and configs related to them (see [`relations`](crate::relations))
    /// are copied alike, so a replica's relations link its own digests.
    #[must_use]
    pub fn replica_digest(d: &Digest, k: u32) -> Digest {
        if k == 0 {
            return *d;
        }
        let mut seed = d.as_bytes().to_vec();
        seed.extend_from_slice(&k.to_le_bytes());
        Digest::of(Algorithm::Sha256, &seed)
    }

    /// Replica `k`'s digests: the real ones for k = 0, fresh ones otherwise.
    fn replica_digests(&self, k: u32) -> Vec<Digest> {
        if k == 0 {
            return self.digests.clone();
        }
        self.digests
            .iter()
            .map(|d| Self::replica_digest(d, k))
            .collect()
    }

    /// The digests (indices into [`Base::digests`]) that a part's events
    /// use, ascending.
    #[must_use]
    pub fn part_digests(&self, part: &Part) -> Vec<u32> {
        let mut used = vec![false; self.digests.len()];
        for &(t, n) in &part.tags {
            for &(_, d) in &self.tags[t as usize].events[..n as usize] {
                used[d as usize] = true;
            }
        }
        used.iter()
            .enumerate()
            .filter(|(_, u)| **u)
            .map(|(i, _)| u32::try_from(i).expect("fits"))
            .collect()
    }

    /// The parts of a data set of `references` references.
    #[must_use]
    pub fn plan(&self, references: u64) -> Vec<Part> {
        let order = self.order();
        let mut parts = Vec::new();
        let mut remaining = references;
        let mut k = 0;
        while remaining > 0 {
            let mut part = Part {
                replica: k,
                tags: Vec::new(),
            };
            for &t in &order {
                let events = &self.tags[t as usize].events;
                let mut seen = HashSet::new();
                let mut cut = events.len();
                for (i, e) in events.iter().enumerate() {
                    if seen.insert(e.1) && seen.len() as u64 == remaining {
                        cut = i + 1;
                        break;
                    }
                }
                remaining -= seen.len() as u64;
                part.tags.push((t, u32::try_from(cut).expect("fits")));
                if remaining == 0 {
                    break;
                }
            }
            parts.push(part);
            k += 1;
        }
        parts
    }

    /// A whole replica: every tag with its whole history.
    #[must_use]
    pub fn whole(&self, replica: u32) -> Part {
        Part {
            replica,
            tags: self
                .tags
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        u32::try_from(i).expect("fits"),
                        u32::try_from(t.events.len()).expect("fits"),
                    )
                })
                .collect(),
        }
    }

    /// A part's tags (as [`TagId`]s, in part order) and its observations
    /// (tag position in the part, observation), sorted by observed time.
    #[must_use]
    pub fn materialize(&self, part: &Part) -> (Vec<TagId>, Vec<(u32, Observation)>) {
        let digests = self.replica_digests(part.replica);
        let mut ids = Vec::with_capacity(part.tags.len());
        let mut obs = Vec::new();
        for (pos, &(t, n)) in part.tags.iter().enumerate() {
            let bt = &self.tags[t as usize];
            let repo = Self::replica_repo(&bt.repo, part.replica, t as usize);
            let id = TagId::new(repo, &bt.tag).expect("base tags are valid");
            for &(us, d) in &bt.events[..n as usize] {
                obs.push((
                    u32::try_from(pos).expect("fits"),
                    Observation::new(id.clone(), digests[d as usize], micros_to_ts(us)),
                ));
            }
            ids.push(id);
        }
        obs.sort_by_key(|(_, o)| o.observed_at);
        (ids, obs)
    }
}
