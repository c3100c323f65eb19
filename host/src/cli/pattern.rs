//! `signalbox pattern …`: try patterns, and size rule sets.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Output;
use super::client::Client;
use crate::event::CloudEvent;
use crate::event::json::parse_structured;
use crate::pattern::cesql::{EventAttributes, Expression};
use crate::pattern::{MatchScratch, Matcher, Pattern, envelope_json};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PatternCmd {
    /// Test a pattern or CESQL expression against an event on the server.
    /// Exits 0 on a match, 1 on no match.
    Test(TestArgs),
    /// Measure matching speed of a rule set on one core (runs locally).
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// The pattern: JSON text, or @FILE.
    #[arg(
        long,
        short,
        required_unless_present = "cesql",
        conflicts_with = "cesql"
    )]
    pattern: Option<String>,
    /// A CESQL expression instead of a pattern.
    #[arg(long)]
    cesql: Option<String>,
    /// A CloudEvent in JSON (matched through the envelope): JSON text or @FILE.
    #[arg(long, short, required_unless_present = "json", conflicts_with = "json")]
    event: Option<String>,
    /// Any JSON document, matched as it is: JSON text or @FILE.
    #[arg(long)]
    json: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// JSON list of {"name", "pattern"} or {"name", "cesql"}.
    #[arg(long)]
    patterns: PathBuf,
    /// JSON Lines: one document per line.
    #[arg(long)]
    events: PathBuf,
    /// Each line is a CloudEvent, matched through the envelope.
    #[arg(long)]
    cloudevents: bool,
    /// Minimum measuring time in seconds (the event list is repeated).
    #[arg(long, default_value_t = 2.0)]
    min_seconds: f64,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Reads an argument that is either JSON text or `@path`.
fn json_arg(arg: &str, what: &str) -> anyhow::Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {what} file {path}"))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).with_context(|| format!("the {what} is not JSON"))
}

pub(crate) async fn run(client: &Client, out: Output, cmd: PatternCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PatternCmd::Test(args) => test(client, out, args).await,
        PatternCmd::Bench(args) => {
            let report = tokio::task::spawn_blocking(move || bench(&args).map(|r| (r, args.json)))
                .await
                .map_err(|e| anyhow!(e))??;
            let (report, as_json) = report;
            if as_json || out == Output::Json {
                println!("{report}");
            } else {
                println!("rules:          {}", report["rules"]);
                println!("events:         {}", report["events"]);
                println!("total matches:  {}", report["total_matches"]);
                println!(
                    "build time:     {:.3} ms",
                    report["build_ms"].as_f64().unwrap_or(0.0)
                );
                println!(
                    "matching:       {:.0} events/s on one core",
                    report["events_per_sec"].as_f64().unwrap_or(0.0)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn test(client: &Client, out: Output, args: TestArgs) -> anyhow::Result<ExitCode> {
    let mut body = serde_json::Map::new();
    if let Some(p) = &args.pattern {
        body.insert("pattern".into(), json_arg(p, "pattern")?);
    }
    if let Some(c) = &args.cesql {
        body.insert("cesql".into(), json!(c));
    }
    if let Some(e) = &args.event {
        body.insert("event".into(), json_arg(e, "event")?);
    }
    if let Some(j) = &args.json {
        body.insert("json".into(), json_arg(j, "JSON document")?);
    }
    let (_, v) = client
        .send(
            client
                .request(Method::POST, "/v1/test-pattern")
                .json(&Value::Object(body)),
        )
        .await?;
    let matched = v["matches"].as_bool().unwrap_or(false);
    match out {
        Output::Json => println!("{v}"),
        Output::Table => {
            println!("{}", if matched { "match" } else { "no match" });
            for e in v["errors"].as_array().into_iter().flatten() {
                println!("  {}", e["message"].as_str().unwrap_or(""));
            }
        }
    }
    Ok(if matched {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    pattern: Option<Value>,
    cesql: Option<String>,
}

/// One prepared input: the bytes patterns see and, for CESQL, the attributes.
enum Doc {
    Json(Vec<u8>, Value),
    Event(Vec<u8>, Box<CloudEvent>),
}

fn bench(args: &BenchArgs) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(&args.patterns)
        .with_context(|| format!("cannot read {}", args.patterns.display()))?;
    let specs: Vec<RuleSpec> = serde_json::from_str(&text)
        .context("the patterns file must be a JSON list of {\"name\", \"pattern\"|\"cesql\"}")?;

    let mut docs = Vec::new();
    let file = std::fs::File::open(&args.events)
        .with_context(|| format!("cannot read {}", args.events.display()))?;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if args.cloudevents {
            let event = parse_structured(line.as_bytes())
                .map_err(|e| anyhow!("line {}: {e}", n + 1))?
                .map_err(|e| anyhow!("line {}: {e}", n + 1))?;
            let mut env = Vec::new();
            envelope_json(&event, &mut env);
            docs.push(Doc::Event(env, Box::new(event)));
        } else {
            let v: Value = serde_json::from_str(&line)
                .with_context(|| format!("line {} is not JSON", n + 1))?;
            docs.push(Doc::Json(line.into_bytes(), v));
        }
    }
    if docs.is_empty() {
        bail!("no events in {}", args.events.display());
    }

    let start = Instant::now();
    let mut matcher = Matcher::new();
    let mut cesql = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match (&spec.pattern, &spec.cesql) {
            (Some(p), None) => {
                let p = match p {
                    Value::String(s) => Pattern::parse(s),
                    v => Pattern::from_value(v),
                }
                .map_err(|e| anyhow!("rule {}: {e}", spec.name))?;
                matcher.add(i as u32, &p);
            }
            (None, Some(src)) => {
                cesql.push(Expression::parse(src).map_err(|e| anyhow!("rule {}: {e}", spec.name))?);
            }
            _ => bail!("rule {} needs exactly one of pattern or cesql", spec.name),
        }
    }
    let build = start.elapsed();

    let mut scratch = MatchScratch::default();
    let mut out = Vec::new();
    let mut total_matches = 0u64;
    let mut first_pass_matches = 0u64;
    let mut events = 0u64;
    let start = Instant::now();
    let mut rounds = 0;
    while rounds == 0 || start.elapsed().as_secs_f64() < args.min_seconds {
        for doc in &docs {
            out.clear();
            let (bytes, attrs): (&[u8], &dyn EventAttributes) = match doc {
                Doc::Json(b, v) => (b, v),
                Doc::Event(b, e) => (b, &**e),
            };
            matcher
                .matches_json_with(&mut scratch, bytes, &mut out)
                .map_err(|e| anyhow!("an event is not valid JSON: {e}"))?;
            let mut n = out.len() as u64;
            for expr in &cesql {
                if expr.matches(attrs) {
                    n += 1;
                }
            }
            total_matches += n;
            events += 1;
        }
        if rounds == 0 {
            first_pass_matches = total_matches;
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(json!({
        "rules": specs.len(),
        "events": docs.len(),
        "total_matches": first_pass_matches,
        "build_ms": build.as_secs_f64() * 1000.0,
        "events_matched": events,
        "seconds": secs,
        "events_per_sec": events as f64 / secs,
    }))
}
