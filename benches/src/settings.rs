//! The run's settings from the environment: quick mode, the data-set sizes, and
//! the criterion configuration that follows from them.

use std::time::Duration;

use criterion::Criterion;

/// `OCILEDGER_BENCH_QUICK=1`: 10k only, short criterion runs (CI).
#[must_use]
pub fn quick() -> bool {
    std::env::var("OCILEDGER_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Sizes to run: `OCILEDGER_BENCH_SIZES=10k,1M` overrides; quick mode is 10k.
#[must_use]
pub fn sizes() -> Vec<u64> {
    if let Ok(list) = std::env::var("OCILEDGER_BENCH_SIZES") {
        return list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(parse_size)
            .collect();
    }
    if quick() {
        vec![10_000]
    } else {
        vec![10_000, 1_000_000, 10_000_000]
    }
}

fn parse_size(s: &str) -> u64 {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1_000),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .expect("OCILEDGER_BENCH_SIZES: numbers like 10k,1M,10000000")
        * mul
}

/// "10k", "1M", "10M": for names and tables.
#[must_use]
pub fn size_label(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// The criterion configuration: short in quick mode. Command-line flags
/// (`--quick`, `--measurement-time`, filters) still apply on top.
#[must_use]
pub fn criterion() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(600))
            .sample_size(10)
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_size, size_label};

    #[test]
    fn sizes_read_and_print_alike() {
        for (text, n) in [
            ("10k", 10_000),
            ("1M", 1_000_000),
            ("10M", 10_000_000),
            ("1500", 1500),
        ] {
            assert_eq!(parse_size(text), n);
            assert_eq!(size_label(n), text);
        }
    }
}
