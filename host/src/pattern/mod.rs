//! Event-pattern matching for Signalbox: the AWS EventBridge / aws event-ruler
//! pattern language, with all rules of a bus compiled into one [`Matcher`].
//!
//! # The pattern language
//!
//! A pattern is a JSON object that mirrors the shape of the events it selects.
//! Objects nest; every leaf is an **array of alternatives**; a rule matches when
//! *every* named field matches *one* of its alternatives:
//!
//! ```
//! use signalbox::pattern::{Matcher, Pattern};
//!
//! let p = Pattern::parse(r#"{
//!   "source":      ["com.shop.orders"],
//!   "type":        [{"prefix": "order."}],
//!   "data": {
//!     "total":     [{"numeric": [">", 0, "<=", 500]}],
//!     "status":    [{"anything-but": ["CANCELLED", "FAILED"]}],
//!     "customer":  { "email": [{"suffix": {"equals-ignore-case": "@example.com"}}] },
//!     "coupon":    [{"exists": false}]
//!   }
//! }"#).unwrap();
//!
//! let mut m = Matcher::new();
//! m.add(7, &p);
//! let event = br#"{"source":"com.shop.orders","type":"order.placed",
//!   "data":{"total":42.5,"status":"PLACED","customer":{"email":"Ann@Example.COM"}}}"#;
//! let mut out = Vec::new();
//! m.matches_json(event, &mut out).unwrap();
//! assert_eq!(out, vec![7]);
//! ```
//!
//! Values and operators (each element of a leaf array is one alternative):
//!
//! | form | matches |
//! |---|---|
//! | `"text"`, `12`, `true`, `null` | that exact JSON value (typed: `"12"` ≠ `12`; numbers by value, so `300`, `3.0e2` and `300.0` are equal; a string that is an IP address matches that address in any notation) |
//! | `{"exactly": "text"}` | exactly that string (no IP interpretation) |
//! | `{"prefix": "p"}` / `{"suffix": "s"}` | strings starting / ending with it |
//! | `{"prefix": {"equals-ignore-case": "p"}}`, same for `suffix` | case-insensitive prefix / suffix |
//! | `{"equals-ignore-case": "v"}` | strings equal ignoring case (Unicode lower-casing) |
//! | `{"wildcard": "a*b"}` | strings matching; `*` = any run of characters, `\*` and `\\` are literals; `**` is rejected |
//! | `{"anything-but": v}` | any value except: a string or list of strings, a number or list of numbers, or `{"prefix": …}`, `{"suffix": …}`, `{"equals-ignore-case": …}`, `{"wildcard": …}` (each a string or list of strings). Values of another type always pass (e.g. `{"anything-but": "x"}` matches `5`). |
//! | `{"numeric": ["=", 5]}`, `["<", 5]`, `[">=", 0, "<", 10]` … | JSON numbers in the range (−5e9…5e9, six decimal places) |
//! | `{"exists": true}` / `{"exists": false}` | the field has a leaf value (any type, including `null`) / has none |
//! | `{"cidr": "10.0.0.0/24"}` | strings that are IPv4/IPv6 addresses in the network |
//! | `{"contains": "sub"}` *(extension)* | strings containing the substring |
//! | `{"regex": "[a-z]+-\\d+"}` *(extension)* | strings the regular expression matches **in full** (linear-time `regex` crate syntax) |
//!
//! `"$or": [ {…}, {…} ]` (at any level, at least two objects) means any of the
//! objects; the pattern is expanded into one *sub-rule* per combination (DNF),
//! exactly like event-ruler's `JsonRuleCompiler`. Inside `$or` alternatives the
//! operator names are reserved and cannot be field names.
//!
//! Event fields that are arrays match when any element matches. Conditions on
//! fields of objects inside one array must hold **in the same array element**
//! (array-consistent matching, event-ruler `rulesForJSONEvent`): with
//! `{"items": {"sku": ["A"], "qty": [2]}}` the event
//! `{"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}` does *not* match.
//!
//! `null` matches JSON `null`; `""` matches the empty string; an event field that
//! is `[]` has no values (it matches `exists: false`, nothing else); an empty
//! value list `[]` in a pattern is rejected. Keys are joined with `.`, so
//! `{"a": {"b": …}}` and `{"a.b": …}` name the same field (as in event-ruler).
//! `exists` only sees leaves: a field whose value is an object "does not exist".
//!
//! # CloudEvents envelope
//!
//! Patterns match a JSON object. For CloudEvents the host builds that object: the
//! context attributes and extensions (`id`, `source`, `type`, `subject`, `time`,
//! …) at the top level and the event's JSON `data` under `data`. Non-JSON data
//! (binary, XML, text) is not matchable by content; only its attributes are.
//!
//! # Limits
//!
//! Patterns are validated like EventBridge does (unknown operators, wrong operand
//! types, non-array leaves, empty arrays, numbers out of range, bad CIDR, bad
//! `$or`, `**` wildcards, …) and additionally bounded by the constants below
//! ([`MAX_PATTERN_BYTES`], [`MAX_PATTERN_DEPTH`], [`MAX_VALUES_PER_FIELD`],
//! [`MAX_VALUES_PER_PATTERN`], [`MAX_SUB_RULES`], [`MAX_FIELDS_PER_SUB_RULE`],
//! [`MAX_OPERAND_BYTES`], [`MAX_WILDCARD_STARS`], [`MAX_REGEX_BYTES`],
//! [`MAX_REGEX_COMPILED_BYTES`], [`MAX_REGEX_DFA_BYTES`]); documents by
//! [`MAX_DOCUMENT_DEPTH`]. Errors are [`PatternError`] (its `Display` names the
//! path and the operator) and [`MatchError`].
//!
//! # How the matcher works
//!
//! All field paths used by any rule form a trie. One pass over the event bytes
//! (hand-written scanner, see `scan.rs` for why) follows the trie and skips
//! every subtree no rule mentions without decoding it: 16 bytes at a time are
//! classified into quote / backslash / bracket masks (SSE2 on x86_64, a
//! word-at-a-time fallback elsewhere), so skipping runs close to `memchr`
//! speed. A key is looked up in one table of trie edges keyed by (parent node,
//! the key's length and first/last 8 bytes), read straight out of the same
//! 16-byte chunk that located the key's end; short keys compare no bytes.
//!
//! At a rule path the value goes to that path's value index: byte-string maps
//! for exact values and case-folded values (compared through the same summary
//! words), prefix/suffix maps probed once per distinct operand length,
//! wildcards bucketed by their literal prefix, blocked sorted interval sets for
//! numeric ranges and CIDR blocks, per-pattern scans for `contains`/`regex`, and
//! `anything-but` as negated entries that fire unless the value is excluded. A
//! per-field bitmask of the kinds of operators present lets a value skip
//! everything that cannot apply to it; plain ASCII strings are used in place,
//! with no copy and no UTF-8 check.
//!
//! Each satisfied *condition* (a path with its alternatives, shared between
//! rules) is recorded with epoch stamps, so nothing is cleared between events.
//! Every sub-rule is registered under one *pivot*, its most selective required
//! condition, and only pivots are in the value indexes. The sub-rules of a
//! pivot are grouped by their next most selective condition, so one check
//! accepts or rejects a whole group. Other conditions are evaluated lazily
//! (once per event, memoised) against the recorded values of their field, and
//! when many lazy conditions of one field are asked for in an event they are
//! answered together by a second, *batch* index of that field. A sub-rule whose
//! conditions all hold is a match, unless arrays or `exists: false` are
//! involved: then the array positions of the hits are checked for consistency —
//! an intersection of element-index bitmasks in the common one-array case, a
//! small search over the hits otherwise. Per-event cost is proportional to the
//! event's size, the values at rule paths and the candidates their pivots
//! produce, not to the number of rules; adding or removing a rule only touches
//! that rule's entries.

pub mod cesql;
pub mod envelope;
mod error;
mod field;
mod index;
mod ip;
mod json;
mod keys;
mod matcher;
mod number;
mod ops;
mod parse;
mod reference;
mod scan;
mod wildcard;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod conformance_tests;

#[cfg(test)]
mod prop_tests;

#[cfg(test)]
mod scan_prop_tests;

pub use envelope::envelope_json;
pub use error::{MatchError, MatchErrorKind, PatternError};
pub use matcher::{MATCH_BUDGET, MatchScratch, Matcher, RuleId};
pub use parse::Pattern;
pub use reference::reference_matches;

/// Largest accepted pattern text, in bytes (64 KiB).
pub const MAX_PATTERN_BYTES: usize = 64 * 1024;

/// Deepest JSON nesting accepted in a pattern (objects and arrays both count).
pub const MAX_PATTERN_DEPTH: usize = 32;

/// Most values (alternatives, including operator objects) in one field's list.
pub const MAX_VALUES_PER_FIELD: usize = 1024;

/// Most values in a whole pattern, counted before `$or` expansion (each element
/// of an `anything-but` list counts too).
pub const MAX_VALUES_PER_PATTERN: usize = 4096;

/// Most sub-rules a pattern may expand into through `$or` combinations.
pub const MAX_SUB_RULES: usize = 256;

/// Most distinct field paths in one sub-rule.
pub const MAX_FIELDS_PER_SUB_RULE: usize = 128;

/// Longest string operand (value, prefix, wildcard, …), in bytes.
pub const MAX_OPERAND_BYTES: usize = 4096;

/// Most `*` wildcard characters in one `wildcard` value. Matching is linear in
/// the value length whatever the count (greedy segment search), so this bounds
/// pattern complexity rather than protecting the matcher.
pub const MAX_WILDCARD_STARS: usize = 16;

/// Longest `regex` operand, in bytes.
pub const MAX_REGEX_BYTES: usize = 1024;

/// Largest compiled program of one `regex` operand (the `regex` crate's `size_limit`).
pub const MAX_REGEX_COMPILED_BYTES: usize = 256 * 1024;

/// Cache budget of one `regex` operand's lazy DFA (`dfa_size_limit`).
pub const MAX_REGEX_DFA_BYTES: usize = 1024 * 1024;

/// Deepest nesting of objects/arrays accepted in an event document.
pub const MAX_DOCUMENT_DEPTH: usize = 512;

/// Smallest number usable in numeric comparisons (EventBridge's documented range).
pub const NUMBER_MIN: f64 = -5.0e9;

/// Largest number usable in numeric comparisons.
pub const NUMBER_MAX: f64 = 5.0e9;

/// Digits after the decimal point kept by numeric comparisons; numbers with more
/// decimals never satisfy `numeric` (they can still match an exact number value).
pub const NUMBER_DECIMALS: u32 = 6;

#[cfg(test)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Matcher>();
    is::<Pattern>();
}
