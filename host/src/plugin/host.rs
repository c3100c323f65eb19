//! What a plugin instance's store holds, and the host side of its imports.
//!
//! Each instance gets a [`HostState`] with:
//!
//! * a WASI context that grants nothing: no preopened directories, no
//!   environment, no arguments, an empty stdin, sockets denied (the builder's
//!   defaults, spelled out below so a wasmtime upgrade cannot widen them);
//! * stdout and stderr wired to the Signalbox log, one log line per line the
//!   plugin writes, tagged with the rule and plugin;
//! * a store limiter capping linear memory and table growth;
//! * for connectors, `wasi:http` whose only way out is
//!   [`EgressHooks::send_request`], which enforces the rule's allow-list (see
//!   [`super::egress`]) on the URL and again on the resolved addresses.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::io::AsyncWrite;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use super::bindings::lazy_filter::signalbox::plugin::lazy;
use super::bindings::{AttributeValue, Event};
use super::convert::{to_wit, to_wit_value};
use super::egress::{AllowList, Scheme, Verdict, is_internal};
use crate::event::{CloudEvent, SharedEvent};

/// Longest line a plugin can write to the log; longer lines are cut.
const MAX_LOG_LINE: usize = 4096;

/// Bytes of output per second an instance may send to the log, and the
/// burst above that rate. A plugin printing megabytes per event would fill
/// the server's log (and its disk); past the budget, output is dropped and
/// counted (`signalbox_plugin_output_dropped_bytes_total`).
const LOG_BYTES_PER_SEC: f64 = 16.0 * 1024.0;
const LOG_BURST_BYTES: f64 = 64.0 * 1024.0;

/// One instance's output budget (shared by its stdout and stderr).
struct OutputBudget {
    tokens: f64,
    refilled: std::time::Instant,
    /// Whether the log already says output is being dropped.
    warned: bool,
    dropped: Arc<crate::metrics::Counter>,
}

impl OutputBudget {
    fn new(plugin: &str) -> OutputBudget {
        OutputBudget {
            tokens: LOG_BURST_BYTES,
            refilled: std::time::Instant::now(),
            warned: false,
            dropped: crate::metrics::METRICS
                .plugin_output_dropped
                .get(&[("plugin", plugin)]),
        }
    }

    /// Takes `n` bytes of budget; false (and counted) if there is not enough.
    fn take(&mut self, n: usize, tag: &str) -> bool {
        let now = std::time::Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * LOG_BYTES_PER_SEC).min(LOG_BURST_BYTES);
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            return true;
        }
        self.dropped.add(n as u64);
        if !self.warned {
            self.warned = true;
            tracing::warn!(plugin = %tag, "Plugin output exceeds {} KiB/s; dropping the excess (counted in signalbox_plugin_output_dropped_bytes_total). This is said once per instance.", LOG_BYTES_PER_SEC as u64 / 1024);
        }
        false
    }
}

/// Connect and first-byte timeouts for connector requests when the plugin
/// sets none (wasmtime's default is 600 s, far longer than any call may run).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Host-side objects (`wasi:http` fields, requests, bodies, pollables, …)
/// one instance may hold at once. Each costs host memory the instance's
/// memory limit does not see; wasmtime's default allows a million.
pub const MAX_RESOURCES: usize = 10_000;

/// Outgoing HTTP requests one instance may have open at once.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 16;

/// Largest response body a connector may read (per response).
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The data of one plugin instance's `Store`.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: EgressHooks,
    pub(super) limits: StoreLimits,
    /// When the current call must end (checked at every epoch tick).
    pub(super) deadline: std::time::Instant,
    /// The event lent to the current `lazy-filter` call, if any.
    lent: Option<SharedEvent>,
}

impl HostState {
    /// A sandbox for one instance. `tag` names the rule and plugin in log
    /// lines; `memory_bytes` caps linear memory.
    pub fn new(
        tag: Arc<str>,
        plugin: &str,
        memory_bytes: usize,
        allow: Arc<AllowList>,
    ) -> HostState {
        let budget = Arc::new(std::sync::Mutex::new(OutputBudget::new(plugin)));
        let mut b = WasiCtx::builder();
        b.stdout(LogStream {
            tag: tag.clone(),
            stream: "stdout",
            budget: budget.clone(),
        })
        .stderr(LogStream {
            tag: tag.clone(),
            stream: "stderr",
            budget,
        })
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        HostState {
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            table,
            hooks: EgressHooks {
                allow,
                tag,
                in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_REQUESTS_IN_FLIGHT)),
            },
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .table_elements(1 << 20)
                .instances(1000)
                .tables(1000)
                .memories(100)
                .trap_on_grow_failure(true)
                .build(),
            deadline: std::time::Instant::now(),
            lent: None,
        }
    }
}

impl HostState {
    /// Lends `event` to the `keep-lazy` call about to run: the `lazy`
    /// functions read it until [`HostState::end_lend`].
    ///
    /// The event is shared, not copied, and the plugin reaches it without a
    /// resource handle: an instance runs one call at a time, so "the
    /// current event" is always well defined, and a handle's bookkeeping
    /// was about a tenth of a lazy filter call (`benches/plugin.rs`).
    pub(super) fn lend(&mut self, event: SharedEvent) {
        self.lent = Some(event);
    }

    /// Ends the loan.
    pub(super) fn end_lend(&mut self) {
        self.lent = None;
    }

    fn lent(&self) -> wasmtime::Result<&CloudEvent> {
        match &self.lent {
            Some(e) => Ok((**e).as_ref()),
            None => Err(wasmtime::format_err!(
                "signalbox:plugin/lazy was called outside a keep-lazy call; there is no event to read"
            )),
        }
    }
}

/// `signalbox:plugin/lazy`: the current event, attribute by attribute.
impl lazy::Host for HostState {
    fn id(&mut self) -> wasmtime::Result<String> {
        Ok(self.lent()?.id.clone())
    }
    fn source(&mut self) -> wasmtime::Result<String> {
        Ok(self.lent()?.source.clone())
    }
    fn type_(&mut self) -> wasmtime::Result<String> {
        Ok(self.lent()?.ty.clone())
    }
    fn subject(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.lent()?.subject.clone())
    }
    fn time(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.lent()?.time.clone())
    }
    fn datacontenttype(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.lent()?.datacontenttype.clone())
    }
    fn dataschema(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.lent()?.dataschema.clone())
    }
    fn extension(&mut self, name: String) -> wasmtime::Result<Option<AttributeValue>> {
        Ok(self.lent()?.extension(&name).map(to_wit_value))
    }
    fn extensions(&mut self) -> wasmtime::Result<Vec<(String, AttributeValue)>> {
        Ok(self
            .lent()?
            .extensions
            .iter()
            .map(|(n, v)| (n.clone(), to_wit_value(v)))
            .collect())
    }
    fn data_size(&mut self) -> wasmtime::Result<Option<u32>> {
        // Events are far below 4 GiB (`max_event_bytes`); saturate anyway.
        Ok(self
            .lent()?
            .data
            .as_ref()
            .map(|d| u32::try_from(d.as_bytes().len()).unwrap_or(u32::MAX)))
    }
    fn data(&mut self) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.lent()?.data.as_ref().map(|d| d.as_bytes().to_vec()))
    }
    fn to_event(&mut self) -> wasmtime::Result<Event> {
        Ok(to_wit(self.lent()?))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Plugin output to the log.
#[derive(Clone)]
struct LogStream {
    tag: Arc<str>,
    stream: &'static str,
    budget: Arc<std::sync::Mutex<OutputBudget>>,
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            tag: self.tag.clone(),
            stream: self.stream,
            buf: Vec::new(),
            budget: self.budget.clone(),
        })
    }
}

/// Splits what a plugin writes into lines and logs each one, within the
/// instance's output budget. Lines longer than [`MAX_LOG_LINE`] are cut,
/// and the rest of such a line is dropped as it arrives, so one endless
/// line never grows a buffer.
struct LineLogger {
    tag: Arc<str>,
    stream: &'static str,
    buf: Vec<u8>,
    budget: Arc<std::sync::Mutex<OutputBudget>>,
}

impl LineLogger {
    fn emit(&self, line: &[u8]) {
        let line = &line[..line.len().min(MAX_LOG_LINE)];
        if !self
            .budget
            .lock()
            .expect("output budget")
            .take(line.len(), &self.tag)
        {
            return;
        }
        let line = String::from_utf8_lossy(line);
        tracing::info!(target: "signalbox::plugin::output", plugin = %self.tag, stream = self.stream, "{}", line.trim_end());
    }
}

impl AsyncWrite for LineLogger {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut rest = data;
        while !rest.is_empty() {
            let nl = memchr::memchr(b'\n', rest);
            let (chunk, line_ends) = match nl {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[chunk.len()..];
            // Keep at most one line's worth; the excess of an overlong line
            // is counted as dropped.
            let room = (MAX_LOG_LINE + 1).saturating_sub(self.buf.len());
            let kept = chunk.len().min(room);
            self.buf.extend_from_slice(&chunk[..kept]);
            if kept < chunk.len() {
                self.budget
                    .lock()
                    .expect("output budget")
                    .dropped
                    .add((chunk.len() - kept) as u64);
            }
            if line_ends {
                let line = std::mem::take(&mut self.buf);
                self.emit(&line);
            }
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.emit(&line);
        }
    }
}

/// The single place a plugin reaches the network.
pub struct EgressHooks {
    allow: Arc<AllowList>,
    tag: Arc<str>,
    /// One permit per open outgoing request (connection) of the instance.
    in_flight: Arc<tokio::sync::Semaphore>,
}

type HttpResult<T> = wasmtime_wasi_http::Result<T>;
type IoFuture = Box<dyn Future<Output = HttpResult<()>> + Send>;

impl WasiHttpHooks for EgressHooks {
    fn is_forbidden_header(&mut self, name: &http::HeaderName) -> bool {
        wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name)
    }

    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = HttpResult<()>> + Send>,
    ) -> Box<
        dyn Future<Output = HttpResult<(http::Response<wasmtime_wasi_http::WasiBody>, IoFuture)>>
            + Send,
    > {
        let allow = self.allow.clone();
        let tag = self.tag.clone();
        let in_flight = self.in_flight.clone();
        Box::new(async move {
            // Held until the connection ends, so one call cannot open
            // connections without bound.
            let permit = in_flight.try_acquire_owned().map_err(|_| {
                wasmtime_wasi_http::Error::InternalError(Some(format!(
                    "too many outgoing requests at once (at most {MAX_REQUESTS_IN_FLIGHT} per plugin instance)"
                )))
            })?;
            let uri = request.uri().clone();
            let scheme = uri
                .scheme_str()
                .and_then(Scheme::parse)
                .ok_or(wasmtime_wasi_http::Error::HttpProtocolError)?;
            let host = uri
                .host()
                .ok_or(wasmtime_wasi_http::Error::HttpRequestUriInvalid)?
                .to_owned();
            let port = uri.port_u16().unwrap_or(match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
            });
            let exact = match allow.check(scheme, &host, port) {
                Verdict::Allowed { exact } => exact,
                Verdict::Denied => {
                    tracing::warn!(plugin = %tag, %uri, "Plugin request denied: host not on the rule's allowed_hosts.");
                    return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
                }
            };
            let connect_timeout = options
                .and_then(|o| o.connect_timeout)
                .unwrap_or(HTTP_TIMEOUT)
                .min(HTTP_TIMEOUT * 6);
            let first_byte_timeout = options
                .and_then(|o| o.first_byte_timeout)
                .unwrap_or(HTTP_TIMEOUT)
                .min(HTTP_TIMEOUT * 6);
            // Resolve, then refuse internal addresses unless the entry named
            // this host exactly: a public name must not lead inside.
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let addrs: Vec<SocketAddr> = match tokio::time::timeout(
                connect_timeout,
                tokio::net::lookup_host((bare.as_str(), port)),
            )
            .await
            {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(_)) => return Err(wasmtime_wasi_http::Error::DestinationNotFound),
                Err(_) => return Err(wasmtime_wasi_http::Error::DnsTimeout),
            };
            let addrs: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| exact || !is_internal(a.ip()))
                .collect();
            if addrs.is_empty() {
                tracing::warn!(plugin = %tag, %uri, "Plugin request denied: the host resolves only to internal addresses.");
                return Err(wasmtime_wasi_http::Error::DestinationIpProhibited);
            }
            let tcp = match tokio::time::timeout(
                connect_timeout,
                tokio::net::TcpStream::connect(&addrs[..]),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(wasmtime_wasi_http::Error::Connect(e)),
                Err(_) => return Err(wasmtime_wasi_http::Error::ConnectionTimeout),
            };
            let _ = tcp.set_nodelay(true);
            let (mut sender, conn): (hyper::client::conn::http1::SendRequest<_>, IoFuture) =
                match scheme {
                    Scheme::Http => {
                        let (s, c) = hyper::client::conn::http1::handshake(
                            hyper_util::rt::TokioIo::new(tcp),
                        )
                        .await
                        .map_err(wasmtime_wasi_http::Error::from)?;
                        (
                            s,
                            Box::new(
                                async move { c.await.map_err(wasmtime_wasi_http::Error::from) },
                            ),
                        )
                    }
                    Scheme::Https => {
                        let name = rustls::pki_types::ServerName::try_from(bare.clone())
                            .map_err(wasmtime_wasi_http::Error::InvalidDnsNameError)?;
                        let tls = tls_connector()
                            .connect(name, tcp)
                            .await
                            .map_err(wasmtime_wasi_http::Error::Tls)?;
                        let (s, c) = hyper::client::conn::http1::handshake(
                            hyper_util::rt::TokioIo::new(tls),
                        )
                        .await
                        .map_err(wasmtime_wasi_http::Error::from)?;
                        (
                            s,
                            Box::new(
                                async move { c.await.map_err(wasmtime_wasi_http::Error::from) },
                            ),
                        )
                    }
                };
            // Drive the connection in the background; the returned future
            // reports its end to wasi-http.
            let conn: Pin<IoFuture> = Box::into_pin(conn);
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let _permit = permit;
                let _ = done_tx.send(conn.await);
            });
            // Over an established connection the request line carries only
            // the path.
            let (mut parts, body) = request.into_parts();
            parts.uri = http::Uri::builder()
                .path_and_query(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
                .build()
                .map_err(|_| wasmtime_wasi_http::Error::HttpRequestUriInvalid)?;
            let request = http::Request::from_parts(parts, body);
            let response = match tokio::time::timeout(
                first_byte_timeout,
                sender.send_request(request),
            )
            .await
            {
                Ok(r) => r.map_err(wasmtime_wasi_http::Error::from)?,
                Err(_) => return Err(wasmtime_wasi_http::Error::ConnectionReadTimeout),
            };
            // A body past the limit fails the read instead of filling host
            // memory.
            let response = response.map(|b| {
                http_body_util::Limited::new(b, MAX_RESPONSE_BYTES)
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            wasmtime_wasi_http::Error::HttpResponseBodySize(Some(
                                MAX_RESPONSE_BYTES as u64,
                            ))
                        } else {
                            match e.downcast::<hyper::Error>() {
                                Ok(h) => wasmtime_wasi_http::Error::from(*h),
                                Err(e) => {
                                    wasmtime_wasi_http::Error::InternalError(Some(e.to_string()))
                                }
                            }
                        }
                    })
                    .boxed_unsync()
            });
            let io: IoFuture = Box::new(async move { done_rx.await.unwrap_or(Ok(())) });
            Ok((response, io))
        })
    }
}

/// TLS for connector requests: the webpki (Mozilla) roots, ring.
fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    });
    tokio_rustls::TlsConnector::from(config.clone())
}
