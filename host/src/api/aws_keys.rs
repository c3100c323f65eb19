//! `/v1/tokens/{id}/aws-keys`: AWS access keys of a token (admin only), for
//! AWS clients that sign their calls to the AWS front (SigV4). A key acts
//! with its token's scopes; see `crate::auth::aws` for how its secret is
//! derived instead of stored.
//!
//! * `POST /v1/tokens/{id}/aws-keys` with optional `{"account": "123456789012"}`
//!   → 201 `{"access_key_id", "secret_access_key", "account", "created_at",
//!   "token"}`; the secret is shown this once.
//! * `GET /v1/tokens/{id}/aws-keys` → `{"aws_keys": [{"access_key_id",
//!   "account", "created_at"}]}`.
//! * `DELETE /v1/tokens/{id}/aws-keys/{access_key_id}` → 204.
//!
//! `POST /v1/tokens` with `"aws": true` issues a first key with the token
//! (`"aws"` in the answer).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::auth::AuthError;
use crate::event::time::format_rfc3339_micros;
use crate::pattern::envelope::AWS_DEFAULT_ACCOUNT;
use crate::store::catalogue::Scope as StoreScope;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens/{id}/aws-keys", get(list).post(create))
        .route("/v1/tokens/{id}/aws-keys/{key}", delete(remove))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// The account the key acts as (default `000000000000`).
    account: Option<String>,
}

fn problem(e: AuthError) -> Problem {
    match e {
        AuthError::NotFound { .. } => Problem::not_found("Token", e.to_string()).field("id"),
        AuthError::AwsKeyNotFound { .. } => {
            Problem::not_found("AWS access key", e.to_string()).field("key")
        }
        AuthError::BadAccount { .. } => Problem::bad_request(e.to_string()).field("account"),
        AuthError::TooManyAwsKeys { .. } | AuthError::AwsKeysNeedApiToken { .. } => {
            Problem::new(409, "conflict", "Cannot issue an AWS key", e.to_string()).field("id")
        }
        AuthError::NoAwsKeyring => Problem::new(
            503,
            "aws-keys-unavailable",
            "AWS keys unavailable",
            e.to_string(),
        ),
        other => Problem::internal(other.to_string()),
    }
}

/// Stores token `id`'s record after its keys changed.
async fn persist(state: &AppState, id: &str) -> Result<(), Problem> {
    let record = state
        .tokens()
        .record(id)
        .ok_or_else(|| Problem::internal("the token vanished"))?;
    state.store().put(StoreScope::Server, id, &record).await?;
    Ok(())
}

/// Issues a key for token `id` and stores it; the answer's JSON.
pub(super) async fn issue(
    state: &AppState,
    id: &str,
    account: Option<&str>,
) -> Result<Value, Problem> {
    let (key, secret) = state
        .tokens()
        .issue_aws_key(id, account.unwrap_or(AWS_DEFAULT_ACCOUNT))
        .map_err(problem)?;
    if let Err(e) = persist(state, id).await {
        // Not stored: take it back, so no key works that a restart forgets.
        let _ = state.tokens().delete_aws_key(id, &key.access_key_id);
        return Err(e);
    }
    Ok(json!({
        "token": id,
        "access_key_id": key.access_key_id,
        "secret_access_key": secret,
        "account": key.account,
        "created_at": format_rfc3339_micros(key.created_at),
    }))
}

async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, Problem> {
    let body = read_body(body, 4 << 10).await?;
    let req: CreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CreateRequest::default()
    } else {
        parse_json(&body)?
    };
    let answer = issue(&state, &id, req.account.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

async fn list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, Problem> {
    if state.tokens().get(&id).is_none() {
        return Err(problem(AuthError::NotFound { id }));
    }
    let keys: Vec<Value> = state
        .tokens()
        .aws_keys(&id)
        .into_iter()
        .map(|k| {
            json!({
                "access_key_id": k.access_key_id,
                "account": k.account,
                "created_at": format_rfc3339_micros(k.created_at),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "aws_keys": keys })).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, Problem> {
    state.tokens().delete_aws_key(&id, &key).map_err(problem)?;
    persist(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
