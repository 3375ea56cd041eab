//! Time as the components that decide by it see it. Production code reads the system clock;
//! tests drive a [`ManualClock`] so expiry, freshness and leases are tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// A source of time: monotonic for ages and intervals, wall-clock for what is stored or compared
/// with stored times (expiry, leases, creation dates).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, for measuring intervals.
    fn now(&self) -> Instant;
    /// Now, as a date.
    fn wall(&self) -> OffsetDateTime;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The system clock, shared.
#[must_use]
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    start_wall: OffsetDateTime,
    /// Nanoseconds the monotonic time has moved.
    mono: AtomicU64,
    /// Nanoseconds the date has moved; negative once rewound past the start.
    wall: AtomicI64,
}

impl ManualClock {
    /// A clock standing at the moment it was made, its date rounded down to a whole second
    /// (the database stores dates in seconds, so tests can compare them exactly).
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            start_wall: OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            mono: AtomicU64::new(0),
            wall: AtomicI64::new(0),
        })
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.mono
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::SeqCst);
        self.wall
            .fetch_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Moves the date back by `d`, as a node whose clock is behind another's sees it. Monotonic
    /// time stays where it is: an [`Instant`] never goes back.
    pub fn rewind(&self, d: Duration) {
        self.wall
            .fetch_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_nanos(self.mono.load(Ordering::SeqCst))
    }

    fn wall(&self) -> OffsetDateTime {
        self.start_wall + time::Duration::nanoseconds(self.wall.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let c = ManualClock::new();
        let t0 = c.now();
        assert_eq!(c.now(), t0);
        c.advance(Duration::from_secs(90));
        assert_eq!(c.now() - t0, Duration::from_secs(90));
        let w0 = c.wall();
        c.advance(Duration::from_secs(5));
        assert_eq!(c.wall() - w0, time::Duration::seconds(5), "the date moves with it");
        let t1 = c.now();
        c.rewind(Duration::from_secs(8));
        assert_eq!(c.wall() - w0, time::Duration::seconds(-3), "a date can go back");
        assert_eq!(c.now(), t1, "monotonic time cannot");
    }
}
