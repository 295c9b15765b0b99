//! What an embedder relies on: a `Ledger` shared across threads, reader
//! handles that follow a writer's commits and name the tags it creates, and
//! errors that say why a handle cannot do what was asked.

use std::sync::Arc;

use ociledger::id::Digest;
use ociledger::model::Observation;
use ociledger::{Error, Ledger, MatchKind, Snapshot};

fn digest(i: u8) -> Digest {
    Digest::of(ociledger::id::Algorithm::Sha256, &[i])
}

fn obs(tag: &str, d: &Digest, second: i64) -> Observation {
    serde_json::from_value(serde_json::json!({
        "repository": "example.com/team/app",
        "tag": tag,
        "digest": d.to_string(),
        "observed_at": chrono::DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap(),
    }))
    .unwrap()
}

/// Guards the `Arc<Ledger>` promise: a classifier shares one ledger (and
/// sends snapshots to worker threads); losing `Send`/`Sync` breaks every
/// embedder at compile time, so it is asserted at compile time here.
#[test]
fn ledger_and_snapshot_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Ledger>();
    assert_send::<Snapshot>();
    assert_send_sync::<Error>();
}

/// Guards `compact` through a shared handle: it must work from `&Ledger`
/// (an `Arc` in another thread), refuse while a snapshot is alive with a
/// `Busy` error that says why, and change no answer.
#[test]
fn compact_works_through_an_arc_and_refuses_while_a_snapshot_lives() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::create(dir.path().join("l.redb")).unwrap());
    let batch: Vec<_> = (0..200u8)
        .map(|i| obs(&format!("t{i}"), &digest(i), i.into()))
        .collect();
    ledger.ingest("test", &batch).unwrap();
    let snap = ledger.snapshot().unwrap();
    let err = ledger.compact().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Busy {
                operation: "compact",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("snapshot"), "{err}");
    drop(snap);
    let shared = Arc::clone(&ledger);
    let c = std::thread::spawn(move || shared.compact())
        .join()
        .unwrap()
        .unwrap();
    assert!(c.file_bytes_after <= c.file_bytes_before, "{c:?}");
    assert_eq!(
        ledger.tags_for_digest(&digest(7)).unwrap()[0].tag.tag(),
        "t7"
    );
}

/// Guards the reader handle: a read-only ledger opened before the writer
/// adds tags must see them (with their names: the name cache of a reader is
/// refreshed from the file, since the writer's cache is in another handle)
/// in a new snapshot, and an old snapshot must keep its view.
#[test]
fn a_read_only_handle_follows_commits_and_names_new_tags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let writer = Ledger::create(&path).unwrap();
    writer.ingest("test", &[obs("v1", &digest(1), 0)]).unwrap();
    let reader = Ledger::open_read_only(&path).unwrap();
    let before = reader.snapshot().unwrap();
    writer
        .ingest(
            "test",
            &[obs("v2", &digest(2), 1), obs("v1", &digest(3), 2)],
        )
        .unwrap();
    assert!(before.tags_for_digest(&digest(2)).unwrap().is_empty());
    let after = reader.snapshot().unwrap();
    let m = after.tags_for_digest(&digest(2)).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].tag.to_string(), "example.com/team/app:v2");
    let c = after
        .classify("example.com/team/app:v1", Some(&digest(1)))
        .unwrap();
    assert_eq!(c.kind, MatchKind::Historical);
    assert_eq!(
        before
            .classify("example.com/team/app:v1", Some(&digest(1)))
            .unwrap()
            .kind,
        MatchKind::Current
    );
}

/// Guards against a reader that can write: every write on a read-only
/// handle is refused with `ReadOnly`, naming the operation, and the file
/// keeps its contents.
#[test]
fn a_read_only_handle_refuses_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    Ledger::create(&path)
        .unwrap()
        .ingest("test", &[obs("v1", &digest(1), 0)])
        .unwrap();
    let reader = Ledger::open_read_only(&path).unwrap();
    let err = reader
        .ingest("test", &[obs("v2", &digest(2), 1)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ReadOnly {
                operation: "ingest",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("read-only"), "{err}");
    assert!(matches!(
        reader.compact().unwrap_err(),
        Error::ReadOnly {
            operation: "compact",
            ..
        }
    ));
    let tag = "example.com/team/app:v1".parse().unwrap();
    assert!(matches!(
        reader.delete_tag("test", &tag).unwrap_err(),
        Error::ReadOnly { .. }
    ));
    assert_eq!(reader.stats().unwrap().counts.tags, 1);
}

/// Guards the one-writer rule inside a process too: a second writer handle
/// on a file that one holds gets `InUse` with this process's ID (left beside
/// the file), not a raw engine error; readers are still welcome.
#[test]
fn a_second_writer_is_refused_and_told_who_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let _writer = Ledger::create(&path).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    match &err {
        Error::InUse { path: p, pid } => {
            assert_eq!(p, &path);
            assert_eq!(*pid, Some(std::process::id()));
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    assert!(
        err.to_string().contains("in use by another writer"),
        "{err}"
    );
    assert_eq!(err.status(), 423);
    assert!(Ledger::open_read_only(&path).is_ok());
}

/// Guards against open errors that mislead: a missing file is `NotFound`
/// (and a read-only open never creates it), a foreign file `NotALedger`.
#[test]
fn missing_files_and_foreign_files_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.redb");
    assert!(matches!(
        Ledger::open_read_only(&missing).unwrap_err(),
        Error::NotFound {
            what: "ledger file",
            ..
        }
    ));
    assert!(
        !missing.exists(),
        "a read-only open must not create the file"
    );
    let text = dir.path().join("text.redb");
    std::fs::write(&text, b"not a database at all, just some text").unwrap();
    for err in [
        Ledger::open(&text).unwrap_err(),
        Ledger::open_read_only(&text).unwrap_err(),
    ] {
        assert!(matches!(err, Error::NotALedger { .. }), "{err:?}");
    }
}

/// Guards the compaction report: right after `compact`, one small write
/// doubled the file's apparent size (redb grows a full file by doubling; the
/// new space is sparse), which looked like compaction had made things
/// worse. `disk_bytes` counts what the file really occupies, and must stay
/// near the compacted size.
#[cfg(unix)]
#[test]
fn one_write_after_compact_does_not_double_the_space_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(dir.path().join("l.redb")).unwrap();
    for round in 0..4u8 {
        let batch: Vec<_> = (0..250u8)
            .map(|i| {
                obs(
                    &format!("t{i}"),
                    &digest(i.wrapping_add(round)),
                    i64::from(round) * 1000 + i64::from(i),
                )
            })
            .collect();
        ledger.ingest("test", &batch).unwrap();
    }
    ledger.compact().unwrap();
    let compacted = ledger.stats().unwrap();
    ledger
        .ingest("test", &[obs("one-more", &digest(7), 99_999)])
        .unwrap();
    let after = ledger.stats().unwrap();
    assert!(
        after.disk_bytes <= compacted.disk_bytes + compacted.disk_bytes / 4 + (64 << 10),
        "{} bytes on disk after one write, {} after compaction",
        after.disk_bytes,
        compacted.disk_bytes
    );
}
