//! The rule worker: one per enabled rule.
//!
//! A worker owns the rule's cursor — the last event the rule has fully
//! handled. It takes matching events from the dispatcher while attached, or
//! reads and matches the log itself while catching up (see
//! [`super::dispatch`]). For each matching event it runs the rule's plugin
//! chain (filters, then the transform), then writes one delivery per
//! resulting event and target, the trace of what happened, and the new
//! cursor, all in one atomic batch. Then it wakes the targets' workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, json};
use tokio::sync::{mpsc, oneshot, watch};

use super::dispatch::{self, INBOX, Work};
use super::rule::CompiledRule;
use crate::chain::{ChainResult, StepReport};
use crate::deliver::worker::TargetHandle;
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::matching::RuleSet;
use crate::metrics::{Counter, METRICS};
use crate::pattern::RuleId;
use crate::store::queue::{Delivery, DeliveryKey, Gap, RuleGaps, TraceStep};
use crate::store::{Bus, Seq, Store, StoredEvent};

/// Events read per catch-up step.
const CATCH_UP_BATCH: usize = 256;

/// A cursor that only moved over non-matching events is persisted at most
/// this often (its exact value is not critical: re-reading a few events
/// after a crash is harmless).
const IDLE_CURSOR_PERIOD: Duration = Duration::from_secs(1);

/// A rule's progress as last committed: its cursor and gaps, shared with
/// the rule's status and metrics so they never read the store.
#[derive(Debug, Default)]
pub struct Position {
    cursor: AtomicU64,
    gaps: Mutex<RuleGaps>,
}

impl Position {
    /// Progress as loaded from the store.
    pub fn new(cursor: Seq, gaps: RuleGaps) -> Position {
        Position {
            cursor: AtomicU64::new(cursor),
            gaps: Mutex::new(gaps),
        }
    }

    /// The last seq the rule has fully handled (and committed).
    pub fn cursor(&self) -> Seq {
        self.cursor.load(Ordering::Relaxed)
    }

    /// What the rule missed to retention.
    pub fn gaps(&self) -> RuleGaps {
        self.gaps.lock().expect("gaps lock").clone()
    }

    fn committed(&self, cursor: Seq, gaps: Option<&RuleGaps>) {
        self.cursor.store(cursor, Ordering::Relaxed);
        if let Some(g) = gaps {
            *self.gaps.lock().expect("gaps lock") = g.clone();
        }
    }
}

/// Metric handles of one rule.
struct RuleCounters {
    matched: Arc<Counter>,
    filtered: Arc<Counter>,
    errors: Arc<Counter>,
    expired: Arc<Counter>,
}

/// Events the rule missed because retention deleted them first: counted in
/// its status (persisted with its cursor), its metrics, the log, and the
/// trace of the next event it handles.
struct Gaps {
    recorded: RuleGaps,
    /// Changed since last persisted.
    dirty: bool,
    /// Not yet noted in a trace: (from, to).
    untraced: Option<(Seq, Seq)>,
}

impl Gaps {
    fn note(&mut self, rule: &CompiledRule, counter: &Counter, from: Seq, to: Seq) {
        let n = to - from + 1;
        tracing::warn!(rule = %rule.name, from, to, "Events expired before the rule handled them; the rule skips them.");
        counter.add(n);
        self.recorded.expired_events += n;
        self.recorded.last = Some(Gap {
            from,
            to,
            detected_at: format_rfc3339_micros(now_micros()),
        });
        self.dirty = true;
        self.untraced = Some(match self.untraced {
            Some((f, _)) => (f, to),
            None => (from, to),
        });
    }
}

/// Runs a rule worker until `shutdown` fires.
#[allow(
    clippy::too_many_arguments,
    reason = "the worker's whole context, spelled out once"
)]
pub async fn run(
    store: Store,
    bus: Arc<Bus>,
    id: RuleId,
    rule: Arc<CompiledRule>,
    targets: Arc<Vec<TargetHandle>>,
    dispatcher: mpsc::Sender<dispatch::Command>,
    position: Arc<Position>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut cursor = position.cursor();
    // Catching up, the worker selects events itself, exactly as the
    // dispatcher would.
    let mut selector = RuleSet::single(rule.pattern.as_ref(), rule.cesql.as_ref());
    let mut inbox: Option<mpsc::Receiver<Work>> = None;
    let mut committed = bus.subscribe();
    let mut persisted = cursor;
    let mut last_persist = Instant::now();
    let labels = [("bus", bus.name.as_str()), ("rule", rule.name.as_str())];
    let counters = RuleCounters {
        matched: METRICS.rule_matched.get(&labels),
        filtered: METRICS.rule_filtered.get(&labels),
        errors: METRICS.rule_plugin_errors.get(&labels),
        expired: METRICS.rule_expired.get(&labels),
    };
    let mut gaps = Gaps {
        recorded: position.gaps(),
        dirty: false,
        untraced: None,
    };
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (events, upto) = match &mut inbox {
            None => {
                // The head before the read: an empty read then means the
                // events up to it expired, not that none were written.
                let head = bus.last_seq();
                let batch = match store.read(&bus, cursor, CATCH_UP_BATCH).await {
                    Ok(b) => b,
                    Err(error) => {
                        tracing::error!(rule = %rule.name, %error, "Rule worker cannot read the bus.");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let gap_to = batch.first().map_or(head, |e| e.seq - 1);
                if gap_to > cursor {
                    gaps.note(&rule, &counters.expired, cursor + 1, gap_to);
                    if batch.is_empty() {
                        cursor = gap_to;
                        let mut b = store.batch();
                        b.set_cursor(bus.id, &rule.name, cursor);
                        b.set_rule_gaps(bus.id, &rule.name, &gaps.recorded);
                        if store.commit(b).await.is_ok() {
                            persisted = cursor;
                            gaps.dirty = false;
                            position.committed(cursor, Some(&gaps.recorded));
                        }
                        continue;
                    }
                }
                if batch.is_empty() {
                    // Caught up: ask to attach, or wait for new events.
                    let (tx, rx) = mpsc::channel(INBOX);
                    let (reply, answer) = oneshot::channel();
                    let asked = dispatcher
                        .send(dispatch::Command::Attach {
                            id,
                            cursor,
                            inbox: tx,
                            reply,
                        })
                        .await
                        .is_ok();
                    if asked && answer.await.unwrap_or(false) {
                        inbox = Some(rx);
                        continue;
                    }
                    // Events may have been appended while we asked.
                    committed.borrow_and_update();
                    if bus.last_seq() > cursor {
                        continue;
                    }
                    tokio::select! {
                        _ = committed.changed() => {}
                        _ = shutdown.changed() => {}
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                    continue;
                }
                let upto = batch.last().map_or(cursor, |e| e.seq);
                let matched: Vec<Arc<StoredEvent>> = batch
                    .into_iter()
                    .filter(|e| selector.selects(&e.event))
                    .map(Arc::new)
                    .collect();
                (matched, upto)
            }
            Some(rx) => {
                let first = tokio::select! {
                    m = rx.recv() => m,
                    _ = shutdown.changed() => continue,
                };
                let Some(first) = first else {
                    // Detached by the dispatcher: catch up from the cursor.
                    inbox = None;
                    continue;
                };
                let mut events = Vec::new();
                let mut upto = cursor;
                let mut next = Some(first);
                while let Some(w) = next.take() {
                    match w {
                        Work::Event(e) => {
                            upto = upto.max(e.seq);
                            if e.seq > cursor {
                                events.push(e);
                            }
                        }
                        Work::Progress(p) => upto = upto.max(p),
                        Work::Gap { from, to } => {
                            if to > cursor {
                                gaps.note(&rule, &counters.expired, from.max(cursor + 1), to);
                            }
                            upto = upto.max(to);
                        }
                    }
                    if events.len() < CATCH_UP_BATCH {
                        next = rx.try_recv().ok();
                    }
                }
                (events, upto)
            }
        };
        if events.is_empty() && upto <= cursor {
            continue;
        }
        let mut batch = store.batch();
        let mut queued: Vec<Vec<Delivery>> = vec![Vec::new(); targets.len()];
        let ran = run_chains(&rule, &events).await;
        for (e, ran) in events.iter().zip(ran) {
            let now = now_micros();
            if let Some((from, to)) = gaps.untraced.take() {
                let mut detail = Map::new();
                detail.insert("missed_from".into(), json!(from));
                detail.insert("missed_to".into(), json!(to));
                detail.insert(
                    "reason".into(),
                    json!("these events expired (retention) before the rule handled them"),
                );
                let step = TraceStep {
                    at: format_rfc3339_micros(now),
                    step: "gap".into(),
                    rule: Some(rule.name.clone()),
                    target: None,
                    detail,
                };
                batch.put_trace(bus.id, e.seq, now, step);
            }
            let (step, deliveries) = handle(&rule, &targets, bus.id, e, ran);
            counters.matched.inc();
            match step.step.as_str() {
                "filtered_out" => counters.filtered.inc(),
                "failed" => counters.errors.inc(),
                _ => {}
            }
            batch.put_trace(bus.id, e.seq, now, step);
            for (i, d) in deliveries {
                batch.put_delivery(d.clone());
                queued[i].push(d);
            }
        }
        cursor = upto.max(cursor);
        let idle_only = events.is_empty();
        if !idle_only || gaps.dirty || last_persist.elapsed() >= IDLE_CURSOR_PERIOD {
            batch.set_cursor(bus.id, &rule.name, cursor);
            if gaps.dirty {
                batch.set_rule_gaps(bus.id, &rule.name, &gaps.recorded);
            }
            if let Err(error) = store.commit(batch).await {
                tracing::error!(rule = %rule.name, %error, "Cannot record rule progress; retrying from the last cursor.");
                cursor = persisted;
                inbox = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            position.committed(cursor, gaps.dirty.then_some(&gaps.recorded));
            persisted = cursor;
            gaps.dirty = false;
            last_persist = Instant::now();
            // Deliveries of this forward path only ever grow in key order,
            // so the target workers can take them without reading them back.
            for (target, fresh) in targets.iter().zip(queued) {
                target.enqueued(fresh);
            }
        }
    }
    if persisted != cursor {
        let mut batch = store.batch();
        batch.set_cursor(bus.id, &rule.name, cursor);
        if store.commit(batch).await.is_ok() {
            position.committed(cursor, None);
        }
    }
}

/// What the chain made of one event, and how long it took.
type Ran = (ChainResult, Vec<StepReport>, Duration);

/// Runs the rule's chain on each event, in event order. A chain with
/// plugins runs up to [`Chain::parallelism`] events at once, each on a task
/// of its own so that both the instances and the runtime's threads are
/// used; the results still come back in event order, so deliveries (and
/// with them ordering keys) keep the bus's order.
///
/// [`Chain::parallelism`]: crate::chain::Chain::parallelism
async fn run_chains(rule: &Arc<CompiledRule>, events: &[Arc<StoredEvent>]) -> Vec<Ran> {
    async fn run(rule: &CompiledRule, e: &Arc<StoredEvent>) -> Ran {
        let started = Instant::now();
        // Lent to the chain as it is: a lazy filter reads it in place.
        let shared: crate::event::SharedEvent = e.clone();
        let (result, report) = rule.chain.run(&shared, e.received_at).await;
        (result, report, started.elapsed())
    }
    let parallel = rule.chain.parallelism();
    if parallel <= 1 || events.len() <= 1 {
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            out.push(run(rule, e).await);
        }
        return out;
    }
    use futures_util::StreamExt as _;
    futures_util::stream::iter(events.iter().cloned().map(|e| {
        let rule = rule.clone();
        tokio::spawn(async move { run(&rule, &e).await })
    }))
    .buffered(parallel)
    .map(|joined| {
        joined.unwrap_or_else(|e| {
            let failed =
                ChainResult::Failed("chain".into(), format!("the chain's task ended: {e}"));
            (failed, Vec::new(), Duration::ZERO)
        })
    })
    .collect()
    .await
}

/// Turns what the chain made of one event into its trace step and
/// deliveries (with the index of their target).
fn handle(
    rule: &CompiledRule,
    targets: &[TargetHandle],
    bus: crate::store::BusId,
    e: &StoredEvent,
    (result, report, took): Ran,
) -> (TraceStep, Vec<(usize, Delivery)>) {
    let now = now_micros();
    let mut detail = Map::new();
    let mut deliveries = Vec::new();
    let step = match result {
        ChainResult::Deliver(out) => {
            detail.insert("outcome".into(), json!("queued"));
            detail.insert("events".into(), json!(out.len()));
            detail.insert(
                "targets".into(),
                json!(
                    targets
                        .iter()
                        .map(|t| t.target.id.clone())
                        .collect::<Vec<_>>()
                ),
            );
            let mut input_errors = Vec::new();
            for (sub, output) in out.into_iter().enumerate() {
                let (event, body, logged) = output.into_delivered(&e.event);
                let delivery = |t: &TargetHandle, event, body| {
                    let key = DeliveryKey {
                        bus,
                        rule: rule.name.clone(),
                        target: t.target.id.clone(),
                        seq: e.seq,
                        sub: sub as u32,
                    };
                    Delivery::new(key, event, logged, body, now)
                };
                let last = targets.len().saturating_sub(1);
                for (i, t) in targets.iter().enumerate() {
                    // A target's own input shapes its body; if it fails,
                    // that target gets nothing for this event (the trace
                    // says why) and the others go ahead.
                    let body = match rule.target_body(i, &event, e.received_at, body.as_ref()) {
                        Ok(b) => b,
                        Err(error) => {
                            input_errors.push(json!({"target": t.target.id, "error": error}));
                            continue;
                        }
                    };
                    // The last target takes the event itself; the others get
                    // copies (a copy is the event's strings and data again).
                    if i == last {
                        deliveries.push((i, delivery(t, event, body)));
                        break;
                    }
                    deliveries.push((i, delivery(t, event.clone(), body)));
                }
            }
            if !input_errors.is_empty() {
                detail.insert("input_errors".into(), json!(input_errors));
            }
            "matched"
        }
        ChainResult::Filtered(by) => {
            detail.insert("outcome".into(), json!("filtered_out"));
            detail.insert("by".into(), json!(by));
            "filtered_out"
        }
        ChainResult::Failed(by, error) => {
            detail.insert("outcome".into(), json!("failed"));
            detail.insert("by".into(), json!(by));
            detail.insert("error".into(), json!(error));
            "failed"
        }
    };
    detail.insert("duration_ms".into(), json!(took.as_secs_f64() * 1000.0));
    if !report.is_empty() {
        detail.insert("plugins".into(), json!(report));
    }
    (
        TraceStep {
            at: format_rfc3339_micros(now),
            step: step.into(),
            rule: Some(rule.name.clone()),
            target: None,
            detail,
        },
        deliveries,
    )
}
