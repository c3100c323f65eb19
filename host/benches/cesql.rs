//! Parse and evaluation cost of typical CESQL filters.
//!
//! `cargo bench --bench cesql` prints, before Criterion's timings, how many
//! heap allocations one call makes (counted by a wrapping global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use signalbox::pattern::cesql::{EventAttributes, Expression, ValueRef};

/// Counts allocations so the bench can report allocations per call.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// An event shaped like the host's: owned strings, extensions in a list.
struct HostEvent {
    id: String,
    source: String,
    ty: String,
    subject: Option<String>,
    time: Option<String>,
    extensions: Vec<(String, Ext)>,
}

enum Ext {
    String(String),
    Integer(i32),
}

fn borrowed(s: &str) -> ValueRef<'_> {
    ValueRef::String(Cow::Borrowed(s))
}

impl EventAttributes for HostEvent {
    fn attribute(&self, name: &str) -> Option<ValueRef<'_>> {
        match name {
            "specversion" => Some(borrowed("1.0")),
            "id" => Some(borrowed(&self.id)),
            "source" => Some(borrowed(&self.source)),
            "type" => Some(borrowed(&self.ty)),
            "subject" => self.subject.as_deref().map(borrowed),
            "time" => self.time.as_deref().map(borrowed),
            _ => self
                .extensions
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| match v {
                    Ext::String(s) => borrowed(s),
                    Ext::Integer(i) => ValueRef::Integer(*i),
                }),
        }
    }
}

fn host_event() -> HostEvent {
    HostEvent {
        id: "a1b2c3".into(),
        source: "/shop/eu".into(),
        ty: "com.example.order.created".into(),
        subject: Some("order-42".into()),
        time: Some("2024-05-01T12:00:00Z".into()),
        extensions: vec![
            ("priority".into(), Ext::Integer(5)),
            ("region".into(), Ext::String("eu-west-1".into())),
            ("tenant".into(), Ext::String("acme".into())),
        ],
    }
}

fn json_event() -> serde_json::Map<String, serde_json::Value> {
    match serde_json::json!({
        "specversion": "1.0", "id": "a1b2c3", "source": "/shop/eu",
        "type": "com.example.order.created", "subject": "order-42",
        "time": "2024-05-01T12:00:00Z", "priority": 5, "region": "eu-west-1",
        "tenant": "acme", "data": {"total": 12},
    }) {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// A typical subscription filter.
const TYPICAL: &str = "type LIKE 'com.example.order.%' AND source = '/shop/eu' \
                       AND (priority > 3 OR EXISTS urgent) AND region IN ('eu-west-1', 'eu-central-1')";
const SIMPLE: &str = "type = 'com.example.order.created'";
const MISSING: &str = "urgent = 'yes'";

fn allocations(f: impl Fn()) -> usize {
    f(); // warm up (lazy statics)
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        f();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) / 100
}

fn report_allocations() {
    let host = host_event();
    let json = json_event();
    let typical = Expression::parse(TYPICAL).unwrap();
    let simple = Expression::parse(SIMPLE).unwrap();
    let missing = Expression::parse(MISSING).unwrap();
    assert!(typical.matches(&host) && typical.matches(&json));
    assert!(!missing.matches(&host));
    let rows: [(&str, usize); 7] = [
        (
            "parse typical",
            allocations(|| drop(black_box(Expression::parse(TYPICAL)))),
        ),
        (
            "matches typical (host event)",
            allocations(|| {
                black_box(typical.matches(&host));
            }),
        ),
        (
            "matches typical (JSON event)",
            allocations(|| {
                black_box(typical.matches(&json));
            }),
        ),
        (
            "matches simple (host event)",
            allocations(|| {
                black_box(simple.matches(&host));
            }),
        ),
        (
            "matches missing attribute",
            allocations(|| {
                black_box(missing.matches(&host));
            }),
        ),
        (
            "evaluate typical (host event)",
            allocations(|| drop(black_box(typical.evaluate(&host)))),
        ),
        (
            "evaluate missing attribute",
            allocations(|| drop(black_box(missing.evaluate(&host)))),
        ),
    ];
    println!("heap allocations per call:");
    for (name, n) in rows {
        println!("  {name:<32} {n}");
    }
}

fn benches(c: &mut Criterion) {
    report_allocations();
    let host = host_event();
    let json = json_event();
    let typical = Expression::parse(TYPICAL).unwrap();
    let simple = Expression::parse(SIMPLE).unwrap();
    let missing = Expression::parse(MISSING).unwrap();

    c.bench_function("parse/typical", |b| {
        b.iter(|| Expression::parse(black_box(TYPICAL)))
    });
    c.bench_function("matches/typical/host", |b| {
        b.iter(|| typical.matches(black_box(&host)))
    });
    c.bench_function("matches/typical/json", |b| {
        b.iter(|| typical.matches(black_box(&json)))
    });
    // What `simple` does, written by hand: the floor for one comparison.
    c.bench_function("baseline/simple-by-hand/host", |b| {
        b.iter(|| {
            let host: &dyn EventAttributes = black_box(&host);
            matches!(host.attribute("type"), Some(ValueRef::String(s)) if s == "com.example.order.created")
        })
    });
    c.bench_function("matches/simple/host", |b| {
        b.iter(|| simple.matches(black_box(&host)))
    });
    c.bench_function("matches/missing/host", |b| {
        b.iter(|| missing.matches(black_box(&host)))
    });
    c.bench_function("evaluate/typical/host", |b| {
        b.iter(|| typical.evaluate(black_box(&host)))
    });
    c.bench_function("evaluate/missing/host", |b| {
        b.iter(|| missing.evaluate(black_box(&host)))
    });
}

criterion_group!(cesql_benches, benches);
criterion_main!(cesql_benches);
