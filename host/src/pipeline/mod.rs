//! The router: rules on buses, turning stored events into deliveries.
//!
//! ```text
//!  bus log ──▶ dispatcher ──(matched events)──▶ rule worker ──▶ delivery queues ──▶ target workers
//!             one per bus,                       one per rule:    one per target     (crate::delivery)
//!             shared matcher                     filters, transform,
//!                                                cursor + trace
//! ```
//!
//! * [`rule`] — the rule definition and its compilation (every reference
//!   checked up front);
//! * [`dispatch`] — per bus, matches each event once against all rules;
//! * [`worker`] — per rule, runs the plugin chain and queues deliveries,
//!   recording progress and traces atomically with them.
//!
//! Rules are stored in the `rules` column family and take effect without a
//! restart. Disabling a rule stops its worker but keeps its cursor, so
//! enabling it again resumes where it stopped; queued deliveries keep
//! draining either way. A new rule starts at the head of the bus: it sees
//! events published after it was created.
//!
//! Ordering: each target's queue is in bus order. Without an
//! `ordering_key`, sends run concurrently (up to the target's concurrency)
//! and retries can overtake; with one, deliveries sharing a key value are
//! sent one at a time in bus order, a failing delivery holding back only its
//! own key.

pub mod dispatch;
pub mod rule;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::delivery::worker::TargetHandle;
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::pattern::RuleId;
use crate::plugin::Registry;
use crate::store::queue::DeliveryKey;
use crate::store::{Bus, BusId, Records, Store, StoreError};
use rule::{CompiledRule, RuleError, RuleSpec};

/// Errors from rule operations.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The rule is invalid.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// No such bus.
    #[error("bus '{0}' does not exist")]
    NoBus(String),
    /// No such rule.
    #[error("rule '{0}' does not exist")]
    NoRule(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Serialize, Deserialize)]
struct RuleRecord {
    v: u8,
    spec: RuleSpec,
    created_at: i64,
    updated_at: i64,
}

struct RuleState {
    id: RuleId,
    rule: Arc<CompiledRule>,
    created_at: i64,
    updated_at: i64,
    targets: Arc<Vec<TargetHandle>>,
    worker: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

struct BusPipeline {
    bus: Arc<Bus>,
    dispatcher: mpsc::Sender<dispatch::Command>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    rules: HashMap<String, RuleState>,
}

/// The router: every bus's dispatcher, rules and target workers.
pub struct Router {
    store: Store,
    registry: Arc<Registry>,
    buses: tokio::sync::Mutex<HashMap<String, BusPipeline>>,
    next_id: Mutex<RuleId>,
    /// Plugin references in use, for the registry's delete check.
    uses: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

fn rule_key(bus: BusId, name: &str) -> Vec<u8> {
    let mut k = bus.to_be_bytes().to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

impl Router {
    /// Creates the router and starts every stored rule.
    pub async fn start(store: Store, registry: Arc<Registry>) -> Result<Arc<Router>, RouterError> {
        let router = Arc::new(Router {
            store: store.clone(),
            registry: registry.clone(),
            buses: tokio::sync::Mutex::new(HashMap::new()),
            next_id: Mutex::new(1),
            uses: Arc::new(Mutex::new(HashMap::new())),
        });
        let uses = router.uses.clone();
        registry.set_in_use_check(move |reference| {
            let uses = uses.lock().expect("uses lock");
            let mut rules: Vec<String> = uses
                .iter()
                .filter(|(_, refs)| refs.iter().any(|r| r == reference))
                .map(|(rule, _)| rule.clone())
                .collect();
            rules.sort();
            rules
        });
        for bus in store.buses() {
            for (key, value) in store.scan_records(Records::Rules, &bus.id.to_be_bytes())? {
                let name = String::from_utf8_lossy(&key[4..]).into_owned();
                let record: RuleRecord = match serde_json::from_slice(&value) {
                    Ok(r) => r,
                    Err(error) => {
                        tracing::error!(bus = %bus.name, rule = %name, %error, "Skipping an unreadable rule record.");
                        continue;
                    }
                };
                match rule::compile(&bus.name, &name, record.spec, &registry) {
                    Ok(compiled) => {
                        router
                            .install(&bus, compiled, record.created_at, record.updated_at)
                            .await?;
                    }
                    Err(error) => {
                        tracing::error!(bus = %bus.name, rule = %name, %error, "A stored rule no longer compiles; it is not running.");
                    }
                }
            }
        }
        Ok(router)
    }

    async fn pipeline<'a>(
        &self,
        buses: &'a mut HashMap<String, BusPipeline>,
        bus: &Arc<Bus>,
    ) -> &'a mut BusPipeline {
        let stale = buses.get(&bus.name).is_some_and(|p| p.bus.id != bus.id);
        if stale && let Some(p) = buses.remove(&bus.name) {
            stop_pipeline(p).await;
        }
        buses.entry(bus.name.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(1024);
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(dispatch::run(self.store.clone(), bus.clone(), rx, stop_rx));
            BusPipeline {
                bus: bus.clone(),
                dispatcher: tx,
                stop,
                task,
                rules: HashMap::new(),
            }
        })
    }

    /// Starts (or restarts) a compiled rule.
    async fn install(
        &self,
        bus: &Arc<Bus>,
        rule: CompiledRule,
        created_at: i64,
        updated_at: i64,
    ) -> Result<(), RouterError> {
        let mut buses = self.buses.lock().await;
        let p = self.pipeline(&mut buses, bus).await;
        let previous = p.rules.remove(&rule.name);
        let id = match &previous {
            Some(prev) => prev.id,
            None => {
                let mut n = self.next_id.lock().expect("id lock");
                *n += 1;
                *n
            }
        };
        // Stop the old worker first, so its cursor is saved before the new
        // one reads it.
        if let Some(prev) = previous {
            stop_rule(prev).await;
            let _ = p.dispatcher.send(dispatch::Command::Remove { id }).await;
        }
        let rule = Arc::new(rule);
        self.uses.lock().expect("uses lock").insert(
            format!("{}/{}", bus.name, rule.name),
            rule.plugin_references(),
        );
        let mut targets = Vec::new();
        for t in &rule.targets {
            let queued = self.store.count_deliveries(bus.id, &rule.name, &t.id)?;
            targets.push(TargetHandle::start(
                self.store.clone(),
                bus.id,
                rule.name.clone(),
                t.clone(),
                queued,
            ));
        }
        let targets = Arc::new(targets);
        let worker = if rule.spec.enabled {
            let cursor = match self.store.cursor(bus.id, &rule.name)? {
                Some(c) => c,
                None => {
                    // A new rule starts at the head of the bus.
                    let head = bus.last_seq();
                    let mut b = self.store.router_batch();
                    self.store.set_cursor(&mut b, bus.id, &rule.name, head);
                    self.store.commit(b)?;
                    head
                }
            };
            let _ = p
                .dispatcher
                .send(dispatch::Command::Put {
                    id,
                    rule: rule.clone(),
                })
                .await;
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(worker::run(
                self.store.clone(),
                bus.clone(),
                id,
                rule.clone(),
                targets.clone(),
                p.dispatcher.clone(),
                cursor,
                stop_rx,
            ));
            Some((stop, task))
        } else {
            None
        };
        p.rules.insert(
            rule.name.clone(),
            RuleState {
                id,
                rule,
                created_at,
                updated_at,
                targets,
                worker,
            },
        );
        Ok(())
    }

    /// Creates or replaces a rule. Returns whether it was created.
    pub async fn put_rule(
        &self,
        bus_name: &str,
        name: &str,
        spec: RuleSpec,
    ) -> Result<bool, RouterError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
        let compiled = rule::compile(&bus.name, name, spec.clone(), &self.registry)?;
        let now = now_micros();
        let existing = {
            let buses = self.buses.lock().await;
            buses
                .get(bus_name)
                .and_then(|p| p.rules.get(name))
                .map(|r| r.created_at)
        };
        let created_at = existing.unwrap_or(now);
        let record = RuleRecord {
            v: 1,
            spec,
            created_at,
            updated_at: now,
        };
        let old_targets: Vec<String> = {
            let buses = self.buses.lock().await;
            buses
                .get(bus_name)
                .and_then(|p| p.rules.get(name))
                .map(|r| r.rule.targets.iter().map(|t| t.id.clone()).collect())
                .unwrap_or_default()
        };
        self.store.put_record(
            Records::Rules,
            &rule_key(bus.id, name),
            &serde_json::to_vec(&record).expect("rules serialize"),
        )?;
        let new_targets: Vec<String> = compiled.targets.iter().map(|t| t.id.clone()).collect();
        self.install(&bus, compiled, created_at, now).await?;
        // Queues of targets the new version dropped are deleted with them.
        for gone in old_targets.iter().filter(|t| !new_targets.contains(t)) {
            self.store.delete_target_state(bus.id, name, gone)?;
        }
        Ok(existing.is_none())
    }

    /// Deletes a rule, its cursor, queues and dead letters.
    pub async fn delete_rule(&self, bus_name: &str, name: &str) -> Result<(), RouterError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
        let state = {
            let mut buses = self.buses.lock().await;
            let p = buses
                .get_mut(bus_name)
                .ok_or_else(|| RouterError::NoRule(name.to_owned()))?;
            p.rules
                .remove(name)
                .ok_or_else(|| RouterError::NoRule(name.to_owned()))?
        };
        let dispatcher = self
            .buses
            .lock()
            .await
            .get(bus_name)
            .map(|p| p.dispatcher.clone());
        if let Some(d) = dispatcher {
            let _ = d.send(dispatch::Command::Remove { id: state.id }).await;
        }
        stop_rule(state).await;
        self.uses
            .lock()
            .expect("uses lock")
            .remove(&format!("{bus_name}/{name}"));
        self.store
            .delete_record(Records::Rules, &rule_key(bus.id, name))?;
        self.store.delete_rule_state(bus.id, name)?;
        Ok(())
    }

    /// Stops everything running for a bus (before it is deleted).
    pub async fn remove_bus(&self, bus_name: &str) {
        let p = self.buses.lock().await.remove(bus_name);
        if let Some(p) = p {
            for name in p.rules.keys() {
                self.uses
                    .lock()
                    .expect("uses lock")
                    .remove(&format!("{bus_name}/{name}"));
            }
            stop_pipeline(p).await;
        }
    }

    /// A rule's definition and status.
    pub async fn get_rule(&self, bus_name: &str, name: &str) -> Result<Value, RouterError> {
        let buses = self.buses.lock().await;
        let p = buses
            .get(bus_name)
            .ok_or_else(|| RouterError::NoRule(name.to_owned()))?;
        let r = p
            .rules
            .get(name)
            .ok_or_else(|| RouterError::NoRule(name.to_owned()))?;
        Ok(self.rule_json(&p.bus, name, r))
    }

    /// Every rule of a bus.
    pub async fn list_rules(&self, bus_name: &str) -> Result<Vec<Value>, RouterError> {
        self.store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
        let buses = self.buses.lock().await;
        let Some(p) = buses.get(bus_name) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<&String> = p.rules.keys().collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|n| self.rule_json(&p.bus, n, &p.rules[n]))
            .collect())
    }

    fn rule_json(&self, bus: &Bus, name: &str, r: &RuleState) -> Value {
        use std::sync::atomic::Ordering::Relaxed;
        let cursor = self.store.cursor(bus.id, name).ok().flatten().unwrap_or(0);
        let mut plugins = Vec::new();
        for f in &r.rule.filters {
            plugins.push(json!({"step": "filter", "status": f.status()}));
        }
        if let Some(rule::Transform::Plugin(t)) = &r.rule.transform {
            plugins.push(json!({"step": "transform", "status": t.status()}));
        }
        let mut degraded = plugins.iter().any(|p| p["status"]["degraded"] == true);
        let targets: Vec<Value> = r
            .targets
            .iter()
            .map(|t| {
                let s = &t.stats;
                let plugin = t.target.plugin().map(|p| p.status());
                if plugin.as_ref().is_some_and(|p| p.degraded) {
                    degraded = true;
                }
                json!({
                    "id": t.target.id,
                    "type": t.target.kind,
                    "queued": s.queued.load(Relaxed),
                    "delivered": s.delivered.load(Relaxed),
                    "failed_attempts": s.failed_attempts.load(Relaxed),
                    "dead_lettered": s.dead_lettered.load(Relaxed),
                    "dropped": s.dropped.load(Relaxed),
                    "plugin": plugin,
                })
            })
            .collect();
        let mut v = serde_json::to_value(&r.rule.spec).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("name".into(), json!(name));
            o.insert("bus".into(), json!(bus.name));
            o.insert(
                "created_at".into(),
                json!(format_rfc3339_micros(r.created_at)),
            );
            o.insert(
                "updated_at".into(),
                json!(format_rfc3339_micros(r.updated_at)),
            );
            o.insert(
                "status".into(),
                json!({
                    "state": if !r.rule.spec.enabled { "disabled" } else if degraded { "degraded" } else { "running" },
                    "degraded": degraded,
                    "cursor": cursor,
                    "lag": bus.last_seq().saturating_sub(cursor),
                    "plugins": plugins,
                    "targets": targets,
                }),
            );
        }
        v
    }

    /// Moves a rule's dead letters (optionally one target's) back into the
    /// delivery queues. Returns how many.
    pub async fn redrive(
        &self,
        bus_name: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<u64, RouterError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
        let buses = self.buses.lock().await;
        let r = buses
            .get(bus_name)
            .and_then(|p| p.rules.get(name))
            .ok_or_else(|| RouterError::NoRule(name.to_owned()))?;
        let mut total = 0u64;
        loop {
            let page = self.store.dead_letters(bus.id, name, 1000)?;
            let page: Vec<_> = page
                .into_iter()
                .filter(|(k, _)| {
                    target.is_none_or(|t| t == k.target)
                        && r.targets.iter().any(|h| h.target.id == k.target)
                })
                .collect();
            if page.is_empty() {
                break;
            }
            let mut b = self.store.router_batch();
            let now = now_micros();
            for (key, dl) in &page {
                let event = crate::event::json::parse_structured(dl.event.to_string().as_bytes())
                    .ok()
                    .and_then(Result::ok);
                let Some(event) = event else { continue };
                let body = match (&dl.body_base64, &dl.body_content_type) {
                    (Some(b64), Some(ct)) => {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD
                            .decode(b64)
                            .ok()
                            .map(|bytes| crate::store::queue::PreparedBody {
                                bytes: bytes.into(),
                                content_type: ct.clone(),
                            })
                    }
                    _ => None,
                };
                let d = crate::store::queue::Delivery {
                    key: DeliveryKey { ..key.clone() },
                    attempts: 0,
                    next_attempt_at: now,
                    enqueued_at: now,
                    last_status: None,
                    last_error: None,
                    event,
                    body,
                };
                self.store.remove_dead_letter(&mut b, key);
                self.store.put_delivery(&mut b, &d);
                let mut detail = serde_json::Map::new();
                detail.insert("previous_attempts".into(), json!(dl.attempts));
                self.store.put_trace(
                    &mut b,
                    bus.id,
                    key.seq,
                    now,
                    &crate::store::queue::TraceStep {
                        at: format_rfc3339_micros(now),
                        step: "redriven".into(),
                        rule: Some(name.to_owned()),
                        target: Some(key.target.clone()),
                        detail,
                    },
                );
                if let Some(h) = r.targets.iter().find(|h| h.target.id == key.target) {
                    h.stats
                        .queued
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                total += 1;
            }
            self.store.commit(b)?;
            if page.len() < 1000 {
                break;
            }
        }
        for h in r.targets.iter() {
            h.notify.notify_one();
        }
        Ok(total)
    }

    /// Whether a rule exists.
    pub async fn has_rule(&self, bus_name: &str, name: &str) -> bool {
        self.buses
            .lock()
            .await
            .get(bus_name)
            .is_some_and(|p| p.rules.contains_key(name))
    }

    /// Stops every worker (shutdown). Cursors and queues are already durable.
    pub async fn shutdown(&self) {
        let all: Vec<BusPipeline> = self.buses.lock().await.drain().map(|(_, p)| p).collect();
        for p in all {
            stop_pipeline(p).await;
        }
    }
}

async fn stop_rule(r: RuleState) {
    if let Some((stop, task)) = r.worker {
        let _ = stop.send(true);
        let _ = task.await;
    }
    match Arc::try_unwrap(r.targets) {
        Ok(targets) => {
            for t in targets {
                t.stop().await;
            }
        }
        Err(_) => {
            tracing::warn!(rule = %r.rule.name, "Target workers still referenced; they stop with the process.")
        }
    }
}

async fn stop_pipeline(p: BusPipeline) {
    let _ = p.stop.send(true);
    for (_, r) in p.rules {
        stop_rule(r).await;
    }
    let _ = p.task.await;
}
