//! The CloudEvents SQL TCK (conformance test kit) as a test.
//!
//! Loads every `*.yaml` of `spec/cesql/cesql_tck/` plus sdk-go's
//! `user_defined_functions.yaml` from the conformance directory:
//! `tests/conformance` in this repository (or `$SIGNALBOX_CONFORMANCE_DIR`).
//! Each case checks the value *and* the error kind. A parse
//! failure counts as the value `false` with a `parse` error, which is how the
//! TCK writes those cases.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

use super::super::{
    ErrorKind, Evaluation, Expression, Function, FunctionRegistry, Type, Value, ValueRef,
};

/// Cases that fail on purpose, with the reason: (file stem, case name,
/// reason). Each must really fail, so the list cannot go stale. Empty: the
/// engine passes every case.
const KNOWN_EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn conformance_dir() -> PathBuf {
    crate::testing::conformance_dir()
}

fn tck_files(dir: &Path) -> Vec<PathBuf> {
    let spec_dir = dir.join("spec/cesql/cesql_tck");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&spec_dir)
        .unwrap_or_else(|e| panic!("cannot read the TCK at {}: {e}", spec_dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.push(dir.join("sdk-go/sql/v2/runtime/test/tck/user_defined_functions.yaml"));
    files
}

/// The functions `user_defined_functions.yaml` needs, as sdk-go defines
/// them: `HASPREFIX(String, String) -> Boolean` and the variadic
/// `KONKAT(String...) -> String`.
pub(super) fn tck_registry() -> FunctionRegistry {
    let mut registry = FunctionRegistry::new();
    registry
        .register(Function::new(
            "HASPREFIX",
            &[Type::String, Type::String],
            Type::Boolean,
            |args: &[ValueRef<'_>]| {
                let s = args[0].as_str().unwrap_or_default();
                let prefix = args[1].as_str().unwrap_or_default();
                Ok(Value::Boolean(s.starts_with(prefix)))
            },
        ))
        .expect("HASPREFIX registers");
    registry
        .register(
            Function::new("KONKAT", &[], Type::String, |args: &[ValueRef<'_>]| {
                Ok(Value::String(
                    args.iter().filter_map(ValueRef::as_str).collect(),
                ))
            })
            .variadic(Type::String),
        )
        .expect("KONKAT registers");
    registry
}

/// The event used when a case gives none: every context attribute set.
fn default_event() -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(map) = serde_json::json!({
        "specversion": "1.0",
        "id": "tck-id",
        "source": "http://localhost/tck",
        "type": "io.cloudevents.tck",
        "subject": "tck-subject",
        "time": "2018-04-05T17:31:00Z",
        "datacontenttype": "application/json",
        "dataschema": "http://localhost/schema",
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// YAML to JSON. Scalars keep their YAML 1.2 core-schema type, so unquoted
/// timestamps stay strings.
fn to_json(y: &MarkedYamlOwned) -> serde_json::Value {
    use serde_json::Value as J;
    match &y.data {
        YamlDataOwned::Value(s) => match s {
            ScalarOwned::Null => J::Null,
            ScalarOwned::Boolean(b) => J::Bool(*b),
            ScalarOwned::Integer(i) => J::from(*i),
            ScalarOwned::FloatingPoint(f) => J::from(f.into_inner()),
            ScalarOwned::String(s) => J::String(s.clone()),
        },
        YamlDataOwned::Representation(s, ..) => J::String(s.clone()),
        YamlDataOwned::Sequence(items) => J::Array(items.iter().map(to_json).collect()),
        YamlDataOwned::Mapping(map) => J::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        J::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        YamlDataOwned::Tagged(_, inner) => to_json(inner),
        YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => J::Null,
    }
}

/// The member `key` of a YAML mapping.
fn member<'y>(node: &'y MarkedYamlOwned, key: &str) -> Option<&'y MarkedYamlOwned> {
    let YamlDataOwned::Mapping(map) = &node.data else {
        return None;
    };
    map.iter()
        .find(|(k, _)| matches!(&k.data, YamlDataOwned::Value(ScalarOwned::String(s)) if s == key))
        .map(|(_, v)| v)
}

/// A scalar as text. Plain scalars that YAML resolves to another type
/// (`expression: TRUE`, `expression: -10`, `name: FALSE`) are taken exactly
/// as written in the source, so `tRuE` and `TRUE` stay distinct.
fn scalar_text(node: &MarkedYamlOwned, source: &[char]) -> Option<String> {
    match &node.data {
        YamlDataOwned::Value(ScalarOwned::String(s)) => Some(s.clone()),
        YamlDataOwned::Value(_) => source
            .get(node.span.start.index()..node.span.end.index())
            .map(|chars| chars.iter().collect()),
        _ => None,
    }
}

struct Case {
    file: String,
    name: String,
    expression: String,
    result: Option<Value>,
    error: Option<ErrorKind>,
    event: serde_json::Map<String, serde_json::Value>,
}

fn load_cases(path: &Path) -> Vec<Case> {
    let file = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let source: Vec<char> = text.chars().collect();
    let docs = MarkedYamlOwned::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    let root = docs
        .first()
        .unwrap_or_else(|| panic!("{} is empty", path.display()));
    let Some(YamlDataOwned::Sequence(tests)) = member(root, "tests").map(|t| &t.data) else {
        panic!("{} has no `tests` list", path.display());
    };
    tests
        .iter()
        .map(|t| {
            let name = member(t, "name")
                .and_then(|n| scalar_text(n, &source))
                .unwrap_or_else(|| panic!("{file}: a test has no name"));
            let expression = member(t, "expression")
                .and_then(|n| scalar_text(n, &source))
                .unwrap_or_else(|| panic!("{file}/{name}: no expression"));
            let field = |key: &str| member(t, key).map_or(serde_json::Value::Null, to_json);
            let result = match field("result") {
                serde_json::Value::Null => None,
                serde_json::Value::Bool(b) => Some(Value::Boolean(b)),
                serde_json::Value::Number(n) => Some(Value::Integer(
                    n.as_i64()
                        .and_then(|i| i32::try_from(i).ok())
                        .unwrap_or_else(|| panic!("{file}/{name}: result {n} is not an Integer")),
                )),
                serde_json::Value::String(s) => Some(Value::String(s)),
                other => panic!("{file}/{name}: unexpected result {other}"),
            };
            let error = field("error").as_str().map(|e| {
                ErrorKind::from_name(e).unwrap_or_else(|| panic!("{file}/{name}: error kind {e}"))
            });
            let mut event = match field("event") {
                serde_json::Value::Object(map) => map,
                serde_json::Value::Null => default_event(),
                other => panic!("{file}/{name}: event is not an object: {other}"),
            };
            if let serde_json::Value::Object(overrides) = field("eventOverrides") {
                event.extend(overrides);
            }
            Case {
                file: file.clone(),
                name,
                expression,
                result,
                error,
                event,
            }
        })
        .collect()
}

/// Runs one case; `Err` describes the mismatch.
fn run_case(case: &Case, registry: &FunctionRegistry) -> Result<(), String> {
    let parsed = Expression::parse_with(&case.expression, registry);
    let outcome = match &parsed {
        Ok(expr) => expr.evaluate(&case.event),
        Err(e) => Evaluation {
            value: Value::Boolean(false),
            errors: vec![e.clone().into()],
        },
    };
    let mut problems = Vec::new();
    if let Some(expected) = &case.result
        && outcome.value != *expected
    {
        problems.push(format!("value {:?}, expected {expected:?}", outcome.value));
    }
    match case.error {
        None if !outcome.errors.is_empty() => {
            problems.push(format!("unexpected errors {:?}", outcome.errors));
        }
        Some(kind)
            if outcome.errors.is_empty() || outcome.errors.iter().any(|e| e.kind != kind) =>
        {
            problems.push(format!(
                "errors {:?}, expected only {kind} errors",
                outcome.errors
            ));
        }
        _ => {}
    }
    if let Ok(expr) = &parsed
        && expr.matches(&case.event) != outcome.passes()
    {
        problems.push("matches() disagrees with evaluate()".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn tck() {
    let dir = conformance_dir();
    let registry = tck_registry();
    let (mut passed, mut failed, mut excepted) = (0usize, 0usize, 0usize);
    let mut report = String::new();
    for path in tck_files(&dir) {
        let cases = load_cases(&path);
        assert!(!cases.is_empty(), "{} has no test cases", path.display());
        let mut file_passed = 0;
        for case in &cases {
            let exception = KNOWN_EXCEPTIONS
                .iter()
                .find(|(f, n, _)| *f == case.file && *n == case.name);
            match (run_case(case, &registry), exception) {
                (Ok(()), None) => {
                    passed += 1;
                    file_passed += 1;
                }
                (Err(why), Some((_, _, reason))) => {
                    excepted += 1;
                    let _ = writeln!(
                        report,
                        "  known exception {}/{}: {why} (reason: {reason})",
                        case.file, case.name
                    );
                }
                (Ok(()), Some(_)) => {
                    failed += 1;
                    let _ = writeln!(
                        report,
                        "  FAIL {}/{}: listed as a known exception but passes; remove it from KNOWN_EXCEPTIONS",
                        case.file, case.name
                    );
                }
                (Err(why), None) => {
                    failed += 1;
                    let _ = writeln!(
                        report,
                        "  FAIL {}/{}: `{}`: {why}",
                        case.file, case.name, case.expression
                    );
                }
            }
        }
        let _ = writeln!(
            report,
            "  {}: {file_passed}/{} passed",
            path.file_name().unwrap_or_default().to_string_lossy(),
            cases.len()
        );
    }
    let total = passed + failed + excepted;
    println!("CESQL TCK from {}:\n{report}", dir.display());
    println!(
        "cesql tck: {passed} passed, {failed} failed ({excepted} known exceptions, {total} cases)"
    );
    assert!(total > 0, "no TCK case was found");
    assert_eq!(failed, 0, "{failed} TCK case(s) failed:\n{report}");
}
