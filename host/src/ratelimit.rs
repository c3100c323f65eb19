//! A token bucket: paces attempts to a target, and limits what a bus
//! accepts.
//!
//! The bucket holds at most `burst` tokens and gains `rate_per_s` tokens per
//! second. Each attempt takes one token: [`TokenBucket::try_acquire`] takes
//! one if there is one, [`TokenBucket::acquire`] waits for its turn. So in
//! any window of `t` seconds at most `burst + rate_per_s × t` attempts start,
//! and a steady stream runs at `rate_per_s`. Like EventBridge API
//! destinations' `InvocationRateLimitPerSecond`, excess traffic is delayed,
//! not dropped.
//!
//! ```
//! use signalbox::ratelimit::TokenBucket;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bucket = TokenBucket::new(100.0, 1).unwrap(); // 100/s, no bursts
//! bucket.acquire().await; // immediately: the bucket starts full
//! assert!(!bucket.try_acquire()); // the next token is 10 ms away
//! # }
//! ```
//!
//! # How waiting works
//!
//! `acquire` *reserves* a token up front: it takes it even when the balance
//! goes negative and then sleeps until the balance it left behind would
//! have refilled to zero. Reservations are therefore served in the order
//! they were made, nobody spins on a lock, and many waiters cost one
//! subtraction each. If a waiting `acquire` is cancelled (its future
//! dropped) it gives its token back. Time is tokio's, so tests can run with
//! paused time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Rejected bucket parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateLimitError {
    /// The rate is not a positive finite number in range.
    #[error(
        "the rate must be a number of requests per second between {min} and {max}, got {0}",
        min = TokenBucket::MIN_RATE,
        max = TokenBucket::MAX_RATE
    )]
    InvalidRate(f64),
    /// The burst is zero.
    #[error("the burst must be at least 1")]
    InvalidBurst,
}

/// A token bucket; share it between tasks by reference or `Arc`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Available tokens; negative while reservations are outstanding.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl TokenBucket {
    /// The smallest accepted rate: one request every 1000 s.
    pub const MIN_RATE: f64 = 0.001;
    /// The largest accepted rate.
    pub const MAX_RATE: f64 = 1_000_000.0;

    /// A full bucket refilling at `rate_per_s` tokens per second and holding
    /// at most `burst` tokens.
    pub fn new(rate_per_s: f64, burst: u32) -> Result<Self, RateLimitError> {
        if !(rate_per_s.is_finite() && (Self::MIN_RATE..=Self::MAX_RATE).contains(&rate_per_s)) {
            return Err(RateLimitError::InvalidRate(rate_per_s));
        }
        if burst == 0 {
            return Err(RateLimitError::InvalidBurst);
        }
        Ok(TokenBucket {
            rate: rate_per_s,
            burst: f64::from(burst),
            state: Mutex::new(State {
                tokens: f64::from(burst),
                updated: Instant::now(),
            }),
        })
    }

    /// Tokens per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The bucket's capacity.
    pub fn burst(&self) -> u32 {
        self.burst as u32
    }

    /// Takes a token if one is available now.
    pub fn try_acquire(&self) -> bool {
        let mut s = self.lock();
        self.refill(&mut s, Instant::now());
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token, waiting until one is due. Waiters are served in the
    /// order they called. Cancel-safe: a dropped, still-waiting call returns
    /// its token.
    pub async fn acquire(&self) {
        let wait = {
            let mut s = self.lock();
            self.refill(&mut s, Instant::now());
            s.tokens -= 1.0;
            if s.tokens >= 0.0 {
                return;
            }
            Duration::try_from_secs_f64(-s.tokens / self.rate).unwrap_or(Duration::MAX)
        };
        let mut refund = Refund {
            bucket: self,
            armed: true,
        };
        tokio::time::sleep(wait).await;
        refund.armed = false;
    }

    /// Takes `n` tokens if they are there now, else takes none and says how
    /// long until they would be. More than the bucket holds never fits: the
    /// answer is then how long a full bucket takes, so the caller can split
    /// its request.
    pub fn try_take(&self, n: u64) -> Result<(), Duration> {
        let need = n as f64;
        if need > self.burst {
            return Err(Duration::try_from_secs_f64(need / self.rate).unwrap_or(Duration::MAX));
        }
        let mut s = self.lock();
        self.refill(&mut s, Instant::now());
        if s.tokens >= need {
            s.tokens -= need;
            Ok(())
        } else {
            Err(Duration::try_from_secs_f64((need - s.tokens) / self.rate).unwrap_or(Duration::MAX))
        }
    }

    /// The tokens available now (negative while waiters hold reservations).
    pub fn available(&self) -> f64 {
        let mut s = self.lock();
        self.refill(&mut s, Instant::now());
        s.tokens
    }

    fn refill(&self, s: &mut State, now: Instant) {
        let elapsed = now.saturating_duration_since(s.updated).as_secs_f64();
        s.tokens = (s.tokens + elapsed * self.rate).min(self.burst);
        s.updated = now;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // No code panics while holding the lock, but a poisoned bucket is
        // still a valid bucket.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Gives a reserved token back if `acquire` is cancelled while waiting.
struct Refund<'a> {
    bucket: &'a TokenBucket,
    armed: bool,
}

impl Drop for Refund<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut s = self.bucket.lock();
            self.bucket.refill(&mut s, Instant::now());
            s.tokens = (s.tokens + 1.0).min(self.bucket.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn rejects_bad_parameters() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.0001, 2e6] {
            let e = TokenBucket::new(rate, 1).unwrap_err();
            assert!(e.to_string().contains("rate"), "{rate}: {e}");
        }
        assert_eq!(
            TokenBucket::new(1.0, 0).unwrap_err(),
            RateLimitError::InvalidBurst
        );
        let b = TokenBucket::new(2.5, 3).unwrap();
        assert_eq!((b.rate(), b.burst()), (2.5, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn starts_full_and_refills_at_the_rate() {
        let b = TokenBucket::new(10.0, 3).unwrap();
        assert!(b.try_acquire());
        assert!(b.try_acquire());
        assert!(b.try_acquire());
        assert!(!b.try_acquire(), "burst exhausted");
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(!b.try_acquire());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.try_acquire(), "one token per 100 ms");
        assert!(!b.try_acquire());
        // Idle time never fills the bucket beyond the burst.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!((b.available() - 3.0).abs() < 1e-9);
        for _ in 0..3 {
            assert!(b.try_acquire());
        }
        assert!(!b.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_its_turn() {
        let b = TokenBucket::new(4.0, 1).unwrap();
        let t0 = Instant::now();
        b.acquire().await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
        b.acquire().await;
        assert_eq!(t0.elapsed(), Duration::from_millis(250));
        b.acquire().await;
        assert_eq!(t0.elapsed(), Duration::from_millis(500));
    }

    /// Many tasks at once: grants are spaced exactly 1/rate apart after the
    /// burst, so no window holds more than `burst + rate × t` grants.
    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_paced() {
        let b = Arc::new(TokenBucket::new(10.0, 2).unwrap());
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                b.acquire().await;
                t0.elapsed()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        let ms: Vec<u128> = times.iter().map(|d| d.as_millis()).collect();
        assert_eq!(
            ms,
            [0, 0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
        );
        for (i, t) in times.iter().enumerate() {
            for (j, u) in times.iter().enumerate().skip(i) {
                let window = (*u - *t).as_secs_f64();
                assert!(
                    (j - i + 1) as f64 <= 2.0 + 10.0 * window + 1e-9,
                    "{} grants in {window}s",
                    j - i + 1
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn try_acquire_does_not_jump_the_queue() {
        let b = Arc::new(TokenBucket::new(1.0, 1).unwrap());
        assert!(b.try_acquire());
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.acquire().await })
        };
        tokio::task::yield_now().await;
        // The waiter holds a reservation for the next token.
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!b.try_acquire());
        waiter.await.unwrap();
        assert!(!b.try_acquire(), "the waiter took the refilled token");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_acquire_returns_its_token() {
        let b = TokenBucket::new(1.0, 1).unwrap();
        b.acquire().await;
        assert!(b.available() < 1.0);
        // Start waiting, then give up after 100 ms.
        let r = tokio::time::timeout(Duration::from_millis(100), b.acquire()).await;
        assert!(r.is_err(), "timed out while waiting");
        // Without the refund the balance would be -0.9.
        assert!((b.available() - 0.1).abs() < 1e-9, "{}", b.available());
        tokio::time::advance(Duration::from_millis(900)).await;
        assert!(b.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn slow_rates_do_not_overflow() {
        let b = TokenBucket::new(TokenBucket::MIN_RATE, 1).unwrap();
        let t0 = Instant::now();
        b.acquire().await;
        let r = tokio::time::timeout(Duration::from_secs(999), b.acquire()).await;
        assert!(r.is_err());
        // The refund leaves 0.999 tokens: one more second to the next one.
        b.acquire().await;
        assert_eq!(t0.elapsed().as_secs(), 1000);
    }
}
