//! The web console as the server serves it (`/console`), and the API
//! additions it relies on: `GET /v1/whoami`, bus listings filtered to what
//! a token may read, `POST /v1/test-pattern` for any token, event listings
//! by time (`since`, `before`) and filter (`pattern`, `cesql`, also on the
//! stream), bus sizes, and which rules use a plugin. The browser tests in
//! `tests/console/` drive the console itself.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use signalbox_test_plugins as artifacts;

use crate::support::*;

const ADMIN: &str = "sbx_000000000000_adminsecretadminsecretadminsecretadmin00";

fn admin_config() -> String {
    let hash = signalbox::auth::hash_secret(ADMIN);
    format!("[[auth.tokens]]\nname = \"ops\"\nscopes = [\"admin\"]\nhash = \"{hash}\"\n")
}

async fn get_as(s: &Server, path: &str, token: &str) -> (u16, Value) {
    status_json(
        client()
            .get(s.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn token(s: &Server, name: &str, scopes: &[&str]) -> String {
    let (st, v) = status_json(
        client()
            .post(s.url("/v1/tokens"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": name, "scopes": scopes}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    v["secret"].as_str().unwrap().to_owned()
}

fn seqs(v: &Value) -> Vec<u64> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_console_is_served_without_a_token_with_strict_headers() {
    let s = Server::start_with_config(&admin_config());
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Without the slash: sent to the document, whose relative URLs need it.
    let r = c.get(s.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/console/");
    let r = c.get(s.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the console's files need no token");
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script: {html}");
    // Every file the document names is versioned, hence immutable.
    let start = html.find("src=\"v/").expect("a versioned script") + 5;
    let app = &html[start..start + html[start..].find('"').unwrap()];
    assert!(app.ends_with("/app.js"), "{app}");
    let r = c
        .get(s.url(&format!("/console/{app}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = r.headers()["etag"].clone();
    // The same file without a version (or with another) is revalidated.
    let r = c.get(s.url("/console/app.js")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["etag"], etag);
    let r = c
        .get(s.url("/console/v/0000000000000000/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let r = c
        .get(s.url("/console/app.js"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    for (path, ct) in [
        ("/console/style.css", "text/css; charset=utf-8"),
        ("/console/favicon.svg", "image/svg+xml"),
        ("/console/pages/buses.js", "text/javascript; charset=utf-8"),
    ] {
        let r = c.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ct, "{path}");
    }
    // Unknown files are problems naming the path; nothing escapes the folder.
    for path in [
        "/console/nope.js",
        "/console/..%2fCargo.toml",
        "/console/v/x/..%2f..%2fCargo.toml",
    ] {
        let (st, v) = status_json(c.get(s.url(path)).send().await.unwrap()).await;
        assert_eq!(st, 404, "{path}: {v}");
        assert_eq!(v["field"], "path");
    }
    // The guard still holds: a foreign Host is refused, writes need a token.
    let r = c
        .get(s.url("/console/"))
        .header("host", "evil.example:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c.post(s.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c.get(s.url("/v1/buses")).send().await.unwrap();
    assert_eq!(r.status(), 401, "the API itself still needs the token");
}

#[tokio::test]
async fn whoami_says_what_a_token_may_do() {
    // A server without tokens is open.
    let open = Server::start();
    let (st, v) = get(&open, "/v1/whoami").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["open"], true);
    assert_eq!(v["admin"], true);
    assert_eq!(v["token"], Value::Null);
    drop(open);

    let s = Server::start_with_config(&admin_config());
    assert_eq!(get(&s, "/v1/whoami").await.0, 401);
    let (st, v) = get_as(&s, "/v1/whoami", ADMIN).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["open"].clone(), v["admin"].clone(), v["metrics"].clone()),
        (json!(false), json!(true), json!(true))
    );
    assert_eq!(v["read"], json!(["*"]));
    assert_eq!(v["token"]["name"], "ops");
    let reader = token(&s, "viewer", &["read:orders", "read:billing", "publish:*"]).await;
    let (_, v) = get_as(&s, "/v1/whoami", &reader).await;
    assert_eq!(v["admin"], false);
    assert_eq!(v["metrics"], false);
    assert_eq!(v["read"], json!(["billing", "orders"]));
    assert_eq!(v["publish"], json!(["*"]));
    assert_eq!(v["token"]["name"], "viewer");
    assert!(v["token"].get("hash").is_none(), "{v}");
    let mon = token(&s, "mon", &["metrics"]).await;
    let (_, v) = get_as(&s, "/v1/whoami", &mon).await;
    assert_eq!(v["metrics"], true);
    assert_eq!(v["read"], json!([]));
}

#[tokio::test]
async fn bus_listings_show_what_the_token_may_read() {
    let s = Server::start_with_config(&admin_config());
    for bus in ["orders", "billing", "audit"] {
        let r = client()
            .put(s.url(&format!("/v1/buses/{bus}")))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let names = |v: &Value| -> Vec<String> {
        v["buses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, v) = get_as(&s, "/v1/buses", ADMIN).await;
    assert_eq!(names(&v), ["audit", "billing", "default", "orders"]);
    let reader = token(&s, "r", &["read:orders", "read:billing"]).await;
    let (st, v) = get_as(&s, "/v1/buses", &reader).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(names(&v), ["billing", "orders"]);
    let all = token(&s, "all", &["read:*"]).await;
    assert_eq!(names(&get_as(&s, "/v1/buses", &all).await.1).len(), 4);
    let publisher = token(&s, "p", &["publish:orders"]).await;
    let (st, v) = get_as(&s, "/v1/buses", &publisher).await;
    assert_eq!((st, names(&v).len()), (200, 0), "publishing is not reading");
    // Creating is still the admin's.
    let r = client()
        .put(s.url("/v1/buses/mine"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Any token may test a pattern: it reads nothing stored.
    let (st, v) = status_json(
        client()
            .post(s.url("/v1/test-pattern"))
            .bearer_auth(&publisher)
            .json(&json!({"pattern": {"type": ["a"]}, "json": {"type": "a"}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["matches"].clone()), (200, json!(true)), "{v}");
}

#[tokio::test]
async fn buses_say_how_many_events_they_hold() {
    let s = Server::start();
    let (_, v) = get(&s, "/v1/buses/default").await;
    assert_eq!(v["events"], 0);
    assert!(v["stored_bytes"].is_u64(), "{v}");
    let batch: Vec<_> = (1..=30).map(|i| event(&i.to_string())).collect();
    assert_eq!(post_batch(&s, "default", &json!(batch)).await.0, 200);
    let (_, v) = get(&s, "/v1/buses/default").await;
    assert_eq!(
        (v["events"].clone(), v["last_seq"].clone()),
        (json!(30), json!(30))
    );
}

#[tokio::test]
async fn events_by_time_range_and_filter_page_on_the_server() {
    let s = Server::start();
    let ev = |i: u32| {
        let mut e = event(&format!("e{i}"));
        e["type"] = json!(if i.is_multiple_of(2) { "even" } else { "odd" });
        e["data"] = json!({"n": i});
        e
    };
    let first: Vec<_> = (1..=5).map(ev).collect();
    assert_eq!(post_batch(&s, "default", &json!(first)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second: Vec<_> = (6..=10).map(ev).collect();
    assert_eq!(post_batch(&s, "default", &json!(second)).await.0, 200);
    let (_, v) = get(&s, "/v1/buses/default/events?after=5&limit=1").await;
    let t6 = v["events"][0]["received_at"].as_str().unwrap().to_owned();

    let (st, v) = get(&s, &format!("/v1/buses/default/events?since={t6}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(seqs(&v), [6, 7, 8, 9, 10]);
    let (_, v) = get(&s, &format!("/v1/buses/default/events?before={t6}")).await;
    assert_eq!(seqs(&v), [1, 2, 3, 4, 5]);
    assert_eq!(v["next"], 5);
    // Paging inside the range: `after` continues, `before` still bounds.
    let (_, v) = get(
        &s,
        &format!("/v1/buses/default/events?before={t6}&after=3&limit=10"),
    )
    .await;
    assert_eq!(seqs(&v), [4, 5]);
    let (_, v) = get(&s, &format!("/v1/buses/default/events?before={t6}&after=5")).await;
    assert_eq!((seqs(&v), v["next"].clone()), (vec![], json!(5)));
    let (_, v) = get(
        &s,
        "/v1/buses/default/events?since=2000-01-01T00:00:00Z&before=2000-01-02T00:00:00Z",
    )
    .await;
    assert_eq!(seqs(&v), Vec::<u64>::new());

    // Filters: a pattern (URL-encoded JSON) or a CESQL expression.
    let pattern = "%7B%22type%22%3A%5B%22even%22%5D%7D"; // {"type":["even"]}
    let (_, v) = get(&s, &format!("/v1/buses/default/events?pattern={pattern}")).await;
    assert_eq!(seqs(&v), [2, 4, 6, 8, 10]);
    let (_, v) = get(
        &s,
        &format!("/v1/buses/default/events?pattern={pattern}&limit=2"),
    )
    .await;
    assert_eq!((seqs(&v), v["next"].clone()), (vec![2, 4], json!(4)));
    let (_, v) = get(
        &s,
        "/v1/buses/default/events?cesql=id%20%3D%20%27e7%27&since=2000-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(seqs(&v), [7]);
    assert_eq!(v["next"], 10, "next is where the scan stopped");

    // Each mistake is a problem naming its parameter.
    for (query, field) in [
        ("since=yesterday", "since"),
        ("before=2024-13-01T00:00:00Z", "before"),
        ("pattern=%7Bnope", "pattern"),
        ("pattern=%7B%22type%22%3A%22x%22%7D", "pattern"),
        ("cesql=id%20%3D", "cesql"),
        ("follow=true&before=2024-01-01T00:00:00Z", "before"),
    ] {
        let (st, v) = get(&s, &format!("/v1/buses/default/events?{query}")).await;
        assert_eq!(st, 400, "{query}: {v}");
        assert_eq!(v["field"], field, "{query}: {v}");
    }
}

#[tokio::test]
async fn the_event_stream_filters_on_the_server() {
    let s = Server::start();
    let resp = client()
        .get(s.url("/v1/buses/default/events?follow=true&cesql=type%20%3D%20%27keep%27"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut batch = Vec::new();
    for i in 1..=6 {
        let mut e = event(&format!("f{i}"));
        e["type"] = json!(if i == 3 || i == 6 { "keep" } else { "drop" });
        batch.push(e);
    }
    assert_eq!(post_batch(&s, "default", &json!(batch)).await.0, 200);
    // Only the kept events arrive.
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut kept = Vec::new();
    while kept.len() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("a message within 20s")
            .expect("stream open")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let msg: String = buf.drain(..end + 2).collect();
            if msg.contains("event: cloudevent") {
                let data: String = msg
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                let v: Value = serde_json::from_str(&data).unwrap();
                kept.push(v["id"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(kept, ["f3", "f6"]);
    // A bad filter is refused before the stream starts.
    let (st, v) = get(&s, "/v1/buses/default/events?follow=true&cesql=%3D%3D").await;
    assert_eq!((st, v["field"].clone()), (400, json!("cesql")), "{v}");
}

#[tokio::test]
async fn plugins_say_which_rules_use_them() {
    let s = Server::start();
    let (st, v) = upload_plugin(&s, "keep", "1.0.0", artifacts::FILTER_PASS).await;
    assert_eq!(st, 201, "{v}");
    let (_, v) = get(&s, "/v1/plugins").await;
    assert_eq!(v["plugins"][0]["used_by"], json!([]));
    let (st, v) = put_json(
        &s,
        "/v1/buses/default/rules/kept",
        &json!({
            "pattern": {"source": [{"prefix": ""}]},
            "filters": [{"plugin": "keep@1.0.0"}],
            "targets": [{"id": "log", "type": "log"}]
        }),
    )
    .await;
    assert!(st == 201, "{v}");
    for path in [
        "/v1/plugins",
        "/v1/plugins/keep",
        "/v1/plugins/keep/versions/1.0.0",
    ] {
        let (st, v) = get(&s, path).await;
        assert_eq!(st, 200, "{path}: {v}");
        let info = if path.ends_with("1.0.0") {
            v.clone()
        } else if path == "/v1/plugins" {
            v["plugins"][0].clone()
        } else {
            v["versions"][0].clone()
        };
        let used = &info["used_by"];
        assert_eq!(used[0]["bus"], "default", "{path}: {info}");
        assert_eq!(used[0]["rule"], "kept");
        assert_eq!(used[0]["step"], "filter");
        assert_eq!(used[0]["status"]["plugin"], "keep@1.0.0");
        assert!(used[0]["status"]["calls"].is_u64(), "{info}");
    }
}
