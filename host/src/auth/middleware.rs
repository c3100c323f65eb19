//! The axum middleware that requires a token with the right scope.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{AuthFailure, TokenStore, required_action};
use crate::event::time::format_rfc3339_micros;

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "signalbox";

/// Requires a bearer token that permits the request's [`Action`](super::Action).
///
/// Use with `axum::middleware::from_fn_with_state(store, require_token)` on
/// the outermost router. Requests that need no token (`/healthz`, `/readyz`)
/// pass untouched. Otherwise:
///
/// * no `Authorization: Bearer …` header, or a secret no token has, or an
///   expired token → `401` problem with `WWW-Authenticate: Bearer realm="signalbox"`
///   (plus `error="invalid_token"` for a bad or expired one, RFC 6750 §3);
/// * a valid token without the needed scope → `403` problem naming the scope,
///   with `WWW-Authenticate: Bearer … error="insufficient_scope", scope="…"`;
/// * a permitted request goes on with the [`Token`](super::Token) in its
///   extensions, for handlers and logs.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, routing::get};
/// use signalbox::auth::{TokenStore, require_token};
///
/// let store = Arc::new(TokenStore::new());
/// let app: Router = Router::new()
///     .route("/v1/buses/{bus}", get(|| async { "bus" }))
///     .layer(axum::middleware::from_fn_with_state(store, require_token));
/// ```
pub async fn require_token(
    State(store): State<Arc<TokenStore>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(action) = required_action(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    // A server that never had tokens is open: the host only allows that on
    // loopback, or when the operator opted out of authentication explicitly.
    // Once it had one, it stays enforced (see `TokenStore`).
    if !store.enforced() {
        return next.run(req).await;
    }
    let secret = match bearer(req.headers()) {
        Ok(secret) => secret,
        Err(BearerError::Missing) => {
            return unauthorized(
                "this request needs an API token: send 'Authorization: Bearer <token>'",
                format!("Bearer realm=\"{REALM}\""),
            );
        }
        Err(BearerError::Malformed(detail)) => {
            return unauthorized(
                detail,
                format!("Bearer realm=\"{REALM}\", error=\"invalid_request\""),
            );
        }
    };
    let token = match store.check(secret) {
        Ok(token) => token,
        Err(failure) => {
            let detail = match &failure {
                AuthFailure::Invalid => failure.to_string(),
                AuthFailure::Expired { id, at } => format!(
                    "token '{id}' expired at {}; create a new one",
                    format_rfc3339_micros(*at)
                ),
            };
            tracing::debug!(%failure, path = req.uri().path(), "Refused a request: bad token.");
            return unauthorized(
                detail,
                format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""),
            );
        }
    };
    if !token.allows(&action) {
        let needed: Vec<String> = action
            .permitting_scopes()
            .iter()
            .map(|s| format!("'{s}'"))
            .collect();
        let detail = format!(
            "token '{}' ({}) may not {action}: {} {} needs scope {}",
            token.name,
            token.id,
            req.method(),
            req.uri().path(),
            needed.join(" or ")
        );
        tracing::debug!(token = %token.id, %action, "Refused a request: missing scope.");
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            detail,
            format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
                action.scope()
            ),
        );
    }
    req.extensions_mut().insert(token);
    next.run(req).await
}

enum BearerError {
    Missing,
    Malformed(&'static str),
}

/// The secret in `Authorization: Bearer <secret>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Result<&str, BearerError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(BearerError::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| BearerError::Malformed("the Authorization header is not visible ASCII"))?;
    let (scheme, secret) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Malformed(
            "the Authorization header must use the Bearer scheme: 'Authorization: Bearer <token>'",
        ));
    }
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(BearerError::Malformed(
            "the Authorization header has no token after 'Bearer'",
        ));
    }
    Ok(secret)
}

fn unauthorized(detail: impl Into<String>, challenge: String) -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        detail.into(),
        challenge,
    )
}

/// An RFC 9457 problem in the host's shape (`api::problem::Problem`):
/// `{"type": "urn:signalbox:problem:<slug>", "title", "status", "detail"}`,
/// plus the `WWW-Authenticate` challenge.
fn problem(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    challenge: String,
) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:signalbox:problem:{slug}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut resp = (status, body.to_string()).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        headers.insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}
