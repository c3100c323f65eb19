//! The `"type": "http"` target: POST each event to a URL.
//!
//! [`HttpTarget`] is the configuration as it appears in a rule's `targets`
//! (the contract's shape); [`HttpTarget::build`] checks it and turns it into
//! an [`HttpSender`], which owns the target's connections and enforces its
//! concurrency and rate limit: a pool of keep-alive HTTP/1.1 connections
//! for `http://` URLs ([`plain`]), a `reqwest` client for `https://` URLs
//! (TLS, HTTP/2 when the receiver offers it) and whenever a proxy is set.
//! [`HttpSender::send`] makes one attempt and reports a [`SendOutcome`];
//! retrying is the worker's job (see [`crate::deliver::retry`]).
//!
//! ```json
//! {"id": "inventory", "type": "http", "url": "https://inventory.example/events",
//!  "mode": "binary", "headers": {"X-Tenant": "acme"},
//!  "auth": {"bearer": "s3cr3t"}, "timeout": "5s", "concurrency": 8,
//!  "rate_limit_per_s": 100, "retry": {"preset": "exponential"}, "dead_letter": true}
//! ```
//!
//! (`id`, `type`, `retry`, `dead_letter` and `ordering_key` are every
//! target's, see [`super::TargetSpec`]; the rest is [`HttpTarget`].)
//!
//! ```
//! use std::time::Duration;
//! use signalbox::deliver::{HttpTarget, Mode};
//!
//! let target: HttpTarget = serde_json::from_str(
//!     r#"{"url": "https://inventory.example/events", "auth": {"bearer": "s3cr3t"}}"#,
//! ).unwrap();
//! let sender = target.build("inventory", Duration::from_secs(300)).unwrap();
//! assert_eq!(sender.mode(), Mode::Binary);
//! assert!(sender.concurrency().is_adaptive(), "adapts to the receiver unless fixed");
//! assert!(!format!("{target:?}").contains("s3cr3t"), "secrets stay out of logs");
//! ```
//!
//! # Wire formats
//!
//! * **binary** (default) — the CloudEvents HTTP binding's binary mode:
//!   every attribute and extension as a `ce-<name>` header (values
//!   percent-encoded as the binding asks), `datacontenttype` as
//!   `Content-Type`, the data bytes as the body. JSON data without a
//!   `datacontenttype` is sent as `application/json`, which is what the
//!   JSON format implies for it.
//! * **structured** — `Content-Type: application/cloudevents+json` and the
//!   event in the JSON format ([`crate::event::json::to_json_string`]).
//! * **body** — just a body: the transformed [`Body`] passed to `send`
//!   (an `"output": "body"` transform), or else the event's data with its
//!   `datacontenttype`. No `ce-*` headers.
//! * **batch** — the CloudEvents HTTP binding's batch mode: `Content-Type:
//!   application/cloudevents-batch+json` and a JSON array of events in the
//!   JSON format. A request carries up to `batch_size` events (default
//!   100, at most 1000) and about 1 MiB ([`MAX_BATCH_BYTES`]; a larger
//!   event goes alone): whatever is due in the target's queue when a
//!   request starts, so a quiet target still sends each event at once and
//!   only a backlog fills batches; with an `ordering_key`, a batch holds at
//!   most one event per key. The response decides for every event in the
//!   request, so a receiver that answers `413` to a batch too large for it
//!   dead-letters the whole batch: give `batch_size` a value whose batches
//!   fit its limit.
//! * **aws** — like `body`, but without a transformed body the event goes
//!   as the AWS EventBridge envelope (`application/json`, see
//!   [`crate::pattern::envelope::aws_envelope_text`]): what EventBridge's
//!   API destinations send. The default of rules with `"envelope": "aws"`.
//!
//! Every request uses the target's `method` (default `POST`; `GET` and
//! `HEAD` carry no body) with `User-Agent: signalbox/<version>`, the
//! configured headers and the credentials from `auth`.
//!
//! # OAuth client credentials
//!
//! `{"auth": {"oauth_client_credentials": {"token_url", "client_id",
//! "client_secret", "method"?, "body"?, "query"?, "headers"?}}}` gets an
//! access token from `token_url` the way EventBridge connections do: a
//! request (default `POST`) with the client id and secret as HTTP Basic
//! credentials, the extra `body` parameters as a form
//! (`grant_type=client_credentials` unless given), `query` parameters and
//! `headers`; the answer is JSON with `access_token` and optionally
//! `expires_in`. The token is sent as `Authorization: Bearer …`, kept until
//! 30 s before it expires (an hour when the answer does not say), and
//! fetched again after a `401`. A token endpoint that fails makes the
//! attempt fail and be retried.
//!
//! # Outcomes
//!
//! Statuses and failures are classified by
//! [`classify_status`] and
//! [`classify_failure`]. Redirects
//! are **not followed**: a 3xx goes to the dead-letter queue, because a
//! moved endpoint needs a configuration change and following redirects
//! would let a target send events (and credentials) elsewhere. The response
//! body is read, up to 64 KiB so the connection can be reused; its first
//! 512 bytes go into the error text of a failed attempt. The usual
//! `HTTP(S)_PROXY`/`ALL_PROXY`/`NO_PROXY` environment variables are honoured
//! (with any of them set, `http://` requests go through reqwest too, which
//! applies them).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::retry::{FailureKind, RetryAction, classify_failure, classify_status};
use crate::event::binding::encode_header_value;
use crate::event::{CloudEvent, Data, SPEC_VERSION};
use crate::ratelimit::TokenBucket;
use crate::store::queue::PreparedBody as Body;

/// `User-Agent` of every delivery request.
pub const USER_AGENT: &str = concat!("signalbox/", env!("CARGO_PKG_VERSION"));
/// Content type of structured-mode requests.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
/// Content type of batch-mode requests.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";
/// Events per batch-mode request when `batch_size` is not given.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// The most `batch_size` may be.
pub const MAX_BATCH_SIZE: usize = 1000;
/// A batch stops growing once its events take about this many bytes (it
/// always holds at least one event).
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// How much of a response body is read (the rest is discarded).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How much of a failed response's body is kept for the error text.
pub const ERROR_BODY_BYTES: usize = 512;
/// Default request timeout (EventBridge API destinations use 5 s too).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest accepted timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The most requests in flight an adaptive target grows to (see
/// [`super::adaptive`]).
pub const ADAPTIVE_MAX_CONCURRENCY: u32 = 256;
/// Largest accepted fixed concurrency.
pub const MAX_CONCURRENCY: u32 = 1024;

/// A target's `concurrency`: how many requests it keeps in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Concurrency {
    /// `"adaptive"` (the default): as many as the receiver answers without
    /// slowing down or pushing back, from 1 up to
    /// [`ADAPTIVE_MAX_CONCURRENCY`].
    #[default]
    Adaptive,
    /// A number: exactly that many at most.
    Fixed(u32),
}

impl Concurrency {
    /// Whether it adapts to the receiver.
    pub fn is_adaptive(self) -> bool {
        self == Concurrency::Adaptive
    }

    /// The most requests in flight it allows.
    pub fn max(self) -> u32 {
        match self {
            Concurrency::Adaptive => ADAPTIVE_MAX_CONCURRENCY,
            Concurrency::Fixed(n) => n,
        }
    }
}

impl Serialize for Concurrency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Concurrency::Adaptive => s.serialize_str("adaptive"),
            Concurrency::Fixed(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Concurrency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of requests or \"adaptive\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Concurrency, E> {
                u32::try_from(n)
                    .map(Concurrency::Fixed)
                    .map_err(|_| E::custom(format!("must be at most {MAX_CONCURRENCY}, got {n}")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Concurrency, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom(format!("must be at least 1, got {n}")))
                    .and_then(|n| self.visit_u64(n))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Concurrency, E> {
                match v {
                    "adaptive" => Ok(Concurrency::Adaptive),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}
/// At most this many custom headers.
pub const MAX_HEADERS: usize = 64;

/// How an event is put on the wire; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// CloudEvents binary mode: `ce-*` headers, the data as the body.
    #[default]
    Binary,
    /// CloudEvents structured mode: the JSON event format as the body.
    Structured,
    /// A plain body (transformed, or the event's data); no `ce-*` headers.
    Body,
    /// A plain body (transformed, or the AWS EventBridge envelope).
    Aws,
    /// CloudEvents batch mode: a JSON array of events per request.
    Batch,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Binary => "binary",
            Mode::Structured => "structured",
            Mode::Body => "body",
            Mode::Aws => "aws",
            Mode::Batch => "batch",
        }
    }

    /// Whether the mode sends a body the target controls (no `ce-*`
    /// headers; `Content-Type` may be set).
    fn is_plain(self) -> bool {
        matches!(self, Mode::Body | Mode::Aws)
    }
}

/// The HTTP method of a target's requests (default `POST`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `POST`.
    #[default]
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `GET` (no body).
    Get,
    /// `HEAD` (no body).
    Head,
    /// `OPTIONS`.
    Options,
}

impl HttpMethod {
    fn is_post(&self) -> bool {
        *self == HttpMethod::Post
    }

    fn method(self) -> reqwest::Method {
        match self {
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Head => reqwest::Method::HEAD,
            HttpMethod::Options => reqwest::Method::OPTIONS,
        }
    }

    /// Whether requests with this method carry the event as a body.
    fn has_body(self) -> bool {
        !matches!(self, HttpMethod::Get | HttpMethod::Head)
    }
}

/// The HTTP-specific settings of an `http` target (serde; the contract's
/// shape). The members every target has — `id`, `retry`, `dead_letter`,
/// `ordering_key` — are `super::TargetCommon`'s.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// Where to POST: an `http` or `https` URL with a host and without
    /// credentials (use `auth`).
    pub url: String,
    /// Wire format; default `binary`.
    #[serde(default)]
    pub mode: Mode,
    /// The request method; default `POST`.
    #[serde(default, skip_serializing_if = "HttpMethod::is_post")]
    pub method: HttpMethod,
    /// Extra request headers. `Content-Type` and `ce-*` are set from the
    /// event in binary and structured mode and cannot be set here; headers
    /// the HTTP client manages (`Host`, `Content-Length`, …) never can.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// Per-attempt timeout (connect, send and read the response), e.g.
    /// `"5s"`; default 5 s, at most 5 min.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::deliver::duration_str::option"
    )]
    pub timeout: Option<Duration>,
    /// Requests in flight at once: `"adaptive"` (the default) or a
    /// number, 1..=1024.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// Requests started per second; no limit when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_s: Option<f64>,
    /// How many requests may start back to back before the rate applies;
    /// default 1 (evenly spaced). Needs `rate_limit_per_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_burst: Option<u32>,
    /// Events per request in `batch` mode, 1..=1000; default 100. Only
    /// with `"mode": "batch"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("url", &self.url)
            .field("mode", &self.mode)
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("rate_limit_per_s", &self.rate_limit_per_s)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

/// Credentials for an HTTP target; exactly one kind. `Debug` hides secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// `{"basic": {"username", "password"}}` → `Authorization: Basic …`.
    Basic(BasicAuth),
    /// `{"bearer": "token"}` → `Authorization: Bearer token`.
    Bearer(String),
    /// `{"api_key": {"header", "value"}}` → `<header>: <value>`.
    ApiKey(ApiKeyAuth),
    /// `{"oauth_client_credentials": {…}}` → `Authorization: Bearer <token
    /// from token_url>` (see the [module docs](self#oauth-client-credentials)).
    OauthClientCredentials(OAuthClientCredentials),
}

/// OAuth 2.0 client credentials: where and how to get an access token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientCredentials {
    /// The token endpoint, an `http` or `https` URL.
    pub token_url: String,
    /// The client id (sent as the Basic user name).
    pub client_id: String,
    /// The client secret (sent as the Basic password).
    pub client_secret: String,
    /// How the token endpoint is called: `POST` (default), `PUT` or `GET`.
    #[serde(default)]
    pub method: HttpMethod,
    /// Extra form parameters (`grant_type=client_credentials` unless given).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub body: BTreeMap<String, String>,
    /// Extra query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for OAuthClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OAuthClientCredentials {{ token_url: {:?}, client_id: {:?}, client_secret: *** }}",
            self.token_url, self.client_id
        )
    }
}

/// HTTP Basic credentials (RFC 7617).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name; must not contain `:`.
    pub username: String,
    /// The password.
    pub password: String,
}

/// An API key sent in a header of your choice.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyAuth {
    /// The header name, e.g. `X-Api-Key`.
    pub header: String,
    /// The key.
    pub value: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Basic(b) => write!(f, "Basic {{ username: {:?}, password: *** }}", b.username),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::ApiKey(k) => write!(f, "ApiKey {{ header: {:?}, value: *** }}", k.header),
            Auth::OauthClientCredentials(o) => write!(f, "{o:?}"),
        }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BasicAuth {{ username: {:?}, password: *** }}",
            self.username
        )
    }
}

impl fmt::Debug for ApiKeyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyAuth {{ header: {:?}, value: *** }}", self.header)
    }
}

/// An HTTP target configuration that cannot work. `field` is the member's
/// path inside the target object (`url`, `headers.X-Foo`,
/// `auth.api_key.header`, `retry.max_attempts`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct HttpConfigError {
    /// The offending member.
    pub field: String,
    /// What is wrong and what is allowed.
    pub detail: String,
}

impl fmt::Display for HttpConfigError {
    /// `field: detail`, or just the detail when no single member is at fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.detail)
        } else {
            write!(f, "{}: {}", self.field, self.detail)
        }
    }
}

impl HttpConfigError {
    fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        HttpConfigError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Headers the HTTP client owns.
const CLIENT_MANAGED: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "expect",
];

impl HttpTarget {
    /// A target for `url` with every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        HttpTarget {
            url: url.into(),
            mode: Mode::default(),
            method: HttpMethod::default(),
            headers: BTreeMap::new(),
            auth: None,
            timeout: None,
            concurrency: None,
            rate_limit_per_s: None,
            rate_limit_burst: None,
            batch_size: None,
        }
    }

    /// Checks the configuration without building a client (cheap; for the
    /// API's validation of a rule).
    pub fn validate(&self) -> Result<(), HttpConfigError> {
        self.check().map(|_| ())
    }

    /// Checks the configuration and builds the sender for target `id`, with
    /// its own pooled client; a receiver's `Retry-After` is honoured up to
    /// `retry_max` (the retry policy's longest delay). Build it once per
    /// target and share it.
    pub fn build(&self, id: &str, retry_max: Duration) -> Result<HttpSender, HttpConfigError> {
        let c = self.check()?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(c.timeout)
            .connect_timeout(c.timeout)
            .pool_max_idle_per_host(c.concurrency.max() as usize)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                HttpConfigError::new("", format!("could not create the HTTP client: {e}"))
            })?;
        Ok(HttpSender {
            id: id.to_owned(),
            plain: plain::PlainPool::for_url(
                &c.url,
                c.concurrency.max() as usize,
                plain::proxy_in_environment(),
            ),
            url: c.url,
            mode: self.mode,
            method: self.method,
            headers: c.headers,
            oauth: c.oauth,
            client,
            timeout: c.timeout,
            concurrency: c.concurrency,
            permits: Semaphore::new(c.concurrency.max() as usize),
            limiter: c.limiter,
            retry_max,
            batch_size: c.batch_size,
        })
    }

    fn check(&self) -> Result<Checked, HttpConfigError> {
        let url = check_url(&self.url)?;

        let mut headers = HeaderMap::new();
        if self.headers.len() > MAX_HEADERS {
            return Err(HttpConfigError::new(
                "headers",
                format!("at most {MAX_HEADERS} headers, got {}", self.headers.len()),
            ));
        }
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
            let hn = self.check_header_name(name, &field)?;
            if headers.contains_key(&hn) {
                return Err(HttpConfigError::new(
                    field,
                    "is given twice (header names are case-insensitive)",
                ));
            }
            let hv = ascii_header_value(value).ok_or_else(|| {
                HttpConfigError::new(
                    field.clone(),
                    "header values must be printable ASCII without control characters",
                )
            })?;
            headers.insert(hn, hv);
        }

        let mut oauth = None;
        if let Some(Auth::OauthClientCredentials(o)) = &self.auth {
            oauth = Some(self.check_oauth(o)?);
            if headers.contains_key(header::AUTHORIZATION) {
                return Err(HttpConfigError::new(
                    "headers.authorization",
                    "conflicts with the header set by 'auth.oauth_client_credentials'",
                ));
            }
        }
        if let Some(auth) = &self.auth {
            let auth_header = match auth {
                Auth::Basic(b) => {
                    if b.username.contains(':') {
                        return Err(HttpConfigError::new(
                            "auth.basic.username",
                            "must not contain ':' (RFC 7617)",
                        ));
                    }
                    use base64::Engine as _;
                    let token = base64::engine::general_purpose::STANDARD
                        .encode(format!("{}:{}", b.username, b.password));
                    let value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
                        HttpConfigError::new("auth.basic", "cannot be encoded in a header")
                    })?;
                    Some((header::AUTHORIZATION, value, "auth.basic"))
                }
                Auth::Bearer(token) => {
                    if token.is_empty() || token.contains(|c: char| c.is_whitespace()) {
                        return Err(HttpConfigError::new(
                            "auth.bearer",
                            "the token must be non-empty and contain no whitespace",
                        ));
                    }
                    let value =
                        ascii_header_value(&format!("Bearer {token}")).ok_or_else(|| {
                            HttpConfigError::new("auth.bearer", "the token must be printable ASCII")
                        })?;
                    Some((header::AUTHORIZATION, value, "auth.bearer"))
                }
                Auth::ApiKey(k) => {
                    let name = self.check_header_name(&k.header, "auth.api_key.header")?;
                    if k.value.is_empty() {
                        return Err(HttpConfigError::new(
                            "auth.api_key.value",
                            "must not be empty",
                        ));
                    }
                    let value = ascii_header_value(&k.value).ok_or_else(|| {
                        HttpConfigError::new(
                            "auth.api_key.value",
                            "must be printable ASCII without control characters",
                        )
                    })?;
                    Some((name, value, "auth.api_key"))
                }
                // Its header comes with each token (see `OAuth`).
                Auth::OauthClientCredentials(_) => None,
            };
            if let Some((name, mut value, field)) = auth_header {
                if headers.contains_key(&name) {
                    return Err(HttpConfigError::new(
                        format!("headers.{}", name.as_str()),
                        format!("conflicts with the header set by '{field}'"),
                    ));
                }
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }

        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout < Duration::from_millis(1) || timeout > MAX_TIMEOUT {
            return Err(HttpConfigError::new(
                "timeout",
                format!(
                    "must be between 1ms and 5m, got {}",
                    humantime::format_duration(timeout)
                ),
            ));
        }
        let concurrency = self.concurrency.unwrap_or_default();
        if let Concurrency::Fixed(n) = concurrency
            && !(1..=MAX_CONCURRENCY).contains(&n)
        {
            return Err(HttpConfigError::new(
                "concurrency",
                format!("must be \"adaptive\" or between 1 and {MAX_CONCURRENCY}, got {n}"),
            ));
        }
        let limiter = match (self.rate_limit_per_s, self.rate_limit_burst) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(HttpConfigError::new(
                    "rate_limit_burst",
                    "needs rate_limit_per_s",
                ));
            }
            (Some(rate), burst) => {
                let burst = burst.unwrap_or(1);
                Some(TokenBucket::new(rate, burst).map_err(|e| {
                    let field = match e {
                        crate::ratelimit::RateLimitError::InvalidBurst => "rate_limit_burst",
                        crate::ratelimit::RateLimitError::InvalidRate(_) => "rate_limit_per_s",
                    };
                    HttpConfigError::new(field, e.to_string())
                })?)
            }
        };
        let batch_size = match (self.mode, self.batch_size) {
            (Mode::Batch, n) => {
                let n = n.unwrap_or(DEFAULT_BATCH_SIZE);
                if !(1..=MAX_BATCH_SIZE).contains(&n) {
                    return Err(HttpConfigError::new(
                        "batch_size",
                        format!("must be between 1 and {MAX_BATCH_SIZE}, got {n}"),
                    ));
                }
                if !self.method.has_body() {
                    return Err(HttpConfigError::new(
                        "method",
                        "batch mode sends the events as the body; GET and HEAD have none",
                    ));
                }
                n
            }
            (_, None) => 1,
            (_, Some(_)) => {
                return Err(HttpConfigError::new(
                    "batch_size",
                    "needs \"mode\": \"batch\" (other modes send one event per request)",
                ));
            }
        };
        Ok(Checked {
            url,
            headers,
            timeout,
            concurrency,
            limiter,
            oauth,
            batch_size,
        })
    }

    fn check_oauth(&self, o: &OAuthClientCredentials) -> Result<OAuth, HttpConfigError> {
        let f = |m: &str| format!("auth.oauth_client_credentials.{m}");
        let token_url = check_url(&o.token_url).map_err(|e| HttpConfigError {
            field: f("token_url"),
            detail: e.detail,
        })?;
        if !matches!(
            o.method,
            HttpMethod::Post | HttpMethod::Put | HttpMethod::Get
        ) {
            return Err(HttpConfigError::new(
                f("method"),
                "the token endpoint is called with POST, PUT or GET",
            ));
        }
        if o.client_id.is_empty() || o.client_id.contains(':') {
            return Err(HttpConfigError::new(
                f("client_id"),
                "must be non-empty and must not contain ':' (it is sent as a Basic user name)",
            ));
        }
        if o.client_secret.is_empty() {
            return Err(HttpConfigError::new(
                f("client_secret"),
                "must not be empty",
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &o.headers {
            let field = f(&format!("headers.{name}"));
            let hn = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                HttpConfigError::new(
                    field.clone(),
                    format!("'{name}' is not a valid header name"),
                )
            })?;
            if CLIENT_MANAGED.contains(&hn.as_str()) || hn == header::AUTHORIZATION {
                return Err(HttpConfigError::new(
                    field,
                    format!("'{name}' cannot be set for the token request"),
                ));
            }
            let hv = ascii_header_value(value).ok_or_else(|| {
                HttpConfigError::new(field, "header values must be printable ASCII")
            })?;
            headers.insert(hn, hv);
        }
        let mut form: Vec<(String, String)> =
            o.body.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if !o.body.contains_key("grant_type") {
            form.push(("grant_type".into(), "client_credentials".into()));
        }
        Ok(OAuth {
            token_url,
            method: o.method,
            client_id: o.client_id.clone(),
            client_secret: o.client_secret.clone(),
            form,
            query: o
                .query
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            headers,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    fn check_header_name(&self, name: &str, field: &str) -> Result<HeaderName, HttpConfigError> {
        let hn = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            HttpConfigError::new(
                field,
                format!("'{name}' is not a valid header name (RFC 9110 token characters only)"),
            )
        })?;
        let lower = hn.as_str();
        if CLIENT_MANAGED.contains(&lower) {
            return Err(HttpConfigError::new(
                field,
                format!("'{name}' is managed by the HTTP client and cannot be set"),
            ));
        }
        if self.mode == Mode::Batch && (lower == "content-type" || lower.starts_with("ce-")) {
            return Err(HttpConfigError::new(
                field,
                format!(
                    "'{name}' cannot be set in batch mode: the content type is {BATCH_CONTENT_TYPE} and each event carries its own attributes"
                ),
            ));
        }
        if !self.mode.is_plain() && (lower == "content-type" || lower.starts_with("ce-")) {
            return Err(HttpConfigError::new(
                field,
                format!(
                    "'{name}' is set from the event in {} mode; use mode \"body\" to control it",
                    self.mode.name()
                ),
            ));
        }
        Ok(hn)
    }
}

/// A header value of printable ASCII (plus space and tab). `HeaderValue`
/// itself also admits obsolete non-ASCII bytes, which receivers decode
/// inconsistently.
fn ascii_header_value(s: &str) -> Option<HeaderValue> {
    if s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        HeaderValue::from_str(s).ok()
    } else {
        None
    }
}

fn check_url(text: &str) -> Result<reqwest::Url, HttpConfigError> {
    let err = |d: String| Err(HttpConfigError::new("url", d));
    if text.len() > 2048 {
        return err("is longer than 2048 characters".into());
    }
    let url = match reqwest::Url::parse(text) {
        Ok(u) => u,
        Err(e) => return err(format!("'{text}' is not a valid URL: {e}")),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return err(format!(
            "the scheme must be http or https, got '{}'",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return err(format!("'{text}' has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return err("must not contain credentials; use \"auth\": {\"basic\": …}".into());
    }
    Ok(url)
}

struct Checked {
    url: reqwest::Url,
    headers: HeaderMap,
    timeout: Duration,
    concurrency: Concurrency,
    limiter: Option<TokenBucket>,
    oauth: Option<OAuth>,
    batch_size: usize,
}

/// OAuth client credentials, checked, with the current access token.
struct OAuth {
    token_url: reqwest::Url,
    method: HttpMethod,
    client_id: String,
    client_secret: String,
    form: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    /// `Authorization` value and when to stop using it. Behind an async
    /// lock so that concurrent sends wait for one token request.
    cached: tokio::sync::Mutex<Option<(HeaderValue, Instant)>>,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Kept this long before a token's stated expiry.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);
/// Assumed lifetime of a token whose answer states none.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

impl OAuth {
    /// The `Authorization` header value: the cached token, or a new one.
    async fn authorization(&self, client: &reqwest::Client) -> Result<HeaderValue, String> {
        let mut cached = self.cached.lock().await;
        if let Some((value, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(value.clone());
        }
        let mut req = client
            .request(self.method.method(), self.token_url.clone())
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .headers(self.headers.clone())
            .header(header::ACCEPT, "application/json")
            .query(&self.query);
        req = if self.method == HttpMethod::Get {
            req.query(&self.form)
        } else {
            req.form(&self.form)
        };
        let response = req
            .send()
            .await
            .map_err(|e| format!("the OAuth token request failed: {}", e.without_url()))?;
        let status = response.status();
        let mut body = Vec::new();
        let mut response = response;
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_RESPONSE_BYTES {
                return Err("the OAuth token endpoint's answer is too large".into());
            }
        }
        if !status.is_success() {
            return Err(format!(
                "the OAuth token endpoint answered HTTP {}",
                status.as_u16()
            ));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            #[serde(default)]
            expires_in: Option<f64>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            format!("the OAuth token endpoint's answer has no usable access_token: {e}")
        })?;
        let mut value = ascii_header_value(&format!("Bearer {}", answer.access_token))
            .ok_or("the OAuth access token is not printable ASCII")?;
        value.set_sensitive(true);
        let lifetime = answer
            .expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(DEFAULT_TOKEN_LIFETIME, |s| {
                Duration::from_secs_f64(s.min(1e7))
            });
        let until = Instant::now()
            + lifetime
                .saturating_sub(TOKEN_MARGIN)
                .max(Duration::from_secs(1));
        *cached = Some((value.clone(), until));
        Ok(value)
    }

    /// Forgets the token (the target said 401).
    async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

/// A receiver's answer, read to the end or to [`MAX_RESPONSE_BYTES`].
struct Answer {
    status: http::StatusCode,
    retry_after: Option<String>,
    /// The first [`ERROR_BODY_BYTES`] of the body, as text.
    snippet: String,
}

/// A validated HTTP target, ready to send. Share it (e.g. in an `Arc`)
/// between the target's delivery workers: its concurrency limit and rate
/// limit hold across all of them.
#[derive(Debug)]
pub struct HttpSender {
    id: String,
    url: reqwest::Url,
    mode: Mode,
    method: HttpMethod,
    /// Custom headers plus the auth header.
    headers: HeaderMap,
    /// OAuth client credentials, when `auth` asks for them.
    oauth: Option<OAuth>,
    client: reqwest::Client,
    /// The connections of a plain `http://` target ([`plain`]); `None`
    /// when requests go through `client`.
    plain: Option<plain::PlainPool>,
    timeout: Duration,
    concurrency: Concurrency,
    permits: Semaphore,
    limiter: Option<TokenBucket>,
    /// The longest `Retry-After` honoured.
    retry_max: Duration,
    /// Events per request (1 except in batch mode).
    batch_size: usize,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// What the worker should do next.
    pub action: RetryAction,
    /// The response status, when a response arrived.
    pub status: Option<u16>,
    /// Why the attempt failed: the status, or the transport error. `None`
    /// when delivered.
    pub error: Option<String>,
    /// The start of a failed response's body, kept apart from `error`
    /// because it is the receiver's data: traces show it to admins only.
    pub response: Option<String>,
    /// How long the request took, from sending it (after waiting for a
    /// concurrency slot and the rate limit) to reading the response.
    pub duration: Duration,
}

impl HttpSender {
    /// The target's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The URL requests go to.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The wire format.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many requests it keeps in flight.
    pub fn concurrency(&self) -> Concurrency {
        self.concurrency
    }

    /// `(requests per second, burst)` when rate-limited.
    pub fn rate_limit(&self) -> Option<(f64, u32)> {
        self.limiter.as_ref().map(|l| (l.rate(), l.burst()))
    }

    /// Makes one delivery attempt. Waits for a concurrency slot and the rate
    /// limit first. `body_override` is the output of an `"output": "body"`
    /// transform and is used in `body` mode only (the other modes send the
    /// event itself, so it is ignored there). Never panics; every failure is
    /// in the outcome.
    pub async fn send(&self, event: &CloudEvent, body_override: Option<&Body>) -> SendOutcome {
        self.attempt(|| self.request_parts(event, body_override))
            .await
    }

    /// Makes one delivery attempt with `events` as one request. In batch
    /// mode they go as one CloudEvents JSON batch; the other modes send one
    /// event per request, so there `events` must hold exactly one (anything
    /// else is refused without a request).
    pub async fn send_batch(&self, events: &[&CloudEvent]) -> SendOutcome {
        self.attempt(|| match (self.mode, events) {
            (Mode::Batch, _) => Ok(self.batch_parts(events)),
            (_, [event]) => self.request_parts(event, None),
            _ => Err(format!(
                "{} mode sends one event per request, got {}",
                self.mode.name(),
                events.len()
            )),
        })
        .await
    }

    /// Events per request: `batch_size` in batch mode, else 1.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// One attempt with the request `parts` builds once a concurrency slot
    /// and the rate limit allow it.
    async fn attempt<'a>(&self, parts: impl FnOnce() -> Result<Parts<'a>, String>) -> SendOutcome {
        let Ok(_permit) = self.permits.acquire().await else {
            return SendOutcome {
                action: RetryAction::Retry { after: None },
                status: None,
                error: Some("the sender is shut down".into()),
                response: None,
                duration: Duration::ZERO,
            };
        };
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let start = Instant::now();
        let parts = match parts() {
            Ok(parts) => parts,
            Err(e) => {
                return SendOutcome {
                    action: classify_failure(FailureKind::InvalidRequest),
                    status: None,
                    error: Some(e),
                    response: None,
                    duration: start.elapsed(),
                };
            }
        };
        let mut authorization = None;
        if let Some(oauth) = &self.oauth {
            // Boxed, like reqwest's path below: rare here, and large inline
            // in every send's task (see `CompiledTarget::send`).
            match Box::pin(oauth.authorization(&self.client)).await {
                Ok(v) => authorization = Some(v),
                Err(e) => {
                    return SendOutcome {
                        action: RetryAction::Retry { after: None },
                        status: None,
                        error: Some(e),
                        response: None,
                        duration: start.elapsed(),
                    };
                }
            }
        }
        let has_body = self.method.has_body();
        let answer = match &self.plain {
            Some(pool) => {
                let body = has_body.then_some(&*parts.body);
                let mut head = pool.request_head(self.method.method(), body.map(<[u8]>::len));
                parts.for_each_header(&self.headers, authorization.as_ref(), |n, v| {
                    head.header(n, v)
                });
                pool.send(head, body.unwrap_or_default(), self.timeout)
                    .await
            }
            None => {
                let headers = parts.header_map(&self.headers, authorization.as_ref());
                let body = has_body.then(|| match parts.body {
                    Cow::Borrowed(b) => Bytes::copy_from_slice(b),
                    Cow::Owned(b) => Bytes::from(b),
                });
                Box::pin(self.send_reqwest(headers, body)).await
            }
        };
        let Answer {
            status,
            retry_after,
            snippet,
        } = match answer {
            Ok(answer) => answer,
            Err((kind, error)) => {
                return SendOutcome {
                    action: classify_failure(kind),
                    status: None,
                    error: Some(error),
                    response: None,
                    duration: start.elapsed(),
                };
            }
        };
        if status == http::StatusCode::UNAUTHORIZED
            && let Some(oauth) = &self.oauth
        {
            // The token may have been revoked early: get a new one next time.
            oauth.forget().await;
        }
        let action = classify_status(
            status.as_u16(),
            retry_after.as_deref(),
            SystemTime::now(),
            self.retry_max,
        );
        let error = (action != RetryAction::Delivered).then(|| {
            let mut s = format!("HTTP {}", status.as_u16());
            if let Some(reason) = status.canonical_reason() {
                s.push(' ');
                s.push_str(reason);
            }
            if status.is_redirection() {
                s.push_str(" (redirects are not followed; update the target's url)");
            }
            s
        });
        let response = (action != RetryAction::Delivered && !snippet.is_empty()).then_some(snippet);
        SendOutcome {
            action,
            status: Some(status.as_u16()),
            error,
            response,
            duration: start.elapsed(),
        }
    }

    /// One request through reqwest (`https://` targets, or any target when
    /// a proxy is set).
    async fn send_reqwest(
        &self,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Answer, (FailureKind, String)> {
        let mut request = self
            .client
            .request(self.method.method(), self.url.clone())
            .headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                FailureKind::Timeout
            } else if e.is_connect() {
                FailureKind::Connect
            } else if e.is_builder() {
                FailureKind::InvalidRequest
            } else {
                FailureKind::Io
            };
            (kind, error_text(kind, e))
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let snippet = read_capped(response).await;
        Ok(Answer {
            status,
            retry_after,
            snippet,
        })
    }

    /// The request's per-event headers and body for `event` in this
    /// target's mode.
    fn request_parts<'a>(
        &self,
        event: &'a CloudEvent,
        body_override: Option<&'a Body>,
    ) -> Result<Parts<'a>, String> {
        let mut h: Vec<(HeaderName, Cow<'a, str>)> = Vec::with_capacity(8 + event.extensions.len());
        let body = match self.mode {
            Mode::Binary => {
                // The spec attributes' names are constants: building and
                // checking them per request was a measurable part of a
                // delivery's CPU.
                h.push((
                    HeaderName::from_static("ce-specversion"),
                    Cow::Borrowed(SPEC_VERSION),
                ));
                // An encoded value is printable ASCII, so it is always a
                // valid header value: no second check of its bytes.
                let mut put =
                    |n: HeaderName, value: &'a str| h.push((n, encode_header_value(value)));
                put(HeaderName::from_static("ce-id"), &event.id);
                put(HeaderName::from_static("ce-source"), &event.source);
                put(HeaderName::from_static("ce-type"), &event.ty);
                for (header, value) in [
                    ("ce-subject", &event.subject),
                    ("ce-time", &event.time),
                    ("ce-dataschema", &event.dataschema),
                ] {
                    if let Some(v) = value {
                        put(HeaderName::from_static(header), v);
                    }
                }
                let mut header = String::from("ce-");
                for (name, value) in &event.extensions {
                    header.truncate(3);
                    header.push_str(name);
                    let n = HeaderName::from_bytes(header.as_bytes())
                        .map_err(|_| format!("'{name}' cannot be sent as a ce- header"))?;
                    let v = encode_header_value(&value.to_header_string()).into_owned();
                    h.push((n, Cow::Owned(v)));
                }
                if let Some(ct) = data_content_type(event) {
                    if !sendable(ct) {
                        return Err(format!(
                            "the datacontenttype '{ct}' cannot be sent as a Content-Type header"
                        ));
                    }
                    h.push((header::CONTENT_TYPE, Cow::Borrowed(ct)));
                }
                data_bytes(event)
            }
            Mode::Structured => {
                h.push((header::CONTENT_TYPE, Cow::Borrowed(STRUCTURED_CONTENT_TYPE)));
                Cow::Owned(crate::event::json::to_json_string(event).into_bytes())
            }
            Mode::Batch => return Ok(self.batch_parts(&[event])),
            Mode::Body | Mode::Aws => {
                let (bytes, ct) = match body_override {
                    Some(b) => (Cow::Borrowed(&b.bytes[..]), Some(b.content_type.as_str())),
                    None if self.mode == Mode::Aws => (
                        Cow::Owned(crate::pattern::envelope::aws_envelope_text(event).into_bytes()),
                        Some("application/json"),
                    ),
                    None => (data_bytes(event), data_content_type(event)),
                };
                if let Some(ct) = ct {
                    if !sendable(ct) {
                        return Err(format!(
                            "the content type '{ct}' cannot be sent as a header"
                        ));
                    }
                    h.push((header::CONTENT_TYPE, Cow::Borrowed(ct)));
                }
                bytes
            }
        };
        if body_override.is_some() && !self.mode.is_plain() {
            tracing::debug!(target_id = %self.id, mode = self.mode.name(), "a transformed body is ignored outside body mode");
        }
        Ok(Parts { headers: h, body })
    }
}

impl HttpSender {
    /// Batch mode's headers and body: the events as a JSON array.
    fn batch_parts<'a>(&self, events: &[&CloudEvent]) -> Parts<'a> {
        let mut body = String::with_capacity(events.iter().map(|e| e.size() + 130).sum());
        body.push('[');
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            crate::event::json::write_json(e, &[], &mut body);
        }
        body.push(']');
        Parts {
            headers: vec![(header::CONTENT_TYPE, Cow::Borrowed(BATCH_CONTENT_TYPE))],
            body: Cow::Owned(body.into_bytes()),
        }
    }
}

/// What a request carries that depends on its events: headers (values
/// percent-encoded or checked with [`sendable`]) and the body, borrowed from
/// the event where they can be. The target's own headers are added as the
/// request is written, so they are not copied per request.
struct Parts<'a> {
    headers: Vec<(HeaderName, Cow<'a, str>)>,
    body: Cow<'a, [u8]>,
}

impl Parts<'_> {
    /// Calls `f` with every header of the request: the event's, then the
    /// target's, then `authorization` (an OAuth token for this attempt). A
    /// later one replaces an earlier one of the same name, as inserting
    /// them into one `HeaderMap` in that order would. Only `Content-Type`
    /// and `Authorization` can occur twice: the target's configuration
    /// refuses `ce-` headers, and `Content-Type` outside body and AWS mode.
    fn for_each_header(
        &self,
        target: &HeaderMap,
        authorization: Option<&HeaderValue>,
        mut f: impl FnMut(&str, &[u8]),
    ) {
        let replaced = |n: &HeaderName| {
            (n == header::AUTHORIZATION && authorization.is_some())
                || (n == header::CONTENT_TYPE && target.contains_key(header::CONTENT_TYPE))
        };
        for (n, v) in &self.headers {
            if !replaced(n) {
                f(n.as_str(), v.as_bytes());
            }
        }
        for (n, v) in target {
            if !(n == header::AUTHORIZATION && authorization.is_some()) {
                f(n.as_str(), v.as_bytes());
            }
        }
        if let Some(v) = authorization {
            f(header::AUTHORIZATION.as_str(), v.as_bytes());
        }
    }

    /// The headers [`Parts::for_each_header`] gives, as a `HeaderMap`
    /// (for reqwest), so that both clients send the same ones.
    fn header_map(&self, target: &HeaderMap, authorization: Option<&HeaderValue>) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(self.headers.len() + target.len() + 1);
        self.for_each_header(target, authorization, |n, v| {
            // Names come from `HeaderName`s, values were percent-encoded,
            // checked by `sendable` or are `HeaderValue`s: neither
            // conversion fails.
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_bytes(v),
            ) {
                h.append(n, v);
            }
        });
        h
    }
}

/// Whether `value` can be a header value: what `HeaderValue::from_str`
/// accepts (no control characters but tab).
fn sendable(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

/// The media type of the event's data on the wire: `datacontenttype`, or
/// `application/json` for JSON data without one.
fn data_content_type(event: &CloudEvent) -> Option<&str> {
    match (&event.datacontenttype, &event.data) {
        (Some(ct), _) => Some(ct),
        (None, Some(Data::Json(_))) => Some("application/json"),
        _ => None,
    }
}

fn data_bytes(event: &CloudEvent) -> Cow<'_, [u8]> {
    match &event.data {
        Some(d) => Cow::Borrowed(d.as_bytes()),
        None => Cow::Borrowed(&[]),
    }
}

/// Reads up to [`MAX_RESPONSE_BYTES`] of the body and returns its first
/// [`ERROR_BODY_BYTES`] as text. Read errors end the reading quietly: the
/// status has already decided the outcome.
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut snippet = Snippet::default();
    while let Ok(Some(chunk)) = response.chunk().await {
        if snippet.add(&chunk) {
            break;
        }
    }
    snippet.text()
}

/// The start of a response body, for the error text of a failed attempt:
/// both clients read bodies through it.
#[derive(Default)]
struct Snippet {
    kept: Vec<u8>,
    total: usize,
}

impl Snippet {
    /// Keeps what fits of `chunk`; true once [`MAX_RESPONSE_BYTES`] have
    /// been read and reading should stop.
    fn add(&mut self, chunk: &[u8]) -> bool {
        let room = ERROR_BODY_BYTES.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.total += chunk.len();
        self.total >= MAX_RESPONSE_BYTES
    }

    /// The first [`ERROR_BODY_BYTES`] as trimmed text.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).trim().to_owned()
    }
}

/// A response's `Retry-After`, as text.
fn retry_after(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The error and its causes, without the URL (the target id identifies it,
/// and URLs may carry secrets).
fn error_text(kind: FailureKind, e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = match kind {
        FailureKind::Timeout => String::from("timed out: "),
        FailureKind::Connect => String::from("could not connect: "),
        _ => String::new(),
    };
    s.push_str(&cause_chain(&e));
    s
}

/// An error and its causes in one line (a cause whose text the line already
/// ends with is left out).
fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

mod plain;

#[cfg(test)]
mod tests;
