//! The compiled form of one pattern: sub-rules (after `$or` expansion) made of
//! field conditions, each a list of value operators. Also the direct
//! ("obviously correct") meaning of every operator on one event value, used by
//! the reference evaluator.

use super::ip::{IpRange, parse_ip_bytes};
use super::number;
use super::wildcard::Wildcard;

/// Exact-value key of a number: scaled when in the comparable range, else canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum NumKey {
    Scaled(i64),
    Other(Box<str>),
}

impl NumKey {
    /// `text` must be a valid JSON number.
    pub(crate) fn from_text(text: &[u8]) -> NumKey {
        match number::scaled(text) {
            Some(v) => NumKey::Scaled(v),
            None => {
                let mut s = String::new();
                number::canonical(text, &mut s);
                NumKey::Other(s.into_boxed_str())
            }
        }
    }
}

/// A compiled `regex` operand (anchored: the whole string must match).
#[derive(Clone)]
pub(crate) struct RegexOp {
    pub src: Box<str>,
    /// byte-oriented (Unicode-aware) regex: on valid UTF-8 it matches exactly
    /// like `regex::Regex`, without needing a `&str`
    pub re: regex::bytes::Regex,
}

impl std::fmt::Debug for RegexOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex({:?})", self.src)
    }
}

/// One value operator. String operands of the `*Ic` forms are stored case-folded.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    ExactStr(Box<str>),
    ExactNum(NumKey),
    ExactBool(bool),
    ExactNull,
    Ip(IpRange),
    Prefix(Box<str>),
    Suffix(Box<str>),
    PrefixIc(Box<str>),
    SuffixIc(Box<str>),
    EqIc(Box<str>),
    Wildcard(Wildcard),
    /// inclusive, scaled ×1e6
    Range(i64, i64),
    Contains(Box<str>),
    Regex(RegexOp),
    Exists,
    AbStr(Vec<Box<str>>),
    AbNum(Vec<i64>),
    AbPrefix(Vec<Box<str>>),
    AbSuffix(Vec<Box<str>>),
    AbIc(Vec<Box<str>>),
    AbWildcard(Vec<Wildcard>),
}

/// One event value (a JSON leaf).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leaf<'a> {
    /// the decoded string; always valid UTF-8 (the scanner checks every string
    /// it hands out, with an ASCII fast path that needs no check)
    Str(&'a [u8]),
    /// the JSON number text (valid grammar)
    Num(&'a [u8]),
    Bool(bool),
    Null,
}

/// Case folding used by every `equals-ignore-case` form: Unicode lower-casing
/// (like Java's `toLowerCase(Locale.ROOT)`), with final sigma `ς` folded to `σ`
/// so that word position does not matter; ASCII fast path.
pub(crate) fn fold_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        for c in s.to_lowercase().chars() {
            out.push(if c == 'ς' { 'σ' } else { c });
        }
    }
}

/// [`fold_into`] for a UTF-8 byte string (an event value).
pub(crate) fn fold_bytes_into(b: &[u8], out: &mut String) {
    if b.is_ascii() {
        out.clear();
        out.extend(b.iter().map(|c| char::from(c.to_ascii_lowercase())));
    } else {
        fold_into(&String::from_utf8_lossy(b), out);
    }
}

pub(crate) fn fold(s: &str) -> String {
    let mut o = String::new();
    fold_into(s, &mut o);
    o
}

fn fold_bytes(b: &[u8]) -> String {
    let mut o = String::new();
    fold_bytes_into(b, &mut o);
    o
}

/// `v` equals the folded operand `p` ignoring case.
fn eq_ic(v: &[u8], p: &str) -> bool {
    if v.is_ascii() && p.is_ascii() {
        v.eq_ignore_ascii_case(p.as_bytes())
    } else {
        fold_bytes(v) == *p
    }
}

impl Op {
    /// [`matches`](Self::matches) for a number leaf whose scaled value
    /// ([`number::scaled`] of `text`) is already known.
    pub(crate) fn matches_num(&self, text: &[u8], scaled: Option<i64>) -> bool {
        match self {
            Op::Exists
            | Op::AbStr(_)
            | Op::AbPrefix(_)
            | Op::AbSuffix(_)
            | Op::AbIc(_)
            | Op::AbWildcard(_) => true,
            Op::ExactNum(NumKey::Scaled(k)) => scaled == Some(*k),
            Op::ExactNum(k @ NumKey::Other(_)) => scaled.is_none() && NumKey::from_text(text) == *k,
            Op::Range(lo, hi) => scaled.is_some_and(|x| *lo <= x && x <= *hi),
            Op::AbNum(set) => !scaled.is_some_and(|x| set.contains(&x)),
            _ => false,
        }
    }

    /// Whether this operator is satisfied by the event value `leaf`.
    pub(crate) fn matches(&self, leaf: &Leaf<'_>) -> bool {
        match (self, leaf) {
            (Op::Exists, _) => true,
            (Op::ExactStr(s), Leaf::Str(v)) => s.as_bytes() == *v,
            (Op::ExactNum(k), Leaf::Num(t)) => NumKey::from_text(t) == *k,
            (Op::ExactBool(b), Leaf::Bool(v)) => b == v,
            (Op::ExactNull, Leaf::Null) => true,
            (Op::Ip(r), Leaf::Str(v)) => parse_ip_bytes(v).is_some_and(|ip| r.contains(ip)),
            (Op::Prefix(p), Leaf::Str(v)) => v.starts_with(p.as_bytes()),
            (Op::Suffix(p), Leaf::Str(v)) => v.ends_with(p.as_bytes()),
            (Op::PrefixIc(p), Leaf::Str(v)) => {
                if v.is_ascii() && p.is_ascii() {
                    v.len() >= p.len() && v[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                } else {
                    fold_bytes(v).starts_with(&**p)
                }
            }
            (Op::SuffixIc(p), Leaf::Str(v)) => {
                if v.is_ascii() && p.is_ascii() {
                    v.len() >= p.len() && v[v.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
                } else {
                    fold_bytes(v).ends_with(&**p)
                }
            }
            (Op::EqIc(p), Leaf::Str(v)) => eq_ic(v, p),
            (Op::Wildcard(w), Leaf::Str(v)) => w.matches(v),
            (Op::Range(lo, hi), Leaf::Num(t)) => {
                number::scaled(t).is_some_and(|x| *lo <= x && x <= *hi)
            }
            (Op::Contains(p), Leaf::Str(v)) => memchr::memmem::find(v, p.as_bytes()).is_some(),
            (Op::Regex(r), Leaf::Str(v)) => r.re.is_match(v),
            (Op::AbStr(set), _) => {
                !matches!(leaf, Leaf::Str(v) if set.iter().any(|s| s.as_bytes() == *v))
            }
            (Op::AbNum(set), _) => !matches!(leaf,
                Leaf::Num(t) if number::scaled(t).is_some_and(|x| set.contains(&x))),
            (Op::AbPrefix(set), _) => !matches!(leaf,
                Leaf::Str(v) if set.iter().any(|p| v.starts_with(p.as_bytes()))),
            (Op::AbSuffix(set), _) => !matches!(leaf,
                Leaf::Str(v) if set.iter().any(|p| v.ends_with(p.as_bytes()))),
            (Op::AbIc(set), _) => !matches!(leaf, Leaf::Str(v) if set.iter().any(|p| eq_ic(v, p))),
            (Op::AbWildcard(set), _) => !matches!(leaf,
                Leaf::Str(v) if set.iter().any(|w| w.matches(v))),
            _ => false,
        }
    }
}

/// A condition on one field path: satisfied by a value matching any of `ops`,
/// or (when `absent`) by the field having no value at all.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    /// Dotted path, as event-ruler flattens it (`detail.state`).
    pub path: Box<str>,
    pub ops: Vec<Op>,
    /// `{"exists": false}` was among the values.
    pub absent: bool,
}

/// A conjunction of conditions with distinct paths, sorted by path bytes
/// (the order event-ruler walks them in, which matters for `exists: false`
/// inside arrays).
#[derive(Debug, Clone)]
pub(crate) struct SubRule {
    pub conds: Vec<Cond>,
}
