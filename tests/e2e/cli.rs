//! The command-line client against a real server.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::*;

fn cli(s: &Server, args: &[&str]) -> Output {
    Command::new(&*BIN)
        .arg("--server")
        .arg(&s.base)
        .args(args)
        .output()
        .expect("run signalbox")
}

fn ok_json(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let out = cli(s, &all);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test]
async fn bus_commands() {
    let s = Server::start();
    let v = ok_json(
        &s,
        &[
            "bus",
            "create",
            "orders",
            "--retention",
            "2d",
            "--description",
            "Orders",
        ],
    );
    assert_eq!(v["retention"], "2d");
    let out = cli(&s, &["bus", "list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("orders") && table.contains("Orders"),
        "{table}"
    );
    let v = ok_json(&s, &["bus", "get", "orders"]);
    assert_eq!(v["name"], "orders");
    assert!(cli(&s, &["bus", "delete", "orders"]).status.success());
    let out = cli(&s, &["bus", "get", "orders"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404") && err.contains("orders"), "{err}");
}

#[tokio::test]
async fn put_from_flags_file_and_stdin() {
    let s = Server::start();
    let v = ok_json(
        &s,
        &[
            "put",
            "--type",
            "com.example.ping",
            "--source",
            "/cli",
            "--id",
            "p1",
            "--data",
            r#"{"a":1}"#,
            "--ext",
            "tenant=acme",
            "--subject",
            "s",
        ],
    );
    assert_eq!(v["accepted"], 1);
    let (_, e) = get(&s, "/v1/buses/default/events/p1").await;
    assert_eq!(e["data"], serde_json::json!({"a": 1}));
    assert_eq!(e["tenant"], "acme");
    assert_eq!(e["datacontenttype"], "application/json");

    let v = ok_json(&s, &["put", "--type", "t", "--data", "plain words"]);
    assert_eq!(v["accepted"], 1);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let mut lines = String::new();
    for i in 0..1200 {
        lines.push_str(&format!(r#"{{"id":"f{i}","source":"/file","type":"t"}}"#));
        lines.push('\n');
    }
    lines.push('\n');
    std::fs::write(&file, &lines).unwrap();
    let v = ok_json(
        &s,
        &[
            "put",
            "--file",
            file.to_str().unwrap(),
            "--batch-size",
            "500",
        ],
    );
    assert_eq!(v["accepted"], 1200);

    // stdin, with one invalid line: exit status 2 and the reason printed.
    let mut child = Command::new(&*BIN)
        .args(["--server", &s.base, "put", "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":\"s1\",\"source\":\"/in\",\"type\":\"t\"}\n{\"id\":\"s2\",\"source\":\"/in\",\"type\":\"t\",\"time\":\"later\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("accepted 1, failed 1") && text.contains("time"),
        "{text}"
    );
    assert_eq!(all_events(&s, "default").await.len(), 1203);
}

#[tokio::test]
async fn events_list_get_and_tail() {
    let s = Server::start();
    let batch: Vec<_> = (0..3).map(|i| event(&format!("e{i}"))).collect();
    assert_eq!(
        post_batch(&s, "default", &serde_json::json!(batch)).await.0,
        200
    );
    let v = ok_json(&s, &["events", "list", "--after", "1"]);
    assert_eq!(v["events"].as_array().unwrap().len(), 2);
    let v = ok_json(&s, &["events", "get", "e2"]);
    assert_eq!(v["seq"], 3);
    let out = cli(
        &s,
        &[
            "--output",
            "json",
            "events",
            "tail",
            "--from-start",
            "-n",
            "3",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["id"], "e2");
}

#[tokio::test]
async fn bench_ingest_runs_against_the_server() {
    let s = Server::start();
    let v = ok_json(
        &s,
        &[
            "bench", "ingest", "-c", "4", "-n", "2000", "-b", "50", "-s", "512",
        ],
    );
    assert_eq!(v["events"], 2000);
    assert_eq!(v["errors"], 0);
    assert!(v["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert_eq!(v["data"], "padded");
    // The server's CPU time over the run, read from its /metrics.
    assert!(v["server_cpu_seconds"].as_f64().unwrap() >= 0.0, "{v}");
    assert!(v["server_cpu_us_per_event"].is_number(), "{v}");
    let v = ok_json(
        &s,
        &[
            "bench", "ingest", "-c", "2", "-n", "300", "--data", "orders",
        ],
    );
    assert_eq!(v["events"], 300);
    assert_eq!(v["mode"], "binary");
    assert_eq!(v["data"], "orders");
    let events = all_events(&s, "bench").await;
    assert_eq!(events.len(), 2300);
    // The order documents arrive as JSON data, distinct per connection.
    let orders: std::collections::HashSet<String> = events
        .iter()
        .filter(|e| e["data"].get("orderId").is_some())
        .map(|e| e["data"]["orderId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(orders.len(), 2);
    // Several buses at once: the connections take turns, each bus is
    // created and gets its share, and the figures are the sum.
    let v = ok_json(
        &s,
        &[
            "bench", "ingest", "-c", "3", "-n", "3000", "-b", "100", "--buses", "3",
        ],
    );
    assert_eq!(v["events"], 3000, "{v}");
    assert_eq!(v["buses"], 3, "{v}");
    let mut per_bus = Vec::new();
    for i in 1..=3 {
        per_bus.push(all_events(&s, &format!("bench-{i}")).await.len());
    }
    assert_eq!(per_bus.iter().sum::<usize>(), 3000, "{per_bus:?}");
    assert!(per_bus.iter().all(|&n| n > 0), "{per_bus:?}");
    assert_eq!(all_events(&s, "bench").await.len(), 2300);
}

#[tokio::test]
async fn bench_deliver_counts_every_delivery_and_cleans_up() {
    let s = Server::start();
    let v = ok_json(
        &s,
        &[
            "bench",
            "deliver",
            "-c",
            "2",
            "-n",
            "500",
            "-b",
            "50",
            "--rules",
            "2",
            "--failing-targets",
            "1",
        ],
    );
    assert_eq!(v["ingest"]["events"], 500);
    assert_eq!(v["expected_deliveries"], 1000);
    assert_eq!(v["deliveries"], 1000, "{v}");
    assert_eq!(v["per_target"], serde_json::json!([500, 500]));
    assert!(v["failing_attempts"].as_u64().unwrap() > 0);
    assert!(v["end_to_end_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(v["server_cpu_us_per_delivery"].is_number(), "{v}");
    // The benchmark's rules are gone afterwards.
    for r in 0..2 {
        let (st, _) = get(&s, &format!("/v1/buses/bench/rules/bench-deliver-{r}")).await;
        assert_eq!(st, 404);
    }
    let v = ok_json(
        &s,
        &["bench", "deliver", "-c", "2", "-n", "200", "--rate", "2000"],
    );
    assert_eq!(v["deliveries"], 200, "{v}");
    assert_eq!(v["ingest"]["rate"], 2000.0);
    assert!(v["warmup"].is_null(), "{v}");
    // With a warm-up, its events are delivered first (and used up at the
    // failing target) and only what follows is counted and measured.
    let v = ok_json(
        &s,
        &[
            "bench",
            "deliver",
            "-c",
            "2",
            "-n",
            "200",
            "--rate",
            "2000",
            "--warmup",
            "300ms",
            "--failing-targets",
            "1",
        ],
    );
    assert_eq!(v["warmup"]["duration"], "300ms", "{v}");
    assert!(v["warmup"]["events"].as_u64().unwrap() >= 100, "{v}");
    assert_eq!(v["ingest"]["events"], 200, "{v}");
    assert_eq!(v["expected_deliveries"], 200, "{v}");
    assert_eq!(v["deliveries"], 200, "{v}");
    assert_eq!(v["per_target"], serde_json::json!([200]), "{v}");
    // Batch-mode targets: every event of every batch is counted once.
    let args: Vec<&str> = "bench deliver -c 2 -n 600 -b 100 --rules 2 --target-batch-size 50"
        .split(' ')
        .collect();
    let v = ok_json(&s, &args);
    assert_eq!(v["target_batch_size"], 50);
    assert_eq!(v["deliveries"], 1200, "{v}");
    assert_eq!(v["per_target"], serde_json::json!([600, 600]));
}

#[tokio::test]
async fn bench_jetstream_stores_what_it_counts() {
    let nats = crate::brokers::Nats::start();
    let run = |n: &str| {
        let out = Command::new(&*BIN)
            .args(["--output", "json", "bench", "jetstream", "--nats"])
            .arg(nats.url())
            .args([
                "-c", "2", "-b", "50", "-s", "512", "--data", "orders", "-n", n,
            ])
            .output()
            .expect("run signalbox");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON report")
    };
    let v = run("1000");
    assert_eq!(v["mode"], "jetstream");
    assert_eq!(v["events"], 1000);
    assert_eq!(v["event_bytes"], 512);
    // Every counted message is in the stream, at its size; a second run
    // starts from an empty stream.
    let v = run("120");
    assert_eq!(v["events"], 120);
    assert_eq!(v["data"], "orders");
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let mut stream = js.get_stream("SIGNALBOX_BENCH").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 120);
    let last = stream
        .get_last_raw_message_by_subject("signalbox.bench.signalbox_bench")
        .await
        .unwrap();
    assert_eq!(last.payload.len(), 512);
    let order: Value = serde_json::from_slice(&last.payload).expect("an order document");
    assert!(order["items"].is_array(), "{order}");
}

#[tokio::test]
async fn a_closed_stdout_pipe_ends_the_client_quietly() {
    let s = Server::start();
    // Enough lines that the client is still printing when the reader goes.
    let batch: Vec<Value> = (0..1000).map(|i| event(&format!("e{i}"))).collect();
    assert_eq!(post_batch(&s, "default", &Value::Array(batch)).await.0, 200);
    let mut child = Command::new(&*BIN)
        .arg("--server")
        .arg(&s.base)
        .args([
            "--output", "json", "events", "list", "--bus", "default", "--limit", "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run signalbox");
    // Read one byte, then close the pipe, like `| head -c1`.
    let mut stdout = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut one).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}
