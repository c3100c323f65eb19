//! The cost of running a Wasm plugin, as the router pays it:
//!
//! - `plugin_call/*`: one call on a warm instance (the steady state: each
//!   rule keeps its instances and reuses them), including converting the
//!   event to the WIT record and back (or, for `filter_lazy_prefix`, a
//!   `lazy-filter`, lending it as a handle and copying out `type` only),
//!   the epoch deadline and the async timeout around the call.
//!   `filter_pass_minimal_event` is `filter_pass` on an event with three
//!   one-letter attributes: the part of a call that does not depend on the
//!   event.
//! - `plugin_fresh/*`: a call on a new instance — instantiate from the
//!   pre-linked component, run `init(config)`, call, drop. A rule pays this
//!   once per instance, and again after a trap or timeout.
//! - `plugin_compile/*`: compiling a component with Cranelift (what an
//!   upload costs; restarts load from the artifact cache instead).
//!
//! The components are the Rust plugins in `plugins/`, built by
//! `tests/artifacts`. Set `SIGNALBOX_BENCH_PLUGIN=path.wasm` (and optionally
//! `SIGNALBOX_BENCH_PLUGIN_CONFIG='{"key":"value"}'`) to measure another
//! component too, e.g. a JavaScript or Python plugin built by
//! `scripts/build-guest-plugins`.
//!
//! Run: `cargo bench --bench plugin -j1`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use signalbox::event::json::parse_structured;
use signalbox::event::{CloudEvent, SharedEvent};
use signalbox::plugin::{
    AllowList, LoadedPlugin, PluginEngine, PluginKind, PluginLimits, PluginRuntime, PoolSize,
    RulePlugin, inspect,
};
use signalbox_test_plugins as artifacts;

/// An order event of about 600 bytes, the shape the example plugins expect.
fn order_event() -> CloudEvent {
    let body = br#"{"specversion":"1.0","id":"0000000000000042","source":"/shop/orders","type":"order.created",
        "time":"2026-11-26T10:00:00Z","datacontenttype":"application/json","subject":"order-42",
        "data":{"order":"42","total":250.5,"currency":"EUR","customer":{"name":"Ada Lovelace","email":"ada@example.com","phone":"+44 20 7946 0000"},
        "items":[{"sku":"A-1","qty":2,"price":100.0},{"sku":"B-7","qty":1,"price":50.5}],
        "shipping":{"street":"12 Analytical Row","city":"London","country":"GB"}}}"#;
    parse_structured(body).unwrap().unwrap()
}

/// The order event padded to 1 KiB (its JSON, `data` and attributes
/// together), the size the issue's aim names.
fn order_event_1k() -> CloudEvent {
    let mut e = order_event();
    let mut doc: serde_json::Value =
        serde_json::from_slice(e.data.as_ref().unwrap().as_bytes()).unwrap();
    let with_note = |e: &mut CloudEvent, doc: &mut serde_json::Value, n: usize| {
        doc["note"] = serde_json::Value::String("x".repeat(n));
        e.data = Some(signalbox::event::Data::Json(
            serde_json::to_string(doc).unwrap().into(),
        ));
        signalbox::event::json::json_len(e)
    };
    let empty = with_note(&mut e, &mut doc, 0);
    assert_eq!(with_note(&mut e, &mut doc, 1024 - empty), 1024);
    e
}

struct Subject {
    name: String,
    plugin: Arc<LoadedPlugin>,
    config: Vec<(String, String)>,
}

fn load(runtime: &PluginRuntime, name: &str, bytes: &[u8], config: &[(&str, &str)]) -> Subject {
    let kind = inspect(bytes).unwrap().kind;
    let compiled = runtime.engine().compile(bytes, name).unwrap();
    let prepared = runtime.prepare(kind, &compiled.component).unwrap();
    Subject {
        name: name.to_owned(),
        plugin: Arc::new(LoadedPlugin {
            name: name.to_owned(),
            version: "bench".into(),
            kind,
            sha256: String::new(),
            prepared,
            engine: runtime.engine().clone(),
        }),
        config: config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn rule_plugin(s: &Subject) -> RulePlugin {
    RulePlugin::new(
        s.plugin.clone(),
        s.config.clone(),
        PluginLimits::default(),
        AllowList::parse::<&str>(&[]).unwrap(),
        "bench",
    )
}

/// One call of whatever the plugin is.
async fn call(rp: &RulePlugin, event: &SharedEvent) {
    match rp.plugin().kind {
        PluginKind::Filter => {
            black_box(rp.keep(event).await.unwrap());
        }
        PluginKind::Transform => {
            black_box(rp.transform((**event).as_ref()).await.unwrap());
        }
        PluginKind::Connector => unreachable!("connectors are not benchmarked here"),
    }
}

fn subjects(runtime: &PluginRuntime) -> Vec<(Subject, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, path, config) in [
        ("filter_pass", artifacts::FILTER_PASS, &[][..]),
        (
            "filter_lazy_prefix",
            artifacts::FILTER_LAZY_PREFIX,
            &[("attribute", "type"), ("prefix", "order.")][..],
        ),
        (
            "filter_high_value",
            artifacts::FILTER_HIGH_VALUE,
            &[("threshold", "100")][..],
        ),
        (
            "transform_identity_json",
            artifacts::TRANSFORM_IDENTITY_JSON,
            &[][..],
        ),
        (
            "transform_sanitize_pii",
            artifacts::TRANSFORM_SANITIZE_PII,
            &[][..],
        ),
    ] {
        let bytes = std::fs::read(path).unwrap();
        out.push((load(runtime, name, &bytes, config), bytes));
    }
    if let Ok(path) = std::env::var("SIGNALBOX_BENCH_PLUGIN") {
        let bytes = std::fs::read(&path).unwrap();
        let config: serde_json::Map<String, serde_json::Value> =
            std::env::var("SIGNALBOX_BENCH_PLUGIN_CONFIG")
                .map(|c| serde_json::from_str(&c).unwrap())
                .unwrap_or_default();
        let pairs: Vec<(String, String)> = config
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or(v.to_string())))
            .collect();
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let name = std::path::Path::new(&path)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.push((load(runtime, &name, &bytes, &borrowed), bytes));
    }
    out
}

/// Measures calls of `rp` on `event` on a warm instance (created before
/// the measurement starts).
fn warm_calls(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    rp: &RulePlugin,
    event: &SharedEvent,
) {
    rt.block_on(call(rp, event));
    g.bench_function(name, |b| {
        // One `block_on` per batch of iterations, so the figure is the
        // call's cost, not the executor's.
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    call(rp, event).await;
                }
                start.elapsed()
            })
        })
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = PluginEngine::new(None, PoolSize::default()).unwrap();
    let runtime = PluginRuntime::new(engine).unwrap();
    let subjects = subjects(&runtime);
    let event: SharedEvent = Arc::new(order_event());

    let mut g = c.benchmark_group("plugin_call");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    for (s, _) in &subjects {
        warm_calls(&mut g, &s.name, &rt, &rule_plugin(s), &event);
    }
    let big: SharedEvent = Arc::new(order_event_1k());
    for (s, _) in subjects
        .iter()
        .filter(|(s, _)| s.name.starts_with("filter_"))
    {
        let name = format!("{}_1KiB", s.name);
        warm_calls(&mut g, &name, &rt, &rule_plugin(s), &big);
    }
    // The fixed cost of a `filter` call: the same plugin on an event with
    // three one-letter attributes and nothing else.
    let tiny: SharedEvent = Arc::new(
        parse_structured(br#"{"specversion":"1.0","id":"1","source":"s","type":"t"}"#)
            .unwrap()
            .unwrap(),
    );
    let rp = rule_plugin(&subjects[0].0);
    warm_calls(&mut g, "filter_pass_minimal_event", &rt, &rp, &tiny);
    g.finish();

    let mut g = c.benchmark_group("plugin_fresh");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    for (s, _) in &subjects {
        g.bench_function(&s.name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let rp = rule_plugin(s);
                        call(&rp, &event).await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("plugin_compile");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    for (s, bytes) in &subjects {
        g.bench_function(&s.name, |b| {
            b.iter(|| black_box(runtime.engine().compile(bytes, "bench").unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
