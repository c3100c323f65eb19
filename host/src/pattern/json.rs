//! Small JSON helpers shared by the event scanner and the pattern reader, and a
//! tiny order-preserving JSON tree for patterns (it keeps duplicate keys and the
//! exact text of numbers, which `serde_json::Value` does not).

use super::error::{MatchErrorKind, PatternError};
use super::number;
use crate::event::simd::{CHUNK, string_masks_at};

#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

// ---------------------------------------------------------------------------
// String scanning, 16 bytes at a time (see `event/simd.rs` for why it is hand-written).
// ---------------------------------------------------------------------------

/// The 8 bytes at `at` as a little-endian word, if they are all inside `b`.
#[inline(always)]
pub(crate) fn load8(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let a: [u8; 8] = s.try_into().ok()?;
    Some(u64::from_le_bytes(a))
}

/// Index of the first `"`, `\\` (or, when `ascii` is set, byte ≥ 0x80) at or
/// after `pos`, or `b.len()` if there is none.
#[inline(always)]
fn find_special(b: &[u8], mut pos: usize, ascii: bool) -> usize {
    while let Some((qs, hi)) = string_masks_at(b, pos) {
        let m = if ascii { qs | hi } else { qs };
        if m != 0 {
            return pos + m.trailing_zeros() as usize;
        }
        pos += CHUNK;
    }
    b.len()
}

/// What [`string_scan`] found out about a string body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StrInfo {
    /// index of the closing quote
    pub end: usize,
    /// the body contains a backslash
    pub esc: bool,
    /// the body contains a byte ≥ 0x80
    pub non_ascii: bool,
}

/// `pos` is just after an opening quote. Finds the closing quote and reports
/// whether the body has escapes or non-ASCII bytes. Escapes are not validated.
#[inline]
pub(crate) fn string_scan(b: &[u8], mut pos: usize) -> Result<StrInfo, MatchErrorKind> {
    let mut esc = false;
    let mut non_ascii = false;
    loop {
        let at = find_special(b, pos, !non_ascii);
        match b.get(at) {
            Some(b'"') => {
                return Ok(StrInfo {
                    end: at,
                    esc,
                    non_ascii,
                });
            }
            Some(b'\\') => {
                esc = true;
                // the escaped byte is never the closing quote
                pos = at + 2;
                if pos > b.len() {
                    return Err(MatchErrorKind::UnexpectedEnd);
                }
            }
            Some(_) => {
                non_ascii = true;
                pos = at + 1;
            }
            None => return Err(MatchErrorKind::UnexpectedEnd),
        }
    }
}

/// `pos` is just after an opening quote. Returns the index of the closing quote and
/// whether the string contains a backslash. Escapes are not validated here.
#[inline]
pub(crate) fn string_end(buf: &[u8], mut pos: usize) -> Result<(usize, bool), MatchErrorKind> {
    let mut esc = false;
    loop {
        let at = find_special(buf, pos, false);
        match buf.get(at) {
            Some(b'"') => return Ok((at, esc)),
            Some(_) => {
                esc = true;
                pos = at + 2;
                if pos > buf.len() {
                    return Err(MatchErrorKind::UnexpectedEnd);
                }
            }
            None => return Err(MatchErrorKind::UnexpectedEnd),
        }
    }
}

fn hex4(b: &[u8]) -> Option<u32> {
    if b.len() < 4 {
        return None;
    }
    let mut v = 0u32;
    for &c in &b[..4] {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Decodes the escapes of a raw JSON string body (without quotes) into `out`.
/// Rejects unknown escapes and lone surrogates. Does not check UTF-8 of the rest.
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Result<(), MatchErrorKind> {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let Some(off) = memchr::memchr(b'\\', &raw[i..]) else {
            out.extend_from_slice(&raw[i..]);
            break;
        };
        out.extend_from_slice(&raw[i..i + off]);
        i += off + 1;
        let Some(&e) = raw.get(i) else {
            return Err(MatchErrorKind::BadEscape);
        };
        i += 1;
        let c = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = hex4(&raw[i..]).ok_or(MatchErrorKind::BadEscape)?;
                i += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    if raw.get(i) != Some(&b'\\') || raw.get(i + 1) != Some(&b'u') {
                        return Err(MatchErrorKind::BadUtf8);
                    }
                    let lo = hex4(&raw[i + 2..]).ok_or(MatchErrorKind::BadEscape)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(MatchErrorKind::BadUtf8);
                    }
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(MatchErrorKind::BadUtf8);
                } else {
                    hi
                };
                let ch = char::from_u32(cp).ok_or(MatchErrorKind::BadUtf8)?;
                let mut tmp = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                continue;
            }
            _ => return Err(MatchErrorKind::BadEscape),
        };
        out.push(c);
    }
    Ok(())
}

/// A JSON value of a pattern, in document order, with duplicate keys kept and
/// numbers as their original text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PVal {
    Null,
    Bool(bool),
    Num(Box<str>),
    Str(String),
    Arr(Vec<PVal>),
    Obj(Vec<(String, PVal)>),
}

impl PVal {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            PVal::Null => "null",
            PVal::Bool(_) => "a boolean",
            PVal::Num(_) => "a number",
            PVal::Str(_) => "a string",
            PVal::Arr(_) => "an array",
            PVal::Obj(_) => "an object",
        }
    }

    /// Short rendering for error messages.
    pub(crate) fn show(&self) -> String {
        let s = match self {
            PVal::Null => "null".to_string(),
            PVal::Bool(b) => b.to_string(),
            PVal::Num(n) => n.to_string(),
            PVal::Str(s) => format!("{s:?}"),
            PVal::Arr(_) => "[…]".to_string(),
            PVal::Obj(_) => "{…}".to_string(),
        };
        if s.len() > 80 {
            let mut cut = 77;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}…", &s[..cut])
        } else {
            s
        }
    }

    /// Converts a `serde_json::Value`. Numbers use serde_json's shortest
    /// round-trip text, so they keep their value (to f64 precision).
    pub(crate) fn from_serde(v: &serde_json::Value, depth: usize) -> Result<PVal, PatternError> {
        if depth > super::MAX_PATTERN_DEPTH {
            return Err(too_deep());
        }
        Ok(match v {
            serde_json::Value::Null => PVal::Null,
            serde_json::Value::Bool(b) => PVal::Bool(*b),
            serde_json::Value::Number(n) => PVal::Num(n.to_string().into_boxed_str()),
            serde_json::Value::String(s) => PVal::Str(s.clone()),
            serde_json::Value::Array(a) => PVal::Arr(
                a.iter()
                    .map(|x| PVal::from_serde(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(o) => PVal::Obj(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), PVal::from_serde(x, depth + 1)?)))
                    .collect::<Result<_, PatternError>>()?,
            ),
        })
    }
}

fn too_deep() -> PatternError {
    PatternError::invalid(
        "",
        format!(
            "pattern is nested more than {} levels deep",
            super::MAX_PATTERN_DEPTH
        ),
    )
}

/// Parses pattern text into a [`PVal`]. Strict JSON; bounded depth.
pub(crate) fn parse_pattern_text(text: &str) -> Result<PVal, PatternError> {
    let mut p = PParser {
        b: text.as_bytes(),
        pos: 0,
        tmp: Vec::new(),
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.b.len() {
        return Err(p.err("trailing characters after the pattern"));
    }
    Ok(v)
}

struct PParser<'a> {
    b: &'a [u8],
    pos: usize,
    tmp: Vec<u8>,
}

impl PParser<'_> {
    fn err(&self, m: &str) -> PatternError {
        PatternError::Json {
            offset: self.pos,
            message: m.to_string(),
        }
    }
    fn ws(&mut self) {
        while self.pos < self.b.len() && is_ws(self.b[self.pos]) {
            self.pos += 1;
        }
    }
    fn lit(&mut self, word: &[u8], v: PVal) -> Result<PVal, PatternError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err("unexpected character"))
        }
    }
    fn string(&mut self) -> Result<String, PatternError> {
        // at opening quote
        let start = self.pos + 1;
        let (end, esc) = string_end(self.b, start).map_err(|k| self.err(&k.to_string()))?;
        let raw = &self.b[start..end];
        if raw.iter().any(|c| *c < 0x20) {
            self.pos = start;
            return Err(self.err("control character in string"));
        }
        let s = if esc {
            unescape(raw, &mut self.tmp).map_err(|k| self.err(&k.to_string()))?;
            String::from_utf8(self.tmp.clone()).map_err(|_| self.err("invalid UTF-8"))?
        } else {
            std::str::from_utf8(raw)
                .map_err(|_| self.err("invalid UTF-8"))?
                .to_string()
        };
        self.pos = end + 1;
        Ok(s)
    }
    fn value(&mut self, depth: usize) -> Result<PVal, PatternError> {
        if depth > super::MAX_PATTERN_DEPTH {
            return Err(too_deep());
        }
        let Some(&c) = self.b.get(self.pos) else {
            return Err(self.err("unexpected end of input"));
        };
        match c {
            b'{' => {
                self.pos += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.b.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(PVal::Obj(fields));
                }
                loop {
                    self.ws();
                    if self.b.get(self.pos) != Some(&b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.pos) != Some(&b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.pos += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    fields.push((k, v));
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(PVal::Obj(fields));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(PVal::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(PVal::Arr(items));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            b'"' => Ok(PVal::Str(self.string()?)),
            b't' => self.lit(b"true", PVal::Bool(true)),
            b'f' => self.lit(b"false", PVal::Bool(false)),
            b'n' => self.lit(b"null", PVal::Null),
            b'-' | b'0'..=b'9' => {
                let Some(n) = number::scan_number(&self.b[self.pos..]) else {
                    return Err(self.err("invalid number"));
                };
                let t = &self.b[self.pos..self.pos + n];
                self.pos += n;
                // ASCII by construction
                Ok(PVal::Num(String::from_utf8_lossy(t).into()))
            }
            _ => Err(self.err("unexpected character")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes() {
        let mut o = Vec::new();
        unescape(br#"a\"b\\c\/\n\u00e9\ud83d\ude00"#, &mut o).unwrap();
        assert_eq!(std::str::from_utf8(&o).unwrap(), "a\"b\\c/\né😀");
        assert!(unescape(br"\x", &mut o).is_err());
        assert!(unescape(br"\ud83d", &mut o).is_err());
        assert!(unescape(br"\ude00", &mut o).is_err());
        assert!(unescape(br"\u12", &mut o).is_err());
        assert!(unescape(b"\\", &mut o).is_err());
    }

    #[test]
    fn pattern_text() {
        let v = parse_pattern_text(r#" {"a": [1, 3.0e2, "x", true, null], "a": {}} "#).unwrap();
        let PVal::Obj(f) = v else { panic!() };
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].1,
            PVal::Arr(vec![
                PVal::Num("1".into()),
                PVal::Num("3.0e2".into()),
                PVal::Str("x".into()),
                PVal::Bool(true),
                PVal::Null
            ])
        );
        for bad in [
            "",
            "{",
            "{\"a\" 1}",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "tru",
            "\"\u{1}\"",
            "{} x",
        ] {
            assert!(parse_pattern_text(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(1000);
        assert!(parse_pattern_text(&deep).is_err());
    }
}
