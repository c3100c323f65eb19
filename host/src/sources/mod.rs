//! Event sources: Signalbox collecting events itself.
//!
//! A source belongs to a bus, has a name (unique across the server, so a
//! webhook's URL names it alone) and a kind:
//!
//! * [`schedule`] — fires on `cron(…)`, `rate(…)` or `at(…)`;
//! * [`webhook`] — receives HTTP requests at `/v1/sources/{name}/webhook`,
//!   verified by signature (GitHub, Stripe, Slack, Standard Webhooks, HMAC);
//! * [`nats`] — pulls from a NATS subject (core) or a JetStream stream;
//! * [`mqtt`] — subscribes to MQTT 3.1.1 or 5 topics.
//!
//! Whatever a source receives becomes a CloudEvent ([`template`]) and goes
//! onto its bus through [`crate::ingest::publish::Publisher`], the one path
//! onto a bus, so rate limits, schemas, metrics and traces apply as for any
//! producer. Pull sources acknowledge upstream only once the event is
//! durable; schedules record a firing only once its event is durable; a
//! redelivered message or a firing repeated after a crash is recognized by
//! its event id and not stored twice.
//!
//! Definitions are catalogue records of their bus (`sources` collection);
//! each source's progress (a schedule's last firing) is another
//! (`source_state`). [`Sources`] holds what runs: one task per schedule and
//! pull source, and the table of webhook endpoints.

pub mod mqtt;
pub mod nats;
pub mod schedule;
pub mod spec;
mod status;
pub mod template;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::ingest::publish::{Entry, PublishError, Publisher};
use crate::store::catalogue::{Collection, Record, Scope};
use crate::store::queue::TraceStep;
use crate::store::{Bus, Lookup, Seq, Store, StoreError};
use spec::{SourceKind, SourceSpec, SpecError};
pub use status::{State, Status};

/// Errors from managing sources.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// The definition is not acceptable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// No such bus.
    #[error("bus '{0}' does not exist")]
    NoBus(String),
    /// No such source.
    #[error("source '{0}' does not exist")]
    NoSource(String),
    /// The name is taken by a source of another bus.
    #[error(
        "the name '{name}' is taken by a source of bus '{bus}'; source names are unique across the server"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The bus that has it.
        bus: String,
    },
    /// The bus has its limit of sources.
    #[error("bus '{bus}' has {limit} sources, the limit; delete one first")]
    LimitReached {
        /// The bus.
        bus: String,
        /// The limit.
        limit: usize,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a definition as [`Sources::put`] would, without storing it
/// (for callers that must know before they change anything else).
pub fn validate(body: Value) -> Result<(), SpecError> {
    check(&SourceSpec::parse(body)?).map(|_| ())
}

/// Most sources per bus.
pub const MAX_SOURCES_PER_BUS: usize = 1000;

/// A source as the catalogue keeps it: the definition as it was written
/// (secrets included), and whether it is paused.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SourceRecord {
    spec: Value,
    #[serde(default)]
    paused: bool,
    created_at: i64,
    updated_at: i64,
}

impl Record for SourceRecord {
    const COLLECTION: Collection = Collection::Sources;
}

/// One defined source and what runs for it.
struct Defined {
    bus: Arc<Bus>,
    record: SourceRecord,
    kind: &'static str,
    status: Arc<Status>,
    task: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
    /// Whether this node runs it: webhooks run on every node (any node
    /// takes the request); schedules and pull sources on their owner only.
    owned: bool,
}

/// Every bus's sources.
pub struct Sources {
    store: Store,
    publisher: Publisher,
    /// By source name (unique server-wide).
    defined: tokio::sync::Mutex<HashMap<String, Defined>>,
    /// Webhook endpoints by source name and by custom path, for the
    /// request path (read without the lock above).
    hooks: RwLock<webhook::Endpoints>,
}

impl Sources {
    /// Loads every stored source and starts those not paused.
    pub async fn start(store: Store, publisher: Publisher) -> Result<Arc<Sources>, SourcesError> {
        let sources = Arc::new(Sources {
            store: store.clone(),
            publisher,
            defined: tokio::sync::Mutex::new(HashMap::new()),
            hooks: RwLock::new(webhook::Endpoints::default()),
        });
        for bus in store.buses() {
            for (name, record) in store.list::<SourceRecord>(Scope::Bus(bus.id)).await? {
                let spec = match SourceSpec::parse(record.spec.clone()) {
                    Ok(s) => s,
                    Err(error) => {
                        tracing::error!(bus = %bus.name, source = %name, %error, "A stored source no longer parses; it is not running.");
                        continue;
                    }
                };
                if let Err(error) = sources.install(&bus, &name, spec, record).await {
                    tracing::error!(bus = %bus.name, source = %name, %error, "A stored source cannot start.");
                }
            }
        }
        Ok(sources)
    }

    /// Creates or replaces a source; returns whether it was created.
    pub async fn put(
        &self,
        bus_name: &str,
        name: &str,
        mut body: Value,
    ) -> Result<bool, SourcesError> {
        crate::names::check(crate::names::Kind::Rule, name)
            .map_err(|e| SpecError::new("name", e.to_string()))?;
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| SourcesError::NoBus(bus_name.to_owned()))?;
        let (existing, created_at, paused) = {
            let defined = self.defined.lock().await;
            match defined.get(name) {
                Some(d) if d.bus.name != bus.name => {
                    return Err(SourcesError::NameTaken {
                        name: name.to_owned(),
                        bus: d.bus.name.clone(),
                    });
                }
                Some(d) => (
                    Some(d.record.spec.clone()),
                    d.record.created_at,
                    d.record.paused,
                ),
                None => {
                    let n = defined.values().filter(|d| d.bus.id == bus.id).count();
                    if n >= MAX_SOURCES_PER_BUS {
                        return Err(SourcesError::LimitReached {
                            bus: bus.name.clone(),
                            limit: MAX_SOURCES_PER_BUS,
                        });
                    }
                    (None, now_micros(), false)
                }
            }
        };
        // Secrets shown as "***" (or left out) keep their stored value.
        if let Some(old) = &existing {
            spec::restore(&mut body, old);
        }
        let spec = SourceSpec::parse(body.clone())?;
        check(&spec)?;
        if let SourceKind::Webhook(w) = &spec.kind
            && let Some(p) = &w.path
        {
            let defined = self.defined.lock().await;
            let owner = defined.iter().find(|(n, d)| {
                n.as_str() != name
                    && d.kind == "webhook"
                    && d.record.spec.get("path").and_then(Value::as_str) == Some(p.as_str())
            });
            if let Some((owner, _)) = owner {
                return Err(
                    SpecError::new("path", format!("already used by source '{owner}'")).into(),
                );
            }
        }
        let record = SourceRecord {
            spec: body,
            paused,
            created_at,
            updated_at: now_micros(),
        };
        self.store.put(Scope::Bus(bus.id), name, &record).await?;
        self.install(&bus, name, spec, record).await?;
        Ok(existing.is_none())
    }

    /// Starts (or restarts) a source from its definition.
    async fn install(
        &self,
        bus: &Arc<Bus>,
        name: &str,
        spec: SourceSpec,
        record: SourceRecord,
    ) -> Result<(), SourcesError> {
        let checked = check(&spec)?;
        let mut defined = self.defined.lock().await;
        let status = match defined.remove(name) {
            Some(old) => {
                stop(old.task).await;
                old.status.clear_error();
                old.status
            }
            None => Arc::new(Status::default()),
        };
        self.hooks.write().expect("hooks lock").remove(name);
        let owned = matches!(spec.kind, SourceKind::Webhook(_))
            || self.store.owns(&format!("source/{name}"));
        let runs = spec.enabled && !record.paused && owned;
        status.set_state(if runs {
            State::Starting
        } else if !owned && spec.enabled && !record.paused {
            State::Standby
        } else {
            State::Paused
        });
        let ctx = Ctx {
            bus: bus.clone(),
            name: name.to_owned(),
            kind: spec.kind.name(),
            store: self.store.clone(),
            publisher: self.publisher.clone(),
            status: status.clone(),
            template: checked.template,
            stop: watch::channel(false).1,
        };
        let task = if !runs {
            None
        } else {
            let (stop_tx, stop_rx) = watch::channel(false);
            let ctx = Ctx {
                stop: stop_rx,
                ..ctx
            };
            match (spec.kind.clone(), checked.runner) {
                (SourceKind::Webhook(w), _) => {
                    let endpoint = webhook::Endpoint::new(ctx, w)?;
                    self.hooks
                        .write()
                        .expect("hooks lock")
                        .insert(name, Arc::new(endpoint));
                    status.set_state(State::Running);
                    // Keep the sender so the endpoint's stop signal lives.
                    Some((stop_tx, tokio::spawn(async {})))
                }
                (SourceKind::Schedule(s), Runner::Schedule(schedule)) => {
                    status.set_state(State::Running);
                    Some((stop_tx, tokio::spawn(schedule::run(ctx, s, schedule))))
                }
                (SourceKind::Nats(n), _) => Some((stop_tx, tokio::spawn(nats::run(ctx, n)))),
                (SourceKind::Mqtt(m), _) => Some((stop_tx, tokio::spawn(mqtt::run(ctx, m)))),
                _ => None,
            }
        };
        defined.insert(
            name.to_owned(),
            Defined {
                bus: bus.clone(),
                record,
                kind: spec.kind.name(),
                status,
                task,
                owned,
            },
        );
        Ok(())
    }

    /// Re-reads one source from the catalogue and runs or stops it as its
    /// record and this node's ownership say (a change made on another
    /// node, or nodes coming and going).
    pub async fn reload(&self, bus: &Arc<Bus>, name: &str) -> Result<(), SourcesError> {
        match self
            .store
            .get::<SourceRecord>(Scope::Bus(bus.id), name)
            .await?
        {
            Some(record) => {
                let spec = SourceSpec::parse(record.spec.clone())?;
                self.install(bus, name, spec, record).await
            }
            None => {
                let gone = self.defined.lock().await.remove(name);
                if let Some(d) = gone {
                    self.hooks.write().expect("hooks lock").remove(name);
                    stop(d.task).await;
                }
                Ok(())
            }
        }
    }

    /// Reloads every source whose owner changed, and every source when
    /// `all`.
    pub async fn rebalance(&self, all: bool) {
        let moved: Vec<(Arc<Bus>, String)> = {
            let defined = self.defined.lock().await;
            defined
                .iter()
                .filter(|(name, d)| {
                    all || (d.kind != "webhook"
                        && d.owned != self.store.owns(&format!("source/{name}")))
                })
                .map(|(n, d)| (d.bus.clone(), n.clone()))
                .collect()
        };
        let mut names: Vec<(Arc<Bus>, String)> = moved;
        if all {
            for bus in self.store.buses() {
                if let Ok(list) = self.store.list::<SourceRecord>(Scope::Bus(bus.id)).await {
                    for (n, _) in list {
                        if !names.iter().any(|(_, m)| *m == n) {
                            names.push((bus.clone(), n));
                        }
                    }
                }
            }
        }
        for (bus, name) in names {
            if let Err(error) = self.reload(&bus, &name).await {
                tracing::warn!(bus = %bus.name, source = %name, %error, "Cannot reload a source.");
            }
        }
    }

    /// Pauses or resumes a source.
    pub async fn set_paused(
        &self,
        bus_name: &str,
        name: &str,
        paused: bool,
    ) -> Result<Value, SourcesError> {
        let (bus, mut record) = {
            let defined = self.defined.lock().await;
            let d = defined
                .get(name)
                .filter(|d| d.bus.name == bus_name)
                .ok_or_else(|| SourcesError::NoSource(name.to_owned()))?;
            (d.bus.clone(), d.record.clone())
        };
        record.paused = paused;
        record.updated_at = now_micros();
        self.store.put(Scope::Bus(bus.id), name, &record).await?;
        let spec = SourceSpec::parse(record.spec.clone())?;
        self.install(&bus, name, spec, record).await?;
        self.get(bus_name, name).await
    }

    /// Deletes a source and its state.
    pub async fn delete(&self, bus_name: &str, name: &str) -> Result<(), SourcesError> {
        let d = {
            let mut defined = self.defined.lock().await;
            match defined.get(name) {
                Some(d) if d.bus.name == bus_name => defined.remove(name).expect("present"),
                _ => return Err(SourcesError::NoSource(name.to_owned())),
            }
        };
        self.hooks.write().expect("hooks lock").remove(name);
        stop(d.task).await;
        self.store
            .delete::<SourceRecord>(Scope::Bus(d.bus.id), name)
            .await?;
        self.store
            .delete_raw(Collection::SourceState, Scope::Bus(d.bus.id), name)
            .await?;
        crate::metrics::METRICS.forget(&[("bus", bus_name), ("source", name)]);
        Ok(())
    }

    /// Stops the sources of a bus that is being deleted (their records go
    /// with the bus).
    pub async fn remove_bus(&self, bus_name: &str) {
        let gone: Vec<(String, Defined)> = {
            let mut defined = self.defined.lock().await;
            let names: Vec<String> = defined
                .iter()
                .filter(|(_, d)| d.bus.name == bus_name)
                .map(|(n, _)| n.clone())
                .collect();
            names
                .into_iter()
                .filter_map(|n| defined.remove(&n).map(|d| (n, d)))
                .collect()
        };
        for (name, d) in gone {
            self.hooks.write().expect("hooks lock").remove(&name);
            stop(d.task).await;
        }
    }

    /// A source's definition (secrets redacted) and status.
    pub async fn get(&self, bus_name: &str, name: &str) -> Result<Value, SourcesError> {
        let defined = self.defined.lock().await;
        let d = defined
            .get(name)
            .filter(|d| d.bus.name == bus_name)
            .ok_or_else(|| SourcesError::NoSource(name.to_owned()))?;
        Ok(source_json(name, d))
    }

    /// Every source of a bus, by name.
    pub async fn list(&self, bus_name: &str) -> Result<Vec<Value>, SourcesError> {
        self.store
            .bus(bus_name)
            .ok_or_else(|| SourcesError::NoBus(bus_name.to_owned()))?;
        let defined = self.defined.lock().await;
        let mut names: Vec<&String> = defined
            .iter()
            .filter(|(_, d)| d.bus.name == bus_name)
            .map(|(n, _)| n)
            .collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|n| source_json(n, &defined[n]))
            .collect())
    }

    /// The webhook endpoint of a source, by name or by custom path.
    pub fn webhook(&self, key: webhook::Key<'_>) -> Option<Arc<webhook::Endpoint>> {
        self.hooks.read().expect("hooks lock").get(key)
    }

    /// Renders source metrics (read at scrape time).
    pub async fn render_metrics(&self, out: &mut String) {
        use crate::metrics::{Sample, label, write_family};
        let defined = self.defined.lock().await;
        let mut families: [Vec<Sample>; 6] = Default::default();
        for (name, d) in defined.iter() {
            let l = format!(
                "bus=\"{}\",source=\"{}\",type=\"{}\"",
                label(&d.bus.name),
                label(name),
                d.kind
            );
            let s = d.status.snapshot();
            for (i, v) in [
                s.received as f64,
                s.published as f64,
                s.duplicates as f64,
                s.failed as f64,
                s.missed as f64,
                f64::from(u8::from(s.state == State::Running)),
            ]
            .into_iter()
            .enumerate()
            {
                families[i].push(Sample {
                    labels: l.clone(),
                    value: v,
                });
            }
        }
        let [received, published, duplicates, failed, missed, up] = families;
        for (name, kind, help, samples) in [
            (
                "signalbox_source_received_total",
                "counter",
                "Things a source received (requests, messages, firings).",
                received,
            ),
            (
                "signalbox_source_published_total",
                "counter",
                "Events a source put on its bus.",
                published,
            ),
            (
                "signalbox_source_duplicates_total",
                "counter",
                "Received things recognized as already stored (redeliveries, repeated requests).",
                duplicates,
            ),
            (
                "signalbox_source_failed_total",
                "counter",
                "Received things refused (bad signature, not an event, rejected by the bus).",
                failed,
            ),
            (
                "signalbox_source_missed_total",
                "counter",
                "Schedule firings missed while the server was down.",
                missed,
            ),
            (
                "signalbox_source_up",
                "gauge",
                "1 while a source runs and is connected.",
                up,
            ),
        ] {
            write_family(out, name, kind, help, &samples);
        }
    }

    /// Stops every source (shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<Defined> = self.defined.lock().await.drain().map(|(_, d)| d).collect();
        self.hooks.write().expect("hooks lock").clear();
        for d in all {
            stop(d.task).await;
        }
    }
}

fn source_json(name: &str, d: &Defined) -> Value {
    let mut v = d.record.spec.clone();
    spec::redact(&mut v);
    if let Some(o) = v.as_object_mut() {
        o.insert("name".into(), json!(name));
        o.insert("bus".into(), json!(d.bus.name));
        o.insert("paused".into(), json!(d.record.paused));
        o.insert(
            "created_at".into(),
            json!(format_rfc3339_micros(d.record.created_at)),
        );
        o.insert(
            "updated_at".into(),
            json!(format_rfc3339_micros(d.record.updated_at)),
        );
        o.insert("status".into(), d.status.to_json());
        if d.kind == "webhook" {
            o.insert(
                "url_path".into(),
                json!(format!("/v1/sources/{name}/webhook")),
            );
        }
    }
    v
}

async fn stop(task: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>) {
    if let Some((tx, handle)) = task {
        let _ = tx.send(true);
        // A source waiting on a broker stops at its next turn; don't let a
        // stuck one hold up a change or shutdown.
        let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
    }
}

/// What checking a definition yields, ready to run.
struct Checked {
    template: template::Compiled,
    runner: Runner,
}

enum Runner {
    Schedule(schedule::Schedule),
    Other,
}

fn check(spec: &SourceSpec) -> Result<Checked, SpecError> {
    let (runner, placeholders) = match &spec.kind {
        SourceKind::Schedule(s) => (Runner::Schedule(s.check()?), schedule::PLACEHOLDERS),
        SourceKind::Webhook(w) => {
            w.check()?;
            (Runner::Other, webhook::PLACEHOLDERS)
        }
        SourceKind::Nats(n) => {
            n.check()?;
            (Runner::Other, nats::PLACEHOLDERS)
        }
        SourceKind::Mqtt(m) => {
            m.check()?;
            (Runner::Other, mqtt::PLACEHOLDERS)
        }
    };
    let template = spec
        .event
        .compile(placeholders)
        .map_err(|(field, message)| SpecError::new(field, message))?;
    Ok(Checked { template, runner })
}

/// What a running source works with.
pub(crate) struct Ctx {
    /// Its bus.
    pub bus: Arc<Bus>,
    /// Its name.
    pub name: String,
    /// Its kind (`type`), for metrics.
    pub kind: &'static str,
    store: Store,
    publisher: Publisher,
    /// Its status.
    pub status: Arc<Status>,
    /// Its `event` template.
    pub template: template::Compiled,
    /// Turns true when the source must stop.
    pub stop: watch::Receiver<bool>,
}

/// Why an emitted event was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EmitError {
    /// It is not a valid CloudEvent (or the bus's schema refused it):
    /// retrying cannot help.
    #[error("{0}")]
    Rejected(String),
    /// Storing failed or the bus is over its rate: retrying may help.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Ctx {
    /// The default attributes of an event: id given, source naming this
    /// source, type given.
    pub fn defaults(&self, id: String, time: Option<String>, ty: &str) -> template::Defaults {
        template::Defaults {
            ty: ty.to_owned(),
            source: format!("/signalbox/buses/{}/sources/{}", self.bus.name, self.name),
            id,
            subject: None,
            time,
        }
    }

    /// Publishes events (in the CloudEvents JSON format) onto the bus;
    /// resolves once they are durable, with each one's seq (and whether it
    /// was a duplicate), in order.
    pub async fn emit(&self, events: Vec<String>) -> Result<Vec<(Seq, bool)>, EmitError> {
        let n = events.len() as u64;
        self.status.received(n);
        let entries: Vec<_> = events
            .iter()
            .map(
                |e| match crate::event::json::parse_structured(e.as_bytes()) {
                    Ok(r) => r,
                    Err(b) => Err(crate::event::validate::EventError {
                        kind: crate::event::validate::EventErrorKind::Malformed,
                        field: String::new(),
                        detail: b.0,
                        id: None,
                        event_source: None,
                    }),
                },
            )
            .collect();
        let published = match self.publisher.publish(&self.bus, entries, self.kind).await {
            Ok(p) => p,
            Err(e) => {
                self.status.error(e.to_string());
                return Err(e.into());
            }
        };
        let mut out = Vec::with_capacity(published.entries.len());
        let mut rejected = None;
        let now = now_micros();
        let mut batch = self.store.batch();
        for entry in &published.entries {
            match entry {
                Entry::Stored { seq, duplicate, .. } => {
                    out.push((*seq, *duplicate));
                    if !duplicate {
                        let mut detail = serde_json::Map::new();
                        detail.insert("source".into(), json!(self.name));
                        detail.insert("kind".into(), json!(self.kind));
                        batch.put_trace(
                            self.bus.id,
                            *seq,
                            now,
                            TraceStep {
                                at: format_rfc3339_micros(now),
                                step: "collected".into(),
                                rule: None,
                                target: None,
                                detail,
                            },
                        );
                    }
                }
                Entry::Rejected(e) => {
                    rejected = Some(if e.field.is_empty() {
                        e.detail.clone()
                    } else {
                        format!("{}: {}", e.field, e.detail)
                    })
                }
            }
        }
        if !batch.is_empty()
            && let Err(error) = self.store.commit(batch).await
        {
            tracing::warn!(source = %self.name, %error, "Cannot record that events were collected in their traces.");
        }
        let stored = out.iter().filter(|(_, d)| !d).count() as u64;
        let dups = out.len() as u64 - stored;
        self.status.published(stored, dups);
        if let Some(r) = rejected {
            let failed = published.failed as u64;
            self.status
                .failed(failed, format!("an event was refused: {r}"));
            return Err(EmitError::Rejected(r));
        }
        Ok(out)
    }

    /// Publishes one event, retrying (with backoff) until it is stored or
    /// refused for good, or the source is told to stop (false).
    pub async fn emit_until_stored(&self, event: String, stop: &mut watch::Receiver<bool>) -> bool {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.emit(vec![event.clone()]).await {
                Ok(_) => return true,
                Err(EmitError::Rejected(_)) => return true,
                Err(EmitError::Publish(e)) => {
                    let wait = match &e {
                        PublishError::RateLimited { retry_after, .. } => *retry_after,
                        _ => delay,
                    };
                    tracing::warn!(source = %self.name, error = %e, "Cannot store an event yet; retrying.");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => return false,
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Whether the event (in the CloudEvents JSON format) is on the bus
    /// already: same `id`, same `source`.
    pub async fn stored_already(&self, event: &str) -> bool {
        #[derive(Deserialize)]
        struct Ids {
            id: String,
            source: String,
        }
        match serde_json::from_str::<Ids>(event) {
            Ok(i) => self.exists_from(&i.id, &i.source).await,
            Err(_) => false,
        }
    }

    /// Whether an event with this id from this source is on the bus. A
    /// look-up that fails (in a cluster, while the bus's stream elects a
    /// leader) is tried twice more, then taken as "not stored": the event
    /// is then stored again, a duplicate rather than a loss.
    pub async fn exists_from(&self, id: &str, source: &str) -> bool {
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(250 << attempt)).await;
            }
            match self.store.get_by_id(&self.bus, id, Some(source)).await {
                Ok(lookup) => return matches!(lookup, Lookup::Found(_)),
                Err(error) => {
                    tracing::warn!(source = %self.name, %error, "Cannot look up whether an event is stored already.");
                }
            }
        }
        false
    }

    /// The source's saved state.
    pub async fn load_state<T: Record>(&self) -> Option<T> {
        self.store
            .get::<T>(Scope::Bus(self.bus.id), &self.name)
            .await
            .ok()
            .flatten()
    }

    /// Saves the source's state.
    pub async fn save_state<T: Record>(&self, state: &T) -> Result<(), StoreError> {
        self.store
            .put(Scope::Bus(self.bus.id), &self.name, state)
            .await
    }
}
