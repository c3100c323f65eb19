//! The HTTP API (`/v1/...`), as specified in the API contract.
//!
//! Handlers are thin: they parse and check the request, call the store (or
//! later the router), and shape the answer. Each resource has its own file;
//! [`problem`] turns every error into an RFC 9457 document.

mod aws_keys;
mod buses;
mod console;
mod events;
pub mod guard;
mod metrics;
pub(crate) mod patterns;
pub(crate) mod plugins;
pub mod problem;
mod replays;
mod rules;
mod schemas;
mod sources;
mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

use crate::auth::TokenStore;
use crate::config::Limits;
use crate::ingest::publish::Publisher;
use crate::plugin::Registry;
use crate::rules::Rules;
use crate::schema::Schemas;
use crate::sources::Sources;
use crate::store::Store;
pub use problem::Problem;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    publisher: Publisher,
    registry: Arc<Registry>,
    rules: Arc<Rules>,
    sources: Arc<Sources>,
    tokens: Arc<TokenStore>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    /// One permit per open event stream (`limits.max_followers`).
    followers: Arc<tokio::sync::Semaphore>,
    /// The AWS front's settings.
    aws: crate::aws::Settings,
}

impl AppState {
    /// Builds the state from the open store and the server limits.
    /// `shutdown` turns true when the server begins to stop; long-lived
    /// responses (event streams) end then.
    pub fn new(
        publisher: Publisher,
        registry: Arc<Registry>,
        rules: Arc<Rules>,
        sources: Arc<Sources>,
        tokens: Arc<TokenStore>,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
    ) -> AppState {
        AppState {
            inner: Arc::new(StateInner {
                publisher,
                registry,
                rules,
                sources,
                tokens,
                followers: Arc::new(tokio::sync::Semaphore::new(limits.max_followers)),
                limits,
                shutdown,
                aws: crate::aws::Settings::default(),
            }),
        }
    }

    /// Sets the AWS front's settings (`[aws]`); call it on a new state.
    pub fn with_aws(mut self, settings: crate::aws::Settings) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.aws = settings;
        }
        self
    }

    pub(crate) fn aws_settings(&self) -> crate::aws::Settings {
        self.inner.aws
    }

    pub(crate) fn schemas(&self) -> &Arc<Schemas> {
        self.inner.publisher.schemas()
    }

    pub(crate) fn publisher(&self) -> &Publisher {
        &self.inner.publisher
    }

    pub(crate) fn tokens(&self) -> &Arc<TokenStore> {
        &self.inner.tokens
    }

    pub(crate) fn rules(&self) -> &Arc<Rules> {
        &self.inner.rules
    }

    pub(crate) fn sources(&self) -> &Arc<Sources> {
        &self.inner.sources
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    pub(crate) fn store(&self) -> &Store {
        self.inner.publisher.store()
    }

    pub(crate) fn limits(&self) -> Limits {
        self.inner.limits
    }

    pub(crate) fn shutdown(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.clone()
    }

    /// A permit for one more event stream, if the limit allows.
    pub(crate) fn follower(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.inner.followers.clone().try_acquire_owned().ok()
    }
}

/// The whole API as an axum router. (`/healthz` and `/readyz` are the
/// server's own, answered in front of it: see `server::listener`.)
pub fn router(state: AppState) -> Router {
    let tokens = state.tokens().clone();
    Router::new()
        .route("/v1/version", get(version))
        .route("/v1/cluster", get(cluster))
        .merge(buses::routes())
        .merge(events::routes())
        .merge(patterns::routes())
        .merge(plugins::routes())
        .merge(rules::routes())
        .merge(metrics::routes())
        .merge(replays::routes())
        .merge(schemas::routes())
        .merge(sources::routes())
        .merge(tokens::routes())
        .merge(aws_keys::routes())
        // The AWS EventBridge API: `POST /` with `X-Amz-Target`.
        .merge(crate::aws::routes())
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // Outermost, so it sees every request with its full path.
        .layer(axum::middleware::from_fn_with_state(
            tokens,
            crate::auth::require_token,
        ))
}

async fn version() -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "name": "signalbox",
        "version": env!("CARGO_PKG_VERSION"),
        "api": "v1",
        "cloudevents": crate::event::SPEC_VERSION,
    }))
}

/// `GET /v1/cluster`: nodes, streams and consumers in cluster mode.
async fn cluster(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    match state.store().cluster() {
        None => Ok(axum::Json(serde_json::json!({"mode": "embedded"}))),
        Some(c) => Ok(axum::Json(c.status().await?)),
    }
}

async fn not_found() -> Problem {
    Problem::not_found(
        "Resource",
        "no API resource at this path; see /v1/version and the API reference",
    )
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED.as_u16(),
        "method-not-allowed",
        "Method not allowed",
        "this resource does not support that HTTP method",
    )
}

/// Reads a request body up to `limit` bytes; larger bodies get 413 without
/// being read further, and one that does not arrive within
/// `http.request_timeout` gets 408.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let (mut too_large, mut timed_out) = (false, None);
        while let Some(s) = source {
            too_large |= s.is::<http_body_util::LengthLimitError>();
            if let Some(t) = s.downcast_ref::<guard::BodyTimeout>() {
                timed_out = Some(t.0);
            }
            source = s.source();
        }
        if let Some(limit) = timed_out {
            return Problem::new(
                408,
                "request-timeout",
                "Request timeout",
                format!(
                    "the request body did not arrive within {} (http.request_timeout)",
                    crate::duration::format_duration(limit)
                ),
            );
        }
        if too_large || e.to_string().contains("length limit") {
            Problem::new(
                413,
                "request-too-large",
                "Request too large",
                format!("the request body is larger than the limit of {limit} bytes"),
            )
        } else {
            Problem::bad_request(format!("cannot read the request body: {e}"))
        }
    })
}

/// Checks a bus name (see [`crate::names`]), as a problem naming the field.
pub(crate) fn check_bus_name(name: &str) -> Result<(), Problem> {
    crate::names::check(crate::names::Kind::Bus, name)
        .map_err(|e| Problem::bad_request(e.to_string()).field("bus"))
}
