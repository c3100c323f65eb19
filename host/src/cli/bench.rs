//! `signalbox bench ingest` and `bench deliver`: load generators for a
//! running server.
//!
//! Opens C keep-alive HTTP/1.1 connections and, on each, sends requests back
//! to back: single events in binary (or structured) mode, or batches of B
//! events in batch mode. Each event is about S bytes and has a unique id;
//! `--data` picks how compressible its data is (see [`data`]).
//! Stops after N events or T seconds and prints throughput and request
//! latency percentiles from an HDR histogram (so the tail is exact, not
//! averaged away).
//!
//! It uses raw hyper connections rather than a full client: on a small
//! machine the load generator shares the CPU with the server, and every
//! cycle it spends is a cycle the server does not get.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use serde_json::json;

use super::Output;
use data::DataKind;

mod data;
mod deliver;
mod jetstream;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum BenchCmd {
    /// Measure ingest throughput and latency.
    Ingest(IngestArgs),
    /// Measure delivery: publish events that a rule routes to HTTP targets
    /// served by this command, and report delivery throughput and
    /// end-to-end latency (accepted by the server → received by the target).
    Deliver(deliver::DeliverArgs),
    /// Measure NATS JetStream's durable publish the same way, for
    /// comparison (needs a NATS server with JetStream; no Signalbox).
    Jetstream(jetstream::JetStreamArgs),
}

/// How single events are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SingleMode {
    /// `ce-*` headers, data as the body.
    Binary,
    /// `application/cloudevents+json`.
    Structured,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IngestArgs {
    /// Bus to publish to (created if missing).
    #[arg(long, default_value = "bench")]
    bus: String,
    /// Publish to this many buses at once, `<bus>-1` … `<bus>-N` (created
    /// if missing), connection i to bus i mod N; the figures are their sum.
    #[arg(long, default_value_t = 1)]
    buses: usize,
    /// Concurrent connections.
    #[arg(long, short, default_value_t = 32)]
    concurrency: usize,
    /// Approximate size of each event in bytes (attributes plus data).
    #[arg(long, short, default_value_t = 1024)]
    size: usize,
    /// Events per request; more than 1 uses batch mode.
    #[arg(long, short, default_value_t = 1)]
    batch: usize,
    /// Encoding of single events (batch size 1).
    #[arg(long, value_enum, default_value_t = SingleMode::Binary)]
    mode: SingleMode,
    /// What each event's `data` holds; storage compresses, so this changes
    /// what is measured (see docs/benchmarks.md).
    #[arg(long, value_enum, default_value_t = DataKind::Padded)]
    data: DataKind,
    /// Stop after this many events (default 200000 unless --duration).
    #[arg(long, short = 'n')]
    events: Option<u64>,
    /// Stop after this long, e.g. 30s.
    #[arg(long, short = 'd', conflicts_with = "events")]
    duration: Option<String>,
    /// Send at this many events/s in total (open loop) instead of as fast
    /// as the server answers; latency at a fixed rate is what users see.
    #[arg(long, short = 'r')]
    rate: Option<f64>,
    /// The order of event ids: `random`, as the UUIDs CloudEvents SDKs
    /// make, or `sequential` (a counter). Both are unique. The store
    /// indexes events by id, and ids in order cost its index less.
    #[arg(long, value_enum, default_value_t = IdOrder::Random)]
    ids: IdOrder,
}

impl IngestArgs {
    /// The buses the connections publish to.
    fn bus_names(&self) -> Vec<String> {
        if self.buses <= 1 {
            vec![self.bus.clone()]
        } else {
            (1..=self.buses)
                .map(|i| format!("{}-{i}", self.bus))
                .collect()
        }
    }
}

/// The order of the event ids a load generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum IdOrder {
    /// Unique, in no order.
    Random,
    /// Ascending.
    Sequential,
}

impl IdOrder {
    /// The id of the `n`-th event. Multiplying by an odd number is a
    /// bijection of `u64`, so random ids stay unique and fit the 20
    /// decimal digits of [`ID_WIDTH`].
    fn id(self, n: u64) -> u64 {
        match self {
            IdOrder::Random => n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            IdOrder::Sequential => n,
        }
    }
}

pub(crate) async fn run(
    server: &str,
    token: Option<&str>,
    out: Output,
    cmd: BenchCmd,
) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCmd::Ingest(args) => ingest(server, token, out, args).await,
        BenchCmd::Deliver(args) => deliver::run(server, token, out, args).await,
        BenchCmd::Jetstream(args) => jetstream::run(out, args).await,
    }
}

struct Target {
    addr: SocketAddr,
    authority: String,
    /// `Bearer <token>`, when the server needs one.
    auth: Option<String>,
    path: String,
}

async fn resolve(server: &str, bus: &str) -> anyhow::Result<Target> {
    let rest = server
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("bench supports http:// servers, got '{server}'"))?;
    let authority = rest.trim_end_matches('/').to_owned();
    let addr = tokio::net::lookup_host(&authority)
        .await
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .ok_or_else(|| anyhow!("{authority} has no address"))?;
    Ok(Target {
        addr,
        authority,
        auth: None,
        path: format!("/v1/buses/{bus}/events"),
    })
}

/// `n` distinct `data` JSON documents for events of `size` bytes in total.
fn payloads(kind: DataKind, size: usize, n: usize) -> Vec<String> {
    // Attribute names and values (with a 20-digit id) take 94 bytes, as
    // counted by `CloudEvent::size`.
    data::documents(kind, size.saturating_sub(94), n)
}

const ID_WIDTH: usize = 20;

/// A request body with fixed-width id fields that are overwritten in place
/// for every request, so each event has a unique id without re-encoding.
struct Template {
    body: Vec<u8>,
    id_offsets: Vec<usize>,
}

impl Template {
    /// `n` events; the i-th carries `data[i % data.len()]`.
    fn batch(n: usize, data: &[String]) -> Template {
        let mut body = b"[".to_vec();
        let mut id_offsets = Vec::with_capacity(n);
        for i in 0..n {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(br#"{"specversion":"1.0","id":""#);
            id_offsets.push(body.len());
            body.extend_from_slice(&[b'0'; ID_WIDTH]);
            body.extend_from_slice(
                br#"","source":"/bench","type":"bench.event","datacontenttype":"application/json","data":"#,
            );
            body.extend_from_slice(data[i % data.len()].as_bytes());
            body.push(b'}');
        }
        body.push(b']');
        Template { body, id_offsets }
    }

    fn structured(data: &str) -> Template {
        let mut t = Template::batch(1, &[data.to_owned()]);
        t.body.remove(0);
        t.body.pop();
        t.id_offsets[0] -= 1;
        t
    }

    /// The template with the ids of events `next..`, in `order`.
    fn fill(&self, mut next: u64, order: IdOrder) -> Bytes {
        let mut body = self.body.clone();
        for &off in &self.id_offsets {
            write_id(&mut body[off..off + ID_WIDTH], order.id(next));
            next += 1;
        }
        Bytes::from(body)
    }
}

fn write_id(dst: &mut [u8], mut id: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (id % 10) as u8;
        id /= 10;
    }
}

#[derive(Default)]
struct WorkerResult {
    events: u64,
    requests: u64,
    errors: u64,
    rejected: u64,
    first_error: Option<String>,
}

/// Where event ids come from: a counter, unique across runs (for buses
/// with duplicate suppression), and the order they are sent in.
struct Ids(AtomicU64, IdOrder);

impl Ids {
    /// The counters of the next `n` events.
    fn take(&self, n: u64) -> u64 {
        self.0.fetch_add(n, Ordering::Relaxed)
    }

    /// The id of the event with this counter.
    fn id(&self, n: u64) -> u64 {
        self.1.id(n)
    }
}

/// When the server acknowledged each event id (filled only when asked
/// for, by `bench deliver`).
pub(super) type Acks = Arc<std::sync::Mutex<std::collections::HashMap<u64, Instant>>>;

/// The outcome of driving load at a server.
pub(super) struct Load {
    result: WorkerResult,
    hist: Histogram<u64>,
    secs: f64,
    /// CPU seconds the server used during the load, when it reports them.
    server_cpu: Option<f64>,
}

/// The server's CPU time so far: `process_cpu_seconds_total` from its
/// `/metrics`, when it reports one. Dividing the difference over a run by
/// the events gives the server's cost per event, a steadier A/B figure than
/// throughput when the load generator shares the machine.
pub(super) async fn server_cpu(client: &super::client::Client) -> Option<f64> {
    let response = client
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .ok()?;
    let text = response.error_for_status().ok()?.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("process_cpu_seconds_total "))
        .and_then(|v| v.trim().parse().ok())
}

/// CPU seconds the server used since `before`, a [`server_cpu`] reading.
pub(super) async fn server_cpu_since(
    client: &super::client::Client,
    before: Option<f64>,
) -> Option<f64> {
    let before = before?;
    Some(server_cpu(client).await? - before)
}

/// Creates the benchmark bus unless it exists, with a short retention.
pub(super) async fn ensure_bus(client: &super::client::Client, bus: &str) -> anyhow::Result<()> {
    if client.get(&format!("/v1/buses/{bus}")).await.is_err() {
        client
            .send(
                client
                    .request(reqwest::Method::PUT, &format!("/v1/buses/{bus}"))
                    .json(&json!({"description": "signalbox bench", "retention": "1h"})),
            )
            .await?;
    }
    Ok(())
}

/// When a load generator stops: `--duration` parsed, and the shared count of
/// events still to send (`--events`, unbounded with a duration, else 200,000).
pub(super) fn stop_after(
    events: Option<u64>,
    duration: Option<&str>,
) -> anyhow::Result<(Option<Duration>, Arc<AtomicI64>)> {
    let duration = duration
        .map(crate::duration::parse_duration)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let budget = match (events, duration) {
        (Some(n), _) => i64::try_from(n).unwrap_or(i64::MAX),
        (None, Some(_)) => i64::MAX,
        (None, None) => 200_000,
    };
    Ok((duration, Arc::new(AtomicI64::new(budget))))
}

/// Publishes events as `args` says, to a bus that exists.
pub(super) async fn drive(
    server: &str,
    token: Option<&str>,
    args: &IngestArgs,
    acks: Option<Acks>,
) -> anyhow::Result<Load> {
    if args.concurrency == 0 || args.batch == 0 || args.buses == 0 {
        bail!("--concurrency, --batch and --buses must be at least 1");
    }
    let mut targets = Vec::new();
    for bus in args.bus_names() {
        let mut target = resolve(server, &bus).await?;
        target.auth = token.map(|t| format!("Bearer {t}"));
        targets.push(Arc::new(target));
    }

    let (duration, budget) = stop_after(args.events, args.duration.as_deref())?;
    let ids = Arc::new(Ids(
        AtomicU64::new((crate::event::time::now_micros() as u64 % 1_000_000_000) * 1_000_000),
        args.ids,
    ));
    // Open-loop pacing: each connection sends a request every `interval`.
    let interval = match args.rate {
        Some(r) if r > 0.0 => Some(Duration::from_secs_f64(
            args.batch as f64 * args.concurrency as f64 / r,
        )),
        Some(_) => bail!("--rate must be positive"),
        None => None,
    };
    // Distinct documents for the events of a batch, or for the connections
    // sending single events.
    let docs = Arc::new(payloads(
        args.data,
        args.size,
        args.batch.max(args.concurrency),
    ));
    let batch_template = Arc::new(Template::batch(args.batch, &docs));

    let start = Instant::now();
    let deadline = duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let target = targets[w % targets.len()].clone();
        let budget = budget.clone();
        let ids = ids.clone();
        let own = &docs[w % docs.len()];
        let template = if args.batch > 1 {
            batch_template.clone()
        } else {
            Arc::new(Template::structured(own))
        };
        let data = Bytes::from(own.clone());
        let docs = docs.clone();
        let shape = Shape {
            batch: args.batch,
            mode: args.mode,
            deadline,
            interval,
            acks: acks.clone(),
        };
        tasks.push(tokio::spawn(async move {
            worker(&target, budget, ids, template, data, &docs, shape).await
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut total = WorkerResult::default();
    for t in tasks {
        let (r, h) = t.await??;
        hist.add(&h)?;
        total.events += r.events;
        total.requests += r.requests;
        total.errors += r.errors;
        total.rejected += r.rejected;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
    }
    Ok(Load {
        result: total,
        hist,
        secs: start.elapsed().as_secs_f64(),
        server_cpu: None,
    })
}

impl Load {
    /// The ingest figures as JSON.
    fn report(&self, args: &IngestArgs) -> serde_json::Value {
        let (total, hist, secs) = (&self.result, &self.hist, self.secs);
        let eps = total.events as f64 / secs;
        let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
        json!({
            "mode": mode_name(args),
            "data": args.data.name(),
            "concurrency": args.concurrency,
            "buses": args.buses,
            "event_bytes": args.size,
            "batch": args.batch,
            "rate": args.rate,
            "events": total.events,
            "requests": total.requests,
            "errors": total.errors,
            "rejected_events": total.rejected,
            "seconds": secs,
            "events_per_sec": eps,
            "requests_per_sec": total.requests as f64 / secs,
            "mb_per_sec": eps * args.size as f64 / 1e6,
            "latency_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_9": q(0.999), "max": hist.max() as f64 / 1000.0},
            "server_cpu_seconds": self.server_cpu,
            "server_cpu_us_per_event": self.cpu_per_event(),
        })
    }

    /// Server CPU µs per accepted event, when known.
    fn cpu_per_event(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.result.events > 0).then(|| cpu * 1e6 / self.result.events as f64)
    }

    /// The ingest figures as lines of text.
    fn print(&self, args: &IngestArgs) {
        let (total, hist, secs) = (&self.result, &self.hist, self.secs);
        let eps = total.events as f64 / secs;
        let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
        let buses = if args.buses > 1 {
            format!(" to {} buses", args.buses)
        } else {
            String::new()
        };
        println!(
            "{}: {} events in {} requests over {secs:.2}s with {} connections{buses}, {} B events ({} data), batch {}",
            mode_name(args),
            total.events,
            total.requests,
            args.concurrency,
            args.size,
            args.data.name(),
            args.batch
        );
        println!(
            "throughput: {eps:.0} events/s, {:.0} requests/s, {:.1} MB/s",
            total.requests as f64 / secs,
            eps * args.size as f64 / 1e6
        );
        println!(
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            hist.max() as f64 / 1000.0
        );
        if let (Some(cpu), Some(per_event)) = (self.server_cpu, self.cpu_per_event()) {
            println!("server CPU: {cpu:.2} s, {per_event:.2} µs per event");
        }
        if total.errors > 0 || total.rejected > 0 {
            println!(
                "errors: {} failed requests, {} rejected events; first: {}",
                total.errors,
                total.rejected,
                total.first_error.as_deref().unwrap_or("-")
            );
        }
    }

    fn failed(&self) -> bool {
        self.result.errors > 0
    }
}

fn mode_name(args: &IngestArgs) -> &'static str {
    if args.batch > 1 {
        "batch"
    } else if args.mode == SingleMode::Binary {
        "binary"
    } else {
        "structured"
    }
}

async fn ingest(
    server: &str,
    token: Option<&str>,
    out: Output,
    args: IngestArgs,
) -> anyhow::Result<ExitCode> {
    let client = super::client::Client::new(server, token)?;
    for bus in args.bus_names() {
        ensure_bus(&client, &bus).await?;
    }
    let cpu_before = server_cpu(&client).await;
    let mut load = drive(server, token, &args, None).await?;
    load.server_cpu = server_cpu_since(&client, cpu_before).await;
    match out {
        Output::Json => println!("{}", load.report(&args)),
        Output::Table => load.print(&args),
    }
    Ok(if load.failed() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// How one connection sends.
struct Shape {
    batch: usize,
    mode: SingleMode,
    deadline: Option<Instant>,
    /// Time between requests, when pacing to a rate.
    interval: Option<Duration>,
    acks: Option<Acks>,
}

async fn worker(
    target: &Target,
    budget: Arc<AtomicI64>,
    ids: Arc<Ids>,
    template: Arc<Template>,
    data: Bytes,
    docs: &[String],
    shape: Shape,
) -> anyhow::Result<(WorkerResult, Histogram<u64>)> {
    let Shape {
        batch,
        mode,
        deadline,
        interval,
        acks,
    } = shape;
    let mut ticks = interval.map(|i| {
        let mut t = tokio::time::interval(i);
        // Catch up after a stall rather than lower the rate.
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .with_context(|| format!("cannot connect to {}", target.addr))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut r = WorkerResult::default();
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if let Some(t) = &mut ticks {
            t.tick().await;
        }
        let want = batch as i64;
        let left = budget.fetch_sub(want, Ordering::Relaxed);
        if left <= 0 {
            break;
        }
        let n = want.min(left) as usize;
        let first_id = ids.take(n as u64);
        let mut builder = Request::post(&target.path).header("host", &target.authority);
        if let Some(auth) = &target.auth {
            builder = builder.header("authorization", auth);
        }
        let body = if batch > 1 {
            builder = builder.header("content-type", "application/cloudevents-batch+json");
            if n == batch {
                template.fill(first_id, ids.1)
            } else {
                Template::batch(n, docs).fill(first_id, ids.1)
            }
        } else if mode == SingleMode::Structured {
            builder = builder.header("content-type", "application/cloudevents+json");
            template.fill(first_id, ids.1)
        } else {
            builder = builder
                .header("content-type", "application/json")
                .header("ce-specversion", "1.0")
                .header("ce-id", ids.id(first_id).to_string())
                .header("ce-source", "/bench")
                .header("ce-type", "bench.event");
            data.clone()
        };
        let req = builder.body(Full::new(body))?;
        let t0 = Instant::now();
        sender.ready().await?;
        let resp = sender.send_request(req).await;
        match resp {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.into_body().collect().await?.to_bytes();
                hist.record((t0.elapsed().as_micros() as u64).max(1))?;
                r.requests += 1;
                if status.is_success() {
                    if let Some(acks) = &acks {
                        let now = Instant::now();
                        let mut acks = acks.lock().expect("acks lock");
                        for n in first_id..first_id + n as u64 {
                            acks.insert(ids.id(n), now);
                        }
                    }
                    let failed = count_failed(&body);
                    r.rejected += failed;
                    r.events += n as u64 - failed;
                    if failed > 0 && r.first_error.is_none() {
                        r.first_error =
                            Some(String::from_utf8_lossy(&body).chars().take(300).collect());
                    }
                } else {
                    r.errors += 1;
                    if r.first_error.is_none() {
                        r.first_error = Some(format!(
                            "HTTP {status}: {}",
                            String::from_utf8_lossy(&body)
                                .chars()
                                .take(300)
                                .collect::<String>()
                        ));
                    }
                }
            }
            Err(e) => {
                r.errors += 1;
                r.first_error.get_or_insert_with(|| e.to_string());
                break;
            }
        }
    }
    Ok((r, hist))
}

/// Reads `"failed":N` from an ingest response without parsing all of it.
fn count_failed(body: &[u8]) -> u64 {
    let needle = b"\"failed\":";
    body.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| {
            body[p + needle.len()..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .fold(0u64, |n, c| n * 10 + u64::from(c - b'0'))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json::{parse_batch, parse_structured};

    #[test]
    fn templates_produce_valid_unique_events() {
        let t = Template::batch(3, &payloads(DataKind::Orders, 1024, 3));
        let events: Vec<_> = parse_batch(&t.fill(41, IdOrder::Sequential))
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].id, "00000000000000000041");
        assert_eq!(events[2].id, "00000000000000000043");
        let size = events[0].size();
        assert_eq!(size, 1024);
        assert_ne!(events[0].data, events[1].data);
        let s = Template::structured(&payloads(DataKind::Padded, 200, 1)[0]);
        let e = parse_structured(&s.fill(7, IdOrder::Sequential))
            .unwrap()
            .unwrap();
        assert_eq!(e.id, "00000000000000000007");
    }

    #[test]
    fn random_ids_are_unique_in_no_order_and_fit_their_width() {
        let t = Template::batch(100, &payloads(DataKind::Padded, 200, 100));
        let ids: Vec<String> = parse_batch(&t.fill(u64::MAX - 200, IdOrder::Random))
            .unwrap()
            .into_iter()
            .map(|e| e.unwrap().id)
            .collect();
        assert!(ids.iter().all(|id| id.len() == ID_WIDTH));
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 100);
        assert_ne!(sorted, ids);
    }

    #[test]
    fn stop_after_events_duration_or_the_default() {
        let (d, b) = stop_after(Some(500), None).unwrap();
        assert_eq!((d, b.load(Ordering::Relaxed)), (None, 500));
        let (d, b) = stop_after(None, Some("3s")).unwrap();
        assert_eq!(d, Some(Duration::from_secs(3)));
        assert_eq!(b.load(Ordering::Relaxed), i64::MAX);
        let (_, b) = stop_after(None, None).unwrap();
        assert_eq!(b.load(Ordering::Relaxed), 200_000);
        let (_, b) = stop_after(Some(u64::MAX), None).unwrap();
        assert_eq!(b.load(Ordering::Relaxed), i64::MAX);
        assert!(stop_after(None, Some("soon")).is_err());
    }

    #[test]
    fn failed_count() {
        assert_eq!(
            count_failed(br#"{"accepted":3,"failed":12,"entries":[]}"#),
            12
        );
        assert_eq!(count_failed(b"{}"), 0);
    }
}
