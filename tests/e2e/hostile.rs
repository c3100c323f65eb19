//! Hostile inputs: clients, producers and plugins that try to take the
//! server down, and state that must not be lost or leaked. Each test pins
//! one item of the threat model in `docs/security.md`.
//!
//! Where the failure mode is "burns a core forever", the test measures the
//! server's CPU time from `/proc` over a quiet window: a spinning loop uses
//! the whole window, a waiting server almost none of it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signalbox_test_plugins as artifacts;

use crate::receiver::Receiver;
use crate::support::*;

/// CPU seconds the server used over `window` while the test waited.
async fn cpu_over(s: &Server, window: Duration) -> f64 {
    let before = s.cpu_seconds();
    tokio::time::sleep(window).await;
    s.cpu_seconds() - before
}

/// A spinning server uses about a core (2.0 s over 2 s); an idle one a few
/// hundredths. Anything under half a core is "not spinning".
const IDLE_CPU: f64 = 0.5;

fn event_with(id: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/hostile", "type": "t",
           "datacontenttype": "application/json", "data": data})
}

async fn count_events(s: &Server, bus: &str) -> usize {
    all_events(s, bus).await.len()
}

// ---- hostile HTTP clients ---------------------------------------------------------

#[tokio::test]
async fn following_past_expired_events_does_not_spin() {
    let s = Server::start_with_config("[retention]\ninterval = \"1s\"\n");
    assert_eq!(
        put_json(&s, "/v1/buses/short", &json!({"retention": "1s"}))
            .await
            .0,
        201
    );
    let r = Receiver::start().await;
    // A rule that will lag: created, then disabled while events expire.
    let rule =
        json!({"pattern": {"type": ["t"]}, "targets": [{"id": "t", "type": "http", "url": r.url}]});
    assert_eq!(
        put_json(&s, "/v1/buses/short/rules/lag", &rule).await.0,
        201
    );
    let mut disabled = rule.clone();
    disabled["enabled"] = json!(false);
    assert_eq!(
        put_json(&s, "/v1/buses/short/rules/lag", &disabled).await.0,
        200
    );
    for i in 0..3 {
        assert_eq!(
            post_structured(&s, "short", &event_with(&format!("e{i}"), json!({})))
                .await
                .0,
            200
        );
    }
    wait_until(30, async || count_events(&s, "short").await == 0).await;

    // A follower from the start of the (now empty) log, then gone.
    let resp = client()
        .get(s.url("/v1/buses/short/events?follow=true&after=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(resp);
    // The lagging rule comes back.
    assert_eq!(
        put_json(&s, "/v1/buses/short/rules/lag", &rule).await.0,
        200
    );
    let used = cpu_over(&s, Duration::from_secs(2)).await;
    assert!(
        used < IDLE_CPU,
        "the server used {used:.2} CPU s in 2 s while idle"
    );

    // The rule says what it missed, in its status and its metrics.
    wait_until(10, async || {
        get(&s, "/v1/buses/short/rules/lag").await.1["status"]["expired_events"] == 3
    })
    .await;
    let (_, v) = get(&s, "/v1/buses/short/rules/lag").await;
    assert_eq!(v["status"]["last_gap"]["from"], 1, "{v}");
    assert_eq!(v["status"]["last_gap"]["to"], 3, "{v}");
    let m = scrape(&s).await;
    assert_eq!(
        m.get("signalbox_rule_expired_events_total{bus=\"short\",rule=\"lag\"}"),
        Some(&3.0)
    );
    // And it goes on with new events.
    assert_eq!(
        post_structured(&s, "short", &event_with("new", json!({})))
            .await
            .0,
        200
    );
    r.wait_for(1, 30).await;
}

#[tokio::test]
async fn huge_json_objects_parse_in_linear_time() {
    let s = Server::start_with_config(
        "[limits]\nmax_event_bytes = 33554432\nmax_request_bytes = 33554432\n",
    );
    // 1.5 million members, the last a duplicate of the first: quadratic
    // duplicate detection would take hours; the answer names the member.
    let n = 1_500_000;
    let mut body = String::with_capacity(n * 14);
    body.push_str(r#"{"specversion":"1.0","id":"big","source":"/s","type":"t""#);
    for i in 0..n {
        body.push_str(&format!(",\"a{i}\":1"));
    }
    body.push_str(",\"a0\":2}");
    let r = client()
        .post(s.url("/v1/buses/default/events"))
        .header("content-type", "application/cloudevents+json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["field"], "a0", "{v}");
    // The same entry in a batch fails alone.
    let batch = format!("[{body},{}]", event("ok"));
    let r = client()
        .post(s.url("/v1/buses/default/events"))
        .header("content-type", "application/cloudevents-batch+json")
        .body(batch)
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["entries"][0]["error"]["field"], "a0");
    // Two million empty entries: refused once the count passes the limit.
    let many = format!("[{}]", vec!["{}"; 2_000_000].join(","));
    let r = client()
        .post(s.url("/v1/buses/default/events"))
        .header("content-type", "application/cloudevents-batch+json")
        .body(many)
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 413, "{v}");
}

#[tokio::test]
async fn cross_site_and_rebinding_requests_are_refused() {
    let s = Server::start();
    let origin_of = |s: &Server| s.base.clone();
    // A web page's form post (text/plain needs no CORS preflight).
    let r = client()
        .post(s.url("/v1/tokens"))
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .body(r#"{"name":"x","scopes":["admin"]}"#)
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["field"], "Origin");
    // No Origin, but the browser says cross-site.
    let r = client()
        .put(s.url("/v1/buses/x"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(r).await.0, 403);
    // DNS rebinding: the page's own name in Host.
    let r = client()
        .get(s.url("/v1/buses"))
        .header("host", "evil.example:8080")
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["field"], "Host");
    // Nothing was created; same-origin and non-browser requests work.
    assert_eq!(get(&s, "/v1/tokens").await.1["tokens"], json!([]));
    let r = client()
        .put(s.url("/v1/buses/x"))
        .header("origin", origin_of(&s))
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(r).await.0, 201);

    // An origin the operator allowed gets CORS.
    let s =
        Server::start_with_config("[http]\nallowed_origins = [\"https://console.example.com\"]\n");
    let r = client()
        .request(reqwest::Method::OPTIONS, s.url("/v1/buses/y"))
        .header("origin", "https://console.example.com")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    let r = client()
        .put(s.url("/v1/buses/y"))
        .header("origin", "https://console.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
}

/// Connects to the server's port directly.
fn raw(s: &Server) -> TcpStream {
    let addr = s.base.trim_start_matches("http://");
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c
}

/// Reads until the server closes the connection; returns what it sent.
fn read_to_close(c: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let s = Server::start_with_config(
        "[http]\nheader_read_timeout = \"1s\"\nrequest_timeout = \"1s\"\n",
    );
    // Half a request's headers, then silence: the server hangs up.
    let mut c = raw(&s);
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let started = Instant::now();
    let got = read_to_close(&mut c);
    assert!(started.elapsed() < Duration::from_secs(20), "{got}");
    // A body that never arrives: 408.
    let mut c = raw(&s);
    c.write_all(
        b"POST /v1/buses/default/events HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/cloudevents+json\r\ncontent-length: 100\r\n\r\n{\"spec",
    )
    .unwrap();
    let got = read_to_close(&mut c);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    // An idle keep-alive connection is closed too.
    let mut c = raw(&s);
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let got = read_to_close(&mut c);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

#[tokio::test]
async fn connections_are_capped() {
    let s = Server::start_with_config("[http]\nmax_connections = 2\n");
    let held: Vec<TcpStream> = (0..2).map(|_| raw(&s)).collect();
    // Let the server accept both.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let addr = s.base.clone();
    let third = tokio::spawn(async move {
        reqwest::Client::new()
            .get(format!("{addr}/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!third.is_finished(), "a third connection was served");
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(20), third)
        .await
        .expect("served once a slot freed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn running_out_of_file_descriptors_does_not_spin() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let s = Server::start_with_nofile(
        &format!(
            "[tls]\ncert_file = {:?}\nkey_file = {:?}\n[http]\nmax_connections = 100000\n",
            cert_file.display().to_string(),
            key_file.display().to_string()
        ),
        256,
    );
    let addr = s.base.trim_start_matches("https://").to_owned();
    // More connections than the server has descriptors: accept fails.
    let held: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    assert!(held.len() > 256);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let used = cpu_over(&s, Duration::from_secs(2)).await;
    assert!(
        used < IDLE_CPU,
        "the server used {used:.2} CPU s in 2 s with accept failing"
    );
    assert!(
        s.log().contains("Accepting a connection failed"),
        "{}",
        s.log()
    );
}

#[tokio::test]
async fn authentication_never_switches_off() {
    let mut s = Server::start();
    let create = async |s: &Server, secret: Option<&str>, name: &str| -> Value {
        let mut req = client()
            .post(s.url("/v1/tokens"))
            .json(&json!({"name": name, "scopes": ["admin"]}));
        if let Some(t) = secret {
            req = req.bearer_auth(t);
        }
        let (st, v) = status_json(req.send().await.unwrap()).await;
        assert_eq!(st, 201, "{v}");
        v
    };
    let a = create(&s, None, "a").await;
    let a_secret = a["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&s, "/v1/buses").await.0,
        401,
        "a token exists: no anonymous access"
    );
    let b = create(&s, Some(&a_secret), "b").await;
    let b_secret = b["secret"].as_str().unwrap().to_owned();
    let revoke = async |s: &Server, id: &Value, secret: &str| -> u16 {
        client()
            .delete(s.url(&format!("/v1/tokens/{}", id.as_str().unwrap())))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(revoke(&s, &a["token"]["id"], &b_secret).await, 204);
    // The last admin token stays.
    assert_eq!(revoke(&s, &b["token"]["id"], &b_secret).await, 409);
    assert_eq!(get(&s, "/v1/buses").await.0, 401);
    // A restart keeps authentication on.
    assert!(s.terminate().success());
    s.restart();
    assert_eq!(get(&s, "/v1/buses").await.0, 401);
    let r = client()
        .get(s.url("/v1/buses"))
        .bearer_auth(&b_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn producers_cannot_forge_internal_extensions() {
    let s = Server::start();
    put_json(&s, "/v1/buses/loop", &json!({})).await;
    // A rule that forwards the bus to itself: loop protection must stop it.
    let (st, v) = put_json(
        &s,
        "/v1/buses/loop/rules/self",
        &json!({"pattern": {"type": ["t"]}, "targets": [{"id": "again", "type": "bus", "bus": "loop"}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let mut e = event_with("forged", json!({}));
    e["signalboxhops"] = json!(-2_000_000_000);
    e["replay"] = json!("rp-1");
    assert_eq!(post_structured(&s, "loop", &e).await.0, 200);
    let (_, stored) = get(&s, "/v1/buses/loop/events/forged").await;
    assert!(stored.get("replay").is_none(), "{stored}");
    // The loop stops after MAX_HOPS forwards (and dead-letters the next).
    wait_until(30, async || {
        let (_, v) = get(&s, "/v1/buses/loop/rules/self").await;
        v["status"]["targets"][0]["dead_letters"] == 1
    })
    .await;
    let n = count_events(&s, "loop").await;
    assert!(n <= 10, "the loop ran {n} times");
}

#[tokio::test]
async fn responses_and_windows_are_bounded_in_bytes() {
    let s = Server::start_with_config("[limits]\nmax_followers = 2\n");
    let big = "x".repeat(900 << 10);
    for i in 0..20 {
        assert_eq!(
            post_structured(&s, "default", &event_with(&format!("b{i}"), json!(big)))
                .await
                .0,
            200
        );
    }
    // One page of 1,000 asked for: a few MiB come back, the rest on later pages.
    let r = client()
        .get(s.url("/v1/buses/default/events?after=0&limit=1000"))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.len() < 12 << 20, "one page was {} bytes", text.len());
    let page: Value = serde_json::from_str(&text).unwrap();
    assert!(page["events"].as_array().unwrap().len() < 20);
    assert_eq!(count_events(&s, "default").await, 20);

    // Followers are capped; a closed one frees its slot.
    let f1 = client()
        .get(s.url("/v1/buses/default/events?follow=true&after=20"))
        .send()
        .await
        .unwrap();
    let f2 = client()
        .get(s.url("/v1/buses/default/events?follow=true&after=20"))
        .send()
        .await
        .unwrap();
    assert_eq!((f1.status().as_u16(), f2.status().as_u16()), (200, 200));
    let (st, _) = get(&s, "/v1/buses/default/events?follow=true&after=20").await;
    assert_eq!(st, 503);
    drop(f1);
    wait_until(10, async || {
        match client()
            .get(s.url("/v1/buses/default/events?follow=true&after=20"))
            .send()
            .await
        {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    })
    .await;
    drop(f2);

    // A target that fails: its in-memory window stays a few MiB however
    // large the queued events, and dead letters come back in bounded pages.
    let r = Receiver::start().await;
    r.set_status(400);
    let (st, v) = put_json(
        &s,
        "/v1/buses/default/rules/fat",
        &json!({"pattern": {"source": ["/hostile"]}, "targets": [{"id": "t", "type": "http", "url": r.url}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    for i in 0..30 {
        post_structured(&s, "default", &event_with(&format!("d{i}"), json!(big))).await;
    }
    wait_until(60, async || {
        get(&s, "/v1/buses/default/rules/fat").await.1["status"]["targets"][0]["dead_letters"] == 30
    })
    .await;
    let r = client()
        .get(s.url("/v1/buses/default/rules/fat/dead-letters?limit=1000"))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.len() < 12 << 20, "one page was {} bytes", text.len());
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["total"], 30);
    assert!(page["next"].is_string(), "more pages follow");
    let m = scrape(&s).await;
    let window = m
        .iter()
        .filter(|(k, _)| k.starts_with("signalbox_target_window_bytes"))
        .map(|(_, v)| *v)
        .fold(0.0, f64::max);
    assert!(window <= (17 << 20) as f64, "window {window}");
}

#[tokio::test]
async fn pathological_arrays_do_not_stall_other_rules() {
    let s = Server::start();
    let slow = Receiver::start().await;
    let fast = Receiver::start().await;
    // Four nested arrays under one pattern, and a condition in another
    // element: without a bound the array-consistency search tries 100⁴
    // combinations.
    let (st, v) = put_json(
        &s,
        "/v1/buses/default/rules/arrays",
        &json!({"pattern": {"data": {"a": {"m": {"v": [1]}, "n": {"v": [1]}, "o": {"v": [1]}, "p": {"v": [1]}, "x": [1], "zz": [1]}}},
                "targets": [{"id": "t", "type": "http", "url": slow.url}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, _) = put_json(
        &s,
        "/v1/buses/default/rules/simple",
        &json!({"pattern": {"source": ["/hostile"]}, "targets": [{"id": "t", "type": "http", "url": fast.url}]}),
    )
    .await;
    assert_eq!(st, 201);
    let inner: Vec<Value> = (0..100).map(|_| json!({"v": 1})).collect();
    let data = json!({"a": [{"x": 1, "m": inner, "n": inner, "o": inner, "p": inner}, {"zz": 1}]});
    assert_eq!(
        post_structured(&s, "default", &event_with("evil", data))
            .await
            .0,
        200
    );
    assert_eq!(
        post_structured(&s, "default", &event_with("next", json!({})))
            .await
            .0,
        200
    );
    let got = fast.wait_for(2, 60).await;
    assert_eq!(got.len(), 2);
    // The rules run apart, so the fast one may be done before the other
    // has given up on the evil event: wait for that (up to 60 s).
    let exhausted = "signalbox_match_budget_exhausted_total{bus=\"default\"}";
    let mut m = scrape(&s).await;
    for _ in 0..600 {
        if m.get(exhausted).is_some_and(|v| *v >= 1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        m = scrape(&s).await;
    }
    assert!(m.get(exhausted).is_some_and(|v| *v >= 1.0), "{m:?}");
    assert!(slow.received().is_empty());
}

// ---- hostile plugins --------------------------------------------------------------

async fn plugin_rule(s: &Server, name: &str, rule: Value) {
    let (st, v) = put_json(s, &format!("/v1/buses/default/rules/{name}"), &rule).await;
    assert_eq!(st, 201, "{v}");
}

async fn trace_steps(s: &Server, id: &str) -> Vec<Value> {
    let (st, v) = get(s, &format!("/v1/buses/default/events/{id}/trace")).await;
    assert_eq!(st, 200, "{v}");
    v["steps"].as_array().unwrap().clone()
}

#[tokio::test]
async fn noisy_plugins_cannot_flood_the_log() {
    let s = Server::start();
    assert_eq!(
        upload_plugin(&s, "noisy", "1", artifacts::BAD_NOISY)
            .await
            .0,
        201
    );
    let r = Receiver::start().await;
    plugin_rule(
        &s,
        "noisy",
        json!({"pattern": {"source": ["/hostile"]}, "filters": [{"plugin": "noisy@1"}],
               "targets": [{"id": "t", "type": "http", "url": r.url}]}),
    )
    .await;
    for i in 0..3 {
        post_structured(&s, "default", &event_with(&format!("n{i}"), json!({}))).await;
    }
    r.wait_for(3, 60).await;
    let log = s.log();
    // 7.5 MB written, at most the burst (64 KiB per instance) and a little
    // rate reached the log, in lines of at most 4 KiB.
    assert!(log.len() < 1 << 20, "the log grew to {} bytes", log.len());
    assert!(log.lines().all(|l| l.len() < 8 << 10));
    // Said once per instance; the rule's chain may run the three events in
    // up to three instances at once.
    let said = log.matches("dropping the excess").count();
    assert!((1..=3).contains(&said), "said {said} times");
    let m = scrape(&s).await;
    let dropped = m
        .get("signalbox_plugin_output_dropped_bytes_total{plugin=\"noisy@1\"}")
        .copied()
        .unwrap_or(0.0);
    assert!(dropped > 7_000_000.0, "dropped {dropped}");
}

#[tokio::test]
async fn plugin_errors_and_outputs_are_bounded() {
    let s = Server::start();
    assert_eq!(
        upload_plugin(&s, "huge", "1", artifacts::BAD_HUGE_ERROR)
            .await
            .0,
        201
    );
    assert_eq!(
        upload_plugin(&s, "flood", "1", artifacts::BAD_OUTPUT_FLOOD)
            .await
            .0,
        201
    );
    let r = Receiver::start().await;
    let target = json!([{"id": "t", "type": "http", "url": r.url}]);
    plugin_rule(&s, "huge", json!({"pattern": {"type": ["huge"]}, "filters": [{"plugin": "huge@1"}], "targets": target})).await;
    plugin_rule(&s, "many", json!({"pattern": {"type": ["many"]}, "transform": {"plugin": "flood@1"}, "targets": target})).await;
    // 2 MB of extension values (names alone would be 0.1 MB) against 1 MiB.
    plugin_rule(&s, "wide", json!({"pattern": {"type": ["wide"]}, "transform": {"plugin": "flood@1", "config": {"mode": "wide"}}, "limits": {"max_output_bytes": 1048576}, "targets": target})).await;
    for ty in ["huge", "many", "wide"] {
        let mut e = event_with(ty, json!({}));
        e["type"] = json!(ty);
        post_structured(&s, "default", &e).await;
    }
    let failure = async |id: &str| -> String {
        let mut out = String::new();
        wait_until(60, async || {
            let steps = trace_steps(&s, id).await;
            match steps.iter().find(|st| st["step"] == "failed") {
                Some(st) => {
                    out = st["detail"]["error"].as_str().unwrap().to_owned();
                    true
                }
                None => false,
            }
        })
        .await;
        out
    };
    let e = failure("huge").await;
    assert!(e.len() < 2048 && e.contains("huge:"), "{} bytes", e.len());
    let (_, rule) = get(&s, "/v1/buses/default/rules/huge").await;
    let status = rule["status"]["plugins"][0]["status"]["last_error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(status.len() < 2048, "{} bytes in status", status.len());
    let e = failure("many").await;
    assert!(
        e.contains("100000 events") && e.contains("max_output_events"),
        "{e}"
    );
    let e = failure("wide").await;
    assert!(e.contains("max_output_bytes"), "{e}");
    assert!(r.received().is_empty());
}

/// Reads a rule's only dead letter's error, waiting for it.
async fn dead_letter_error(s: &Server, rule: &str) -> String {
    let mut out = String::new();
    wait_until(60, async || {
        let (_, v) = get(s, &format!("/v1/buses/default/rules/{rule}/dead-letters")).await;
        match v["dead_letters"].as_array().and_then(|a| a.first()) {
            Some(dl) => {
                out = dl["last_error"].as_str().unwrap_or("").to_owned();
                true
            }
            None => false,
        }
    })
    .await;
    out
}

#[tokio::test]
async fn plugins_cannot_hoard_host_resources() {
    let s = Server::start();
    assert_eq!(
        upload_plugin(&s, "hog", "1", artifacts::BAD_RESOURCE_HOG)
            .await
            .0,
        201
    );
    // A server that accepts and never answers, and one with an endless body.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_addr = hang.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hang.incoming() {
            held.push(c);
        }
    });
    let big = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let big_addr = big.local_addr().unwrap();
    tokio::spawn(async move {
        let chunk = vec![b'x'; 1 << 20];
        loop {
            let Ok((mut c, _)) = big.accept().await else {
                return;
            };
            let chunk = chunk.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf).await;
                let _ = c
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 67108864\r\n\r\n")
                    .await;
                for _ in 0..64 {
                    if c.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let limits = json!({"memory_mb": 256, "call_timeout_ms": 5000});
    for (name, config, allowed) in [
        ("fields", json!({"mode": "fields"}), vec![]),
        (
            "requests",
            json!({"mode": "requests", "url": format!("http://{hang_addr}")}),
            vec![hang_addr.to_string()],
        ),
        (
            "download",
            json!({"mode": "download", "url": format!("http://{big_addr}/")}),
            vec![big_addr.to_string()],
        ),
    ] {
        plugin_rule(
            &s,
            name,
            json!({"pattern": {"type": [name]}, "limits": limits,
                   "targets": [{"id": "t", "type": "plugin", "plugin": "hog@1", "config": config,
                                "allowed_hosts": allowed, "retry": {"max_attempts": 1}}]}),
        )
        .await;
        let mut e = event_with(name, json!({}));
        e["type"] = json!(name);
        post_structured(&s, "default", &e).await;
    }
    let e = dead_letter_error(&s, "fields").await;
    assert!(!e.contains("sandbox leak"), "{e}");
    let e = dead_letter_error(&s, "requests").await;
    assert!(e.contains("24 of 40 requests refused"), "{e}");
    let e = dead_letter_error(&s, "download").await;
    assert!(
        !e.contains("sandbox leak") && e.contains("exceeds limit"),
        "{e}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn uploads_are_immutable_even_when_the_client_walks_away() {
    let s = Server::start();
    // A large component (compiling takes seconds): its client disconnects
    // while the compile runs, then a second upload of the same version with
    // other bytes arrives.
    let big = std::fs::read(&crate::guest_plugins::guests().py_drop_test_accounts).unwrap();
    let small = std::fs::read(artifacts::FILTER_PASS).unwrap();
    let url = s.url("/v1/plugins/race/versions/1");
    let body = big.clone();
    let walked_away = tokio::spawn(async move {
        let _ = client()
            .put(url)
            .header("content-type", "application/wasm")
            .body(body)
            .send()
            .await;
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    walked_away.abort();
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let r = patient
        .put(s.url("/v1/plugins/race/versions/1"))
        .header("content-type", "application/wasm")
        .body(small.clone())
        .send()
        .await
        .unwrap();
    let (second, v) = status_json(r).await;
    // Wait for the abandoned compile to end (it logs its upload), then the
    // stored bytes must be the ones the answers promised.
    let size = format!("size={}", big.len());
    wait_until(600, async || {
        s.log()
            .lines()
            .any(|l| l.contains("Plugin uploaded") && l.contains(&size))
    })
    .await;
    let (_, info) = get(&s, "/v1/plugins/race/versions/1").await;
    match second {
        201 => assert_eq!(
            info["sha256"].as_str(),
            Some(sha256_hex(&small).as_str()),
            "the second upload was told 201 but other bytes are stored"
        ),
        409 => assert_eq!(info["sha256"].as_str(), Some(sha256_hex(&big).as_str())),
        other => panic!("second upload: {other} {v}"),
    }
}

#[tokio::test]
async fn compiled_plugins_from_elsewhere_are_not_trusted() {
    let mut s = Server::start();
    // Cached native code from elsewhere is not trusted: swap two plugins'
    // compiled artifacts (and the files that vouch for them), restart, and
    // each plugin must still behave as itself.
    let a = std::fs::read(artifacts::FILTER_PASS).unwrap();
    let b = std::fs::read(artifacts::FILTER_HIGH_VALUE).unwrap();
    assert_eq!(
        upload_plugin(&s, "pass", "1", artifacts::FILTER_PASS)
            .await
            .0,
        201
    );
    assert_eq!(
        upload_plugin(&s, "high", "1", artifacts::FILTER_HIGH_VALUE)
            .await
            .0,
        201
    );
    let r = Receiver::start().await;
    plugin_rule(&s, "passing", json!({"pattern": {"type": ["t"]}, "filters": [{"plugin": "pass@1"}], "targets": [{"id": "t", "type": "http", "url": r.url}]})).await;
    assert!(s.terminate().success());
    let cache = s.data_dir().join("plugins/cache");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let (pass_sha, high_sha) = (sha256_hex(&a), sha256_hex(&b));
    let mut swapped = 0;
    for p in files.iter().filter(|p| {
        p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&pass_sha)
    }) {
        let name = p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replacen(&pass_sha, &high_sha, 1);
        let h = cache.join(name);
        let (pb, hb) = (std::fs::read(p).unwrap(), std::fs::read(&h).unwrap());
        std::fs::write(p, hb).unwrap();
        std::fs::write(&h, pb).unwrap();
        swapped += 1;
    }
    assert!(swapped >= 2, "artifact and its check file: {files:?}");
    s.restart();
    // filter_pass keeps everything; filter_high_value would drop this
    // event (it has no total).
    post_structured(&s, "default", &event_with("kept", json!({"n": 1}))).await;
    r.wait_for(1, 60).await;
    assert!(
        s.log().contains("fails its authentication check"),
        "{}",
        s.log()
    );
}

#[tokio::test]
async fn compiles_that_take_too_long_are_refused() {
    let s = Server::start_with_config("[plugins]\ncompile_timeout = \"1ms\"\n");
    let (st, v) = upload_plugin(&s, "slow", "1", artifacts::TRANSFORM_SANITIZE_PII).await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("compile_timeout"),
        "{v}"
    );
    assert_eq!(get(&s, "/v1/plugins/slow").await.0, 404);
}

// ---- delivery and state -----------------------------------------------------------

#[tokio::test]
async fn redrive_of_one_target_is_complete_when_another_has_many_letters() {
    let s = Server::start();
    // Target a fails by connection refused (cheap), b with a 400 until it
    // recovers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let b = Receiver::start().await;
    b.set_status(400);
    let (st, v) = put_json(
        &s,
        "/v1/buses/default/rules/two",
        &json!({"pattern": {"source": ["/hostile"]}, "targets": [
            {"id": "a", "type": "http", "url": format!("http://{closed}/"), "retry": {"max_attempts": 1}},
            {"id": "b", "type": "http", "url": b.url, "concurrency": 32}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    for chunk in 0..12 {
        let batch: Vec<Value> = (0..100)
            .map(|i| event_with(&format!("e{chunk}-{i}"), json!({})))
            .collect();
        assert_eq!(post_batch(&s, "default", &Value::from(batch)).await.0, 200);
    }
    wait_until(300, async || {
        let (_, v) = get(&s, "/v1/buses/default/rules/two").await;
        v["status"]["targets"][0]["dead_letters"] == 1200
            && v["status"]["targets"][1]["dead_letters"] == 1200
    })
    .await;
    b.set_status(200);
    let before = b.calls();
    let r = client()
        .post(s.url("/v1/buses/default/rules/two/dead-letters/redrive"))
        .json(&json!({"target": "b"}))
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["redriven"], 1200, "{v}");
    wait_until(300, async || b.calls() >= before + 1200).await;
    let (_, v) = get(&s, "/v1/buses/default/rules/two").await;
    assert_eq!(v["status"]["targets"][0]["dead_letters"], 1200);
}

#[tokio::test]
async fn log_targets_write_only_inside_their_folder() {
    let s = Server::start();
    for (file, field) in [
        ("/tmp/evil.jsonl", "targets[0].file"),
        ("../evil.jsonl", "targets[0].file"),
    ] {
        let (st, v) = put_json(
            &s,
            "/v1/buses/default/rules/log",
            &json!({"pattern": {"source": ["/hostile"]}, "targets": [{"id": "l", "type": "log", "file": file}]}),
        )
        .await;
        assert_eq!(st, 400, "{v}");
        assert_eq!(v["field"], field);
    }
    let (st, v) = put_json(
        &s,
        "/v1/buses/default/rules/log",
        &json!({"pattern": {"source": ["/hostile"]}, "targets": [{"id": "l", "type": "log", "file": "sub/events.jsonl"}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    post_structured(&s, "default", &event_with("logged", json!({}))).await;
    let path = s.data_dir().join("target-logs/sub/events.jsonl");
    wait_until(30, async || {
        std::fs::read_to_string(&path).is_ok_and(|t| t.contains("\"logged\""))
    })
    .await;
}

#[tokio::test]
async fn target_credentials_are_write_only() {
    let s = Server::start_with_config(&format!(
        "[[auth.tokens]]\nname = \"admin\"\nscopes = [\"admin\"]\nhash = \"{}\"\n[[auth.tokens]]\nname = \"reader\"\nscopes = [\"read:*\"]\nhash = \"{}\"\n",
        hash("sbx_admin_secret_that_is_long_enough_0123456789"),
        hash("sbx_reader_secret_that_is_long_enough_0123456789")
    ));
    let admin = "sbx_admin_secret_that_is_long_enough_0123456789";
    let reader = "sbx_reader_secret_that_is_long_enough_0123456789";
    let r = Receiver::start().await;
    r.fail_first(1, 500);
    let rule = json!({"description": "v1", "pattern": {"source": ["/hostile"]}, "targets": [{
        "id": "t", "type": "http", "url": r.url, "auth": {"bearer": "s3cret-bearer"},
        "headers": {"x-api-key": "s3cret-key", "x-team": "ops"},
        "retry": {"max_attempts": 3, "backoff": {"initial": "50ms", "max": "50ms", "jitter": false}}}]});
    let put = async |rule: &Value| {
        status_json(
            client()
                .put(s.url("/v1/buses/default/rules/creds"))
                .bearer_auth(admin)
                .json(rule)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let (st, v) = put(&rule).await;
    assert_eq!(st, 201, "{v}");
    let shown = v.to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert_eq!(v["targets"][0]["auth"]["bearer"], "***");
    assert_eq!(v["targets"][0]["headers"]["x-team"], "ops");
    // Sending back what GET shows keeps the secrets.
    let mut again = v.clone();
    for k in ["name", "bus", "created_at", "updated_at", "status"] {
        again.as_object_mut().unwrap().remove(k);
    }
    again["description"] = json!("v2");
    let (st, v) = put(&again).await;
    assert_eq!(st, 200, "{v}");
    let e = event_with("creds", json!({}));
    let resp = client()
        .post(s.url("/v1/buses/default/events"))
        .bearer_auth(admin)
        .header("content-type", "application/cloudevents+json")
        .body(e.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = r.wait_for(2, 30).await;
    assert_eq!(
        got[1].header("authorization").as_deref(),
        Some("Bearer s3cret-bearer")
    );
    assert_eq!(got[1].header("x-api-key").as_deref(), Some("s3cret-key"));
    // A reader sees the failed attempt's status, not the receiver's answer.
    let trace = |token: &'static str| {
        let url = s.url("/v1/buses/default/events/creds/trace");
        async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let as_admin = trace(admin).await;
    let failed = |t: &Value| {
        t["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "attempt_failed")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        failed(&as_admin)["detail"]["response"],
        "the receiver refused this delivery",
        "{as_admin}"
    );
    let as_reader = trace(reader).await;
    assert_eq!(failed(&as_reader)["detail"]["status"], 500, "{as_reader}");
    assert!(
        failed(&as_reader)["detail"].get("response").is_none(),
        "{as_reader}"
    );
}

fn hash(secret: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(secret.as_bytes());
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[tokio::test]
async fn status_reflects_the_store_after_restart() {
    let mut s = Server::start();
    let r = Receiver::start().await;
    r.set_status(400);
    put_json(
        &s,
        "/v1/buses/default/rules/dl",
        &json!({"pattern": {"source": ["/hostile"]}, "targets": [{"id": "t", "type": "http", "url": r.url}]}),
    )
    .await;
    for i in 0..5 {
        post_structured(&s, "default", &event_with(&format!("x{i}"), json!({}))).await;
    }
    wait_until(30, async || {
        get(&s, "/v1/buses/default/rules/dl").await.1["status"]["targets"][0]["dead_letters"] == 5
    })
    .await;
    // Plugins to compile at the next start, without their cache.
    for (i, p) in [
        artifacts::FILTER_PASS,
        artifacts::FILTER_HIGH_VALUE,
        artifacts::TRANSFORM_SANITIZE_PII,
        artifacts::TRANSFORM_SPLIT,
        artifacts::TRANSFORM_IDENTITY_JSON,
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(upload_plugin(&s, &format!("p{i}"), "1", p).await.0, 201);
    }
    assert!(s.terminate().success());
    std::fs::remove_dir_all(s.data_dir().join("plugins/cache")).unwrap();
    s.restart_listening();
    // Ready only once plugins are compiled again; alive at once.
    let (st, v) = get(&s, "/readyz").await;
    assert_eq!(st, 503, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("starting"), "{v}");
    assert_eq!(get(&s, "/healthz").await.0, 200);
    wait_until(120, async || get(&s, "/readyz").await.0 == 200).await;
    let (_, v) = get(&s, "/v1/buses/default/rules/dl").await;
    assert_eq!(v["status"]["targets"][0]["dead_letters"], 5, "{v}");
}

#[tokio::test]
async fn metrics_of_deleted_things_go_away() {
    let s = Server::start();
    let r = Receiver::start().await;
    put_json(&s, "/v1/buses/gone", &json!({})).await;
    put_json(
        &s,
        "/v1/buses/gone/rules/r1",
        &json!({"pattern": {"source": ["/hostile"]}, "targets": [{"id": "t1", "type": "http", "url": r.url}]}),
    )
    .await;
    post_structured(&s, "gone", &event_with("m", json!({}))).await;
    r.wait_for(1, 30).await;
    let series = async || -> Vec<String> { scrape(&s).await.into_keys().collect() };
    let has = |all: &[String], needle: &str| all.iter().any(|k| k.contains(needle));
    let all = series().await;
    assert!(has(&all, "rule=\"r1\""), "{all:?}");
    assert!(has(&all, "bus=\"gone\""));
    let d = client()
        .delete(s.url("/v1/buses/gone/rules/r1"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 204);
    assert!(!has(&series().await, "rule=\"r1\""));
    let d = client()
        .delete(s.url("/v1/buses/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 204);
    assert!(!has(&series().await, "bus=\"gone\""));
}
