//! Event sources end to end: schedules, signed webhooks, NATS and MQTT
//! (brokers started by the tests on loopback), across restarts.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Value, json};
use signalbox::sources::webhook::verify::{Verifier, VerifyConfig};

use crate::brokers::{Mosquitto, Nats};
use crate::support::*;

async fn put_source(s: &Server, bus: &str, name: &str, spec: Value) -> (u16, Value) {
    put_json(s, &format!("/v1/buses/{bus}/sources/{name}"), &spec).await
}

async fn source(s: &Server, name: &str) -> Value {
    let (st, v) = get(s, &format!("/v1/buses/default/sources/{name}")).await;
    assert_eq!(st, 200, "{v}");
    v
}

fn times(events: &[Value]) -> Vec<i64> {
    let mut t: Vec<i64> = events
        .iter()
        .map(|e| {
            let s = e["time"].as_str().unwrap();
            jiff::Timestamp::from_str(s).unwrap().as_second()
        })
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_every_second_and_never_twice_across_restarts() {
    let mut s = Server::start();
    let (st, v) = put_source(
        &s,
        "default",
        "tick",
        json!({"type": "schedule", "expression": "rate(1 second)", "missed": "catch_up",
               "event": {"type": "com.example.tick", "data": {"hello": "world"}}}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["status"]["state"], "running", "{v}");
    wait_until(30, async || all_events(&s, "default").await.len() >= 3).await;
    // Stop hard, stay down for a while, start again.
    s.kill9();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    s.restart();
    let before = all_events(&s, "default").await.len();
    wait_until(30, async || {
        all_events(&s, "default").await.len() >= before + 4
    })
    .await;
    let events = all_events(&s, "default").await;
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "no firing twice: {events:#?}");
    // Caught up: one event per second, no gap, the downtime included.
    let t = times(&events);
    for w in t.windows(2) {
        assert_eq!(w[1] - w[0], 1, "consecutive seconds: {t:?}");
    }
    let e = &events[0];
    assert_eq!(e["type"], "com.example.tick");
    assert_eq!(e["data"], json!({"hello": "world"}));
    assert_eq!(e["source"], "/signalbox/buses/default/sources/tick");
    // Its trace says where it came from.
    let (st, trace) = get(
        &s,
        &format!(
            "/v1/buses/default/events/{}/trace",
            e["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(st, 200, "{trace}");
    assert!(trace.to_string().contains("\"collected\""), "{trace}");
    let v = source(&s, "tick").await;
    assert!(
        v["status"]["fired"].as_u64().unwrap() >= events.len() as u64 - 1,
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_firings_are_counted_when_skipped_and_pausing_stops_a_schedule() {
    let mut s = Server::start();
    let (st, v) = put_source(
        &s,
        "default",
        "skip",
        json!({"type": "schedule", "expression": "rate(1 second)"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    wait_until(30, async || all_events(&s, "default").await.len() >= 2).await;
    s.terminate();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    s.restart();
    wait_until(30, async || {
        source(&s, "skip").await["status"]["missed"]
            .as_u64()
            .unwrap()
            >= 2
    })
    .await;
    // Pause: nothing more arrives; resume: it goes on.
    let (st, v) = status_json(
        client()
            .post(s.url("/v1/buses/default/sources/skip/pause"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"]["state"], "paused");
    let n = all_events(&s, "default").await.len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        all_events(&s, "default").await.len(),
        n,
        "a paused schedule is quiet"
    );
    let (st, _) = status_json(
        client()
            .post(s.url("/v1/buses/default/sources/skip/resume"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    wait_until(30, async || all_events(&s, "default").await.len() > n).await;
    let metrics = scrape(&s).await;
    let published = metrics
        .iter()
        .find(|(k, _)| {
            k.starts_with("signalbox_source_published_total") && k.contains("source=\"skip\"")
        })
        .map(|(_, v)| *v);
    assert!(published.unwrap_or(0.0) >= 1.0, "{metrics:?}");
}

#[tokio::test]
async fn bad_definitions_name_the_field_at_fault() {
    let s = Server::start();
    for (spec, field) in [
        (
            json!({"type": "schedule", "expression": "cron(0 12 * * * *)"}),
            "expression",
        ),
        (
            json!({"type": "schedule", "expression": "rate(1 minute)", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"type": "schedule", "expression": "rate(1 minute)", "interval": 5}),
            "interval",
        ),
        (
            json!({"type": "webhook", "verify": {"scheme": "github", "secret": "short"}}),
            "verify.secret",
        ),
        (
            json!({"type": "webhook", "verify": {"scheme": "stripe", "secret": "sk_live_0123456789abcdef"}}),
            "verify.secret",
        ),
        (
            json!({"type": "nats", "servers": ["http://x"], "subject": "a"}),
            "servers[0]",
        ),
        (
            json!({"type": "mqtt", "url": "mqtt://127.0.0.1:1883", "topics": ["a/#/b"]}),
            "topics[0]",
        ),
        (json!({"type": "kafka"}), "type"),
        (
            json!({"type": "schedule", "expression": "rate(1 minute)", "event": {"type": "{nope}"}}),
            "event.type",
        ),
    ] {
        let (st, v) = put_source(&s, "default", "bad", spec.clone()).await;
        assert_eq!(st, 400, "{spec}: {v}");
        assert_eq!(v["field"], field, "{spec}: {v}");
    }
    let (st, v) = get(&s, "/v1/buses/default/sources").await;
    assert_eq!(st, 200);
    assert_eq!(v["sources"], json!([]), "nothing was stored");
}

/// Sends a webhook; returns status and body.
async fn send(s: &Server, name: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let mut r = client()
        .post(s.url(&format!("/v1/sources/{name}/webhook")))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        r = r.header(k, v);
    }
    status_json(r.send().await.unwrap()).await
}

fn signed(config: &VerifyConfig, body: &[u8], ts: i64, id: Option<&str>) -> Vec<(String, String)> {
    Verifier::new(config)
        .unwrap()
        .sign(body, ts, id)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_of_every_scheme_are_stored_when_signed_and_refused_otherwise() {
    // Tokens on: the webhook needs none, managing sources does.
    let s = Server::start_with_config(&format!(
        "[[auth.tokens]]\nname = \"admin\"\nscopes = [\"admin\"]\nhash = \"{}\"\n",
        signalbox::auth::hash_secret("webhook-test-admin")
    ));
    let admin = |r: reqwest::RequestBuilder| r.bearer_auth("webhook-test-admin");
    let schemes: Vec<(&str, VerifyConfig, Value)> = vec![
        ("gh", VerifyConfig::github("It's a Secret to Everybody"), json!({"scheme": "github", "secret": "It's a Secret to Everybody"})),
        ("stripe", VerifyConfig::stripe("whsec_test_0123456789abcdefghij"), json!({"scheme": "stripe", "secret": "whsec_test_0123456789abcdefghij"})),
        ("slack", VerifyConfig::slack("8f742231b10e8888abcd99yyyzzz85a5"), json!({"scheme": "slack", "secret": "8f742231b10e8888abcd99yyyzzz85a5"})),
        ("sw", VerifyConfig::standard_webhooks("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), json!({"scheme": "standard-webhooks", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})),
        ("generic", serde_json::from_value(json!({"scheme": "hmac", "secret": "generic-secret-0123456789", "header": "X-Signature", "algorithm": "sha512", "encoding": "base64", "prefix": "sha512=", "timestamp_header": "X-Timestamp", "payload": "{timestamp}.{body}"})).unwrap(),
            json!({"scheme": "hmac", "secret": "generic-secret-0123456789", "header": "X-Signature", "algorithm": "sha512", "encoding": "base64", "prefix": "sha512=", "timestamp_header": "X-Timestamp", "payload": "{timestamp}.{body}"})),
    ];
    for (name, _, verify) in &schemes {
        let r = admin(client().put(s.url(&format!("/v1/buses/default/sources/{name}"))))
            .json(&json!({"type": "webhook", "verify": verify}));
        let (st, v) = status_json(r.send().await.unwrap()).await;
        assert_eq!(st, 201, "{v}");
        assert_eq!(v["verify"]["secret"], "***", "secrets are write-only: {v}");
    }
    // Without a token, managing sources is refused.
    let (st, _) = get(&s, "/v1/buses/default/sources").await;
    assert_eq!(st, 401);

    let count = async || {
        let r = admin(client().get(s.url("/v1/buses/default/events?after=0&limit=1000")));
        let (_, v) = status_json(r.send().await.unwrap()).await;
        v["events"].as_array().unwrap().len()
    };
    let mut stored = 0;
    for (name, config, _) in &schemes {
        let body = format!(r#"{{"id":"evt_{name}","type":"thing.happened","n":1.10}}"#);
        let body = body.as_bytes();
        let id = Some("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
        let now = now_secs();
        // Tampered body, wrong secret, stale timestamp: 401, nothing stored.
        let (st, v) = send(&s, name, &signed(config, b"{\"other\":1}", now, id), body).await;
        assert_eq!(st, 401, "{name} tampered: {v}");
        assert_eq!(
            v["type"]
                .as_str()
                .map(|t| t.ends_with("signature-mismatch")),
            Some(true),
            "{v}"
        );
        let wrong: VerifyConfig = match config {
            VerifyConfig::Github(_) => VerifyConfig::github("another secret, 16+ bytes"),
            VerifyConfig::Stripe(_) => VerifyConfig::stripe("whsec_another_0123456789abcd"),
            VerifyConfig::Slack(_) => VerifyConfig::slack("another-slack-secret-0123"),
            VerifyConfig::StandardWebhooks(_) => {
                VerifyConfig::standard_webhooks("whsec_QW5vdGhlciBzZWNyZXQsIDE2KyBieXRlcw==")
            }
            VerifyConfig::Hmac(h) => {
                let mut h = h.clone();
                h.secret = "another-generic-secret-01".into();
                VerifyConfig::Hmac(h)
            }
        };
        let (st, v) = send(&s, name, &signed(&wrong, body, now, id), body).await;
        assert_eq!(st, 401, "{name} wrong secret: {v}");
        if *name != "gh" {
            // GitHub signs no timestamp.
            let (st, v) = send(&s, name, &signed(config, body, now - 3600, id), body).await;
            assert_eq!(st, 401, "{name} stale: {v}");
            assert!(
                v["type"].as_str().unwrap().ends_with("timestamp-too-old"),
                "{v}"
            );
        }
        let (st, v) = send(&s, name, &[], body).await;
        assert_eq!(st, 401, "{name} unsigned: {v}");
        assert_eq!(count().await, stored, "{name}: nothing stored on refusal");

        // Right: stored; sent again: acknowledged, not stored twice.
        let headers = signed(config, body, now, id);
        let mut headers = headers.clone();
        if *name == "gh" {
            headers.push(("X-GitHub-Event".into(), "push".into()));
        }
        let (st, v) = send(&s, name, &headers, body).await;
        assert_eq!(st, 200, "{name}: {v}");
        assert!(v["seq"].as_u64().is_some(), "{v}");
        stored += 1;
        let (st, again) = send(&s, name, &headers, body).await;
        assert_eq!(st, 200, "{name} again: {again}");
        assert_eq!(again["duplicate"], true, "{again}");
        assert_eq!(again["id"], v["id"]);
        assert_eq!(count().await, stored, "{name}: a replay is not stored");
    }
    let r = admin(client().get(s.url("/v1/buses/default/events?after=0&limit=1000")));
    let (_, v) = status_json(r.send().await.unwrap()).await;
    let types: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "com.github.push",
            "com.stripe.thing.happened",
            "com.slack.thing.happened",
            "com.signalbox.webhook.thing.happened",
            "com.signalbox.webhook.thing.happened"
        ]
    );
    // The JSON body is the data, numbers exactly as sent (read as text:
    // a parsed JSON value would respell them).
    let r = admin(client().get(s.url("/v1/buses/default/events/evt_gh")));
    let text = r.send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#""n":1.10"#), "{text}");
    // Stripe's signed body id is the event id.
    assert_eq!(v["events"][1]["id"], "evt_stripe");
    // Standard Webhooks: the signed webhook-id.
    assert_eq!(v["events"][3]["id"], "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_maps_headers_and_body_into_the_event_and_serves_a_custom_path() {
    let s = Server::start();
    let (st, v) = put_source(
        &s,
        "default",
        "gh",
        json!({"type": "webhook", "path": "github/acme",
               "verify": {"scheme": "github", "secret": "It's a Secret to Everybody"},
               "event": {"type": "com.github.{header:X-GitHub-Event}", "id": "{header:X-GitHub-Delivery}",
                         "source": "https://github.com/{json:$.repository.full_name}", "subject": "{query:ref}"}}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let body = br#"{"repository":{"full_name":"acme/shop"},"ref":"main"}"#;
    let mut headers = signed(
        &VerifyConfig::github("It's a Secret to Everybody"),
        body,
        0,
        None,
    );
    headers.push(("X-GitHub-Event".into(), "pull_request".into()));
    headers.push((
        "X-GitHub-Delivery".into(),
        "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
    ));
    let mut r = client()
        .post(s.url("/v1/hooks/github/acme?ref=main"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in &headers {
        r = r.header(k, v);
    }
    let (st, v) = status_json(r.send().await.unwrap()).await;
    assert_eq!(st, 200, "{v}");
    let (st, e) = get(
        &s,
        "/v1/buses/default/events/72d3162e-cc78-11e3-81ab-4c9367dc0958",
    )
    .await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(e["type"], "com.github.pull_request");
    assert_eq!(e["source"], "https://github.com/acme/shop");
    assert_eq!(e["subject"], "main");
    assert_eq!(e["data"]["ref"], "main");
    // Another source cannot take the path.
    let (st, v) = put_source(
        &s,
        "default",
        "gh2",
        json!({"type": "webhook", "path": "github/acme", "verify": {"scheme": "github", "secret": "It's a Secret to Everybody"}}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["field"], "path");
    // A GET shows the status.
    let v = source(&s, "gh").await;
    assert_eq!(v["status"]["published"], 1, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetstream_source_stores_every_message_once_across_a_kill() {
    let nats = Nats::start();
    let client_nats = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client_nats.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut s = Server::start();
    let (st, v) = put_source(
        &s,
        "default",
        "orders",
        json!({"type": "nats", "servers": [nats.url()], "subject": "orders.>", "jetstream": {"stream": "ORDERS"},
               "event": {"type": "com.example.order", "subject": "{subject}"}}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let publish = async |from: usize, to: usize| {
        for i in from..to {
            js.publish(format!("orders.eu.{i}"), format!(r#"{{"n":{i}}}"#).into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    };
    publish(0, 300).await;
    wait_until(30, async || all_events(&s, "default").await.len() >= 100).await;
    s.kill9();
    // Published while Signalbox is down: kept by the stream.
    publish(300, 500).await;
    s.restart();
    wait_until(60, async || all_events(&s, "default").await.len() >= 500).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = all_events(&s, "default").await;
    assert_eq!(events.len(), 500, "each message exactly once");
    let ns: HashSet<u64> = events
        .iter()
        .map(|e| e["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns.len(), 500);
    assert_eq!(events[0]["type"], "com.example.order");
    assert!(
        events[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("orders.eu.")
    );
    // Acknowledged upstream: nothing is pending on the consumer.
    let stream = js.get_stream("ORDERS").await.unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .get_consumer("signalbox-default-orders")
        .await
        .unwrap();
    wait_until(30, async || {
        let info = consumer.info().await.unwrap();
        info.num_ack_pending == 0 && info.num_pending == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_nats_source_answers_requests_once_the_event_is_stored() {
    let nats = Nats::start();
    let nc = async_nats::connect(nats.url()).await.unwrap();
    let s = Server::start();
    // A structured CloudEvent passes through as it is.
    let (st, v) = put_source(
        &s,
        "default",
        "core",
        json!({"type": "nats", "servers": [nats.url()], "subject": "events.*", "queue_group": "signalbox"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    wait_until(30, async || {
        source(&s, "core").await["status"]["state"] == "running"
    })
    .await;
    let ce = json!({"specversion": "1.0", "id": "ce-1", "source": "/orders", "type": "order.created", "data": {"x": 1}});
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        nc.request("events.a", ce.to_string().into()),
    )
    .await
    .expect("answered")
    .unwrap();
    assert!(reply.payload.is_empty());
    // Stored by the time the answer came.
    let (st, e) = get(&s, "/v1/buses/default/events/ce-1").await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(e["type"], "order.created");
    assert_eq!(e["source"], "/orders");
}

async fn mqtt_publisher(
    url: &str,
    id: &str,
    v5: bool,
) -> (
    Box<dyn Fn(String, Vec<u8>) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>,
    tokio::task::JoinHandle<()>,
) {
    let (host, port) = url
        .strip_prefix("mqtt://")
        .unwrap()
        .split_once(':')
        .unwrap();
    let port: u16 = port.parse().unwrap();
    if v5 {
        use rumqttc::v5::{AsyncClient, MqttOptions, mqttbytes::QoS};
        let (c, mut el) = AsyncClient::new(MqttOptions::new(id, host, port), 100);
        let poll = tokio::spawn(async move { while el.poll().await.is_ok() {} });
        let f = move |t: String, p: Vec<u8>| -> futures_util::future::BoxFuture<'static, ()> {
            let c = c.clone();
            Box::pin(async move { c.publish(t, QoS::AtLeastOnce, false, p).await.unwrap() })
        };
        (Box::new(f), poll)
    } else {
        use rumqttc::{AsyncClient, MqttOptions, QoS};
        let (c, mut el) = AsyncClient::new(MqttOptions::new(id, host, port), 100);
        let poll = tokio::spawn(async move { while el.poll().await.is_ok() {} });
        let f = move |t: String, p: Vec<u8>| -> futures_util::future::BoxFuture<'static, ()> {
            let c = c.clone();
            Box::pin(async move { c.publish(t, QoS::AtLeastOnce, false, p).await.unwrap() })
        };
        (Box::new(f), poll)
    }
}

async fn mqtt_exactly_once(v5: bool) {
    let broker = Mosquitto::start();
    let mut s = Server::start();
    let mut spec = json!({"type": "mqtt", "url": broker.url(), "topics": ["sensors/+/temp"], "qos": 1,
                          "event": {"type": "com.example.reading"}});
    if v5 {
        spec["protocol"] = json!("5");
    }
    let (st, v) = put_source(&s, "default", "sensors", spec).await;
    assert_eq!(st, 201, "{v}");
    wait_until(30, async || {
        source(&s, "sensors").await["status"]["state"] == "running"
    })
    .await;
    let (publish, poll) = mqtt_publisher(&broker.url(), "test-publisher", v5).await;
    for i in 0..200 {
        publish(
            format!("sensors/{}/temp", i % 7),
            format!(r#"{{"n":{i}}}"#).into_bytes(),
        )
        .await;
    }
    wait_until(30, async || all_events(&s, "default").await.len() >= 50).await;
    s.kill9();
    // Queued by the broker for the absent, persistent session.
    for i in 200..300 {
        publish(
            format!("sensors/{}/temp", i % 7),
            format!(r#"{{"n":{i}}}"#).into_bytes(),
        )
        .await;
    }
    s.restart();
    wait_until(60, async || all_events(&s, "default").await.len() >= 300).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = all_events(&s, "default").await;
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for e in &events {
        *seen.entry(e["data"]["n"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 300, "every message arrived");
    assert_eq!(
        events.len(),
        300,
        "each once: {:?}",
        seen.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert!(
        events[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("sensors/")
    );
    poll.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt_source_stores_every_message_once_across_a_kill() {
    mqtt_exactly_once(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt5_source_stores_every_message_once_across_a_kill() {
    mqtt_exactly_once(true).await;
}
