//! Acknowledged events survive crashes and restarts.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// Publishes from several connections until the server dies; every event
/// that got a 200 must be there after a restart, and be found by its id.
async fn acked_events_survive_kill9(config: &str) {
    let mut s = Server::start_with_config(config);
    let acked = publish_then_kill9(&mut s, 8, Duration::from_millis(1500), |w, i| {
        (0..10).map(|j| event(&format!("w{w}-{i}-{j}"))).collect()
    })
    .await;
    assert!(
        acked.len() > 100,
        "only {} events acknowledged",
        acked.len()
    );
    s.restart();
    let stored: HashSet<String> = all_events(&s, "default")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<_> = acked.difference(&stored).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {missing:?}",
        acked.difference(&stored).count()
    );
    // Look-ups by id find them: the newest id entries were in memory when
    // the server died and were made again from the log at start.
    let mut sample: Vec<&String> = acked.iter().collect();
    sample.sort();
    let step = (sample.len() / 100).max(1);
    for id in sample.iter().step_by(step) {
        let (st, v) = get(&s, &format!("/v1/buses/default/events/{id}")).await;
        assert_eq!(st, 200, "{id}: {v}");
        assert_eq!(v["id"], id.as_str());
    }
    // Sequence numbers continue without reuse.
    let (_, v) = post_structured(&s, "default", &event("after-restart")).await;
    assert_eq!(
        v["entries"][0]["seq"].as_u64().unwrap(),
        stored.len() as u64 + 1
    );
}

#[tokio::test]
async fn kill9_loses_no_acknowledged_event_default_sync() {
    acked_events_survive_kill9("").await;
}

#[tokio::test]
async fn kill9_loses_no_acknowledged_event_sync_always() {
    acked_events_survive_kill9("[store]\nsync = \"always\"\n").await;
}

#[tokio::test]
async fn kill9_loses_no_acknowledged_event_sync_os() {
    acked_events_survive_kill9("[store]\nsync = \"os\"\n").await;
}

#[tokio::test]
async fn graceful_shutdown_with_open_stream() {
    let mut s = Server::start();
    assert_eq!(post_structured(&s, "default", &event("a")).await.0, 200);
    // An open follow stream must not keep the server from stopping.
    let stream = client()
        .get(s.url("/v1/buses/default/events?follow=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", s.log());
    assert!(s.log().contains("Store closed"), "{}", s.log());
    drop(stream);
    s.restart();
    assert_eq!(all_events(&s, "default").await.len(), 1);
}

#[tokio::test]
async fn retention_deletes_expired_events() {
    let s = Server::start_with_config("[retention]\ninterval = \"200ms\"\n");
    client()
        .put(s.url("/v1/buses/short"))
        .json(&json!({"retention": "1s"}))
        .send()
        .await
        .unwrap();
    for i in 0..5 {
        assert_eq!(
            post_structured(&s, "short", &event(&i.to_string())).await.0,
            200
        );
    }
    assert_eq!(post_structured(&s, "default", &event("kept")).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if all_events(&s, "short").await.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "events were not expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&s, "/v1/buses/short/events/0").await.0, 404);
    assert_eq!(
        all_events(&s, "default").await.len(),
        1,
        "other buses keep their events"
    );
    let (_, v) = post_structured(&s, "short", &event("next")).await;
    assert_eq!(
        v["entries"][0]["seq"], 6,
        "numbering continues after retention"
    );
}
