//! Parsing what producers send: a batch of 100 CloudEvents of about 1 KiB
//! each (`application/cloudevents-batch+json`, order-service documents as
//! `data`), and one such event in structured mode. This is the per-event
//! work ingest does on the request's thread before the events go to the
//! log.
//!
//! Run: `cargo bench --bench ingest_parse -j1`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
mod common;

use bytes::Bytes;
use common::{Rng, event};
use signalbox::event::json::{parse_batch_limited, parse_structured_bytes};

/// The server's allocator, so that building each event costs here what it
/// costs in `signalbox serve`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One structured CloudEvent around an order document, as producers send it.
fn cloudevent(r: &mut Rng, i: u64) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"evt-{i}","source":"/shop/orders","type":"com.shop.order.placed","time":"2026-12-06T10:00:00.{:06}Z","datacontenttype":"application/json","subject":"o-{i}","tenant":"acme","data":{}}}"#,
        r.below(1_000_000),
        event(r, 16)
    )
}

fn bench(c: &mut Criterion) {
    let mut r = Rng(7);
    let events: Vec<String> = (0..100).map(|i| cloudevent(&mut r, i)).collect();
    // In a `Bytes`, as ingest has the request body: the events' data are
    // slices of it.
    let batch = Bytes::from(format!("[{}]", events.join(",")));
    eprintln!(
        "ingest_parse: {} events, {} bytes per event on average",
        events.len(),
        batch.len() / events.len()
    );
    assert!(
        parse_batch_limited(&batch, usize::MAX)
            .unwrap()
            .iter()
            .all(Result::is_ok)
    );

    let mut g = c.benchmark_group("ingest_parse");
    g.measurement_time(Duration::from_secs(5));
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(100));
    g.bench_function("batch_100", |b| {
        b.iter(|| parse_batch_limited(black_box(&batch), usize::MAX).unwrap())
    });
    g.throughput(Throughput::Elements(1));
    let one = Bytes::from(events[0].clone());
    g.bench_function("structured_1", |b| {
        b.iter(|| parse_structured_bytes(black_box(&one)).unwrap().unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
