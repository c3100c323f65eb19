//! The rule catalogue: rule definitions — checked, compiled, stored as
//! catalogue records and loaded at start-up — and what the API reads of
//! them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use super::rule::{self, RuleError, RuleSpec};
use super::{Rules, RulesError, replay};
use crate::event::time::now_micros;
use crate::plugin::Registry;
use crate::store::catalogue::{Collection, Record, Scope};
use crate::store::{Bus, Store};

/// A rule as the catalogue keeps it.
#[derive(Serialize, Deserialize)]
struct RuleRecord {
    spec: RuleSpec,
    created_at: i64,
    updated_at: i64,
}

impl Record for RuleRecord {
    const COLLECTION: Collection = Collection::Rules;
}

impl Rules {
    /// Starts every stored rule and resumes unfinished replays.
    /// Rules stored before a lower `max_rules_per_bus` was configured all
    /// start; the limit only refuses new ones.
    pub async fn start(
        store: Store,
        registry: Arc<Registry>,
        max_rules_per_bus: usize,
        log_dir: std::path::PathBuf,
    ) -> Result<Arc<Rules>, RulesError> {
        let rules = Arc::new(Rules {
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
            acquired: Mutex::new(HashMap::new()),
            fresh: Mutex::new(std::collections::HashSet::new()),
        });
        let uses = rules.uses.clone();
        registry.set_in_use_check(move |reference| {
            let uses = uses.lock().expect("uses lock");
            let mut users: Vec<String> = uses
                .iter()
                .filter(|(_, refs)| refs.iter().any(|r| r == reference))
                .map(|(rule, _)| rule.clone())
                .collect();
            users.sort();
            users
        });
        for bus in store.buses() {
            for (name, record) in store.list::<RuleRecord>(Scope::Bus(bus.id)).await? {
                let env = rule::CompileEnv {
                    registry: &registry,
                    log_dir: &rules.log_dir,
                };
                match rule::compile(&bus.name, &name, record.spec, &env) {
                    Ok(compiled) => {
                        rules
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
            for (_, status) in store
                .list::<replay::ReplayStatus>(Scope::Bus(bus.id))
                .await?
            {
                // In a cluster every node loads every replay; one resumes it.
                let resume = (status.state == replay::ReplayState::Running
                    || status.state == replay::ReplayState::Paused)
                    && store.owns(&format!("replay/{}", status.id));
                let state = status.state;
                let id = status.id.clone();
                {
                    let mut n = rules.next_replay.lock().expect("replay counter");
                    *n = (*n).max(status.number);
                }
                let r = Arc::new(replay::Replay {
                    status: std::sync::Mutex::new(status),
                    control: watch::channel(state).0,
                });
                rules
                    .replays
                    .lock()
                    .expect("replays lock")
                    .insert(id, r.clone());
                if resume {
                    rules.spawn_replay(&bus, r).await;
                }
            }
        }
        Ok(rules)
    }

    /// A stored rule, compiled; `None` if there is none (or it no longer
    /// compiles, which is logged).
    pub(super) async fn load_record(
        &self,
        bus: &Bus,
        name: &str,
    ) -> Result<Option<(rule::CompiledRule, i64, i64)>, RulesError> {
        let Some(record) = self
            .store
            .get::<RuleRecord>(Scope::Bus(bus.id), name)
            .await?
        else {
            return Ok(None);
        };
        let env = rule::CompileEnv {
            registry: &self.registry,
            log_dir: &self.log_dir,
        };
        match rule::compile(&bus.name, name, record.spec, &env) {
            Ok(c) => Ok(Some((c, record.created_at, record.updated_at))),
            Err(error) => {
                tracing::error!(bus = %bus.name, rule = %name, %error, "A stored rule no longer compiles; it is not running.");
                Ok(None)
            }
        }
    }

    /// The names of a bus's stored rules.
    pub(super) async fn stored_rule_names(&self, bus: &Bus) -> Result<Vec<String>, RulesError> {
        Ok(self
            .store
            .list::<RuleRecord>(Scope::Bus(bus.id))
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect())
    }

    /// Creates or replaces a rule. Returns whether it was created.
    pub async fn put_rule(
        &self,
        bus_name: &str,
        name: &str,
        mut spec: RuleSpec,
    ) -> Result<bool, RulesError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RulesError::NoBus(bus_name.to_owned()))?;
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
            crate::deliver::restore_secrets(t, old)
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
                return Err(RulesError::LimitReached {
                    bus: bus_name.to_owned(),
                    limit: self.max_rules_per_bus,
                });
            }
            existing
        };
        let created_at = existing.unwrap_or(now);
        let record = RuleRecord {
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
        if existing.is_none() && self.store.cursor(bus.id, name).await?.is_none() {
            // A new rule sees what is published from now on. Its position
            // is stored before the rule, so in a cluster the node that runs
            // it starts here, however late it learns of the rule.
            let mut b = self.store.batch();
            b.set_cursor(bus.id, name, bus.last_seq());
            self.store.commit(b).await?;
        }
        if existing.is_none() {
            self.fresh
                .lock()
                .expect("fresh lock")
                .insert(super::runtime::owner_key(bus_name, name));
        }
        self.store.put(Scope::Bus(bus.id), name, &record).await?;
        let new_targets: Vec<String> = compiled.targets.iter().map(|t| t.id.clone()).collect();
        self.install(&bus, compiled, created_at, now).await?;
        // Queues of targets the new version dropped are deleted with them.
        for gone in old_targets.iter().filter(|t| !new_targets.contains(t)) {
            self.store.delete_target_state(bus.id, name, gone).await?;
            crate::metrics::METRICS.forget(&[("bus", bus_name), ("rule", name), ("target", gone)]);
        }
        Ok(existing.is_none())
    }

    /// Deletes a rule, its cursor, queues and dead letters.
    pub async fn delete_rule(&self, bus_name: &str, name: &str) -> Result<(), RulesError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RulesError::NoBus(bus_name.to_owned()))?;
        if !self.unload(bus_name, name).await {
            return Err(RulesError::NoRule(name.to_owned()));
        }
        self.store
            .delete::<RuleRecord>(Scope::Bus(bus.id), name)
            .await?;
        self.store.delete_rule_state(bus.id, name).await?;
        crate::metrics::METRICS.forget(&[("bus", bus_name), ("rule", name)]);
        Ok(())
    }

    /// A rule's definition and status.
    pub async fn get_rule(&self, bus_name: &str, name: &str) -> Result<Value, RulesError> {
        let buses = self.buses.lock().await;
        let p = buses
            .get(bus_name)
            .ok_or_else(|| RulesError::NoRule(name.to_owned()))?;
        let r = p
            .rules
            .get(name)
            .ok_or_else(|| RulesError::NoRule(name.to_owned()))?;
        Ok(self.rule_json(&p.bus, name, r))
    }

    /// Every rule of a bus.
    pub async fn list_rules(&self, bus_name: &str) -> Result<Vec<Value>, RulesError> {
        self.store
            .bus(bus_name)
            .ok_or_else(|| RulesError::NoBus(bus_name.to_owned()))?;
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

    /// A rule's definition as stored (secrets included: for the host's own
    /// use, never to show), if the rule exists.
    pub async fn rule_spec(&self, bus_name: &str, name: &str) -> Option<RuleSpec> {
        self.buses
            .lock()
            .await
            .get(bus_name)
            .and_then(|p| p.rules.get(name))
            .map(|r| r.rule.spec.clone())
    }

    /// Every rule of a bus with its definition as stored (see
    /// [`rule_spec`](Self::rule_spec)), by name.
    pub async fn rule_specs(&self, bus_name: &str) -> Vec<(String, RuleSpec)> {
        let buses = self.buses.lock().await;
        let Some(p) = buses.get(bus_name) else {
            return Vec::new();
        };
        let mut out: Vec<(String, RuleSpec)> = p
            .rules
            .iter()
            .map(|(n, r)| (n.clone(), r.rule.spec.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether a rule exists.
    pub async fn has_rule(&self, bus_name: &str, name: &str) -> bool {
        self.buses
            .lock()
            .await
            .get(bus_name)
            .is_some_and(|p| p.rules.contains_key(name))
    }
}
