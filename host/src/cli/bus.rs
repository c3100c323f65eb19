//! `signalbox bus …`

use std::process::ExitCode;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Output;
use super::client::{Client, segment};
use super::output::{cell, print};

#[derive(Debug, Subcommand)]
pub(crate) enum BusCmd {
    /// List buses.
    #[command(alias = "ls")]
    List,
    /// Show one bus.
    Get {
        /// Bus name.
        name: String,
    },
    /// Create a bus, or replace the settings of an existing one.
    #[command(alias = "put", alias = "update")]
    Create {
        /// Bus name: a-z, 0-9, '.', '_' and '-'.
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// How long events are kept, e.g. 24h or 7d.
        #[arg(long)]
        retention: Option<String>,
        /// Largest event accepted on this bus, in bytes.
        #[arg(long)]
        max_event_bytes: Option<u64>,
    },
    /// Delete a bus and all its events.
    #[command(alias = "rm")]
    Delete {
        /// Bus name.
        name: String,
    },
}

const HEADERS: [&str; 5] = [
    "NAME",
    "RETENTION",
    "LAST SEQ",
    "MAX EVENT BYTES",
    "DESCRIPTION",
];

fn row(b: &Value) -> Vec<String> {
    [
        "name",
        "retention",
        "last_seq",
        "max_event_bytes",
        "description",
    ]
    .iter()
    .map(|k| cell(&b[*k]))
    .collect()
}

pub(crate) async fn run(client: &Client, out: Output, cmd: BusCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BusCmd::List => {
            let v = client.get("/v1/buses").await?;
            let rows = v["buses"]
                .as_array()
                .map(|a| a.iter().map(row).collect())
                .unwrap_or_default();
            print(out, &v, &HEADERS, rows);
        }
        BusCmd::Get { name } => {
            let v = client.get(&format!("/v1/buses/{}", segment(&name))).await?;
            print(out, &v, &HEADERS, vec![row(&v)]);
        }
        BusCmd::Create {
            name,
            description,
            retention,
            max_event_bytes,
        } => {
            let mut body = Map::new();
            if let Some(d) = description {
                body.insert("description".into(), json!(d));
            }
            if let Some(r) = retention {
                body.insert("retention".into(), json!(r));
            }
            if let Some(m) = max_event_bytes {
                body.insert("max_event_bytes".into(), json!(m));
            }
            let req = client
                .request(Method::PUT, &format!("/v1/buses/{}", segment(&name)))
                .json(&Value::Object(body));
            let (status, v) = client.send(req).await?;
            if out == Output::Table {
                let verb = if status.as_u16() == 201 {
                    "created"
                } else {
                    "updated"
                };
                eprintln!("bus {name} {verb}");
            }
            print(out, &v, &HEADERS, vec![row(&v)]);
        }
        BusCmd::Delete { name } => {
            client
                .send(client.request(Method::DELETE, &format!("/v1/buses/{}", segment(&name))))
                .await?;
            match out {
                Output::Json => println!("{}", json!({"deleted": name})),
                Output::Table => println!("bus {name} deleted"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
