//! What a pattern and a CESQL expression see of a CloudEvent.
//!
//! An event pattern is matched against a JSON document. For a CloudEvent,
//! Signalbox builds this document (the *envelope*):
//!
//! ```json
//! {
//!   "specversion": "1.0",
//!   "id": "order-1001",
//!   "source": "/shop/eu",
//!   "type": "com.example.order.created",
//!   "subject": "1001",
//!   "time": "2024-05-01T12:00:00Z",
//!   "datacontenttype": "application/json",
//!   "partitionkey": "customer-7",
//!   "data": { "total": 120.5, "items": [ … ] }
//! }
//! ```
//!
//! * Context attributes and extensions are top-level members; extension
//!   values keep their type (string, boolean, integer).
//! * `data` is present only when the payload is JSON: its content type is
//!   JSON (`application/json`, `*+json`) or absent, and the bytes parse as
//!   JSON. Text and binary payloads are not matchable by content; patterns
//!   can still test their attributes.
//!
//! So the EventBridge pattern `{"source": ["/shop/eu"], "data": {"total":
//! [{"numeric": [">", 100]}]}}` selects the event above.
//!
//! CESQL expressions see the context attributes and extensions, never
//! `data`, as the CESQL specification defines.
//!
//! # The EventBridge mapping
//!
//! Events put through the AWS API (`PutEvents`, see `crate::aws`) are
//! CloudEvents like any other: `detail-type` is `type`, `detail` is `data`
//! (`application/json`), `id`, `source` and `time` are themselves, and the
//! rest travels in extensions — [`AWS_ACCOUNT`], [`AWS_REGION`],
//! [`AWS_RESOURCES`] (a JSON array as a string), [`AWS_SOURCE`] (the
//! original `Source` when it is not a URI-reference) and
//! [`AWS_TRACE_HEADER`]. An event that carries `awsaccount` and `awsregion`
//! is an *AWS event* ([`is_aws_event`]); its envelope also has EventBridge's
//! own members, so AWS patterns match it exactly as EventBridge would:
//!
//! ```json
//! {"specversion": "1.0", "id": "…", "source": "com.example.orders",
//!  "type": "Order Placed", "time": "2026-03-01T12:00:00Z", …,
//!  "version": "0", "detail-type": "Order Placed", "account": "123456789012",
//!  "region": "us-east-1", "resources": ["arn:…"], "detail": {…}, "data": {…}}
//! ```
//!
//! (`source` is then EventBridge's `Source`; an extension named like one of
//! the added members gives way to it.) [`aws_envelope_text`] writes the
//! EventBridge envelope itself — what targets of rules with `"envelope":
//! "aws"` receive — for any CloudEvent; events that are not AWS events get
//! account [`AWS_DEFAULT_ACCOUNT`] and region [`AWS_DEFAULT_REGION`].

use std::borrow::Cow;

use base64::Engine as _;

use super::cesql::{EventAttributes, ValueRef};
use crate::event::json::push_json_str;
use crate::event::time::{format_rfc3339_micros, now_micros, parse_rfc3339};
use crate::event::{
    CloudEvent, Data, ExtensionValue, REPLAY_EXTENSION, SPEC_VERSION, is_json_media_type,
};

/// Extension holding EventBridge's `account` of an AWS event.
pub const AWS_ACCOUNT: &str = "awsaccount";
/// Extension holding EventBridge's `region` of an AWS event.
pub const AWS_REGION: &str = "awsregion";
/// Extension holding EventBridge's `resources`, as the JSON text of the
/// array (CloudEvents extension values are scalars; JSON round-trips every
/// ARN exactly, commas included).
pub const AWS_RESOURCES: &str = "awsresources";
/// Extension holding EventBridge's `source` when it is not a valid
/// CloudEvents `source` (a URI-reference) and had to be percent-encoded.
pub const AWS_SOURCE: &str = "awssource";
/// Extension holding a `PutEvents` entry's X-Ray `TraceHeader`.
pub const AWS_TRACE_HEADER: &str = "awstraceheader";
/// The EventBridge envelope's `version`.
pub const AWS_ENVELOPE_VERSION: &str = "0";
/// The account of CloudEvents that carry none (the emulators' default).
pub const AWS_DEFAULT_ACCOUNT: &str = "000000000000";
/// The region of CloudEvents that carry none.
pub const AWS_DEFAULT_REGION: &str = "us-east-1";

/// The members an AWS event's envelope gains; extensions with these names
/// give way to them.
const AWS_MEMBERS: [&str; 5] = ["version", "account", "region", "resources", "detail"];

/// Writes the envelope of `event` into `out` (cleared first).
pub fn envelope_json(event: &CloudEvent, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(envelope_text(event, json_data(event)).as_bytes());
}

/// The envelope of `event` as JSON text, with `data` (the event's JSON data,
/// from [`json_data`]) as its `data` member. The one writer of the envelope:
/// patterns match it and input transformers select from it.
pub fn envelope_text(event: &CloudEvent, data: Option<&str>) -> String {
    let aws = is_aws_event(event).then(|| AwsFields::of(event, data));
    let detail_len = aws.as_ref().map_or(0, |a| a.detail.len());
    let mut s = String::with_capacity(256 + data.map_or(0, str::len) + detail_len);
    s.push_str("{\"specversion\":\"");
    s.push_str(SPEC_VERSION);
    s.push_str("\",\"id\":");
    push_json_str(&mut s, &event.id);
    s.push_str(",\"source\":");
    push_json_str(&mut s, aws.as_ref().map_or(&event.source, |a| a.source));
    s.push_str(",\"type\":");
    push_json_str(&mut s, &event.ty);
    for (name, value) in [
        ("subject", &event.subject),
        ("time", &event.time),
        ("datacontenttype", &event.datacontenttype),
        ("dataschema", &event.dataschema),
    ] {
        if let Some(v) = value {
            s.push_str(",\"");
            s.push_str(name);
            s.push_str("\":");
            push_json_str(&mut s, v);
        }
    }
    for (name, value) in &event.extensions {
        if aws.is_some() && AWS_MEMBERS.contains(&name.as_str()) {
            continue;
        }
        s.push(',');
        push_json_str(&mut s, name);
        s.push(':');
        match value {
            ExtensionValue::String(v) => push_json_str(&mut s, v),
            ExtensionValue::Boolean(b) => s.push_str(if *b { "true" } else { "false" }),
            ExtensionValue::Integer(i) => s.push_str(&i.to_string()),
        }
    }
    if let Some(a) = &aws {
        s.push_str(",\"version\":\"");
        s.push_str(AWS_ENVELOPE_VERSION);
        s.push_str("\",\"detail-type\":");
        push_json_str(&mut s, &event.ty);
        s.push_str(",\"account\":");
        push_json_str(&mut s, a.account);
        s.push_str(",\"region\":");
        push_json_str(&mut s, a.region);
        s.push_str(",\"resources\":");
        s.push_str(&a.resources);
        s.push_str(",\"detail\":");
        s.push_str(&a.detail);
    }
    if let Some(json) = data {
        s.push_str(",\"data\":");
        s.push_str(json);
    }
    s.push('}');
    s
}

/// A string extension's value.
fn ext_str<'e>(event: &'e CloudEvent, name: &str) -> Option<&'e str> {
    match event.extension(name) {
        Some(ExtensionValue::String(s)) => Some(s),
        _ => None,
    }
}

/// Whether `event` carries the EventBridge mapping: it was put through the
/// AWS API (or published with the `awsaccount` and `awsregion` extensions).
pub fn is_aws_event(event: &CloudEvent) -> bool {
    ext_str(event, AWS_ACCOUNT).is_some() && ext_str(event, AWS_REGION).is_some()
}

/// The EventBridge fields of a CloudEvent, for its envelope and for input
/// transformers (the fields that are the CloudEvent's own — `id`,
/// `detail-type` — are read from it directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFields<'e> {
    /// `source`: [`AWS_SOURCE`] if set, else the CloudEvent's `source`.
    pub source: &'e str,
    /// `account`: [`AWS_ACCOUNT`], else [`AWS_DEFAULT_ACCOUNT`].
    pub account: &'e str,
    /// `region`: [`AWS_REGION`], else [`AWS_DEFAULT_REGION`].
    pub region: &'e str,
    /// `time` in EventBridge's form (UTC, whole seconds:
    /// `2015-11-11T21:29:54Z`); the current time for events without one.
    pub time: String,
    /// `resources`, as the JSON text of an array of strings.
    pub resources: String,
    /// `detail`, as JSON text: JSON data as it is, text data as a JSON
    /// string, binary data as a base64 JSON string, no data as `{}`.
    pub detail: Cow<'e, str>,
    /// `replay-name`, for events a replay sends again.
    pub replay_name: Option<&'e str>,
}

impl<'e> AwsFields<'e> {
    /// The fields of `event`, whose JSON data ([`json_data`]) is `data`.
    pub fn of(event: &'e CloudEvent, data: Option<&'e str>) -> AwsFields<'e> {
        let time = event
            .time
            .as_deref()
            .and_then(|t| parse_rfc3339(t).ok())
            .unwrap_or_else(now_micros);
        let resources = match ext_str(event, AWS_RESOURCES) {
            // A value that is not a JSON array of strings (set by hand) is
            // one resource rather than lost.
            Some(r) => match serde_json::from_str::<Vec<String>>(r) {
                Ok(list) => serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned()),
                Err(_) => serde_json::to_string(&[r]).unwrap_or_else(|_| "[]".to_owned()),
            },
            None => "[]".to_owned(),
        };
        let detail = match (data, &event.data) {
            (Some(json), _) => Cow::Borrowed(json.trim()),
            (None, Some(Data::Text(t))) => Cow::Owned(json_string(t)),
            (None, Some(Data::Binary(b))) => Cow::Owned(json_string(
                &base64::engine::general_purpose::STANDARD.encode(b),
            )),
            // JSON data under a non-JSON content type: its text.
            (None, Some(Data::Json(t))) => Cow::Owned(json_string(t)),
            (None, None) => Cow::Borrowed("{}"),
        };
        AwsFields {
            source: ext_str(event, AWS_SOURCE).unwrap_or(&event.source),
            account: ext_str(event, AWS_ACCOUNT).unwrap_or(AWS_DEFAULT_ACCOUNT),
            region: ext_str(event, AWS_REGION).unwrap_or(AWS_DEFAULT_REGION),
            time: format_rfc3339_secs(time),
            resources,
            detail,
            replay_name: ext_str(event, REPLAY_EXTENSION),
        }
    }

    /// The EventBridge envelope of `event` (whose fields these are), with
    /// the members in EventBridge's order.
    pub fn envelope(&self, event: &CloudEvent) -> String {
        let mut s = String::with_capacity(200 + self.detail.len() + self.resources.len());
        s.push_str("{\"version\":\"");
        s.push_str(AWS_ENVELOPE_VERSION);
        s.push_str("\",\"id\":");
        push_json_str(&mut s, &event.id);
        s.push_str(",\"detail-type\":");
        push_json_str(&mut s, &event.ty);
        s.push_str(",\"source\":");
        push_json_str(&mut s, self.source);
        s.push_str(",\"account\":");
        push_json_str(&mut s, self.account);
        s.push_str(",\"time\":");
        push_json_str(&mut s, &self.time);
        s.push_str(",\"region\":");
        push_json_str(&mut s, self.region);
        s.push_str(",\"resources\":");
        s.push_str(&self.resources);
        s.push_str(",\"detail\":");
        s.push_str(&self.detail);
        if let Some(r) = self.replay_name {
            s.push_str(",\"replay-name\":");
            push_json_str(&mut s, r);
        }
        s.push('}');
        s
    }
}

/// The EventBridge envelope of any CloudEvent: what targets of rules with
/// `"envelope": "aws"` receive. See the [module docs](self).
pub fn aws_envelope_text(event: &CloudEvent) -> String {
    AwsFields::of(event, json_data(event)).envelope(event)
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

/// RFC 3339 in UTC with whole seconds, EventBridge's `time` format.
pub fn format_rfc3339_secs(micros: i64) -> String {
    let full = format_rfc3339_micros(micros.div_euclid(1_000_000) * 1_000_000);
    // `…:SS.000000Z` → `…:SSZ`.
    format!("{}Z", &full[..full.len() - 8])
}

/// The event's data as JSON text, if it is JSON: its content type is JSON
/// (or absent) and the bytes are JSON.
pub fn json_data(event: &CloudEvent) -> Option<&str> {
    let declared_json = event
        .datacontenttype
        .as_deref()
        .is_none_or(is_json_media_type);
    match &event.data {
        Some(Data::Json(text)) => Some(text),
        Some(Data::Binary(bytes)) if declared_json => {
            let text = std::str::from_utf8(bytes).ok()?;
            serde_json::from_str::<serde::de::IgnoredAny>(text)
                .ok()
                .map(|_| text)
        }
        _ => None,
    }
}

impl EventAttributes for CloudEvent {
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>> {
        fn s(v: &str) -> Option<ValueRef<'_>> {
            Some(ValueRef::String(Cow::Borrowed(v)))
        }
        match name {
            "specversion" => s(SPEC_VERSION),
            "id" => s(&self.id),
            "source" => s(&self.source),
            "type" => s(&self.ty),
            "subject" => self.subject.as_deref().and_then(s),
            "time" => self.time.as_deref().and_then(s),
            "datacontenttype" => self.datacontenttype.as_deref().and_then(s),
            "dataschema" => self.dataschema.as_deref().and_then(s),
            _ => self.extension(name).map(|v| match v {
                ExtensionValue::String(v) => ValueRef::String(Cow::Borrowed(v)),
                ExtensionValue::Boolean(b) => ValueRef::Boolean(*b),
                ExtensionValue::Integer(i) => ValueRef::Integer(*i),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json::parse_structured;
    use crate::pattern::cesql::Expression;
    use crate::pattern::{Matcher, Pattern};

    fn event(json: &str) -> CloudEvent {
        parse_structured(json.as_bytes()).unwrap().unwrap()
    }

    fn matches(pattern: &str, e: &CloudEvent) -> bool {
        let mut m = Matcher::new();
        m.add(1, &Pattern::parse(pattern).unwrap());
        let mut env = Vec::new();
        envelope_json(e, &mut env);
        let mut out = Vec::new();
        m.matches_json(&env, &mut out).unwrap();
        !out.is_empty()
    }

    #[test]
    fn envelope_exposes_attributes_extensions_and_json_data() {
        let e = event(
            r#"{"specversion":"1.0","id":"1","source":"/shop","type":"order.created","subject":"s",
                "partitionkey":"k","priority":5,"urgent":true,"data":{"total":120.5,"tags":["a","b"]}}"#,
        );
        assert!(matches(
            r#"{"type":["order.created"],"source":[{"prefix":"/sh"}]}"#,
            &e
        ));
        assert!(matches(r#"{"data":{"total":[{"numeric":[">",100]}]}}"#, &e));
        assert!(matches(r#"{"data":{"tags":["b"]}}"#, &e));
        assert!(matches(
            r#"{"priority":[5],"urgent":[true],"partitionkey":["k"]}"#,
            &e
        ));
        assert!(matches(r#"{"specversion":["1.0"],"subject":["s"]}"#, &e));
        assert!(!matches(
            r#"{"data":{"total":[{"numeric":["<",100]}]}}"#,
            &e
        ));
        let mut env = Vec::new();
        envelope_json(&e, &mut env);
        let v: serde_json::Value = serde_json::from_slice(&env).unwrap();
        assert_eq!(v["data"]["total"], 120.5);
    }

    #[test]
    fn non_json_data_is_not_matchable_by_content() {
        let text = event(
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hello"}"#,
        );
        assert!(!matches(r#"{"data":[{"exists":true}]}"#, &text));
        assert!(matches(
            r#"{"data":[{"exists":false}],"type":["t"]}"#,
            &text
        ));
        // JSON sent as data_base64 with a JSON content type is matchable.
        let b64 = event(
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data_base64":"eyJhIjoxfQ=="}"#,
        );
        assert!(matches(r#"{"data":{"a":[1]}}"#, &b64));
        let png = event(
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"image/png","data_base64":"eyJhIjoxfQ=="}"#,
        );
        assert!(!matches(r#"{"data":{"a":[1]}}"#, &png));
    }

    #[test]
    fn cesql_sees_attributes_with_their_types() {
        let e = event(
            r#"{"specversion":"1.0","id":"1","source":"/shop","type":"order.created","priority":5,"urgent":true,"region":"eu","data":{"x":1}}"#,
        );
        for (expr, want) in [
            ("type LIKE 'order.%' AND priority > 3", true),
            ("urgent AND region = 'eu'", true),
            ("EXISTS subject", false),
            ("EXISTS data", false),
            ("source = '/shop' AND specversion = '1.0'", true),
        ] {
            assert_eq!(Expression::parse(expr).unwrap().matches(&e), want, "{expr}");
        }
    }
}
