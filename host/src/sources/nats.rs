//! NATS sources: events from a subject, with core NATS or from a JetStream
//! stream.
//!
//! ```json
//! {"type": "nats", "servers": ["nats://127.0.0.1:4222"], "subject": "orders.>",
//!  "jetstream": {"stream": "ORDERS"}, "event": {"type": "com.example.order"}}
//! ```
//!
//! **JetStream** (with `jetstream`): a durable pull consumer on the stream
//! (named `signalbox-<bus>-<source>` unless `consumer` says otherwise,
//! created if missing, filtered to `subject`) is fetched in batches; each
//! batch is stored on the bus and only then acknowledged. A message the
//! server redelivers (stored, but the acknowledgement was lost) is looked
//! up by its event id first and not stored twice. Messages published while
//! Signalbox is down wait in the stream.
//!
//! **Core NATS** (without `jetstream`): a subscription, optionally in a
//! queue group. Core NATS keeps nothing for an absent subscriber, so what
//! is published while Signalbox is down or disconnected is lost; a message
//! with a reply subject is answered (empty body) once its event is stored,
//! so a requester can use request-reply as an acknowledgement.
//!
//! A message whose payload is a CloudEvent in the JSON format (its
//! `Content-Type` header is `application/cloudevents+json`, or the payload
//! is a JSON object with `specversion`) is stored as it is. Anything else
//! is wrapped: data = the payload, `type`, `source` and `subject` from the
//! `event` template (`{subject}` is the NATS subject), id =
//! `<stream>:<stream sequence>` with JetStream, a fresh id with core NATS.

use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::spec::{Secret, SpecError};
use super::template::{Payload, Vars};
use super::{Ctx, EmitError, State};
use crate::event::time::{format_rfc3339_micros, now_micros};

/// The settings of a NATS source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSpec {
    /// Server URLs, `nats://host:port`.
    pub servers: Vec<String>,
    /// The subject (wildcards allowed).
    pub subject: String,
    /// Core NATS only: a queue group, so several subscribers share the
    /// messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_group: Option<String>,
    /// Read from a JetStream stream instead of a core subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jetstream: Option<JetStreamSpec>,
    /// Credentials, if the server wants them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<NatsAuth>,
    /// Messages taken per batch (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
}

/// JetStream settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JetStreamSpec {
    /// The stream.
    pub stream: String,
    /// The durable consumer's name (default `signalbox-<bus>-<source>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// Where a newly created consumer starts: `all` (the default) or `new`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<String>,
}

/// NATS credentials: a token, or a user and password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsAuth {
    /// A token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// A user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

/// Placeholders a NATS source's event may use.
pub const PLACEHOLDERS: &[&str] = &["name", "time", "subject", "json", "header"];

const MAX_BATCH: usize = 1000;

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

impl NatsSpec {
    /// Checks the settings.
    pub fn check(&self) -> Result<(), SpecError> {
        if self.servers.is_empty() || self.servers.len() > 16 {
            return Err(SpecError::new("servers", "give 1 to 16 server URLs"));
        }
        for (i, s) in self.servers.iter().enumerate() {
            let ok = s
                .strip_prefix("nats://")
                .is_some_and(|r| !r.is_empty() && !r.contains('/'));
            if !ok {
                return Err(SpecError::new(
                    format!("servers[{i}]"),
                    format!("'{s}' is not a URL like nats://host:4222"),
                ));
            }
        }
        let subject_ok = !self.subject.is_empty()
            && self.subject.len() <= 256
            && !self.subject.bytes().any(|b| b.is_ascii_whitespace())
            && self.subject.split('.').all(|t| !t.is_empty());
        if !subject_ok {
            return Err(SpecError::new(
                "subject",
                "a NATS subject like orders.created, orders.* or orders.>",
            ));
        }
        if let Some(b) = self.batch
            && !(1..=MAX_BATCH).contains(&b)
        {
            return Err(SpecError::new("batch", "must be between 1 and 1000"));
        }
        if let Some(js) = &self.jetstream {
            if self.queue_group.is_some() {
                return Err(SpecError::new(
                    "queue_group",
                    "only for core NATS: a JetStream consumer is already shared",
                ));
            }
            if !name_ok(&js.stream) {
                return Err(SpecError::new(
                    "jetstream.stream",
                    "a stream name: letters, digits, '-' and '_'",
                ));
            }
            if let Some(c) = &js.consumer
                && !name_ok(c)
            {
                return Err(SpecError::new(
                    "jetstream.consumer",
                    "a consumer name: letters, digits, '-' and '_'",
                ));
            }
            if let Some(d) = &js.deliver
                && d != "all"
                && d != "new"
            {
                return Err(SpecError::new("jetstream.deliver", "'all' or 'new'"));
            }
        }
        if let Some(q) = &self.queue_group
            && !name_ok(q)
        {
            return Err(SpecError::new(
                "queue_group",
                "letters, digits, '-' and '_'",
            ));
        }
        if let Some(a) = &self.auth {
            let has_token = a.token.as_ref().is_some_and(|t| t.0.is_some());
            let has_user = a.user.is_some();
            if has_token == has_user {
                return Err(SpecError::new(
                    "auth",
                    "give either token, or user and password",
                ));
            }
        }
        Ok(())
    }
}

async fn connect(spec: &NatsSpec, name: &str) -> Result<async_nats::Client, String> {
    let mut opts = async_nats::ConnectOptions::new()
        .name(format!("signalbox source {name}"))
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None);
    if let Some(a) = &spec.auth {
        if let Some(Secret(Some(t))) = &a.token {
            opts = opts.token(t.clone());
        }
        if let Some(u) = &a.user {
            let p = a
                .password
                .as_ref()
                .and_then(|p| p.0.clone())
                .unwrap_or_default();
            opts = opts.user_and_password(u.clone(), p);
        }
    }
    opts.connect(spec.servers.clone())
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", spec.servers.join(",")))
}

/// Runs the source until it is told to stop, reconnecting after errors.
pub(super) async fn run(ctx: Ctx, spec: NatsSpec) {
    let mut stop = ctx.stop.clone();
    let mut delay = Duration::from_millis(200);
    loop {
        let r = tokio::select! {
            r = run_once(&ctx, &spec) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        if let Err(e) = r {
            tracing::warn!(source = %ctx.name, error = %e, "NATS source failed; reconnecting.");
            ctx.status.error(e);
        }
        ctx.status.set_state(State::Reconnecting);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

async fn run_once(ctx: &Ctx, spec: &NatsSpec) -> Result<(), String> {
    let client = connect(spec, &ctx.name).await?;
    match &spec.jetstream {
        Some(js) => run_jetstream(ctx, spec, js, client).await,
        None => run_core(ctx, spec, client).await,
    }
}

struct Msg<'a> {
    name: &'a str,
    subject: &'a str,
    headers: Option<&'a async_nats::HeaderMap>,
    json: Option<serde_json::Value>,
    now: String,
}

impl Vars for Msg<'_> {
    fn get(&self, kind: &str, arg: Option<&str>) -> Option<String> {
        match (kind, arg) {
            ("name", _) => Some(self.name.to_owned()),
            ("time", _) => Some(self.now.clone()),
            ("subject", _) => Some(self.subject.to_owned()),
            ("json", Some(p)) => self
                .json
                .as_ref()
                .and_then(|j| super::template::json_path(j, p)),
            ("header", Some(h)) => self
                .headers
                .and_then(|hs| hs.get(h))
                .map(|v| v.as_str().to_owned()),
            _ => None,
        }
    }
}

/// The event for one message: the payload itself when it is a structured
/// CloudEvent, else the payload wrapped by the template.
pub(super) fn event_for(
    ctx: &Ctx,
    subject: &str,
    headers: Option<&async_nats::HeaderMap>,
    payload: &[u8],
    id: String,
) -> String {
    let content_type = headers
        .and_then(|h| h.get("Content-Type"))
        .map(|v| v.as_str().to_owned());
    if let Some(e) = structured(payload, content_type.as_deref()) {
        return e;
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    let now = format_rfc3339_micros(now_micros());
    let vars = Msg {
        name: &ctx.name,
        subject,
        headers,
        json,
        now: now.clone(),
    };
    let mut defaults = ctx.defaults(id, Some(now), "com.signalbox.nats.message");
    defaults.subject = Some(subject.to_owned());
    let body = match (&vars.json, std::str::from_utf8(payload)) {
        (Some(_), Ok(text)) => Payload::Json(text),
        _ => Payload::Bytes(
            payload,
            Some(
                content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
            ),
        ),
    };
    ctx.template.render(&vars, &defaults, body)
}

/// A payload that is already a CloudEvent in the JSON format, as text.
pub(super) fn structured(payload: &[u8], content_type: Option<&str>) -> Option<String> {
    let declared = content_type.is_some_and(|c| c.starts_with("application/cloudevents+json"));
    let text = std::str::from_utf8(payload).ok()?;
    if declared {
        return Some(text.to_owned());
    }
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("specversion").is_some().then(|| text.to_owned())
}

async fn run_core(ctx: &Ctx, spec: &NatsSpec, client: async_nats::Client) -> Result<(), String> {
    let mut sub = match &spec.queue_group {
        Some(q) => {
            client
                .queue_subscribe(spec.subject.clone(), q.clone())
                .await
        }
        None => client.subscribe(spec.subject.clone()).await,
    }
    .map_err(|e| format!("cannot subscribe to {}: {e}", spec.subject))?;
    ctx.status.set_state(State::Running);
    let max = spec.batch.unwrap_or(100);
    while let Some(first) = sub.next().await {
        let mut msgs = vec![first];
        // Take what is already waiting, up to a batch, without waiting.
        while msgs.len() < max {
            match futures_util::FutureExt::now_or_never(sub.next()) {
                Some(Some(m)) => msgs.push(m),
                _ => break,
            }
        }
        let events: Vec<String> = msgs
            .iter()
            .map(|m| {
                // Core NATS gives a message no identity; nothing redelivers it.
                let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
                event_for(ctx, m.subject.as_str(), m.headers.as_ref(), &m.payload, id)
            })
            .collect();
        let mut stop = ctx.stop.clone();
        match ctx.emit(events).await {
            Ok(_) | Err(EmitError::Rejected(_)) => {}
            Err(EmitError::Publish(e)) => {
                // Core NATS cannot redeliver; say so loudly.
                tracing::error!(source = %ctx.name, error = %e, lost = msgs.len(), "Cannot store NATS messages; core NATS cannot redeliver them.");
                ctx.status
                    .failed(msgs.len() as u64, format!("messages lost: {e}"));
                continue;
            }
        }
        if *stop.borrow_and_update() {
            return Ok(());
        }
        // Acknowledge requests once stored.
        for m in &msgs {
            if let Some(reply) = &m.reply {
                let _ = client.publish(reply.clone(), bytes::Bytes::new()).await;
            }
        }
    }
    Err("the subscription ended (connection closed)".into())
}

async fn run_jetstream(
    ctx: &Ctx,
    spec: &NatsSpec,
    js_spec: &JetStreamSpec,
    client: async_nats::Client,
) -> Result<(), String> {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
    let js = async_nats::jetstream::new(client);
    let stream = js
        .get_stream(&js_spec.stream)
        .await
        .map_err(|e| format!("stream {}: {e}", js_spec.stream))?;
    let durable = js_spec.consumer.clone().unwrap_or_else(|| {
        format!(
            "signalbox-{}-{}",
            ctx.bus.name.replace('.', "_"),
            ctx.name.replace('.', "_")
        )
    });
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            &durable,
            pull::Config {
                durable_name: Some(durable.clone()),
                filter_subject: spec.subject.clone(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                deliver_policy: if js_spec.deliver.as_deref() == Some("new") {
                    DeliverPolicy::New
                } else {
                    DeliverPolicy::All
                },
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {durable} on {}: {e}", js_spec.stream))?;
    ctx.status.set_state(State::Running);
    let stream_name = js_spec.stream.clone();
    let max = spec.batch.unwrap_or(100);
    let mut stop = ctx.stop.clone();
    loop {
        let mut batch = consumer
            .batch()
            .max_messages(max)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        let mut msgs = Vec::new();
        while let Some(m) = batch.next().await {
            msgs.push(m.map_err(|e| format!("fetch: {e}"))?);
        }
        if msgs.is_empty() {
            if let Ok(info) = consumer.clone().info().await {
                ctx.status.set_lag(info.num_pending);
            }
            continue;
        }
        let mut events = Vec::with_capacity(msgs.len());
        let mut skip = vec![false; msgs.len()];
        for (i, m) in msgs.iter().enumerate() {
            let info = m.info().map_err(|e| format!("message info: {e}"))?;
            let id = format!("{stream_name}:{}", info.stream_sequence);
            let delivered = info.delivered;
            let event = event_for(ctx, m.subject.as_str(), m.headers.as_ref(), &m.payload, id);
            // A redelivery may be of a message stored before its
            // acknowledgement was lost.
            if delivered > 1 && ctx.stored_already(&event).await {
                skip[i] = true;
                ctx.status.received(1);
                ctx.status.duplicate();
                continue;
            }
            events.push(event);
        }
        if !events.is_empty() {
            match ctx.emit(events).await {
                Ok(_) | Err(EmitError::Rejected(_)) => {}
                Err(EmitError::Publish(e)) => {
                    // Not acknowledged: the server redelivers after ack_wait.
                    return Err(format!("cannot store messages: {e}"));
                }
            }
        }
        for m in &msgs {
            m.ack().await.map_err(|e| format!("ack: {e}"))?;
        }
        if *stop.borrow_and_update() {
            return Ok(());
        }
    }
}
