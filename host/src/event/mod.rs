//! The CloudEvent as Signalbox holds it.
//!
//! A [`CloudEvent`] is a validated CloudEvents 1.0 event: the four required
//! context attributes, the optional ones, extension attributes and the data
//! bytes. Every way an event enters the host (HTTP binary, structured and batch
//! mode, the bus target, plugins) produces this one type, and every check the
//! specification asks for happens before a value of it exists — see
//! [`validate`].
//!
//! Data is kept as the producer sent it. JSON data keeps its exact text
//! ([`Data::Json`]), so reading an event back gives the same bytes and pattern
//! matching can parse it lazily; text and binary data keep their bytes.
//!
//! The JSON event format (structured mode, batch entries, and what the API
//! returns) lives in [`json`].

pub mod binding;
pub mod json;
mod scan;
pub(crate) mod simd;
mod text;
pub mod time;
pub mod validate;

pub use text::JsonText;

use std::sync::Arc;

use bytes::Bytes;

/// The only CloudEvents version Signalbox accepts.
pub const SPEC_VERSION: &str = "1.0";

/// The extension counting how often an event was forwarded from bus to bus
/// (the `bus` target's loop protection).
pub const HOPS_EXTENSION: &str = "signalboxhops";

/// The extension marking an event a replay delivered again, with the
/// replay's id.
pub const REPLAY_EXTENSION: &str = "replay";

/// Extensions only Signalbox itself sets. Ingest removes them from what
/// producers send, so no producer can defeat loop protection (say, with a
/// hop count of −2³¹) or pass an event off as a replay.
pub const RESERVED_EXTENSIONS: [&str; 2] = [HOPS_EXTENSION, REPLAY_EXTENSION];

/// A validated CloudEvents 1.0 event.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudEvent {
    /// `id`: identifies the event; with `source` it is unique per producer.
    pub id: String,
    /// `source`: the context in which the event happened (a URI-reference).
    pub source: String,
    /// `type`: the kind of occurrence, e.g. `com.example.order.created`.
    pub ty: String,
    /// `datacontenttype`: media type of `data`.
    pub datacontenttype: Option<String>,
    /// `dataschema`: URI of the schema `data` adheres to.
    pub dataschema: Option<String>,
    /// `subject`: the subject of the event within the source.
    pub subject: Option<String>,
    /// `time`: when the occurrence happened, RFC 3339, kept as sent.
    pub time: Option<String>,
    /// Extension attributes in the order they were received. Names are
    /// `[a-z0-9]+` and never collide with a context attribute.
    pub extensions: Vec<(String, ExtensionValue)>,
    /// The event payload, if any.
    pub data: Option<Data>,
}

/// The value of an extension attribute.
///
/// The JSON format carries extension values as strings, booleans or integers;
/// the HTTP binary mode carries every value as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionValue {
    /// A string (also URI, URI-reference, timestamp and base64 binary values,
    /// which the JSON format encodes as strings).
    String(String),
    /// A boolean.
    Boolean(bool),
    /// A CloudEvents integer: 32-bit signed.
    Integer(i32),
}

impl ExtensionValue {
    /// The canonical string form, as carried in an HTTP header.
    pub fn to_header_string(&self) -> String {
        match self {
            ExtensionValue::String(s) => s.clone(),
            ExtensionValue::Boolean(b) => b.to_string(),
            ExtensionValue::Integer(i) => i.to_string(),
        }
    }
}

/// The event payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// JSON data, exactly the text the producer sent.
    Json(JsonText),
    /// Text that is not JSON (e.g. `text/plain` or XML sent as a JSON string
    /// in structured mode).
    Text(String),
    /// Opaque bytes (binary-mode bodies that are not JSON, or `data_base64`).
    Binary(Bytes),
}

impl Data {
    /// The payload bytes as they travel in an HTTP body.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Data::Json(s) => s.as_bytes(),
            Data::Text(s) => s.as_bytes(),
            Data::Binary(b) => b,
        }
    }
}

impl CloudEvent {
    /// The value of an extension attribute, if present.
    pub fn extension(&self, name: &str) -> Option<&ExtensionValue> {
        self.extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Removes the [`RESERVED_EXTENSIONS`]; returns whether any was there.
    pub fn strip_reserved(&mut self) -> bool {
        let before = self.extensions.len();
        self.extensions
            .retain(|(n, _)| !RESERVED_EXTENSIONS.contains(&n.as_str()));
        self.extensions.len() != before
    }

    /// Adds or replaces an extension attribute.
    pub fn set_extension(&mut self, name: &str, value: ExtensionValue) {
        match self.extensions.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.extensions.push((name.to_owned(), value)),
        }
    }

    /// Approximate size of the event in bytes: attribute names and values
    /// plus data. This is what the per-bus `max_event_bytes` limit counts,
    /// independent of the HTTP mode it arrived in.
    pub fn size(&self) -> usize {
        let opt = |o: &Option<String>, name: &str| o.as_ref().map_or(0, |v| v.len() + name.len());
        let mut n = "specversion".len()
            + SPEC_VERSION.len()
            + "id".len()
            + self.id.len()
            + "source".len()
            + self.source.len()
            + "type".len()
            + self.ty.len()
            + opt(&self.datacontenttype, "datacontenttype")
            + opt(&self.dataschema, "dataschema")
            + opt(&self.subject, "subject")
            + opt(&self.time, "time");
        for (name, value) in &self.extensions {
            n += name.len()
                + match value {
                    ExtensionValue::String(s) => s.len(),
                    ExtensionValue::Boolean(_) => 5,
                    ExtensionValue::Integer(_) => 11,
                };
        }
        n + self.data.as_ref().map_or(0, |d| d.as_bytes().len())
    }
}

/// Whether a media type denotes JSON: `application/json`, `text/json`, or any
/// `+json` structured-syntax suffix, ignoring parameters and case.
pub fn is_json_media_type(media_type: &str) -> bool {
    // Compared in place, without a lowercase copy: ingest asks this of every
    // event.
    let essence = media_type.split(';').next().unwrap_or("").trim().as_bytes();
    essence.eq_ignore_ascii_case(b"application/json")
        || essence.eq_ignore_ascii_case(b"text/json")
        || essence.len() >= 5 && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json")
}

/// An event lent out without copying it, e.g. to a plugin call that reads
/// it attribute by attribute: a stored event (`Arc<StoredEvent>`) or a
/// lone one (`Arc<CloudEvent>`) coerces to it without a new allocation.
pub type SharedEvent = Arc<dyn AsRef<CloudEvent> + Send + Sync>;

impl AsRef<CloudEvent> for CloudEvent {
    fn as_ref(&self) -> &CloudEvent {
        self
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
        assert!(!is_json_media_type(""));
    }
}
