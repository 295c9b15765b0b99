//! The ledger file: what opening accepts and refuses, and that it keeps
//! everything across close and reopen. Guards against silently opening (and
//! then writing into) a file that is not ours, or one of another schema.

use ociledger::id::{Algorithm, Digest};
use ociledger::model::Observation;
use ociledger::{Error, Ledger, SCHEMA_VERSION};
use redb::{Database, TableDefinition};

fn obs(tag: &str, n: u8, at: &str) -> Observation {
    Observation::new(
        tag.parse().unwrap(),
        Digest::of(Algorithm::Sha256, &[n]),
        at.parse().unwrap(),
    )
}

#[test]
fn reopening_keeps_records_history_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    {
        let l = Ledger::create(&path).unwrap();
        l.ingest(
            "s",
            &[
                obs("nginx:1", 1, "2024-01-01T00:00:00Z"),
                obs("nginx:1", 2, "2024-02-01T00:00:00Z"),
            ],
        )
        .unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    let m = l
        .tags_for_digest(&Digest::of(Algorithm::Sha256, &[1]))
        .unwrap();
    assert_eq!(
        m[0].tag.to_string(),
        "docker.io/library/nginx:1",
        "names come back from the file"
    );
    assert_eq!(l.stats().unwrap().counts.references, 2);
    // New tags after reopen get fresh numbers that do not collide.
    l.ingest("s", &[obs("redis:7", 3, "2024-03-01T00:00:00Z")])
        .unwrap();
    let m = l
        .tags_for_digest(&Digest::of(Algorithm::Sha256, &[3]))
        .unwrap();
    assert_eq!(m[0].tag.to_string(), "docker.io/library/redis:7");
}

#[test]
fn opening_a_missing_file_is_not_found_not_a_new_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.redb");
    assert!(matches!(Ledger::open(&path), Err(Error::NotFound { .. })));
    assert!(!path.exists());
}

#[test]
fn a_file_of_other_bytes_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let bytes = b"these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &bytes).unwrap();
    for result in [Ledger::open(&path), Ledger::create(&path)] {
        assert!(
            matches!(result, Err(Error::NotALedger { .. })),
            "{result:?}"
        );
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_foreign_redb_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(TableDefinition::<u64, u64>::new("users"))
            .unwrap()
            .insert(1, 2)
            .unwrap();
        w.commit().unwrap();
    }
    assert!(matches!(
        Ledger::create(&path),
        Err(Error::NotALedger { .. })
    ));
    assert!(matches!(Ledger::open(&path), Err(Error::NotALedger { .. })));
}

#[test]
fn another_schema_version_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.redb");
    drop(Ledger::create(&path).unwrap());
    {
        let db = Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(TableDefinition::<&str, &[u8]>::new("meta"))
            .unwrap()
            .insert("schema_version", 99u32.to_le_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    match Ledger::open(&path) {
        Err(
            e @ Error::Version {
                found: 99,
                supported,
                ..
            },
        ) => {
            assert_eq!(supported, SCHEMA_VERSION);
            assert!(e.to_string().contains("schema version 99"), "{e}");
        }
        other => panic!("expected a version error, got {other:?}"),
    }
}

#[test]
fn a_failed_write_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let l = Ledger::create(&path).unwrap();
    l.ingest("s", &[obs("nginx:1", 1, "2024-01-01T00:00:00Z")])
        .unwrap();
    let before = l.stats().unwrap().counts;
    let tag = "ghcr.io/a/b:1".parse().unwrap();
    // The repository is missing: the create fails after interning the tag in its transaction.
    let body = ociledger::model::TagBody::new(&tag, Digest::of(Algorithm::Sha256, &[7]));
    assert!(l.create_tag("a", &body).is_err());
    assert!(
        l.ingest("", &[obs("nginx:1", 9, "2024-05-01T00:00:00Z")])
            .is_err(),
        "empty actor"
    );
    assert_eq!(l.stats().unwrap().counts, before);
    assert!(
        l.tags_for_digest(&Digest::of(Algorithm::Sha256, &[9]))
            .unwrap()
            .is_empty()
    );
}
