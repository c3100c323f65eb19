//! Delivery: targets, and the workers that drain each target's queue.
//!
//! When a rule handles an event it writes one [`Delivery`] per target into
//! that target's durable queue (see `store::queue`), in the same atomic batch
//! that advances the rule's cursor. Every (rule, target) pair then has its
//! own [`worker`]: it sends queued deliveries with the target's concurrency
//! and rate limit, reschedules failures with exponential backoff (the
//! schedule is stored with the delivery, so it survives restarts), and moves
//! what cannot be delivered to the dead-letter queue. Because each target
//! drains its own queue at its own pace, a slow or failing target never
//! delays another target, another rule, or ingest: the bus absorbs peaks and
//! targets catch up.
//!
//! Target kinds:
//!
//! * `http` — POST to a URL ([`http`]); 2xx is delivered, 429/5xx/timeouts
//!   retry, other 4xx are dead-lettered at once;
//! * `bus` — append to another bus, counting hops in the `signalboxhops`
//!   extension so that rules forwarding in a circle stop after
//!   [`MAX_HOPS`];
//! * `log` — write the event to the server log or append it to a file;
//! * `plugin` — a Wasm connector ([`crate::plugin`]) reaching only its
//!   `allowed_hosts`.

pub mod http;
pub mod ratelimit;
pub mod retry;
pub mod worker;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::api::plugins::config_pairs;
use crate::event::json::to_json_string;
use crate::event::{CloudEvent, ExtensionValue};
use crate::plugin::{AllowList, PluginKind, PluginLimits, Registry, RulePlugin};
use crate::store::Store;
use crate::store::queue::Delivery;
pub use http::{Auth, HttpConfigError, HttpSender, HttpTarget, Mode, SendOutcome};
pub use retry::{RetryAction, RetryPolicy};

/// Hops after which an event forwarded between buses is dead-lettered.
pub const MAX_HOPS: i32 = 8;

/// The extension counting bus-to-bus hops.
pub const HOPS_EXTENSION: &str = "signalboxhops";

/// Fields every target has.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusTargetSpec {
    /// Target id, unique within the rule.
    pub id: String,
    /// The bus to forward to.
    pub bus: String,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Keep undeliverable events in the dead-letter queue (default true).
    #[serde(default = "yes")]
    pub dead_letter: bool,
    /// Deliver in order per value of this attribute.
    #[serde(default)]
    pub ordering_key: Option<String>,
}

/// `{"type": "log"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogTargetSpec {
    /// Target id.
    pub id: String,
    /// Append JSON lines to this file instead of the server log.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Keep undeliverable events in the dead-letter queue (default true).
    #[serde(default = "yes")]
    pub dead_letter: bool,
    /// Deliver in order per value of this attribute.
    #[serde(default)]
    pub ordering_key: Option<String>,
}

/// `{"type": "plugin"}`: a Wasm connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginTargetSpec {
    /// Target id.
    pub id: String,
    /// `name@version` of a connector plugin.
    pub plugin: String,
    /// The plugin's configuration.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Hosts the connector may reach (default: none).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Events per `deliver` call (default 1, at most 1000).
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Concurrent `deliver` calls (default 1).
    #[serde(default = "one")]
    pub concurrency: usize,
    /// Retry policy.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Keep undeliverable events in the dead-letter queue (default true).
    #[serde(default = "yes")]
    pub dead_letter: bool,
    /// Deliver in order per value of this attribute.
    #[serde(default)]
    pub ordering_key: Option<String>,
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

/// A target as written in a rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TargetSpec {
    /// POST to a URL.
    Http(http::HttpTarget),
    /// Forward to another bus.
    Bus(BusTargetSpec),
    /// Write to the log.
    Log(LogTargetSpec),
    /// A Wasm connector.
    Plugin(PluginTargetSpec),
}

/// A target that does not compile.
#[derive(Debug, Clone)]
pub struct TargetError {
    /// The member at fault, relative to the target.
    pub field: String,
    /// Why.
    pub message: String,
}

fn terr(field: &str, message: impl Into<String>) -> TargetError {
    TargetError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// How a target sends.
pub enum Sender {
    /// HTTP.
    Http(Box<http::HttpSender>),
    /// Another bus.
    Bus(String),
    /// The log, or a file.
    Log(Option<PathBuf>),
    /// A Wasm connector.
    Plugin(Arc<RulePlugin>),
}

/// A target ready to use.
pub struct CompiledTarget {
    /// Target id.
    pub id: String,
    /// `http`, `bus`, `log` or `plugin`.
    pub kind: &'static str,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Keep what cannot be delivered.
    pub dead_letter: bool,
    /// In-order delivery per value of this attribute.
    pub ordering_key: Option<String>,
    /// Concurrent sends.
    pub concurrency: usize,
    /// Deliveries per send (connectors).
    pub batch_size: usize,
    /// The sender.
    pub sender: Sender,
}

/// The outcome of one send.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What to do with the delivery.
    pub action: RetryAction,
    /// The remote status, if any.
    pub status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

fn check_id(id: &str) -> Result<(), TargetError> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(terr(
            "id",
            format!("'{id}' is not a valid target id: 1 to 63 of a-z, 0-9, '.', '_', '-'"),
        ))
    }
}

fn check_ordering(key: &Option<String>) -> Result<(), TargetError> {
    if let Some(k) = key
        && (k.is_empty()
            || !k
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    {
        return Err(terr(
            "ordering_key",
            "ordering_key names an attribute, e.g. partitionkey or subject",
        ));
    }
    Ok(())
}

/// Compiles a target. `tag` prefixes plugin log tags.
pub fn compile_target(
    spec: TargetSpec,
    registry: &Registry,
    limits: PluginLimits,
    tag: &str,
) -> Result<CompiledTarget, TargetError> {
    let target = match spec {
        TargetSpec::Http(h) => {
            check_id(&h.id)?;
            check_ordering(&h.ordering_key)?;
            // The sender enforces its own concurrency and rate limit.
            let sender = h.build().map_err(|e| terr(&e.field, e.detail))?;
            CompiledTarget {
                id: h.id.clone(),
                kind: "http",
                retry: *sender.retry_policy(),
                dead_letter: sender.dead_letter(),
                ordering_key: h.ordering_key.clone(),
                concurrency: sender.concurrency() as usize,
                batch_size: 1,
                sender: Sender::Http(Box::new(sender)),
            }
        }
        TargetSpec::Bus(b) => {
            check_id(&b.id)?;
            check_ordering(&b.ordering_key)?;
            b.retry
                .validate()
                .map_err(|e| terr(&format!("retry.{}", e.field), e.detail))?;
            crate::api::check_bus_name(&b.bus).map_err(|p| terr("bus", p.detail.clone()))?;
            CompiledTarget {
                id: b.id,
                kind: "bus",
                retry: b.retry,
                dead_letter: b.dead_letter,
                ordering_key: b.ordering_key,
                concurrency: 1,
                batch_size: 1,
                sender: Sender::Bus(b.bus),
            }
        }
        TargetSpec::Log(l) => {
            check_id(&l.id)?;
            check_ordering(&l.ordering_key)?;
            l.retry
                .validate()
                .map_err(|e| terr(&format!("retry.{}", e.field), e.detail))?;
            CompiledTarget {
                id: l.id,
                kind: "log",
                retry: l.retry,
                dead_letter: l.dead_letter,
                ordering_key: l.ordering_key,
                concurrency: 1,
                batch_size: 1,
                sender: Sender::Log(l.file),
            }
        }
        TargetSpec::Plugin(p) => {
            check_id(&p.id)?;
            check_ordering(&p.ordering_key)?;
            p.retry
                .validate()
                .map_err(|e| terr(&format!("retry.{}", e.field), e.detail))?;
            if !(1..=1000).contains(&p.batch_size) {
                return Err(terr("batch_size", "batch_size must be between 1 and 1000"));
            }
            if !(1..=64).contains(&p.concurrency) {
                return Err(terr("concurrency", "concurrency must be between 1 and 64"));
            }
            let plugin = registry
                .get(&p.plugin)
                .map_err(|e| terr("plugin", e.to_string()))?;
            if plugin.kind != PluginKind::Connector {
                return Err(terr(
                    "plugin",
                    format!(
                        "{} is a {} plugin; a plugin target needs a connector",
                        p.plugin, plugin.kind
                    ),
                ));
            }
            let allow = AllowList::parse(&p.allowed_hosts)
                .map_err(|e| terr("allowed_hosts", e.to_string()))?;
            let limits = PluginLimits {
                max_instances: limits.max_instances.max(p.concurrency as u32),
                ..limits
            };
            let rp = RulePlugin::new(
                plugin,
                config_pairs(&p.config),
                limits,
                allow,
                &format!("{tag}{}", p.id),
            );
            CompiledTarget {
                id: p.id,
                kind: "plugin",
                retry: p.retry,
                dead_letter: p.dead_letter,
                ordering_key: p.ordering_key,
                concurrency: p.concurrency,
                batch_size: p.batch_size,
                sender: Sender::Plugin(Arc::new(rp)),
            }
        }
    };
    Ok(target)
}

impl CompiledTarget {
    /// The connector plugin, for plugin targets.
    pub fn plugin(&self) -> Option<&Arc<RulePlugin>> {
        match &self.sender {
            Sender::Plugin(p) => Some(p),
            _ => None,
        }
    }

    /// The ordering key value of an event (empty when it has none).
    pub fn ordering_value(&self, e: &CloudEvent) -> Option<String> {
        let key = self.ordering_key.as_deref()?;
        let v = match key {
            "id" => Some(e.id.clone()),
            "source" => Some(e.source.clone()),
            "type" => Some(e.ty.clone()),
            "subject" => e.subject.clone(),
            other => e.extension(other).map(ExtensionValue::to_header_string),
        };
        Some(v.unwrap_or_default())
    }

    /// Sends a batch (one delivery except for connectors).
    pub async fn send(&self, store: &Store, batch: &[Delivery]) -> Outcome {
        let start = Instant::now();
        let mut out = match &self.sender {
            Sender::Http(h) => {
                let d = &batch[0];
                let body = d.body.as_ref().map(|b| crate::transform::Body {
                    bytes: b.bytes.clone(),
                    content_type: b.content_type.clone(),
                });
                let o = h.send(&d.event, body.as_ref()).await;
                Outcome {
                    action: o.action,
                    status: o.status,
                    error: o.error,
                    duration: o.duration,
                }
            }
            Sender::Bus(bus) => forward(store, bus, &batch[0].event).await,
            Sender::Log(file) => log(file.as_ref(), &batch[0]),
            Sender::Plugin(p) => {
                let events: Vec<CloudEvent> = batch.iter().map(|d| d.event.clone()).collect();
                match p.deliver(&events).await {
                    Ok(()) => ok(),
                    Err(e) => Outcome {
                        action: if e.retryable {
                            RetryAction::Retry { after: None }
                        } else {
                            RetryAction::DeadLetter
                        },
                        status: e.status,
                        error: Some(e.message),
                        duration: Duration::ZERO,
                    },
                }
            }
        };
        out.duration = start.elapsed();
        out
    }
}

fn ok() -> Outcome {
    Outcome {
        action: RetryAction::Delivered,
        status: None,
        error: None,
        duration: Duration::ZERO,
    }
}

fn fail(action: RetryAction, error: String) -> Outcome {
    Outcome {
        action,
        status: None,
        error: Some(error),
        duration: Duration::ZERO,
    }
}

/// The `bus` target: append to another bus with the hop count increased.
async fn forward(store: &Store, bus: &str, event: &CloudEvent) -> Outcome {
    let hops = match event.extension(HOPS_EXTENSION) {
        Some(ExtensionValue::Integer(n)) => *n,
        Some(ExtensionValue::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    };
    if hops >= MAX_HOPS {
        return fail(
            RetryAction::DeadLetter,
            format!(
                "the event was forwarded between buses {hops} times; stopping a loop (limit {MAX_HOPS})"
            ),
        );
    }
    let Some(target) = store.bus(bus) else {
        return fail(
            RetryAction::Retry { after: None },
            format!("bus '{bus}' does not exist"),
        );
    };
    let mut e = event.clone();
    e.set_extension(HOPS_EXTENSION, ExtensionValue::Integer(hops + 1));
    match store
        .append(&target, &[e], crate::event::time::now_micros())
        .await
    {
        Ok(_) => ok(),
        Err(err) => fail(RetryAction::Retry { after: None }, err.to_string()),
    }
}

/// The `log` target.
fn log(file: Option<&PathBuf>, d: &Delivery) -> Outcome {
    let line = to_json_string(&d.event);
    match file {
        None => {
            tracing::info!(target: "signalbox::target::log", rule = %d.key.rule, target_id = %d.key.target, seq = d.key.seq, event = %line, "Event delivered to the log target.");
            ok()
        }
        Some(path) => {
            let r = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
            match r {
                Ok(()) => ok(),
                Err(e) => fail(
                    RetryAction::Retry { after: None },
                    format!("cannot append to {}: {e}", path.display()),
                ),
            }
        }
    }
}

/// Serde helpers for durations written as strings (`"250ms"`, `"5s"`,
/// `"24h"`, `"1h 30m"`), the contract's format. Parsing and printing use
/// `humantime`.
pub mod duration_str {
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;

    /// Parses a duration string, with an error message that shows the
    /// expected form.
    pub fn parse(s: &str) -> Result<Duration, String> {
        humantime::parse_duration(s.trim()).map_err(|e| {
            format!("'{s}' is not a duration ({e}); write it like \"250ms\", \"5s\" or \"24h\"")
        })
    }

    /// Writes a duration in the form [`parse`] reads back exactly.
    pub fn format(d: Duration) -> String {
        humantime::format_duration(d).to_string()
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a duration string like \"250ms\", \"5s\" or \"24h\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse(v).map_err(E::custom)
        }
    }

    /// `#[serde(with = "duration_str")]` for `Duration` fields.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// `#[serde(with = "duration_str")]` for `Duration` fields.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_str(DurationVisitor)
    }

    /// `#[serde(with = "duration_str::option")]` for `Option<Duration>`
    /// fields (combine with `default`).
    pub mod option {
        use std::time::Duration;

        use serde::{Deserializer, Serializer};

        /// Serializes `Some` as a duration string and `None` as null.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        /// Deserializes a duration string into `Some`. (A missing member is
        /// `None` through `#[serde(default)]`.)
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips() {
            for s in ["250ms", "5s", "24h", "1m 30s", "1day", "1us", "30days"] {
                let d = parse(s).unwrap();
                assert_eq!(parse(&format(d)).unwrap(), d, "{s}");
            }
            assert_eq!(parse(" 5s ").unwrap(), Duration::from_secs(5));
            assert_eq!(parse("24h").unwrap(), Duration::from_secs(86_400));
            let e = parse("5").unwrap_err();
            assert!(e.contains("\"250ms\""), "{e}");
            assert!(parse("").is_err());
            assert!(parse("-5s").is_err());
        }
    }
}
