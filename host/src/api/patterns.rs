//! `POST /v1/test-pattern`: try a pattern or CESQL expression on an event.

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::event::json::parse_structured;
use crate::pattern::cesql::{EventAttributes, Expression};
use crate::pattern::{Matcher, Pattern, envelope_json};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/test-pattern", post(test_pattern))
}

/// `{"pattern": P, "event": E}`, `{"pattern": P, "json": J}`,
/// `{"cesql": "…", "event": E}` or `{"cesql": "…", "json": J}`. P and J may
/// be JSON values or strings holding JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    pattern: Option<Value>,
    cesql: Option<String>,
    event: Option<Value>,
    json: Option<Value>,
}

/// A JSON value given directly or as a string holding JSON.
fn inline_json(v: Value, field: &str) -> Result<Value, Problem> {
    match v {
        Value::String(s) => serde_json::from_str(&s).map_err(|e| {
            Problem::bad_request(format!("'{field}' is a string but not valid JSON: {e}"))
                .field(field)
        }),
        other => Ok(other),
    }
}

/// Parses a pattern, answering 400 with the pattern's own message (which
/// names the operator and path) on failure.
pub(crate) fn parse_pattern(v: &Value, field: &str) -> Result<Pattern, Problem> {
    Pattern::from_value(v).map_err(|e| {
        let mut p = Problem::new(
            400,
            "invalid-pattern",
            "Invalid event pattern",
            e.to_string(),
        )
        .field(field);
        if let Some(path) = e.path() {
            p.errors
                .push(json!({"path": path, "operator": e.operator()}));
        }
        p
    })
}

/// Parses a CESQL expression, answering 400 with where it failed.
pub(crate) fn parse_cesql(src: &str, field: &str) -> Result<Expression, Problem> {
    Expression::parse(src).map_err(|e| {
        Problem::new(
            400,
            "invalid-cesql",
            "Invalid CESQL expression",
            e.to_string(),
        )
        .field(field)
    })
}

async fn test_pattern(
    axum::extract::State(_): axum::extract::State<AppState>,
    body: Body,
) -> Result<Response, Problem> {
    let body = read_body(body, 1 << 20).await?;
    let req: TestRequest = parse_json(&body)?;
    let (subject, is_event) = match (req.event, req.json) {
        (Some(e), None) => (inline_json(e, "event")?, true),
        (None, Some(j)) => (inline_json(j, "json")?, false),
        _ => {
            return Err(Problem::bad_request(
                "give exactly one of 'event' (a CloudEvent) or 'json' (any JSON document)",
            )
            .field("event"));
        }
    };
    let event = if is_event {
        let bytes = serde_json::to_vec(&subject).unwrap_or_default();
        match parse_structured(&bytes) {
            Ok(Ok(e)) => Some(e),
            Ok(Err(e)) => {
                return Err(Problem::from(&e).field(format!("event.{}", e.field)));
            }
            Err(e) => return Err(Problem::bad_request(e.to_string()).field("event")),
        }
    } else {
        None
    };
    match (req.pattern, req.cesql) {
        (Some(p), None) => {
            let pattern = parse_pattern(&inline_json(p, "pattern")?, "pattern")?;
            let mut m = Matcher::new();
            m.add(0, &pattern);
            let mut out = Vec::new();
            match &event {
                Some(e) => {
                    let mut env = Vec::new();
                    envelope_json(e, &mut env);
                    m.matches_json(&env, &mut out).map_err(|e| {
                        Problem::internal(format!("matching the envelope failed: {e}"))
                    })?;
                }
                None => m.matches_value(&subject, &mut out),
            }
            Ok(axum::Json(json!({"matches": !out.is_empty()})).into_response())
        }
        (None, Some(src)) => {
            let expr = parse_cesql(&src, "cesql")?;
            let attrs: &dyn EventAttributes = match &event {
                Some(e) => e,
                None => &subject,
            };
            let eval = expr.evaluate(attrs);
            let errors: Vec<Value> = eval
                .errors
                .iter()
                .map(|e| json!({"kind": e.kind.to_string(), "message": e.to_string()}))
                .collect();
            Ok(axum::Json(json!({
                "matches": eval.errors.is_empty() && eval.value == crate::pattern::cesql::Value::Boolean(true),
                "value": cesql_value(&eval.value),
                "errors": errors,
            }))
            .into_response())
        }
        _ => Err(Problem::bad_request("give exactly one of 'pattern' or 'cesql'").field("pattern")),
    }
}

fn cesql_value(v: &crate::pattern::cesql::Value) -> Value {
    match v {
        crate::pattern::cesql::Value::Boolean(b) => json!(b),
        crate::pattern::cesql::Value::Integer(i) => json!(i),
        crate::pattern::cesql::Value::String(s) => json!(s),
    }
}
