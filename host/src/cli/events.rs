//! `signalbox events …`: read events back.

use std::process::ExitCode;

use anyhow::Context;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;

use super::Output;
use super::client::{Client, problem_error, segment};
use super::output::{cell, print};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum EventsCmd {
    /// Print events as they arrive (Server-Sent Events), like `tail -f`.
    Tail {
        /// Bus to read.
        #[arg(long, short, default_value = "default")]
        bus: String,
        /// Start after this sequence number (default: only new events).
        #[arg(long)]
        after: Option<u64>,
        /// Start from the oldest stored event.
        #[arg(long, conflicts_with = "after")]
        from_start: bool,
        /// Stop after this many events.
        #[arg(long, short = 'n')]
        count: Option<u64>,
    },
    /// List stored events after a sequence number.
    #[command(alias = "ls")]
    List {
        /// Bus to read.
        #[arg(long, short, default_value = "default")]
        bus: String,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Most events to return (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one event by id.
    Get {
        /// Event id.
        id: String,
        /// Bus to read.
        #[arg(long, short, default_value = "default")]
        bus: String,
        /// The event's source, when several sources used the id.
        #[arg(long, short)]
        source: Option<String>,
    },
}

const HEADERS: [&str; 5] = ["SEQ", "RECEIVED", "TYPE", "SOURCE", "ID"];

fn row(e: &Value) -> Vec<String> {
    ["seq", "received_at", "type", "source", "id"]
        .iter()
        .map(|k| cell(&e[*k]))
        .collect()
}

pub(crate) async fn run(client: &Client, out: Output, cmd: EventsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        EventsCmd::List { bus, after, limit } => {
            let v = client
                .get(&format!(
                    "/v1/buses/{}/events?after={after}&limit={limit}",
                    segment(&bus)
                ))
                .await?;
            let rows = v["events"]
                .as_array()
                .map(|a| a.iter().map(row).collect())
                .unwrap_or_default();
            print(out, &v, &HEADERS, rows);
        }
        EventsCmd::Get { id, bus, source } => {
            let mut path = format!("/v1/buses/{}/events/{}", segment(&bus), segment(&id));
            if let Some(s) = source {
                path.push_str(&format!("?source={}", segment(&s)));
            }
            let v = client.get(&path).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        EventsCmd::Tail {
            bus,
            after,
            from_start,
            count,
        } => {
            let after = match (after, from_start) {
                (Some(a), _) => a,
                (None, true) => 0,
                (None, false) => {
                    let b = client.get(&format!("/v1/buses/{}", segment(&bus))).await?;
                    b["last_seq"].as_u64().unwrap_or(0)
                }
            };
            tail(client, out, &bus, after, count).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows the SSE stream, printing one line per event: the event JSON with
/// `--output json`, a short summary otherwise.
async fn tail(
    client: &Client,
    out: Output,
    bus: &str,
    after: u64,
    count: Option<u64>,
) -> anyhow::Result<()> {
    let path = format!(
        "/v1/buses/{}/events?follow=true&after={after}",
        segment(bus)
    );
    let resp = client
        .request(Method::GET, &path)
        .header("accept", "text/event-stream")
        .send()
        .await
        .context("cannot reach the server")?;
    if !resp.status().is_success() {
        return Err(problem_error(resp).await);
    }
    if out == Output::Table {
        eprintln!("following bus {bus} after seq {after} (Ctrl-C to stop)");
    }
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk.context("the event stream broke")?);
        // SSE messages end with a blank line.
        while let Some(end) = find_blank_line(&buf) {
            let msg: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&msg);
            let data: String = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|l| l.strip_prefix(' ').unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n");
            let is_event = text.lines().any(|l| l.trim() == "event: cloudevent");
            if data.is_empty() || !is_event {
                continue;
            }
            match out {
                Output::Json => println!("{data}"),
                Output::Table => {
                    let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    println!("{}", row(&v).join("  "));
                }
            }
            seen += 1;
            if count.is_some_and(|c| seen >= c) {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n")
}
