//! Property tests: the parser and evaluator are total.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::select;

use super::super::{ErrorKind, Expression, NoAttributes, Type, Value};
use super::tck::tck_registry;

const ATTRIBUTES: &[&str] = &["a", "b", "c", "s", "n", "missing", "ID"];

const TOKENS: &[&str] = &[
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "AND",
    "or",
    "XOR",
    "NOT",
    "LIKE",
    "IN",
    "EXISTS",
    "TRUE",
    "false",
    "0",
    "-1",
    "2147483647",
    "2147483648",
    "'x'",
    "\"y\"",
    "'%a_'",
    "'",
    "\"",
    "\\",
    "a",
    "missing",
    "ABS",
    "CONCAT",
    "SUBSTRING",
    "KONKAT",
    "nosuch",
    "_",
    "!",
    "é",
    "\n",
];

const FUNCTIONS: &[&str] = &[
    "ABS",
    "LENGTH",
    "CONCAT",
    "CONCAT_WS",
    "LOWER",
    "UPPER",
    "TRIM",
    "LEFT",
    "RIGHT",
    "SUBSTRING",
    "INT",
    "BOOL",
    "STRING",
    "IS_INT",
    "IS_BOOL",
    "HASPREFIX",
    "KONKAT",
    "NOSUCH",
];

const BINARY: &[&str] = &[
    "AND", "OR", "XOR", "=", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%",
];

/// Text for a string literal: no quotes, never ending in a backslash (which
/// would escape the closing quote).
fn literal_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 %_\\\\é.]{0,8}".prop_map(|mut s| {
        if s.ends_with('\\') {
            s.push('x');
        }
        s
    })
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|i| i.to_string()),
        (0..20i32).prop_map(|i| i.to_string()),
        literal_text().prop_map(|s| format!("'{s}'")),
        literal_text().prop_map(|s| format!("\"{s}\"")),
        select(&["TRUE", "FALSE", "true", "'true'", "'FALSE'"][..]).prop_map(String::from),
        select(ATTRIBUTES).prop_map(String::from),
        select(ATTRIBUTES).prop_map(|a| format!("EXISTS {a}")),
    ]
}

/// Random well-formed expressions.
fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            (select(&["NOT ", "-"][..]), inner.clone()).prop_map(|(op, e)| format!("{op}({e})")),
            (inner.clone(), select(BINARY), inner.clone())
                .prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
            (inner.clone(), any::<bool>(), literal_text()).prop_map(|(e, not, p)| format!(
                "({e}) {}LIKE '{p}'",
                if not { "NOT " } else { "" }
            )),
            (
                inner.clone(),
                any::<bool>(),
                prop::collection::vec(inner.clone(), 1..4)
            )
                .prop_map(|(e, not, list)| format!(
                    "({e}) {}IN ({})",
                    if not { "NOT " } else { "" },
                    list.join(", ")
                )),
            (select(FUNCTIONS), prop::collection::vec(inner, 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Boolean),
        any::<i32>().prop_map(Value::Integer),
        (-5..20i32).prop_map(Value::Integer),
        literal_text().prop_map(Value::String),
        select(&["true", "FALSE", "12", "-3", ""][..]).prop_map(Value::from),
    ]
}

fn event() -> impl Strategy<Value = BTreeMap<String, Value>> {
    prop::collection::btree_map(
        select(&["a", "b", "c", "s", "n", "id"][..]).prop_map(String::from),
        value(),
        0..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let src = String::from_utf8_lossy(&bytes);
        let _ = Expression::parse(&src);
    }

    #[test]
    fn parsing_token_soup_never_panics(
        tokens in prop::collection::vec(select(TOKENS), 0..40),
        event in event(),
    ) {
        let src = tokens.join(" ");
        if let Ok(expr) = Expression::parse_with(&src, &tck_registry()) {
            let e = expr.evaluate(&event);
            prop_assert_eq!(expr.matches(&event), e.passes());
        }
        let _ = Expression::parse(&tokens.concat());
    }

    #[test]
    fn well_formed_expressions_evaluate_without_panic(src in expression(), event in event()) {
        let expr = Expression::parse_with(&src, &tck_registry())
            .map_err(|e| TestCaseError::fail(format!("`{src}`: {e}")))?;
        let first = expr.evaluate(&event);
        prop_assert_eq!(&first, &expr.evaluate(&event), "deterministic");
        prop_assert_eq!(expr.matches(&event), first.passes());
        prop_assert!(first.errors.iter().all(|e| e.kind != ErrorKind::Parse));
        // The value has the static type, even when errors occurred.
        let ty = expr.result_type();
        prop_assert!(
            ty == Type::Any || first.value.value_type() == ty,
            "`{}`: {:?} is not {}", src, first.value, ty
        );
        if let Some(constant) = expr.constant_value() {
            prop_assert_eq!(constant, &first.value);
            prop_assert!(first.errors.is_empty());
        }
    }

    #[test]
    fn quoted_strings_round_trip(s in "[^\\\\]{0,12}") {
        let single = format!("'{}'", s.replace('\'', "''"));
        prop_assert_eq!(Expression::parse(&single).unwrap().evaluate(&NoAttributes).value, Value::String(s.clone()));
        let double = format!("\"{}\"", s.replace('"', "\\\""));
        prop_assert_eq!(Expression::parse(&double).unwrap().evaluate(&NoAttributes).value, Value::String(s));
    }

    #[test]
    fn arithmetic_is_exact_or_a_math_error(a in any::<i32>(), b in any::<i32>(), op in select(&["+", "-", "*", "/", "%"][..])) {
        let e = Expression::parse(&format!("({a}) {op} ({b})")).unwrap().evaluate(&NoAttributes);
        let (a64, b64) = (i64::from(a), i64::from(b));
        let exact = match op {
            "+" => Some(a64 + b64),
            "-" => Some(a64 - b64),
            "*" => Some(a64 * b64),
            "/" => (b != 0).then(|| a64 / b64),
            _ => (b != 0).then(|| a64 % b64),
        };
        match exact.map(i32::try_from) {
            Some(Ok(v)) => {
                prop_assert_eq!(e.value, Value::Integer(v));
                prop_assert!(e.errors.is_empty());
            }
            Some(Err(_)) => {
                let saturated = if exact.unwrap_or(0) > 0 { i32::MAX } else { i32::MIN };
                prop_assert_eq!(e.value, Value::Integer(saturated));
                prop_assert_eq!(e.errors[0].kind, ErrorKind::Math);
            }
            None => {
                prop_assert_eq!(e.value, Value::Integer(0));
                prop_assert_eq!(e.errors[0].kind, ErrorKind::Math);
            }
        }
    }

    #[test]
    fn like_without_wildcards_is_equality(s in "[abé.]{0,5}", t in "[abé.]{0,5}") {
        let eval = |src: String| Expression::parse(&src).unwrap().evaluate(&NoAttributes).value;
        prop_assert_eq!(eval(format!("'{s}' LIKE '{t}'")), Value::Boolean(s == t));
        prop_assert_eq!(eval(format!("'{s}' LIKE '%'")), Value::Boolean(true));
        let underscores = "_".repeat(t.chars().count());
        prop_assert_eq!(
            eval(format!("'{s}' LIKE '{underscores}'")),
            Value::Boolean(s.chars().count() == t.chars().count())
        );
        prop_assert_eq!(eval(format!("'{s}{t}' LIKE '%{t}'")), Value::Boolean(true));
        prop_assert_eq!(eval(format!("'{s}{t}' LIKE '{s}%'")), Value::Boolean(true));
    }

    #[test]
    fn int_string_casts_round_trip(i in any::<i32>()) {
        let e = Expression::parse(&format!("INT(STRING({i})) = {i} AND STRING({i}) = '{i}'"))
            .unwrap()
            .evaluate(&NoAttributes);
        prop_assert_eq!(e.value, Value::Boolean(true));
    }
}
