//! Plugins written in JavaScript and Python (`plugins/js`, `plugins/python`),
//! built with the real toolchains (componentize-js, componentize-py) by
//! `scripts/build-guest-plugins`, uploaded through the API and run through
//! rules to a real receiver — the same kind of checks as `plugins.rs` makes
//! for the Rust plugins.
//!
//! Each component is 12–18 MB and takes 10–20 s to compile on upload, so
//! each language has one test that does everything with one upload (and a
//! restart, which loads the compiled artifact from the cache).
//!
//! `guest_plugin_costs` (ignored by default) measures size, compile time and
//! per-call cost next to the Rust plugins:
//!
//! ```sh
//! cargo test --test e2e guest_plugins::guest_plugin_costs -- --ignored --nocapture
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::*;

/// The components built from `plugins/js` and `plugins/python`.
pub(crate) struct Guests {
    /// `plugins/js/transform_order_notify`
    pub(crate) js_order_notify: PathBuf,
    /// `plugins/js/filter_lazy_type` (world `lazy-filter`)
    pub(crate) js_lazy_type: PathBuf,
    /// `plugins/python/filter_drop_test_accounts`
    pub(crate) py_drop_test_accounts: PathBuf,
    /// `plugins/python/filter_lazy_region` (world `lazy-filter`)
    pub(crate) py_lazy_region: PathBuf,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository root")
        .to_owned()
}

/// Builds the guest plugins once per test process. The script takes a lock
/// file itself, so test processes running at the same time do not race,
/// and skips plugins whose sources did not change.
pub(crate) fn guests() -> &'static Guests {
    static BUILT: OnceLock<Guests> = OnceLock::new();
    BUILT.get_or_init(|| {
        let started = Instant::now();
        let out = Command::new(repo().join("scripts/build-guest-plugins"))
            .current_dir(repo())
            .output()
            .expect("run scripts/build-guest-plugins");
        assert!(
            out.status.success(),
            "scripts/build-guest-plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let paths: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        let find = |name: &str| {
            paths
                .iter()
                .find(|p| p.file_stem().is_some_and(|s| s == name))
                .unwrap_or_else(|| panic!("{name}.wasm was not built: {paths:?}"))
                .clone()
        };
        eprintln!(
            "guest plugins ready in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Guests {
            js_order_notify: find("transform_order_notify"),
            js_lazy_type: find("filter_lazy_type"),
            py_drop_test_accounts: find("filter_drop_test_accounts"),
            py_lazy_region: find("filter_lazy_region"),
        }
    })
}

/// Uploads a component. Compiling a 12–18 MB component takes 10–20 s on
/// an idle 2-core machine, and much longer while the rest of the suite runs,
/// hence the generous timeout.
async fn upload(s: &Server, name: &str, version: &str, path: &Path) -> (u16, Value) {
    let bytes = std::fs::read(path).unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    status_json(
        client
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

async fn put_rule(s: &Server, name: &str, rule: Value) {
    let (st, v) = status_json(
        client()
            .put(s.url(&format!("/v1/buses/default/rules/{name}")))
            .json(&rule)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(st == 201 || st == 200, "{v}");
}

async fn trace_steps(s: &Server, id: &str) -> Vec<Value> {
    let (st, t) = get(s, &format!("/v1/buses/default/events/{id}/trace")).await;
    assert_eq!(st, 200, "{t}");
    t["steps"].as_array().cloned().unwrap_or_default()
}

/// Waits until the rule's trace for `id` has a step other than `received`.
async fn rule_step(s: &Server, id: &str, rule: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(step) = trace_steps(s, id)
            .await
            .into_iter()
            .find(|st| st["rule"] == rule)
        {
            return step;
        }
        assert!(Instant::now() < deadline, "rule {rule} never handled {id}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn order(id: &str, kind: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/shop/eu", "type": format!("com.example.order.{kind}"),
           "time": "2026-11-26T09:00:00Z", "datacontenttype": "application/json", "data": data})
}

fn hr(id: &str, employee_id: &str, email: &str) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/hr/workday", "type": "com.example.hr.employee.onboarded",
           "datacontenttype": "application/json",
           "data": {"employee": {"employee_id": employee_id, "name": "Someone", "email": email, "department": "R&D"}}})
}

#[tokio::test]
async fn javascript_transform_turns_orders_into_chat_messages() {
    let g = guests();
    let mut s = Server::start();
    let r = Receiver::start().await;
    let (st, v) = upload(&s, "order-notify", "1.0.0", &g.js_order_notify).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["kind"], "transform");
    assert!(v["size"].as_u64().unwrap() > 1_000_000, "{v}");
    // componentize-js with http disabled: no wasi:http import.
    let imports = v["imports"].as_array().unwrap();
    assert!(
        imports
            .iter()
            .all(|i| !i.as_str().unwrap().starts_with("wasi:http")),
        "{v}"
    );

    // The test endpoint: output, configuration, and errors as data.
    let created = order(
        "o1-created",
        "created",
        json!({"order_id": "o-1", "customer": {"name": "Ada"}, "items": [{"sku": "a", "qty": 2}], "total": 1500, "currency": "EUR"}),
    );
    let v = run_plugin(
        &s,
        "order-notify@1.0.0",
        json!({"event": created, "config": {"channel": "#sales", "highlight_over": 1000}}),
    )
    .await;
    assert_eq!(v["outcome"], "events", "{v}");
    let out = &v["events"][0];
    assert_eq!(out["id"], "o1-created.chat");
    assert_eq!(out["type"], "com.example.notification.chat");
    assert_eq!(out["subject"], "#sales");
    assert_eq!(out["orderid"], "o-1");
    assert_eq!(out["time"], "2026-11-26T09:00:00Z");
    assert_eq!(out["data"]["priority"], "high");
    assert_eq!(
        out["data"]["text"],
        ":rotating_light: 🛒 New order o-1 from Ada: 2 items, 1500.00 EUR"
    );
    let v = run_plugin(
        &s,
        "order-notify@1.0.0",
        json!({"event": created, "config": {"chanel": "#typo"}}),
    )
    .await;
    assert_eq!(v["outcome"], "error", "{v}");
    assert_eq!(v["error"]["kind"], "init");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown key `chanel`"),
        "{v}"
    );
    let v = run_plugin(
        &s,
        "order-notify@1.0.0",
        json!({"event": order("bad", "paid", json!([1, 2]))}),
    )
    .await;
    assert_eq!(v["error"]["kind"], "plugin_error", "{v}");
    assert_eq!(
        v["error"]["message"],
        "event bad: data must be a JSON object describing the order"
    );

    // Through a rule, to a real receiver.
    put_rule(
        &s,
        "chat",
        json!({"pattern": {"type": [{"prefix": "com.example.order."}]},
               "transform": {"plugin": "order-notify@1.0.0", "config": {"channel": "#orders"}},
               "targets": [{"id": "chat", "type": "http", "url": format!("{}/chat", r.url), "mode": "structured"}]}),
    )
    .await;
    let batch = json!([
        order(
            "e1",
            "created",
            json!({"order_id": "o-1", "customer": {"name": "Ada"}, "items": [{"sku": "a"}], "total": 20.5})
        ),
        order(
            "e2",
            "paid",
            json!({"order_id": "o-1", "total": 20.5, "payment_method": "card"})
        ),
        order("e3", "viewed", json!({"order_id": "o-1"})),
        order(
            "e4",
            "shipped",
            json!({"order_id": "o-1", "carrier": "DHL", "tracking": "JD1"})
        ),
        order(
            "e5",
            "returned",
            json!({"order_id": "o-1", "items": [{"sku": "a"}], "refund": 20.5, "reason": "damaged"})
        ),
        order("e6", "exchanged", json!({"no_order_id": true})),
        order(
            "e7",
            "exchanged",
            json!({"order_id": "o-2", "exchange": {"from": "sku-1", "to": "sku-2"}})
        ),
    ]);
    assert_eq!(post_batch(&s, "default", &batch).await.0, 200);
    let got = r.wait_for(5, 60).await;
    let texts: Vec<(String, String)> = got
        .iter()
        .map(|g| {
            let v = g.json();
            assert_eq!(g.path, "/chat");
            assert_eq!(v["type"], "com.example.notification.chat");
            (
                v["id"].as_str().unwrap().to_owned(),
                v["data"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("e1.chat", "🛒 New order o-1 from Ada: 1 item, 20.50 EUR"),
        ("e2.chat", "💳 Order o-1 paid: 20.50 EUR by card"),
        ("e4.chat", "📦 Order o-1 shipped with DHL (tracking JD1)"),
        (
            "e5.chat",
            "↩️ Order o-1 returned: 1 item, refund 20.50 EUR (damaged)",
        ),
        ("e7.chat", "🔁 Order o-2: exchange of sku-1 for sku-2"),
    ];
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    // An unknown order type becomes no event; a broken one fails with the
    // plugin's message in the trace.
    let step = rule_step(&s, "e3", "chat").await;
    assert_eq!(step["step"], "filtered_out", "{step}");
    assert_eq!(step["detail"]["by"], "order-notify@1.0.0", "{step}");
    let step = rule_step(&s, "e6", "chat").await;
    assert_eq!(step["step"], "failed", "{step}");
    assert_eq!(step["detail"]["by"], "order-notify@1.0.0");
    assert!(
        step["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("event e6: data has no order_id"),
        "{step}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.calls(), 5, "nothing else was delivered");

    // The compiled artifact is cached: a restart does not compile again.
    s.terminate();
    s.restart();
    assert!(s.log().contains("from_cache=1"), "{}", s.log());
    post_batch(
        &s,
        "default",
        &json!([order("e8", "paid", json!({"order_id": "o-3", "total": 5}))]),
    )
    .await;
    let got = r.wait_for(6, 60).await;
    assert_eq!(got[5].json()["id"], "e8.chat");
}

/// A JavaScript lazy filter decides on `type` and the data's size, read
/// through the `lazy` interface.
#[tokio::test]
async fn javascript_lazy_filter_reads_type_and_data_size() {
    let g = guests();
    let s = Server::start();
    let (st, v) = upload(&s, "by-type", "1", &g.js_lazy_type).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["kind"], "filter");
    let event = |ty: &str, data: &str| {
        json!({"specversion": "1.0", "id": "j1", "source": "/shop", "type": ty,
               "datacontenttype": "text/plain", "data": data})
    };
    let cases = [
        (
            event("order.created", "x"),
            json!({"prefixes": "order.,invoice."}),
            "keep",
        ),
        (
            event("invoice.paid", "x"),
            json!({"prefixes": ["order.", "invoice."]}),
            "keep",
        ),
        (
            event("hr.hired", "x"),
            json!({"prefixes": "order."}),
            "drop",
        ),
        (
            event("order.created", "0123456789"),
            json!({"prefixes": "order.", "max_data_bytes": 10}),
            "keep",
        ),
        (
            event("order.created", "0123456789a"),
            json!({"prefixes": "order.", "max_data_bytes": 10}),
            "drop",
        ),
    ];
    for (e, config, outcome) in cases {
        let v = run_plugin(&s, "by-type@1", json!({"event": e, "config": config})).await;
        assert_eq!(v["outcome"], outcome, "{config}: {v}");
    }
    let v = run_plugin(
        &s,
        "by-type@1",
        json!({"event": event("order.created", "x"), "config": {"prefix": "order."}}),
    )
    .await;
    assert_eq!(v["error"]["kind"], "init", "{v}");
}

/// A Python lazy filter reads one extension (and, when asked to, the
/// content type) through the `lazy` interface, in a rule like any filter.
#[tokio::test]
async fn python_lazy_filter_reads_only_the_attributes_it_needs() {
    let g = guests();
    let s = Server::start();
    let (st, v) = upload(&s, "region", "1", &g.py_lazy_region).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["kind"], "filter");
    let event = |region: Option<&str>, media: &str| {
        let mut e = json!({"specversion": "1.0", "id": "r1", "source": "/shop", "type": "order.created",
                           "datacontenttype": media, "data": "x"});
        if let Some(r) = region {
            e["region"] = json!(r);
        }
        e
    };
    let cases = [
        (
            event(Some("eu"), "text/plain"),
            json!({"regions": "eu,uk"}),
            "keep",
        ),
        (
            event(Some("us"), "text/plain"),
            json!({"regions": ["eu", "uk"]}),
            "drop",
        ),
        (event(None, "text/plain"), json!({"regions": "eu"}), "drop"),
        (
            event(None, "text/plain"),
            json!({"regions": "eu", "keep_missing": true}),
            "keep",
        ),
        (
            event(Some("eu"), "text/plain"),
            json!({"regions": "eu", "extension": "zone"}),
            "drop",
        ),
    ];
    for (e, config, outcome) in cases {
        let v = run_plugin(&s, "region@1", json!({"event": e, "config": config})).await;
        assert_eq!(v["outcome"], outcome, "{config}: {v}");
    }
    let v = run_plugin(
        &s,
        "region@1",
        json!({"event": event(Some("eu"), "text/plain"), "config": {"regions": "eu", "require_json": true}}),
    )
    .await;
    assert_eq!(v["outcome"], "error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("event r1 carries text/plain data, not JSON"),
        "{v}"
    );

    let r = Receiver::start().await;
    let (st, v) = put_json(
        &s,
        "/v1/buses/default/rules/eu",
        &json!({"pattern": {"source": ["/shop"]},
                "filters": [{"plugin": "region@1", "config": {"regions": "eu"}}],
                "targets": [{"id": "t", "type": "http", "url": r.url, "mode": "structured"}]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let batch: Vec<Value> = (0..8)
        .map(|i| {
            let mut e = event(Some(if i % 2 == 0 { "eu" } else { "us" }), "text/plain");
            e["id"] = json!(format!("r{i}"));
            e
        })
        .collect();
    assert_eq!(post_batch(&s, "default", &json!(batch)).await.0, 200);
    let got = r.wait_for(4, 60).await;
    let mut ids: Vec<String> = got
        .iter()
        .map(|g| g.json()["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["r0", "r2", "r4", "r6"]);
}

#[tokio::test]
async fn python_filter_drops_internal_test_accounts() {
    let g = guests();
    let mut s = Server::start();
    let r = Receiver::start().await;
    let (st, v) = upload(&s, "drop-test-accounts", "1.0.0", &g.py_drop_test_accounts).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["kind"], "filter");

    let real = hr("h1", "E-1", "grace@example.com");
    let v = run_plugin(&s, "drop-test-accounts@1.0.0", json!({"event": real})).await;
    assert_eq!(v["outcome"], "keep", "{v}");
    let qa = hr("h2", "E-2", "qa+bot@example.com");
    let v = run_plugin(&s, "drop-test-accounts@1.0.0", json!({"event": qa})).await;
    assert_eq!(v["outcome"], "drop", "{v}");
    // Configuration errors come from init, with the plugin's message.
    let v = run_plugin(
        &s,
        "drop-test-accounts@1.0.0",
        json!({"event": real, "config": {"test_domain": "x"}}),
    )
    .await;
    assert_eq!(v["error"]["kind"], "init", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown key `test_domain`"),
        "{v}"
    );
    // CPython's initial heap is about 12.3 MiB: below that, instantiation
    // fails with a clear memory-limit error; 16 MiB is enough for this plugin.
    let v = run_plugin(
        &s,
        "drop-test-accounts@1.0.0",
        json!({"event": real, "limits": {"memory_mb": 8}}),
    )
    .await;
    assert_eq!(v["error"]["kind"], "memory_limit", "{v}");
    let v = run_plugin(
        &s,
        "drop-test-accounts@1.0.0",
        json!({"event": real, "limits": {"memory_mb": 16}}),
    )
    .await;
    assert_eq!(v["outcome"], "keep", "{v}");

    put_rule(
        &s,
        "provisioning",
        json!({"pattern": {"source": ["/hr/workday"]},
               "filters": [{"plugin": "drop-test-accounts@1.0.0", "config": {"test_domains": ["test.example.com"], "test_id_prefixes": "T-,QA-"}}],
               "targets": [{"id": "it", "type": "http", "url": r.url, "mode": "binary"}],
               "limits": {"memory_mb": 32}}),
    )
    .await;
    let mut flagged = hr("h6", "E-6", "ann@example.com");
    flagged["testaccount"] = json!(true);
    let batch = json!([
        hr("h1", "E-1", "grace@example.com"),
        hr("h2", "E-2", "qa+bot@example.com"),
        hr("h3", "T-3", "tess@example.com"),
        hr("h4", "E-4", "linus@test.example.com"),
        hr("h5", "QA-5", "quinn@example.com"),
        flagged,
        hr("h7", "E-7", "ada@example.com"),
    ]);
    assert_eq!(post_batch(&s, "default", &batch).await.0, 200);
    let got = r.wait_for(2, 60).await;
    let mut ids: Vec<String> = got.iter().map(|g| g.header("ce-id").unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["h1", "h7"]);
    for dropped in ["h2", "h3", "h4", "h5", "h6"] {
        let step = rule_step(&s, dropped, "provisioning").await;
        assert_eq!(step["step"], "filtered_out", "{dropped}: {step}");
        assert_eq!(step["detail"]["by"], "drop-test-accounts@1.0.0");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.calls(), 2, "nothing else was delivered");
    let (_, rule) = get(&s, "/v1/buses/default/rules/provisioning").await;
    assert_eq!(rule["status"]["degraded"], false, "{rule}");

    s.terminate();
    s.restart();
    assert!(s.log().contains("from_cache=1"), "{}", s.log());
    post_batch(
        &s,
        "default",
        &json!([
            hr("h8", "T-8", "x@example.com"),
            hr("h9", "E-9", "y@example.com")
        ]),
    )
    .await;
    let got = r.wait_for(3, 60).await;
    assert_eq!(got[2].header("ce-id").as_deref(), Some("h9"));
}

/// Sizes, compile time on upload and per-call cost of the guest plugins next
/// to the Rust ones. Prints a table; run it explicitly (see the module doc).
#[tokio::test]
#[ignore = "a measurement, not a check: run with --ignored --nocapture"]
async fn guest_plugin_costs() {
    use signalbox::event::json::parse_structured;
    use signalbox::plugin::{
        AllowList, LoadedPlugin, PluginEngine, PluginLimits, PluginRuntime, PoolSize, RulePlugin,
        inspect,
    };
    use signalbox_test_plugins as artifacts;
    use std::sync::Arc;

    let g = guests();
    let order_event = order(
        "o1",
        "created",
        json!({"order_id": "o-1", "customer": {"name": "Ada"}, "items": [{"sku": "a", "qty": 2}], "total": 120.5}),
    );
    let hr_event = hr("h1", "E-1", "grace@example.com");
    let mut eu_event = hr_event.clone();
    eu_event["region"] = json!("eu");
    let none = json!({});
    let by_type = json!({"prefixes": "com.example.hr."});
    let eu = json!({"regions": "eu"});
    let lazy_type = json!({"prefix": "com.example.hr."});
    let cases: Vec<(&str, PathBuf, &Value, &Value)> = vec![
        (
            "rust filter_pass",
            artifacts::FILTER_PASS.into(),
            &hr_event,
            &none,
        ),
        (
            "rust filter_lazy_prefix (lazy, reads type)",
            artifacts::FILTER_LAZY_PREFIX.into(),
            &hr_event,
            &lazy_type,
        ),
        (
            "rust filter_high_value",
            artifacts::FILTER_HIGH_VALUE.into(),
            &order_event,
            &none,
        ),
        (
            "rust transform_identity_json",
            artifacts::TRANSFORM_IDENTITY_JSON.into(),
            &order_event,
            &none,
        ),
        (
            "python filter_drop_test_accounts",
            g.py_drop_test_accounts.clone(),
            &hr_event,
            &none,
        ),
        (
            "python filter_lazy_region (lazy, reads one extension)",
            g.py_lazy_region.clone(),
            &eu_event,
            &eu,
        ),
        (
            "js filter_lazy_type (lazy, reads type and data size)",
            g.js_lazy_type.clone(),
            &hr_event,
            &by_type,
        ),
        (
            "js transform_order_notify",
            g.js_order_notify.clone(),
            &order_event,
            &none,
        ),
    ];
    let s = Server::start();
    let engine = PluginEngine::new(None, PoolSize::default()).unwrap();
    let runtime = PluginRuntime::new(engine.clone()).unwrap();
    println!(
        "\n| plugin | size | compile on upload | test endpoint (new instance + init + call) | per call, warm instance |"
    );
    println!("|---|---|---|---|---|");
    for (i, (label, path, event, config)) in cases.into_iter().enumerate() {
        let bytes = std::fs::read(&path).unwrap();
        let name = format!("p{i}");
        let (st, info) = upload(&s, &name, "1", &path).await;
        assert_eq!(st, 201, "{info}");
        let mut cold = Vec::new();
        for _ in 0..5 {
            let v = run_plugin(
                &s,
                &format!("{name}@1"),
                json!({"event": event, "config": config}),
            )
            .await;
            assert_ne!(v["outcome"], "error", "{label}: {v}");
            cold.push(v["duration_ms"].as_f64().unwrap());
        }
        cold.sort_by(f64::total_cmp);

        // Warm per-call cost: the host's own runtime, one rule's instance
        // reused for every call, as a rule does.
        let kind = inspect(&bytes).unwrap().kind;
        let prepared = runtime
            .prepare(kind, &engine.compile(&bytes, "bench").unwrap().component)
            .unwrap();
        let plugin = Arc::new(LoadedPlugin {
            name: name.clone(),
            version: "1".into(),
            kind,
            sha256: String::new(),
            prepared,
            engine: engine.clone(),
        });
        let pairs = config
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let rp = RulePlugin::new(
            plugin,
            pairs,
            PluginLimits::default(),
            AllowList::parse::<&str>(&[]).unwrap(),
            "bench",
        );
        let ev: signalbox::event::SharedEvent = std::sync::Arc::new(
            parse_structured(event.to_string().as_bytes())
                .unwrap()
                .unwrap(),
        );
        let call = async || match kind {
            signalbox::plugin::PluginKind::Filter => rp.keep(&ev).await.map(|_| ()),
            _ => rp.transform((*ev).as_ref()).await.map(|_| ()),
        };
        for _ in 0..200 {
            call().await.unwrap();
        }
        let n = 5000;
        let started = Instant::now();
        for _ in 0..n {
            call().await.unwrap();
        }
        let per_call_us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!(
            "| {label} | {:.1} MB ({} bytes) | {:.1} s | {:.2} ms (median of 5) | {:.1} µs |",
            bytes.len() as f64 / 1e6,
            bytes.len(),
            info["compile_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0,
            cold[2],
            per_call_us,
        );
    }
}
