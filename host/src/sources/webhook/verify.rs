//! Verifying signed webhooks: GitHub, Stripe, Slack, Standard Webhooks and
//! a configurable generic HMAC scheme.
//!
//! A webhook source carries a [`VerifyConfig`] under its `verify` member
//! (the contract's shape, serde with `deny_unknown_fields`).
//! [`Verifier::new`] checks it and keys the MAC once; [`Verifier::verify`]
//! then checks one request's headers and raw body against the clock and
//! returns what the scheme vouches for ([`Verified`]), or a [`VerifyError`]
//! that the host turns into a 401 problem document. [`Verifier::sign`] makes
//! the headers a sender would add (for tests and `signalbox webhook send`).
//!
//! ```json
//! {"scheme": "github",            "secret": "It's a Secret to Everybody"}
//! {"scheme": "stripe",            "secret": "whsec_…", "tolerance": "5m"}
//! {"scheme": "slack",             "secret": "8f742231b10e8888abcd99yyyzzz85a5"}
//! {"scheme": "standard-webhooks", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
//! {"scheme": "hmac", "secret": "…", "header": "X-Signature", "algorithm": "sha256",
//!  "encoding": "hex", "prefix": "sha256=", "timestamp_header": "X-Timestamp",
//!  "tolerance": "5m", "payload": "{timestamp}.{body}", "id_header": "X-Webhook-Id"}
//! ```
//!
//! # Schemes
//!
//! | scheme | signature header | signed content | MAC, encoding | freshness |
//! | --- | --- | --- | --- | --- |
//! | `github` | `X-Hub-Signature-256: sha256=<hex>` | `{body}` | HMAC-SHA256, hex | none |
//! | `stripe` | `Stripe-Signature: t=<ts>,v1=<hex>[,v1=…]` | `{t}.{body}` | HMAC-SHA256, hex | `t` |
//! | `slack` | `X-Slack-Signature: v0=<hex>` | `v0:{ts}:{body}` | HMAC-SHA256, hex | `X-Slack-Request-Timestamp` |
//! | `standard_webhooks` | `webhook-signature: v1,<b64> […]` | `{id}.{ts}.{body}` | HMAC-SHA256, base64 | `webhook-timestamp` |
//! | `hmac` | configured | configured template | SHA-1/256/512, hex/base64 | optional header |
//!
//! Details that matter for interoperability:
//!
//! * **GitHub**: only `X-Hub-Signature-256`; the legacy SHA-1
//!   `X-Hub-Signature` is ignored so that it cannot be used for a downgrade.
//!   GitHub signs no timestamp, so there is no freshness check, and
//!   `X-GitHub-Delivery` is *not* covered by the signature (see
//!   [Replays](#replays)).
//! * **Stripe**: the header is split on `,` and each element on the first
//!   `=`; `t` must occur once, every `v1` is a candidate and one match is
//!   enough (Stripe sends one `v1` per active secret while an endpoint's
//!   secret is being rolled). Other schemes, including the fake `v0` of test
//!   mode, are ignored, as Stripe asks, to prevent downgrades. The secret is
//!   the `whsec_…` string used verbatim as the HMAC key. Stripe's libraries
//!   only refuse *old* timestamps; we also refuse timestamps more than the
//!   tolerance in the future, so a leaked signature for a future `t` is
//!   worthless too.
//! * **Slack**: the tolerance check is symmetric, as in Slack's own example.
//! * **Standard Webhooks** (spec 1.0.0): every space-separated `v1,<base64>`
//!   entry is a candidate; entries of other versions (`v1a` asymmetric
//!   signatures, future `v2`, …) are skipped. The secret is base64 after an
//!   optional `whsec_` prefix; a secret without the prefix is base64-decoded
//!   as well, as the reference libraries do. Asymmetric `whsk_`/`whpk_` keys
//!   are refused. The spec names only the `webhook-*` headers; Svix (where
//!   the spec comes from) sends `svix-id`, `svix-timestamp` and
//!   `svix-signature`, and its libraries accept either family, so we do too:
//!   the `webhook-*` family when `webhook-signature` is present, otherwise
//!   the `svix-*` family, never a mix. As the spec requires of producers, an
//!   id containing `.` is refused: it would make `{id}.{ts}.{body}`
//!   ambiguous.
//! * **hmac**: the signature header holds one signature, after an optional
//!   literal `prefix`. `payload` is a template over `{body}` (required),
//!   `{timestamp}` and `{id}` (each at most once); the default is `{body}`.
//!   A `timestamp_header` must be signed (`{timestamp}` in the template),
//!   or the freshness check would trust an attacker's clock. The secret's
//!   UTF-8 bytes are the key.
//!
//! Every timestamp is Unix seconds written canonically (1–12 digits, no sign,
//! no leading zero), so the bytes we sign are the bytes the sender formatted.
//! The tolerance (default 5 minutes, as Stripe, Slack and Standard Webhooks
//! recommend; 1 s to 1 h) applies both ways: `|now − ts| ≤ tolerance`.
//!
//! # Security properties
//!
//! * MACs are compared with [`subtle::ConstantTimeEq`], and every candidate
//!   is compared, with the results OR-ed as [`subtle::Choice`]s: neither how
//!   much of a signature matched nor which candidate matched shows in the
//!   timing. (Decoding a presented signature is not constant-time, which is
//!   fine: it is the attacker's own input.)
//! * The MAC is checked before the timestamp, so "too old" or "in the
//!   future" is only ever said of a request that really came from the
//!   sender: an operator seeing it knows to look at clocks, not at secrets.
//! * Errors never contain a secret, the expected MAC, or any part of a header
//!   value: their details are fixed strings, so they are also safe to log.
//! * Work is linear in the body and header sizes, nothing panics on any
//!   input, and header values are refused above fixed lengths
//!   ([`MAX_SIGNATURE_HEADER_LEN`], [`MAX_TIMESTAMP_HEADER_LEN`],
//!   [`MAX_ID_LEN`]). A header we read that is sent twice is refused rather
//!   than guessed at.
//! * Secrets are write-only: [`VerifyConfig`] serializes the secret as
//!   `"***"`, and no `Debug` output shows a secret or key.
//!
//! # Secrets on update
//!
//! A secret that is **missing, `null` or the redaction marker `"***"`** means
//! "keep the stored secret" ([`SecretField::Keep`]); any other string
//! replaces it. So a client can `GET` a source, edit it and `PUT` it back
//! unchanged. The host calls [`VerifyConfig::merge_secret_from`] with the
//! stored configuration before validating the new one; the stored secret is
//! kept only if the scheme is unchanged, since a secret belongs to one
//! sender. `"***"` can never be a real secret: secrets are at least
//! [`MIN_SECRET_BYTES`] long.
//!
//! # Replays
//!
//! A verified request can be replayed verbatim by anyone who captured it.
//! [`Verified::replay_key`] identifies it for [`SeenIds`]: it is derived from
//! the MAC, not from the id, because the MAC is the one thing every scheme
//! signs. GitHub's `X-GitHub-Delivery` is not signed at all, so an attacker
//! replaying a captured delivery can simply send a fresh GUID; Stripe and
//! Slack send no id header. The MAC also covers every way of re-reading the
//! same signed bytes (e.g. digits moved between a timestamp and a body in an
//! undelimited `{timestamp}{body}` template), which an id would not.
//! [`Verified::id`] is still returned, for idempotency (a sender's retry
//! carries the same id, usually with a new timestamp and so a new MAC), and
//! [`Verified::id_signed`] says whether it can be trusted.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, Mac as _};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

/// Default timestamp tolerance: 5 minutes, what Stripe, Slack and Standard
/// Webhooks recommend.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// Longest accepted tolerance. A longer window makes replay protection
/// depend on remembering every request for that long, and no provider
/// needs one: a clock that far off should be fixed instead.
pub const MAX_TOLERANCE_SECS: i64 = 3600;
/// Shortest accepted secret (bytes of HMAC key). 128 bits is the floor at
/// which guessing the key offline from one captured request and its MAC is
/// out of reach; every provider's generated secret is longer (Slack 32 hex
/// characters, Stripe `whsec_` + 32, Standard Webhooks ≥ 24 random bytes),
/// and it refuses the weak hand-picked secrets GitHub allows (`"secret"`).
pub const MIN_SECRET_BYTES: usize = 16;
/// Longest accepted secret (bytes of HMAC key). HMAC hashes long keys down
/// anyway; the cap keeps configurations small.
pub const MAX_SECRET_BYTES: usize = 512;
/// Longest signature header we parse. Stripe's header with a few `v1`
/// entries is ~300 bytes; a Standard Webhooks header with several
/// signatures well under 1 KiB.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 4096;
/// Longest timestamp header we parse (a Unix time needs 10 digits).
pub const MAX_TIMESTAMP_HEADER_LEN: usize = 32;
/// Longest webhook id we accept (GUIDs have 36 characters, Svix ids ~30).
pub const MAX_ID_LEN: usize = 256;
/// What a secret serializes as, and a value that means "keep" on update.
pub const REDACTED: &str = "***";
/// Where the configuration sits in a webhook source; prefixes the `field` of
/// every [`ConfigError`].
pub const CONFIG_FIELD: &str = "verify";

/// Longest `prefix` of the `hmac` scheme.
const MAX_PREFIX_LEN: usize = 64;
/// Longest `payload` template of the `hmac` scheme.
const MAX_TEMPLATE_LEN: usize = 256;
/// Timestamps have at most this many digits (year 33658), so arithmetic on
/// them cannot overflow.
const MAX_TIMESTAMP_DIGITS: usize = 12;
/// Largest timestamp [`Verifier::sign`] accepts (the 12-digit maximum).
const MAX_TIMESTAMP: i64 = 999_999_999_999;
/// The `whsec_` prefix of Stripe and Standard Webhooks secrets.
const WHSEC: &str = "whsec_";
/// Output size of HMAC-SHA256, the MAC of every fixed scheme.
const SHA256_LEN: usize = 32;

/// Base64 that accepts input with or without padding (senders differ) but
/// still refuses non-canonical trailing bits, so one MAC has one encoding.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// How a webhook source verifies requests: the `verify` member of a webhook
/// source, tagged by `scheme`. See the [module docs](self) for each scheme.
///
/// It serializes with the secret redacted, so it can be returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum VerifyConfig {
    /// `{"scheme": "github", "secret"}`.
    Github(GithubConfig),
    /// `{"scheme": "stripe", "secret", "tolerance"?}`.
    Stripe(TimedConfig),
    /// `{"scheme": "slack", "secret", "tolerance"?}`.
    Slack(TimedConfig),
    /// `{"scheme": "standard-webhooks", "secret", "tolerance"?}` (also
    /// spelled `standard_webhooks`).
    #[serde(rename = "standard-webhooks", alias = "standard_webhooks")]
    StandardWebhooks(TimedConfig),
    /// `{"scheme": "hmac", "secret", "header", …}`.
    Hmac(HmacConfig),
}

/// Settings of the `github` scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// The webhook's secret, as entered in GitHub; its UTF-8 bytes are the
    /// key. Serialized as `"***"`.
    #[serde(default, skip_serializing_if = "SecretField::is_keep")]
    pub secret: SecretField,
}

/// Settings of the schemes with a signed timestamp and fixed headers
/// (`stripe`, `slack`, `standard_webhooks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedConfig {
    /// The signing secret: Stripe's `whsec_…` (used verbatim), Slack's
    /// signing secret, or a Standard Webhooks `whsec_<base64>` key.
    /// Serialized as `"***"`.
    #[serde(default, skip_serializing_if = "SecretField::is_keep")]
    pub secret: SecretField,
    /// How far the signed timestamp may be from our clock, either way, e.g.
    /// `"5m"`; default 5 minutes, whole seconds from 1 s to 1 h.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration_opt"
    )]
    pub tolerance: Option<Duration>,
}

/// Settings of the generic `hmac` scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    /// The shared secret; its UTF-8 bytes are the key. Serialized as `"***"`.
    #[serde(default, skip_serializing_if = "SecretField::is_keep")]
    pub secret: SecretField,
    /// The header that carries the signature, e.g. `X-Signature`.
    pub header: String,
    /// The HMAC hash; default `sha256`.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// How the MAC is written in the header; default `hex` (either case).
    #[serde(default)]
    pub encoding: Encoding,
    /// A literal the header value starts with, e.g. `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The header that carries the signed Unix timestamp (seconds), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// How far that timestamp may be from our clock, either way; default
    /// 5 minutes. Only with `timestamp_header`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration_opt"
    )]
    pub tolerance: Option<Duration>,
    /// What is signed: a template over `{body}` (required), `{timestamp}`
    /// (required with `timestamp_header`) and `{id}` (needs `id_header`),
    /// each at most once, other characters literal; default `{body}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The header that carries the webhook id, if any; signed when the
    /// template has `{id}` (and then required on every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
}

/// The hash of the `hmac` scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1: still sound as a MAC, but legacy; only for senders that
    /// offer nothing else.
    Sha1,
    /// HMAC-SHA256.
    #[default]
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    /// The MAC's length in bytes.
    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

/// How the `hmac` scheme's MAC is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal, either case on input, lowercase on output.
    #[default]
    Hex,
    /// Standard base64 (`+/`), padding optional on input, padded on output.
    Base64,
}

/// A secret in a configuration: a new value, or "keep the stored one".
///
/// Deserializes from a string; `null`, a missing member and [`REDACTED`]
/// all mean [`SecretField::Keep`]. Serializes [`SecretField::Set`] as
/// [`REDACTED`], never the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SecretField {
    /// Keep the secret already stored (an update that did not send one).
    #[default]
    Keep,
    /// This secret.
    Set(Secret),
}

impl SecretField {
    /// Whether this is [`SecretField::Keep`].
    pub fn is_keep(&self) -> bool {
        matches!(self, SecretField::Keep)
    }
}

impl From<&str> for SecretField {
    fn from(s: &str) -> Self {
        SecretField::Set(Secret::new(s))
    }
}

impl Serialize for SecretField {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretField::Keep => s.serialize_none(),
            SecretField::Set(_) => s.serialize_str(REDACTED),
        }
    }
}

impl<'de> Deserialize<'de> for SecretField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<String>::deserialize(d)? {
            None => SecretField::Keep,
            Some(s) if s == REDACTED => SecretField::Keep,
            Some(s) => SecretField::Set(Secret(s)),
        })
    }
}

/// A secret string. Its `Debug` output is `Secret(***)`; it has no
/// `Display` and no `Serialize`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A configuration that cannot work. `field` is the member's path, e.g.
/// `verify.secret` or `verify.tolerance`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct ConfigError {
    /// The offending member.
    pub field: String,
    /// What is wrong and what is allowed.
    pub detail: String,
}

impl ConfigError {
    fn new(member: &str, detail: impl Into<String>) -> Self {
        ConfigError {
            field: format!("{CONFIG_FIELD}.{member}"),
            detail: detail.into(),
        }
    }
}

impl VerifyConfig {
    /// A `github` configuration.
    pub fn github(secret: &str) -> Self {
        VerifyConfig::Github(GithubConfig {
            secret: secret.into(),
        })
    }

    /// A `stripe` configuration with the default tolerance.
    pub fn stripe(secret: &str) -> Self {
        VerifyConfig::Stripe(TimedConfig::new(secret))
    }

    /// A `slack` configuration with the default tolerance.
    pub fn slack(secret: &str) -> Self {
        VerifyConfig::Slack(TimedConfig::new(secret))
    }

    /// A `standard_webhooks` configuration with the default tolerance.
    pub fn standard_webhooks(secret: &str) -> Self {
        VerifyConfig::StandardWebhooks(TimedConfig::new(secret))
    }

    /// The scheme's name as in the `scheme` member.
    pub fn scheme(&self) -> &'static str {
        match self {
            VerifyConfig::Github(_) => "github",
            VerifyConfig::Stripe(_) => "stripe",
            VerifyConfig::Slack(_) => "slack",
            VerifyConfig::StandardWebhooks(_) => "standard-webhooks",
            VerifyConfig::Hmac(_) => "hmac",
        }
    }

    /// The secret member.
    pub fn secret(&self) -> &SecretField {
        match self {
            VerifyConfig::Github(c) => &c.secret,
            VerifyConfig::Stripe(c)
            | VerifyConfig::Slack(c)
            | VerifyConfig::StandardWebhooks(c) => &c.secret,
            VerifyConfig::Hmac(c) => &c.secret,
        }
    }

    fn secret_mut(&mut self) -> &mut SecretField {
        match self {
            VerifyConfig::Github(c) => &mut c.secret,
            VerifyConfig::Stripe(c)
            | VerifyConfig::Slack(c)
            | VerifyConfig::StandardWebhooks(c) => &mut c.secret,
            VerifyConfig::Hmac(c) => &mut c.secret,
        }
    }

    /// For an update: if this configuration keeps its secret (it was
    /// missing, `null` or `"***"`) and `old` has the same scheme, take
    /// `old`'s secret. With a different scheme the secret stays unset and
    /// [`VerifyConfig::validate`] asks for one, because a secret belongs to
    /// one sender. Call it before validating.
    pub fn merge_secret_from(&mut self, old: &VerifyConfig) {
        if self.secret().is_keep() && self.scheme() == old.scheme() {
            *self.secret_mut() = old.secret().clone();
        }
    }

    /// Checks the configuration (the same checks as [`Verifier::new`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        Verifier::new(self).map(drop)
    }
}

impl TimedConfig {
    /// A configuration with this secret and the default tolerance.
    pub fn new(secret: &str) -> Self {
        TimedConfig {
            secret: secret.into(),
            tolerance: None,
        }
    }
}

impl HmacConfig {
    /// A configuration for a hex HMAC-SHA256 of the body in `header`, with
    /// everything else at its default.
    pub fn new(header: &str, secret: &str) -> Self {
        HmacConfig {
            secret: secret.into(),
            header: header.to_owned(),
            algorithm: Algorithm::default(),
            encoding: Encoding::default(),
            prefix: None,
            timestamp_header: None,
            tolerance: None,
            payload: None,
            id_header: None,
        }
    }
}

/// `#[serde(with = "duration_opt")]` for `Option<Duration>` members: a
/// duration string like `"5m"` or `"300s"`, the form the rest of the API
/// uses (in the host this is `crate::delivery::duration_str::option`).
mod duration_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes `Some` as e.g. `"5m"`, `None` as null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    /// Reads a duration string into `Some` (a missing member is `None`
    /// through `#[serde(default)]`).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        humantime::parse_duration(s.trim()).map(Some).map_err(|e| {
            de::Error::custom(format!(
                "'{s}' is not a duration ({e}); write it like \"30s\" or \"5m\""
            ))
        })
    }
}

// ---------------------------------------------------------------------------
// Verifier
// ---------------------------------------------------------------------------

/// A checked configuration with its MAC keyed, ready to verify requests.
/// Cheap to share (`Send + Sync`); `Debug` shows no key.
#[derive(Clone)]
pub struct Verifier {
    scheme: Scheme,
    /// The HMAC, already keyed: cloning it per request saves hashing the
    /// key again.
    mac: KeyedMac,
    template: Template,
    /// `Some` for schemes with a signed timestamp.
    tolerance: Option<i64>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme_name())
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Scheme {
    Github,
    Stripe,
    Slack,
    StandardWebhooks,
    Hmac(Box<HmacSpec>),
}

#[derive(Clone)]
struct HmacSpec {
    header: Header,
    algorithm: Algorithm,
    encoding: Encoding,
    prefix: String,
    timestamp_header: Option<Header>,
    id_header: Option<Header>,
}

/// A header we read: its name, and how errors spell it.
#[derive(Clone)]
struct Header {
    name: HeaderName,
    label: Cow<'static, str>,
}

impl Header {
    /// A fixed header; `name` must be lowercase.
    fn fixed(name: &'static str, label: &'static str) -> Header {
        Header {
            name: HeaderName::from_static(name),
            label: Cow::Borrowed(label),
        }
    }

    fn label(&self) -> String {
        self.label.clone().into_owned()
    }
}

const GITHUB_SIGNATURE: (&str, &str) = ("x-hub-signature-256", "X-Hub-Signature-256");
const GITHUB_DELIVERY: (&str, &str) = ("x-github-delivery", "X-GitHub-Delivery");
const STRIPE_SIGNATURE: (&str, &str) = ("stripe-signature", "Stripe-Signature");
const SLACK_SIGNATURE: (&str, &str) = ("x-slack-signature", "X-Slack-Signature");
const SLACK_TIMESTAMP: (&str, &str) = ("x-slack-request-timestamp", "X-Slack-Request-Timestamp");
/// Standard Webhooks headers: (id, timestamp, signature) per family.
const SW_HEADERS: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];
const SVIX_HEADERS: [&str; 3] = ["svix-id", "svix-timestamp", "svix-signature"];

fn fixed(h: (&'static str, &'static str)) -> Header {
    Header::fixed(h.0, h.1)
}

/// What a request says, pulled from its headers before any MAC is computed.
struct Presented<'a> {
    /// The signature header, for the mismatch error.
    signature_header: String,
    /// Decoded candidate MACs; one must match.
    candidates: Vec<Vec<u8>>,
    /// The timestamp as sent (canonical digits) and its value.
    timestamp: Option<(&'a str, i64)>,
    /// The id as sent.
    id: Option<&'a str>,
}

impl Verifier {
    /// Checks `config` and keys the MAC. Errors name the member at fault
    /// (`verify.secret`, `verify.tolerance`, `verify.header`, …).
    pub fn new(config: &VerifyConfig) -> Result<Verifier, ConfigError> {
        let secret = match config.secret() {
            SecretField::Set(s) => s,
            SecretField::Keep => {
                return Err(ConfigError::new(
                    "secret",
                    "required: send the signing secret (a stored secret is kept on \
                     update only while the scheme stays the same)",
                ));
            }
        };
        let (scheme, key, algorithm, template, tolerance) = match config {
            VerifyConfig::Github(_) => (
                Scheme::Github,
                text_key(secret)?,
                Algorithm::Sha256,
                Template::fixed(&[Part::Body]),
                None,
            ),
            VerifyConfig::Stripe(c) => {
                let key = text_key(secret)?;
                // Stripe's signing secrets all start with whsec_; anything
                // else is most likely an API key pasted by mistake, which is
                // both wrong and far too valuable to store here.
                if !secret.expose().starts_with(WHSEC) {
                    return Err(ConfigError::new(
                        "secret",
                        "a Stripe webhook signing secret starts with 'whsec_' (an API key \
                         such as sk_… does not sign webhooks)",
                    ));
                }
                (
                    Scheme::Stripe,
                    key,
                    Algorithm::Sha256,
                    Template::fixed(&[Part::Timestamp, Part::lit("."), Part::Body]),
                    Some(tolerance_secs(c.tolerance)?),
                )
            }
            VerifyConfig::Slack(c) => (
                Scheme::Slack,
                text_key(secret)?,
                Algorithm::Sha256,
                Template::fixed(&[
                    Part::lit("v0:"),
                    Part::Timestamp,
                    Part::lit(":"),
                    Part::Body,
                ]),
                Some(tolerance_secs(c.tolerance)?),
            ),
            VerifyConfig::StandardWebhooks(c) => (
                Scheme::StandardWebhooks,
                standard_webhooks_key(secret)?,
                Algorithm::Sha256,
                Template::fixed(&[
                    Part::Id,
                    Part::lit("."),
                    Part::Timestamp,
                    Part::lit("."),
                    Part::Body,
                ]),
                Some(tolerance_secs(c.tolerance)?),
            ),
            VerifyConfig::Hmac(c) => {
                let key = text_key(secret)?;
                let (spec, template, tolerance) = hmac_spec(c)?;
                (
                    Scheme::Hmac(Box::new(spec)),
                    key,
                    c.algorithm,
                    template,
                    tolerance,
                )
            }
        };
        let mac = KeyedMac::new(algorithm, &key)
            .ok_or_else(|| ConfigError::new("secret", "cannot be used as an HMAC key"))?;
        Ok(Verifier {
            scheme,
            mac,
            template,
            tolerance,
        })
    }

    /// The scheme's name as in the `scheme` member.
    pub fn scheme_name(&self) -> &'static str {
        match self.scheme {
            Scheme::Github => "github",
            Scheme::Stripe => "stripe",
            Scheme::Slack => "slack",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Hmac(_) => "hmac",
        }
    }

    /// The timestamp tolerance in seconds, for schemes with a signed
    /// timestamp.
    pub fn tolerance_secs(&self) -> Option<i64> {
        self.tolerance
    }

    /// Verifies one request: its headers, its raw body (exactly the bytes
    /// received, before any parsing) and the current time in Unix seconds.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now_unix_secs: i64,
    ) -> Result<Verified, VerifyError> {
        let presented = match &self.scheme {
            Scheme::Github => present_github(headers)?,
            Scheme::Stripe => present_stripe(headers)?,
            Scheme::Slack => present_slack(headers)?,
            Scheme::StandardWebhooks => present_standard_webhooks(headers, &self.template)?,
            Scheme::Hmac(spec) => present_hmac(headers, spec, &self.template)?,
        };
        let expected = self.compute(presented.timestamp.map(|(s, _)| s), presented.id, body);
        // Compare against every candidate and OR the results, with no early
        // exit, so timing shows neither how much nor which one matched.
        let mut matched = Choice::from(0);
        for candidate in &presented.candidates {
            matched |= expected.as_slice().ct_eq(candidate.as_slice());
        }
        if !bool::from(matched) {
            return Err(VerifyError::SignatureMismatch {
                header: presented.signature_header,
            });
        }
        let mut replay_until = None;
        if let (Some((_, ts)), Some(tolerance)) = (presented.timestamp, self.tolerance) {
            check_fresh(ts, now_unix_secs, tolerance)?;
            replay_until = Some(ts.saturating_add(tolerance));
        }
        Ok(Verified {
            id: presented.id.map(str::to_owned),
            id_signed: presented.id.is_some() && self.template.has(Part::Id),
            timestamp: presented.timestamp.map(|(_, ts)| ts),
            replay_key: format!("mac:{}", hex::encode(&expected)),
            replay_until,
        })
    }

    /// The headers a sender would add to sign `body`: `timestamp` (Unix
    /// seconds) is used by schemes that sign one; `id` is required by
    /// schemes that sign one (Standard Webhooks, `hmac` with `{id}`), sent
    /// when the scheme has an id header, and ignored otherwise.
    pub fn sign(
        &self,
        body: &[u8],
        timestamp: i64,
        id: Option<&str>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, SignError> {
        let signs_ts = self.template.has(Part::Timestamp);
        let ts = timestamp.to_string();
        if signs_ts && !(0..=MAX_TIMESTAMP).contains(&timestamp) {
            return Err(SignError::InvalidTimestamp);
        }
        let id_value = match id {
            Some(id) => {
                let value = id_value(id).ok_or(SignError::InvalidId)?;
                if self.template.has(Part::Id) && self.template.id_is_ambiguous(id) {
                    return Err(SignError::InvalidId);
                }
                Some(value)
            }
            None if self.template.has(Part::Id) => {
                return Err(SignError::IdRequired {
                    scheme: self.scheme_name(),
                });
            }
            None => None,
        };
        let mac = self.compute(Some(&ts), id, body);
        let hex_mac = hex::encode(&mac);
        let ts_value = || HeaderValue::from_str(&ts).map_err(|_| SignError::InvalidTimestamp);
        let value =
            |s: String| HeaderValue::from_str(&s).map_err(|_| SignError::InvalidHeaderValue);
        let mut out = Vec::with_capacity(3);
        match &self.scheme {
            Scheme::Github => {
                out.push((
                    fixed(GITHUB_SIGNATURE).name,
                    value(format!("sha256={hex_mac}"))?,
                ));
                if let Some(id) = id_value {
                    out.push((fixed(GITHUB_DELIVERY).name, id));
                }
            }
            Scheme::Stripe => {
                let v = format!("t={ts},v1={hex_mac}");
                out.push((fixed(STRIPE_SIGNATURE).name, value(v)?));
            }
            Scheme::Slack => {
                out.push((fixed(SLACK_TIMESTAMP).name, ts_value()?));
                out.push((fixed(SLACK_SIGNATURE).name, value(format!("v0={hex_mac}"))?));
            }
            Scheme::StandardWebhooks => {
                let [id_h, ts_h, sig_h] = SW_HEADERS.map(HeaderName::from_static);
                if let Some(id) = id_value {
                    out.push((id_h, id));
                }
                out.push((ts_h, ts_value()?));
                out.push((sig_h, value(format!("v1,{}", STANDARD.encode(&mac)))?));
            }
            Scheme::Hmac(spec) => {
                let encoded = match spec.encoding {
                    Encoding::Hex => hex_mac,
                    Encoding::Base64 => STANDARD.encode(&mac),
                };
                out.push((
                    spec.header.name.clone(),
                    value(format!("{}{encoded}", spec.prefix))?,
                ));
                if let Some(h) = &spec.timestamp_header {
                    out.push((h.name.clone(), ts_value()?));
                }
                if let (Some(h), Some(id)) = (&spec.id_header, id_value) {
                    out.push((h.name.clone(), id));
                }
            }
        }
        Ok(out)
    }

    /// The MAC of the signed content. `ts` and `id` are present whenever the
    /// template uses them: extraction requires those headers.
    fn compute(&self, ts: Option<&str>, id: Option<&str>, body: &[u8]) -> Vec<u8> {
        let mut mac = self.mac.clone();
        for part in &self.template.parts {
            match part {
                Part::Lit(s) => mac.update(s.as_bytes()),
                Part::Body => mac.update(body),
                Part::Timestamp => mac.update(ts.unwrap_or_default().as_bytes()),
                Part::Id => mac.update(id.unwrap_or_default().as_bytes()),
            }
        }
        mac.finalize()
    }
}

/// What a verified request tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The webhook id, where the scheme has one: `X-GitHub-Delivery`,
    /// `webhook-id`/`svix-id`, or the `hmac` scheme's `id_header`. Absent
    /// for Stripe and Slack (their event ids are in the body).
    pub id: Option<String>,
    /// Whether the signature covers `id`. GitHub's delivery id is not
    /// signed: anyone can change it, so it is fit for logs, not for
    /// deduplication against an attacker.
    pub id_signed: bool,
    /// The signed timestamp (Unix seconds), where the scheme has one.
    pub timestamp: Option<i64>,
    /// The key under which to remember this request in [`SeenIds`]:
    /// `mac:<hex of the MAC>`. Identical for a verbatim replay whatever
    /// unsigned headers changed; see the [module docs](self#replays).
    pub replay_key: String,
    /// Until when (Unix seconds) a replay would still pass the timestamp
    /// check, so until when `replay_key` must be remembered: the timestamp
    /// plus the tolerance. `None` for schemes without a signed timestamp,
    /// where a replay never goes stale; see [`Verified::remember_until`].
    pub replay_until: Option<i64>,
}

impl Verified {
    /// Until when to remember [`Verified::replay_key`]: `replay_until`, or
    /// for schemes without a signed timestamp `now + retention_secs`, a
    /// retention the host picks (protection against replays then lasts only
    /// that long).
    pub fn remember_until(&self, now_unix_secs: i64, retention_secs: i64) -> i64 {
        self.replay_until
            .unwrap_or_else(|| now_unix_secs.saturating_add(retention_secs))
    }
}

/// Why a request was refused; each becomes a 401 problem document. The
/// messages are fixed texts plus header names and numbers: they never hold a
/// secret, a MAC or any part of a header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header the scheme needs is absent.
    #[error("the request has no {header} header")]
    MissingHeader {
        /// The header's name.
        header: String,
    },
    /// A header is present but cannot be read.
    #[error("the {header} header is malformed: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signature is right but the signed timestamp is too old.
    #[error("the signed timestamp is {age_secs} s old, more than the {tolerance_secs} s tolerance")]
    TimestampTooOld {
        /// How old it is, in seconds.
        age_secs: i64,
        /// The configured tolerance, in seconds.
        tolerance_secs: i64,
    },
    /// The signature is right but the signed timestamp is in the future.
    #[error(
        "the signed timestamp is {ahead_secs} s in the future, more than the \
         {tolerance_secs} s tolerance (is a clock wrong?)"
    )]
    TimestampInFuture {
        /// How far ahead of our clock it is, in seconds.
        ahead_secs: i64,
        /// The configured tolerance, in seconds.
        tolerance_secs: i64,
    },
    /// No signature matches the request (wrong secret, or the body, id or
    /// timestamp was changed).
    #[error("no signature in the {header} header matches the request")]
    SignatureMismatch {
        /// The signature header's name.
        header: String,
    },
}

impl VerifyError {
    /// A stable slug for the problem type, e.g. `signature-mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader { .. } => "missing-header",
            VerifyError::MalformedHeader { .. } => "malformed-header",
            VerifyError::TimestampTooOld { .. } => "timestamp-too-old",
            VerifyError::TimestampInFuture { .. } => "timestamp-in-future",
            VerifyError::SignatureMismatch { .. } => "signature-mismatch",
        }
    }

    /// The header at fault, for the problem's `field`.
    pub fn header(&self) -> Option<&str> {
        match self {
            VerifyError::MissingHeader { header }
            | VerifyError::MalformedHeader { header, .. }
            | VerifyError::SignatureMismatch { header } => Some(header),
            VerifyError::TimestampTooOld { .. } | VerifyError::TimestampInFuture { .. } => None,
        }
    }
}

/// Why [`Verifier::sign`] could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The scheme signs an id and none was given.
    #[error("the {scheme} scheme signs a webhook id: pass one")]
    IdRequired {
        /// The scheme's name.
        scheme: &'static str,
    },
    /// The id is empty, too long, not visible ASCII, or contains a separator
    /// of the signed content.
    #[error(
        "the webhook id must be 1 to 256 visible ASCII characters without the separators \
         of the signed content"
    )]
    InvalidId,
    /// The timestamp is negative or has more than 12 digits.
    #[error("the timestamp must be Unix seconds from 0 to 999999999999")]
    InvalidTimestamp,
    /// A header value could not be formed (a prefix that is not a valid
    /// header value).
    #[error("the signature does not form a valid header value")]
    InvalidHeaderValue,
}

// ---------------------------------------------------------------------------
// Building blocks of `Verifier::new`
// ---------------------------------------------------------------------------

/// A secret whose UTF-8 bytes are the key.
fn text_key(secret: &Secret) -> Result<Vec<u8>, ConfigError> {
    let s = secret.expose();
    check_secret_text(s)?;
    check_key_len(s.len())?;
    Ok(s.as_bytes().to_vec())
}

/// A Standard Webhooks secret: base64, after an optional `whsec_`.
fn standard_webhooks_key(secret: &Secret) -> Result<Vec<u8>, ConfigError> {
    let s = secret.expose();
    check_secret_text(s)?;
    if s.starts_with("whsk_") || s.starts_with("whpk_") {
        return Err(ConfigError::new(
            "secret",
            "asymmetric (ed25519, v1a) keys are not supported; use the symmetric whsec_ secret",
        ));
    }
    let b64 = s.strip_prefix(WHSEC).unwrap_or(s);
    // Check the length before decoding so a huge value is not decoded.
    if b64.len() > MAX_SECRET_BYTES * 4 / 3 + 4 {
        return Err(ConfigError::new(
            "secret",
            format!("longer than {MAX_SECRET_BYTES} bytes"),
        ));
    }
    let key = BASE64_LENIENT.decode(b64).map_err(|_| {
        ConfigError::new(
            "secret",
            "a Standard Webhooks secret is base64, optionally after 'whsec_'",
        )
    })?;
    check_key_len(key.len())?;
    Ok(key)
}

fn check_secret_text(s: &str) -> Result<(), ConfigError> {
    // Secrets are write-only, so a stray newline from a copy and paste could
    // never be spotted later; it would just make every request fail.
    if s.trim() != s {
        return Err(ConfigError::new(
            "secret",
            "has leading or trailing whitespace (a copy-and-paste slip?)",
        ));
    }
    Ok(())
}

fn check_key_len(len: usize) -> Result<(), ConfigError> {
    if len < MIN_SECRET_BYTES {
        return Err(ConfigError::new(
            "secret",
            format!("too short: at least {MIN_SECRET_BYTES} bytes of key are required"),
        ));
    }
    if len > MAX_SECRET_BYTES {
        return Err(ConfigError::new(
            "secret",
            format!("longer than {MAX_SECRET_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn tolerance_secs(tolerance: Option<Duration>) -> Result<i64, ConfigError> {
    let Some(d) = tolerance else {
        return Ok(DEFAULT_TOLERANCE_SECS);
    };
    if d.subsec_nanos() != 0 {
        return Err(ConfigError::new(
            "tolerance",
            "must be whole seconds (timestamps are in seconds)",
        ));
    }
    match i64::try_from(d.as_secs()) {
        Ok(s) if (1..=MAX_TOLERANCE_SECS).contains(&s) => Ok(s),
        _ => Err(ConfigError::new(
            "tolerance",
            format!("must be from 1s to 1h ({MAX_TOLERANCE_SECS}s)"),
        )),
    }
}

fn header_name(member: &str, name: &str) -> Result<Header, ConfigError> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ConfigError::new(member, format!("'{name}' is not a valid header name")))?;
    Ok(Header {
        name: parsed,
        label: Cow::Owned(name.to_owned()),
    })
}

fn hmac_spec(c: &HmacConfig) -> Result<(HmacSpec, Template, Option<i64>), ConfigError> {
    let header = header_name("header", &c.header)?;
    let prefix = c.prefix.clone().unwrap_or_default();
    if prefix.len() > MAX_PREFIX_LEN || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            "prefix",
            format!("must be at most {MAX_PREFIX_LEN} visible ASCII characters, e.g. 'sha256='"),
        ));
    }
    let timestamp_header = c
        .timestamp_header
        .as_deref()
        .map(|h| header_name("timestamp_header", h))
        .transpose()?;
    let id_header = c
        .id_header
        .as_deref()
        .map(|h| header_name("id_header", h))
        .transpose()?;
    if let Some(t) = &timestamp_header
        && t.name == header.name
    {
        return Err(ConfigError::new(
            "timestamp_header",
            "must differ from verify.header",
        ));
    }
    if let Some(i) = &id_header
        && (i.name == header.name || timestamp_header.as_ref().is_some_and(|t| t.name == i.name))
    {
        return Err(ConfigError::new(
            "id_header",
            "must differ from verify.header and verify.timestamp_header",
        ));
    }
    let tolerance = match (&timestamp_header, c.tolerance) {
        (Some(_), t) => Some(tolerance_secs(t)?),
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "tolerance",
                "needs verify.timestamp_header: without a signed timestamp there is \
                 nothing to check it against",
            ));
        }
        (None, None) => None,
    };
    let template = Template::parse(c.payload.as_deref().unwrap_or("{body}"))
        .map_err(|detail| ConfigError::new("payload", detail))?;
    if template.has(Part::Timestamp) != timestamp_header.is_some() {
        return Err(ConfigError::new(
            "payload",
            if timestamp_header.is_some() {
                "must contain {timestamp}: an unsigned timestamp could be set by anyone, \
                 e.g. \"{timestamp}.{body}\""
            } else {
                "uses {timestamp} but verify.timestamp_header is not set"
            },
        ));
    }
    if template.has(Part::Id) && id_header.is_none() {
        return Err(ConfigError::new(
            "payload",
            "uses {id} but verify.id_header is not set",
        ));
    }
    Ok((
        HmacSpec {
            header,
            algorithm: c.algorithm,
            encoding: c.encoding,
            prefix,
            timestamp_header,
            id_header,
        },
        template,
        tolerance,
    ))
}

// ---------------------------------------------------------------------------
// Signed-content templates
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(Box<str>),
    Body,
    Timestamp,
    Id,
}

impl Part {
    fn lit(s: &str) -> Part {
        Part::Lit(s.into())
    }
}

/// The signed content as literals and placeholders, fed to the MAC piece by
/// piece so the body is never copied.
#[derive(Debug, Clone)]
struct Template {
    parts: Vec<Part>,
    /// Characters of the literals between two placeholders. A signed id
    /// containing one could be read as a different split of the same bytes
    /// (`a.b` + `.` + `1` vs `a` + `.` + `b.1`), so such ids are refused.
    separators: Vec<char>,
}

impl Template {
    fn fixed(parts: &[Part]) -> Template {
        let mut separators: Vec<char> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if let Part::Lit(s) = part
                && i > 0
                && i + 1 < parts.len()
            {
                separators.extend(s.chars());
            }
        }
        separators.sort_unstable();
        separators.dedup();
        Template {
            parts: parts.to_vec(),
            separators,
        }
    }

    /// Parses `{body}`, `{timestamp}` and `{id}` placeholders; every other
    /// character is literal, except `{` and `}`, refused so that a typo such
    /// as `{Timestamp}` is an error rather than a literal.
    fn parse(s: &str) -> Result<Template, &'static str> {
        if s.len() > MAX_TEMPLATE_LEN {
            return Err("longer than 256 bytes");
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            match c {
                '{' => {
                    let (part, after) = [
                        ("{body}", Part::Body),
                        ("{timestamp}", Part::Timestamp),
                        ("{id}", Part::Id),
                    ]
                    .into_iter()
                    .find_map(|(p, part)| rest.strip_prefix(p).map(|after| (part, after)))
                    .ok_or("the placeholders are {body}, {timestamp} and {id}")?;
                    if parts.contains(&part) {
                        return Err("each placeholder may appear only once");
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit).into()));
                    }
                    parts.push(part);
                    rest = after;
                }
                '}' => return Err("'}' outside a placeholder"),
                c => {
                    lit.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit.into()));
        }
        if !parts.contains(&Part::Body) {
            return Err("must contain {body}");
        }
        // `{id}{body}` would let anyone move bytes between the id and the
        // body without changing the MAC, so the id would not really be signed.
        let undelimited_id = parts
            .windows(2)
            .any(|w| matches!(w, [Part::Id, b] | [b, Part::Id] if !matches!(b, Part::Lit(_))));
        if undelimited_id {
            return Err(
                "{id} must be separated from the other placeholders by a literal, e.g. '.'",
            );
        }
        Ok(Template::fixed(&parts))
    }

    fn has(&self, part: Part) -> bool {
        self.parts.contains(&part)
    }

    fn id_is_ambiguous(&self, id: &str) -> bool {
        id.chars().any(|c| self.separators.contains(&c))
    }
}

// ---------------------------------------------------------------------------
// HMAC over the three hashes
// ---------------------------------------------------------------------------

#[derive(Clone)]
enum KeyedMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl KeyedMac {
    /// `None` only if the HMAC refuses the key, which it never does (any
    /// length is allowed); kept fallible rather than panicking.
    fn new(algorithm: Algorithm, key: &[u8]) -> Option<KeyedMac> {
        use hmac::digest::KeyInit;
        Some(match algorithm {
            Algorithm::Sha1 => KeyedMac::Sha1(<Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?),
            Algorithm::Sha256 => {
                KeyedMac::Sha256(<Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?)
            }
            Algorithm::Sha512 => {
                KeyedMac::Sha512(<Hmac<Sha512> as KeyInit>::new_from_slice(key).ok()?)
            }
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            KeyedMac::Sha1(m) => m.update(data),
            KeyedMac::Sha256(m) => m.update(data),
            KeyedMac::Sha512(m) => m.update(data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            KeyedMac::Sha1(m) => m.finalize().into_bytes().to_vec(),
            KeyedMac::Sha256(m) => m.finalize().into_bytes().to_vec(),
            KeyedMac::Sha512(m) => m.finalize().into_bytes().to_vec(),
        }
    }
}

// ---------------------------------------------------------------------------
// Reading the headers of each scheme
// ---------------------------------------------------------------------------

fn malformed(header: &Header, reason: &'static str) -> VerifyError {
    VerifyError::MalformedHeader {
        header: header.label(),
        reason,
    }
}

/// The single value of `header`, if present: refused if sent more than
/// once, longer than `max_len`, not visible ASCII, or empty.
fn read<'a>(
    headers: &'a HeaderMap,
    header: &Header,
    max_len: usize,
) -> Result<Option<&'a str>, VerifyError> {
    let mut values = headers.get_all(&header.name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed(header, "sent more than once"));
    }
    if value.len() > max_len {
        return Err(malformed(header, "too long"));
    }
    let s = value
        .to_str()
        .map_err(|_| malformed(header, "not visible ASCII"))?;
    if s.is_empty() {
        return Err(malformed(header, "empty"));
    }
    Ok(Some(s))
}

fn require<'a>(
    headers: &'a HeaderMap,
    header: &Header,
    max_len: usize,
) -> Result<&'a str, VerifyError> {
    read(headers, header, max_len)?.ok_or_else(|| VerifyError::MissingHeader {
        header: header.label(),
    })
}

/// Unix seconds written canonically: 1–12 digits, no sign, no leading zero.
fn parse_unix_secs(s: &str) -> Option<i64> {
    let canonical = !s.is_empty()
        && s.len() <= MAX_TIMESTAMP_DIGITS
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

fn read_timestamp<'a>(
    headers: &'a HeaderMap,
    header: &Header,
) -> Result<(&'a str, i64), VerifyError> {
    let s = require(headers, header, MAX_TIMESTAMP_HEADER_LEN)?;
    let ts = parse_unix_secs(s).ok_or_else(|| malformed(header, "not a Unix time in seconds"))?;
    Ok((s, ts))
}

/// A webhook id: any visible ASCII up to [`MAX_ID_LEN`] (checked by
/// [`read`]), without the template's separators when it is signed.
fn read_id<'a>(
    headers: &'a HeaderMap,
    header: &Header,
    template: &Template,
    required: bool,
) -> Result<Option<&'a str>, VerifyError> {
    let id = if required {
        Some(require(headers, header, MAX_ID_LEN)?)
    } else {
        read(headers, header, MAX_ID_LEN)?
    };
    if let Some(id) = id
        && template.has(Part::Id)
        && template.id_is_ambiguous(id)
    {
        return Err(malformed(
            header,
            "contains a separator of the signed content (such as '.')",
        ));
    }
    Ok(id)
}

/// An id for [`Verifier::sign`], as a header value.
fn id_value(id: &str) -> Option<HeaderValue> {
    // HTTP strips whitespace around a header value, so an id with some
    // would arrive different from what was signed.
    if id.is_empty() || id.len() > MAX_ID_LEN || id.trim() != id {
        return None;
    }
    let value = HeaderValue::from_str(id).ok()?;
    // Same rule as `read`: visible ASCII only.
    value.to_str().ok()?;
    Some(value)
}

/// Decodes exactly `len` bytes of hex (either case).
fn decode_hex(s: &str, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Decodes base64 (padding optional) that must come to exactly `len` bytes.
fn decode_base64(s: &str, len: usize) -> Option<Vec<u8>> {
    // A base64 string of `len` bytes has at most this many characters; a
    // longer one is refused before decoding.
    if s.len() > len.div_ceil(3) * 4 {
        return None;
    }
    BASE64_LENIENT.decode(s).ok().filter(|v| v.len() == len)
}

fn present_github(headers: &HeaderMap) -> Result<Presented<'_>, VerifyError> {
    let sig = fixed(GITHUB_SIGNATURE);
    let value = require(headers, &sig, MAX_SIGNATURE_HEADER_LEN)?;
    let mac = value
        .strip_prefix("sha256=")
        .and_then(|h| decode_hex(h, SHA256_LEN))
        .ok_or_else(|| malformed(&sig, "expected 'sha256=' and 64 hex digits"))?;
    let id = read(headers, &fixed(GITHUB_DELIVERY), MAX_ID_LEN)?;
    Ok(Presented {
        signature_header: sig.label(),
        candidates: vec![mac],
        timestamp: None,
        id,
    })
}

fn present_stripe(headers: &HeaderMap) -> Result<Presented<'_>, VerifyError> {
    let sig = fixed(STRIPE_SIGNATURE);
    let value = require(headers, &sig, MAX_SIGNATURE_HEADER_LEN)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    // As Stripe documents: split on ',', then each element on the first '=';
    // keep `t` and every `v1`, discard everything else (v0 included).
    for element in value.split(',') {
        let Some((key, val)) = element.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(malformed(&sig, "more than one t= element"));
                }
                let ts = parse_unix_secs(val)
                    .ok_or_else(|| malformed(&sig, "t is not a Unix time in seconds"))?;
                timestamp = Some((val, ts));
            }
            "v1" => candidates.push(
                decode_hex(val, SHA256_LEN)
                    .ok_or_else(|| malformed(&sig, "a v1 signature is not 64 hex digits"))?,
            ),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| malformed(&sig, "no t= element"))?;
    if candidates.is_empty() {
        return Err(malformed(&sig, "no v1= signature"));
    }
    Ok(Presented {
        signature_header: sig.label(),
        candidates,
        timestamp: Some(timestamp),
        id: None,
    })
}

fn present_slack(headers: &HeaderMap) -> Result<Presented<'_>, VerifyError> {
    let sig = fixed(SLACK_SIGNATURE);
    let value = require(headers, &sig, MAX_SIGNATURE_HEADER_LEN)?;
    let mac = value
        .strip_prefix("v0=")
        .and_then(|h| decode_hex(h, SHA256_LEN))
        .ok_or_else(|| malformed(&sig, "expected 'v0=' and 64 hex digits"))?;
    let timestamp = read_timestamp(headers, &fixed(SLACK_TIMESTAMP))?;
    Ok(Presented {
        signature_header: sig.label(),
        candidates: vec![mac],
        timestamp: Some(timestamp),
        id: None,
    })
}

fn present_standard_webhooks<'a>(
    headers: &'a HeaderMap,
    template: &Template,
) -> Result<Presented<'a>, VerifyError> {
    // One family for all three headers: webhook-* if its signature header is
    // there, otherwise svix-* if its signature header is there.
    let family = if headers.contains_key(SW_HEADERS[2]) || !headers.contains_key(SVIX_HEADERS[2]) {
        SW_HEADERS
    } else {
        SVIX_HEADERS
    };
    let [id_h, ts_h, sig_h] = family.map(|n| Header::fixed(n, n));
    let value = require(headers, &sig_h, MAX_SIGNATURE_HEADER_LEN)?;
    let id = read_id(headers, &id_h, template, true)?;
    let timestamp = read_timestamp(headers, &ts_h)?;
    let mut candidates = Vec::new();
    for entry in value.split(' ').filter(|e| !e.is_empty()) {
        // Other versions (v1a, a future v2) are someone else's business.
        let Some(b64) = entry.strip_prefix("v1,") else {
            continue;
        };
        candidates.push(decode_base64(b64, SHA256_LEN).ok_or_else(|| {
            malformed(&sig_h, "a v1 signature is not the base64 of an HMAC-SHA256")
        })?);
    }
    if candidates.is_empty() {
        return Err(malformed(&sig_h, "no v1 signature"));
    }
    Ok(Presented {
        signature_header: sig_h.label(),
        candidates,
        timestamp: Some(timestamp),
        id,
    })
}

fn present_hmac<'a>(
    headers: &'a HeaderMap,
    spec: &HmacSpec,
    template: &Template,
) -> Result<Presented<'a>, VerifyError> {
    let value = require(headers, &spec.header, MAX_SIGNATURE_HEADER_LEN)?;
    let encoded = value
        .strip_prefix(spec.prefix.as_str())
        .ok_or_else(|| malformed(&spec.header, "does not start with the configured prefix"))?;
    let len = spec.algorithm.mac_len();
    let mac = match spec.encoding {
        Encoding::Hex => decode_hex(encoded, len).ok_or_else(|| {
            malformed(&spec.header, "not hex of the configured algorithm's length")
        })?,
        Encoding::Base64 => decode_base64(encoded, len).ok_or_else(|| {
            malformed(
                &spec.header,
                "not base64 of the configured algorithm's length",
            )
        })?,
    };
    let timestamp = spec
        .timestamp_header
        .as_ref()
        .map(|h| read_timestamp(headers, h))
        .transpose()?;
    let id = match &spec.id_header {
        Some(h) => read_id(headers, h, template, template.has(Part::Id))?,
        None => None,
    };
    Ok(Presented {
        signature_header: spec.header.label(),
        candidates: vec![mac],
        timestamp,
        id,
    })
}

/// `|now − ts| ≤ tolerance`, with errors that say which way and by how much.
fn check_fresh(ts: i64, now: i64, tolerance: i64) -> Result<(), VerifyError> {
    let age = now.saturating_sub(ts);
    if age > tolerance {
        Err(VerifyError::TimestampTooOld {
            age_secs: age,
            tolerance_secs: tolerance,
        })
    } else if age < -tolerance {
        Err(VerifyError::TimestampInFuture {
            ahead_secs: age.saturating_neg(),
            tolerance_secs: tolerance,
        })
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Replay protection
// ---------------------------------------------------------------------------

/// Longest key [`SeenIds`] stores (a `mac:` key of SHA-512 has 132 bytes).
pub const MAX_SEEN_KEY_LEN: usize = 512;
/// Bytes charged per entry besides its key: the map slot, the queue slot and
/// the shared string's header, rounded up.
const SEEN_ENTRY_OVERHEAD: usize = 96;

/// Why [`SeenIds::check_and_insert`] refused a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SeenError {
    /// The key was seen before and has not expired: a replay (or a duplicate
    /// delivery; answering it with a 2xx, without processing it again, stops
    /// a sender's retries).
    #[error("this webhook was already received")]
    Replay,
    /// The cap on entries or bytes is reached and nothing has expired yet.
    /// Refusing (503, try later) keeps the protection intact, where evicting
    /// a live entry would open a replay window.
    #[error("too many recent webhooks to remember; try again later")]
    Full,
    /// The key is longer than [`MAX_SEEN_KEY_LEN`].
    #[error("the replay key is too long")]
    KeyTooLong,
}

/// A bounded in-memory set of recently seen replay keys, each remembered
/// until its expiry (Unix seconds). Insert and lookup are O(1); expired
/// entries are dropped, oldest first, on every insert.
///
/// Entries leave in insertion order, so each entry's expiry is raised to at
/// least that of the entry before it: entries may be remembered a little
/// longer than asked (for timestamped schemes, at most twice the tolerance),
/// never shorter. Keep one `SeenIds` per source (or prefix keys with the
/// source), so retention periods do not mix.
///
/// Insert a key only for a request you are about to accept, and
/// [`forget`](SeenIds::forget) it if accepting then fails, or the sender's
/// retry of the same bytes would be refused.
#[derive(Debug)]
pub struct SeenIds {
    live: HashMap<Arc<str>, i64>,
    /// Insertion order with the (raised) expiry; may hold forgotten keys,
    /// which still count against the caps until they expire.
    queue: VecDeque<(Arc<str>, i64)>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for SeenIds {
    /// 100 000 entries, 16 MiB.
    fn default() -> Self {
        SeenIds::new(100_000, 16 << 20)
    }
}

impl SeenIds {
    /// An empty set holding at most `max_entries` entries and `max_bytes`
    /// bytes (keys plus a fixed overhead each).
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        SeenIds {
            live: HashMap::new(),
            queue: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// Refuses `key` if it is remembered and unexpired at `now`; otherwise
    /// remembers it until `expires_at` (an `expires_at` not after `now`
    /// needs no remembering and is accepted as is).
    pub fn check_and_insert(
        &mut self,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), SeenError> {
        self.purge_expired(now);
        if self.live.contains_key(key) {
            return Err(SeenError::Replay);
        }
        if key.len() > MAX_SEEN_KEY_LEN {
            return Err(SeenError::KeyTooLong);
        }
        if expires_at <= now {
            return Ok(());
        }
        let cost = key.len() + SEEN_ENTRY_OVERHEAD;
        if self.queue.len() >= self.max_entries || self.bytes.saturating_add(cost) > self.max_bytes
        {
            return Err(SeenError::Full);
        }
        let expiry = self
            .queue
            .back()
            .map_or(expires_at, |(_, last)| expires_at.max(*last));
        let key: Arc<str> = Arc::from(key);
        self.live.insert(key.clone(), expiry);
        self.queue.push_back((key, expiry));
        self.bytes += cost;
        Ok(())
    }

    /// Whether `key` is remembered and unexpired at `now`.
    pub fn contains(&self, key: &str, now: i64) -> bool {
        self.live.get(key).is_some_and(|&expiry| expiry > now)
    }

    /// Forgets `key` (for a request whose processing failed after it was
    /// inserted). Its bytes are released when it would have expired.
    pub fn forget(&mut self, key: &str) {
        self.live.remove(key);
    }

    /// Drops every entry expired at `now`.
    pub fn purge_expired(&mut self, now: i64) {
        while let Some((key, expiry)) = self.queue.front() {
            if *expiry > now {
                break;
            }
            // Only remove the map entry if it is this queue entry's (it may
            // have been forgotten and inserted again since).
            if self
                .live
                .get_key_value(key.as_ref())
                .is_some_and(|(k, _)| Arc::ptr_eq(k, key))
            {
                self.live.remove(key.as_ref());
            }
            self.bytes -= key.len() + SEEN_ENTRY_OVERHEAD;
            self.queue.pop_front();
        }
    }

    /// Entries held, forgotten ones included until they expire.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes charged against the cap.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests;
