//! A small HTTP client for the API, shared by the client commands.

use anyhow::{Context, anyhow};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

/// Talks to one Signalbox server.
pub(crate) struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub(crate) fn new(server: &str, token: Option<&str>) -> anyhow::Result<Client> {
        let base = server.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(anyhow!(
                "--server must be an http:// or https:// URL, got '{server}'"
            ));
        }
        Ok(Client {
            base,
            http: {
                let mut headers = reqwest::header::HeaderMap::new();
                if let Some(t) = token {
                    let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}"))
                        .map_err(|_| {
                            anyhow!("the token contains characters not allowed in a header")
                        })?;
                    v.set_sensitive(true);
                    headers.insert(reqwest::header::AUTHORIZATION, v);
                }
                reqwest::Client::builder()
                    .user_agent(concat!("signalbox-cli/", env!("CARGO_PKG_VERSION")))
                    .default_headers(headers)
                    .build()?
            },
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Sends a request and returns the JSON body, or the server's problem
    /// document as an error.
    pub(crate) async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(problem_error(resp).await);
        }
        if status == StatusCode::NO_CONTENT {
            return Ok((status, Value::Null));
        }
        let body = resp
            .json::<Value>()
            .await
            .context("the server sent invalid JSON")?;
        Ok((status, body))
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self.send(self.request(Method::GET, path)).await?.1)
    }
}

/// Turns an error response into a readable error: the problem's title,
/// detail and field.
pub(crate) async fn problem_error(resp: Response) -> anyhow::Error {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<Value>(&text) {
        Ok(p) if p.get("title").is_some() => {
            let mut msg = format!(
                "{} ({}): {}",
                p["title"].as_str().unwrap_or("error"),
                status.as_u16(),
                p["detail"].as_str().unwrap_or("")
            );
            if let Some(f) = p.get("field").and_then(Value::as_str)
                && !f.is_empty()
            {
                msg.push_str(&format!(" [field: {f}]"));
            }
            anyhow!(msg)
        }
        _ => anyhow!("HTTP {status}: {text}"),
    }
}

/// Percent-encodes one path segment.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
