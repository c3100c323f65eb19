//! Plugins: upload, checks, sandboxing, containment, and plugins in rules.
//! The components are built from `plugins/` by `tests/artifacts`.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signalbox_test_plugins as artifacts;

use crate::receiver::Receiver;
use crate::support::*;

async fn upload_bytes(s: &Server, name: &str, version: &str, bytes: Vec<u8>) -> (u16, Value) {
    status_json(
        client()
            .put(s.url(&format!("/v1/plugins/{name}/versions/{version}")))
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn run_plugin(s: &Server, reference: &str, body: Value) -> Value {
    let (name, version) = reference.split_once('@').unwrap();
    let (st, v) = status_json(
        client()
            .post(s.url(&format!("/v1/plugins/{name}/versions/{version}/test")))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v
}

fn order(id: &str, total: f64) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/shop", "type": "order.created",
           "datacontenttype": "application/json", "data": {"order": id, "total": total, "items": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}})
}

fn employee() -> Value {
    json!({"specversion": "1.0", "id": "e1", "source": "/hr", "type": "employee.onboarded", "subject": "ann@example.com",
           "datacontenttype": "application/json",
           "data": {"employee_id": "E1", "name": "Ann", "email": "ann@example.com", "department": "R&D", "address": {"city": "Oslo"}}})
}

#[tokio::test]
async fn upload_inspect_and_run_the_example_plugins() {
    let s = Server::start();
    for (name, path, kind) in [
        ("high-value", artifacts::FILTER_HIGH_VALUE, "filter"),
        ("sanitize", artifacts::TRANSFORM_SANITIZE_PII, "transform"),
        ("split", artifacts::TRANSFORM_SPLIT, "transform"),
        ("webhook", artifacts::CONNECTOR_WEBHOOK, "connector"),
    ] {
        let (st, v) = upload_plugin(&s, name, "1.0.0", path).await;
        assert_eq!(st, 201, "{name}: {v}");
        assert_eq!(v["kind"], kind);
        assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
        // Same bytes again: accepted, unchanged.
        assert_eq!(upload_plugin(&s, name, "1.0.0", path).await.0, 200);
    }
    // Versions are immutable.
    let (st, v) = upload_plugin(&s, "high-value", "1.0.0", artifacts::FILTER_PASS).await;
    assert_eq!(st, 409, "{v}");
    let (_, v) = get(&s, "/v1/plugins").await;
    assert_eq!(v["plugins"].as_array().unwrap().len(), 4);
    let (_, v) = get(&s, "/v1/plugins/split").await;
    assert_eq!(v["versions"][0]["version"], "1.0.0");

    let v = run_plugin(
        &s,
        "high-value@1.0.0",
        json!({"event": order("big", 1500.0), "config": {"threshold": 1000}}),
    )
    .await;
    assert_eq!(v["outcome"], "keep", "{v}");
    let v = run_plugin(
        &s,
        "high-value@1.0.0",
        json!({"event": order("small", 10.0), "config": {"threshold": 1000}}),
    )
    .await;
    assert_eq!(v["outcome"], "drop");

    let v = run_plugin(&s, "sanitize@1.0.0", json!({"event": employee()})).await;
    assert_eq!(v["outcome"], "events", "{v}");
    let out = &v["events"][0];
    assert_eq!(out["data"]["employee_id"], "E1");
    assert_eq!(out["data"]["department"], "R&D");
    for gone in ["name", "email", "address"] {
        assert!(
            out["data"].get(gone).is_none(),
            "{gone} should be removed: {out}"
        );
    }
    assert!(out.get("subject").is_none(), "an email subject is removed");
    assert_eq!(out["sanitized"], true);

    let v = run_plugin(&s, "split@1.0.0", json!({"event": order("o", 1.0)})).await;
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["id"], "o-1");
    assert_eq!(events[1]["data"]["sku"], "b");
    assert_eq!(events[1]["parentid"], "o");

    let r = Receiver::start().await;
    let host = r.url.trim_start_matches("http://").to_owned();
    let v = run_plugin(
        &s,
        "webhook@1.0.0",
        json!({"event": order("w", 1.0), "config": {"url": format!("{}/hook", r.url)}, "allowed_hosts": [format!("http://{host}")]}),
    )
    .await;
    assert_eq!(v["outcome"], "delivered", "{v}");
    let got = r.wait_for(1, 10).await;
    assert_eq!(got[0].json()["id"], "w");
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/cloudevents+json")
    );
}

#[tokio::test]
async fn invalid_uploads_are_refused_with_the_reason() {
    let s = Server::start_with_config("[plugins]\nmax_bytes = 1000000\n");
    let (st, v) = upload_bytes(&s, "core", "1", b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(st, 400);
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("core WebAssembly module"),
        "{v}"
    );
    let (st, v) = upload_plugin(&s, "foreign", "1", artifacts::BAD_FOREIGN_WORLD).await;
    assert_eq!(st, 400);
    assert!(
        v["detail"].as_str().unwrap().contains("Signalbox world"),
        "{v}"
    );
    let random: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (st, v) = upload_bytes(&s, "random", "1", random).await;
    assert_eq!(st, 400, "{v}");
    let (st, _) = upload_bytes(&s, "huge", "1", vec![0u8; 2_000_000]).await;
    assert_eq!(st, 413);
    let (st, v) = upload_plugin(&s, "Bad Name", "1", artifacts::FILTER_PASS).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(get(&s, "/v1/plugins").await.1["plugins"], json!([]));
}

/// Each misbehaving plugin fails only its own call, with a clear error,
/// while a rule with a good plugin keeps delivering everything.
#[tokio::test]
async fn bad_plugins_are_contained() {
    let s = Server::start();
    let r = Receiver::start().await;
    assert_eq!(
        upload_plugin(&s, "pass", "1", artifacts::FILTER_PASS)
            .await
            .0,
        201
    );
    let (st, v) = status_json(
        client()
            .put(s.url("/v1/buses/default/rules/good"))
            .json(&json!({"pattern": {"source": ["/shop"]}, "filters": [{"plugin": "pass@1"}],
                          "targets": [{"id": "t", "type": "http", "url": r.url, "mode": "structured"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    // Keep traffic flowing through the good rule while bad plugins run.
    let url = s.url("/v1/buses/default/events");
    let traffic = tokio::spawn(async move {
        for i in 0..40 {
            client()
                .post(&url)
                .header("content-type", "application/cloudevents+json")
                .body(order(&format!("g{i}"), 1.0).to_string())
                .send()
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let limits = json!({"memory_mb": 16, "call_timeout_ms": 300});
    let cases = [
        (
            "loop",
            artifacts::BAD_INFINITE_LOOP,
            json!({}),
            vec!["timeout"],
        ),
        (
            "bomb",
            artifacts::BAD_MEMORY_BOMB,
            json!({}),
            vec!["memory_limit", "trap"],
        ),
        ("trap", artifacts::BAD_TRAP, json!({}), vec!["trap"]),
        (
            "stack",
            artifacts::BAD_STACK_OVERFLOW,
            json!({}),
            vec!["trap"],
        ),
        (
            "file",
            artifacts::BAD_READS_FILE,
            json!({}),
            vec!["plugin_error"],
        ),
        (
            "garbage",
            artifacts::BAD_GARBAGE_OUTPUT,
            json!({"case": "all"}),
            vec!["invalid_output"],
        ),
    ];
    for (name, path, config, kinds) in cases {
        assert_eq!(upload_plugin(&s, name, "1", path).await.0, 201, "{name}");
        let started = Instant::now();
        let v = run_plugin(
            &s,
            &format!("{name}@1"),
            json!({"event": order("x", 1.0), "config": config, "limits": limits}),
        )
        .await;
        assert_eq!(v["outcome"], "error", "{name}: {v}");
        let kind = v["error"]["kind"].as_str().unwrap();
        assert!(kinds.contains(&kind), "{name}: kind {kind}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            started.elapsed()
        );
        // The same plugin works again right after (a fresh instance).
        let again = run_plugin(
            &s,
            &format!("{name}@1"),
            json!({"event": order("y", 1.0), "config": config, "limits": limits}),
        )
        .await;
        assert_eq!(again["outcome"], "error", "{name} second call: {again}");
    }
    // Reading a file is denied: there are no preopened directories.
    let v = run_plugin(&s, "file@1", json!({"event": order("x", 1.0)})).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/etc/passwd"),
        "{v}"
    );
    // No environment, no arguments.
    assert_eq!(
        upload_plugin(&s, "env", "1", artifacts::BAD_READS_ENV)
            .await
            .0,
        201
    );
    let v = run_plugin(&s, "env@1", json!({"event": order("x", 1.0)})).await;
    assert_eq!(v["outcome"], "keep", "the plugin saw an environment: {v}");
    // A connector calling a host that is not on its allow-list.
    let other = Receiver::start().await;
    assert_eq!(
        upload_plugin(&s, "sneaky", "1", artifacts::BAD_DISALLOWED_HOST)
            .await
            .0,
        201
    );
    let v = run_plugin(
        &s,
        "sneaky@1",
        json!({"event": order("x", 1.0), "config": {"url": other.url}}),
    )
    .await;
    assert_eq!(v["outcome"], "error", "{v}");
    assert_eq!(other.calls(), 0, "the request must never leave");
    // Loopback is refused even when a wildcard would match: it must be listed exactly.
    traffic.await.unwrap();
    let got = r.wait_for(40, 30).await;
    assert_eq!(got.len(), 40, "the good rule delivered everything");
}

#[tokio::test]
async fn plugins_in_a_rule_chain_and_degraded_status() {
    let s = Server::start();
    let r = Receiver::start().await;
    for (name, path) in [
        ("high-value", artifacts::FILTER_HIGH_VALUE),
        ("split", artifacts::TRANSFORM_SPLIT),
        ("trap", artifacts::BAD_TRAP),
    ] {
        assert_eq!(upload_plugin(&s, name, "1", path).await.0, 201);
    }
    let put = |name: &'static str, rule: Value| {
        let url = s.url(&format!("/v1/buses/default/rules/{name}"));
        async move { status_json(client().put(url).json(&rule).send().await.unwrap()).await }
    };
    let (st, v) = put(
        "chain",
        json!({"pattern": {"type": ["order.created"]},
               "filters": [{"plugin": "high-value@1", "config": {"threshold": 100}}],
               "transform": {"plugin": "split@1", "config": {"type": "order.item"}},
               "targets": [{"id": "items", "type": "http", "url": r.url, "mode": "structured"}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, _) = put(
        "broken",
        json!({"pattern": {"type": ["order.created"]}, "filters": [{"plugin": "trap@1"}], "targets": [{"id": "t", "type": "log"}]}),
    )
    .await;
    assert_eq!(st, 201);
    let mut batch = vec![order("small", 5.0)];
    for i in 0..6 {
        batch.push(order(&format!("big{i}"), 500.0));
    }
    assert_eq!(post_batch(&s, "default", &json!(batch)).await.0, 200);
    let got = r.wait_for(18, 30).await;
    assert!(got.iter().all(|g| g.json()["type"] == "order.item"));
    assert!(got.iter().all(|g| g.json()["parentid"] != "small"));
    // The filter's decision is in the trace.
    let (_, t) = get(&s, "/v1/buses/default/events/small/trace").await;
    let steps = t["steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s["step"] == "filtered_out"
            && s["rule"] == "chain"
            && s["detail"]["by"] == "high-value@1"),
        "{t}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "failed" && s["rule"] == "broken"),
        "{t}"
    );
    // The trapping rule is degraded; the other is not.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = get(&s, "/v1/buses/default/rules/broken").await;
        if v["status"]["degraded"] == true {
            assert_eq!(v["status"]["state"], "degraded");
            assert!(
                v["status"]["plugins"][0]["status"]["traps"]
                    .as_u64()
                    .unwrap()
                    >= 5
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rule never reported degraded: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, v) = get(&s, "/v1/buses/default/rules/chain").await;
    assert_eq!(v["status"]["degraded"], false);
    // A plugin in use cannot be deleted.
    let (st, v) = status_json(
        client()
            .delete(s.url("/v1/plugins/split/versions/1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("default/chain"));
    client()
        .delete(s.url("/v1/buses/default/rules/chain"))
        .send()
        .await
        .unwrap();
    let r = client()
        .delete(s.url("/v1/plugins/split/versions/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// A `lazy-filter` (world `signalbox:plugin/lazy-filter`) reads each
/// attribute through the `lazy` interface; the same plugin checks every
/// accessor through the test endpoint, then filters in a rule.
#[tokio::test]
async fn lazy_filters_read_the_event_attribute_by_attribute() {
    let s = Server::start();
    let (st, v) = upload_plugin(&s, "lazy", "1", artifacts::FILTER_LAZY_PREFIX).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["kind"], "filter");
    assert!(
        v["imports"].as_array().unwrap().iter().any(|i| i
            .as_str()
            .unwrap()
            .starts_with("signalbox:plugin/lazy@0.1.")),
        "{v}"
    );
    let full = json!({"specversion": "1.0", "id": "e-1", "source": "/shop", "type": "order.created",
        "subject": "order-1", "time": "2026-12-05T10:00:00Z", "datacontenttype": "application/json",
        "dataschema": "https://schemas.example.com/order", "partitionkey": "p-9",
        "data": {"total":5}});
    let bare =
        json!({"specversion": "1.0", "id": "e-2", "source": "/hr", "type": "employee.hired"});
    let cases = [
        ("type", "order.", &full, "keep"),
        ("type", "employee.", &full, "drop"),
        ("id", "e-1", &full, "keep"),
        ("source", "/shop", &full, "keep"),
        ("subject", "order-1", &full, "keep"),
        ("subject", "", &bare, "drop"),
        ("time", "2026-12-05T10", &full, "keep"),
        ("datacontenttype", "application/json", &full, "keep"),
        ("dataschema", "https://schemas.example.com/", &full, "keep"),
        ("data", r#"{"total":5}"#, &full, "keep"),
        ("data", "", &bare, "drop"),
        ("data-size", "11", &full, "keep"),
        ("ext:partitionkey", "p-9", &full, "keep"),
        ("ext:missing", "", &full, "drop"),
        ("extensions", "partitionkey=p-9", &full, "keep"),
        ("extensions", "p", &bare, "drop"),
        ("event", "e-2|/hr|employee.hired", &bare, "keep"),
    ];
    for (attribute, prefix, event, outcome) in cases {
        let v = run_plugin(
            &s,
            "lazy@1",
            json!({"event": event, "config": {"attribute": attribute, "prefix": prefix}}),
        )
        .await;
        assert_eq!(v["outcome"], outcome, "{attribute} {prefix:?}: {v}");
    }

    // Reading the event when there is none (in `init`) traps, with a reason.
    assert_eq!(
        upload_plugin(&s, "early", "1", artifacts::BAD_LAZY_IN_INIT)
            .await
            .0,
        201
    );
    let v = run_plugin(&s, "early@1", json!({"event": full})).await;
    assert_eq!(v["outcome"], "error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside a keep-lazy call"),
        "{v}"
    );

    // In a rule it filters like any other filter.
    let r = Receiver::start().await;
    let (st, v) = put_json(
        &s,
        "/v1/buses/default/rules/orders",
        &json!({"pattern": {"specversion": ["1.0"]},
                "filters": [{"plugin": "lazy@1", "config": {"prefix": "order."}}],
                "targets": [{"id": "t", "type": "http", "url": r.url, "mode": "structured"}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let mut batch = Vec::new();
    for i in 0..6 {
        batch.push(order(&format!("o{i}"), 1.0));
        let mut e = bare.clone();
        e["id"] = json!(format!("h{i}"));
        batch.push(e);
    }
    assert_eq!(post_batch(&s, "default", &json!(batch)).await.0, 200);
    let got = r.wait_for(6, 30).await;
    assert!(
        got.iter().all(|g| g.json()["type"] == "order.created"),
        "{got:?}"
    );
    let (_, t) = get(&s, "/v1/buses/default/events/h3/trace").await;
    assert!(
        t["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "filtered_out" && s["detail"]["by"] == "lazy@1"),
        "{t}"
    );
    // Nothing else arrives: the six employee events were all dropped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.calls(), 6);
}

#[tokio::test]
async fn plugins_survive_restart_from_the_compiled_cache() {
    let mut s = Server::start();
    let r = Receiver::start().await;
    assert_eq!(
        upload_plugin(&s, "high-value", "1", artifacts::FILTER_HIGH_VALUE)
            .await
            .0,
        201
    );
    assert_eq!(
        upload_plugin(&s, "pass", "1", artifacts::FILTER_PASS)
            .await
            .0,
        201
    );
    client()
        .put(s.url("/v1/buses/default/rules/r"))
        .json(
            &json!({"pattern": {"source": ["/shop"]}, "filters": [{"plugin": "high-value@1"}],
                      "targets": [{"id": "t", "type": "http", "url": r.url}]}),
        )
        .send()
        .await
        .unwrap();
    s.terminate();
    s.restart();
    assert!(s.log().contains("from_cache=2"), "{}", s.log());
    let (_, v) = get(&s, "/v1/plugins").await;
    assert_eq!(v["plugins"].as_array().unwrap().len(), 2);
    post_batch(&s, "default", &json!([order("a", 5000.0), order("b", 1.0)])).await;
    let got = r.wait_for(1, 20).await;
    assert_eq!(got[0].header("ce-id").as_deref(), Some("a"));
}

#[tokio::test]
async fn plugin_cli_push_list_inspect_test_rm() {
    let s = Server::start();
    let cli = |args: &[&str]| {
        Command::new(&*BIN)
            .arg("--server")
            .arg(&s.base)
            .args(args)
            .output()
            .unwrap()
    };
    let out = cli(&[
        "plugin",
        "push",
        artifacts::FILTER_HIGH_VALUE,
        "high-value@2.0.0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["plugin", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("high-value") && text.contains("filter"),
        "{text}"
    );
    let out = cli(&[
        "--output",
        "json",
        "plugin",
        "inspect",
        artifacts::TRANSFORM_SPLIT,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "transform");
    let out = cli(&["plugin", "inspect", "high-value@2.0.0"]);
    assert!(out.status.success());
    // Local test, no server involved.
    let dir = tempfile::tempdir().unwrap();
    let e = dir.path().join("e.json");
    std::fs::write(&e, order("big", 5000.0).to_string()).unwrap();
    let out = cli(&[
        "--output",
        "json",
        "plugin",
        "test",
        artifacts::FILTER_HIGH_VALUE,
        "--event",
        e.to_str().unwrap(),
        "--config",
        "threshold=100",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "keep");
    let out = cli(&[
        "plugin",
        "test",
        artifacts::BAD_TRAP,
        "--event",
        e.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("error"));
    let out = cli(&["plugin", "rm", "high-value@2.0.0"]);
    assert!(out.status.success());
    assert_eq!(get(&s, "/v1/plugins").await.1["plugins"], json!([]));
}
