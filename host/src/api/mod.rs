//! The HTTP API (`/v1/...`), as specified in the API contract.
//!
//! Handlers are thin: they parse and check the request, call the store (or
//! later the router), and shape the answer. Each resource has its own file;
//! [`problem`] turns every error into an RFC 9457 document.

mod buses;
mod events;
pub mod guard;
mod metrics;
pub(crate) mod patterns;
pub(crate) mod plugins;
pub mod problem;
mod replays;
mod rules;
mod schemas;
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
use crate::ingest::quota::Quotas;
use crate::pipeline::Router as PipelineRouter;
use crate::plugin::Registry;
use crate::schema::Schemas;
use crate::store::Store;
pub use problem::Problem;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    store: Store,
    registry: Arc<Registry>,
    router: Arc<PipelineRouter>,
    schemas: Arc<Schemas>,
    tokens: Arc<TokenStore>,
    quotas: Quotas,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    /// One permit per open event stream (`limits.max_followers`).
    followers: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Builds the state from the open store and the server limits.
    /// `shutdown` turns true when the server begins to stop; long-lived
    /// responses (event streams) end then.
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        router: Arc<PipelineRouter>,
        schemas: Arc<Schemas>,
        tokens: Arc<TokenStore>,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
    ) -> AppState {
        AppState {
            inner: Arc::new(StateInner {
                store,
                registry,
                router,
                schemas,
                tokens,
                quotas: Quotas::default(),
                followers: Arc::new(tokio::sync::Semaphore::new(limits.max_followers)),
                limits,
                shutdown,
            }),
        }
    }

    pub(crate) fn schemas(&self) -> &Arc<Schemas> {
        &self.inner.schemas
    }

    pub(crate) fn tokens(&self) -> &Arc<TokenStore> {
        &self.inner.tokens
    }

    pub(crate) fn quotas(&self) -> &Quotas {
        &self.inner.quotas
    }

    pub(crate) fn router(&self) -> &Arc<PipelineRouter> {
        &self.inner.router
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
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
        .merge(buses::routes())
        .merge(events::routes())
        .merge(patterns::routes())
        .merge(plugins::routes())
        .merge(rules::routes())
        .merge(metrics::routes())
        .merge(replays::routes())
        .merge(schemas::routes())
        .merge(tokens::routes())
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
                    crate::config::format_duration(limit)
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

/// Checks a bus name: `[a-z0-9][a-z0-9._-]{0,62}`.
pub(crate) fn check_bus_name(name: &str) -> Result<(), Problem> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Problem::bad_request(format!(
            "'{name}' is not a valid bus name: use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        ))
        .field("bus"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_names() {
        for ok in [
            "default",
            "orders",
            "a",
            "0",
            "hr.onboarding",
            "a-b_c",
            &"a".repeat(63),
        ] {
            assert!(check_bus_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Orders", "-a", ".a", "a b", "a/b", &"a".repeat(64), "é"] {
            assert!(check_bus_name(bad).is_err(), "{bad}");
        }
    }
}
