//! `signalbox replay …`: send a range of a bus's history through rules again.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Client, segment};
use super::output::{cell, print};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReplayCmd {
    /// Start a replay and show its progress until it finishes.
    Start {
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
        /// First event: a sequence number or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// Last event: a sequence number or an RFC 3339 time (default: now).
        #[arg(long)]
        to: Option<String>,
        /// Rule to replay into (repeatable).
        #[arg(long = "rule", short, required = true)]
        rules: Vec<String>,
        /// Events per second.
        #[arg(long)]
        rate: Option<f64>,
        /// Return at once instead of showing progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// List replays.
    #[command(alias = "ls")]
    List,
    /// Show a replay.
    Status {
        /// Replay id (rp-N).
        id: String,
    },
    /// Pause a replay.
    Pause {
        /// Replay id.
        id: String,
    },
    /// Resume a paused replay.
    Resume {
        /// Replay id.
        id: String,
    },
    /// Cancel a replay.
    Cancel {
        /// Replay id.
        id: String,
    },
}

fn position(s: &str) -> Value {
    s.parse::<u64>().map_or_else(|_| json!(s), |n| json!(n))
}

const HEADERS: [&str; 6] = ["ID", "BUS", "STATE", "PROGRESS", "RANGE", "RULES"];

fn row(r: &Value) -> Vec<String> {
    vec![
        cell(&r["id"]),
        cell(&r["bus"]),
        cell(&r["state"]),
        format!("{}/{}", r["processed"], r["total"]),
        format!("{}..{}", r["from_seq"], r["to_seq"]),
        r["rules"]
            .as_array()
            .map(|a| a.iter().map(cell).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
    ]
}

fn bar(v: &Value) -> String {
    let total = v["total"].as_u64().unwrap_or(0).max(1);
    let done = v["processed"].as_u64().unwrap_or(0).min(total);
    let width = 30;
    let filled = (done * width / total) as usize;
    format!(
        "\r[{}{}] {done}/{total} events, {} deliveries queued, {}",
        "#".repeat(filled),
        "-".repeat(width as usize - filled),
        v["queued"],
        cell(&v["state"])
    )
}

pub(crate) async fn run(client: &Client, out: Output, cmd: ReplayCmd) -> anyhow::Result<ExitCode> {
    let act = async |id: &str, action: &str| -> anyhow::Result<ExitCode> {
        let (_, v) = client
            .send(client.request(
                Method::POST,
                &format!("/v1/replays/{}/{action}", segment(id)),
            ))
            .await?;
        print(out, &v, &HEADERS, vec![row(&v)]);
        Ok(ExitCode::SUCCESS)
    };
    match cmd {
        ReplayCmd::Start {
            bus,
            from,
            to,
            rules,
            rate,
            no_wait,
        } => {
            let mut body = json!({"from": position(&from), "rules": rules});
            if let Some(t) = to {
                body["to"] = position(&t);
            }
            if let Some(r) = rate {
                body["rate_per_s"] = json!(r);
            }
            let (_, mut v) = client
                .send(
                    client
                        .request(
                            Method::POST,
                            &format!("/v1/buses/{}/replays", segment(&bus)),
                        )
                        .json(&body),
                )
                .await?;
            let id = cell(&v["id"]);
            if !no_wait {
                loop {
                    if out == Output::Table {
                        eprint!("{}", bar(&v));
                        let _ = std::io::stderr().flush();
                    }
                    if v["state"] != "running" && v["state"] != "paused" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    v = client.get(&format!("/v1/replays/{}", segment(&id))).await?;
                }
                if out == Output::Table {
                    eprintln!();
                }
            }
            print(out, &v, &HEADERS, vec![row(&v)]);
            if v["state"] == "failed" {
                return Ok(ExitCode::FAILURE);
            }
        }
        ReplayCmd::List => {
            let v = client.get("/v1/replays").await?;
            let rows = v["replays"]
                .as_array()
                .map(|a| a.iter().map(row).collect())
                .unwrap_or_default();
            print(out, &v, &HEADERS, rows);
        }
        ReplayCmd::Status { id } => {
            let v = client.get(&format!("/v1/replays/{}", segment(&id))).await?;
            print(out, &v, &HEADERS, vec![row(&v)]);
        }
        ReplayCmd::Pause { id } => return act(&id, "pause").await,
        ReplayCmd::Resume { id } => return act(&id, "resume").await,
        ReplayCmd::Cancel { id } => return act(&id, "cancel").await,
    }
    Ok(ExitCode::SUCCESS)
}
