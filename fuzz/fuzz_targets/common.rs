//! The property every parser target checks: no panic, canonical round trip,
//! and error positions that point inside the input.

use std::fmt::{Debug, Display};
use std::str::FromStr;

use ociledger::id::IdError;

/// Parses `data` as `T` and checks the round trip; returns the value if it parsed.
pub fn round_trip<T>(data: &[u8]) -> Option<T>
where
    T: FromStr<Err = IdError> + Display + Debug + PartialEq,
{
    let s = std::str::from_utf8(data).ok()?;
    match s.parse::<T>() {
        Ok(x) => {
            let again: T = x.to_string().parse().expect("canonical form parses");
            assert_eq!(again, x, "parse(display(x)) == x for {s:?}");
            Some(x)
        }
        Err(e) => {
            if let Some(p) = e.position() {
                assert!(p <= s.len() && s.is_char_boundary(p), "error position {p} inside {s:?}");
            }
            None
        }
    }
}
