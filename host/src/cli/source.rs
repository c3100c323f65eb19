//! `signalbox source …` (event sources) and `signalbox webhook send`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Client, problem_error, segment};
use super::output::{cell, print};
use crate::sources::webhook::verify::{Verifier, VerifyConfig};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum SourceCmd {
    /// Create or replace a source from a JSON file ('-' for stdin).
    #[command(alias = "create")]
    Put {
        /// Source name (unique across the server).
        name: String,
        /// The source definition (JSON).
        #[arg(long, short)]
        file: PathBuf,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// List the sources of a bus with their status.
    #[command(alias = "ls")]
    List {
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Show a source (secrets redacted) and its status.
    Get {
        /// Source name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Delete a source and its state.
    #[command(alias = "rm")]
    Delete {
        /// Source name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Stop a source, keeping its definition and state.
    Pause {
        /// Source name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Start a paused source again.
    Resume {
        /// Source name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
}

/// `signalbox webhook send`: signs a body the way a sender would and posts
/// it to a webhook source (for trying sources out and for tests).
#[derive(Debug, clap::Args)]
pub(crate) struct WebhookSendArgs {
    /// The webhook source's name.
    name: String,
    /// The body ('-' for stdin).
    #[arg(long, short)]
    file: PathBuf,
    /// The scheme's `verify` settings, as JSON: e.g.
    /// '{"scheme":"github","secret":"…"}'.
    #[arg(long)]
    verify: String,
    /// Extra headers, `Name: value` (e.g. `X-GitHub-Event: push`).
    #[arg(long, short = 'H')]
    header: Vec<String>,
    /// The webhook id, for schemes that sign one.
    #[arg(long)]
    id: Option<String>,
    /// Content type of the body.
    #[arg(long, default_value = "application/json")]
    content_type: String,
}

fn path(bus: &str, name: &str) -> String {
    format!("/v1/buses/{}/sources/{}", segment(bus), segment(name))
}

const HEADERS: [&str; 6] = [
    "NAME",
    "TYPE",
    "STATE",
    "PUBLISHED",
    "LAST EVENT",
    "LAST ERROR",
];

fn row(s: &Value) -> Vec<String> {
    vec![
        cell(&s["name"]),
        cell(&s["type"]),
        cell(&s["status"]["state"]),
        cell(&s["status"]["published"]),
        cell(&s["status"]["last_event_at"]),
        cell(&s["status"]["last_error"]["message"]),
    ]
}

pub(crate) async fn run(client: &Client, out: Output, cmd: SourceCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        SourceCmd::Put { name, file, bus } => {
            let text = read(&file)?;
            let spec: Value = serde_json::from_str(&text).context("the source file is not JSON")?;
            let (status, v) = client
                .send(client.request(Method::PUT, &path(&bus, &name)).json(&spec))
                .await?;
            if out == Output::Table {
                eprintln!(
                    "source {name} {}",
                    if status.as_u16() == 201 {
                        "created"
                    } else {
                        "updated"
                    }
                );
            }
            print(out, &v, &HEADERS, vec![row(&v)]);
        }
        SourceCmd::List { bus } => {
            let v = client
                .get(&format!("/v1/buses/{}/sources", segment(&bus)))
                .await?;
            let rows = v["sources"]
                .as_array()
                .map(|a| a.iter().map(row).collect())
                .unwrap_or_default();
            print(out, &v, &HEADERS, rows);
        }
        SourceCmd::Get { name, bus } => {
            let v = client.get(&path(&bus, &name)).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SourceCmd::Delete { name, bus } => {
            client
                .send(client.request(Method::DELETE, &path(&bus, &name)))
                .await?;
            match out {
                Output::Json => println!("{}", json!({"deleted": name})),
                Output::Table => println!("source {name} deleted"),
            }
        }
        SourceCmd::Pause { name, bus } => control(client, out, &bus, &name, "pause").await?,
        SourceCmd::Resume { name, bus } => control(client, out, &bus, &name, "resume").await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn control(
    client: &Client,
    out: Output,
    bus: &str,
    name: &str,
    action: &str,
) -> anyhow::Result<()> {
    let (_, v) = client
        .send(client.request(Method::POST, &format!("{}/{action}", path(bus, name))))
        .await?;
    print(out, &v, &HEADERS, vec![row(&v)]);
    Ok(())
}

fn read(file: &PathBuf) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

pub(crate) async fn send(
    client: &Client,
    out: Output,
    args: WebhookSendArgs,
) -> anyhow::Result<ExitCode> {
    let body = read(&args.file)?.into_bytes();
    let config: VerifyConfig =
        serde_json::from_str(&args.verify).context("--verify is not a valid verify setting")?;
    let verifier = Verifier::new(&config)
        .map_err(|e| anyhow::anyhow!("--verify: {}: {}", e.field, e.detail))?;
    let now = crate::event::time::now_micros().div_euclid(1_000_000);
    let signed = verifier
        .sign(&body, now, args.id.as_deref())
        .map_err(|e| anyhow::anyhow!("cannot sign: {e}"))?;
    let mut req = client
        .request(
            Method::POST,
            &format!("/v1/sources/{}/webhook", segment(&args.name)),
        )
        .header("content-type", &args.content_type)
        .body(body);
    for (k, v) in signed {
        req = req.header(k, v);
    }
    for h in &args.header {
        let Some((k, v)) = h.split_once(':') else {
            bail!("--header '{h}' is not 'Name: value'");
        };
        req = req.header(k.trim(), v.trim());
    }
    let resp = req.send().await.context("cannot reach the server")?;
    if !resp.status().is_success() {
        return Err(problem_error(resp).await);
    }
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    match out {
        Output::Json => println!("{v}"),
        Output::Table => println!("accepted: id {} seq {}", cell(&v["id"]), cell(&v["seq"])),
    }
    Ok(ExitCode::SUCCESS)
}
