//! Errors as RFC 9457 problem documents.
//!
//! Every error the API returns is `application/problem+json`:
//! `{"type", "title", "status", "detail"}` plus `field` (the attribute, JSON
//! pointer or parameter that was wrong) and `errors` (per-entry problems)
//! where they help. Handlers return `Result<_, Problem>`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::event::validate::EventError;
use crate::ingest::publish::PublishError;
use crate::store::StoreError;

/// An API error. Boxed so that `Result<_, Problem>` stays small on the
/// success path.
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemDoc>);

/// The members of a problem document.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemDoc {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, stable summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What exactly went wrong, for a human.
    pub detail: String,
    /// The attribute, member or parameter at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Nested problems (for example one per failed batch entry).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<serde_json::Value>,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with a status, a slug for the type URI, a title and detail.
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem(Box::new(ProblemDoc {
            kind: format!("urn:signalbox:problem:{slug}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            retry_after: None,
        }))
    }

    /// Names the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Problem {
        self.0.field = Some(field.into());
        self
    }

    /// 400 for a malformed request.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(400, "bad-request", "Bad request", detail)
    }

    /// 404 for something that does not exist.
    pub fn not_found(what: &str, detail: impl Into<String>) -> Problem {
        Problem::new(404, "not-found", &format!("{what} not found"), detail)
    }

    /// 404 for a bus that does not exist.
    pub fn no_such_bus(bus: &str) -> Problem {
        Problem::not_found("Bus", format!("there is no bus named '{bus}'")).field("bus")
    }

    /// 500 for an internal failure; the detail is logged, not hidden.
    pub fn internal(detail: impl Into<String>) -> Problem {
        let detail = detail.into();
        tracing::error!(%detail, "Request failed.");
        Problem::new(500, "internal", "Internal error", detail)
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::BusNotFound(bus) => Problem::no_such_bus(&bus),
            StoreError::ProtectedBus => {
                Problem::new(409, "protected-bus", "Bus cannot be deleted", e.to_string())
                    .field("bus")
            }
            StoreError::Closed => {
                let mut p = Problem::new(
                    503,
                    "shutting-down",
                    "Shutting down",
                    "the server is shutting down; retry against another instance or after it restarts",
                );
                p.retry_after = Some(1);
                p
            }
            StoreError::Cluster(detail) => {
                tracing::warn!(%detail, "The cluster's storage failed a request.");
                let mut p = Problem::new(
                    503,
                    "cluster-unavailable",
                    "Cluster storage unavailable",
                    format!("{detail}; retry, here or on another node"),
                );
                p.retry_after = Some(1);
                p
            }
            other => Problem::internal(other.to_string()),
        }
    }
}

impl From<PublishError> for Problem {
    fn from(e: PublishError) -> Problem {
        match e {
            PublishError::RateLimited { retry_after, .. } => {
                let mut p = Problem::new(429, "rate-limited", "Rate limit exceeded", e.to_string());
                p.retry_after = Some(retry_after.as_secs_f64().ceil().max(1.0) as u64);
                p
            }
            PublishError::Store(s) => s.into(),
            PublishError::Task(t) => Problem::internal(t),
        }
    }
}

impl From<&EventError> for Problem {
    fn from(e: &EventError) -> Problem {
        let slug = match e.kind {
            crate::event::validate::EventErrorKind::Missing => "missing-attribute",
            crate::event::validate::EventErrorKind::Invalid => "invalid-attribute",
            crate::event::validate::EventErrorKind::UnsupportedVersion => "unsupported-specversion",
            crate::event::validate::EventErrorKind::TooLarge => "event-too-large",
            crate::event::validate::EventErrorKind::Malformed => "malformed-event",
        };
        Problem::new(e.kind.status(), slug, e.kind.title(), e.detail.clone()).field(e.field.clone())
    }
}

impl std::ops::Deref for Problem {
    type Target = ProblemDoc;
    fn deref(&self) -> &ProblemDoc {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDoc {
        &mut self.0
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Parses a JSON request body into `T`, turning serde's message into a
/// problem that names the member at fault where serde says which.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        let msg = e.to_string();
        let mut p = Problem::bad_request(format!("invalid JSON body: {msg}"));
        // serde names fields as `name` in unknown/missing-field messages.
        if let Some(start) = msg.find('`')
            && let Some(len) = msg[start + 1..].find('`')
        {
            p = p.field(&msg[start + 1..start + 1 + len]);
        }
        p
    })
}
