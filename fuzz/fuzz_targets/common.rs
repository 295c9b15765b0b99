//! The properties every text-parser target checks. A violated property panics,
//! which libFuzzer reports as a crash (and saves the input under `artifacts/`).
//!
//! - parsing never panics, whatever the input;
//! - on success, the canonical form parses back to the same value:
//!   `parse(display(x)) == x` (so `display` is idempotent too);
//! - on failure, the error renders, its position points at a character
//!   boundary inside the input, and the input it quotes is the whole input.

#![allow(dead_code)]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use ociledger::id::IdError;

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
