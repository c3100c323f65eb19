//! CloudEvents 1.0 validation rules.
//!
//! Each check returns an [`EventError`] naming the attribute (the `field` of
//! the API's problem document) and saying what was wrong, so a producer can
//! fix the event without reading the specification. The rules:
//!
//! | attribute | rule |
//! |---|---|
//! | `specversion` | required; must be `1.0` |
//! | `id`, `type` | required non-empty strings |
//! | `source` | required non-empty URI-reference (RFC 3986 characters) |
//! | `dataschema` | absolute URI when present |
//! | `datacontenttype` | `type/subtype` media type when present |
//! | `subject` | non-empty string when present |
//! | `time` | RFC 3339 `date-time` when present |
//! | extensions | names `[a-z0-9]+`; values string, boolean or 32-bit integer |
//! | `data` / `data_base64` | not both; `data_base64` valid base64 |
//! | whole event | at most the bus's `max_event_bytes` |

use thiserror::Error;

/// Why an event was refused. `field` names the attribute (or `data`, or the
/// whole event for size limits).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {detail}")]
pub struct EventError {
    /// What kind of failure, which decides the HTTP status.
    pub kind: EventErrorKind,
    /// The attribute or member that is wrong.
    pub field: String,
    /// A sentence saying what is wrong and, where possible, how to fix it.
    pub detail: String,
    /// The event's `id`, when it could be read, so a batch response can say
    /// which event failed.
    pub id: Option<String>,
    /// The event's `source`, when it could be read. (Not named `source`:
    /// that name means "underlying error" to `thiserror`.)
    pub event_source: Option<String>,
}

/// Categories of event errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventErrorKind {
    /// A required attribute is missing.
    Missing,
    /// An attribute is present but its value is not allowed.
    Invalid,
    /// `specversion` is not 1.0.
    UnsupportedVersion,
    /// The event is larger than the limit.
    TooLarge,
    /// The event is not a JSON object or not valid JSON.
    Malformed,
}

impl EventErrorKind {
    /// The short title used in problem documents.
    pub fn title(self) -> &'static str {
        match self {
            EventErrorKind::Missing => "Missing required attribute",
            EventErrorKind::Invalid => "Invalid attribute",
            EventErrorKind::UnsupportedVersion => "Unsupported specversion",
            EventErrorKind::TooLarge => "Event too large",
            EventErrorKind::Malformed => "Malformed event",
        }
    }

    /// The HTTP status a request with only this error gets.
    pub fn status(self) -> u16 {
        match self {
            EventErrorKind::TooLarge => 413,
            _ => 400,
        }
    }
}

impl EventError {
    pub(crate) fn new(kind: EventErrorKind, field: &str, detail: impl Into<String>) -> Self {
        EventError {
            kind,
            field: field.to_owned(),
            detail: detail.into(),
            id: None,
            event_source: None,
        }
    }

    /// Attaches the event's id and source, where known.
    pub fn with_identity(mut self, id: Option<String>, source: Option<String>) -> Self {
        self.id = self.id.or(id);
        self.event_source = self.event_source.or(source);
        self
    }

    pub(crate) fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::new(EventErrorKind::Invalid, field, detail)
    }

    pub(crate) fn missing(field: &str) -> Self {
        Self::new(
            EventErrorKind::Missing,
            field,
            format!("the required attribute '{field}' is missing"),
        )
    }
}

/// Names of the CloudEvents 1.0 context attributes (not extensions).
pub const CONTEXT_ATTRIBUTES: [&str; 8] = [
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
];

/// The context attributes of an event being parsed, before validation.
#[derive(Debug, Default)]
pub struct RawAttributes {
    /// `specversion`. The JSON parser stores the supported version
    /// borrowed, so a JSON event allocates nothing for it.
    pub specversion: Option<std::borrow::Cow<'static, str>>,
    /// `id`.
    pub id: Option<String>,
    /// `source`.
    pub source: Option<String>,
    /// `type`.
    pub ty: Option<String>,
    /// `datacontenttype`.
    pub datacontenttype: Option<String>,
    /// `dataschema`.
    pub dataschema: Option<String>,
    /// `subject`.
    pub subject: Option<String>,
    /// `time`.
    pub time: Option<String>,
}

/// The four required attributes, checked.
#[derive(Debug)]
pub struct Required {
    /// `id`.
    pub id: String,
    /// `source`.
    pub source: String,
    /// `type`.
    pub ty: String,
}

impl RawAttributes {
    /// Checks every attribute the way the specification asks, whichever
    /// format the event came in: the required ones are there and well
    /// formed, the optional ones well formed when present.
    pub fn check(&mut self) -> Result<Required, EventError> {
        let specversion = self
            .specversion
            .take()
            .ok_or_else(|| EventError::missing("specversion"))?;
        check_specversion(&specversion)?;
        let id = self.id.take().ok_or_else(|| EventError::missing("id"))?;
        check_non_empty("id", &id)?;
        let source = self
            .source
            .take()
            .ok_or_else(|| EventError::missing("source"))?;
        check_source(&source)?;
        let ty = self.ty.take().ok_or_else(|| EventError::missing("type"))?;
        check_non_empty("type", &ty)?;
        if let Some(v) = &self.datacontenttype {
            check_datacontenttype(v)?;
        }
        if let Some(v) = &self.dataschema {
            check_dataschema(v)?;
        }
        if let Some(v) = &self.subject {
            check_subject(v)?;
        }
        if let Some(v) = &self.time {
            check_time(v)?;
        }
        Ok(Required { id, source, ty })
    }
}

/// Checks `specversion`.
pub fn check_specversion(v: &str) -> Result<(), EventError> {
    if v == super::SPEC_VERSION {
        Ok(())
    } else {
        Err(EventError::new(
            EventErrorKind::UnsupportedVersion,
            "specversion",
            format!("specversion '{v}' is not supported; Signalbox accepts CloudEvents 1.0"),
        ))
    }
}

/// Checks a required string attribute is non-empty.
pub fn check_non_empty(field: &str, v: &str) -> Result<(), EventError> {
    if v.is_empty() {
        Err(EventError::invalid(
            field,
            format!("'{field}' must not be empty"),
        ))
    } else {
        Ok(())
    }
}

/// Checks `source`: a non-empty URI-reference.
pub fn check_source(v: &str) -> Result<(), EventError> {
    check_non_empty("source", v)?;
    check_uri_chars("source", v)
}

/// Checks `dataschema`: a non-empty absolute URI.
pub fn check_dataschema(v: &str) -> Result<(), EventError> {
    check_non_empty("dataschema", v)?;
    check_uri_chars("dataschema", v)?;
    let scheme_end = v.find(':').unwrap_or(0);
    let scheme = &v[..scheme_end];
    let valid_scheme = !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if valid_scheme {
        Ok(())
    } else {
        Err(EventError::invalid(
            "dataschema",
            format!("'{v}' is not an absolute URI (it needs a scheme such as https:)"),
        ))
    }
}

/// Checks `datacontenttype`: an RFC 2046 media type (`type/subtype[; params]`).
pub fn check_datacontenttype(v: &str) -> Result<(), EventError> {
    // Found by plain byte loops: `;` and `/` are ASCII, so the slices end
    // on character boundaries, and `str`'s pattern searchers cost more
    // than the rest of the check for a value as short as this.
    let before = |s: &str, sep: u8| s.bytes().position(|c| c == sep);
    let essence = v[..before(v, b';').unwrap_or(v.len())].trim();
    let token = |s: &str| !s.is_empty() && s.bytes().all(|c| TOKEN_BYTE[usize::from(c)]);
    match before(essence, b'/') {
        Some(i) if token(&essence[..i]) && token(&essence[i + 1..]) => Ok(()),
        _ => Err(EventError::invalid(
            "datacontenttype",
            format!("'{v}' is not a media type like application/json"),
        )),
    }
}

/// Checks `subject`: non-empty when present.
pub fn check_subject(v: &str) -> Result<(), EventError> {
    check_non_empty("subject", v)
}

/// Checks `time`: RFC 3339.
pub fn check_time(v: &str) -> Result<(), EventError> {
    super::time::parse_rfc3339(v)
        .map(|_| ())
        .map_err(|e| EventError::invalid("time", e))
}

/// Checks an extension attribute name: `[a-z0-9]+`, and not reserved.
pub fn check_extension_name(name: &str) -> Result<(), EventError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(EventError::invalid(
            name,
            format!(
                "extension attribute name '{name}' is invalid: names use only lower-case letters a-z and digits 0-9"
            ),
        ));
    }
    if name == "data" {
        return Err(EventError::invalid(
            name,
            "'data' is reserved for the event payload",
        ));
    }
    Ok(())
}

/// RFC 3986 allows only these characters (plus `%HH` escapes) in a URI
/// reference; anything else (spaces, quotes, non-ASCII) must be
/// percent-encoded by the producer.
fn check_uri_chars(field: &str, v: &str) -> Result<(), EventError> {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if URI_BYTE[usize::from(c)] {
            i += 1;
            continue;
        }
        if c == b'%' {
            if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
                i += 3;
                continue;
            }
            return Err(EventError::invalid(
                field,
                format!("'{v}' has a '%' that does not start a %HH escape"),
            ));
        }
        let shown = v[i..].chars().next().unwrap_or('?');
        return Err(EventError::invalid(
            field,
            format!(
                "'{v}' is not a URI-reference: the character {shown:?} must be percent-encoded"
            ),
        ));
    }
    Ok(())
}

/// The characters RFC 3986 allows as they are in a URI reference
/// (unreserved, gen-delims and sub-delims); `%` starts an escape and is
/// checked apart.
const URI_EXTRA: &[u8] = b"-._~:/?#[]@!$&'()*+,;=";

/// The characters besides letters and digits a media type's type and
/// subtype may use.
const TOKEN_EXTRA: &[u8] = b"!#$&-^_.+'*";

/// [`URI_EXTRA`], letters and digits, by byte.
static URI_BYTE: [bool; 256] = byte_class(URI_EXTRA);

/// [`TOKEN_EXTRA`], letters and digits, by byte.
static TOKEN_BYTE: [bool; 256] = byte_class(TOKEN_EXTRA);

/// A table of ASCII letters, digits and `extra`. Every ingested event's
/// `source` and `datacontenttype` are checked byte by byte, and a look-up
/// costs a fraction of searching `extra` for each byte (callgrind on
/// `ingest_parse`, docs/benchmarks.md "Attribute checks by table").
const fn byte_class(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_names() {
        for ok in ["a", "abc", "a1", "123", "partitionkey"] {
            assert!(check_extension_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "aString", "a_invalid_name", "a-b", "é", "data", "A"] {
            let e = check_extension_name(bad).unwrap_err();
            assert_eq!(e.field, bad);
        }
    }

    #[test]
    fn uris() {
        for ok in [
            "https://github.com/cloudevents",
            "mailto:cncf-wg-serverless@lists.cncf.io",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "cloudevents/spec/pull/123",
            "/sensors/tn-1234567/alerts",
            "1-555-123-4567",
            "/a%20b",
        ] {
            assert!(check_source(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "/a%2", "/a%zz", "ünïcode", "a\"b", "a<b>"] {
            assert_eq!(check_source(bad).unwrap_err().field, "source", "{bad}");
        }
        assert!(check_dataschema("http://localhost/schema").is_ok());
        assert!(check_dataschema("urn:x").is_ok());
        for bad in ["/relative/schema", "1http://x", ":x", ""] {
            assert!(check_dataschema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn media_types() {
        for ok in [
            "application/json",
            "text/plain; charset=utf-8",
            "application/vnd.example+json",
            "image/png",
        ] {
            assert!(check_datacontenttype(ok).is_ok(), "{ok}");
        }
        for bad in ["", "json", "/json", "application/", "a b/c"] {
            assert!(check_datacontenttype(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_byte_tables_hold_exactly_letters_digits_and_their_extras() {
        for c in 0..=255u8 {
            let alnum = c.is_ascii_alphanumeric();
            assert_eq!(
                URI_BYTE[usize::from(c)],
                alnum || b"-._~:/?#[]@!$&'()*+,;=".contains(&c),
                "URI byte {c}"
            );
            assert_eq!(
                TOKEN_BYTE[usize::from(c)],
                alnum || b"!#$&-^_.+".contains(&c) || c == b'\'' || c == b'*',
                "token byte {c}"
            );
        }
        assert!(
            !URI_BYTE[usize::from(b'%')],
            "% is an escape, checked apart"
        );
    }

    #[test]
    fn specversion() {
        assert!(check_specversion("1.0").is_ok());
        let e = check_specversion("0.3").unwrap_err();
        assert_eq!(e.kind, EventErrorKind::UnsupportedVersion);
        assert_eq!(e.field, "specversion");
        assert!(check_specversion("1.0.2").is_err());
    }
}
