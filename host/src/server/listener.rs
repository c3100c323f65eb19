//! The listener: accepting connections, and the gate in front of the API.
//!
//! [`serve`] is one accept loop for HTTP and HTTPS. It keeps at most
//! `http.max_connections` connections (past that it stops accepting, so the
//! kernel's backlog holds newcomers instead of the server's memory), gives
//! each connection `http.header_read_timeout` to send a request's headers —
//! which also closes idle keep-alive connections — and sleeps with growing
//! backoff when `accept` fails, so running out of file descriptors costs a
//! warning a second instead of a core spinning.
//!
//! [`Gate`] answers `/healthz` and `/readyz` itself and passes everything
//! else to the API once start-up has finished; until then requests wait
//! (at most the request timeout, then 503).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

use crate::api::Problem;
use crate::api::guard::{Guard, guard};
use crate::config::HttpSettings;
use crate::store::Store;

/// Where start-up is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Still starting: what it is doing.
    Starting(&'static str),
    /// Serving.
    Ready,
    /// Shutting down.
    Stopping,
}

/// The front of the server: health endpoints, and the API once it exists.
#[derive(Clone)]
pub(super) struct Gate {
    inner: Arc<GateInner>,
}

struct GateInner {
    phase: watch::Sender<Phase>,
    app: watch::Sender<Option<axum::Router>>,
    store: Store,
    /// Longest a request waits for start-up to finish.
    wait: Duration,
}

impl Gate {
    pub(super) fn new(store: Store, wait: Duration) -> Gate {
        Gate {
            inner: Arc::new(GateInner {
                phase: watch::channel(Phase::Starting("opening the store")).0,
                app: watch::channel(None).0,
                store,
                wait,
            }),
        }
    }

    /// Says what start-up is doing now (shown by `/readyz`).
    pub(super) fn phase(&self, what: &'static str) {
        self.inner.phase.send_replace(Phase::Starting(what));
    }

    /// Start-up is done: requests go to `app` from now on.
    pub(super) fn open(&self, app: axum::Router) {
        self.inner.app.send_replace(Some(app));
        self.inner.phase.send_replace(Phase::Ready);
    }

    /// Shutdown began: `/readyz` says so, so load balancers move away.
    pub(super) fn stopping(&self) {
        self.inner.phase.send_replace(Phase::Stopping);
    }

    /// The router for the listener: the gate's own routes, the guard around
    /// everything.
    pub(super) fn router(&self, guard_settings: Arc<Guard>) -> axum::Router {
        axum::Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .fallback(forward)
            .with_state(self.clone())
            .layer(axum::middleware::from_fn_with_state(guard_settings, guard))
    }
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// 200 once start-up finished, while the store is healthy and the server
/// is not shutting down; otherwise 503 saying why.
async fn readyz(State(gate): State<Gate>) -> Response {
    let phase = gate.inner.phase.borrow().clone();
    let not_ready = |status: &str, detail: String| {
        let mut p = Problem::new(503, "not-ready", "Not ready", detail);
        p.retry_after = Some(1);
        let mut resp = p.into_response();
        if let Ok(v) = http::HeaderValue::from_str(status) {
            resp.headers_mut().insert("x-signalbox-status", v);
        }
        resp
    };
    match phase {
        Phase::Starting(what) => not_ready("starting", format!("the server is starting: {what}")),
        Phase::Stopping => not_ready("stopping", "the server is shutting down".into()),
        Phase::Ready => match gate.inner.store.health() {
            Ok(()) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
            Err(reason) => not_ready("unhealthy", format!("the store is not healthy: {reason}")),
        },
    }
}

/// Hands a request to the API, waiting for start-up if need be.
async fn forward(State(gate): State<Gate>, req: Request) -> Response {
    let app = gate.inner.app.borrow().clone();
    let app = match app {
        Some(app) => app,
        None => {
            let mut rx = gate.inner.app.subscribe();
            let ready = tokio::time::timeout(gate.inner.wait, rx.wait_for(Option::is_some)).await;
            match ready {
                Ok(Ok(app)) => app.clone().expect("waited for Some"),
                _ => {
                    let mut p = Problem::new(
                        503,
                        "starting",
                        "Starting",
                        "the server is still starting (loading plugins or rules); retry shortly",
                    );
                    p.retry_after = Some(1);
                    return p.into_response();
                }
            }
        }
    };
    match app.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// Accepts connections on `listener` and serves `app` on them (over TLS when
/// `tls` is set) until `stop` completes; then lets open connections finish
/// their requests.
pub(super) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    settings: HttpSettings,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut warned_full = false;
    tokio::pin!(stop);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(
                        max = settings.max_connections,
                        "Connection limit reached (http.max_connections); new connections wait."
                    );
                    warned_full = true;
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                    _ = &mut stop => break,
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    c
                }
                Err(error) => {
                    // EMFILE, ENFILE, ENOMEM, ECONNABORTED: retrying at once
                    // would spin; wait, longer each time, up to a second.
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "Accepting a connection failed.");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => break,
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        if permits.available_permits() > settings.max_connections / 2 {
            warned_full = false;
        }
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = settings.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                    if let Err(error) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, %error, "Connection ended with an error.");
                    }
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(error)) => {
                                tracing::debug!(%peer, %error, "TLS handshake failed.");
                                return;
                            }
                            Err(_) => return,
                        };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(error) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, %error, "Connection ended with an error.");
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// First and longest wait after a failed `accept`.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
