//! Unit tests: every operator, edge cases, rejections, matcher API.

use super::*;
use serde_json::Value;

fn pat(s: &str) -> Pattern {
    Pattern::parse(s).unwrap_or_else(|e| panic!("pattern {s} rejected: {e}"))
}

/// Evaluates with the reference evaluator and with a one-rule matcher (bytes and
/// Value paths); asserts they agree and returns the answer.
fn eval(p: &str, ev: &str) -> bool {
    let pattern = pat(p);
    let doc: Value =
        serde_json::from_str(ev).unwrap_or_else(|e| panic!("bad test event {ev}: {e}"));
    let r = reference_matches(&pattern, &doc);
    let mut m = Matcher::new();
    m.add(1, &pattern);
    let mut out = Vec::new();
    m.matches_json(ev.as_bytes(), &mut out).unwrap();
    let mut out2 = Vec::new();
    m.matches_value(&doc, &mut out2);
    assert_eq!(
        out == [1],
        r,
        "matches_json disagrees with reference: {p} on {ev}"
    );
    assert_eq!(
        out2 == [1],
        r,
        "matches_value disagrees with reference: {p} on {ev}"
    );
    r
}

#[track_caller]
fn yes(p: &str, ev: &str) {
    assert!(eval(p, ev), "expected match: {p} on {ev}");
}

#[track_caller]
fn no(p: &str, ev: &str) {
    assert!(!eval(p, ev), "expected no match: {p} on {ev}");
}

/// Asserts rejection; checks the path, the operator and a fragment of the message.
#[track_caller]
fn rejects(p: &str, path: &str, op: Option<&str>, fragment: &str) {
    let e = match Pattern::parse(p) {
        Ok(_) => panic!("pattern should be rejected: {p}"),
        Err(e) => e,
    };
    let msg = e.to_string();
    assert_eq!(e.path(), Some(path), "wrong path in {msg:?} for {p}");
    assert_eq!(e.operator(), op, "wrong operator in {msg:?} for {p}");
    assert!(msg.starts_with(&format!("at {path}: ")), "{msg:?}");
    if let Some(o) = op {
        assert!(
            msg.contains(&format!("\"{o}\"")),
            "message should name operator {o}: {msg:?}"
        );
    }
    assert!(
        msg.contains(fragment),
        "message {msg:?} should contain {fragment:?}"
    );
}

// ---------------------------------------------------------------- exact values

#[test]
fn exact_strings_numbers_booleans_null() {
    yes(r#"{"a": ["x"]}"#, r#"{"a": "x"}"#);
    no(r#"{"a": ["x"]}"#, r#"{"a": "y"}"#);
    no(r#"{"a": ["x"]}"#, r#"{"b": "x"}"#);
    yes(r#"{"a": ["x", "y"]}"#, r#"{"a": "y"}"#);
    yes(r#"{"a": [12]}"#, r#"{"a": 12}"#);
    no(r#"{"a": [12]}"#, r#"{"a": "12"}"#);
    no(r#"{"a": ["12"]}"#, r#"{"a": 12}"#);
    yes(r#"{"a": [true]}"#, r#"{"a": true}"#);
    no(r#"{"a": [true]}"#, r#"{"a": "true"}"#);
    no(r#"{"a": ["true"]}"#, r#"{"a": true}"#);
    no(r#"{"a": [false]}"#, r#"{"a": true}"#);
    yes(r#"{"a": [false]}"#, r#"{"a": false}"#);
    yes(r#"{"a": [null]}"#, r#"{"a": null}"#);
    no(r#"{"a": [null]}"#, r#"{}"#);
    no(r#"{"a": [null]}"#, r#"{"a": "null"}"#);
    no(r#"{"a": ["null"]}"#, r#"{"a": null}"#);
    yes(r#"{"a": [""]}"#, r#"{"a": ""}"#);
    no(r#"{"a": [""]}"#, r#"{"a": " "}"#);
    no(r#"{"a": [""]}"#, r#"{}"#);
    yes(
        r#"{"a": [{"exactly": "10.0.0.1"}]}"#,
        r#"{"a": "10.0.0.1"}"#,
    );
}

#[test]
fn numbers_compare_by_value() {
    for rule in ["300", "3.0e2", "300.0", "3e2", "300.000000", "30000e-2"] {
        for ev in ["300", "3.0e2", "300.0", "3E+2", "300.0000000"] {
            yes(
                &format!(r#"{{"a": [{rule}]}}"#),
                &format!(r#"{{"a": {ev}}}"#),
            );
        }
    }
    no(r#"{"a": [300]}"#, r#"{"a": 300.000001}"#);
    yes(r#"{"a": [-0]}"#, r#"{"a": 0}"#);
    yes(r#"{"a": [0.1]}"#, r#"{"a": 1e-1}"#);
    // outside the comparable range: still equal by exact value
    yes(r#"{"a": [123456789012]}"#, r#"{"a": 1.23456789012e11}"#);
    no(r#"{"a": [123456789012]}"#, r#"{"a": 123456789013}"#);
    yes(r#"{"a": [1e10]}"#, r#"{"a": 10000000000}"#);
    // more than six decimals: exact value still works
    yes(r#"{"a": [0.1234567]}"#, r#"{"a": 0.12345670}"#);
    no(r#"{"a": [0.1234567]}"#, r#"{"a": 0.1234568}"#);
    no(r#"{"a": [0.1234567]}"#, r#"{"a": 0.123456}"#);
}

#[test]
fn arrays_in_events() {
    yes(r#"{"tags": ["admin"]}"#, r#"{"tags": ["user", "admin"]}"#);
    no(r#"{"tags": ["root"]}"#, r#"{"tags": ["user", "admin"]}"#);
    no(r#"{"tags": ["x"]}"#, r#"{"tags": []}"#);
    yes(r#"{"tags": ["x"]}"#, r#"{"tags": [[["x"]]]}"#);
    yes(
        r#"{"a": {"b": ["x"]}}"#,
        r#"{"a": [{"b": "y"}, {"b": "x"}]}"#,
    );
    yes(r#"{"a": {"b": ["x"]}}"#, r#"[{"a": {"b": "x"}}]"#);
    no(r#"{"a": ["x"]}"#, r#"{"a": {"x": 1}}"#);
}

#[test]
fn nested_objects_and_dotted_keys() {
    let p = r#"{"detail": {"state": {"status": ["running"]}}}"#;
    yes(p, r#"{"detail": {"state": {"status": "running"}}}"#);
    yes(p, r#"{"detail": {"state.status": "running"}}"#);
    yes(p, r#"{"detail.state.status": "running"}"#);
    yes(
        r#"{"detail": {"state.status": ["running"]}}"#,
        r#"{"detail": {"state": {"status": "running"}}}"#,
    );
    no(p, r#"{"detail": {"state": "running"}}"#);
    no(p, r#"{"detail": {"status": "running"}}"#);
    yes(r#"{"a": {"": ["x"]}}"#, r#"{"a": {"": "x"}}"#);
    // escaped keys are decoded before lookup
    yes(r#"{"k\"ey": ["v"]}"#, r#"{"k\u0022ey": "v"}"#);
    yes(r#"{"é": ["ü"]}"#, r#"{"\u00e9": "\u00fc"}"#);
}

// ------------------------------------------------------------- string operators

#[test]
fn prefix_and_suffix() {
    yes(
        r#"{"t": [{"prefix": "2017-10-02"}]}"#,
        r#"{"t": "2017-10-02T18:43:48Z"}"#,
    );
    no(
        r#"{"t": [{"prefix": "2017-10-02"}]}"#,
        r#"{"t": "2017-10-03"}"#,
    );
    no(r#"{"t": [{"prefix": "2017"}]}"#, r#"{"t": 2017}"#);
    yes(r#"{"t": [{"prefix": ""}]}"#, r#"{"t": ""}"#);
    yes(r#"{"t": [{"prefix": ""}]}"#, r#"{"t": "abc"}"#);
    no(r#"{"t": [{"prefix": ""}]}"#, r#"{"t": null}"#);
    yes(r#"{"f": [{"suffix": ".png"}]}"#, r#"{"f": "a/b.png"}"#);
    no(r#"{"f": [{"suffix": ".png"}]}"#, r#"{"f": "a/b.PNG"}"#);
    yes(r#"{"f": [{"suffix": ".png"}]}"#, r#"{"f": ".png"}"#);
    no(r#"{"f": [{"suffix": ".png"}]}"#, r#"{"f": "png"}"#);
    yes(
        r#"{"f": [{"prefix": "ab"}, {"suffix": "yz"}]}"#,
        r#"{"f": "xyz"}"#,
    );
    yes(
        r#"{"s": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#,
        r#"{"s": "eventbridge"}"#,
    );
    yes(
        r#"{"s": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#,
        r#"{"s": "EVENTBUS"}"#,
    );
    no(
        r#"{"s": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#,
        r#"{"s": "Event"}"#,
    );
    yes(
        r#"{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}"#,
        r#"{"f": "A.PnG"}"#,
    );
    no(
        r#"{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}"#,
        r#"{"f": "A.PnGx"}"#,
    );
    yes(r#"{"f": [{"prefix": "é"}]}"#, r#"{"f": "été"}"#);
}

#[test]
fn equals_ignore_case() {
    yes(
        r#"{"s": [{"equals-ignore-case": "EC2"}]}"#,
        r#"{"s": "ec2"}"#,
    );
    yes(
        r#"{"s": [{"equals-ignore-case": "ec2"}]}"#,
        r#"{"s": "eC2"}"#,
    );
    no(
        r#"{"s": [{"equals-ignore-case": "ec2"}]}"#,
        r#"{"s": "ec2 "}"#,
    );
    no(r#"{"s": [{"equals-ignore-case": "1"}]}"#, r#"{"s": 1}"#);
    // non-ASCII
    yes(
        r#"{"s": [{"equals-ignore-case": "ÄRGER über Ünïcödé"}]}"#,
        r#"{"s": "ärger ÜBER üNÏCÖDÉ"}"#,
    );
    yes(
        r#"{"s": [{"equals-ignore-case": "ΟΔΥΣΣΕΥΣ"}]}"#,
        r#"{"s": "οδυσσευς"}"#,
    );
    yes(
        r#"{"s": [{"equals-ignore-case": "οδυσσευσ"}]}"#,
        r#"{"s": "ΟΔΥΣΣΕΥΣ"}"#,
    );
    no(
        r#"{"s": [{"equals-ignore-case": "Straße"}]}"#,
        r#"{"s": "STRASE"}"#,
    );
    yes(
        r#"{"s": [{"prefix": {"equals-ignore-case": "ÉT"}}]}"#,
        r#"{"s": "été"}"#,
    );
}

#[test]
fn wildcard() {
    let p = r#"{"s": [{"wildcard": "Simple*Service"}]}"#;
    yes(p, r#"{"s": "SimpleQueueService"}"#);
    yes(p, r#"{"s": "SimpleService"}"#);
    no(p, r#"{"s": "simpleService"}"#);
    no(p, r#"{"s": "SimpleServices"}"#);
    yes(r#"{"s": [{"wildcard": "*"}]}"#, r#"{"s": ""}"#);
    no(r#"{"s": [{"wildcard": "*"}]}"#, r#"{"s": 5}"#);
    yes(r#"{"s": [{"wildcard": "a*b*c"}]}"#, r#"{"s": "a-b-b-c"}"#);
    no(r#"{"s": [{"wildcard": "a*b*c"}]}"#, r#"{"s": "a-c-b"}"#);
    yes(r#"{"s": [{"wildcard": "*.png"}]}"#, r#"{"s": "x.png"}"#);
    // escapes: \\* is a literal star, \\\\ a literal backslash
    yes(r#"{"s": [{"wildcard": "a\\*b"}]}"#, r#"{"s": "a*b"}"#);
    no(r#"{"s": [{"wildcard": "a\\*b"}]}"#, r#"{"s": "axb"}"#);
    yes(r#"{"s": [{"wildcard": "a\\\\*"}]}"#, r#"{"s": "a\\bc"}"#);
    no(r#"{"s": [{"wildcard": "a\\\\*"}]}"#, r#"{"s": "abc"}"#);
    yes(r#"{"s": [{"wildcard": "\\**"}]}"#, r#"{"s": "*x"}"#);
    // no wildcard character: exact
    yes(r#"{"s": [{"wildcard": "abc"}]}"#, r#"{"s": "abc"}"#);
    no(r#"{"s": [{"wildcard": "abc"}]}"#, r#"{"s": "abcd"}"#);
}

#[test]
fn contains_and_regex() {
    yes(
        r#"{"s": [{"contains": "err"}]}"#,
        r#"{"s": "an error occurred"}"#,
    );
    no(r#"{"s": [{"contains": "err"}]}"#, r#"{"s": "ERROR"}"#);
    no(r#"{"s": [{"contains": "1"}]}"#, r#"{"s": 1}"#);
    yes(r#"{"s": [{"contains": ""}]}"#, r#"{"s": ""}"#);
    yes(r#"{"s": [{"regex": "B..CH"}]}"#, r#"{"s": "BEACH"}"#);
    no(r#"{"s": [{"regex": "B..CH"}]}"#, r#"{"s": "BEACHES"}"#);
    no(r#"{"s": [{"regex": "B..CH"}]}"#, r#"{"s": "XBEACH"}"#);
    yes(
        r#"{"s": [{"regex": "[a-z]+-\\d+"}]}"#,
        r#"{"s": "order-42"}"#,
    );
    yes(r#"{"s": [{"regex": "a|b"}]}"#, r#"{"s": "b"}"#);
    no(r#"{"s": [{"regex": "a|b"}]}"#, r#"{"s": "ab"}"#);
    yes(r#"{"s": [{"regex": "(?i)beach"}]}"#, r#"{"s": "BeAcH"}"#);
    no(r#"{"s": [{"regex": "\\d+"}]}"#, r#"{"s": 12}"#);
}

// ------------------------------------------------------------------ anything-but

#[test]
fn anything_but_every_form() {
    let p = r#"{"s": [{"anything-but": "initializing"}]}"#;
    yes(p, r#"{"s": "running"}"#);
    no(p, r#"{"s": "initializing"}"#);
    yes(p, r#"{"s": 5}"#);
    yes(p, r#"{"s": null}"#);
    yes(p, r#"{"s": true}"#);
    no(p, r#"{}"#);
    no(p, r#"{"s": []}"#);
    yes(p, r#"{"s": ["initializing", "x"]}"#);
    no(p, r#"{"s": ["initializing", "initializing"]}"#);

    let p = r#"{"s": [{"anything-but": ["stopped", "overloaded"]}]}"#;
    yes(p, r#"{"s": "running"}"#);
    no(p, r#"{"s": "stopped"}"#);
    no(p, r#"{"s": "overloaded"}"#);

    let p = r#"{"x": [{"anything-but": 123}]}"#;
    yes(p, r#"{"x": 124}"#);
    no(p, r#"{"x": 123}"#);
    no(p, r#"{"x": 1.23e2}"#);
    yes(p, r#"{"x": "123"}"#);

    let p = r#"{"x": [{"anything-but": [100, 200, 300]}]}"#;
    yes(p, r#"{"x": 150}"#);
    no(p, r#"{"x": 3e2}"#);
    yes(p, r#"{"x": "abc"}"#);
    yes(p, r#"{"x": 1e12}"#);

    let p = r#"{"s": [{"anything-but": {"prefix": "init"}}]}"#;
    yes(p, r#"{"s": "running"}"#);
    no(p, r#"{"s": "initializing"}"#);
    yes(p, r#"{"s": 7}"#);
    let p = r#"{"s": [{"anything-but": {"prefix": ["init", "stop"]}}]}"#;
    no(p, r#"{"s": "stopped"}"#);
    yes(p, r#"{"s": "running"}"#);

    let p = r#"{"f": [{"anything-but": {"suffix": ".txt"}}]}"#;
    yes(p, r#"{"f": "a.png"}"#);
    no(p, r#"{"f": "a.txt"}"#);
    yes(p, r#"{"f": "a.TXT"}"#);

    let p = r#"{"s": [{"anything-but": {"equals-ignore-case": "Stopped"}}]}"#;
    no(p, r#"{"s": "STOPPED"}"#);
    yes(p, r#"{"s": "STOPPING"}"#);
    let p = r#"{"s": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]}"#;
    no(p, r#"{"s": "b"}"#);
    yes(p, r#"{"s": "c"}"#);

    let p = r#"{"s": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#;
    no(p, r#"{"s": "/usr/lib/x"}"#);
    yes(p, r#"{"s": "/usr/bin/x"}"#);
    let p = r#"{"s": [{"anything-but": {"wildcard": ["a*", "*z"]}}]}"#;
    no(p, r#"{"s": "abc"}"#);
    no(p, r#"{"s": "xyz"}"#);
    yes(p, r#"{"s": "xyq"}"#);

    // two anything-buts on one field: either may pass
    let p = r#"{"s": [{"anything-but": "a"}, {"anything-but": "b"}]}"#;
    yes(p, r#"{"s": "a"}"#);
}

// ----------------------------------------------------------------------- numeric

#[test]
fn numeric_operators_and_boundaries() {
    let ev = |v: &str| format!(r#"{{"x": {v}}}"#);
    let r = |spec: &str| format!(r#"{{"x": [{{"numeric": {spec}}}]}}"#);
    yes(&r(r#"["=", 300]"#), &ev("3.0e2"));
    yes(&r(r#"["=", 3.0e2]"#), &ev("300.0"));
    no(&r(r#"["=", 300]"#), &ev("300.000001"));
    yes(&r(r#"["<", 5]"#), &ev("4.999999"));
    no(&r(r#"["<", 5]"#), &ev("5"));
    yes(&r(r#"["<=", 5]"#), &ev("5"));
    no(&r(r#"["<=", 5]"#), &ev("5.000001"));
    yes(&r(r#"[">", 0]"#), &ev("0.000001"));
    no(&r(r#"[">", 0]"#), &ev("0"));
    no(&r(r#"[">", 0]"#), &ev("-0"));
    yes(&r(r#"[">=", 0]"#), &ev("-0.0"));
    let range = r(r#"[">", 0, "<=", 5]"#);
    no(&range, &ev("0"));
    yes(&range, &ev("0.000001"));
    yes(&range, &ev("5"));
    no(&range, &ev("5.000001"));
    let range = r(r#"[">=", -10.5, "<", -1]"#);
    yes(&range, &ev("-10.5"));
    no(&range, &ev("-10.500001"));
    yes(&range, &ev("-1.000001"));
    no(&range, &ev("-1"));
    // strings are not numbers
    no(&r(r#"[">", 0]"#), r#"{"x": "5"}"#);
    no(&r(r#"[">", 0]"#), r#"{"x": true}"#);
    // range and precision limits
    yes(&r(r#"["<=", 5e9]"#), &ev("5000000000"));
    yes(&r(r#"[">=", -5e9]"#), &ev("-5e9"));
    no(&r(r#"[">", 0]"#), &ev("5000000001"));
    no(&r(r#"["<", 0]"#), &ev("-5000000001"));
    no(&r(r#"[">", 0]"#), &ev("0.0000001"));
    no(&r(r#"[">", 0]"#), &ev("1e300"));
    yes(&r(r#"["=", 0.000001]"#), &ev("1e-6"));
    yes(&r(r#"["=", 4999999999.999999]"#), &ev("4999999999.999999"));
    no(&r(r#"["=", 4999999999.999999]"#), &ev("4999999999.999998"));
    // arrays: any element
    yes(&r(r#"[">", 10]"#), r#"{"x": [1, 2, 11]}"#);
    // exact numbers and numeric ranges on the same field
    yes(r#"{"x": [7, {"numeric": [">", 100]}]}"#, &ev("7.0"));
    yes(r#"{"x": [7, {"numeric": [">", 100]}]}"#, &ev("101"));
    no(r#"{"x": [7, {"numeric": [">", 100]}]}"#, &ev("100"));
}

// ------------------------------------------------------------------------ exists

#[test]
fn exists_true_and_false() {
    let t = r#"{"d": {"c": [{"exists": true}]}}"#;
    let f = r#"{"d": {"c": [{"exists": false}]}}"#;
    yes(t, r#"{"d": {"c": 5}}"#);
    yes(t, r#"{"d": {"c": null}}"#);
    yes(t, r#"{"d": {"c": ""}}"#);
    yes(t, r#"{"d": {"c": [1]}}"#);
    no(t, r#"{"d": {"c": []}}"#);
    no(t, r#"{"d": {"c": {"c1": 100}}}"#);
    no(t, r#"{"d": {}}"#);
    no(t, r#"{}"#);
    no(f, r#"{"d": {"c": 5}}"#);
    no(f, r#"{"d": {"c": null}}"#);
    yes(f, r#"{"d": {"c": []}}"#);
    yes(f, r#"{"d": {"c": {"c1": 100}}}"#);
    yes(f, r#"{"d": {}}"#);
    yes(f, r#"{}"#);
    yes(f, r#"{"d": 5}"#);
    no(f, r#"{"d": [{"x": 1}, {"c": 1}]}"#);
    // absent together with other conditions
    let p = r#"{"s": ["x"], "d": {"c": [{"exists": false}]}}"#;
    yes(p, r#"{"s": "x"}"#);
    no(p, r#"{"s": "x", "d": {"c": 1}}"#);
    no(p, r#"{"s": "y"}"#);
    // either exists or not: always true
    let p = r#"{"s": ["x"], "e": [{"exists": true}, {"exists": false}]}"#;
    yes(p, r#"{"s": "x"}"#);
    yes(p, r#"{"s": "x", "e": 1}"#);
    // value or absent
    let p = r#"{"e": ["v", {"exists": false}]}"#;
    yes(p, r#"{}"#);
    yes(p, r#"{"e": "v"}"#);
    no(p, r#"{"e": "w"}"#);
}

#[test]
fn exists_false_in_arrays_follows_event_ruler() {
    let p = r#"{"d": {"a": [{"exists": true}], "b": [{"exists": false}]}}"#;
    // the element with "a" has no "b"
    yes(p, r#"{"d": [{"a": 1}]}"#);
    yes(p, r#"{"d": [{"a": 1}, {"b": 2}]}"#);
    no(p, r#"{"d": [{"a": 1, "b": 2}]}"#);
    yes(p, r#"{"d": [{"a": 1, "b": 2}, {"a": 3}]}"#);
    // event-ruler checks absence against the fields matched *before* it in key
    // order; here "a" (absent) sorts before "b", so any "a" anywhere counts.
    let p = r#"{"d": {"b": [{"exists": true}], "a": [{"exists": false}]}}"#;
    no(p, r#"{"d": [{"a": 1}, {"b": 2}]}"#);
    yes(p, r#"{"d": [{"b": 2}]}"#);
}

/// A sub-rule with `exists: false` whose path has no value in the event is
/// answered without the general search; its other conditions must still
/// agree on array elements.
#[test]
fn exists_false_with_its_path_missing_still_checks_arrays() {
    let p = r#"{"s": ["x"], "i": {"k": ["a"], "n": [1]}, "c": [{"exists": false}]}"#;
    yes(p, r#"{"s": "x", "i": [{"k": "a", "n": 1}]}"#);
    yes(
        p,
        r#"{"s": "x", "i": [{"k": "b", "n": 1}, {"k": "a", "n": 1}]}"#,
    );
    no(
        p,
        r#"{"s": "x", "i": [{"k": "a", "n": 2}, {"k": "b", "n": 1}]}"#,
    );
    no(p, r#"{"s": "x", "i": [{"k": "a", "n": 1}], "c": 0}"#);
    // nested arrays: the general search decides
    yes(p, r#"{"s": "x", "i": [[{"k": "a", "n": 1}]]}"#);
    no(p, r#"{"s": "x", "i": [[{"k": "a"}, {"n": 1}]]}"#);
    // the absent path inside the same array as the others
    let p = r#"{"i": {"k": ["a"], "n": [1], "c": [{"exists": false}]}}"#;
    // ("c" sorts before "k" and "n", so any "c" counts: event-ruler's order)
    no(p, r#"{"i": [{"k": "a", "n": 1}, {"c": 1}]}"#);
    no(p, r#"{"i": [{"k": "a", "n": 1, "c": 1}]}"#);
    yes(p, r#"{"i": [{"k": "a", "n": 1}]}"#);
    no(p, r#"{"i": [{"k": "a"}, {"n": 1}]}"#);
}

// -------------------------------------------------------------------------- cidr

#[test]
fn cidr_and_ip_literals() {
    let p = r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#;
    yes(p, r#"{"ip": "10.0.0.0"}"#);
    yes(p, r#"{"ip": "10.0.0.255"}"#);
    no(p, r#"{"ip": "10.0.1.0"}"#);
    no(p, r#"{"ip": "9.255.255.255"}"#);
    no(p, r#"{"ip": "not an ip"}"#);
    no(p, r#"{"ip": 167772161}"#);
    no(p, r#"{"ip": "::ffff:10.0.0.1"}"#);
    yes(
        r#"{"ip": [{"cidr": "10.0.0.0/8"}]}"#,
        r#"{"ip": "10.200.3.4"}"#,
    );
    yes(
        r#"{"ip": [{"cidr": "0.0.0.0/0"}]}"#,
        r#"{"ip": "255.255.255.255"}"#,
    );
    yes(
        r#"{"ip": [{"cidr": "10.0.0.7/32"}]}"#,
        r#"{"ip": "10.0.0.7"}"#,
    );
    no(
        r#"{"ip": [{"cidr": "10.0.0.7/32"}]}"#,
        r#"{"ip": "10.0.0.8"}"#,
    );
    let p = r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#;
    yes(p, r#"{"ip": "2001:db8::1"}"#);
    yes(p, r#"{"ip": "2001:0DB8:ffff:0:0:0:0:1"}"#);
    no(p, r#"{"ip": "2001:db9::1"}"#);
    no(p, r#"{"ip": "10.0.0.1"}"#);
    yes(r#"{"ip": [{"cidr": "::/0"}]}"#, r#"{"ip": "::1"}"#);
    // IP literal values match the address in any notation
    yes(
        r#"{"ip": ["2001:db8::1"]}"#,
        r#"{"ip": "2001:0db8:0000::0001"}"#,
    );
    yes(r#"{"ip": ["10.0.0.1"]}"#, r#"{"ip": "10.0.0.1"}"#);
    no(r#"{"ip": ["10.0.0.1"]}"#, r#"{"ip": "10.0.0.2"}"#);
}

// --------------------------------------------------------------------------- $or

#[test]
fn or_semantics_and_expansion() {
    let p = r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}"#;
    assert_eq!(pat(p).sub_rule_count(), 2);
    yes(p, r#"{"source": "aws.cloudwatch", "metricName": "CPU"}"#);
    yes(p, r#"{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}"#);
    no(p, r#"{"source": "aws.cloudwatch", "namespace": "AWS/ES"}"#);
    no(p, r#"{"source": "aws.ec2", "metricName": "CPU"}"#);
    let p = r#"{"detail": {"$or": [{"c": [{"numeric": [">", 0, "<=", 5]}]}, {"d": [{"numeric": ["<", 10]}]}, {"x": [{"numeric": ["=", 3.018e2]}]}]}}"#;
    assert_eq!(pat(p).sub_rule_count(), 3);
    yes(p, r#"{"detail": {"x": 301.8}}"#);
    yes(p, r#"{"detail": {"c": 5, "d": 100}}"#);
    no(p, r#"{"detail": {"c": 6, "d": 100}}"#);
    // parallel $or: product
    let p = r#"{"$or": [{"a": ["1"]}, {"b": ["1"]}], "c": {"$or": [{"d": ["1"]}, {"e": ["1"]}]}}"#;
    assert_eq!(pat(p).sub_rule_count(), 4);
    yes(p, r#"{"b": "1", "c": {"d": "1"}}"#);
    no(p, r#"{"b": "1", "c": {"f": "1"}}"#);
    // several sub-rules of one rule match: reported once
    let mut m = Matcher::new();
    m.add(9, &pat(r#"{"$or": [{"a": ["1"]}, {"b": ["1"]}]}"#));
    let mut out = Vec::new();
    m.matches_json(br#"{"a": "1", "b": "1"}"#, &mut out)
        .unwrap();
    assert_eq!(out, vec![9]);
}

// ------------------------------------------------------------ array consistency

#[test]
fn array_consistency() {
    let p = r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#;
    let ev = r#"{"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}, {"firstName": "Peter", "lastName": "Jones"}]}"#;
    no(p, ev);
    yes(
        r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#,
        ev,
    );
    let nested = r#"{"employees": [[{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}], [{"firstName": "Peter", "lastName": "Jones"}]]}"#;
    no(p, nested);
    yes(
        r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#,
        nested,
    );
    yes(r#"{"employees": {"firstName": ["Anna"]}}"#, nested);
    // fields in different arrays do not constrain each other
    yes(
        r#"{"a": {"x": ["1"]}, "b": {"y": ["2"]}}"#,
        r#"{"a": [{"x": "0"}, {"x": "1"}], "b": [{"y": "2"}, {"y": "3"}]}"#,
    );
    // inner arrays: same outer element, any inner elements
    let p = r#"{"u": {"t": {"k": ["color"]}, "n": ["x"]}}"#;
    yes(
        p,
        r#"{"u": [{"n": "x", "t": [{"k": "size"}, {"k": "color"}]}]}"#,
    );
    no(
        p,
        r#"{"u": [{"n": "y", "t": [{"k": "color"}]}, {"n": "x", "t": [{"k": "size"}]}]}"#,
    );
    // primitive arrays next to scalars in the same element
    let p = r#"{"d": {"tags": ["b"], "type": ["G"]}}"#;
    yes(p, r#"{"d": [{"tags": ["a", "b"], "type": "G"}]}"#);
    no(
        p,
        r#"{"d": [{"tags": ["a", "b"], "type": "H"}, {"tags": ["c"], "type": "G"}]}"#,
    );
}

// ------------------------------------------------------------------- rejections

#[test]
fn rejections_structure() {
    rejects(r#"[]"#, "(root)", None, "must be a JSON object");
    rejects(r#""x""#, "(root)", None, "must be a JSON object");
    rejects(r#"{}"#, "(root)", None, "empty objects");
    rejects(r#"{"a": {}}"#, "a", None, "empty objects");
    rejects(r#"{"a": "x"}"#, "a", None, "object or to an array");
    rejects(r#"{"a": {"b": 5}}"#, "a.b", None, "object or to an array");
    rejects(
        r#"{"a": {"b": null}}"#,
        "a.b",
        None,
        "object or to an array",
    );
    rejects(r#"{"a": []}"#, "a", None, "empty arrays");
    rejects(r#"{"a": [["x"]]}"#, "a", None, "nested arrays");
    rejects(r#"{"a": ["x"], "a": ["y"]}"#, "a", None, "more than once");
    rejects(
        r#"{"a": {"b": ["x"]}, "a.b": ["y"]}"#,
        "a.b",
        None,
        "more than once",
    );
    rejects(r#"{"a": [{}]}"#, "a", None, "empty operator object");
    assert!(matches!(
        Pattern::parse("{\"a\": [1,]}"),
        Err(PatternError::Json { .. })
    ));
    assert!(matches!(Pattern::parse(""), Err(PatternError::Json { .. })));
    let big = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(MAX_PATTERN_BYTES));
    assert!(matches!(
        Pattern::parse(&big),
        Err(PatternError::TooLarge { .. })
    ));
    let deep = format!("{}[\"x\"]{}", r#"{"a":"#.repeat(40), "}".repeat(40));
    assert!(Pattern::parse(&deep).is_err());
    let long = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(MAX_OPERAND_BYTES + 1));
    rejects(&long, "a", None, "at most");
    let many: Vec<String> = (0..=MAX_VALUES_PER_FIELD).map(|i| i.to_string()).collect();
    rejects(
        &format!(r#"{{"a": [{}]}}"#, many.join(",")),
        "a",
        None,
        "at most",
    );
}

#[test]
fn rejections_operators() {
    rejects(
        r#"{"a": [{"foo": 1}]}"#,
        "a",
        Some("foo"),
        "unknown operator",
    );
    rejects(
        r#"{"a": [{"Prefix": "x"}]}"#,
        "a",
        Some("Prefix"),
        "unknown operator",
    );
    rejects(
        r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
        "a",
        Some("prefix"),
        "exactly one key",
    );
    rejects(r#"{"a": [{"prefix": 5}]}"#, "a", Some("prefix"), "expects");
    rejects(
        r#"{"a": [{"prefix": {"foo": "x"}}]}"#,
        "a",
        Some("prefix"),
        "equals-ignore-case",
    );
    rejects(
        r#"{"a": [{"prefix": {"equals-ignore-case": 1}}]}"#,
        "a",
        Some("prefix"),
        "expects a string",
    );
    rejects(
        r#"{"a": [{"suffix": null}]}"#,
        "a",
        Some("suffix"),
        "expects",
    );
    rejects(
        r#"{"a": [{"suffix": {"equals-ignore-case": "x", "x": 1}}]}"#,
        "a",
        Some("suffix"),
        "exactly one key",
    );
    rejects(
        r#"{"a": [{"equals-ignore-case": ["x"]}]}"#,
        "a",
        Some("equals-ignore-case"),
        "expects a string",
    );
    rejects(
        r#"{"a": [{"exactly": 1}]}"#,
        "a",
        Some("exactly"),
        "expects a string",
    );
    rejects(
        r#"{"a": [{"exists": "true"}]}"#,
        "a",
        Some("exists"),
        "true or false",
    );
    rejects(
        r#"{"a": [{"exists": 1}]}"#,
        "a",
        Some("exists"),
        "true or false",
    );
    rejects(
        r#"{"a": [{"contains": 1}]}"#,
        "a",
        Some("contains"),
        "expects a string",
    );
    rejects(
        r#"{"a": [{"wildcard": "a**b"}]}"#,
        "a",
        Some("wildcard"),
        "consecutive",
    );
    rejects(
        r#"{"a": [{"wildcard": "a\\b"}]}"#,
        "a",
        Some("wildcard"),
        "backslash",
    );
    rejects(
        r#"{"a": [{"wildcard": 3}]}"#,
        "a",
        Some("wildcard"),
        "expects a string",
    );
    let stars = format!(
        r#"{{"a": [{{"wildcard": "{}"}}]}}"#,
        "a*".repeat(MAX_WILDCARD_STARS + 1)
    );
    rejects(&stars, "a", Some("wildcard"), "at most");
    rejects(
        r#"{"a": [{"regex": "a("}]}"#,
        "a",
        Some("regex"),
        "cannot be used",
    );
    rejects(
        r#"{"a": [{"regex": "a)|(b"}]}"#,
        "a",
        Some("regex"),
        "cannot be used",
    );
    rejects(
        r#"{"a": [{"regex": "(\\w{100}){100}"}]}"#,
        "a",
        Some("regex"),
        "cannot be used",
    );
    rejects(
        r#"{"a": [{"regex": "(?<=a)b"}]}"#,
        "a",
        Some("regex"),
        "cannot be used",
    );
    let long_re = format!(
        r#"{{"a": [{{"regex": "{}"}}]}}"#,
        "a".repeat(MAX_REGEX_BYTES + 1)
    );
    rejects(&long_re, "a", Some("regex"), "at most");
    rejects(
        r#"{"ip": [{"cidr": "10.0.0.0"}]}"#,
        "ip",
        Some("cidr"),
        "'/' required",
    );
    rejects(
        r#"{"ip": [{"cidr": "10.0.0.0/33"}]}"#,
        "ip",
        Some("cidr"),
        "mask bits",
    );
    rejects(
        r#"{"ip": [{"cidr": "2001:db8::/129"}]}"#,
        "ip",
        Some("cidr"),
        "mask bits",
    );
    rejects(
        r#"{"ip": [{"cidr": "300.0.0.0/8"}]}"#,
        "ip",
        Some("cidr"),
        "not an IP address",
    );
    rejects(
        r#"{"ip": [{"cidr": "abc/8"}]}"#,
        "ip",
        Some("cidr"),
        "not an IP address",
    );
    rejects(
        r#"{"ip": [{"cidr": "10.0.0.0/x"}]}"#,
        "ip",
        Some("cidr"),
        "mask bits",
    );
    rejects(r#"{"ip": [{"cidr": 10}]}"#, "ip", Some("cidr"), "expects");
}

#[test]
fn rejections_numeric() {
    let r = |spec: &str| format!(r#"{{"detail": {{"price": [{{"numeric": {spec}}}]}}}}"#);
    let e = Pattern::parse(&r(r#"[">", "abc"]"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"at detail.price: "numeric" expects pairs of operator and number, got "abc""#
    );
    rejects(
        &r(r#"["~", 5]"#),
        "detail.price",
        Some("numeric"),
        "pairs of operator and number",
    );
    rejects(
        &r(r#"[5, ">"]"#),
        "detail.price",
        Some("numeric"),
        "pairs of operator and number",
    );
    rejects(&r(r#"[]"#), "detail.price", Some("numeric"), "pairs");
    rejects(
        &r(r#"[">"]"#),
        "detail.price",
        Some("numeric"),
        "followed by a number",
    );
    rejects(
        &r(r#"">5""#),
        "detail.price",
        Some("numeric"),
        "expects an array",
    );
    rejects(
        &r(r#"["=", 5, "<", 6]"#),
        "detail.price",
        Some("numeric"),
        "too many",
    );
    rejects(
        &r(r#"["<", 5, ">", 1]"#),
        "detail.price",
        Some("numeric"),
        "too many",
    );
    rejects(
        &r(r#"[">", 5, ">", 6]"#),
        "detail.price",
        Some("numeric"),
        "second operator",
    );
    rejects(
        &r(r#"[">", 5, "<", 5]"#),
        "detail.price",
        Some("numeric"),
        "less than top",
    );
    rejects(
        &r(r#"[">", 6, "<", 5]"#),
        "detail.price",
        Some("numeric"),
        "less than top",
    );
    rejects(
        &r(r#"[">", 1, "<", 5, "<", 6]"#),
        "detail.price",
        Some("numeric"),
        "too many",
    );
    rejects(
        &r(r#"[">", 5000000001]"#),
        "detail.price",
        Some("numeric"),
        "outside",
    );
    rejects(
        &r(r#"["<", -5.000001e9]"#),
        "detail.price",
        Some("numeric"),
        "outside",
    );
    rejects(
        &r(r#"["=", 0.0000001]"#),
        "detail.price",
        Some("numeric"),
        "6 decimal places",
    );
    rejects(
        &r(r#"["=", null]"#),
        "detail.price",
        Some("numeric"),
        "pairs",
    );
    // the limits themselves are accepted
    pat(&r(r#"[">=", -5e9, "<=", 5e9]"#));
    pat(&r(r#"["=", 0.000001]"#));
}

#[test]
fn rejections_anything_but() {
    let r = |spec: &str| format!(r#"{{"s": [{{"anything-but": {spec}}}]}}"#);
    rejects(&r("[]"), "s", Some("anything-but"), "must not be empty");
    rejects(
        &r(r#"["a", 1]"#),
        "s",
        Some("anything-but"),
        "all strings or all numbers",
    );
    rejects(
        &r(r#"[null]"#),
        "s",
        Some("anything-but"),
        "all strings or all numbers",
    );
    rejects(
        &r(r#"[true]"#),
        "s",
        Some("anything-but"),
        "all strings or all numbers",
    );
    rejects(&r("null"), "s", Some("anything-but"), "expects");
    rejects(&r("true"), "s", Some("anything-but"), "expects");
    rejects(&r("1e10"), "s", Some("anything-but"), "outside");
    rejects(&r("[1, 1e10]"), "s", Some("anything-but"), "outside");
    rejects(
        &r(r#"{"prefix": ""}"#),
        "s",
        Some("anything-but"),
        "must not be empty",
    );
    rejects(
        &r(r#"{"suffix": ["a", ""]}"#),
        "s",
        Some("anything-but"),
        "must not be empty",
    );
    rejects(
        &r(r#"{"prefix": 1}"#),
        "s",
        Some("anything-but"),
        "expects a string",
    );
    rejects(
        &r(r#"{"prefix": []}"#),
        "s",
        Some("anything-but"),
        "non-empty list",
    );
    rejects(
        &r(r#"{"equals-ignore-case": 1}"#),
        "s",
        Some("anything-but"),
        "expects a string",
    );
    rejects(
        &r(r#"{"equals-ignore-case": [1]}"#),
        "s",
        Some("anything-but"),
        "expects strings",
    );
    rejects(
        &r(r#"{"wildcard": "a**"}"#),
        "s",
        Some("anything-but"),
        "consecutive",
    );
    rejects(
        &r(r#"{"numeric": [">", 1]}"#),
        "s",
        Some("anything-but"),
        "unsupported",
    );
    rejects(
        &r(r#"{"prefix": "a", "suffix": "b"}"#),
        "s",
        Some("anything-but"),
        "exactly one key",
    );
    rejects(&r("{}"), "s", Some("anything-but"), "one key");
}

#[test]
fn rejections_or() {
    rejects(
        r#"{"$or": [{"a": ["1"]}]}"#,
        "$or",
        Some("$or"),
        "at least 2",
    );
    rejects(r#"{"$or": []}"#, "$or", Some("$or"), "at least 2");
    rejects(
        r#"{"$or": {"a": ["1"]}}"#,
        "$or",
        Some("$or"),
        "must be an array",
    );
    rejects(
        r#"{"x": {"$or": [{"a": ["1"]}, ["b"]]}}"#,
        "x.$or[1]",
        Some("$or"),
        "only objects",
    );
    rejects(
        r#"{"$or": [{"a": ["1"]}, {"numeric": [">", 1]}]}"#,
        "$or[1].numeric",
        Some("$or"),
        "reserved",
    );
    rejects(
        r#"{"$or": [{"a": ["1"]}, {"b": {"prefix": ["x"]}}]}"#,
        "$or[1].b.prefix",
        Some("$or"),
        "reserved",
    );
    rejects(
        r#"{"$or": [{"a": ["1"]}, {}]}"#,
        "$or[1]",
        None,
        "empty objects",
    );
    rejects(
        r#"{"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}"#,
        "$or[0].a",
        None,
        "more than once",
    );
    // 2^9 = 512 combinations > MAX_SUB_RULES
    let or = r#"{"$or": [{"a": ["1"]}, {"b": ["1"]}]}"#;
    let mut p = String::from("{");
    for i in 0..9 {
        if i > 0 {
            p.push(',');
        }
        p.push_str(&format!(r#""f{i}": {or}"#));
    }
    p.push('}');
    let e = Pattern::parse(&p).unwrap_err();
    assert!(e.to_string().contains("combinations"), "{e}");
}

#[test]
fn from_value_works_and_validates() {
    let v: Value = serde_json::json!({"a": [{"numeric": [">", 1]}], "b": {"c": ["x"]}});
    let p = Pattern::from_value(&v).unwrap();
    assert!(p.matches(&serde_json::json!({"a": 2, "b": {"c": "x"}})));
    let v: Value = serde_json::json!({"a": [{"numeric": [">", "x"]}]});
    assert!(Pattern::from_value(&v).is_err());
}

// ---------------------------------------------------------------- matcher API

#[test]
fn matcher_api() {
    let mut m = Matcher::new();
    assert!(m.is_empty());
    m.add(1, &pat(r#"{"a": ["x"]}"#));
    m.add(2, &pat(r#"{"a": [{"prefix": "x"}]}"#));
    m.add(3, &pat(r#"{"b": ["x"]}"#));
    m.add(1, &pat(r#"{"b": ["y"]}"#)); // second alternative for rule 1
    assert_eq!(m.len(), 3);
    assert!(m.contains(1) && !m.contains(4));
    let run = |m: &Matcher, ev: &str| {
        let mut out = Vec::new();
        m.matches_json(ev.as_bytes(), &mut out).unwrap();
        out.sort();
        out
    };
    assert_eq!(run(&m, r#"{"a": "x"}"#), vec![1, 2]);
    assert_eq!(run(&m, r#"{"a": "xy", "b": "y"}"#), vec![1, 2]);
    assert_eq!(run(&m, r#"{"a": "z", "b": "x"}"#), vec![3]);
    // both alternatives of rule 1 hold: it is reported once
    assert_eq!(run(&m, r#"{"a": "x", "b": "y"}"#), vec![1, 2]);
    // out is appended to, not cleared
    let mut out = vec![99];
    m.matches_json(br#"{"b": "x"}"#, &mut out).unwrap();
    assert_eq!(out, vec![99, 3]);
    assert!(m.remove(1));
    assert!(!m.remove(1));
    assert_eq!(m.len(), 2);
    assert_eq!(run(&m, r#"{"a": "x", "b": "y"}"#), vec![2]);
    let mut ids: Vec<_> = m.rule_ids().collect();
    ids.sort();
    assert_eq!(ids, vec![2, 3]);
    // explicit scratch
    let mut s = MatchScratch::new();
    let mut out = Vec::new();
    m.matches_json_with(&mut s, br#"{"b": "x"}"#, &mut out)
        .unwrap();
    assert_eq!(out, vec![3]);
    let c = m.clone();
    assert!(m.remove(2) && m.remove(3));
    assert!(m.is_empty());
    assert_eq!(run(&m, r#"{"a": "x", "b": "x"}"#), Vec::<u32>::new());
    assert_eq!(run(&c, r#"{"a": "x", "b": "x"}"#), vec![2, 3]);
}

/// A rule added once, then again (a further alternative), then again: each
/// event reports it once however many of its alternatives hold, including
/// alternatives whose pivot carries nothing else (the matcher's fast path for
/// rules with a single sub-rule must not survive the second `add`).
#[test]
fn a_rule_added_again_is_reported_once() {
    let mut m = Matcher::new();
    m.add(7, &pat(r#"{"n": [{"numeric": [">", 10, "<", 20]}]}"#));
    m.add(7, &pat(r#"{"n": [{"numeric": [">", 12, "<", 30]}]}"#));
    m.add(7, &pat(r#"{"s": ["x"], "t": ["y"]}"#));
    let run = |m: &Matcher, ev: &str| {
        let mut out = Vec::new();
        m.matches_json(ev.as_bytes(), &mut out).unwrap();
        out
    };
    assert_eq!(run(&m, r#"{"n": 15}"#), vec![7]);
    assert_eq!(run(&m, r#"{"n": 15, "s": "x", "t": "y"}"#), vec![7]);
    assert_eq!(run(&m, r#"{"n": 11, "s": "x", "t": "y"}"#), vec![7]);
    assert_eq!(run(&m, r#"{"n": 25}"#), vec![7]);
    assert_eq!(run(&m, r#"{"n": 5, "s": "x"}"#), Vec::<u32>::new());
    // removed and added back as one alternative: the fast path again
    assert!(m.remove(7));
    m.add(7, &pat(r#"{"n": [{"numeric": [">", 10, "<", 20]}]}"#));
    assert_eq!(run(&m, r#"{"n": 15}"#), vec![7]);
    assert_eq!(run(&m, r#"{"n": 25}"#), Vec::<u32>::new());
}

#[test]
fn malformed_documents_are_errors_not_panics() {
    let mut m = Matcher::new();
    m.add(1, &pat(r#"{"a": {"b": ["x"]}}"#));
    m.add(2, &pat(r#"{"n": [{"numeric": [">", 0]}]}"#));
    let bad: &[&[u8]] = &[
        b"",
        b"   ",
        b"{",
        b"{\"a\"",
        b"{\"a\":",
        b"{\"a\": {\"b\": \"x\"}",
        b"{\"a\": {\"b\": \"x}}",
        b"{\"a\": {\"b\": \"\\q\"}}",
        b"{\"a\": {\"b\": \"\\ud800\"}}",
        b"{\"a\": {\"b\": \"\xff\"}}",
        b"{\"n\": 01}",
        b"{\"n\": -}",
        b"{\"n\": 1.}",
        b"{\"n\": tru}",
        b"{\"z\": [1, 2}",
        b"{\"z\": {\"y\": [}]}",
        b"{\"a\" 1}",
        b"{\"a\": 1,}",
        b"{1: 2}",
        b"{} {}",
        b"[1, 2",
        b"\"abc",
        b"\"\\",
    ];
    for doc in bad {
        let mut out = Vec::new();
        let r = m.matches_json(doc, &mut out);
        assert!(
            r.is_err(),
            "should fail: {:?}",
            String::from_utf8_lossy(doc)
        );
        assert!(out.is_empty());
    }
    let deep = format!(
        "{}1{}",
        "[".repeat(MAX_DOCUMENT_DEPTH + 10),
        "]".repeat(MAX_DOCUMENT_DEPTH + 10)
    );
    let mut out = Vec::new();
    let e = m.matches_json(deep.as_bytes(), &mut out).unwrap_err();
    assert_eq!(e.kind, MatchErrorKind::TooDeep);
    let deep = format!(
        "{{\"z\": {}1{}}}",
        "[".repeat(MAX_DOCUMENT_DEPTH + 10),
        "]".repeat(MAX_DOCUMENT_DEPTH + 10)
    );
    assert!(m.matches_json(deep.as_bytes(), &mut out).is_err());
    // fine documents still work afterwards, and scalars/arrays at the top level are valid
    for ok in [
        &b"{\"a\": {\"b\": \"x\"}}"[..],
        b"[]",
        b"1",
        b"null",
        b" \"s\" ",
        b"[{\"a\": {\"b\": \"x\"}}]",
    ] {
        m.matches_json(ok, &mut out).unwrap();
    }
    assert_eq!(out, vec![1, 1]);
}

#[test]
fn empty_matcher_validates_and_matches_nothing() {
    let m = Matcher::new();
    let mut out = Vec::new();
    m.matches_json(br#"{"a": [1, {"b": "c"}]}"#, &mut out)
        .unwrap();
    assert!(out.is_empty());
    assert!(
        m.matches_json(br#"{"a": [1, {"b": "c"]}"#, &mut out)
            .is_err()
    );
}

#[test]
fn many_rules_share_conditions() {
    let mut m = Matcher::new();
    for i in 0..500u32 {
        let p = format!(
            r#"{{"source": ["s{}"], "detail": {{"n": [{{"numeric": [">", {}]}}], "k": ["v"]}}}}"#,
            i % 10,
            i
        );
        m.add(i, &pat(&p));
    }
    let mut out = Vec::new();
    m.matches_json(
        br#"{"source": "s3", "detail": {"n": 100, "k": "v"}}"#,
        &mut out,
    )
    .unwrap();
    out.sort();
    let want: Vec<u32> = (0..100).filter(|i| i % 10 == 3).collect();
    assert_eq!(out, want);
    for i in 0..500 {
        assert!(m.remove(i));
    }
    assert!(m.is_empty());
    out.clear();
    m.matches_json(
        br#"{"source": "s3", "detail": {"n": 100, "k": "v"}}"#,
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
}

#[test]
fn array_consistency_search_stops_at_its_budget() {
    // Four nested arrays of 100 elements under one pattern, and a condition
    // that only an element of another top-level element satisfies: the
    // search would try 100⁴ combinations before answering "no".
    let p = pat(
        r#"{"a": {"m": {"v": [1]}, "n": {"v": [1]}, "o": {"v": [1]}, "p": {"v": [1]}, "x": [1], "zz": [1]}}"#,
    );
    let inner: Vec<serde_json::Value> = (0..100).map(|_| serde_json::json!({"v": 1})).collect();
    let doc = serde_json::json!({"a": [{"x": 1, "m": inner, "n": inner, "o": inner, "p": inner}, {"zz": 1}]});
    let text = doc.to_string();
    let mut m = Matcher::new();
    m.add(1, &p);
    let mut scratch = MatchScratch::new();
    let mut out = Vec::new();
    m.matches_json_with(&mut scratch, text.as_bytes(), &mut out)
        .unwrap();
    assert!(out.is_empty());
    assert!(scratch.budget_exhausted());
    // The next document starts with a fresh budget.
    out.clear();
    m.matches_json_with(&mut scratch, br#"{"a": [{"x": 1, "zz": 1, "m": [{"v": 1}], "n": [{"v": 1}], "o": [{"v": 1}], "p": [{"v": 1}]}]}"#, &mut out)
        .unwrap();
    assert_eq!(out, [1]);
    assert!(!scratch.budget_exhausted());
}
