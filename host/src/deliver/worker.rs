//! The worker that drains one target's queue.
//!
//! The worker keeps a *window* of the queue's head in memory (at most
//! [`WINDOW`] deliveries, loaded in queue order) and, whenever there is
//! capacity, starts sends for deliveries that are due: up to the target's
//! concurrency, one batch each (a batch is one delivery except for
//! connectors and batch-mode HTTP targets, which take what is due up to
//! their `batch_size` and about 1 MiB). With an `ordering_key`, only the
//! oldest delivery of each key in the window may be sent, so a batch holds
//! at most one delivery per key; the rest of that key waits for it, so
//! per-key order holds even across retries — and other keys are not held up.
//!
//! Each finished send is recorded: a success removes the delivery; a
//! retryable failure stores the delivery again with one more attempt and its
//! next due time; a permanent failure, or running out of attempts or age,
//! moves it to the dead-letter queue (or drops it, if the target keeps none).
//! Every attempt is added to the event's trace. Successes are handed to
//! [`Store::record`], which writes the outcomes of every target in groups
//! soon after while the worker goes on sending; failures are committed
//! before the worker goes on.
//!
//! # Reading the queue cheaply
//!
//! A delivered entry leaves a RocksDB tombstone behind until compaction, so
//! reading "from the start of the target's queue" would step over every
//! delivery of the last minutes on each refill — at 1,000 events/s that was
//! most of the end-to-end latency. The worker therefore remembers how far it
//! has loaded (`loaded_upto`) and only ever reads after it. That is sound
//! because the rule worker appends deliveries in key (seq) order and hands
//! each committed batch straight to the worker ([`TargetHandle::enqueued`]),
//! which appends it to the window without reading the store when the window
//! already holds the whole queue. Anything that queues *older* keys — a
//! replay, a dead-letter redrive — calls [`TargetHandle::rewound`], and the
//! worker re-reads its queue from the start once.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::CompiledTarget;
use super::adaptive::Limit;
use super::retry::{RetryAction, RetryDecision};
use crate::event::json::to_json_string;
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::store::queue::{Batch, DeadLetter, Delivery, DeliveryKey, TraceStep};
use crate::store::{BusId, Store};

/// Deliveries held in memory per target.
pub const WINDOW: usize = 1024;

/// Bytes of deliveries held in memory per target (window and hand-over
/// inbox each): with 1 MiB events, 1,024 of them would be a gigabyte per
/// target, so the window also stops at this size.
pub const WINDOW_BYTES: usize = 16 << 20;

/// A window that is not the whole queue is refilled only once it has
/// drained below this: every read opens a RocksDB iterator (a merge over the
/// memtables and every level), which costs far more than decoding a few
/// hundred entries, so reads are made rare and large.
const REFILL_BELOW: usize = WINDOW / 4;
const REFILL_BELOW_BYTES: usize = WINDOW_BYTES / 4;

/// Counters a target worker exposes.
#[derive(Debug)]
pub struct TargetStats {
    /// Deliveries completed (counted once their success is written).
    pub delivered: AtomicU64,
    /// Attempts that failed.
    pub failed_attempts: AtomicU64,
    /// Deliveries moved to the dead-letter queue since the worker started.
    pub dead_lettered: AtomicU64,
    /// Letters in the dead-letter queue now (counted from the store at
    /// start, then kept up to date).
    pub dead_letters: AtomicU64,
    /// Deliveries dropped (no dead-letter queue).
    pub dropped: AtomicU64,
    /// Deliveries queued (approximate, maintained in memory).
    pub queued: AtomicU64,
    /// Bytes of deliveries the worker holds in memory now (its window).
    pub window_bytes: AtomicU64,
    /// Sends it may have in flight now (moves when the concurrency is
    /// adaptive).
    pub concurrency_limit: AtomicU64,
    /// Sum of delivery latencies (enqueue to success), µs.
    pub latency_sum_us: AtomicU64,
    /// Delivery latency (queued to delivered).
    pub latency: Arc<crate::metrics::Histogram>,
}

/// What producers hand a worker besides the store: fresh deliveries to
/// append without a read, or word that older keys were queued.
#[derive(Default)]
struct Inbox {
    /// Committed deliveries in key order, newer than anything queued before.
    fresh: Vec<Delivery>,
    /// Their size.
    fresh_bytes: usize,
    /// More were handed over than the inbox keeps; read them from the store.
    overflowed: bool,
    /// Keys older than the worker's position were queued: re-read from the
    /// start of the queue.
    rewind: bool,
}

/// A running target worker's handle.
pub struct TargetHandle {
    /// The target.
    pub target: Arc<CompiledTarget>,
    /// Counters.
    pub stats: Arc<TargetStats>,
    notify: Arc<Notify>,
    inbox: Arc<Mutex<Inbox>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TargetHandle {
    /// Starts a worker for `target` of rule `rule` on bus `bus`.
    pub fn start(
        store: Store,
        bus: (BusId, &str),
        rule: String,
        target: Arc<CompiledTarget>,
        queued: u64,
        dead_letters: u64,
    ) -> TargetHandle {
        let notify = Arc::new(Notify::new());
        let stats = Arc::new(TargetStats {
            delivered: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            dead_letters: AtomicU64::new(dead_letters),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            window_bytes: AtomicU64::new(0),
            concurrency_limit: AtomicU64::new(0),
            latency_sum_us: AtomicU64::new(0),
            latency: crate::metrics::METRICS.delivery_latency.get(&[
                ("bus", bus.1),
                ("rule", &rule),
                ("target", &target.id),
            ]),
        });
        let bus = bus.0;
        stats.queued.store(queued, Ordering::Relaxed);
        let (stop, stop_rx) = watch::channel(false);
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let worker = Worker {
            inbox: inbox.clone(),
            loaded_upto: None,
            store,
            bus,
            rule,
            target: target.clone(),
            notify: notify.clone(),
            stats: stats.clone(),
            window: VecDeque::new(),
            window_bytes: 0,
            in_flight: HashSet::new(),
            limit: if target.adaptive_concurrency {
                Limit::adaptive(target.concurrency)
            } else {
                Limit::fixed(target.concurrency)
            },
            exhausted: false,
            rng: fastrand::Rng::new(),
            recorded: None,
        };
        stats
            .concurrency_limit
            .store(worker.limit.current() as u64, Ordering::Relaxed);
        let task = tokio::spawn(worker.run(stop_rx));
        TargetHandle {
            target,
            notify,
            inbox,
            stats,
            stop,
            task,
        }
    }

    /// Tells the worker that `fresh` deliveries were committed to its queue.
    /// They must come in key order and be newer than every delivery queued
    /// for this target before (the rule worker's forward path); the worker
    /// then usually needs no read to pick them up.
    pub fn enqueued(&self, fresh: Vec<Delivery>) {
        if fresh.is_empty() {
            return;
        }
        self.stats
            .queued
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        {
            let mut inbox = self.inbox.lock().expect("target inbox poisoned");
            let bytes: usize = fresh.iter().map(Delivery::approx_bytes).sum();
            if inbox.fresh.len() + fresh.len() <= WINDOW
                && inbox.fresh_bytes + bytes <= WINDOW_BYTES
                && !inbox.overflowed
            {
                inbox.fresh.extend(fresh);
                inbox.fresh_bytes += bytes;
            } else {
                // The worker is far behind; it reads these from the store.
                inbox.fresh.clear();
                inbox.fresh_bytes = 0;
                inbox.overflowed = true;
            }
        }
        self.notify.notify_one();
    }

    /// Tells the worker that `n` deliveries were committed with keys that may
    /// be older than its position (replays, redrives): it re-reads its queue.
    pub fn rewound(&self, n: u64) {
        self.stats.queued.fetch_add(n, Ordering::Relaxed);
        self.inbox.lock().expect("target inbox poisoned").rewind = true;
        self.notify.notify_one();
    }

    /// Tells the worker's counters that `n` dead letters left the queue
    /// (redriven or purged).
    pub fn dead_letters_removed(&self, n: u64) {
        let _ = self
            .stats
            .dead_letters
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }

    /// Stops the worker after its in-flight sends finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

struct Worker {
    store: Store,
    bus: BusId,
    rule: String,
    target: Arc<CompiledTarget>,
    notify: Arc<Notify>,
    inbox: Arc<Mutex<Inbox>>,
    stats: Arc<TargetStats>,
    /// The head of the queue, in order.
    window: VecDeque<Slot>,
    /// The window's size ([`Delivery::approx_bytes`]).
    window_bytes: usize,
    /// The newest key ever loaded into the window: every queued delivery up
    /// to it is in the window (or in flight), so reads start after it.
    loaded_upto: Option<(u64, u32)>,
    /// Keys being sent now. The window's slots carry the same fact as a
    /// flag; this set survives a rewind, which clears the window, so that
    /// reloaded slots can be marked busy again.
    in_flight: HashSet<(u64, u32)>,
    /// How many sends may be in flight.
    limit: Limit,
    /// The last load reached the end of the queue.
    exhausted: bool,
    /// Jitter for backoff.
    rng: fastrand::Rng,
    /// Written once the last outcomes it recorded are.
    recorded: Option<crate::store::recorder::Recorded>,
}

type Finished = (Vec<Delivery>, super::Outcome);

/// What finished sends change in the store, split by how it is written
/// (see [`Worker::write`]).
#[derive(Default)]
struct Outcomes {
    /// Successes: recorded.
    delivered: Batch,
    /// How long each success waited in the queue (µs), counted once it is
    /// written.
    waited: Vec<u64>,
    /// Rescheduled, dead-lettered and dropped deliveries: committed.
    failed: Batch,
    /// What `failed` changes in the counters, applied once it is written.
    counts: FailureCounts,
}

/// Counter changes of failed attempts (see [`Outcomes::counts`]).
#[derive(Default)]
struct FailureCounts {
    failed_attempts: u64,
    dead_lettered: u64,
    dropped: u64,
}

/// A delivery in the window.
///
/// While it is being sent, the send owns the delivery (`d` is `None`) and
/// gives it back with the outcome: cloning every delivery into its send
/// (the event's strings and data) was about 2% of a delivery's CPU.
struct Slot {
    /// Queue position: (seq, sub).
    key: (u64, u32),
    /// The delivery, unless a send holds it.
    d: Option<Delivery>,
    /// Being sent now. Usually the same as `d.is_none()`, but a slot
    /// reloaded after a rewind holds a copy while the send still runs.
    busy: bool,
    /// When it is due (µs since the epoch).
    due: i64,
    /// Its ordering key value, when the target has an ordering key.
    ordering: Option<String>,
    /// [`Delivery::approx_bytes`], counted in the window's size.
    bytes: usize,
}

impl Slot {
    fn new(target: &CompiledTarget, d: Delivery, busy: bool) -> Slot {
        Slot {
            key: (d.key.seq, d.key.sub),
            busy,
            due: d.next_attempt_at,
            ordering: target.ordering_value(&d.event),
            bytes: d.approx_bytes(),
            d: Some(d),
        }
    }
}

impl Worker {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut running: JoinSet<Finished> = JoinSet::new();
        // One timer for the whole loop, moved only when a wake-up is needed
        // earlier than it is set for: a new timer per turn (registered, then
        // dropped) cost about 2% of a delivery's CPU. Waking early is
        // harmless (the loop just looks again).
        let idle = Duration::from_secs(3600);
        let timer = tokio::time::sleep(idle);
        tokio::pin!(timer);
        loop {
            if *stop.borrow() {
                break;
            }
            if let Err(error) = self.refill().await {
                tracing::error!(rule = %self.rule, target = %self.target.id, %error, "Cannot read the delivery queue.");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let now = now_micros();
            while running.len() < self.limit.current() {
                let Some(batch) = self.next_batch(now) else {
                    break;
                };
                self.limit.started(running.len() + 1);
                for d in &batch {
                    self.in_flight.insert((d.key.seq, d.key.sub));
                }
                let target = self.target.clone();
                let store = self.store.clone();
                running.spawn(async move {
                    let outcome = target.send(&store, &batch).await;
                    (batch, outcome)
                });
            }
            self.stats
                .window_bytes
                .store(self.window_bytes as u64, Ordering::Relaxed);
            // Sleep until a send finishes, new work arrives, the earliest
            // retry falls due, or we are asked to stop. With every send slot
            // taken only a finished send can let more go.
            let due = if running.len() < self.limit.current() {
                self.next_due(now)
            } else {
                None
            };
            let wait = due.map_or(idle, |due| {
                Duration::from_micros(u64::try_from(due - now).unwrap_or(0))
                    .max(Duration::from_millis(1))
            });
            let wake = tokio::time::Instant::now() + wait;
            if wake < timer.deadline() || timer.is_elapsed() {
                timer.as_mut().reset(wake);
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    // Record every send that has finished by now in one write.
                    let mut b = Outcomes::default();
                    if let Ok((batch, outcome)) = done {
                        self.finish(&mut b, batch, outcome);
                    }
                    while let Some(done) = running.try_join_next() {
                        if let Ok((batch, outcome)) = done {
                            self.finish(&mut b, batch, outcome);
                        }
                    }
                    self.write(b).await;
                }
                _ = self.notify.notified() => self.take_inbox(),
                _ = &mut timer => {}
                _ = stop.changed() => {}
            }
        }
        // Let in-flight sends finish and record them, then wait until every
        // outcome is written.
        while let Some(done) = running.join_next().await {
            if let Ok((batch, outcome)) = done {
                let mut b = Outcomes::default();
                self.finish(&mut b, batch, outcome);
                self.write(b).await;
            }
        }
        if let Some(last) = self.recorded.take() {
            let _ = last.await;
        }
    }

    /// Takes what producers handed over: appends fresh deliveries to the
    /// window when it holds the whole queue, else leaves them to `refill`.
    fn take_inbox(&mut self) {
        let inbox = std::mem::take(&mut *self.inbox.lock().expect("target inbox poisoned"));
        if inbox.rewind {
            // In-flight deliveries stay tracked in `in_flight`; reloading
            // them is harmless because busy keys are never sent twice.
            self.window.clear();
            self.window_bytes = 0;
            self.loaded_upto = None;
            self.exhausted = false;
            return;
        }
        if inbox.overflowed {
            self.exhausted = false;
        }
        for d in inbox.fresh {
            let key = (d.key.seq, d.key.sub);
            if self.loaded_upto.is_some_and(|upto| key <= upto) {
                // Already loaded by a read that raced with the hand-over.
                continue;
            }
            if !self.exhausted || self.window.len() >= WINDOW || self.window_bytes >= WINDOW_BYTES {
                // The window is not the whole queue: a later read finds it.
                self.exhausted = false;
                break;
            }
            self.loaded_upto = Some(key);
            let slot = Slot::new(&self.target, d, false);
            self.window_bytes += slot.bytes;
            self.window.push_back(slot);
        }
    }

    /// Loads more of the queue into the window.
    async fn refill(&mut self) -> Result<(), crate::store::StoreError> {
        if self.exhausted
            || self.window.len() >= REFILL_BELOW
            || self.window_bytes >= REFILL_BELOW_BYTES
        {
            return Ok(());
        }
        if self.loaded_upto.is_none()
            && let Some(last) = self.recorded.take()
        {
            // A read from the start of the queue must not find deliveries
            // whose success is recorded but not yet written.
            let _ = last.await;
        }
        let (more, full) = self
            .store
            .deliveries(
                self.bus,
                &self.rule,
                &self.target.id,
                self.loaded_upto,
                WINDOW - self.window.len(),
                WINDOW_BYTES - self.window_bytes,
            )
            .await?;
        self.exhausted = !full && self.window.len() + more.len() < WINDOW;
        if let Some(d) = more.last() {
            self.loaded_upto = Some((d.key.seq, d.key.sub));
        }
        for d in more {
            // After a rewind, keys still in flight come back: keep them busy.
            let busy = self.in_flight.contains(&(d.key.seq, d.key.sub));
            let slot = Slot::new(&self.target, d, busy);
            self.window_bytes += slot.bytes;
            self.window.push_back(slot);
        }
        Ok(())
    }

    /// The next batch to send: due, not in flight, and — with an ordering
    /// key — the oldest of its key; at most `batch_size` deliveries and,
    /// past the first, about [`super::http::MAX_BATCH_BYTES`].
    fn next_batch(&mut self, now: i64) -> Option<Vec<Delivery>> {
        let mut blocked: HashSet<&str> = HashSet::new();
        let mut picked: Vec<usize> = Vec::new();
        // the brackets of a batch-mode body
        let mut bytes = 2usize;
        for (i, slot) in self.window.iter().enumerate() {
            if let Some(k) = &slot.ordering {
                if blocked.contains(k.as_str()) {
                    continue;
                }
                // Later deliveries of this key wait for this one.
                blocked.insert(k);
            }
            let Some(d) = slot.d.as_ref().filter(|_| !slot.busy && slot.due <= now) else {
                continue;
            };
            bytes += self.target.batch_bytes(d);
            if !picked.is_empty() && bytes > super::http::MAX_BATCH_BYTES {
                break;
            }
            picked.push(i);
            if picked.len() >= self.target.batch_size {
                break;
            }
        }
        if picked.is_empty() {
            return None;
        }
        Some(
            picked
                .into_iter()
                .filter_map(|i| {
                    let slot = &mut self.window[i];
                    slot.busy = true;
                    slot.d.take()
                })
                .collect(),
        )
    }

    /// The earliest due time among deliveries not in flight.
    fn next_due(&self, now: i64) -> Option<i64> {
        let mut earliest = None;
        for slot in self.window.iter().filter(|s| !s.busy) {
            let due = slot.due.max(now);
            if due == now {
                // Nothing can be earlier.
                return Some(now);
            }
            earliest = Some(earliest.map_or(due, |e: i64| e.min(due)));
        }
        earliest
    }

    fn remove_from_window(&mut self, key: &DeliveryKey) {
        let key = (key.seq, key.sub);
        if let Some(pos) = self.window.iter().position(|s| s.key == key)
            && let Some(slot) = self.window.remove(pos)
        {
            self.window_bytes = self.window_bytes.saturating_sub(slot.bytes);
        }
    }

    /// Writes outcomes. Successes go to the store's recorder, which writes
    /// them with other targets' soon after, in order, while the worker goes
    /// on sending (a lost success only means a delivery is sent again after
    /// a crash). Failures are rare and are written before the worker goes
    /// on, so that a dead letter the target's counters show can already be
    /// listed, and a rescheduled delivery is stored before its next try.
    async fn write(&mut self, b: Outcomes) {
        if !b.delivered.is_empty() {
            // The counters move once the successes can be read (their trace
            // steps, the shorter queue), so what the status shows is there.
            let stats = self.stats.clone();
            let then: crate::store::recorder::Then = Box::new(move |_written| {
                let n = b.waited.len() as u64;
                stats.delivered.fetch_add(n, Ordering::Relaxed);
                stats
                    .latency_sum_us
                    .fetch_add(b.waited.iter().sum(), Ordering::Relaxed);
                for w in &b.waited {
                    stats.latency.observe(Duration::from_micros(*w));
                }
                stats.queued.fetch_sub(n, Ordering::Relaxed);
            });
            self.recorded = Some(self.store.record(b.delivered, Some(then)));
        }
        if b.failed.is_empty() {
            return;
        }
        let c = b.counts;
        self.stats
            .failed_attempts
            .fetch_add(c.failed_attempts, Ordering::Relaxed);
        match self.store.commit(b.failed).await {
            // Like successes, dead letters and drops are counted once they
            // are written: a dead letter the status counts can be listed.
            Ok(()) => {
                let s = &self.stats;
                s.dead_lettered
                    .fetch_add(c.dead_lettered, Ordering::Relaxed);
                s.dead_letters.fetch_add(c.dead_lettered, Ordering::Relaxed);
                s.dropped.fetch_add(c.dropped, Ordering::Relaxed);
                s.queued
                    .fetch_sub(c.dead_lettered + c.dropped, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::error!(rule = %self.rule, target = %self.target.id, %error, "Cannot record a failed delivery attempt; it will be retried.");
            }
        }
    }

    /// Records the outcome of a send in `b`.
    fn finish(&mut self, b: &mut Outcomes, batch: Vec<Delivery>, outcome: super::Outcome) {
        let now = now_micros();
        self.limit.finished(outcome.duration, &outcome.action);
        self.stats
            .concurrency_limit
            .store(self.limit.current() as u64, Ordering::Relaxed);
        for mut d in batch {
            self.in_flight.remove(&(d.key.seq, d.key.sub));
            let attempt = d.attempts + 1;
            let decision = match outcome.action {
                RetryAction::Delivered => Ok(None),
                RetryAction::DeadLetter => Err("permanent_error"),
                RetryAction::Retry { after } => {
                    let first = std::time::UNIX_EPOCH
                        + Duration::from_micros(u64::try_from(d.enqueued_at).unwrap_or(0));
                    match self.target.retry.decide(
                        attempt,
                        first,
                        std::time::SystemTime::now(),
                        after,
                        &mut self.rng,
                    ) {
                        RetryDecision::RetryAfter(delay) => Ok(Some(delay)),
                        RetryDecision::GiveUp(reason) => Err(reason.as_str()),
                    }
                }
            };
            let failure = match decision {
                Ok(None) => {
                    let step = DeliveredStep {
                        at: &format_rfc3339_micros(now),
                        step: "delivered",
                        rule: &self.rule,
                        target: &self.target.id,
                        detail: DeliveredDetail {
                            attempt,
                            duration_ms: outcome.duration.as_secs_f64() * 1000.0,
                            status: outcome.status,
                            sub: d.key.sub,
                        },
                    };
                    // Writing a struct that borrows is cheaper than building a
                    // TraceStep and its map for every delivery.
                    let json = serde_json::to_vec(&step).expect("a trace step serializes");
                    b.delivered.put_trace_json(self.bus, d.key.seq, now, json);
                    b.waited
                        .push(u64::try_from(now - d.enqueued_at).unwrap_or(0));
                    self.remove_from_window(&d.key);
                    b.delivered.remove_delivery(d.key);
                    continue;
                }
                Ok(Some(delay)) => Ok(delay),
                Err(reason) => Err(reason),
            };
            // A failed attempt: rescheduled, or the delivery's end.
            let mut detail = attempt_detail(attempt, &outcome, d.key.sub);
            b.counts.failed_attempts += 1;
            d.attempts = attempt;
            d.last_status = outcome.status;
            d.last_error = outcome.error_with_response();
            match failure {
                Ok(delay) => {
                    d.next_attempt_at = now + delay.as_micros() as i64;
                    detail.insert("retry_in_ms".into(), json!(delay.as_millis() as u64));
                    b.failed.put_delivery(d.clone());
                    b.failed.put_trace(
                        self.bus,
                        d.key.seq,
                        now,
                        self.step(now, "attempt_failed", detail),
                    );
                    let key = (d.key.seq, d.key.sub);
                    if let Some(w) = self.window.iter_mut().find(|w| w.key == key) {
                        let slot = Slot::new(&self.target, d, false);
                        self.window_bytes =
                            (self.window_bytes + slot.bytes).saturating_sub(w.bytes);
                        *w = slot;
                    }
                }
                Err(reason) => {
                    b.failed.remove_delivery(d.key.clone());
                    detail.insert("reason".into(), json!(reason));
                    let step = if self.target.dead_letter {
                        b.failed
                            .put_dead_letter(&d.key, dead_letter(&d, reason, now));
                        b.counts.dead_lettered += 1;
                        "dead_lettered"
                    } else {
                        b.counts.dropped += 1;
                        "dropped"
                    };
                    b.failed
                        .put_trace(self.bus, d.key.seq, now, self.step(now, step, detail));
                    self.remove_from_window(&d.key);
                }
            }
        }
    }

    fn step(&self, now: i64, step: &str, detail: Map<String, Value>) -> TraceStep {
        TraceStep {
            at: format_rfc3339_micros(now),
            step: step.into(),
            rule: Some(self.rule.clone()),
            target: Some(self.target.id.clone()),
            detail,
        }
    }
}

/// The details of a failed attempt's trace step.
fn attempt_detail(attempt: u32, outcome: &super::Outcome, sub: u32) -> Map<String, Value> {
    let mut detail = Map::new();
    detail.insert("attempt".into(), json!(attempt));
    detail.insert(
        "duration_ms".into(),
        json!(outcome.duration.as_secs_f64() * 1000.0),
    );
    if let Some(s) = outcome.status {
        detail.insert("status".into(), json!(s));
    }
    if let Some(e) = &outcome.error {
        detail.insert("error".into(), json!(e));
    }
    if let Some(r) = &outcome.response {
        detail.insert("response".into(), json!(r));
    }
    if sub > 0 {
        detail.insert("sub".into(), json!(sub));
    }
    detail
}

/// A `delivered` step as its [`TraceStep`] is written: the same members
/// in the same order (a map's keys sort), borrowed instead of copied.
#[derive(serde::Serialize)]
struct DeliveredStep<'a> {
    at: &'a str,
    step: &'static str,
    rule: &'a str,
    target: &'a str,
    detail: DeliveredDetail,
}

/// The details of a successful attempt (a success has no error or
/// response text).
#[derive(serde::Serialize)]
struct DeliveredDetail {
    attempt: u32,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "is_zero")]
    sub: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The dead-letter record for a delivery.
pub fn dead_letter(d: &Delivery, reason: &str, now: i64) -> DeadLetter {
    use base64::Engine as _;
    DeadLetter {
        rule: d.key.rule.clone(),
        target: d.key.target.clone(),
        seq: d.key.seq,
        sub: d.key.sub,
        event: serde_json::from_str(&to_json_string(&d.event)).unwrap_or(Value::Null),
        body_base64: d
            .body
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(&b.bytes)),
        body_content_type: d.body.as_ref().map(|b| b.content_type.clone()),
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error.clone(),
        reason: reason.into(),
        enqueued_at: format_rfc3339_micros(d.enqueued_at),
        dead_at: format_rfc3339_micros(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `delivered` step written from the borrowing struct reads back as
    /// the step the other outcomes build.
    #[test]
    fn delivered_steps_read_back_as_trace_steps() {
        for (status, sub) in [(Some(204), 0), (None, 0), (Some(200), 3)] {
            let outcome = super::super::Outcome {
                action: RetryAction::Delivered,
                status,
                error: None,
                response: None,
                duration: Duration::from_micros(1_234_567),
            };
            let at = format_rfc3339_micros(1_700_000_000_123_456);
            let json = serde_json::to_vec(&DeliveredStep {
                at: &at,
                step: "delivered",
                rule: "orders",
                target: "crm",
                detail: DeliveredDetail {
                    attempt: 2,
                    duration_ms: outcome.duration.as_secs_f64() * 1000.0,
                    status,
                    sub,
                },
            })
            .unwrap();
            let expected = TraceStep {
                at: at.clone(),
                step: "delivered".into(),
                rule: Some("orders".into()),
                target: Some("crm".into()),
                detail: attempt_detail(2, &outcome, sub),
            };
            assert_eq!(
                serde_json::from_slice::<TraceStep>(&json).unwrap(),
                expected
            );
            assert_eq!(
                json,
                serde_json::to_vec(&expected).unwrap(),
                "{status:?} {sub}"
            );
        }
    }
}
