//! The clock that decides when cache entries of the memory backend expire.
//!
//! TTL expiry reads "now" from a [`Clock`] so that tests can control time: [`ManualClock`] only
//! moves when told to ([`ManualClock::advance`]). The default, [`SystemClock`], reads tokio's
//! clock, so a test with paused tokio time (`tokio::time::pause`) also controls expiry.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A source of monotonic time for TTL expiry.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant. MUST never go backwards.
    fn now(&self) -> Instant;
}

/// The default clock: tokio's monotonic clock (the real clock unless tokio time is paused).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        // tokio's clock equals `Instant::now()` outside a runtime and honours `time::pause()`.
        tokio::time::Instant::now().into_std()
    }
}

/// How far a [`ManualClock`] can be advanced: a century, so `origin + offset` always exists.
const MAX_OFFSET_NANOS: u64 = 100 * 366 * 24 * 3600 * 1_000_000_000;

/// A clock that stands still until [`ManualClock::advance`] moves it.
///
/// Clones share the same time, so a test keeps one clone and hands another to the backend:
///
/// ```
/// use std::time::Duration;
/// use dal::memory::{ManualClock, Memory};
///
/// let clock = ManualClock::new();
/// let memory = Memory::with_clock(clock.clone());
/// clock.advance(Duration::from_secs(5)); // every entry with a TTL <= 5 s is now expired
/// # let _ = memory;
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    origin: Instant,
    /// Nanoseconds advanced since `origin`, at most [`MAX_OFFSET_NANOS`].
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> Self {
        ManualClock {
            inner: Arc::new(ManualInner {
                origin: Instant::now(),
                offset_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// Moves the clock forward by `by` (it stops a century after its creation).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .inner
            .offset_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(cur.saturating_add(nanos).min(MAX_OFFSET_NANOS))
            });
    }

    /// How far the clock has been advanced since it was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.inner.offset_nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let origin = self.inner.origin;
        // The offset is capped at a century, which every platform's `Instant` can represent.
        origin.checked_add(self.elapsed()).unwrap_or(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_time() {
        let clock = ManualClock::new();
        let other = clock.clone();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - t0, Duration::from_millis(1500));
        assert_eq!(clock.elapsed(), Duration::from_millis(1500));
    }

    #[test]
    fn manual_clock_saturates_instead_of_overflowing() {
        let clock = ManualClock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.elapsed(), Duration::from_nanos(MAX_OFFSET_NANOS));
        assert!(clock.now() > Instant::now());
    }
}
