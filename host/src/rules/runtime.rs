//! The runtime: starting and stopping what runs for each rule — one
//! dispatcher per bus, one worker per enabled rule, one worker per target —
//! as rules come, change and go.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::rule::CompiledRule;
use super::{BusPipeline, RuleState, Rules, RulesError, dispatch, worker};
use crate::deliver::worker::TargetHandle;
use crate::store::Bus;

impl Rules {
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
    pub(super) async fn install(
        &self,
        bus: &Arc<Bus>,
        rule: CompiledRule,
        created_at: i64,
        updated_at: i64,
    ) -> Result<(), RulesError> {
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
        // In a cluster only one node runs a rule; the others know it (for
        // the API and plugin-use checks) but start nothing for it.
        let key = owner_key(&bus.name, &rule.name);
        let owned = self.store.owns(&key) && self.handed_over(&key);
        let (targets, position, owned) = match self.prepare(bus, &rule, owned).await {
            Ok((targets, position)) => (targets, position, owned),
            // In a cluster, JetStream may be briefly unavailable (a server
            // restarting): keep the rule known but not running, marked as
            // not owned, so the next rebalance starts it again.
            Err(error) if self.store.cluster().is_some() => {
                tracing::warn!(bus = %bus.name, rule = %rule.name, %error, "Cannot start the rule here yet; retrying.");
                (
                    Arc::new(Vec::new()),
                    Arc::new(worker::Position::default()),
                    false,
                )
            }
            Err(error) => return Err(error),
        };
        let worker = if rule.spec.enabled && owned {
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
                position.clone(),
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
                position,
                worker,
                owned,
            },
        );
        Ok(())
    }

    /// In a cluster, whether a rule this node owns may start now. A node
    /// that has just become the owner waits [`HANDOVER`] first, so that the
    /// previous owner has seen the change and stopped: its last queued
    /// deliveries are then in the queue this node reads when it starts.
    /// (Until then the rule stays known but not running; the periodic
    /// rebalance starts it.) A rule just created through this node starts
    /// at once.
    fn handed_over(&self, key: &str) -> bool {
        if self.store.cluster().is_none() || self.fresh.lock().expect("fresh lock").remove(key) {
            return true;
        }
        let mut acquired = self.acquired.lock().expect("acquired lock");
        let since = *acquired
            .entry(key.to_owned())
            .or_insert_with(std::time::Instant::now);
        since.elapsed() >= HANDOVER
    }

    /// What a rule needs from the store before it runs: its target workers
    /// (when this node owns it) and its position.
    async fn prepare(
        &self,
        bus: &Arc<Bus>,
        rule: &Arc<CompiledRule>,
        owned: bool,
    ) -> Result<(Arc<Vec<TargetHandle>>, Arc<worker::Position>), RulesError> {
        // Everything that can fail first, so a failure leaves no worker
        // running.
        let mut counts = Vec::new();
        for t in rule.targets.iter().filter(|_| owned) {
            let queued = self
                .store
                .count_deliveries(bus.id, &rule.name, &t.id)
                .await?;
            let dead = self
                .store
                .count_dead_letters(bus.id, &rule.name, &t.id)
                .await?;
            counts.push((t.clone(), queued, dead));
        }
        let cursor = match self.store.cursor(bus.id, &rule.name).await? {
            Some(c) => c,
            None if !owned => bus.last_seq(),
            None => {
                // A new rule starts at the head of the bus.
                let head = bus.last_seq();
                let mut b = self.store.batch();
                b.set_cursor(bus.id, &rule.name, head);
                self.store.commit(b).await?;
                head
            }
        };
        let gaps = self.store.gaps(bus.id, &rule.name).await?;
        let position = Arc::new(worker::Position::new(cursor, gaps));
        let targets = counts
            .into_iter()
            .map(|(t, queued, dead)| {
                TargetHandle::start(
                    self.store.clone(),
                    (bus.id, &bus.name),
                    rule.name.clone(),
                    t,
                    queued,
                    dead,
                )
            })
            .collect();
        let targets = Arc::new(targets);
        Ok((targets, position))
    }

    /// Re-reads a rule from the catalogue and runs (or stops) it as the
    /// record and this node's ownership say: how a change made on another
    /// node, or a node coming or going, reaches this one.
    pub async fn reload_rule(&self, bus: &Arc<Bus>, name: &str) -> Result<(), RulesError> {
        match self.load_record(bus, name).await? {
            Some((compiled, created_at, updated_at)) => {
                self.install(bus, compiled, created_at, updated_at).await
            }
            None => {
                self.unload(&bus.name, name).await;
                Ok(())
            }
        }
    }

    /// Stops what runs for a rule and forgets it here (the store keeps its
    /// record and state); false if this node had no such rule.
    pub(super) async fn unload(&self, bus_name: &str, name: &str) -> bool {
        let (state, dispatcher) = {
            let mut buses = self.buses.lock().await;
            match buses.get_mut(bus_name) {
                Some(p) => (p.rules.remove(name), Some(p.dispatcher.clone())),
                None => (None, None),
            }
        };
        let Some(state) = state else {
            return false;
        };
        if let Some(d) = dispatcher {
            let _ = d.send(dispatch::Command::Remove { id: state.id }).await;
        }
        stop_rule(state).await;
        self.uses
            .lock()
            .expect("uses lock")
            .remove(&format!("{bus_name}/{name}"));
        true
    }

    /// Reloads every rule of every bus (after the cluster's change feed was
    /// interrupted), and stops what runs for buses that are gone.
    pub async fn reload_all(&self) -> Result<(), RulesError> {
        let known: Vec<(String, Vec<String>)> = {
            let buses = self.buses.lock().await;
            buses
                .iter()
                .map(|(b, p)| (b.clone(), p.rules.keys().cloned().collect()))
                .collect()
        };
        for (bus_name, rules) in known {
            match self.store.bus(&bus_name) {
                None => self.remove_bus(&bus_name).await,
                Some(bus) => {
                    for r in rules {
                        self.reload_rule(&bus, &r).await?;
                    }
                }
            }
        }
        for bus in self.store.buses() {
            for name in self.stored_rule_names(&bus).await? {
                let known = self.has_rule(&bus.name, &name).await;
                if !known {
                    self.reload_rule(&bus, &name).await?;
                }
            }
        }
        Ok(())
    }

    /// Starts rules this node now owns and stops those it no longer does.
    pub async fn rebalance(&self) -> Result<(), RulesError> {
        let moved: Vec<(Arc<Bus>, String)> = {
            let buses = self.buses.lock().await;
            buses
                .values()
                .flat_map(|p| {
                    p.rules
                        .iter()
                        .filter(|(name, r)| {
                            r.owned != self.store.owns(&owner_key(&p.bus.name, name))
                        })
                        .map(|(name, _)| (p.bus.clone(), name.clone()))
                })
                .collect()
        };
        for (bus, name) in moved {
            if !self.store.owns(&owner_key(&bus.name, &name)) {
                self.acquired
                    .lock()
                    .expect("acquired lock")
                    .remove(&owner_key(&bus.name, &name));
            }
            tracing::info!(bus = %bus.name, rule = %name, owned = self.store.owns(&owner_key(&bus.name, &name)), "Rule ownership moved.");
            self.reload_rule(&bus, &name).await?;
        }
        Ok(())
    }

    /// Which node runs a rule (and its targets) is decided by this key.
    pub fn is_owned(&self, bus: &str, rule: &str) -> bool {
        self.store.owns(&owner_key(bus, rule))
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

    /// Stops every worker (shutdown). Cursors and queues are already durable.
    pub async fn shutdown(&self) {
        let _ = self.stop_replays.send(true);
        let all: Vec<BusPipeline> = self.buses.lock().await.drain().map(|(_, p)| p).collect();
        for p in all {
            stop_pipeline(p).await;
        }
    }
}

/// How long a node that has just become a rule's owner waits before it
/// runs the rule: more than the time the previous owner takes to see the
/// change (a heartbeat period) and stop.
const HANDOVER: std::time::Duration = std::time::Duration::from_secs(2);

/// The ownership key of a rule.
pub(super) fn owner_key(bus: &str, rule: &str) -> String {
    format!("rule/{bus}/{rule}")
}

pub(super) async fn stop_rule(r: RuleState) {
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
