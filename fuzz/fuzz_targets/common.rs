//! The properties every text-parser target checks. A violated property panics,
//! which libFuzzer reports as a crash (and saves the input under `artifacts/`).
//!
//! - parsing never panics, whatever the input;
//! - on success, the canonical form parses back to the same value:
//!   `parse(display(x)) == x` (so `display` is idempotent too);
//! - on failure, the error renders, its position points at a character
//!   boundary inside the input, and the input it quotes is the whole input.
//!
//! The JSON targets (records, observation lines, manifest relations) check the
//! same for serde: reading never panics, and a value read writes JSON that
//! reads back to an equal value and writes the same JSON again.

#![allow(dead_code)]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use ociledger::id::IdError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The input as text, when it is valid UTF-8 (parsers take `&str`).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Parses `s` as `T` and checks the round trip and the error contract;
/// returns the value if it parsed.
pub fn round_trip<T>(s: &str) -> Option<T>
where
    T: FromStr<Err = IdError> + Display + Debug + PartialEq,
{
    match s.parse::<T>() {
        Ok(x) => {
            let canonical = x.to_string();
            let again: T = match canonical.parse() {
                Ok(v) => v,
                Err(e) => panic!("canonical form {canonical:?} of {s:?} does not parse: {e}"),
            };
            assert_eq!(
                again, x,
                "parse(display(x)) != x for input {s:?}, canonical {canonical:?}"
            );
            Some(x)
        }
        Err(e) => {
            check_error(s, &e);
            None
        }
    }
}

/// The error contract: renders, points inside the input, quotes the input.
pub fn check_error(s: &str, e: &IdError) {
    assert!(!e.to_string().is_empty(), "empty error message for {s:?}");
    if let Some(p) = e.position() {
        assert!(
            p <= s.len() && s.is_char_boundary(p),
            "error position {p} not a char boundary inside {s:?} ({e})"
        );
    }
    if let Some(input) = e.input() {
        assert_eq!(
            input, s,
            "error quotes another input than the one parsed ({e})"
        );
    }
}

/// A familiar (short) form must name the same value as the canonical one.
pub fn familiar_round_trip<T>(x: &T, familiar: &str)
where
    T: FromStr<Err = IdError> + Display + Debug + PartialEq,
{
    match familiar.parse::<T>() {
        Ok(y) => assert_eq!(
            &y, x,
            "familiar form {familiar:?} of {x} parses to another value"
        ),
        Err(e) => panic!("familiar form {familiar:?} of {x} does not parse: {e}"),
    }
}

/// Reads `data` as JSON `T` and checks the round trip
/// (`from_str(to_string(x)) == x`); on failure, the error renders.
/// Returns the value if it was read.
pub fn json_round_trip<T>(data: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + Debug + PartialEq,
{
    match serde_json::from_slice::<T>(data) {
        Ok(x) => {
            let again = json_reread(&x);
            assert_eq!(
                again,
                x,
                "from_str(to_string(x)) != x for input {:?}",
                String::from_utf8_lossy(data)
            );
            Some(x)
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "empty serde_json error message");
            None
        }
    }
}

/// Writes `x` as JSON, reads it back and checks that the value read writes
/// the same JSON (so writing is a fixed point); returns the value read, for
/// the caller to compare with `x` (equal, or equal up to fields that are read
/// but never written).
pub fn json_reread<T>(x: &T) -> T
where
    T: Serialize + DeserializeOwned + Debug,
{
    let json = match serde_json::to_string(x) {
        Ok(j) => j,
        Err(e) => panic!("{x:?} does not serialize: {e}"),
    };
    let again: T = match serde_json::from_str(&json) {
        Ok(v) => v,
        Err(e) => panic!("the JSON {json} written for {x:?} does not read back: {e}"),
    };
    let json_again = serde_json::to_string(&again).expect("a value read back serializes");
    assert_eq!(json_again, json, "writing {again:?} again gives other JSON");
    again
}
