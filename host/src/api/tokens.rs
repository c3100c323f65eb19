//! `/v1/tokens`: API tokens (admin only); `/v1/whoami`: what the caller's
//! token may do (any token).

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
use crate::auth::{AuthSetting, Token, TokenRecord};
use crate::duration::parse_duration;
use crate::store::catalogue::Scope as StoreScope;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", get(list).post(create))
        .route("/v1/tokens/{id}", delete(revoke))
        .route("/v1/whoami", get(whoami))
}

/// `GET /v1/whoami`: the token the request carries and what it may do, so
/// that a client (the console) offers only what will work:
///
/// ```json
/// {"open": false, "token": {"id", "name", "scopes", "created_at", "expires_at", "origin"},
///  "admin": false, "metrics": false, "read": ["orders"], "publish": ["*"]}
/// ```
///
/// `read` and `publish` list bus names, or `*` for every bus. On a server
/// that has no tokens yet (`open`: it answers without one), `token` is null
/// and everything is allowed.
async fn whoami(State(state): State<AppState>, token: Option<axum::Extension<Token>>) -> Response {
    let Some(axum::Extension(token)) = token.filter(|_| state.tokens().enforced()) else {
        return axum::Json(json!({
            "open": true,
            "token": null,
            "admin": true,
            "metrics": true,
            "read": ["*"],
            "publish": ["*"],
        }))
        .into_response();
    };
    let admin = token.scopes.contains(&Scope::Admin);
    // The buses `read:` (or `publish:`) scopes name, `*` covering all.
    let buses = |read: bool| -> Vec<String> {
        if admin {
            return vec!["*".to_owned()];
        }
        let mut out: Vec<String> = token
            .scopes
            .iter()
            .filter_map(|s| match (s, read) {
                (Scope::Read(b), true) | (Scope::Publish(b), false) => Some(b.to_string()),
                _ => None,
            })
            .collect();
        if out.iter().any(|b| b == "*") {
            out = vec!["*".to_owned()];
        }
        out.sort();
        out.dedup();
        out
    };
    let (read, publish) = (buses(true), buses(false));
    axum::Json(json!({
        "open": false,
        "admin": admin,
        "metrics": admin || token.scopes.contains(&Scope::Metrics),
        "read": read,
        "publish": publish,
        "token": token,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    scopes: Vec<String>,
    /// Lifetime, e.g. `90d`; none: never expires.
    ttl: Option<String>,
    /// Also issue an AWS access key for the token (see `aws_keys`).
    #[serde(default)]
    aws: bool,
}

async fn list(State(state): State<AppState>) -> Response {
    axum::Json(json!({"tokens": state.tokens().list()})).into_response()
}

async fn create(State(state): State<AppState>, body: Body) -> Result<Response, Problem> {
    let body = read_body(body, 64 << 10).await?;
    let req: CreateRequest = parse_json(&body)?;
    if req.aws && !state.tokens().has_aws_keyring() {
        return Err(Problem::new(
            503,
            "aws-keys-unavailable",
            "AWS keys unavailable",
            crate::auth::AuthError::NoAwsKeyring.to_string(),
        )
        .field("aws"));
    }
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
    let mut answer = json!({"token": token, "secret": secret.expose()});
    if req.aws {
        answer["aws"] = super::aws_keys::issue(&state, &token.id, None).await?;
    }
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
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
