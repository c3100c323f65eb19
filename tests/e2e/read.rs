//! Reading events back: by id, by position, and following.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn list_after_and_limit() {
    let s = Server::start();
    let batch: Vec<_> = (1..=25).map(|i| event(&i.to_string())).collect();
    assert_eq!(post_batch(&s, "default", &json!(batch)).await.0, 200);
    let (st, v) = get(&s, "/v1/buses/default/events?after=10&limit=5").await;
    assert_eq!(st, 200);
    let seqs: Vec<_> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![11, 12, 13, 14, 15]);
    assert_eq!(v["next"], 15);
    let (_, v) = get(&s, "/v1/buses/default/events?after=25").await;
    assert_eq!(v["events"], json!([]));
    assert_eq!(v["next"], 25);
    for bad in ["limit=0", "limit=5000", "after=-1", "after=x", "colour=red"] {
        let (st, _) = get(&s, &format!("/v1/buses/default/events?{bad}")).await;
        assert_eq!(st, 400, "{bad}");
    }
}

#[tokio::test]
async fn get_by_id_with_and_without_source() {
    let s = Server::start();
    let mut a = event("dup");
    a["source"] = json!("/a");
    let mut b = event("dup");
    b["source"] = json!("/b");
    assert_eq!(post_batch(&s, "default", &json!([a, b])).await.0, 200);
    let (st, v) = get(&s, "/v1/buses/default/events/dup").await;
    assert_eq!(st, 409);
    assert_eq!(v["field"], "source");
    let (st, v) = get(&s, "/v1/buses/default/events/dup?source=/b").await;
    assert_eq!(st, 200);
    assert_eq!(v["source"], "/b");
    assert_eq!(get(&s, "/v1/buses/default/events/missing").await.0, 404);
    // Ids with characters that need escaping in a path.
    let mut odd = event("a/b c?d");
    odd["source"] = json!("/odd");
    assert_eq!(post_structured(&s, "default", &odd).await.0, 200);
    let (st, v) = get(&s, "/v1/buses/default/events/a%2Fb%20c%3Fd").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["id"], "a/b c?d");
}

/// Reads SSE messages until `n` events arrived.
async fn read_sse(resp: reqwest::Response, n: usize) -> Vec<serde_json::Value> {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("event within 20s")
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
                out.push(serde_json::from_str(&data).unwrap());
            }
        }
    }
    out
}

#[tokio::test]
async fn follow_streams_history_then_new_events() {
    let s = Server::start();
    assert_eq!(
        post_batch(&s, "default", &json!([event("1"), event("2")]))
            .await
            .0,
        200
    );
    let resp = client()
        .get(s.url("/v1/buses/default/events?follow=true&after=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let poster = {
        let url = s.url("/v1/buses/default/events");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            for id in ["3", "4"] {
                client()
                    .post(&url)
                    .header("content-type", "application/cloudevents+json")
                    .body(event(id).to_string())
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let got = read_sse(resp, 3).await;
    poster.await.unwrap();
    let ids: Vec<_> = got
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec!["2", "3", "4"]);
    // Resuming with Last-Event-ID continues after that seq.
    let resp = client()
        .get(s.url("/v1/buses/default/events?follow=true"))
        .header("last-event-id", "3")
        .send()
        .await
        .unwrap();
    let got = read_sse(resp, 1).await;
    assert_eq!(got[0]["id"], "4");
}

#[tokio::test]
async fn health_and_version() {
    let s = Server::start();
    assert_eq!(get(&s, "/healthz").await.0, 200);
    assert_eq!(get(&s, "/readyz").await.0, 200);
    let (st, v) = get(&s, "/v1/version").await;
    assert_eq!(st, 200);
    assert_eq!(v["api"], "v1");
}
