//! A real HTTP receiver on loopback that records what it gets and answers
//! with a status the test controls.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One received request.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub path: String,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

struct State {
    got: Mutex<Vec<Received>>,
    /// Status to answer with (200 by default).
    status: AtomicU16,
    /// Answer the first N requests with `fail_status`.
    fail_first: AtomicU64,
    fail_status: AtomicU16,
    calls: AtomicU64,
}

/// A receiver running in the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<State>,
}

impl Receiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Receiver {
        let state = Arc::new(State {
            got: Mutex::new(Vec::new()),
            status: AtomicU16::new(200),
            fail_first: AtomicU64::new(0),
            fail_status: AtomicU16::new(503),
            calls: AtomicU64::new(0),
        });
        let s = state.clone();
        let handler = move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let n = s.calls.fetch_add(1, Ordering::SeqCst);
                s.got.lock().unwrap().push(Received {
                    headers,
                    body,
                    path: uri.path().to_owned(),
                });
                let status = if n < s.fail_first.load(Ordering::SeqCst) {
                    s.fail_status.load(Ordering::SeqCst)
                } else {
                    s.status.load(Ordering::SeqCst)
                };
                let status = StatusCode::from_u16(status).unwrap();
                // A failure says why, as receivers do; traces keep the start
                // of it (for admins).
                let body = if status.is_success() {
                    ""
                } else {
                    "the receiver refused this delivery"
                };
                (status, body)
            }
        };
        let app = axum::Router::new()
            .route("/{*path}", post(handler.clone()))
            .route("/", post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, state }
    }

    /// Answer every request with `status` from now on.
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Answer the next `n` requests with `status`.
    pub fn fail_first(&self, n: u64, status: u16) {
        let calls = self.state.calls.load(Ordering::SeqCst);
        self.state.fail_status.store(status, Ordering::SeqCst);
        self.state.fail_first.store(calls + n, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// Requests answered so far.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived (or panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests, got {} after {secs}s",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
