//! Retrying transient failures: exponential backoff with full jitter, bounded in attempts and time.
//!
//! Only errors for which [`Error::is_transient`] is true are retried; anything else is returned at
//! once. Retrying is only safe for idempotent operations (upserts, reads, deduplicated appends):
//! every dal write is idempotent by construction except plain appends to a non-dedup time series.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// When and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
    /// No new attempt starts after this much time since the first.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 50 ms doubling to 2 s, at most 10 s in all.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub const fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            max_elapsed: Duration::ZERO,
        }
    }

    /// The backoff before attempt `attempt + 1` (attempt counts from 1), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// Runs `op` until it succeeds, fails permanently, or the policy is exhausted; returns the
    /// last error then.
    ///
    /// # Errors
    /// The first permanent error, or the last transient one.
    pub async fn run<R, F, Fut>(&self, mut op: F) -> Result<R>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if !self.should_retry(&e, attempt, started) => return Err(e),
                Err(e) => {
                    let delay = jitter(self.backoff(attempt));
                    tracing::debug!(attempt, ?delay, error = %e, "retrying transient error");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    fn should_retry(&self, e: &Error, attempt: u32, started: Instant) -> bool {
        e.is_transient() && attempt < self.max_attempts && started.elapsed() < self.max_elapsed
    }
}

/// Full jitter: a uniformly random delay in `[d/2, d]` (half-jitter keeps a floor so retries do
/// not hammer a recovering server).
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A cheap random source without a dependency: RandomState is seeded per process and per call.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(d.as_nanos() as u64);
    let r = h.finish() as f64 / u64::MAX as f64;
    d.mul_f64(0.5 + 0.5 * r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(1),
        };
        assert_eq!(p.backoff(1), Duration::from_millis(10));
        assert_eq!(p.backoff(2), Duration::from_millis(20));
        assert_eq!(p.backoff(3), Duration::from_millis(40));
        assert_eq!(p.backoff(4), Duration::from_millis(50));
        assert_eq!(p.backoff(40), Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_then_succeeds_and_stops_on_permanent() {
        let p = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let out = p
            .run(|| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(Error::unavailable("test", "down"))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(out.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let out: Result<()> = p
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::invalid("E", "bad"))
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let out: Result<()> = p
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::unavailable("test", "down"))
            })
            .await;
        assert!(out.unwrap_err().is_transient());
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }
}
