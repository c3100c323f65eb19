//! `/v1/plugins`: upload, list, inspect, delete and try plugins.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::event::json::{parse_structured, to_json_string};
use crate::plugin::{AllowList, CallError, PluginError, PluginKind, PluginLimits, RulePlugin};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/plugins", get(list))
        .route("/v1/plugins/{name}", get(get_plugin))
        .route(
            "/v1/plugins/{name}/versions/{version}",
            get(get_version).put(put).delete(delete),
        )
        .route("/v1/plugins/{name}/versions/{version}/test", post(test))
}

impl From<PluginError> for Problem {
    fn from(e: PluginError) -> Problem {
        match e {
            PluginError::Invalid(m) => {
                Problem::new(400, "invalid-plugin", "Invalid plugin", m).field("body")
            }
            PluginError::TooLarge { .. } => {
                Problem::new(413, "plugin-too-large", "Plugin too large", e.to_string())
                    .field("body")
            }
            PluginError::Conflict(_) => {
                Problem::new(409, "version-exists", "Version exists", e.to_string())
                    .field("version")
            }
            PluginError::NotFound(_) => Problem::not_found("Plugin", e.to_string()).field("plugin"),
            PluginError::InUse { .. } => {
                Problem::new(409, "plugin-in-use", "Plugin in use", e.to_string()).field("version")
            }
            PluginError::LimitReached { .. } => {
                Problem::new(409, "limit-reached", "Limit reached", e.to_string()).field("plugin")
            }
            PluginError::BadName(m) => Problem::bad_request(m).field("plugin"),
            PluginError::Store(s) => Problem::from(s),
            other => Problem::internal(other.to_string()),
        }
    }
}

/// Plugin infos, each with `used_by`: the rules that use the version (see
/// `Rules::plugin_usage`).
async fn with_usage(state: &AppState, infos: Vec<crate::plugin::PluginInfo>) -> Vec<Value> {
    let mut usage = state.rules().plugin_usage().await;
    infos
        .into_iter()
        .map(|info| {
            let users = usage
                .remove(&format!("{}@{}", info.name, info.version))
                .unwrap_or_default();
            let mut v = serde_json::to_value(info).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("used_by".into(), Value::Array(users));
            }
            v
        })
        .collect()
}

async fn list(State(state): State<AppState>) -> Response {
    let plugins = with_usage(&state, state.registry().list()).await;
    axum::Json(json!({ "plugins": plugins })).into_response()
}

async fn get_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let versions = state.registry().versions(&name);
    if versions.is_empty() {
        return Err(PluginError::NotFound(name).into());
    }
    let versions = with_usage(&state, versions).await;
    Ok(axum::Json(json!({ "name": name, "versions": versions })).into_response())
}

async fn get_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let info = state
        .registry()
        .info(&name, &version)
        .ok_or_else(|| PluginError::NotFound(format!("{name}@{version}")))?;
    let info = with_usage(&state, vec![info]).await;
    Ok(axum::Json(&info[0]).into_response())
}

async fn put(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    body: Body,
) -> Result<Response, Problem> {
    let registry = state.registry().clone();
    let bytes = read_body(body, registry.max_bytes()).await.map_err(|p| {
        if p.status == 413 {
            Problem::new(
                413,
                "plugin-too-large",
                "Plugin too large",
                format!("plugins may be at most {} bytes", registry.max_bytes()),
            )
            .field("body")
        } else {
            p
        }
    })?;
    let (info, created) = registry.put(&name, &version, bytes.to_vec()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(info)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, Problem> {
    state.registry().delete(&name, &version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST …/test`: run the plugin once in a fresh sandbox.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// The event (filters, transforms, and connectors with one event).
    event: Option<Value>,
    /// Several events (connectors).
    events: Option<Vec<Value>>,
    /// The plugin's configuration.
    #[serde(default)]
    config: Map<String, Value>,
    /// Hosts a connector may reach.
    #[serde(default)]
    allowed_hosts: Vec<String>,
    /// Limits for this run.
    limits: Option<PluginLimits>,
}

pub(crate) fn call_error_json(e: &CallError) -> Value {
    json!({"kind": e.kind, "message": e.message, "retryable": e.retryable, "status": e.status})
}

async fn test(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    body: Body,
) -> Result<Response, Problem> {
    let body = read_body(body, 16 << 20).await?;
    let req: TestRequest = parse_json(&body)?;
    let plugin = state.registry().get(&format!("{name}@{version}"))?;
    let limits = req.limits.unwrap_or_default();
    limits
        .validate()
        .map_err(|m| Problem::bad_request(m).field("limits"))?;
    let allow = AllowList::parse(&req.allowed_hosts)
        .map_err(|e| Problem::bad_request(e.to_string()).field("allowed_hosts"))?;
    let mut raw = req.events.unwrap_or_default();
    raw.extend(req.event);
    if raw.is_empty() {
        return Err(
            Problem::bad_request("give 'event' (or 'events' for a connector)").field("event"),
        );
    }
    let mut events = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        let parsed = parse_structured(v.to_string().as_bytes())
            .map_err(|e| Problem::bad_request(e.to_string()).field("event"))?;
        events
            .push(parsed.map_err(|e| Problem::from(&e).field(format!("events[{i}].{}", e.field)))?);
    }
    let rule_plugin = Arc::new(RulePlugin::new(
        plugin.clone(),
        crate::plugin::config_pairs(&req.config),
        limits,
        allow,
        &format!("test/{name}"),
    ));
    let start = Instant::now();
    let outcome = match plugin.kind {
        PluginKind::Filter => rule_plugin
            .keep(&(Arc::new(events[0].clone()) as crate::event::SharedEvent))
            .await
            .map(|keep| json!({"outcome": if keep { "keep" } else { "drop" }})),
        PluginKind::Transform => rule_plugin.transform(&events[0]).await.map(|out| {
            let out: Vec<Value> = out
                .iter()
                .map(|e| serde_json::from_str(&to_json_string(e)).unwrap_or(Value::Null))
                .collect();
            json!({"outcome": "events", "events": out})
        }),
        PluginKind::Connector => rule_plugin
            .deliver(&events)
            .await
            .map(|()| json!({"outcome": "delivered"})),
    };
    let duration_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut v = match outcome {
        Ok(v) => v,
        Err(e) => json!({"outcome": "error", "error": call_error_json(&e)}),
    };
    v["kind"] = json!(plugin.kind);
    v["duration_ms"] = json!(duration_ms);
    v["status"] = serde_json::to_value(rule_plugin.status()).unwrap_or(Value::Null);
    Ok(axum::Json(v).into_response())
}
