//! What clusters really report: an image index, a platform manifest (maybe
//! under another repository's name) or a config digest. Guards against a
//! lookup that finds only the digest a tag pointed to directly, and so calls
//! a known image `unknown`.

use std::sync::Arc;

use ociledger::id::{Algorithm, Digest};
use ociledger::model::pods::running_digest;
use ociledger::model::{ManifestRelation, Observation, Platform, Via};
use ociledger::{Error, Ledger, MatchKind};
use serde_json::json;

fn d(name: &str) -> Digest {
    Digest::of(Algorithm::Sha256, name.as_bytes())
}

fn platform(arch: &str) -> Platform {
    Platform {
        os: "linux".to_owned(),
        architecture: arch.to_owned(),
        variant: None,
        os_version: None,
    }
}

fn observe(repo: &str, tag: &str, digest: &Digest, second: i64) -> Observation {
    serde_json::from_value(json!({
        "repository": repo, "tag": tag, "digest": digest.to_string(),
        "observed_at": chrono::DateTime::from_timestamp(1_600_000_000 + second, 0).unwrap(),
    }))
    .unwrap()
}

/// An index observation that carries its platform manifests and their configs.
fn observe_index(
    repo: &str,
    tag: &str,
    index: &Digest,
    second: i64,
    arches: &[&str],
) -> Observation {
    let manifests: Vec<_> = arches
        .iter()
        .map(|a| {
            json!({"digest": d(&format!("{index}/{a}")).to_string(),
                   "platform": {"os": "linux", "architecture": a},
                   "config": d(&format!("config of {index}/{a}")).to_string()})
        })
        .collect();
    serde_json::from_value(json!({
        "repository": repo, "tag": tag, "digest": index.to_string(),
        "observed_at": chrono::DateTime::from_timestamp(1_600_000_000 + second, 0).unwrap(),
        "manifests": manifests,
    }))
    .unwrap()
}

fn child(index: &Digest, arch: &str) -> Digest {
    d(&format!("{index}/{arch}"))
}

fn config(index: &Digest, arch: &str) -> Digest {
    d(&format!("config of {index}/{arch}"))
}

/// Guards the three digests a runtime may report for one multi-arch tag:
/// the index (containerd), a platform manifest (CRI-O), the config
/// (a side-loaded image): all three must classify as `current`, the last two
/// with the index and platform as evidence.
#[test]
fn index_platform_manifest_and_config_digests_all_reach_the_tag() {
    let l = Ledger::in_memory().unwrap();
    let index = d("index v1");
    let s = l
        .ingest(
            "scanner",
            &[observe_index(
                "nginx",
                "1.25",
                &index,
                0,
                &["amd64", "arm64"],
            )],
        )
        .unwrap();
    assert_eq!(
        s.relations_created, 4,
        "two (index, manifest) and two (manifest, config)"
    );

    let direct = l.classify("nginx:1.25", Some(&index)).unwrap();
    assert_eq!(
        (direct.kind, direct.via.clone()),
        (MatchKind::Current, None)
    );

    let via_child = l
        .classify("nginx:1.25", Some(&child(&index, "arm64")))
        .unwrap();
    assert_eq!(via_child.kind, MatchKind::Current);
    assert_eq!(
        via_child.via,
        Some(Via {
            digest: index,
            platform: Some(Arc::new(platform("arm64")))
        })
    );
    assert_eq!(via_child.matches.len(), 1);

    let via_config = l
        .classify("nginx:1.25", Some(&config(&index, "amd64")))
        .unwrap();
    assert_eq!(via_config.kind, MatchKind::Current);
    assert_eq!(
        via_config.via,
        Some(Via {
            digest: index,
            platform: Some(Arc::new(platform("amd64")))
        })
    );

    // Unknown digests stay unknown to the tag (tag_only), relations or not.
    assert_eq!(
        l.classify("nginx:1.25", Some(&d("other"))).unwrap().kind,
        MatchKind::TagOnly
    );
}

/// Guards each `imageID` form the runtimes write, end to end: cri-dockerd's
/// `docker-pullable://` and `docker://<config>`, containerd's `repo@digest`
/// and bare config digest, and CRI-O's platform manifest under another
/// repository's name (the repository must come from the spec's image).
#[test]
fn every_runtime_image_id_form_classifies() {
    let l = Ledger::in_memory().unwrap();
    let index = d("index");
    l.ingest(
        "scanner",
        &[observe_index(
            "nginx",
            "latest",
            &index,
            0,
            &["amd64", "arm64"],
        )],
    )
    .unwrap();
    let cases = [
        (format!("docker-pullable://nginx@{index}"), None),
        (format!("docker.io/library/nginx@{index}"), None),
        (
            format!("docker://{}", config(&index, "amd64")),
            Some(platform("amd64")),
        ),
        (config(&index, "arm64").to_string(), Some(platform("arm64"))),
        (
            format!("quay.io/mirror/nginx@{}", child(&index, "arm64")),
            Some(platform("arm64")),
        ),
    ];
    for (image_id, via_platform) in cases {
        let digest = running_digest(&image_id).unwrap().unwrap();
        let c = l.classify("nginx:latest", Some(&digest)).unwrap();
        assert_eq!(c.kind, MatchKind::Current, "{image_id}");
        assert_eq!(
            c.via.and_then(|v| v.platform.as_deref().cloned()),
            via_platform,
            "{image_id}"
        );
    }
    assert_eq!(running_digest("").unwrap(), None, "pulling: no digest yet");
}

/// Guards shared children: one platform manifest listed by two indexes
/// (two tags that share a platform image) reaches both tags.
#[test]
fn a_child_shared_by_two_indexes_reaches_both_tags() {
    let l = Ledger::in_memory().unwrap();
    let (a, b) = (d("index a"), d("index b"));
    let shared = d("shared manifest");
    let rel = |index: &Digest, arch: &str| -> ManifestRelation {
        serde_json::from_value(json!({"index": index.to_string(), "manifests": [
            {"digest": shared.to_string(), "platform": {"os": "linux", "architecture": arch}}]}))
        .unwrap()
    };
    l.ingest(
        "scanner",
        &[
            observe("python", "3", &a, 0),
            observe("python", "3.12", &b, 0),
        ],
    )
    .unwrap();
    assert_eq!(
        l.record_relations("scanner", &[rel(&a, "amd64"), rel(&b, "amd64")])
            .unwrap(),
        2
    );
    let m = l.tags_for_digest(&shared).unwrap();
    let tags: Vec<_> = m.iter().map(|m| m.tag.tag().to_owned()).collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert!(tags.contains(&"3".to_owned()) && tags.contains(&"3.12".to_owned()));
    assert!(m.iter().all(|m| {
        m.current
            && m.via
                .as_ref()
                .is_some_and(|v| v.platform.as_deref() == Some(&platform("amd64")))
    }));
}

/// Guards the flags written on rows that already exist: a platform
/// manifest also tagged on its own (an arch-specific tag such as
/// `1.25-amd64`) and a config that the digest index holds as a child get a
/// new flag in a row that is there; a write that took an existing row for
/// one already carrying the flag (`flush_index` leaves rows alone whose
/// flags are all there) would answer only the direct tag. A second batch
/// that lists the same manifest again changes nothing.
#[test]
fn a_new_flag_on_a_digest_already_indexed_reaches_its_index() {
    let l = Ledger::in_memory().unwrap();
    let index = d("index with a tagged child");
    let manifest = d("tagged platform manifest");
    l.ingest(
        "scanner",
        &[
            observe("nginx", "1.25", &index, 0),
            observe("nginx", "1.25-amd64", &manifest, 0),
        ],
    )
    .unwrap();
    let rel = |index: &Digest| -> ManifestRelation {
        serde_json::from_value(json!({"index": index.to_string(), "manifests": [
            {"digest": manifest.to_string(), "platform": {"os": "linux", "architecture": "amd64"}}]}))
        .unwrap()
    };
    let tags = |l: &Ledger| -> Vec<(String, bool)> {
        let mut t: Vec<_> = l
            .tags_for_digest(&manifest)
            .unwrap()
            .iter()
            .map(|m| (m.tag.tag().to_owned(), m.via.is_some()))
            .collect();
        t.sort();
        t
    };
    assert_eq!(tags(&l), [("1.25-amd64".to_owned(), false)]);
    assert_eq!(l.record_relations("scanner", &[rel(&index)]).unwrap(), 1);
    let both = vec![("1.25".to_owned(), true), ("1.25-amd64".to_owned(), false)];
    assert_eq!(tags(&l), both, "the new flag on the tagged manifest's row");
    // A re-push: a new index listing the same manifest; its flag is there.
    let again = d("index pushed again");
    l.ingest("scanner", &[observe("nginx", "1.25", &again, 10)])
        .unwrap();
    assert_eq!(l.record_relations("scanner", &[rel(&again)]).unwrap(), 1);
    let m = l.tags_for_digest(&manifest).unwrap();
    assert_eq!(m.len(), 3, "{m:?}");
    let report = l.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// Guards history through relations: after the tag moves to a new index,
/// a container still running a platform manifest of the old index is
/// `historical` (a stale deployment), not unknown and not current.
#[test]
fn a_child_of_an_index_the_tag_moved_away_from_is_historical() {
    let l = Ledger::in_memory().unwrap();
    let (old, new) = (d("old index"), d("new index"));
    l.ingest(
        "scanner",
        &[observe_index("redis", "7", &old, 0, &["amd64"])],
    )
    .unwrap();
    l.ingest(
        "scanner",
        &[observe_index("redis", "7", &new, 10, &["amd64"])],
    )
    .unwrap();
    let c = l.classify("redis:7", Some(&child(&old, "amd64"))).unwrap();
    assert_eq!(c.kind, MatchKind::Historical);
    assert_eq!(c.via.map(|v| v.digest), Some(old));
    assert_eq!(
        l.classify("redis:7", Some(&child(&new, "amd64")))
            .unwrap()
            .kind,
        MatchKind::Current
    );
}

/// Guards configs shared by manifests (the same image pushed twice): a
/// config digest reaches every manifest's tags, and the repository named by
/// the image string decides the kind.
#[test]
fn a_config_shared_by_two_manifests_reaches_both() {
    let l = Ledger::in_memory().unwrap();
    let (m1, m2, cfg) = (
        d("manifest in java"),
        d("manifest in openjdk"),
        d("shared config"),
    );
    l.ingest(
        "scanner",
        &[
            observe("java", "8", &m1, 0),
            observe("openjdk", "8", &m2, 0),
        ],
    )
    .unwrap();
    let rels: Vec<ManifestRelation> = [&m1, &m2]
        .iter()
        .map(|m| {
            serde_json::from_value(json!({"manifest": m.to_string(), "config": cfg.to_string()}))
                .unwrap()
        })
        .collect();
    assert_eq!(l.record_relations("scanner", &rels).unwrap(), 2);
    let c = l.classify("openjdk:8", Some(&cfg)).unwrap();
    assert_eq!(c.kind, MatchKind::Current);
    assert_eq!(
        c.via,
        Some(Via {
            digest: m2,
            platform: None
        })
    );
    assert_eq!(c.matches.len(), 2, "both manifests' tags are evidence");
    // Named under a repository that has neither: other tags, with both.
    let c = l.classify("eclipse-temurin:8", Some(&cfg)).unwrap();
    assert_eq!(c.kind, MatchKind::OtherTags);
}

/// Guards content addressing: recording a relation twice changes nothing;
/// a different platform for the same (index, manifest), or another config
/// for a manifest, is refused naming both, and the whole batch is dropped.
#[test]
fn relations_are_immutable_and_conflicts_name_both_sides() {
    let l = Ledger::in_memory().unwrap();
    let (index, m) = (d("index"), d("manifest"));
    let listing = |arch: &str| -> ManifestRelation {
        serde_json::from_value(json!({"index": index.to_string(), "manifests": [
            {"digest": m.to_string(), "platform": {"os": "linux", "architecture": arch}}]}))
        .unwrap()
    };
    assert_eq!(l.record_relations("s", &[listing("amd64")]).unwrap(), 1);
    assert_eq!(l.record_relations("s", &[listing("amd64")]).unwrap(), 0);
    let before = l.stats().unwrap().counts;
    let fresh_config: ManifestRelation = serde_json::from_value(
        json!({"manifest": d("other").to_string(), "config": d("cfg").to_string()}),
    )
    .unwrap();
    let err = l
        .record_relations("s", &[fresh_config, listing("arm64")])
        .unwrap_err();
    let Error::Invalid {
        location, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(location, "relation 1: manifests[0].platform");
    assert!(
        message.contains("linux/amd64") && message.contains("linux/arm64"),
        "{message}"
    );
    assert_eq!(
        l.stats().unwrap().counts,
        before,
        "a refused batch writes nothing"
    );

    let cfg = |c: &str| -> ManifestRelation {
        serde_json::from_value(json!({"manifest": m.to_string(), "config": d(c).to_string()}))
            .unwrap()
    };
    l.record_relations("s", &[cfg("a")]).unwrap();
    let err = l
        .record_relations("s", &[cfg("b")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&d("a").to_string()) && err.contains(&d("b").to_string()),
        "{err}"
    );
}

/// Guards the digest-index flag that marks children and configs: it must
/// survive the tag moves that rewrite the digest's index value later, hold
/// when the relation comes before the index is ever tagged, and be on disk
/// (reopen).
#[test]
fn relations_survive_later_moves_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let index = d("index");
    let m = child(&index, "amd64");
    {
        let l = Ledger::create(&path).unwrap();
        // The relation first, then the tag; then the child is tagged itself
        // (a single-arch tag pointing at the platform manifest), then moves on.
        let rel: ManifestRelation =
            serde_json::from_value(json!({"index": index.to_string(), "manifests": [
            {"digest": m.to_string(), "platform": {"os": "linux", "architecture": "amd64"}}]}))
            .unwrap();
        l.record_relations("s", &[rel]).unwrap();
        l.ingest(
            "s",
            &[
                observe("app", "multi", &index, 0),
                observe("app", "amd64", &m, 1),
            ],
        )
        .unwrap();
        l.ingest("s", &[observe("app", "amd64", &d("later"), 2)])
            .unwrap();
    }
    let l = Ledger::open_read_only(&path).unwrap();
    let found = l.tags_for_digest(&m).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        (found[0].tag.tag(), found[0].via.is_none(), found[0].current),
        ("amd64", true, false)
    );
    assert_eq!((found[1].tag.tag(), found[1].current), ("multi", true));
    assert_eq!(
        l.classify("app:multi", Some(&m)).unwrap().kind,
        MatchKind::Current
    );
    assert_eq!(
        l.snapshot().unwrap().indexes_listing(&m).unwrap(),
        vec![(index, platform("amd64"))]
    );
    let counts = l.stats().unwrap().counts;
    assert_eq!((counts.index_manifests, counts.manifest_configs), (1, 0));
}

/// Guards observation lines: `config` and `manifests` are optional and
/// backwards compatible, unknown fields are still refused, and both at once
/// is an error that says why.
#[test]
fn observation_lines_take_config_or_manifests() {
    let base = json!({"repository": "a/b", "tag": "t", "digest": d("x").to_string(), "observed_at": "2024-01-01T00:00:00Z"});
    let plain: Observation = serde_json::from_value(base.clone()).unwrap();
    assert!(plain.relation().is_none());
    let mut with_config = base.clone();
    with_config["config"] = json!(d("c").to_string());
    assert!(
        serde_json::from_value::<Observation>(with_config.clone())
            .unwrap()
            .relation()
            .is_some()
    );
    let mut both = with_config.clone();
    both["manifests"] = json!([{"digest": d("m").to_string(), "platform": {"os": "linux", "architecture": "amd64"}}]);
    let err = serde_json::from_value::<Observation>(both)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not both"), "{err}");
    let mut unknown = base;
    unknown["layers"] = json!([]);
    assert!(serde_json::from_value::<Observation>(unknown).is_err());
    // The line form round-trips, relations included.
    let o: Observation = serde_json::from_value(with_config).unwrap();
    assert_eq!(
        serde_json::from_str::<Observation>(&serde_json::to_string(&o).unwrap()).unwrap(),
        o
    );
}
