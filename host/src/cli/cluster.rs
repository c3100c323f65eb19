//! `signalbox cluster …`: what a cluster looks like, and moving an embedded
//! deployment into one.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

use super::Output;
use super::client::Client;
use super::output::{cell, print_table};
use crate::store::catalogue::{Collection, Scope};
use crate::store::nats::ClusterOptions;
use crate::store::{Store, StoreOptions};

/// `signalbox cluster …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ClusterCmd {
    /// Nodes, streams, consumers: what the server's cluster looks like.
    Status,
    /// Copy an embedded deployment's catalogue (buses, rules, plugins,
    /// tokens, schemas, sources) into a cluster. Stop the embedded server
    /// first; events stay where they are.
    Import(ImportArgs),
}

/// `signalbox cluster import` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The embedded server's data folder.
    #[arg(long)]
    data_dir: PathBuf,
    /// The cluster's NATS servers, comma-separated.
    #[arg(long, env = "SIGNALBOX_CLUSTER", value_name = "nats://HOST:PORT[,…]")]
    cluster: String,
    /// Copies JetStream keeps of what is created (as the nodes' config).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// A NATS credentials file.
    #[arg(long)]
    credentials_file: Option<PathBuf>,
}

pub(crate) async fn run(client: &Client, out: Output, cmd: ClusterCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ClusterCmd::Status => {
            let v = client.get("/v1/cluster").await?;
            match out {
                Output::Json => println!("{v}"),
                Output::Table => print_status(&v),
            }
        }
        ClusterCmd::Import(args) => {
            let report = import(args).await?;
            match out {
                Output::Json => println!("{report}"),
                Output::Table => println!(
                    "imported {} buses, {} rules, {} plugins, {} tokens, {} other records",
                    report["buses"],
                    report["rules"],
                    report["plugins"],
                    report["tokens"],
                    report["other"]
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_status(v: &Value) {
    if v["mode"] != "cluster" {
        println!("mode: {} (not a cluster)", cell(&v["mode"]));
        return;
    }
    println!(
        "node {} connected to {} (replicas {})",
        cell(&v["node"]),
        cell(&v["connected_server"]),
        cell(&v["replicas"])
    );
    println!();
    let nodes: Vec<Vec<String>> = v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            vec![
                cell(&n["name"]),
                if n["alive"] == true { "alive" } else { "dead" }.into(),
                format!("{} ms ago", cell(&n["last_heartbeat_ms_ago"])),
            ]
        })
        .collect();
    print_table(&["NODE", "STATE", "HEARTBEAT"], &nodes);
    println!();
    let mut rows = Vec::new();
    for s in v["streams"].as_array().into_iter().flatten() {
        let lagging = s["cluster"]["replicas"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["current"] != true)
            .count();
        rows.push(vec![
            cell(&s["name"]),
            cell(&s["messages"]),
            cell(&s["bytes"]),
            cell(&s["cluster"]["leader"]),
            format!("{}", lagging),
            s["consumers"].as_array().map_or(0, Vec::len).to_string(),
        ]);
        for c in s["consumers"].as_array().into_iter().flatten() {
            rows.push(vec![
                format!("  └ {}", cell(&c["name"])),
                format!("pending {}", cell(&c["pending"])),
                format!("ack pending {}", cell(&c["ack_pending"])),
                String::new(),
                String::new(),
                format!("redelivered {}", cell(&c["redelivered"])),
            ]);
        }
    }
    print_table(
        &[
            "STREAM",
            "MESSAGES",
            "BYTES",
            "LEADER",
            "LAGGING REPLICAS",
            "CONSUMERS",
        ],
        &rows,
    );
}

/// Copies the catalogue of an embedded data folder into a cluster.
async fn import(args: ImportArgs) -> anyhow::Result<Value> {
    let dir = args.data_dir.clone();
    let src = tokio::task::spawn_blocking(move || Store::open_rocks(&dir, StoreOptions::default()))
        .await??;
    let dst = Store::open_nats(ClusterOptions {
        servers: args
            .cluster
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect(),
        node: "signalbox-import".into(),
        replicas: args.replicas,
        credentials_file: args.credentials_file,
        token: None,
        user: None,
        tls_ca_file: None,
        trace_age: std::time::Duration::from_secs(24 * 3600),
        default_retention: src.default_retention(),
        member: false,
    })
    .await?;
    let (mut buses, mut rules, mut plugins, mut tokens, mut other) = (0, 0, 0, 0, 0);
    let copy_all = [
        Collection::Rules,
        Collection::Plugins,
        Collection::Tokens,
        Collection::Schemas,
        Collection::Settings,
        Collection::Sources,
        Collection::SourceState,
        Collection::Aws,
    ];
    for c in copy_all.into_iter().filter(|c| !c.per_bus()) {
        for (key, value) in src.list_raw(c, Scope::Server).await? {
            if c == Collection::Plugins {
                let record: Value = serde_json::from_slice(&value)?;
                let sha = record["sha256"].as_str().unwrap_or_default().to_owned();
                let bytes = src
                    .get_blob(&sha)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("plugin {key}: its component is missing"))?;
                dst.put_blob(&sha, &bytes).await?;
                plugins += 1;
            } else if c == Collection::Tokens {
                tokens += 1;
            } else {
                other += 1;
            }
            dst.put_raw(c, Scope::Server, &key, value).await?;
        }
    }
    for bus in src.buses() {
        let (new, _) = dst.put_bus(bus.name.clone(), bus.config.clone()).await?;
        buses += 1;
        for c in copy_all.into_iter().filter(|c| c.per_bus()) {
            for (key, value) in src.list_raw(c, Scope::Bus(bus.id)).await? {
                if c == Collection::Rules {
                    // The rule sees what the cluster's bus receives from now
                    // on, whenever a node starts running it.
                    let mut b = dst.batch();
                    b.set_cursor(new.id, &key, new.last_seq());
                    dst.commit(b).await?;
                    rules += 1;
                } else {
                    other += 1;
                }
                dst.put_raw(c, Scope::Bus(new.id), &key, value).await?;
            }
        }
    }
    dst.close().await?;
    src.close().await?;
    Ok(serde_json::json!({
        "buses": buses, "rules": rules, "plugins": plugins, "tokens": tokens, "other": other,
    }))
}
