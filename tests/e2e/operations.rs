//! Operations and governance: schemas, replay, duplicate suppression,
//! metrics, access control, TLS and rate limits.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::*;

fn order(id: &str, total: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/shop", "type": "order.created",
           "datacontenttype": "application/json", "data": {"order": id, "total": total}})
}

async fn put(s: &Server, path: &str, body: Value) -> (u16, Value) {
    status_json(client().put(s.url(path)).json(&body).send().await.unwrap()).await
}

const ORDER_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["order", "total"],
  "properties": {"order": {"type": "string"}, "total": {"type": "number", "minimum": 0}}
}"#;

#[tokio::test]
async fn schema_policies_enforce_warn_off_and_discovery() {
    let s = Server::start();
    for (bus, policy) in [("strict", "enforce"), ("lenient", "warn"), ("loose", "off")] {
        let (st, v) = put(
            &s,
            &format!("/v1/buses/{bus}"),
            json!({"schemas": {"default_policy": policy, "discovery": true}}),
        )
        .await;
        assert_eq!(st, 201, "{v}");
        let schema: Value = serde_json::from_str(ORDER_SCHEMA).unwrap();
        let (st, v) = put(
            &s,
            &format!("/v1/buses/{bus}/schemas/order.created/versions/1"),
            schema,
        )
        .await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, v) = put(
        &s,
        "/v1/buses/strict/schemas/bad/versions/1",
        json!({"type": "no-such-type"}),
    )
    .await;
    assert_eq!(st, 400, "an invalid schema is refused: {v}");

    // enforce: valid in, invalid out with the pointer and keyword; in a batch only the bad entry fails.
    assert_eq!(
        post_structured(&s, "strict", &order("ok", json!(10)))
            .await
            .0,
        200
    );
    let (st, v) = post_structured(&s, "strict", &order("neg", json!(-5))).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["field"], "data/total");
    assert!(v["detail"].as_str().unwrap().contains("minimum"), "{v}");
    let (st, v) = post_batch(
        &s,
        "strict",
        &json!([
            order("b1", json!(1)),
            order("b2", json!("many")),
            order("b3", json!(3))
        ]),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["failed"], 1);
    assert_eq!(v["entries"][1]["error"]["field"], "data/total");
    let ids: Vec<_> = all_events(&s, "strict")
        .await
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("ok"), json!("b1"), json!("b3")]);

    // warn: stored, and the trace says why it is suspect.
    assert_eq!(
        post_structured(&s, "lenient", &order("w", json!(-1)))
            .await
            .0,
        200
    );
    let (_, t) = get(&s, "/v1/buses/lenient/events/w/trace").await;
    assert!(
        t["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["step"] == "schema_warning"),
        "{t}"
    );
    // off: stored, no checks.
    assert_eq!(
        post_structured(&s, "loose", &order("o", json!("x")))
            .await
            .0,
        200
    );

    // Discovery proposes a schema from what it saw.
    let (st, d) = get(&s, "/v1/buses/loose/schemas/order.created/discovered").await;
    assert_eq!(st, 200, "{d}");
    assert!(d["properties"]["order"].is_object(), "{d}");
}

#[tokio::test]
async fn replay_redelivers_exactly_the_range_marked_as_replayed() {
    let s = Server::start();
    let events: Vec<Value> = (1..=10)
        .map(|i| order(&format!("r{i}"), json!(i)))
        .collect();
    post_batch(&s, "default", &json!(events)).await;
    let r = Receiver::start().await;
    let (st, _) = put(
        &s,
        "/v1/buses/default/rules/audit",
        json!({"pattern": {"type": ["order.created"]}, "targets": [{"id": "t", "type": "http", "url": r.url, "mode": "structured"}]}),
    )
    .await;
    assert_eq!(st, 201);
    // A new rule starts at the head: the old events are not delivered…
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.calls(), 0);
    // …until they are replayed.
    let (st, v) = status_json(
        client()
            .post(s.url("/v1/buses/default/replays"))
            .json(&json!({"from": 3, "to": 7, "rules": ["audit"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["total"], 5);
    let got = r.wait_for(5, 20).await;
    let mut ids: Vec<String> = got
        .iter()
        .map(|g| g.json()["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["r3", "r4", "r5", "r6", "r7"]);
    assert!(got.iter().all(|g| g.json()["replay"] == id.as_str()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = get(&s, &format!("/v1/replays/{id}")).await;
        if v["state"] == "completed" {
            assert_eq!(v["processed"], 5);
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.calls(), 5, "nothing outside the range");
    // Finished replays cannot be paused; unknown ones are 404; bad requests 400.
    let post = |path: String, body: Value| {
        let url = s.url(&path);
        async move { status_json(client().post(url).json(&body).send().await.unwrap()).await }
    };
    assert_eq!(
        post(format!("/v1/replays/{id}/pause"), json!({})).await.0,
        409
    );
    assert_eq!(
        post("/v1/replays/rp-999/pause".into(), json!({})).await.0,
        404
    );
    assert_eq!(
        post(
            "/v1/buses/default/replays".into(),
            json!({"from": 1, "rules": ["nope"]})
        )
        .await
        .0,
        400
    );
    // By time: everything received since a minute ago.
    let (st, v) = post(
        "/v1/buses/default/replays".into(),
        json!({"from": "2000-01-01T00:00:00Z", "rules": ["audit"], "rate_per_s": 1000}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["from_seq"], 1);
    assert_eq!(v["total"], 10);
    r.wait_for(15, 20).await;
}

#[tokio::test]
async fn duplicates_are_acknowledged_and_stored_once() {
    let s = Server::start();
    put(&s, "/v1/buses/d", json!({"dedup_window": "10m"})).await;
    let (_, a) = post_structured(&s, "d", &order("same", json!(1))).await;
    let (_, b) = post_batch(
        &s,
        "d",
        &json!([order("same", json!(1)), order("other", json!(2))]),
    )
    .await;
    assert_eq!(b["entries"][0]["seq"], a["entries"][0]["seq"]);
    assert_eq!(b["entries"][0]["duplicate"], true);
    assert!(b["entries"][1].get("duplicate").is_none());
    assert_eq!(all_events(&s, "d").await.len(), 2);
    let (_, bus) = get(&s, "/v1/buses/d").await;
    assert_eq!(bus["dedup_window"], "10m");
}

#[tokio::test]
async fn rate_limit_answers_429_and_loses_nothing_accepted() {
    let s = Server::start();
    put(
        &s,
        "/v1/buses/slow",
        json!({"rate_limit": {"events_per_s": 20, "burst": 10}}),
    )
    .await;
    let mut accepted = 0;
    let mut limited = 0;
    for i in 0..6 {
        let batch: Vec<Value> = (0..5)
            .map(|j| order(&format!("x{i}-{j}"), json!(j)))
            .collect();
        let r = client()
            .post(s.url("/v1/buses/slow/events"))
            .header("content-type", "application/cloudevents-batch+json")
            .body(json!(batch).to_string())
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
            limited += 1;
        } else {
            assert_eq!(r.status(), 200);
            accepted += 5;
        }
    }
    assert!(limited > 0, "the limit never applied");
    assert_eq!(all_events(&s, "slow").await.len(), accepted);
    // A single request larger than the burst can never fit.
    let big: Vec<Value> = (0..11)
        .map(|j| order(&format!("big{j}"), json!(j)))
        .collect();
    assert_eq!(post_batch(&s, "slow", &json!(big)).await.0, 429);
}

/// Parses the Prometheus text format into `name{labels}` → value.
#[tokio::test]
async fn metrics_move_as_events_flow() {
    let s = Server::start();
    let r = Receiver::start().await;
    put(&s, "/v1/buses/default/rules/m", json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "t", "type": "http", "url": r.url}]})).await;
    let before = scrape(&s).await;
    let key = "signalbox_ingest_events_total{bus=\"default\",mode=\"batch\",outcome=\"accepted\"}";
    assert_eq!(before.get(key).copied().unwrap_or(0.0), 0.0);
    post_batch(
        &s,
        "default",
        &json!([order("m1", json!(1)), order("m2", json!(2)), {"id": "bad"}]),
    )
    .await;
    r.wait_for(2, 20).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = scrape(&s).await;
    assert_eq!(after[key], 2.0);
    assert_eq!(
        after["signalbox_ingest_events_total{bus=\"default\",mode=\"batch\",outcome=\"rejected\"}"],
        1.0
    );
    assert_eq!(
        after["signalbox_ingest_request_duration_seconds_count{mode=\"batch\",outcome=\"ok\"}"],
        1.0
    );
    assert_eq!(
        after["signalbox_rule_matched_events_total{bus=\"default\",rule=\"m\"}"],
        2.0
    );
    assert_eq!(
        after["signalbox_target_delivered_total{bus=\"default\",rule=\"m\",target=\"t\",type=\"http\"}"],
        2.0
    );
    assert_eq!(
        after["signalbox_target_queue_depth{bus=\"default\",rule=\"m\",target=\"t\",type=\"http\"}"],
        0.0
    );
    assert_eq!(
        after["signalbox_delivery_duration_seconds_count{bus=\"default\",rule=\"m\",target=\"t\"}"],
        2.0
    );
    assert_eq!(after["signalbox_bus_last_seq{bus=\"default\"}"], 2.0);
    assert!(after.contains_key("signalbox_store_size_bytes"));
    assert!(after.contains_key("signalbox_store_write_stopped"));
    // Both events' id entries wait in memory for a table to fill.
    assert_eq!(after["signalbox_store_id_entries_in_memory"], 2.0);
    // The process figures every Prometheus client exports. Starting the
    // server (opening the store, compiling plugins' engine) takes far more
    // than the 10 ms a CPU-time tick counts.
    assert!(after["process_cpu_seconds_total"] > 0.0);
    assert!(after["process_resident_memory_bytes"] > 1e6);
    assert!(after["process_open_fds"] >= 3.0);
}

const ADMIN: &str = "sbx_000000000000_adminsecretadminsecretadminsecretadmin00";

fn admin_config() -> String {
    let out = Command::new(&*BIN)
        .args(["--output", "json", "token", "hash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // The hash of our fixed secret: computed the same way the server does.
    let _generated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hash = signalbox::auth::hash_secret(ADMIN);
    format!("[[auth.tokens]]\nname = \"ops\"\nscopes = [\"admin\"]\nhash = \"{hash}\"\n")
}

#[tokio::test]
async fn scopes_allow_what_they_should_and_nothing_more() {
    let s = Server::start_with_config(&admin_config());
    let c = client();
    let bearer = |t: &str| format!("Bearer {t}");
    // No token: 401 with a challenge; health stays open.
    let r = c.get(s.url("/v1/buses")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(
        c.get(s.url("/v1/buses"))
            .header("authorization", bearer("sbx_nope_nope"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Admin can do everything, including making narrower tokens.
    let admin = bearer(ADMIN);
    assert_eq!(
        c.put(s.url("/v1/buses/orders"))
            .header("authorization", &admin)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let mut secrets = HashMap::new();
    for (name, scope) in [
        ("pub", "publish:orders"),
        ("read", "read:orders"),
        ("mon", "metrics"),
    ] {
        let r = c
            .post(s.url("/v1/tokens"))
            .header("authorization", &admin)
            .json(&json!({"name": name, "scopes": [scope]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        secrets.insert(name, bearer(v["secret"].as_str().unwrap()));
    }
    let ev = order("a", json!(1)).to_string();
    let publish = |bus: &str, auth: &str| {
        c.post(s.url(&format!("/v1/buses/{bus}/events")))
            .header("authorization", auth)
            .header("content-type", "application/cloudevents+json")
            .body(ev.clone())
            .send()
    };
    let read = |bus: &str, auth: &str| {
        c.get(s.url(&format!("/v1/buses/{bus}/events")))
            .header("authorization", auth)
            .send()
    };
    assert_eq!(
        publish("orders", &secrets["pub"]).await.unwrap().status(),
        200
    );
    assert_eq!(
        publish("default", &secrets["pub"]).await.unwrap().status(),
        403,
        "another bus"
    );
    assert_eq!(
        read("orders", &secrets["pub"]).await.unwrap().status(),
        403,
        "publish does not imply read"
    );
    assert_eq!(
        read("orders", &secrets["read"]).await.unwrap().status(),
        200
    );
    assert_eq!(
        publish("orders", &secrets["read"]).await.unwrap().status(),
        403
    );
    let r = c
        .get(s.url("/metrics"))
        .header("authorization", &secrets["mon"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, v) = status_json(
        c.put(s.url("/v1/buses/x"))
            .header("authorization", &secrets["mon"])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 403);
    assert!(v["detail"].as_str().unwrap().contains("admin"), "{v}");
    // Revoked tokens stop working; tokens survive restarts.
    let (_, list) = status_json(
        c.get(s.url("/v1/tokens"))
            .header("authorization", &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let read_id = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "read")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        c.delete(s.url(&format!("/v1/tokens/{read_id}")))
            .header("authorization", &admin)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        read("orders", &secrets["read"]).await.unwrap().status(),
        401
    );
    let mut s = s;
    s.terminate();
    s.restart();
    let c = client();
    let r = c
        .post(s.url("/v1/buses/orders/events"))
        .header("authorization", &secrets["pub"])
        .header("content-type", "application/cloudevents+json")
        .body(ev.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The CLI passes --token.
    let out = Command::new(&*BIN)
        .args(["--server", &s.base, "--token", ADMIN, "bus", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&*BIN)
        .args(["--server", &s.base, "bus", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn refuses_to_listen_beyond_loopback_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&*BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without API tokens"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn tls_listener() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let s = Server::start_with_config(&format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        cert_file.display().to_string(),
        key_file.display().to_string()
    ));
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/v1/buses/default/events", s.base))
        .header("content-type", "application/cloudevents+json")
        .body(order("tls", json!(1)).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plain = reqwest::Client::new()
        .get(s.base.replace("https", "http") + "/healthz")
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "plain HTTP must not be served"
    );
}

#[tokio::test]
async fn rules_per_bus_and_plugins_per_server_are_limited() {
    let s =
        Server::start_with_config("[limits]\nmax_rules_per_bus = 2\n[plugins]\nmax_plugins = 1\n");
    let rule = |n: u32| json!({"pattern": {"type": [format!("t{n}")]}, "targets": [{"id": "log", "type": "log"}]});
    for n in 0..2 {
        let (st, _) = put(&s, &format!("/v1/buses/default/rules/r{n}"), rule(n)).await;
        assert_eq!(st, 201);
    }
    let (st, v) = put(&s, "/v1/buses/default/rules/r2", rule(2)).await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["field"], "rule");
    assert!(
        v["detail"].as_str().unwrap().contains("max_rules_per_bus"),
        "{v}"
    );
    // Replacing a rule at the limit is still allowed, and the limit is per bus.
    assert_eq!(put(&s, "/v1/buses/default/rules/r1", rule(9)).await.0, 200);
    put(&s, "/v1/buses/other", json!({})).await;
    assert_eq!(put(&s, "/v1/buses/other/rules/r0", rule(0)).await.0, 201);

    let upload = |version: &'static str| {
        client()
            .put(s.url(&format!("/v1/plugins/pass/versions/{version}")))
            .header("content-type", "application/wasm")
            .body(std::fs::read(signalbox_test_plugins::FILTER_PASS).unwrap())
            .send()
    };
    assert_eq!(status_json(upload("1").await.unwrap()).await.0, 201);
    let (st, v) = status_json(upload("2").await.unwrap()).await;
    assert_eq!(st, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("max_plugins"), "{v}");
    // Re-uploading the stored version is not a new one.
    assert_eq!(status_json(upload("1").await.unwrap()).await.0, 200);
}
