//! A small blocking HTTP client for connectors, over
//! `wasi:http/outgoing-handler`.
//!
//! ```no_run
//! # use signalbox_sdk::{DeliveryError, http};
//! # fn send(body: &[u8]) -> Result<(), DeliveryError> {
//! http::post(
//!     "https://hooks.example.com/orders",
//!     &[("content-type", "application/json"), ("authorization", "Bearer s3cret")],
//!     body,
//! )?
//! .error_for_status()?;
//! # Ok(()) }
//! ```
//!
//! Every failure comes back as a [`DeliveryError`] that already says whether
//! a retry can help, so a connector can pass it straight up with `?`:
//!
//! | what happened | retryable | function |
//! |---|---|---|
//! | a 2xx response | — (success) | [`classify_status`] |
//! | 408, 425, 429, 5xx | yes | [`classify_status`] |
//! | any other status (1xx, 3xx — redirects are not followed —, other 4xx) | no | [`classify_status`] |
//! | DNS failure, connection refused/reset/timed out, TLS handshake failure, incomplete response, host internal error | yes | [`classify_error_code`] |
//! | destination not on the rule's allow-list (`HTTP-request-denied`), prohibited IP, invalid URL/method/header, request or response over a size limit, TLS certificate rejected | no | [`classify_error_code`] |
//!
//! The host only lets a connector reach the hosts on its rule's
//! `allowed_hosts`; anything else fails with a permanent error saying so.
//! A request that times out may still have been processed by the remote
//! side: delivery is at-least-once, so make the receiving end idempotent
//! (the event `id` and `source` identify each event).
//!
//! Timeouts: by default the host's transport timeouts apply, and the rule's
//! per-call deadline (`limits.call_timeout_ms`) bounds the whole call. If the
//! deadline hits first the instance traps instead of returning an error, so
//! set [`Request::timeout`] comfortably below the deadline.

use std::time::Duration;

use crate::DeliveryError;
use crate::connector_bindings::wasi::http::outgoing_handler;
use crate::connector_bindings::wasi::http::types::{
    FieldSizePayload, Fields, FutureIncomingResponse, HeaderError, IncomingBody, IncomingResponse,
    Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme, http_error_code,
};
use crate::connector_bindings::wasi::io::streams::StreamError;

/// The `wasi:http` error code a failed request reports; see
/// [`classify_error_code`].
pub use crate::connector_bindings::wasi::http::types::ErrorCode;

/// How much of a response body [`Request::send`] keeps unless told
/// otherwise ([`Request::max_response_bytes`]): 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;

/// How many bytes of a response body an [`error_for_status`](Response::error_for_status)
/// message quotes.
const BODY_EXCERPT_BYTES: usize = 200;

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The response headers, in order. Names are lower-case; values that
    /// are not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The response body, cut at the request's
    /// [`max_response_bytes`](Request::max_response_bytes).
    pub body: Vec<u8>,
    /// `METHOD scheme://authority`, for error messages.
    origin: String,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, if it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// `Ok(self)` for a 2xx response; otherwise the [`DeliveryError`] that
    /// [`classify_status`] gives, with the status code and the start of
    /// the body in the message (e.g. `POST https://hooks.example.com: HTTP
    /// 503: upstream busy`).
    pub fn error_for_status(self) -> Result<Self, DeliveryError> {
        match classify_status(self.status) {
            None => Ok(self),
            Some(mut error) => {
                let body = String::from_utf8_lossy(&self.body);
                let body = body.trim();
                if !body.is_empty() {
                    let mut end = body.len().min(BODY_EXCERPT_BYTES);
                    while !body.is_char_boundary(end) {
                        end -= 1;
                    }
                    error.message = format!(
                        "{}: {}{}",
                        error.message,
                        &body[..end],
                        if end < body.len() { "…" } else { "" }
                    );
                }
                Err(error.context(&self.origin))
            }
        }
    }
}

/// What a status code means for a delivery: `None` for 2xx (delivered);
/// otherwise a [`DeliveryError`] carrying the status, retryable for 408
/// (request timeout), 425 (too early), 429 (too many requests) and 5xx, and
/// permanent for everything else (1xx, 3xx, other 4xx).
///
/// ```
/// # use signalbox_sdk::http::classify_status;
/// assert!(classify_status(204).is_none());
/// assert!(classify_status(503).unwrap().retryable);
/// assert!(classify_status(429).unwrap().retryable);
/// assert!(!classify_status(404).unwrap().retryable);
/// assert_eq!(classify_status(400).unwrap().status, Some(400));
/// ```
pub fn classify_status(status: u16) -> Option<DeliveryError> {
    let message = format!("HTTP {status}");
    match status {
        200..=299 => None,
        408 | 425 | 429 | 500..=599 => Some(DeliveryError::retryable(message).with_status(status)),
        _ => Some(DeliveryError::permanent(message).with_status(status)),
    }
}

/// What a `wasi:http` error code means for a delivery: a message a person
/// can act on, and whether a retry may help.
///
/// Retryable: DNS failures and timeouts, unreachable or unavailable
/// destinations, refused/reset/terminated connections and connection
/// timeouts, TLS handshake failures and alerts, incomplete responses,
/// response timeouts, protocol errors and host internal errors.
///
/// Permanent: `HTTP-request-denied` (the destination is not on the rule's
/// allow-list), prohibited destination IPs, invalid method/URI/headers,
/// request or response size limits, unsupported transfer or content
/// codings, rejected TLS certificates, failed upgrades, loops and host
/// configuration errors — retrying the same request fails the same way.
pub fn classify_error_code(code: &ErrorCode) -> DeliveryError {
    use ErrorCode as E;
    fn size(what: &str, limit: Option<impl std::fmt::Display>) -> String {
        match limit {
            Some(limit) => format!("{what} is over the limit ({limit})"),
            None => format!("{what} is over the limit"),
        }
    }
    fn field(what: &str, p: &FieldSizePayload) -> String {
        match (&p.field_name, p.field_size) {
            (Some(name), Some(n)) => format!("{what} `{name}` is too large ({n} bytes)"),
            (Some(name), None) => format!("{what} `{name}` is too large"),
            _ => format!("a {what} is too large"),
        }
    }
    let (retryable, message) = match code {
        E::DnsTimeout => (true, "DNS lookup timed out".to_owned()),
        E::DnsError(p) => (
            true,
            match (&p.rcode, p.info_code) {
                (Some(rcode), _) => format!("DNS lookup failed: {rcode}"),
                (None, Some(info)) => format!("DNS lookup failed (info code {info})"),
                (None, None) => "DNS lookup failed".to_owned(),
            },
        ),
        E::DestinationNotFound => (true, "destination host not found".to_owned()),
        E::DestinationUnavailable => (true, "destination unavailable".to_owned()),
        E::DestinationIpUnroutable => (true, "destination IP address unroutable".to_owned()),
        E::DestinationIpProhibited => (
            false,
            "destination IP address prohibited by the host's network policy".to_owned(),
        ),
        E::ConnectionRefused => (true, "connection refused".to_owned()),
        E::ConnectionTerminated => (true, "connection terminated".to_owned()),
        E::ConnectionTimeout => (true, "connection timed out".to_owned()),
        E::ConnectionReadTimeout => (true, "timed out reading from the connection".to_owned()),
        E::ConnectionWriteTimeout => (true, "timed out writing to the connection".to_owned()),
        E::ConnectionLimitReached => (true, "connection limit reached".to_owned()),
        E::TlsProtocolError => (true, "TLS protocol error".to_owned()),
        E::TlsAlertReceived(p) => (
            true,
            match (&p.alert_message, p.alert_id) {
                (Some(m), _) => format!("TLS alert received: {m}"),
                (None, Some(id)) => format!("TLS alert {id} received"),
                (None, None) => "TLS alert received".to_owned(),
            },
        ),
        E::TlsCertificateError => (
            false,
            "the server's TLS certificate was rejected".to_owned(),
        ),
        E::HttpRequestDenied => (
            false,
            "request denied: the destination host is not on this rule's allow-list \
             (add it to the target's `allowed_hosts`)"
                .to_owned(),
        ),
        E::HttpRequestLengthRequired => (false, "the server requires a content-length".to_owned()),
        E::HttpRequestBodySize(n) => (false, size("request body", *n)),
        E::HttpRequestMethodInvalid => (false, "invalid request method".to_owned()),
        E::HttpRequestUriInvalid => (false, "invalid request URL".to_owned()),
        E::HttpRequestUriTooLong => (false, "request URL too long".to_owned()),
        E::HttpRequestHeaderSectionSize(n) => (false, size("request header section", *n)),
        E::HttpRequestHeaderSize(p) => (
            false,
            p.as_ref().map_or_else(
                || "a request header is too large".to_owned(),
                |p| field("request header", p),
            ),
        ),
        E::HttpRequestTrailerSectionSize(n) => (false, size("request trailer section", *n)),
        E::HttpRequestTrailerSize(p) => (false, field("request trailer", p)),
        E::HttpResponseIncomplete => (true, "incomplete response".to_owned()),
        E::HttpResponseHeaderSectionSize(n) => (false, size("response header section", *n)),
        E::HttpResponseHeaderSize(p) => (false, field("response header", p)),
        E::HttpResponseBodySize(n) => (false, size("response body", *n)),
        E::HttpResponseTrailerSectionSize(n) => (false, size("response trailer section", *n)),
        E::HttpResponseTrailerSize(p) => (false, field("response trailer", p)),
        E::HttpResponseTransferCoding(c) => (
            false,
            format!(
                "unsupported response transfer coding {}",
                c.as_deref().unwrap_or("")
            ),
        ),
        E::HttpResponseContentCoding(c) => (
            false,
            format!(
                "unsupported response content coding {}",
                c.as_deref().unwrap_or("")
            ),
        ),
        E::HttpResponseTimeout => (true, "timed out waiting for the response".to_owned()),
        E::HttpUpgradeFailed => (false, "HTTP upgrade failed".to_owned()),
        E::HttpProtocolError => (true, "HTTP protocol error".to_owned()),
        E::LoopDetected => (false, "request loop detected".to_owned()),
        E::ConfigurationError => (false, "host HTTP configuration error".to_owned()),
        E::InternalError(m) => (
            true,
            match m {
                Some(m) => format!("host internal error: {m}"),
                None => "host internal error".to_owned(),
            },
        ),
    };
    let message = message.trim_end().to_owned();
    if retryable {
        DeliveryError::retryable(message)
    } else {
        DeliveryError::permanent(message)
    }
}

/// Sends a request with `method` to `url` with these headers and body, and
/// waits for the response.
///
/// Any status is `Ok`; use [`Response::error_for_status`] to turn non-2xx
/// into a [`DeliveryError`]. Transport failures are classified with
/// [`classify_error_code`]. For timeouts and a response size limit use
/// [`Request`].
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, DeliveryError> {
    Request::new(method, url).headers(headers).body(body).send()
}

/// [`request`] with `POST`.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, DeliveryError> {
    request("POST", url, headers, body)
}

/// [`request`] with `GET` and no body.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, DeliveryError> {
    request("GET", url, headers, &[])
}

/// An HTTP request, for when [`post`] and [`request`] are not enough.
///
/// ```no_run
/// # use std::time::Duration;
/// # use signalbox_sdk::{DeliveryError, http::Request};
/// # fn send(body: &[u8]) -> Result<(), DeliveryError> {
/// let response = Request::new("PUT", "https://api.example.com/items/42")
///     .header("content-type", "application/json")
///     .body(body)
///     .timeout(Duration::from_secs(5))
///     .send()?
///     .error_for_status()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "call .send() to send the request"]
pub struct Request<'a> {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: &'a [u8],
    timeout: Option<Duration>,
    max_response_bytes: usize,
}

impl<'a> Request<'a> {
    /// A request with `method` (`GET`, `POST`, … or any token) to `url`
    /// (`http://` or `https://`; user info in the URL is not supported, send
    /// credentials in a header).
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: &[],
            timeout: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Adds a header. `content-length` is added automatically; `host`,
    /// `connection` and other hop-by-hop headers are refused by the host.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds several headers.
    pub fn headers(mut self, headers: &[(&str, &str)]) -> Self {
        self.headers.extend(
            headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    /// Limits connecting, waiting for the first response byte, and each wait
    /// between response bytes to `timeout` each. Hitting it is a retryable
    /// error. Hosts may ignore it (then their own limits apply).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps at most this many bytes of the response body (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]); the rest is not read.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Sends the request and waits for the response (status, headers and
    /// body). Any status is `Ok`; see [`Response::error_for_status`].
    pub fn send(self) -> Result<Response, DeliveryError> {
        let url = parse_url(&self.url)?;
        let method = method(&self.method);
        let origin = format!(
            "{} {}://{}",
            self.method.to_ascii_uppercase(),
            url.scheme,
            url.authority
        );
        send(&self, &url, method, &origin).map_err(|e| e.context(&origin))
    }
}

fn method(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        _ => Method::Other(method.to_owned()),
    }
}

fn send(
    req: &Request<'_>,
    url: &Url<'_>,
    method: Method,
    origin: &str,
) -> Result<Response, DeliveryError> {
    let needs_length =
        !req.body.is_empty() || matches!(method, Method::Post | Method::Put | Method::Patch);
    let mut fields: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    if needs_length && !fields.iter().any(|(n, _)| n == "content-length") {
        fields.push((
            "content-length".to_owned(),
            req.body.len().to_string().into_bytes(),
        ));
    }
    let headers = Fields::from_list(&fields).map_err(|e| header_error(&fields, e))?;

    let request = OutgoingRequest::new(headers);
    let invalid = |what: &str| DeliveryError::permanent(format!("invalid request {what}"));
    request
        .set_method(&method)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(Some(&url.scheme_value()))
        .map_err(|()| invalid("URL scheme"))?;
    request
        .set_authority(Some(url.authority))
        .map_err(|()| invalid("URL authority"))?;
    request
        .set_path_with_query(Some(&url.path_with_query))
        .map_err(|()| invalid("URL path"))?;
    let body = request
        .body()
        .map_err(|()| DeliveryError::retryable("host internal error: request body unavailable"))?;

    let options = req.timeout.map(|timeout| {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let options = RequestOptions::new();
        // A host that does not support a timeout says so with Err; its own
        // limits then apply, which is fine.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    });

    let future =
        outgoing_handler::handle(request, options).map_err(|code| classify_error_code(&code))?;
    let written = write_body(body, req.body);
    // If writing failed because the request failed, the response future
    // says why more precisely than the stream does; prefer its error. A
    // server may also answer before it has read the whole body (an early
    // 413, or one that ignores the body): then the body stream closes under
    // us, and the answer, which the server did send, is what counts, as in
    // any HTTP client.
    let response = wait(&future);
    let response = match (written, response) {
        (_, Err(e)) => return Err(e),
        (Err(_), Ok(response)) | (Ok(()), Ok(response)) => response,
    };
    read_response(response, req.max_response_bytes, origin)
}

fn header_error(fields: &[(String, Vec<u8>)], error: HeaderError) -> DeliveryError {
    // Find which header it was: try each on its own.
    let culprit = fields
        .iter()
        .find(|f| Fields::from_list(std::slice::from_ref(f)).is_err())
        .map(|(name, _)| name.as_str())
        .unwrap_or("?");
    let why = match error {
        HeaderError::InvalidSyntax => "has an invalid name or value",
        HeaderError::Forbidden => "is not allowed (the host sets it)",
        HeaderError::Immutable => "cannot be changed",
    };
    DeliveryError::permanent(format!("request header `{culprit}` {why}"))
}

/// Writes the whole body and finishes it. On failure the body is dropped
/// without `finish`, which tells the host the request is incomplete.
///
/// The host may buffer very little (wasmtime: one write), so this runs after
/// `handle` has started the request and writes as much as `check-write`
/// allows each time, waiting for the stream in between.
fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), DeliveryError> {
    let stream = body.write().map_err(|()| {
        DeliveryError::retryable("host internal error: request body stream unavailable")
    })?;
    let failed = |e| stream_error("writing the request body", e);
    let mut rest = bytes;
    while !rest.is_empty() {
        let permit = stream.check_write().map_err(failed)?;
        if permit == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = usize::try_from(permit)
            .unwrap_or(usize::MAX)
            .min(rest.len());
        stream.write(&rest[..n]).map_err(failed)?;
        rest = &rest[n..];
    }
    stream.blocking_flush().map_err(failed)?;
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|code| classify_error_code(&code))
}

fn wait(future: &FutureIncomingResponse) -> Result<IncomingResponse, DeliveryError> {
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(classify_error_code(&code)),
            Some(Err(())) => {
                return Err(DeliveryError::retryable(
                    "host internal error: response already taken",
                ));
            }
            None => future.subscribe().block(),
        }
    }
}

fn read_response(
    response: IncomingResponse,
    limit: usize,
    origin: &str,
) -> Result<Response, DeliveryError> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| DeliveryError::retryable("host internal error: response body unavailable"))?;
    let body = read_body(&incoming, limit)?;
    // Trailers are not used; finishing drops them.
    drop(IncomingBody::finish(incoming));
    Ok(Response {
        status,
        headers,
        body,
        origin: origin.to_owned(),
    })
}

fn read_body(incoming: &IncomingBody, limit: usize) -> Result<Vec<u8>, DeliveryError> {
    let stream = incoming.stream().map_err(|()| {
        DeliveryError::retryable("host internal error: response body stream unavailable")
    })?;
    let mut body = Vec::new();
    while body.len() < limit {
        let want = (limit - body.len()).min(64 * 1024) as u64;
        match stream.blocking_read(want) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(stream_error("reading the response body", e)),
        }
    }
    Ok(body)
}

fn stream_error(doing: &str, error: StreamError) -> DeliveryError {
    match error {
        StreamError::Closed => DeliveryError::retryable(format!("{doing}: the stream was closed")),
        StreamError::LastOperationFailed(e) => match http_error_code(&e) {
            Some(code) => classify_error_code(&code).context(doing),
            None => DeliveryError::retryable(format!("{doing}: {}", e.to_debug_string())),
        },
    }
}

/// The parts of an `http(s)://` URL the request needs.
#[derive(Debug, PartialEq, Eq)]
struct Url<'a> {
    /// `http` or `https`, lower-case.
    scheme: &'static str,
    /// `host[:port]`.
    authority: &'a str,
    /// `/path?query`, without the fragment; at least `/`.
    path_with_query: std::borrow::Cow<'a, str>,
}

impl Url<'_> {
    fn scheme_value(&self) -> Scheme {
        if self.scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        }
    }
}

fn parse_url(url: &str) -> Result<Url<'_>, DeliveryError> {
    let bad = |why: &str| DeliveryError::permanent(format!("invalid URL {url:?}: {why}"));
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or control characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected http://host/path or https://host/path"))?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        "https"
    } else if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return Err(bad("only http and https are supported"));
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if authority.contains('@') {
        return Err(bad(
            "user info in the URL is not supported; send credentials in a header",
        ));
    }
    let path_with_query = if path.starts_with('/') {
        std::borrow::Cow::Borrowed(path)
    } else {
        std::borrow::Cow::Owned(format!("/{path}"))
    };
    Ok(Url {
        scheme,
        authority,
        path_with_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("HTTPS://hooks.example.com:8443/a/b?x=1#frag").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.authority, "hooks.example.com:8443");
        assert_eq!(u.path_with_query, "/a/b?x=1");
        let u = parse_url("http://h").unwrap();
        assert_eq!(
            (u.scheme, u.authority, &*u.path_with_query),
            ("http", "h", "/")
        );
        let u = parse_url("http://h?q").unwrap();
        assert_eq!(u.path_with_query, "/?q");
        let u = parse_url("http://[::1]:80/x").unwrap();
        assert_eq!(u.authority, "[::1]:80");
        for bad in [
            "ftp://h/",
            "h/x",
            "http:///x",
            "http://u:p@h/",
            "http://h/a b",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(!e.retryable, "{bad}");
            assert!(e.message.starts_with("invalid URL"), "{e}");
        }
    }

    #[test]
    fn statuses() {
        assert!(classify_status(200).is_none());
        assert!(classify_status(299).is_none());
        for s in [408, 425, 429, 500, 502, 503, 504, 599] {
            let e = classify_status(s).unwrap();
            assert!(e.retryable, "{s}");
            assert_eq!(e.status, Some(s));
        }
        for s in [100, 301, 304, 400, 401, 403, 404, 409, 410, 413, 422] {
            assert!(!classify_status(s).unwrap().retryable, "{s}");
        }
    }

    #[test]
    fn error_codes() {
        let denied = classify_error_code(&ErrorCode::HttpRequestDenied);
        assert!(!denied.retryable);
        assert!(denied.message.contains("allow-list"), "{denied}");
        assert!(classify_error_code(&ErrorCode::ConnectionRefused).retryable);
        assert!(classify_error_code(&ErrorCode::ConnectionTimeout).retryable);
        assert!(classify_error_code(&ErrorCode::HttpResponseTimeout).retryable);
        assert!(classify_error_code(&ErrorCode::InternalError(Some("boom".into()))).retryable);
        assert!(!classify_error_code(&ErrorCode::DestinationIpProhibited).retryable);
        assert!(!classify_error_code(&ErrorCode::HttpRequestBodySize(Some(10))).retryable);
        assert_eq!(
            classify_error_code(&ErrorCode::HttpRequestBodySize(Some(10))).message,
            "request body is over the limit (10)"
        );
        assert_eq!(
            classify_error_code(&ErrorCode::HttpResponseContentCoding(None)).message,
            "unsupported response content coding"
        );
    }

    #[test]
    fn error_for_status_quotes_the_body() {
        let response = Response {
            status: 503,
            headers: vec![("retry-after".into(), "5".into())],
            body: "  upstream busy\n".into(),
            origin: "POST https://hooks.example.com".into(),
        };
        assert_eq!(response.header("Retry-After"), Some("5"));
        let e = response.error_for_status().unwrap_err();
        assert_eq!(
            e.message,
            "POST https://hooks.example.com: HTTP 503: upstream busy"
        );
        assert!(e.retryable);
        assert_eq!(e.status, Some(503));
        let long = Response {
            status: 400,
            headers: vec![],
            body: "é".repeat(150).into_bytes(),
            origin: "POST http://h".into(),
        };
        let e = long.error_for_status().unwrap_err();
        assert!(e.message.ends_with('…'));
        assert!(!e.retryable);
    }
}
