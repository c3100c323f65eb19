//! A validating JSON scanner for the JSON event format: it finds each
//! event's members and the exact text of their values in one pass, without
//! building any value.
//!
//! Ingest only needs, for every member of an event object, its name and the
//! text of its value: attributes are read from that text, and `data` is
//! stored as it came. `serde_json` can do this (`&RawValue` members), and
//! did until a profile of batch ingest put its skipping over `data` at
//! about 12% of the server's CPU. This scanner is hand-written because it
//! wins where it counts: the `ingest_parse` criterion benchmark (`cargo
//! bench --bench ingest_parse`) parses a batch of 100 one-KiB events in 20%
//! less time than with `serde_json`, and the server spends 8% less CPU per
//! event on batch ingest (docs/benchmarks.md). It walks the bytes once,
//! skips string bodies sixteen bytes at a time (`simd.rs`: SSE2 on
//! x86_64), and keeps no line and column bookkeeping.
//!
//! It accepts exactly what `serde_json` accepts (RFC 8259, nothing more: no
//! comments, no trailing commas, no leading zeros), which the tests check
//! against `serde_json` on generated documents. Nesting inside a value is
//! unlimited, as in `serde_json`'s own skipping, and costs one byte per
//! level in a stack on the heap, not the thread's stack; the work is linear
//! in the body's length.

use std::borrow::Cow;

use super::simd;

/// Where and why a body is not the JSON that was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScanError {
    /// A byte that does not fit the grammar, or the end of the body too soon.
    #[error("expected {expected} at byte {at}")]
    Syntax {
        /// Byte offset of the problem.
        at: usize,
        /// What would have been valid there.
        expected: &'static str,
    },
    /// A string breaks the rules for strings.
    #[error("{what} at byte {at}")]
    String {
        /// Byte offset of the problem.
        at: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The body is not UTF-8.
    #[error("the body is not UTF-8 (byte {at})")]
    Utf8 {
        /// Offset of the first byte that is not.
        at: usize,
    },
    /// A batch holds more entries than allowed; scanning stopped there.
    #[error("more than {limit} entries")]
    TooMany {
        /// The limit.
        limit: usize,
    },
}

/// One JSON value of a batch (or a structured body): an object's members,
/// borrowed from the body, or what the value is instead.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    /// Each member's name (unescaped) and the exact text of its value.
    Object(Vec<(Cow<'a, str>, &'a str)>),
    /// Not an object: "an array", "a string", …
    NotObject(&'static str),
}

/// Scans a structured-mode body: one JSON value, whitespace around it.
pub(crate) fn single(body: &[u8]) -> Result<Entry<'_>, ScanError> {
    let mut s = Scanner::new(body)?;
    s.skip_ws();
    let entry = s.entry()?;
    s.end()?;
    Ok(entry)
}

/// Scans a batch body: a JSON array of values, each becoming an [`Entry`].
/// Stops at the first entry past `max`.
pub(crate) fn batch(body: &[u8], max: usize) -> Result<Vec<Entry<'_>>, ScanError> {
    let mut s = Scanner::new(body)?;
    s.skip_ws();
    s.expect(b'[', "'['")?;
    s.skip_ws();
    let mut out = Vec::new();
    if s.peek() == Some(b']') {
        s.i += 1;
    } else {
        loop {
            if out.len() == max {
                return Err(ScanError::TooMany { limit: max });
            }
            out.push(s.entry()?);
            if !s.more(b']', "',' or ']'")? {
                break;
            }
        }
    }
    s.end()?;
    Ok(out)
}

/// Skips one JSON value in `text` and returns its length, or an error if
/// `text` does not start with a valid value (leading whitespace is not
/// skipped). For the tests' comparison with `serde_json`.
#[cfg(test)]
fn value_len(text: &str) -> Result<usize, ScanError> {
    let mut s = Scanner::new(text.as_bytes())?;
    s.skip_value()?;
    Ok(s.i)
}

struct Scanner<'a> {
    /// The body, checked to be UTF-8 once up front: everything outside
    /// strings must be ASCII anyway, so this checks every string at once.
    text: &'a str,
    b: &'a [u8],
    i: usize,
    /// Containers open while skipping a value (`[` or `{`), reused.
    stack: Vec<u8>,
}

impl<'a> Scanner<'a> {
    fn new(body: &'a [u8]) -> Result<Self, ScanError> {
        let text = std::str::from_utf8(body).map_err(|e| ScanError::Utf8 {
            at: e.valid_up_to(),
        })?;
        Ok(Scanner {
            text,
            b: body,
            i: 0,
            stack: Vec::new(),
        })
    }

    // The small steps below are always inlined: an event is about a
    // hundred tokens, and as calls (several returning a `Result` through
    // memory) they cost an eighth of the scan's instructions (callgrind on
    // `ingest_parse`: 1.089 M → 0.947 M per batch).
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn syntax(&self, expected: &'static str) -> ScanError {
        ScanError::Syntax {
            at: self.i,
            expected,
        }
    }

    #[inline(always)]
    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), ScanError> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.syntax(expected))
        }
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// After an element of an array or object: true at a `,` (another
    /// element follows; whitespace after the comma is skipped), false at
    /// `close` (consumed).
    #[inline(always)]
    fn more(&mut self, close: u8, expected: &'static str) -> Result<bool, ScanError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.skip_ws();
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.syntax(expected)),
        }
    }

    fn end(&mut self) -> Result<(), ScanError> {
        self.skip_ws();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(self.syntax("the end of the body"))
        }
    }

    /// One value at the current position (after whitespace): an object's
    /// members, or the kind of value it is.
    fn entry(&mut self) -> Result<Entry<'a>, ScanError> {
        let kind = match self.peek() {
            Some(b'{') => return self.members().map(Entry::Object),
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            _ => "a number",
        };
        self.skip_value()?;
        Ok(Entry::NotObject(kind))
    }

    /// The members of the object starting at the current `{`.
    fn members(&mut self) -> Result<Vec<(Cow<'a, str>, &'a str)>, ScanError> {
        self.i += 1;
        let mut members = Vec::with_capacity(12);
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(members);
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.syntax("a member name"));
            }
            let start = self.i;
            let escaped = self.skip_string()?;
            let name = if escaped {
                // Names with escapes are rare: decode them the thorough way,
                // which also refuses lone surrogates as serde_json does.
                let raw = &self.text[start..self.i];
                serde_json::from_str::<String>(raw)
                    .map(Cow::Owned)
                    .map_err(|_| ScanError::String {
                        at: start,
                        what: "a member name with an invalid escape",
                    })?
            } else {
                Cow::Borrowed(&self.text[start + 1..self.i - 1])
            };
            self.skip_ws();
            self.expect(b':', "':'")?;
            self.skip_ws();
            let value_start = self.i;
            self.skip_value()?;
            members.push((name, &self.text[value_start..self.i]));
            if !self.more(b'}', "',' or '}'")? {
                return Ok(members);
            }
        }
    }

    /// Skips one value at the current position (no leading whitespace).
    /// Iterative, like serde_json's own skipping, so deep nesting cannot
    /// overflow the thread's stack.
    fn skip_value(&mut self) -> Result<(), ScanError> {
        self.stack.clear();
        loop {
            // A value.
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.i += 1;
                    self.skip_ws();
                    if self.peek() == Some(closer(open).0) {
                        self.i += 1;
                    } else {
                        self.stack.push(open);
                        if open == b'{' {
                            self.member_name()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.skip_string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.skip_number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(self.syntax("a value")),
            }
            // After a value: close containers until one goes on.
            loop {
                let Some(&open) = self.stack.last() else {
                    return Ok(());
                };
                let (close, expected) = closer(open);
                if self.more(close, expected)? {
                    if open == b'{' {
                        self.member_name()?;
                    }
                    break;
                }
                self.stack.pop();
            }
        }
    }

    /// Inside an object being skipped: a name, a colon, and whitespace up
    /// to the value.
    #[inline(always)]
    fn member_name(&mut self) -> Result<(), ScanError> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax("a member name"));
        }
        self.skip_string()?;
        self.skip_ws();
        self.expect(b':', "':'")?;
        self.skip_ws();
        Ok(())
    }

    #[inline(always)]
    fn literal(&mut self, word: &'static [u8]) -> Result<(), ScanError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.syntax("a value"))
        }
    }

    #[inline(always)]
    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    #[inline(always)]
    fn skip_number(&mut self) -> Result<(), ScanError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.syntax("no leading zero"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.syntax("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.syntax("a digit"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.syntax("a digit"));
            }
        }
        Ok(())
    }

    /// Skips the string starting at the current `"`; true if it has escapes.
    /// Inlined: an event has about a hundred strings, most of them short
    /// member names, and the call itself cost a twentieth of the scan's
    /// instructions (callgrind on `ingest_parse`: 1.148 M → 1.089 M per
    /// batch).
    #[inline(always)]
    fn skip_string(&mut self) -> Result<bool, ScanError> {
        let start = self.i;
        let b = self.b;
        let mut i = self.i + 1;
        let mut escaped = false;
        loop {
            // Sixteen bytes at a time up to the first quote, backslash or
            // control character.
            i = simd::skip_to_special(b, i);
            match b.get(i) {
                None => {
                    return Err(ScanError::String {
                        at: start,
                        what: "a string without its closing quote",
                    });
                }
                Some(b'"') => {
                    self.i = i + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u')
                            if b.get(i + 2..i + 6)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            i += 6
                        }
                        _ => {
                            return Err(ScanError::String {
                                at: i,
                                what: "an invalid escape in a string",
                            });
                        }
                    }
                }
                Some(c) if *c < 0x20 => {
                    return Err(ScanError::String {
                        at: i,
                        what: "a control character in a string (escape it)",
                    });
                }
                Some(_) => i += 1,
            }
        }
    }
}

/// The byte that closes a container opened with `open` (`{` or `[`), and
/// what may follow one of its elements.
fn closer(open: u8) -> (u8, &'static str) {
    if open == b'{' {
        (b'}', "',' or '}'")
    } else {
        (b']', "',' or ']'")
    }
}

#[cfg(test)]
/// JSON-ish text: mostly valid pieces with some breakage, so both
/// valid and invalid documents come up often.
pub(crate) fn jsonish() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just("0".to_owned()),
        Just("-1.5e3".to_owned()),
        Just("01".to_owned()),
        Just("true".to_owned()),
        Just("nul".to_owned()),
        Just("null".to_owned()),
        "\"(\\PC|[\\\\\"\u{0}-\u{1f}]|\\\\u[0-9a-fA-FxX]{0,4}){0,40}\"",
        "[0-9eE.+-]{1,6}",
        Just(String::new()),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            (
                proptest::collection::vec(inner.clone(), 0..5),
                any::<bool>()
            )
                .prop_map(|(v, trailing)| format!(
                    "[{}{}]",
                    v.join(","),
                    if trailing { "," } else { "" }
                )),
            proptest::collection::vec(("\"[a-z\\\\\"]{0,3}\"", inner, " ?[:,]? ?"), 0..5).prop_map(
                |v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, val, sep)| format!("{k}{sep}{val}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }
            ),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_accepts(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    fn scan_accepts(text: &str) -> bool {
        let mut s = match Scanner::new(text.as_bytes()) {
            Ok(s) => s,
            Err(_) => return false,
        };
        s.skip_ws();
        s.skip_value().is_ok() && s.end().is_ok()
    }

    #[test]
    fn values_serde_json_accepts_and_refuses() {
        for ok in [
            "0",
            "-0",
            "1.5e+3",
            "-12.25E-2",
            "1e5",
            "true",
            "false",
            "null",
            r#""""#,
            r#""a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00""#,
            r#""é€😀""#,
            "[]",
            "{}",
            " [ 1 , { \"a\" : [ ] } , \"x\" ] ",
            r#"{"a":{"b":{"c":[1,2,{"d":null}]}}}"#,
            "\"\\uDEAD\"", // a lone surrogate is fine in a skipped value
        ] {
            assert!(scan_accepts(ok), "{ok}");
            assert!(serde_accepts(ok), "{ok}");
        }
        for bad in [
            "",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nul",
            "True",
            "\"abc",
            "\"a\\x\"",
            "\"a\\u12g4\"",
            "\"a\u{1}b\"",
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{1:2}",
            "{\"a\":1]",
            "[1}",
            "[",
            "{",
            "1 2",
            "// comment\n1",
            "NaN",
        ] {
            assert!(!scan_accepts(bad), "{bad:?}");
            assert!(!serde_accepts(bad), "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_is_linear_and_does_not_overflow() {
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(scan_accepts(&deep));
        let unclosed = "[{\"a\":".repeat(100_000);
        assert!(!scan_accepts(&unclosed));
    }

    #[test]
    fn strings_end_at_their_first_special_byte_wherever_it_falls() {
        // Every offset across three 16-byte chunks, at the end of the body
        // and with a later quote and control byte after it (which a wrong
        // step or mask would find instead).
        for n in 0..48 {
            let a = "a".repeat(n);
            for tail in ["", ",\"zz\u{1}\""] {
                let len = |text: String| value_len(&format!("{text}{tail}"));
                assert_eq!(len(format!(r#""{a}""#)), Ok(n + 2), "closing quote at {n}");
                assert_eq!(len(format!(r#""{a}\"""#)), Ok(n + 4), "escape at {n}");
                assert_eq!(len(format!(r#""{a} é""#)), Ok(n + 5), "no special at {n}");
                assert!(
                    matches!(len(format!(r#""{a}\q""#)), Err(ScanError::String { at, .. }) if at == n + 1),
                    "invalid escape at {n}"
                );
                for control in ['\u{1}', '\u{1f}'] {
                    assert!(
                        matches!(len(format!("\"{a}{control}\"")), Err(ScanError::String { at, .. }) if at == n + 1),
                        "control byte at {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn batch_entries_and_member_texts() {
        let body =
            br#" [ {"id" : "1", "data":{"a": [1, 2]} ,"x\u0041":true}, 5, "s", [1], null, {} ] "#;
        let entries = batch(body, 10).unwrap();
        assert_eq!(
            entries,
            vec![
                Entry::Object(vec![
                    ("id".into(), "\"1\""),
                    ("data".into(), r#"{"a": [1, 2]}"#),
                    ("xA".into(), "true"),
                ]),
                Entry::NotObject("a number"),
                Entry::NotObject("a string"),
                Entry::NotObject("an array"),
                Entry::NotObject("null"),
                Entry::Object(vec![]),
            ]
        );
        assert_eq!(batch(b"[{},{}]", 1), Err(ScanError::TooMany { limit: 1 }));
        assert_eq!(batch(b"[{},{}]", 2).unwrap().len(), 2);
        assert_eq!(batch(b"[]", 0).unwrap().len(), 0);
        assert!(matches!(
            batch(b"[{\"\\uD800\":1}]", 5),
            Err(ScanError::String { at: 2, .. })
        ));
        assert_eq!(
            batch(b"[{}] x", 5),
            Err(ScanError::Syntax {
                at: 5,
                expected: "the end of the body"
            })
        );
        assert_eq!(batch(b"[\"\xff\"]", 5), Err(ScanError::Utf8 { at: 2 }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn accepts_exactly_what_serde_json_accepts(text in super::jsonish(), ws in " {0,2}") {
            let text = format!("{ws}{text}{ws}");
            prop_assert_eq!(scan_accepts(&text), serde_accepts(&text), "{:?}", text);
            if let Ok(n) = value_len(text.trim_start()) {
                // The value's text is exactly what serde_json keeps as raw.
                let raw: Result<&serde_json::value::RawValue, _> =
                    serde_json::from_str(&text.trim_start()[..n]);
                prop_assert!(raw.is_ok(), "{:?}", text);
            }
        }
    }
}
