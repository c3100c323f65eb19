//! Exact decimal handling of JSON numbers.
//!
//! Numbers are compared by value, following event-ruler's `ComparableNumber`:
//! a number takes part in numeric comparisons when it lies in
//! [`NUMBER_MIN`](super::NUMBER_MIN)`..=`[`NUMBER_MAX`](super::NUMBER_MAX) and has
//! at most [`NUMBER_DECIMALS`](super::NUMBER_DECIMALS) digits after the decimal point
//! (after trailing zeros are dropped). Such a number is represented exactly as an
//! `i64` holding the value × 10⁶. Every other number is still matchable by exact
//! value through its canonical decimal form (`canonical`).

use std::fmt::Write as _;

/// Largest magnitude of a scaled number: 5e9 × 1e6.
pub(crate) const SCALED_LIMIT: i64 = 5_000_000_000_000_000;

/// Returns the length of the JSON number at the start of `b`, if `b` starts with
/// a number that follows the JSON grammar `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(crate) fn scan_number(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    Some(i)
}

/// A JSON number literal split into its parts (text must already be validated).
struct Parts<'a> {
    neg: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp: i64,
}

fn split(text: &[u8]) -> Parts<'_> {
    let mut i = 0;
    let neg = text.first() == Some(&b'-');
    if neg {
        i = 1;
    }
    let is = i;
    while text.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int = &text[is..i];
    let mut frac: &[u8] = &[];
    if text.get(i) == Some(&b'.') {
        i += 1;
        let fs = i;
        while text.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac = &text[fs..i];
    }
    let mut exp: i64 = 0;
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        let mut eneg = false;
        match text.get(i) {
            Some(b'-') => {
                eneg = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        while let Some(d) = text.get(i).filter(|d| d.is_ascii_digit()) {
            // Saturate: anything this large is far outside every range we use.
            exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000_000_000);
            i += 1;
        }
        if eneg {
            exp = -exp;
        }
    }
    Parts {
        neg,
        int,
        frac,
        exp,
    }
}

/// Significant digits (no leading/trailing zeros) and exponent: value = digits × 10^exp.
struct Sig<'a> {
    neg: bool,
    parts: [&'a [u8]; 2],
    /// index range into the virtual concatenation `int ++ frac`
    start: usize,
    end: usize,
    exp: i64,
}

impl Sig<'_> {
    fn digit(&self, k: usize) -> u8 {
        let l0 = self.parts[0].len();
        if k < l0 {
            self.parts[0][k]
        } else {
            self.parts[1][k - l0]
        }
    }
    fn len(&self) -> usize {
        self.end - self.start
    }
}

fn significant(text: &[u8]) -> Sig<'_> {
    let p = split(text);
    let total = p.int.len() + p.frac.len();
    let at = |k: usize| {
        if k < p.int.len() {
            p.int[k]
        } else {
            p.frac[k - p.int.len()]
        }
    };
    let mut start = 0;
    while start < total && at(start) == b'0' {
        start += 1;
    }
    let mut end = total;
    while end > start && at(end - 1) == b'0' {
        end -= 1;
    }
    // value = concat × 10^(exp - frac.len()); dropping (total - end) trailing zeros
    let exp = p
        .exp
        .saturating_sub(p.frac.len() as i64)
        .saturating_add((total - end) as i64);
    Sig {
        neg: p.neg,
        parts: [p.int, p.frac],
        start,
        end,
        exp,
    }
}

/// The value × 10⁶ as an exact integer, if the number is within ±5e9 and has at
/// most six decimal places. `text` must be a valid JSON number.
#[inline]
pub(crate) fn scaled(text: &[u8]) -> Option<i64> {
    match scaled_plain(text) {
        Some(v) => v,
        None => scaled_general(text),
    }
}

/// [`scaled`] for the common plain form `-?int(.frac)?` with at most 10 integer
/// and 6 fraction digits (no exponent); `None` for every other form. Exact:
/// the value × 10⁶ fits an `i64` with room to spare.
#[inline]
fn scaled_plain(text: &[u8]) -> Option<Option<i64>> {
    let (neg, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut int: i64 = 0;
    let mut i = 0;
    while let Some(&d) = digits.get(i) {
        if !d.is_ascii_digit() {
            break;
        }
        if i == 10 {
            return None;
        }
        int = int * 10 + i64::from(d - b'0');
        i += 1;
    }
    let mut frac: i64 = 0;
    let mut scale: i64 = 1_000_000;
    if digits.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&d) = digits.get(i) {
            if !d.is_ascii_digit() {
                break;
            }
            if scale == 1 {
                return None;
            }
            scale /= 10;
            frac += i64::from(d - b'0') * scale;
            i += 1;
        }
    }
    if i != digits.len() {
        return None; // exponent: general path
    }
    let v = int * 1_000_000 + frac;
    if v > SCALED_LIMIT {
        return Some(None);
    }
    Some(Some(if neg { -v } else { v }))
}

fn scaled_general(text: &[u8]) -> Option<i64> {
    let s = significant(text);
    if s.len() == 0 {
        return Some(0);
    }
    let shift = s.exp.checked_add(6)?;
    if shift < 0 {
        return None; // more than six decimal places
    }
    if s.len() as i64 + shift > 16 {
        return None; // at least 1e16 > 5e15
    }
    let mut v: i64 = 0;
    for k in s.start..s.end {
        v = v * 10 + i64::from(s.digit(k) - b'0');
    }
    for _ in 0..shift {
        v *= 10;
    }
    if v > SCALED_LIMIT {
        return None;
    }
    Some(if s.neg { -v } else { v })
}

/// Appends the canonical form of a valid JSON number to `out`: two literals have the
/// same canonical form exactly when they denote the same value (`300`, `3.0e2`,
/// `300.0` → `3e2`; zero → `0`).
pub(crate) fn canonical(text: &[u8], out: &mut String) {
    let s = significant(text);
    if s.len() == 0 {
        out.push('0');
        return;
    }
    if s.neg {
        out.push('-');
    }
    for k in s.start..s.end {
        out.push(char::from(s.digit(k)));
    }
    let _ = write!(out, "e{}", s.exp);
}

/// Formats a scaled number back as a decimal string (for messages and docs).
pub(crate) fn format_scaled(v: i64) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let int = a / 1_000_000;
    let frac = a % 1_000_000;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let _ = write!(s, "{int}");
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(t: &str) -> String {
        let mut s = String::new();
        canonical(t.as_bytes(), &mut s);
        s
    }

    #[test]
    fn grammar() {
        for ok in [
            "0", "-0", "1", "12", "1.5", "1e5", "1E+5", "-1.25e-3", "0.000",
        ] {
            assert_eq!(scan_number(ok.as_bytes()), Some(ok.len()), "{ok}");
        }
        for bad in ["", "-", "01x", ".5", "1.", "1e", "1e+", "+1", "- 1"] {
            let r = scan_number(bad.as_bytes());
            assert!(r.is_none() || r != Some(bad.len()), "{bad}: {r:?}");
        }
        assert_eq!(scan_number(b"01"), Some(1));
    }

    #[test]
    fn scaled_values() {
        assert_eq!(scaled(b"300"), Some(300_000_000));
        assert_eq!(scaled(b"3.0e2"), Some(300_000_000));
        assert_eq!(scaled(b"300.0"), Some(300_000_000));
        assert_eq!(scaled(b"-0"), Some(0));
        assert_eq!(scaled(b"0.000001"), Some(1));
        assert_eq!(scaled(b"0.0000001"), None);
        assert_eq!(scaled(b"0.00000010"), None);
        assert_eq!(scaled(b"1.0000000"), Some(1_000_000));
        assert_eq!(scaled(b"5e9"), Some(SCALED_LIMIT));
        assert_eq!(scaled(b"-5000000000"), Some(-SCALED_LIMIT));
        assert_eq!(scaled(b"5000000000.000001"), None);
        assert_eq!(scaled(b"4999999999.999999"), Some(SCALED_LIMIT - 1));
        assert_eq!(scaled(b"1e100000000000000000000"), None);
        assert_eq!(scaled(b"1e-100000000000000000000"), None);
        assert_eq!(scaled(b"123456789012"), None);
    }

    #[test]
    fn plain_fast_path_agrees_with_general() {
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "1",
            "12",
            "1.5",
            "0.000001",
            "0.0000001",
            "1.0000000",
            "5000000000",
            "5000000000.000001",
            "4999999999.999999",
            "-5000000000",
            "9999999999",
            "12345678901",
            "0.100000",
            "1.10",
            "-0.5",
            "123.456789",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut seed = 5u64;
        for _ in 0..20000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let int = (seed >> 20) % 10_000_000_000_000;
            let int_digits = 1 + (seed >> 60) as usize % 12;
            let int = int % 10u64.pow(int_digits as u32);
            let nf = (seed >> 8) as usize % 9;
            let frac: String = (0..nf)
                .map(|k| char::from(b'0' + ((seed >> (k * 3)) % 10) as u8))
                .collect();
            let sign = if seed & 1 == 1 { "-" } else { "" };
            let t = if nf == 0 {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac}")
            };
            cases.push(t);
        }
        for t in cases {
            assert_eq!(scaled(t.as_bytes()), scaled_general(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canon("300"), "3e2");
        assert_eq!(canon("3.0e2"), "3e2");
        assert_eq!(canon("300.000"), "3e2");
        assert_eq!(canon("0.0"), "0");
        assert_eq!(canon("-0"), "0");
        assert_eq!(canon("-1.5"), "-15e-1");
        assert_eq!(
            canon("123456789012345678901234567890"),
            "12345678901234567890123456789e1"
        );
        assert_eq!(format_scaled(-1_500_000), "-1.5");
        assert_eq!(format_scaled(300_000_000), "300");
    }
}
