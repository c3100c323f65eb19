//! Plain `http://` targets: HTTP/1.1 on a pool of keep-alive connections,
//! each request written and its answer read by the sending task ([`wire`]).
//!
//! Why a second client: with one event per request, a delivery's CPU is
//! mostly the request itself, and reqwest's layers around hyper (a tower
//! retry and redirect service, a URL to URI conversion, a generic
//! connection pool with its checkout futures) were a quarter of it; hyper's
//! own connection task and its channels were a large part of the rest. This
//! pool does only what a target needs (docs/benchmarks.md, "A leaner sender
//! for http:// targets" and "Requests written by the sending task", has the
//! figures). `https://` targets, and every target when a proxy is set in
//! the environment, keep using reqwest, which owns TLS, ALPN and the proxy
//! rules.
//!
//! What it keeps of reqwest's behaviour:
//!
//! * one deadline for the whole attempt, the connect included; when it runs
//!   out while the body is being read, reading stops and the status decides
//!   (a slow body does not turn a `200` into a retry);
//! * a host name's addresses are tried in turn, each with its share of the
//!   time left, so one that drops connection attempts does not use it all;
//! * TCP keepalive (after 15 s idle, then every 15 s, 3 probes) and no
//!   Nagle delay;
//! * at most `max_idle` idle connections; one idle for [`IDLE_TIMEOUT`] is
//!   closed (by a reaper task that looks every sixth of it while the target
//!   is quiet).
//!
//! A connection is reused only after its request was written whole and its
//! response read to the end. A request of which nothing could be written
//! (the idle connection was closed by the receiver in the meantime) is sent
//! again on another connection; a request that may have reached the
//! receiver is never repeated here: that is the retry policy's decision.

mod wire;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use http::Method;
use http::header::HeaderValue;
use tokio::time::{Instant as Deadline, timeout_at};

use super::{Answer, USER_AGENT};
use crate::deliver::retry::FailureKind;
use wire::{Conn, Failure};

/// An idle connection is closed after this long (reqwest's default too).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type IdleList = Mutex<VecDeque<Idle>>;

/// Where requests go and the connections kept to it.
pub(super) struct PlainPool {
    /// What to connect to.
    addr: Addr,
    /// The `Host` header: the host, and the port unless it is the default.
    host: String,
    /// The request target in origin form (`/path?query`).
    path: String,
    /// Oldest first; the newest is reused first, so that a quiet spell
    /// lets the others expire.
    idle: Arc<IdleList>,
    max_idle: usize,
    /// [`IDLE_TIMEOUT`], shorter in tests.
    idle_timeout: Duration,
    /// Whether the reaper task runs (started with the first connection,
    /// inside the runtime; it ends when the pool is dropped).
    reaping: AtomicBool,
}

/// A request's head as it is written: see [`PlainPool::request_head`].
pub(super) struct RequestHead {
    bytes: Vec<u8>,
    head_request: bool,
    body_len: Option<usize>,
    user_agent: bool,
    accept: bool,
}

impl RequestHead {
    /// Adds a header; `name` in lowercase, `value` already checked to be a
    /// valid header value. The message's framing (`Host`,
    /// `Content-Length`, `Transfer-Encoding`, `Connection`) is this
    /// client's to write, so those are left out.
    pub(super) fn header(&mut self, name: &str, value: &[u8]) {
        match name {
            "host" | "content-length" | "transfer-encoding" | "connection" => return,
            "user-agent" => self.user_agent = true,
            "accept" => self.accept = true,
            _ => {}
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(b": ");
        self.bytes.extend_from_slice(value);
        self.bytes.extend_from_slice(b"\r\n");
    }

    /// The head, with what reqwest adds too when the caller did not
    /// (`User-Agent`, `Accept`) and the body's length.
    fn finish(mut self) -> Vec<u8> {
        if !self.user_agent {
            self.header("user-agent", USER_AGENT.as_bytes());
        }
        if !self.accept {
            self.header("accept", b"*/*");
        }
        if let Some(len) = self.body_len {
            self.bytes.extend_from_slice(b"content-length: ");
            self.bytes.extend_from_slice(len.to_string().as_bytes());
            self.bytes.extend_from_slice(b"\r\n");
        }
        self.bytes.extend_from_slice(b"\r\n");
        self.bytes
    }
}

enum Addr {
    Ip(SocketAddr),
    Name(String, u16),
}

struct Idle {
    conn: Conn,
    since: Instant,
}

impl std::fmt::Debug for PlainPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainPool")
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

impl PlainPool {
    /// A pool for `url`, or `None` when reqwest must send to it: not
    /// `http`, or a proxy is set in the environment
    /// ([`proxy_in_environment`]).
    pub(super) fn for_url(url: &reqwest::Url, max_idle: usize, proxy: bool) -> Option<PlainPool> {
        if url.scheme() != "http" || proxy {
            return None;
        }
        let port = url.port_or_known_default()?;
        let mut host = url.host_str()?.to_owned();
        // The URL parser has already checked the host: an IPv6 address
        // comes in brackets, an IPv4 address in dotted form.
        let addr = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Addr::Ip(SocketAddr::new(
                IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?),
                port,
            ))
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            Addr::Ip(SocketAddr::new(ip, port))
        } else {
            Addr::Name(host.clone(), port)
        };
        if let Some(p) = url.port() {
            host.push(':');
            host.push_str(&p.to_string());
        }
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        // What would not be a valid header value or request target (the
        // URL parser percent-encodes, so this is only a guard).
        HeaderValue::from_str(&host).ok()?;
        http::Uri::try_from(path.as_str()).ok()?;
        Some(PlainPool {
            addr,
            host,
            path,
            idle: Arc::new(Mutex::new(VecDeque::new())),
            max_idle,
            idle_timeout: IDLE_TIMEOUT,
            reaping: AtomicBool::new(false),
        })
    }

    /// The start of a request to this pool's URL: the request line and
    /// `Host`; add the headers, then [`PlainPool::send`] it. `body_len` is
    /// `None` for a request without a body.
    pub(super) fn request_head(&self, method: Method, body_len: Option<usize>) -> RequestHead {
        let mut bytes = Vec::with_capacity(512);
        bytes.extend_from_slice(method.as_str().as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(self.path.as_bytes());
        bytes.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        bytes.extend_from_slice(self.host.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        RequestHead {
            bytes,
            head_request: method == Method::HEAD,
            body_len,
            user_agent: false,
            accept: false,
        }
    }

    /// Sends one request and reads its answer, all within `timeout`.
    pub(super) async fn send(
        &self,
        head: RequestHead,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Answer, (FailureKind, String)> {
        let deadline = Deadline::now() + timeout;
        let timed_out = || {
            (
                FailureKind::Timeout,
                format!(
                    "timed out: no answer within {}",
                    crate::duration::format_duration(timeout)
                ),
            )
        };
        let head_request = head.head_request;
        let head = head.finish();
        loop {
            let (mut conn, pooled) = match self.checkout() {
                Some(conn) => (conn, true),
                // Boxed: a new connection is rare next to a request, and
                // the connect future would make every send's task larger.
                None => (
                    Box::pin(self.connect(deadline))
                        .await
                        .map_err(|e| e.unwrap_or_else(timed_out))?,
                    false,
                ),
            };
            match conn.exchange(&head, body, head_request, deadline).await {
                Ok(answer) => {
                    if answer.reusable {
                        self.checkin(conn);
                    }
                    let status = http::StatusCode::from_u16(answer.status).map_err(|_| {
                        (
                            FailureKind::Io,
                            format!("the answer's status {} is not valid", answer.status),
                        )
                    })?;
                    return Ok(Answer {
                        status,
                        retry_after: answer.retry_after,
                        snippet: answer.snippet.text(),
                    });
                }
                // Never written: the pooled connection was closed under us.
                // Try the next one, or a new connection.
                Err(Failure::NotSent) if pooled => {}
                Err(Failure::NotSent) => {
                    return Err((
                        FailureKind::Io,
                        "the connection closed before the request could be sent".into(),
                    ));
                }
                Err(Failure::Timeout) => return Err(timed_out()),
                Err(Failure::Io(e)) => return Err((FailureKind::Io, e)),
            }
        }
    }

    /// An idle connection the receiver has not closed, if there is one.
    fn checkout(&self) -> Option<Conn> {
        loop {
            // Popped under the lock, checked outside it: the check may make
            // a system call, and other sends to this target wait for the
            // lock.
            let Idle { conn, since } = self.idle.lock().expect("pool poisoned").pop_back()?;
            if since.elapsed() < self.idle_timeout && !conn.is_closed() {
                return Some(conn);
            }
        }
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.idle.lock().expect("pool poisoned");
        // Connections that expired or were closed while others were in
        // use leave from the old end (the reaper sees to the rest).
        while idle
            .front()
            .is_some_and(|i| i.since.elapsed() >= self.idle_timeout || i.conn.is_closed())
        {
            idle.pop_front();
        }
        if idle.len() >= self.max_idle {
            // Closed ones further in must not take the place of this one.
            idle.retain(|i| !i.conn.is_closed());
        }
        if idle.len() < self.max_idle {
            idle.push_back(Idle {
                conn,
                since: Instant::now(),
            });
        }
        drop(idle);
        // A load first: the swap's write would bounce the flag's cache line
        // between cores on every request.
        if !self.reaping.load(Ordering::Relaxed) && !self.reaping.swap(true, Ordering::Relaxed) {
            tokio::spawn(reap(Arc::downgrade(&self.idle), self.idle_timeout));
        }
    }

    /// A new connection, or why there is none (`None`: the deadline passed).
    async fn connect(&self, deadline: Deadline) -> Result<Conn, Option<(FailureKind, String)>> {
        let addrs: Vec<SocketAddr> = match &self.addr {
            Addr::Ip(a) => vec![*a],
            Addr::Name(host, port) => {
                timeout_at(deadline, tokio::net::lookup_host((host.as_str(), *port)))
                    .await
                    .map_err(|_| None)?
                    .map_err(|e| connect_error(&e))?
                    .collect()
            }
        };
        let stream = connect_first(&addrs, deadline).await?;
        // Requests are written whole; waiting for an ACK first (Nagle)
        // only adds latency. Keepalive finds connections that a firewall
        // or NAT dropped while they were idle.
        let _ = stream.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(15))
            .with_interval(Duration::from_secs(15))
            .with_retries(3);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        Ok(Conn::new(stream))
    }

    /// Shortens the idle timeout, for tests.
    #[cfg(test)]
    pub(super) fn set_idle_timeout(&mut self, t: Duration) {
        self.idle_timeout = t;
    }

    /// Idle connections whose receiver has not closed them, for tests.
    #[cfg(test)]
    pub(super) fn idle_open(&self) -> usize {
        let idle = self.idle.lock().expect("pool poisoned");
        idle.iter().filter(|i| !i.conn.is_closed()).count()
    }

    /// Idle connections kept, for tests.
    #[cfg(test)]
    pub(super) fn idle_len(&self) -> usize {
        self.idle.lock().expect("pool poisoned").len()
    }
}

/// A connect failure as [`PlainPool::connect`] reports it.
fn connect_error(e: &dyn std::fmt::Display) -> Option<(FailureKind, String)> {
    Some((FailureKind::Connect, format!("could not connect: {e}")))
}

/// A connection to the first of `addrs` that accepts one, each tried in
/// turn with an equal share of the time left; else the last failure
/// (`None` if it was running out of time).
async fn connect_first(
    addrs: &[SocketAddr],
    deadline: Deadline,
) -> Result<tokio::net::TcpStream, Option<(FailureKind, String)>> {
    if addrs.is_empty() {
        return Err(connect_error(&"the host name has no address"));
    }
    let mut failure = None;
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Deadline::now());
        // Each address gets an equal share of the time left.
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        match tokio::time::timeout(share, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => failure = connect_error(&e),
            Err(_) => failure = None,
        }
    }
    Err(failure)
}

/// Closes idle connections that expired or that the receiver closed, while
/// the target is quiet; ends with the pool.
async fn reap(idle: Weak<IdleList>, timeout: Duration) {
    let mut tick = tokio::time::interval((timeout / 6).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(idle) = idle.upgrade() else {
            return;
        };
        idle.lock()
            .expect("pool poisoned")
            .retain(|i| i.since.elapsed() < timeout && !i.conn.is_closed());
    }
}

/// Whether a proxy is set in the environment: then reqwest sends, as it
/// applies the proxy rules (`NO_PROXY` included).
pub(super) fn proxy_in_environment() -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(url: &str) -> Option<PlainPool> {
        PlainPool::for_url(&reqwest::Url::parse(url).unwrap(), 4, false)
    }

    #[test]
    fn host_header_address_and_request_target() {
        let p = pool("http://example.com/a/b?x=1&y=%20").unwrap();
        assert_eq!(p.host, "example.com");
        assert_eq!(p.path, "/a/b?x=1&y=%20");
        assert!(matches!(&p.addr, Addr::Name(h, 80) if h == "example.com"));

        // The default port is left out of Host, any other is kept.
        let p = pool("http://example.com:80").unwrap();
        assert_eq!(p.host, "example.com");
        assert_eq!(p.path, "/");
        let p = pool("http://127.0.0.1:8080/in").unwrap();
        assert_eq!(p.host, "127.0.0.1:8080");
        assert!(matches!(p.addr, Addr::Ip(a) if a == "127.0.0.1:8080".parse().unwrap()));
        let p = pool("http://[::1]:9000/in").unwrap();
        assert_eq!(p.host, "[::1]:9000");
        assert!(matches!(p.addr, Addr::Ip(a) if a == "[::1]:9000".parse().unwrap()));
    }

    /// A loopback address that refuses connections: a port that was just
    /// free.
    fn refusing() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    /// A loopback listener whose accept queue is full: the kernel drops
    /// further connection attempts, so they hang until their time runs out,
    /// as with a host that drops packets. Keep the returned values alive.
    fn hanging() -> (SocketAddr, socket2::Socket, std::net::TcpStream) {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        s.listen(0).unwrap();
        let addr = s.local_addr().unwrap().as_socket().unwrap();
        // Never accepted: it fills the queue.
        let filler = std::net::TcpStream::connect(addr).unwrap();
        (addr, s, filler)
    }

    #[tokio::test]
    async fn addresses_are_tried_in_turn() {
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_addr = live.local_addr().unwrap();
        let deadline = Deadline::now() + Duration::from_secs(10);

        // A refused address is passed over.
        let s = connect_first(&[refusing(), live_addr], deadline)
            .await
            .unwrap();
        assert_eq!(s.peer_addr().unwrap(), live_addr);

        // With nothing to connect to, the last failure is the answer.
        match connect_first(&[refusing(), refusing()], deadline).await {
            Err(Some((FailureKind::Connect, text))) => {
                assert!(text.starts_with("could not connect: "), "{text}")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        match connect_first(&[], deadline).await {
            Err(Some((FailureKind::Connect, text))) => {
                assert_eq!(text, "could not connect: the host name has no address")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[tokio::test]
    async fn an_address_that_drops_attempts_gets_only_its_share_of_the_time() {
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_addr = live.local_addr().unwrap();
        let (hang, _listener, _filler) = hanging();

        // Alone, it has the whole time and fails for lack of it, which is
        // not a connect error.
        let start = Instant::now();
        let r = connect_first(&[hang], Deadline::now() + Duration::from_millis(300)).await;
        assert!(matches!(r, Err(None)));
        assert!(start.elapsed() >= Duration::from_millis(300));

        // First of two, it has half of the 4 s, so the second is reached
        // after about 2 s. (Given all of it, the second would be tried
        // only at the deadline: a loopback connect still succeeds then, so
        // the time is what tells the two apart; the margin is a second.)
        let start = Instant::now();
        let s = connect_first(&[hang, live_addr], Deadline::now() + Duration::from_secs(4))
            .await
            .unwrap();
        assert_eq!(s.peer_addr().unwrap(), live_addr);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[test]
    fn https_and_proxies_are_left_to_reqwest() {
        assert!(pool("https://example.com/").is_none());
        let url = reqwest::Url::parse("http://example.com/").unwrap();
        assert!(PlainPool::for_url(&url, 4, true).is_none());
    }
}
