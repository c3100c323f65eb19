//! Functions: the registry, user-defined functions and the built-ins
//! (spec §3.5).
//!
//! A function has a name (case-insensitive, stored upper case), fixed
//! parameter types, optionally a variadic parameter type, and a return type.
//! Arguments are implicitly cast to the parameter types before the function
//! runs ([`Type::Any`] parameters are passed as they are), so an
//! implementation can rely on `args[i]` having the declared type.
//!
//! Overloading follows the spec: several definitions may share a name if
//! their arities differ; at most one may be variadic, and only if its number
//! of fixed parameters is greater than every other definition's arity.
//!
//! ```ignore
//! // Not compiled as a doctest so the module can move between crates
//! // unchanged; the unit test `doc_examples` runs this code.
//! let mut registry = FunctionRegistry::new();
//! registry
//!     .register(Function::new(
//!         "HASPREFIX",
//!         &[Type::String, Type::String],
//!         Type::Boolean,
//!         |args: &[ValueRef<'_>]| {
//!             let (s, prefix) = (args[0].as_str().unwrap_or(""), args[1].as_str().unwrap_or(""));
//!             Ok(Value::Boolean(s.starts_with(prefix)))
//!         },
//!     ))
//!     .unwrap();
//! let expr = Expression::parse_with("hasprefix('abcdef', 'ab')", &registry).unwrap();
//! assert_eq!(expr.evaluate(&NoAttributes).value, Value::Boolean(true));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use super::error::ErrorKind;
use super::lexer::Keyword;
use super::value::{self, Type, Value, ValueRef};

/// The signature of a function implementation: it receives the arguments,
/// already cast to the declared parameter types, and returns a value or an
/// error.
pub type FunctionImpl =
    dyn for<'a> Fn(&[ValueRef<'a>]) -> Result<Value, FunctionError> + Send + Sync;

/// A function failed. Evaluation goes on: the error is collected and the call
/// yields [`FunctionError::value`] if set, else the zero value of the
/// function's return type (spec §3.5.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FunctionError {
    kind: ErrorKind,
    message: String,
    value: Option<Value>,
}

impl FunctionError {
    /// A `functionEvaluation` error.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::FunctionEvaluation, message)
    }

    /// An error of the given kind (e.g. [`ErrorKind::Math`] for an overflow,
    /// [`ErrorKind::Cast`] from a casting function).
    pub fn with_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        FunctionError {
            kind,
            message: message.into(),
            value: None,
        }
    }

    /// Sets the value the call yields despite the error (it must have the
    /// function's return type, else the zero value is used).
    pub fn with_value(mut self, value: impl Into<Value>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The value the call yields, if the function chose one.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }
}

/// A function definition: name, signature and implementation.
#[derive(Clone)]
pub struct Function {
    name: String,
    params: Vec<Type>,
    variadic: Option<Type>,
    returns: Type,
    implementation: Arc<FunctionImpl>,
    builtin: bool,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("params", &self.params)
            .field("variadic", &self.variadic)
            .field("returns", &self.returns)
            .field("builtin", &self.builtin)
            .finish_non_exhaustive()
    }
}

impl Function {
    /// A function with fixed parameters. `name` is case-insensitive; it must
    /// start with a letter and contain only letters, digits and `_`
    /// (checked by [`FunctionRegistry::register`]).
    pub fn new<F>(name: &str, params: &[Type], returns: Type, implementation: F) -> Self
    where
        F: for<'a> Fn(&[ValueRef<'a>]) -> Result<Value, FunctionError> + Send + Sync + 'static,
    {
        Function {
            name: name.to_ascii_uppercase(),
            params: params.to_vec(),
            variadic: None,
            returns,
            implementation: Arc::new(implementation),
            builtin: false,
        }
    }

    /// Makes the function variadic: after the fixed parameters it accepts any
    /// number (also none) of further arguments of type `ty`.
    pub fn variadic(mut self, ty: Type) -> Self {
        self.variadic = Some(ty);
        self
    }

    fn builtin(mut self) -> Self {
        self.builtin = true;
        self
    }

    /// The name, upper case.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fixed parameter types.
    pub fn params(&self) -> &[Type] {
        &self.params
    }

    /// The type of the variadic arguments, if the function is variadic.
    pub fn variadic_type(&self) -> Option<Type> {
        self.variadic
    }

    /// The return type.
    pub fn return_type(&self) -> Type {
        self.returns
    }

    /// Whether this is one of the built-in functions (which are pure, so
    /// calls with constant arguments are folded at parse time).
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    /// The declared type of argument `index`.
    pub(super) fn param_type(&self, index: usize) -> Type {
        self.params
            .get(index)
            .copied()
            .or(self.variadic)
            .unwrap_or(Type::Any)
    }

    /// Runs the implementation.
    pub(super) fn call(&self, args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
        (self.implementation)(args)
    }
}

/// Why [`FunctionRegistry::register`] refused a function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The name is not `[A-Za-z][A-Za-z0-9_]*`.
    #[error(
        "invalid function name {0:?}: it must start with a letter and contain only letters, digits and '_'"
    )]
    InvalidName(String),
    /// The name is a CESQL keyword (`AND`, `LIKE`, `TRUE`, ...).
    #[error("{0} is a keyword and cannot name a function")]
    Keyword(String),
    /// A function with that name and arity is already registered.
    #[error("a function {name} with {arity} parameter(s) is already registered")]
    Duplicate {
        /// The function name.
        name: String,
        /// Its number of (fixed) parameters.
        arity: usize,
    },
    /// The variadic overload would be ambiguous with another definition.
    #[error(
        "function {0}: a variadic definition is only allowed once per name, and its fixed parameters must outnumber every other definition's"
    )]
    AmbiguousVariadic(String),
}

#[derive(Debug, Clone, Default)]
struct Overloads {
    fixed: Vec<Arc<Function>>,
    variadic: Option<Arc<Function>>,
}

/// The functions an expression may call, consulted when the expression is
/// parsed (calls are resolved once, at parse time).
///
/// [`FunctionRegistry::new`] starts with the built-ins; add user-defined
/// functions with [`FunctionRegistry::register`] and parse with
/// [`Expression::parse_with`](super::Expression::parse_with).
#[derive(Debug, Clone)]
pub struct FunctionRegistry {
    functions: HashMap<String, Overloads>,
}

impl Default for FunctionRegistry {
    /// Same as [`FunctionRegistry::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl FunctionRegistry {
    /// A registry with the built-in functions.
    pub fn new() -> Self {
        let mut registry = Self::empty();
        for f in builtins() {
            // The built-ins are a valid set; a failure is a bug caught by the
            // tests (`builtins_register`), and skipping it keeps this total.
            let _ = registry.register(f.builtin());
        }
        registry
    }

    /// A registry without any function, not even the built-ins.
    pub fn empty() -> Self {
        FunctionRegistry {
            functions: HashMap::new(),
        }
    }

    /// The shared registry of built-ins that
    /// [`Expression::parse`](super::Expression::parse) uses.
    pub(super) fn builtins() -> &'static FunctionRegistry {
        static BUILTINS: LazyLock<FunctionRegistry> = LazyLock::new(FunctionRegistry::new);
        &BUILTINS
    }

    /// Adds a function, enforcing the spec's overloading rules.
    ///
    /// # Errors
    ///
    /// A [`RegistryError`] if the name is invalid or a keyword, or the
    /// function clashes with one already registered under that name.
    pub fn register(&mut self, function: Function) -> Result<(), RegistryError> {
        let name = function.name.clone();
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(RegistryError::InvalidName(name));
        }
        if Keyword::lookup(&name).is_some() {
            return Err(RegistryError::Keyword(name));
        }
        let entry = self.functions.entry(name.clone()).or_default();
        let arity = function.params.len();
        let max_fixed = entry.fixed.iter().map(|f| f.params.len()).max();
        if function.variadic.is_some() {
            if entry.variadic.is_some() || max_fixed.is_some_and(|m| m >= arity) {
                return Err(RegistryError::AmbiguousVariadic(name));
            }
            entry.variadic = Some(Arc::new(function));
        } else {
            if entry.fixed.iter().any(|f| f.params.len() == arity) {
                return Err(RegistryError::Duplicate { name, arity });
            }
            if entry
                .variadic
                .as_ref()
                .is_some_and(|v| arity >= v.params.len())
            {
                return Err(RegistryError::AmbiguousVariadic(name));
            }
            entry.fixed.push(Arc::new(function));
        }
        Ok(())
    }

    /// The function a call `name(arg1, ..., argN)` dispatches to, if any.
    /// `name` is case-insensitive.
    pub fn resolve(&self, name: &str, arity: usize) -> Option<Arc<Function>> {
        let overloads = self.functions.get(&name.to_ascii_uppercase())?;
        overloads
            .fixed
            .iter()
            .find(|f| f.params.len() == arity)
            .or_else(|| {
                overloads
                    .variadic
                    .as_ref()
                    .filter(|v| arity >= v.params.len())
            })
            .cloned()
    }

    /// Every registered function.
    pub fn functions(&self) -> impl Iterator<Item = &Function> {
        self.functions
            .values()
            .flat_map(|o| o.fixed.iter().chain(o.variadic.iter()))
            .map(|f| &**f)
    }
}

// ---------------------------------------------------------------------------
// Built-ins
// ---------------------------------------------------------------------------

fn builtins() -> Vec<Function> {
    use Type::{Any, Boolean, Integer, String};
    vec![
        Function::new("LENGTH", &[String], Integer, length),
        Function::new("CONCAT", &[], String, concat).variadic(String),
        Function::new("CONCAT_WS", &[String], String, concat_ws).variadic(String),
        Function::new("LOWER", &[String], String, lower),
        Function::new("UPPER", &[String], String, upper),
        Function::new("TRIM", &[String], String, trim),
        Function::new("LEFT", &[String, Integer], String, left),
        Function::new("RIGHT", &[String, Integer], String, right),
        Function::new("SUBSTRING", &[String, Integer], String, substring),
        Function::new("SUBSTRING", &[String, Integer, Integer], String, substring),
        Function::new("ABS", &[Integer], Integer, abs),
        Function::new("INT", &[Any], Integer, int),
        Function::new("BOOL", &[Any], Boolean, bool_),
        Function::new("STRING", &[Any], String, string),
        Function::new("IS_BOOL", &[String], Boolean, is_bool),
        Function::new("IS_INT", &[String], Boolean, is_int),
    ]
}

/// Argument `i` as a string (arguments are cast before the call; the
/// fallback keeps the built-ins total if called directly).
fn arg_str<'s>(args: &'s [ValueRef<'_>], i: usize) -> &'s str {
    args.get(i).and_then(ValueRef::as_str).unwrap_or("")
}

fn arg_int(args: &[ValueRef<'_>], i: usize) -> i32 {
    args.get(i).and_then(ValueRef::as_integer).unwrap_or(0)
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// The byte offset of character `index` (or `s.len()` past the end).
fn char_offset(s: &str, index: usize) -> usize {
    s.char_indices().nth(index).map_or(s.len(), |(i, _)| i)
}

/// `LENGTH(x)`: the number of characters.
fn length(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let n = char_count(arg_str(args, 0));
    Ok(Value::Integer(i32::try_from(n).unwrap_or(i32::MAX)))
}

/// `CONCAT(x1, ...)`.
fn concat(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let mut out = String::new();
    for i in 0..args.len() {
        out.push_str(arg_str(args, i));
    }
    Ok(Value::String(out))
}

/// `CONCAT_WS(sep, x1, ...)`: separator between, not around, the parts.
fn concat_ws(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let sep = arg_str(args, 0);
    let mut out = String::new();
    for i in 1..args.len() {
        if i > 1 {
            out.push_str(sep);
        }
        out.push_str(arg_str(args, i));
    }
    Ok(Value::String(out))
}

/// `LOWER(x)` (Unicode).
fn lower(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    Ok(Value::String(arg_str(args, 0).to_lowercase()))
}

/// `UPPER(x)` (Unicode).
fn upper(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    Ok(Value::String(arg_str(args, 0).to_uppercase()))
}

/// `TRIM(x)`: strips Unicode white space at both ends.
fn trim(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    Ok(Value::String(arg_str(args, 0).trim().to_owned()))
}

/// `LEFT(x, n)`: the first `n` characters; `x` and an error if `n < 0`.
fn left(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let (s, n) = (arg_str(args, 0), arg_int(args, 1));
    let Ok(n) = usize::try_from(n) else {
        return Err(FunctionError::new(format!("LEFT: negative length {n}")).with_value(s));
    };
    Ok(Value::from(&s[..char_offset(s, n)]))
}

/// `RIGHT(x, n)`: the last `n` characters; `x` and an error if `n < 0`.
fn right(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let (s, n) = (arg_str(args, 0), arg_int(args, 1));
    let Ok(n) = usize::try_from(n) else {
        return Err(FunctionError::new(format!("RIGHT: negative length {n}")).with_value(s));
    };
    let len = char_count(s);
    Ok(Value::from(&s[char_offset(s, len.saturating_sub(n))..]))
}

/// `SUBSTRING(x, pos)` and `SUBSTRING(x, pos, len)`: 1-based `pos`, negative
/// counts from the end, 0 gives `""`; `""` and an error when `pos` is beyond
/// either end or `len` is negative.
fn substring(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let s = arg_str(args, 0);
    let pos = i64::from(arg_int(args, 1));
    let take = args.get(2).map(|_| i64::from(arg_int(args, 2)));
    let len = i64::try_from(char_count(s)).unwrap_or(i64::MAX);
    if pos > len || pos < -len {
        return Err(FunctionError::new(format!(
            "SUBSTRING: position {pos} is outside the string of length {len}"
        ))
        .with_value(""));
    }
    if let Some(take) = take
        && take < 0
    {
        return Err(
            FunctionError::new(format!("SUBSTRING: negative length {take}")).with_value(""),
        );
    }
    if pos == 0 {
        return Ok(Value::from(""));
    }
    let start = if pos > 0 { pos - 1 } else { len + pos };
    let end = take.map_or(len, |t| start.saturating_add(t).min(len));
    // 0 <= start <= end <= len, all within usize since `len` came from one.
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Ok(Value::from(""));
    };
    let from = char_offset(s, start);
    let to = from + char_offset(&s[from..], end - start);
    Ok(Value::from(&s[from..to]))
}

/// `ABS(x)`; `ABS(-2147483648)` is 2147483647 and a math error.
fn abs(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let x = arg_int(args, 0);
    match x.checked_abs() {
        Some(a) => Ok(Value::Integer(a)),
        None => Err(FunctionError::with_kind(
            ErrorKind::Math,
            format!("ABS({x}) overflows a 32-bit integer"),
        )
        .with_value(i32::MAX)),
    }
}

/// `INT(x)`: explicit cast to Integer.
fn int(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let v = args.first().cloned().unwrap_or_default();
    value::to_int(&v)
        .map(Value::Integer)
        .map_err(|e| FunctionError::with_kind(ErrorKind::Cast, e.message).with_value(0))
}

/// `BOOL(x)`: explicit cast to Boolean (integers: `x != 0`).
fn bool_(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let v = args.first().cloned().unwrap_or_default();
    value::to_bool(&v, true)
        .map(Value::Boolean)
        .map_err(|e| FunctionError::with_kind(ErrorKind::Cast, e.message).with_value(false))
}

/// `STRING(x)`: explicit cast to String.
fn string(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    let v = args.first().cloned().unwrap_or_default();
    Ok(Value::String(value::to_string(v).into_owned()))
}

/// `IS_BOOL(x)`: whether the string casts to Boolean.
fn is_bool(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    Ok(Value::Boolean(value::str_to_bool(arg_str(args, 0)).is_ok()))
}

/// `IS_INT(x)`: whether the string casts to Integer.
fn is_int(args: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
    Ok(Value::Boolean(value::str_to_int(arg_str(args, 0)).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_register() {
        let mut registry = FunctionRegistry::empty();
        for f in builtins() {
            let name = f.name().to_owned();
            registry
                .register(f)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(
            FunctionRegistry::new().functions().count(),
            builtins().len()
        );
        assert!(
            FunctionRegistry::new()
                .functions()
                .all(Function::is_builtin)
        );
    }

    fn noop(_: &[ValueRef<'_>]) -> Result<Value, FunctionError> {
        Ok(Value::Boolean(true))
    }

    #[test]
    fn overloading_rules() {
        let mut r = FunctionRegistry::empty();
        r.register(Function::new("abc", &[Type::String], Type::Integer, noop))
            .unwrap();
        r.register(Function::new(
            "ABC",
            &[Type::String, Type::String],
            Type::Integer,
            noop,
        ))
        .unwrap();
        // Same arity again.
        assert_eq!(
            r.register(Function::new("Abc", &[Type::Any], Type::Integer, noop)),
            Err(RegistryError::Duplicate {
                name: "ABC".into(),
                arity: 1
            })
        );
        // Variadic with too few fixed parameters.
        assert!(matches!(
            r.register(
                Function::new("ABC", &[Type::String; 2], Type::Integer, noop)
                    .variadic(Type::String)
            ),
            Err(RegistryError::AmbiguousVariadic(_))
        ));
        r.register(
            Function::new("ABC", &[Type::String; 3], Type::Integer, noop).variadic(Type::String),
        )
        .unwrap();
        // A second variadic, or a fixed one the variadic would cover.
        assert!(
            r.register(
                Function::new("ABC", &[Type::String; 5], Type::Integer, noop)
                    .variadic(Type::String)
            )
            .is_err()
        );
        assert!(
            r.register(Function::new(
                "ABC",
                &[Type::String; 4],
                Type::Integer,
                noop
            ))
            .is_err()
        );
        assert_eq!(r.resolve("abc", 1).unwrap().params().len(), 1);
        assert_eq!(r.resolve("abc", 2).unwrap().params().len(), 2);
        assert!(r.resolve("abc", 0).is_none());
        assert_eq!(r.resolve("abc", 3).unwrap().params().len(), 3);
        assert_eq!(r.resolve("abc", 9).unwrap().params().len(), 3);
        assert!(r.resolve("abd", 1).is_none());
    }

    #[test]
    fn names_are_checked() {
        let mut r = FunctionRegistry::empty();
        for bad in ["", "1ABC", "A-B", "É", "_X"] {
            assert!(
                matches!(
                    r.register(Function::new(bad, &[], Type::Boolean, noop)),
                    Err(RegistryError::InvalidName(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            r.register(Function::new("like", &[], Type::Boolean, noop)),
            Err(RegistryError::Keyword(_))
        ));
        r.register(Function::new("sha256_hex", &[], Type::Boolean, noop))
            .unwrap();
    }

    fn s(v: &str) -> ValueRef<'_> {
        ValueRef::from(v)
    }

    #[test]
    fn substring_edges() {
        let call = |a: &[ValueRef<'_>]| substring(a);
        let i = ValueRef::Integer;
        assert_eq!(call(&[s("abcdef"), i(6)]), Ok(Value::from("f")));
        assert_eq!(call(&[s("abcdef"), i(-6)]), Ok(Value::from("abcdef")));
        assert!(call(&[s("abcdef"), i(7)]).is_err());
        assert!(call(&[s("abcdef"), i(-7)]).is_err());
        assert!(call(&[s(""), i(1)]).is_err());
        assert_eq!(call(&[s(""), i(0)]), Ok(Value::from("")));
        assert_eq!(call(&[s("abcdef"), i(2), i(0)]), Ok(Value::from("")));
        assert_eq!(
            call(&[s("abcdef"), i(2), i(i32::MAX)]),
            Ok(Value::from("bcdef"))
        );
        assert!(call(&[s("abcdef"), i(2), i(-1)]).is_err());
        assert_eq!(call(&[s("héllo"), i(2), i(2)]), Ok(Value::from("él")));
        assert_eq!(
            call(&[s("abc"), i(i32::MIN)]).unwrap_err().value(),
            Some(&Value::from(""))
        );
    }

    #[test]
    fn left_right_unicode() {
        let i = ValueRef::Integer;
        assert_eq!(left(&[s("héllo"), i(2)]), Ok(Value::from("hé")));
        assert_eq!(right(&[s("héllo"), i(4)]), Ok(Value::from("éllo")));
        assert_eq!(right(&[s("abc"), i(0)]), Ok(Value::from("")));
        assert_eq!(left(&[s("abc"), i(0)]), Ok(Value::from("")));
        let e = left(&[s("abc"), i(-1)]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FunctionEvaluation);
        assert_eq!(e.value(), Some(&Value::from("abc")));
    }
}
