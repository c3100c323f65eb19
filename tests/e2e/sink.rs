//! `signalbox sink`: the stand-in receiver the examples use, fed by a real
//! server's rules.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// A running `signalbox sink` and the address it printed.
struct Sink {
    child: Child,
    url: String,
}

impl Sink {
    fn start(args: &[&str]) -> Sink {
        let mut child = Command::new(&*BIN)
            .arg("sink")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start signalbox sink");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        // Keep draining stderr.
        std::thread::spawn(move || for _ in stderr.lines() {});
        Sink { child, url }
    }

    /// Waits for the sink to exit by itself; returns its code and stdout.
    fn wait(mut self, secs: u64) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut out = String::new();
                use std::io::Read;
                self.child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                return (status.code(), out);
            }
            assert!(Instant::now() < deadline, "the sink did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn put_rule(s: &Server, name: &str, rule: Value) {
    let (st, v) = status_json(
        client()
            .put(s.url(&format!("/v1/buses/default/rules/{name}")))
            .json(&rule)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{v}");
}

#[tokio::test]
async fn sink_prints_records_and_exits_when_it_has_what_it_expects() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("inventory.jsonl");
    // Three requests: the first is refused (503), retried, then two
    // events arrive.
    let sink = Sink::start(&[
        "--name",
        "inventory",
        "--fail-first",
        "1",
        "--record",
        record.to_str().unwrap(),
        "--expect",
        "3",
        "--timeout",
        "60s",
    ]);
    put_rule(
        &s,
        "inv",
        json!({"pattern": {"source": ["/shop"]},
               "targets": [{"id": "inventory", "type": "http", "url": format!("{}/stock", sink.url), "mode": "binary",
                            "concurrency": 1,
                            "retry": {"max_attempts": 5, "backoff": {"initial": "50ms", "max": "100ms", "jitter": false}}}]}),
    )
    .await;
    let mut a = event("a");
    a["source"] = json!("/shop");
    a["data"] = json!({"sku": "sku-1", "qty": 2});
    let mut b = event("b");
    b["source"] = json!("/shop");
    assert_eq!(post_batch(&s, "default", &json!([a])).await.0, 200);
    // Let the first event be refused and retried before the second one.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&record)
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "the first event never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(post_batch(&s, "default", &json!([b])).await.0, 200);
    let (code, out) = sink.wait(60);
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(
            "[inventory] POST /stock application/json id=a type=com.example.test -> 503"
        ),
        "{out}"
    );
    assert!(
        lines[1].contains("id=a") && !lines[1].contains("->"),
        "{out}"
    );
    assert!(lines[1].contains(r#""sku":"sku-1""#), "{out}");
    assert!(lines[2].contains("id=b"), "{out}");

    let records: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["status"], 503);
    assert_eq!(records[1]["status"], 200);
    assert_eq!(records[1]["sink"], "inventory");
    assert_eq!(records[1]["method"], "POST");
    assert_eq!(records[1]["path"], "/stock");
    assert_eq!(records[1]["headers"]["ce-id"], "a");
    assert_eq!(records[1]["headers"]["ce-source"], "/shop");
    assert_eq!(records[1]["body"], json!({"sku": "sku-1", "qty": 2}));
    assert_eq!(
        records[1]["events"],
        json!([{"id": "a", "type": "com.example.test", "source": "/shop"}])
    );
    assert_eq!(records[2]["events"][0]["id"], "b");
}

#[tokio::test]
async fn sink_json_output_structured_events_and_timeout() {
    let s = Server::start();
    let sink = Sink::start(&[
        "--output",
        "json",
        "--expect",
        "5",
        "--timeout",
        "10s",
        "--status",
        "202",
    ]);
    put_rule(
        &s,
        "all",
        json!({"pattern": {"source": ["/tests"]},
               "targets": [{"id": "t", "type": "http", "url": sink.url, "mode": "structured"}]}),
    )
    .await;
    assert_eq!(
        post_batch(&s, "default", &json!([event("x"), event("y")]))
            .await
            .0,
        200
    );
    // Only two of the five expected requests come: exit status 1.
    let (code, out) = sink.wait(30);
    assert_eq!(code, Some(1), "{out}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    let mut ids: Vec<&str> = lines
        .iter()
        .map(|l| l["events"][0]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["x", "y"]);
    assert_eq!(lines[0]["status"], 202);
    assert_eq!(lines[0]["content_type"], "application/cloudevents+json");
    assert_eq!(lines[0]["body"]["specversion"], "1.0");
}
