//! Fuzz target: a cluster's pod document (`kubectl get pods -A -o json`, or
//! one `Pod`), read as `serde_json::Value` and listed by
//! `model::pods::containers`: no panic; every container found has a
//! non-empty `imageID` or none, and its running digest reads without panic
//! (a digest found round-trips; an error keeps the `IdError` contract); every
//! error (of the document or of one entry) renders with its JSON path. The
//! text read by `model::pods::containers_in_json` (what `classify --pods`
//! does) lists the same, and is refused exactly when the `Value` parse is.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::id::Digest;
use ociledger::model::pods::{self, PodsError};

fn check_pods_error(e: &PodsError) {
    assert!(!e.path.is_empty(), "error without a path: {e:?}");
    assert!(!e.message.is_empty(), "error without a message: {e:?}");
    let shown = e.to_string();
    assert!(
        shown.contains(&e.path),
        "error {shown:?} does not show its path {:?}",
        e.path
    );
}

fuzz_target!(|data: &[u8]| {
    let text = std::str::from_utf8(data).ok();
    let from_text = text.map(pods::containers_in_json);
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        if let Some(read) = from_text {
            assert!(
                matches!(read, Err(pods::ReadPodsError::Json(_))),
                "a text the Value parse refuses was read: {read:?}"
            );
        }
        return;
    };
    let listed = pods::containers(&doc);
    match from_text {
        Some(Ok(read)) => assert_eq!(Ok(&read), listed.as_ref(), "the text and its Value differ"),
        Some(Err(pods::ReadPodsError::Document(e))) => {
            assert_eq!(Err(&e), listed.as_ref(), "the text and its Value differ");
        }
        Some(Err(e @ pods::ReadPodsError::Json(_))) => {
            panic!("a text the Value parse reads was refused: {e}")
        }
        None => {}
    }
    let entries = match listed {
        Ok(entries) => entries,
        Err(e) => {
            check_pods_error(&e);
            return;
        }
    };
    for entry in &entries {
        match entry {
            Ok(c) => {
                let image_id = c.image_id.as_deref();
                assert_ne!(image_id, Some(""), "an empty imageID kept: {c:?}");
                match c.digest() {
                    Ok(Some(d)) => {
                        common::round_trip::<Digest>(&d.to_string());
                    }
                    Ok(None) => {}
                    Err(e) => common::check_error(image_id.expect("an error needs an imageID"), &e),
                }
                serde_json::to_string(c).expect("a container serializes");
            }
            Err(e) => check_pods_error(e),
        }
    }
});
