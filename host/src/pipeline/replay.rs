//! Archive and replay: sending a range of the bus log through chosen rules
//! again.
//!
//! The bus log is the archive (kept for the bus's retention). A replay reads
//! the events of a sequence range — given as sequence numbers or as times,
//! which are turned into the range of events *received* in that interval —
//! and, for each of the chosen rules, runs it exactly as live traffic would:
//! the rule's pattern/CESQL, its plugin chain, then its targets' delivery
//! queues. Each replayed event carries the extension `replay` naming the
//! replay, so receivers can tell replays from first deliveries.
//!
//! Replays are paced (`rate_per_s`, default [`DEFAULT_RATE`]) and run on
//! their own task, so live traffic keeps flowing while one runs; their
//! deliveries wait in the same per-target queues behind live events already
//! queued. Progress is stored, so a replay survives a restart and continues
//! where it was; it can be paused, resumed and cancelled.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, json};
use tokio::sync::watch;

use super::rule::CompiledRule;
use super::worker::{ChainResult, chain};
use crate::delivery::worker::TargetHandle;
use crate::event::ExtensionValue;
use crate::event::time::{format_rfc3339_micros, now_micros, parse_rfc3339};
use crate::pattern::{Matcher, envelope_json};
use crate::store::queue::{Delivery, DeliveryKey, TraceStep};
use crate::store::{Bus, Records, Seq, Store, StoreError};

/// Events per second a replay sends through its rules unless told otherwise.
pub const DEFAULT_RATE: f64 = 5000.0;

pub use crate::event::REPLAY_EXTENSION;

/// Replayed deliveries use `sub` numbers with this bit set (plus the
/// replay's number), so they never collide with the original delivery of
/// the same event still in a queue.
const REPLAY_SUB: u32 = 1 << 31;

/// A position in the log, as given by the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Position {
    /// A sequence number.
    Seq(Seq),
    /// An RFC 3339 time: events received at or after it (for `from`) or
    /// before it (for `to`).
    Time(String),
}

/// `POST /v1/buses/{bus}/replays`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// First event (inclusive).
    pub from: Position,
    /// Last event (inclusive for seqs, exclusive for times); default: the
    /// newest event when the replay starts.
    #[serde(default)]
    pub to: Option<Position>,
    /// The rules to replay into (at least one).
    pub rules: Vec<String>,
    /// Pace, events per second (default 5000).
    #[serde(default)]
    pub rate_per_s: Option<f64>,
}

/// A replay's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayState {
    /// Sending events.
    Running,
    /// Stopped by the user; can be resumed.
    Paused,
    /// Stopped for good by the user.
    Cancelled,
    /// Every event in the range was handled.
    Completed,
    /// Stopped by an error (see `error`).
    Failed,
}

/// What the API shows of a replay (also its stored record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayStatus {
    /// `rp-<number>`.
    pub id: String,
    /// Its number (part of delivery keys).
    pub number: u32,
    /// The bus.
    pub bus: String,
    /// Rules replayed into.
    pub rules: Vec<String>,
    /// First seq of the range.
    pub from_seq: Seq,
    /// Last seq of the range.
    pub to_seq: Seq,
    /// Events in the range.
    pub total: u64,
    /// Events handled so far.
    pub processed: u64,
    /// The last seq handled.
    pub position: Seq,
    /// Deliveries queued.
    pub queued: u64,
    /// State.
    pub state: ReplayState,
    /// Pace.
    pub rate_per_s: f64,
    /// When it was created.
    pub created_at: String,
    /// When it finished, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A running (or finished) replay.
pub struct Replay {
    /// Its status, updated as it runs.
    pub status: Mutex<ReplayStatus>,
    /// Set to Running/Paused/Cancelled by the API.
    pub control: watch::Sender<ReplayState>,
}

pub(crate) fn record_key(bus_id: u32, id: &str) -> Vec<u8> {
    let mut k = bus_id.to_be_bytes().to_vec();
    k.extend_from_slice(b"replay/");
    k.extend_from_slice(id.as_bytes());
    k
}

/// Finds the first seq whose event was received at or after `at` (µs), by
/// binary search over the stored range (receive times follow seq order).
pub fn seq_at_time(store: &Store, bus: &Bus, at: i64) -> Result<Seq, StoreError> {
    let Some(mut lo) = store.first_seq(bus)? else {
        return Ok(bus.last_seq() + 1);
    };
    let mut hi = bus.last_seq() + 1;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let t = store
            .read(bus, mid - 1, 1)?
            .first()
            .map_or(i64::MAX, |e| e.received_at);
        if t < at {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Resolves a request's range to seqs.
pub fn resolve_range(store: &Store, bus: &Bus, req: &ReplayRequest) -> Result<(Seq, Seq), String> {
    let time = |s: &str, field: &str| parse_rfc3339(s).map_err(|e| format!("{field}: {e}"));
    let from = match &req.from {
        Position::Seq(s) => (*s).max(1),
        Position::Time(t) => {
            seq_at_time(store, bus, time(t, "from")?).map_err(|e| e.to_string())?
        }
    };
    let to = match &req.to {
        None => bus.last_seq(),
        Some(Position::Seq(s)) => (*s).min(bus.last_seq()),
        Some(Position::Time(t)) => seq_at_time(store, bus, time(t, "to")?)
            .map_err(|e| e.to_string())?
            .saturating_sub(1),
    };
    Ok((from, to))
}

/// Runs a replay until its range is done, it is cancelled, or the server
/// stops (`shutdown`).
pub async fn run(
    store: Store,
    bus: Arc<Bus>,
    replay: Arc<Replay>,
    rules: Vec<(Arc<CompiledRule>, Arc<Vec<TargetHandle>>)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut control = replay.control.subscribe();
    let matchers: Vec<Option<Matcher>> = rules
        .iter()
        .map(|(r, _)| {
            r.pattern.as_ref().map(|p| {
                let mut m = Matcher::new();
                m.add(0, p);
                m
            })
        })
        .collect();
    let (id, number, to, rate) = {
        let s = replay.status.lock().expect("replay lock");
        (s.id.clone(), s.number, s.to_seq, s.rate_per_s)
    };
    let mut envelope = Vec::new();
    let mut out = Vec::new();
    let started = Instant::now();
    let mut sent = 0u64;
    loop {
        let current = *control.borrow();
        match current {
            ReplayState::Running => {}
            ReplayState::Paused => {
                tokio::select! {
                    _ = control.changed() => continue,
                    _ = shutdown.changed() => return,
                }
            }
            _ => break,
        }
        if *shutdown.borrow() {
            return;
        }
        let position = replay.status.lock().expect("replay lock").position;
        if position >= to {
            finish(&store, &bus, &replay, ReplayState::Completed, None);
            return;
        }
        let s = store.clone();
        let b = bus.clone();
        let batch = match tokio::task::spawn_blocking(move || s.read(&b, position, 64)).await {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => {
                finish(
                    &store,
                    &bus,
                    &replay,
                    ReplayState::Failed,
                    Some(e.to_string()),
                );
                return;
            }
            Err(_) => return,
        };
        if batch.is_empty() {
            finish(&store, &bus, &replay, ReplayState::Completed, None);
            return;
        }
        let mut wb = store.router_batch();
        let mut per_target: Vec<Vec<u64>> = rules.iter().map(|(_, t)| vec![0; t.len()]).collect();
        let mut last = position;
        let mut handled = 0u64;
        for e in batch.into_iter().filter(|e| e.seq <= to) {
            last = e.seq;
            handled += 1;
            let now = now_micros();
            let mut event = e.event.clone();
            event.set_extension(REPLAY_EXTENSION, ExtensionValue::String(id.clone()));
            for (i, (rule, targets)) in rules.iter().enumerate() {
                if let Some(m) = &matchers[i] {
                    envelope_json(&e.event, &mut envelope);
                    out.clear();
                    if !matches!(m.matches_json(&envelope, &mut out), Ok(()) if !out.is_empty()) {
                        continue;
                    }
                }
                if let Some(expr) = &rule.cesql
                    && !expr.matches(&e.event)
                {
                    continue;
                }
                let mut detail = Map::new();
                detail.insert("replay".into(), json!(id));
                let step = match chain(rule, &event).await {
                    ChainResult::Deliver(outs) => {
                        detail.insert("events".into(), json!(outs.len()));
                        for (sub, (ev, body)) in outs.into_iter().enumerate() {
                            for (j, t) in targets.iter().enumerate() {
                                let d = Delivery {
                                    key: DeliveryKey {
                                        bus: bus.id,
                                        rule: rule.name.clone(),
                                        target: t.target.id.clone(),
                                        seq: e.seq,
                                        sub: REPLAY_SUB
                                            | ((number & 0x7fff) << 16)
                                            | (sub as u32 & 0xffff),
                                    },
                                    attempts: 0,
                                    next_attempt_at: now,
                                    enqueued_at: now,
                                    last_status: None,
                                    last_error: None,
                                    event: ev.clone(),
                                    body: body.clone(),
                                };
                                store.put_delivery(&mut wb, &d);
                                per_target[i][j] += 1;
                            }
                        }
                        "replayed"
                    }
                    ChainResult::Filtered(by) => {
                        detail.insert("by".into(), json!(by));
                        "replay_filtered_out"
                    }
                    ChainResult::Failed(by, err) => {
                        detail.insert("by".into(), json!(by));
                        detail.insert("error".into(), json!(err));
                        "replay_failed"
                    }
                };
                store.put_trace(
                    &mut wb,
                    bus.id,
                    e.seq,
                    now,
                    &TraceStep {
                        at: format_rfc3339_micros(now),
                        step: step.into(),
                        rule: Some(rule.name.clone()),
                        target: None,
                        detail,
                    },
                );
            }
        }
        let record = {
            let mut s = replay.status.lock().expect("replay lock");
            s.position = last;
            s.processed += handled;
            s.queued += per_target.iter().flatten().sum::<u64>();
            serde_json::to_vec(&*s).expect("replays serialize")
        };
        if let Err(e) = store.commit(wb) {
            finish(
                &store,
                &bus,
                &replay,
                ReplayState::Failed,
                Some(e.to_string()),
            );
            return;
        }
        let _ = store.put_record(Records::Schemas, &record_key(bus.id, &id), &record);
        // Replayed keys carry old seqs: the target workers re-read.
        for ((_, targets), counts) in rules.iter().zip(per_target) {
            for (t, n) in targets.iter().zip(counts) {
                if n > 0 {
                    t.rewound(n);
                }
            }
        }
        // Pace: never run ahead of `rate` events per second.
        sent += handled;
        let due = Duration::from_secs_f64(sent as f64 / rate.max(1.0));
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    let state = *control.borrow();
    if state == ReplayState::Cancelled {
        finish(&store, &bus, &replay, ReplayState::Cancelled, None);
    }
}

fn finish(store: &Store, bus: &Bus, replay: &Replay, state: ReplayState, error: Option<String>) {
    let record = {
        let mut s = replay.status.lock().expect("replay lock");
        s.state = state;
        s.error = error;
        s.finished_at = Some(format_rfc3339_micros(now_micros()));
        serde_json::to_vec(&*s).expect("replays serialize")
    };
    let id = replay.status.lock().expect("replay lock").id.clone();
    if let Err(error) = store.put_record(Records::Schemas, &record_key(bus.id, &id), &record) {
        tracing::error!(%error, "Cannot record a replay's state.");
    }
    let _ = replay.control.send(state);
}
