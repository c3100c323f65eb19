//! CloudEvents SQL (CESQL v1): filter expressions over CloudEvent attributes.
//!
//! CESQL is the SQL-`WHERE`-like language of the CloudEvents Subscriptions API
//! (<https://github.com/cloudevents/spec/blob/main/cesql/spec.md>). An
//! expression is parsed once into an [`Expression`] and evaluated against
//! many events:
//!
//! ```ignore
//! // Not compiled as a doctest so the module can move between crates
//! // unchanged; the unit test `doc_examples` runs this code.
//! let filter = Expression::parse("type LIKE 'com.example.order.%' AND INT(priority) > 3").unwrap();
//! let event = serde_json::json!({
//!     "specversion": "1.0", "id": "1", "source": "/shop",
//!     "type": "com.example.order.created", "priority": "5",
//! });
//! assert!(filter.matches(&event));
//!
//! // `evaluate` returns the value and every error; errors never abort.
//! let result = Expression::parse("missing = 1 OR id = '1'").unwrap().evaluate(&event);
//! assert_eq!(result.value, Value::Boolean(false));
//! assert_eq!(result.errors[0].kind, ErrorKind::MissingAttribute);
//! ```
//!
//! # What an expression sees
//!
//! An identifier names an attribute of the event: the context attributes
//! `specversion`, `id`, `source`, `type`, `subject`, `time`,
//! `datacontenttype`, `dataschema` and any extension attribute. Identifiers
//! are case-insensitive (`SOURCE` is `source`) and contain only letters and
//! digits. The event's `data` is not visible. Attributes of types CESQL lacks
//! are strings (`time` is its RFC 3339 text, `source` its URI). The host
//! provides attributes through [`EventAttributes`]; the implementation for
//! JSON events maps JSON numbers that fit in 32 bits to Integer, booleans to
//! Boolean and strings to String ([`json_to_value`]).
//!
//! # The language
//!
//! Types: Boolean, Integer (32-bit signed), String. Literals:
//!
//! ```text
//! TRUE  false  42  -7  +7  'single quoted'  "double quoted"
//! 'it\'s'  'it''s'  "say \"hi\""          (escaped quotes)
//! ```
//!
//! Only the delimiting quote is escaped; any other backslash stays in the
//! string as written (`'a\%'` is the three characters `a\%`, which a `LIKE`
//! pattern reads as a literal `%`).
//!
//! Keywords and function names are case-insensitive. Operators, from loosest
//! to tightest binding (operators on one line bind equally and group left to
//! right, spec §3.6):
//!
//! ```text
//! a AND b   a OR b   a XOR b        -- one level: a OR b AND c = (a OR b) AND c
//! a = b   a != b   a <> b   a < b   a <= b   a > b   a >= b
//! a + b   a - b
//! a * b   a / b   a % b             -- integer division truncates toward zero
//! a [NOT] IN (x, y, ...)
//! a [NOT] LIKE 'pattern'            -- % any run, _ one character, \% \_ literal
//! NOT a   -a
//! f(x, ...)   EXISTS attr   literal   attr   ( ... )
//! ```
//!
//! Because `AND`/`OR`/`XOR` share one level, write parentheses when mixing
//! them: `(type = 'a' OR type = 'b') AND source = '/x'`. Likewise `NOT`
//! binds tighter than `LIKE`/`IN`/comparisons, so negate those with
//! `x NOT LIKE 'p'`, `x NOT IN (..)`, `x != y` or `NOT (x = y)`.
//!
//! `AND` and `OR` short-circuit. `EXISTS subject` tests for an attribute.
//!
//! Values are converted implicitly to what an operator needs: arithmetic and
//! `<`-style comparisons use Integers (`'5' + 3` is 8, `hop < ttl` compares
//! numbers), `NOT`/`AND`/`OR`/`XOR` Booleans (`'true'` in any case), `LIKE`
//! Strings. `=`, `!=` and `<>` convert the left operand to the right one's
//! type (`sequence = 5` compares numbers, `TRUE = 'TRUE'` is false because
//! `TRUE` becomes `'true'`); `IN` converts the list elements to the left
//! operand's type. Integers are not implicitly Booleans (`NOT 10` is a cast
//! error), but `BOOL(10)` is `TRUE`.
//!
//! Built-in functions: `INT(x)`, `BOOL(x)`, `STRING(x)` (explicit casts),
//! `IS_INT(s)`, `IS_BOOL(s)`, `LENGTH(s)`, `CONCAT(s, ...)`,
//! `CONCAT_WS(sep, s, ...)`, `LOWER(s)`, `UPPER(s)`, `TRIM(s)`, `LEFT(s, n)`,
//! `RIGHT(s, n)`, `SUBSTRING(s, pos)`, `SUBSTRING(s, pos, len)` (1-based,
//! negative `pos` counts from the end), `ABS(x)`. More can be registered in a
//! [`FunctionRegistry`] and used with [`Expression::parse_with`].
//!
//! # Errors
//!
//! A syntax error is a [`ParseError`]. Evaluation never fails: errors (kinds
//! `math`, `cast`, `missingFunction`, `functionEvaluation`,
//! `missingAttribute`, see [`ErrorKind`]) are collected in
//! [`Evaluation::errors`] while the failing part yields a fallback value —
//! the zero value `false`, `0` or `""` of its type for anything built on an
//! errored operand (`missing = 2` is `false`, `5 / 0` is `0`). A call of an
//! unknown function (or with the wrong number of arguments) is a
//! `missingFunction` error at evaluation, as the TCK requires; a parsed
//! [`Expression`] has its calls resolved already.
//!
//! As a filter ([`Expression::matches`]) an expression passes an event only
//! if its value is Boolean `true` *and* no error occurred (spec §1.2); it
//! stops at the first error.
//!
//! Integer overflow (`2147483647 + 1`, `-(-2147483648)`, `ABS(-2147483648)`)
//! is a math error; the result saturates. An integer literal outside the
//! 32-bit range is a parse error.
//!
//! # Limits
//!
//! [`MAX_EXPRESSION_LEN`] bounds the source length and
//! [`MAX_NESTING_DEPTH`] the nesting of parentheses, function calls, `IN`
//! lists and unary operators, so no expression can exhaust the stack while
//! parsing or evaluating. Runs of one operator level (`a OR b OR c ...`) are
//! kept flat and do not nest.

mod ast;
mod error;
mod eval;
mod event;
mod functions;
mod lexer;
mod like;
mod parser;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use error::{ErrorKind, EvalError, ParseError};
pub use event::{EventAttributes, NoAttributes, json_to_value};
pub use functions::{Function, FunctionError, FunctionImpl, FunctionRegistry, RegistryError};
pub use value::{Type, Value, ValueRef};

/// The longest expression source accepted, in bytes (64 KiB): enough for an
/// `IN` list of a few thousand values, small enough to bound parse time and
/// memory for hostile input.
pub const MAX_EXPRESSION_LEN: usize = 64 * 1024;

/// The deepest nesting accepted: each parenthesis, function call, `IN` list
/// and unary `NOT`/`-` adds one level. Real filters rarely nest beyond ten.
/// At 64 levels parsing needs under 128 KiB of stack in an optimised build
/// (under 512 KiB unoptimised) and evaluation half of that, well within a
/// Tokio worker's 2 MiB.
pub const MAX_NESTING_DEPTH: usize = 64;

/// A parsed CESQL expression.
///
/// Parsing checks the syntax, resolves function calls, compiles `LIKE`
/// patterns and folds constant sub-expressions, so evaluation only walks the
/// tree. Evaluating compares attributes with literals without allocating.
/// An `Expression` is immutable, `Send` and `Sync`: share it between threads
/// freely.
#[derive(Debug, Clone)]
pub struct Expression {
    source: Box<str>,
    root: ast::Node,
}

/// The outcome of [`Expression::evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The value of the expression. When errors occurred it is the fallback
    /// value the spec prescribes (usually the zero value of its type).
    pub value: Value,
    /// Every error raised, in evaluation order; empty on success.
    pub errors: Vec<EvalError>,
}

impl Evaluation {
    /// Whether this passes as a filter: the value is Boolean `true` and no
    /// error occurred (spec §1.2). Same as [`Expression::matches`].
    pub fn passes(&self) -> bool {
        self.value == Value::Boolean(true) && self.errors.is_empty()
    }
}

impl Expression {
    /// Parses an expression that may call the built-in functions.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] if `src` is not valid CESQL or exceeds
    /// [`MAX_EXPRESSION_LEN`] or [`MAX_NESTING_DEPTH`].
    pub fn parse(src: &str) -> Result<Expression, ParseError> {
        Self::parse_with(src, FunctionRegistry::builtins())
    }

    /// Parses an expression whose function calls resolve against `registry`
    /// (the registry is not needed afterwards).
    ///
    /// # Errors
    ///
    /// As [`Expression::parse`]. Calls of unknown functions are not parse
    /// errors: they raise `missingFunction` when evaluated.
    pub fn parse_with(src: &str, registry: &FunctionRegistry) -> Result<Expression, ParseError> {
        let root = parser::parse(src, registry)?;
        Ok(Expression {
            source: src.into(),
            root,
        })
    }

    /// Evaluates the expression completely against `event`, collecting every
    /// error. Never panics.
    pub fn evaluate(&self, event: &dyn EventAttributes) -> Evaluation {
        let mut errors = Vec::new();
        let value = match eval::run(&self.root, event, Some(&mut errors)) {
            Ok(ev) => ev.v.into_value(),
            // Complete mode never stops; stay total regardless.
            Err(eval::Stop) => Value::Boolean(false),
        };
        Evaluation { value, errors }
    }

    /// Whether `event` passes this expression as a filter: the value is
    /// Boolean `true` and no error occurs. Stops at the first error ("fail
    /// fast", spec §4.1), so a missing attribute costs no allocation.
    pub fn matches(&self, event: &dyn EventAttributes) -> bool {
        matches!(
            eval::run(&self.root, event, None),
            Ok(eval::Ev {
                v: ValueRef::Boolean(true),
                ok: true
            })
        )
    }

    /// The source text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The static type of the expression's value: [`Type::Any`] for a bare
    /// attribute reference, whose type depends on the event. A filter whose
    /// type is neither Boolean nor Any can never pass.
    pub fn result_type(&self) -> Type {
        self.root.result_type()
    }

    /// The value, if the whole expression was folded to a constant at parse
    /// time (it reads no attribute and raises no error).
    pub fn constant_value(&self) -> Option<&Value> {
        match &self.root {
            ast::Node::Literal(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Expression {
    /// The source text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Expression {
    type Err = ParseError;

    /// Same as [`Expression::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
