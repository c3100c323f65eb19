//! What an expression sees of an event.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::value::{Value, ValueRef};

/// The attributes of an event, as an expression sees them.
///
/// Implemented by the host for its event type. `name` is always lower case:
/// CloudEvents attribute names are `[a-z0-9]+`, and CESQL identifiers are
/// matched case-insensitively by lower-casing them at parse time.
///
/// An expression sees the context attributes (`specversion`, `id`, `source`,
/// `type`, `subject`, `time`, `datacontenttype`, `dataschema`) and the
/// extension attributes — never `data` (spec §1). Values of types CESQL lacks
/// (URI, URI-reference, timestamp, binary) are given as strings, e.g. `time`
/// as its RFC 3339 text.
///
/// Return `ValueRef::String(Cow::Borrowed(..))` where you can: comparing a
/// borrowed attribute with a literal does not allocate.
pub trait EventAttributes {
    /// The value of the attribute `name`, or `None` if the event lacks it.
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>>;

    /// Whether the event has the attribute `name` (`EXISTS name`). The
    /// default asks [`attribute`](Self::attribute).
    fn has_attribute(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }
}

/// An event without any attribute. Handy for constant expressions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoAttributes;

impl EventAttributes for NoAttributes {
    fn attribute(&self, _name: &str) -> Option<ValueRef<'_>> {
        None
    }
}

impl<T: EventAttributes + ?Sized> EventAttributes for &T {
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>> {
        (**self).attribute(name)
    }

    fn has_attribute(&self, name: &str) -> bool {
        (**self).has_attribute(name)
    }
}

/// A JSON value as a CESQL value.
///
/// - string → String (borrowed);
/// - boolean → Boolean;
/// - number → Integer if it is an integer within 32 bits, else String (its
///   JSON text, e.g. `"1.5"`, `"3000000000"`);
/// - `null` → absent (the JSON event format treats a null attribute as
///   absent);
/// - array or object → String (its compact JSON text), as spec §3.2 asks for
///   values of types CESQL lacks.
pub fn json_to_value(v: &serde_json::Value) -> Option<ValueRef<'_>> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => ValueRef::Boolean(*b),
        J::String(s) => ValueRef::String(Cow::Borrowed(s)),
        J::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => ValueRef::Integer(i),
            None => ValueRef::String(Cow::Owned(n.to_string())),
        },
        J::Array(_) | J::Object(_) => ValueRef::String(Cow::Owned(v.to_string())),
    })
}

/// A CloudEvent in the JSON event format (structured mode): each member is an
/// attribute, mapped by [`json_to_value`]. The payload members `data` and
/// `data_base64` are not attributes and are not visible.
impl EventAttributes for serde_json::Map<String, serde_json::Value> {
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>> {
        if name == "data" || name == "data_base64" {
            return None;
        }
        self.get(name).and_then(json_to_value)
    }
}

/// A JSON CloudEvent; anything but an object has no attributes.
impl EventAttributes for serde_json::Value {
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>> {
        self.as_object()?.attribute(name)
    }
}

/// Attributes given directly as CESQL values.
impl<S: std::hash::BuildHasher> EventAttributes for HashMap<String, Value, S> {
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>> {
        self.get(name).map(Value::to_ref)
    }
}

/// Attributes given directly as CESQL values.
impl EventAttributes for BTreeMap<String, Value> {
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>> {
        self.get(name).map(Value::to_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_mapping() {
        let event: serde_json::Value = serde_json::json!({
            "specversion": "1.0",
            "id": "x",
            "small": 42,
            "negative": -7,
            "big": 3_000_000_000u64,
            "float": 1.5,
            "flag": true,
            "nothing": null,
            "list": [1, "a"],
            "obj": {"k": "v"},
            "data": {"secret": 1},
            "data_base64": "AAAA",
        });
        let a = |n: &str| event.attribute(n).map(ValueRef::into_value);
        assert_eq!(a("id"), Some(Value::from("x")));
        assert_eq!(a("small"), Some(Value::Integer(42)));
        assert_eq!(a("negative"), Some(Value::Integer(-7)));
        assert_eq!(a("big"), Some(Value::from("3000000000")));
        assert_eq!(a("float"), Some(Value::from("1.5")));
        assert_eq!(a("flag"), Some(Value::Boolean(true)));
        assert_eq!(a("nothing"), None);
        assert!(!event.has_attribute("nothing"));
        assert_eq!(a("list"), Some(Value::from(r#"[1,"a"]"#)));
        assert_eq!(a("obj"), Some(Value::from(r#"{"k":"v"}"#)));
        assert_eq!(a("data"), None);
        assert_eq!(a("data_base64"), None);
        assert_eq!(a("absent"), None);
        assert_eq!(serde_json::json!([1]).attribute("id"), None);
    }
}
