//! `/v1/buses/{bus}/schemas`: the schema registry and schema discovery.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::schema::SchemasError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/buses/{bus}/schemas", get(list))
        .route("/v1/buses/{bus}/schemas/{type}", get(versions))
        .route("/v1/buses/{bus}/schemas/{type}/discovered", get(discovered))
        .route(
            "/v1/buses/{bus}/schemas/{type}/versions/{version}",
            get(get_version).put(put).delete(delete),
        )
}

impl From<SchemasError> for Problem {
    fn from(e: SchemasError) -> Problem {
        match e {
            SchemasError::Schema(s) => {
                let conflict = s.to_string().contains("already");
                if conflict {
                    Problem::new(
                        409,
                        "schema-version-exists",
                        "Schema version exists",
                        s.to_string(),
                    )
                    .field("version")
                } else {
                    Problem::new(400, "invalid-schema", "Invalid schema", s.to_string())
                        .field("schema")
                }
            }
            SchemasError::Store(s) => Problem::from(s),
        }
    }
}

fn bus(state: &AppState, name: &str) -> Result<std::sync::Arc<crate::store::Bus>, Problem> {
    state
        .store()
        .bus(name)
        .ok_or_else(|| Problem::no_such_bus(name))
}

async fn list(State(state): State<AppState>, Path(b): Path<String>) -> Result<Response, Problem> {
    let b = bus(&state, &b)?;
    let schemas = state.schemas().registry(b.id).list();
    let discovered: Vec<Value> = state
        .schemas()
        .discovery(b.id)
        .types()
        .into_iter()
        .map(|(t, n)| json!({"type": t, "samples": n}))
        .collect();
    Ok(axum::Json(
        json!({"schemas": schemas, "discovered": discovered, "settings": b.config.schemas}),
    )
    .into_response())
}

async fn versions(
    State(state): State<AppState>,
    Path((b, ty)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let b = bus(&state, &b)?;
    let versions = state.schemas().registry(b.id).versions(&ty);
    if versions.is_empty() {
        return Err(Problem::not_found(
            "Schema",
            format!("no schema is registered for type '{ty}'"),
        )
        .field("type"));
    }
    Ok(axum::Json(json!({"type": ty, "versions": versions})).into_response())
}

async fn get_version(
    State(state): State<AppState>,
    Path((b, ty, v)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    let b = bus(&state, &b)?;
    let s = state.schemas().registry(b.id).get(&ty, &v).ok_or_else(|| {
        Problem::not_found("Schema", format!("no version '{v}' of type '{ty}'")).field("version")
    })?;
    Ok(axum::Json(s).into_response())
}

async fn put(
    State(state): State<AppState>,
    Path((b, ty, v)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response, Problem> {
    let b = bus(&state, &b)?;
    let body = read_body(body, 1 << 20).await?;
    let schema: Value = parse_json(&body)?;
    let existed = state.schemas().registry(b.id).get(&ty, &v).is_some();
    let s = state.schemas().put(&b, &ty, &v, schema).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(s)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path((b, ty, v)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    let b = bus(&state, &b)?;
    match state.schemas().delete(&b, &ty, &v).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(
            Problem::not_found("Schema", format!("no version '{v}' of type '{ty}'"))
                .field("version"),
        ),
    }
}

/// The schema proposed by discovery for a type, from the events observed
/// since the server started (enable with the bus's `schemas.discovery`).
async fn discovered(
    State(state): State<AppState>,
    Path((b, ty)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let b = bus(&state, &b)?;
    let s = state
        .schemas()
        .discovery(b.id)
        .propose(&ty)
        .ok_or_else(|| {
            Problem::not_found(
                "Discovered schema",
                format!("no events of type '{ty}' were observed; enable discovery on the bus"),
            )
            .field("type")
        })?;
    Ok(axum::Json(s).into_response())
}
