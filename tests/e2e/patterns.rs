//! `POST /v1/test-pattern` and the `pattern` CLI commands.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

async fn test_pattern(s: &Server, body: Value) -> (u16, Value) {
    status_json(
        client()
            .post(s.url("/v1/test-pattern"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn order() -> Value {
    json!({
        "specversion": "1.0", "id": "o-1", "source": "/shop/eu", "type": "com.example.order.created",
        "partitionkey": "c-7", "datacontenttype": "application/json",
        "data": {"total": 1250.0, "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}], "customer": {"ip": "10.1.2.3"}}
    })
}

#[tokio::test]
async fn patterns_on_cloudevents_and_raw_json() {
    let s = Server::start();
    let cases = [
        (
            json!({"type": [{"prefix": "com.example.order."}], "data": {"total": [{"numeric": [">=", 1000]}]}}),
            true,
        ),
        (json!({"source": ["/shop/us"]}), false),
        (
            json!({"data": {"items": {"sku": ["A"], "qty": [2]}}}),
            false,
        ),
        (json!({"data": {"items": {"sku": ["B"], "qty": [2]}}}), true),
        (
            json!({"data": {"customer": {"ip": [{"cidr": "10.0.0.0/8"}]}}}),
            true,
        ),
        (
            json!({"partitionkey": [{"anything-but": ["c-1"]}], "subject": [{"exists": false}]}),
            true,
        ),
        (
            json!({"$or": [{"source": ["/x"]}, {"data": {"total": [1250]}}]}),
            true,
        ),
        (
            json!({"id": [{"wildcard": "o-*"}], "type": [{"contains": "order"}]}),
            true,
        ),
    ];
    for (pattern, want) in cases {
        let (st, v) = test_pattern(&s, json!({"pattern": pattern, "event": order()})).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["matches"], want, "{pattern}");
    }
    // Pattern and document as strings holding JSON; raw JSON matched as-is.
    let (_, v) = test_pattern(
        &s,
        json!({"pattern": "{\"detail-type\": [\"Order\"], \"detail\": {\"n\": [3.0e0]}}", "json": "{\"detail-type\": \"Order\", \"detail\": {\"n\": 3}}"}),
    )
    .await;
    assert_eq!(v["matches"], true);
}

#[tokio::test]
async fn cesql_on_cloudevents() {
    let s = Server::start();
    let (st, v) = test_pattern(
        &s,
        json!({"cesql": "type LIKE 'com.example.%' AND partitionkey = 'c-7'", "event": order()}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["matches"], true);
    let (_, v) = test_pattern(&s, json!({"cesql": "INT(missing) > 3", "event": order()})).await;
    assert_eq!(v["matches"], false);
    assert_eq!(v["errors"][0]["kind"], "missingAttribute");
}

#[tokio::test]
async fn invalid_patterns_say_what_and_where() {
    let s = Server::start();
    for (pattern, needles) in [
        (
            json!({"data": {"price": [{"numeric": [">", "abc"]}]}}),
            vec!["numeric", "data.price"],
        ),
        (json!({"source": "not-an-array"}), vec!["source"]),
        (json!({"a": [{"frobnicate": 1}]}), vec!["frobnicate"]),
        (json!({"a": [{"wildcard": "a**b"}]}), vec!["wildcard"]),
        (json!({"a": []}), vec!["a"]),
        (json!({"ip": [{"cidr": "300.1.1.1/8"}]}), vec!["cidr"]),
    ] {
        let (st, v) = test_pattern(&s, json!({"pattern": pattern, "json": {}})).await;
        assert_eq!(st, 400, "{pattern}: {v}");
        assert_eq!(v["field"], "pattern");
        let detail = v["detail"].as_str().unwrap();
        for n in needles {
            assert!(detail.contains(n), "{detail} should mention {n}");
        }
    }
    let (st, v) = test_pattern(&s, json!({"cesql": "type = ", "json": {}})).await;
    assert_eq!(st, 400);
    assert_eq!(v["field"], "cesql");
    let (st, v) = test_pattern(&s, json!({"pattern": {}, "event": {"id": "x"}})).await;
    assert_eq!(st, 400);
    assert_eq!(v["field"], "event.specversion");
    let (st, _) = test_pattern(&s, json!({"pattern": {}})).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn pattern_cli_test_and_bench() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("e.json");
    std::fs::write(&event, order().to_string()).unwrap();
    let run = |args: &[&str]| {
        Command::new(&*BIN)
            .arg("--server")
            .arg(&s.base)
            .args(args)
            .output()
            .unwrap()
    };
    let ev = format!("@{}", event.display());
    let out = run(&[
        "pattern",
        "test",
        "--pattern",
        r#"{"source":["/shop/eu"]}"#,
        "--event",
        &ev,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "match");
    let out = run(&[
        "pattern",
        "test",
        "--pattern",
        r#"{"source":["/nope"]}"#,
        "--event",
        &ev,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&[
        "pattern",
        "test",
        "--cesql",
        "source = '/shop/eu'",
        "--event",
        &ev,
    ]);
    assert_eq!(out.status.code(), Some(0));

    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        json!([
            {"name": "eu", "pattern": {"source": ["/shop/eu"]}},
            {"name": "big", "pattern": {"data": {"total": [{"numeric": [">", 1000]}]}}},
            {"name": "sql", "cesql": "type LIKE '%created'"},
            {"name": "never", "pattern": {"source": ["/never"]}}
        ])
        .to_string(),
    )
    .unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, format!("{}\n{}\n", order(), order())).unwrap();
    let out = run(&[
        "pattern",
        "bench",
        "--patterns",
        rules.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--cloudevents",
        "--json",
        "--min-seconds",
        "0.2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rules"], 4);
    assert_eq!(v["events"], 2);
    assert_eq!(v["total_matches"], 6);
    assert!(v["events_per_sec"].as_f64().unwrap() > 0.0);
}
