//! Event sources: `/v1/buses/{bus}/sources[/{name}]`, pause and resume,
//! and the webhook endpoints `POST /v1/sources/{name}/webhook` and
//! `POST /v1/hooks/{*path}` (no token: the signature is the credential).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::sources::SourcesError;
use crate::sources::webhook::{Key, WebhookError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/buses/{bus}/sources", get(list))
        .route(
            "/v1/buses/{bus}/sources/{name}",
            get(get_one).put(put).delete(delete),
        )
        .route("/v1/buses/{bus}/sources/{name}/{action}", post(control))
        .route("/v1/sources/{name}/webhook", post(webhook_by_name))
        .route("/v1/hooks/{*path}", post(webhook_by_path))
}

impl From<SourcesError> for Problem {
    fn from(e: SourcesError) -> Problem {
        match e {
            SourcesError::Spec(s) => Problem::bad_request(s.message).field(s.field),
            SourcesError::NoBus(b) => Problem::no_such_bus(&b),
            SourcesError::NoSource(n) => {
                Problem::not_found("Source", format!("there is no source '{n}' on this bus"))
                    .field("name")
            }
            e @ SourcesError::NameTaken { .. } => {
                Problem::new(409, "conflict", "Name taken", e.to_string()).field("name")
            }
            e @ SourcesError::LimitReached { .. } => {
                Problem::new(409, "limit-reached", "Too many sources", e.to_string())
            }
            SourcesError::Store(s) => s.into(),
        }
    }
}

async fn list(State(state): State<AppState>, Path(bus): Path<String>) -> Result<Response, Problem> {
    let sources = state.sources().list(&bus).await?;
    Ok(axum::Json(json!({ "sources": sources })).into_response())
}

async fn get_one(
    State(state): State<AppState>,
    Path((bus, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    Ok(axum::Json(state.sources().get(&bus, &name).await?).into_response())
}

async fn put(
    State(state): State<AppState>,
    Path((bus, name)): Path<(String, String)>,
    body: Body,
) -> Result<Response, Problem> {
    let body = read_body(body, 256 << 10).await?;
    let spec: Value = parse_json(&body)?;
    let created = state.sources().put(&bus, &name, spec).await?;
    let v = state.sources().get(&bus, &name).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(v)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path((bus, name)): Path<(String, String)>,
) -> Result<Response, Problem> {
    state.sources().delete(&bus, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn control(
    State(state): State<AppState>,
    Path((bus, name, action)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    let paused = match action.as_str() {
        "pause" => true,
        "resume" => false,
        other => {
            return Err(Problem::not_found(
                "Action",
                format!("'{other}' is not an action on a source: use pause or resume"),
            ));
        }
    };
    Ok(axum::Json(state.sources().set_paused(&bus, &name, paused).await?).into_response())
}

async fn webhook_by_name(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    webhook(state, Key::Name(&name), query, headers, body).await
}

async fn webhook_by_path(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    webhook(state, Key::Path(&path), query, headers, body).await
}

async fn webhook(
    state: AppState,
    key: Key<'_>,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let Some(endpoint) = state.sources().webhook(key) else {
        return Err(Problem::not_found(
            "Webhook",
            "no running webhook source receives here (is it paused?)",
        ));
    };
    let limit = endpoint.max_body().min(state.limits().max_request_bytes);
    let body = read_body(body, limit).await?;
    match endpoint.receive(&headers, query.as_deref(), &body).await {
        Ok(a) => {
            let mut v = json!({"id": a.id, "seq": a.seq});
            if a.duplicate {
                v["duplicate"] = json!(true);
            }
            Ok(axum::Json(v).into_response())
        }
        Err(WebhookError::Unverified(e)) => {
            let mut p = Problem::new(401, e.code(), "Webhook not verified", e.to_string());
            if let Some(h) = e.header() {
                p = p.field(h.to_owned());
            }
            Err(p)
        }
        Err(e @ WebhookError::TooLarge(_)) => Err(Problem::new(
            413,
            "too-large",
            "Body too large",
            e.to_string(),
        )),
        Err(e @ WebhookError::Busy) => {
            let mut p = Problem::new(503, "busy", "Busy", e.to_string());
            p.retry_after = Some(5);
            Err(p)
        }
        Err(e @ WebhookError::Invalid(_)) => Err(Problem::new(
            400,
            "not-a-cloudevent",
            "Event rejected",
            e.to_string(),
        )),
        Err(WebhookError::Publish(p)) => Err(p.into()),
    }
}
