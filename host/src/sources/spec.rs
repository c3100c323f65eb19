//! A source as written in `PUT /v1/buses/{bus}/sources/{name}`:
//!
//! ```json
//! {"type": "schedule", "description": "…", "enabled": true,
//!  …members of the kind…,
//!  "event": {"type", "source", "subject", "id", "data"}}
//! ```
//!
//! The common members are read for every kind; the rest must be exactly
//! the kind's own (an unknown member is an error naming it).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::template::EventTemplate;
use super::{mqtt, nats, schedule, webhook};

/// A source definition.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    /// Free text.
    pub description: String,
    /// Whether it runs (a paused source keeps its definition and state).
    pub enabled: bool,
    /// What turns received things into events.
    pub event: EventTemplate,
    /// The kind and its settings.
    pub kind: SourceKind,
}

/// The kinds of source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// Fires on a schedule.
    Schedule(schedule::ScheduleSpec),
    /// Receives signed HTTP requests.
    Webhook(webhook::WebhookSpec),
    /// Pulls from a NATS subject or JetStream stream.
    Nats(nats::NatsSpec),
    /// Subscribes to MQTT topics.
    Mqtt(mqtt::MqttSpec),
}

impl SourceKind {
    /// The kind's name, as in `type`.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Schedule(_) => "schedule",
            SourceKind::Webhook(_) => "webhook",
            SourceKind::Nats(_) => "nats",
            SourceKind::Mqtt(_) => "mqtt",
        }
    }
}

/// A source definition that cannot be used: the member at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The member, as a path (`verify.secret`, `event.type`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl SpecError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Deserializes a kind's own members, naming the member at fault.
pub(super) fn kind_members<T: serde::de::DeserializeOwned>(
    rest: Map<String, Value>,
) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(Value::Object(rest)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names an unknown member in its message; point at it.
        let field = match inner.split_once("unknown field `") {
            Some((_, r)) => r.split('`').next().unwrap_or("").to_owned(),
            None if path == "." => String::new(),
            None => path,
        };
        SpecError::new(field, inner)
    })
}

impl SourceSpec {
    /// Parses a definition.
    pub fn parse(v: Value) -> Result<SourceSpec, SpecError> {
        let Value::Object(mut rest) = v else {
            return Err(SpecError::new("", "a source is a JSON object"));
        };
        let kind = match rest.remove("type") {
            Some(Value::String(k)) => k,
            Some(_) => return Err(SpecError::new("type", "must be a string")),
            None => {
                return Err(SpecError::new(
                    "type",
                    "missing: one of schedule, webhook, nats, mqtt",
                ));
            }
        };
        let description = match rest.remove("description") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) if s.len() <= 1024 => s,
            Some(_) => {
                return Err(SpecError::new(
                    "description",
                    "must be a string of at most 1024 bytes",
                ));
            }
        };
        let enabled = match rest.remove("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(SpecError::new("enabled", "must be true or false")),
        };
        let event: EventTemplate = match rest.remove("event") {
            None | Some(Value::Null) => EventTemplate::default(),
            Some(v) => serde_path_to_error::deserialize(v).map_err(|e| {
                let path = e.path().to_string();
                let msg = e.into_inner().to_string();
                let field = match msg.split_once("unknown field `") {
                    Some((_, r)) => format!("event.{}", r.split('`').next().unwrap_or("")),
                    None if path == "." => "event".to_owned(),
                    None => format!("event.{path}"),
                };
                SpecError::new(field, msg)
            })?,
        };
        let kind = match kind.as_str() {
            "schedule" => SourceKind::Schedule(kind_members(rest)?),
            "webhook" => SourceKind::Webhook(kind_members(rest)?),
            "nats" => SourceKind::Nats(kind_members(rest)?),
            "mqtt" => SourceKind::Mqtt(kind_members(rest)?),
            other => {
                return Err(SpecError::new(
                    "type",
                    format!(
                        "unknown source type '{other}': use schedule, webhook, nats or mqtt (Kafka is not supported: see docs/sources.md)"
                    ),
                ));
            }
        };
        Ok(SourceSpec {
            description,
            enabled,
            event,
            kind,
        })
    }
}

/// A secret in a definition: written, never shown. `"***"` (what `GET`
/// shows) or a missing value in a `PUT` keeps the stored one.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub Option<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Secret(***)"
        } else {
            "Secret(None)"
        })
    }
}

/// What `GET` shows instead of a secret.
pub const REDACTED: &str = "***";

impl Secret {
    /// Whether the value means "keep what is stored".
    pub fn keeps(&self) -> bool {
        self.0.as_deref().is_none_or(|s| s == REDACTED)
    }
}

/// Replaces every string member named like a secret with `"***"`, at any
/// depth (for `GET`).
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if is_secret_name(k) && v.is_string() {
                    *v = Value::from(REDACTED);
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Puts back secrets a `PUT` left as `"***"` (or left out) from the stored
/// definition at the same place.
pub fn restore(new: &mut Value, old: &Value) {
    let (Value::Object(n), Value::Object(o)) = (new, old) else {
        return;
    };
    for (k, ov) in o {
        match n.get_mut(k) {
            Some(Value::String(s)) if is_secret_name(k) && s == REDACTED => {
                *n.get_mut(k).expect("present") = ov.clone()
            }
            None if is_secret_name(k) => {
                n.insert(k.clone(), ov.clone());
            }
            Some(nv @ Value::Object(_)) => restore(nv, ov),
            _ => {}
        }
    }
}

fn is_secret_name(k: &str) -> bool {
    matches!(
        k,
        "secret" | "password" | "token" | "nkey_seed" | "credentials"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_members_and_types_are_named() {
        let e = SourceSpec::parse(
            json!({"type": "schedule", "expression": "rate(1 minute)", "bogus": 1}),
        )
        .unwrap_err();
        assert_eq!(e.field, "bogus", "{e}");
        let e = SourceSpec::parse(json!({"type": "kafka"})).unwrap_err();
        assert_eq!(e.field, "type");
        let e = SourceSpec::parse(
            json!({"type": "schedule", "expression": "rate(1 minute)", "event": {"tpye": "x"}}),
        )
        .unwrap_err();
        assert_eq!(e.field, "event.tpye", "{e}");
    }

    #[test]
    fn secrets_are_redacted_and_restored() {
        let stored = json!({"type": "webhook", "verify": {"scheme": "github", "secret": "s3cr3t-s3cr3t-s3cr3t"}});
        let mut shown = stored.clone();
        redact(&mut shown);
        assert_eq!(shown["verify"]["secret"], "***");
        let mut put = shown.clone();
        restore(&mut put, &stored);
        assert_eq!(put, stored);
        let mut put = json!({"type": "webhook", "verify": {"scheme": "github"}});
        restore(&mut put, &stored);
        assert_eq!(put, stored);
    }
}
