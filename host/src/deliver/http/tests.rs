//! Tests of the HTTP target against real loopback servers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes as AxumBytes;
use axum::extract::State;
use axum::http::{HeaderMap as AxumHeaders, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::sync::watch;

use super::*;
use crate::event::json::{parse_structured, to_json_string};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    method: String,
    headers: AxumHeaders,
    body: Vec<u8>,
}

struct Server {
    addr: SocketAddr,
    state: Arc<ServerState>,
}

struct ServerState {
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    release: watch::Sender<bool>,
}

impl Server {
    async fn start() -> Server {
        let state = Arc::new(ServerState {
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            release: watch::channel(false).0,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.seen().pop().expect("a request arrived")
    }
}

/// Behaviour by path:
/// `/ok`, `/status/{code}`, `/retry-after/{code}/{value}`, `/slow`,
/// `/hold` (until released), `/big-error`, `/redirect`.
async fn handle(
    State(st): State<Arc<ServerState>>,
    method: axum::http::Method,
    uri: Uri,
    headers: AxumHeaders,
    body: AxumBytes,
) -> Response {
    let path = uri.path().to_owned();
    st.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        method: method.to_string(),
        headers,
        body: body.to_vec(),
    });
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["ok"] => (StatusCode::OK, "fine").into_response(),
        ["status", code] => {
            let code = StatusCode::from_u16(code.parse().unwrap()).unwrap();
            (code, "  something went wrong\n").into_response()
        }
        ["retry-after", code, value] => {
            let code = StatusCode::from_u16(code.parse().unwrap()).unwrap();
            let value = value.replace("%20", " ").replace("%2C", ",");
            (code, [("retry-after", value)], "slow down").into_response()
        }
        ["slow"] => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        ["hold"] => {
            let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            st.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let mut rx = st.release.subscribe();
            let _ = rx.wait_for(|released| *released).await;
            st.in_flight.fetch_sub(1, Ordering::SeqCst);
            StatusCode::NO_CONTENT.into_response()
        }
        ["big-error"] => {
            let mut body = "é".repeat(300);
            body.push_str(&"x".repeat(1 << 20));
            (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
        }
        ["redirect"] => (StatusCode::FOUND, [("location", "/ok")], "moved").into_response(),
        ["token"] => (
            StatusCode::OK,
            [("content-type", "application/json")],
            r#"{"access_token": "tok-7", "token_type": "Bearer", "expires_in": 3600}"#,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Waits (up to a generous 10 s, as a liveness guard) until `cond` holds.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn event(json: &str) -> CloudEvent {
    parse_structured(json.as_bytes()).unwrap().unwrap()
}

const FULL: &str = r#"{"specversion":"1.0","id":"o-1","source":"/shop/eu","type":"order.created",
    "subject":"Zoë \"1001\" 100%","time":"2024-05-01T12:00:00Z","dataschema":"https://example.com/s.json",
    "datacontenttype":"application/json","partitionkey":"customer 7","priority":5,"urgent":true,
    "data":{"total": 120.50}}"#;

fn target(url: &str, extra: &str) -> HttpTarget {
    let json = format!(r#"{{"url": "{url}"{extra}}}"#);
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// Longest `Retry-After` honoured by the senders these tests build (the
/// default retry policy's longest delay).
const RETRY_MAX: Duration = Duration::from_secs(300);

fn sender(url: &str, extra: &str) -> HttpSender {
    target(url, extra).build("t1", RETRY_MAX).unwrap()
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers.get(name).map(|v| v.to_str().unwrap())
}

fn ce_headers(seen: &Seen) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = seen
        .headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("ce-"))
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn binary_mode_wire_format() {
    let server = Server::start().await;
    let s = sender(&server.url("/ok"), "");
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Delivered, "{out:?}");
    assert_eq!(out.status, Some(200));
    assert_eq!(out.error, None);
    let seen = server.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/ok");
    let expected: Vec<(String, String)> = [
        ("ce-dataschema", "https://example.com/s.json"),
        ("ce-id", "o-1"),
        ("ce-partitionkey", "customer%207"),
        ("ce-priority", "5"),
        ("ce-source", "/shop/eu"),
        ("ce-specversion", "1.0"),
        ("ce-subject", "Zo%C3%AB%20%221001%22%20100%25"),
        ("ce-time", "2024-05-01T12:00:00Z"),
        ("ce-type", "order.created"),
        ("ce-urgent", "true"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(ce_headers(&seen), expected);
    assert_eq!(header(&seen, "content-type"), Some("application/json"));
    assert_eq!(header(&seen, "user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("signalbox/"));
    assert_eq!(
        header(&seen, "host"),
        Some(server.addr.to_string().as_str())
    );
    assert_eq!(seen.body, br#"{"total": 120.50}"#);
    // Nothing else: the ce- headers above plus what HTTP/1.1 needs.
    let mut names: Vec<&str> = seen
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| !n.starts_with("ce-"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "user-agent"
        ]
    );
    assert_eq!(header(&seen, "content-length"), Some("17"));
}

#[tokio::test]
async fn binary_mode_data_variants() {
    let server = Server::start().await;
    let s = sender(&server.url("/ok"), r#", "mode": "binary""#);
    // JSON data without a datacontenttype is sent as application/json.
    s.send(
        &event(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":[1]}"#),
        None,
    )
    .await;
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), Some("application/json"));
    assert_eq!(seen.body, b"[1]");
    // Binary data keeps its bytes and type.
    s.send(
        &event(r#"{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}"#),
        None,
    )
    .await;
    let seen = server.last();
    assert_eq!(
        header(&seen, "content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(seen.body, [0, 1, 2, 255]);
    // Text data.
    s.send(
        &event(r#"{"specversion":"1.0","id":"3","source":"/s","type":"t","datacontenttype":"text/xml","data":"<a/>"}"#),
        None,
    )
    .await;
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), Some("text/xml"));
    assert_eq!(seen.body, b"<a/>");
    // No data: empty body, no content type.
    s.send(
        &event(r#"{"specversion":"1.0","id":"4","source":"/s","type":"t"}"#),
        None,
    )
    .await;
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), None);
    assert!(seen.body.is_empty());
    assert_eq!(
        ce_headers(&seen),
        [
            ("ce-id".to_string(), "4".to_string()),
            ("ce-source".into(), "/s".into()),
            ("ce-specversion".into(), "1.0".into()),
            ("ce-type".into(), "t".into()),
        ]
    );
}

#[tokio::test]
async fn structured_mode_wire_format() {
    let server = Server::start().await;
    let s = sender(&server.url("/ok"), r#", "mode": "structured""#);
    let e = event(FULL);
    let out = s.send(&e, None).await;
    assert_eq!(out.action, RetryAction::Delivered);
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), Some(STRUCTURED_CONTENT_TYPE));
    assert!(ce_headers(&seen).is_empty());
    assert_eq!(seen.body, to_json_string(&e).as_bytes());
    assert_eq!(event(std::str::from_utf8(&seen.body).unwrap()), e);
}

#[tokio::test]
async fn batch_mode_sends_the_events_as_one_json_batch() {
    let server = Server::start().await;
    let s = sender(
        &server.url("/ok"),
        r#", "mode": "batch", "batch_size": 3, "headers": {"X-Tenant": "acme"}"#,
    );
    assert_eq!(s.batch_size(), 3);
    let mut second = event(FULL);
    second.id = "o-2".into();
    let (a, b) = (event(FULL), second);
    let out = s.send_batch(&[&a, &b]).await;
    assert_eq!(out.action, RetryAction::Delivered);
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), Some(BATCH_CONTENT_TYPE));
    assert_eq!(header(&seen, "x-tenant"), Some("acme"));
    assert!(ce_headers(&seen).is_empty());
    let got = crate::event::json::parse_batch(&seen.body).unwrap();
    let got: Vec<CloudEvent> = got.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, vec![a.clone(), b]);
    // One event through `send` is a batch of one.
    assert_eq!(s.send(&a, None).await.action, RetryAction::Delivered);
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), Some(BATCH_CONTENT_TYPE));
    assert_eq!(seen.body, format!("[{}]", to_json_string(&a)).as_bytes());
    // The response decides for the whole request.
    let failing = sender(&server.url("/status/503"), r#", "mode": "batch""#);
    assert_eq!(failing.batch_size(), DEFAULT_BATCH_SIZE);
    let out = failing.send_batch(&[&a, &a]).await;
    assert!(matches!(out.action, RetryAction::Retry { .. }), "{out:?}");
}

#[tokio::test]
async fn other_modes_send_one_event_per_request() {
    let server = Server::start().await;
    let s = sender(&server.url("/ok"), r#", "mode": "structured""#);
    assert_eq!(s.batch_size(), 1);
    let e = event(FULL);
    assert_eq!(s.send_batch(&[&e]).await.action, RetryAction::Delivered);
    assert_eq!(server.last().body, to_json_string(&e).as_bytes());
    let out = s.send_batch(&[&e, &e]).await;
    assert_eq!(out.action, RetryAction::DeadLetter);
    assert!(out.error.unwrap().contains("one event per request"));
    assert_eq!(server.seen().len(), 1, "no request for a refused batch");
}

#[tokio::test]
async fn body_mode_wire_format() {
    let server = Server::start().await;
    let s = sender(
        &server.url("/ok"),
        r#", "mode": "body", "headers": {"X-Source": "signalbox"}"#,
    );
    let e = event(FULL);
    let body = Body {
        bytes: Bytes::from_static(b"Order o-1 shipped"),
        content_type: "text/plain; charset=utf-8".into(),
    };
    assert_eq!(s.send(&e, Some(&body)).await.action, RetryAction::Delivered);
    let seen = server.last();
    assert_eq!(
        header(&seen, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&seen, "x-source"), Some("signalbox"));
    assert!(ce_headers(&seen).is_empty());
    assert_eq!(seen.body, b"Order o-1 shipped");
    // Without a transformed body: the event's data.
    s.send(&e, None).await;
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), Some("application/json"));
    assert_eq!(seen.body, br#"{"total": 120.50}"#);
    // A configured content-type wins in body mode.
    let s = sender(
        &server.url("/ok"),
        r#", "mode": "body", "headers": {"Content-Type": "application/vnd.acme+json", "ce-custom": "x"}"#,
    );
    s.send(&e, Some(&body)).await;
    let seen = server.last();
    assert_eq!(
        header(&seen, "content-type"),
        Some("application/vnd.acme+json")
    );
    assert_eq!(header(&seen, "ce-custom"), Some("x"));
}

#[tokio::test]
async fn transformed_body_is_ignored_outside_body_mode() {
    let server = Server::start().await;
    let s = sender(&server.url("/ok"), "");
    let body = Body {
        bytes: Bytes::from_static(b"ignored"),
        content_type: "text/plain".into(),
    };
    s.send(&event(FULL), Some(&body)).await;
    assert_eq!(server.last().body, br#"{"total": 120.50}"#);
}

#[tokio::test]
async fn transform_output_end_to_end() {
    let server = Server::start().await;
    let s = sender(&server.url("/ok"), r#", "mode": "body""#);
    let t: crate::chain::template::TransformConfig = serde_json::from_str(
        r#"{"paths": {"total": "$.data.total"}, "template": "{\"text\": \"Order <id>: <total> EUR\"}", "output": "body"}"#,
    )
    .unwrap();
    let crate::chain::template::Output::Body(b) = t.compile().unwrap().apply(&event(FULL)).unwrap()
    else {
        panic!("a body")
    };
    s.send(&event(FULL), Some(&b)).await;
    let seen = server.last();
    assert_eq!(header(&seen, "content-type"), Some("application/json"));
    assert_eq!(seen.body, br#"{"text": "Order o-1: 120.50 EUR"}"#);
}

#[tokio::test]
async fn auth_variants_and_custom_headers() {
    let server = Server::start().await;
    let e = event(FULL);

    let s = sender(
        &server.url("/ok"),
        r#", "auth": {"basic": {"username": "user", "password": "p@ss:wörd"}}, "headers": {"X-Tenant": "acme", "X-Empty": ""}"#,
    );
    s.send(&e, None).await;
    let seen = server.last();
    let expected = base64::engine::general_purpose::STANDARD.encode("user:p@ss:wörd");
    assert_eq!(
        header(&seen, "authorization"),
        Some(format!("Basic {expected}").as_str())
    );
    assert_eq!(header(&seen, "x-tenant"), Some("acme"));
    assert_eq!(header(&seen, "x-empty"), Some(""));

    let s = sender(&server.url("/ok"), r#", "auth": {"bearer": "tok.en-1"}"#);
    s.send(&e, None).await;
    assert_eq!(
        header(&server.last(), "authorization"),
        Some("Bearer tok.en-1")
    );

    let s = sender(
        &server.url("/ok"),
        r#", "auth": {"api_key": {"header": "X-Api-Key", "value": "k3y"}}"#,
    );
    s.send(&e, None).await;
    let seen = server.last();
    assert_eq!(header(&seen, "x-api-key"), Some("k3y"));
    assert_eq!(header(&seen, "authorization"), None);

    // A configured User-Agent replaces ours.
    let s = sender(
        &server.url("/ok"),
        r#", "headers": {"User-Agent": "custom/1"}"#,
    );
    s.send(&e, None).await;
    assert_eq!(header(&server.last(), "user-agent"), Some("custom/1"));
}

#[tokio::test]
async fn status_classification() {
    let server = Server::start().await;
    let e = event(FULL);
    for (path, action, status) in [
        ("/status/200", RetryAction::Delivered, 200),
        ("/status/202", RetryAction::Delivered, 202),
        ("/status/204", RetryAction::Delivered, 204),
        ("/status/400", RetryAction::DeadLetter, 400),
        ("/status/401", RetryAction::DeadLetter, 401),
        ("/status/403", RetryAction::DeadLetter, 403),
        ("/status/404", RetryAction::DeadLetter, 404),
        ("/status/413", RetryAction::DeadLetter, 413),
        ("/status/408", RetryAction::Retry { after: None }, 408),
        ("/status/429", RetryAction::Retry { after: None }, 429),
        ("/status/500", RetryAction::Retry { after: None }, 500),
        ("/status/502", RetryAction::Retry { after: None }, 502),
        ("/status/503", RetryAction::Retry { after: None }, 503),
        ("/redirect", RetryAction::DeadLetter, 302),
    ] {
        let out = sender(&server.url(path), "").send(&e, None).await;
        assert_eq!(out.action, action, "{path}: {out:?}");
        assert_eq!(out.status, Some(status), "{path}");
        if action == RetryAction::Delivered {
            assert_eq!(out.error, None);
        } else {
            let err = out.error.unwrap();
            assert!(err.starts_with(&format!("HTTP {status} ")), "{err}");
        }
    }
    let out = sender(&server.url("/status/500"), "").send(&e, None).await;
    assert_eq!(out.error.as_deref(), Some("HTTP 500 Internal Server Error"));
    assert_eq!(out.response.as_deref(), Some("something went wrong"));
    let out = sender(&server.url("/redirect"), "").send(&e, None).await;
    assert!(out.error.unwrap().contains("redirects are not followed"));
    // Not followed: the server saw only the redirecting request.
    assert_eq!(server.seen().iter().filter(|s| s.path == "/ok").count(), 0);
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped() {
    let server = Server::start().await;
    let e = event(FULL);
    // As a target whose retry policy's longest delay is one minute.
    let capped = |url: &str| {
        target(url, "")
            .build("t1", Duration::from_secs(60))
            .unwrap()
    };
    let out = capped(&server.url("/retry-after/429/7"))
        .send(&e, None)
        .await;
    assert_eq!(
        out.action,
        RetryAction::Retry {
            after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(out.status, Some(429));
    let out = capped(&server.url("/retry-after/503/3600"))
        .send(&e, None)
        .await;
    assert_eq!(
        out.action,
        RetryAction::Retry {
            after: Some(Duration::from_secs(60))
        },
        "capped at backoff.max"
    );
    let out = capped(&server.url("/retry-after/503/Sun%2C%2006%20Nov%201994%2008:49:37%20GMT"))
        .send(&e, None)
        .await;
    assert_eq!(
        out.action,
        RetryAction::Retry {
            after: Some(Duration::ZERO)
        },
        "an HTTP-date in the past"
    );
    // Ignored on other statuses.
    let out = capped(&server.url("/retry-after/500/7"))
        .send(&e, None)
        .await;
    assert_eq!(out.action, RetryAction::Retry { after: None });
}

#[tokio::test]
async fn large_error_bodies_are_truncated() {
    let server = Server::start().await;
    let out = sender(&server.url("/big-error"), "")
        .send(&event(FULL), None)
        .await;
    assert_eq!(out.action, RetryAction::Retry { after: None });
    assert_eq!(out.error.as_deref(), Some("HTTP 500 Internal Server Error"));
    // 512 bytes of 2-byte 'é' characters, cut at a character boundary.
    assert_eq!(out.response.unwrap(), "é".repeat(256));
}

#[tokio::test]
async fn timeout_is_retried() {
    let server = Server::start().await;
    let s = sender(&server.url("/slow"), r#", "timeout": "200ms""#);
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Retry { after: None });
    assert_eq!(out.status, None);
    let err = out.error.unwrap();
    assert!(err.starts_with("timed out: "), "{err}");
    assert!(!err.contains("127.0.0.1"), "no URL in the error: {err}");
    assert!(
        out.duration >= Duration::from_millis(100),
        "{:?}",
        out.duration
    );
}

#[tokio::test]
async fn connection_refused_is_retried() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s = sender(&format!("http://{addr}/x"), "");
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Retry { after: None }, "{out:?}");
    assert_eq!(out.status, None);
    let err = out.error.unwrap();
    assert!(err.starts_with("could not connect: "), "{err}");
}

/// A server that reads requests and writes `answer` to each; with `close`,
/// it then closes the connection once it gets a permit from it. It counts
/// the connections it accepted, and those that the client closed.
struct RawServer {
    url: String,
    accepted: Arc<AtomicUsize>,
    closed_by_client: Arc<AtomicUsize>,
}

impl RawServer {
    async fn start(answer: &'static str, close: Option<Arc<tokio::sync::Semaphore>>) -> RawServer {
        RawServer::start_with(answer, close, None).await
    }

    /// Answers a request whose body is larger than `early_above` as soon as
    /// its head is in, and then neither reads from that connection nor
    /// closes it, as a receiver that refuses large bodies early may.
    async fn start_with(
        answer: &'static str,
        close: Option<Arc<tokio::sync::Semaphore>>,
        early_above: Option<usize>,
    ) -> RawServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed_by_client = Arc::new(AtomicUsize::new(0));
        let (count, closed) = (accepted.clone(), closed_by_client.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (closed, close) = (closed.clone(), close.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    // Reads until `buf` holds `n` bytes; false at the end.
                    async fn fill(
                        conn: &mut tokio::net::TcpStream,
                        buf: &mut Vec<u8>,
                        done: impl Fn(&[u8]) -> bool,
                    ) -> bool {
                        while !done(buf) {
                            let mut chunk = [0u8; 4096];
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return false,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        true
                    }
                    loop {
                        // One request: the head, then content-length bytes.
                        let head_end = |b: &[u8]| b.windows(4).position(|w| w == b"\r\n\r\n");
                        if !fill(&mut conn, &mut buf, |b| head_end(b).is_some()).await {
                            closed.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        let end = head_end(&buf).unwrap() + 4;
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        if early_above.is_some_and(|limit| len > limit) {
                            let _ = conn.write_all(answer.as_bytes()).await;
                            std::future::pending::<()>().await;
                        }
                        if !fill(&mut conn, &mut buf, |b| b.len() >= end + len).await {
                            return;
                        }
                        buf.drain(..end + len);
                        if conn.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        if let Some(close) = &close {
                            close.acquire().await.unwrap().forget();
                            return;
                        }
                    }
                });
            }
        });
        RawServer {
            url,
            accepted,
            closed_by_client,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// The sender of an `http://` target, with its own connection pool even
/// when the environment sets a proxy.
fn plain_sender(url: &str) -> HttpSender {
    let mut s = sender(url, "");
    let url = reqwest::Url::parse(url).unwrap();
    s.plain = plain::PlainPool::for_url(&url, 8, false);
    s
}

/// `http://` targets keep their connection between requests, whatever
/// delimits the answer's body.
#[tokio::test]
async fn connections_are_kept_alive() {
    for answer in [
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ] {
        let server = RawServer::start(answer, None).await;
        let s = plain_sender(&server.url);
        for _ in 0..5 {
            let out = s.send(&event(FULL), None).await;
            assert_eq!(out.action, RetryAction::Delivered, "{answer}: {out:?}");
        }
        assert_eq!(server.accepted(), 1, "{answer}");
    }
}

/// A receiver that answers a large body before reading it leaves that
/// connection with a body it will never read. The answer counts at once
/// (the write does not hold it up), the connection is not kept (the rest of
/// its request was never written, so the next request cannot follow it),
/// and the next request opens another.
#[tokio::test]
async fn an_early_answer_counts_and_its_half_sent_connection_is_not_reused() {
    let server = RawServer::start_with(
        "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n",
        None,
        Some(1 << 20),
    )
    .await;
    let s = plain_sender(&server.url);
    // Far more than the sockets buffer, so the write is stuck.
    let mut big = event(FULL);
    big.data = Some(crate::event::Data::Json(
        format!("\"{}\"", "x".repeat(64 << 20)).into(),
    ));
    let out = s.send(&big, None).await;
    assert_eq!(out.status, Some(413), "{out:?}");
    assert_eq!(
        s.plain.as_ref().unwrap().idle_len(),
        0,
        "not kept: half sent"
    );
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.status, Some(413), "{out:?}");
    assert_eq!(server.accepted(), 2);
}

/// A connection idle for longer than the idle timeout is closed, not
/// reused, and closed even while the target is quiet.
#[tokio::test]
async fn idle_connections_expire() {
    let server = RawServer::start("HTTP/1.1 204 No Content\r\n\r\n", None).await;
    let mut s = plain_sender(&server.url);
    s.plain
        .as_mut()
        .unwrap()
        .set_idle_timeout(Duration::from_millis(50));
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Delivered, "{out:?}");
    assert_eq!(server.accepted(), 1);
    let closed = server.closed_by_client.clone();
    eventually("the quiet connection is closed", || {
        closed.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(s.plain.as_ref().unwrap().idle_len(), 0);
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Delivered, "{out:?}");
    assert_eq!(server.accepted(), 2);
}

/// A receiver that closes idle connections (its keep-alive timeout) costs
/// nothing once the close is seen: the next request goes on a new
/// connection, and is delivered. (A request sent while the close travels
/// fails, and the retry policy sends it again.)
#[tokio::test]
async fn a_connection_the_receiver_closed_is_replaced() {
    // The answer does not announce the close.
    let close = Arc::new(tokio::sync::Semaphore::new(0));
    let server = RawServer::start(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        Some(close.clone()),
    )
    .await;
    let s = plain_sender(&server.url);
    for i in 1..=3 {
        let out = s.send(&event(FULL), None).await;
        assert_eq!(out.action, RetryAction::Delivered, "{out:?}");
        assert_eq!(server.accepted(), i);
        let pool = s.plain.as_ref().unwrap();
        assert_eq!(pool.idle_len(), 1, "kept for reuse");
        close.add_permits(1);
        eventually("the close is seen", || pool.idle_open() == 0).await;
    }
}

/// `Connection: close` is honoured even when the receiver keeps the socket
/// open, and a body that ends with the connection is read: every request
/// gets a new connection.
#[tokio::test]
async fn connections_that_end_with_the_answer_are_not_reused() {
    for (answer, close, status) in [
        (
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
            None,
            200,
        ),
        (
            "HTTP/1.1 503 Service Unavailable\r\n\r\nno length, read to the end",
            Some(Arc::new(tokio::sync::Semaphore::new(100))),
            503,
        ),
    ] {
        let server = RawServer::start(answer, close).await;
        let s = plain_sender(&server.url);
        for i in 1..=3 {
            let out = s.send(&event(FULL), None).await;
            assert_eq!(out.status, Some(status), "{out:?}");
            assert_eq!(server.accepted(), i, "{answer}");
            if status == 503 {
                assert_eq!(out.response.as_deref(), Some("no length, read to the end"));
            }
        }
    }
}

/// A receiver that sends its status but not all of its body: when the time
/// is up the status decides, through either client.
#[tokio::test]
async fn a_slow_body_does_not_undo_the_status() {
    let server = RawServer::start("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok", None).await;
    let mut s = sender(&server.url, r#", "timeout": "300ms""#);
    for via_reqwest in [false, true] {
        if via_reqwest {
            s.plain = None;
        } else {
            let url = reqwest::Url::parse(&server.url).unwrap();
            s.plain = plain::PlainPool::for_url(&url, 8, false);
        }
        let out = s.send(&event(FULL), None).await;
        assert_eq!(
            out.action,
            RetryAction::Delivered,
            "reqwest {via_reqwest}: {out:?}"
        );
        assert_eq!(out.status, Some(200));
        assert!(
            out.duration >= Duration::from_millis(250),
            "{:?}",
            out.duration
        );
    }
}

/// `https://` targets and proxies go through reqwest: the same requests
/// and the same failures come out of it.
#[tokio::test]
async fn the_reqwest_path_sends_the_same_requests() {
    let server = Server::start().await;
    let mut s = sender(&server.url("/ok"), "");
    s.plain = None;
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Delivered, "{out:?}");
    let seen = server.last();
    assert_eq!(
        header(&seen, "host"),
        Some(server.addr.to_string().as_str())
    );
    assert_eq!(header(&seen, "user-agent"), Some(USER_AGENT));
    assert_eq!(header(&seen, "accept"), Some("*/*"));
    assert_eq!(
        header(&seen, "ce-subject"),
        Some("Zo%C3%AB%20%221001%22%20100%25")
    );
    assert_eq!(seen.body, br#"{"total": 120.50}"#);

    let mut s = sender(&server.url("/slow"), r#", "timeout": "200ms""#);
    s.plain = None;
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Retry { after: None });
    let err = out.error.unwrap();
    assert!(err.starts_with("timed out: "), "{err}");
    assert!(!err.contains("127.0.0.1"), "no URL in the error: {err}");

    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut s = sender(&format!("http://{addr}/x"), "");
    s.plain = None;
    let out = s.send(&event(FULL), None).await;
    assert_eq!(out.action, RetryAction::Retry { after: None }, "{out:?}");
    assert!(out.error.unwrap().starts_with("could not connect: "));
}

/// Requests in flight never exceed `concurrency`, and reach it.
#[tokio::test]
async fn concurrency_is_enforced() {
    let server = Server::start().await;
    let s = Arc::new(sender(&server.url("/hold"), r#", "concurrency": 3"#));
    let e = Arc::new(event(FULL));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, e) = (s.clone(), e.clone());
        tasks.push(tokio::spawn(async move { s.send(&e, None).await }));
    }
    let st = server.state.clone();
    eventually("3 requests in flight", || {
        st.in_flight.load(Ordering::SeqCst) == 3
    })
    .await;
    // Give the other five every chance to (wrongly) get through.
    for _ in 0..20 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.seen().len(), 3, "the others wait for a slot");
    server.state.release.send_replace(true);
    for t in tasks {
        assert_eq!(t.await.unwrap().action, RetryAction::Delivered);
    }
    assert_eq!(server.seen().len(), 8);
    assert_eq!(server.state.max_in_flight.load(Ordering::SeqCst), 3);
}

/// The rate limit spaces requests out: 6 requests at 20/s with no burst
/// cannot finish before 5 intervals (250 ms) have passed — a lower bound,
/// which a slow machine cannot break.
#[tokio::test]
async fn rate_limit_is_enforced() {
    let server = Server::start().await;
    let s = Arc::new(sender(
        &server.url("/ok"),
        r#", "rate_limit_per_s": 20, "concurrency": 10"#,
    ));
    assert_eq!(s.rate_limit(), Some((20.0, 1)));
    let e = Arc::new(event(FULL));
    let start = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (s, e) = (s.clone(), e.clone());
        tasks.push(tokio::spawn(async move { s.send(&e, None).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().action, RetryAction::Delivered);
    }
    assert_eq!(server.seen().len(), 6);
    assert!(
        start.elapsed() >= Duration::from_millis(240),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn contract_example_parses() {
    // The HTTP members of the contract's example target (the common ones
    // are `TargetSpec`'s: see `super::tests`).
    let t: HttpTarget = serde_json::from_str(
        r#"{"url": "http://inventory.internal:8080/events", "mode": "binary",
            "headers": {"X-Tenant": "acme"}, "auth": {"bearer": "t0k"}, "timeout": "5s", "concurrency": 8,
            "rate_limit_per_s": 100}"#,
    )
    .unwrap();
    let s = t.build("inventory", RETRY_MAX).unwrap();
    assert_eq!(s.id(), "inventory");
    assert_eq!(s.url(), "http://inventory.internal:8080/events");
    assert_eq!(s.mode(), Mode::Binary);
    assert_eq!(s.timeout(), Duration::from_secs(5));
    assert_eq!(s.concurrency(), Concurrency::Fixed(8));
    assert_eq!(s.rate_limit(), Some((100.0, 1)));
}

#[test]
fn defaults() {
    let t: HttpTarget = serde_json::from_str(r#"{"url": "https://x.example"}"#).unwrap();
    assert_eq!(t, HttpTarget::new("https://x.example"));
    let s = t.build("a", RETRY_MAX).unwrap();
    assert_eq!(s.mode(), Mode::Binary);
    assert_eq!(s.timeout(), DEFAULT_TIMEOUT);
    assert_eq!(s.concurrency(), Concurrency::Adaptive);
    assert_eq!(s.concurrency().max(), ADAPTIVE_MAX_CONCURRENCY);
    assert_eq!(s.rate_limit(), None);
    let t: HttpTarget = serde_json::from_str(
        r#"{"url": "https://x.example", "rate_limit_per_s": 0.5, "rate_limit_burst": 4}"#,
    )
    .unwrap();
    let s = t.build("a", RETRY_MAX).unwrap();
    assert_eq!(s.rate_limit(), Some((0.5, 4)));
}

#[test]
fn serialization_round_trips() {
    for json in [
        r#"{"url":"https://x.example","mode":"binary"}"#,
        r#"{"url":"https://x.example","mode":"structured","headers":{"X-A":"1"},"auth":{"basic":{"username":"u","password":"p"}},"timeout":"250ms","concurrency":2,"rate_limit_per_s":1.5,"rate_limit_burst":3}"#,
        r#"{"url":"https://x.example","mode":"body","auth":{"api_key":{"header":"X-Key","value":"v"}}}"#,
        r#"{"url":"https://x.example","mode":"binary","auth":{"bearer":"b"}}"#,
    ] {
        let t: HttpTarget = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), json);
    }
}

#[test]
fn secrets_are_not_in_debug_output() {
    for auth in [
        r#"{"basic": {"username": "u", "password": "SECRET"}}"#,
        r#"{"bearer": "SECRET"}"#,
        r#"{"api_key": {"header": "X-K", "value": "SECRET"}}"#,
    ] {
        let t = target("https://x.example", &format!(r#", "auth": {auth}"#));
        assert!(!format!("{t:?}").contains("SECRET"), "{t:?}");
        let s = t.build("t1", RETRY_MAX).unwrap();
        assert!(!format!("{s:?}").contains("SECRET"), "{s:?}");
    }
    let t = target(
        "https://x.example",
        r#", "headers": {"X-Secret": "SECRET"}"#,
    );
    assert!(!format!("{t:?}").contains("SECRET"));
}

#[test]
fn serde_errors() {
    for (json, needle) in [
        (
            r#"{"url":"https://x","colour":"red"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"url":"https://x","mode":"raw"}"#,
            "unknown variant `raw`",
        ),
        (r#"{"url":"https://x","timeout":5}"#, "duration string"),
        (
            r#"{"url":"https://x","timeout":"5 parsecs"}"#,
            "not a duration",
        ),
        (
            r#"{"url":"https://x","auth":{"oauth":{}}}"#,
            "unknown variant `oauth`",
        ),
        (
            r#"{"url":"https://x","auth":{"basic":{"username":"u"}}}"#,
            "missing field `password`",
        ),
        (
            r#"{"url":"https://x","auth":{"basic":{"username":"u","password":"p","realm":"r"}}}"#,
            "unknown field `realm`",
        ),
        (
            r#"{"url":"https://x","auth":{"bearer":"a","basic":{"username":"u","password":"p"}}}"#,
            "",
        ),
        (
            r#"{"url":"https://x","concurrency":-1}"#,
            "must be at least 1, got -1",
        ),
        (
            r#"{"url":"https://x","concurrency":"lots"}"#,
            "expected a number of requests or \"adaptive\"",
        ),
        (
            r#"{"url":"https://x","concurrency":1.5}"#,
            "expected a number of requests or \"adaptive\"",
        ),
        (r#"{"url":"https://x","headers":{"a":1}}"#, "invalid type"),
        (r#"{"mode":"binary"}"#, "missing field `url`"),
    ] {
        let e = serde_json::from_str::<HttpTarget>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{json}: {e}");
    }
}

#[test]
fn validation_names_the_field() {
    for (extra, url, field, needle) in [
        ("", "ftp://x.example", "url", "http or https"),
        ("", "http://", "url", "not a valid URL"),
        ("", "not a url", "url", "not a valid URL"),
        ("", "file:///etc/passwd", "url", "http or https"),
        ("", "https://user:pw@x.example", "url", "credentials"),
        ("", "https://user@x.example", "url", "credentials"),
        (
            r#", "headers": {"Content-Type": "a/b"}"#,
            "https://x",
            "headers.Content-Type",
            "binary mode",
        ),
        (
            r#", "mode": "structured", "headers": {"content-type": "a/b"}"#,
            "https://x",
            "headers.content-type",
            "structured mode",
        ),
        (
            r#", "batch_size": 10"#,
            "https://x",
            "batch_size",
            "needs \"mode\": \"batch\"",
        ),
        (
            r#", "mode": "batch", "batch_size": 0"#,
            "https://x",
            "batch_size",
            "between 1 and 1000, got 0",
        ),
        (
            r#", "mode": "batch", "batch_size": 1001"#,
            "https://x",
            "batch_size",
            "between 1 and 1000",
        ),
        (
            r#", "mode": "batch", "method": "GET""#,
            "https://x",
            "method",
            "GET and HEAD",
        ),
        (
            r#", "mode": "batch", "headers": {"content-type": "a/b"}"#,
            "https://x",
            "headers.content-type",
            "batch mode",
        ),
        (
            r#", "headers": {"ce-id": "x"}"#,
            "https://x",
            "headers.ce-id",
            "set from the event",
        ),
        (
            r#", "headers": {"CE-Source": "x"}"#,
            "https://x",
            "headers.CE-Source",
            "set from the event",
        ),
        (
            r#", "mode": "body", "headers": {"Host": "x"}"#,
            "https://x",
            "headers.Host",
            "managed by the HTTP client",
        ),
        (
            r#", "headers": {"Content-Length": "1"}"#,
            "https://x",
            "headers.Content-Length",
            "managed",
        ),
        (
            r#", "headers": {"Transfer-Encoding": "chunked"}"#,
            "https://x",
            "headers.Transfer-Encoding",
            "managed",
        ),
        (
            r#", "headers": {"Bad Header": "x"}"#,
            "https://x",
            "headers.Bad Header",
            "not a valid header name",
        ),
        (
            r#", "headers": {"": "x"}"#,
            "https://x",
            "headers.",
            "not a valid header name",
        ),
        (
            r#", "headers": {"X-A": "line\nbreak"}"#,
            "https://x",
            "headers.X-A",
            "printable ASCII",
        ),
        (
            r#", "headers": {"X-A": "naïve"}"#,
            "https://x",
            "headers.X-A",
            "printable ASCII",
        ),
        (
            r#", "headers": {"X-A": "1", "x-a": "2"}"#,
            "https://x",
            "headers.x-a",
            "twice",
        ),
        (
            r#", "headers": {"Authorization": "x"}, "auth": {"bearer": "t"}"#,
            "https://x",
            "headers.authorization",
            "conflicts",
        ),
        (
            r#", "headers": {"X-Key": "x"}, "auth": {"api_key": {"header": "x-key", "value": "v"}}"#,
            "https://x",
            "headers.x-key",
            "conflicts",
        ),
        (
            r#", "auth": {"basic": {"username": "a:b", "password": "p"}}"#,
            "https://x",
            "auth.basic.username",
            "':'",
        ),
        (
            r#", "auth": {"bearer": ""}"#,
            "https://x",
            "auth.bearer",
            "non-empty",
        ),
        (
            r#", "auth": {"bearer": "a b"}"#,
            "https://x",
            "auth.bearer",
            "whitespace",
        ),
        (
            r#", "auth": {"bearer": "tökén"}"#,
            "https://x",
            "auth.bearer",
            "printable ASCII",
        ),
        (
            r#", "auth": {"api_key": {"header": "X Key", "value": "v"}}"#,
            "https://x",
            "auth.api_key.header",
            "not a valid header name",
        ),
        (
            r#", "auth": {"api_key": {"header": "ce-key", "value": "v"}}"#,
            "https://x",
            "auth.api_key.header",
            "set from the event",
        ),
        (
            r#", "auth": {"api_key": {"header": "X-Key", "value": ""}}"#,
            "https://x",
            "auth.api_key.value",
            "empty",
        ),
        (
            r#", "auth": {"api_key": {"header": "X-Key", "value": "\u0001"}}"#,
            "https://x",
            "auth.api_key.value",
            "printable",
        ),
        (
            r#", "timeout": "0s""#,
            "https://x",
            "timeout",
            "between 1ms and 5m",
        ),
        (
            r#", "timeout": "6m""#,
            "https://x",
            "timeout",
            "between 1ms and 5m",
        ),
        (
            r#", "concurrency": 0"#,
            "https://x",
            "concurrency",
            "between 1 and 1024",
        ),
        (
            r#", "concurrency": 1025"#,
            "https://x",
            "concurrency",
            "between 1 and 1024",
        ),
        (
            r#", "rate_limit_per_s": 0"#,
            "https://x",
            "rate_limit_per_s",
            "rate",
        ),
        (
            r#", "rate_limit_per_s": -5"#,
            "https://x",
            "rate_limit_per_s",
            "rate",
        ),
        (
            r#", "rate_limit_per_s": 5, "rate_limit_burst": 0"#,
            "https://x",
            "rate_limit_burst",
            "at least 1",
        ),
        (
            r#", "rate_limit_burst": 5"#,
            "https://x",
            "rate_limit_burst",
            "needs rate_limit_per_s",
        ),
    ] {
        let t = target(url, extra);
        let e = t.build("t1", RETRY_MAX).unwrap_err();
        assert_eq!(e.field, field, "{extra} {url}: {e}");
        assert!(e.detail.contains(needle), "{extra} {url}: {e}");
        assert_eq!(t.validate().unwrap_err(), e);
    }
    // NaN and infinite rates cannot come from JSON but can from code.
    let mut t = HttpTarget::new("https://x.example");
    t.rate_limit_per_s = Some(f64::NAN);
    assert_eq!(t.validate().unwrap_err().field, "rate_limit_per_s");
}

#[test]
fn body_mode_allows_content_type_and_ce_headers() {
    let t = target(
        "https://x.example",
        r#", "mode": "body", "headers": {"Content-Type": "text/csv", "ce-note": "x"}"#,
    );
    t.validate().unwrap();
}

#[tokio::test]
async fn aws_mode_methods_and_oauth_client_credentials() {
    let s = Server::start().await;
    let target = |url: &str| -> HttpTarget {
        serde_json::from_value(serde_json::json!({
            "url": url, "mode": "aws", "method": "PUT",
            "auth": {"oauth_client_credentials": {
                "token_url": s.url("/token"), "client_id": "client-1",
                "client_secret": "s3cr3t-value", "body": {"scope": "events"}}}
        }))
        .unwrap()
    };
    let t = target(&s.url("/ok"));
    assert!(!format!("{t:?}").contains("s3cr3t-value"));
    let sender = t.build("t", Duration::from_secs(1)).unwrap();
    let e = event(FULL);
    assert_eq!(sender.send(&e, None).await.action, RetryAction::Delivered);
    let seen = s.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (token, delivery) = (&seen[0], &seen[1]);
    assert_eq!(
        (token.path.as_str(), token.method.as_str()),
        ("/token", "POST")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("client-1:s3cr3t-value");
    assert_eq!(
        token.headers["authorization"].to_str().unwrap(),
        format!("Basic {basic}")
    );
    let form = String::from_utf8(token.body.clone()).unwrap();
    assert!(
        form.contains("grant_type=client_credentials") && form.contains("scope=events"),
        "{form}"
    );
    // The delivery: PUT, the token, the EventBridge envelope, no ce- headers.
    assert_eq!(delivery.method, "PUT");
    assert_eq!(delivery.headers["authorization"], "Bearer tok-7");
    assert_eq!(delivery.headers["content-type"], "application/json");
    assert!(
        delivery
            .headers
            .keys()
            .all(|h| !h.as_str().starts_with("ce-"))
    );
    assert_eq!(
        std::str::from_utf8(&delivery.body).unwrap(),
        crate::pattern::envelope::aws_envelope_text(&e)
    );
    // The token is kept: the next send asks for none.
    assert_eq!(sender.send(&e, None).await.action, RetryAction::Delivered);
    assert_eq!(s.seen().len(), 3);
    // A transformed body goes as it is.
    let body = Body {
        bytes: Bytes::from_static(b"hello"),
        content_type: "text/plain; charset=utf-8".into(),
    };
    sender.send(&e, Some(&body)).await;
    assert_eq!(s.last().body, b"hello");
    // A 401 makes the sender forget the token.
    let refused = target(&s.url("/status/401"))
        .build("t", Duration::from_secs(1))
        .unwrap();
    refused.send(&e, None).await;
    refused.send(&e, None).await;
    let tokens = s.seen().iter().filter(|r| r.path == "/token").count();
    assert_eq!(tokens, 3, "one for each sender, one after the 401");
    // GET sends no body; a token endpoint that fails makes a retry.
    let mut get = target(&s.url("/ok"));
    get.method = HttpMethod::Get;
    get.build("t", Duration::from_secs(1))
        .unwrap()
        .send(&e, None)
        .await;
    let last = s.last();
    assert_eq!((last.method.as_str(), last.body.len()), ("GET", 0));
    let broken: HttpTarget = serde_json::from_value(serde_json::json!({
        "url": s.url("/ok"), "mode": "aws",
        "auth": {"oauth_client_credentials": {
            "token_url": s.url("/status/500"), "client_id": "c", "client_secret": "s"}}
    }))
    .unwrap();
    let o = broken
        .build("t", Duration::from_secs(1))
        .unwrap()
        .send(&e, None)
        .await;
    assert_eq!(o.action, RetryAction::Retry { after: None });
    assert!(o.error.unwrap().contains("HTTP 500"));
}

/// The target's headers replace the event's of the same name, and an
/// attempt's OAuth token replaces a configured `Authorization`, the same
/// way for both clients: the plain one writes them in order, reqwest gets
/// a `HeaderMap`.
#[test]
fn later_headers_replace_earlier_ones_for_both_clients() {
    let parts = Parts {
        headers: vec![
            (header::CONTENT_TYPE, Cow::Borrowed("application/json")),
            (HeaderName::from_static("ce-id"), Cow::Borrowed("1")),
        ],
        body: Cow::Borrowed(b"{}"),
    };
    let mut target = HeaderMap::new();
    target.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    target.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic old"));
    let token = HeaderValue::from_static("Bearer new");

    let mut written = Vec::new();
    parts.for_each_header(&target, Some(&token), |n, v| {
        written.push(format!("{n}: {}", String::from_utf8_lossy(v)))
    });
    assert_eq!(
        written,
        [
            "ce-id: 1",
            "content-type: text/csv",
            "authorization: Bearer new"
        ]
    );
    let map = parts.header_map(&target, Some(&token));
    assert_eq!(map.len(), 3);
    assert_eq!(map[header::CONTENT_TYPE], "text/csv");
    assert_eq!(map[header::AUTHORIZATION], "Bearer new");
    assert_eq!(map["ce-id"], "1");

    // Without a token the configured one stays.
    let mut written = Vec::new();
    parts.for_each_header(&target, None, |n, v| {
        written.push(format!("{n}: {}", String::from_utf8_lossy(v)))
    });
    assert_eq!(
        written,
        [
            "ce-id: 1",
            "content-type: text/csv",
            "authorization: Basic old"
        ]
    );
}

#[test]
fn header_values_with_control_characters_are_not_sendable() {
    assert!(sendable("text/plain; charset=utf-8\tx"));
    assert!(sendable("caf\u{e9}"));
    for bad in ["a\r\nb", "a\nb", "\u{0}", "a\u{7f}"] {
        assert!(!sendable(bad), "{bad:?}");
    }
}
