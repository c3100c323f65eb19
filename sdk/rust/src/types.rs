//! The contract's shared types (`signalbox:plugin/types@0.1.1`).
//!
//! These are written by hand rather than generated so that they can carry
//! proper `Display`, `PartialEq` and conversion impls. The generated bindings
//! are pointed at them with `wit-bindgen`'s `with` option; the lifting and
//! lowering code builds and reads them field by field, so any drift from the
//! WIT (a renamed or added field or case) is a compile error in this crate.

use std::fmt;

/// The value of a CloudEvents extension attribute.
///
/// CloudEvents defines more attribute types (URI, timestamp, binary); they
/// travel in their canonical string form as [`AttributeValue::Str`].
///
/// Build one with `From`: `"eu-west".into()`, `true.into()`, `42.into()`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    /// A string.
    Str(String),
    /// A boolean.
    Boolean(bool),
    /// A CloudEvents integer: 32-bit signed.
    Integer(i32),
}

impl AttributeValue {
    /// The string, if this is a [`Str`](AttributeValue::Str) value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Boolean`](AttributeValue::Boolean) value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttributeValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is an [`Integer`](AttributeValue::Integer) value.
    pub fn as_integer(&self) -> Option<i32> {
        match self {
            AttributeValue::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

/// The canonical string form (as carried in an HTTP header): the string
/// itself, `true`/`false`, or the decimal integer.
impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Str(s) => f.write_str(s),
            AttributeValue::Boolean(b) => write!(f, "{b}"),
            AttributeValue::Integer(i) => write!(f, "{i}"),
        }
    }
}

impl From<&str> for AttributeValue {
    fn from(value: &str) -> Self {
        AttributeValue::Str(value.to_owned())
    }
}

impl From<String> for AttributeValue {
    fn from(value: String) -> Self {
        AttributeValue::Str(value)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> Self {
        AttributeValue::Boolean(value)
    }
}

impl From<i32> for AttributeValue {
    fn from(value: i32) -> Self {
        AttributeValue::Integer(value)
    }
}

/// One CloudEvents 1.0 event.
///
/// Events a plugin receives are always valid. Events a transform returns are
/// validated by the host with the same rules as ingest (required attributes
/// non-empty, `time` in RFC 3339, extension names `[a-z0-9]+`, the bus's size
/// limit, …); an invalid one fails the call with a message naming the
/// attribute.
///
/// Read it with [`extension`](Event::extension),
/// [`data_json`](Event::data_json), [`data_str`](Event::data_str); build one
/// with [`Event::builder`]; reshape one with
/// [`with_data_json`](Event::with_data_json) and
/// [`set_extension`](Event::set_extension).
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    /// `id`: with `source`, identifies the event.
    pub id: String,
    /// `source`: where the event happened (a URI-reference).
    pub source: String,
    /// `type`: what happened, e.g. `com.example.order.created`.
    pub type_: String,
    /// `subject`: what the event is about, within the source.
    pub subject: Option<String>,
    /// `time`: when it happened, RFC 3339.
    pub time: Option<String>,
    /// `datacontenttype`: the media type of `data`, e.g. `application/json`.
    pub datacontenttype: Option<String>,
    /// `dataschema`: a URI naming the schema `data` follows.
    pub dataschema: Option<String>,
    /// Extension attributes, in order. Names are lower-case letters and
    /// digits (`partitionkey`, `traceparent`, …).
    pub extensions: Vec<(String, AttributeValue)>,
    /// The payload bytes. For JSON events this is the JSON text.
    pub data: Option<Vec<u8>>,
}

/// Like the derived form, but shows `data` as text when it is UTF-8.
impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Data<'a>(&'a [u8]);
        impl fmt::Debug for Data<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match std::str::from_utf8(self.0) {
                    Ok(s) => fmt::Debug::fmt(s, f),
                    Err(_) => write!(f, "<{} bytes>", self.0.len()),
                }
            }
        }
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("type", &self.type_)
            .field("subject", &self.subject)
            .field("time", &self.time)
            .field("datacontenttype", &self.datacontenttype)
            .field("dataschema", &self.dataschema)
            .field("extensions", &self.extensions)
            .field("data", &self.data.as_deref().map(Data))
            .finish()
    }
}

/// The rule's configuration for this plugin: key/value pairs, in the order
/// the rule lists them.
///
/// Values that were not strings in the rule's JSON arrive as JSON text (e.g.
/// `"42"`, `"true"`, `"[1,2]"`). Read it with [`config_get`](crate::config_get),
/// [`config_parse`](crate::config_parse) and friends.
pub type Config = Vec<(String, String)>;

/// An error reported by a plugin.
///
/// The message is recorded in the event's trace and the rule's status, so
/// make it say what went wrong (`data.total: expected a number, got "12"`),
/// not just that something did.
///
/// `?` converts the common error types into it (`serde_json::Error`, UTF-8
/// and number-parsing errors, `String`, `&str`); add context with
/// [`Error::context`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    /// What went wrong.
    pub message: String,
}

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }

    /// Prefixes the message with `context: `, e.g. the field or step that
    /// failed.
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Self {
        Error {
            message: format!("{context}: {}", self.message),
        }
    }
}

/// The message alone.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error { message }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::new(message)
    }
}

macro_rules! error_from_display {
    ($($ty:ty),* $(,)?) => {
        $(
            impl From<$ty> for Error {
                fn from(e: $ty) -> Self {
                    Error::new(e.to_string())
                }
            }
        )*
    };
}

error_from_display!(
    serde_json::Error,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::ParseBoolError,
    std::fmt::Error,
);

/// Why a connector could not deliver a batch.
///
/// Say whether trying again later may help: [`DeliveryError::retryable`] for
/// timeouts, connection failures, 5xx and 429 responses;
/// [`DeliveryError::permanent`] for everything a retry cannot fix (a 400, a
/// rejected host, an event the remote cannot represent). A permanent error
/// sends the batch straight to the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeliveryError {
    /// What went wrong, e.g. `HTTP 503 from hooks.example.com`.
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
    /// The remote status code, if there was one; shown in dead letters.
    pub status: Option<u16>,
}

impl DeliveryError {
    /// A failure that may go away if the batch is tried again later.
    pub fn retryable(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: true,
            status: None,
        }
    }

    /// A failure that a retry cannot fix; the batch goes to the dead-letter
    /// queue.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: false,
            status: None,
        }
    }

    /// Records the remote status code (e.g. the HTTP status).
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Prefixes the message with `context: `.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// The message alone.
impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeliveryError {}

/// A plugin error while delivering (bad configuration, an event that cannot
/// be encoded) is permanent: retrying the same batch fails the same way.
impl From<Error> for DeliveryError {
    fn from(e: Error) -> Self {
        DeliveryError::permanent(e.message)
    }
}

/// Encoding failures are permanent (see `From<Error>`).
impl From<serde_json::Error> for DeliveryError {
    fn from(e: serde_json::Error) -> Self {
        DeliveryError::permanent(e.to_string())
    }
}
