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
use crate::config::{format_duration, parse_duration};
use crate::event::time::format_rfc3339_micros;
use crate::store::{Bus, BusConfig};

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
}

pub(super) fn bus_json(state: &AppState, bus: &Bus) -> Value {
    let first = state.store().first_seq(bus).ok().flatten();
    json!({
        "name": bus.name,
        "description": bus.config.description,
        "retention": format_duration(Duration::from_secs(bus.config.retention_secs)),
        "max_event_bytes": bus.config.max_event_bytes.unwrap_or(state.limits().max_event_bytes as u64),
        "created_at": format_rfc3339_micros(bus.created_at),
        "updated_at": format_rfc3339_micros(bus.updated_at),
        "first_seq": first,
        "last_seq": bus.last_seq(),
    })
}

async fn list(State(state): State<AppState>) -> Response {
    let buses: Vec<Value> = state
        .store()
        .buses()
        .iter()
        .map(|b| bus_json(&state, b))
        .collect();
    axum::Json(json!({ "buses": buses })).into_response()
}

async fn get_bus(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let bus = state
        .store()
        .bus(&name)
        .ok_or_else(|| Problem::no_such_bus(&name))?;
    Ok(axum::Json(bus_json(&state, &bus)).into_response())
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
        Some(r) => parse_duration(r).map_err(|e| Problem::bad_request(e).field("retention"))?,
        None => state.store().options().default_retention,
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
    let config = BusConfig {
        description: req.description,
        retention_secs: retention.as_secs(),
        max_event_bytes: req.max_event_bytes,
    };
    let (bus, created) = state.store().put_bus(&name, config).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(bus_json(&state, &bus))).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    if name != crate::store::DEFAULT_BUS {
        state.router().remove_bus(&name).await;
    }
    if state.store().delete_bus(&name).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::no_such_bus(&name))
    }
}
