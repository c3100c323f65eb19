//! Bus management.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn default_bus_exists_and_cannot_be_deleted() {
    let s = Server::start();
    let (st, v) = get(&s, "/v1/buses").await;
    assert_eq!(st, 200);
    assert_eq!(v["buses"][0]["name"], "default");
    assert_eq!(v["buses"][0]["retention"], "7d");
    let r = client()
        .delete(s.url("/v1/buses/default"))
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 409);
    assert_eq!(v["field"], "bus");
}

#[tokio::test]
async fn create_update_get_list_delete() {
    let s = Server::start();
    let c = client();
    let put = |body: serde_json::Value| c.put(s.url("/v1/buses/orders")).json(&body).send();
    let (st, v) = status_json(
        put(json!({"description": "orders", "retention": "24h", "max_event_bytes": 4096}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["name"], "orders");
    assert_eq!(v["retention"], "1d");
    assert_eq!(v["max_event_bytes"], 4096);
    let (st, v) = status_json(put(json!({"description": "renamed"})).await.unwrap()).await;
    assert_eq!(st, 200);
    assert_eq!(v["description"], "renamed");
    assert_eq!(
        v["retention"], "7d",
        "PUT replaces: omitted retention is the default"
    );
    let (st, v) = get(&s, "/v1/buses/orders").await;
    assert_eq!((st, &v["description"]), (200, &json!("renamed")));
    let (_, v) = get(&s, "/v1/buses").await;
    let names: Vec<_> = v["buses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("default"), json!("orders")]);
    let r = c.delete(s.url("/v1/buses/orders")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (st, v) = get(&s, "/v1/buses/orders").await;
    assert_eq!(st, 404);
    assert_eq!(v["field"], "bus");
    let r = c.delete(s.url("/v1/buses/orders")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn bad_bus_requests_are_problems() {
    let s = Server::start();
    let c = client();
    for (path, body, field) in [
        ("/v1/buses/Bad_Name", json!({}), "bus"),
        ("/v1/buses/ok", json!({"retention": "forever"}), "retention"),
        ("/v1/buses/ok", json!({"retension": "1d"}), "retension"),
        (
            "/v1/buses/ok",
            json!({"max_event_bytes": 0}),
            "max_event_bytes",
        ),
        (
            "/v1/buses/ok",
            json!({"max_event_bytes": 1u64 << 40}),
            "max_event_bytes",
        ),
    ] {
        let (st, v) = status_json(c.put(s.url(path)).json(&body).send().await.unwrap()).await;
        assert_eq!(st, 400, "{path} {body}: {v}");
        assert_eq!(v["field"], field, "{v}");
    }
    let (st, _) = status_json(
        c.put(s.url("/v1/buses/ok"))
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = get(&s, "/v1/nothing-here").await;
    assert_eq!(st, 404);
    let (st, _) = status_json(c.patch(s.url("/v1/buses/default")).send().await.unwrap()).await;
    assert_eq!(st, 405);
}

#[tokio::test]
async fn deleting_a_bus_deletes_its_events() {
    let s = Server::start();
    let c = client();
    c.put(s.url("/v1/buses/tmp")).send().await.unwrap();
    let (st, _) = post_structured(&s, "tmp", &event("a")).await;
    assert_eq!(st, 200);
    c.delete(s.url("/v1/buses/tmp")).send().await.unwrap();
    let (st, _) = post_structured(&s, "tmp", &event("b")).await;
    assert_eq!(st, 404);
    c.put(s.url("/v1/buses/tmp")).send().await.unwrap();
    assert!(all_events(&s, "tmp").await.is_empty());
}
