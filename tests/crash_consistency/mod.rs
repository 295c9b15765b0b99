//! Simulated power loss, a full disk and I/O errors under a ledger (issue 13),
//! in process, through a fault-injecting storage backend given to
//! [`Ledger::create_with_backend`].
//!
//! The backend keeps the disk as two images: `volatile` (every write, what a
//! reader of the file sees) and `durable` (what the last successful
//! `sync_data` made survive a power cut), plus the writes made since that
//! sync. A power loss at operation N (writes, `set_len`s and syncs are
//! counted) fails operation N and every operation after it; the disk that
//! is left is then rebuilt three ways: the durable image alone, the durable
//! image plus every unsynced write (the sync was what failed), and the
//! durable image plus a seeded random subset of the unsynced writes, some of
//! them torn at a 512-byte sector boundary (the disk reordered and cut them).
//!
//! The workload touches every table family: six ingested batches of real
//! observations (`data/sample-events.jsonl.gz`), manifest relations
//! (`data/sample-manifests.jsonl.gz`), and repository / tag API writes, each
//! in its own transaction; workload 1 also compacts the ledger midway
//! (`Ledger::compact`: page moves, the large tables rewritten in one write
//! transaction, page moves again), so power cuts land in every write and
//! sync of a compaction too, and each image left must verify clean and answer
//! as before it. Its answers after each step come from a clean run
//! first; a crashed run must reopen to exactly the answers after the steps
//! that returned `Ok`, or after one more (a commit can be durable although an
//! operation after its sync failed), and then take the rest of the workload.
//!
//! A full disk is also tested for real, under a ledger file: a small tmpfs
//! in a private mount namespace, where the same `Ledger` must write again
//! once there is room (it reopens its file after an I/O error), and a
//! compaction on a full disk (none to 6/8 of the file's size free: room for
//! part of the copy) must fail, change nothing, and succeed on the same
//! `Ledger` once there is room.

mod disk;
mod full_file_system;
mod io_errors;
mod power_loss;
mod workload;
