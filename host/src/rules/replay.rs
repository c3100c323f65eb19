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

use super::RulesError;
use super::rule::{CompiledRule, RuleError};
use crate::chain::ChainResult;
use crate::deliver::worker::TargetHandle;
use crate::event::ExtensionValue;
use crate::event::time::{format_rfc3339_micros, now_micros, parse_rfc3339};
use crate::matching::RuleSet;
use crate::store::catalogue::{Collection, Record, Scope};
use crate::store::queue::{Delivery, DeliveryKey, TraceStep};
use crate::store::{Bus, Seq, Store};

/// Events per second a replay sends through its rules unless told otherwise.
pub const DEFAULT_RATE: f64 = 5000.0;

pub use crate::event::REPLAY_EXTENSION;

/// Replayed deliveries use `sub` numbers with this bit set (plus the
/// replay's number), so they never collide with the original delivery of
/// the same event still in a queue.
const REPLAY_SUB: u32 = 1 << 31;

/// Failed reads in a row (one second apart) that a replay waits out before
/// it fails: a cluster's leader election takes a few seconds.
const READ_RETRIES: u32 = 10;

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
    /// Only events this event pattern selects (besides each rule's own
    /// selection): an EventBridge archive's `EventPattern`.
    #[serde(default)]
    pub pattern: Option<serde_json::Value>,
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
    /// Only events this pattern selects are replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<serde_json::Value>,
}

/// A running (or finished) replay.
pub struct Replay {
    /// Its status, updated as it runs.
    pub status: Mutex<ReplayStatus>,
    /// Set to Running/Paused/Cancelled by the API.
    pub control: watch::Sender<ReplayState>,
}

impl Record for ReplayStatus {
    const COLLECTION: Collection = Collection::Replays;
}

/// Stores a replay's status (its progress survives a restart).
pub(crate) async fn save(store: &Store, bus: &Bus, status: &ReplayStatus) {
    if let Err(error) = store.put(Scope::Bus(bus.id), &status.id, status).await {
        tracing::error!(%error, replay = %status.id, "Cannot record a replay's state.");
    }
}

/// Resolves a request's range to seqs.
pub async fn resolve_range(
    store: &Store,
    bus: &Bus,
    req: &ReplayRequest,
) -> Result<(Seq, Seq), String> {
    let time = |s: &str, field: &str| parse_rfc3339(s).map_err(|e| format!("{field}: {e}"));
    // Up to every event acknowledged so far, through any node; the local
    // head serves if the log cannot be asked.
    let head = store
        .sync_head(bus)
        .await
        .unwrap_or_else(|_| bus.last_seq());
    let from = match &req.from {
        Position::Seq(s) => (*s).max(1),
        Position::Time(t) => store
            .seq_at_time(bus, time(t, "from")?)
            .await
            .map_err(|e| e.to_string())?,
    };
    let to = match &req.to {
        None => head,
        Some(Position::Seq(s)) => (*s).min(head),
        Some(Position::Time(t)) => store
            .seq_at_time(bus, time(t, "to")?)
            .await
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
    // Each rule selects replayed events exactly as it selects live ones.
    let mut selectors: Vec<RuleSet> = rules
        .iter()
        .map(|(r, _)| RuleSet::single(r.pattern.as_ref(), r.cesql.as_ref()))
        .collect();
    let (id, number, to, rate, pattern) = {
        let s = replay.status.lock().expect("replay lock");
        (
            s.id.clone(),
            s.number,
            s.to_seq,
            s.rate_per_s,
            s.pattern.clone(),
        )
    };
    // Checked when the replay was created; a stored one that no longer
    // parses selects nothing rather than everything.
    let mut filter = pattern.map(|p| {
        crate::pattern::Pattern::from_value(&p)
            .ok()
            .map(|p| RuleSet::single(Some(&p), None))
    });
    let started = Instant::now();
    let mut sent = 0u64;
    let mut read_failures = 0;
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
            finish(&store, &bus, &replay, ReplayState::Completed, None).await;
            return;
        }
        let batch = match store.read(&bus, position, 64).await {
            Ok(batch) => {
                read_failures = 0;
                batch
            }
            // The cluster's storage may be electing a leader: a few seconds
            // of failed reads are waited out before the replay fails.
            Err(e @ crate::store::StoreError::Cluster(_)) if read_failures < READ_RETRIES => {
                read_failures += 1;
                tracing::warn!(bus = %bus.name, replay = %id, error = %e, "A replay's read failed; retrying.");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.changed() => return,
                }
            }
            Err(e) => {
                finish(
                    &store,
                    &bus,
                    &replay,
                    ReplayState::Failed,
                    Some(e.to_string()),
                )
                .await;
                return;
            }
        };
        if batch.is_empty() {
            finish(&store, &bus, &replay, ReplayState::Completed, None).await;
            return;
        }
        let mut wb = store.batch();
        let mut per_target: Vec<Vec<u64>> = rules.iter().map(|(_, t)| vec![0; t.len()]).collect();
        let mut last = position;
        let mut handled = 0u64;
        for e in batch.into_iter().filter(|e| e.seq <= to) {
            last = e.seq;
            handled += 1;
            let selected = match &mut filter {
                Some(Some(f)) => f.selects(&e.event),
                Some(None) => false,
                None => true,
            };
            if !selected {
                continue;
            }
            let now = now_micros();
            let mut event = e.event.clone();
            event.set_extension(REPLAY_EXTENSION, ExtensionValue::String(id.clone()));
            let event: crate::event::SharedEvent = Arc::new(event);
            for (i, (rule, targets)) in rules.iter().enumerate() {
                if !selectors[i].selects(&e.event) {
                    continue;
                }
                let mut detail = Map::new();
                detail.insert("replay".into(), json!(id));
                let (result, report) = rule.chain.run(&event, e.received_at).await;
                if !report.is_empty() {
                    detail.insert("plugins".into(), json!(report));
                }
                let step = match result {
                    ChainResult::Deliver(outs) => {
                        detail.insert("events".into(), json!(outs.len()));
                        for (sub, output) in outs.into_iter().enumerate() {
                            // Not the logged event: it carries the replay's id.
                            let (ev, body, _) = output.into_delivered((*event).as_ref());
                            for (j, t) in targets.iter().enumerate() {
                                let Ok(body) =
                                    rule.target_body(j, &ev, e.received_at, body.as_ref())
                                else {
                                    // As live: a failing input skips its target.
                                    continue;
                                };
                                let key = DeliveryKey {
                                    bus: bus.id,
                                    rule: rule.name.clone(),
                                    target: t.target.id.clone(),
                                    seq: e.seq,
                                    sub: REPLAY_SUB
                                        | ((number & 0x7fff) << 16)
                                        | (sub as u32 & 0xffff),
                                };
                                let d = Delivery::new(key, ev.clone(), false, body, now);
                                wb.put_delivery(d);
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
                wb.put_trace(
                    bus.id,
                    e.seq,
                    now,
                    TraceStep {
                        at: format_rfc3339_micros(now),
                        step: step.into(),
                        rule: Some(rule.name.clone()),
                        target: None,
                        detail,
                    },
                );
            }
        }
        let status = {
            let mut s = replay.status.lock().expect("replay lock");
            s.position = last;
            s.processed += handled;
            s.queued += per_target.iter().flatten().sum::<u64>();
            s.clone()
        };
        if let Err(e) = store.commit(wb).await {
            finish(
                &store,
                &bus,
                &replay,
                ReplayState::Failed,
                Some(e.to_string()),
            )
            .await;
            return;
        }
        // Replayed deliveries have fixed keys, so if the server stops
        // before this, replaying the batch again queues nothing twice.
        save(&store, &bus, &status).await;
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
        finish(&store, &bus, &replay, ReplayState::Cancelled, None).await;
    }
}

async fn finish(
    store: &Store,
    bus: &Bus,
    replay: &Replay,
    state: ReplayState,
    error: Option<String>,
) {
    let status = {
        let mut s = replay.status.lock().expect("replay lock");
        s.state = state;
        s.error = error;
        s.finished_at = Some(format_rfc3339_micros(now_micros()));
        s.clone()
    };
    save(store, bus, &status).await;
    let _ = replay.control.send(state);
}

impl super::Rules {
    /// Starts a replay.
    pub async fn start_replay(
        &self,
        bus_name: &str,
        req: ReplayRequest,
    ) -> Result<ReplayStatus, RulesError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RulesError::NoBus(bus_name.to_owned()))?;
        if req.rules.is_empty() {
            return Err(RuleError::new("rules", "name at least one rule to replay into").into());
        }
        {
            let buses = self.buses.lock().await;
            for (i, name) in req.rules.iter().enumerate() {
                if !buses
                    .get(bus_name)
                    .is_some_and(|p| p.rules.contains_key(name))
                {
                    return Err(RuleError::new(
                        format!("rules[{i}]"),
                        format!("there is no rule named '{name}' on this bus"),
                    )
                    .into());
                }
            }
        }
        if let Some(p) = &req.pattern {
            crate::pattern::Pattern::from_value(p)
                .map_err(|e| RuleError::new("pattern", e.to_string()))?;
        }
        let rate = req.rate_per_s.unwrap_or(DEFAULT_RATE);
        if !(rate > 0.0 && rate <= 1e7) {
            return Err(
                RuleError::new("rate_per_s", "rate_per_s must be between 0 and 10000000").into(),
            );
        }
        let (from, to) = resolve_range(&self.store, &bus, &req)
            .await
            .map_err(|m| RuleError::new("from", m))?;
        let number = {
            let mut n = self.next_replay.lock().expect("replay counter");
            *n += 1;
            *n
        };
        let status = ReplayStatus {
            id: format!("rp-{number}"),
            number,
            bus: bus.name.clone(),
            rules: req.rules.clone(),
            from_seq: from,
            to_seq: to,
            total: to.saturating_sub(from) + u64::from(to >= from),
            processed: 0,
            position: from.saturating_sub(1),
            queued: 0,
            state: ReplayState::Running,
            rate_per_s: rate,
            created_at: format_rfc3339_micros(now_micros()),
            finished_at: None,
            error: None,
            pattern: req.pattern.clone(),
        };
        self.store
            .put(Scope::Bus(bus.id), &status.id, &status)
            .await?;
        let r = Arc::new(Replay {
            status: std::sync::Mutex::new(status.clone()),
            control: watch::channel(ReplayState::Running).0,
        });
        self.replays
            .lock()
            .expect("replays lock")
            .insert(status.id.clone(), r.clone());
        self.spawn_replay(&bus, r).await;
        Ok(status)
    }

    pub(super) async fn spawn_replay(&self, bus: &Arc<Bus>, r: Arc<Replay>) {
        let names = r.status.lock().expect("replay lock").rules.clone();
        let buses = self.buses.lock().await;
        let mut rules = Vec::new();
        if let Some(p) = buses.get(&bus.name) {
            for n in &names {
                if let Some(state) = p.rules.get(n) {
                    rules.push((state.rule.clone(), state.targets.clone()));
                }
            }
        }
        tokio::spawn(run(
            self.store.clone(),
            bus.clone(),
            r,
            rules,
            self.stop_replays.subscribe(),
        ));
    }

    /// A replay's status.
    pub fn replay(&self, id: &str) -> Option<ReplayStatus> {
        self.replays
            .lock()
            .expect("replays lock")
            .get(id)
            .map(|r| r.status.lock().expect("replay lock").clone())
    }

    /// Every replay.
    pub fn replays(&self) -> Vec<ReplayStatus> {
        let mut v: Vec<_> = self
            .replays
            .lock()
            .expect("replays lock")
            .values()
            .map(|r| r.status.lock().expect("replay lock").clone())
            .collect();
        v.sort_by_key(|s| s.number);
        v
    }

    /// Pauses, resumes or cancels a replay. Returns its status, or `None`
    /// if there is no such replay; a finished replay cannot be changed.
    pub async fn control_replay(
        &self,
        id: &str,
        to: ReplayState,
    ) -> Result<Option<ReplayStatus>, String> {
        let Some(r) = self.replays.lock().expect("replays lock").get(id).cloned() else {
            return Ok(None);
        };
        let status = {
            let mut s = r.status.lock().expect("replay lock");
            match s.state {
                ReplayState::Completed | ReplayState::Cancelled | ReplayState::Failed => {
                    return Err(format!("replay {id} has finished ({:?})", s.state).to_lowercase());
                }
                _ => {}
            }
            s.state = to;
            s.clone()
        };
        if let Some(bus) = self.store.bus(&status.bus) {
            save(&self.store, &bus, &status).await;
        }
        let _ = r.control.send(to);
        Ok(Some(status))
    }
}
