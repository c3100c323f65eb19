//! Bus logs as JetStream streams.
//!
//! Each bus is a stream `SB_BUS_<id>`; an event's stream sequence is its
//! seq. Publishing waits for JetStream's acknowledgement of every event (a
//! quorum of the stream's replicas has it), so a 200 means what it means in
//! the embedded engine. With a dedup window, each event carries a
//! `Nats-Msg-Id` made from its source and id, and the stream's duplicate
//! window is the bus's: JetStream answers a duplicate with the original's
//! sequence.
//!
//! Every node follows every bus's stream with an ordered consumer (the
//! *tail*): it moves the bus's head signal, which wakes dispatchers and
//! followers on every node, and keeps the newest events (up to
//! [`TAIL_BYTES`]) in memory so that routing reads no stream. Reads further
//! back go to JetStream.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::stream;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{NatsStore, err};
use crate::event::CloudEvent;
use crate::store::rocks::codec;
use crate::store::{
    Appended, BoxFuture, Bus, BusConfig, BusId, BusLog, Lookup, READ_BYTES, Seq, StoreError,
    StoredEvent,
};

/// Bytes of recent events each node keeps per bus.
pub const TAIL_BYTES: usize = 16 << 20;

/// A bus as the catalogue keeps it (`bus.<hex name>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct BusRecord {
    pub id: BusId,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub config: BusConfig,
}

/// What a node keeps for one bus.
pub(super) struct BusEntry {
    pub bus: Arc<Bus>,
    head: watch::Sender<Seq>,
    /// The newest seq in the tail (the head may run ahead of it: a local
    /// append moves the head at once, the tail when JetStream delivers).
    tailed: watch::Sender<Seq>,
    tail: Arc<Mutex<Tail>>,
    task: tokio::task::JoinHandle<()>,
}

impl BusEntry {
    pub fn stop(self) {
        self.task.abort();
    }
}

/// The newest events of a bus, contiguous by seq.
#[derive(Default)]
struct Tail {
    events: VecDeque<StoredEvent>,
    bytes: usize,
}

pub(super) fn stream_name(id: BusId) -> String {
    format!("SB_BUS_{id}")
}

fn id_hash(id: &str) -> String {
    hex::encode(&Sha256::digest(id.as_bytes())[..8])
}

fn msg_id(event: &CloudEvent) -> String {
    let mut h = Sha256::new();
    h.update(event.source.as_bytes());
    h.update([0]);
    h.update(event.id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

pub(super) fn bus_key(name: &str) -> String {
    format!("bus.{}", hex::encode(name))
}

fn stream_config(store: &NatsStore, id: BusId, config: &BusConfig) -> stream::Config {
    let retention = Duration::from_secs(config.retention_secs.max(1));
    let dedup = config
        .dedup_window_secs
        .map_or(Duration::from_secs(120), Duration::from_secs)
        .min(retention);
    stream::Config {
        name: stream_name(id),
        subjects: vec![format!("sb.{id}.>")],
        storage: stream::StorageType::File,
        num_replicas: store.inner.opts.replicas,
        max_age: retention,
        duplicate_window: dedup,
        allow_direct: true,
        max_consumers: -1,
        ..Default::default()
    }
}

impl NatsStore {
    /// Loads every bus from the catalogue and starts following it.
    pub(super) async fn load_buses(&self) -> Result<(), StoreError> {
        let keys = self.catalogue_keys("bus.").await?;
        for key in keys {
            if let Some(bytes) = self.kv_get(super::CATALOGUE, &key).await? {
                let record: BusRecord = serde_json::from_slice(&bytes)
                    .map_err(|e| err("cannot decode a bus record", e))?;
                self.open_bus(record).await?;
            }
        }
        Ok(())
    }

    /// Starts (or refreshes) a bus from its record.
    pub(super) async fn open_bus(&self, record: BusRecord) -> Result<Arc<Bus>, StoreError> {
        let known = self
            .inner
            .buses
            .read()
            .expect("buses lock")
            .get(&record.name)
            .filter(|e| e.bus.id == record.id)
            .map(|e| e.head.subscribe());
        if let Some(head) = known {
            // Same bus, new settings: keep its tail and head.
            let bus = Arc::new(Bus::new(
                record.name.clone(),
                record.id,
                record.created_at,
                record.updated_at,
                record.config.clone(),
                head,
            ));
            let mut buses = self.inner.buses.write().expect("buses lock");
            if let Some(e) = buses.get_mut(&record.name) {
                e.bus = bus.clone();
            }
            return Ok(bus);
        }
        let mut s = self
            .inner
            .js
            .get_stream(stream_name(record.id))
            .await
            .map_err(|e| err(&format!("cannot open the log of bus '{}'", record.name), e))?;
        let last = s
            .info()
            .await
            .map_err(|e| err("cannot read a bus's log", e))?
            .state
            .last_sequence;
        let (head, rx) = watch::channel(last);
        let bus = Arc::new(Bus::new(
            record.name.clone(),
            record.id,
            record.created_at,
            record.updated_at,
            record.config.clone(),
            rx,
        ));
        let tail = Arc::new(Mutex::new(Tail::default()));
        let (tailed, _) = watch::channel(last);
        let task = tokio::spawn(follow(
            s,
            last,
            head.clone(),
            tailed.clone(),
            tail.clone(),
            self.stopped(),
        ));
        let old = self.inner.buses.write().expect("buses lock").insert(
            record.name.clone(),
            BusEntry {
                bus: bus.clone(),
                head,
                tailed,
                tail,
                task,
            },
        );
        if let Some(old) = old {
            old.stop();
        }
        Ok(bus)
    }

    /// Forgets a bus deleted elsewhere.
    pub(super) fn drop_bus(&self, name: &str) {
        if let Some(e) = self.inner.buses.write().expect("buses lock").remove(name) {
            e.stop();
        }
    }

    async fn next_bus_id(&self) -> Result<BusId, StoreError> {
        let kv = &self.inner.state;
        loop {
            match kv
                .entry("bus_id")
                .await
                .map_err(|e| err("cannot read the bus counter", e))?
            {
                None => {
                    if kv.create("bus_id", "1".into()).await.is_ok() {
                        return Ok(1);
                    }
                }
                Some(e) => {
                    let n: BusId = std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| err("bus counter", "not a number"))?;
                    let next = n + 1;
                    if kv
                        .update("bus_id", next.to_string().into(), e.revision)
                        .await
                        .is_ok()
                    {
                        return Ok(next);
                    }
                }
            }
        }
    }

    /// Runs `f` on this node's entry for `bus` (the same name and id), if
    /// this node follows it.
    fn with_entry<R>(&self, bus: &Bus, f: impl FnOnce(&BusEntry) -> R) -> Option<R> {
        self.inner
            .buses
            .read()
            .expect("buses lock")
            .get(&bus.name)
            .filter(|e| e.bus.id == bus.id)
            .map(f)
    }

    /// Up to `limit` events after `after` from the tail, if the tail holds
    /// a whole answer: one that reaches `to` (the head the caller knows of),
    /// `limit` or [`READ_BYTES`]. A shorter one would hide events the head
    /// says are there.
    fn tail_read(&self, bus: &Bus, after: Seq, limit: usize, to: Seq) -> Option<Vec<StoredEvent>> {
        let tail = self.with_entry(bus, |e| e.tail.clone())?;
        let tail = tail.lock().expect("tail lock");
        let first = tail.events.front()?.seq;
        let last = tail.events.back()?.seq;
        if after + 1 < first || after >= last {
            return None;
        }
        let start = tail.events.partition_point(|e| e.seq <= after);
        let mut out = Vec::new();
        let mut bytes = 0;
        for e in tail.events.range(start..) {
            if out.len() >= limit || (bytes >= READ_BYTES && !out.is_empty()) {
                break;
            }
            bytes += e.event.size();
            out.push(e.clone());
        }
        let whole =
            out.len() >= limit || bytes >= READ_BYTES || out.last().is_some_and(|e| e.seq >= to);
        whole.then_some(out)
    }

    /// Up to `limit` events after `after`. With `whole`, the answer reaches
    /// the head this node knew of at the call (or `limit`, or
    /// [`READ_BYTES`]): what a listing needs. Without, a non-empty prefix
    /// from `after + 1` serves: what the workers need, who read on.
    async fn read_events(
        &self,
        bus: &Bus,
        after: Seq,
        limit: usize,
        whole: bool,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let head = bus.last_seq();
        if limit == 0 || after >= head {
            return Ok(Vec::new());
        }
        // The last seq a whole answer reaches.
        let to = if whole {
            head.min(after.saturating_add(limit as Seq))
        } else {
            after + 1
        };
        if let Some(v) = self.tail_read(bus, after, limit, to) {
            return Ok(v);
        }
        // Newer than the tail: a local append (or `sync_head`) moved the
        // head first and JetStream is delivering the events to the tail
        // now. Waiting a moment for them is far cheaper than reading the
        // stream.
        let tailed = self.with_entry(bus, |e| e.tailed.subscribe());
        if let Some(mut t) = tailed
            && *t.borrow() < to
        {
            let _ =
                tokio::time::timeout(Duration::from_millis(250), t.wait_for(|t| *t >= to)).await;
            if let Some(v) = self.tail_read(bus, after, limit, to) {
                return Ok(v);
            }
        }
        // Callers take an empty answer for events that retention deleted
        // (a gap they record and skip), so a slow or interrupted read must
        // be an error, never an empty answer.
        let s = self.stream_of(bus).await?;
        let state = s.cached_info().state.clone();
        if state.last_sequence < head {
            // Only a member that is behind answers so (while the stream has
            // no leader): an empty answer would read as a gap.
            tracing::warn!(
                bus = %bus.name,
                stream_last = state.last_sequence,
                head,
                "A bus's stream answered with a head below this node's; the read is retried."
            );
            return Err(err(
                "cannot read a bus's log",
                format!(
                    "the stream answered with seq {} as its last, below {head} (no leader at the moment?)",
                    state.last_sequence
                ),
            ));
        }
        let start = (after + 1).max(state.first_sequence);
        if state.messages == 0 || start > state.last_sequence {
            return Ok(Vec::new());
        }
        let to = if whole {
            state
                .last_sequence
                .min((start - 1).saturating_add(limit as Seq))
        } else {
            start
        };
        // The read's consumer may sit on a replica a moment behind the
        // leader, which ends the read early: read on from there, a few
        // times.
        let (mut out, mut bytes, mut from) = (Vec::new(), 0, start);
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
            let msgs = read_range(
                &s,
                None,
                DeliverPolicy::ByStartSequence {
                    start_sequence: from,
                },
                false,
                limit - out.len(),
                READ_BYTES - bytes,
                Duration::from_secs(5),
            )
            .await?;
            match msgs.first().map(|m| m.info().map(|i| i.stream_sequence)) {
                Some(Ok(first)) if first == from => {}
                _ => {
                    return Err(err(
                        "cannot read a bus's log",
                        format!("the read from seq {from} came back incomplete"),
                    ));
                }
            }
            for m in &msgs {
                bytes += m.payload.len();
                out.push(decode(m)?);
            }
            let last = out.last().map_or(0, |e: &StoredEvent| e.seq);
            if last >= to || out.len() >= limit || bytes >= READ_BYTES {
                return Ok(out);
            }
            from = last + 1;
        }
        Err(err(
            "cannot read a bus's log",
            format!("the read from seq {start} ended at {} of {to}", from - 1),
        ))
    }

    /// The bus's stream, with its info as the stream's leader gave it.
    async fn stream_of(&self, bus: &Bus) -> Result<stream::Stream, StoreError> {
        self.stream_of_id(&bus.name, bus.id).await
    }

    async fn stream_of_id(&self, name: &str, id: BusId) -> Result<stream::Stream, StoreError> {
        self.inner
            .js
            .get_stream(stream_name(id))
            .await
            .map_err(|e| match e.kind() {
                // Only a stream that is not there is a bus that is not:
                // a timeout or an election is the cluster's trouble (503).
                async_nats::jetstream::context::GetStreamErrorKind::JetStream(j)
                    if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    StoreError::BusNotFound(name.to_owned())
                }
                _ => err(&format!("cannot open the log of bus '{name}'"), e),
            })
    }
}

/// Follows a bus's stream from `last`: moves its head and fills its tail.
async fn follow(
    s: stream::Stream,
    mut last: Seq,
    head: watch::Sender<Seq>,
    tailed: watch::Sender<Seq>,
    tail: Arc<Mutex<Tail>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let consumer = s
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: last + 1,
                },
                ..Default::default()
            })
            .await;
        let mut messages = match consumer {
            Ok(c) => c.messages().await.ok(),
            Err(_) => None,
        };
        if let Some(m) = messages.as_mut() {
            loop {
                let next = tokio::select! {
                    n = m.next() => n,
                    _ = stop.changed() => return,
                };
                let Some(Ok(msg)) = next else { break };
                let Ok(info) = msg.info() else { continue };
                let seq = info.stream_sequence;
                match codec::decode_event(&msg.payload) {
                    Ok((event, received_at)) => {
                        let mut t = tail.lock().expect("tail lock");
                        if t.events.back().is_some_and(|b| b.seq + 1 != seq) {
                            t.events.clear();
                            t.bytes = 0;
                        }
                        t.bytes += event.size();
                        t.events.push_back(StoredEvent {
                            seq,
                            received_at,
                            event,
                        });
                        while t.bytes > super::log::TAIL_BYTES && t.events.len() > 1 {
                            let e = t.events.pop_front().expect("not empty");
                            t.bytes -= e.event.size();
                        }
                    }
                    Err(error) => {
                        tracing::error!(seq, %error, "Cannot decode an event of a bus's stream.")
                    }
                }
                last = seq;
                tailed.send_replace(seq);
                raise(&head, seq);
            }
        }
        if *stop.borrow() {
            return;
        }
        // The stream went away or the connection dropped: try again soon.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Moves a bus's head up to `seq`, never down; its watchers wake only when
/// it moved.
fn raise(head: &watch::Sender<Seq>, seq: Seq) {
    head.send_if_modified(|h| {
        let moved = seq > *h;
        *h = (*h).max(seq);
        moved
    });
}

/// Reads up to `limit` messages of `s` from `start`, in order, stopping at
/// `max_bytes` or the stream's end (the ordered consumer says how many are
/// pending). A read that waits `idle` for the next message fails.
pub(super) async fn read_range(
    s: &stream::Stream,
    filter: Option<String>,
    policy: DeliverPolicy,
    headers_only: bool,
    limit: usize,
    max_bytes: usize,
    idle: Duration,
) -> Result<Vec<async_nats::jetstream::Message>, StoreError> {
    let consumer = s
        .create_consumer(pull::OrderedConfig {
            deliver_policy: policy,
            filter_subject: filter.unwrap_or_default(),
            headers_only,
            ..Default::default()
        })
        .await
        .map_err(|e| err("cannot read a stream", e))?;
    let name = consumer.cached_info().name.clone();
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| err("cannot read a stream", e))?;
    let mut out = Vec::new();
    let mut bytes = 0;
    while out.len() < limit && bytes < max_bytes {
        // Every caller asked for messages that exist: one that does not
        // come is a failure, not the end (an empty range never gets here).
        let next = match tokio::time::timeout(idle, messages.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(err("cannot read a stream", e)),
            Ok(None) | Err(_) => {
                drop(messages);
                let _ = s.delete_consumer(&name).await;
                return Err(err("cannot read a stream", "it stopped answering"));
            }
        };
        let pending = next.info().map(|i| i.pending).unwrap_or(0);
        bytes += next.payload.len();
        out.push(next);
        if pending == 0 {
            break;
        }
    }
    drop(messages);
    // Ephemeral consumers would otherwise linger until JetStream's
    // inactivity timeout; many reads would pile them up.
    let _ = s.delete_consumer(&name).await;
    Ok(out)
}

fn decode(msg: &async_nats::jetstream::Message) -> Result<StoredEvent, StoreError> {
    let seq = msg
        .info()
        .map_err(|e| err("a stream message", e))?
        .stream_sequence;
    let (event, received_at) = codec::decode_event(&msg.payload)?;
    Ok(StoredEvent {
        seq,
        received_at,
        event,
    })
}

impl BusLog for NatsStore {
    fn bus(&self, name: &str) -> Option<Arc<Bus>> {
        self.inner
            .buses
            .read()
            .expect("buses lock")
            .get(name)
            .map(|e| e.bus.clone())
    }

    fn find_bus<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Bus>>, StoreError>> {
        Box::pin(async move {
            if let Some(bus) = self.bus(name) {
                return Ok(Some(bus));
            }
            // Perhaps created through another node a moment ago, before
            // this node's catalogue watch brought it: ask the catalogue's
            // leader. Only for names that could be a bus, and a few at a
            // time (the others wait their turn), so that a flood of
            // requests for buses that do not exist cannot load JetStream's
            // API.
            if crate::names::check(crate::names::Kind::Bus, name).is_err() {
                return Ok(None);
            }
            let _permit = self
                .inner
                .bus_misses
                .acquire()
                .await
                .map_err(|e| err("cannot look a bus up", e))?;
            let Some(bytes) = self.kv_get(super::CATALOGUE, &bus_key(name)).await? else {
                return Ok(None);
            };
            let record: BusRecord =
                serde_json::from_slice(&bytes).map_err(|e| err("cannot decode a bus record", e))?;
            // For this request only. The catalogue watch opens and follows
            // the bus; it is the one writer of this node's buses, so a bus
            // deleted meanwhile cannot come back. The head is the log's now.
            let s = self.stream_of_id(&record.name, record.id).await?;
            let (_, head) = watch::channel(s.cached_info().state.last_sequence);
            Ok(Some(Arc::new(Bus::new(
                record.name,
                record.id,
                record.created_at,
                record.updated_at,
                record.config,
                head,
            ))))
        })
    }

    fn buses(&self) -> Vec<Arc<Bus>> {
        let mut v: Vec<_> = self
            .inner
            .buses
            .read()
            .expect("buses lock")
            .values()
            .map(|e| e.bus.clone())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn default_retention(&self) -> Duration {
        self.inner.opts.default_retention
    }

    fn put_bus(
        &self,
        name: String,
        config: BusConfig,
    ) -> BoxFuture<'_, Result<(Arc<Bus>, bool), StoreError>> {
        Box::pin(async move {
            let now = crate::event::time::now_micros();
            let key = bus_key(&name);
            let existing = self
                .kv_get(super::CATALOGUE, &key)
                .await?
                .and_then(|b| serde_json::from_slice::<BusRecord>(&b).ok());
            let created = existing.is_none();
            let record = match existing {
                Some(r) => BusRecord {
                    updated_at: now,
                    config,
                    ..r
                },
                None => BusRecord {
                    id: self.next_bus_id().await?,
                    name: name.clone(),
                    created_at: now,
                    updated_at: now,
                    config,
                },
            };
            self.inner
                .js
                .create_or_update_stream(stream_config(self, record.id, &record.config))
                .await
                .map_err(|e| err(&format!("cannot create the log of bus '{name}'"), e))?;
            let bytes = serde_json::to_vec(&record).map_err(|e| err("bus record", e))?;
            if created {
                // Two nodes may create the same bus at once (the default bus
                // when a cluster first starts): only one record wins.
                self.inner
                    .written
                    .lock()
                    .expect("written lock")
                    .insert(key.clone(), super::catalogue::PENDING);
                let made = self.inner.catalogue.create(&key, bytes.into()).await;
                let won = {
                    let mut written = self.inner.written.lock().expect("written lock");
                    match made {
                        Ok(rev) => {
                            written.insert(key.clone(), rev);
                            true
                        }
                        Err(_) => {
                            written.remove(&key);
                            false
                        }
                    }
                };
                match won {
                    true => {}
                    false => {
                        let _ = self.inner.js.delete_stream(stream_name(record.id)).await;
                        let winner = self
                            .kv_get(super::CATALOGUE, &key)
                            .await?
                            .and_then(|b| serde_json::from_slice::<BusRecord>(&b).ok())
                            .ok_or_else(|| err("cannot create a bus", "its record is gone"))?;
                        let bus = self.open_bus(winner).await?;
                        return Ok((bus, false));
                    }
                }
            } else {
                self.put_catalogue_key(&key, bytes).await?;
            }
            let bus = self.open_bus(record).await?;
            Ok((bus, created))
        })
    }

    fn delete_bus(&self, name: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            if name == crate::store::DEFAULT_BUS {
                return Err(StoreError::ProtectedBus);
            }
            let Some(bus) = self.bus(&name) else {
                return Ok(false);
            };
            self.delete_catalogue_key(&bus_key(&name)).await?;
            self.drop_bus(&name);
            let _ = self.inner.js.delete_stream(stream_name(bus.id)).await;
            self.delete_bus_state(bus.id).await?;
            Ok(true)
        })
    }

    fn append<'a>(
        &'a self,
        bus: &'a Bus,
        events: &'a [CloudEvent],
        received_at: i64,
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        Box::pin(async move {
            if self.inner.closed.load(std::sync::atomic::Ordering::Acquire) {
                return Err(StoreError::Closed);
            }
            let dedup = bus.config.dedup_window_secs.is_some();
            let mut acks = Vec::with_capacity(events.len());
            for event in events {
                let mut payload = Vec::with_capacity(event.size() + 32);
                codec::encode_event(event, received_at, &mut payload);
                let mut headers = async_nats::HeaderMap::new();
                if dedup {
                    headers.insert("Nats-Msg-Id", msg_id(event).as_str());
                }
                let subject = format!("sb.{}.{}", bus.id, id_hash(&event.id));
                let ack = self
                    .inner
                    .js
                    .publish_with_headers(subject, headers, payload.into())
                    .await
                    .map_err(|e| err("cannot publish to JetStream", e))?;
                acks.push(ack);
            }
            let mut exact = Vec::with_capacity(acks.len());
            let mut duplicates = Vec::new();
            for (i, ack) in acks.into_iter().enumerate() {
                let ack = ack.await.map_err(|e| {
                    if e.to_string().contains("no responders") {
                        StoreError::BusNotFound(bus.name.clone())
                    } else {
                        err("JetStream did not acknowledge an event", e)
                    }
                })?;
                if ack.duplicate {
                    duplicates.push((i, ack.sequence));
                }
                exact.push((ack.sequence, ack.duplicate));
            }
            let first = exact
                .iter()
                .find(|(_, d)| !d)
                .map_or(bus.last_seq() + 1, |(s, _)| *s);
            let max = exact.iter().map(|(s, _)| *s).max().unwrap_or(0);
            self.with_entry(bus, |e| raise(&e.head, max));
            Ok(Appended {
                first,
                duplicates,
                exact: Some(exact),
            })
        })
    }

    fn read<'a>(
        &'a self,
        bus: &'a Bus,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(self.read_events(bus, after, limit, false))
    }

    fn read_page<'a>(
        &'a self,
        bus: &'a Bus,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(self.read_events(bus, after, limit, true))
    }

    fn sync_head<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Seq, StoreError>> {
        Box::pin(async move {
            // This node learns of events appended through others from its
            // follower, a moment later. The stream's leader, which answers
            // stream info, has every acknowledged event.
            let last = self.stream_of(bus).await?.cached_info().state.last_sequence;
            self.with_entry(bus, |e| raise(&e.head, last));
            Ok(bus.last_seq().max(last))
        })
    }

    fn first_seq<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Option<Seq>, StoreError>> {
        Box::pin(async move {
            let s = self.stream_of(bus).await?;
            let state = &s.cached_info().state;
            Ok((state.messages > 0).then_some(state.first_sequence))
        })
    }

    fn seq_at_time<'a>(&'a self, bus: &'a Bus, at: i64) -> BoxFuture<'a, Result<Seq, StoreError>> {
        Box::pin(async move {
            // Binary search on the stored receive times (what the embedded
            // engine indexes), not JetStream's own timestamps.
            let s = self.stream_of(bus).await?;
            let head = bus.last_seq();
            let state = &s.cached_info().state;
            if state.messages == 0 {
                return Ok(head + 1);
            }
            let first = state.first_sequence;
            let filter = format!("sb.{}.>", bus.id);
            let (mut lo, mut hi) = (first, head + 1);
            // Invariant: stored events before `lo` came before `at`; stored
            // events from `hi` on came at or after it.
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                // From the leader, as in `get_by_id`: a replica behind it
                // would put the bound too low.
                match s.get_first_raw_message_by_subject(&filter, mid).await {
                    Ok(m) if m.sequence < hi => {
                        if codec::event_received_at(&m.payload)? < at {
                            lo = m.sequence + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    Ok(_) => hi = mid,
                    Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => hi = mid,
                    Err(e) => return Err(err("cannot search a bus's log", e)),
                }
            }
            Ok(lo)
        })
    }

    fn log_bytes<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async move {
            let s = self.stream_of(bus).await?;
            Ok(Some(s.cached_info().state.bytes))
        })
    }

    fn get_by_id<'a>(
        &'a self,
        bus: &'a Bus,
        id: &'a str,
        source: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Lookup, StoreError>> {
        Box::pin(async move {
            let s = self.stream_of(bus).await?;
            let subject = format!("sb.{}.{}", bus.id, id_hash(id));
            let mut from = None;
            let mut found: Vec<StoredEvent> = Vec::new();
            // Each event id has its own subject, so this walks only the
            // events that share the id (and the rare hash collision).
            loop {
                // From the stream's leader, not a direct get: any replica
                // answers those, and one may not yet hold an event another
                // node just acknowledged.
                let m = match s
                    .get_first_raw_message_by_subject(&subject, from.unwrap_or(1))
                    .await
                {
                    Ok(m) => m,
                    Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => break,
                    Err(e) => return Err(err("cannot look an event up", e)),
                };
                let (event, received_at) = codec::decode_event(&m.payload)?;
                if event.id == id && source.is_none_or(|src| event.source == src) {
                    found.retain(|e| e.event.source != event.source);
                    found.push(StoredEvent {
                        seq: m.sequence,
                        received_at,
                        event,
                    });
                }
                from = Some(m.sequence + 1);
                if found.len() > 64 {
                    break;
                }
            }
            Ok(match found.len() {
                0 => Lookup::NotFound,
                1 => Lookup::Found(Box::new(found.pop().expect("one"))),
                _ => {
                    let mut sources: Vec<String> =
                        found.into_iter().map(|e| e.event.source).collect();
                    sources.sort();
                    Lookup::Ambiguous(sources)
                }
            })
        })
    }

    fn run_retention(&self, mut shutdown: watch::Receiver<bool>) -> BoxFuture<'_, ()> {
        // JetStream applies each stream's max_age itself.
        Box::pin(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
    }
}
