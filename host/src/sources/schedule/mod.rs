//! Schedule sources: one event per firing of a `cron(…)`, `rate(…)` or
//! `at(…)` expression ([`expr`]), in a time zone.
//!
//! ```json
//! {"type": "schedule", "expression": "cron(0 12 * * ? *)", "timezone": "Europe/Berlin",
//!  "missed": "skip", "event": {"type": "com.example.daily", "data": {"report": "sales"}}}
//! ```
//!
//! Firings survive restarts. The source's state — the last instant it
//! fired, the anchor `rate` counts from, counts — is a catalogue record,
//! written after each firing's event is durable. A firing's event id is
//! `<source>:<instant>`, so the firing after the last one recorded is looked
//! up on the bus before it is emitted after a restart: a crash between
//! storing the event and recording the firing never emits it twice.
//!
//! Firings that fell while the server was down are **missed**. `"missed":
//! "skip"` (the default, as EventBridge does) counts them in the status and
//! goes on with the next future firing; `"catch_up"` emits them, oldest
//! first, up to `max_catch_up` (default 100), counting the rest as missed.
//!
//! Besides AWS's syntax, `rate(N second|seconds)` is accepted.

pub mod expr;

use serde::{Deserialize, Serialize};

use super::spec::SpecError;
use super::{Ctx, State};
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::store::catalogue::{Collection, Record};
pub use expr::Schedule;

/// Most missed firings counted one by one after a long downtime; beyond
/// it the source jumps to the present and says the count is a lower bound.
const MAX_MISSED_WALK: u64 = 1_000_000;

/// The settings of a schedule source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `cron(…)`, `rate(…)` or `at(…)`.
    pub expression: String,
    /// IANA time zone the expression is read in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// What to do with firings that fell while the server was down.
    #[serde(default)]
    pub missed: MissedPolicy,
    /// With `catch_up`: most missed firings emitted at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_catch_up: Option<u32>,
}

/// What happens to firings missed while the server was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// Count them, emit nothing.
    #[default]
    Skip,
    /// Emit them (up to `max_catch_up`), oldest first.
    CatchUp,
}

/// Default of `max_catch_up`.
pub const DEFAULT_MAX_CATCH_UP: u32 = 100;

impl ScheduleSpec {
    /// Parses the expression and time zone.
    pub fn schedule(&self) -> Result<Schedule, SpecError> {
        Schedule::parse(&self.expression, self.timezone.as_deref()).map_err(|e| {
            let field = if matches!(e, expr::ScheduleError::TimeZone(_)) {
                "timezone"
            } else {
                "expression"
            };
            SpecError::new(field, e.to_string())
        })
    }

    /// Checks everything.
    pub fn check(&self) -> Result<Schedule, SpecError> {
        if let Some(m) = self.max_catch_up
            && !(1..=10_000).contains(&m)
        {
            return Err(SpecError::new(
                "max_catch_up",
                "must be between 1 and 10000",
            ));
        }
        self.schedule()
    }
}

/// A schedule's state, kept across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// The expression and zone this state belongs to; a changed one
    /// starts afresh.
    pub expression: String,
    /// Its time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// What `rate` counts from (µs since the epoch).
    pub anchor: i64,
    /// The last instant fired (µs), if any.
    #[serde(default)]
    pub last_fired: Option<i64>,
    /// Firings emitted.
    #[serde(default)]
    pub fired: u64,
    /// Firings missed while the server was down.
    #[serde(default)]
    pub missed: u64,
}

impl Record for ScheduleState {
    const COLLECTION: Collection = Collection::SourceState;
}

/// Runs a schedule until `ctx` is told to stop.
pub(super) async fn run(ctx: Ctx, spec: ScheduleSpec, schedule: Schedule) {
    let now = now_micros();
    let mut state = match ctx.load_state::<ScheduleState>().await {
        Some(s) if s.expression == spec.expression && s.timezone == spec.timezone => s,
        _ => ScheduleState {
            expression: spec.expression.clone(),
            timezone: spec.timezone.clone(),
            // Whole seconds: `rate` firings then fall on whole seconds.
            anchor: now - now.rem_euclid(1_000_000),
            last_fired: None,
            fired: 0,
            missed: 0,
        },
    };
    ctx.status.set_counts(state.fired, state.missed);
    let started = now;
    let mut after = state.last_fired.unwrap_or(state.anchor - 1);
    // Firings due before this start were missed while the server was down.
    let mut backlog = Vec::new();
    let mut walked = 0u64;
    while let Some(t) = schedule.next_after_micros(after, state.anchor) {
        if t >= started {
            break;
        }
        walked += 1;
        if walked > MAX_MISSED_WALK {
            tracing::warn!(source = %ctx.name, "More than a million firings missed; counting stops there.");
            after = started - 1;
            break;
        }
        match spec.missed {
            MissedPolicy::CatchUp
                if backlog.len() < spec.max_catch_up.unwrap_or(DEFAULT_MAX_CATCH_UP) as usize =>
            {
                backlog.push(t)
            }
            _ => state.missed += 1,
        }
        after = t;
    }
    if walked > 0 {
        tracing::info!(source = %ctx.name, missed = walked, catching_up = backlog.len(), "Firings fell while the server was down.");
    }
    // The first firing after a restart may already be on the bus (stored,
    // but the state not yet written when the server stopped).
    let mut check_first = state.last_fired.is_some();
    let mut queue: std::collections::VecDeque<i64> = backlog.into();
    let mut stop = ctx.stop.clone();
    loop {
        // Caught-up firings first; `after` already stands past them.
        let next = match queue.pop_front() {
            Some(t) => t,
            None => match schedule.next_after_micros(after, state.anchor) {
                Some(t) => t,
                None => {
                    ctx.status.set_state(State::Finished);
                    save(&ctx, &state).await;
                    let _ = stop.wait_for(|s| *s).await;
                    return;
                }
            },
        };
        ctx.status.set_next(Some(next));
        let wait = next - now_micros();
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_micros(wait as u64)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        let instant = format_rfc3339_micros(next);
        let id = format!("{}:{}", ctx.name, instant);
        let vars = Firing {
            name: &ctx.name,
            instant: &instant,
        };
        let data = serde_json::json!({
            "schedule": spec.expression,
            "timezone": schedule.timezone(),
            "scheduled_time": instant,
        })
        .to_string();
        let defaults = ctx.defaults(id, Some(instant.clone()), "com.signalbox.schedule");
        let event = ctx
            .template
            .render(&vars, &defaults, super::template::Payload::Json(&data));
        let already = check_first && ctx.stored_already(&event).await;
        check_first = false;
        if !already {
            // At least once: a failure is retried for the same instant.
            if !ctx.emit_until_stored(event, &mut stop).await {
                return;
            }
            state.fired += 1;
        }
        state.last_fired = Some(state.last_fired.map_or(next, |l| l.max(next)));
        after = after.max(next);
        ctx.status.set_counts(state.fired, state.missed);
        save(&ctx, &state).await;
    }
}

async fn save(ctx: &Ctx, state: &ScheduleState) {
    if let Err(error) = ctx.save_state(state).await {
        tracing::warn!(source = %ctx.name, %error, "Cannot record the schedule's state; a restart may look up the last firing again.");
        ctx.status
            .error(format!("cannot record the schedule's state: {error}"));
    }
}

struct Firing<'a> {
    name: &'a str,
    instant: &'a str,
}

impl super::template::Vars for Firing<'_> {
    fn get(&self, kind: &str, _arg: Option<&str>) -> Option<String> {
        match kind {
            "name" => Some(self.name.to_owned()),
            "time" => Some(self.instant.to_owned()),
            _ => None,
        }
    }
}

/// Placeholders a schedule's event may use.
pub const PLACEHOLDERS: &[&str] = &["name", "time"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_their_field() {
        let spec = |e: &str, tz: Option<&str>| ScheduleSpec {
            expression: e.into(),
            timezone: tz.map(Into::into),
            missed: MissedPolicy::Skip,
            max_catch_up: None,
        };
        assert_eq!(
            spec("rate(0 minutes)", None).check().unwrap_err().field,
            "expression"
        );
        assert_eq!(
            spec("rate(1 minute)", Some("Mars/Olympus"))
                .check()
                .unwrap_err()
                .field,
            "timezone"
        );
        let mut s = spec("rate(1 minute)", None);
        s.max_catch_up = Some(0);
        assert_eq!(s.check().unwrap_err().field, "max_catch_up");
        assert!(
            spec("cron(0 12 * * ? *)", Some("Europe/Berlin"))
                .check()
                .is_ok()
        );
    }
}
