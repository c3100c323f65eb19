//! [`JsonText`]: JSON data that shares its memory with the body it came in.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// The exact text of an event's JSON data. Parsed from a request body, it is
/// a slice of that body: ingest copies no event's data on its way to the
/// log, and cloning an event (one per matching rule) copies no data either.
/// Copying the data of every event out of a batch had cost about 3% of the
/// server's CPU on batch ingest (docs/benchmarks.md, "JSON data as a slice of
/// the request body").
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct JsonText(
    /// Always valid UTF-8: every constructor takes a `str` or checks.
    Bytes,
);

impl JsonText {
    /// The part of `body` that `text` is; `text` must borrow from `body`
    /// (the parser's slices do), or this panics.
    pub fn slice_of(body: &Bytes, text: &str) -> JsonText {
        JsonText(body.slice_ref(text.as_bytes()))
    }

    /// `bytes` as text, if they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<JsonText, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(JsonText(bytes))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor takes a `str` or checks that the bytes
        // are UTF-8, and the bytes never change.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl Deref for JsonText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for JsonText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for JsonText {
    fn from(s: String) -> JsonText {
        JsonText(Bytes::from(s))
    }
}

impl From<&str> for JsonText {
    fn from(s: &str) -> JsonText {
        JsonText(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for JsonText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for JsonText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_of_a_body_shares_its_memory() {
        let body = Bytes::from_static(br#"[{"data":{"a":1}}]"#);
        let text = std::str::from_utf8(&body[9..16]).unwrap();
        let data = JsonText::slice_of(&body, text);
        assert_eq!(data, r#"{"a":1}"#);
        assert_eq!(data.as_ptr(), body[9..].as_ptr());
        assert_eq!(data.clone().as_ptr(), data.as_ptr());
        assert_eq!(format!("{data}"), r#"{"a":1}"#);
        assert_eq!(format!("{data:?}"), r#""{\"a\":1}""#);
    }

    #[test]
    fn bytes_become_text_only_if_they_are_utf8() {
        assert!(JsonText::from_utf8(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(
            JsonText::from_utf8(Bytes::from_static(b"[1]")).unwrap(),
            "[1]"
        );
        assert_eq!(JsonText::from(String::from("1")), JsonText::from("1"));
    }
}
