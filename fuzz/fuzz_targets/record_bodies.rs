//! Fuzz target: the record write bodies as JSON (`RepositoryBody`, `TagBody`,
//! what the create/update API reads): no panic, and a body read writes JSON
//! that reads back to the same body. The audit fields and `$schema` are
//! accepted and ignored (read, never written), so the body read back equals
//! the input's body with those fields cleared.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::model::{RepositoryBody, TagBody};

fuzz_target!(|data: &[u8]| {
    match serde_json::from_slice::<RepositoryBody>(data) {
        Ok(body) => {
            let again = common::json_reread(&body);
            let expected = RepositoryBody {
                schema: None,
                created_by: None,
                created_on: None,
                last_modified_by: None,
                last_modified_on: None,
                ..body
            };
            assert_eq!(again, expected, "repository body round trip");
            // Without the ignored fields, the plain round trip holds.
            common::json_round_trip::<RepositoryBody>(
                serde_json::to_string(&expected).unwrap().as_bytes(),
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match serde_json::from_slice::<TagBody>(data) {
        Ok(body) => {
            let again = common::json_reread(&body);
            let expected = TagBody {
                schema: None,
                created_by: None,
                created_on: None,
                last_modified_by: None,
                last_modified_on: None,
                ..body
            };
            assert_eq!(again, expected, "tag body round trip");
            common::json_round_trip::<TagBody>(
                serde_json::to_string(&expected).unwrap().as_bytes(),
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
