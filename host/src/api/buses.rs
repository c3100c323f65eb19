//! `/v1/buses`: create, list, get and delete buses.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, Problem, check_bus_name, problem::parse_json, read_body};
use crate::duration::{format_duration, parse_duration};
use crate::event::time::format_rfc3339_micros;
use crate::schema::BusSchemaConfig;
use crate::store::{Bus, BusConfig, RateLimit};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/buses", get(list))
        .route("/v1/buses/{bus}", get(get_bus).put(put).delete(delete))
}

/// The body of `PUT /v1/buses/{bus}`. PUT replaces: omitted settings take
/// their defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusRequest {
    #[serde(default)]
    description: String,
    retention: Option<String>,
    max_event_bytes: Option<u64>,
    /// Duplicate suppression window, e.g. `10m`.
    dedup_window: Option<String>,
    /// `{"events_per_s", "burst"}`.
    rate_limit: Option<RateLimit>,
    /// `{"default_policy", "per_type", "discovery"}`.
    #[serde(default)]
    schemas: BusSchemaConfig,
}

pub(super) async fn bus_json(state: &AppState, bus: &Bus) -> Value {
    // The head as the log has it, so a bus read through one node counts
    // the events acknowledged through any other.
    let last = state
        .store()
        .sync_head(bus)
        .await
        .unwrap_or_else(|_| bus.last_seq());
    let first = state.store().first_seq(bus).await.ok().flatten();
    // Seqs are consecutive and retention deletes from the front.
    let events = first.map_or(0, |f| last.saturating_sub(f) + 1);
    let stored_bytes = state.store().log_bytes(bus).await.ok().flatten();
    json!({
        "name": bus.name,
        "description": bus.config.description,
        "retention": format_duration(Duration::from_secs(bus.config.retention_secs)),
        "max_event_bytes": bus.config.max_event_bytes.unwrap_or(state.limits().max_event_bytes as u64),
        "dedup_window": bus.config.dedup_window_secs.map(|s| format_duration(Duration::from_secs(s))),
        "rate_limit": bus.config.rate_limit,
        "schemas": bus.config.schemas,
        "created_at": format_rfc3339_micros(bus.created_at),
        "updated_at": format_rfc3339_micros(bus.updated_at),
        "first_seq": first,
        "last_seq": last,
        "events": events,
        "stored_bytes": stored_bytes,
    })
}

/// `GET /v1/buses`: every bus the token may read (all of them for `admin`
/// and `read:*`, and on a server without tokens).
async fn list(
    State(state): State<AppState>,
    token: Option<axum::Extension<crate::auth::Token>>,
) -> Response {
    let mut buses: Vec<Value> = Vec::new();
    for b in state.store().buses() {
        let read = crate::auth::Action::Read {
            bus: b.name.clone(),
        };
        if token.as_ref().is_some_and(|t| !t.allows(&read)) {
            continue;
        }
        buses.push(bus_json(&state, &b).await);
    }
    axum::Json(json!({ "buses": buses })).into_response()
}

async fn get_bus(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let bus = state
        .store()
        .find_bus(&name)
        .await?
        .ok_or_else(|| Problem::no_such_bus(&name))?;
    Ok(axum::Json(bus_json(&state, &bus).await).into_response())
}

async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, Problem> {
    check_bus_name(&name)?;
    let body = read_body(body, 64 << 10).await?;
    let req: BusRequest = if body.iter().all(u8::is_ascii_whitespace) {
        BusRequest::default()
    } else {
        parse_json(&body)?
    };
    let retention = match &req.retention {
        Some(r) => {
            let d = parse_duration(r).map_err(|e| Problem::bad_request(e).field("retention"))?;
            // Retention counts whole seconds; under one second it would be 0
            // and delete events as soon as they are stored.
            if d < Duration::from_secs(1) {
                return Err(Problem::bad_request(format!(
                    "retention must be at least 1s, got '{r}': a shorter one would delete events before any rule could handle them"
                ))
                .field("retention"));
            }
            d
        }
        None => state.store().default_retention(),
    };
    let server_max = state.limits().max_event_bytes as u64;
    if let Some(m) = req.max_event_bytes
        && (m == 0 || m > server_max)
    {
        return Err(Problem::bad_request(format!(
            "max_event_bytes must be between 1 and the server's limit of {server_max}"
        ))
        .field("max_event_bytes"));
    }
    let dedup_window_secs = match &req.dedup_window {
        Some(w) => {
            let d = parse_duration(w).map_err(|e| Problem::bad_request(e).field("dedup_window"))?;
            if d.is_zero() || d > std::time::Duration::from_secs(7 * 86_400) {
                return Err(
                    Problem::bad_request("dedup_window must be between 1s and 7d")
                        .field("dedup_window"),
                );
            }
            Some(d.as_secs().max(1))
        }
        None => None,
    };
    if let Some(r) = &req.rate_limit
        && !(r.events_per_s > 0.0 && r.events_per_s.is_finite() && r.burst.is_none_or(|b| b > 0))
    {
        return Err(Problem::bad_request(
            "rate_limit.events_per_s must be positive (and burst, if given, at least 1)",
        )
        .field("rate_limit"));
    }
    let config = BusConfig {
        description: req.description,
        retention_secs: retention.as_secs(),
        max_event_bytes: req.max_event_bytes,
        dedup_window_secs,
        rate_limit: req.rate_limit,
        schemas: req.schemas,
    };
    let (bus, created) = state.store().put_bus(name.clone(), config).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(bus_json(&state, &bus).await)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    if name != crate::store::DEFAULT_BUS {
        state.sources().remove_bus(&name).await;
        state.rules().remove_bus(&name).await;
    }
    if state.store().delete_bus(name.clone()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::no_such_bus(&name))
    }
}
