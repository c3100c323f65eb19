//! Inputs and outputs of the EventBridge operations Signalbox serves.
//!
//! Member names, types, required members and constraints follow the service
//! model, `botocore/data/events/2015-10-07/service-2.json`. Structures use
//! `rename_all = "PascalCase"` like the model; the few members whose wire name
//! is not the PascalCase of a Rust name (`ClientID`) carry their own rename.
//!
//! Unknown members are ignored, as AWS services ignore them, so newer SDKs
//! that send members this model lacks still work. Required members are plain
//! fields, optional ones `Option`s that are left out of the JSON when `None`.
//!
//! Deserializing checks JSON types, required members and enum values
//! ([`super::protocol::parse_input`] turns those failures into AWS's
//! messages); [`Validate`] checks the rest of the model's constraints
//! (lengths, ranges, name patterns, list sizes).
//!
//! Target parameters for AWS-only target kinds (Kinesis, ECS, Batch, SQS,
//! Redshift, SageMaker, AppSync, Run Command) are kept as opaque JSON so a
//! `PutTargets` → `ListTargetsByRule` round trip gives back what was sent.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::protocol::{AwsError, ENUM_MARKER};
use crate::event::time::{format_rfc3339_micros, parse_rfc3339};
use crate::pattern::envelope::format_rfc3339_secs;

// ---------------------------------------------------------------------------
// Timestamps

/// A point in time with millisecond precision.
///
/// The JSON 1.1 protocol sends timestamps as epoch seconds, whole or
/// fractional (botocore sends milliseconds as a fraction: `1700000000.123`).
/// Reading also accepts an RFC 3339 string (`2024-05-01T12:00:00Z`) or a
/// numeric string, for hand-written clients and for `Time` in `PutEvents`.
/// Writing gives whole seconds as an integer and anything finer as a
/// fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    millis: i64,
}

/// The range AWS accepts: years 0001 through 9999.
const MIN_MILLIS: i64 = -62_135_596_800_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// A timestamp from milliseconds since the Unix epoch, if in 0001..=9999.
    pub fn from_millis(millis: i64) -> Option<Timestamp> {
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&millis)
            .then_some(Timestamp { millis })
    }

    /// A timestamp from whole seconds since the Unix epoch.
    pub fn from_secs(secs: i64) -> Option<Timestamp> {
        secs.checked_mul(1000).and_then(Timestamp::from_millis)
    }

    /// A timestamp from (possibly fractional) epoch seconds; rounds to the
    /// nearest millisecond.
    pub fn from_secs_f64(secs: f64) -> Option<Timestamp> {
        if !secs.is_finite() {
            return None;
        }
        let millis = (secs * 1000.0).round();
        if !(MIN_MILLIS as f64..=MAX_MILLIS as f64).contains(&millis) {
            return None;
        }
        Timestamp::from_millis(millis as i64)
    }

    /// Parses an RFC 3339 timestamp (fractions below a millisecond are
    /// dropped).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        parse_rfc3339(s)
            .ok()
            .and_then(|micros| Timestamp::from_millis(micros.div_euclid(1000)))
    }

    /// The current time.
    pub fn now() -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp::from_millis(millis).unwrap_or(Timestamp { millis: 0 })
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.millis
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub fn secs(self) -> i64 {
        self.millis.div_euclid(1000)
    }

    /// Microseconds since the Unix epoch (the host's unit).
    pub fn micros(self) -> i64 {
        self.millis * 1000
    }

    /// A timestamp from microseconds since the Unix epoch (rounded down to
    /// the millisecond).
    pub fn from_micros(micros: i64) -> Option<Timestamp> {
        Timestamp::from_millis(micros.div_euclid(1000))
    }

    /// RFC 3339 in UTC with whole seconds (`2015-11-11T21:29:54Z`), the form
    /// of `time` in the EventBridge event envelope.
    pub fn to_rfc3339_secs(self) -> String {
        format_rfc3339_secs(self.micros())
    }

    /// RFC 3339 in UTC with milliseconds (`2015-11-11T21:29:54.123Z`).
    pub fn to_rfc3339_millis(self) -> String {
        let full = format_rfc3339_micros(self.micros());
        // `….mmmuuuZ` → `….mmmZ`
        format!("{}Z", &full[..full.len() - 4])
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.millis % 1000 == 0 {
            s.serialize_i64(self.millis / 1000)
        } else {
            s.serialize_f64(self.millis as f64 / 1000.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const RANGE: &str = "a timestamp between years 0001 and 9999";
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("epoch seconds or an RFC 3339 timestamp")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Timestamp::from_secs(v).ok_or_else(|| E::custom(RANGE))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(Timestamp::from_secs)
                    .ok_or_else(|| E::custom(RANGE))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                Timestamp::from_secs_f64(v).ok_or_else(|| E::custom(RANGE))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                if let Ok(secs) = v.trim().parse::<f64>() {
                    return Timestamp::from_secs_f64(secs).ok_or_else(|| E::custom(RANGE));
                }
                Timestamp::parse_rfc3339(v).ok_or_else(|| {
                    E::custom("expected epoch seconds or an RFC 3339 timestamp such as 2024-05-01T12:00:00Z")
                })
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// Sensitive strings

/// A string the model marks `sensitive` (passwords, client secrets, API key
/// values): serialized as-is, but `Debug` prints `***` so it never reaches a
/// log by accident.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(pub String);

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

// ---------------------------------------------------------------------------
// Enums

macro_rules! aws_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $wire, "`")] $variant,)+
        }

        impl $name {
            /// Every value the model allows, in model order.
            pub const VALUES: &'static [&'static str] = &[$($wire),+];

            /// The wire value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses a wire value (case-sensitive, as AWS is).
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    // protocol::parse_input turns this into AWS's
                    // "Member must satisfy enum value set" message.
                    de::Error::custom(format!(
                        "{ENUM_MARKER}{s}\u{1}{}",
                        $name::VALUES.join(", ")
                    ))
                })
            }
        }
    };
}

aws_enum! {
    /// `RuleState`.
    RuleState {
        /// The rule matches events.
        Enabled = "ENABLED",
        /// The rule matches nothing.
        Disabled = "DISABLED",
        /// Enabled, including CloudTrail management events (AWS only).
        EnabledWithAllCloudtrailManagementEvents = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
    }
}

aws_enum! {
    /// `IncludeDetail` of a bus's `LogConfig`.
    IncludeDetail { None = "NONE", Full = "FULL" }
}

aws_enum! {
    /// `Level` of a bus's `LogConfig`.
    LogLevel { Off = "OFF", Error = "ERROR", Info = "INFO", Trace = "TRACE" }
}

aws_enum! {
    /// `ConnectionAuthorizationType`.
    ConnectionAuthorizationType {
        Basic = "BASIC",
        OauthClientCredentials = "OAUTH_CLIENT_CREDENTIALS",
        ApiKey = "API_KEY",
    }
}

aws_enum! {
    /// `ConnectionOAuthHttpMethod`.
    ConnectionOAuthHttpMethod { Get = "GET", Post = "POST", Put = "PUT" }
}

aws_enum! {
    /// `ConnectionState`.
    ConnectionState {
        Creating = "CREATING",
        Updating = "UPDATING",
        Deleting = "DELETING",
        Authorized = "AUTHORIZED",
        Deauthorized = "DEAUTHORIZED",
        Authorizing = "AUTHORIZING",
        Deauthorizing = "DEAUTHORIZING",
        Active = "ACTIVE",
        FailedConnectivity = "FAILED_CONNECTIVITY",
    }
}

aws_enum! {
    /// `ApiDestinationHttpMethod`.
    ApiDestinationHttpMethod {
        Post = "POST",
        Get = "GET",
        Head = "HEAD",
        Options = "OPTIONS",
        Put = "PUT",
        Patch = "PATCH",
        Delete = "DELETE",
    }
}

aws_enum! {
    /// `ApiDestinationState`.
    ApiDestinationState { Active = "ACTIVE", Inactive = "INACTIVE" }
}

aws_enum! {
    /// `ArchiveState`.
    ArchiveState {
        Enabled = "ENABLED",
        Disabled = "DISABLED",
        Creating = "CREATING",
        Updating = "UPDATING",
        CreateFailed = "CREATE_FAILED",
        UpdateFailed = "UPDATE_FAILED",
    }
}

aws_enum! {
    /// `ReplayState`.
    ReplayState {
        Starting = "STARTING",
        Running = "RUNNING",
        Cancelling = "CANCELLING",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
        Failed = "FAILED",
    }
}

// ---------------------------------------------------------------------------
// Validation

/// Checks an input against the model's constraints that serde does not
/// (lengths, ranges, patterns, list sizes).
pub trait Validate {
    /// Adds one violation per failed constraint.
    fn validate(&self, v: &mut Violations);
}

/// The constraint violations found in one input, turned into one
/// `ValidationException` the way AWS words it:
/// `2 validation errors detected: Value 'x' at 'name' failed to satisfy
/// constraint: …; Value …`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations {
    messages: Vec<String>,
}

/// Longest member value quoted back in a message; longer ones are cut so an
/// error about a 1 MB string stays readable.
const MAX_QUOTED: usize = 512;

impl Violations {
    /// Records `Value 'VALUE' at 'PATH' failed to satisfy constraint:
    /// CONSTRAINT` (`Value null` when `value` is `None`).
    pub fn push(&mut self, path: &str, value: Option<&str>, constraint: &str) {
        let value = match value {
            Some(v) => match v.char_indices().nth(MAX_QUOTED) {
                Some((i, _)) => format!("'{}…'", &v[..i]),
                None => format!("'{v}'"),
            },
            None => "null".to_owned(),
        };
        self.messages.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Records a missing required member.
    pub fn push_null(&mut self, path: &str) {
        self.push(path, None, "Member must not be null");
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The recorded messages.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// `Ok` when nothing was recorded, else one `ValidationException`.
    pub fn into_result(self) -> Result<(), AwsError> {
        match self.messages.len() {
            0 => Ok(()),
            n => Err(AwsError::validation(format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                self.messages.join("; ")
            ))),
        }
    }

    /// A string's length in the model's unit (UTF-16 code units, as the
    /// service is written in Java) within `min..=max`.
    pub fn length(&mut self, path: &str, value: &str, min: usize, max: usize) {
        let len = value.encode_utf16().count();
        if len < min {
            self.push(
                path,
                Some(value),
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.push(
                path,
                Some(value),
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// [`Violations::length`] for an optional member.
    pub fn opt_length(&mut self, path: &str, value: &Option<String>, min: usize, max: usize) {
        if let Some(v) = value {
            self.length(path, v, min, max);
        }
    }

    /// A string matching a model pattern; `pattern` is the model's text,
    /// quoted back in the message, and `ok` the hand-written check (no regex
    /// engine needed for these simple character classes).
    pub fn pattern(&mut self, path: &str, value: &str, pattern: &str, ok: bool) {
        if !ok {
            self.push(
                path,
                Some(value),
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// An integer within `min..=max`.
    pub fn range(&mut self, path: &str, value: Option<i64>, min: Option<i64>, max: Option<i64>) {
        let Some(value) = value else { return };
        let text = value.to_string();
        if let Some(min) = min.filter(|m| value < *m) {
            self.push(
                path,
                Some(&text),
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if let Some(max) = max.filter(|m| value > *m) {
            self.push(
                path,
                Some(&text),
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// A list or map with `min..=max` entries; `shape` names the member
    /// shape in the message (`Value '[Target]' at 'targets'`).
    pub fn count(&mut self, path: &str, len: usize, shape: &str, min: usize, max: usize) {
        let value = format!("[{shape}]");
        if len < min {
            self.push(
                path,
                Some(&value),
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.push(
                path,
                Some(&value),
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    // Named checks for the model's recurring string shapes.

    /// `RuleName`, `TargetId`, `ConnectionName`, `ApiDestinationName`,
    /// `ReplayName` (1..=max, `[\.\-_A-Za-z0-9]+`).
    pub fn simple_name(&mut self, path: &str, value: &str, max: usize) {
        self.length(path, value, 1, max);
        if !value.is_empty() {
            self.pattern(path, value, NAME_PATTERN, is_simple_name(value));
        }
    }

    /// `EventBusName` (1..=256, `[/\.\-_A-Za-z0-9]+`).
    pub fn event_bus_name(&mut self, path: &str, value: &str) {
        self.length(path, value, 1, 256);
        if !value.is_empty() {
            self.pattern(path, value, BUS_NAME_PATTERN, is_bus_name(value));
        }
    }

    /// `EventBusNameOrArn` (1..=1600, a bus name or an event-bus ARN).
    pub fn event_bus_name_or_arn(&mut self, path: &str, value: &str) {
        self.length(path, value, 1, 1600);
        if !value.is_empty() {
            self.pattern(
                path,
                value,
                BUS_NAME_OR_ARN_PATTERN,
                is_bus_name_or_arn(value, true),
            );
        }
    }

    /// Optional `EventBusNameOrArn`.
    pub fn opt_event_bus_name_or_arn(&mut self, path: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.event_bus_name_or_arn(path, v);
        }
    }

    fn next_token(&mut self, value: &Option<String>) {
        self.opt_length("nextToken", value, 1, 2048);
    }

    fn limit(&mut self, value: Option<i32>) {
        self.range("limit", value.map(i64::from), Some(1), Some(100));
    }
}

/// The model's pattern for rule, target, connection, API destination,
/// archive and replay names.
pub const NAME_PATTERN: &str = r"[\.\-_A-Za-z0-9]+";
/// The model's pattern for `EventBusName`.
pub const BUS_NAME_PATTERN: &str = r"[/\.\-_A-Za-z0-9]+";
/// The model's pattern for `EventBusNameOrArn`.
pub const BUS_NAME_OR_ARN_PATTERN: &str =
    r"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+";
/// The model's pattern for `NonPartnerEventBusNameOrArn` (`PutEvents`).
pub const NON_PARTNER_BUS_NAME_OR_ARN_PATTERN: &str =
    r"(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[\.\-_A-Za-z0-9]+";
/// The model's pattern for `InputTransformerPathKey`.
pub const PATH_KEY_PATTERN: &str = r"[A-Za-z0-9\_\-]+";

/// `[\.\-_A-Za-z0-9]+`.
pub fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// `[/\.\-_A-Za-z0-9]+`.
pub fn is_bus_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
}

/// `EventBusNameOrArn` (`allow_slash`) or `NonPartnerEventBusNameOrArn`
/// (`!allow_slash`): an optional `arn:aws…:events:REGION:ACCOUNT:event-bus/`
/// prefix, then a bus name.
pub fn is_bus_name_or_arn(s: &str, allow_slash: bool) -> bool {
    let name_ok = |n: &str| {
        if allow_slash {
            is_bus_name(n)
        } else {
            is_simple_name(n)
        }
    };
    if name_ok(s) {
        return true;
    }
    split_bus_arn(s).is_some_and(|(_, _, name)| name_ok(name))
}

/// Splits `arn:aws[\w-]*:events:REGION:ACCOUNT:event-bus/NAME` into
/// (region, account, name), checking each part as the model's pattern does.
pub fn split_bus_arn(s: &str) -> Option<(&str, &str, &str)> {
    let rest = s.strip_prefix("arn:aws")?;
    let (partition_tail, rest) = rest.split_once(':')?;
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if !partition_tail.bytes().all(word) {
        return None;
    }
    let rest = rest.strip_prefix("events:")?;
    let (region, rest) = rest.split_once(':')?;
    // [a-z]+-[a-z]+-[\w-]+
    let mut parts = region.splitn(3, '-');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    if !lower(a) || !lower(b) || c.is_empty() || !c.bytes().all(word) {
        return None;
    }
    let (account, rest) = rest.split_once(':')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = rest.strip_prefix("event-bus/")?;
    Some((region, account, name))
}

/// The bus name in an `EventBusNameOrArn` value (the part after
/// `event-bus/` for an ARN, else the value itself).
pub fn bus_name_of(name_or_arn: &str) -> &str {
    split_bus_arn(name_or_arn).map_or(name_or_arn, |(_, _, name)| name)
}

// ---------------------------------------------------------------------------
// Shared structures

/// `Tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// 1..=128 characters.
    pub key: String,
    /// 0..=256 characters.
    pub value: String,
}

fn validate_tags(v: &mut Violations, tags: &Option<Vec<Tag>>) {
    for (i, tag) in tags.iter().flatten().enumerate() {
        let p = format!("tags.{}.member", i + 1);
        v.length(&format!("{p}.key"), &tag.key, 1, 128);
        v.length(&format!("{p}.value"), &tag.value, 0, 256);
    }
}

/// `DeadLetterConfig`: where undeliverable events go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    /// The ARN of the dead-letter queue (1..=1600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

impl DeadLetterConfig {
    fn check(&self, v: &mut Violations, path: &str) {
        v.opt_length(&format!("{path}.arn"), &self.arn, 1, 1600);
    }
}

/// `LogConfig` of an event bus.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    /// Whether logs include the event detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_detail: Option<IncludeDetail>,
    /// The log level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<LogLevel>,
}

// ---------------------------------------------------------------------------
// PutEvents

/// `PutEventsRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsRequest {
    /// 1..=10 entries.
    pub entries: Vec<PutEventsRequestEntry>,
    /// A global endpoint's id (accepted and ignored by Signalbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
}

/// `PutEventsRequestEntry`. Every member is optional in the model; the
/// per-entry checks of `putevents` fail an entry without `Source`,
/// `DetailType` or `Detail` on its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsRequestEntry {
    /// When the event happened; defaults to the time of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// The event source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// ARNs the event concerns (each at most 2048 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// Free-form event type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_type: Option<String>,
    /// A JSON object, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// An X-Ray trace header (1..=500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
}

impl Validate for PutEventsRequest {
    fn validate(&self, v: &mut Violations) {
        v.count(
            "entries",
            self.entries.len(),
            "PutEventsRequestEntry",
            1,
            10,
        );
        if let Some(id) = &self.endpoint_id {
            v.length("endpointId", id, 1, 50);
        }
        for (i, e) in self.entries.iter().enumerate() {
            let p = format!("entries.{}.member", i + 1);
            for (j, r) in e.resources.iter().flatten().enumerate() {
                v.length(&format!("{p}.resources.{}.member", j + 1), r, 0, 2048);
            }
            if let Some(bus) = &e.event_bus_name {
                let path = format!("{p}.eventBusName");
                v.length(&path, bus, 1, 1600);
                if !bus.is_empty() {
                    v.pattern(
                        &path,
                        bus,
                        NON_PARTNER_BUS_NAME_OR_ARN_PATTERN,
                        is_bus_name_or_arn(bus, false),
                    );
                }
            }
            v.opt_length(&format!("{p}.traceHeader"), &e.trace_header, 1, 500);
        }
    }
}

/// `PutEventsResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsResponse {
    /// How many entries failed.
    #[serde(default)]
    pub failed_entry_count: i32,
    /// One result per request entry, in request order.
    #[serde(default)]
    pub entries: Vec<PutEventsResultEntry>,
}

/// `PutEventsResultEntry`: an `EventId`, or an `ErrorCode` and
/// `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsResultEntry {
    /// The id of the stored event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Why the entry failed (`InvalidArgument`, `MalformedDetail`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// A message for the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

// ---------------------------------------------------------------------------
// Event buses

/// `CreateEventBusRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusRequest {
    /// The bus name.
    pub name: String,
    /// A partner event source (AWS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_name: Option<String>,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A KMS key (accepted and stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    /// The bus's dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// Logging settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

impl Validate for CreateEventBusRequest {
    fn validate(&self, v: &mut Violations) {
        v.event_bus_name("name", &self.name);
        v.opt_length("eventSourceName", &self.event_source_name, 1, 256);
        v.opt_length("description", &self.description, 0, 512);
        v.opt_length("kmsKeyIdentifier", &self.kms_key_identifier, 0, 2048);
        if let Some(d) = &self.dead_letter_config {
            d.check(v, "deadLetterConfig");
        }
        validate_tags(v, &self.tags);
    }
}

/// `CreateEventBusResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusResponse {
    /// The new bus's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_arn: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    /// The dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// Logging settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
}

/// `DeleteEventBusRequest` (no output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteEventBusRequest {
    /// The bus name.
    pub name: String,
}

impl Validate for DeleteEventBusRequest {
    fn validate(&self, v: &mut Violations) {
        v.event_bus_name("name", &self.name);
    }
}

/// `DescribeEventBusRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEventBusRequest {
    /// Bus name or ARN; defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Validate for DescribeEventBusRequest {
    fn validate(&self, v: &mut Violations) {
        v.opt_event_bus_name_or_arn("name", &self.name);
    }
}

/// `DescribeEventBusResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEventBusResponse {
    /// The bus name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The bus ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    /// The dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// The resource policy, as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Logging settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
    /// When the bus was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// When the bus last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<Timestamp>,
}

/// `ListEventBusesRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEventBusesRequest {
    /// Only buses whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListEventBusesRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(p) = &self.name_prefix {
            v.event_bus_name("namePrefix", p);
        }
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListEventBusesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEventBusesResponse {
    /// One page of buses.
    #[serde(default)]
    pub event_buses: Vec<EventBus>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `EventBus` in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventBus {
    /// The bus name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The bus ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The resource policy, as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// When the bus was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// When the bus last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<Timestamp>,
}

// ---------------------------------------------------------------------------
// Rules

/// `PutRuleRequest`: creates or updates a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleRequest {
    /// The rule name.
    pub name: String,
    /// `rate(…)` or `cron(…)` (at most 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// The event pattern, as a JSON string (at most 4096 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// Enabled or disabled; defaults to enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RuleState>,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A role ARN (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
}

impl Validate for PutRuleRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
        v.opt_length("scheduleExpression", &self.schedule_expression, 0, 256);
        v.opt_length("eventPattern", &self.event_pattern, 0, 4096);
        v.opt_length("description", &self.description, 0, 512);
        v.opt_length("roleArn", &self.role_arn, 1, 1600);
        validate_tags(v, &self.tags);
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
    }
}

/// `PutRuleResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleResponse {
    /// The rule's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
}

/// The `Name` + `EventBusName` input shared by `DescribeRule`, `EnableRule`
/// and `DisableRule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleRef {
    /// The rule name.
    pub name: String,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
}

impl Validate for RuleRef {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
    }
}

/// `DescribeRuleRequest`.
pub type DescribeRuleRequest = RuleRef;
/// `EnableRuleRequest` (no output).
pub type EnableRuleRequest = RuleRef;
/// `DisableRuleRequest` (no output).
pub type DisableRuleRequest = RuleRef;

/// `DescribeRuleResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRuleResponse {
    /// The rule name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rule ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The event pattern, as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// The schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Enabled or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RuleState>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The role ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The service managing the rule, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// The bus name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// The account that created the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// `DeleteRuleRequest` (no output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRuleRequest {
    /// The rule name.
    pub name: String,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// Delete a managed rule too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

impl Validate for DeleteRuleRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
    }
}

/// `ListRulesRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRulesRequest {
    /// Only rules whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListRulesRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(p) = &self.name_prefix {
            v.simple_name("namePrefix", p, 64);
        }
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListRulesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRulesResponse {
    /// One page of rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `Rule` in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// The rule name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rule ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The event pattern, as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// Enabled or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RuleState>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// The role ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The service managing the rule, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// The bus name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
}

/// `ListRuleNamesByTargetRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRuleNamesByTargetRequest {
    /// The target ARN.
    pub target_arn: String,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListRuleNamesByTargetRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("targetArn", &self.target_arn, 1, 1600);
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListRuleNamesByTargetResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRuleNamesByTargetResponse {
    /// One page of rule names.
    #[serde(default)]
    pub rule_names: Vec<String>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `TestEventPatternRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternRequest {
    /// The pattern, as a JSON string.
    pub event_pattern: String,
    /// The event (an EventBridge envelope), as a JSON string.
    pub event: String,
}

impl Validate for TestEventPatternRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("eventPattern", &self.event_pattern, 0, 4096);
    }
}

/// `TestEventPatternResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternResponse {
    /// Whether the event matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<bool>,
}

// ---------------------------------------------------------------------------
// Targets

/// `Target` of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// Unique within the rule (1..=64, `[\.\-_A-Za-z0-9]+`).
    pub id: String,
    /// Where events go.
    pub arn: String,
    /// A role ARN (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Constant JSON sent instead of the event (at most 8192 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// A JSONPath selecting the part of the event to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// Builds the body from parts of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformer>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_parameters: Option<serde_json::Value>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_command_parameters: Option<serde_json::Value>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_parameters: Option<serde_json::Value>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_parameters: Option<serde_json::Value>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<serde_json::Value>,
    /// Path, header and query parameters for HTTP targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_parameters: Option<HttpParameters>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redshift_data_parameters: Option<serde_json::Value>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sage_maker_pipeline_parameters: Option<serde_json::Value>,
    /// Where events go when delivery fails for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    /// How long and how often to retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// AWS-only target parameters, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_sync_parameters: Option<serde_json::Value>,
}

impl Target {
    /// A target with only `Id` and `Arn`.
    pub fn new(id: impl Into<String>, arn: impl Into<String>) -> Target {
        Target {
            id: id.into(),
            arn: arn.into(),
            role_arn: None,
            input: None,
            input_path: None,
            input_transformer: None,
            kinesis_parameters: None,
            run_command_parameters: None,
            ecs_parameters: None,
            batch_parameters: None,
            sqs_parameters: None,
            http_parameters: None,
            redshift_data_parameters: None,
            sage_maker_pipeline_parameters: None,
            dead_letter_config: None,
            retry_policy: None,
            app_sync_parameters: None,
        }
    }

    fn check(&self, v: &mut Violations, p: &str) {
        v.simple_name(&format!("{p}.id"), &self.id, 64);
        v.length(&format!("{p}.arn"), &self.arn, 1, 1600);
        v.opt_length(&format!("{p}.roleArn"), &self.role_arn, 1, 1600);
        v.opt_length(&format!("{p}.input"), &self.input, 0, 8192);
        v.opt_length(&format!("{p}.inputPath"), &self.input_path, 0, 256);
        if let Some(t) = &self.input_transformer {
            let tp = format!("{p}.inputTransformer");
            if let Some(map) = &t.input_paths_map {
                v.count(
                    &format!("{tp}.inputPathsMap"),
                    map.len(),
                    "TransformerPaths",
                    0,
                    100,
                );
                for (key, path) in map {
                    let kp = format!("{tp}.inputPathsMap.key");
                    v.length(&kp, key, 1, 256);
                    if !key.is_empty() {
                        let ok = key
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                        v.pattern(&kp, key, PATH_KEY_PATTERN, ok);
                    }
                    v.length(&format!("{tp}.inputPathsMap.value"), path, 0, 256);
                }
            }
            v.length(&format!("{tp}.inputTemplate"), &t.input_template, 1, 8192);
        }
        if let Some(r) = &self.retry_policy {
            v.range(
                &format!("{p}.retryPolicy.maximumRetryAttempts"),
                r.maximum_retry_attempts.map(i64::from),
                Some(0),
                Some(185),
            );
            v.range(
                &format!("{p}.retryPolicy.maximumEventAgeInSeconds"),
                r.maximum_event_age_in_seconds.map(i64::from),
                Some(60),
                Some(86_400),
            );
        }
        if let Some(d) = &self.dead_letter_config {
            d.check(v, &format!("{p}.deadLetterConfig"));
        }
        if let Some(h) = &self.http_parameters {
            let hp = format!("{p}.httpParameters");
            for (k, val) in h.header_parameters.iter().flatten() {
                v.length(&format!("{hp}.headerParameters.key"), k, 0, 512);
                v.length(&format!("{hp}.headerParameters.value"), val, 0, 512);
            }
            for (k, val) in h.query_string_parameters.iter().flatten() {
                v.length(&format!("{hp}.queryStringParameters.key"), k, 0, 512);
                v.length(&format!("{hp}.queryStringParameters.value"), val, 0, 512);
            }
        }
    }
}

/// `InputTransformer`: `InputPathsMap` names JSONPaths into the event,
/// `InputTemplate` uses them as `<name>` placeholders; a target's `input`
/// in Signalbox (see `crate::chain::template`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputTransformer {
    /// Placeholder name → JSONPath (at most 100 entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_paths_map: Option<BTreeMap<String, String>>,
    /// The template (1..=8192 characters).
    pub input_template: String,
}

/// `RetryPolicy` of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    /// 0..=185 retries (AWS default 185).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i32>,
    /// 60..=86400 seconds (AWS default 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<i32>,
}

/// `HttpParameters` of an HTTP (API Gateway or API destination) target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpParameters {
    /// Values for the `*` wildcards of the endpoint's path, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_parameter_values: Option<Vec<String>>,
    /// Headers to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_parameters: Option<BTreeMap<String, String>>,
    /// Query parameters to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
}

/// `PutTargetsRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutTargetsRequest {
    /// The rule name.
    pub rule: String,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// 1..=100 targets to add or replace (by `Id`).
    pub targets: Vec<Target>,
}

impl Validate for PutTargetsRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("rule", &self.rule, 64);
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
        v.count("targets", self.targets.len(), "Target", 1, 100);
        for (i, t) in self.targets.iter().enumerate() {
            t.check(v, &format!("targets.{}.member", i + 1));
        }
    }
}

/// `PutTargetsResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutTargetsResponse {
    /// How many targets failed.
    #[serde(default)]
    pub failed_entry_count: i32,
    /// The failures.
    #[serde(default)]
    pub failed_entries: Vec<TargetResultEntry>,
}

/// `PutTargetsResultEntry` / `RemoveTargetsResultEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetResultEntry {
    /// The target that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// A message for the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// `RemoveTargetsRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTargetsRequest {
    /// The rule name.
    pub rule: String,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// 1..=100 target ids.
    pub ids: Vec<String>,
    /// Remove from a managed rule too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

impl Validate for RemoveTargetsRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("rule", &self.rule, 64);
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
        v.count("ids", self.ids.len(), "String", 1, 100);
        for (i, id) in self.ids.iter().enumerate() {
            v.simple_name(&format!("ids.{}.member", i + 1), id, 64);
        }
    }
}

/// `RemoveTargetsResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTargetsResponse {
    /// How many removals failed.
    #[serde(default)]
    pub failed_entry_count: i32,
    /// The failures.
    #[serde(default)]
    pub failed_entries: Vec<TargetResultEntry>,
}

/// `ListTargetsByRuleRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTargetsByRuleRequest {
    /// The rule name.
    pub rule: String,
    /// The bus (name or ARN); defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListTargetsByRuleRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("rule", &self.rule, 64);
        v.opt_event_bus_name_or_arn("eventBusName", &self.event_bus_name);
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListTargetsByRuleResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTargetsByRuleResponse {
    /// One page of targets.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---------------------------------------------------------------------------
// Connections

/// `ConnectionHttpParameters`: extra headers, query and body parameters sent
/// with every call through a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionHttpParameters {
    /// At most 100 headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_parameters: Option<Vec<ConnectionParameter>>,
    /// At most 100 query parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<Vec<ConnectionParameter>>,
    /// At most 100 body parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_parameters: Option<Vec<ConnectionParameter>>,
}

impl ConnectionHttpParameters {
    fn check(&self, v: &mut Violations, p: &str) {
        for (name, list) in [
            ("headerParameters", &self.header_parameters),
            ("queryStringParameters", &self.query_string_parameters),
            ("bodyParameters", &self.body_parameters),
        ] {
            if let Some(list) = list {
                v.count(&format!("{p}.{name}"), list.len(), "Parameter", 0, 100);
            }
        }
    }
}

/// `ConnectionHeaderParameter`, `ConnectionQueryStringParameter` and
/// `ConnectionBodyParameter` (same members).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionParameter {
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value (sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Sensitive>,
    /// Whether the value is kept secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_value_secret: Option<bool>,
}

/// `ConnectivityResourceParameters` (private APIs through VPC Lattice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectivityResourceParameters {
    /// The resource configuration.
    pub resource_parameters: ConnectivityResourceConfigurationArn,
}

/// `ConnectivityResourceConfigurationArn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectivityResourceConfigurationArn {
    /// A VPC Lattice resource configuration ARN.
    pub resource_configuration_arn: String,
}

/// `CreateConnectionBasicAuthRequestParameters` /
/// `UpdateConnectionBasicAuthRequestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BasicAuthParameters {
    /// The user name (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Sensitive>,
}

/// `CreateConnectionOAuthClientRequestParameters` /
/// `UpdateConnectionOAuthClientRequestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OAuthClientParameters {
    /// The client id (`ClientID` on the wire).
    #[serde(rename = "ClientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Sensitive>,
}

/// `CreateConnectionOAuthRequestParameters` /
/// `UpdateConnectionOAuthRequestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OAuthParameters {
    /// Client id and secret (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_parameters: Option<OAuthClientParameters>,
    /// The token endpoint (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// How to call it (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<ConnectionOAuthHttpMethod>,
    /// Extra parameters for the token call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o_auth_http_parameters: Option<ConnectionHttpParameters>,
}

/// `CreateConnectionApiKeyAuthRequestParameters` /
/// `UpdateConnectionApiKeyAuthRequestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiKeyAuthParameters {
    /// The header name (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_name: Option<String>,
    /// The key (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_value: Option<Sensitive>,
}

/// `CreateConnectionAuthRequestParameters` /
/// `UpdateConnectionAuthRequestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionAuthParameters {
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_parameters: Option<BasicAuthParameters>,
    /// OAuth client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o_auth_parameters: Option<OAuthParameters>,
    /// An API key header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_auth_parameters: Option<ApiKeyAuthParameters>,
    /// Extra parameters for every invocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_http_parameters: Option<ConnectionHttpParameters>,
    /// Private API connectivity for OAuth endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_parameters: Option<ConnectivityResourceParameters>,
}

impl ConnectionAuthParameters {
    /// Checks lengths, and on create (`create`) the members the model
    /// requires inside each auth kind.
    fn check(&self, v: &mut Violations, create: bool) {
        let p = "authParameters";
        if let Some(b) = &self.basic_auth_parameters {
            let bp = format!("{p}.basicAuthParameters");
            check_auth_value(v, &format!("{bp}.username"), b.username.as_deref(), create);
            check_auth_value(
                v,
                &format!("{bp}.password"),
                b.password.as_ref().map(|s| s.0.as_str()),
                create,
            );
        }
        if let Some(o) = &self.o_auth_parameters {
            let op = format!("{p}.oAuthParameters");
            match &o.client_parameters {
                Some(c) => {
                    let cp = format!("{op}.clientParameters");
                    check_auth_value(v, &format!("{cp}.clientID"), c.client_id.as_deref(), create);
                    check_auth_value(
                        v,
                        &format!("{cp}.clientSecret"),
                        c.client_secret.as_ref().map(|s| s.0.as_str()),
                        create,
                    );
                }
                None if create => v.push_null(&format!("{op}.clientParameters")),
                None => {}
            }
            match &o.authorization_endpoint {
                Some(e) => v.length(&format!("{op}.authorizationEndpoint"), e, 1, 2048),
                None if create => v.push_null(&format!("{op}.authorizationEndpoint")),
                None => {}
            }
            if o.http_method.is_none() && create {
                v.push_null(&format!("{op}.httpMethod"));
            }
            if let Some(h) = &o.o_auth_http_parameters {
                h.check(v, &format!("{op}.oAuthHttpParameters"));
            }
        }
        if let Some(k) = &self.api_key_auth_parameters {
            let kp = format!("{p}.apiKeyAuthParameters");
            check_auth_value(
                v,
                &format!("{kp}.apiKeyName"),
                k.api_key_name.as_deref(),
                create,
            );
            check_auth_value(
                v,
                &format!("{kp}.apiKeyValue"),
                k.api_key_value.as_ref().map(|s| s.0.as_str()),
                create,
            );
        }
        if let Some(h) = &self.invocation_http_parameters {
            h.check(v, &format!("{p}.invocationHttpParameters"));
        }
    }
}

/// `AuthHeaderParameters` (1..=512); required on create.
fn check_auth_value(v: &mut Violations, path: &str, value: Option<&str>, required: bool) {
    match value {
        Some(s) => v.length(path, s, 1, 512),
        None if required => v.push_null(path),
        None => {}
    }
}

/// `CreateConnectionRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateConnectionRequest {
    /// The connection name.
    pub name: String,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which auth kind.
    pub authorization_type: ConnectionAuthorizationType,
    /// The auth kind's parameters.
    pub auth_parameters: ConnectionAuthParameters,
    /// Private API connectivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_connectivity_parameters: Option<ConnectivityResourceParameters>,
    /// A KMS key (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
}

impl Validate for CreateConnectionRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
        v.opt_length("description", &self.description, 0, 512);
        v.opt_length("kmsKeyIdentifier", &self.kms_key_identifier, 0, 2048);
        self.auth_parameters.check(v, true);
    }
}

/// The output shared by `CreateConnection`, `UpdateConnection` and
/// `DeleteConnection`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionStatus {
    /// The connection ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<Timestamp>,
    /// When it was last authorized (not in `CreateConnectionResponse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_authorized_time: Option<Timestamp>,
}

/// `CreateConnectionResponse`.
pub type CreateConnectionResponse = ConnectionStatus;
/// `UpdateConnectionResponse`.
pub type UpdateConnectionResponse = ConnectionStatus;
/// `DeleteConnectionResponse`.
pub type DeleteConnectionResponse = ConnectionStatus;

/// The `Name`-only input of `DescribeConnection`, `DeleteConnection`,
/// `DescribeApiDestination` and `DeleteApiDestination`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameRef {
    /// The resource name (1..=64, `[\.\-_A-Za-z0-9]+`).
    pub name: String,
}

impl Validate for NameRef {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
    }
}

/// `DescribeConnectionRequest`.
pub type DescribeConnectionRequest = NameRef;
/// `DeleteConnectionRequest`.
pub type DeleteConnectionRequest = NameRef;

/// `DescribeConnectionResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeConnectionResponse {
    /// The connection ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Private API connectivity (`DescribeConnectionConnectivityParameters`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_connectivity_parameters: Option<serde_json::Value>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// The auth kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_type: Option<ConnectionAuthorizationType>,
    /// Where the secret is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// The KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    /// The auth parameters without secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_parameters: Option<ConnectionAuthResponseParameters>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<Timestamp>,
    /// When it was last authorized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_authorized_time: Option<Timestamp>,
}

/// `ConnectionAuthResponseParameters`: what `DescribeConnection` shows of
/// the auth settings (never the secrets).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionAuthResponseParameters {
    /// `{"Username"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_parameters: Option<BasicAuthResponseParameters>,
    /// OAuth settings without the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o_auth_parameters: Option<OAuthResponseParameters>,
    /// `{"ApiKeyName"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_auth_parameters: Option<ApiKeyAuthResponseParameters>,
    /// Extra invocation parameters (secret values are left out by the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_http_parameters: Option<ConnectionHttpParameters>,
    /// Private API connectivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_parameters: Option<serde_json::Value>,
}

/// `ConnectionBasicAuthResponseParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BasicAuthResponseParameters {
    /// The user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// `ConnectionOAuthResponseParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OAuthResponseParameters {
    /// `{"ClientID"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_parameters: Option<OAuthClientResponseParameters>,
    /// The token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// How it is called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<ConnectionOAuthHttpMethod>,
    /// Extra parameters for the token call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o_auth_http_parameters: Option<ConnectionHttpParameters>,
}

/// `ConnectionOAuthClientResponseParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OAuthClientResponseParameters {
    /// The client id (`ClientID` on the wire).
    #[serde(rename = "ClientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `ConnectionApiKeyAuthResponseParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiKeyAuthResponseParameters {
    /// The header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_name: Option<String>,
}

/// `UpdateConnectionRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConnectionRequest {
    /// The connection name.
    pub name: String,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new auth kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_type: Option<ConnectionAuthorizationType>,
    /// Changed auth parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_parameters: Option<ConnectionAuthParameters>,
    /// Private API connectivity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_connectivity_parameters: Option<ConnectivityResourceParameters>,
    /// A KMS key (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
}

impl Validate for UpdateConnectionRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
        v.opt_length("description", &self.description, 0, 512);
        v.opt_length("kmsKeyIdentifier", &self.kms_key_identifier, 0, 2048);
        if let Some(a) = &self.auth_parameters {
            a.check(v, false);
        }
    }
}

/// `ListConnectionsRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListConnectionsRequest {
    /// Only connections whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Only connections in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListConnectionsRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(p) = &self.name_prefix {
            v.simple_name("namePrefix", p, 64);
        }
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListConnectionsResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListConnectionsResponse {
    /// One page of connections.
    #[serde(default)]
    pub connections: Vec<Connection>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `Connection` in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Connection {
    /// The connection ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<ConnectionState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// The auth kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_type: Option<ConnectionAuthorizationType>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<Timestamp>,
    /// When it was last authorized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_authorized_time: Option<Timestamp>,
}

// ---------------------------------------------------------------------------
// API destinations

/// `CreateApiDestinationRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateApiDestinationRequest {
    /// The destination name.
    pub name: String,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The connection to authenticate with.
    pub connection_arn: String,
    /// The URL to call (1..=2048).
    pub invocation_endpoint: String,
    /// The method to call it with.
    pub http_method: ApiDestinationHttpMethod,
    /// At least 1 call per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_rate_limit_per_second: Option<i32>,
}

impl Validate for CreateApiDestinationRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
        v.opt_length("description", &self.description, 0, 512);
        v.length("connectionArn", &self.connection_arn, 1, 1600);
        v.length("invocationEndpoint", &self.invocation_endpoint, 1, 2048);
        v.range(
            "invocationRateLimitPerSecond",
            self.invocation_rate_limit_per_second.map(i64::from),
            Some(1),
            None,
        );
    }
}

/// The output shared by `CreateApiDestination` and `UpdateApiDestination`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestinationStatus {
    /// The destination ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_destination_arn: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_destination_state: Option<ApiDestinationState>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<Timestamp>,
}

/// `CreateApiDestinationResponse`.
pub type CreateApiDestinationResponse = ApiDestinationStatus;
/// `UpdateApiDestinationResponse`.
pub type UpdateApiDestinationResponse = ApiDestinationStatus;
/// `DescribeApiDestinationRequest`.
pub type DescribeApiDestinationRequest = NameRef;
/// `DeleteApiDestinationRequest`.
pub type DeleteApiDestinationRequest = NameRef;

/// `DeleteApiDestinationResponse`, `DeleteArchiveResponse`: no members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// `DeleteApiDestinationResponse`.
pub type DeleteApiDestinationResponse = Empty;

/// `DescribeApiDestinationResponse`, and `ApiDestination` in a listing
/// (which lacks `Description`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestination {
    /// The destination ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_destination_arn: Option<String>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The description (describe only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_destination_state: Option<ApiDestinationState>,
    /// The connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    /// The URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_endpoint: Option<String>,
    /// The method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<ApiDestinationHttpMethod>,
    /// Calls per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_rate_limit_per_second: Option<i32>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<Timestamp>,
}

/// `DescribeApiDestinationResponse`.
pub type DescribeApiDestinationResponse = ApiDestination;

/// `UpdateApiDestinationRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateApiDestinationRequest {
    /// The destination name.
    pub name: String,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    /// A new URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_endpoint: Option<String>,
    /// A new method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<ApiDestinationHttpMethod>,
    /// A new rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_rate_limit_per_second: Option<i32>,
}

impl Validate for UpdateApiDestinationRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("name", &self.name, 64);
        v.opt_length("description", &self.description, 0, 512);
        v.opt_length("connectionArn", &self.connection_arn, 1, 1600);
        v.opt_length("invocationEndpoint", &self.invocation_endpoint, 1, 2048);
        v.range(
            "invocationRateLimitPerSecond",
            self.invocation_rate_limit_per_second.map(i64::from),
            Some(1),
            None,
        );
    }
}

/// `ListApiDestinationsRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListApiDestinationsRequest {
    /// Only destinations whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Only destinations using this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListApiDestinationsRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(p) = &self.name_prefix {
            v.simple_name("namePrefix", p, 64);
        }
        v.opt_length("connectionArn", &self.connection_arn, 1, 1600);
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListApiDestinationsResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListApiDestinationsResponse {
    /// One page of destinations.
    #[serde(default)]
    pub api_destinations: Vec<ApiDestination>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---------------------------------------------------------------------------
// Archives

/// `CreateArchiveRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateArchiveRequest {
    /// The archive name (1..=48).
    pub archive_name: String,
    /// The ARN of the bus to archive.
    pub event_source_arn: String,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Only archive events matching this pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// Days to keep events; 0 or absent keeps them forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i32>,
    /// A KMS key (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
}

impl Validate for CreateArchiveRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("archiveName", &self.archive_name, 48);
        v.length("eventSourceArn", &self.event_source_arn, 1, 1600);
        v.opt_length("description", &self.description, 0, 512);
        v.opt_length("eventPattern", &self.event_pattern, 0, 4096);
        v.range(
            "retentionDays",
            self.retention_days.map(i64::from),
            Some(0),
            None,
        );
        v.opt_length("kmsKeyIdentifier", &self.kms_key_identifier, 0, 2048);
    }
}

/// `CreateArchiveResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateArchiveResponse {
    /// The archive ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_arn: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ArchiveState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
}

/// The `ArchiveName`-only input of `DescribeArchive` and `DeleteArchive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveRef {
    /// The archive name.
    pub archive_name: String,
}

impl Validate for ArchiveRef {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("archiveName", &self.archive_name, 48);
    }
}

/// `DescribeArchiveRequest`.
pub type DescribeArchiveRequest = ArchiveRef;
/// `DeleteArchiveRequest`.
pub type DeleteArchiveRequest = ArchiveRef;
/// `DeleteArchiveResponse`.
pub type DeleteArchiveResponse = Empty;

/// `DescribeArchiveResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeArchiveResponse {
    /// The archive ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_arn: Option<String>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_name: Option<String>,
    /// The archived bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The filter pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ArchiveState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// The KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    /// Days events are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i32>,
    /// Bytes archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Events archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_count: Option<i64>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
}

/// `ListArchivesRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListArchivesRequest {
    /// Only archives whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Only archives of this bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    /// Only archives in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ArchiveState>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListArchivesRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(p) = &self.name_prefix {
            v.simple_name("namePrefix", p, 48);
        }
        v.opt_length("eventSourceArn", &self.event_source_arn, 1, 1600);
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListArchivesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListArchivesResponse {
    /// One page of archives.
    #[serde(default)]
    pub archives: Vec<Archive>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `Archive` in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Archive {
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_name: Option<String>,
    /// The archived bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ArchiveState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Days events are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i32>,
    /// Bytes archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Events archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_count: Option<i64>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
}

// ---------------------------------------------------------------------------
// Replays

/// `ReplayDestination`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayDestination {
    /// The bus to replay onto (must be the archive's bus).
    pub arn: String,
    /// Only these rules' ARNs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_arns: Option<Vec<String>>,
}

/// `StartReplayRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartReplayRequest {
    /// The replay name.
    pub replay_name: String,
    /// At most 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The archive's ARN.
    pub event_source_arn: String,
    /// Replay events from this time…
    pub event_start_time: Timestamp,
    /// …up to this time.
    pub event_end_time: Timestamp,
    /// Where to replay.
    pub destination: ReplayDestination,
}

impl Validate for StartReplayRequest {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("replayName", &self.replay_name, 64);
        v.opt_length("description", &self.description, 0, 512);
        v.length("eventSourceArn", &self.event_source_arn, 1, 1600);
        v.length("destination.arn", &self.destination.arn, 1, 1600);
        for (i, a) in self.destination.filter_arns.iter().flatten().enumerate() {
            v.length(
                &format!("destination.filterArns.{}.member", i + 1),
                a,
                1,
                1600,
            );
        }
    }
}

/// `StartReplayResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartReplayResponse {
    /// The replay ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_arn: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ReplayState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_start_time: Option<Timestamp>,
}

/// The `ReplayName`-only input of `DescribeReplay` and `CancelReplay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayRef {
    /// The replay name.
    pub replay_name: String,
}

impl Validate for ReplayRef {
    fn validate(&self, v: &mut Violations) {
        v.simple_name("replayName", &self.replay_name, 64);
    }
}

/// `DescribeReplayRequest`.
pub type DescribeReplayRequest = ReplayRef;
/// `CancelReplayRequest`.
pub type CancelReplayRequest = ReplayRef;

/// `DescribeReplayResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeReplayResponse {
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_name: Option<String>,
    /// The replay ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_arn: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ReplayState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// The archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    /// Where events go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<ReplayDestination>,
    /// Start of the replayed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_start_time: Option<Timestamp>,
    /// End of the replayed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_end_time: Option<Timestamp>,
    /// Time of the last event replayed so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_last_replayed_time: Option<Timestamp>,
    /// When the replay started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_start_time: Option<Timestamp>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_end_time: Option<Timestamp>,
}

/// `ListReplaysRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListReplaysRequest {
    /// Only replays whose name starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Only replays in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ReplayState>,
    /// Only replays of this archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    /// Where the previous page ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Page size, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
}

impl Validate for ListReplaysRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(p) = &self.name_prefix {
            v.simple_name("namePrefix", p, 64);
        }
        v.opt_length("eventSourceArn", &self.event_source_arn, 1, 1600);
        v.next_token(&self.next_token);
        v.limit(self.limit);
    }
}

/// `ListReplaysResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListReplaysResponse {
    /// One page of replays.
    #[serde(default)]
    pub replays: Vec<Replay>,
    /// Set when there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `Replay` in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Replay {
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_name: Option<String>,
    /// The archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ReplayState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Start of the replayed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_start_time: Option<Timestamp>,
    /// End of the replayed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_end_time: Option<Timestamp>,
    /// Time of the last event replayed so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_last_replayed_time: Option<Timestamp>,
    /// When the replay started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_start_time: Option<Timestamp>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_end_time: Option<Timestamp>,
}

/// `CancelReplayResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelReplayResponse {
    /// The replay ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_arn: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ReplayState>,
    /// Why it is in that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
}

#[cfg(test)]
mod tests;
