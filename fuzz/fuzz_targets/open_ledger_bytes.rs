//! Fuzz target: a ledger file made of arbitrary bytes (issue 13). The input
//! becomes a file (one per process, in the temp directory), which is opened
//! with `Ledger::open_read_only` and read: `stats`, a `snapshot` with
//! `counts` and `tags_for_digest` of a fixed digest, `repositories(None, 10)`,
//! and for the first listed repository's first listed tag `tag`, `history`
//! and `references`.
//!
//! Two ways to make the file, chosen by the input's first byte:
//!
//! - even (or no byte): the input is the whole file;
//! - odd: a valid small ledger (made once per process: three repositories,
//!   a tag that moved A → B → A, an image index and a config relation,
//!   compacted) with the input's bytes from its sixth on written over it at
//!   the offset the next four bytes give (little-endian, modulo the file's
//!   length + 1; the file grows if the window runs past its end), and cut
//!   right after the window when bit 1 of the first byte is set. So the
//!   fuzzer damages a real file anywhere, deep inside its B-trees too.
//!
//! Property: every call may fail, but no panic may come out of the API and
//! nothing may abort the process (an allocation the file's bytes ask for
//! that fails, a stack overflow, …), and an `Error::Corrupt` names the file.
//!
//! The ledger turns a panic of the storage engine on a damaged page into
//! `Error::Corrupt` (`store::handle::guard`, with `catch_unwind`), by design.
//! libFuzzer's panic hook aborts at every panic, caught or not, so this
//! target installs its own hook, which only remembers the message: a panic
//! the ledger catches is an error like any other, and one that comes out of
//! the API aborts here with that message (a crash). The panics the ledger
//! caught are counted and the count printed at 1, 10, 100, ….
#![no_main]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use ociledger::id::Digest;
use ociledger::model::Observation;
use ociledger::{Error, Ledger};

/// The base ledger's observations, in two batches.
const BATCHES: [&[&str]; 2] = [
    &[
        r#"{"repository":"docker.io/library/nginx","tag":"latest","digest":"sha256:0324afc5c8191616576f7b23b297d001609726a2f1b6561c90e229e54ab701cf","observed_at":"2015-09-18T20:18:57Z"}"#,
        r#"{"repository":"docker.io/library/ghost","tag":"latest","digest":"sha256:593e55e3e5392659b03b76a838b993909439305e7f6aedc9243e63c2199373d5","observed_at":"2015-09-18T20:18:57Z","config":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}"#,
        r#"{"repository":"ghcr.io/example/app","tag":"1.2","digest":"sha256:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed","observed_at":"2024-01-02T03:04:05Z","manifests":[{"digest":"sha256:53aeeaf6a30d3a7106c4a1510b0e898ecce153205205a00af4f685d72d5c15e2","platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#,
    ],
    &[
        r#"{"repository":"docker.io/library/nginx","tag":"latest","digest":"sha256:edce1f2a3c3fa2bf4f5e1c5e8ff0c36b47a5f5a2e0c5f4e4b2c0a0d1e2f3a4b5","observed_at":"2016-01-01T00:00:00Z"}"#,
        r#"{"repository":"docker.io/library/nginx","tag":"latest","digest":"sha256:0324afc5c8191616576f7b23b297d001609726a2f1b6561c90e229e54ab701cf","observed_at":"2017-01-01T00:00:00Z"}"#,
        r#"{"repository":"docker.io/library/nginx","tag":"1.25","digest":"sha256:0324afc5c8191616576f7b23b297d001609726a2f1b6561c90e229e54ab701cf","observed_at":"2017-01-01T00:00:00Z"}"#,
    ],
];

/// The digest every input looks up: nginx:latest's (current, and past).
const PROBE: &str = "sha256:0324afc5c8191616576f7b23b297d001609726a2f1b6561c90e229e54ab701cf";

fn temp_path(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "ociledger-fuzz-open-{what}-{}.redb",
        std::process::id()
    ))
}

/// The bytes of the valid base ledger, made once per process.
fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let path = temp_path("base");
        std::fs::remove_file(&path).ok();
        let ledger = Ledger::create(&path).expect("create the base ledger");
        for batch in BATCHES {
            let observations: Vec<Observation> = batch
                .iter()
                .map(|l| serde_json::from_str(l).expect("a base observation"))
                .collect();
            ledger
                .ingest("fuzz", &observations)
                .expect("ingest the base");
        }
        ledger.compact().expect("compact the base");
        drop(ledger);
        let bytes = std::fs::read(&path).expect("read the base ledger");
        std::fs::remove_file(&path).ok();
        bytes
    })
}

/// The file an input stands for (see the module documentation).
fn compose(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode & 1 == 0 || rest.len() < 4 {
        return data.to_vec();
    }
    let (offset, window) = rest.split_at(4);
    let base = base();
    let offset = u32::from_le_bytes([offset[0], offset[1], offset[2], offset[3]]);
    let offset = usize::try_from(offset).unwrap_or(usize::MAX) % (base.len() + 1);
    let end = offset + window.len();
    let mut file = base.to_vec();
    if file.len() < end {
        file.resize(end, 0);
    }
    file[offset..end].copy_from_slice(window);
    if mode & 2 != 0 {
        file.truncate(end);
    }
    file
}

thread_local! {
    /// The last panic's message and place, from the hook.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics the ledger caught (and turned into errors).
static CAUGHT: AtomicU64 = AtomicU64::new(0);

/// Replaces libFuzzer's aborting panic hook with one that only remembers
/// the panic (see the module documentation).
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.to_string();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
        }));
    });
}

/// Every error must render, and damage must name the file.
fn check(path: &Path, result: Result<(), Error>) {
    let Err(e) = result else { return };
    let shown = e.to_string();
    assert!(!shown.is_empty(), "an empty error message: {e:?}");
    if let Error::Corrupt(m) = &e {
        assert!(
            m.contains(&path.display().to_string()),
            "Error::Corrupt without the file's name: {m}"
        );
    }
    if shown.contains("the storage engine failed on a damaged page") {
        let n = CAUGHT.fetch_add(1, Ordering::Relaxed) + 1;
        let mut m = n;
        while m.is_multiple_of(10) {
            m /= 10;
        }
        if m == 1 {
            eprintln!("open_ledger_bytes: {n} engine panic(s) turned into errors, e.g. {shown}");
        }
    }
}

/// Everything a reader does with a file; every call may fail.
fn exercise(path: &Path, probe: &Digest) {
    let ledger = match Ledger::open_read_only(path) {
        Ok(l) => l,
        Err(e) => return check(path, Err(e)),
    };
    check(path, ledger.stats().map(drop));
    let snap = match ledger.snapshot() {
        Ok(s) => s,
        Err(e) => return check(path, Err(e)),
    };
    check(path, snap.counts().map(drop));
    check(path, snap.tags_for_digest(probe).map(drop));
    let repositories = match snap.repositories(None, 10) {
        Ok(page) => page.items,
        Err(e) => return check(path, Err(e)),
    };
    let Some(id) = repositories.iter().find_map(|r| r.id().ok()) else {
        return;
    };
    let tags = match snap.tags(&id, None, 10) {
        Ok(page) => page.items,
        Err(e) => return check(path, Err(e)),
    };
    let Some(tag) = tags.iter().find_map(|t| t.id().ok()) else {
        return;
    };
    check(path, snap.tag(&tag).map(drop));
    check(path, snap.history(&tag, None, 10).map(drop));
    check(path, snap.references(&tag, None, 10).map(drop));
}

fuzz_target!(|data: &[u8]| {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    install_hook();
    let path = PATH.get_or_init(|| temp_path("input"));
    let probe: Digest = PROBE.parse().expect("the probe digest");
    let file = compose(data);
    if std::fs::write(path, &file).is_err() {
        return;
    }
    let result = std::panic::catch_unwind(|| exercise(path, &probe));
    std::fs::remove_file(path).ok();
    if result.is_err() {
        let message = LAST_PANIC.with(|p| p.borrow_mut().take());
        eprintln!(
            "open_ledger_bytes: a panic came out of the ledger's API: {}",
            message.unwrap_or_default()
        );
        std::process::abort();
    }
});
