//! CESQL values and types, and the casts between them (spec §3.1, §3.7).

use std::borrow::Cow;
use std::fmt;

/// The type of a CESQL value (spec §3.1), plus [`Type::Any`] for places that
/// accept every type (function parameters of the casting functions) or whose
/// type is only known at evaluation time (attribute references).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// `true` or `false`. Zero value `false`.
    Boolean,
    /// A 32-bit signed integer. Zero value `0`.
    Integer,
    /// A sequence of Unicode characters. Zero value `""`.
    String,
    /// Any of the above. As a parameter type it means "no implicit cast"; as
    /// a result type it means "known only at evaluation time". Its zero value
    /// is `false` (spec §3.2: when the type cannot be determined, Boolean is
    /// assumed).
    Any,
}

impl Type {
    /// The zero ("default") value of the type: `false`, `0` or `""`
    /// (`false` for [`Type::Any`]).
    pub fn zero(self) -> Value {
        self.zero_ref().into_value()
    }

    pub(super) fn zero_ref(self) -> ValueRef<'static> {
        match self {
            Type::Integer => ValueRef::Integer(0),
            Type::String => ValueRef::String(Cow::Borrowed("")),
            Type::Boolean | Type::Any => ValueRef::Boolean(false),
        }
    }

    /// The type's name as the specification writes it.
    pub fn name(self) -> &'static str {
        match self {
            Type::Boolean => "Boolean",
            Type::Integer => "Integer",
            Type::String => "String",
            Type::Any => "Any",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An owned CESQL value: the result of an evaluation, a literal, or what a
/// function returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A boolean.
    Boolean(bool),
    /// A 32-bit signed integer.
    Integer(i32),
    /// A string.
    String(String),
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> Type {
        match self {
            Value::Boolean(_) => Type::Boolean,
            Value::Integer(_) => Type::Integer,
            Value::String(_) => Type::String,
        }
    }

    /// A borrowed view of the value.
    pub fn to_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Boolean(b) => ValueRef::Boolean(*b),
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::String(s) => ValueRef::String(Cow::Borrowed(s)),
        }
    }

    /// The boolean, if this is a [`Value::Boolean`].
    pub fn as_boolean(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Integer`].
    pub fn as_integer(&self) -> Option<i32> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The string, if this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Formats the value the way `STRING(x)` would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::String(s) => f.write_str(s),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Integer(i)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

/// A CESQL value that may borrow its string.
///
/// This is what [`EventAttributes`](super::EventAttributes) returns for an
/// attribute and what user-defined functions receive as arguments. Returning
/// `ValueRef::String(Cow::Borrowed(..))` from an event lets the engine compare
/// attributes with literals without allocating.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueRef<'a> {
    /// A boolean.
    Boolean(bool),
    /// A 32-bit signed integer.
    Integer(i32),
    /// A string, borrowed or owned.
    String(Cow<'a, str>),
}

impl Default for ValueRef<'_> {
    /// `false`, the zero value of the Boolean type.
    fn default() -> Self {
        ValueRef::Boolean(false)
    }
}

impl ValueRef<'_> {
    /// The value's type.
    pub fn value_type(&self) -> Type {
        match self {
            ValueRef::Boolean(_) => Type::Boolean,
            ValueRef::Integer(_) => Type::Integer,
            ValueRef::String(_) => Type::String,
        }
    }

    /// Converts into an owned [`Value`] (allocates for borrowed strings).
    pub fn into_value(self) -> Value {
        match self {
            ValueRef::Boolean(b) => Value::Boolean(b),
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::String(s) => Value::String(s.into_owned()),
        }
    }

    /// The boolean, if this is a [`ValueRef::Boolean`].
    pub fn as_boolean(&self) -> Option<bool> {
        match self {
            ValueRef::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is a [`ValueRef::Integer`].
    pub fn as_integer(&self) -> Option<i32> {
        match self {
            ValueRef::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The string, if this is a [`ValueRef::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ValueRef::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<bool> for ValueRef<'_> {
    fn from(b: bool) -> Self {
        ValueRef::Boolean(b)
    }
}

impl From<i32> for ValueRef<'_> {
    fn from(i: i32) -> Self {
        ValueRef::Integer(i)
    }
}

impl<'a> From<&'a str> for ValueRef<'a> {
    fn from(s: &'a str) -> Self {
        ValueRef::String(Cow::Borrowed(s))
    }
}

impl From<String> for ValueRef<'_> {
    fn from(s: String) -> Self {
        ValueRef::String(Cow::Owned(s))
    }
}

impl From<Value> for ValueRef<'_> {
    fn from(v: Value) -> Self {
        match v {
            Value::Boolean(b) => ValueRef::Boolean(b),
            Value::Integer(i) => ValueRef::Integer(i),
            Value::String(s) => ValueRef::String(Cow::Owned(s)),
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> Self {
        v.to_ref()
    }
}

/// Why a cast failed. The caller turns it into a `cast` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CastFailure {
    pub(super) message: String,
}

/// `String -> Integer` (spec §3.7): optional leading `+`/`-`, then base-10
/// digits only (no whitespace); values outside the 32-bit range fail.
pub(super) fn str_to_int(s: &str) -> Result<i32, CastFailure> {
    s.parse::<i32>().map_err(|_| CastFailure {
        message: format!("cannot cast the string {s:?} to Integer"),
    })
}

/// `String -> Boolean` (spec §3.7): `"true"`/`"false"` in any case.
pub(super) fn str_to_bool(s: &str) -> Result<bool, CastFailure> {
    if s.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(CastFailure {
            message: format!("cannot cast the string {s:?} to Boolean"),
        })
    }
}

/// Casts to Integer. Implicit and explicit casts agree here.
pub(super) fn to_int(v: &ValueRef<'_>) -> Result<i32, CastFailure> {
    match v {
        ValueRef::Integer(i) => Ok(*i),
        ValueRef::Boolean(b) => Ok(i32::from(*b)),
        ValueRef::String(s) => str_to_int(s),
    }
}

/// Casts to Boolean.
///
/// `explicit` is true for `BOOL(x)`, which turns integers into `x != 0`. An
/// *implicit* `Integer -> Boolean` cast (e.g. the operand of `NOT`, `AND`)
/// is a cast error, as the TCK requires (`NOT 10` yields `true` and a `cast`
/// error: the operand becomes `false`).
pub(super) fn to_bool(v: &ValueRef<'_>, explicit: bool) -> Result<bool, CastFailure> {
    match v {
        ValueRef::Boolean(b) => Ok(*b),
        ValueRef::Integer(i) if explicit => Ok(*i != 0),
        ValueRef::Integer(i) => Err(CastFailure {
            message: format!(
                "the integer {i} is not implicitly cast to Boolean; use BOOL({i}) to convert it"
            ),
        }),
        ValueRef::String(s) => str_to_bool(s),
    }
}

/// Casts to String; never fails.
pub(super) fn to_string(v: ValueRef<'_>) -> Cow<'_, str> {
    match v {
        ValueRef::String(s) => s,
        ValueRef::Boolean(true) => Cow::Borrowed("true"),
        ValueRef::Boolean(false) => Cow::Borrowed("false"),
        ValueRef::Integer(i) => Cow::Owned(i.to_string()),
    }
}

/// Whether `s` is exactly the canonical decimal form of `i` (what
/// `STRING(i)` returns), without allocating.
pub(super) fn str_is_int(s: &str, i: i32) -> bool {
    let mut buf = [0u8; 11];
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    s.as_bytes() == &buf[pos..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_is_int_matches_to_string() {
        for i in [0, 1, -1, 9, 10, -10, 123_456, i32::MAX, i32::MIN] {
            assert!(str_is_int(&i.to_string(), i), "{i}");
            assert!(!str_is_int(&format!("0{i}"), i), "{i}");
            assert!(!str_is_int(&format!("{i}0"), i), "{i}");
        }
        assert!(!str_is_int("+1", 1));
        assert!(!str_is_int("", 0));
    }

    #[test]
    fn string_to_int_rules() {
        assert_eq!(str_to_int("42"), Ok(42));
        assert_eq!(str_to_int("+42"), Ok(42));
        assert_eq!(str_to_int("-42"), Ok(-42));
        assert_eq!(str_to_int("007"), Ok(7));
        assert_eq!(str_to_int("-2147483648"), Ok(i32::MIN));
        for bad in [
            "",
            " 1",
            "1 ",
            "2147483648",
            "1.0",
            "0x10",
            "--1",
            "+",
            "abc",
        ] {
            assert!(str_to_int(bad).is_err(), "{bad:?}");
        }
    }
}
