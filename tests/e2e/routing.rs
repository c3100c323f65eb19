//! Rules, targets, retries, dead letters and traces, end to end with real
//! HTTP receivers on loopback.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::*;

async fn put_rule(s: &Server, bus: &str, name: &str, rule: Value) -> (u16, Value) {
    status_json(
        client()
            .put(s.url(&format!("/v1/buses/{bus}/rules/{name}")))
            .json(&rule)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn order(id: &str, total: f64) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "/shop", "type": "order.created",
        "datacontenttype": "application/json", "data": {"order": id, "total": total}
    })
}

/// Retries fast enough for tests: 3 attempts, 50 ms → 200 ms backoff.
fn quick_retry() -> Value {
    json!({"max_attempts": 3, "max_age": "1h", "backoff": {"initial": "50ms", "max": "200ms", "multiplier": 2, "jitter": false}})
}

#[tokio::test]
async fn only_matching_events_arrive_in_each_mode() {
    let s = Server::start();
    let structured = Receiver::start().await;
    let binary = Receiver::start().await;
    let (st, v) = put_rule(
        &s,
        "default",
        "big-orders",
        json!({
            "pattern": {"type": ["order.created"], "data": {"total": [{"numeric": [">=", 100]}]}},
            "targets": [
                {"id": "structured", "type": "http", "url": structured.url, "mode": "structured"},
                {"id": "binary", "type": "http", "url": format!("{}/hook", binary.url), "mode": "binary", "headers": {"x-team": "ops"}}
            ]
        }),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["status"]["state"], "running");
    let batch = json!([
        order("a", 50.0),
        order("b", 150.0),
        order("c", 99.99),
        order("d", 100.0)
    ]);
    assert_eq!(post_batch(&s, "default", &batch).await.0, 200);
    // Without an ordering key sends run concurrently, so compare sets.
    let got = structured.wait_for(2, 20).await;
    let mut ids: Vec<String> = got
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["b", "d"]);
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/cloudevents+json")
    );
    let got = binary.wait_for(2, 20).await;
    let b = got
        .iter()
        .find(|r| r.header("ce-id").as_deref() == Some("b"))
        .expect("b delivered");
    assert_eq!(b.header("ce-specversion").as_deref(), Some("1.0"));
    assert_eq!(b.header("x-team").as_deref(), Some("ops"));
    assert_eq!(b.path, "/hook");
    assert_eq!(b.json()["total"], 150.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(structured.received().len(), 2, "no extra deliveries");
}

#[tokio::test]
async fn a_batch_mode_target_gets_every_event_in_cloudevents_batches() {
    let s = Server::start();
    let r = Receiver::start().await;
    let (st, v) = put_rule(
        &s,
        "default",
        "batched",
        json!({
            "pattern": {"type": ["order.created"]},
            "targets": [{"id": "warehouse", "type": "http", "url": r.url, "mode": "batch", "batch_size": 40}]
        }),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["targets"][0]["batch_size"], 40, "{v}");
    // 250 events in one publish reach the target's queue together, so the
    // worker finds a backlog and fills batches.
    let events: Vec<Value> = (0..250).map(|i| order(&format!("o{i}"), 10.0)).collect();
    assert_eq!(
        post_batch(&s, "default", &Value::Array(events)).await.0,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ids = std::collections::BTreeSet::new();
    let mut largest = 0;
    while ids.len() < 250 {
        assert!(Instant::now() < deadline, "got {} of 250 events", ids.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
        ids.clear();
        for got in r.received() {
            assert_eq!(
                got.header("content-type").as_deref(),
                Some("application/cloudevents-batch+json")
            );
            let batch = got.json();
            let batch = batch.as_array().expect("a JSON array of events");
            assert!(
                (1..=40).contains(&batch.len()),
                "{} events in one request",
                batch.len()
            );
            largest = largest.max(batch.len());
            for e in batch {
                assert_eq!(e["specversion"], "1.0");
                assert_eq!(e["type"], "order.created");
                ids.insert(e["id"].as_str().unwrap().to_owned());
            }
        }
    }
    assert!(largest > 1, "no request carried more than one event");
    let (_, status) = get(&s, "/v1/buses/default/rules/batched").await;
    assert_eq!(
        status["status"]["targets"][0]["dead_letters"], 0,
        "{status}"
    );

    // Large events: a request body stays within 1 MiB whatever batch_size
    // says, counted as JSON (300,000 bytes of text escape to 450,000).
    let before = r.received().len();
    let text = "x\n".repeat(150_000);
    let big: Vec<Value> = (0..8)
        .map(|i| {
            json!({"specversion": "1.0", "id": format!("big{i}"), "source": "/shop", "type": "order.created",
                   "datacontenttype": "text/plain", "data": text})
        })
        .collect();
    assert_eq!(post_batch(&s, "default", &Value::Array(big)).await.0, 200);
    let mut got = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 8 {
        assert!(
            Instant::now() < deadline,
            "got {} of 8 large events",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        got.clear();
        for req in &r.received()[before..] {
            assert!(req.body.len() <= 1 << 20, "a {} byte batch", req.body.len());
            for e in req.json().as_array().unwrap() {
                assert_eq!(e["data"].as_str().unwrap().len(), 300_000);
                got.insert(e["id"].as_str().unwrap().to_owned());
            }
        }
    }
}

#[tokio::test]
async fn failing_target_retries_then_dead_letters_while_healthy_target_is_on_time() {
    let s = Server::start();
    let good = Receiver::start().await;
    let bad = Receiver::start().await;
    bad.set_status(503);
    let (st, v) = put_rule(
        &s,
        "default",
        "fanout",
        json!({
            "pattern": {"source": ["/shop"]},
            "targets": [
                {"id": "good", "type": "http", "url": good.url, "mode": "structured"},
                {"id": "bad", "type": "http", "url": bad.url, "retry": quick_retry()}
            ]
        }),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let events: Vec<Value> = (0..20).map(|i| order(&format!("o{i}"), 10.0)).collect();
    let start = Instant::now();
    assert_eq!(post_batch(&s, "default", &json!(events)).await.0, 200);
    good.wait_for(20, 20).await;
    let healthy_time = start.elapsed();
    // The bad target is tried 3 times per event with backoff, then gives up.
    wait_until(30, async || {
        let (_, v) = get(&s, "/v1/buses/default/rules/fanout/dead-letters?limit=1000").await;
        v["total"] == 20
    })
    .await;
    assert_eq!(bad.calls(), 60, "3 attempts for each of 20 events");
    assert!(
        healthy_time < Duration::from_secs(5),
        "the healthy target took {healthy_time:?} while the other failed"
    );
    let (_, v) = get(&s, "/v1/buses/default/rules/fanout/dead-letters?limit=1000").await;
    let dl = &v["dead_letters"][0];
    assert_eq!(dl["target"], "bad");
    assert_eq!(dl["attempts"], 3);
    assert_eq!(dl["last_status"], 503);
    assert_eq!(dl["reason"], "max_attempts");
    assert!(dl["event"]["id"].as_str().unwrap().starts_with('o'));
    let (_, rule) = get(&s, "/v1/buses/default/rules/fanout").await;
    let targets = rule["status"]["targets"].as_array().unwrap();
    assert_eq!(targets[0]["delivered"], 20);
    assert_eq!(targets[1]["dead_lettered"], 20);

    // The trace of one event shows the match, the good delivery, the failed
    // attempts and the dead letter.
    let (st, trace) = get(&s, "/v1/buses/default/events/o3/trace").await;
    assert_eq!(st, 200, "{trace}");
    let steps: Vec<String> = trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["step"].as_str().unwrap(),
                s["target"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(steps[0], "received:");
    assert_eq!(steps[1], "matched:");
    assert!(steps.contains(&"delivered:good".to_owned()), "{steps:?}");
    assert_eq!(
        steps.iter().filter(|s| *s == "attempt_failed:bad").count(),
        2,
        "{steps:?}"
    );
    assert!(steps.contains(&"dead_lettered:bad".to_owned()), "{steps:?}");

    // Redrive after the receiver recovers: everything arrives.
    bad.set_status(200);
    let (st, v) = status_json(
        client()
            .post(s.url("/v1/buses/default/rules/fanout/dead-letters/redrive"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["redriven"], 20);
    bad.wait_for(80, 20).await;
    let (_, v) = get(&s, "/v1/buses/default/rules/fanout/dead-letters").await;
    assert_eq!(v["total"], 0);
    let ok_ids: std::collections::HashSet<String> = bad.received()[60..]
        .iter()
        .map(|r| r.header("ce-id").unwrap())
        .collect();
    assert_eq!(ok_ids.len(), 20);
}

#[tokio::test]
async fn client_errors_go_straight_to_dead_letters_and_purge() {
    let s = Server::start();
    let r = Receiver::start().await;
    r.set_status(400);
    put_rule(&s, "default", "r", json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "t", "type": "http", "url": r.url}]})).await;
    post_structured(&s, "default", &order("x", 1.0)).await;
    wait_until(20, async || {
        get(&s, "/v1/buses/default/rules/r/dead-letters").await.1["total"] == 1
    })
    .await;
    assert_eq!(r.calls(), 1, "a 400 is not retried");
    let (_, v) = get(&s, "/v1/buses/default/rules/r/dead-letters").await;
    assert_eq!(v["dead_letters"][0]["reason"], "permanent_error");
    let (st, v) = status_json(
        client()
            .delete(s.url("/v1/buses/default/rules/r/dead-letters"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["purged"].as_u64()), (200, Some(1)));
    assert_eq!(
        get(&s, "/v1/buses/default/rules/r/dead-letters").await.1["total"],
        0
    );
}

#[tokio::test]
async fn retries_recover_a_flaky_target() {
    let s = Server::start();
    let r = Receiver::start().await;
    r.fail_first(2, 429);
    put_rule(&s, "default", "r", json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "t", "type": "http", "url": r.url, "retry": quick_retry()}]})).await;
    post_structured(&s, "default", &order("x", 1.0)).await;
    r.wait_for(3, 20).await;
    let (_, trace) = get(&s, "/v1/buses/default/events/x/trace").await;
    let last = trace["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["step"], "delivered");
    assert_eq!(last["detail"]["attempt"], 3);
}

#[tokio::test]
async fn bus_target_forwards_and_stops_loops() {
    let s = Server::start();
    let c = client();
    for b in ["shipping", "ping", "pong"] {
        c.put(s.url(&format!("/v1/buses/{b}")))
            .send()
            .await
            .unwrap();
    }
    let r = Receiver::start().await;
    put_rule(&s, "default", "to-shipping", json!({"pattern": {"type": ["order.created"]}, "targets": [{"id": "fwd", "type": "bus", "bus": "shipping"}]})).await;
    put_rule(&s, "shipping", "notify", json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "hook", "type": "http", "url": r.url, "mode": "structured"}]})).await;
    post_structured(&s, "default", &order("f1", 5.0)).await;
    let got = r.wait_for(1, 20).await;
    assert_eq!(got[0].json()["id"], "f1");
    assert_eq!(got[0].json()["signalboxhops"], 1);
    assert_eq!(all_events(&s, "shipping").await.len(), 1);

    // ping → pong → ping … stops at the hop limit and dead-letters.
    put_rule(&s, "ping", "p", json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "to-pong", "type": "bus", "bus": "pong"}]})).await;
    put_rule(&s, "pong", "p", json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "to-ping", "type": "bus", "bus": "ping"}]})).await;
    post_structured(&s, "ping", &order("loop", 1.0)).await;
    wait_until(30, async || {
        let a = get(&s, "/v1/buses/ping/rules/p/dead-letters").await.1["total"]
            .as_u64()
            .unwrap_or(0);
        let b = get(&s, "/v1/buses/pong/rules/p/dead-letters").await.1["total"]
            .as_u64()
            .unwrap_or(0);
        a + b == 1
    })
    .await;
    let total = all_events(&s, "ping").await.len() + all_events(&s, "pong").await.len();
    assert_eq!(total as i32, 1 + 8, "the original plus one copy per hop");
}

#[tokio::test]
async fn input_transformer_reshapes_events_and_bodies() {
    let s = Server::start();
    let r = Receiver::start().await;
    let body = Receiver::start().await;
    put_rule(
        &s,
        "default",
        "t",
        json!({
            "pattern": {"type": ["order.created"]},
            "transform": {"paths": {"order": "$.data.order", "total": "$.data.total"}, "template": "{\"text\": \"Order <order> for <total>\", \"amount\": <total>}"},
            "targets": [{"id": "chat", "type": "http", "url": r.url, "mode": "structured"}]
        }),
    )
    .await;
    put_rule(
        &s,
        "default",
        "b",
        json!({
            "pattern": {"type": ["order.created"]},
            "transform": {"path": "$.data", "output": "body"},
            "targets": [{"id": "raw", "type": "http", "url": body.url, "mode": "body"}]
        }),
    )
    .await;
    post_structured(&s, "default", &order("t1", 12.5)).await;
    let got = r.wait_for(1, 20).await;
    assert_eq!(
        got[0].json()["data"],
        json!({"text": "Order t1 for 12.5", "amount": 12.5})
    );
    assert_eq!(got[0].json()["id"], "t1", "attributes kept");
    let got = body.wait_for(1, 20).await;
    assert_eq!(got[0].json(), json!({"order": "t1", "total": 12.5}));
    assert!(got[0].header("ce-id").is_none());
}

#[tokio::test]
async fn disabled_rules_keep_their_place_and_state_survives_restart() {
    let mut s = Server::start();
    let r = Receiver::start().await;
    // One send at a time keeps bus order (no retries happen here).
    let rule = json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "t", "type": "http", "url": r.url, "mode": "structured", "concurrency": 1}]});
    put_rule(&s, "default", "r", rule.clone()).await;
    post_structured(&s, "default", &order("before", 1.0)).await;
    r.wait_for(1, 20).await;
    let mut disabled = rule.clone();
    disabled["enabled"] = json!(false);
    let (_, v) = put_rule(&s, "default", "r", disabled).await;
    assert_eq!(v["status"]["state"], "disabled");
    for id in ["d1", "d2", "d3"] {
        post_structured(&s, "default", &order(id, 1.0)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.received().len(), 1, "a disabled rule delivers nothing");
    // Restart while disabled, then enable: the three events arrive, in order.
    s.terminate();
    s.restart();
    let (st, v) = get(&s, "/v1/buses/default/rules/r").await;
    assert_eq!((st, &v["status"]["state"]), (200, &json!("disabled")));
    put_rule(&s, "default", "r", rule).await;
    let got = r.wait_for(4, 20).await;
    let ids: Vec<_> = got[1..]
        .iter()
        .map(|g| g.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec!["d1", "d2", "d3"]);
}

#[tokio::test]
async fn queued_deliveries_survive_kill9() {
    let mut s = Server::start();
    let r = Receiver::start().await;
    r.set_status(503);
    put_rule(
        &s,
        "default",
        "r",
        json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "t", "type": "http", "url": r.url, "retry": {"max_attempts": 100, "backoff": {"initial": "100ms", "max": "200ms", "jitter": false}}}]}),
    )
    .await;
    let events: Vec<Value> = (0..10).map(|i| order(&format!("k{i}"), 1.0)).collect();
    post_batch(&s, "default", &json!(events)).await;
    r.wait_for(10, 20).await;
    s.kill9();
    r.set_status(200);
    let before = r.calls();
    s.restart();
    wait_until(30, async || {
        let ok: std::collections::HashSet<String> = r.received()[before as usize..]
            .iter()
            .filter_map(|g| g.header("ce-id"))
            .collect();
        ok.len() == 10
    })
    .await;
}

#[tokio::test]
async fn per_key_order_holds_across_retries() {
    let s = Server::start();
    let r = Receiver::start().await;
    // The first request fails: it must be retried before anything else of
    // its key is sent.
    r.fail_first(1, 503);
    put_rule(
        &s,
        "default",
        "ordered",
        json!({"pattern": {"source": ["/shop"]}, "targets": [{"id": "t", "type": "http", "url": r.url, "concurrency": 8, "ordering_key": "partitionkey", "retry": quick_retry()}]}),
    )
    .await;
    let events: Vec<Value> = (0..12)
        .map(|i| {
            let mut e = order(&format!("p{i}"), 1.0);
            e["partitionkey"] = json!(format!("k{}", i % 3));
            e
        })
        .collect();
    post_batch(&s, "default", &json!(events)).await;
    let got = r.wait_for(13, 20).await;
    for key in ["k0", "k1", "k2"] {
        let seq: Vec<String> = got
            .iter()
            .filter(|g| g.header("ce-partitionkey").as_deref() == Some(key))
            .map(|g| g.header("ce-id").unwrap())
            .collect();
        let mut dedup = seq.clone();
        dedup.dedup();
        let want: Vec<String> = (0..12)
            .filter(|i| format!("k{}", i % 3) == key)
            .map(|i| format!("p{i}"))
            .collect();
        assert_eq!(dedup, want, "order for {key}: {seq:?}");
    }
}

/// A rule whose chain has a plugin runs it on several events at once (up to
/// the plugin's instances): each event gets its own verdict, every kept
/// event arrives once, and events that share an ordering key arrive in bus
/// order.
#[tokio::test]
async fn a_plugin_chain_runs_events_side_by_side_and_keeps_their_order() {
    let s = Server::start();
    let r = Receiver::start().await;
    let (st, v) = upload_plugin(
        &s,
        "high",
        "1.0.0",
        signalbox_test_plugins::FILTER_HIGH_VALUE,
    )
    .await;
    assert_eq!(st, 201, "{v}");
    put_rule(
        &s,
        "default",
        "filtered",
        json!({"pattern": {"source": ["/shop"]},
               "filters": [{"plugin": "high@1.0.0", "config": {"threshold": "1000"}}],
               "targets": [{"id": "t", "type": "http", "url": r.url, "ordering_key": "partitionkey"}]}),
    )
    .await;
    // Even events are worth keeping, odd ones are not.
    let events: Vec<Value> = (0..300)
        .map(|i| {
            let total = if i % 2 == 0 { 1500.0 } else { 10.0 };
            let mut e = order(&format!("p{i}"), total);
            e["partitionkey"] = json!(format!("k{}", i % 3));
            e
        })
        .collect();
    for chunk in events.chunks(100) {
        let (st, v) = post_batch(&s, "default", &json!(chunk)).await;
        assert_eq!(st, 200, "{v}");
    }
    r.wait_for(150, 30).await;
    // Anything wrongly kept would arrive too: give it time to.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = r.received();
    for key in ["k0", "k1", "k2"] {
        let seq: Vec<String> = got
            .iter()
            .filter(|g| g.header("ce-partitionkey").as_deref() == Some(key))
            .map(|g| g.header("ce-id").unwrap())
            .collect();
        let want: Vec<String> = (0..300)
            .filter(|i| i % 2 == 0 && format!("k{}", i % 3) == key)
            .map(|i| format!("p{i}"))
            .collect();
        assert_eq!(seq, want, "what arrived for {key}, in order");
    }
}

#[tokio::test]
async fn invalid_rules_name_the_field() {
    let s = Server::start();
    for (rule, field) in [
        (json!({"targets": [{"id": "t", "type": "log"}]}), "pattern"),
        (
            json!({"pattern": {"a": "b"}, "targets": [{"id": "t", "type": "log"}]}),
            "pattern",
        ),
        (
            json!({"cesql": "a = ", "targets": [{"id": "t", "type": "log"}]}),
            "cesql",
        ),
        (json!({"pattern": {"a": ["b"]}, "targets": []}), "targets"),
        (
            json!({"pattern": {"a": ["b"]}, "targets": [{"id": "t", "type": "http", "url": "ftp://x"}]}),
            "targets[0].url",
        ),
        (
            json!({"pattern": {"a": ["b"]}, "targets": [{"id": "t", "type": "smtp"}]}),
            "targets[0]",
        ),
        (
            json!({"pattern": {"a": ["b"]}, "targets": [{"id": "t", "type": "http", "url": "http://x", "batch_size": 5}]}),
            "targets[0].batch_size",
        ),
        (
            json!({"pattern": {"a": ["b"]}, "targets": [{"id": "t", "type": "http", "url": "http://x", "mode": "batch", "batch_size": 0}]}),
            "targets[0].batch_size",
        ),
        (
            json!({"pattern": {"a": ["b"]}, "targets": [{"id": "t", "type": "log"}, {"id": "t", "type": "log"}]}),
            "targets[1].id",
        ),
        (
            json!({"pattern": {"a": ["b"]}, "filters": [{"plugin": "nope@1"}], "targets": [{"id": "t", "type": "log"}]}),
            "filters[0].plugin",
        ),
        (
            json!({"pattern": {"a": ["b"]}, "transform": {"path": "not a path"}, "targets": [{"id": "t", "type": "log"}]}),
            "transform",
        ),
        (
            json!({"pattern": {"a": ["b"]}, "targets": [{"id": "t", "type": "log"}], "color": 1}),
            "color",
        ),
    ] {
        let (st, v) = put_rule(&s, "default", "bad", rule.clone()).await;
        assert_eq!(st, 400, "{rule}: {v}");
        assert_eq!(v["field"], field, "{rule}: {v}");
    }
    let (st, _) = put_rule(
        &s,
        "nope",
        "r",
        json!({"pattern": {"a": ["b"]}, "targets": [{"id": "t", "type": "log"}]}),
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(get(&s, "/v1/buses/default/rules/bad").await.0, 404);
}

#[tokio::test]
async fn cesql_rules_and_log_targets() {
    let s = Server::start();
    // Log files go to the server's log folder (targets.log_dir).
    let file = s.data_dir().join("target-logs/out.jsonl");
    put_rule(
        &s,
        "default",
        "sql",
        json!({"cesql": "type = 'order.created' AND source LIKE '/sh%'", "targets": [{"id": "file", "type": "log", "file": "out.jsonl"}]}),
    )
    .await;
    post_batch(&s, "default", &json!([order("l1", 1.0), {"specversion":"1.0","id":"l2","source":"/other","type":"order.created"}])).await;
    wait_until(20, async || {
        std::fs::read_to_string(&file)
            .map(|t| t.lines().count() == 1)
            .unwrap_or(false)
    })
    .await;
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["id"], "l1");
}

/// The crash test: publishers keep several rules and targets busy, the
/// server is killed with SIGKILL mid-load and restarted, and every event
/// that got a 200 must reach every target whose rule matches it at least
/// once. Duplicates (deliveries repeated because the crash lost their
/// acknowledgement) are counted and printed; nothing unmatched may arrive.
#[tokio::test]
async fn every_acknowledged_event_reaches_every_matching_target_after_kill9() {
    use std::collections::HashSet;

    /// The type of the crash test's event `w{w}-{i}-{j}`: a function of `j`.
    fn kind_of(id: &str) -> &'static str {
        let j: usize = id.rsplit('-').next().unwrap().parse().unwrap();
        ["order.created", "order.updated", "customer.created"][j % 3]
    }

    let mut s = Server::start();
    let (created, updated, all_a, all_b) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let http =
        |r: &Receiver, id: &str| json!({"id": id, "type": "http", "url": r.url, "mode": "binary"});
    for (name, types, targets) in [
        (
            "created",
            json!(["order.created"]),
            json!([http(&created, "t")]),
        ),
        (
            "updated",
            json!(["order.updated"]),
            json!([http(&updated, "t")]),
        ),
        (
            "all",
            json!([{"prefix": "order."}]),
            json!([http(&all_a, "a"), http(&all_b, "b")]),
        ),
    ] {
        let (st, v) = put_rule(
            &s,
            "default",
            name,
            json!({"pattern": {"source": ["/shop"], "type": types}, "targets": targets}),
        )
        .await;
        assert_eq!(st, 201, "{v}");
    }

    let acked = publish_then_kill9(&mut s, 6, Duration::from_millis(1500), |w, i| {
        (0..10)
            .map(|j| {
                let id = format!("w{w}-{i}-{j}");
                json!({"specversion": "1.0", "id": id, "source": "/shop", "type": kind_of(&id), "data": {"n": i}})
            })
            .collect()
    })
    .await;
    assert!(
        acked.len() > 300,
        "only {} events acknowledged",
        acked.len()
    );
    s.restart();

    let (created_t, updated_t) = (&["order.created"][..], &["order.updated"][..]);
    let orders_t = &["order.created", "order.updated"][..];
    for (name, r, types) in [
        ("created", &created, created_t),
        ("updated", &updated, updated_t),
        ("all/a", &all_a, orders_t),
        ("all/b", &all_b, orders_t),
    ] {
        let want: HashSet<String> = acked
            .iter()
            .filter(|id| types.contains(&kind_of(id)))
            .cloned()
            .collect();
        let ids = || -> Vec<String> {
            r.received()
                .iter()
                .filter_map(|g| g.header("ce-id"))
                .collect()
        };
        wait_until(60, async || {
            let got: HashSet<String> = ids().into_iter().collect();
            want.is_subset(&got)
        })
        .await;
        let all = ids();
        let unique: HashSet<&String> = all.iter().collect();
        // Events whose request was cut by the kill may have been stored and
        // delivered too; whatever arrived must match the rule.
        let wrong: Vec<_> = unique
            .iter()
            .filter(|id| !types.contains(&kind_of(id)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{name}: got events its rule does not match: {wrong:?}"
        );
        eprintln!(
            "{name}: {} acknowledged matching events delivered; {} deliveries, {} duplicates",
            want.len(),
            all.len(),
            all.len() - unique.len()
        );
    }
}
