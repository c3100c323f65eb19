//! `signalbox sink`: a small HTTP receiver that stands in for a downstream
//! service in examples and tests. It accepts any request, prints one line
//! per request, answers with a chosen status, and can record every request
//! to a JSON Lines file so a script can check exactly what arrived.
//!
//! ```text
//! signalbox sink --listen 127.0.0.1:0 --name inventory --record inventory.jsonl
//! listening on http://127.0.0.1:40111                         (stderr)
//! [inventory] POST / application/cloudevents+json id=o-1 type=com.example.order.created {"order_id":"o-1",…}
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, Notify};

use super::Output;

/// `signalbox sink` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct SinkArgs {
    /// Address to listen on (port 0 picks a free port; the address is
    /// printed on stderr as `listening on http://ADDR`).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Name shown on every line and in records (the service it stands in for).
    #[arg(long, default_value = "sink")]
    name: String,
    /// Status to answer with.
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Answer the first N requests with --fail-status instead (to exercise
    /// retries).
    #[arg(long, default_value_t = 0, value_name = "N")]
    fail_first: u64,
    /// Status for the first --fail-first requests.
    #[arg(long, default_value_t = 503)]
    fail_status: u16,
    /// Exit (status 0) once this many requests have arrived.
    #[arg(long, value_name = "N")]
    expect: Option<u64>,
    /// With --expect: give up after this long and exit with status 1.
    /// Without: stop after this long (status 0).
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Append every request to this file as one JSON line (method, path,
    /// headers, body, and the CloudEvent's id/type/source when there is one).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Characters of the body shown per line (0: none).
    #[arg(long, default_value_t = 120)]
    preview: usize,
}

struct State {
    name: String,
    status: StatusCode,
    fail_status: StatusCode,
    fail_first: u64,
    preview: usize,
    out: Output,
    record: Option<Mutex<tokio::fs::File>>,
    count: AtomicU64,
    expect: Option<u64>,
    done: Notify,
}

pub(crate) async fn run(out: Output, args: SinkArgs) -> anyhow::Result<ExitCode> {
    let status = StatusCode::from_u16(args.status)
        .with_context(|| format!("--status {} is not an HTTP status", args.status))?;
    let fail_status = StatusCode::from_u16(args.fail_status)
        .with_context(|| format!("--fail-status {} is not an HTTP status", args.fail_status))?;
    let record = match &args.record {
        Some(path) => Some(Mutex::new(
            tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
                .with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => None,
    };
    let state = Arc::new(State {
        name: args.name,
        status,
        fail_status,
        fail_first: args.fail_first,
        preview: args.preview,
        out,
        record,
        count: AtomicU64::new(0),
        expect: args.expect,
        done: Notify::new(),
    });
    let s = state.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move { handle(&s, method, uri, headers, body).await }
        },
    );
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    crate::server::announce_listening(&format!("http://{}", listener.local_addr()?));

    let started = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    let expected = async {
        if state.expect.is_some() {
            loop {
                let notified = state.done.notified();
                if state
                    .expect
                    .is_some_and(|n| state.count.load(Ordering::SeqCst) >= n)
                {
                    return;
                }
                notified.await;
            }
        } else {
            std::future::pending::<()>().await;
        }
    };
    let deadline = async {
        match args.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let code = tokio::select! {
        () = expected => ExitCode::SUCCESS,
        () = deadline => {
            if let Some(n) = state.expect {
                eprintln!(
                    "[{}] expected {n} request(s), got {} after {:.1}s",
                    state.name,
                    state.count.load(Ordering::SeqCst),
                    started.elapsed().as_secs_f64()
                );
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        () = shutdown_signal() => ExitCode::SUCCESS,
    };
    let _ = stop_tx.send(());
    // In-flight requests get a moment to finish; the listener is closed.
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    if let Some(file) = &state.record {
        file.lock().await.flush().await?;
    }
    Ok(code)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn handle(
    state: &State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let seq = state.count.load(Ordering::SeqCst) + 1;
    let status = if seq <= state.fail_first {
        state.fail_status
    } else {
        state.status
    };
    let record = record_json(state, seq, &method, &uri, &headers, &body, status);
    // Printed and recorded before the request counts, so that whoever
    // waits for --expect sees every line.
    match state.out {
        Output::Json => println!("{record}"),
        Output::Table => println!("{}", summary_line(state, &record, &body)),
    }
    if let Some(file) = &state.record {
        let mut line = record.to_string();
        line.push('\n');
        let mut f = file.lock().await;
        if let Err(e) = f.write_all(line.as_bytes()).await {
            eprintln!("[{}] cannot write the record: {e}", state.name);
        }
        let _ = f.flush().await;
    }
    state.count.fetch_add(1, Ordering::SeqCst);
    state.done.notify_waiters();
    status
}

/// The CloudEvents this request carries: from `ce-*` headers (binary mode),
/// the body (structured mode), or each element (batch mode). Each is
/// `{"id", "type", "source", "subject"?}`.
fn events_of(headers: &HeaderMap, content_type: &str, body: &Value) -> Vec<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(id) = header("ce-id") {
        let mut e = json!({"id": id, "type": header("ce-type"), "source": header("ce-source")});
        if let Some(s) = header("ce-subject") {
            e["subject"] = json!(s);
        }
        return vec![e];
    }
    let brief = |v: &Value| -> Option<Value> {
        let o = v.as_object()?;
        o.get("id")?;
        o.get("specversion")?;
        let mut e = Map::new();
        for k in ["id", "type", "source", "subject"] {
            if let Some(x) = o.get(k) {
                e.insert(k.into(), x.clone());
            }
        }
        Some(Value::Object(e))
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match body {
        Value::Array(items) if essence == "application/cloudevents-batch+json" => {
            items.iter().filter_map(brief).collect()
        }
        other => brief(other).into_iter().collect(),
    }
}

fn record_json(
    state: &State,
    seq: u64,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    status: StatusCode,
) -> Value {
    let mut hs = Map::new();
    for (k, v) in headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        match hs.get_mut(k.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            _ => {
                hs.insert(k.as_str().to_owned(), Value::String(v));
            }
        }
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut r = json!({
        "sink": state.name,
        "seq": seq,
        "received_at": crate::event::time::format_rfc3339_micros(crate::event::time::now_micros()),
        "method": method.as_str(),
        "path": uri.path(),
        "content_type": content_type,
        "status": status.as_u16(),
        "headers": hs,
    });
    if let Some(q) = uri.query() {
        r["query"] = json!(q);
    }
    let parsed = if body.is_empty() {
        None
    } else {
        serde_json::from_slice::<Value>(body).ok()
    };
    match (&parsed, std::str::from_utf8(body)) {
        (_, _) if body.is_empty() => {}
        (Some(v), _) => r["body"] = v.clone(),
        (None, Ok(text)) => r["body_text"] = json!(text),
        (None, Err(_)) => {
            r["body_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(body))
        }
    }
    r["events"] = Value::Array(events_of(
        headers,
        &content_type,
        parsed.as_ref().unwrap_or(&Value::Null),
    ));
    r
}

fn summary_line(state: &State, record: &Value, body: &Bytes) -> String {
    let mut line = format!(
        "[{}] {} {} {}",
        state.name,
        record["method"].as_str().unwrap_or(""),
        record["path"].as_str().unwrap_or(""),
        match record["content_type"].as_str() {
            Some("") | None => "-",
            Some(ct) => ct,
        }
    );
    for e in record["events"].as_array().into_iter().flatten() {
        line.push_str(&format!(
            " id={} type={}",
            e["id"].as_str().unwrap_or("?"),
            e["type"].as_str().unwrap_or("?")
        ));
    }
    let status = record["status"].as_u64().unwrap_or(0);
    if status != 200 {
        line.push_str(&format!(" -> {status}"));
    }
    if state.preview > 0 && !body.is_empty() {
        let text = match &record.get("body") {
            Some(v) => v.to_string(),
            None => String::from_utf8_lossy(body).into_owned(),
        };
        let mut preview: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(state.preview)
            .collect();
        if text.chars().count() > state.preview {
            preview.push('…');
        }
        line.push(' ');
        line.push_str(&preview);
    }
    line
}
