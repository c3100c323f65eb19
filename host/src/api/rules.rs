//! `/v1/buses/{bus}/rules`, dead letters, and event traces.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, Problem, problem::parse_json, read_body};
use crate::event::time::format_rfc3339_micros;
use crate::rules::RulesError;
use crate::rules::rule::RuleSpec;
use crate::store::Lookup;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/buses/{bus}/rules", get(list))
        .route(
            "/v1/buses/{bus}/rules/{rule}",
            get(get_rule).put(put).delete(delete),
        )
        .route(
            "/v1/buses/{bus}/rules/{rule}/dead-letters",
            get(dead_letters).delete(purge),
        )
        .route(
            "/v1/buses/{bus}/rules/{rule}/dead-letters/redrive",
            post(redrive),
        )
        .route("/v1/buses/{bus}/events/{id}/trace", get(trace))
}

impl From<RulesError> for Problem {
    fn from(e: RulesError) -> Problem {
        match e {
            RulesError::Rule(r) => {
                Problem::new(400, "invalid-rule", "Invalid rule", r.message).field(r.field)
            }
            RulesError::NoBus(b) => Problem::no_such_bus(&b),
            RulesError::NoRule(r) => {
                Problem::not_found("Rule", format!("there is no rule named '{r}' on this bus"))
                    .field("rule")
            }
            RulesError::LimitReached { .. } => {
                Problem::new(409, "limit-reached", "Limit reached", e.to_string()).field("rule")
            }
            RulesError::Store(s) => Problem::from(s),
        }
    }
}

async fn list(State(state): State<AppState>, Path(bus): Path<String>) -> Result<Response, Problem> {
    let rules = state.rules().list_rules(&bus).await?;
    Ok(axum::Json(json!({ "rules": rules })).into_response())
}

async fn get_rule(
    State(state): State<AppState>,
    Path((bus, rule)): Path<(String, String)>,
) -> Result<Response, Problem> {
    if state.store().bus(&bus).is_none() {
        return Err(Problem::no_such_bus(&bus));
    }
    Ok(axum::Json(state.rules().get_rule(&bus, &rule).await?).into_response())
}

async fn put(
    State(state): State<AppState>,
    Path((bus, rule)): Path<(String, String)>,
    body: Body,
) -> Result<Response, Problem> {
    let body = read_body(body, 1 << 20).await?;
    let spec: RuleSpec = parse_json(&body)?;
    let created = state.rules().put_rule(&bus, &rule, spec).await?;
    let v = state.rules().get_rule(&bus, &rule).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(v)).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path((bus, rule)): Path<(String, String)>,
) -> Result<Response, Problem> {
    state.rules().delete_rule(&bus, &rule).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DlqQuery {
    target: Option<String>,
    limit: Option<usize>,
    /// The `next` of the previous page.
    after: Option<String>,
}

/// Most bytes of stored letters one page of the listing returns (past the
/// first letter): pages of large events stay small.
const DLQ_PAGE_BYTES: usize = 4 << 20;

async fn check_rule(
    state: &AppState,
    bus: &str,
    rule: &str,
) -> Result<crate::store::BusId, Problem> {
    let b = state
        .store()
        .bus(bus)
        .ok_or_else(|| Problem::no_such_bus(bus))?;
    if !state.rules().has_rule(bus, rule).await {
        return Err(RulesError::NoRule(rule.to_owned()).into());
    }
    Ok(b.id)
}

/// A listing position: `<target>/<seq>/<sub>` of the last letter returned.
fn parse_after(
    bus: crate::store::BusId,
    rule: &str,
    s: &str,
) -> Result<crate::store::queue::DeliveryKey, Problem> {
    let bad =
        || Problem::bad_request("after must be the 'next' value of a previous page").field("after");
    let mut parts = s.rsplitn(3, '/');
    let sub = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let target = parts.next().ok_or_else(bad)?.to_owned();
    Ok(crate::store::queue::DeliveryKey {
        bus,
        rule: rule.to_owned(),
        target,
        seq,
        sub,
    })
}

async fn dead_letters(
    State(state): State<AppState>,
    Path((bus, rule)): Path<(String, String)>,
    query: Result<Query<DlqQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) =
        query.map_err(|e| Problem::bad_request(format!("invalid query: {}", e.body_text())))?;
    let bus_id = check_rule(&state, &bus, &rule).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q
        .after
        .as_deref()
        .map(|a| parse_after(bus_id, &rule, a))
        .transpose()?;
    let counts = state.rules().dead_letter_counts(&bus, &rule).await?;
    if let Some(t) = &q.target
        && !counts.iter().any(|(id, _)| id == t)
    {
        return Err(
            Problem::not_found("Target", format!("the rule has no target '{t}'")).field("target"),
        );
    }
    let total: u64 = counts
        .iter()
        .filter(|(id, _)| q.target.as_deref().is_none_or(|t| t == id))
        .map(|(_, n)| n)
        .sum();
    let (page, more) = state
        .store()
        .dead_letter_page(
            bus_id,
            &rule,
            q.target.as_deref(),
            after.as_ref(),
            limit,
            DLQ_PAGE_BYTES,
        )
        .await?;
    let next = more
        .then(|| page.last())
        .flatten()
        .map(|(k, _)| format!("{}/{}/{}", k.target, k.seq, k.sub));
    let items: Vec<Value> = page
        .into_iter()
        .map(|(k, dl)| match dl {
            Ok(dl) => serde_json::to_value(dl).unwrap_or(Value::Null),
            Err(e) => {
                json!({"target": k.target, "seq": k.seq, "sub": k.sub, "unreadable": e.to_string()})
            }
        })
        .collect();
    Ok(axum::Json(json!({"dead_letters": items, "total": total, "next": next})).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveRequest {
    target: Option<String>,
}

async fn redrive(
    State(state): State<AppState>,
    Path((bus, rule)): Path<(String, String)>,
    body: Body,
) -> Result<Response, Problem> {
    check_rule(&state, &bus, &rule).await?;
    let body = read_body(body, 64 << 10).await?;
    let req: RedriveRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RedriveRequest::default()
    } else {
        parse_json(&body)?
    };
    let done = state
        .rules()
        .redrive(&bus, &rule, req.target.as_deref())
        .await?;
    Ok(axum::Json(json!({"redriven": done.redriven, "skipped": done.skipped})).into_response())
}

async fn purge(
    State(state): State<AppState>,
    Path((bus, rule)): Path<(String, String)>,
    query: Result<Query<DlqQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) =
        query.map_err(|e| Problem::bad_request(format!("invalid query: {}", e.body_text())))?;
    check_rule(&state, &bus, &rule).await?;
    let n = state
        .rules()
        .purge_dead_letters(&bus, &rule, q.target.as_deref())
        .await?;
    Ok(axum::Json(json!({"purged": n})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceQuery {
    source: Option<String>,
}

/// `GET /v1/buses/{bus}/events/{id}/trace`: when the event arrived, what
/// each rule did with it, and every delivery attempt.
async fn trace(
    State(state): State<AppState>,
    Path((bus, id)): Path<(String, String)>,
    token: Option<axum::Extension<crate::auth::Token>>,
    query: Result<Query<TraceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    // What a receiver answered is the receiver's data: a token that may
    // only read the bus sees that an attempt failed and its status, not the
    // response body.
    let admin = token.is_none_or(|t| t.allows(&crate::auth::Action::Admin));
    let Query(q) =
        query.map_err(|e| Problem::bad_request(format!("invalid query: {}", e.body_text())))?;
    let b = state
        .store()
        .find_bus(&bus)
        .await?
        .ok_or_else(|| Problem::no_such_bus(&bus))?;
    let store = state.store();
    let lookup = store.get_by_id(&b, &id, q.source.as_deref()).await?;
    let steps = match &lookup {
        Lookup::Found(e) => store.trace(b.id, e.seq).await?,
        _ => Vec::new(),
    };
    let e = match lookup {
        Lookup::Found(e) => e,
        Lookup::NotFound => {
            return Err(
                Problem::not_found("Event", "no stored event has that id (and source)").field("id"),
            );
        }
        Lookup::Ambiguous(sources) => {
            let mut p = Problem::new(
                409,
                "ambiguous-id",
                "Ambiguous event id",
                format!(
                    "{} sources used this id; add ?source= to choose one",
                    sources.len()
                ),
            )
            .field("source");
            p.errors = sources.into_iter().map(Value::String).collect();
            return Err(p);
        }
    };
    let mut all = vec![json!({"at": format_rfc3339_micros(e.received_at), "step": "received"})];
    all.extend(steps.into_iter().map(|mut s| {
        if !admin {
            s.detail.remove("response");
        }
        serde_json::to_value(s).unwrap_or(Value::Null)
    }));
    Ok(axum::Json(json!({
        "id": e.event.id,
        "source": e.event.source,
        "type": e.event.ty,
        "seq": e.seq,
        "received_at": format_rfc3339_micros(e.received_at),
        "steps": all,
    }))
    .into_response())
}
