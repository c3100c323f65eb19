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
pub mod replay;
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
use crate::store::queue::{DeadLetter, Delivery, DeliveryKey};
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
    /// The bus already has its limit of rules.
    #[error(
        "bus '{bus}' has {limit} rules, the limit (limits.max_rules_per_bus); delete a rule first"
    )]
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
    /// Replays by id.
    replays: Mutex<HashMap<String, Arc<replay::Replay>>>,
    /// Stops replay tasks at shutdown.
    stop_replays: watch::Sender<bool>,
    /// The number the next replay gets.
    next_replay: Mutex<u32>,
    /// Most rules on one bus; replacing an existing rule is always allowed.
    max_rules_per_bus: usize,
    /// The only folder `log` targets write to.
    log_dir: std::path::PathBuf,
}

/// Dead letters read per redrive step, and about how many bytes of them.
const REDRIVE_PAGE: usize = 500;
const REDRIVE_PAGE_BYTES: usize = 8 << 20;

/// What a redrive did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Redriven {
    /// Letters moved back into their queues.
    pub redriven: u64,
    /// Letters left in place because they could not be read back.
    pub skipped: u64,
}

/// The delivery a dead letter becomes again: attempts reset, due now.
fn revive(key: &DeliveryKey, dl: &DeadLetter, now: i64) -> Option<Delivery> {
    let event = crate::event::json::parse_structured(dl.event.to_string().as_bytes())
        .ok()?
        .ok()?;
    let body = match (&dl.body_base64, &dl.body_content_type) {
        (Some(b64), Some(ct)) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            Some(crate::store::queue::PreparedBody {
                bytes: bytes.into(),
                content_type: ct.clone(),
            })
        }
        _ => None,
    };
    Some(Delivery {
        key: key.clone(),
        attempts: 0,
        next_attempt_at: now,
        enqueued_at: now,
        last_status: None,
        last_error: None,
        event,
        body,
    })
}

fn rule_key(bus: BusId, name: &str) -> Vec<u8> {
    let mut k = bus.to_be_bytes().to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

impl Router {
    /// Creates the router and starts every stored rule.
    /// Rules stored before a lower `max_rules_per_bus` was configured all
    /// start; the limit only refuses new ones.
    pub async fn start(
        store: Store,
        registry: Arc<Registry>,
        max_rules_per_bus: usize,
        log_dir: std::path::PathBuf,
    ) -> Result<Arc<Router>, RouterError> {
        let router = Arc::new(Router {
            store: store.clone(),
            registry: registry.clone(),
            buses: tokio::sync::Mutex::new(HashMap::new()),
            next_id: Mutex::new(1),
            uses: Arc::new(Mutex::new(HashMap::new())),
            replays: Mutex::new(HashMap::new()),
            stop_replays: watch::channel(false).0,
            next_replay: Mutex::new(0),
            max_rules_per_bus,
            log_dir,
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
                let env = rule::CompileEnv {
                    registry: &registry,
                    log_dir: &router.log_dir,
                };
                match rule::compile(&bus.name, &name, record.spec, &env) {
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
        // Replays: show finished ones, continue unfinished ones.
        for bus in store.buses() {
            let mut prefix = bus.id.to_be_bytes().to_vec();
            prefix.extend_from_slice(b"replay/");
            for (_, value) in store.scan_records(Records::Schemas, &prefix)? {
                let Ok(status) = serde_json::from_slice::<replay::ReplayStatus>(&value) else {
                    continue;
                };
                let resume = status.state == replay::ReplayState::Running
                    || status.state == replay::ReplayState::Paused;
                let state = status.state;
                let id = status.id.clone();
                {
                    let mut n = router.next_replay.lock().expect("replay counter");
                    *n = (*n).max(status.number);
                }
                let r = Arc::new(replay::Replay {
                    status: std::sync::Mutex::new(status),
                    control: watch::channel(state).0,
                });
                router
                    .replays
                    .lock()
                    .expect("replays lock")
                    .insert(id, r.clone());
                if resume {
                    router.spawn_replay(&bus, r).await;
                }
            }
        }
        Ok(router)
    }

    /// Starts a replay.
    pub async fn start_replay(
        &self,
        bus_name: &str,
        req: replay::ReplayRequest,
    ) -> Result<replay::ReplayStatus, RouterError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
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
        let rate = req.rate_per_s.unwrap_or(replay::DEFAULT_RATE);
        if !(rate > 0.0 && rate <= 1e7) {
            return Err(
                RuleError::new("rate_per_s", "rate_per_s must be between 0 and 10000000").into(),
            );
        }
        let (from, to) = replay::resolve_range(&self.store, &bus, &req)
            .map_err(|m| RuleError::new("from", m))?;
        let number = {
            let mut n = self.next_replay.lock().expect("replay counter");
            *n += 1;
            *n
        };
        let status = replay::ReplayStatus {
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
            state: replay::ReplayState::Running,
            rate_per_s: rate,
            created_at: format_rfc3339_micros(now_micros()),
            finished_at: None,
            error: None,
        };
        self.store.put_record(
            Records::Schemas,
            &replay::record_key(bus.id, &status.id),
            &serde_json::to_vec(&status).expect("replays serialize"),
        )?;
        let r = Arc::new(replay::Replay {
            status: std::sync::Mutex::new(status.clone()),
            control: watch::channel(replay::ReplayState::Running).0,
        });
        self.replays
            .lock()
            .expect("replays lock")
            .insert(status.id.clone(), r.clone());
        self.spawn_replay(&bus, r).await;
        Ok(status)
    }

    async fn spawn_replay(&self, bus: &Arc<Bus>, r: Arc<replay::Replay>) {
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
        tokio::spawn(replay::run(
            self.store.clone(),
            bus.clone(),
            r,
            rules,
            self.stop_replays.subscribe(),
        ));
    }

    /// A replay's status.
    pub fn replay(&self, id: &str) -> Option<replay::ReplayStatus> {
        self.replays
            .lock()
            .expect("replays lock")
            .get(id)
            .map(|r| r.status.lock().expect("replay lock").clone())
    }

    /// Every replay.
    pub fn replays(&self) -> Vec<replay::ReplayStatus> {
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
    pub fn control_replay(
        &self,
        id: &str,
        to: replay::ReplayState,
    ) -> Result<Option<replay::ReplayStatus>, String> {
        let Some(r) = self.replays.lock().expect("replays lock").get(id).cloned() else {
            return Ok(None);
        };
        let mut s = r.status.lock().expect("replay lock");
        match s.state {
            replay::ReplayState::Completed
            | replay::ReplayState::Cancelled
            | replay::ReplayState::Failed => {
                return Err(format!("replay {id} has finished ({:?})", s.state).to_lowercase());
            }
            _ => {}
        }
        s.state = to;
        if let Some(bus) = self.store.bus(&s.bus) {
            let _ = self.store.put_record(
                Records::Schemas,
                &replay::record_key(bus.id, id),
                &serde_json::to_vec(&*s).expect("replays serialize"),
            );
        }
        let _ = r.control.send(to);
        Ok(Some(s.clone()))
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
            let dead = self.store.count_dead_letters(bus.id, &rule.name, &t.id)?;
            targets.push(TargetHandle::start(
                self.store.clone(),
                (bus.id, &bus.name),
                rule.name.clone(),
                t.clone(),
                queued,
                dead,
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
        mut spec: RuleSpec,
    ) -> Result<bool, RouterError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
        // Secrets come back from GET as "***": where the new version says
        // so, keep what the stored version of the same target has.
        let stored: Vec<Value> = {
            let buses = self.buses.lock().await;
            buses
                .get(bus_name)
                .and_then(|p| p.rules.get(name))
                .map(|r| r.rule.spec.targets.clone())
                .unwrap_or_default()
        };
        for (i, t) in spec.targets.iter_mut().enumerate() {
            let id = t.get("id").and_then(Value::as_str).map(str::to_owned);
            let old = stored
                .iter()
                .find(|o| id.is_some() && o.get("id").and_then(Value::as_str) == id.as_deref());
            crate::delivery::restore_secrets(t, old)
                .map_err(|e| RuleError::new(format!("targets[{i}].{}", e.field), e.message))?;
        }
        let env = rule::CompileEnv {
            registry: &self.registry,
            log_dir: &self.log_dir,
        };
        let compiled = rule::compile(&bus.name, name, spec.clone(), &env)?;
        let now = now_micros();
        let existing = {
            let buses = self.buses.lock().await;
            let rules = buses.get(bus_name).map(|p| &p.rules);
            let existing = rules.and_then(|r| r.get(name)).map(|r| r.created_at);
            if existing.is_none() && rules.map_or(0, |r| r.len()) >= self.max_rules_per_bus {
                return Err(RouterError::LimitReached {
                    bus: bus_name.to_owned(),
                    limit: self.max_rules_per_bus,
                });
            }
            existing
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
            crate::metrics::METRICS.forget(&[("bus", bus_name), ("rule", name), ("target", gone)]);
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
        crate::metrics::METRICS.forget(&[("bus", bus_name), ("rule", name)]);
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
        crate::metrics::METRICS.forget(&[("bus", bus_name)]);
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
                    "dead_letters": s.dead_letters.load(Relaxed),
                    "dropped": s.dropped.load(Relaxed),
                    "plugin": plugin,
                })
            })
            .collect();
        let mut v = serde_json::to_value(&r.rule.spec).unwrap_or(Value::Null);
        if let Some(Value::Array(targets)) = v.get_mut("targets") {
            // Credentials are write-only.
            targets.iter_mut().for_each(crate::delivery::redact_target);
        }
        let gaps = self.store.rule_gaps(bus.id, name).unwrap_or_default();
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
                    "expired_events": gaps.expired_events,
                    "last_gap": gaps.last,
                    "plugins": plugins,
                    "targets": targets,
                }),
            );
        }
        v
    }

    /// Moves a rule's dead letters (optionally one target's) back into the
    /// delivery queues.
    ///
    /// Works target by target, page by page after the last key seen, so a
    /// target with many letters never hides another's, and a letter that
    /// cannot be read is skipped (and counted) instead of being read again
    /// forever. The router's lock is held only to look the rule up.
    pub async fn redrive(
        &self,
        bus_name: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<Redriven, RouterError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
        let targets = self.rule_targets(bus_name, name).await?;
        if let Some(t) = target
            && !targets.iter().any(|h| h.target.id == t)
        {
            return Err(RuleError::new("target", format!("the rule has no target '{t}'")).into());
        }
        let mut done = Redriven::default();
        for h in targets
            .iter()
            .filter(|h| target.is_none_or(|t| t == h.target.id))
        {
            let mut after: Option<DeliveryKey> = None;
            loop {
                let store = self.store.clone();
                let (rule, tid, from) = (name.to_owned(), h.target.id.clone(), after.clone());
                let bus_id = bus.id;
                let (page, more) = tokio::task::spawn_blocking(move || {
                    store.dead_letter_page(
                        bus_id,
                        &rule,
                        Some(&tid),
                        from.as_ref(),
                        REDRIVE_PAGE,
                        REDRIVE_PAGE_BYTES,
                    )
                })
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                let mut b = self.store.router_batch();
                let now = now_micros();
                let mut n = 0u64;
                for (key, dl) in &page {
                    let Some(d) = dl.as_ref().ok().and_then(|dl| revive(key, dl, now)) else {
                        tracing::warn!(bus = %bus.name, rule = %name, target = %key.target, seq = key.seq, "Skipping a dead letter that cannot be read back.");
                        done.skipped += 1;
                        continue;
                    };
                    let attempts = dl.as_ref().map_or(0, |dl| dl.attempts);
                    self.store.remove_dead_letter(&mut b, key);
                    self.store.put_delivery(&mut b, &d);
                    let mut detail = serde_json::Map::new();
                    detail.insert("previous_attempts".into(), json!(attempts));
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
                    n += 1;
                }
                self.store.commit(b)?;
                if n > 0 {
                    // Redriven keys are older than the worker's position.
                    h.rewound(n);
                    h.dead_letters_removed(n);
                    done.redriven += n;
                }
                if !more {
                    break;
                }
            }
        }
        Ok(done)
    }

    /// Deletes a rule's dead letters (optionally one target's). Returns how
    /// many.
    pub async fn purge_dead_letters(
        &self,
        bus_name: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<u64, RouterError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RouterError::NoBus(bus_name.to_owned()))?;
        let targets = self.rule_targets(bus_name, name).await?;
        let n = self.store.purge_dead_letters(bus.id, name, target)?;
        for h in targets
            .iter()
            .filter(|h| target.is_none_or(|t| t == h.target.id))
        {
            h.stats
                .dead_letters
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(n)
    }

    /// How many dead letters each target of a rule holds now.
    pub async fn dead_letter_counts(
        &self,
        bus_name: &str,
        name: &str,
    ) -> Result<Vec<(String, u64)>, RouterError> {
        Ok(self
            .rule_targets(bus_name, name)
            .await?
            .iter()
            .map(|h| {
                (
                    h.target.id.clone(),
                    h.stats
                        .dead_letters
                        .load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .collect())
    }

    async fn rule_targets(
        &self,
        bus_name: &str,
        name: &str,
    ) -> Result<Arc<Vec<TargetHandle>>, RouterError> {
        let buses = self.buses.lock().await;
        Ok(buses
            .get(bus_name)
            .and_then(|p| p.rules.get(name))
            .ok_or_else(|| RouterError::NoRule(name.to_owned()))?
            .targets
            .clone())
    }

    /// Renders rule, target and plugin metrics (values read at scrape time).
    pub async fn render_metrics(&self, out: &mut String) {
        use crate::metrics::{Sample, label, write_family};
        use std::sync::atomic::Ordering::Relaxed;
        let buses = self.buses.lock().await;
        let mut degraded = Vec::new();
        let mut lag = Vec::new();
        let mut t: [Vec<Sample>; 6] = Default::default();
        let mut p: [Vec<Sample>; 5] = Default::default();
        for pipeline in buses.values() {
            let bus = &pipeline.bus;
            for (name, r) in &pipeline.rules {
                let rl = format!("bus=\"{}\",rule=\"{}\"", label(&bus.name), label(name));
                let mut plugins: Vec<(String, crate::plugin::PluginStatus)> = Vec::new();
                for (i, f) in r.rule.filters.iter().enumerate() {
                    plugins.push((format!("filter{i}"), f.status()));
                }
                if let Some(rule::Transform::Plugin(x)) = &r.rule.transform {
                    plugins.push(("transform".into(), x.status()));
                }
                for h in r.targets.iter() {
                    if let Some(x) = h.target.plugin() {
                        plugins.push((format!("target:{}", h.target.id), x.status()));
                    }
                    let tl = format!(
                        "{rl},target=\"{}\",type=\"{}\"",
                        label(&h.target.id),
                        h.target.kind
                    );
                    let s = &h.stats;
                    for (i, v) in [
                        s.delivered.load(Relaxed),
                        s.failed_attempts.load(Relaxed),
                        s.dead_lettered.load(Relaxed),
                        s.dropped.load(Relaxed),
                        s.queued.load(Relaxed),
                        s.window_bytes.load(Relaxed),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        t[i].push(Sample {
                            labels: tl.clone(),
                            value: v as f64,
                        });
                    }
                }
                let is_degraded = plugins.iter().any(|(_, s)| s.degraded);
                degraded.push(Sample {
                    labels: rl.clone(),
                    value: f64::from(u8::from(is_degraded)),
                });
                let cursor = self.store.cursor(bus.id, name).ok().flatten().unwrap_or(0);
                lag.push(Sample {
                    labels: rl.clone(),
                    value: bus.last_seq().saturating_sub(cursor) as f64,
                });
                for (step, s) in plugins {
                    let pl = format!(
                        "{rl},step=\"{}\",plugin=\"{}\"",
                        label(&step),
                        label(&s.plugin)
                    );
                    for (i, v) in [
                        s.calls,
                        s.failures,
                        s.traps,
                        s.instance_replacements,
                        u64::from(s.instances),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        p[i].push(Sample {
                            labels: pl.clone(),
                            value: v as f64,
                        });
                    }
                }
            }
        }
        write_family(
            out,
            "signalbox_rule_degraded",
            "gauge",
            "1 when a plugin of the rule keeps failing.",
            &degraded,
        );
        write_family(
            out,
            "signalbox_rule_lag_events",
            "gauge",
            "Events on the bus the rule has not handled yet.",
            &lag,
        );
        let [delivered, failed, dead, dropped, queued, window] = t;
        write_family(
            out,
            "signalbox_target_delivered_total",
            "counter",
            "Events delivered, by target.",
            &delivered,
        );
        write_family(
            out,
            "signalbox_target_failed_attempts_total",
            "counter",
            "Delivery attempts that failed (each is retried or dead-lettered).",
            &failed,
        );
        write_family(
            out,
            "signalbox_target_dead_letters_total",
            "counter",
            "Events moved to the dead-letter queue.",
            &dead,
        );
        write_family(
            out,
            "signalbox_target_dropped_total",
            "counter",
            "Undeliverable events dropped (targets without a dead-letter queue).",
            &dropped,
        );
        write_family(
            out,
            "signalbox_target_queue_depth",
            "gauge",
            "Events waiting for delivery.",
            &queued,
        );
        write_family(
            out,
            "signalbox_target_window_bytes",
            "gauge",
            "Bytes of queued deliveries a target worker holds in memory.",
            &window,
        );
        let [calls, failures, traps, replacements, instances] = p;
        write_family(
            out,
            "signalbox_plugin_calls_total",
            "counter",
            "Plugin calls, by rule step.",
            &calls,
        );
        write_family(
            out,
            "signalbox_plugin_failures_total",
            "counter",
            "Plugin calls that failed.",
            &failures,
        );
        write_family(
            out,
            "signalbox_plugin_traps_total",
            "counter",
            "Plugin calls that trapped (including deadline and memory traps).",
            &traps,
        );
        write_family(
            out,
            "signalbox_plugin_instance_replacements_total",
            "counter",
            "Plugin instances discarded after a failure.",
            &replacements,
        );
        write_family(
            out,
            "signalbox_plugin_instances",
            "gauge",
            "Live plugin instances.",
            &instances,
        );
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
        let _ = self.stop_replays.send(true);
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
