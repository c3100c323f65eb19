//! Webhook sources: signed HTTP requests from other services become events.
//!
//! ```json
//! {"type": "webhook", "verify": {"scheme": "github", "secret": "…"},
//!  "event": {"type": "com.github.{header:X-GitHub-Event}", "subject": "{json:$.repository.full_name}"}}
//! ```
//!
//! A source named `gh` receives at `POST /v1/sources/gh/webhook`, and also
//! at `POST /v1/hooks/<path>` when it sets `path`. No Signalbox token is
//! needed there: the request's signature is its credential ([`verify`]
//! has the schemes). A request that fails verification is refused with a
//! 401 and nothing is stored.
//!
//! Each accepted request becomes one event: data = the body (JSON as it
//! is, anything else as `data_base64` or text with its `Content-Type`),
//! attributes from the `event` template. Unless the template says
//! otherwise, the event id is the sender's signed id (Standard Webhooks,
//! `hmac` with a signed id header), the `id` member of a signed JSON body
//! (Stripe, Slack's Events API), or else derived from the signature — in
//! each case the same for the same request sent twice, so a retry or a
//! replay is acknowledged (`"duplicate": true`) but not stored twice, also
//! across restarts.

pub mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::spec::SpecError;
use super::template::{Payload, Vars};
use super::{Ctx, EmitError};
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::ingest::publish::PublishError;
use crate::store::Seq;
use verify::{SeenError, SeenIds, Verifier, VerifyConfig, VerifyError};

/// The settings of a webhook source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// How requests are verified.
    pub verify: VerifyConfig,
    /// Also receive at `POST /v1/hooks/<path>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Largest body accepted (default 1 MiB; at most the server's request
    /// limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

/// Default largest body.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// How long a request's signature is remembered against replays when the
/// scheme signs no timestamp (GitHub, `hmac` without one). Past that, a
/// replay is still recognized by its event id while the event is on the
/// bus.
const REMEMBER_SECS: i64 = 24 * 3600;

/// Placeholders a webhook's event may use.
pub const PLACEHOLDERS: &[&str] = &["name", "time", "header", "query", "json"];

impl WebhookSpec {
    /// Checks the settings.
    pub fn check(&self) -> Result<(), SpecError> {
        Verifier::new(&self.verify).map_err(|e| SpecError::new(e.field, e.detail))?;
        if let Some(p) = &self.path {
            let ok = !p.is_empty()
                && p.len() <= 200
                && !p.starts_with('/')
                && !p.ends_with('/')
                && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
            if !ok {
                return Err(SpecError::new(
                    "path",
                    "1 to 200 characters of letters, digits, '-', '_', '.' and '/', like github/acme (no leading or trailing '/')",
                ));
            }
        }
        if let Some(m) = self.max_body_bytes
            && !(1..=64 << 20).contains(&m)
        {
            return Err(SpecError::new("max_body_bytes", "between 1 and 67108864"));
        }
        Ok(())
    }
}

/// How a request names its endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// `/v1/sources/{name}/webhook`.
    Name(&'a str),
    /// `/v1/hooks/{path}`.
    Path(&'a str),
}

/// The webhook endpoints of all sources.
#[derive(Default)]
pub struct Endpoints {
    by_name: HashMap<String, Arc<Endpoint>>,
    by_path: HashMap<String, String>,
}

impl Endpoints {
    /// The endpoint a request names.
    pub fn get(&self, key: Key<'_>) -> Option<Arc<Endpoint>> {
        match key {
            Key::Name(n) => self.by_name.get(n).cloned(),
            Key::Path(p) => self
                .by_path
                .get(p)
                .and_then(|n| self.by_name.get(n))
                .cloned(),
        }
    }

    /// Adds a source's endpoint.
    pub fn insert(&mut self, name: &str, e: Arc<Endpoint>) {
        if let Some(p) = &e.path {
            self.by_path.insert(p.clone(), name.to_owned());
        }
        self.by_name.insert(name.to_owned(), e);
    }

    /// Removes a source's endpoint.
    pub fn remove(&mut self, name: &str) {
        if let Some(e) = self.by_name.remove(name)
            && let Some(p) = &e.path
        {
            self.by_path.remove(p);
        }
    }

    /// Removes all.
    pub fn clear(&mut self) {
        self.by_name.clear();
        self.by_path.clear();
    }
}

/// One source's endpoint.
pub struct Endpoint {
    ctx: Ctx,
    verifier: Verifier,
    seen: Mutex<SeenIds>,
    path: Option<String>,
    max_body: usize,
}

/// What a verified request became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The event's id.
    pub id: String,
    /// Its seq, when known.
    pub seq: Option<Seq>,
    /// Whether it had been received (and stored) before.
    pub duplicate: bool,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The body is larger than the source accepts.
    #[error("the body has more than {0} bytes, this source's limit (max_body_bytes)")]
    TooLarge(usize),
    /// Verification failed: 401, nothing stored.
    #[error(transparent)]
    Unverified(#[from] VerifyError),
    /// Too many recent requests remembered to protect against replays.
    #[error("too many recent webhooks to remember; retry later")]
    Busy,
    /// The request does not make a valid event.
    #[error("the request does not make a valid event: {0}")]
    Invalid(String),
    /// Storing failed, or the bus is over its rate; the sender may retry.
    #[error(transparent)]
    Publish(PublishError),
}

struct Request<'a> {
    name: &'a str,
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    json: Option<serde_json::Value>,
    now: String,
}

impl Vars for Request<'_> {
    fn get(&self, kind: &str, arg: Option<&str>) -> Option<String> {
        match (kind, arg) {
            ("name", _) => Some(self.name.to_owned()),
            ("time", _) => Some(self.now.clone()),
            ("header", Some(h)) => self
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ("query", Some(q)) => self.query.and_then(|qs| form_urlencoded_get(qs, q)),
            ("json", Some(p)) => self
                .json
                .as_ref()
                .and_then(|j| super::template::json_path(j, p)),
            _ => None,
        }
    }
}

/// The value of `key` in a query string (percent-decoded, `+` as space).
fn form_urlencoded_get(qs: &str, key: &str) -> Option<String> {
    qs.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (dec(k) == key).then(|| dec(v))
    })
}

impl Endpoint {
    /// An endpoint for a source.
    pub(crate) fn new(ctx: Ctx, spec: WebhookSpec) -> Result<Endpoint, SpecError> {
        let verifier =
            Verifier::new(&spec.verify).map_err(|e| SpecError::new(e.field, e.detail))?;
        Ok(Endpoint {
            ctx,
            verifier,
            seen: Mutex::new(SeenIds::default()),
            path: spec.path,
            max_body: spec.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        })
    }

    /// Largest body this endpoint accepts.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.ctx.name
    }

    /// Verifies a request and stores its event; resolves once it is
    /// durable.
    pub async fn receive(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Accepted, WebhookError> {
        let status = &self.ctx.status;
        if body.len() > self.max_body {
            status.failed(1, "a request was too large".into());
            return Err(WebhookError::TooLarge(self.max_body));
        }
        let now = now_micros();
        let now_secs = now.div_euclid(1_000_000);
        let verified = match self.verifier.verify(headers, body, now_secs) {
            Ok(v) => v,
            Err(e) => {
                status.received(1);
                status.failed(1, format!("a request failed verification: {e}"));
                return Err(e.into());
            }
        };
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let json: Option<serde_json::Value> =
            if content_type.as_deref().is_none_or(|c| c.contains("json")) {
                serde_json::from_slice(body).ok()
            } else {
                None
            };
        // The id: signed by the sender, or part of the signed body, or
        // derived from the signature; always the same for the same request.
        let signed_body_id = json
            .as_ref()
            .and_then(|j| j.get("id").or_else(|| j.get("event_id")))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .map(str::to_owned);
        let id = match (&verified.id, verified.id_signed) {
            (Some(id), true) => id.clone(),
            _ => signed_body_id.unwrap_or_else(|| verified.replay_key.replace("mac:", "sig-")),
        };
        let ty = self.default_type(headers, json.as_ref());
        let stamp = format_rfc3339_micros(now);
        let vars = Request {
            name: &self.ctx.name,
            headers,
            query,
            json,
            now: stamp.clone(),
        };
        let defaults = self.ctx.defaults(id, Some(stamp), &ty);
        let payload = match (&vars.json, std::str::from_utf8(body)) {
            (Some(_), Ok(text)) => Payload::Json(text),
            _ if body.is_empty() => Payload::None,
            _ => Payload::Bytes(
                body,
                Some(
                    content_type
                        .as_deref()
                        .unwrap_or("application/octet-stream"),
                ),
            ),
        };
        let event = self.ctx.template.render(&vars, &defaults, payload);
        let event_id = serde_json::from_str::<serde_json::Value>(&event)
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
            .unwrap_or_default();
        // Replays and retries: recognized in memory by signature, and by
        // event id on the bus (which also survives a restart).
        let remember = verified.remember_until(now_secs, REMEMBER_SECS);
        let fresh = self.seen.lock().expect("seen lock").check_and_insert(
            &verified.replay_key,
            remember,
            now_secs,
        );
        match fresh {
            Ok(()) => {}
            Err(SeenError::Replay) => {
                status.received(1);
                status.duplicate();
                return Ok(Accepted {
                    id: event_id,
                    seq: None,
                    duplicate: true,
                });
            }
            Err(SeenError::Full) | Err(SeenError::KeyTooLong) => return Err(WebhookError::Busy),
        }
        if self.ctx.stored_already(&event).await {
            status.received(1);
            status.duplicate();
            return Ok(Accepted {
                id: event_id,
                seq: None,
                duplicate: true,
            });
        }
        match self.ctx.emit(vec![event]).await {
            Ok(seqs) => {
                let (seq, duplicate) = seqs.first().copied().unwrap_or((0, false));
                Ok(Accepted {
                    id: event_id,
                    seq: Some(seq),
                    duplicate,
                })
            }
            Err(e) => {
                // Not stored: the sender's retry of these bytes must pass.
                self.seen
                    .lock()
                    .expect("seen lock")
                    .forget(&verified.replay_key);
                Err(match e {
                    EmitError::Rejected(r) => WebhookError::Invalid(r),
                    EmitError::Publish(p) => WebhookError::Publish(p),
                })
            }
        }
    }

    /// The event type when the template gives none: what the scheme's
    /// sender says the event is.
    fn default_type(&self, headers: &HeaderMap, json: Option<&serde_json::Value>) -> String {
        let header = |h: &str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let body_type = || {
            json.and_then(|j| j.get("type"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let clean = |s: String| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                .take(128)
                .collect()
        };
        let (prefix, kind) = match self.verifier.scheme_name() {
            "github" => ("com.github.", header("X-GitHub-Event")),
            "stripe" => ("com.stripe.", body_type()),
            "slack" => ("com.slack.", body_type()),
            _ => ("com.signalbox.webhook.", body_type()),
        };
        match kind.map(clean).filter(|k| !k.is_empty()) {
            Some(k) => format!("{prefix}{k}"),
            None => format!("{prefix}event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            form_urlencoded_get("a=1&b=x%20y+z", "b").as_deref(),
            Some("x y z")
        );
        assert_eq!(form_urlencoded_get("a", "a").as_deref(), Some(""));
        assert_eq!(form_urlencoded_get("a=1", "c"), None);
    }

    #[test]
    fn paths_are_checked() {
        let spec = |p: &str| WebhookSpec {
            verify: VerifyConfig::github("It's a Secret to Everybody"),
            path: Some(p.into()),
            max_body_bytes: None,
        };
        assert!(spec("github/acme").check().is_ok());
        for bad in ["/x", "x/", "a//b", "a/../b", "a b", ""] {
            assert_eq!(spec(bad).check().unwrap_err().field, "path", "{bad}");
        }
    }
}
