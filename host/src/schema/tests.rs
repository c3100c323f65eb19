//! Tests of the schema registry, policies and inference.

use serde_json::{Value, json};

use super::*;
use crate::event::{CloudEvent, Data};

const ORDER: &str = "com.example.order.created";

fn event(ty: &str, data: Option<Data>) -> CloudEvent {
    CloudEvent {
        id: "1".into(),
        source: "/shop".into(),
        ty: ty.into(),
        datacontenttype: None,
        dataschema: None,
        subject: None,
        time: None,
        extensions: vec![],
        data,
    }
}

fn json_event(ty: &str, data: Value) -> CloudEvent {
    event(ty, Some(Data::Json(data.to_string().into())))
}

fn with_dataschema(mut e: CloudEvent, uri: &str) -> CloudEvent {
    e.dataschema = Some(uri.into());
    e
}

fn order_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "order": {"type": "integer"},
            "total": {"type": "number", "minimum": 0},
            "email": {"type": "string", "format": "email"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
                    "required": ["sku", "qty"]
                }
            }
        },
        "required": ["order", "total"]
    })
}

fn registry() -> SchemaRegistry {
    let r = SchemaRegistry::new();
    r.put(ORDER, "1", order_schema()).unwrap();
    r
}

fn violations(v: Validation) -> Vec<Violation> {
    match v {
        Validation::Invalid(v) => v,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// ---- validation -------------------------------------------------------------

#[test]
fn valid_invalid_and_no_schema() {
    let r = registry();
    let good = json_event(ORDER, json!({"order": 1, "total": 12.5}));
    assert_eq!(r.validate(&good), Validation::Valid);
    let bad = json_event(ORDER, json!({"order": 1, "total": -1}));
    let v = violations(r.validate(&bad));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].pointer, "/total");
    assert_eq!(v[0].keyword, "minimum");
    assert!(v[0].message.contains("minimum"), "{}", v[0].message);
    let other = json_event("com.example.other", json!({"x": 1}));
    assert_eq!(r.validate(&other), Validation::NoSchema);
}

#[test]
fn violations_name_pointer_and_keyword() {
    let r = registry();
    let e = json_event(
        ORDER,
        json!({"order": "one", "email": "not-an-email",
               "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0}, {"qty": 2}]}),
    );
    let mut got: Vec<(String, String)> = violations(r.validate(&e))
        .into_iter()
        .map(|v| (v.pointer, v.keyword))
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("", "required"),
        ("/email", "format"),
        ("/items/1/qty", "minimum"),
        ("/items/2", "required"),
        ("/order", "type"),
    ]
    .iter()
    .map(|(p, k)| (p.to_string(), k.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn pointers_escape_member_names() {
    let r = SchemaRegistry::new();
    r.put(
        "t",
        "1",
        json!({"properties": {"a/b": {"properties": {"c~d": {"type": "string"}}}}}),
    )
    .unwrap();
    let v = violations(r.validate(&json_event("t", json!({"a/b": {"c~d": 1}}))));
    assert_eq!(v[0].pointer, "/a~1b/c~0d");
}

#[test]
fn compound_values_are_masked_in_messages() {
    let r = SchemaRegistry::new();
    r.put("t", "1", json!({"type": "array"})).unwrap();
    let big = json!({"secret": "x".repeat(1000)});
    let v = violations(r.validate(&json_event("t", big)));
    assert!(!v[0].message.contains("xxxx"), "{}", v[0].message);
    assert!(v[0].message.len() < 400);
}

#[test]
fn violations_are_capped() {
    let r = SchemaRegistry::new();
    r.put(
        "t",
        "1",
        json!({"type": "array", "items": {"type": "string"}}),
    )
    .unwrap();
    let data: Vec<u32> = (0..100).collect();
    let v = violations(r.validate(&json_event("t", json!(data))));
    assert_eq!(v.len(), MAX_VIOLATIONS);
}

#[test]
fn non_json_data_is_invalid_with_a_clear_message() {
    let r = registry();
    let mut text = event(ORDER, Some(Data::Text("<order/>".into())));
    text.datacontenttype = Some("application/xml".into());
    let v = violations(r.validate(&text));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].pointer, "");
    assert_eq!(v[0].keyword, "datacontenttype");
    assert!(v[0].message.contains("not JSON"), "{}", v[0].message);
    assert!(v[0].message.contains("application/xml"), "{}", v[0].message);

    let bytes = event(ORDER, Some(Data::Binary(vec![0xff, 0x00].into())));
    assert!(
        violations(r.validate(&bytes))[0]
            .message
            .contains("not JSON")
    );

    // data_base64 of a JSON document with a JSON content type is JSON.
    let mut b64 = event(
        ORDER,
        Some(Data::Binary(br#"{"order": 1, "total": 2}"#.to_vec().into())),
    );
    b64.datacontenttype = Some("application/json".into());
    assert_eq!(r.validate(&b64), Validation::Valid);
    b64.data = Some(Data::Binary(b"{oops".to_vec().into()));
    let v = violations(r.validate(&b64));
    assert!(v[0].message.contains("not valid JSON"), "{}", v[0].message);

    // JSON text that does not parse (should not get past ingest, but).
    let broken = event(ORDER, Some(Data::Json("{".into())));
    assert!(
        violations(r.validate(&broken))[0]
            .message
            .contains("not valid JSON")
    );
}

#[test]
fn events_without_data_validate_as_null() {
    let r = registry();
    let v = violations(r.validate(&event(ORDER, None)));
    assert_eq!(v[0].keyword, "type");
    r.put("nullable", "1", json!({"type": ["object", "null"]}))
        .unwrap();
    assert_eq!(r.validate(&event("nullable", None)), Validation::Valid);
}

// ---- versions ---------------------------------------------------------------

fn versioned() -> SchemaRegistry {
    let r = SchemaRegistry::new();
    // v1: total must be a number; v2: total must be a string; v10: an integer
    // with an $id.
    r.put(
        ORDER,
        "1",
        json!({"properties": {"total": {"type": "number"}}}),
    )
    .unwrap();
    r.put(
        ORDER,
        "2",
        json!({"properties": {"total": {"type": "string"}}}),
    )
    .unwrap();
    r.put(
        ORDER,
        "10",
        json!({"$id": "https://schemas.example.com/orders/created.json",
               "properties": {"total": {"type": "integer"}}}),
    )
    .unwrap();
    r
}

fn picked(r: &SchemaRegistry, dataschema: Option<&str>) -> String {
    r.select(ORDER, dataschema).unwrap().version
}

#[test]
fn dataschema_selects_the_version() {
    let r = versioned();
    assert_eq!(picked(&r, None), "10", "latest in natural order, not '2'");
    assert_eq!(picked(&r, Some("https://schemas.example.com/order/1")), "1");
    assert_eq!(
        picked(&r, Some("https://schemas.example.com/order/2/")),
        "2"
    );
    assert_eq!(picked(&r, Some("urn:example:order:2")), "2");
    assert_eq!(
        picked(&r, Some("https://x.example/order/1?rev=2#frag")),
        "1"
    );
    assert_eq!(
        picked(&r, Some("https://schemas.example.com/orders/created.json")),
        "10"
    );
    assert_eq!(
        picked(&r, Some("https://schemas.example.com/orders/created.json#")),
        "10"
    );
    assert_eq!(
        picked(&r, Some("https://schemas.example.com/order/7")),
        "10"
    );

    // The selected version is the one that validates.
    let e = json_event(ORDER, json!({"total": "12"}));
    assert!(matches!(r.validate(&e), Validation::Invalid(_)));
    let e2 = with_dataschema(e, "https://schemas.example.com/order/2");
    assert_eq!(r.validate(&e2), Validation::Valid);
    let e1 = with_dataschema(e2, "/schemas/order/1");
    assert_eq!(violations(r.validate(&e1))[0].keyword, "type");
}

#[test]
fn id_match_beats_version_match() {
    let r = SchemaRegistry::new();
    r.put("t", "2", json!({"type": "string"})).unwrap();
    r.put(
        "t",
        "1",
        json!({"$id": "https://s.example/t/2", "type": "number"}),
    )
    .unwrap();
    assert_eq!(
        r.select("t", Some("https://s.example/t/2"))
            .unwrap()
            .version,
        "1"
    );
}

#[test]
fn versions_are_immutable_and_managed() {
    let r = versioned();
    // Same schema again: no-op returning the existing record.
    let again = r
        .put(
            ORDER,
            "1",
            json!({"properties": {"total": {"type": "number"}}}),
        )
        .unwrap();
    assert_eq!(again, r.get(ORDER, "1").unwrap());
    let err = r.put(ORDER, "1", json!({})).unwrap_err();
    assert!(matches!(err, SchemaError::VersionExists { .. }));
    assert!(err.to_string().contains("immutable"), "{err}");

    let listed: Vec<String> = r.versions(ORDER).into_iter().map(|v| v.version).collect();
    assert_eq!(listed, ["1", "2", "10"]);
    assert_eq!(r.list().len(), 3);
    assert_eq!(r.latest(ORDER).unwrap().version, "10");
    assert_eq!(r.delete(ORDER, "10").unwrap().version, "10");
    assert_eq!(r.latest(ORDER).unwrap().version, "2");
    assert!(r.delete(ORDER, "10").is_none());
    assert!(r.delete(ORDER, "1").is_some() && r.delete(ORDER, "2").is_some());
    assert!(!r.has_schema(ORDER));
    assert_eq!(
        r.validate(&json_event(ORDER, json!({}))),
        Validation::NoSchema
    );
    assert!(r.get(ORDER, "1").is_none() && r.latest(ORDER).is_none());
}

#[test]
fn records_round_trip_through_insert() {
    let r = versioned();
    let records = r.list();
    let json = serde_json::to_string(&records).unwrap();
    let back: Vec<SchemaVersion> = serde_json::from_str(&json).unwrap();
    let r2 = SchemaRegistry::new();
    // Order of loading does not matter for "latest".
    for rec in back.into_iter().rev() {
        r2.insert(rec).unwrap();
    }
    assert_eq!(r2.list(), records);
    assert_eq!(r2.latest(ORDER).unwrap().version, "10");
    let key = records[0].storage_key();
    assert_eq!(key, format!("{ORDER}\u{0}1").into_bytes());
}

#[test]
fn bad_names_are_refused() {
    let r = SchemaRegistry::new();
    assert_eq!(r.put("", "1", json!({})), Err(SchemaError::EmptyEventType));
    let long = "9".repeat(65);
    for v in ["", "a/b", "1:2", "x y", "nul\0", long.as_str()] {
        let err = r.put("t", v, json!({})).unwrap_err();
        assert!(
            matches!(err, SchemaError::InvalidVersion { .. }),
            "{v:?}: {err}"
        );
    }
    r.put("t", "2024-01-01_v1.2+b", json!({})).unwrap();
}

// ---- compiling --------------------------------------------------------------

#[test]
fn invalid_schemas_are_refused_with_the_reason() {
    let r = SchemaRegistry::new();
    let err = r
        .put(
            "t",
            "1",
            json!({"properties": {"total": {"minimum": "zero"}}}),
        )
        .unwrap_err();
    let SchemaError::InvalidSchema {
        location, reason, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(location, "/properties/total/minimum");
    assert!(reason.contains("zero"), "{reason}");
    assert!(
        err.to_string().contains("at /properties/total/minimum"),
        "{err}"
    );

    assert!(r.put("t", "1", json!({"type": 12})).is_err());
    assert!(r.put("t", "1", json!(42)).is_err());
    // Remote references are never fetched.
    let err = r
        .put(
            "t",
            "1",
            json!({"$ref": "https://schemas.example.com/other.json"}),
        )
        .unwrap_err();
    assert!(matches!(err, SchemaError::InvalidSchema { .. }), "{err}");
    assert!(r.list().is_empty());
    // Boolean schemas are schemas.
    r.put("t", "1", json!(true)).unwrap();
}

#[test]
fn draft_2020_12_features() {
    let r = SchemaRegistry::new();
    r.put(
        "tuple",
        "1",
        json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}),
    )
    .unwrap();
    assert_eq!(
        r.validate(&json_event("tuple", json!(["a", 1]))),
        Validation::Valid
    );
    let v = violations(r.validate(&json_event("tuple", json!(["a", "b"]))));
    assert_eq!(
        (v[0].pointer.as_str(), v[0].keyword.as_str()),
        ("/1", "type")
    );
    assert!(matches!(
        r.validate(&json_event("tuple", json!(["a", 1, true]))),
        Validation::Invalid(_)
    ));

    r.put(
        "defs",
        "1",
        json!({
            "$defs": {"money": {"type": "object", "properties": {"amount": {"type": "number"}, "currency": {"type": "string", "minLength": 3, "maxLength": 3}}, "required": ["amount", "currency"]}},
            "type": "object",
            "properties": {"total": {"$ref": "#/$defs/money"}}
        }),
    )
    .unwrap();
    assert_eq!(
        r.validate(&json_event(
            "defs",
            json!({"total": {"amount": 1, "currency": "EUR"}})
        )),
        Validation::Valid
    );
    let v = violations(r.validate(&json_event(
        "defs",
        json!({"total": {"amount": 1, "currency": "EURO"}}),
    )));
    assert_eq!(
        (v[0].pointer.as_str(), v[0].keyword.as_str()),
        ("/total/currency", "maxLength")
    );

    r.put(
        "closed",
        "1",
        json!({
            "type": "object",
            "properties": {"id": {"type": "string"}},
            "allOf": [{"properties": {"kind": {"const": "order"}}}],
            "unevaluatedProperties": false
        }),
    )
    .unwrap();
    assert_eq!(
        r.validate(&json_event("closed", json!({"id": "1", "kind": "order"}))),
        Validation::Valid
    );
    let v = violations(r.validate(&json_event(
        "closed",
        json!({"id": "1", "kind": "order", "extra": 1}),
    )));
    assert_eq!(v[0].keyword, "unevaluatedProperties");
    assert!(v[0].message.contains("extra"), "{}", v[0].message);
}

#[test]
fn schema_keyword_selects_older_drafts() {
    let r = SchemaRegistry::new();
    // Draft 7 tuple form: `items` as an array.
    r.put(
        "d7",
        "1",
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]}),
    )
    .unwrap();
    assert!(matches!(
        r.validate(&json_event("d7", json!([1]))),
        Validation::Invalid(_)
    ));
    assert_eq!(
        r.validate(&json_event("d7", json!(["a", 1]))),
        Validation::Valid
    );
}

// ---- policies ---------------------------------------------------------------

#[test]
fn policies_decide() {
    let r = registry();
    let good = json_event(ORDER, json!({"order": 1, "total": 1}));
    let bad = json_event(ORDER, json!({"order": 1}));
    let unknown = json_event("com.example.unknown", json!(1));
    let config = |p| BusSchemaConfig {
        default_policy: p,
        ..BusSchemaConfig::default()
    };

    let off = config(SchemaPolicy::Off);
    for e in [&good, &bad, &unknown] {
        assert_eq!(r.decide(&off, e), Decision::Accept);
    }

    let warn = config(SchemaPolicy::Warn);
    assert_eq!(r.decide(&warn, &good), Decision::Accept);
    assert_eq!(r.decide(&warn, &unknown), Decision::Accept);
    let Decision::AcceptWithWarning(v) = r.decide(&warn, &bad) else {
        panic!()
    };
    assert_eq!(v[0].keyword, "required");

    let enforce = config(SchemaPolicy::Enforce);
    assert_eq!(r.decide(&enforce, &good), Decision::Accept);
    assert_eq!(r.decide(&enforce, &unknown), Decision::Accept);
    let Decision::Reject(v) = r.decide(&enforce, &bad) else {
        panic!()
    };
    assert!(v[0].message.contains("total"), "{}", v[0].message);

    // Per-type policies override the bus default both ways.
    let mut mixed = config(SchemaPolicy::Enforce);
    mixed.per_type.insert(ORDER.into(), SchemaPolicy::Warn);
    assert!(matches!(
        r.decide(&mixed, &bad),
        Decision::AcceptWithWarning(_)
    ));
    let mut mixed = config(SchemaPolicy::Off);
    mixed.per_type.insert(ORDER.into(), SchemaPolicy::Enforce);
    assert!(matches!(r.decide(&mixed, &bad), Decision::Reject(_)));
    assert_eq!(mixed.policy_for("other"), SchemaPolicy::Off);
}

#[test]
fn ingest_checks_events_only_when_a_policy_or_discovery_asks() {
    let mut c = BusSchemaConfig::default();
    assert!(
        !c.validates() && !c.checks_events(),
        "the default checks nothing"
    );
    c.per_type.insert(ORDER.into(), SchemaPolicy::Off);
    assert!(!c.checks_events(), "an explicit off is still nothing");
    c.discovery = true;
    assert!(
        !c.validates() && c.checks_events(),
        "discovery reads every event"
    );
    c.discovery = false;
    c.per_type.insert(ORDER.into(), SchemaPolicy::Warn);
    assert!(c.validates() && c.checks_events(), "one type's policy");
    let c = BusSchemaConfig {
        default_policy: SchemaPolicy::Enforce,
        ..BusSchemaConfig::default()
    };
    assert!(c.validates() && c.checks_events(), "the bus default");
}

#[test]
fn config_serde() {
    let c: BusSchemaConfig = serde_json::from_value(json!({
        "default_policy": "warn",
        "per_type": {"a": "enforce", "b": "off"}
    }))
    .unwrap();
    assert_eq!(c.default_policy, SchemaPolicy::Warn);
    assert_eq!(c.policy_for("a"), SchemaPolicy::Enforce);
    assert!(!c.discovery);
    assert_eq!(
        serde_json::to_value(&c).unwrap()["per_type"]["b"],
        json!("off")
    );
    assert_eq!(
        serde_json::from_value::<BusSchemaConfig>(json!({})).unwrap(),
        BusSchemaConfig::default()
    );
    let err = serde_json::from_value::<BusSchemaConfig>(json!({"default_policy": "strict"}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("strict"), "{err}");
    assert!(serde_json::from_value::<BusSchemaConfig>(json!({"policy": "warn"})).is_err());
}

#[test]
fn registry_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<SchemaRegistry>();
    check::<SchemaInference>();
}

// ---- inference --------------------------------------------------------------

fn infer(samples: &[Value]) -> Value {
    let inf = SchemaInference::new();
    for s in samples {
        assert!(inf.observe(&json_event("t", s.clone())));
    }
    let schema = inf.propose("t").unwrap();
    // Every proposal compiles and accepts every sample it was made from.
    let r = SchemaRegistry::new();
    r.put("t", "1", schema.clone())
        .unwrap_or_else(|e| panic!("{e}\n{schema:#}"));
    for s in samples {
        assert_eq!(
            r.validate(&json_event("t", s.clone())),
            Validation::Valid,
            "{s} against {schema:#}"
        );
    }
    schema
}

#[test]
fn inference_types_required_and_nesting() {
    let schema = infer(&[
        json!({"id": 1, "total": 10, "note": "a", "customer": {"name": "x", "vip": true}, "tags": ["a"]}),
        json!({"id": 2, "total": 10.5, "customer": {"name": "y"}, "tags": [], "gift": null}),
        json!({"id": 3, "total": 7, "note": null, "customer": {"name": "z", "vip": false}, "tags": ["b", "c"]}),
    ]);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["x-signalbox-samples"], 3);
    assert_eq!(schema["type"], "object");
    assert_eq!(
        schema["required"],
        json!(["customer", "id", "tags", "total"])
    );
    let p = &schema["properties"];
    assert_eq!(p["id"], json!({"type": "integer"}));
    assert_eq!(
        p["total"],
        json!({"type": "number"}),
        "integer and number merge to number"
    );
    assert_eq!(p["note"], json!({"type": ["string", "null"]}));
    assert_eq!(p["gift"], json!({"type": "null"}));
    assert_eq!(
        p["customer"],
        json!({"type": "object", "required": ["name"],
               "properties": {"name": {"type": "string"}, "vip": {"type": "boolean"}}})
    );
    assert_eq!(
        p["tags"],
        json!({"type": "array", "items": {"type": "string"}})
    );
    // No enums, no bounds.
    let text = schema.to_string();
    for keyword in ["enum", "const", "minimum", "maxLength"] {
        assert!(!text.contains(keyword), "{keyword} in {text}");
    }
}

#[test]
fn inference_merges_array_items() {
    let schema = infer(&[
        json!({"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2, "gift": true}]}),
        json!({"items": [{"sku": "c", "qty": 1.5}, 3]}),
        json!({"items": []}),
    ]);
    let items = &schema["properties"]["items"];
    assert_eq!(items["type"], "array");
    assert_eq!(items["items"]["type"], json!(["object", "integer"]));
    assert_eq!(items["items"]["required"], json!(["qty", "sku"]));
    assert_eq!(items["items"]["properties"]["qty"]["type"], "number");
    assert_eq!(items["items"]["properties"]["gift"]["type"], "boolean");
    // Arrays only ever seen empty get no `items`.
    let schema = infer(&[json!({"a": []}), json!({"a": []})]);
    assert_eq!(schema["properties"]["a"], json!({"type": "array"}));
}

#[test]
fn inference_detects_string_formats() {
    let schema = infer(&[
        json!({"at": "2024-05-01T12:00:00Z", "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
               "mail": "ada@example.com", "link": "https://example.com/a?b=c",
               "urn": "urn:isbn:0451450523", "mixed": "2024-05-01T12:00:00Z", "word": "hello",
               "key": "order:123", "local": "root@localhost"}),
        json!({"at": "2024-05-02T08:30:00.123+02:00", "id": "6FA459EA-EE8A-3CA4-894E-DB77E160355E",
               "mail": "bob@mail.example.org", "link": "http://localhost:8080/",
               "urn": "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "mixed": "soon", "word": "x",
               "key": "user:7", "local": "root@localhost"}),
    ]);
    let p = &schema["properties"];
    let format = |name: &str| p[name].get("format").cloned();
    assert_eq!(format("at"), Some(json!("date-time")));
    assert_eq!(format("id"), Some(json!("uuid")));
    assert_eq!(format("mail"), Some(json!("email")));
    assert_eq!(format("link"), Some(json!("uri")));
    assert_eq!(format("urn"), Some(json!("uri")));
    assert_eq!(format("mixed"), None, "one sample is not a date-time");
    assert_eq!(format("word"), None);
    assert_eq!(format("key"), None, "'a:b' is not taken for a URI");
    assert_eq!(format("local"), None, "emails need a dotted domain");
}

#[test]
fn inference_of_non_object_roots_and_missing_data() {
    let inf = SchemaInference::new();
    assert!(inf.observe(&json_event("t", json!([1, 2]))));
    assert!(inf.observe(&event("t", None)));
    assert!(!inf.observe(&event("t", Some(Data::Text("hi".into())))));
    assert!(!inf.observe(&event("t", Some(Data::Json("{".into())))));
    let schema = inf.propose("t").unwrap();
    assert_eq!(schema["type"], json!(["array", "null"]));
    assert_eq!(schema["x-signalbox-samples"], 2);
    assert!(inf.propose("other").is_none());
    assert_eq!(inf.types(), [("t".to_owned(), 2)]);
    assert!(inf.forget("t"));
    assert!(inf.propose("t").is_none());
}

#[test]
fn inference_memory_is_bounded() {
    let inf = SchemaInference::with_limits(InferenceLimits {
        max_types: 2,
        max_nodes_per_type: 10,
        max_properties: 3,
        max_depth: 2,
        max_name_len: 8,
    });
    assert!(inf.observe_value("a", &json!({})));
    assert!(inf.observe_value("b", &json!({})));
    assert!(!inf.observe_value("c", &json!({})), "type limit");
    assert!(
        inf.observe_value("a", &json!({})),
        "known types still count"
    );

    // Properties per object.
    inf.observe_value(
        "a",
        &json!({"p1": 1, "p2": 1, "p3": 1, "p4": 1, "a_very_long_name": 1}),
    );
    let s = inf.propose("a").unwrap();
    assert_eq!(s["properties"].as_object().unwrap().len(), 3);
    assert_eq!(s["x-signalbox-truncated"], true);

    // Depth: data is depth 0; objects at depth 2 get their type only.
    inf.observe_value("b", &json!({"l1": {"l2": {"l3": {"l4": 1}}, "arr": [[1]]}}));
    let s = inf.propose("b").unwrap();
    let l2 = &s["properties"]["l1"]["properties"]["l2"];
    assert_eq!(l2["type"], "object");
    assert!(l2.get("properties").is_none());
    let arr = &s["properties"]["l1"]["properties"]["arr"];
    assert_eq!(arr, &json!({"type": "array"}));

    // Locations per type.
    let wide = SchemaInference::with_limits(InferenceLimits {
        max_nodes_per_type: 5,
        ..InferenceLimits::default()
    });
    let mut doc = serde_json::Map::new();
    for i in 0..20 {
        doc.insert(format!("k{i:02}"), json!({"x": i}));
    }
    wide.observe_value("w", &Value::Object(doc.clone()));
    let s = wide.propose("w").unwrap();
    let described: usize = s["properties"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| {
            1 + p
                .get("properties")
                .map_or(0, |q| q.as_object().unwrap().len())
        })
        .sum();
    assert_eq!(described, 5);
    // The truncated proposal still accepts the document.
    let r = SchemaRegistry::new();
    r.put("w", "1", s).unwrap();
    assert_eq!(
        r.validate(&json_event("w", Value::Object(doc))),
        Validation::Valid
    );
}

#[test]
fn inference_of_large_integers_and_floats() {
    let schema = infer(&[
        json!({"big": u64::MAX, "neg": -5, "f": 1.0, "e": 1e3}),
        json!({"big": 0, "neg": i64::MIN, "f": 2.5, "e": 7}),
    ]);
    let p = &schema["properties"];
    assert_eq!(p["big"]["type"], "integer");
    assert_eq!(p["neg"]["type"], "integer");
    assert_eq!(p["f"]["type"], "number", "1.0 is written as a number");
    assert_eq!(p["e"]["type"], "number");
}
