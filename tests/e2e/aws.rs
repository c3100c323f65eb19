//! The AWS front, driven by the real AWS clients: boto3 and the aws CLI v1
//! from `tests/.venv` (installed by `scripts/ensure-deps` from the pinned
//! `tests/requirements.txt`), through `tests/aws/drive.py`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::*;

/// The repository's `tests` folder.
fn tests_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests"))
}

/// A program of `tests/.venv`; its absence fails the test (it is part of
/// the test setup: `scripts/ensure-deps` installs it).
fn venv_bin(name: &str) -> PathBuf {
    let p = tests_dir().join(".venv/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/ensure-deps (it installs tests/requirements.txt into tests/.venv)",
        p.display()
    );
    p
}

/// Environment for AWS clients: these credentials and region, and no
/// configuration from the user's home.
fn aws_env(cmd: &mut Command, key: &str, secret: &str, region: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE");
}

/// Runs `drive.py COMMAND` with `env` and `stdin`; returns its JSON.
async fn drive(s: &Server, command: &str, env: Vec<(&str, String)>, stdin: Option<Value>) -> Value {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(tests_dir().join("aws/drive.py"))
        .arg(command)
        .env("SIGNALBOX_URL", &s.base)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    aws_env(&mut cmd, "123456789012", "dummy-secret", "eu-west-1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let input = stdin.map(|v| v.to_string()).unwrap_or_default();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = cmd.spawn().expect("start python");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "drive.py {command} failed:\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Runs the aws CLI; returns (exit code, stdout, stderr).
async fn aws_cli(s: &Server, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(venv_bin("aws"));
    cmd.args(args)
        .args(["--endpoint-url", &s.base, "--output", "json"]);
    aws_env(&mut cmd, "123456789012", "dummy-secret", "eu-west-1");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A config whose AWS key lives in `dir` (not in the user's home).
fn aws_config(dir: &std::path::Path, extra: &str) -> String {
    format!(
        "[aws]\nkey_file = \"{}\"\n{extra}",
        dir.join("aws.key").display()
    )
}

/// An OAuth token endpoint: answers every request with a token and
/// records what it got.
struct TokenEndpoint {
    url: String,
    got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
}

async fn token_endpoint() -> TokenEndpoint {
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push((headers, body));
                axum::Json(
                    json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TokenEndpoint { url, got }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn boto3_and_the_cli_run_a_bus_rules_and_api_destinations() {
    let keys = tempfile::tempdir().unwrap();
    let s = Server::start_with_config(&aws_config(keys.path(), ""));
    let receiver = Receiver::start().await;
    let tokens = token_endpoint().await;
    let out = drive(
        &s,
        "flow",
        vec![
            ("RECEIVER_URL", receiver.url.clone()),
            ("TOKEN_URL", tokens.url.clone()),
        ],
        None,
    )
    .await;

    // What boto3 got back.
    assert_eq!(
        out["orders"]["EventBusArn"],
        "arn:aws:events:eu-west-1:123456789012:event-bus/orders"
    );
    let buses: Vec<&str> = out["buses"]["EventBuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["Name"].as_str().unwrap())
        .collect();
    assert_eq!(buses, ["audit", "default", "orders"]);
    assert_eq!(
        out["connection"]["AuthParameters"]["ApiKeyAuthParameters"],
        json!({"ApiKeyName": "x-api-key"}),
        "secrets are never shown back"
    );
    assert_eq!(out["connection"]["ConnectionState"], "AUTHORIZED");
    assert_eq!(
        out["destinations"]["ApiDestinations"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        out["rule"]["RuleArn"],
        "arn:aws:events:eu-west-1:123456789012:rule/orders/OrderPlaced"
    );
    // The SQS target fails alone; the other four are in.
    assert_eq!(out["targets"]["FailedEntryCount"], 1);
    assert_eq!(out["targets"]["FailedEntries"][0]["TargetId"], "queue");
    assert_eq!(
        out["targets"]["FailedEntries"][0]["ErrorCode"],
        "ValidationException"
    );
    let listed = out["listed_targets"]["Targets"].as_array().unwrap();
    let ids: Vec<&str> = listed.iter().map(|t| t["Id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["Basic", "Key", "audit", "oauth"]);
    let basic_target = &listed[0];
    assert_eq!(
        basic_target["InputTransformer"]["InputPathsMap"]["order"],
        "$.detail.orderId"
    );
    assert_eq!(basic_target["RetryPolicy"]["MaximumRetryAttempts"], 3);
    assert_eq!(out["described_rule"]["Name"], "OrderPlaced");
    assert_eq!(out["described_rule"]["State"], "ENABLED");
    assert_eq!(out["described_rule"]["EventBusName"], "orders");
    assert_eq!(out["described_rule"]["CreatedBy"], "123456789012");
    let pattern: Value =
        serde_json::from_str(out["described_rule"]["EventPattern"].as_str().unwrap()).unwrap();
    assert_eq!(pattern["detail-type"], json!(["Order Placed"]));
    assert_eq!(out["rules"]["Rules"].as_array().unwrap().len(), 1);
    assert_eq!(out["by_target"]["RuleNames"], json!(["OrderPlaced"]));

    // PutEvents: two stored, the entry without Detail refused alone.
    let put = &out["put"];
    assert_eq!(put["FailedEntryCount"], 1, "{put}");
    let event_id = put["Entries"][0]["EventId"].as_str().unwrap().to_owned();
    assert!(put["Entries"][1]["EventId"].is_string());
    assert_eq!(put["Entries"][2]["ErrorCode"], "InvalidArgument");

    // The stored event is a CloudEvent, visible through /v1.
    let stored = all_events(&s, "orders").await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    let e = &stored[0];
    assert_eq!(e["id"], event_id);
    assert_eq!(e["type"], "Order Placed");
    assert_eq!(e["source"], "com.example.orders");
    assert_eq!(e["time"], "2026-03-01T12:00:00Z");
    assert_eq!(e["datacontenttype"], "application/json");
    assert_eq!(e["data"]["note"], "grüße ✓");
    assert_eq!(e["awsaccount"], "123456789012");
    assert_eq!(e["awsregion"], "eu-west-1");
    assert_eq!(e["awsresources"], r#"["arn:aws:s3:::bucket"]"#);

    // Only the event with amount > 10 matched: each API destination got
    // it once, and once more from the replay.
    let got = receiver.wait_for(6, 30).await;
    let at = |path: &str, replayed: bool| {
        got.iter()
            .filter(|r| r.path == path)
            .find(|r| r.body.windows(11).any(|w| w == b"replay-name") == replayed)
            .unwrap_or_else(|| panic!("nothing at {path} (replayed: {replayed}): {got:?}"))
            .clone()
    };
    // API key destination: the EventBridge envelope, with the key and the
    // connection's header.
    let key = at("/apikey", false);
    assert_eq!(key.header("x-api-key").as_deref(), Some("key-123"));
    assert_eq!(key.header("x-tenant").as_deref(), Some("acme"));
    assert_eq!(
        key.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(key.headers.keys().all(|h| !h.as_str().starts_with("ce-")));
    let envelope = key.json();
    assert_eq!(
        envelope,
        json!({
            "version": "0",
            "id": event_id,
            "detail-type": "Order Placed",
            "source": "com.example.orders",
            "account": "123456789012",
            "time": "2026-03-01T12:00:00Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:s3:::bucket"],
            "detail": {"orderId": "o-1", "amount": 42, "note": "grüße ✓"},
        })
    );
    // Basic auth destination: path parameter, query, header, and the
    // input transformer's body.
    let b = at("/basic/o%201/items", false);
    assert_eq!(b.header("authorization"), Some(basic("ann", "s3cret")));
    assert_eq!(b.header("x-extra").as_deref(), Some("yes"));
    assert_eq!(
        b.json(),
        json!({"order": "o-1", "amount": 42, "text": "Order o-1 by OrderPlaced"})
    );
    // OAuth destination: the token from the token endpoint, and the
    // detail alone (InputPath).
    let o = at("/oauth", false);
    assert_eq!(o.header("authorization").as_deref(), Some("Bearer tok-1"));
    assert_eq!(
        o.json(),
        json!({"orderId": "o-1", "amount": 42, "note": "grüße ✓"})
    );
    let token_calls = tokens.got.lock().unwrap().clone();
    assert!(!token_calls.is_empty());
    let (headers, body) = &token_calls[0];
    assert_eq!(
        headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(basic("client-1", "client-secret").as_str())
    );
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    assert!(body.contains("scope=events"), "{body}");
    // The replay sent the same event again, marked.
    let replayed = at("/apikey", true).json();
    assert_eq!(replayed["id"], event_id);
    assert_eq!(replayed["replay-name"], json!(format!("rp-1")));
    assert_eq!(out["replay"]["State"], "STARTING");
    assert_eq!(
        out["replay_done"]["State"], "COMPLETED",
        "{}",
        out["replay_done"]
    );
    assert_eq!(out["replays"]["Replays"][0]["ReplayName"], "again");
    assert_eq!(out["cancel_finished"]["code"], "IllegalStatusException");
    assert_eq!(out["archive"]["RetentionDays"], 30);
    let (_, bus) = get(&s, "/v1/buses/orders").await;
    assert_eq!(
        bus["retention"], "30d",
        "the archive extended the retention"
    );

    // The event bus target forwarded the event itself.
    wait_until(30, async || all_events(&s, "audit").await.len() >= 2).await;
    let forwarded = all_events(&s, "audit").await;
    assert_eq!(forwarded[0]["id"], event_id);
    assert_eq!(forwarded[0]["type"], "Order Placed");

    // A rule made through /v1 on the same bus gets CloudEvents, as always.
    let cloud = Receiver::start().await;
    let (st, v) = put_json(
        &s,
        "/v1/buses/orders/rules/cloudevents",
        &json!({
            "pattern": {"type": ["Order Placed"], "data": {"amount": [{"numeric": [">", 100]}]}},
            "targets": [{"id": "r", "type": "http", "url": cloud.url}]
        }),
    )
    .await;
    assert_eq!(st, 201, "{v}");

    // The aws CLI: put an event, list rules, and an error it reports.
    let entries = json!([{
        "Source": "com.example.orders", "DetailType": "Order Placed",
        "Detail": "{\"orderId\": \"o-3\", \"amount\": 500}",
        "Resources": ["arn:aws:s3:::bucket"], "EventBusName": "orders"
    }])
    .to_string();
    let (code, stdout, stderr) =
        aws_cli(&s, &["events", "put-events", "--entries", &entries]).await;
    assert_eq!(code, 0, "{stderr}");
    let cli_put: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(cli_put["FailedEntryCount"], 0);
    let cli_id = cli_put["Entries"][0]["EventId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, stdout, stderr) =
        aws_cli(&s, &["events", "list-rules", "--event-bus-name", "orders"]).await;
    assert_eq!(code, 0, "{stderr}");
    let names: Vec<String> = serde_json::from_str::<Value>(&stdout).unwrap()["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["OrderPlaced", "cloudevents"]);
    let (code, _, stderr) = aws_cli(
        &s,
        &[
            "events",
            "describe-rule",
            "--name",
            "nope",
            "--event-bus-name",
            "orders",
        ],
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("(ResourceNotFoundException)")
            && stderr.contains("Rule nope does not exist on EventBus orders."),
        "{stderr}"
    );
    let from_cli = cloud.wait_for(1, 30).await;
    assert_eq!(
        from_cli[0].header("ce-id").as_deref(),
        Some(cli_id.as_str())
    );
    assert_eq!(
        from_cli[0].header("ce-type").as_deref(),
        Some("Order%20Placed")
    );
    assert_eq!(
        from_cli[0].header("ce-awsaccount").as_deref(),
        Some("123456789012")
    );
    assert_eq!(from_cli[0].json()["orderId"], "o-3");
    let all = receiver.wait_for(9, 30).await;
    assert!(
        all.iter()
            .any(|r| r.path == "/apikey" && r.json()["id"] == json!(cli_id)),
        "the CLI's event reached the API destination too"
    );
}

#[tokio::test]
async fn test_event_pattern_agrees_with_v1_test_pattern() {
    let s = Server::start();
    let event = json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
        "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "count": 3,
                   "tags": [{"k": "env", "v": "prod"}, {"k": "team", "v": "a"}], "ip": "10.0.0.7"}
    });
    let patterns = [
        json!({"source": ["aws.ec2"]}),
        json!({"source": ["aws.s3"]}),
        json!({"detail-type": [{"prefix": "EC2 Instance"}]}),
        json!({"detail": {"state": [{"anything-but": ["STOPPED", "TERMINATED"]}]}}),
        json!({"detail": {"count": [{"numeric": [">", 2, "<=", 3]}]}}),
        json!({"detail": {"count": [{"numeric": [">", 3]}]}}),
        json!({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}),
        json!({"detail": {"tags": {"k": ["env"], "v": ["prod"]}}}),
        json!({"detail": {"tags": {"k": ["env"], "v": ["a"]}}}),
        json!({"resources": [{"wildcard": "arn:aws:ec2:*:instance/*"}]}),
        json!({"detail": {"missing": [{"exists": false}]}, "account": ["123456789012"]}),
        json!({"$or": [{"region": ["eu-west-1"]}, {"detail": {"state": ["RUNNING"]}}]}),
        json!({"detail": {"state": [{"equals-ignore-case": "running"}]}}),
        json!({"source": [{"suffix": ".ec2"}], "time": [{"prefix": "2015-11-11"}]}),
        // Invalid patterns: both refuse them.
        json!({"source": "aws.ec2"}),
        json!({"source": [{"numbr": [">", 1]}]}),
        json!({"source": []}),
    ];
    let cases: Vec<Value> = patterns
        .iter()
        .map(|p| json!({"pattern": p, "event": event}))
        .collect();
    let aws = drive(&s, "patterns", vec![], Some(json!(cases))).await;
    let mut matched = 0;
    for (i, p) in patterns.iter().enumerate() {
        let r = client()
            .post(s.url("/v1/test-pattern"))
            .json(&json!({"pattern": p, "json": event}))
            .send()
            .await
            .unwrap();
        let (status, v) = status_json(r).await;
        let answer = &aws[i];
        if status == 200 {
            assert_eq!(answer["result"], v["matches"], "{p}");
            matched += usize::from(v["matches"] == true);
        } else {
            assert_eq!(status, 400, "{p}: {v}");
            assert_eq!(answer["error"], "InvalidEventPatternException", "{p}");
        }
    }
    assert_eq!(matched, 11, "{aws}");
}

/// `ScheduleExpression` on a rule: EventBridge's `Scheduled Event`s reach
/// the rule's API destination in the AWS envelope, one per second, and stop
/// when the rule is disabled; deleting the rule deletes its schedule.
#[tokio::test]
async fn a_scheduled_rule_fires_scheduled_events() {
    let keys = tempfile::tempdir().unwrap();
    let s = Server::start_with_config(&aws_config(keys.path(), ""));
    let receiver = Receiver::start().await;
    let phase = |p: &str| {
        vec![
            ("PHASE", p.to_owned()),
            ("RECEIVER_URL", receiver.url.clone()),
        ]
    };
    let out = drive(&s, "schedule", phase("put"), None).await;
    let arn = out["rule"]["RuleArn"].as_str().unwrap().to_owned();
    assert_eq!(
        arn,
        "arn:aws:events:eu-west-1:123456789012:rule/EverySecond"
    );
    assert_eq!(out["described"]["ScheduleExpression"], "rate(1 second)");
    assert!(out["described"].get("EventPattern").is_none(), "{out}");
    assert_eq!(
        out["listed"]["Rules"][0]["ScheduleExpression"],
        "rate(1 second)"
    );

    let got = receiver.wait_for(3, 30).await;
    let mut times = Vec::new();
    for r in &got[..3] {
        let e = r.json();
        assert_eq!(e["detail-type"], "Scheduled Event", "{e}");
        assert_eq!(e["source"], "aws.events", "{e}");
        assert_eq!(e["account"], "123456789012", "{e}");
        assert_eq!(e["region"], "eu-west-1", "{e}");
        assert_eq!(e["resources"], json!([arn]), "{e}");
        assert_eq!(e["detail"], json!({}), "{e}");
        times.push(e["time"].as_str().unwrap().to_owned());
    }
    times.dedup();
    assert_eq!(times.len(), 3, "one event per firing: {times:?}");

    // The firings are events of the default bus like any other.
    let stored = all_events(&s, "default").await;
    assert!(
        stored.iter().any(|e| e["type"] == "Scheduled Event"),
        "{stored:?}"
    );

    let out = drive(&s, "schedule", phase("disable"), None).await;
    assert_eq!(out["disabled"]["State"], "DISABLED");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let settled = receiver.received().len();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        receiver.received().len(),
        settled,
        "a disabled scheduled rule fired"
    );

    let out = drive(&s, "schedule", phase("delete"), None).await;
    assert_eq!(out["deleted"]["code"], "ResourceNotFoundException", "{out}");
    let (_, sources) = get(&s, "/v1/buses/default/sources").await;
    assert_eq!(
        sources["sources"],
        json!([]),
        "the rule's schedule outlived it"
    );
}

#[tokio::test]
async fn every_error_comes_back_as_the_client_raises_it() {
    let s = Server::start();
    let out = drive(&s, "errors", vec![], None).await;
    let expect = |case: &str, code: &str, status: u64| {
        let e = &out[case];
        assert_eq!(e["code"], code, "{case}: {e}");
        assert_eq!(e["status"], status, "{case}: {e}");
        let id = e["request_id"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 36, "{case}: request id {id}");
    };
    for (case, code) in [
        ("bus_exists", "ResourceAlreadyExistsException"),
        ("bad_bus_name", "ValidationException"),
        ("no_bus", "ResourceNotFoundException"),
        ("delete_default", "ValidationException"),
        ("no_rule", "ResourceNotFoundException"),
        ("rule_no_bus", "ResourceNotFoundException"),
        ("bad_pattern", "InvalidEventPatternException"),
        ("bad_operator", "InvalidEventPatternException"),
        ("schedule_bus", "ValidationException"),
        ("bad_schedule", "ValidationException"),
        ("no_pattern", "ValidationException"),
        ("bad_rule_name", "ValidationException"),
        ("bad_state", "ValidationException"),
        ("delete_with_targets", "ValidationException"),
        ("targets_no_rule", "ResourceNotFoundException"),
        ("two_inputs", "ValidationException"),
        ("bad_placeholder", "ValidationException"),
        ("eleven", "ValidationException"),
        ("too_big", "ValidationException"),
        ("bad_test_event", "ValidationException"),
        ("bad_test_pattern", "InvalidEventPatternException"),
        ("connection_exists", "ResourceAlreadyExistsException"),
        ("connection_mismatch", "ValidationException"),
        ("no_connection", "ResourceNotFoundException"),
        ("destination_no_connection", "ResourceNotFoundException"),
        ("no_archive", "ResourceNotFoundException"),
        ("no_replay", "ResourceNotFoundException"),
        ("unimplemented", "UnknownOperationException"),
        ("unimplemented_permission", "UnknownOperationException"),
    ] {
        expect(case, code, 400);
    }
    assert!(
        out["schedule_bus"]["message"]
            .as_str()
            .unwrap()
            .contains("only on the default event bus"),
        "{}",
        out["schedule_bus"]
    );
    assert!(
        out["bad_schedule"]["message"]
            .as_str()
            .unwrap()
            .contains("ScheduleExpression is not valid"),
        "{}",
        out["bad_schedule"]
    );
    assert!(
        out["bad_state"]["message"]
            .as_str()
            .unwrap()
            .contains("Member must satisfy enum value set"),
        "{}",
        out["bad_state"]
    );
    assert_eq!(
        out["too_big"]["message"],
        "Total size of the entries in the request is over the limit."
    );
    let failed = &out["failed_targets"];
    assert_eq!(failed["FailedEntryCount"], 2, "{failed}");
    assert_eq!(
        failed["FailedEntries"][0]["ErrorCode"],
        "ValidationException"
    );
    assert_eq!(
        failed["FailedEntries"][1]["ErrorCode"],
        "ResourceNotFoundException"
    );
    // PutEvents: one result per entry, in order.
    let entries = &out["entries"];
    assert_eq!(entries["FailedEntryCount"], 7, "{entries}");
    let codes: Vec<Value> = entries["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.get("ErrorCode").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        codes,
        [
            Value::Null,
            json!("InvalidArgument"),
            json!("InvalidArgument"),
            json!("InvalidArgument"),
            json!("MalformedDetail"),
            json!("MalformedDetail"),
            json!("InvalidArgument"),
            json!("InvalidArgument"),
        ]
    );
    assert_eq!(
        entries["Entries"][1]["ErrorMessage"],
        "Parameter Source is not valid. Reason: Source is a required argument."
    );
    assert_eq!(
        entries["Entries"][6]["ErrorMessage"],
        "Event bus nope does not exist."
    );

    // What no SDK would send: an unknown target, a missing one, broken JSON.
    let c = client();
    for (target, body, code) in [
        ("AWSEvents.Frobnicate", "{}", "UnknownOperationException"),
        ("", "{}", "UnknownOperationException"),
        (
            "AWSEvents.ListRules",
            "{\"Limit\":",
            "SerializationException",
        ),
        (
            "AWSEvents.ListRules",
            "{\"Limit\": \"ten\"}",
            "SerializationException",
        ),
    ] {
        let mut req = c
            .post(s.url("/"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(body);
        if !target.is_empty() {
            req = req.header("x-amz-target", target);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 400, "{target}");
        assert_eq!(r.headers()["x-amzn-errortype"], code);
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.1");
        assert!(r.headers().contains_key("x-amzn-requestid"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["__type"], code, "{target}: {v}");
        assert!(v["message"].is_string());
    }
}

#[tokio::test]
async fn sigv4_keys_act_with_their_tokens_scopes_when_tokens_are_enforced() {
    const ADMIN: &str = "sbx_000000000000_adminsecretadminsecretadminsecretadmin00";
    let keys = tempfile::tempdir().unwrap();
    let hash = signalbox::auth::hash_secret(ADMIN);
    let s = Server::start_with_config(&aws_config(
        keys.path(),
        &format!("[[auth.tokens]]\nname = \"ops\"\nscopes = [\"admin\"]\nhash = \"{hash}\"\n"),
    ));
    let c = client();
    let mut creds = Vec::new();
    for (name, scope) in [("aws-admin", "admin"), ("aws-reader", "read:*")] {
        let r = c
            .post(s.url("/v1/tokens"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": name, "scopes": [scope], "aws": true}))
            .send()
            .await
            .unwrap();
        let (st, v) = status_json(r).await;
        assert_eq!(st, 201, "{v}");
        let key = v["aws"]["access_key_id"].as_str().unwrap().to_owned();
        let secret = v["aws"]["secret_access_key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("SBXA") && key.len() == 20, "{key}");
        // The secret is nowhere in the data folder.
        creds.push((key, secret, v["token"]["id"].as_str().unwrap().to_owned()));
    }
    let out = drive(
        &s,
        "auth",
        vec![
            ("GOOD_KEY", creds[0].0.clone()),
            ("GOOD_SECRET", creds[0].1.clone()),
            ("READ_KEY", creds[1].0.clone()),
            ("READ_SECRET", creds[1].1.clone()),
        ],
        None,
    )
    .await;
    assert_eq!(out["good_put"]["FailedEntryCount"], 0, "{out}");
    assert!(out["good_rule"]["RuleArn"].is_string());
    assert!(
        !out["good_buses"]["EventBuses"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        out["wrong_secret"]["code"], "InvalidSignatureException",
        "{out}"
    );
    assert_eq!(out["unknown_key"]["code"], "UnrecognizedClientException");
    assert_eq!(
        out["unsigned"]["code"],
        "MissingAuthenticationTokenException"
    );
    assert_eq!(out["unsigned"]["status"], 403);
    assert_eq!(out["read_describe"]["Name"], "default");
    assert_eq!(out["read_put"]["code"], "AccessDeniedException", "{out}");
    assert_eq!(out["read_rule"]["code"], "AccessDeniedException");
    assert_eq!(out["read_test_pattern"]["Result"], true);
    // The signed PutEvents landed like any event.
    let (st, events) = status_json(
        c.get(s.url("/v1/buses/default/events"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(events["events"].as_array().unwrap().len(), 1);

    // Secrets are derived, not stored: no secret in the data folder.
    for (_, secret, _) in &creds {
        assert!(
            !grep_dir(s.data_dir(), secret.as_bytes()),
            "a secret is stored"
        );
    }
    // Deleting a key stops it; so does revoking its token.
    let check = async |key: &str, secret: &str| {
        drive(
            &s,
            "check",
            vec![("KEY", key.to_owned()), ("SECRET", secret.to_owned())],
            None,
        )
        .await["error"]
            .clone()
    };
    let (key, secret, token) = &creds[0];
    assert_eq!(check(key, secret).await, Value::Null);
    let r = c
        .delete(s.url(&format!("/v1/tokens/{token}/aws-keys/{key}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        check(key, secret).await["code"],
        "UnrecognizedClientException"
    );
    let (key, secret, token) = &creds[1];
    assert_eq!(check(key, secret).await, Value::Null);
    let r = c
        .delete(s.url(&format!("/v1/tokens/{token}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        check(key, secret).await["code"],
        "UnrecognizedClientException"
    );
}

/// Whether any file under `dir` contains `needle`.
fn grep_dir(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if grep_dir(&p, needle) {
                return true;
            }
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            return true;
        }
    }
    false
}
