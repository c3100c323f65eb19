//! `signalbox plugin …`: manage plugins on a server, and test them locally.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Output;
use super::client::{Client, segment};
use super::output::{cell, print};
use crate::event::json::{parse_structured, to_json_string};
use crate::plugin::registry::parse_reference;
use crate::plugin::{
    AllowList, LoadedPlugin, PluginEngine, PluginKind, PluginLimits, PluginRuntime, PoolSize,
    RulePlugin, inspect,
};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PluginCmd {
    /// Upload a component as NAME@VERSION.
    Push {
        /// The component (.wasm).
        file: PathBuf,
        /// name@version, e.g. high-value@1.0.0.
        reference: String,
    },
    /// List plugins on the server.
    #[command(alias = "ls")]
    List,
    /// Show a plugin (NAME or NAME@VERSION on the server), or inspect a local
    /// .wasm file without uploading it.
    Inspect {
        /// NAME, NAME@VERSION or a path to a .wasm file.
        target: String,
    },
    /// Delete NAME@VERSION from the server.
    #[command(alias = "delete")]
    Rm {
        /// name@version.
        reference: String,
    },
    /// Run a plugin locally against an event, without a server.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// The component (.wasm).
    file: PathBuf,
    /// The event: a JSON file with one CloudEvent, a JSON array of them
    /// (connectors), or '-' for stdin.
    #[arg(long, short)]
    event: PathBuf,
    /// Configuration entry (repeatable).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// Host a connector may reach (repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Memory limit in MiB.
    #[arg(long, default_value_t = PluginLimits::default().memory_mb)]
    memory_mb: u32,
    /// Deadline per call in milliseconds.
    #[arg(long, default_value_t = PluginLimits::default().call_timeout_ms)]
    timeout_ms: u64,
}

const HEADERS: [&str; 5] = ["NAME", "VERSION", "KIND", "SIZE", "SHA256"];

fn row(p: &Value) -> Vec<String> {
    let mut r: Vec<String> = ["name", "version", "kind", "size"]
        .iter()
        .map(|k| cell(&p[*k]))
        .collect();
    r.push(
        p["sha256"]
            .as_str()
            .map(|s| s[..12.min(s.len())].to_owned())
            .unwrap_or_default(),
    );
    r
}

pub(crate) async fn run(client: &Client, out: Output, cmd: PluginCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCmd::Push { file, reference } => {
            let (name, version) = parse_reference(&reference).map_err(|e| anyhow!(e))?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let req = client
                .request(
                    Method::PUT,
                    &format!(
                        "/v1/plugins/{}/versions/{}",
                        segment(name),
                        segment(version)
                    ),
                )
                .header("content-type", "application/wasm")
                .body(bytes);
            let (status, v) = client.send(req).await?;
            if out == Output::Table {
                let verb = if status.as_u16() == 201 {
                    "uploaded"
                } else {
                    "already present (same bytes)"
                };
                eprintln!("{reference} {verb}");
            }
            print(out, &v, &HEADERS, vec![row(&v)]);
        }
        PluginCmd::List => {
            let v = client.get("/v1/plugins").await?;
            let rows = v["plugins"]
                .as_array()
                .map(|a| a.iter().map(row).collect())
                .unwrap_or_default();
            print(out, &v, &HEADERS, rows);
        }
        PluginCmd::Inspect { target } => {
            if target.ends_with(".wasm") || std::path::Path::new(&target).is_file() {
                let bytes =
                    std::fs::read(&target).with_context(|| format!("cannot read {target}"))?;
                let i = inspect(&bytes).map_err(|e| anyhow!("{target}: {e}"))?;
                let v = json!({"file": target, "kind": i.kind, "size": bytes.len(), "imports": i.imports});
                match out {
                    Output::Json => println!("{v}"),
                    Output::Table => {
                        println!("{target}: a {} plugin, {} bytes", i.kind, bytes.len());
                        for imp in &i.imports {
                            println!("  imports {imp}");
                        }
                    }
                }
            } else {
                let path = match target.split_once('@') {
                    Some((n, v)) => format!("/v1/plugins/{}/versions/{}", segment(n), segment(v)),
                    None => format!("/v1/plugins/{}", segment(&target)),
                };
                let v = client.get(&path).await?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
        }
        PluginCmd::Rm { reference } => {
            let (name, version) = parse_reference(&reference).map_err(|e| anyhow!(e))?;
            client
                .send(client.request(
                    Method::DELETE,
                    &format!(
                        "/v1/plugins/{}/versions/{}",
                        segment(name),
                        segment(version)
                    ),
                ))
                .await?;
            match out {
                Output::Json => println!("{}", json!({"deleted": reference})),
                Output::Table => println!("{reference} deleted"),
            }
        }
        PluginCmd::Test(args) => return test(out, args).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a plugin locally: inspect, compile, instantiate with the
/// configuration, call once, print the outcome. Exits 1 if the call failed.
async fn test(out: Output, args: TestArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let inspection = inspect(&bytes).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    let text = if args.event.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.event)
            .with_context(|| format!("cannot read {}", args.event.display()))?
    };
    let value: Value = serde_json::from_str(&text).context("the event file is not JSON")?;
    let values = match value {
        Value::Array(a) => a,
        v => vec![v],
    };
    let mut events = Vec::new();
    for v in &values {
        let e = parse_structured(v.to_string().as_bytes())
            .map_err(|e| anyhow!(e))?
            .map_err(|e| anyhow!("the event is invalid: {e}"))?;
        events.push(e);
    }
    if events.is_empty() {
        bail!("no event given");
    }
    let mut config = Map::new();
    for c in &args.config {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| anyhow!("--config expects KEY=VALUE, got '{c}'"))?;
        config.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    let allow = AllowList::parse(&args.allowed_hosts).map_err(|e| anyhow!(e))?;
    let limits = PluginLimits {
        memory_mb: args.memory_mb,
        call_timeout_ms: args.timeout_ms,
        ..PluginLimits::default()
    };
    limits.validate().map_err(|e| anyhow!(e))?;

    let kind = inspection.kind;
    let compile_start = Instant::now();
    let plugin = tokio::task::spawn_blocking(move || -> anyhow::Result<LoadedPlugin> {
        let engine = PluginEngine::new(None, PoolSize { instances: 0 }).map_err(|e| anyhow!(e))?;
        let runtime = PluginRuntime::new(engine.clone()).map_err(|e| anyhow!(e))?;
        let compiled = engine.compile(&bytes, "local").map_err(|e| anyhow!(e))?;
        let prepared = runtime
            .prepare(kind, &compiled.component)
            .map_err(|e| anyhow!(e))?;
        Ok(LoadedPlugin {
            name: "local".into(),
            version: "test".into(),
            kind,
            sha256: String::new(),
            prepared,
            engine,
        })
    })
    .await??;
    let compile_ms = compile_start.elapsed().as_secs_f64() * 1000.0;
    let pairs = crate::plugin::config_pairs(&config);
    let rp = Arc::new(RulePlugin::new(
        Arc::new(plugin),
        pairs,
        limits,
        allow,
        "plugin-test",
    ));
    let start = Instant::now();
    let result = match kind {
        PluginKind::Filter => rp
            .keep(&(std::sync::Arc::new(events[0].clone()) as crate::event::SharedEvent))
            .await
            .map(|k| json!({"outcome": if k { "keep" } else { "drop" }})),
        PluginKind::Transform => rp.transform(&events[0]).await.map(|out| {
            let out: Vec<Value> = out
                .iter()
                .map(|e| serde_json::from_str(&to_json_string(e)).unwrap_or(Value::Null))
                .collect();
            json!({"outcome": "events", "events": out})
        }),
        PluginKind::Connector => rp
            .deliver(&events)
            .await
            .map(|()| json!({"outcome": "delivered"})),
    };
    let call_ms = start.elapsed().as_secs_f64() * 1000.0;
    let ok = result.is_ok();
    let mut v = match result {
        Ok(v) => v,
        Err(e) => json!({"outcome": "error", "error": crate::api::plugins::call_error_json(&e)}),
    };
    v["kind"] = json!(kind);
    v["compile_ms"] = json!(compile_ms);
    v["call_ms"] = json!(call_ms);
    match out {
        Output::Json => println!("{v}"),
        Output::Table => {
            println!("{kind} plugin, compiled in {compile_ms:.0} ms, call took {call_ms:.2} ms");
            match v["outcome"].as_str().unwrap_or("") {
                "events" => {
                    let events = v["events"].as_array().cloned().unwrap_or_default();
                    println!("outcome: {} event(s)", events.len());
                    for e in events {
                        println!("{}", serde_json::to_string_pretty(&e)?);
                    }
                }
                "error" => println!(
                    "outcome: error ({}): {}",
                    v["error"]["kind"].as_str().unwrap_or(""),
                    v["error"]["message"].as_str().unwrap_or("")
                ),
                other => println!("outcome: {other}"),
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
