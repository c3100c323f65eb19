//! A bus's settings: plain data, stored with the bus by [`crate::store`]
//! and read by ingest (limits, rate, dedup) and [`crate::schema`]
//! (validation policy).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A bus's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusConfig {
    /// Free text for humans.
    #[serde(default)]
    pub description: String,
    /// How long events are kept, in seconds.
    pub retention_secs: u64,
    /// Largest event accepted on this bus; `None` uses the server's limit.
    #[serde(default)]
    pub max_event_bytes: Option<u64>,
    /// Duplicate suppression: an event whose `source` and `id` match an
    /// event received within this many seconds is acknowledged but not
    /// stored again. `None` (the default) stores every event.
    #[serde(default)]
    pub dedup_window_secs: Option<u64>,
    /// Ingest rate limit: events per second, and the burst allowed above it.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Schema validation settings (see `crate::schema`).
    #[serde(default)]
    pub schemas: BusSchemaConfig,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            description: String::new(),
            retention_secs: 7 * 24 * 3600,
            max_event_bytes: None,
            dedup_window_secs: None,
            rate_limit: None,
            schemas: BusSchemaConfig::default(),
        }
    }
}

/// A bus's ingest rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained events per second.
    pub events_per_s: f64,
    /// Events accepted at once above the rate (default: one second's worth).
    #[serde(default)]
    pub burst: Option<u64>,
}

/// What a bus does with events whose data does not match their schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaPolicy {
    /// Do not validate at all (the default): no cost on the ingest path.
    #[default]
    Off,
    /// Validate and accept every event, reporting violations as warnings.
    Warn,
    /// Validate and reject events that violate their schema. Events of a type
    /// with no registered schema are accepted.
    Enforce,
}

/// A bus's schema settings, stored with the bus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSchemaConfig {
    /// The policy for event types not named in `per_type`.
    pub default_policy: SchemaPolicy,
    /// Policies for particular event types (by exact `type`).
    pub per_type: BTreeMap<String, SchemaPolicy>,
    /// Whether events on this bus feed schema discovery (`crate::schema::SchemaInference`).
    pub discovery: bool,
}

impl BusSchemaConfig {
    /// Whether ingest has anything to do for these settings: a policy other
    /// than `off` somewhere, or discovery.
    pub fn checks_events(&self) -> bool {
        self.discovery || self.validates()
    }

    /// Whether some event type is validated: a policy other than `off`.
    pub fn validates(&self) -> bool {
        self.default_policy != SchemaPolicy::Off
            || self.per_type.values().any(|p| *p != SchemaPolicy::Off)
    }

    /// The policy that applies to events of `event_type`.
    pub fn policy_for(&self, event_type: &str) -> SchemaPolicy {
        self.per_type
            .get(event_type)
            .copied()
            .unwrap_or(self.default_policy)
    }
}
