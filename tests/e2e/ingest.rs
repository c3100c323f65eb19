//! Ingest in the three HTTP modes, validation and limits.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn stored(s: &Server, id: &str) -> Value {
    let (st, v) = get(s, &format!("/v1/buses/default/events/{id}")).await;
    assert_eq!(st, 200, "{v}");
    v
}

#[tokio::test]
async fn binary_mode_round_trip() {
    let s = Server::start();
    let c = client();
    let r = c
        .post(s.url("/v1/buses/default/events"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "bin-1")
        .header("ce-source", "/orders/eu")
        .header("ce-type", "com.example.order.created")
        .header("ce-subject", "order%20123")
        .header("ce-time", "2024-05-01T12:00:00.5+02:00")
        .header("ce-dataschema", "https://example.com/order.json")
        .header("ce-partitionkey", "customer-7")
        .header("ce-traceparent", "00-abc-def-01")
        .header("content-type", "application/json")
        .body(r#"{"total": 120.50,  "items":[1,2]}"#)
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["entries"][0]["seq"], 1);
    let e = stored(&s, "bin-1").await;
    assert_eq!(e["specversion"], "1.0");
    assert_eq!(e["source"], "/orders/eu");
    assert_eq!(e["type"], "com.example.order.created");
    assert_eq!(e["subject"], "order 123", "percent-decoded");
    assert_eq!(
        e["time"], "2024-05-01T12:00:00.5+02:00",
        "time kept as sent"
    );
    assert_eq!(e["dataschema"], "https://example.com/order.json");
    assert_eq!(e["datacontenttype"], "application/json");
    assert_eq!(e["partitionkey"], "customer-7");
    assert_eq!(e["traceparent"], "00-abc-def-01");
    assert_eq!(e["seq"], 1);
    assert!(e["received_at"].is_string());
    // The data bytes are exactly what was sent (checked on the raw body).
    let raw = c
        .get(s.url("/v1/buses/default/events/bin-1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains(r#""data":{"total": 120.50,  "items":[1,2]}"#),
        "{raw}"
    );
}

#[tokio::test]
async fn binary_mode_opaque_data_round_trips() {
    let s = Server::start();
    let bytes: Vec<u8> = (0..=255u8).chain([0xff, 0x00, 0x89]).collect();
    let r = client()
        .post(s.url("/v1/buses/default/events"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "png")
        .header("ce-source", "/cams/1")
        .header("ce-type", "com.example.snapshot")
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e = stored(&s, "png").await;
    assert_eq!(e["datacontenttype"], "image/png");
    assert_eq!(
        B64.decode(e["data_base64"].as_str().unwrap()).unwrap(),
        bytes
    );
}

#[tokio::test]
async fn structured_mode_round_trip() {
    let s = Server::start();
    let sent = json!({
        "specversion": "1.0",
        "id": "st-1",
        "source": "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "type": "com.example.note",
        "subject": "sub",
        "time": "2018-04-26T14:48:09Z",
        "datacontenttype": "application/xml",
        "data": "<note>hi</note>",
        "astring": "aaa",
        "aboolean": true,
        "anumber": -42,
    });
    let (st, v) = post_structured(&s, "default", &sent).await;
    assert_eq!(st, 200, "{v}");
    let mut got = stored(&s, "st-1").await;
    let obj = got.as_object_mut().unwrap();
    assert!(obj.remove("seq").is_some());
    assert!(obj.remove("received_at").is_some());
    assert_eq!(got, sent, "attributes, extension types and data identical");

    let with_b64 =
        json!({"specversion":"1.0","id":"st-2","source":"/s","type":"t","data_base64":"AAEC/w=="});
    assert_eq!(post_structured(&s, "default", &with_b64).await.0, 200);
    assert_eq!(stored(&s, "st-2").await["data_base64"], "AAEC/w==");
}

#[tokio::test]
async fn batch_mode_round_trip_and_order() {
    let s = Server::start();
    let batch: Vec<Value> = (0..50).map(|i| event(&format!("b-{i}"))).collect();
    let (st, v) = post_batch(&s, "default", &json!(batch)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 50);
    assert_eq!(v["failed"], 0);
    for (i, entry) in v["entries"].as_array().unwrap().iter().enumerate() {
        assert_eq!(entry["id"], format!("b-{i}"));
        assert_eq!(entry["seq"], i as u64 + 1);
    }
    let events = all_events(&s, "default").await;
    assert_eq!(events.len(), 50);
    for (i, e) in events.iter().enumerate() {
        let mut e = e.clone();
        e.as_object_mut().unwrap().remove("seq");
        e.as_object_mut().unwrap().remove("received_at");
        assert_eq!(e, batch[i]);
    }
}

#[tokio::test]
async fn batch_with_bad_entry_stores_the_rest() {
    let s = Server::start();
    let mut bad = event("bad");
    bad["time"] = json!("yesterday");
    let batch = json!([event("good-1"), bad, event("good-2"), 17]);
    let (st, v) = post_batch(&s, "default", &batch).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 2);
    assert_eq!(v["failed"], 2);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries[0]["seq"], 1);
    assert_eq!(entries[1]["id"], "bad");
    assert_eq!(entries[1]["error"]["field"], "time");
    assert!(
        entries[1]["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("RFC 3339")
    );
    assert_eq!(entries[2]["seq"], 2);
    assert!(
        entries[3]["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("JSON object")
    );
    let ids: Vec<_> = all_events(&s, "default")
        .await
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("good-1"), json!("good-2")]);
}

/// Every validation rule answers 400 and names the field, in structured and
/// binary mode.
#[tokio::test]
async fn each_validation_rule_names_the_field() {
    let s = Server::start();
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "id",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("id"))),
        ),
        (
            "source",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("source"))),
        ),
        (
            "type",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("type"))),
        ),
        (
            "specversion",
            Box::new(|e| drop(e.as_object_mut().unwrap().remove("specversion"))),
        ),
        ("specversion", Box::new(|e| e["specversion"] = json!("0.3"))),
        ("id", Box::new(|e| e["id"] = json!(""))),
        ("type", Box::new(|e| e["type"] = json!(5))),
        ("source", Box::new(|e| e["source"] = json!("not a uri"))),
        (
            "time",
            Box::new(|e| e["time"] = json!("2024-13-01T00:00:00Z")),
        ),
        (
            "dataschema",
            Box::new(|e| e["dataschema"] = json!("relative/path")),
        ),
        (
            "datacontenttype",
            Box::new(|e| e["datacontenttype"] = json!("json")),
        ),
        ("subject", Box::new(|e| e["subject"] = json!(""))),
        ("Bad", Box::new(|e| e["Bad"] = json!("x"))),
        ("a_b", Box::new(|e| e["a_b"] = json!("x"))),
        ("big", Box::new(|e| e["big"] = json!(4_247_483_647u64))),
        ("dec", Box::new(|e| e["dec"] = json!(42.42))),
        ("obj", Box::new(|e| e["obj"] = json!({"a": 1}))),
        (
            "data_base64",
            Box::new(|e| e["data_base64"] = json!("AA==")),
        ),
    ];
    for (field, mutate) in &cases {
        let mut e = event("v");
        mutate(&mut e);
        let (st, v) = post_structured(&s, "default", &e).await;
        assert_eq!(st, 400, "{field}: {v}");
        assert_eq!(v["field"], *field, "{v}");
    }
    // Binary mode: the same rules through headers.
    for (header, value, field) in [
        ("ce-specversion", "0.3", "specversion"),
        ("ce-time", "noon", "time"),
        ("ce-source", "a b", "source"),
        ("ce-Bad_Ext", "x", "bad_ext"),
        ("ce-id", "", "id"),
    ] {
        let mut h = vec![
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
        ];
        h.retain(|(k, _)| *k != header);
        h.push((header, value));
        let mut req = client().post(s.url("/v1/buses/default/events"));
        for (k, v) in h {
            req = req.header(k, v);
        }
        let (st, v) = status_json(req.send().await.unwrap()).await;
        assert_eq!(st, 400, "{header}: {v}");
        assert_eq!(v["field"], field, "{v}");
    }
    let r = client()
        .post(s.url("/v1/buses/default/events"))
        .header("ce-specversion", "1.0")
        .header("ce-source", "/s")
        .header("ce-type", "t")
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!((st, v["field"].as_str()), (400, Some("id")));
    assert!(
        all_events(&s, "default").await.is_empty(),
        "nothing invalid stored"
    );
}

#[tokio::test]
async fn limits_answer_413() {
    let s = Server::start_with_config(
        "[limits]\nmax_event_bytes = 2048\nmax_batch_events = 5\nmax_request_bytes = 65536\n",
    );
    let mut big = event("big");
    big["data"] = json!({"pad": "x".repeat(3000)});
    let (st, v) = post_structured(&s, "default", &big).await;
    assert_eq!(st, 413, "{v}");
    // In a batch, the oversized entry fails alone.
    let (st, v) = post_batch(&s, "default", &json!([event("ok"), big])).await;
    assert_eq!(st, 200);
    assert_eq!(v["entries"][1]["error"]["status"], 413);
    // Binary mode.
    let r = client()
        .post(s.url("/v1/buses/default/events"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "1")
        .header("ce-source", "/s")
        .header("ce-type", "t")
        .header("content-type", "text/plain")
        .body("y".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(r).await.0, 413);
    // Too many events in one batch.
    let six: Vec<_> = (0..6).map(|i| event(&i.to_string())).collect();
    assert_eq!(post_batch(&s, "default", &json!(six)).await.0, 413);
    // A body over the request limit.
    let r = client()
        .post(s.url("/v1/buses/default/events"))
        .header("content-type", "application/cloudevents-batch+json")
        .body(vec![b' '; 70_000])
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(r).await.0, 413);
    // A bus can lower the limit.
    client()
        .put(s.url("/v1/buses/tiny"))
        .json(&json!({"max_event_bytes": 300}))
        .send()
        .await
        .unwrap();
    let mut medium = event("m");
    medium["data"] = json!({"pad": "x".repeat(400)});
    assert_eq!(post_structured(&s, "tiny", &medium).await.0, 413);
    assert_eq!(post_structured(&s, "default", &medium).await.0, 200);
    let ids: Vec<_> = all_events(&s, "default")
        .await
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("ok"), json!("m")]);
}

#[tokio::test]
async fn unknown_bus_and_wrong_content_types() {
    let s = Server::start();
    let (st, v) = post_structured(&s, "nope", &event("x")).await;
    assert_eq!(st, 404);
    assert_eq!(v["field"], "bus");
    assert_eq!(get(&s, "/v1/buses/nope/events").await.0, 404);
    assert_eq!(get(&s, "/v1/buses/nope/events/x").await.0, 404);

    let c = client();
    let post = |ct: &'static str, body: &'static str| {
        c.post(s.url("/v1/buses/default/events"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    assert_eq!(
        status_json(post("application/json", "{}").await.unwrap())
            .await
            .0,
        400,
        "no ce- headers"
    );
    assert_eq!(
        status_json(post("application/cloudevents+avro", "x").await.unwrap())
            .await
            .0,
        415
    );
    assert_eq!(
        status_json(post("application/cloudevents+json", "{oops").await.unwrap())
            .await
            .0,
        400
    );
    assert_eq!(
        status_json(
            post("application/cloudevents-batch+json", "{}")
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );
    assert_eq!(
        status_json(
            post("application/cloudevents-batch+json", "[1,")
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );
}
