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

use std::borrow::Cow;

use super::cesql::{EventAttributes, ValueRef};
use crate::event::json::push_json_str;
use crate::event::{CloudEvent, Data, ExtensionValue, SPEC_VERSION, is_json_media_type};

/// Writes the envelope of `event` into `out` (cleared first).
pub fn envelope_json(event: &CloudEvent, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(envelope_text(event, json_data(event)).as_bytes());
}

/// The envelope of `event` as JSON text, with `data` (the event's JSON data,
/// from [`json_data`]) as its `data` member. The one writer of the envelope:
/// patterns match it and input transformers select from it.
pub fn envelope_text(event: &CloudEvent, data: Option<&str>) -> String {
    let mut s = String::with_capacity(256 + data.map_or(0, str::len));
    s.push_str("{\"specversion\":\"");
    s.push_str(SPEC_VERSION);
    s.push_str("\",\"id\":");
    push_json_str(&mut s, &event.id);
    s.push_str(",\"source\":");
    push_json_str(&mut s, &event.source);
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
        s.push(',');
        push_json_str(&mut s, name);
        s.push(':');
        match value {
            ExtensionValue::String(v) => push_json_str(&mut s, v),
            ExtensionValue::Boolean(b) => s.push_str(if *b { "true" } else { "false" }),
            ExtensionValue::Integer(i) => s.push_str(&i.to_string()),
        }
    }
    if let Some(json) = data {
        s.push_str(",\"data\":");
        s.push_str(json);
    }
    s.push('}');
    s
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
