//! Reading, building and reshaping [`Event`]s.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{AttributeValue, Error, Event};

/// The media type [`Event::set_data_json`] and [`EventBuilder::data_json`]
/// set when the event does not already declare a JSON one.
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// Whether a media type denotes JSON: `application/json`, `text/json`, or any
/// `+json` structured-syntax suffix (`application/cloudevents+json`),
/// ignoring parameters (`; charset=utf-8`) and case. The host uses the same
/// rule.
pub fn is_json_media_type(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("text/json")
        || (essence.len() > 5
            && essence.is_char_boundary(essence.len() - 5)
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

impl Event {
    /// An event with the three required attributes set by the caller and
    /// nothing else. See [`Event::builder`] for the optional ones.
    pub fn new(id: impl Into<String>, source: impl Into<String>, ty: impl Into<String>) -> Event {
        Event {
            id: id.into(),
            source: source.into(),
            type_: ty.into(),
            subject: None,
            time: None,
            datacontenttype: None,
            dataschema: None,
            extensions: Vec::new(),
            data: None,
        }
    }

    /// Starts building an event from its `id`, `source` and `type`.
    ///
    /// ```
    /// # use signalbox_sdk::Event;
    /// # fn main() -> Result<(), signalbox_sdk::Error> {
    /// let event = Event::builder("order-1-line-0", "/shop", "com.example.order.line")
    ///     .subject("sku-42")
    ///     .extension("parentid", "order-1")
    ///     .data_json(&serde_json::json!({"sku": "sku-42", "qty": 2}))?
    ///     .build();
    /// assert_eq!(event.datacontenttype.as_deref(), Some("application/json"));
    /// # Ok(()) }
    /// ```
    ///
    /// Nothing is validated here; the host validates what a transform
    /// returns.
    pub fn builder(
        id: impl Into<String>,
        source: impl Into<String>,
        ty: impl Into<String>,
    ) -> EventBuilder {
        EventBuilder {
            event: Event::new(id, source, ty),
        }
    }

    /// The value of the extension attribute `name`, if the event has it.
    pub fn extension(&self, name: &str) -> Option<&AttributeValue> {
        self.extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The value of the extension attribute `name` if it is a string.
    ///
    /// Returns `None` when the attribute is missing or is a boolean or an
    /// integer; use `event.extension(name).map(|v| v.to_string())` for the
    /// canonical string form of any value.
    pub fn extension_str(&self, name: &str) -> Option<&str> {
        self.extension(name).and_then(AttributeValue::as_str)
    }

    /// Sets the extension attribute `name`, replacing its value if present
    /// (in place) or appending it.
    ///
    /// Names must be lower-case ASCII letters and digits; the host rejects
    /// anything else in an event a transform returns.
    pub fn set_extension(&mut self, name: impl Into<String>, value: impl Into<AttributeValue>) {
        let name = name.into();
        let value = value.into();
        match self.extensions.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => self.extensions.push((name, value)),
        }
    }

    /// [`set_extension`](Event::set_extension), by value.
    #[must_use]
    pub fn with_extension(
        mut self,
        name: impl Into<String>,
        value: impl Into<AttributeValue>,
    ) -> Self {
        self.set_extension(name, value);
        self
    }

    /// Removes the extension attribute `name`, returning its value.
    pub fn remove_extension(&mut self, name: &str) -> Option<AttributeValue> {
        let index = self.extensions.iter().position(|(n, _)| n == name)?;
        Some(self.extensions.remove(index).1)
    }

    /// Whether the data is JSON: the event has data and its
    /// `datacontenttype` is a JSON media type ([`is_json_media_type`]) or
    /// absent (the CloudEvents JSON format then implies `application/json`).
    pub fn is_json(&self) -> bool {
        self.data.is_some()
            && self
                .datacontenttype
                .as_deref()
                .is_none_or(is_json_media_type)
    }

    /// The data as text, if the event has data and it is valid UTF-8.
    pub fn data_str(&self) -> Option<&str> {
        std::str::from_utf8(self.data.as_deref()?).ok()
    }

    /// Parses the data as JSON into `T` (any `serde::Deserialize` type, or
    /// `serde_json::Value`).
    ///
    /// Fails with a message saying why when the event has no data or the
    /// data does not parse as `T`. The `datacontenttype` is not checked; call
    /// [`is_json`](Event::is_json) first if a non-JSON event should be
    /// treated differently.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let data = self
            .data
            .as_deref()
            .ok_or_else(|| Error::new(format!("event {} has no data", self.id)))?;
        serde_json::from_slice(data)
            .map_err(|e| Error::new(format!("data of event {}: {e}", self.id)))
    }

    /// Replaces the data with `value` serialised as JSON, and sets
    /// `datacontenttype` to `application/json` unless it already names a
    /// JSON media type (such as `application/vnd.example+json`).
    pub fn set_data_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let bytes = serde_json::to_vec(value)?;
        self.data = Some(bytes);
        if !self
            .datacontenttype
            .as_deref()
            .is_some_and(is_json_media_type)
        {
            self.datacontenttype = Some(JSON_MEDIA_TYPE.to_owned());
        }
        Ok(())
    }

    /// [`set_data_json`](Event::set_data_json), by value: the same event
    /// with new JSON data.
    ///
    /// ```
    /// # use signalbox_sdk::Event;
    /// # fn main() -> Result<(), signalbox_sdk::Error> {
    /// let event = Event::new("1", "/hr", "com.example.employee.hired");
    /// let event = event.with_data_json(&serde_json::json!({"team": "ops"}))?;
    /// assert_eq!(event.data_str(), Some(r#"{"team":"ops"}"#));
    /// # Ok(()) }
    /// ```
    pub fn with_data_json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        self.set_data_json(value)?;
        Ok(self)
    }

    /// Replaces the data with `bytes` of media type `content_type`.
    #[must_use]
    pub fn with_data(mut self, content_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.datacontenttype = Some(content_type.into());
        self.data = Some(bytes.into());
        self
    }

    /// The event in the CloudEvents JSON format ("structured mode"), ready
    /// to send with `content-type: application/cloudevents+json`.
    ///
    /// JSON data ([`is_json`](Event::is_json) and parses) is embedded as the
    /// `data` member exactly as it is (no re-formatting, numbers keep their
    /// precision); other UTF-8 data becomes a JSON string; anything else is
    /// base64 in `data_base64`.
    pub fn to_cloudevents_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            128 + self.id.len()
                + self.source.len()
                + self.type_.len()
                + self.data.as_ref().map_or(0, |d| d.len() * 4 / 3 + 4),
        );
        out.extend_from_slice(br#"{"specversion":"1.0""#);
        let mut member = |name: &str, value: &str| {
            out.push(b',');
            push_json_string(&mut out, name);
            out.push(b':');
            push_json_string(&mut out, value);
        };
        member("id", &self.id);
        member("source", &self.source);
        member("type", &self.type_);
        for (name, value) in [
            ("subject", &self.subject),
            ("time", &self.time),
            ("datacontenttype", &self.datacontenttype),
            ("dataschema", &self.dataschema),
        ] {
            if let Some(value) = value {
                member(name, value);
            }
        }
        for (name, value) in &self.extensions {
            out.push(b',');
            push_json_string(&mut out, name);
            out.push(b':');
            match value {
                AttributeValue::Str(s) => push_json_string(&mut out, s),
                AttributeValue::Boolean(b) => {
                    out.extend_from_slice(if *b { b"true" } else { b"false" })
                }
                AttributeValue::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
            }
        }
        if let Some(data) = &self.data {
            let raw = if self.is_json() {
                serde_json::from_slice::<&serde_json::value::RawValue>(data).ok()
            } else {
                None
            };
            if let Some(raw) = raw {
                out.extend_from_slice(br#","data":"#);
                out.extend_from_slice(raw.get().as_bytes());
            } else if let Ok(text) = std::str::from_utf8(data) {
                out.extend_from_slice(br#","data":"#);
                push_json_string(&mut out, text);
            } else {
                out.extend_from_slice(br#","data_base64":""#);
                base64_encode(data, &mut out);
                out.push(b'"');
            }
        }
        out.push(b'}');
        out
    }
}

fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // Serialising a &str into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).expect("writing a JSON string to memory");
}

/// Standard base64 with padding (RFC 4648 §4), as `data_base64` requires.
fn base64_encode(input: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ALPHABET[(n >> 18) as usize & 63]);
        out.push(ALPHABET[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63]
        } else {
            b'='
        });
    }
}

/// Builds an [`Event`]; start with [`Event::builder`].
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the event"]
pub struct EventBuilder {
    event: Event,
}

impl EventBuilder {
    /// Sets `subject`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.event.subject = Some(subject.into());
        self
    }

    /// Sets `time` (RFC 3339, e.g. `2026-11-26T15:00:00Z`).
    pub fn time(mut self, time: impl Into<String>) -> Self {
        self.event.time = Some(time.into());
        self
    }

    /// Sets `datacontenttype`.
    pub fn datacontenttype(mut self, media_type: impl Into<String>) -> Self {
        self.event.datacontenttype = Some(media_type.into());
        self
    }

    /// Sets `dataschema` (an absolute URI).
    pub fn dataschema(mut self, uri: impl Into<String>) -> Self {
        self.event.dataschema = Some(uri.into());
        self
    }

    /// Adds (or replaces) an extension attribute; see
    /// [`Event::set_extension`].
    pub fn extension(mut self, name: impl Into<String>, value: impl Into<AttributeValue>) -> Self {
        self.event.set_extension(name, value);
        self
    }

    /// Sets the data to `bytes` of media type `content_type`.
    pub fn data(mut self, content_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.event = self.event.with_data(content_type, bytes);
        self
    }

    /// Sets the data to `value` serialised as JSON; see
    /// [`Event::set_data_json`].
    pub fn data_json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        self.event.set_data_json(value)?;
        Ok(self)
    }

    /// The event.
    pub fn build(self) -> Event {
        self.event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/cloudevents+json"));
        assert!(is_json_media_type("text/json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/jsonx"));
        assert!(!is_json_media_type("+json"));
        assert!(!is_json_media_type(""));
        assert!(is_json_media_type("application/é+json"));
        assert!(!is_json_media_type("application/jsoné"));
    }

    #[test]
    fn extensions() {
        let mut e = Event::new("1", "/s", "t")
            .with_extension("a", "x")
            .with_extension("b", 3)
            .with_extension("a", true);
        assert_eq!(e.extensions.len(), 2);
        assert_eq!(e.extension("a"), Some(&AttributeValue::Boolean(true)));
        assert_eq!(e.extension_str("a"), None);
        assert_eq!(
            e.extension("b").map(ToString::to_string).as_deref(),
            Some("3")
        );
        assert_eq!(e.remove_extension("a"), Some(AttributeValue::Boolean(true)));
        assert_eq!(e.extension("a"), None);
        e.set_extension("c", "v");
        assert_eq!(e.extension_str("c"), Some("v"));
    }

    #[test]
    fn data_json_round_trip() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct Order {
            total: f64,
        }
        let e = Event::builder("1", "/s", "t")
            .datacontenttype("application/vnd.x+json")
            .data_json(&serde_json::json!({"total": 12.5}))
            .unwrap()
            .build();
        assert_eq!(e.datacontenttype.as_deref(), Some("application/vnd.x+json"));
        assert!(e.is_json());
        assert_eq!(e.data_json::<Order>().unwrap(), Order { total: 12.5 });
        let err = Event::new("9", "/s", "t").data_json::<Order>().unwrap_err();
        assert_eq!(err.message, "event 9 has no data");
        let err = Event::new("9", "/s", "t")
            .with_data("application/json", "{}")
            .data_json::<Order>()
            .unwrap_err();
        assert!(
            err.message
                .starts_with("data of event 9: missing field `total`"),
            "{err}"
        );
        let e = Event::new("1", "/s", "t").with_data("text/plain", "hi");
        assert!(!e.is_json());
        assert_eq!(e.data_str(), Some("hi"));
        let e = e.with_data_json(&[1, 2]).unwrap();
        assert_eq!(e.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(e.data_str(), Some("[1,2]"));
    }

    #[test]
    fn cloudevents_json() {
        let e = Event::builder("1", "/s", "t")
            .subject("sub\"ject")
            .extension("n", 5)
            .extension("b", false)
            .extension("s", "x")
            .data("application/json", r#"{"big": 12345678901234567890.5}"#)
            .build();
        let json = String::from_utf8(e.to_cloudevents_json()).unwrap();
        assert_eq!(
            json,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"sub\"ject","datacontenttype":"application/json","n":5,"b":false,"s":"x","data":{"big": 12345678901234567890.5}}"#
        );
        let text = Event::new("1", "/s", "t").with_data("text/plain", "a\nb");
        let v: serde_json::Value = serde_json::from_slice(&text.to_cloudevents_json()).unwrap();
        assert_eq!(v["data"], "a\nb");
        let bin =
            Event::new("1", "/s", "t").with_data("application/octet-stream", vec![0xff, 0, 1, 2]);
        let v: serde_json::Value = serde_json::from_slice(&bin.to_cloudevents_json()).unwrap();
        assert_eq!(v["data_base64"], "/wABAg==");
        assert!(v.get("data").is_none());
        // Declared JSON but not parseable: sent as a string rather than
        // producing invalid JSON.
        let bad = Event::new("1", "/s", "t").with_data("application/json", "{nope");
        let v: serde_json::Value = serde_json::from_slice(&bad.to_cloudevents_json()).unwrap();
        assert_eq!(v["data"], "{nope");
    }

    #[test]
    fn base64() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            base64_encode(input, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
