//! `signalbox rule …`, `signalbox dlq …` and `signalbox trace`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Client, segment};
use super::output::{cell, print, print_table};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RuleCmd {
    /// Create or replace a rule from a JSON file ('-' for stdin).
    #[command(alias = "create")]
    Put {
        /// Rule name.
        name: String,
        /// The rule definition (JSON).
        #[arg(long, short)]
        file: PathBuf,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// List the rules of a bus with their status.
    #[command(alias = "ls")]
    List {
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Show a rule and its status.
    Get {
        /// Rule name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Enable a rule (it resumes where it stopped).
    Enable {
        /// Rule name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Disable a rule (it keeps its place).
    Disable {
        /// Rule name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
    /// Delete a rule, its queues and dead letters.
    #[command(alias = "delete")]
    Rm {
        /// Rule name.
        name: String,
        /// Bus.
        #[arg(long, short, default_value = "default")]
        bus: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum DlqCmd {
    /// List a rule's dead letters.
    #[command(alias = "ls")]
    List(DlqArgs),
    /// Queue a rule's dead letters for delivery again.
    Redrive(DlqArgs),
    /// Delete a rule's dead letters.
    Purge(DlqArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct DlqArgs {
    /// Rule name.
    rule: String,
    /// Bus.
    #[arg(long, short, default_value = "default")]
    bus: String,
    /// Only this target.
    #[arg(long, short)]
    target: Option<String>,
}

/// `signalbox trace ID`.
#[derive(Debug, clap::Args)]
pub(crate) struct TraceArgs {
    /// Event id.
    id: String,
    /// Bus.
    #[arg(long, short, default_value = "default")]
    bus: String,
    /// The event's source, when several sources used the id.
    #[arg(long, short)]
    source: Option<String>,
}

fn rule_path(bus: &str, name: &str) -> String {
    format!("/v1/buses/{}/rules/{}", segment(bus), segment(name))
}

const HEADERS: [&str; 6] = ["NAME", "STATE", "CURSOR", "LAG", "TARGETS", "DESCRIPTION"];

fn row(r: &Value) -> Vec<String> {
    let targets: Vec<String> = r["status"]["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}({} queued, {} dead)",
                cell(&t["id"]),
                t["queued"],
                t["dead_letters"]
            )
        })
        .collect();
    vec![
        cell(&r["name"]),
        cell(&r["status"]["state"]),
        cell(&r["status"]["cursor"]),
        cell(&r["status"]["lag"]),
        targets.join(" "),
        cell(&r["description"]),
    ]
}

pub(crate) async fn run(client: &Client, out: Output, cmd: RuleCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RuleCmd::Put { name, file, bus } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let spec: Value = serde_json::from_str(&text).context("the rule file is not JSON")?;
            let (status, v) = client
                .send(
                    client
                        .request(Method::PUT, &rule_path(&bus, &name))
                        .json(&spec),
                )
                .await?;
            if out == Output::Table {
                eprintln!(
                    "rule {name} {}",
                    if status.as_u16() == 201 {
                        "created"
                    } else {
                        "updated"
                    }
                );
            }
            print(out, &v, &HEADERS, vec![row(&v)]);
        }
        RuleCmd::List { bus } => {
            let v = client
                .get(&format!("/v1/buses/{}/rules", segment(&bus)))
                .await?;
            let rows = v["rules"]
                .as_array()
                .map(|a| a.iter().map(row).collect())
                .unwrap_or_default();
            print(out, &v, &HEADERS, rows);
        }
        RuleCmd::Get { name, bus } => {
            let v = client.get(&rule_path(&bus, &name)).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        RuleCmd::Enable { name, bus } => set_enabled(client, out, &bus, &name, true).await?,
        RuleCmd::Disable { name, bus } => set_enabled(client, out, &bus, &name, false).await?,
        RuleCmd::Rm { name, bus } => {
            client
                .send(client.request(Method::DELETE, &rule_path(&bus, &name)))
                .await?;
            match out {
                Output::Json => println!("{}", json!({"deleted": name})),
                Output::Table => println!("rule {name} deleted"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the rule, flips `enabled`, and writes it back.
async fn set_enabled(
    client: &Client,
    out: Output,
    bus: &str,
    name: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    let mut v = client.get(&rule_path(bus, name)).await?;
    let Some(o) = v.as_object_mut() else {
        bail!("unexpected rule document")
    };
    for k in ["name", "bus", "created_at", "updated_at", "status"] {
        o.remove(k);
    }
    o.insert("enabled".into(), json!(enabled));
    let (_, v) = client
        .send(client.request(Method::PUT, &rule_path(bus, name)).json(&v))
        .await?;
    print(out, &v, &HEADERS, vec![row(&v)]);
    Ok(())
}

pub(crate) async fn dlq(client: &Client, out: Output, cmd: DlqCmd) -> anyhow::Result<ExitCode> {
    let target_q = |t: &Option<String>| {
        t.as_ref()
            .map(|t| format!("?target={}", segment(t)))
            .unwrap_or_default()
    };
    match cmd {
        DlqCmd::List(a) => {
            let v = client
                .get(&format!(
                    "{}/dead-letters{}",
                    rule_path(&a.bus, &a.rule),
                    target_q(&a.target)
                ))
                .await?;
            match out {
                Output::Json => println!("{}", serde_json::to_string_pretty(&v)?),
                Output::Table => {
                    let rows: Vec<Vec<String>> = v["dead_letters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|d| {
                            vec![
                                cell(&d["target"]),
                                cell(&d["seq"]),
                                cell(&d["event"]["id"]),
                                cell(&d["attempts"]),
                                cell(&d["last_status"]),
                                cell(&d["reason"]),
                                cell(&d["last_error"]),
                            ]
                        })
                        .collect();
                    print_table(
                        &[
                            "TARGET",
                            "SEQ",
                            "EVENT ID",
                            "ATTEMPTS",
                            "STATUS",
                            "REASON",
                            "LAST ERROR",
                        ],
                        &rows,
                    );
                    println!("{} dead letter(s)", v["total"]);
                }
            }
        }
        DlqCmd::Redrive(a) => {
            let body = a
                .target
                .as_ref()
                .map_or(json!({}), |t| json!({"target": t}));
            let (_, v) = client
                .send(
                    client
                        .request(
                            Method::POST,
                            &format!("{}/dead-letters/redrive", rule_path(&a.bus, &a.rule)),
                        )
                        .json(&body),
                )
                .await?;
            match out {
                Output::Json => println!("{v}"),
                Output::Table => println!("{} dead letter(s) queued again", v["redriven"]),
            }
        }
        DlqCmd::Purge(a) => {
            let (_, v) = client
                .send(client.request(
                    Method::DELETE,
                    &format!(
                        "{}/dead-letters{}",
                        rule_path(&a.bus, &a.rule),
                        target_q(&a.target)
                    ),
                ))
                .await?;
            match out {
                Output::Json => println!("{v}"),
                Output::Table => println!("{} dead letter(s) purged", v["purged"]),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn trace(client: &Client, out: Output, a: TraceArgs) -> anyhow::Result<ExitCode> {
    let mut path = format!(
        "/v1/buses/{}/events/{}/trace",
        segment(&a.bus),
        segment(&a.id)
    );
    if let Some(s) = &a.source {
        path.push_str(&format!("?source={}", segment(s)));
    }
    let v = client.get(&path).await?;
    match out {
        Output::Json => println!("{}", serde_json::to_string_pretty(&v)?),
        Output::Table => {
            println!(
                "event {} from {} ({}), seq {}",
                cell(&v["id"]),
                cell(&v["source"]),
                cell(&v["type"]),
                v["seq"]
            );
            let rows: Vec<Vec<String>> = v["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let mut detail = s["detail"].as_object().cloned().unwrap_or_default();
                    detail.remove("duration_ms");
                    let d = if detail.is_empty() {
                        String::new()
                    } else {
                        Value::Object(detail).to_string()
                    };
                    vec![
                        cell(&s["at"]),
                        cell(&s["step"]),
                        cell(&s["rule"]),
                        cell(&s["target"]),
                        d,
                    ]
                })
                .collect();
            print_table(&["AT", "STEP", "RULE", "TARGET", "DETAIL"], &rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}
