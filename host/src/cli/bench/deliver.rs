//! `signalbox bench deliver`: delivery throughput and end-to-end latency.
//!
//! Serves HTTP targets on a loopback port of its own, puts R rules on the
//! bus that each route every benchmark event to K healthy targets (the
//! first rule also to F targets that always answer 503), publishes N events
//! like `bench ingest` (optionally at a fixed `--rate`), and waits until
//! every healthy target received every event. Latency is end to end: from
//! the moment the publisher got the server's 200 for an event to the moment
//! a target received it (a delivery that overtakes its own 200 counts as
//! zero). The failing targets show that a broken target does not slow the
//! healthy ones (compare runs with and without `--failing-targets`). The
//! rules are deleted at the end.
//!
//! `--warmup` publishes at the same rate for a while first and measures
//! only what follows. Without it the figures include the rule's first
//! moments, when the targets' adaptive concurrency is still climbing from
//! 1 and the rule, its connections and the load generator all start at
//! once: on a two-core machine the p99 of a 10-second run at 10,000
//! events/s was sometimes tens of milliseconds from its first few hundred
//! milliseconds alone (docs/benchmarks.md).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::{Acks, IngestArgs, drive, ensure_bus};
use crate::cli::Output;

const RULE_PREFIX: &str = "bench-deliver";

/// Attempts a failing target makes per event before dead-lettering it.
const FAILING_ATTEMPTS: u64 = 3;

#[derive(Debug, clap::Args)]
pub(crate) struct DeliverArgs {
    #[command(flatten)]
    load: IngestArgs,
    /// Rules, each routing every event to its own targets.
    #[arg(long, default_value_t = 1)]
    rules: usize,
    /// Healthy HTTP targets per rule.
    #[arg(long, default_value_t = 1)]
    targets: usize,
    /// Extra targets on the first rule that always answer 503 (retried,
    /// then dead-lettered).
    #[arg(long, default_value_t = 0)]
    failing_targets: usize,
    /// Concurrent requests per target: a number, or `adaptive` (the
    /// targets' default).
    #[arg(long, default_value = "adaptive", value_parser = parse_concurrency)]
    target_concurrency: crate::deliver::Concurrency,
    /// Send to the healthy targets in CloudEvents batch mode, up to this
    /// many events per request (`"mode": "batch"`); default: binary mode,
    /// one event per request.
    #[arg(long)]
    target_batch_size: Option<usize>,
    /// How long to wait for deliveries after publishing, e.g. 120s.
    #[arg(long, default_value = "120s")]
    wait: String,
    /// Leave the rule on the bus afterwards.
    #[arg(long)]
    keep_rule: bool,
    /// A filter plugin (`name@version`, already uploaded) every rule runs
    /// before its targets; it must keep the benchmark's events.
    #[arg(long)]
    filter: Option<String>,
    /// Publish at the same rate for this long first (e.g. 2s), wait until
    /// those events are delivered, and measure only what follows.
    #[arg(long)]
    warmup: Option<String>,
}

/// What the benchmark's targets saw.
struct Sink {
    delivered: Vec<AtomicU64>,
    failed_attempts: AtomicU64,
    /// (event id, when received), for every delivery to a healthy target.
    received: std::sync::Mutex<Vec<(u64, Instant)>>,
}

impl Sink {
    /// Forgets what the targets saw so far (the warm-up's deliveries).
    fn reset(&self) {
        for d in &self.delivered {
            d.store(0, Ordering::Relaxed);
        }
        self.failed_attempts.store(0, Ordering::Relaxed);
        self.received.lock().expect("received lock").clear();
    }

    fn total(&self) -> u64 {
        self.delivered
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .sum()
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Empty<Bytes>> {
        let path = req.uri().path().to_owned();
        let id = req
            .headers()
            .get("ce-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let batch = req
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes() == crate::deliver::http::BATCH_CONTENT_TYPE.as_bytes());
        // Read the body: the server's cost of sending it is part of delivery.
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        // A batch delivers each event in it.
        let ids: Vec<Option<u64>> = if batch { batch_ids(&body) } else { vec![id] };
        let status = if let Some(i) = path
            .strip_prefix("/ok/")
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| *i < self.delivered.len())
        {
            let now = Instant::now();
            self.received
                .lock()
                .expect("received lock")
                .extend(ids.iter().flatten().map(|id| (*id, now)));
            self.delivered[i].fetch_add(ids.len() as u64, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        } else {
            self.failed_attempts.fetch_add(1, Ordering::Relaxed);
            StatusCode::SERVICE_UNAVAILABLE
        };
        let mut resp = Response::new(Empty::new());
        *resp.status_mut() = status;
        resp
    }
}

/// The ids of a CloudEvents JSON batch, one entry per event (`None` where
/// an id is not the benchmark's number).
fn batch_ids(body: &[u8]) -> Vec<Option<u64>> {
    #[derive(serde::Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        id: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Vec<Entry<'_>>>(body)
        .map(|entries| entries.iter().map(|e| e.id.parse().ok()).collect())
        .unwrap_or_default()
}

async fn serve(sink: Arc<Sink>) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let sink = sink.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let sink = sink.clone();
                    async move { Ok::<_, std::convert::Infallible>(sink.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

pub(super) async fn run(
    server: &str,
    token: Option<&str>,
    out: Output,
    args: DeliverArgs,
) -> anyhow::Result<ExitCode> {
    if args.targets == 0 || args.rules == 0 {
        anyhow::bail!("--rules and --targets must be at least 1");
    }
    let wait = crate::duration::parse_duration(&args.wait).map_err(|e| anyhow!(e))?;
    let healthy = args.rules * args.targets;
    let sink = Arc::new(Sink {
        delivered: (0..healthy).map(|_| AtomicU64::new(0)).collect(),
        failed_attempts: AtomicU64::new(0),
        received: std::sync::Mutex::new(Vec::new()),
    });
    let addr = serve(sink.clone()).await?;

    if args.load.buses > 1 {
        bail!("bench deliver publishes to one bus; --buses is for bench ingest");
    }
    let client = super::super::client::Client::new(server, token)?;
    let bus = &args.load.bus;
    ensure_bus(&client, bus).await?;
    let healthy_mode = match args.target_batch_size {
        Some(n) => json!({"mode": "batch", "batch_size": n}),
        None => json!({"mode": "binary"}),
    };
    let mut rule_paths = Vec::new();
    for r in 0..args.rules {
        let mut targets: Vec<_> = (0..args.targets)
            .map(|k| {
                let i = r * args.targets + k;
                let mut t = json!({"id": format!("ok-{k}"), "type": "http", "url": format!("http://{addr}/ok/{i}"),
                       "concurrency": args.target_concurrency});
                t.as_object_mut()
                    .expect("an object")
                    .extend(healthy_mode.as_object().expect("an object").clone());
                t
            })
            .collect();
        if r == 0 {
            targets.extend((0..args.failing_targets).map(|i| {
                json!({"id": format!("failing-{i}"), "type": "http", "url": format!("http://{addr}/fail/{i}"),
                       "mode": "binary", "concurrency": args.target_concurrency,
                       "retry": {"max_attempts": FAILING_ATTEMPTS, "backoff": {"initial": "100ms", "max": "1s"}},
                       "dead_letter": true})
            }));
        }
        let path = format!("/v1/buses/{bus}/rules/{RULE_PREFIX}-{r}");
        let mut rule = json!({
            "description": "signalbox bench deliver",
            "pattern": {"source": ["/bench"], "type": ["bench.event"]},
            "targets": targets,
        });
        if let Some(f) = &args.filter {
            rule["filters"] = json!([{"plugin": f}]);
        }
        client
            .send(client.request(reqwest::Method::PUT, &path).json(&rule))
            .await
            .context("cannot create the benchmark rules")?;
        rule_paths.push(path);
    }

    let warmup_events = match &args.warmup {
        Some(duration) => match warm_up(server, token, &args, duration, &sink, wait).await {
            Ok(n) => Some(n),
            Err(e) => {
                remove_rules(&client, &args, &rule_paths).await;
                return Err(e);
            }
        },
        None => None,
    };

    let acks: Acks = Default::default();
    let start = Instant::now();
    let cpu_before = super::server_cpu(&client).await;
    let load = match drive(server, token, &args.load, Some(acks.clone())).await {
        Ok(load) => load,
        Err(e) => {
            remove_rules(&client, &args, &rule_paths).await;
            return Err(e);
        }
    };
    let expected = load.result.events * healthy as u64;
    let give_up = Instant::now() + wait;
    while sink.total() < expected && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = sink.total();
    // Ingest, matching and delivery, until the last delivery arrived.
    let server_cpu = super::server_cpu_since(&client, cpu_before).await;
    let cpu_per_delivery =
        server_cpu.and_then(|c| (delivered > 0).then(|| c * 1e6 / delivered as f64));
    remove_rules(&client, &args, &rule_paths).await;

    let received = std::mem::take(&mut *sink.received.lock().expect("received lock"));
    let acks = std::mem::take(&mut *acks.lock().expect("acks lock"));
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    let mut overtaken = 0u64;
    let mut last = start;
    for (id, at) in &received {
        last = last.max(*at);
        if let Some(ack) = acks.get(id) {
            match at.checked_duration_since(*ack) {
                Some(d) => hist.record((d.as_micros() as u64).max(1))?,
                None => {
                    overtaken += 1;
                    hist.record(1)?;
                }
            }
        }
    }
    let secs = last.duration_since(start).as_secs_f64().max(1e-9);
    let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
    let complete = delivered >= expected;
    let per_target: Vec<u64> = sink
        .delivered
        .iter()
        .map(|d| d.load(Ordering::Relaxed))
        .collect();
    match out {
        Output::Json => println!(
            "{}",
            json!({
                "ingest": load.report(&args.load),
                "warmup": args.warmup.as_ref().map(|d| json!({"duration": d, "events": warmup_events})),
                "rules": args.rules,
                "targets_per_rule": args.targets,
                "failing_targets": args.failing_targets,
                "target_batch_size": args.target_batch_size,
                "expected_deliveries": expected,
                "deliveries": delivered,
                "per_target": per_target,
                "failing_attempts": sink.failed_attempts.load(Ordering::Relaxed),
                "seconds": secs,
                "deliveries_per_sec": delivered as f64 / secs,
                "delivered_before_ack": overtaken,
                "server_cpu_seconds": server_cpu,
                "server_cpu_us_per_delivery": cpu_per_delivery,
                "end_to_end_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_9": q(0.999), "max": hist.max() as f64 / 1000.0},
            })
        ),
        Output::Table => {
            if let (Some(d), Some(n)) = (&args.warmup, warmup_events) {
                println!("warm-up: {n} events over {d}, delivered before measuring");
            }
            load.print(&args.load);
            println!(
                "delivered: {delivered} of {expected} to {healthy} targets ({} rules) in {secs:.2}s from the first publish: {:.0} deliveries/s",
                args.rules,
                delivered as f64 / secs,
            );
            if let (Some(cpu), Some(per)) = (server_cpu, cpu_per_delivery) {
                println!(
                    "server CPU from the first publish to the last delivery: {cpu:.2} s, {per:.2} µs per delivery"
                );
            }
            println!(
                "end-to-end ms (200 of the ingest -> received): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
                q(0.5),
                q(0.9),
                q(0.99),
                q(0.999),
                hist.max() as f64 / 1000.0
            );
            if args.failing_targets > 0 {
                println!(
                    "failing targets: {} attempts answered 503",
                    sink.failed_attempts.load(Ordering::Relaxed)
                );
            }
            if !complete {
                println!("incomplete: gave up after waiting {}", args.wait);
            }
        }
    }
    Ok(if load.failed() || !complete {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Publishes at the measured load's rate for `duration` and waits until
/// every warm-up event has reached every healthy target and used up its
/// attempts at the failing ones (so their retries do not load the server
/// during the measurement); then forgets what the targets saw. Returns the
/// number of warm-up events.
async fn warm_up(
    server: &str,
    token: Option<&str>,
    args: &DeliverArgs,
    duration: &str,
    sink: &Sink,
    wait: Duration,
) -> anyhow::Result<u64> {
    let mut warm = args.load.clone();
    warm.events = None;
    warm.duration = Some(duration.to_owned());
    let load = drive(server, token, &warm, None).await?;
    if load.failed() {
        anyhow::bail!("{} of the warm-up's requests failed", load.result.errors);
    }
    let events = load.result.events;
    let healthy = events * (args.rules * args.targets) as u64;
    let failing = events * args.failing_targets as u64 * FAILING_ATTEMPTS;
    let settled =
        || sink.total() >= healthy && sink.failed_attempts.load(Ordering::Relaxed) >= failing;
    let give_up = Instant::now() + wait;
    while !settled() && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !settled() {
        anyhow::bail!(
            "the warm-up's {healthy} deliveries and {failing} failing attempts did not all happen within {}",
            args.wait
        );
    }
    sink.reset();
    Ok(events)
}

/// Deletes the benchmark's rules unless asked to keep them.
async fn remove_rules(client: &super::super::client::Client, args: &DeliverArgs, paths: &[String]) {
    if args.keep_rule {
        return;
    }
    for path in paths {
        let _ = client
            .send(client.request(reqwest::Method::DELETE, path))
            .await;
    }
}

/// `adaptive` or a number of requests.
fn parse_concurrency(s: &str) -> Result<crate::deliver::Concurrency, String> {
    match s {
        "adaptive" => Ok(crate::deliver::Concurrency::Adaptive),
        n => n
            .parse()
            .map(crate::deliver::Concurrency::Fixed)
            .map_err(|_| format!("'{n}' is neither 'adaptive' nor a number")),
    }
}
