//! A borrowed, flat JSON document for fast validation.
//!
//! Validating an event means parsing its data first, and parsing into a
//! [`serde_json::Value`] costs more than validating it: every member name and
//! string is its own heap allocation and every object a `BTreeMap` (for a
//! 1 KiB order event, ~3.3 µs to parse against ~0.8 µs to validate on the
//! development machine).
//!
//! [`Doc`] is the same tree laid out flat, in document order, in one vector:
//! a container entry records how many children it has and where its last
//! descendant ends, an object's members are a name entry followed by the
//! value's entries, and strings borrow from the event's JSON text unless they
//! contain escapes. Parsing (still by `serde_json`, so the grammar and error
//! messages are its own) therefore costs one allocation per document.
//!
//! The `jsonschema` crate validates any representation that implements its
//! [`jsonschema::json`] traits; [`DocJson`] is that implementation, with
//! [`DocNode`] a position in a `Doc`. Objects are searched linearly, which
//! beats hashing for the small objects events carry. When a member name
//! appears twice the last one is what a lookup finds, as with
//! `serde_json::Value`; both are validated where a keyword visits every member.

use std::borrow::Cow;
use std::fmt;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A parsed JSON document borrowing from its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Doc<'a> {
    entries: Vec<Entry<'a>>,
}

/// One entry of a [`Doc`], in document order.
#[derive(Debug, Clone, PartialEq)]
enum Entry<'a> {
    Null,
    Bool(bool),
    Num(Num),
    Str(Cow<'a, str>),
    /// An array of `len` items; its entries end before index `end`.
    Arr {
        len: usize,
        end: usize,
    },
    /// An object of `len` members; its entries end before index `end`.
    Obj {
        len: usize,
        end: usize,
    },
    /// A member name; the member's value follows.
    Key(Cow<'a, str>),
}

/// A JSON number as `serde_json` reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// A non-negative integer.
    U(u64),
    /// A negative integer.
    I(i64),
    /// Anything with a fraction or exponent, or out of integer range.
    F(f64),
}

impl<'a> Doc<'a> {
    /// The document `null` (the data of an event without data).
    pub(crate) fn null() -> Doc<'static> {
        Doc {
            entries: vec![Entry::Null],
        }
    }

    /// Parses JSON text.
    pub(crate) fn parse(text: &'a str) -> Result<Doc<'a>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let doc = Doc::fill(&mut de, text.len())?;
        de.end()?;
        Ok(doc)
    }

    /// Parses JSON bytes.
    pub(crate) fn parse_slice(bytes: &'a [u8]) -> Result<Doc<'a>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let doc = Doc::fill(&mut de, bytes.len())?;
        de.end()?;
        Ok(doc)
    }

    fn fill<D: Deserializer<'a>>(de: D, text_len: usize) -> Result<Doc<'a>, D::Error> {
        // About one entry per 10 bytes of typical event JSON; capped so a
        // large event does not reserve far more than it needs up front.
        let mut entries = Vec::with_capacity((text_len / 10 + 4).min(4096));
        Fill(&mut entries).deserialize(de)?;
        Ok(Doc { entries })
    }

    /// The root value.
    pub(crate) fn root(&self) -> DocNode<'_> {
        DocNode {
            tape: &self.entries,
            at: 0,
        }
    }
}

impl Num {
    fn number(self) -> serde_json::Number {
        match self {
            Num::U(u) => u.into(),
            Num::I(i) => i.into(),
            // JSON text never holds a non-finite number.
            Num::F(f) => serde_json::Number::from_f64(f).unwrap_or_else(|| 0.into()),
        }
    }
}

// ---- parsing -------------------------------------------------------------------

/// serde_json's private marker for numbers under its `arbitrary_precision`
/// feature, which another crate in a build could switch on.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Appends the entries of one value to the tape.
struct Fill<'t, 'de>(&'t mut Vec<Entry<'de>>);

impl<'de> DeserializeSeed<'de> for Fill<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fill<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Entry::Null);
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(Entry::Bool(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(Entry::Num(Num::U(v)));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        // serde_json hands non-negative integers to visit_u64; keep one form.
        self.0
            .push(Entry::Num(u64::try_from(v).map_or(Num::I(v), Num::U)));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Entry::Num(Num::F(v)));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.0.push(Entry::Str(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Entry::Str(Cow::Owned(v.to_owned())));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.0.push(Entry::Str(Cow::Owned(v)));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let at = self.0.len();
        self.0.push(Entry::Arr { len: 0, end: 0 });
        let mut len = 0;
        while seq.next_element_seed(Fill(&mut *self.0))?.is_some() {
            len += 1;
        }
        let end = self.0.len();
        self.0[at] = Entry::Arr { len, end };
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at = self.0.len();
        self.0.push(Entry::Obj { len: 0, end: 0 });
        let mut len = 0;
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            if len == 0 && name == NUMBER_TOKEN {
                let text = map.next_value::<Key<'de>>()?.0;
                self.0[at] = Entry::Num(number_from_text(&text).map_err(de::Error::custom)?);
                return Ok(());
            }
            self.0.push(Entry::Key(name));
            map.next_value_seed(Fill(&mut *self.0))?;
            len += 1;
        }
        let end = self.0.len();
        self.0[at] = Entry::Obj { len, end };
        Ok(())
    }
}

fn number_from_text(text: &str) -> Result<Num, String> {
    if let Ok(u) = text.parse::<u64>() {
        return Ok(Num::U(u));
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Num::I(i));
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Num::F(f)),
        _ => Err(format!("number {text} is out of range")),
    }
}

/// A string that borrows from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

// ---- the jsonschema representation ---------------------------------------------

/// The `jsonschema` representation of [`Doc`].
pub(crate) struct DocJson;

/// A value in a [`Doc`]: the tape and the index of the value's first entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocNode<'a> {
    tape: &'a [Entry<'a>],
    at: usize,
}

impl<'a> DocNode<'a> {
    fn entry(&self) -> &'a Entry<'a> {
        // `at` always indexes a value entry of `tape`: nodes are made only
        // by `Doc::root`, `with_string_node` and the iterators below.
        &self.tape[self.at]
    }

    /// The index just past this value's entries.
    fn end(&self) -> usize {
        match self.entry() {
            Entry::Arr { end, .. } | Entry::Obj { end, .. } => *end,
            _ => self.at + 1,
        }
    }

    fn at(&self, at: usize) -> DocNode<'a> {
        DocNode {
            tape: self.tape,
            at,
        }
    }

    fn to_value(self) -> Value {
        match self.entry() {
            Entry::Null | Entry::Key(_) => Value::Null,
            Entry::Bool(b) => Value::Bool(*b),
            Entry::Num(n) => Value::Number(n.number()),
            Entry::Str(s) => Value::String(s.clone().into_owned()),
            Entry::Arr { .. } => Value::Array(Elements::of(self).map(DocNode::to_value).collect()),
            Entry::Obj { .. } => Value::Object(
                Members::of(self)
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl Json for DocJson {
    type Node<'a> = DocNode<'a>;
    type PreparedKey = String;
    type StringBuffer = ();

    // Lookups scan the members, so one pass over them is never worse.
    const KEYS_PER_LOOKUP: usize = 8;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(Self::Node<'_>) -> T) -> T {
        let tape = [Entry::Str(Cow::Borrowed(string))];
        f(DocNode { tape: &tape, at: 0 })
    }
}

impl<'a> Node<'a, DocJson> for DocNode<'a> {
    type Object = DocObject<'a>;
    type Array = DocArray<'a>;
    type Number = Num;

    fn as_object(&self) -> Option<DocObject<'a>> {
        match self.entry() {
            Entry::Obj { len, .. } => Some(DocObject {
                node: *self,
                len: *len,
            }),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<DocArray<'a>> {
        match self.entry() {
            Entry::Arr { len, .. } => Some(DocArray {
                node: *self,
                len: *len,
            }),
            _ => None,
        }
    }
    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self.entry() {
            Entry::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<Num> {
        match self.entry() {
            Entry::Num(n) => Some(*n),
            _ => None,
        }
    }
    fn as_boolean(&self) -> Option<bool> {
        match self.entry() {
            Entry::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self.entry(), Entry::Null)
    }
    fn json_type(&self) -> JsonType {
        match self.entry() {
            Entry::Null | Entry::Key(_) => JsonType::Null,
            Entry::Bool(_) => JsonType::Boolean,
            Entry::Num(_) => JsonType::Number,
            Entry::Str(_) => JsonType::String,
            Entry::Arr { .. } => JsonType::Array,
            Entry::Obj { .. } => JsonType::Object,
        }
    }
    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        let Entry::Str(s) = self.entry() else {
            return None;
        };
        // A code point is one to four bytes: decide from the byte length
        // when it settles the question, count otherwise.
        let bytes = s.len() as u64;
        if bytes < min || bytes.div_ceil(4) > max {
            return Some(false);
        }
        if min <= bytes.div_ceil(4) && bytes <= max {
            return Some(true);
        }
        Some((min..=max).contains(&(s.chars().count() as u64)))
    }
    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(DocNode::to_value(*self))
    }
    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(
            std::ptr::from_ref::<Entry<'a>>(self.entry()) as usize,
        ))
    }
}

/// An object in a [`Doc`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocObject<'a> {
    node: DocNode<'a>,
    len: usize,
}

impl<'a> Object<'a, DocJson> for DocObject<'a> {
    type Node = DocNode<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        self.len
    }
    fn get(&self, key: &String) -> Option<DocNode<'a>> {
        // The last member of that name wins, as in serde_json.
        Members::of(self.node)
            .filter(|(name, _)| *name == key.as_str())
            .last()
            .map(|(_, value)| value)
    }
    fn members(&self) -> Members<'a> {
        Members::of(self.node)
    }
}

/// The members of an object in a [`Doc`].
pub(crate) struct Members<'a> {
    node: DocNode<'a>,
    end: usize,
}

impl<'a> Members<'a> {
    /// The members of the object at `object`.
    fn of(object: DocNode<'a>) -> Members<'a> {
        Members {
            end: object.end(),
            node: object.at(object.at + 1),
        }
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, DocNode<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.node.at >= self.end {
            return None;
        }
        let Entry::Key(name) = self.node.entry() else {
            // Unreachable by construction; end the iteration rather than panic.
            self.node.at = self.end;
            return None;
        };
        let value = self.node.at(self.node.at + 1);
        self.node.at = value.end();
        Some((name.as_ref(), value))
    }
}

/// An array in a [`Doc`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocArray<'a> {
    node: DocNode<'a>,
    len: usize,
}

impl<'a> Array<'a, DocJson> for DocArray<'a> {
    type Node = DocNode<'a>;
    type ElementsIter = Elements<'a>;

    fn len(&self) -> usize {
        self.len
    }
    fn elements(&self) -> Elements<'a> {
        Elements::of(self.node)
    }
}

/// The items of an array in a [`Doc`].
pub(crate) struct Elements<'a> {
    node: DocNode<'a>,
    end: usize,
}

impl<'a> Elements<'a> {
    fn of(array: DocNode<'a>) -> Elements<'a> {
        Elements {
            end: array.end(),
            node: array.at(array.at + 1),
        }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = DocNode<'a>;
    fn next(&mut self) -> Option<DocNode<'a>> {
        if self.node.at >= self.end {
            return None;
        }
        let item = self.node;
        self.node.at = item.end();
        Some(item)
    }
}

impl JsonNumber for Num {
    fn as_u64(&self) -> Option<u64> {
        match *self {
            Num::U(u) => Some(u),
            Num::I(_) | Num::F(_) => None,
        }
    }
    fn as_i64(&self) -> Option<i64> {
        match *self {
            Num::U(u) => i64::try_from(u).ok(),
            Num::I(i) => Some(i),
            Num::F(_) => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        Some(match *self {
            Num::U(u) => u as f64,
            Num::I(i) => i as f64,
            Num::F(f) => f,
        })
    }
    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.number().to_string())
    }
    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        Cow::Owned(self.number())
    }
    fn is_integer(&self) -> bool {
        match *self {
            Num::U(_) | Num::I(_) => true,
            Num::F(f) => f.fract() == 0.0,
        }
    }
    fn is_written_as_integer(&self) -> bool {
        !matches!(self, Num::F(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, 1e2, 18446744073709551615, -9223372036854775808, [], {}],
                       "b\n": "x\"y", "c": {"d": null, "e": [true, [false]]}, "f": "plain", "a": 0}"#;
        let doc = Doc::parse(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(doc.root().to_value(), value);
        assert!(doc.entries.contains(&Entry::Str(Cow::Borrowed("plain"))));
        assert!(
            doc.entries
                .iter()
                .any(|e| matches!(e, Entry::Str(Cow::Owned(s)) if s == "x\"y"))
        );
        let obj = doc.root().as_object().unwrap();
        assert_eq!(obj.len(), 5);
        assert_eq!(obj.members().count(), 5);
        // The last duplicate wins on lookup, as in serde_json.
        let a = obj.get(&"a".to_owned()).unwrap();
        assert_eq!(a.as_number().unwrap().as_u64(), Some(0));
        let c = obj.get(&"c".to_owned()).unwrap().as_object().unwrap();
        let e = c.get(&"e".to_owned()).unwrap().as_array().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e.elements().count(), 2);
        assert!(obj.get(&"zz".to_owned()).is_none());
        for bad in ["{", "[1,]", "1 2", "", "{\"a\" 1}", "nul"] {
            assert!(Doc::parse(bad).is_err(), "{bad:?}");
            assert!(Doc::parse_slice(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(Doc::parse_slice(b"\xff").is_err());
        assert_eq!(Doc::null().root().to_value(), Value::Null);
    }

    #[test]
    fn numbers_behave_like_serde_numbers() {
        for text in [
            "0",
            "7",
            "-7",
            "1.5",
            "1.0",
            "-0.0",
            "1e300",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            let doc = Doc::parse(text).unwrap();
            let n = doc.root().as_number().unwrap();
            let s: serde_json::Number = serde_json::from_str(text).unwrap();
            assert_eq!(n.as_u64(), s.as_u64(), "{text}");
            assert_eq!(n.as_i64(), s.as_i64(), "{text}");
            assert_eq!(n.as_f64(), s.as_f64(), "{text}");
            assert_eq!(*n.to_number(), s, "{text}");
        }
        assert_eq!(number_from_text("12"), Ok(Num::U(12)));
        assert_eq!(number_from_text("-12"), Ok(Num::I(-12)));
        assert!(number_from_text("1e999").is_err());
    }
}

/// The borrowed representation validates exactly like `serde_json::Value`.
#[cfg(test)]
mod differential {
    use serde_json::json;

    use super::*;

    fn outcomes<'a, F: Json>(
        validator: &'a jsonschema::Validator<F>,
        node: F::Node<'a>,
    ) -> (bool, Vec<(String, String)>) {
        let mut errors: Vec<(String, String)> = validator
            .iter_errors(node.clone())
            .map(|e| (e.instance_path().to_string(), e.kind().keyword().to_owned()))
            .collect();
        errors.sort();
        (validator.is_valid(node), errors)
    }

    #[test]
    fn doc_and_value_agree() {
        let schema = json!({
            "type": "object",
            "properties": {
                "int": {"type": "integer", "multipleOf": 0.5, "exclusiveMaximum": 100},
                "num": {"type": "number", "minimum": -1.5},
                "str": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-zé]+$"},
                "when": {"format": "date-time"},
                "tags": {"type": "array", "uniqueItems": true, "contains": {"const": "x"}, "maxContains": 1},
                "tuple": {"prefixItems": [{"type": "boolean"}, {"type": "null"}], "items": false},
                "kind": {"enum": ["a", 1, {"k": [1.0]}]},
                "map": {"propertyNames": {"maxLength": 3}, "patternProperties": {"^n": {"type": "number"}},
                        "additionalProperties": {"type": "string"}},
                "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "cond": {"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"not": {"required": ["c"]}}}
            },
            "dependentRequired": {"int": ["num"]},
            "required": ["int"],
            "unevaluatedProperties": false
        });
        let by_value = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let by_doc = jsonschema::options_for::<DocJson>()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let instances = [
            json!({"int": 1, "num": 2}),
            json!({"int": 1.0, "num": -1.5}),
            json!({"int": 1.25, "num": -2}),
            json!({"int": 100}),
            json!({"int": 2, "num": 0, "str": "aé", "when": "2024-01-01T00:00:00Z"}),
            json!({"int": 2, "num": 0, "str": "é", "when": "yesterday"}),
            json!({"int": 2, "num": 0, "str": "éééé"}),
            json!({"int": 2, "num": 0, "str": "ééééé"}),
            json!({"int": 2, "num": 0, "tags": ["x", "y"]}),
            json!({"int": 2, "num": 0, "tags": ["x", "x"]}),
            json!({"int": 2, "num": 0, "tags": ["y", {"a": 1}, {"a": 1.0}]}),
            json!({"int": 2, "num": 0, "tuple": [true, null]}),
            json!({"int": 2, "num": 0, "tuple": [true, null, 1]}),
            json!({"int": 2, "num": 0, "kind": {"k": [1]}}),
            json!({"int": 2, "num": 0, "kind": 1.0}),
            json!({"int": 2, "num": 0, "kind": "b"}),
            json!({"int": 2, "num": 0, "map": {"n1": 1, "abc": "s", "long": "x", "n2": "no"}}),
            json!({"int": 2, "num": 0, "choice": 1, "cond": {"a": 1, "b": 2}}),
            json!({"int": 2, "num": 0, "choice": 1.5, "cond": {"a": 1}}),
            json!({"int": 2, "num": 0, "cond": {"c": 1}}),
            json!({"int": 2, "num": 0, "extra": true}),
            json!({"int": 2}),
            json!([]),
            json!(null),
        ];
        for instance in &instances {
            let text = instance.to_string();
            let doc = Doc::parse(&text).unwrap();
            assert_eq!(
                outcomes(&by_doc, doc.root()),
                outcomes(&by_value, instance),
                "{instance}"
            );
        }
    }
}
