//! `/v1/buses/{bus}/events`: ingest, read back and follow.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, Problem, read_body};
use crate::event::json::{push_json_str, write_json};
use crate::event::time::format_rfc3339_micros;
use crate::ingest::publish::Entry;
use crate::ingest::{self, Mode};
use crate::metrics::{INGEST_REQUESTS, METRICS};
use crate::store::{Bus, Lookup, Seq, StoredEvent};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/buses/{bus}/events", get(list).post(post))
        .route("/v1/buses/{bus}/events/{id}", get(get_one))
}

/// Most events returned by one list call.
const MAX_LIST: usize = 1000;

/// The bus, or a 404. In cluster mode this also finds a bus created through
/// another node a moment ago, so a producer may create a bus through one
/// node and publish through another at once.
async fn bus_or_404(state: &AppState, name: &str) -> Result<std::sync::Arc<Bus>, Problem> {
    state
        .store()
        .find_bus(name)
        .await?
        .ok_or_else(|| Problem::no_such_bus(name))
}

/// The bus as this node follows it. A stream runs on the node's own view of
/// the bus, which moves as events arrive; a bus created through another
/// cluster node a moment ago is only found for one request until this node's
/// catalogue watch opens it, which is waited for here (briefly).
async fn followed(
    state: &AppState,
    bus: std::sync::Arc<Bus>,
) -> Result<std::sync::Arc<Bus>, Problem> {
    for _ in 0..40 {
        if let Some(b) = state.store().bus(&bus.name).filter(|b| b.id == bus.id) {
            return Ok(b);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut p = Problem::new(
        503,
        "bus-not-ready",
        "The bus is not ready here yet",
        format!(
            "bus '{}' was created on another node a moment ago; retry",
            bus.name
        ),
    );
    p.retry_after = Some(1);
    Err(p)
}

/// `POST /v1/buses/{bus}/events`: binary, structured or batch mode. Answers
/// only once every accepted event is durable.
async fn post(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let mut mode = "unknown";
    let result = ingest(&state, &name, headers, body, &mut mode).await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    let m = &*METRICS;
    m.ingest_latency
        .get(&[("mode", mode), ("outcome", outcome)])
        .observe(started.elapsed());
    INGEST_REQUESTS
        .get(&[("mode", mode), ("outcome", outcome)])
        .inc();
    result
}

async fn ingest(
    state: &AppState,
    name: &str,
    headers: HeaderMap,
    body: Body,
    mode_out: &mut &'static str,
) -> Result<Response, Problem> {
    let bus = bus_or_404(state, name).await?;
    let server = state.limits();
    let body = read_body(body, server.max_request_bytes).await?;
    let limits = ingest::Limits {
        max_event_bytes: bus
            .config
            .max_event_bytes
            .map_or(server.max_event_bytes, |m| m as usize),
        max_batch_events: server.max_batch_events,
    };
    // Parsing and schema checks are linear, but a 16 MiB body still takes
    // milliseconds: large ones run on the blocking pool so they do not hold
    // up the runtime's worker threads (and every other request with them).
    let large = body.len() > ingest::PARSE_OFFLOAD_BYTES;
    let parsed = offload(large, move || ingest::parse_request(&headers, body, limits))
        .await?
        .map_err(|e| {
            let slug = match e.status() {
                415 => "unsupported-format",
                413 => "batch-too-large",
                _ => "not-a-cloudevent",
            };
            Problem::new(e.status(), slug, "Request rejected", e.to_string())
        })?;
    *mode_out = parsed.mode.as_str();
    let published = state
        .publisher()
        .publish(&bus, parsed.entries, parsed.mode.as_str())
        .await?;
    if parsed.mode != Mode::Batch
        && let Some(Entry::Rejected(e)) = published.entries.first()
    {
        return Err(Problem::from(e));
    }
    // Written by hand: this runs for every event at full ingest rate, and a
    // `serde_json::Value` per entry costs more than the rest of the response.
    let mut out = String::with_capacity(64 + published.entries.len() * 80);
    out.push_str(&format!(
        "{{\"accepted\":{},\"failed\":{},\"entries\":[",
        published.accepted, published.failed,
    ));
    for (i, entry) in published.entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match entry {
            Entry::Stored {
                seq,
                duplicate,
                event,
            } => {
                out.push_str("{\"id\":");
                push_json_str(&mut out, &event.id);
                out.push_str(",\"source\":");
                push_json_str(&mut out, &event.source);
                out.push_str(",\"seq\":");
                let _ = write!(out, "{seq}");
                if *duplicate {
                    out.push_str(",\"duplicate\":true");
                }
                out.push('}');
            }
            Entry::Rejected(e) => {
                let v = json!({
                    "id": e.id,
                    "source": e.event_source,
                    "error": {"title": e.kind.title(), "detail": e.detail, "field": e.field, "status": e.kind.status()},
                });
                out.push_str(&v.to_string());
            }
        }
    }
    out.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

/// Runs `f` here, or on the blocking pool when `large`.
async fn offload<T: Send + 'static>(
    large: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Problem> {
    if large {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Problem::internal(e.to_string()))
    } else {
        Ok(f())
    }
}

/// Writes a stored event as JSON with `seq` and `received_at` members.
fn stored_json(e: &StoredEvent, out: &mut String) {
    let seq = e.seq.to_string();
    let received = format!("\"{}\"", format_rfc3339_micros(e.received_at));
    write_json(&e.event, &[("seq", &seq), ("received_at", &received)], out);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<Seq>,
    limit: Option<usize>,
    follow: Option<bool>,
    /// RFC 3339: start at the first event received at or after this time.
    since: Option<String>,
    /// RFC 3339: only events received before this time (not with `follow`).
    before: Option<String>,
    /// An event pattern (JSON): only events it matches.
    pattern: Option<String>,
    /// A CESQL expression: only events for which it is true.
    cesql: Option<String>,
}

/// Most events one filtered list call looks at: a filter that matches
/// rarely still answers quickly, with `next` where it stopped.
const MAX_SCAN: usize = 10_000;

/// The `pattern` and `cesql` query parameters: the same selection a rule
/// with those selectors makes (both must hold when both are given).
struct EventFilter(crate::matching::RuleSet);

impl EventFilter {
    fn parse(q: &ListQuery) -> Result<Option<EventFilter>, Problem> {
        if q.pattern.is_none() && q.cesql.is_none() {
            return Ok(None);
        }
        let pattern = match &q.pattern {
            Some(p) => {
                let v: Value = serde_json::from_str(p).map_err(|e| {
                    Problem::new(
                        400,
                        "invalid-pattern",
                        "Invalid event pattern",
                        format!("the pattern is not valid JSON: {e}"),
                    )
                    .field("pattern")
                })?;
                Some(super::patterns::parse_pattern(&v, "pattern")?)
            }
            None => None,
        };
        let cesql = q
            .cesql
            .as_deref()
            .map(|c| super::patterns::parse_cesql(c, "cesql"))
            .transpose()?;
        Ok(Some(EventFilter(crate::matching::RuleSet::single(
            pattern.as_ref(),
            cesql.as_ref(),
        ))))
    }

    fn keeps(&mut self, e: &StoredEvent) -> bool {
        self.0.selects(&e.event)
    }
}

/// Parses an RFC 3339 query parameter into µs since the epoch.
fn time_param(v: &str, field: &str) -> Result<i64, Problem> {
    crate::event::time::parse_rfc3339(v).map_err(|e| {
        Problem::bad_request(format!("{field} must be an RFC 3339 time: {e}")).field(field)
    })
}

async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let Query(q) =
        query.map_err(|e| Problem::bad_request(format!("invalid query: {}", e.body_text())))?;
    let bus = bus_or_404(&state, &name).await?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIST {
        return Err(
            Problem::bad_request(format!("limit must be between 1 and {MAX_LIST}")).field("limit"),
        );
    }
    // SSE clients resume with Last-Event-ID, which we set to the seq.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Seq>().ok());
    let mut after = resume.or(q.after).unwrap_or(0);
    let mut filter = EventFilter::parse(&q)?;
    if q.follow != Some(true) {
        // A listing shows what was acknowledged before it, through any node
        // (or, if the log cannot be asked now, what this node knows of).
        if let Err(error) = state.store().sync_head(&bus).await {
            tracing::debug!(%error, "Cannot ask the log for its head; listing what this node knows.");
        }
    }
    if let Some(since) = &q.since {
        let at = time_param(since, "since")?;
        let first = state.store().seq_at_time(&bus, at).await?;
        after = after.max(first.saturating_sub(1));
    }
    // One past the last event the answer may hold.
    let end = match &q.before {
        Some(_) if q.follow == Some(true) => {
            return Err(Problem::bad_request(
                "before bounds a listing; a stream (follow=true) has no end",
            )
            .field("before"));
        }
        Some(before) => {
            let at = time_param(before, "before")?;
            Some(state.store().seq_at_time(&bus, at).await?)
        }
        None => None,
    };
    if q.follow == Some(true) {
        let Some(permit) = state.follower() else {
            let mut p = Problem::new(
                503,
                "too-many-streams",
                "Too many event streams",
                format!(
                    "the server already serves {} event streams (limits.max_followers); retry later",
                    state.limits().max_followers
                ),
            );
            p.retry_after = Some(5);
            return Err(p);
        };
        let bus = followed(&state, bus).await?;
        return Ok(follow(state, bus, after, filter, permit).into_response());
    }
    let end = end.unwrap_or(Seq::MAX);
    let (events, next) = match &mut filter {
        None => {
            let room =
                usize::try_from(end.saturating_sub(after).saturating_sub(1)).unwrap_or(usize::MAX);
            let mut events = if room == 0 {
                Vec::new()
            } else {
                state
                    .store()
                    .read_page(&bus, after, limit.min(room))
                    .await?
            };
            events.retain(|e| e.seq < end);
            let next = events.last().map_or(after, |e| e.seq);
            (events, next)
        }
        Some(f) => {
            // Pages of the log until `limit` events match, the bound or
            // the head is reached, or MAX_SCAN events were looked at;
            // `next` is the last one looked at, so paging goes on from
            // there.
            let mut out = Vec::new();
            let (mut cursor, mut scanned) = (after, 0);
            while out.len() < limit && scanned < MAX_SCAN && cursor.saturating_add(1) < end {
                let page = state.store().read_page(&bus, cursor, 500).await?;
                let Some(last) = page.last().map(|e| e.seq) else {
                    break;
                };
                for e in page {
                    if e.seq >= end || out.len() >= limit {
                        break;
                    }
                    cursor = e.seq;
                    scanned += 1;
                    if f.keeps(&e) {
                        out.push(e);
                    }
                }
                if cursor < last {
                    break;
                }
            }
            (out, cursor)
        }
    };
    let mut body = String::with_capacity(events.len() * 512 + 32);
    body.push_str("{\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        stored_json(e, &mut body);
    }
    body.push_str("],\"next\":");
    body.push_str(&next.to_string());
    body.push('}');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Streams events after `after` as Server-Sent Events, then new ones as they
/// are committed. Each SSE message has `id` = seq (so `Last-Event-ID`
/// resumes), `event: cloudevent` and the event as JSON. With a `filter`,
/// only the events it selects are sent, and after a read whose last events
/// it passed over, an `event: progress` message (`id` and `{"seq"}` the
/// last seq looked at).
fn follow(
    state: AppState,
    bus: std::sync::Arc<Bus>,
    after: Seq,
    mut filter: Option<EventFilter>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let store = state.store().clone();
    let mut committed = bus.subscribe();
    let mut shutdown = state.shutdown();
    let stream = async_stream(move |tx| async move {
        // Held for as long as the stream runs.
        let _permit = permit;
        let mut cursor = after;
        loop {
            // The head before the read: if the read finds nothing after the
            // cursor, everything up to this head is gone (retention).
            let head = bus.last_seq();
            let batch = match store.read(&bus, cursor, 500).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, "Event stream read failed.");
                    let _ = tx
                        .send(SseEvent::default().event("error").data(error.to_string()))
                        .await;
                    return;
                }
            };
            if batch.is_empty() {
                if head > cursor {
                    // Expired before we reached them: skip the gap instead of
                    // reading the same empty range again and again.
                    cursor = head;
                    continue;
                }
                committed.borrow_and_update();
                if *committed.borrow() > cursor {
                    continue;
                }
                tokio::select! {
                    r = committed.changed() => if r.is_err() { return },
                    _ = shutdown.changed() => return,
                    // The client went away: free its slot now, not at the
                    // next event.
                    _ = tx.closed() => return,
                }
                continue;
            }
            let last = batch.last().map_or(cursor, |e| e.seq);
            let mut skipped = false;
            for e in &batch {
                if let Some(f) = &mut filter
                    && !f.keeps(e)
                {
                    skipped = true;
                    continue;
                }
                let mut json = String::new();
                stored_json(e, &mut json);
                let msg = SseEvent::default()
                    .id(e.seq.to_string())
                    .event("cloudevent")
                    .data(json);
                if tx.send(msg).await.is_err() {
                    return;
                }
                cursor = e.seq;
            }
            if skipped && cursor < last {
                // The filter passed over the end of this batch: say how
                // far the stream has looked, so a client that reconnects
                // (Last-Event-ID) does not scan it again.
                let msg = SseEvent::default()
                    .id(last.to_string())
                    .event("progress")
                    .data(format!("{{\"seq\":{last}}}"));
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
            cursor = last;
            if *shutdown.borrow() {
                return;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// A stream fed by a task through a small channel: the task ends when the
/// client disconnects (the send fails) or when it returns.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<SseEvent>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use futures_util::StreamExt as _;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GetQuery {
    source: Option<String>,
}

async fn get_one(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    query: Result<Query<GetQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) =
        query.map_err(|e| Problem::bad_request(format!("invalid query: {}", e.body_text())))?;
    let bus = bus_or_404(&state, &name).await?;
    let lookup = state
        .store()
        .get_by_id(&bus, &id, q.source.as_deref())
        .await?;
    match lookup {
        Lookup::Found(e) => {
            let mut body = String::new();
            stored_json(&e, &mut body);
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Lookup::NotFound => {
            Err(Problem::not_found("Event", "no stored event has that id (and source)").field("id"))
        }
        Lookup::Ambiguous(sources) => {
            let mut p = Problem::new(
                StatusCode::CONFLICT.as_u16(),
                "ambiguous-id",
                "Ambiguous event id",
                format!(
                    "{} sources used this id; add ?source= to choose one",
                    sources.len()
                ),
            )
            .field("source");
            p.errors = sources.into_iter().map(Value::String).collect();
            Err(p)
        }
    }
}
