//! The CloudEvents HTTP binding's header encoding, shared by ingest (which
//! reads `ce-*` headers) and delivery (which writes them).
//!
//! Binary mode carries attributes in `ce-*` headers, percent-encoding space,
//! `"`, `%` and every byte outside printable ASCII (CloudEvents HTTP binding
//! §3.1.3.2). Encoding and decoding use the `percent-encoding` crate; decoding
//! is strict, as the binding asks producers to be: a `%` not followed by two
//! hex digits, or bytes that are not UTF-8, are an error rather than text.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode, utf8_percent_encode};

/// What the binding percent-encodes besides non-ASCII bytes.
const HEADER: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// Percent-encodes an attribute value for a `ce-*` header; borrowed when
/// nothing needs encoding, which is the usual case. The result is printable
/// ASCII, so it is always a valid header value.
pub fn encode_header_value(value: &str) -> std::borrow::Cow<'_, str> {
    // One pass that only asks "anything to encode?" answers the usual case
    // faster than the crate's encoder, which was 1.4% of a delivery's CPU
    // (10 rules × 1 target, docs/benchmarks.md). The set is printable ASCII
    // without space, `"` and `%`: the complement of `HEADER`.
    if value
        .bytes()
        .all(|b| matches!(b, b'!' | b'#'..=b'$' | b'&'..=b'~'))
    {
        return std::borrow::Cow::Borrowed(value);
    }
    utf8_percent_encode(value, HEADER).into()
}

/// Decodes a `ce-*` header value; `None` if an escape is malformed or the
/// result is not UTF-8.
pub fn decode_header_value(raw: &[u8]) -> Option<String> {
    let mut rest = raw;
    while let Some(i) = memchr::memchr(b'%', rest) {
        let hex = rest.get(i + 1..i + 3)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        rest = &rest[i + 3..];
    }
    percent_decode(raw)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in ["plain", "with space", "quote\"", "100%", "ünï", "tab\t", ""] {
            assert_eq!(
                decode_header_value(encode_header_value(s).as_bytes()).as_deref(),
                Some(s)
            );
        }
    }

    #[test]
    fn encodes_what_the_binding_asks() {
        assert_eq!(
            encode_header_value("plain-ASCII_1.2~!"),
            "plain-ASCII_1.2~!"
        );
        assert_eq!(encode_header_value("a b"), "a%20b");
        assert_eq!(encode_header_value("\"%"), "%22%25");
        assert_eq!(encode_header_value("é"), "%C3%A9");
        assert_eq!(encode_header_value("\t\n\u{7f}"), "%09%0A%7F");
    }

    #[test]
    fn the_fast_path_agrees_with_the_encoder() {
        let every_ascii: String = (0u8..=0x7f).map(char::from).collect();
        let mut samples: Vec<String> = every_ascii.chars().map(String::from).collect();
        samples.extend([
            every_ascii,
            "ünï".into(),
            "a\u{80}b".into(),
            "x".repeat(100),
        ]);
        for s in &samples {
            let encoded = encode_header_value(s);
            assert_eq!(encoded, utf8_percent_encode(s, HEADER).to_string(), "{s:?}");
            assert!(encoded.bytes().all(|b| (0x20..0x7f).contains(&b)), "{s:?}");
            if encoded == s.as_str() {
                assert!(matches!(encoded, std::borrow::Cow::Borrowed(_)), "{s:?}");
            }
        }
    }

    #[test]
    fn decoding_is_strict() {
        assert_eq!(decode_header_value(b"%4"), None);
        assert_eq!(decode_header_value(b"%zz"), None);
        assert_eq!(decode_header_value(b"%ff"), None, "not UTF-8");
        assert_eq!(decode_header_value(b"a%20b").as_deref(), Some("a b"));
    }
}
