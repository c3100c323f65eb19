//! Conformance against aws/event-ruler test data (see `tests/conformance/PROVENANCE.md`).
//!
//! The data is vendored in `tests/conformance/event-ruler` (or found through
//! `SIGNALBOX_CONFORMANCE_DIR`, pointing at the `conformance` folder).

use super::*;
use serde_json::{Value, json};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    crate::testing::conformance_dir().join("event-ruler")
}

fn read(rel: &str) -> String {
    let p = data_dir().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn json_file(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap()
}

fn run(m: &Matcher, doc: &str) -> Vec<RuleId> {
    let mut out = Vec::new();
    m.matches_json(doc.as_bytes(), &mut out).unwrap();
    let v: Value = serde_json::from_str(doc).unwrap();
    let mut out2 = Vec::new();
    m.matches_value(&v, &mut out2);
    out.sort();
    out2.sort();
    assert_eq!(out, out2, "matches_json and matches_value disagree");
    out
}

#[test]
fn nested_arrays_expected_ac() {
    let exp = json_file("derived/data_file_expectations.json");
    let na = &exp["nested_arrays"];
    let names = ["rule1", "rule2", "rule3"];
    let mut m = Matcher::new();
    let mut pats = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let p = Pattern::parse(&read(na["rules"][n].as_str().unwrap())).unwrap();
        m.add(i as u32, &p);
        pats.push(p);
    }
    let cases = na["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let ev_text = read(c["event"].as_str().unwrap());
        let mut want: Vec<u32> = c["expected_AC"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                names
                    .iter()
                    .position(|x| *x == n.as_str().unwrap())
                    .unwrap() as u32
            })
            .collect();
        want.sort();
        assert_eq!(run(&m, &ev_text), want, "event {}", c["event"]);
        let ev: Value = serde_json::from_str(&ev_text).unwrap();
        let reference: Vec<u32> = (0..3)
            .filter(|i| reference_matches(&pats[*i as usize], &ev))
            .collect();
        assert_eq!(reference, want, "reference, event {}", c["event"]);
    }
}

#[test]
fn big_event() {
    let exp = json_file("derived/data_file_expectations.json");
    let be = &exp["big_event"];
    assert_eq!(be["expected_AC"], json!(["test"]));
    let p = Pattern::parse(&read(be["rule"].as_str().unwrap())).unwrap();
    let ev = read(be["event"].as_str().unwrap());
    let mut m = Matcher::new();
    m.add(1, &p);
    assert_eq!(run(&m, &ev), vec![1]);
    let v: Value = serde_json::from_str(&ev).unwrap();
    assert!(reference_matches(&p, &v));
    // A few unrelated rules do not disturb it.
    m.add(
        2,
        &Pattern::parse(r#"{"detail": {"eventName": ["Other"]}}"#).unwrap(),
    );
    m.add(3, &Pattern::parse(r#"{"source": [{"prefix": "aws."}], "detail": {"requestParameters": {"changeBatch": {"changes": {"action": ["NOPE"]}}}}}"#).unwrap());
    assert_eq!(run(&m, &ev), vec![1]);
}

#[test]
fn or_relationship_rules_sub_rule_counts() {
    let exp = json_file("derived/data_file_expectations.json");
    let o = &exp["or_relationship_rules"];
    let want: Vec<usize> = o["expected_sub_rule_count_after_DNF_expansion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(want, vec![2, 4, 3, 4, 2]);
    let rules = json_file(o["file"].as_str().unwrap());
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 5);
    let mut m = Matcher::new();
    for (i, r) in rules.iter().enumerate() {
        // through the text parser as well as from a Value
        let text = serde_json::to_string(r).unwrap();
        let p = Pattern::parse(&text).unwrap();
        assert_eq!(p.sub_rule_count(), want[i], "rule {i}");
        assert_eq!(Pattern::from_value(r).unwrap().sub_rule_count(), want[i]);
        m.add(i as u32, &p);
    }
    assert_eq!(m.len(), 5);
    // spot checks of the expanded semantics
    let got = run(
        &m,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES", "spaceId": 1000}"#,
    );
    assert_eq!(got, vec![0, 2, 3]);
    let got = run(
        &m,
        r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES"}"#,
    );
    assert_eq!(got, vec![0, 2]);
    let got = run(
        &m,
        r#"{"metricName": "ReadLatency", "detail": {"detail-type": "CloudWatch Alarm State Change"}}"#,
    );
    assert_eq!(got, vec![0, 1]);
    let got = run(
        &m,
        r#"{"source": "aws.cloudwatch", "detail": {"state": {"value": "ALARM"}}, "withoutConfiguration": {"metric": {"name": "AWS/Default"}}}"#,
    );
    assert_eq!(got, vec![4]);
    for i in 0..5 {
        assert!(m.remove(i));
    }
    assert!(m.is_empty());
    assert_eq!(
        run(
            &m,
            r#"{"source": "aws.cloudwatch", "metricName": "CPUUtilization"}"#
        ),
        Vec::<u32>::new()
    );
}

#[test]
fn wrong_or_relationship_rules_rejected() {
    let rules = json_file("src/test/data/wrongOrRelationshipRules.json");
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 2);
    for r in rules {
        let e = Pattern::parse(&serde_json::to_string(r).unwrap()).unwrap_err();
        assert_eq!(e.operator(), Some("$or"), "{e}");
        assert!(Pattern::from_value(r).is_err());
    }
}

#[test]
fn normal_rules_with_or_wording_rejected() {
    let rules = json_file("src/test/data/normalRulesWithOrWording.json");
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 4);
    for r in rules {
        let e = Pattern::parse(&serde_json::to_string(r).unwrap()).unwrap_err();
        assert!(e.path().is_some_and(|p| p.contains("$or")), "{e}");
    }
}

/// Names of the correctness cases that must match (hand-checked against the
/// event-ruler semantics; the rest must not).
const CORRECTNESS_MATCHES: &[&str] = &[
    "flat: 2-field exists, both present",
    "flat: exact match",
    "flat: prefix",
    "flat: numeric range",
    "flat: anything-but",
    "objarray: same element",
    "objarray: 3 elem, last valid",
    "objarray: 3-field, all in one",
    "objarray: exact same elem",
    "objarray: prefix same",
    "primarray: exists",
    "primarray: exact match",
    "nested: inner same",
    "nested: outer same",
    "nested2: same leaf",
    "mixed: array+scalar match",
    "exists-false: absent",
    "single-field rule",
    "many elem one valid",
    "numeric+exists array",
    "anything-but array",
    "primarray: large + scalar, exists",
    "primarray: large + scalar, prefix",
    "primarray: nested under object",
    "primarray: two prim arrays + scalar",
    "primarray: exact match among many",
    "primarray: numeric in array",
    "primarray: anything-but in array",
    "primarray: single value array",
    "mixed: obj-array + prim-array",
    "deep prim: nested 3 levels",
    "suffix match in array",
    "N emails, only last element has name \u{2014} dedup loses the only valid match",
];

#[test]
fn correctness_cases() {
    let cases = json_file("src/test/resources/correctness-cases.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 51);
    let mut all = Matcher::new();
    let mut expected_all = Vec::new();
    let mut matched = 0;
    for (i, c) in cases.iter().enumerate() {
        let name = c["name"].as_str().unwrap();
        let p = Pattern::from_value(&c["rule"]).unwrap();
        let p2 = Pattern::parse(&serde_json::to_string(&c["rule"]).unwrap()).unwrap();
        let ev = &c["event"];
        let ev_text = serde_json::to_string(ev).unwrap();
        let r = reference_matches(&p, ev);
        let mut m = Matcher::new();
        m.add(1, &p2);
        let got = run(&m, &ev_text) == [1];
        assert_eq!(got, r, "compiled vs reference: {name}");
        let want = CORRECTNESS_MATCHES.contains(&name);
        assert_eq!(r, want, "hand-checked expectation: {name}");
        // name-encoded intent
        let lname = name.to_lowercase();
        if lname.contains("split")
            || lname.contains("mismatch")
            || lname.contains("no match")
            || lname.contains("fail")
        {
            assert!(!r, "{name}");
        }
        if lname.ends_with(" same") || lname.contains("valid") {
            assert!(r, "{name}");
        }
        matched += usize::from(r);
        all.add(i as u32, &p);
        expected_all.push((ev_text, r, i as u32));
    }
    assert_eq!(matched, CORRECTNESS_MATCHES.len());
    // All 51 rules in one matcher: each case's event matches its own rule iff expected.
    for (ev, want, id) in &expected_all {
        let got = run(&all, ev);
        assert_eq!(
            got.contains(id),
            *want,
            "case {id} inside the combined matcher"
        );
        // and every other reported rule agrees with the reference
        let v: Value = serde_json::from_str(ev).unwrap();
        for (j, c) in cases.iter().enumerate() {
            let p = Pattern::from_value(&c["rule"]).unwrap();
            assert_eq!(
                got.contains(&(j as u32)),
                reference_matches(&p, &v),
                "rule {j} on event {id}"
            );
        }
    }
}

/// Event generators of `perf-scenarios.json` (re-created from the notes).
fn generate(name: &str, n: usize) -> Value {
    let strs =
        |p: &str, n: usize| -> Vec<Value> { (0..n).map(|i| json!(format!("{p}{i}"))).collect() };
    match name {
        "primArrayPlusScalar" => json!({"d": {"tags": strs("t", n), "type": "GROUP"}}),
        "primArrayOnly" => json!({"d": {"tags": strs("t", n)}}),
        "objArrayBothFields" => {
            json!({"d": (0..n).map(|i| json!({"a": i, "b": i})).collect::<Vec<_>>()})
        }
        "objArrayLastValid" => {
            let mut v: Vec<Value> = (0..n - 1)
                .map(|i| {
                    if i % 2 == 0 {
                        json!({"a": i})
                    } else {
                        json!({"b": i})
                    }
                })
                .collect();
            v.push(json!({"a": n, "b": n}));
            json!({"d": v})
        }
        "objArrayAllPartial" => json!({"d": (0..n)
            .map(|i| if i % 2 == 0 { json!({"a": i}) } else { json!({"b": i}) })
            .collect::<Vec<_>>()}),
        "customerLike" => json!({"detail": {
            "data": (0..n).map(|i| json!({
                "name": format!("user{i}"), "type": "USER",
                "domains": [{"email": format!("u{i}@example.com")}, {"web": "example.com"}]
            })).collect::<Vec<_>>(),
            "context": {"companyId": "c1", "userId": "u1", "email": "admin@example.com"}
        }}),
        "primInsideObjArray" => json!({"detail": {"data": [
            {"name": strs("n", n), "type": "A"},
            {"name": strs("m", n), "type": "B"}
        ]}}),
        "noObjArrayLargePrim" => {
            json!({"detail": {"data": {"name": strs("n", n), "type": "GROUP"}}})
        }
        "nested2Level" => json!({"a": (0..n).map(|i| json!({"b": (0..10).map(|j| {
            if i == n - 1 && j == 9 { json!({"x": j, "y": j}) }
            else if j % 2 == 0 { json!({"x": j}) } else { json!({"y": j}) }
        }).collect::<Vec<_>>()})).collect::<Vec<_>>()}),
        "deepNestedPrim" => json!({"a": {"b": (0..3).map(|k| json!({
            "tags": strs(&format!("t{k}-"), n), "type": format!("T{k}")
        })).collect::<Vec<_>>()}}),
        "wideRulePrimArray" => json!({"d": {"a": strs("a", n), "b": "x", "c": "y"}}),
        "twoPrimArrays" => json!({"tags": strs("t", n), "cats": strs("c", n), "v": "1"}),
        "controlScalar" => json!({"a": 1, "b": 2}),
        other => panic!("unknown generator {other}"),
    }
}

#[test]
fn perf_scenarios_expected_matches() {
    let scen = json_file("src/test/resources/perf-scenarios.json");
    let scen = scen.as_array().unwrap();
    assert_eq!(scen.len(), 16);
    for s in scen {
        let name = s["name"].as_str().unwrap();
        let p = Pattern::from_value(&s["rule"]).unwrap();
        let want = s["expectedMatches"].as_u64().unwrap() as usize;
        let mut m = Matcher::new();
        m.add(1, &p);
        for size in s["sizes"].as_array().unwrap() {
            let n = size.as_u64().unwrap() as usize;
            let ev = generate(s["generator"].as_str().unwrap(), n);
            let text = serde_json::to_string(&ev).unwrap();
            let got = run(&m, &text).len();
            assert_eq!(got, want, "{name} at size {n}");
            if n <= 200 {
                assert_eq!(
                    usize::from(reference_matches(&p, &ev)),
                    want,
                    "reference: {name} at size {n}"
                );
            }
        }
    }
}
