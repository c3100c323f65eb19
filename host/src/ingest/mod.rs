//! Ingest: turning an HTTP request into validated CloudEvents.
//!
//! The CloudEvents HTTP binding has three modes, told apart by `Content-Type`:
//!
//! * **structured** — `application/cloudevents+json`: the body is one event
//!   in the JSON format;
//! * **batch** — `application/cloudevents-batch+json`: the body is a JSON
//!   array of events; each entry stands or falls on its own (like
//!   EventBridge's PutEvents);
//! * **binary** — any other content type with `ce-*` headers: the headers are
//!   the attributes, the body is the data and `Content-Type` is
//!   `datacontenttype`.
//!
//! This module only parses and validates; it does no I/O. The API layer
//! reads the body (enforcing the request size limit), calls
//! [`parse_request`], appends the valid events to the store and answers.

pub mod publish;
pub mod quota;

use bytes::Bytes;
use http::HeaderMap;
use thiserror::Error;

use crate::event::binding::decode_header_value;
use crate::event::json::{self, BodyError};
use crate::event::validate::{self, EventError, EventErrorKind};
use crate::event::{CloudEvent, Data, ExtensionValue, JsonText, is_json_media_type};

/// Request bodies larger than this are parsed on tokio's blocking pool, by
/// the events API and the AWS API alike, so that one large body does not
/// hold up the requests sharing its worker thread. Below it the hop there
/// and back costs more than it saves: a batch of 100 one-KiB events (105
/// KiB) took 0.7 µs more server CPU per event through the pool
/// (docs/benchmarks.md, "Ingest without the blocking-pool hops"), and a
/// body of this size parses in about half a millisecond.
pub const PARSE_OFFLOAD_BYTES: usize = 256 << 10;

/// The HTTP binding mode a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `ce-*` headers and the data as the body.
    Binary,
    /// One event in the JSON format.
    Structured,
    /// A JSON array of events.
    Batch,
}

impl Mode {
    /// The mode's name as used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Binary => "binary",
            Mode::Structured => "structured",
            Mode::Batch => "batch",
        }
    }
}

/// Limits that apply while parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest event accepted, as counted by [`CloudEvent::size`].
    pub max_event_bytes: usize,
    /// Most events in one batch request.
    pub max_batch_events: usize,
}

/// A request that could be parsed; its entries are in request order.
#[derive(Debug)]
pub struct Parsed {
    /// The mode the request used.
    pub mode: Mode,
    /// One result per event in the request.
    pub entries: Vec<Result<CloudEvent, EventError>>,
}

/// Why a whole request was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IngestError {
    /// Neither a CloudEvents content type nor `ce-specversion`.
    #[error(
        "the request is not a CloudEvent: send ce-* headers (binary mode), Content-Type application/cloudevents+json (structured mode) or application/cloudevents-batch+json (batch mode)"
    )]
    NotCloudEvent,
    /// A CloudEvents format other than JSON.
    #[error("the event format '{0}' is not supported; use application/cloudevents+json")]
    UnsupportedFormat(String),
    /// The body could not be parsed at all.
    #[error("{0}")]
    Body(#[from] BodyError),
    /// Too many events in one batch.
    #[error("the batch has more than {limit} events; at most {limit} are accepted per request")]
    TooManyEvents {
        /// The limit.
        limit: usize,
    },
}

impl IngestError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            IngestError::UnsupportedFormat(_) => 415,
            IngestError::TooManyEvents { .. } => 413,
            _ => 400,
        }
    }
}

/// Parses an ingest request.
pub fn parse_request(
    headers: &HeaderMap,
    body: Bytes,
    limits: Limits,
) -> Result<Parsed, IngestError> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let essence = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let (mode, mut entries) = if essence == "application/cloudevents+json" {
        (Mode::Structured, vec![json::parse_structured_bytes(&body)?])
    } else if essence == "application/cloudevents-batch+json" {
        let entries =
            json::parse_batch_limited(&body, limits.max_batch_events).map_err(|e| match e {
                json::BatchError::Body(b) => IngestError::Body(b),
                json::BatchError::TooMany { limit } => IngestError::TooManyEvents { limit },
            })?;
        (Mode::Batch, entries)
    } else if essence.starts_with("application/cloudevents+")
        || essence.starts_with("application/cloudevents-batch+")
    {
        return Err(IngestError::UnsupportedFormat(essence));
    } else if headers.contains_key("ce-specversion") {
        let identity = |name: &str| {
            headers
                .get(name)
                .and_then(|v| decode_header_value(v.as_bytes()))
        };
        let entry = parse_binary(headers, content_type, body)
            .map_err(|e| e.with_identity(identity("ce-id"), identity("ce-source")));
        (Mode::Binary, vec![entry])
    } else {
        return Err(IngestError::NotCloudEvent);
    };
    for entry in &mut entries {
        if let Ok(event) = entry {
            event.strip_reserved();
            let size = event.size();
            if size > limits.max_event_bytes {
                let (id, source) = (Some(event.id.clone()), Some(event.source.clone()));
                *entry = Err(EventError::new(
                    EventErrorKind::TooLarge,
                    "",
                    format!(
                        "the event is {size} bytes; this bus accepts events up to {} bytes",
                        limits.max_event_bytes
                    ),
                )
                .with_identity(id, source));
            }
        }
    }
    Ok(Parsed { mode, entries })
}

/// Parses a binary-mode event from `ce-*` headers and the body.
fn parse_binary(
    headers: &HeaderMap,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<CloudEvent, EventError> {
    let mut a = validate::RawAttributes {
        datacontenttype: content_type.map(str::to_owned),
        ..Default::default()
    };
    let mut extensions: Vec<(String, ExtensionValue)> = Vec::new();

    for name in headers.keys() {
        let Some(attr) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let mut values = headers.get_all(name).iter();
        let raw = values.next().expect("a key has a value");
        if values.next().is_some() {
            return Err(EventError::new(
                EventErrorKind::Malformed,
                attr,
                format!("the header 'ce-{attr}' appears more than once"),
            ));
        }
        let value = decode_header_value(raw.as_bytes()).ok_or_else(|| {
            EventError::invalid(
                attr,
                format!("the header 'ce-{attr}' is not valid percent-encoded UTF-8"),
            )
        })?;
        match attr {
            "specversion" => a.specversion = Some(value.into()),
            "id" => a.id = Some(value),
            "source" => a.source = Some(value),
            "type" => a.ty = Some(value),
            "dataschema" => a.dataschema = Some(value),
            "subject" => a.subject = Some(value),
            "time" => a.time = Some(value),
            "datacontenttype" => {
                return Err(EventError::invalid(
                    "datacontenttype",
                    "in binary mode datacontenttype is the Content-Type header, not ce-datacontenttype",
                ));
            }
            "data" | "data_base64" => {
                return Err(EventError::invalid(
                    attr,
                    "in binary mode the data is the request body",
                ));
            }
            name => {
                validate::check_extension_name(name)?;
                extensions.push((name.to_owned(), ExtensionValue::String(value)));
            }
        }
    }

    let validate::Required { id, source, ty } = a.check()?;
    let validate::RawAttributes {
        datacontenttype,
        dataschema,
        subject,
        time,
        ..
    } = a;
    let data = if body.is_empty() {
        None
    } else {
        Some(binary_data(datacontenttype.as_deref(), body)?)
    };
    Ok(CloudEvent {
        id,
        source,
        ty,
        datacontenttype,
        dataschema,
        subject,
        time,
        extensions,
        data,
    })
}

/// Classifies a binary-mode body: JSON content types must carry valid JSON
/// (a producer that says JSON and sends something else has a bug it wants to
/// hear about), `text/*` that is UTF-8 stays text, the rest is opaque.
fn binary_data(content_type: Option<&str>, body: Bytes) -> Result<Data, EventError> {
    match content_type {
        Some(ct) if is_json_media_type(ct) => {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                return Err(EventError::invalid(
                    "data",
                    format!("Content-Type says JSON but the body is not valid JSON: {e}"),
                ));
            }
            // Kept as the body itself, not a copy.
            JsonText::from_utf8(body).map(Data::Json).map_err(|e| {
                EventError::invalid(
                    "data",
                    format!("Content-Type says JSON but the body is not UTF-8: {e}"),
                )
            })
        }
        Some(ct) if ct.trim_start().to_ascii_lowercase().starts_with("text/") => {
            match std::str::from_utf8(&body) {
                Ok(s) => Ok(Data::Text(s.to_owned())),
                Err(_) => Ok(Data::Binary(body)),
            }
        }
        _ => Ok(Data::Binary(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const LIMITS: Limits = Limits {
        max_event_bytes: 1 << 20,
        max_batch_events: 10,
    };

    fn binary(extra: &[(&str, &str)], body: &'static [u8]) -> Result<Parsed, IngestError> {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        for (k, v) in extra {
            let name = http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            h.insert(name, HeaderValue::from_str(v).unwrap());
        }
        parse_request(&h, Bytes::from_static(body), LIMITS)
    }

    #[test]
    fn binary_mode() {
        static BODY: &[u8] = br#"{"a":1}"#;
        let p = binary(
            &[
                ("content-type", "application/json"),
                ("ce-partitionkey", "k%201%C3%A9"),
                ("ce-time", "2024-01-01T00:00:00Z"),
                ("x-other", "ignored"),
            ],
            BODY,
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Binary);
        let e = p.entries[0].as_ref().unwrap();
        assert_eq!(e.data, Some(Data::Json(r#"{"a":1}"#.into())));
        let Some(Data::Json(text)) = &e.data else {
            unreachable!()
        };
        assert_eq!(text.as_ptr(), BODY.as_ptr(), "the body itself, not a copy");
        assert_eq!(e.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(
            e.extension("partitionkey"),
            Some(&ExtensionValue::String("k 1é".into()))
        );
    }

    #[test]
    fn binary_mode_errors_name_the_field() {
        let field = |extra: &[(&str, &str)], body| {
            binary(extra, body)
                .unwrap()
                .entries
                .remove(0)
                .unwrap_err()
                .field
        };
        assert_eq!(field(&[("ce-specversion", "0.3")], b""), "specversion");
        assert_eq!(field(&[("ce-time", "noon")], b""), "time");
        assert_eq!(field(&[("ce-bad_name", "x")], b""), "bad_name");
        assert_eq!(field(&[("ce-source", "a b")], b""), "source");
        assert_eq!(field(&[("ce-id", "%zz")], b""), "id");
        assert_eq!(field(&[("content-type", "application/json")], b"{"), "data");
        // JSON whose string is not UTF-8 is refused, not stored as text.
        assert_eq!(
            field(&[("content-type", "application/json")], b"\"\xff\""),
            "data"
        );
        assert_eq!(
            field(&[("ce-datacontenttype", "a/b")], b""),
            "datacontenttype"
        );
    }

    #[test]
    fn binary_bodies() {
        let data = |ct: &str, body: &'static [u8]| {
            binary(&[("content-type", ct)], body)
                .unwrap()
                .entries
                .remove(0)
                .unwrap()
                .data
        };
        assert_eq!(data("text/plain", b"hi"), Some(Data::Text("hi".into())));
        assert_eq!(
            data("text/plain", b"\xff"),
            Some(Data::Binary(Bytes::from_static(b"\xff")))
        );
        assert_eq!(
            data("image/png", b"\x89PNG"),
            Some(Data::Binary(Bytes::from_static(b"\x89PNG")))
        );
        assert_eq!(
            binary(&[], b"").unwrap().entries[0].as_ref().unwrap().data,
            None
        );
    }

    #[test]
    fn mode_detection() {
        let mut h = HeaderMap::new();
        assert_eq!(
            parse_request(&h, Bytes::new(), LIMITS).unwrap_err(),
            IngestError::NotCloudEvent
        );
        h.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+avro"),
        );
        assert_eq!(
            parse_request(&h, Bytes::new(), LIMITS)
                .unwrap_err()
                .status(),
            415
        );
        h.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents-batch+json; charset=utf-8"),
        );
        let body = Bytes::from(format!("[{}]", ["{}"; 11].join(",")));
        assert_eq!(parse_request(&h, body, LIMITS).unwrap_err().status(), 413);
        let p = parse_request(&h, Bytes::from_static(b"[]"), LIMITS).unwrap();
        assert_eq!(p.mode, Mode::Batch);
    }

    #[test]
    fn oversized_events() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+json"),
        );
        let big = format!(
            r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"{}"}}"#,
            "x".repeat(100)
        );
        let limits = Limits {
            max_event_bytes: 64,
            ..LIMITS
        };
        let p = parse_request(&h, Bytes::from(big), limits).unwrap();
        assert_eq!(
            p.entries[0].as_ref().unwrap_err().kind,
            EventErrorKind::TooLarge
        );
    }
}
