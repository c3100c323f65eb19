//! `signalbox bench jetstream`: NATS JetStream's durable publish, measured
//! the way `bench ingest` measures Signalbox, so the two can be compared in
//! one run on one machine.
//!
//! Opens C connections to a NATS server and, on each, publishes batches of
//! B messages of S bytes to a file-backed stream: it sends the B publishes
//! without waiting, then waits for all B acknowledgements (what `nats bench
//! js pub --batch B` does). An acknowledged message is stored by the
//! stream, as an acknowledged Signalbox event is stored by the bus. The
//! stream is created if missing and purged before the run.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use async_nats::jetstream;
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde_json::json;

use super::data::DataKind;
use crate::cli::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct JetStreamArgs {
    /// NATS server URL (JetStream enabled).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Stream to publish to (created if missing, purged first).
    #[arg(long, default_value = "SIGNALBOX_BENCH")]
    stream: String,
    /// Stream replicas when the stream is created.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Concurrent connections.
    #[arg(long, short, default_value_t = 32)]
    concurrency: usize,
    /// Message payload size in bytes.
    #[arg(long, short, default_value_t = 1024)]
    size: usize,
    /// What each payload holds (the same documents as `bench ingest --data`).
    #[arg(long, value_enum, default_value_t = DataKind::Padded)]
    data: DataKind,
    /// Publishes in flight per connection before waiting for their acks.
    #[arg(long, short, default_value_t = 100)]
    batch: usize,
    /// Stop after this many messages (default 200000 unless --duration).
    #[arg(long, short = 'n')]
    events: Option<u64>,
    /// Stop after this long, e.g. 30s.
    #[arg(long, short = 'd', conflicts_with = "events")]
    duration: Option<String>,
}

pub(crate) async fn run(out: Output, args: JetStreamArgs) -> anyhow::Result<ExitCode> {
    if args.concurrency == 0 || args.batch == 0 {
        bail!("--concurrency and --batch must be at least 1");
    }
    let subject = format!("signalbox.bench.{}", args.stream.to_lowercase());
    let setup = async_nats::connect(&args.nats)
        .await
        .with_context(|| format!("cannot connect to {}", args.nats))?;
    let js = jetstream::new(setup);
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: args.stream.clone(),
            subjects: vec![subject.clone()],
            storage: jetstream::stream::StorageType::File,
            num_replicas: args.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("cannot create stream {}: {e}", args.stream))?;
    stream
        .purge()
        .await
        .map_err(|e| anyhow!("cannot purge stream {}: {e}", args.stream))?;

    let (duration, budget) = super::stop_after(args.events, args.duration.as_deref())?;
    // Distinct payloads for the messages in flight on a connection, as
    // `bench ingest` has distinct events in a batch.
    let payloads: std::sync::Arc<[Bytes]> =
        super::data::documents(args.data, args.size, args.batch)
            .into_iter()
            .map(Bytes::from)
            .collect();
    let mut clients = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        clients.push(
            async_nats::connect(&args.nats)
                .await
                .with_context(|| format!("cannot connect to {}", args.nats))?,
        );
    }

    let start = Instant::now();
    let deadline = duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for client in clients {
        let (budget, payloads, subject) = (budget.clone(), payloads.clone(), subject.clone());
        let batch = args.batch as i64;
        tasks.push(tokio::spawn(async move {
            let js = jetstream::new(client);
            let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
            let mut sent = 0u64;
            let mut acks = Vec::with_capacity(batch as usize);
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let left = budget.fetch_sub(batch, Ordering::Relaxed);
                if left <= 0 {
                    break;
                }
                let n = batch.min(left);
                let t0 = Instant::now();
                for i in 0..n as usize {
                    acks.push(
                        js.publish(subject.clone(), payloads[i % payloads.len()].clone())
                            .await
                            .map_err(|e| anyhow!("publish: {e}"))?,
                    );
                }
                for ack in acks.drain(..) {
                    ack.await.map_err(|e| anyhow!("publish ack: {e}"))?;
                }
                hist.record((t0.elapsed().as_micros() as u64).max(1))?;
                sent += n as u64;
            }
            anyhow::Ok((sent, hist))
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut total = 0u64;
    for t in tasks {
        let (sent, h) = t.await??;
        total += sent;
        hist.add(&h)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let mps = total as f64 / secs;
    let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
    match out {
        Output::Json => println!(
            "{}",
            json!({
                "mode": "jetstream",
                "concurrency": args.concurrency,
                "event_bytes": args.size,
                "data": args.data.name(),
                "batch": args.batch,
                "events": total,
                "seconds": secs,
                "events_per_sec": mps,
                "mb_per_sec": mps * args.size as f64 / 1e6,
                "latency_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_9": q(0.999), "max": hist.max() as f64 / 1000.0},
            })
        ),
        Output::Table => {
            println!(
                "jetstream: {total} messages over {secs:.2}s with {} connections, {} B messages ({} data), batch {}",
                args.concurrency,
                args.size,
                args.data.name(),
                args.batch
            );
            println!(
                "throughput: {mps:.0} messages/s, {:.1} MB/s",
                mps * args.size as f64 / 1e6
            );
            println!(
                "batch latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
                q(0.5),
                q(0.9),
                q(0.99),
                q(0.999),
                hist.max() as f64 / 1000.0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
