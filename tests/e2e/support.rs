//! Starting and stopping the real `signalbox` binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test: the one this build made, unless
/// `SIGNALBOX_TEST_BIN` names another (say, an older release, to show that
/// a test fails without the fix it pins).
pub static BIN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    std::env::var("SIGNALBOX_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_signalbox").to_owned())
});

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
        Self::start_opts(toml, None)
    }

    /// Starts a server on a copy of the data folder `fixture` (which is left
    /// as it is).
    pub fn start_from(fixture: &Path) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        copy_dir(fixture, &data_dir);
        let mut s = Self::spawn(&data_dir, None, true);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server with this TOML config whose process may open at most
    /// `nofile` files (`ulimit -n`), for tests that exhaust descriptors.
    pub fn start_with_nofile(toml: &str, nofile: u32) -> Server {
        Self::start_opts(toml, Some(nofile))
    }

    fn start_opts(toml: &str, nofile: Option<u32>) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        let config = (!toml.is_empty()).then(|| {
            let p = tmp.path().join("signalbox.toml");
            std::fs::write(&p, toml).expect("write config");
            p
        });
        let mut s = Self::spawn_with(&data_dir, config.as_deref(), nofile, true);
        s._tmp = Some(tmp);
        s
    }

    fn spawn(data_dir: &Path, config: Option<&Path>, wait_ready: bool) -> Server {
        Self::spawn_with(data_dir, config, None, wait_ready)
    }

    fn spawn_with(
        data_dir: &Path,
        config: Option<&Path>,
        nofile: Option<u32>,
        wait_ready: bool,
    ) -> Server {
        let mut cmd = match nofile {
            None => Command::new(&*BIN),
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(&*BIN);
                c
            }
        };
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
        if wait_ready && !wait_until_ready(&base, Duration::from_secs(120)) {
            let _ = child.kill();
            panic!("server did not become ready; log:\n{}", log.lock().unwrap());
        }
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

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// CPU time (user + system) the server has used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name, which is in parentheses.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
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

    /// Starts the server again on the same data folder and config, and
    /// waits until it is ready (`/readyz`).
    pub fn restart(&mut self) {
        self.restart_with(true);
    }

    /// Starts the server again and returns as soon as it listens, before it
    /// is ready.
    pub fn restart_listening(&mut self) {
        self.restart_with(false);
    }

    fn restart_with(&mut self, wait_ready: bool) {
        assert!(self.child.is_none(), "stop the server first");
        let mut next = Self::spawn(
            &self.data_dir.clone(),
            self.config.clone().as_deref(),
            wait_ready,
        );
        self.child = next.child.take();
        self.base = std::mem::take(&mut next.base);
        self.log = next.log.clone();
    }
}

/// Polls `GET /readyz` until it answers 200 (plain HTTP only; a TLS server
/// is taken as ready once it listens). False if it never did within `limit`.
fn wait_until_ready(base: &str, limit: Duration) -> bool {
    use std::io::{Read, Write};
    let Some(addr) = base.strip_prefix("http://") else {
        return true;
    };
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(mut c) = std::net::TcpStream::connect(addr) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let req = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            if c.write_all(req.as_bytes()).is_ok()
                && c.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
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

/// PUTs JSON to a path; returns status and JSON body.
pub async fn put_json(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    status_json(client().put(s.url(path)).json(body).send().await.unwrap()).await
}

/// POSTs JSON to a path; returns status and JSON body.
pub async fn post_json(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    status_json(client().post(s.url(path)).json(body).send().await.unwrap()).await
}

/// Polls `f` every 50 ms until it returns true; panics after `secs`.
pub async fn wait_until(secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads a plugin component from a file; returns status and JSON body.
pub async fn upload_plugin(s: &Server, name: &str, version: &str, path: &str) -> (u16, Value) {
    let bytes = std::fs::read(path).unwrap();
    status_json(
        client()
            .put(s.url(&format!("/v1/plugins/{name}/versions/{version}")))
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The server's metrics, parsed: series (name with labels) to value.
pub async fn scrape(s: &Server) -> std::collections::HashMap<String, f64> {
    let r = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    let mut out = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').expect("name value");
        out.insert(
            name.to_owned(),
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("bad value in {line}")),
        );
    }
    out
}

/// Copies a folder tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
