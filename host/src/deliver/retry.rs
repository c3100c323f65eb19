//! Retry policy: how long and how often a target is retried, and which HTTP
//! outcomes are worth retrying at all.
//!
//! A [`RetryPolicy`] has two limits and a backoff curve:
//!
//! * `max_attempts` — every delivery attempt counts, the first one included
//!   (`1` means "never retry");
//! * `max_age` — how long after the event was first queued for this target it
//!   may still be delivered;
//! * the backoff — `initial × multiplier^(n−1)`, capped at `max`, optionally
//!   with jitter (see [`RetryPolicy::next_delay`]).
//!
//! Whichever limit is reached first ends the retries, as in AWS EventBridge
//! and Azure Event Grid.
//!
//! # Configuration
//!
//! The JSON shape is the rule contract's (`/v1/buses/{bus}/rules/{rule}`,
//! `targets[].retry`); every member is optional:
//!
//! ```json
//! {"max_attempts": 186, "max_age": "24h",
//!  "backoff": {"initial": "1s", "max": "5m", "multiplier": 2, "jitter": true}}
//! ```
//!
//! Durations are strings such as `250ms`, `5s`, `24h` (`humantime` syntax).
//! `"preset"` picks a vendor-like starting point; members given next to it
//! override the preset's values:
//!
//! | preset | attempts | max age | backoff | modelled on |
//! |---|---|---|---|---|
//! | `exponential` (the default) | 186 | 24 h | 1 s × 2, cap 5 min, jitter | AWS EventBridge's default policy |
//! | `exponential_decay` | 177 | 24 h | 1 s × 2, cap 512 s, no jitter | Alibaba `EXPONENTIAL_DECAY_RETRY` |
//! | `backoff` | 4 | 24 h | uniformly random 10–20 s | Alibaba `BACKOFF_RETRY` |
//! | `none` | 1 | 24 h | — | no retries |
//!
//! See [`Preset`] for the sources of these figures.
//!
//! ```
//! use std::time::Duration;
//! use signalbox::deliver::retry::RetryPolicy;
//!
//! let p: RetryPolicy =
//!     serde_json::from_str(r#"{"preset": "backoff", "max_attempts": 6}"#).unwrap();
//! assert_eq!(p.max_attempts, 6);
//! assert_eq!(p.max, Duration::from_secs(20));
//! assert!(serde_json::from_str::<RetryPolicy>(r#"{"max_attempts": 0}"#).is_err());
//! ```
//!
//! # Classifying HTTP outcomes
//!
//! [`classify_status`] and [`classify_failure`] turn what happened on the
//! wire into a [`RetryAction`]: 2xx is delivered; 408, 429 and 5xx, timeouts
//! and connection errors are retried (honouring `Retry-After` on 429 and 503);
//! every other status — other 4xx, and 3xx because redirects are not
//! followed — goes to the dead-letter queue without further attempts.
//! [`RetryPolicy::decide`] then turns a retry into a concrete delay or a
//! [`GiveUpReason`].

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// How a target is retried. Build it from JSON (serde), from a [`Preset`], or
/// by hand and then [`validate`](RetryPolicy::validate) it.
///
/// The methods never panic, even on a policy that fails validation; they
/// clamp nonsensical values instead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RetryConfig", into = "RetryConfig")]
pub struct RetryPolicy {
    /// Total delivery attempts, the first one included. 1..=10 000.
    pub max_attempts: u32,
    /// How long after the event was first queued for the target it may still
    /// be attempted. 1 s..=30 days.
    pub max_age: Duration,
    /// The delay before the first retry (before jitter). 1 ms..=`max`.
    pub initial: Duration,
    /// The largest delay between two attempts. `initial`..=24 h.
    pub max: Duration,
    /// Growth factor of the delay per attempt; 1 means a constant delay.
    /// 1.0..=100.0.
    pub multiplier: f64,
    /// Whether delays are randomised ("equal jitter", see
    /// [`next_delay`](RetryPolicy::next_delay)).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// The `exponential` preset.
    fn default() -> Self {
        Preset::Exponential.policy()
    }
}

/// Named starting points for a [`RetryPolicy`], modelled on what the managed
/// event buses ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// AWS EventBridge's default: "retries sending the event for 24 hours and
    /// up to 185 times with an exponential back off and jitter"
    /// (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html>).
    /// 185 retries are 186 attempts here. AWS does not publish its curve;
    /// ours is the contract's example: 1 s doubling to a 5-minute cap, with
    /// jitter. With that cap the attempts, not the age, usually run out
    /// first (after roughly 12 h).
    Exponential,
    /// Alibaba Cloud EventBridge `EXPONENTIAL_DECAY_RETRY`: "176 retries over
    /// 1 day: 1, 2, 4 … 256, 512 s, then 512 s" — 177 attempts, 1 s doubling
    /// to 512 s, no jitter, 24 h
    /// (<https://alibabacloud.com/help/en/eventbridge/user-guide/retry-and-dead-letter>).
    /// The delays are exactly 1, 2, …, 256 and then 512 s × 167, about 23.9 h
    /// in total.
    ExponentialDecay,
    /// Alibaba Cloud EventBridge `BACKOFF_RETRY` (its default): "3 retries,
    /// random 10–20 s apart" (same source) — 4 attempts; a constant 20 s
    /// delay with equal jitter is uniform in [10 s, 20 s].
    Backoff,
    /// A single attempt: failures go straight to the dead-letter queue.
    None,
}

impl Preset {
    /// Every preset, for listings and tests.
    pub const ALL: [Preset; 4] = [
        Preset::Exponential,
        Preset::ExponentialDecay,
        Preset::Backoff,
        Preset::None,
    ];

    /// The preset's name as written in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Exponential => "exponential",
            Preset::ExponentialDecay => "exponential_decay",
            Preset::Backoff => "backoff",
            Preset::None => "none",
        }
    }

    /// The policy this preset stands for.
    pub const fn policy(self) -> RetryPolicy {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        match self {
            Preset::Exponential => RetryPolicy {
                max_attempts: 186,
                max_age: DAY,
                initial: Duration::from_secs(1),
                max: Duration::from_secs(300),
                multiplier: 2.0,
                jitter: true,
            },
            Preset::ExponentialDecay => RetryPolicy {
                max_attempts: 177,
                max_age: DAY,
                initial: Duration::from_secs(1),
                max: Duration::from_secs(512),
                multiplier: 2.0,
                jitter: false,
            },
            Preset::Backoff => RetryPolicy {
                max_attempts: 4,
                max_age: DAY,
                initial: Duration::from_secs(20),
                max: Duration::from_secs(20),
                multiplier: 1.0,
                jitter: true,
            },
            Preset::None => RetryPolicy {
                max_attempts: 1,
                max_age: DAY,
                initial: Duration::from_secs(1),
                max: Duration::from_secs(1),
                multiplier: 1.0,
                jitter: false,
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The JSON form of a retry policy, before validation. Every member is
/// optional; missing ones come from `preset` (default `exponential`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// The starting point; `exponential` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Total attempts, the first one included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Maximum event age, e.g. `"24h"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::deliver::duration_str::option"
    )]
    pub max_age: Option<Duration>,
    /// The backoff curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffConfig>,
}

/// The `backoff` member of [`RetryConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// Delay before the first retry, e.g. `"1s"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::deliver::duration_str::option"
    )]
    pub initial: Option<Duration>,
    /// Cap on the delay, e.g. `"5m"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::deliver::duration_str::option"
    )]
    pub max: Option<Duration>,
    /// Growth factor per attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Randomise delays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<bool>,
}

/// A retry policy that is out of range. `field` is the member's path inside
/// the `retry` object (`max_attempts`, `backoff.multiplier`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry.{field}: {detail}")]
pub struct RetryConfigError {
    /// The offending member, relative to `retry`.
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub detail: String,
}

impl RetryConfigError {
    fn new(field: &'static str, detail: impl Into<String>) -> Self {
        RetryConfigError {
            field,
            detail: detail.into(),
        }
    }
}

/// Upper bound on `max_attempts`.
pub const MAX_ATTEMPTS_LIMIT: u32 = 10_000;
/// Upper bound on `max_age`.
pub const MAX_AGE_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);
/// Upper bound on `backoff.max`.
pub const MAX_DELAY_LIMIT: Duration = Duration::from_secs(24 * 3600);

impl TryFrom<RetryConfig> for RetryPolicy {
    type Error = RetryConfigError;

    fn try_from(c: RetryConfig) -> Result<Self, Self::Error> {
        let mut p = c.preset.unwrap_or(Preset::Exponential).policy();
        if let Some(v) = c.max_attempts {
            p.max_attempts = v;
        }
        if let Some(v) = c.max_age {
            p.max_age = v;
        }
        if let Some(b) = c.backoff {
            let initial_given = b.initial.is_some();
            let max_given = b.max.is_some();
            if let Some(v) = b.initial {
                p.initial = v;
            }
            if let Some(v) = b.max {
                p.max = v;
            }
            // A preset's cap must not turn a larger `initial` into an error
            // the user never wrote (and vice versa): stretch the other end.
            if initial_given && !max_given && p.max < p.initial {
                p.max = p.initial;
            }
            if max_given && !initial_given && p.initial > p.max {
                p.initial = p.max;
            }
            if let Some(v) = b.multiplier {
                p.multiplier = v;
            }
            if let Some(v) = b.jitter {
                p.jitter = v;
            }
        }
        p.validate()?;
        Ok(p)
    }
}

impl From<RetryPolicy> for RetryConfig {
    fn from(p: RetryPolicy) -> Self {
        RetryConfig {
            preset: None,
            max_attempts: Some(p.max_attempts),
            max_age: Some(p.max_age),
            backoff: Some(BackoffConfig {
                initial: Some(p.initial),
                max: Some(p.max),
                multiplier: Some(p.multiplier),
                jitter: Some(p.jitter),
            }),
        }
    }
}

/// Why retries stopped: AWS calls this the "exhausted retry condition" and
/// puts it in the dead-letter record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// `max_attempts` attempts were made.
    MaxAttempts {
        /// Attempts made.
        attempts: u32,
    },
    /// The event is (or would be, by the next attempt) older than `max_age`.
    MaxAge {
        /// The event's age when retries stopped.
        age: Duration,
    },
}

impl GiveUpReason {
    /// A stable machine-readable name: `max_attempts` or `max_age`.
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::MaxAttempts { .. } => "max_attempts",
            GiveUpReason::MaxAge { .. } => "max_age",
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUpReason::MaxAttempts { attempts } => {
                write!(f, "gave up after {attempts} attempts (max_attempts)")
            }
            GiveUpReason::MaxAge { age } => write!(
                f,
                "gave up: the event is {} old (max_age)",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            ),
        }
    }
}

/// What to do after an attempt, as [`RetryPolicy::decide`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Attempt again after this delay.
    RetryAfter(Duration),
    /// Stop; the event goes to the dead-letter queue (or is dropped).
    GiveUp(GiveUpReason),
}

impl RetryPolicy {
    /// Checks every field is in range; the error names the member.
    pub fn validate(&self) -> Result<(), RetryConfigError> {
        if self.max_attempts == 0 || self.max_attempts > MAX_ATTEMPTS_LIMIT {
            return Err(RetryConfigError::new(
                "max_attempts",
                format!(
                    "must be between 1 and {MAX_ATTEMPTS_LIMIT} (it counts the first attempt), got {}",
                    self.max_attempts
                ),
            ));
        }
        if self.max_age < Duration::from_secs(1) || self.max_age > MAX_AGE_LIMIT {
            return Err(RetryConfigError::new(
                "max_age",
                format!(
                    "must be between 1s and 30days, got {}",
                    humantime::format_duration(self.max_age)
                ),
            ));
        }
        if self.initial < Duration::from_millis(1) {
            return Err(RetryConfigError::new(
                "backoff.initial",
                format!(
                    "must be at least 1ms, got {}",
                    humantime::format_duration(self.initial)
                ),
            ));
        }
        if self.max > MAX_DELAY_LIMIT {
            return Err(RetryConfigError::new(
                "backoff.max",
                format!(
                    "must be at most 24h, got {}",
                    humantime::format_duration(self.max)
                ),
            ));
        }
        if self.max < self.initial {
            return Err(RetryConfigError::new(
                "backoff.max",
                format!(
                    "must not be smaller than backoff.initial ({}), got {}",
                    humantime::format_duration(self.initial),
                    humantime::format_duration(self.max)
                ),
            ));
        }
        if !(self.multiplier.is_finite() && (1.0..=100.0).contains(&self.multiplier)) {
            return Err(RetryConfigError::new(
                "backoff.multiplier",
                format!(
                    "must be a number between 1 and 100 (1 keeps the delay constant), got {}",
                    self.multiplier
                ),
            ));
        }
        Ok(())
    }

    /// The delay before attempt `attempt + 1`, where `attempt` is the number
    /// of attempts made so far (1 after the first failure; 0 is treated as 1).
    ///
    /// Without jitter the delay is `d(n) = min(max, initial × multiplier^(n−1))`,
    /// which never decreases and never exceeds `max`.
    ///
    /// With jitter it is **equal jitter**: `d(n)/2 + U[0, d(n)/2]`, i.e.
    /// uniform in `[d(n)/2, d(n)]`. We prefer it to "full jitter"
    /// (`U[0, d(n)]`): full jitter spreads load slightly better but may
    /// retry a failing target almost immediately however many attempts
    /// failed before, while equal jitter keeps half of the backoff as a
    /// floor. It also expresses Alibaba's `BACKOFF_RETRY` ("random 10–20 s")
    /// exactly, as a constant 20 s with jitter.
    pub fn next_delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let base = self.base_delay(attempt);
        if !self.jitter {
            return base;
        }
        let b = base.as_secs_f64();
        let secs = b / 2.0 + rng.f64() * (b / 2.0);
        Duration::try_from_secs_f64(secs).unwrap_or(base).min(base)
    }

    /// `min(max, initial × multiplier^(attempt−1))`, without jitter.
    fn base_delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.max(1) - 1;
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        // 2^1100 overflows to infinity, which the cap below absorbs; keep the
        // exponent in i32 range.
        let factor = multiplier.powi(exponent.min(1100) as i32);
        let secs = self.initial.as_secs_f64() * factor;
        let max = self.max;
        if !secs.is_finite() || secs >= max.as_secs_f64() {
            return max;
        }
        Duration::try_from_secs_f64(secs).unwrap_or(max).min(max)
    }

    /// Whether to stop before another attempt: `attempts` made so far,
    /// `first_attempt_at` the time the event was first queued for this
    /// target (that is when its age starts, as in EventBridge), `now` the
    /// current time. A clock that went backwards counts as age zero.
    pub fn should_give_up(
        &self,
        attempts: u32,
        first_attempt_at: SystemTime,
        now: SystemTime,
    ) -> Option<GiveUpReason> {
        if attempts >= self.max_attempts {
            return Some(GiveUpReason::MaxAttempts { attempts });
        }
        let age = now.duration_since(first_attempt_at).unwrap_or_default();
        if age >= self.max_age {
            return Some(GiveUpReason::MaxAge { age });
        }
        None
    }

    /// What to do after a failed attempt that [classified](classify_status)
    /// as [`RetryAction::Retry`]: give up ([`should_give_up`]), or retry
    /// after [`next_delay`] — or after the target's `Retry-After`, if that is
    /// longer (it is already capped at `max` by the classifier and is capped
    /// again here). When the next attempt would fall after `max_age`, this
    /// gives up now instead of holding the event only to drop it later.
    ///
    /// [`should_give_up`]: RetryPolicy::should_give_up
    /// [`next_delay`]: RetryPolicy::next_delay
    pub fn decide(
        &self,
        attempts: u32,
        first_attempt_at: SystemTime,
        now: SystemTime,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> RetryDecision {
        if let Some(reason) = self.should_give_up(attempts, first_attempt_at, now) {
            return RetryDecision::GiveUp(reason);
        }
        let mut delay = self.next_delay(attempts, rng);
        if let Some(after) = retry_after {
            delay = delay.max(after.min(self.max));
        }
        let age = now.duration_since(first_attempt_at).unwrap_or_default();
        if age.saturating_add(delay) > self.max_age {
            return RetryDecision::GiveUp(GiveUpReason::MaxAge {
                age: age.saturating_add(delay),
            });
        }
        RetryDecision::RetryAfter(delay)
    }
}

/// What an attempt's outcome means for the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// The target accepted the event.
    Delivered,
    /// A transient failure: try again later. `after` is the target's own
    /// `Retry-After`, already capped at the policy's `max`, when it sent one
    /// on a 429 or 503.
    Retry {
        /// The delay the target asked for, if any.
        after: Option<Duration>,
    },
    /// A permanent failure: no retry; dead-letter the event (or drop it when
    /// the target has no dead-letter queue).
    DeadLetter,
}

/// Classifies an HTTP response status.
///
/// | status | action |
/// |---|---|
/// | 2xx | [`Delivered`](RetryAction::Delivered) |
/// | 429, 503 | [`Retry`](RetryAction::Retry), honouring `Retry-After` |
/// | 408, other 5xx | [`Retry`](RetryAction::Retry) |
/// | 3xx | [`DeadLetter`](RetryAction::DeadLetter): redirects are not followed, a moved endpoint is a configuration problem |
/// | other 4xx, anything else | [`DeadLetter`](RetryAction::DeadLetter): the request itself is wrong, repeating it cannot help |
///
/// 408 Request Timeout is retried although it is a 4xx: the server says the
/// request took too long to arrive, which is as transient as our own
/// timeout. `retry_after` is the raw `Retry-After` header value (seconds or
/// an HTTP-date, relative to `now`); the delay is capped at `cap`, normally
/// the policy's `max`, so a target cannot park an event for days.
pub fn classify_status(
    status: u16,
    retry_after: Option<&str>,
    now: SystemTime,
    cap: Duration,
) -> RetryAction {
    match status {
        200..=299 => RetryAction::Delivered,
        429 | 503 => RetryAction::Retry {
            after: retry_after
                .and_then(|v| parse_retry_after(v, now))
                .map(|d| d.min(cap)),
        },
        408 | 500..=599 => RetryAction::Retry { after: None },
        _ => RetryAction::DeadLetter,
    }
}

/// Failures that happen before a response status arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The request (or reading the response) took longer than the timeout.
    Timeout,
    /// The connection could not be made: refused, reset, DNS, TLS handshake.
    Connect,
    /// The connection broke while sending or receiving.
    Io,
    /// The request could not even be built (a bug or a bad configuration);
    /// repeating it cannot help.
    InvalidRequest,
}

/// Classifies a failure without a response: everything except
/// [`FailureKind::InvalidRequest`] is retried.
pub fn classify_failure(kind: FailureKind) -> RetryAction {
    match kind {
        FailureKind::Timeout | FailureKind::Connect | FailureKind::Io => {
            RetryAction::Retry { after: None }
        }
        FailureKind::InvalidRequest => RetryAction::DeadLetter,
    }
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): either delay-seconds or
/// an HTTP-date, which becomes the time left until then (zero if it has
/// passed). `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "a very long time".
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// Parses an HTTP-date in any of the three forms RFC 9110 §5.6.7 requires
/// recipients to accept: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`), with the `httpdate` crate, which also
/// checks that the weekday is the date's (a date that says otherwise is
/// treated as no date: the retry policy's own delay applies).
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s).ok()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn parse(json: &str) -> Result<RetryPolicy, String> {
        serde_json::from_str::<RetryPolicy>(json).map_err(|e| e.to_string())
    }

    fn no_jitter(initial: u64, max: u64, multiplier: f64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 100,
            max_age: secs(86_400),
            initial: secs(initial),
            max: secs(max),
            multiplier,
            jitter: false,
        }
    }

    #[test]
    fn defaults_are_the_exponential_preset() {
        let p = parse("{}").unwrap();
        assert_eq!(p, Preset::Exponential.policy());
        assert_eq!(p, RetryPolicy::default());
        assert_eq!(p.max_attempts, 186);
        assert_eq!(p.max_age, secs(86_400));
        assert_eq!(
            (p.initial, p.max, p.multiplier, p.jitter),
            (secs(1), secs(300), 2.0, true)
        );
    }

    #[test]
    fn contract_example_parses() {
        let p = parse(
            r#"{"max_attempts": 185, "max_age": "24h",
                "backoff": {"initial": "1s", "max": "5m", "multiplier": 2, "jitter": true}}"#,
        )
        .unwrap();
        assert_eq!(p.max_attempts, 185);
        assert_eq!(p.max_age, secs(86_400));
        assert_eq!(p.initial, secs(1));
        assert_eq!(p.max, secs(300));
        assert_eq!(p.multiplier, 2.0);
        assert!(p.jitter);
    }

    #[test]
    fn sub_second_durations() {
        let p = parse(r#"{"backoff": {"initial": "250ms", "max": "1s 500ms"}}"#).unwrap();
        assert_eq!(p.initial, Duration::from_millis(250));
        assert_eq!(p.max, Duration::from_millis(1500));
    }

    #[test]
    fn presets_and_overrides() {
        for preset in Preset::ALL {
            let p = parse(&format!(r#"{{"preset": "{preset}"}}"#)).unwrap();
            assert_eq!(p, preset.policy(), "{preset}");
            p.validate().unwrap();
        }
        let p = parse(r#"{"preset": "backoff", "max_attempts": 10}"#).unwrap();
        assert_eq!(p.max_attempts, 10);
        assert_eq!(p.max, secs(20));
        let p = parse(r#"{"preset": "exponential_decay", "backoff": {"jitter": true}}"#).unwrap();
        assert!(p.jitter);
        assert_eq!(p.max, secs(512));
        let e = parse(r#"{"preset": "linear"}"#).unwrap_err();
        assert!(e.contains("unknown variant"), "{e}");
    }

    #[test]
    fn partial_backoff_keeps_initial_below_max() {
        // The preset's max is 5m; an initial of 10m alone lifts the cap.
        let p = parse(r#"{"backoff": {"initial": "10m"}}"#).unwrap();
        assert_eq!((p.initial, p.max), (secs(600), secs(600)));
        // The backoff preset's initial is 20s; a max of 5s alone lowers it.
        let p = parse(r#"{"preset": "backoff", "backoff": {"max": "5s"}}"#).unwrap();
        assert_eq!((p.initial, p.max), (secs(5), secs(5)));
        // Both given and inconsistent: an error naming the field.
        let e = parse(r#"{"backoff": {"initial": "10s", "max": "5s"}}"#).unwrap_err();
        assert!(e.contains("retry.backoff.max"), "{e}");
    }

    #[test]
    fn validation_names_the_field() {
        for (json, field) in [
            (r#"{"max_attempts": 0}"#, "retry.max_attempts"),
            (r#"{"max_attempts": 10001}"#, "retry.max_attempts"),
            (r#"{"max_age": "0s"}"#, "retry.max_age"),
            (r#"{"max_age": "31days"}"#, "retry.max_age"),
            (r#"{"backoff": {"initial": "0s"}}"#, "retry.backoff.initial"),
            (r#"{"backoff": {"max": "2days"}}"#, "retry.backoff.max"),
            (
                r#"{"backoff": {"multiplier": 0.5}}"#,
                "retry.backoff.multiplier",
            ),
            (
                r#"{"backoff": {"multiplier": 101}}"#,
                "retry.backoff.multiplier",
            ),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(field), "{json}: {e}");
        }
    }

    #[test]
    fn syntax_errors() {
        for (json, needle) in [
            (r#"{"max_attempt": 3}"#, "unknown field"),
            (r#"{"backoff": {"cap": "1s"}}"#, "unknown field"),
            (r#"{"max_age": "soon"}"#, "duration"),
            (r#"{"max_age": 5}"#, "duration string"),
            (r#"{"max_age": "5"}"#, "duration"),
            (r#"{"max_attempts": -1}"#, "invalid value"),
            (r#"{"backoff": {"jitter": "yes"}}"#, "invalid type"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(needle), "{json}: {e}");
        }
    }

    #[test]
    fn serializes_to_an_equivalent_config() {
        for preset in Preset::ALL {
            let p = preset.policy();
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(parse(&json).unwrap(), p, "{json}");
        }
        let p = parse(r#"{"backoff": {"initial": "250ms", "max": "90s"}}"#).unwrap();
        let json = serde_json::to_value(p).unwrap();
        assert_eq!(json["backoff"]["initial"], "250ms");
        assert_eq!(json["backoff"]["max"], "1m 30s");
        assert_eq!(parse(&json.to_string()).unwrap(), p);
    }

    #[test]
    fn exponential_delays_without_jitter() {
        let p = no_jitter(1, 300, 2.0);
        let mut rng = fastrand::Rng::with_seed(1);
        let got: Vec<u64> = (1..=12)
            .map(|n| p.next_delay(n, &mut rng).as_secs())
            .collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(p.next_delay(0, &mut rng), secs(1), "0 is treated as 1");
        assert_eq!(p.next_delay(u32::MAX, &mut rng), secs(300));
    }

    #[test]
    fn fractional_multiplier_and_constant_delay() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: secs(10),
            multiplier: 1.5,
            ..no_jitter(1, 1, 1.0)
        };
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(p.next_delay(1, &mut rng), Duration::from_millis(100));
        assert_eq!(p.next_delay(2, &mut rng), Duration::from_millis(150));
        assert_eq!(p.next_delay(3, &mut rng), Duration::from_millis(225));
        let constant = no_jitter(7, 7, 1.0);
        for n in [1, 2, 50, 10_000] {
            assert_eq!(constant.next_delay(n, &mut rng), secs(7));
        }
    }

    #[test]
    fn exponential_decay_matches_alibaba_schedule() {
        let p = Preset::ExponentialDecay.policy();
        let mut rng = fastrand::Rng::with_seed(7);
        let delays: Vec<u64> = (1..p.max_attempts)
            .map(|n| p.next_delay(n, &mut rng).as_secs())
            .collect();
        assert_eq!(delays.len(), 176, "176 retries");
        assert_eq!(&delays[..10], &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
        assert!(delays[9..].iter().all(|&d| d == 512));
        let total: u64 = delays.iter().sum();
        assert_eq!(total, 511 + 167 * 512);
        assert!(total <= 86_400, "fits in one day: {total}");
    }

    #[test]
    fn backoff_preset_is_uniform_between_10_and_20_seconds() {
        let p = Preset::Backoff.policy();
        let mut rng = fastrand::Rng::with_seed(42);
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        for n in 1..=2000 {
            let d = p.next_delay(n % 4 + 1, &mut rng);
            assert!(d >= secs(10) && d <= secs(20), "{d:?}");
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo < Duration::from_millis(10_500), "{lo:?}");
        assert!(hi > Duration::from_millis(19_500), "{hi:?}");
    }

    #[test]
    fn equal_jitter_bounds() {
        let p = RetryPolicy {
            jitter: true,
            ..no_jitter(1, 300, 2.0)
        };
        let mut rng = fastrand::Rng::with_seed(3);
        for n in 1..=30 {
            let base = no_jitter(1, 300, 2.0).next_delay(n, &mut rng);
            for _ in 0..50 {
                let d = p.next_delay(n, &mut rng);
                assert!(d >= base / 2 && d <= base, "attempt {n}: {d:?} vs {base:?}");
            }
        }
    }

    #[test]
    fn invalid_policies_do_not_panic() {
        let mut rng = fastrand::Rng::with_seed(0);
        for p in [
            RetryPolicy {
                multiplier: f64::NAN,
                ..no_jitter(1, 10, 2.0)
            },
            RetryPolicy {
                multiplier: f64::INFINITY,
                ..no_jitter(1, 10, 2.0)
            },
            RetryPolicy {
                multiplier: -3.0,
                jitter: true,
                ..no_jitter(0, 0, 2.0)
            },
            RetryPolicy {
                initial: Duration::MAX,
                max: Duration::MAX,
                ..no_jitter(1, 1, 1e300)
            },
            RetryPolicy {
                max_attempts: 0,
                ..no_jitter(5, 1, 2.0)
            },
        ] {
            for n in [0, 1, 2, 1000, u32::MAX] {
                assert!(p.next_delay(n, &mut rng) <= p.max);
            }
            let t = UNIX_EPOCH + secs(1000);
            let _ = p.decide(3, t, t + secs(5), Some(Duration::MAX), &mut rng);
        }
    }

    #[test]
    fn give_up_on_attempts_or_age() {
        let p = RetryPolicy {
            max_attempts: 3,
            max_age: secs(60),
            ..no_jitter(1, 10, 2.0)
        };
        let t0 = UNIX_EPOCH + secs(1_700_000_000);
        assert_eq!(p.should_give_up(1, t0, t0), None);
        assert_eq!(p.should_give_up(2, t0, t0 + secs(59)), None);
        assert_eq!(
            p.should_give_up(3, t0, t0),
            Some(GiveUpReason::MaxAttempts { attempts: 3 })
        );
        assert_eq!(
            p.should_give_up(1, t0, t0 + secs(60)),
            Some(GiveUpReason::MaxAge { age: secs(60) })
        );
        // The clock went backwards: age zero.
        assert_eq!(p.should_give_up(1, t0, t0 - secs(30)), None);
        assert_eq!(
            GiveUpReason::MaxAttempts { attempts: 3 }.as_str(),
            "max_attempts"
        );
        assert_eq!(
            GiveUpReason::MaxAge { age: secs(3600) }.to_string(),
            "gave up: the event is 1h old (max_age)"
        );
    }

    #[test]
    fn decide_uses_backoff_retry_after_and_age() {
        let p = RetryPolicy {
            max_attempts: 10,
            max_age: secs(100),
            ..no_jitter(2, 30, 2.0)
        };
        let mut rng = fastrand::Rng::with_seed(9);
        let t0 = UNIX_EPOCH + secs(1_000_000);
        assert_eq!(
            p.decide(1, t0, t0, None, &mut rng),
            RetryDecision::RetryAfter(secs(2))
        );
        assert_eq!(
            p.decide(3, t0, t0, None, &mut rng),
            RetryDecision::RetryAfter(secs(8))
        );
        // Retry-After is a floor, capped at max.
        assert_eq!(
            p.decide(1, t0, t0, Some(secs(20)), &mut rng),
            RetryDecision::RetryAfter(secs(20))
        );
        assert_eq!(
            p.decide(3, t0, t0, Some(secs(1)), &mut rng),
            RetryDecision::RetryAfter(secs(8))
        );
        assert_eq!(
            p.decide(1, t0, t0, Some(secs(3600)), &mut rng),
            RetryDecision::RetryAfter(secs(30))
        );
        // The next attempt would come after max_age: give up now.
        assert_eq!(
            p.decide(3, t0, t0 + secs(95), None, &mut rng),
            RetryDecision::GiveUp(GiveUpReason::MaxAge { age: secs(103) })
        );
        assert_eq!(
            p.decide(10, t0, t0, None, &mut rng),
            RetryDecision::GiveUp(GiveUpReason::MaxAttempts { attempts: 10 })
        );
    }

    #[test]
    fn preset_none_never_retries() {
        let p = Preset::None.policy();
        let t0 = UNIX_EPOCH + secs(1);
        let mut rng = fastrand::Rng::with_seed(0);
        assert!(matches!(
            p.decide(1, t0, t0, None, &mut rng),
            RetryDecision::GiveUp(GiveUpReason::MaxAttempts { attempts: 1 })
        ));
    }

    #[test]
    fn status_classification() {
        let now = UNIX_EPOCH + secs(1_000_000);
        let cap = secs(300);
        let c = |s| classify_status(s, None, now, cap);
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(c(s), RetryAction::Delivered, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(c(s), RetryAction::Retry { after: None }, "{s}");
        }
        for s in [
            300, 301, 302, 304, 307, 308, 400, 401, 403, 404, 409, 410, 413, 422, 451,
        ] {
            assert_eq!(c(s), RetryAction::DeadLetter, "{s}");
        }
        for s in [0, 100, 101, 199, 600, 999] {
            assert_eq!(c(s), RetryAction::DeadLetter, "{s}");
        }
    }

    #[test]
    fn retry_after_on_429_and_503_only() {
        let now = UNIX_EPOCH + secs(1_000_000);
        let cap = secs(300);
        let after = |s: u64| RetryAction::Retry {
            after: Some(secs(s)),
        };
        assert_eq!(classify_status(429, Some("7"), now, cap), after(7));
        assert_eq!(classify_status(503, Some(" 120 "), now, cap), after(120));
        assert_eq!(
            classify_status(429, Some("86400"), now, cap),
            after(300),
            "capped"
        );
        assert_eq!(
            classify_status(429, Some("99999999999999999999999"), now, cap),
            after(300)
        );
        assert_eq!(classify_status(429, Some("0"), now, cap), after(0));
        assert_eq!(
            classify_status(429, Some("soon"), now, cap),
            RetryAction::Retry { after: None }
        );
        assert_eq!(
            classify_status(429, Some("-5"), now, cap),
            RetryAction::Retry { after: None }
        );
        assert_eq!(
            classify_status(500, Some("7"), now, cap),
            RetryAction::Retry { after: None }
        );
        assert_eq!(
            classify_status(301, Some("7"), now, cap),
            RetryAction::DeadLetter
        );
    }

    #[test]
    fn retry_after_http_dates() {
        // 1994-11-06T08:49:37Z = 784111777
        let at = UNIX_EPOCH + secs(784_111_777);
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s), Some(at), "{s}");
        }
        let now = at - secs(90);
        assert_eq!(
            classify_status(503, Some("Sun, 06 Nov 1994 08:49:37 GMT"), now, secs(300)),
            RetryAction::Retry {
                after: Some(secs(90))
            }
        );
        // In the past: retry now.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + secs(5)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT"),
            Some(UNIX_EPOCH + secs(1_709_251_199))
        );
        assert_eq!(
            parse_http_date("Tuesday, 01-Jan-30 00:00:00 GMT"),
            Some(UNIX_EPOCH + secs(1_893_456_000))
        );
        for bad in [
            "",
            "GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 2023 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37:00 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sunday, 06-Nov-94-1 08:49:37 GMT",
            "Sun Nov 6 08:49:37 94",
            "Sun, 06 Nov ٢٠٢٤ 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn failure_classification() {
        for k in [FailureKind::Timeout, FailureKind::Connect, FailureKind::Io] {
            assert_eq!(classify_failure(k), RetryAction::Retry { after: None });
        }
        assert_eq!(
            classify_failure(FailureKind::InvalidRequest),
            RetryAction::DeadLetter
        );
    }

    fn arb_policy(jitter: bool) -> impl Strategy<Value = RetryPolicy> {
        (1u64..=60_000, 1u64..=86_400_000, 1.0f64..=100.0).prop_map(
            move |(initial_ms, max_ms, multiplier)| {
                let initial = Duration::from_millis(initial_ms.min(max_ms));
                RetryPolicy {
                    max_attempts: 100,
                    max_age: secs(86_400),
                    initial,
                    max: Duration::from_millis(max_ms),
                    multiplier,
                    jitter,
                }
            },
        )
    }

    proptest! {
        #[test]
        fn delays_are_monotone_and_capped_without_jitter(p in arb_policy(false), seed: u64) {
            prop_assert!(p.validate().is_ok());
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut prev = Duration::ZERO;
            for n in 1..=200u32 {
                let d = p.next_delay(n, &mut rng);
                prop_assert!(d >= prev, "attempt {}: {:?} < {:?}", n, d, prev);
                prop_assert!(d <= p.max, "attempt {}: {:?} > {:?}", n, d, p.max);
                prev = d;
            }
            prop_assert_eq!(p.next_delay(1, &mut rng), p.initial);
        }

        #[test]
        fn jittered_delays_stay_within_half_and_full_backoff(p in arb_policy(true), seed: u64, n in 1u32..=500) {
            let mut rng = fastrand::Rng::with_seed(seed);
            let base = RetryPolicy { jitter: false, ..p }.next_delay(n, &mut rng);
            let d = p.next_delay(n, &mut rng);
            prop_assert!(d <= p.max);
            prop_assert!(d <= base && d >= base / 2 - Duration::from_nanos(1), "{:?} vs {:?}", d, base);
        }

        #[test]
        fn retry_after_never_panics(s in "\\PC{0,40}", now in 0u64..=4_000_000_000) {
            let _ = parse_retry_after(&s, UNIX_EPOCH + Duration::from_secs(now));
        }
    }
}
