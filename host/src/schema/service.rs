//! Schemas as the server uses them: one registry per bus, persisted in the
//! catalogue's `schemas` collection, consulted on the ingest path.
//!
//! Each version is a [`SchemaVersion`] record of its bus, keyed by
//! `type \0 version`, loaded into each bus's [`SchemaRegistry`] at
//! start-up. On ingest, a bus whose schema policy is `off` everywhere (the
//! default) and which does not run discovery costs nothing: the check
//! returns before looking at the events.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{Map, json};

use super::{Decision, SchemaError, SchemaInference, SchemaRegistry, SchemaVersion, Violation};
use crate::event::CloudEvent;
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::event::validate::{EventError, EventErrorKind};
use crate::metrics::METRICS;
use crate::store::catalogue::{Collection, Record, Scope};
use crate::store::queue::TraceStep;
use crate::store::{Bus, BusId, Seq, Store, StoreError};

/// Every bus's schemas.
pub struct Schemas {
    store: Store,
    registries: RwLock<HashMap<BusId, Arc<SchemaRegistry>>>,
    discovery: RwLock<HashMap<BusId, Arc<SchemaInference>>>,
}

/// Errors from schema management.
#[derive(Debug, thiserror::Error)]
pub enum SchemasError {
    /// The schema is not acceptable.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Record for SchemaVersion {
    const COLLECTION: Collection = Collection::Schemas;
}

fn key(v: &SchemaVersion) -> String {
    String::from_utf8_lossy(&v.storage_key()).into_owned()
}

/// Warnings for accepted events: (index among the accepted events, violations).
pub type Warnings = Vec<(usize, Vec<Violation>)>;

impl Schemas {
    /// Loads every bus's schemas.
    pub async fn load(store: Store) -> Result<Schemas, StoreError> {
        let s = Schemas {
            store: store.clone(),
            registries: RwLock::new(HashMap::new()),
            discovery: RwLock::new(HashMap::new()),
        };
        for bus in store.buses() {
            let registry = s.registry(bus.id);
            for (_, v) in store.list::<SchemaVersion>(Scope::Bus(bus.id)).await? {
                if let Err(error) = registry.insert(v) {
                    tracing::error!(bus = %bus.name, %error, "Skipping a stored schema that no longer compiles.");
                }
            }
        }
        Ok(s)
    }

    /// Re-reads a bus's schemas from the store (in a cluster, after
    /// another node changed one).
    pub async fn reload_bus(&self, bus: &crate::store::Bus) -> Result<(), StoreError> {
        let registry = SchemaRegistry::new();
        for (_, v) in self.store.list::<SchemaVersion>(Scope::Bus(bus.id)).await? {
            if let Err(error) = registry.insert(v) {
                tracing::error!(bus = %bus.name, %error, "Skipping a stored schema that no longer compiles.");
            }
        }
        self.registries
            .write()
            .expect("schemas lock")
            .insert(bus.id, Arc::new(registry));
        Ok(())
    }

    /// The registry of a bus (created empty on first use).
    pub fn registry(&self, bus: BusId) -> Arc<SchemaRegistry> {
        if let Some(r) = self.registries.read().expect("schemas lock").get(&bus) {
            return r.clone();
        }
        self.registries
            .write()
            .expect("schemas lock")
            .entry(bus)
            .or_insert_with(|| Arc::new(SchemaRegistry::new()))
            .clone()
    }

    /// Schema discovery's state for a bus.
    pub fn discovery(&self, bus: BusId) -> Arc<SchemaInference> {
        if let Some(r) = self.discovery.read().expect("schemas lock").get(&bus) {
            return r.clone();
        }
        self.discovery
            .write()
            .expect("schemas lock")
            .entry(bus)
            .or_insert_with(|| Arc::new(SchemaInference::new()))
            .clone()
    }

    /// Registers a version (idempotent for identical content).
    pub async fn put(
        &self,
        bus: &Bus,
        event_type: &str,
        version: &str,
        schema: serde_json::Value,
    ) -> Result<SchemaVersion, SchemasError> {
        let registry = self.registry(bus.id);
        let v = registry.put(event_type, version, schema)?;
        self.store.put(Scope::Bus(bus.id), &key(&v), &v).await?;
        Ok(v)
    }

    /// Removes a version. Returns it if it existed.
    pub async fn delete(
        &self,
        bus: &Bus,
        event_type: &str,
        version: &str,
    ) -> Result<Option<SchemaVersion>, SchemasError> {
        let registry = self.registry(bus.id);
        let Some(v) = registry.delete(event_type, version) else {
            return Ok(None);
        };
        self.store
            .delete::<SchemaVersion>(Scope::Bus(bus.id), &key(&v))
            .await?;
        Ok(Some(v))
    }

    /// Applies the bus's schema policy to parsed events: events rejected by
    /// `enforce` become errors naming the failing pointer and keyword; the
    /// violations of events accepted under `warn` are returned (indexed among
    /// the events that remain valid) for [`Schemas::record_warnings`].
    pub fn check(&self, bus: &Bus, entries: &mut [Result<CloudEvent, EventError>]) -> Warnings {
        let config = &bus.config.schemas;
        if !config.checks_events() {
            return Vec::new();
        }
        let validating = config.validates();
        let registry = self.registry(bus.id);
        let discovery = config.discovery.then(|| self.discovery(bus.id));
        let mut warnings = Vec::new();
        let mut accepted = 0;
        for entry in entries.iter_mut() {
            let Ok(event) = entry else { continue };
            if let Some(d) = &discovery {
                d.observe(event);
            }
            let decision = if validating {
                registry.decide(config, event)
            } else {
                Decision::Accept
            };
            match decision {
                Decision::Accept => accepted += 1,
                Decision::AcceptWithWarning(v) => {
                    METRICS
                        .schema_violations
                        .get(&[("bus", &bus.name), ("type", &event.ty), ("policy", "warn")])
                        .inc();
                    warnings.push((accepted, v));
                    accepted += 1;
                }
                Decision::Reject(v) => {
                    METRICS
                        .schema_violations
                        .get(&[
                            ("bus", &bus.name),
                            ("type", &event.ty),
                            ("policy", "enforce"),
                        ])
                        .inc();
                    let first = &v[0];
                    let detail = v
                        .iter()
                        .map(|x| {
                            let at = if x.pointer.is_empty() {
                                "data".to_owned()
                            } else {
                                format!("data{}", x.pointer)
                            };
                            format!("{at} ({}): {}", x.keyword, x.message)
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    let err = EventError::new(
                        EventErrorKind::Invalid,
                        &format!("data{}", first.pointer),
                        format!(
                            "the data does not match the schema of '{}': {detail}",
                            event.ty
                        ),
                    )
                    .with_identity(Some(event.id.clone()), Some(event.source.clone()));
                    *entry = Err(err);
                }
            }
        }
        warnings
    }

    /// Records a `schema_warning` trace step for each accepted event that
    /// violated its schema under `warn`.
    pub async fn record_warnings(
        &self,
        store: &Store,
        bus: &Bus,
        _events: &[CloudEvent],
        seqs: &[(Seq, bool)],
        warnings: Warnings,
    ) {
        let now = now_micros();
        let mut b = store.batch();
        for (i, violations) in warnings {
            let Some((seq, duplicate)) = seqs.get(i) else {
                continue;
            };
            if *duplicate {
                continue;
            }
            let mut detail = Map::new();
            detail.insert("violations".into(), json!(violations));
            b.put_trace(
                bus.id,
                *seq,
                now,
                TraceStep {
                    at: format_rfc3339_micros(now),
                    step: "schema_warning".into(),
                    rule: None,
                    target: None,
                    detail,
                },
            );
        }
        if let Err(error) = store.commit(b).await {
            tracing::warn!(%error, "Cannot record schema warnings in traces.");
        }
    }
}
