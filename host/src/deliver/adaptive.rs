//! Adaptive request concurrency: how many sends a target keeps in flight
//! when its rule does not fix a number.
//!
//! The receiver's own answers set the limit, as a TCP congestion window is
//! set by the network (the scheme is Vector's "adaptive request
//! concurrency"): the limit starts at 1; once per round trip the worker
//! compares the mean round-trip time of that window with a moving average
//! of earlier windows. While answers stay as fast as before and sends were
//! waiting for a slot, the limit grows by one (additive increase). When the
//! receiver pushes back — a 429 or 503, a timeout, a refused connection,
//! any answer the retry policy retries — or round trips grow beyond the
//! average by more than [`DEVIATION_SCALE`] standard deviations, the limit
//! shrinks to 90 % (multiplicative decrease; on push-back at once, not at
//! the window's end, because refusals come back fast and would otherwise
//! fill the freed slot with another refused request). A fast receiver thus gets as
//! many parallel requests as it can answer without slowing down, and a slow
//! or failing one is not flooded.
//!
//! The controller belongs to one target worker (which runs on one task),
//! so it needs no locks: the worker asks [`Limit::current`] before starting
//! a send, tells [`Limit::started`], and reports each finished send to
//! [`Limit::finished`].

use std::time::{Duration, Instant};

use super::retry::RetryAction;

/// The multiplicative decrease on back pressure.
pub const DECREASE_RATIO: f64 = 0.9;
/// Weight of the newest window in the moving average of round trips.
pub const EWMA_ALPHA: f64 = 0.4;
/// How many standard deviations above the average a window's round trip
/// may be before it counts as the receiver slowing down.
pub const DEVIATION_SCALE: f64 = 2.5;
/// Round trips closer than this (seconds) count as equal: averages of equal
/// values differ in their last bits.
const EPSILON: f64 = 1e-9;

/// A target's concurrency limit: fixed, or adapting to the receiver.
#[derive(Debug, Clone)]
pub struct Limit {
    current: usize,
    /// `None` when fixed.
    adaptive: Option<Adaptive>,
}

#[derive(Debug, Clone)]
struct Adaptive {
    max: usize,
    /// Moving average and variance of past windows' mean round trip (s).
    past: Option<(f64, f64)>,
    /// The current window: sum and count of round trips of delivered
    /// sends, and what happened in it.
    sum: f64,
    count: u32,
    reached_limit: bool,
    /// When the limit last shrank for back pressure.
    last_decrease: Option<Instant>,
    /// When the current window ends.
    window_end: Instant,
}

impl Limit {
    /// A fixed limit of `n` (at least 1).
    pub fn fixed(n: usize) -> Limit {
        Limit {
            current: n.max(1),
            adaptive: None,
        }
    }

    /// A limit that adapts between 1 and `max`, starting at 1.
    pub fn adaptive(max: usize) -> Limit {
        Limit {
            current: 1,
            adaptive: Some(Adaptive {
                max: max.max(1),
                past: None,
                sum: 0.0,
                count: 0,
                reached_limit: false,
                last_decrease: None,
                window_end: Instant::now(),
            }),
        }
    }

    /// How many sends may be in flight now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Whether the limit adapts.
    pub fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// A send started; `in_flight` counts it.
    pub fn started(&mut self, in_flight: usize) {
        if let Some(a) = &mut self.adaptive
            && in_flight >= self.current
        {
            // Sends wanted more slots than there were: evidence that a
            // higher limit would be used.
            a.reached_limit = true;
        }
    }

    /// A send finished after `rtt` with `action`.
    pub fn finished(&mut self, rtt: Duration, action: &RetryAction) {
        self.finished_at(Instant::now(), rtt, action);
    }

    fn finished_at(&mut self, now: Instant, rtt: Duration, action: &RetryAction) {
        let Some(a) = &mut self.adaptive else {
            return;
        };
        match action {
            // Only a request the receiver processed measures its latency.
            RetryAction::Delivered => {
                a.sum += rtt.as_secs_f64();
                a.count += 1;
            }
            RetryAction::Retry { .. } => {
                // Pushed back: shrink now rather than at the window's end,
                // or the slot this answer frees (429s come back fast) would
                // at once carry another request into the same refusal. Once
                // per decrease: answers to requests sent before it say
                // nothing about the new limit.
                let sent = now.checked_sub(rtt).unwrap_or(now);
                if a.last_decrease.is_none_or(|t| sent >= t) {
                    self.current = shrunk(self.current);
                    a.last_decrease = Some(now);
                    let mean = a.past.map_or(0.0, |(m, _)| m);
                    a.start_window(now, mean);
                }
                return;
            }
            // The receiver refused this event for good: says nothing about
            // its load.
            RetryAction::DeadLetter => return,
        }
        let mean = (a.count > 0).then(|| a.sum / f64::from(a.count));
        let Some((past_mean, past_var)) = a.past else {
            if let Some(m) = mean {
                a.past = Some((m, 0.0));
                a.start_window(now, m);
            }
            return;
        };
        if now < a.window_end {
            return;
        }
        let threshold = past_mean + past_var.sqrt() * DEVIATION_SCALE;
        let faster = mean.is_some_and(|m| m <= past_mean + EPSILON);
        let slower = mean.is_some_and(|m| m > threshold + EPSILON);
        if self.current < a.max && a.reached_limit && faster {
            self.current += 1;
        } else if self.current > 1 && slower {
            self.current = shrunk(self.current);
        }
        let next = match mean {
            Some(m) => {
                let diff = m - past_mean;
                let incr = EWMA_ALPHA * diff;
                let mean = past_mean + incr;
                let var = (1.0 - EWMA_ALPHA) * (past_var + diff * incr);
                a.past = Some((mean, var));
                mean
            }
            None => past_mean,
        };
        a.start_window(now, next);
    }
}

/// The limit after a multiplicative decrease: the floor makes it smaller,
/// and it never goes below 1.
fn shrunk(limit: usize) -> usize {
    ((limit as f64 * DECREASE_RATIO) as usize).max(1)
}

impl Adaptive {
    fn start_window(&mut self, now: Instant, seconds: f64) {
        self.window_end = now + Duration::from_secs_f64(seconds.clamp(0.0, 60.0));
        self.sum = 0.0;
        self.count = 0;
        self.reached_limit = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: RetryAction = RetryAction::Delivered;
    const PUSHED_BACK: RetryAction = RetryAction::Retry { after: None };

    /// Drives `limit` with `rounds` windows of sends that each take `rtt`,
    /// keeping every slot busy; returns the limit after each window.
    fn drive(
        limit: &mut Limit,
        start: Instant,
        rounds: u32,
        rtt: impl Fn(u32, usize) -> (Duration, RetryAction),
    ) -> Vec<usize> {
        let mut now = start;
        let mut seen = Vec::new();
        for r in 0..rounds {
            let n = limit.current();
            for i in 1..=n {
                limit.started(i);
            }
            let (d, action) = rtt(r, n);
            now += d;
            for _ in 0..n {
                limit.finished_at(now, d, &action);
            }
            seen.push(limit.current());
        }
        seen
    }

    #[test]
    fn a_fixed_limit_never_moves() {
        let mut l = Limit::fixed(8);
        let seen = drive(&mut l, Instant::now(), 50, |_, _| {
            (Duration::from_millis(1), PUSHED_BACK)
        });
        assert!(seen.iter().all(|&n| n == 8), "{seen:?}");
        assert!(!l.is_adaptive());
        assert_eq!(Limit::fixed(0).current(), 1);
    }

    #[test]
    fn a_receiver_that_keeps_up_gets_more_requests_up_to_the_maximum() {
        let mut l = Limit::adaptive(32);
        assert_eq!(l.current(), 1);
        // Constant latency however many requests are in flight.
        let seen = drive(&mut l, Instant::now(), 200, |_, _| {
            (Duration::from_micros(300), OK)
        });
        assert!(
            seen.windows(2).all(|w| w[1] >= w[0]),
            "never shrinks: {seen:?}"
        );
        assert_eq!(l.current(), 32, "{seen:?}");
    }

    #[test]
    fn back_pressure_halves_the_limit_within_a_few_windows_and_never_below_one() {
        let mut l = Limit::adaptive(64);
        drive(&mut l, Instant::now(), 100, |_, _| {
            (Duration::from_micros(300), OK)
        });
        let high = l.current();
        assert!(high >= 32, "{high}");
        let seen = drive(
            &mut l,
            Instant::now() + Duration::from_secs(1),
            60,
            |_, _| (Duration::from_micros(300), PUSHED_BACK),
        );
        assert!(seen[6] <= high / 2 + 1, "{high} → {seen:?}");
        assert_eq!(l.current(), 1, "{seen:?}");
    }

    #[test]
    fn a_receiver_that_slows_down_under_load_settles_near_its_capacity() {
        // A receiver with 8 workers: up to 8 requests take 1 ms; beyond that
        // they queue, and the round trip grows with the queue.
        let mut l = Limit::adaptive(200);
        let seen = drive(&mut l, Instant::now(), 400, |_, n| {
            let queued = n.saturating_sub(8) as u64;
            (Duration::from_micros(1000 + 1000 * queued / 8), OK)
        });
        let tail = &seen[300..];
        let max = *tail.iter().max().unwrap();
        assert!(max <= 16, "flooded the receiver: {tail:?}");
        assert!(
            tail.iter().all(|&n| n >= 4),
            "starved a receiver with 8 workers: {tail:?}"
        );
    }

    #[test]
    fn refused_events_say_nothing_about_load() {
        let mut l = Limit::adaptive(16);
        drive(&mut l, Instant::now(), 40, |_, _| {
            (Duration::from_micros(300), OK)
        });
        let before = l.current();
        drive(
            &mut l,
            Instant::now() + Duration::from_secs(1),
            20,
            |_, _| (Duration::from_micros(300), RetryAction::DeadLetter),
        );
        assert_eq!(l.current(), before);
    }
}
