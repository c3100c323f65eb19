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

pub mod adaptive;
pub mod http;
pub mod retry;
pub mod worker;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::event::json::to_json_string;
use crate::event::{CloudEvent, ExtensionValue};
use crate::plugin::{AllowList, PluginKind, PluginLimits, Registry, RulePlugin};
use crate::store::Store;
use crate::store::queue::Delivery;
pub use http::{
    Auth, Concurrency, HttpConfigError, HttpMethod, HttpSender, HttpTarget, Mode,
    OAuthClientCredentials, SendOutcome,
};
pub use retry::{RetryAction, RetryPolicy};

/// Hops after which an event forwarded between buses is dead-lettered.
pub const MAX_HOPS: i32 = 8;

pub use crate::event::HOPS_EXTENSION;

/// What the API shows in place of a stored secret. Sending it back in a
/// rule keeps the secret stored for that target.
pub const REDACTED: &str = "***";

/// Header names whose values are credentials.
fn is_secret_header(name: &str) -> bool {
    const NAMES: [&str; 6] = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Every secret-holding place of a target as written: credential-like
/// headers, then credentials under `auth`.
fn secret_slots(target: &mut Value) -> Vec<&mut Value> {
    let mut out = Vec::new();
    let Some(obj) = target.as_object_mut() else {
        return out;
    };
    let mut headers = None;
    let mut auth = None;
    for (k, v) in obj.iter_mut() {
        match k.as_str() {
            "headers" => headers = Some(v),
            "auth" => auth = Some(v),
            _ => {}
        }
    }
    if let Some(Value::Object(h)) = headers {
        out.extend(
            h.iter_mut()
                .filter(|(k, _)| is_secret_header(k))
                .map(|(_, v)| v),
        );
    }
    if let Some(Value::Object(auth)) = auth {
        collect_auth(auth, &mut out);
    }
    out
}

/// The credentials of an `auth` object: `bearer`, `basic.password`,
/// `api_key.value`, `oauth_client_credentials.client_secret` (in key order,
/// as [`secret_paths`] lists them).
fn collect_auth<'a>(obj: &'a mut Map<String, Value>, out: &mut Vec<&'a mut Value>) {
    for (k, v) in obj.iter_mut() {
        match (k.as_str(), v) {
            ("bearer", v @ Value::String(_)) => out.push(v),
            ("basic", Value::Object(b)) => {
                if let Some(p) = b.get_mut("password") {
                    out.push(p);
                }
            }
            ("api_key", Value::Object(b)) => {
                if let Some(p) = b.get_mut("value") {
                    out.push(p);
                }
            }
            ("oauth_client_credentials", Value::Object(b)) => {
                if let Some(p) = b.get_mut("client_secret") {
                    out.push(p);
                }
            }
            _ => {}
        }
    }
}

/// Replaces a target's secrets (credentials and credential-like headers)
/// with [`REDACTED`], for showing the target through the API.
pub fn redact_target(target: &mut Value) {
    for slot in secret_slots(target) {
        if slot.is_string() {
            *slot = Value::String(REDACTED.into());
        }
    }
}

/// Puts stored secrets back where a new version of a target says
/// [`REDACTED`]. `old` is the stored version of the same target (same id),
/// if any. Fails when a redacted value has nothing to stand for.
pub fn restore_secrets(new: &mut Value, old: Option<&Value>) -> Result<(), TargetError> {
    let mut old = old.cloned().unwrap_or(Value::Null);
    let old_slots: Vec<Value> = secret_slots(&mut old)
        .into_iter()
        .map(|v| v.clone())
        .collect();
    let new_paths = secret_paths(new);
    let old_paths = secret_paths(&old);
    for (slot, path) in secret_slots(new).into_iter().zip(new_paths) {
        if slot.as_str() == Some(REDACTED) {
            let stored = old_paths
                .iter()
                .position(|p| *p == path)
                .and_then(|i| old_slots.get(i))
                .filter(|v| v.as_str() != Some(REDACTED));
            match stored {
                Some(v) => *slot = v.clone(),
                None => {
                    return Err(terr(
                        &path,
                        format!(
                            "'{REDACTED}' stands for the stored secret, but this target has none stored here; send the secret itself"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The paths of [`secret_slots`], in the same order (`auth.bearer`,
/// `headers.Authorization`, …).
fn secret_paths(target: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(obj) = target.as_object() else {
        return out;
    };
    let mut headers = None;
    let mut auth = None;
    for (k, v) in obj {
        match k.as_str() {
            "headers" => headers = Some(v),
            "auth" => auth = Some(v),
            _ => {}
        }
    }
    if let Some(Value::Object(h)) = headers {
        out.extend(
            h.keys()
                .filter(|k| is_secret_header(k))
                .map(|k| format!("headers.{k}")),
        );
    }
    if let Some(Value::Object(a)) = auth {
        for (k, v) in a {
            match (k.as_str(), v) {
                ("bearer", Value::String(_)) => out.push("auth.bearer".into()),
                ("basic", Value::Object(b)) if b.contains_key("password") => {
                    out.push("auth.basic.password".into());
                }
                ("api_key", Value::Object(b)) if b.contains_key("value") => {
                    out.push("auth.api_key.value".into());
                }
                ("oauth_client_credentials", Value::Object(b))
                    if b.contains_key("client_secret") =>
                {
                    out.push("auth.oauth_client_credentials.client_secret".into());
                }
                _ => {}
            }
        }
    }
    out
}

/// What every target has, whatever its kind: its id and how its
/// deliveries are retried, dead-lettered and ordered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetCommon {
    /// Target id, unique within the rule.
    pub id: String,
    /// Retry policy (the `exponential` preset when absent).
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Keep undeliverable events in the dead-letter queue (default true).
    #[serde(default = "yes")]
    pub dead_letter: bool,
    /// Deliver in order per value of this attribute.
    #[serde(default)]
    pub ordering_key: Option<String>,
}

/// `{"type": "bus"}`: forward to another bus.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusTargetSpec {
    /// The bus to forward to.
    pub bus: String,
}

/// `{"type": "log"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogTargetSpec {
    /// Append JSON lines to this file instead of the server log: a relative
    /// path inside the server's `targets.log_dir`.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `{"type": "plugin"}`: a Wasm connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginTargetSpec {
    /// `name@version` of a connector plugin.
    pub plugin: String,
    /// The plugin's configuration.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Hosts the connector may reach (default: none).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Events per `deliver` call (default 1, at most 1000); a call also
    /// stops at about 1 MiB of events ([`http::MAX_BATCH_BYTES`]).
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Concurrent `deliver` calls (default 1).
    #[serde(default = "one")]
    pub concurrency: usize,
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

/// What a target does, by kind.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// POST to a URL.
    Http(Box<http::HttpTarget>),
    /// Forward to another bus.
    Bus(BusTargetSpec),
    /// Write to the log.
    Log(LogTargetSpec),
    /// A Wasm connector.
    Plugin(PluginTargetSpec),
}

/// A target as written in a rule: `{"id", "type", "retry"?, "dead_letter"?,
/// "ordering_key"?, …kind-specific members}`. The common members are read
/// once for every kind; the rest must be exactly the kind's own (unknown
/// members are errors).
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Id, retry, dead letters, ordering.
    pub common: TargetCommon,
    /// The kind and its settings.
    pub kind: TargetKind,
}

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut rest = Map::<String, Value>::deserialize(d)?;
        let kind = match rest.remove("type") {
            Some(Value::String(k)) => k,
            Some(_) => return Err(D::Error::custom("`type` must be a string")),
            None => return Err(D::Error::missing_field("type")),
        };
        let mut common = Map::new();
        for key in ["id", "retry", "dead_letter", "ordering_key"] {
            if let Some(v) = rest.remove(key) {
                common.insert(key.to_owned(), v);
            }
        }
        let common: TargetCommon =
            serde_json::from_value(Value::Object(common)).map_err(D::Error::custom)?;
        let rest = Value::Object(rest);
        let kind = match kind.as_str() {
            "http" => TargetKind::Http(Box::new(
                serde_json::from_value(rest).map_err(D::Error::custom)?,
            )),
            "bus" => TargetKind::Bus(serde_json::from_value(rest).map_err(D::Error::custom)?),
            "log" => TargetKind::Log(serde_json::from_value(rest).map_err(D::Error::custom)?),
            "plugin" => TargetKind::Plugin(serde_json::from_value(rest).map_err(D::Error::custom)?),
            other => {
                return Err(D::Error::unknown_variant(
                    other,
                    &["http", "bus", "log", "plugin"],
                ));
            }
        };
        Ok(TargetSpec { common, kind })
    }
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
    /// Concurrent sends (the most, when adaptive).
    pub concurrency: usize,
    /// Whether the worker adapts its concurrency to the receiver, up to
    /// `concurrency` (see [`adaptive`]).
    pub adaptive_concurrency: bool,
    /// Deliveries per send (connectors and batch-mode HTTP targets; 1 for
    /// the rest). A batch also stops at about [`http::MAX_BATCH_BYTES`].
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
    /// The start of the receiver's answer to a failed attempt (its data:
    /// shown to admins only).
    pub response: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

fn check_id(id: &str) -> Result<(), TargetError> {
    crate::names::check(crate::names::Kind::Target, id).map_err(|e| terr("id", e.to_string()))
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

/// Resolves a `log` target's `file` inside `log_dir`: a relative path of
/// plain components, so a rule can never name a file elsewhere (say
/// `/etc/cron.d/x` or `../../x`).
fn log_file(log_dir: &Path, file: &Path) -> Result<PathBuf, TargetError> {
    use std::path::Component;
    let plain = !file.as_os_str().is_empty()
        && file.as_os_str().len() <= 255
        && file.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(terr(
            "file",
            format!(
                "'{}' is not allowed: name a file relative to the server's log folder (targets.log_dir), without '..' or a leading '/'",
                file.display()
            ),
        ));
    }
    Ok(log_dir.join(file))
}

/// Compiles a target. `tag` prefixes plugin log tags; `log_dir` is the only
/// folder `log` targets may write to.
pub fn compile_target(
    spec: TargetSpec,
    registry: &Registry,
    limits: PluginLimits,
    tag: &str,
    log_dir: &Path,
) -> Result<CompiledTarget, TargetError> {
    let TargetCommon {
        id,
        retry,
        dead_letter,
        ordering_key,
    } = spec.common;
    check_id(&id)?;
    check_ordering(&ordering_key)?;
    retry
        .validate()
        .map_err(|e| terr(&format!("retry.{}", e.field), e.detail))?;
    let mut adaptive = false;
    let (kind, concurrency, batch_size, sender) = match spec.kind {
        TargetKind::Http(h) => {
            // The sender enforces its own concurrency and rate limit.
            let sender = h
                .build(&id, retry.max)
                .map_err(|e| terr(&e.field, e.detail))?;
            let concurrency = sender.concurrency();
            adaptive = concurrency.is_adaptive();
            (
                "http",
                concurrency.max() as usize,
                sender.batch_size(),
                Sender::Http(Box::new(sender)),
            )
        }
        TargetKind::Bus(b) => {
            crate::names::check(crate::names::Kind::Bus, &b.bus)
                .map_err(|e| terr("bus", e.to_string()))?;
            ("bus", 1, 1, Sender::Bus(b.bus))
        }
        TargetKind::Log(l) => {
            let file = l.file.map(|f| log_file(log_dir, &f)).transpose()?;
            ("log", 1, 1, Sender::Log(file))
        }
        TargetKind::Plugin(p) => {
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
                crate::plugin::config_pairs(&p.config),
                limits,
                allow,
                &format!("{tag}{id}"),
            );
            (
                "plugin",
                p.concurrency,
                p.batch_size,
                Sender::Plugin(Arc::new(rp)),
            )
        }
    };
    Ok(CompiledTarget {
        id,
        kind,
        retry,
        dead_letter,
        ordering_key,
        concurrency,
        adaptive_concurrency: adaptive,
        batch_size,
        sender,
    })
}

impl CompiledTarget {
    /// What `d` adds to a batch's size, for the [`http::MAX_BATCH_BYTES`]
    /// cap: exactly its bytes in a batch-mode request body (with its comma),
    /// else an estimate of the event and its prepared body.
    pub fn batch_bytes(&self, d: &Delivery) -> usize {
        match &self.sender {
            Sender::Http(h) if h.mode() == Mode::Batch => {
                crate::event::json::json_len(&d.event) + 1
            }
            _ => d.approx_bytes(),
        }
    }

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

    /// Sends a batch (one delivery except for connectors and batch-mode
    /// HTTP targets).
    pub async fn send(&self, store: &Store, batch: &[Delivery]) -> Outcome {
        // Every send is a task of its own, and tokio copies a task's future
        // when it is spawned and again when its output is stored. So only
        // the plain HTTP path is inline; the other kinds' futures (a bus
        // append, a file write, a Wasm call) are boxed, which took the
        // task's future from 3,336 to 1,512 bytes and about 2% of a
        // delivery's CPU spent copying it.
        let start = Instant::now();
        let mut out = match &self.sender {
            Sender::Http(h) => {
                let o = if h.mode() == Mode::Batch {
                    let events: Vec<&CloudEvent> = batch.iter().map(|d| &d.event).collect();
                    h.send_batch(&events).await
                } else {
                    let d = &batch[0];
                    h.send(&d.event, d.body.as_ref()).await
                };
                Outcome {
                    action: o.action,
                    status: o.status,
                    error: o.error,
                    response: o.response,
                    duration: o.duration,
                }
            }
            Sender::Bus(bus) => Box::pin(forward(store, bus, &batch[0].event)).await,
            Sender::Log(file) => Box::pin(log(file.as_ref(), &batch[0])).await,
            Sender::Plugin(p) => {
                let events: Vec<CloudEvent> = batch.iter().map(|d| d.event.clone()).collect();
                match Box::pin(p.deliver(&events)).await {
                    Ok(()) => ok(),
                    Err(e) => Outcome {
                        action: if e.retryable {
                            RetryAction::Retry { after: None }
                        } else {
                            RetryAction::DeadLetter
                        },
                        status: e.status,
                        error: Some(e.message),
                        response: None,
                        duration: Duration::ZERO,
                    },
                }
            }
        };
        out.duration = start.elapsed();
        out
    }
}

impl Outcome {
    /// The error with the receiver's answer after it, as dead letters keep
    /// it (they are for admins).
    pub fn error_with_response(&self) -> Option<String> {
        match (&self.error, &self.response) {
            (Some(e), Some(r)) => Some(format!("{e}: {r}")),
            (e, _) => e.clone(),
        }
    }
}

fn ok() -> Outcome {
    Outcome {
        action: RetryAction::Delivered,
        status: None,
        error: None,
        response: None,
        duration: Duration::ZERO,
    }
}

fn fail(action: RetryAction, error: String) -> Outcome {
    Outcome {
        action,
        status: None,
        error: Some(error),
        response: None,
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

/// The `log` target. File writes run on the blocking pool: a slow disk
/// must not stall the runtime's worker threads.
async fn log(file: Option<&PathBuf>, d: &Delivery) -> Outcome {
    let mut line = to_json_string(&d.event);
    match file {
        None => {
            tracing::info!(target: "signalbox::target::log", rule = %d.key.rule, target_id = %d.key.target, seq = d.key.seq, event = %line, "Event delivered to the log target.");
            ok()
        }
        Some(path) => {
            let path = path.clone();
            line.push('\n');
            let r = tokio::task::spawn_blocking({
                let path = path.clone();
                move || {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .and_then(|mut f| f.write_all(line.as_bytes()))
                }
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
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

#[cfg(test)]
mod target_spec_tests {
    use super::*;

    fn parse(json: &str) -> Result<TargetSpec, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn common_members_are_read_once_for_every_kind() {
        let t = parse(
            r#"{"id": "inventory", "type": "http", "url": "http://inventory.internal:8080/events",
                "retry": {"max_attempts": 185, "max_age": "24h", "backoff": {"initial": "1s", "max": "5m", "multiplier": 2, "jitter": true}},
                "dead_letter": false, "ordering_key": "partitionkey"}"#,
        )
        .unwrap();
        assert_eq!(t.common.id, "inventory");
        assert_eq!(t.common.retry.max_attempts, 185);
        assert!(!t.common.dead_letter);
        assert_eq!(t.common.ordering_key.as_deref(), Some("partitionkey"));
        assert!(matches!(t.kind, TargetKind::Http(_)));
        for json in [
            r#"{"id": "b", "type": "bus", "bus": "archive"}"#,
            r#"{"id": "l", "type": "log"}"#,
            r#"{"id": "p", "type": "plugin", "plugin": "c@1"}"#,
        ] {
            let t = parse(json).unwrap();
            assert!(t.common.dead_letter, "{json}");
            assert_eq!(t.common.retry, RetryPolicy::default(), "{json}");
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        for (json, needle) in [
            (r#"{"id": "a", "url": "https://x"}"#, "missing field `type`"),
            (
                r#"{"type": "http", "url": "https://x"}"#,
                "missing field `id`",
            ),
            (
                r#"{"id": "a", "type": "carrier-pigeon"}"#,
                "unknown variant `carrier-pigeon`",
            ),
            (
                r#"{"id": "a", "type": "http", "url": "https://x", "colour": 1}"#,
                "unknown field `colour`",
            ),
            (
                r#"{"id": "a", "type": "bus", "bus": "x", "url": "https://x"}"#,
                "unknown field `url`",
            ),
            (
                r#"{"id": "a", "type": "log", "retry": {"max_attempts": 0}}"#,
                "max_attempts",
            ),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(needle), "{json}: {e}");
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
