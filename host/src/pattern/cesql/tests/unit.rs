//! Unit tests: precedence, casts, overflow, LIKE, errors, limits, API.

use std::collections::BTreeMap;

use super::super::{
    ErrorKind, EvalError, Evaluation, EventAttributes, Expression, Function, FunctionError,
    FunctionRegistry, MAX_EXPRESSION_LEN, MAX_NESTING_DEPTH, NoAttributes, ParseError, Type, Value,
    ValueRef,
};

fn event() -> BTreeMap<String, Value> {
    [
        ("id", Value::from("myId")),
        ("source", Value::from("/orders")),
        ("type", Value::from("com.example.order.created")),
        ("n", Value::Integer(5)),
        ("s", Value::from("5")),
        ("t", Value::from("TRUE")),
        ("b", Value::Boolean(true)),
        ("word", Value::from("abc")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn parse(src: &str) -> Expression {
    Expression::parse(src).unwrap_or_else(|e| panic!("`{src}`: {e}"))
}

fn eval(src: &str) -> Evaluation {
    parse(src).evaluate(&event())
}

/// The value of an expression that must evaluate without error.
fn value(src: &str) -> Value {
    let e = eval(src);
    assert!(
        e.errors.is_empty(),
        "`{src}`: unexpected errors {:?}",
        e.errors
    );
    e.value
}

fn int(src: &str) -> i32 {
    match value(src) {
        Value::Integer(i) => i,
        other => panic!("`{src}`: {other:?} is not an Integer"),
    }
}

fn truth(src: &str) -> bool {
    match value(src) {
        Value::Boolean(b) => b,
        other => panic!("`{src}`: {other:?} is not a Boolean"),
    }
}

/// The value and the kinds of the errors.
fn with_errors(src: &str) -> (Value, Vec<ErrorKind>) {
    let e = eval(src);
    (e.value, e.errors.iter().map(|e| e.kind).collect())
}

fn parse_error(src: &str) -> ParseError {
    match Expression::parse(src) {
        Ok(_) => panic!("`{src}` parsed"),
        Err(e) => e,
    }
}

#[test]
fn expression_is_send_sync_and_static() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Expression>();
    check::<FunctionRegistry>();
    check::<Evaluation>();
}

#[test]
fn arithmetic_precedence_and_associativity() {
    assert_eq!(int("4 * 2 + 4 / 2"), 10);
    assert_eq!(int("2 + 3 * 4"), 14);
    assert_eq!(int("(2 + 3) * 4"), 20);
    assert_eq!(int("2 - 3 - 4"), -5);
    assert_eq!(int("100 / 10 / 5"), 2);
    assert_eq!(int("10 - 2 + 3"), 11);
    assert_eq!(int("7 % 4 * 2"), 6);
    assert_eq!(int("-7 / 2"), -3, "truncated division");
    assert_eq!(int("-7 % 2"), -1, "remainder has the dividend's sign");
    assert_eq!(int("7 % -2"), 1);
    assert_eq!(int("4 -1"), 3, "binary minus without spaces");
    assert_eq!(int("4 - -1"), 5);
    assert_eq!(int("+4 + +1"), 5);
}

#[test]
fn unary_operators_bind_tightest() {
    assert_eq!(int("-2 * 3"), -6);
    assert_eq!(int("- 2 + 3"), 1);
    assert_eq!(int("-(2 + 3)"), -5);
    assert_eq!(int("--2"), 2);
    assert_eq!(int("-n"), -5);
    // NOT applies to TRUE, not to the comparison.
    assert!(truth("NOT TRUE = FALSE"));
    assert!(truth("NOT (1 = 2)"));
    assert!(truth("NOT NOT TRUE"));
}

#[test]
fn logic_operators_share_one_level_left_to_right() {
    // Spec §3.6: AND, OR and XOR have equal precedence, evaluated left to
    // right. SQL's usual "AND before OR" would give the opposite answers.
    assert!(!truth("TRUE OR TRUE AND FALSE"));
    assert!(truth("FALSE AND FALSE OR TRUE"));
    assert!(truth("TRUE XOR TRUE OR TRUE"));
    assert!(!truth("TRUE OR FALSE XOR TRUE"));
    assert!(truth("TRUE OR (TRUE AND FALSE)"));
}

#[test]
fn comparisons_bind_looser_than_arithmetic() {
    assert!(truth("1 + 1 = 2"));
    assert!(truth("2 = 1 + 1"));
    assert!(truth("1 < 2 = TRUE"));
    assert!(truth("2 * 3 > 5 AND 1 <= 1"));
}

#[test]
fn like_and_in_bind_tighter_than_binary_operators() {
    assert!(truth("'ab' LIKE 'a%' = TRUE"));
    // 1 + (2 LIKE '2') = 1 + TRUE = 2.
    assert_eq!(int("1 + 2 LIKE '2'"), 2);
    assert!(truth("1 IN (1) = TRUE"));
    assert!(truth("TRUE = 2 IN (2)"));
    assert!(truth("word NOT LIKE 'x%' AND n NOT IN (1, 2)"));
    // LIKE and IN chain left to right.
    assert!(truth("'ab' LIKE 'a%' IN (TRUE)"));
}

#[test]
fn long_operator_runs_are_flat() {
    let n = 5000;
    let src = vec!["id = 'x'"; n].join(" OR ") + " OR id = 'myId'";
    assert!(src.len() < MAX_EXPRESSION_LEN);
    let expr = parse(&src);
    assert!(expr.matches(&event()));
    let sum = vec!["1"; n].join(" + ");
    assert_eq!(int(&sum), 5000);
    let sum = vec!["n"; n].join(" + ");
    assert_eq!(int(&sum), 25000);
}

#[test]
fn implicit_casts() {
    // Arithmetic and ordering use Integers.
    assert_eq!(int("'5' + 3"), 8);
    assert_eq!(int("s * 2"), 10);
    assert_eq!(int("5 + TRUE"), 6);
    assert!(truth("'10' > '9'"), "compared as numbers");
    // `=` casts the left operand to the right one's type.
    assert!(truth("s = 5"));
    assert!(truth("n = '5'"));
    assert!(!truth("n = '05'"), "5 becomes '5'");
    assert!(truth("'05' = 5"), "'05' becomes 5");
    assert!(truth("TRUE = 'true'"));
    assert!(!truth("TRUE = 'TRUE'"));
    assert!(truth("'TRUE' = TRUE"));
    assert!(truth("t = TRUE"));
    assert!(truth("b = 'true'"));
    assert!(truth("TRUE = 1"), "Boolean to Integer is implicit");
    // Logic operators use Booleans.
    assert!(truth("'true' AND 'TRUE'"));
    assert!(truth("NOT 'false'"));
    // LIKE uses Strings.
    assert!(truth("n LIKE '5'"));
    assert!(truth("FALSE LIKE 'f%'"));
    // IN casts the elements to the left operand's type.
    assert!(truth("n IN ('4', '5')"));
    assert!(truth("s IN (4, 5)"));
    assert!(!truth("'TRUE' IN (TRUE)"));
}

#[test]
fn failed_casts_are_errors_with_zero_values() {
    // Integer -> Boolean is not implicit (TCK: `NOT 10` is true + cast).
    assert_eq!(
        with_errors("NOT 10"),
        (Value::Boolean(true), vec![ErrorKind::Cast])
    );
    assert_eq!(
        with_errors("1 = TRUE"),
        (Value::Boolean(false), vec![ErrorKind::Cast])
    );
    assert_eq!(
        with_errors("'abc' + 1"),
        (Value::Integer(1), vec![ErrorKind::Cast])
    );
    assert_eq!(
        with_errors("word < 1"),
        (Value::Boolean(true), vec![ErrorKind::Cast])
    );
    assert_eq!(
        with_errors("'yes' OR FALSE"),
        (Value::Boolean(false), vec![ErrorKind::Cast])
    );
    assert_eq!(
        with_errors("1 IN ('x', 1)"),
        (Value::Boolean(true), vec![ErrorKind::Cast])
    );
    // Arguments are cast to the parameter types.
    assert_eq!(
        with_errors("ABS('x')"),
        (Value::Integer(0), vec![ErrorKind::Cast])
    );
    assert_eq!(int("LENGTH(12345)"), 5);
    assert_eq!(int("ABS('-3')"), 3);
}

#[test]
fn explicit_casts() {
    assert_eq!(int("INT('+42')"), 42);
    assert_eq!(int("INT('-2147483648')"), i32::MIN);
    assert_eq!(int("INT(TRUE)"), 1);
    assert_eq!(
        with_errors("INT('2147483648')"),
        (Value::Integer(0), vec![ErrorKind::Cast])
    );
    assert_eq!(
        with_errors("INT(' 1')"),
        (Value::Integer(0), vec![ErrorKind::Cast])
    );
    assert_eq!(
        with_errors("INT('1.5')"),
        (Value::Integer(0), vec![ErrorKind::Cast])
    );
    assert!(truth("BOOL(10)"));
    assert!(!truth("BOOL(0)"));
    assert!(truth("BOOL('True')"));
    assert!(truth("BOOL(-1) AND BOOL('tRuE')"));
    assert_eq!(value("STRING(-12)"), Value::from("-12"));
    assert_eq!(value("STRING(FALSE)"), Value::from("false"));
    assert!(truth("IS_INT('-12') AND IS_INT(7) AND NOT IS_INT('1e3')"));
    assert!(truth(
        "IS_BOOL('FALSE') AND IS_BOOL(TRUE) AND NOT IS_BOOL(1)"
    ));
}

#[test]
fn integer_overflow_is_a_math_error_and_saturates() {
    assert_eq!(int("2147483647"), i32::MAX);
    assert_eq!(int("-2147483648"), i32::MIN);
    assert_eq!(int("- 2147483648"), i32::MIN);
    let cases = [
        ("2147483647 + 1", i32::MAX),
        ("-2147483648 - 1", i32::MIN),
        ("65536 * 65536", i32::MAX),
        ("-65536 * 65536", i32::MIN),
        ("-2147483648 / -1", i32::MAX),
        ("-(-2147483648)", i32::MAX),
        ("ABS(-2147483648)", i32::MAX),
        ("5 / 0", 0),
        ("5 % 0", 0),
    ];
    for (src, expected) in cases {
        assert_eq!(
            with_errors(src),
            (Value::Integer(expected), vec![ErrorKind::Math]),
            "{src}"
        );
    }
    assert_eq!(
        int("-2147483648 % -1"),
        0,
        "no overflow: the remainder is 0"
    );
    // An errored operand makes the enclosing operator yield its zero value.
    assert_eq!(
        with_errors("(2147483647 + 1) - 1"),
        (Value::Integer(0), vec![ErrorKind::Math])
    );
    // Literals outside the range do not parse.
    for src in ["2147483648", "-2147483649", "99999999999999999999999999"] {
        assert!(parse_error(src).message.contains("32-bit"), "{src}");
    }
}

#[test]
fn like_patterns() {
    assert!(truth(r"'a%b' LIKE 'a\%b'"));
    assert!(!truth(r"'axb' LIKE 'a\%b'"));
    assert!(truth(r"'a_b' LIKE 'a\_b'"));
    assert!(!truth(r"'axb' LIKE 'a\_b'"));
    assert!(truth(r"'a\b' LIKE 'a\b'"), "a lone backslash is literal");
    assert!(truth(r#"'x"y' LIKE "x\"y""#), "double-quoted pattern");
    assert!(truth("'it''s' LIKE 'it''_'"));
    assert!(truth("'' LIKE '%'"));
    assert!(!truth("'' LIKE '_'"));
    assert!(truth("'日本' LIKE '__'"));
    assert!(!truth("'ABC' LIKE 'abc'"), "case-sensitive");
    assert!(truth("type LIKE 'com.example.%' AND source LIKE '/%'"));
    assert!(truth("word NOT LIKE 'b%'"));
    assert!(truth("n LIKE '_'"));
    assert_eq!(
        with_errors("missing NOT LIKE 'x'"),
        (Value::Boolean(false), vec![ErrorKind::MissingAttribute])
    );
    for src in [
        "word LIKE 1",
        "word LIKE word",
        "word LIKE ('a')",
        "word LIKE",
    ] {
        assert!(parse_error(src).message.contains("LIKE"), "{src}");
    }
}

#[test]
fn string_literals() {
    assert_eq!(value(r"'a\'b'"), Value::from("a'b"));
    assert_eq!(value(r#""a\"b""#), Value::from("a\"b"));
    assert_eq!(value("'it''s'"), Value::from("it's"));
    assert_eq!(value(r#""say ""hi""""#), Value::from("say \"hi\""));
    assert_eq!(value(r"'a\nb'"), Value::from(r"a\nb"), "no other escapes");
    assert_eq!(value("'multi\nline'"), Value::from("multi\nline"));
    assert_eq!(value("'ünïcødé'"), Value::from("ünïcødé"));
}

#[test]
fn identifiers_are_case_insensitive_keywords_too() {
    assert!(truth("ID = 'myId' and Source = '/orders' AnD exists TYPE"));
    assert!(truth("tRuE"));
    assert_eq!(int("length(word)"), 3);
    assert_eq!(int("Length(WORD)"), 3);
}

#[test]
fn missing_attributes() {
    assert_eq!(
        with_errors("missing"),
        (Value::Boolean(false), vec![ErrorKind::MissingAttribute])
    );
    assert_eq!(
        with_errors("missing * 5"),
        (Value::Integer(0), vec![ErrorKind::MissingAttribute])
    );
    assert_eq!(
        with_errors("1 / missing"),
        (Value::Integer(0), vec![ErrorKind::MissingAttribute])
    );
    assert_eq!(
        with_errors("LENGTH(missing)"),
        (Value::Integer(0), vec![ErrorKind::MissingAttribute])
    );
    assert_eq!(
        with_errors("CONCAT('a', missing)"),
        (Value::from(""), vec![ErrorKind::MissingAttribute])
    );
    assert_eq!(
        with_errors("missing IN (1)"),
        (Value::Boolean(false), vec![ErrorKind::MissingAttribute])
    );
    assert!(truth("EXISTS id AND NOT EXISTS missing"));
}

#[test]
fn errors_accumulate_and_evaluation_goes_on() {
    let e = eval("missing1 + missing2 = 1 / 0");
    assert_eq!(e.value, Value::Boolean(false));
    let kinds: Vec<_> = e.errors.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::MissingAttribute,
            ErrorKind::MissingAttribute,
            ErrorKind::Math
        ]
    );
    assert_eq!(
        e.errors.iter().map(|e| e.offset).collect::<Vec<_>>(),
        [0, 11, 24]
    );
    assert!(e.errors[0].message.contains("missing1"));
    assert_eq!(
        e.errors[0].to_string(),
        "missingAttribute error at byte 0: the event has no attribute 'missing1'"
    );
    // OR evaluates its right side after an errored left side (no short
    // circuit on `false`), so both errors are reported.
    let (v, kinds) = with_errors("missing = 1 OR NOT 10");
    assert_eq!(v, Value::Boolean(false));
    assert_eq!(kinds, [ErrorKind::MissingAttribute, ErrorKind::Cast]);
    // Short circuits skip the right side and its errors.
    assert_eq!(
        with_errors("FALSE AND missing"),
        (Value::Boolean(false), vec![])
    );
    assert_eq!(
        with_errors("TRUE OR missing"),
        (Value::Boolean(true), vec![])
    );
    assert_eq!(
        with_errors("missing AND 1 / 0 = 0"),
        (Value::Boolean(false), vec![ErrorKind::MissingAttribute])
    );
    // IN stops at the first match.
    assert_eq!(
        with_errors("1 IN (1, missing)"),
        (Value::Boolean(true), vec![])
    );
    assert_eq!(
        with_errors("1 IN (missing, 1)"),
        (Value::Boolean(false), vec![ErrorKind::MissingAttribute])
    );
}

#[test]
fn matches_requires_true_and_no_error() {
    let ev = event();
    assert!(parse("id = 'myId'").matches(&ev));
    assert!(!parse("id = 'other'").matches(&ev));
    assert!(!parse("n").matches(&ev), "an Integer never passes");
    assert!(!parse("'true'").matches(&ev), "a String never passes");
    // The value is true but an error occurred: spec §1.2 rejects the event.
    let not10 = parse("NOT 10");
    assert_eq!(not10.evaluate(&ev).value, Value::Boolean(true));
    assert!(!not10.evaluate(&ev).passes());
    assert!(!not10.matches(&ev));
    assert!(!parse("b OR missing = 1").evaluate(&NoAttributes).passes());
}

#[test]
fn unknown_functions_fail_at_evaluation() {
    for src in [
        "NOSUCH(1)",
        "LENGTH()",
        "LENGTH('a', 'b')",
        "CONCAT_WS()",
        "SUBSTRING('a')",
    ] {
        let expr = parse(src);
        assert_eq!(expr.result_type(), Type::Boolean, "{src}");
        let e = expr.evaluate(&event());
        assert_eq!(e.value, Value::Boolean(false), "{src}");
        assert_eq!(e.errors.len(), 1, "{src}");
        assert_eq!(e.errors[0].kind, ErrorKind::MissingFunction, "{src}");
    }
}

#[test]
fn builtin_string_functions() {
    assert_eq!(value("CONCAT()"), Value::from(""));
    assert_eq!(value("CONCAT('a', 1, TRUE)"), Value::from("a1true"));
    assert_eq!(value("CONCAT_WS('-', 'a', 'b', 'c')"), Value::from("a-b-c"));
    assert_eq!(value("LOWER('ÀB')"), Value::from("àb"));
    assert_eq!(value("UPPER('straße')"), Value::from("STRASSE"));
    assert_eq!(value("TRIM('\t\n a \u{2003}')"), Value::from("a"));
    assert_eq!(int("LENGTH('日本語')"), 3);
    assert_eq!(value("LEFT('日本語', 2)"), Value::from("日本"));
    assert_eq!(value("RIGHT('日本語', 1)"), Value::from("語"));
    assert_eq!(value("SUBSTRING('日本語', -2, 1)"), Value::from("本"));
    assert_eq!(
        with_errors("SUBSTRING('abc', 2, -1)"),
        (Value::from(""), vec![ErrorKind::FunctionEvaluation])
    );
    assert_eq!(
        with_errors("RIGHT('abc', -1)"),
        (Value::from("abc"), vec![ErrorKind::FunctionEvaluation])
    );
}

fn registry_with(f: Function) -> FunctionRegistry {
    let mut r = FunctionRegistry::new();
    r.register(f).unwrap();
    r
}

#[test]
fn user_defined_functions() {
    let r = registry_with(
        Function::new(
            "ADD_ALL",
            &[Type::Integer],
            Type::Integer,
            |args: &[ValueRef<'_>]| {
                let mut sum = 0i32;
                for a in args {
                    sum = sum
                        .checked_add(a.as_integer().unwrap_or(0))
                        .ok_or_else(|| FunctionError::with_kind(ErrorKind::Math, "overflow"))?;
                }
                Ok(Value::Integer(sum))
            },
        )
        .variadic(Type::Integer),
    );
    let run = |src: &str| {
        let e = Expression::parse_with(src, &r).unwrap().evaluate(&event());
        (e.value, e.errors.iter().map(|e| e.kind).collect::<Vec<_>>())
    };
    assert_eq!(run("add_all(1)"), (Value::Integer(1), vec![]));
    assert_eq!(run("ADD_ALL(1, '2', n, TRUE)"), (Value::Integer(9), vec![]));
    assert_eq!(run("ADD_ALL()").1, vec![ErrorKind::MissingFunction]);
    assert_eq!(
        run("ADD_ALL(2147483647, 1)"),
        (Value::Integer(0), vec![ErrorKind::Math])
    );
    // Built-ins are still there; the plain `parse` does not know ADD_ALL.
    assert_eq!(run("ABS(-1)"), (Value::Integer(1), vec![]));
    assert_eq!(
        Expression::parse("ADD_ALL(1)")
            .unwrap()
            .evaluate(&event())
            .errors[0]
            .kind,
        ErrorKind::MissingFunction
    );
}

#[test]
fn user_function_contract_is_enforced() {
    let wrong_type = registry_with(Function::new(
        "F",
        &[],
        Type::Integer,
        |_: &[ValueRef<'_>]| Ok(Value::from("not an integer")),
    ));
    let e = Expression::parse_with("F()", &wrong_type)
        .unwrap()
        .evaluate(&NoAttributes);
    assert_eq!(e.value, Value::Integer(0));
    assert_eq!(e.errors[0].kind, ErrorKind::FunctionEvaluation);

    let failing = registry_with(Function::new(
        "G",
        &[Type::Any],
        Type::String,
        |a: &[ValueRef<'_>]| match a[0] {
            ValueRef::Integer(1) => Err(FunctionError::new("no fallback")),
            ValueRef::Integer(2) => Err(FunctionError::new("fallback").with_value("fb")),
            _ => Err(FunctionError::new("bad fallback").with_value(3)),
        },
    ));
    let run = |src: &str| {
        Expression::parse_with(src, &failing)
            .unwrap()
            .evaluate(&NoAttributes)
    };
    assert_eq!(run("G(1)").value, Value::from(""));
    assert_eq!(run("G(2)").value, Value::from("fb"));
    assert_eq!(run("G(3)").value, Value::from(""));
    let e = run("G(2)");
    assert_eq!(e.errors[0].kind, ErrorKind::FunctionEvaluation);
    assert_eq!(e.errors[0].message, "G: fallback");
    // User functions are never folded, even with constant arguments.
    assert!(
        Expression::parse_with("G(2)", &failing)
            .unwrap()
            .constant_value()
            .is_none()
    );
}

#[test]
fn constant_folding_and_static_types() {
    let e = parse("1 + 2 * 3");
    assert_eq!(e.constant_value(), Some(&Value::Integer(7)));
    assert_eq!(e.result_type(), Type::Integer);
    assert_eq!(
        parse("UPPER('a') = 'A'").constant_value(),
        Some(&Value::Boolean(true))
    );
    // Constants that raise errors are kept, so every evaluation reports them.
    let div = parse("1 / 0");
    assert!(div.constant_value().is_none());
    for _ in 0..2 {
        assert_eq!(div.evaluate(&NoAttributes).errors.len(), 1);
    }
    assert!(parse("EXISTS id").constant_value().is_none());
    assert_eq!(parse("id").result_type(), Type::Any);
    assert_eq!(parse("id = 'x'").result_type(), Type::Boolean);
    assert_eq!(parse("LENGTH(id)").result_type(), Type::Integer);
    assert_eq!(parse("-n").result_type(), Type::Integer);
    assert_eq!(parse("id LIKE 'x'").result_type(), Type::Boolean);
    assert_eq!(parse("n + 1 + 2").result_type(), Type::Integer);
}

#[test]
fn parse_errors_say_what_and_where() {
    let e = parse_error("ABC(");
    assert_eq!((e.line, e.column, e.offset), (1, 5, 4));
    assert!(e.message.contains("end of input"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Parse);
    assert!(e.to_string().ends_with("at line 1, column 5"), "{e}");

    let e = parse_error("id = 'x' AND\n  word LIKE 5");
    assert_eq!((e.line, e.column), (2, 13));

    let e = parse_error("'héllo' = 'x");
    assert_eq!(e.column, 11, "columns count characters");
    assert!(e.message.contains("unterminated"));

    let cases = [
        ("", "expected an expression"),
        ("1 2", "expected an operator"),
        ("(1", "expected ')'"),
        ("1)", "unbalanced ')'"),
        ("my_ext = 1", "letters and digits"),
        ("EXISTS 'x'", "EXISTS"),
        ("EXISTS", "EXISTS"),
        ("x IN 1", "'('"),
        ("x IN ()", "expected an expression"),
        ("x IN (1,)", "expected an expression"),
        ("x IN (1 2)", "IN list"),
        ("f(1 2)", "arguments of f"),
        ("+id", "'+'"),
        ("a ! b", "'!'"),
        ("a NOT b", "the keyword NOT"),
        ("1 = = 1", "expected an expression"),
        ("1abc(2)", "must start with a letter"),
    ];
    for (src, needle) in cases {
        let e = parse_error(src);
        assert!(e.message.contains(needle), "`{src}`: {e}");
    }
    let as_eval: EvalError = parse_error("(").into();
    assert_eq!(as_eval.kind, ErrorKind::Parse);
}

#[test]
fn expression_length_is_limited() {
    let body = "a".repeat(MAX_EXPRESSION_LEN - 2);
    let ok = format!("'{body}'");
    assert_eq!(ok.len(), MAX_EXPRESSION_LEN);
    assert!(Expression::parse(&ok).is_ok());
    let too_long = format!("'{body}a'");
    let e = parse_error(&too_long);
    assert!(e.message.contains("too long"), "{e}");
    // Multi-byte characters at the limit do not split a character.
    let e = parse_error(&"é".repeat(MAX_EXPRESSION_LEN));
    assert!(e.message.contains("too long"));
}

fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn nesting_is_limited() {
    let max = MAX_NESTING_DEPTH;
    for (open, close) in [
        ("(", ")"),
        ("NOT ", ""),
        ("-", ""),
        ("ABS(", ")"),
        ("n IN (", ")"),
    ] {
        let ok = nested(open, close, max, "n");
        assert!(Expression::parse(&ok).is_ok(), "{open}: {max} levels");
        let e = parse_error(&nested(open, close, max + 1, "n"));
        assert!(e.message.contains("nests too deeply"), "{open}: {e}");
    }
    // Hostile input fails cleanly instead of overflowing the stack.
    let e = parse_error(&"(".repeat(MAX_EXPRESSION_LEN));
    assert!(e.message.contains("nests too deeply"));
    let e = parse_error(&"-".repeat(MAX_EXPRESSION_LEN));
    assert!(e.message.contains("nests too deeply"));
}

#[test]
fn deepest_expressions_evaluate_on_a_small_stack() {
    // The deepest trees the limits allow, with attributes so nothing folds.
    // Measured need at the limit: parsing < 512 KiB in debug builds
    // (< 128 KiB optimised), evaluating half of that; 1 MiB leaves a margin
    // and is half of a Tokio worker's default stack.
    let max = MAX_NESTING_DEPTH;
    let sources = [
        nested("NOT ", "", max, "b"),
        nested("-", "", max, "n"),
        nested("ABS(", ")", max, "n"),
        nested("(n + ", ")", max - 1, "n"),
        nested("(n = 1 OR (", "))", max / 2, "b"),
        nested("CONCAT(id, ", ")", max, "id"),
    ];
    let exprs: Vec<Expression> = sources.iter().map(|s| parse(s)).collect();
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let ev = event();
            for expr in &exprs {
                let e = expr.evaluate(&ev);
                assert!(e.errors.is_empty(), "{}: {:?}", expr.source(), e.errors);
                let _ = expr.matches(&ev);
                let _ = Expression::parse(expr.source());
            }
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn json_events() {
    let event: serde_json::Value = serde_json::json!({
        "specversion": "1.0",
        "id": "42",
        "source": "https://example.com/x",
        "type": "t",
        "time": "2018-04-26T14:48:09+02:00",
        "myint": 10,
        "mybool": true,
        "big": 3_000_000_000u64,
        "data": {"x": 1},
    });
    let m = |src: &str| parse(src).matches(&event);
    assert!(m("myint = 10 AND myint + 1 = 11 AND mybool"));
    assert!(m("id = 42 AND id = '42'"));
    assert!(m("time LIKE '2018-%'"));
    assert!(m("big = '3000000000'"));
    assert!(m(
        "NOT EXISTS data AND EXISTS specversion AND EXISTS SPECVERSION"
    ));
    assert!(!m("data = 'x'"));
    // The `&dyn` API takes any implementation.
    let map = event.as_object().unwrap();
    let dynamic: &dyn EventAttributes = map;
    assert!(parse("myint > 5").matches(dynamic));
}

#[test]
fn display_and_from_str() {
    let e: Expression = "id = 'x'".parse().unwrap();
    assert_eq!(e.to_string(), "id = 'x'");
    assert_eq!(e.source(), "id = 'x'");
    assert!("id = ".parse::<Expression>().is_err());
    assert_eq!(Value::Integer(-3).to_string(), "-3");
    assert_eq!(Type::String.zero(), Value::from(""));
    assert_eq!(Type::Any.zero(), Value::Boolean(false));
    assert_eq!(
        ErrorKind::from_name("missingFunction"),
        Some(ErrorKind::MissingFunction)
    );
    assert_eq!(ErrorKind::MissingFunction.to_string(), "missingFunction");
}

#[test]
fn attribute_comparisons_behave_like_general_binary_nodes() {
    use super::super::ast::{BinOp, Node};
    use super::super::eval;

    let attribute_values = [
        Some(Value::Boolean(true)),
        Some(Value::Boolean(false)),
        Some(Value::Integer(5)),
        Some(Value::Integer(-1)),
        Some(Value::from("5")),
        Some(Value::from("true")),
        Some(Value::from("abc")),
        None,
    ];
    let literals = [
        Value::Boolean(true),
        Value::Integer(5),
        Value::Integer(0),
        Value::from("5"),
        Value::from("TRUE"),
        Value::from("x"),
    ];
    let ops = [
        BinOp::Eq,
        BinOp::NotEq,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
    ];
    for op in ops {
        for attribute in &attribute_values {
            let event: BTreeMap<String, Value> = attribute
                .iter()
                .map(|v| ("x".to_owned(), v.clone()))
                .collect();
            for literal in &literals {
                for attribute_first in [true, false] {
                    let attr = Node::Attribute {
                        name: "x".into(),
                        pos: 0,
                    };
                    let lit = Node::Literal(literal.clone());
                    let (lhs, rhs) = if attribute_first {
                        (attr, lit)
                    } else {
                        (lit, attr)
                    };
                    let general = Node::Binary {
                        op,
                        pos: 3,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    };
                    let special = Node::AttributeComparison {
                        op,
                        pos: 3,
                        name: "x".into(),
                        name_pos: 0,
                        literal: literal.clone(),
                        attribute_first,
                    };
                    let run = |node: &Node| {
                        let mut errors = Vec::new();
                        let ev = eval::run(node, &event, Some(&mut errors)).ok().unwrap();
                        let fail_fast = eval::run(node, &event, None)
                            .ok()
                            .map(|ev| (ev.v.into_value(), ev.ok));
                        (ev.v.into_value(), ev.ok, errors, fail_fast)
                    };
                    assert_eq!(
                        run(&general),
                        run(&special),
                        "{op:?} {attribute:?} {literal:?} {attribute_first}"
                    );
                }
            }
        }
    }
    // The parser produces the specialised node for both orders.
    assert!(matches!(
        parse("x = 1").root,
        Node::AttributeComparison {
            attribute_first: true,
            ..
        }
    ));
    assert!(matches!(
        parse("1 < x").root,
        Node::AttributeComparison {
            attribute_first: false,
            ..
        }
    ));
}

/// The examples of the module documentation (which are not doctests, so the
/// module does not depend on its crate's name).
#[test]
fn doc_examples() {
    // mod.rs
    let filter =
        Expression::parse("type LIKE 'com.example.order.%' AND INT(priority) > 3").unwrap();
    let event = serde_json::json!({
        "specversion": "1.0", "id": "1", "source": "/shop",
        "type": "com.example.order.created", "priority": "5",
    });
    assert!(filter.matches(&event));
    let result = Expression::parse("missing = 1 OR id = '1'")
        .unwrap()
        .evaluate(&event);
    assert_eq!(result.value, Value::Boolean(false));
    assert_eq!(result.errors[0].kind, ErrorKind::MissingAttribute);

    // functions.rs
    let mut registry = FunctionRegistry::new();
    registry
        .register(Function::new(
            "HASPREFIX",
            &[Type::String, Type::String],
            Type::Boolean,
            |args: &[ValueRef<'_>]| {
                let (s, prefix) = (
                    args[0].as_str().unwrap_or(""),
                    args[1].as_str().unwrap_or(""),
                );
                Ok(Value::Boolean(s.starts_with(prefix)))
            },
        ))
        .unwrap();
    let expr = Expression::parse_with("hasprefix('abcdef', 'ab')", &registry).unwrap();
    assert_eq!(expr.evaluate(&NoAttributes).value, Value::Boolean(true));
}
