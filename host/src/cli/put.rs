//! `signalbox put`: publish one event from flags, or many from JSON Lines.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Output;
use super::client::{Client, segment};
use super::output::print_table;

/// Publish events.
///
/// With `--file` (or `--file -` for stdin) every non-empty line is one
/// CloudEvent in the JSON format; a missing `specversion` is set to 1.0 and a
/// missing `id` is generated. Lines are sent in batches. Otherwise one event is
/// built from the flags. Exits with status 2 if any event was rejected.
#[derive(Debug, clap::Args)]
pub(crate) struct PutArgs {
    /// Bus to publish to.
    #[arg(long, short, default_value = "default")]
    bus: String,
    /// Event type, e.g. com.example.order.created.
    #[arg(long = "type", short = 't', required_unless_present = "file")]
    ty: Option<String>,
    /// Event source.
    #[arg(long, short, default_value = "/signalbox/cli")]
    source: String,
    /// Event id (default: a random UUID).
    #[arg(long)]
    id: Option<String>,
    /// Event subject.
    #[arg(long)]
    subject: Option<String>,
    /// Event time, RFC 3339 (default: none).
    #[arg(long)]
    time: Option<String>,
    /// Event data. JSON is sent as JSON; anything else as text/plain.
    #[arg(long, short)]
    data: Option<String>,
    /// datacontenttype (default: application/json for JSON data, else text/plain).
    #[arg(long)]
    content_type: Option<String>,
    /// Extension attribute, name=value (repeatable).
    #[arg(long = "ext", short = 'e', value_name = "NAME=VALUE")]
    extensions: Vec<String>,
    /// JSON Lines file of events to send ('-' for stdin).
    #[arg(long, short, conflicts_with_all = ["ty", "id", "subject", "time", "data", "extensions"])]
    file: Option<PathBuf>,
    /// Events per request when sending a file.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
}

/// A random version-4 UUID, as producers usually use for ids.
pub(crate) fn random_uuid() -> String {
    let mut b = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn event_from_flags(args: &PutArgs) -> anyhow::Result<Value> {
    let mut e = Map::new();
    e.insert("specversion".into(), json!("1.0"));
    e.insert(
        "id".into(),
        json!(args.id.clone().unwrap_or_else(random_uuid)),
    );
    e.insert("source".into(), json!(args.source));
    e.insert("type".into(), json!(args.ty));
    if let Some(s) = &args.subject {
        e.insert("subject".into(), json!(s));
    }
    if let Some(t) = &args.time {
        e.insert("time".into(), json!(t));
    }
    for ext in &args.extensions {
        let (k, v) = ext
            .split_once('=')
            .ok_or_else(|| anyhow!("--ext expects NAME=VALUE, got '{ext}'"))?;
        e.insert(k.to_owned(), json!(v));
    }
    if let Some(d) = &args.data {
        match serde_json::from_str::<Value>(d) {
            Ok(v) => {
                e.insert(
                    "datacontenttype".into(),
                    json!(args.content_type.as_deref().unwrap_or("application/json")),
                );
                e.insert("data".into(), v);
            }
            Err(_) => {
                e.insert(
                    "datacontenttype".into(),
                    json!(args.content_type.as_deref().unwrap_or("text/plain")),
                );
                e.insert("data".into(), json!(d));
            }
        }
    } else if let Some(ct) = &args.content_type {
        e.insert("datacontenttype".into(), json!(ct));
    }
    Ok(Value::Object(e))
}

pub(crate) async fn run(client: &Client, out: Output, args: PutArgs) -> anyhow::Result<ExitCode> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let path = format!("/v1/buses/{}/events", segment(&args.bus));
    let mut responses = Vec::new();
    let mut failures = Vec::new();
    let (mut accepted, mut failed) = (0u64, 0u64);
    let mut send = async |batch: Vec<Value>, structured: bool| -> anyhow::Result<()> {
        let (ct, body) = if structured {
            (
                "application/cloudevents+json",
                serde_json::to_vec(&batch[0])?,
            )
        } else {
            (
                "application/cloudevents-batch+json",
                serde_json::to_vec(&batch)?,
            )
        };
        let req = client
            .request(Method::POST, &path)
            .header("content-type", ct)
            .body(body);
        let (_, v) = client.send(req).await?;
        accepted += v["accepted"].as_u64().unwrap_or(0);
        failed += v["failed"].as_u64().unwrap_or(0);
        for e in v["entries"].as_array().into_iter().flatten() {
            if e.get("error").is_some() {
                failures.push(e.clone());
            }
        }
        responses.push(v);
        Ok(())
    };

    match &args.file {
        None => send(vec![event_from_flags(&args)?], true).await?,
        Some(file) => {
            let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::BufReader::new(std::io::stdin()))
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?,
                ))
            };
            let mut batch = Vec::with_capacity(args.batch_size);
            for (n, line) in reader.lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let mut v: Value = serde_json::from_str(&line)
                    .with_context(|| format!("line {} is not JSON", n + 1))?;
                if let Some(obj) = v.as_object_mut() {
                    obj.entry("specversion").or_insert_with(|| json!("1.0"));
                    obj.entry("id").or_insert_with(|| json!(random_uuid()));
                }
                batch.push(v);
                if batch.len() == args.batch_size {
                    send(std::mem::take(&mut batch), false).await?;
                }
            }
            if !batch.is_empty() {
                send(batch, false).await?;
            }
        }
    }

    match out {
        Output::Json => {
            let v = if responses.len() == 1 {
                responses.remove(0)
            } else {
                json!({"accepted": accepted, "failed": failed, "responses": responses})
            };
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Table => {
            println!("accepted {accepted}, failed {failed}");
            if !failures.is_empty() {
                let rows: Vec<Vec<String>> = failures
                    .iter()
                    .map(|e| {
                        vec![
                            super::output::cell(&e["id"]),
                            super::output::cell(&e["error"]["field"]),
                            super::output::cell(&e["error"]["detail"]),
                        ]
                    })
                    .collect();
                print_table(&["ID", "FIELD", "ERROR"], &rows);
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_look_like_v4() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(random_uuid(), u);
    }
}
