//! MQTT sources: events from MQTT 3.1.1 or 5 topics.
//!
//! ```json
//! {"type": "mqtt", "url": "mqtt://127.0.0.1:1883", "topics": ["sensors/+/temp"],
//!  "qos": 1, "event": {"type": "com.example.reading", "subject": "{topic}"}}
//! ```
//!
//! The client keeps a persistent session (`clean_session: false`; with
//! MQTT 5, a session expiry of `session_expiry`, default one day) and
//! acknowledges each QoS 1 or 2 message only after its event is durable,
//! so the broker keeps and redelivers what Signalbox has not stored —
//! across disconnects and restarts. A redelivered message (MQTT's DUP flag)
//! is looked up by its event id first and not stored twice.
//!
//! A payload that is a CloudEvent in the JSON format is stored as it is;
//! anything else is wrapped (data = the payload, `{topic}` in the template,
//! id = a hash of topic and payload, so a redelivery has the same id).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::spec::{Secret, SpecError};
use super::template::{Payload, Vars};
use super::{Ctx, EmitError, State};
use crate::event::time::{format_rfc3339_micros, now_micros};

/// The settings of an MQTT source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSpec {
    /// The broker, `mqtt://host:port` (port 1883 by default).
    pub url: String,
    /// Topic filters (`+` and `#` allowed).
    pub topics: Vec<String>,
    /// Quality of service of the subscriptions: 0, 1 (default) or 2. With 0
    /// the broker does not redeliver anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    /// `3.1.1` (default) or `5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The client id (default `signalbox-<bus>-<source>`); the broker keeps
    /// the session under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Start with a clean session (default false: keep the session so
    /// messages published while Signalbox is away are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_session: Option<bool>,
    /// MQTT 5: how long the broker keeps the session while disconnected
    /// (default `1d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expiry: Option<String>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Keep-alive interval (default `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<String>,
}

/// Placeholders an MQTT source's event may use.
pub const PLACEHOLDERS: &[&str] = &["name", "time", "topic", "json"];

/// Largest MQTT packet accepted (a bigger one could not become an event).
const MAX_PACKET: usize = 4 << 20;

impl MqttSpec {
    fn host_port(&self) -> Result<(String, u16), SpecError> {
        let bad = || {
            SpecError::new(
                "url",
                format!("'{}' is not a URL like mqtt://host:1883", self.url),
            )
        };
        let rest = self.url.strip_prefix("mqtt://").ok_or_else(bad)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (rest, 1883),
        };
        if host.is_empty() || host.contains('/') || host.contains('@') {
            return Err(bad());
        }
        Ok((
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        ))
    }

    fn v5(&self) -> bool {
        self.protocol.as_deref() == Some("5")
    }

    fn durations(&self) -> Result<(Duration, Duration), SpecError> {
        let parse = |field: &str,
                     v: &Option<String>,
                     default: Duration|
         -> Result<Duration, SpecError> {
            match v {
                None => Ok(default),
                Some(s) => crate::duration::parse_duration(s).map_err(|e| SpecError::new(field, e)),
            }
        };
        let keep_alive = parse("keep_alive", &self.keep_alive, Duration::from_secs(30))?;
        if !(Duration::from_secs(5)..=Duration::from_secs(3600)).contains(&keep_alive) {
            return Err(SpecError::new("keep_alive", "between 5s and 1h"));
        }
        let expiry = parse(
            "session_expiry",
            &self.session_expiry,
            Duration::from_secs(86_400),
        )?;
        if expiry > Duration::from_secs(u64::from(u32::MAX)) {
            return Err(SpecError::new("session_expiry", "too long"));
        }
        Ok((keep_alive, expiry))
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<(), SpecError> {
        self.host_port()?;
        if self.topics.is_empty() || self.topics.len() > 64 {
            return Err(SpecError::new("topics", "give 1 to 64 topic filters"));
        }
        for (i, t) in self.topics.iter().enumerate() {
            if !rumqttc::valid_filter(t) || t.len() > 1024 {
                return Err(SpecError::new(
                    format!("topics[{i}]"),
                    format!("'{t}' is not a valid topic filter"),
                ));
            }
        }
        if let Some(q) = self.qos
            && q > 2
        {
            return Err(SpecError::new("qos", "0, 1 or 2"));
        }
        if let Some(p) = &self.protocol
            && p != "3.1.1"
            && p != "5"
        {
            return Err(SpecError::new("protocol", "'3.1.1' or '5'"));
        }
        if let Some(c) = &self.client_id
            && (c.is_empty() || c.len() > 128)
        {
            return Err(SpecError::new("client_id", "1 to 128 characters"));
        }
        if self.password.as_ref().is_some_and(|p| p.0.is_some()) && self.username.is_none() {
            return Err(SpecError::new("username", "a password needs a user name"));
        }
        self.durations()?;
        Ok(())
    }
}

/// One received message, whichever protocol version.
struct Received {
    topic: String,
    payload: bytes::Bytes,
    dup: bool,
    ack: Ack,
}

enum Ack {
    None,
    V4(Box<rumqttc::Publish>),
    V5(Box<rumqttc::v5::mqttbytes::v5::Publish>),
}

enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    async fn ack(&self, ack: &Ack) -> Result<(), String> {
        match (self, ack) {
            (Client::V4(c), Ack::V4(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            (Client::V5(c), Ack::V5(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }
}

struct Msg<'a> {
    name: &'a str,
    topic: &'a str,
    json: Option<serde_json::Value>,
    now: String,
}

impl Vars for Msg<'_> {
    fn get(&self, kind: &str, arg: Option<&str>) -> Option<String> {
        match (kind, arg) {
            ("name", _) => Some(self.name.to_owned()),
            ("time", _) => Some(self.now.clone()),
            ("topic", _) => Some(self.topic.to_owned()),
            ("json", Some(p)) => self
                .json
                .as_ref()
                .and_then(|j| super::template::json_path(j, p)),
            _ => None,
        }
    }
}

fn event_for(ctx: &Ctx, topic: &str, payload: &[u8]) -> String {
    if let Some(e) = super::nats::structured(payload, None) {
        return e;
    }
    // The same message redelivered gets the same id.
    let mut h = Sha256::new();
    h.update(topic.as_bytes());
    h.update([0]);
    h.update(payload);
    let id = format!("{}-{}", ctx.name, hex::encode(&h.finalize()[..16]));
    let json: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    let now = format_rfc3339_micros(now_micros());
    let vars = Msg {
        name: &ctx.name,
        topic,
        json,
        now: now.clone(),
    };
    let mut defaults = ctx.defaults(id, Some(now), "com.signalbox.mqtt.message");
    defaults.subject = Some(topic.to_owned());
    let body = match (&vars.json, std::str::from_utf8(payload)) {
        (Some(_), Ok(text)) => Payload::Json(text),
        _ => Payload::Bytes(payload, Some("application/octet-stream")),
    };
    ctx.template.render(&vars, &defaults, body)
}

/// The client and the task polling its event loop, for either protocol
/// version (rumqttc's v4 and v5 APIs have the same shape but different
/// types): subscribes on every connection (a kept session keeps its
/// subscriptions; subscribing again is harmless and covers a new session),
/// passes publishes on to the worker through `tx`, and reconnects with
/// backoff. Expects `AsyncClient`, `Event`, `Packet` and `QoS` of the
/// version in scope.
macro_rules! client_and_poller {
    ($options:expr, $version:ident, $topic:expr, $qos:expr, $topics:expr, $ctx:expr, $tx:expr) => {{
        let (c, mut el) = AsyncClient::new($options, 64);
        let q = match $qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let topics = $topics;
        let sub = c.clone();
        let status = $ctx.status.clone();
        let name = $ctx.name.clone();
        let topic_of = $topic;
        let tx = $tx;
        let poller = tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        delay = Duration::from_millis(200);
                        status.set_state(State::Running);
                        for t in &topics {
                            let _ = sub.subscribe(t.clone(), q).await;
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let r = Received {
                            topic: topic_of(&p.topic),
                            payload: p.payload.clone(),
                            dup: p.dup,
                            ack: if p.qos == QoS::AtMostOnce {
                                Ack::None
                            } else {
                                Ack::$version(Box::new(p))
                            },
                        };
                        if tx.send(r).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        status.set_state(State::Reconnecting);
                        status.error(format!("MQTT connection: {e}"));
                        tracing::warn!(source = %name, error = %e, "MQTT connection failed; reconnecting.");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
        (Client::$version(c), poller)
    }};
}

/// Runs the source until it is told to stop.
pub(super) async fn run(ctx: Ctx, spec: MqttSpec) {
    let mut stop = ctx.stop.clone();
    let (host, port) = match spec.host_port() {
        Ok(hp) => hp,
        Err(e) => {
            ctx.status.error(e.to_string());
            return;
        }
    };
    let (keep_alive, expiry) = spec
        .durations()
        .unwrap_or((Duration::from_secs(30), Duration::from_secs(86_400)));
    let client_id = spec
        .client_id
        .clone()
        .unwrap_or_else(|| format!("signalbox-{}-{}", ctx.bus.name, ctx.name));
    let clean = spec.clean_session.unwrap_or(false);
    let qos = spec.qos.unwrap_or(1);
    let password = spec
        .password
        .as_ref()
        .and_then(|p| p.0.clone())
        .unwrap_or_default();
    // The event loop must be polled all the time (keep-alives, acks going
    // out); messages go to the worker below through a small channel, which
    // also holds back reading when storing is slow.
    let (tx, mut rx) = mpsc::channel::<Received>(256);
    let (client, poller) = if spec.v5() {
        use rumqttc::v5::{AsyncClient, Event, MqttOptions, mqttbytes::QoS, mqttbytes::v5::Packet};
        let mut o = MqttOptions::new(client_id, host, port);
        o.set_keep_alive(keep_alive)
            .set_clean_start(clean)
            .set_manual_acks(true)
            .set_session_expiry_interval(Some(expiry.as_secs() as u32))
            .set_max_packet_size(Some(MAX_PACKET as u32));
        if let Some(u) = &spec.username {
            o.set_credentials(u.clone(), password.clone());
        }
        client_and_poller!(
            o,
            V5,
            |t: &bytes::Bytes| String::from_utf8_lossy(t).into_owned(),
            qos,
            spec.topics.clone(),
            ctx,
            tx
        )
    } else {
        use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
        let mut o = MqttOptions::new(client_id, host, port);
        o.set_keep_alive(keep_alive)
            .set_clean_session(clean)
            .set_manual_acks(true)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET);
        if let Some(u) = &spec.username {
            o.set_credentials(u.clone(), password.clone());
        }
        client_and_poller!(
            o,
            V4,
            |t: &String| t.clone(),
            qos,
            spec.topics.clone(),
            ctx,
            tx
        )
    };
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Some(first) = first else { break };
        let mut msgs = vec![first];
        while msgs.len() < 100 {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let mut events = Vec::with_capacity(msgs.len());
        for m in &msgs {
            let event = event_for(&ctx, &m.topic, &m.payload);
            if m.dup && ctx.stored_already(&event).await {
                ctx.status.received(1);
                ctx.status.duplicate();
                continue;
            }
            events.push(event);
        }
        if !events.is_empty() {
            let mut delay = Duration::from_millis(100);
            loop {
                match ctx.emit(events.clone()).await {
                    Ok(_) | Err(EmitError::Rejected(_)) => break,
                    Err(EmitError::Publish(e)) => {
                        // Not acknowledged yet: keep trying (the broker keeps
                        // the messages if we stop here).
                        tracing::warn!(source = %ctx.name, error = %e, "Cannot store MQTT messages yet; retrying.");
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = stop.wait_for(|s| *s) => {
                                poller.abort();
                                return;
                            }
                        }
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        }
        for m in &msgs {
            if let Err(e) = client.ack(&m.ack).await {
                tracing::warn!(source = %ctx.name, error = %e, "Cannot acknowledge an MQTT message; the broker will redeliver it.");
            }
        }
    }
    // Let the acks above go out before the connection closes.
    match &client {
        Client::V4(c) => {
            let _ = c.disconnect().await;
        }
        Client::V5(c) => {
            let _ = c.disconnect().await;
        }
    }
    let mut poller = poller;
    let _ = tokio::time::timeout(Duration::from_secs(1), &mut poller).await;
    // It would reconnect otherwise.
    poller.abort();
}
