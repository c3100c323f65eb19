//! Per-bus ingest rate limits (token buckets).
//!
//! A bus may set `rate_limit: {"events_per_s": R, "burst": B}`. Each request
//! takes one token per event; when the bucket has too few, the whole
//! request is refused with 429 and a `Retry-After` saying when enough
//! tokens will be there, so nothing from a refused request is stored and a
//! producer that honours `Retry-After` loses nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::ratelimit::TokenBucket;
use crate::store::{BusId, RateLimit};

/// Every bus's bucket, with the limit it was made for.
#[derive(Default)]
pub struct Quotas {
    buckets: Mutex<HashMap<BusId, (RateLimit, std::sync::Arc<TokenBucket>)>>,
}

impl Quotas {
    /// Takes `n` tokens from the bus's bucket; on refusal returns how long
    /// until they would be available.
    pub fn take(&self, bus: BusId, limit: Option<&RateLimit>, n: u64) -> Result<(), Duration> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let bucket = {
            let mut buckets = self.buckets.lock().expect("quota lock");
            match buckets.get(&bus) {
                // A changed limit starts a fresh (full) bucket.
                Some((l, b)) if l == limit => b.clone(),
                _ => {
                    let rate = limit
                        .events_per_s
                        .clamp(TokenBucket::MIN_RATE, TokenBucket::MAX_RATE);
                    let burst = limit
                        .burst
                        .map_or(rate.max(1.0), |b| b as f64)
                        .clamp(1.0, f64::from(u32::MAX)) as u32;
                    let b = std::sync::Arc::new(
                        TokenBucket::new(rate, burst).expect("rate and burst are clamped"),
                    );
                    buckets.insert(bus, (*limit, b.clone()));
                    b
                }
            }
        };
        bucket.try_take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buckets_refill_and_refuse() {
        let q = Quotas::default();
        let limit = RateLimit {
            events_per_s: 10.0,
            burst: Some(20),
        };
        assert!(q.take(1, None, 1_000_000).is_ok(), "no limit");
        assert!(q.take(1, Some(&limit), 15).is_ok());
        let wait = q.take(1, Some(&limit), 10).unwrap_err();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(
            q.take(2, Some(&limit), 20).is_ok(),
            "buses have their own buckets"
        );
        assert!(
            q.take(1, Some(&limit), 21).is_err(),
            "more than the burst never fits"
        );
    }
}
