//! One HTTP/1.1 exchange on a kept-alive connection: the request written,
//! the answer read, in the task that sends the delivery.
//!
//! Why by hand rather than hyper's client connection: hyper drives each
//! connection from a task of its own, so every request crossed two channels
//! and woke two tasks (the connection's to write, the sender's for the
//! answer), and allocated their messages. A delivery is one small request
//! and one small answer, and that traffic was a large share of its CPU
//! (docs/benchmarks.md, "Requests written by the sending task", has the
//! figures). What is left is small enough to own:
//!
//! * the request is written as one buffer (head and body in one vectored
//!   write), while the answer is read at the same time, so a receiver that
//!   answers before reading a large body (a `413`, say) is heard;
//! * the answer's head is parsed by `httparse`, the parser hyper uses;
//!   informational (`1xx`) answers are skipped;
//! * its body is delimited as RFC 9112 §6.3 says: none (`HEAD`, `204`,
//!   `304`), `content-length`, `chunked` (extensions and trailers read and
//!   dropped), or the end of the connection.
//!
//! A connection is reusable only when the request went out whole, the body
//! was read to its end, the receiver did not ask to close, and nothing more
//! than the answer arrived.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::task::{Context, Poll, Waker};

use tokio::net::TcpStream;
use tokio::time::{Instant as Deadline, timeout_at};

use crate::deliver::http::Snippet;

/// The most an answer's head may take; hyper's default limit is larger,
/// but a target's answer head is a few hundred bytes.
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most headers an answer may have (hyper's default).
const MAX_HEADERS: usize = 100;

/// The longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// Why an exchange produced no answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// Nothing of the request was written: the connection was already
    /// closed. Sending it on another connection is safe.
    NotSent,
    /// The deadline passed before the answer's head was in.
    Timeout,
    /// The connection broke, or the answer was not HTTP/1.1.
    Io(String),
}

/// A receiver's answer.
pub(super) struct Answer {
    /// The status code (100–999, as `httparse` reads three digits).
    pub status: u16,
    /// The `Retry-After` header, as text.
    pub retry_after: Option<String>,
    /// What was read of the body.
    pub snippet: Snippet,
    /// Whether the connection may carry the next request.
    pub reusable: bool,
}

/// How the answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// An answer's head, parsed.
#[derive(Debug)]
struct Head {
    len: usize,
    status: u16,
    framing: Framing,
    closing: bool,
    retry_after: Option<String>,
}

/// A TCP connection to a receiver and the bytes read from it that are not
/// used yet.
#[derive(Debug)]
pub(super) struct Conn {
    io: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Wraps a connected stream.
    pub(super) fn new(io: TcpStream) -> Conn {
        Conn {
            io,
            buf: Vec::new(),
        }
    }

    /// Whether the receiver closed this idle connection, or sent something
    /// unasked (which makes it unusable too). Costs a system call only when
    /// the socket has become readable.
    pub(super) fn is_closed(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => false,
            Poll::Ready(Err(_)) => true,
            Poll::Ready(Ok(())) => {
                let mut byte = [0u8; 1];
                !matches!(self.io.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Writes `head` and `body`, and reads the answer, all before
    /// `deadline`; `head_request` says the answer has no body whatever its
    /// headers say. Running out of time while the body is read ends the
    /// reading: the status decides.
    pub(super) async fn exchange(
        &mut self,
        head: &[u8],
        body: &[u8],
        head_request: bool,
        deadline: Deadline,
    ) -> Result<Answer, Failure> {
        self.buf.clear();
        let mut written = 0;
        let parsed = timeout_at(
            deadline,
            poll_fn(|cx| self.poll_head(cx, head, body, &mut written, head_request)),
        )
        .await;
        let head_info = match parsed {
            Err(_) => return Err(Failure::Timeout),
            Ok(r) => r?,
        };
        self.buf.drain(..head_info.len);
        let sent_whole = written == head.len() + body.len();
        let mut snippet = Snippet::default();
        let ended =
            match timeout_at(deadline, self.read_body(head_info.framing, &mut snippet)).await {
                Ok(Ok(ended)) => ended,
                Ok(Err(_)) | Err(_) => false,
            };
        Ok(Answer {
            status: head_info.status,
            retry_after: head_info.retry_after,
            snippet,
            reusable: ended
                && sent_whole
                && !head_info.closing
                && head_info.framing != Framing::UntilClose
                && self.buf.is_empty(),
        })
    }

    /// Writes what is left of the request and reads until a final answer's
    /// head is in.
    fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        head: &[u8],
        body: &[u8],
        written: &mut usize,
        head_request: bool,
    ) -> Poll<Result<Head, Failure>> {
        let total = head.len() + body.len();
        loop {
            // Write while the socket takes it.
            while *written < total {
                match self.io.poll_write_ready(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(write_failure(&e, *written))),
                    Poll::Ready(Ok(())) => {}
                }
                let bufs = remaining(head, body, *written);
                match self.io.try_write_vectored(&bufs) {
                    Ok(n) => *written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        // The receiver may have answered and closed before
                        // reading the rest (a 413, say): its answer counts.
                        if *written > 0
                            && let Ok(Some(h)) = self.parse_final_head(head_request)
                        {
                            return Poll::Ready(Ok(h));
                        }
                        return Poll::Ready(Err(write_failure(&e, *written)));
                    }
                }
            }
            if let Some(h) = self.parse_final_head(head_request)? {
                return Poll::Ready(Ok(h));
            }
            match self.io.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(read_failure(&e, *written))),
                Poll::Ready(Ok(())) => {}
            }
            self.buf.reserve(8192);
            match self.io.try_read_buf(&mut self.buf) {
                Ok(0) => {
                    return Poll::Ready(Err(if *written == 0 {
                        Failure::NotSent
                    } else {
                        Failure::Io("the connection closed before an answer came".into())
                    }));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(read_failure(&e, *written))),
            }
        }
    }

    /// The first final answer's head in the buffer, if it is all there;
    /// informational answers before it are dropped.
    fn parse_final_head(&mut self, head_request: bool) -> Result<Option<Head>, Failure> {
        loop {
            let Some(head) = parse_head(&self.buf, head_request)? else {
                return Ok(None);
            };
            // 1xx answers come before the real one (101 would switch
            // protocols, which no request here asks for: it ends the
            // exchange like any final answer, on a connection not reused).
            if (100..200).contains(&head.status) && head.status != 101 {
                self.buf.drain(..head.len);
                continue;
            }
            return Ok(Some(head));
        }
    }

    /// Reads the body into `snippet`; true when it was read to its end
    /// (false when the snippet is full and reading stopped).
    async fn read_body(&mut self, framing: Framing, snippet: &mut Snippet) -> io::Result<bool> {
        match framing {
            Framing::Length(mut left) => loop {
                let take = (self.buf.len() as u64).min(left) as usize;
                if take > 0 {
                    let full = snippet.add(&self.buf[..take]);
                    self.buf.drain(..take);
                    left -= take as u64;
                    if full && left > 0 {
                        return Ok(false);
                    }
                }
                if left == 0 {
                    return Ok(true);
                }
                if self.fill().await? == 0 {
                    return Err(eof());
                }
            },
            Framing::UntilClose => loop {
                if !self.buf.is_empty() {
                    let full = snippet.add(&self.buf);
                    self.buf.clear();
                    if full {
                        return Ok(false);
                    }
                }
                if self.fill().await? == 0 {
                    return Ok(true);
                }
            },
            Framing::Chunked => {
                let mut chunks = Chunked::Size;
                loop {
                    match chunks.step(&mut self.buf, snippet)? {
                        Step::Done => return Ok(true),
                        Step::Full => return Ok(false),
                        Step::More => {
                            if self.fill().await? == 0 {
                                return Err(eof());
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reads what has arrived into the buffer; 0 at the end.
    async fn fill(&mut self) -> io::Result<usize> {
        loop {
            self.io.readable().await?;
            self.buf.reserve(8192);
            match self.io.try_read_buf(&mut self.buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }
}

/// Where a chunked body's reading is.
#[derive(Debug, Clone, Copy)]
enum Chunked {
    /// At a chunk-size line.
    Size,
    /// In a chunk's data, with this much left.
    Data(u64),
    /// At the line end after a chunk's data.
    DataEnd,
    /// In the trailer section after the last chunk.
    Trailers,
}

/// What [`Chunked::step`] needs next.
enum Step {
    More,
    Done,
    Full,
}

impl Chunked {
    /// Consumes what it can of `buf`.
    fn step(&mut self, buf: &mut Vec<u8>, snippet: &mut Snippet) -> io::Result<Step> {
        let mut pos = 0;
        let result = loop {
            let rest = &buf[pos..];
            match *self {
                Chunked::Size => {
                    let Some(end) = line_end(rest) else {
                        if rest.len() > MAX_CHUNK_LINE {
                            break Err(invalid("a chunk-size line is too long"));
                        }
                        break Ok(Step::More);
                    };
                    let size = chunk_size(&rest[..end])?;
                    pos += end + 2;
                    *self = if size == 0 {
                        Chunked::Trailers
                    } else {
                        Chunked::Data(size)
                    };
                }
                Chunked::Data(left) => {
                    if rest.is_empty() {
                        break Ok(Step::More);
                    }
                    let take = (rest.len() as u64).min(left) as usize;
                    let full = snippet.add(&rest[..take]);
                    pos += take;
                    *self = if left == take as u64 {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(left - take as u64)
                    };
                    if full {
                        break Ok(Step::Full);
                    }
                }
                Chunked::DataEnd => {
                    if rest.len() < 2 {
                        break Ok(Step::More);
                    }
                    if &rest[..2] != b"\r\n" {
                        break Err(invalid("a chunk does not end with CRLF"));
                    }
                    pos += 2;
                    *self = Chunked::Size;
                }
                Chunked::Trailers => {
                    let Some(end) = line_end(rest) else {
                        if rest.len() > MAX_HEAD_BYTES {
                            break Err(invalid("the trailers are too long"));
                        }
                        break Ok(Step::More);
                    };
                    pos += end + 2;
                    if end == 0 {
                        break Ok(Step::Done);
                    }
                }
            }
        };
        buf.drain(..pos);
        result
    }
}

/// The chunk size at the start of a chunk-size line (extensions after `;`
/// are ignored, as RFC 9112 §7.1.1 allows).
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = line
        .iter()
        .position(|&b| b == b';' || b == b' ' || b == b'\t')
        .map_or(line, |i| &line[..i]);
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid("a chunk size is not valid hexadecimal"));
    }
    let mut size = 0u64;
    for &d in digits {
        let v = (d as char)
            .to_digit(16)
            .ok_or_else(|| invalid("a chunk size is not valid hexadecimal"))?;
        size = size * 16 + u64::from(v);
    }
    Ok(size)
}

/// Where the first CRLF starts.
fn line_end(b: &[u8]) -> Option<usize> {
    memchr::memmem::find(b, b"\r\n")
}

/// Parses an answer's head at the start of `buf`; `None` until it is all
/// there.
fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Head>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(Failure::Io(format!(
                "the answer's head is larger than {MAX_HEAD_BYTES} bytes"
            )));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(Failure::Io(format!(
                "the answer is not a valid HTTP/1.1 head: {e}"
            )));
        }
    };
    let status = response.code.unwrap_or(0);
    // HTTP/1.0 closes after each answer (hyper does not keep them either).
    let mut closing = response.version != Some(1);
    let mut length: Option<u64> = None;
    let mut chunked = None;
    let mut retry_after = None;
    for h in response.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .map(str::trim)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| Failure::Io("the answer's content-length is not a number".into()))?;
            if length.is_some_and(|l| l != v) {
                return Err(Failure::Io(
                    "the answer has two different content-lengths".into(),
                ));
            }
            length = Some(v);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the last coding counts: chunked must be it.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            if h.value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            {
                closing = true;
            }
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = std::str::from_utf8(h.value).ok().map(str::to_owned);
        }
    }
    let framing = if head_request || status == 204 || status == 304 || status < 200 {
        Framing::Length(0)
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked,
            // A transfer coding that is not chunked: the body runs to the
            // end of the connection (RFC 9112 §6.3).
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };
    Ok(Some(Head {
        len,
        status,
        framing,
        closing,
        retry_after,
    }))
}

/// The part of `head` and `body` not written yet, as slices for one write.
fn remaining<'a>(head: &'a [u8], body: &'a [u8], written: usize) -> [IoSlice<'a>; 2] {
    if written < head.len() {
        [IoSlice::new(&head[written..]), IoSlice::new(body)]
    } else {
        [
            IoSlice::new(&body[written - head.len()..]),
            IoSlice::new(&[]),
        ]
    }
}

fn write_failure(e: &io::Error, written: usize) -> Failure {
    if written == 0
        && matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
        )
    {
        Failure::NotSent
    } else {
        Failure::Io(format!("the connection broke while sending: {e}"))
    }
}

fn read_failure(e: &io::Error, written: usize) -> Failure {
    if written == 0 {
        Failure::NotSent
    } else {
        Failure::Io(format!("the connection broke before an answer came: {e}"))
    }
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the connection closed in the body",
    )
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const REQUEST: &[u8] = b"POST /in HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n";

    /// A connection, and the receiver's end of it.
    async fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (Conn::new(client.unwrap()), server.unwrap().0)
    }

    /// Reads one request of [`REQUEST`]'s shape, then writes `parts` one
    /// by one with a pause between them, so the answer arrives in pieces.
    async fn answer(server: &mut TcpStream, parts: &[Vec<u8>]) {
        let mut got = Vec::new();
        while got.len() < REQUEST.len() + 2 {
            let mut chunk = [0u8; 1024];
            let n = server.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the request ended early");
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(&got[..REQUEST.len()], REQUEST);
        for part in parts {
            server.write_all(part).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The exchange's outcome for an answer written in `parts`, the
    /// receiver closing afterwards when `close` is set.
    async fn exchange(parts: &[&[u8]], head_request: bool, close: bool) -> Result<Answer, Failure> {
        let (mut conn, mut server) = pair().await;
        let parts: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
        let receiver = tokio::spawn(async move {
            answer(&mut server, &parts).await;
            if close {
                drop(server);
            } else {
                // Held open until the exchange is over.
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let deadline = Deadline::now() + Duration::from_secs(2);
        let out = conn.exchange(REQUEST, b"hi", head_request, deadline).await;
        receiver.abort();
        out
    }

    fn ok(out: Result<Answer, Failure>) -> (u16, String, bool) {
        match out {
            Ok(a) => (a.status, a.snippet.text(), a.reusable),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn io_error(out: Result<Answer, Failure>) -> String {
        match out {
            Err(Failure::Io(text)) => text,
            Err(e) => panic!("{e:?}"),
            Ok(a) => panic!("answered {}", a.status),
        }
    }

    #[tokio::test]
    async fn bodies_are_delimited_as_rfc_9112_says() {
        // content-length, the answer in pieces split inside the head.
        let out = exchange(
            &[
                b"HTTP/1.1 200 OK\r\ncontent-le",
                b"ngth: 5\r\n\r\nhel",
                b"lo",
            ],
            false,
            false,
        )
        .await;
        assert_eq!(ok(out), (200, "hello".into(), true));

        // Chunked, split inside sizes and data, with an extension and a
        // trailer.
        let out = exchange(
            &[
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhel",
                b"lo\r\n",
                b"6\r\n world\r",
                b"\n0\r\ntrailer: x\r\n",
                b"\r\n",
            ],
            false,
            false,
        )
        .await;
        assert_eq!(ok(out), (200, "hello world".into(), true));

        // No body: 204, 304, and any answer to HEAD, whatever it says.
        let out = exchange(&[b"HTTP/1.1 204 No Content\r\n\r\n"], false, false).await;
        assert_eq!(ok(out), (204, String::new(), true));
        let out = exchange(&[b"HTTP/1.1 304 Not Modified\r\n\r\n"], false, false).await;
        assert_eq!(ok(out), (304, String::new(), true));
        let out = exchange(
            &[b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"],
            true,
            false,
        )
        .await;
        assert_eq!(ok(out), (200, String::new(), true));

        // Neither length nor chunked, or another transfer coding: the body
        // ends with the connection, which is then not reused.
        let out = exchange(&[b"HTTP/1.1 503 Busy\r\n\r\nto the ", b"end"], false, true).await;
        assert_eq!(ok(out), (503, "to the end".into(), false));
        let out = exchange(
            &[b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 2\r\n\r\nzzzz"],
            false,
            true,
        )
        .await;
        assert_eq!(ok(out), (200, "zzzz".into(), false));
    }

    #[tokio::test]
    async fn informational_answers_are_skipped() {
        let out = exchange(
            &[
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\n",
                b"content-length: 2\r\n\r\nok",
            ],
            false,
            false,
        )
        .await;
        assert_eq!(ok(out), (201, "ok".into(), true));
    }

    #[tokio::test]
    async fn a_connection_is_reused_only_when_the_answer_allows_it() {
        let cases: [(&[&[u8]], &str); 3] = [
            (
                &[b"HTTP/1.1 200 OK\r\nconnection: keep-alive, close\r\ncontent-length: 0\r\n\r\n"],
                "the receiver closes",
            ),
            (
                &[b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"],
                "HTTP/1.0",
            ),
            (
                &[b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"],
                "more than the answer came",
            ),
        ];
        for (parts, why) in cases {
            let (status, _, reusable) = ok(exchange(parts, false, false).await);
            assert_eq!(status, 200, "{why}");
            assert!(!reusable, "{why}");
        }
        // A body cut short or broken: the status still counts, the
        // connection does not.
        for parts in [
            &[&b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"[..]][..],
            &[&b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"[..]][..],
            &[&b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokX\r\n"[..]][..],
        ] {
            let (status, _, reusable) = ok(exchange(parts, false, true).await);
            assert_eq!(status, 200);
            assert!(!reusable);
        }
    }

    #[tokio::test]
    async fn answers_that_are_not_http_are_errors_that_say_why() {
        let text = io_error(exchange(&[b"SMTP ready\r\n\r\n"], false, false).await);
        assert!(
            text.starts_with("the answer is not a valid HTTP/1.1 head: "),
            "{text}"
        );
        let text = io_error(
            exchange(
                &[b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok"],
                false,
                false,
            )
            .await,
        );
        assert_eq!(text, "the answer has two different content-lengths");
        let text = io_error(
            exchange(
                &[b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n"],
                false,
                false,
            )
            .await,
        );
        assert_eq!(text, "the answer's content-length is not a number");
        // A head that never ends is refused once it passes the limit.
        let mut endless = b"HTTP/1.1 200 OK\r\nx-filler: ".to_vec();
        endless.resize(MAX_HEAD_BYTES + 10, b'a');
        let text = io_error(exchange(&[&endless], false, false).await);
        assert!(text.contains("larger than"), "{text}");
        // Closed after the request without answering.
        let text = io_error(exchange(&[], false, true).await);
        assert_eq!(text, "the connection closed before an answer came");
    }

    /// A receiver that answers a large request early and then closes
    /// without reading the rest (which resets the connection): the answer
    /// is read while the body is still being written, so it is the
    /// outcome, not the reset.
    #[tokio::test]
    async fn an_answer_sent_before_a_reset_counts() {
        let (mut conn, mut server) = pair().await;
        let receiver = tokio::spawn(async move {
            let mut head = [0u8; 1024];
            let _ = server.read(&mut head).await.unwrap();
            server
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            // Closing with unread data sends a reset.
            drop(server);
        });
        let body = vec![b'x'; 32 << 20];
        let head = format!(
            "POST /in HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let deadline = Deadline::now() + Duration::from_secs(5);
        let (status, _, reusable) =
            ok(conn.exchange(head.as_bytes(), &body, false, deadline).await);
        assert_eq!(status, 413);
        assert!(!reusable);
        receiver.await.unwrap();
    }

    #[tokio::test]
    async fn no_answer_in_time_is_a_timeout() {
        let (mut conn, mut server) = pair().await;
        let receiver = tokio::spawn(async move {
            answer(&mut server, &[b"HTTP/1.1 200 OK\r\n".to_vec()]).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let deadline = Deadline::now() + Duration::from_millis(200);
        let out = conn.exchange(REQUEST, b"hi", false, deadline).await;
        assert!(matches!(out, Err(Failure::Timeout)), "{:?}", out.err());
        receiver.abort();
    }

    #[tokio::test]
    async fn a_receiver_closing_an_idle_connection_is_seen() {
        let (mut conn, server) = pair().await;
        assert!(!conn.is_closed());
        drop(server);
        // The close arrives through the runtime's I/O driver.
        let start = std::time::Instant::now();
        while !conn.is_closed() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the close is never seen"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Sent anyway, nothing is read back: the request did go out, so
        // this is not `NotSent` unless the write itself failed.
        let deadline = Deadline::now() + Duration::from_secs(2);
        match conn.exchange(REQUEST, b"hi", false, deadline).await {
            Err(Failure::NotSent) | Err(Failure::Io(_)) => {}
            Err(Failure::Timeout) => panic!("timed out"),
            Ok(a) => panic!("answered {}", a.status),
        }
    }

    #[test]
    fn chunk_sizes_are_hexadecimal_with_optional_extensions() {
        assert_eq!(chunk_size(b"1A").unwrap(), 26);
        assert_eq!(chunk_size(b"0").unwrap(), 0);
        assert_eq!(chunk_size(b"ff;name=value").unwrap(), 255);
        assert_eq!(chunk_size(b"10 ;x").unwrap(), 16);
        for bad in [&b""[..], b"g", b";x", b"-1", b"1000000000000000"] {
            assert!(
                chunk_size(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
