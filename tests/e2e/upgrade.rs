//! Upgrading: a data folder written by an earlier release opens, reads and
//! drains. The fixture `tests/fixtures/data-v1` was written by the release
//! before the storage seam (see `tests/fixtures/make-data-v1.py`, which
//! lists what it holds).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::*;

fn fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/data-v1"
    ))
}

/// A client that sends the fixture's admin token.
struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    fn new(s: &Server) -> Admin {
        let secret = std::fs::read_to_string(fixture().with_extension("secret")).unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Bearer {}", secret.trim()).parse().unwrap(),
        );
        Admin {
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
            base: s.base.clone(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let (st, v) = status_json(r).await;
        assert_eq!(st, 200, "GET {path}: {v}");
        v
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let (st, v) = status_json(r).await;
        assert!(st < 300, "{method} {path}: {st} {v}");
        v
    }
}

#[tokio::test]
async fn a_data_folder_of_the_previous_release_opens_and_drains() {
    let s = Server::start_from(&fixture());
    // Its token still works, and nobody gets in without one.
    assert_eq!(get(&s, "/v1/buses").await.0, 401);
    let admin = Admin::new(&s);

    // Buses, settings and events.
    let bus = admin.get("/v1/buses/orders").await;
    assert_eq!(bus["retention"], "30d", "{bus}");
    assert_eq!(bus["dedup_window"], "10m", "{bus}");
    assert_eq!(bus["last_seq"], 6);
    let page = admin.get("/v1/buses/orders/events?after=0&limit=100").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 6);
    let e = admin.get("/v1/buses/orders/events/o2").await;
    assert_eq!(e["data"], json!({"order": 2}));
    assert_eq!(admin.get("/v1/buses/default").await["last_seq"], 2);

    // Schemas, plugins, replays.
    let schemas = admin.get("/v1/buses/orders/schemas").await;
    assert!(
        schemas.to_string().contains("com.example.order.created"),
        "{schemas}"
    );
    let plugins = admin.get("/v1/plugins").await;
    assert_eq!(plugins["plugins"][0]["name"], "pass", "{plugins}");
    let replays = admin.get("/v1/replays").await;
    assert_eq!(replays["replays"][0]["state"], "completed", "{replays}");

    // Rules run; the plugin rule is not degraded.
    let rules = admin.get("/v1/buses/orders/rules").await;
    let names: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["refused", "ship"]);
    let filtered = admin.get("/v1/buses/default/rules/filtered").await;
    assert_eq!(filtered["status"]["state"], "running", "{filtered}");

    // Deliveries that were in flight: point the target at a live receiver
    // (same target id, so its queue stays) and they arrive: three events
    // and their three replayed copies.
    let r = Receiver::start().await;
    let mut ship = admin.get("/v1/buses/orders/rules/ship").await;
    assert_eq!(ship["status"]["targets"][0]["queued"], 6, "{ship}");
    for k in ["name", "bus", "created_at", "updated_at", "status"] {
        ship.as_object_mut().unwrap().remove(k);
    }
    ship["targets"][0]["url"] = json!(r.url);
    admin
        .send(reqwest::Method::PUT, "/v1/buses/orders/rules/ship", &ship)
        .await;
    let got = r.wait_for(6, 60).await;
    let mut ids: Vec<String> = got.iter().map(|g| g.header("ce-id").unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["o1", "o1", "o2", "o2", "o3", "o3"]);
    assert_eq!(
        got.iter()
            .filter(|g| g.header("ce-replay").as_deref() == Some("rp-1"))
            .count(),
        3
    );

    // Dead letters: listed, then redriven to a live receiver.
    let dl = admin
        .get("/v1/buses/orders/rules/refused/dead-letters")
        .await;
    assert_eq!(dl["total"], 3, "{dl}");
    let r2 = Receiver::start().await;
    let mut refused = admin.get("/v1/buses/orders/rules/refused").await;
    for k in ["name", "bus", "created_at", "updated_at", "status"] {
        refused.as_object_mut().unwrap().remove(k);
    }
    refused["targets"][0]["url"] = json!(r2.url);
    admin
        .send(
            reqwest::Method::PUT,
            "/v1/buses/orders/rules/refused",
            &refused,
        )
        .await;
    let done = admin
        .send(
            reqwest::Method::POST,
            "/v1/buses/orders/rules/refused/dead-letters/redrive",
            &json!({}),
        )
        .await;
    assert_eq!(done["redriven"], 3, "{done}");
    r2.wait_for(3, 60).await;

    // New events flow as before.
    let r = admin
        .http
        .post(format!("{}/v1/buses/orders/events", s.base))
        .header("content-type", "application/cloudevents+json")
        .body(
            json!({"specversion": "1.0", "id": "o4", "source": "/shop",
                   "type": "com.example.order.created", "data": {"order": 4}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
