//! Per-bus ingest rate limits (token buckets).
//!
//! A bus may set `rate_limit: {"events_per_s": R, "burst": B}`. Each request
//! takes one token per event; when the bucket has too few, the whole
//! request is refused with 429 and a `Retry-After` saying when enough
//! tokens will be there, so nothing from a refused request is stored and a
//! producer that honours `Retry-After` loses nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::{BusId, RateLimit};

struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

/// Every bus's bucket.
#[derive(Default)]
pub struct Quotas {
    buckets: Mutex<HashMap<BusId, Bucket>>,
}

impl Quotas {
    /// Takes `n` tokens from the bus's bucket; on refusal returns how long
    /// until they would be available.
    pub fn take(&self, bus: BusId, limit: Option<&RateLimit>, n: u64) -> Result<(), Duration> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let rate = limit.events_per_s.max(0.001);
        let burst = limit.burst.map_or(rate.max(1.0), |b| b as f64).max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("quota lock");
        let b = buckets.entry(bus).or_insert(Bucket {
            tokens: burst,
            last: now,
            rate,
            burst,
        });
        // The limit may have been changed since the bucket was made.
        b.rate = rate;
        b.burst = burst;
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        let need = n as f64;
        if need > burst {
            // Can never fit: say how long a full bucket takes and let the
            // client split the batch.
            return Err(Duration::from_secs_f64(need / rate));
        }
        if b.tokens >= need {
            b.tokens -= need;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((need - b.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_and_refuse() {
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
