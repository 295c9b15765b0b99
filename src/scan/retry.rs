//! Retries: exponential backoff with jitter, and the `Retry-After` header.

use std::time::{Duration, SystemTime};

/// Exponential backoff: `base`, `2 × base`, `4 × base`, … up to `cap`, each
/// with up to a quarter added at random so that many scanners that failed
/// together do not come back together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (0 for the first retry).
    pub fn delay(self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        let plain = self.base.saturating_mul(factor).min(self.cap);
        let jitter = plain / 4;
        let nanos = u64::try_from(jitter.as_nanos()).unwrap_or(u64::MAX);
        plain + Duration::from_nanos(if nanos == 0 { 0 } else { noise() % nanos })
    }
}

/// A cheap, non-cryptographic random number: jitter needs no more.
fn noise() -> u64 {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // splitmix64 of the clock's nanoseconds.
    let mut z = u64::from(t).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A `Retry-After` value: delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, a wait until then; a date in the past
/// is no wait). `None` when it is neither.
pub(crate) fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::{Backoff, retry_after};
    use std::time::Duration;

    /// Guards against a backoff that does not grow, grows past its cap, or
    /// overflows after many retries.
    #[test]
    fn backoff_doubles_up_to_its_cap_with_at_most_a_quarter_of_jitter() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        for (retry, plain) in [(0, 100), (1, 200), (2, 400), (5, 2000), (40, 2000)] {
            let d = b.delay(retry);
            let plain = Duration::from_millis(plain);
            assert!(d >= plain && d <= plain + plain / 4, "retry {retry}: {d:?}");
        }
    }

    /// Guards against ignoring a registry's `Retry-After` in either of its
    /// two forms, or waiting for a date that has passed.
    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = "2015-10-21T07:28:00Z".parse().unwrap();
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
