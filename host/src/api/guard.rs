//! What every request passes before it reaches the API: the `Host` and
//! `Origin` checks, CORS for origins the operator allowed, and a deadline on
//! reading the request body.
//!
//! # Why
//!
//! A server on loopback without tokens trusts whoever can connect, and a web
//! page the operator visits can make the browser connect. Two things stop
//! that page, the way Jupyter and Docker Desktop do it:
//!
//! * **`Origin`**: a browser names the page's origin on every request that
//!   can change state. One from a foreign origin (or the opaque `null`) is
//!   refused with 403, unless the operator listed it in
//!   `http.allowed_origins`; those get CORS headers, so a console served
//!   elsewhere can call the API.
//! * **`Host`**: DNS rebinding points the attacker's name at 127.0.0.1, so the
//!   page becomes "same-origin" with the server and `Origin` no longer
//!   helps. But the browser still sends the attacker's name in `Host`. On a
//!   loopback listener only loopback names (plus `http.allowed_hosts`) are
//!   served; on other listeners `http.allowed_hosts`, when set, is the list.
//!
//! A slow client must not hold a request forever: the body is read under a
//! deadline (`http.request_timeout`), after which reading it fails and the
//! handler answers 408.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body::Frame;

use super::Problem;

/// The guard's settings, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Guard {
    /// `Host` names served (lower case, without port); `None`: any.
    hosts: Option<Vec<String>>,
    /// Origins given CORS access (exactly as configured, lower case).
    origins: Vec<String>,
    /// How long reading a request body may take.
    body_timeout: Duration,
}

impl Guard {
    /// The guard for a listener on `addr`.
    pub fn new(
        addr: SocketAddr,
        allowed_hosts: &[String],
        allowed_origins: &[String],
        body_timeout: Duration,
    ) -> Guard {
        let mut hosts: Vec<String> = allowed_hosts
            .iter()
            .map(|h| bare_host(&h.to_ascii_lowercase()).to_owned())
            .collect();
        let hosts = if addr.ip().is_loopback() {
            hosts.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
            hosts.push(addr.ip().to_string());
            Some(hosts)
        } else if hosts.is_empty() {
            None
        } else {
            hosts.push(addr.ip().to_string());
            Some(hosts)
        };
        Guard {
            hosts,
            origins: allowed_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            body_timeout,
        }
    }

    fn host_allowed(&self, headers: &HeaderMap, req_authority: Option<&str>) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        // HTTP/2 carries the authority in the URI; HTTP/1.1 in `Host`.
        let Some(host) =
            req_authority.or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
        else {
            // HTTP/1.0 without Host: no browser sends that.
            return true;
        };
        let host = host.to_ascii_lowercase();
        let name = bare_host(&host);
        hosts.iter().any(|h| h == name)
            || name
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() && self.loopback_only())
    }

    /// Whether this is a loopback listener's guard (any loopback address is
    /// then as good as 127.0.0.1).
    fn loopback_only(&self) -> bool {
        self.hosts
            .as_ref()
            .is_some_and(|h| h.iter().any(|x| x == "localhost"))
    }

    fn origin_listed(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// The name part of a `Host` value: without the port, IPv6 brackets removed.
fn bare_host(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the same host and port
/// the request was sent to.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let with_port = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        if a.starts_with('[') {
            if a.contains("]:") {
                a
            } else {
                format!("{a}:{default_port}")
            }
        } else if a.contains(':') {
            a
        } else {
            format!("{a}:{default_port}")
        }
    };
    with_port(authority) == with_port(host)
}

fn forbidden(detail: String, field: &str) -> Response {
    Problem::new(403, "forbidden-origin", "Forbidden", detail)
        .field(field)
        .into_response()
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: install with `from_fn_with_state(Arc<Guard>, guard)`
/// outside everything else.
pub async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let authority = req.uri().authority().map(|a| a.as_str().to_owned());
    if !g.host_allowed(req.headers(), authority.as_deref()) {
        let host = authority
            .clone()
            .or_else(|| {
                req.headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        tracing::debug!(%host, "Refused a request for a foreign Host.");
        return forbidden(
            format!(
                "this server does not answer to the host name '{}'; add it to http.allowed_hosts if it is yours",
                cut(&host)
            ),
            "Host",
        );
    }
    let host = authority.or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null").to_owned());
    let listed = origin.as_deref().is_some_and(|o| g.origin_listed(o));
    if let Some(o) = &origin
        && !listed
        && !same_origin(o, host.as_deref())
    {
        // A foreign page may not change anything, nor ask for CORS access.
        if changes_state(req.method()) || req.method() == Method::OPTIONS {
            tracing::debug!(origin = %o, "Refused a cross-origin request.");
            return forbidden(
                format!(
                    "requests from the web page at origin '{}' are not allowed; list the origin in http.allowed_origins to let a browser console on it use the API",
                    cut(o)
                ),
                "Origin",
            );
        }
    } else if origin.is_none()
        && changes_state(req.method())
        && req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return forbidden(
            "a cross-site browser request may not change state".into(),
            "Sec-Fetch-Site",
        );
    }
    if listed && req.method() == Method::OPTIONS {
        return preflight(origin.as_deref().unwrap_or_default(), req.headers());
    }
    let timeout = g.body_timeout;
    let req = req.map(|body| Body::new(DeadlineBody::new(body, timeout)));
    let mut resp = next.run(req).await;
    if listed && let Some(o) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after, www-authenticate, x-amzn-requestid"),
        );
    }
    resp
}

/// The answer to a CORS preflight from a listed origin.
fn preflight(origin: &str, headers: &HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Ok(o) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE"),
    );
    // Binary-mode events carry any `ce-*` header: allow what was asked for.
    if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// At most 200 characters of a client-supplied value, for error messages.
fn cut(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Reading the body took longer than `http.request_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// A request body that fails once its deadline passes. The deadline starts
/// when the body is first polled, so a handler that never reads the body
/// pays nothing.
struct DeadlineBody {
    inner: Body,
    limit: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Body, limit: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            limit,
            sleep: None,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let limit = self.limit;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(limit)))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(|e| e.into_inner())
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Guard {
        Guard::new(
            "127.0.0.1:8080".parse().unwrap(),
            &["signalbox.internal".into()],
            &["https://console.example.com".into()],
            Duration::from_secs(1),
        )
    }

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn loopback_listeners_serve_loopback_names_only() {
        let g = loopback();
        for ok in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "LOCALHOST",
            "127.0.0.2:8080",
            "signalbox.internal:8080",
        ] {
            assert!(g.host_allowed(&host(ok), None), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1",
        ] {
            assert!(!g.host_allowed(&host(bad), None), "{bad}");
        }
        assert!(!g.host_allowed(&HeaderMap::new(), Some("evil.example:8080")));
    }

    #[test]
    fn other_listeners_serve_any_host_unless_listed() {
        let open = Guard::new(
            "0.0.0.0:8080".parse().unwrap(),
            &[],
            &[],
            Duration::from_secs(1),
        );
        assert!(open.host_allowed(&host("anything.example"), None));
        let listed = Guard::new(
            "0.0.0.0:8080".parse().unwrap(),
            &["events.example.com".into()],
            &[],
            Duration::from_secs(1),
        );
        assert!(listed.host_allowed(&host("events.example.com:8080"), None));
        assert!(!listed.host_allowed(&host("evil.example"), None));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin("http://localhost:8080", Some("localhost:8080")));
        assert!(same_origin("http://LOCALHOST:8080", Some("localhost:8080")));
        assert!(same_origin("http://example.com", Some("example.com:80")));
        assert!(same_origin("https://example.com", Some("example.com")));
        assert!(!same_origin(
            "http://localhost:3000",
            Some("localhost:8080")
        ));
        assert!(!same_origin("https://evil.example", Some("localhost:8080")));
        assert!(!same_origin("null", Some("localhost:8080")));
        assert!(!same_origin("http://localhost:8080", None));
    }

    #[test]
    fn bare_hosts() {
        assert_eq!(bare_host("a.b:80"), "a.b");
        assert_eq!(bare_host("a.b"), "a.b");
        assert_eq!(bare_host("[::1]:80"), "::1");
        assert_eq!(bare_host("[::1]"), "::1");
    }
}
