//! Starting and stopping the real `signalbox` binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_signalbox");

/// A running server on an ephemeral loopback port with its own data folder.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    data_dir: PathBuf,
    config: Option<PathBuf>,
    _tmp: Option<tempfile::TempDir>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server on a fresh temporary data folder.
    pub fn start() -> Server {
        Self::start_with_config("")
    }

    /// Starts a server with this TOML config on a fresh data folder.
    pub fn start_with_config(toml: &str) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        let config = (!toml.is_empty()).then(|| {
            let p = tmp.path().join("signalbox.toml");
            std::fs::write(&p, toml).expect("write config");
            p
        });
        let mut s = Self::spawn(&data_dir, config.as_deref());
        s._tmp = Some(tmp);
        s
    }

    fn spawn(data_dir: &Path, config: Option<&Path>) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("SIGNALBOX_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd.spawn().expect("start signalbox");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; log:\n{}", log.lock().unwrap());
            }
        };
        Server {
            child: Some(child),
            base,
            data_dir: data_dir.to_owned(),
            config: config.map(Path::to_owned),
            _tmp: None,
            log,
        }
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Kills the process with SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("server did not stop after SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same data folder and config.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        let mut next = Self::spawn(&self.data_dir.clone(), self.config.clone().as_deref());
        self.child = next.child.take();
        self.base = std::mem::take(&mut next.base);
        self.log = next.log.clone();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP client for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A minimal valid structured event.
pub fn event(id: &str) -> Value {
    serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": "/tests",
        "type": "com.example.test",
        "datacontenttype": "application/json",
        "data": {"n": id},
    })
}

/// POSTs a structured event; returns status and JSON body.
pub async fn post_structured(s: &Server, bus: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(s.url(&format!("/v1/buses/{bus}/events")))
        .header("content-type", "application/cloudevents+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    status_json(r).await
}

/// POSTs a batch; returns status and JSON body.
pub async fn post_batch(s: &Server, bus: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(s.url(&format!("/v1/buses/{bus}/events")))
        .header("content-type", "application/cloudevents-batch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    status_json(r).await
}

/// Status and JSON body (Null if the body is empty or not JSON). Asserts
/// that error responses are problem documents.
pub async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(ct, "application/problem+json", "error body: {text}");
        assert_eq!(v["status"], status, "problem status: {text}");
        assert!(
            v["title"].is_string() && v["detail"].is_string() && v["type"].is_string(),
            "{text}"
        );
    }
    (status, v)
}

/// GETs a path and returns status and JSON.
pub async fn get(s: &Server, path: &str) -> (u16, Value) {
    status_json(client().get(s.url(path)).send().await.unwrap()).await
}

/// Reads every stored event of a bus.
pub async fn all_events(s: &Server, bus: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let (st, v) = get(
            s,
            &format!("/v1/buses/{bus}/events?after={after}&limit=1000"),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        let events = v["events"].as_array().unwrap().clone();
        if events.is_empty() {
            return out;
        }
        after = v["next"].as_u64().unwrap();
        out.extend(events);
    }
}

/// Publishes batches built by `batch(worker, i)` to the default bus from
/// `workers` connections for `load_for`, then kills the server with SIGKILL
/// while requests are still in flight. Returns the ids of every event that
/// got a 200 (a request cut by the kill is not acknowledged).
pub async fn publish_then_kill9(
    s: &mut Server,
    workers: usize,
    load_for: Duration,
    batch: fn(usize, usize) -> Vec<Value>,
) -> std::collections::HashSet<String> {
    let acked: Arc<Mutex<std::collections::HashSet<String>>> = Default::default();
    let stop_at = Instant::now() + load_for;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let url = s.url("/v1/buses/default/events");
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            for i in 0.. {
                let batch = batch(w, i);
                let r = c
                    .post(&url)
                    .header("content-type", "application/cloudevents-batch+json")
                    .body(Value::from(batch.clone()).to_string())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        let mut a = acked.lock().unwrap();
                        for e in &batch {
                            a.insert(e["id"].as_str().unwrap().to_owned());
                        }
                    }
                    _ => return,
                }
            }
        }));
    }
    while Instant::now() < stop_at {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.kill9();
    for t in tasks {
        t.await.unwrap();
    }
    acked.lock().unwrap().clone()
}
