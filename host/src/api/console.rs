//! `/console`: the web console, served from files embedded in the binary.
//!
//! The console (`console/` at the top of the repository) is plain ES
//! modules, HTML and CSS with no build step; `rust-embed` compiles every
//! file into the binary (its `debug-embed` feature makes debug builds embed
//! them too, so what the tests drive is what ships). The files hold no data
//! and need no token: everything the console shows it fetches from the
//! `/v1` API with the token the user signs in with (see
//! `auth::required_action`). The `Host`/`Origin` guard still applies.
//!
//! # Caching
//!
//! There is no build step to put content hashes into file names, so the
//! server versions the URLs instead. At start-up it hashes every file into
//! one **version** and rewrites `index.html` so that the files it names
//! (`app.js`, `style.css`, …) are fetched from `/console/v/<version>/…`.
//! Modules import each other by relative URL, so every module the console
//! loads lives under the same versioned folder. Those answers are
//! `immutable`: a new release has a new version, hence new URLs. The
//! document itself (`/console/`) and any file asked for without (or with an
//! old) version are `no-cache`, revalidated with their `ETag`.
//!
//! # Content-Security-Policy
//!
//! `default-src 'self'`, no inline script or style attributes, no frames,
//! no plugins: the console needs nothing else, and a bug that injected
//! markup could not run script from it.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{AppState, Problem};

/// The console's files, from `console/` at the top of the repository.
#[derive(rust_embed::RustEmbed)]
#[folder = "../console/"]
struct Files;

/// The policy sent with every console file.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; \
                   form-action 'self'; frame-ancestors 'none'";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(bare))
        .route("/console/", get(index))
        .route("/console/{*path}", get(file))
}

/// One file, ready to send.
struct Asset {
    body: Bytes,
    content_type: &'static str,
    /// A strong validator: the first 16 bytes of the content's SHA-256.
    etag: HeaderValue,
}

/// Every file, and the version of the whole set.
struct Site {
    version: String,
    files: HashMap<String, Asset>,
}

static SITE: LazyLock<Site> = LazyLock::new(|| {
    build(Files::iter().filter_map(|p| {
        let f = Files::get(&p)?;
        Some((p.into_owned(), f.data.into_owned()))
    }))
});

/// Builds the site from (path, content) pairs: hashes them into a version
/// and rewrites `index.html` to fetch the files it names from
/// `v/<version>/`.
fn build(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Site {
    let mut files: Vec<(String, Vec<u8>)> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut all = Sha256::new();
    for (path, data) in &files {
        all.update(path.as_bytes());
        all.update([0]);
        all.update(Sha256::digest(data));
    }
    let version = crate::plugin::engine::hex(&all.finalize()[..8]);
    let names: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let mut out = HashMap::with_capacity(files.len());
    for (path, data) in files {
        let data = if path == "index.html" {
            versioned_index(&String::from_utf8_lossy(&data), &names, &version).into_bytes()
        } else {
            data
        };
        out.insert(path.clone(), asset(&path, data));
    }
    Site {
        version,
        files: out,
    }
}

fn asset(path: &str, data: Vec<u8>) -> Asset {
    let etag = format!(
        "\"{}\"",
        crate::plugin::engine::hex(&Sha256::digest(&data)[..16])
    );
    Asset {
        content_type: content_type(path),
        etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
        body: Bytes::from(data),
    }
}

/// `index.html` with every `="<file>"` attribute value that names one of
/// the console's files turned into `="v/<version>/<file>"`.
fn versioned_index(html: &str, files: &[String], version: &str) -> String {
    let mut html = html.to_owned();
    for f in files.iter().filter(|f| *f != "index.html") {
        html = html.replace(&format!("=\"{f}\""), &format!("=\"v/{version}/{f}\""));
    }
    html
}

/// The media type of a console file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `/console` without the slash: the document's relative URLs and `#/…`
/// links resolve against `/console/`, so send the browser there.
async fn bare(uri: Uri) -> Response {
    let location = match uri.query() {
        Some(q) => format!("/console/?{q}"),
        None => "/console/".to_owned(),
    };
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

async fn index(headers: HeaderMap) -> Result<Response, Problem> {
    serve(&headers, "index.html", false)
}

async fn file(headers: HeaderMap, Path(path): Path<String>) -> Result<Response, Problem> {
    // `v/<version>/<file>`: the URLs index.html hands out. Only the current
    // version may be cached for good; an old one gets today's file, to be
    // revalidated.
    if let Some(rest) = path.strip_prefix("v/")
        && let Some((version, file)) = rest.split_once('/')
    {
        return serve(&headers, file, version == SITE.version);
    }
    serve(&headers, &path, false)
}

fn serve(headers: &HeaderMap, path: &str, immutable: bool) -> Result<Response, Problem> {
    let Some(asset) = SITE.files.get(path) else {
        return Err(Problem::not_found(
            "Console file",
            format!("the console has no file '{}'", cut(path)),
        )
        .field("path"));
    };
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, &asset.etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Body::from(asset.body.clone()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        r
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(resp)
}

/// Whether an `If-None-Match` value (`*`, or a list of entity tags, weak
/// ones compared weakly as RFC 9110 says for this header) names `etag`.
fn etag_matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let etag = etag.as_bytes();
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t).as_bytes() == etag)
}

/// At most 100 characters of a client-supplied path, for the message.
fn cut(s: &str) -> &str {
    match s.char_indices().nth(100) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        build([
            (
                "index.html".to_owned(),
                br#"<link rel="stylesheet" href="style.css"><script type="module" src="app.js"></script><a href="other.html">"#.to_vec(),
            ),
            ("app.js".to_owned(), b"import './lib/x.js';".to_vec()),
            ("lib/x.js".to_owned(), b"export {};".to_vec()),
            ("style.css".to_owned(), b"body{}".to_vec()),
        ])
    }

    #[test]
    fn index_names_versioned_files() {
        let s = site();
        let index = String::from_utf8(s.files["index.html"].body.to_vec()).unwrap();
        let v = &s.version;
        assert!(
            index.contains(&format!("href=\"v/{v}/style.css\"")),
            "{index}"
        );
        assert!(index.contains(&format!("src=\"v/{v}/app.js\"")), "{index}");
        // Not a console file: left alone.
        assert!(index.contains("href=\"other.html\""), "{index}");
    }

    #[test]
    fn the_version_follows_the_content() {
        let a = site().version;
        let b = build([("app.js".to_owned(), b"changed".to_vec())]).version;
        assert_eq!(a, site().version);
        assert_ne!(a, b);
    }

    #[test]
    fn etags_compare_as_rfc_9110_says() {
        let s = site();
        let tag = &s.files["app.js"].etag;
        let t = tag.to_str().unwrap();
        assert!(etag_matches(t, tag));
        assert!(etag_matches(&format!("W/{t}"), tag));
        assert!(etag_matches(&format!("\"x\", {t}"), tag));
        assert!(etag_matches("*", tag));
        assert!(!etag_matches("\"x\"", tag));
    }

    #[test]
    fn the_real_console_is_embedded() {
        // Every file index.html names is there, under the versioned path.
        let index = String::from_utf8(SITE.files["index.html"].body.to_vec()).unwrap();
        for f in ["app.js", "style.css"] {
            assert!(
                index.contains(&format!("\"v/{}/{f}\"", SITE.version)),
                "index.html does not name {f}: {index}"
            );
            assert!(SITE.files.contains_key(f));
        }
        assert!(
            !index.contains("<script>") && !index.contains(" style="),
            "inline script or style would break the CSP"
        );
        assert_eq!(
            content_type("pages/buses.js"),
            "text/javascript; charset=utf-8"
        );
    }
}
