//! Time: the timestamp type and an injectable clock, so tests are deterministic.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A UTC instant. Stored with microsecond precision; finer digits are dropped.
pub type Timestamp = DateTime<Utc>;

/// Where write times (`created_on`, `last_modified_on`, API tag moves) come from.
///
/// ```
/// use ociledger::model::{Clock, FixedClock};
///
/// let clock = FixedClock::at("2024-01-01T00:00:00Z".parse()?);
/// assert_eq!(clock.now().to_rfc3339(), "2024-01-01T00:00:00+00:00");
/// clock.advance(chrono::Duration::seconds(5));
/// assert_eq!(clock.now().to_rfc3339(), "2024-01-01T00:00:05+00:00");
/// # Ok::<(), chrono::ParseError>(())
/// ```
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that stands still until told to move: for tests and replays.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    /// A clock showing `t`.
    #[must_use]
    pub fn at(t: Timestamp) -> Self {
        Self(Mutex::new(t))
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }

    /// Moves the time forward (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
