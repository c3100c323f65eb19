//! `/v1/tokens`: API tokens (admin only).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::auth::Scope;
use crate::auth::{AuthSetting, TokenRecord};
use crate::duration::parse_duration;
use crate::store::catalogue::Scope as StoreScope;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", get(list).post(create))
        .route("/v1/tokens/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    scopes: Vec<String>,
    /// Lifetime, e.g. `90d`; none: never expires.
    ttl: Option<String>,
}

async fn list(State(state): State<AppState>) -> Response {
    axum::Json(json!({"tokens": state.tokens().list()})).into_response()
}

async fn create(State(state): State<AppState>, body: Body) -> Result<Response, Problem> {
    let body = read_body(body, 64 << 10).await?;
    let req: CreateRequest = parse_json(&body)?;
    let mut scopes = Vec::new();
    for (i, s) in req.scopes.iter().enumerate() {
        scopes.push(
            Scope::parse(s)
                .map_err(|e| Problem::bad_request(e.to_string()).field(format!("scopes[{i}]")))?,
        );
    }
    let ttl = req
        .ttl
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| Problem::bad_request(e).field("ttl"))?;
    let (token, secret) = state
        .tokens()
        .create(&req.name, scopes, ttl)
        .map_err(|e| Problem::bad_request(e.to_string()).field("name"))?;
    let record = state
        .tokens()
        .record(&token.id)
        .ok_or_else(|| Problem::internal("created token vanished"))?;
    state
        .store()
        .put(StoreScope::Server, &token.id, &record)
        .await?;
    // Authentication is on for good now, across restarts too.
    state
        .store()
        .put(
            StoreScope::Server,
            AuthSetting::KEY,
            &AuthSetting { enforced: true },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"token": token, "secret": secret.expose()})),
    )
        .into_response())
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    state.tokens().revoke(&id).map_err(|e| match e {
        crate::auth::AuthError::LastAdmin { .. } | crate::auth::AuthError::NotRevocable { .. } => {
            Problem::new(409, "conflict", "Cannot revoke", e.to_string()).field("id")
        }
        _ => Problem::not_found("Token", e.to_string()).field("id"),
    })?;
    state
        .store()
        .delete::<TokenRecord>(StoreScope::Server, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
