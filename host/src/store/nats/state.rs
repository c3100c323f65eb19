//! Rules' positions, delivery queues, dead letters and traces on JetStream.
//!
//! A queued delivery is one message on its own subject of `SB_QUEUE`
//! (`q.<bus>.<rule hex>.<target hex>.<seq>.<sub>`); the stream keeps one
//! message per subject, so storing a delivery again (one more attempt)
//! replaces it, and removing it publishes an empty tombstone that expires by
//! itself (a per-message TTL). Dead letters live in `SB_DEAD` the same way.
//!
//! JetStream has no ordered scan of subjects, so the node that runs a
//! target keeps the keys of its queue in memory (an [`Index`], a few dozen
//! bytes per delivery, not the events): built by one headers-only scan when
//! the target's worker starts ([`DeliveryQueue::count_deliveries`] is called
//! then) and kept up to date by this node's own writes. Pages are then read
//! by subject, so an entry rewritten by another node is still read fresh.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use super::log::read_range;
use super::{NatsStore, err};
use crate::store::queue::{Batch, DeadLetter, DeadLetterPage, Delivery, DeliveryKey, Op, RuleGaps};
use crate::store::rocks::codec;
use crate::store::{
    BoxFuture, BusId, DeliveryQueue, RuleProgress, Seq, StoreError, TraceStep, Traces,
};

/// (bus, rule, target).
pub(super) type TargetKey = (BusId, String, String);

/// The keys of one target's queued deliveries.
#[derive(Default)]
pub(super) struct Index {
    loaded: bool,
    keys: BTreeSet<(Seq, u32)>,
}

/// How long a tombstone stays (long enough for any reader that saw the
/// entry to see its removal).
const TOMBSTONE_TTL: &str = "60s";

/// Parallel requests a page read keeps in flight.
const PAGE_FETCH: usize = 32;

fn rule_prefix(kind: &str, bus: BusId, rule: &str) -> String {
    format!("{kind}.{bus}.{}", hex::encode(rule))
}

fn target_prefix(kind: &str, bus: BusId, rule: &str, target: &str) -> String {
    format!("{}.{}", rule_prefix(kind, bus, rule), hex::encode(target))
}

fn subject(kind: &str, key: &DeliveryKey) -> String {
    format!(
        "{}.{}.{}",
        target_prefix(kind, key.bus, &key.rule, &key.target),
        key.seq,
        key.sub
    )
}

/// A key back from a subject.
fn parse_subject(s: &str) -> Option<DeliveryKey> {
    let mut parts = s.split('.');
    let _kind = parts.next()?;
    let bus = parts.next()?.parse().ok()?;
    let rule = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
    let target = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
    let seq = parts.next()?.parse().ok()?;
    let sub = parts.next()?.parse().ok()?;
    Some(DeliveryKey {
        bus,
        rule,
        target,
        seq,
        sub,
    })
}

fn cursor_key(bus: BusId, rule: &str) -> String {
    format!("c.{bus}.{}", hex::encode(rule))
}

fn gaps_key(bus: BusId, rule: &str) -> String {
    format!("g.{bus}.{}", hex::encode(rule))
}

fn tombstone() -> async_nats::HeaderMap {
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-TTL", TOMBSTONE_TTL);
    h
}

/// Whether a headers-only message stood for an empty payload.
fn is_empty(msg: &async_nats::jetstream::Message) -> bool {
    match &msg.headers {
        Some(h) => h.get("Nats-Msg-Size").is_some_and(|v| v.as_str() == "0"),
        None => msg.payload.is_empty(),
    }
}

impl NatsStore {
    fn index(&self, key: &TargetKey) -> Arc<tokio::sync::Mutex<Index>> {
        self.inner
            .indexes
            .lock()
            .expect("index lock")
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// Scans a target's queue (headers only) into its index.
    async fn load_index(&self, key: &TargetKey, index: &mut Index) -> Result<(), StoreError> {
        let prefix = target_prefix("q", key.0, &key.1, &key.2);
        index.keys.clear();
        for m in self
            .scan(&self.inner.queue, format!("{prefix}.>"), true)
            .await?
        {
            if !is_empty(&m)
                && let Some(k) = parse_subject(&m.subject)
            {
                index.keys.insert((k.seq, k.sub));
            }
        }
        index.loaded = true;
        Ok(())
    }

    /// Every live message under `filter` (the last per subject).
    async fn scan(
        &self,
        s: &async_nats::jetstream::stream::Stream,
        filter: String,
        headers_only: bool,
    ) -> Result<Vec<async_nats::jetstream::Message>, StoreError> {
        // An ordered consumer with nothing to deliver would wait: check
        // first that something matches.
        if !any_under(s, &filter).await? {
            return Ok(Vec::new());
        }
        read_range(
            s,
            Some(filter),
            DeliverPolicy::LastPerSubject,
            headers_only,
            usize::MAX,
            usize::MAX,
            Duration::from_secs(2),
        )
        .await
    }

    /// Deletes everything kept for a bus (it was deleted).
    pub(super) async fn delete_bus_state(&self, bus: BusId) -> Result<(), StoreError> {
        for (s, kind) in [
            (&self.inner.queue, "q"),
            (&self.inner.dead, "d"),
            (&self.inner.traces, "t"),
        ] {
            s.purge()
                .filter(format!("{kind}.{bus}.>"))
                .await
                .map_err(|e| err("cannot purge a bus's state", e))?;
        }
        self.inner
            .indexes
            .lock()
            .expect("index lock")
            .retain(|k, _| k.0 != bus);
        let prefix_c = format!("c.{bus}.");
        let prefix_g = format!("g.{bus}.");
        let keys: Vec<String> = self
            .inner
            .state
            .keys()
            .await
            .map_err(|e| err("cannot list state keys", e))?
            .try_collect()
            .await
            .map_err(|e| err("cannot list state keys", e))?;
        for k in keys
            .iter()
            .filter(|k| k.starts_with(&prefix_c) || k.starts_with(&prefix_g))
        {
            let _ = self.inner.state.purge(k).await;
        }
        self.delete_bus_records(bus).await
    }

    async fn publish(
        &self,
        subject: String,
        headers: Option<async_nats::HeaderMap>,
        payload: Bytes,
    ) -> Result<async_nats::jetstream::context::PublishAckFuture, StoreError> {
        let js = &self.inner.js;
        let r = match headers {
            Some(h) => js.publish_with_headers(subject, h, payload).await,
            None => js.publish(subject, payload).await,
        };
        r.map_err(|e| err("cannot publish to JetStream", e))
    }
}

/// Whether any message is stored under `filter`. Only "not found" means
/// no: an unreachable server is an error, never an empty answer.
async fn any_under(
    s: &async_nats::jetstream::stream::Stream,
    filter: &str,
) -> Result<bool, StoreError> {
    match s.direct_get_next_for_subject(filter, None).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound => {
            Ok(false)
        }
        Err(e) => Err(err("cannot read a stream", e)),
    }
}

async fn acked(
    acks: Vec<async_nats::jetstream::context::PublishAckFuture>,
) -> Result<(), StoreError> {
    for a in acks {
        a.await
            .map_err(|e| err("JetStream did not acknowledge a write", e))?;
    }
    Ok(())
}

impl RuleProgress for NatsStore {
    fn cursor<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<Option<Seq>, StoreError>> {
        Box::pin(async move {
            let v = self.kv_get(super::STATE, &cursor_key(bus, rule)).await?;
            Ok(v.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()))
        })
    }

    fn gaps<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<RuleGaps, StoreError>> {
        Box::pin(async move {
            let v = self.kv_get(super::STATE, &gaps_key(bus, rule)).await?;
            Ok(v.and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default())
        })
    }

    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if self.inner.closed.load(std::sync::atomic::Ordering::Acquire) {
                return Err(StoreError::Closed);
            }
            // Puts, then removals, then positions: see the module docs of
            // `super` for why this order keeps at-least-once.
            let mut puts = Vec::new();
            let mut removals = Vec::new();
            let mut positions = Vec::new();
            let mut added: Vec<DeliveryKey> = Vec::new();
            let mut removed: Vec<DeliveryKey> = Vec::new();
            for op in batch.into_ops() {
                match op {
                    Op::PutDelivery(d) => {
                        let mut bytes = Vec::with_capacity(d.event.size() + 64);
                        crate::store::rocks::encode_delivery_inline(&d, &mut bytes);
                        puts.push(
                            self.publish(subject("q", &d.key), None, bytes.into())
                                .await?,
                        );
                        added.push(d.key.clone());
                    }
                    Op::PutDeadLetter(key, dl) => {
                        let bytes = serde_json::to_vec(&dl).map_err(|e| err("dead letter", e))?;
                        puts.push(self.publish(subject("d", &key), None, bytes.into()).await?);
                    }
                    Op::PutTrace { bus, seq, at, json } => {
                        // {"at": at, "step": step}, the step already JSON.
                        let mut bytes = Vec::with_capacity(json.len() + 32);
                        bytes.extend_from_slice(format!("{{\"at\":{at},\"step\":").as_bytes());
                        bytes.extend_from_slice(&json);
                        bytes.push(b'}');
                        puts.push(
                            self.publish(format!("t.{bus}.{seq}"), None, bytes.into())
                                .await?,
                        );
                    }
                    Op::RemoveDelivery(key) => {
                        removals.push(subject("q", &key));
                        removed.push(key);
                    }
                    Op::RemoveDeadLetter(key) => removals.push(subject("d", &key)),
                    Op::SetCursor { bus, rule, seq } => {
                        positions.push((cursor_key(bus, &rule), Bytes::from(seq.to_string())))
                    }
                    Op::SetGaps { bus, rule, gaps } => positions.push((
                        gaps_key(bus, &rule),
                        serde_json::to_vec(&gaps)
                            .map_err(|e| err("gaps", e))?
                            .into(),
                    )),
                }
            }
            acked(puts).await?;
            let mut acks = Vec::with_capacity(removals.len());
            for s in removals {
                acks.push(self.publish(s, Some(tombstone()), Bytes::new()).await?);
            }
            acked(acks).await?;
            for (k, v) in positions {
                self.inner
                    .state
                    .put(k, v)
                    .await
                    .map_err(|e| err("cannot store a rule's position", e))?;
            }
            for k in added {
                let idx = self.index(&(k.bus, k.rule, k.target));
                let mut idx = idx.lock().await;
                if idx.loaded {
                    idx.keys.insert((k.seq, k.sub));
                }
            }
            for k in removed {
                let idx = self.index(&(k.bus, k.rule, k.target));
                idx.lock().await.keys.remove(&(k.seq, k.sub));
            }
            Ok(())
        })
    }

    fn delete_rule_state<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let _ = self.inner.state.purge(cursor_key(bus, rule)).await;
            let _ = self.inner.state.purge(gaps_key(bus, rule)).await;
            for (s, kind) in [(&self.inner.queue, "q"), (&self.inner.dead, "d")] {
                s.purge()
                    .filter(format!("{}.>", rule_prefix(kind, bus, rule)))
                    .await
                    .map_err(|e| err("cannot purge a rule's state", e))?;
            }
            self.inner
                .indexes
                .lock()
                .expect("index lock")
                .retain(|k, _| !(k.0 == bus && k.1 == rule));
            Ok(())
        })
    }
}

impl DeliveryQueue for NatsStore {
    fn deliveries<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
        after: Option<(Seq, u32)>,
        limit: usize,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<(Vec<Delivery>, bool), StoreError>> {
        Box::pin(async move {
            let tk = (bus, rule.to_owned(), target.to_owned());
            let idx = self.index(&tk);
            let keys: Vec<(Seq, u32)> = {
                let mut idx = idx.lock().await;
                if !idx.loaded {
                    self.load_index(&tk, &mut idx).await?;
                }
                let from = match after {
                    Some(a) => std::ops::Bound::Excluded(a),
                    None => std::ops::Bound::Unbounded,
                };
                idx.keys
                    .range((from, std::ops::Bound::Unbounded))
                    .take(limit)
                    .copied()
                    .collect()
            };
            let prefix = target_prefix("q", bus, rule, target);
            let q = &self.inner.queue;
            let mut fetched = futures_util::stream::iter(keys.into_iter().map(|(seq, sub)| {
                let s = format!("{prefix}.{seq}.{sub}");
                async move { (seq, sub, q.direct_get_last_for_subject(s).await) }
            }))
            .buffered(PAGE_FETCH);
            let mut out = Vec::new();
            let mut bytes = 0;
            let mut by_bytes = false;
            while let Some((seq, sub, m)) = fetched.next().await {
                let m = match m {
                    Ok(m) => m,
                    Err(e)
                        if e.kind()
                            == async_nats::jetstream::stream::DirectGetErrorKind::NotFound =>
                    {
                        // Removed meanwhile (another node, or a stale index).
                        idx.lock().await.keys.remove(&(seq, sub));
                        continue;
                    }
                    // Anything else (a NATS server down, a timeout) says
                    // nothing about the delivery: the worker reads again.
                    Err(e) => return Err(err("cannot read a queued delivery", e)),
                };
                if m.payload.is_empty() {
                    idx.lock().await.keys.remove(&(seq, sub));
                    continue;
                }
                let key = DeliveryKey {
                    bus,
                    rule: rule.to_owned(),
                    target: target.to_owned(),
                    seq,
                    sub,
                };
                let d = crate::store::rocks::decode_delivery_inline(key, &m.payload)?;
                bytes += d.approx_bytes();
                out.push(d);
                if bytes >= max_bytes {
                    by_bytes = true;
                    break;
                }
            }
            Ok((out, by_bytes))
        })
    }

    fn count_deliveries<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            // Called when a target's worker starts: (re)build its index, as
            // another node may have run it until now.
            let tk = (bus, rule.to_owned(), target.to_owned());
            let idx = self.index(&tk);
            let mut idx = idx.lock().await;
            self.load_index(&tk, &mut idx).await?;
            Ok(idx.keys.len() as u64)
        })
    }

    fn dead_letter_page<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: Option<&'a str>,
        after: Option<&'a DeliveryKey>,
        limit: usize,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<(DeadLetterPage, bool), StoreError>> {
        Box::pin(async move {
            let prefix = match target {
                Some(t) => target_prefix("d", bus, rule, t),
                None => rule_prefix("d", bus, rule),
            };
            let mut letters: BTreeMap<DeliveryKey, Bytes> = BTreeMap::new();
            for m in self
                .scan(&self.inner.dead, format!("{prefix}.>"), false)
                .await?
            {
                if m.payload.is_empty() {
                    continue;
                }
                if let Some(k) = parse_subject(&m.subject)
                    && after.is_none_or(|a| &k > a)
                {
                    letters.insert(k, m.payload.clone());
                }
            }
            let mut page = Vec::new();
            let mut bytes = 0;
            let total = letters.len();
            for (k, v) in letters {
                if page.len() >= limit || (bytes >= max_bytes && !page.is_empty()) {
                    break;
                }
                bytes += v.len();
                let dl = serde_json::from_slice::<DeadLetter>(&v)
                    .map_err(|_| codec::DecodeError("bad dead letter"));
                page.push((k, dl));
            }
            let more = page.len() < total;
            Ok((page, more))
        })
    }

    fn count_dead_letters<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let prefix = target_prefix("d", bus, rule, target);
            let n = self
                .scan(&self.inner.dead, format!("{prefix}.>"), true)
                .await?
                .iter()
                .filter(|m| !is_empty(m))
                .count();
            Ok(n as u64)
        })
    }

    fn purge_dead_letters<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let prefix = match target {
                Some(t) => target_prefix("d", bus, rule, t),
                None => rule_prefix("d", bus, rule),
            };
            let n = self
                .scan(&self.inner.dead, format!("{prefix}.>"), true)
                .await?
                .iter()
                .filter(|m| !is_empty(m))
                .count();
            self.inner
                .dead
                .purge()
                .filter(format!("{prefix}.>"))
                .await
                .map_err(|e| err("cannot purge dead letters", e))?;
            Ok(n as u64)
        })
    }

    fn delete_target_state<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            for (s, kind) in [(&self.inner.queue, "q"), (&self.inner.dead, "d")] {
                s.purge()
                    .filter(format!("{}.>", target_prefix(kind, bus, rule, target)))
                    .await
                    .map_err(|e| err("cannot purge a target's state", e))?;
            }
            self.inner.indexes.lock().expect("index lock").remove(&(
                bus,
                rule.to_owned(),
                target.to_owned(),
            ));
            Ok(())
        })
    }
}

impl Traces for NatsStore {
    fn trace(&self, bus: BusId, seq: Seq) -> BoxFuture<'_, Result<Vec<TraceStep>, StoreError>> {
        Box::pin(async move {
            let filter = format!("t.{bus}.{seq}");
            if !any_under(&self.inner.traces, &filter).await? {
                return Ok(Vec::new());
            }
            let msgs = read_range(
                &self.inner.traces,
                Some(filter),
                DeliverPolicy::All,
                false,
                10_000,
                8 << 20,
                Duration::from_secs(2),
            )
            .await?;
            let mut steps: Vec<(i64, TraceStep)> = msgs
                .iter()
                .filter_map(|m| {
                    let v: serde_json::Value = serde_json::from_slice(&m.payload).ok()?;
                    let at = v.get("at")?.as_i64()?;
                    let step = serde_json::from_value(v.get("step")?.clone()).ok()?;
                    Some((at, step))
                })
                .collect();
            steps.sort_by_key(|(at, _)| *at);
            Ok(steps.into_iter().map(|(_, s)| s).collect())
        })
    }
}
