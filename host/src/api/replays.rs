//! Replays: `POST /v1/buses/{bus}/replays`, `GET /v1/replays[/{id}]`,
//! `POST /v1/replays/{id}/pause|resume|cancel`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::rules::replay::{ReplayRequest, ReplayState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/buses/{bus}/replays", post(start))
        .route("/v1/replays", get(list))
        .route("/v1/replays/{id}", get(get_one))
        .route("/v1/replays/{id}/{action}", post(control))
}

async fn start(
    State(state): State<AppState>,
    Path(bus): Path<String>,
    body: Body,
) -> Result<Response, Problem> {
    let body = read_body(body, 64 << 10).await?;
    let req: ReplayRequest = parse_json(&body)?;
    let status = state.rules().start_replay(&bus, req).await?;
    Ok((StatusCode::CREATED, axum::Json(status)).into_response())
}

async fn list(State(state): State<AppState>) -> Response {
    axum::Json(json!({"replays": state.rules().replays()})).into_response()
}

fn not_found(id: &str) -> Problem {
    Problem::not_found("Replay", format!("there is no replay '{id}'")).field("id")
}

async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let s = state.rules().replay(&id).ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(s).into_response())
}

async fn control(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let to = match action.as_str() {
        "pause" => ReplayState::Paused,
        "resume" => ReplayState::Running,
        "cancel" => ReplayState::Cancelled,
        other => {
            return Err(Problem::not_found(
                "Action",
                format!("'{other}' is not pause, resume or cancel"),
            )
            .field("action"));
        }
    };
    match state.rules().control_replay(&id, to).await {
        Ok(Some(s)) => Ok(axum::Json(s).into_response()),
        Ok(None) => Err(not_found(&id)),
        Err(m) => Err(Problem::new(409, "replay-finished", "Replay finished", m).field("id")),
    }
}
