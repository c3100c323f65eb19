use serde_json::json;

use super::super::protocol::{ErrorCode, parse_input};
use super::*;

#[test]
fn timestamps_read_numbers_and_rfc3339() {
    let t: Timestamp = serde_json::from_str("1772366400").unwrap();
    assert_eq!(t.millis(), 1_772_366_400_000);
    let t: Timestamp = serde_json::from_str("1772366400.123").unwrap();
    assert_eq!(t.millis(), 1_772_366_400_123);
    let t: Timestamp = serde_json::from_str(r#""2026-03-01T12:00:00Z""#).unwrap();
    assert_eq!(t.secs(), 1_772_366_400);
    let t: Timestamp = serde_json::from_str(r#""2026-03-01T14:00:00.5+02:00""#).unwrap();
    assert_eq!(t.millis(), 1_772_366_400_500);
    let t: Timestamp = serde_json::from_str(r#""1772366400""#).unwrap();
    assert_eq!(t.secs(), 1_772_366_400);
    for bad in [
        r#""yesterday""#,
        "1e300",
        "-1e300",
        "true",
        r#""2026-02-30T00:00:00Z""#,
    ] {
        assert!(serde_json::from_str::<Timestamp>(bad).is_err(), "{bad}");
    }
    assert_eq!(Timestamp::from_secs(i64::MAX), None);
    assert_eq!(Timestamp::from_secs_f64(f64::NAN), None);

    // Whole seconds are written as integers, anything finer as a fraction.
    assert_eq!(
        serde_json::to_string(&Timestamp::from_secs(1_772_366_400).unwrap()).unwrap(),
        "1772366400"
    );
    assert_eq!(
        serde_json::to_string(&Timestamp::from_millis(1_772_366_400_123).unwrap()).unwrap(),
        "1772366400.123"
    );
    let t = Timestamp::from_millis(1_447_277_394_007).unwrap();
    assert_eq!(t.to_rfc3339_secs(), "2015-11-11T21:29:54Z");
    assert_eq!(t.to_rfc3339_millis(), "2015-11-11T21:29:54.007Z");
    let t = Timestamp::from_millis(-1).unwrap();
    assert_eq!(t.to_rfc3339_millis(), "1969-12-31T23:59:59.999Z");
}

#[test]
fn put_events_time_as_number_or_string() {
    let req: PutEventsRequest =
        parse_input(br#"{"Entries":[{"Time":1772366400.5},{"Time":"2026-03-01T12:00:00Z"},{}]}"#)
            .unwrap();
    assert_eq!(req.entries[0].time.unwrap().millis(), 1_772_366_400_500);
    assert_eq!(req.entries[1].time.unwrap().secs(), 1_772_366_400);
    assert_eq!(req.entries[2].time, None);
    let e = parse_input::<PutEventsRequest>(br#"{"Entries":[{"Time":"soon"}]}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::SerializationException);
    assert!(e.message.contains("entries.1.member.time"), "{}", e.message);
}

#[test]
fn sensitive_values_are_not_debug_printed() {
    let p = BasicAuthParameters {
        username: Some("user".into()),
        password: Some(Sensitive("hunter2".into())),
    };
    let debug = format!("{p:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("***"));
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        json!({"Username": "user", "Password": "hunter2"})
    );
}

#[test]
fn targets_round_trip_with_every_member() {
    let wire = json!({
        "Rule": "orders",
        "EventBusName": "arn:aws:events:us-east-1:123456789012:event-bus/orders",
        "Targets": [{
            "Id": "t-1",
            "Arn": "arn:aws:events:us-east-1:123456789012:api-destination/d/abc",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "InputTransformer": {
                "InputPathsMap": {"id": "$.detail.id"},
                "InputTemplate": "{\"id\": <id>}"
            },
            "KinesisParameters": {"PartitionKeyPath": "$.id"},
            "RunCommandParameters": {"RunCommandTargets": [{"Key": "k", "Values": ["v"]}]},
            "EcsParameters": {"TaskDefinitionArn": "arn", "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["s"]}}},
            "BatchParameters": {"JobDefinition": "j", "JobName": "n"},
            "SqsParameters": {"MessageGroupId": "g"},
            "HttpParameters": {
                "PathParameterValues": ["a"],
                "HeaderParameters": {"X-Key": "v"},
                "QueryStringParameters": {"q": "1"}
            },
            "RedshiftDataParameters": {"Database": "db"},
            "SageMakerPipelineParameters": {"PipelineParameterList": []},
            "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:dlq"},
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            "AppSyncParameters": {"GraphQLOperation": "mutation {}"}
        }]
    });
    let req: PutTargetsRequest = parse_input(wire.to_string().as_bytes()).unwrap();
    let t = &req.targets[0];
    assert_eq!(t.retry_policy.unwrap().maximum_retry_attempts, Some(3));
    assert_eq!(
        t.input_transformer
            .as_ref()
            .unwrap()
            .input_paths_map
            .as_ref()
            .unwrap()["id"],
        "$.detail.id"
    );
    assert_eq!(serde_json::to_value(&req).unwrap(), wire);
}

#[test]
fn connection_members_use_the_model_spelling() {
    let wire = json!({
        "Name": "c",
        "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
        "AuthParameters": {
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "id", "ClientSecret": "s"},
                "AuthorizationEndpoint": "https://auth.example.com/token",
                "HttpMethod": "POST",
                "OAuthHttpParameters": {
                    "BodyParameters": [{"Key": "scope", "Value": "x", "IsValueSecret": false}]
                }
            },
            "InvocationHttpParameters": {"HeaderParameters": [{"Key": "h", "Value": "v"}]}
        }
    });
    let req: CreateConnectionRequest = parse_input(wire.to_string().as_bytes()).unwrap();
    assert_eq!(
        req.authorization_type,
        ConnectionAuthorizationType::OauthClientCredentials
    );
    assert_eq!(serde_json::to_value(&req).unwrap(), wire);

    // Required members inside an auth kind are checked on create.
    let e = parse_input::<CreateConnectionRequest>(
        br#"{"Name":"c","AuthorizationType":"BASIC","AuthParameters":{"BasicAuthParameters":{"Username":"u"}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "1 validation error detected: Value null at \
         'authParameters.basicAuthParameters.password' failed to satisfy constraint: Member \
         must not be null"
    );
    // …and not on update.
    assert!(
        parse_input::<UpdateConnectionRequest>(
            br#"{"Name":"c","AuthParameters":{"BasicAuthParameters":{"Username":"u"}}}"#
        )
        .is_ok()
    );
}

#[test]
fn required_members_of_every_operation() {
    // (input, body without required members, first missing member path)
    fn missing<T: serde::de::DeserializeOwned + Validate + std::fmt::Debug>(
        body: &str,
        path: &str,
    ) {
        let e = parse_input::<T>(body.as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException, "{body}");
        assert!(
            e.message.contains(&format!("Value null at '{path}'")),
            "{body}: {}",
            e.message
        );
    }
    missing::<PutEventsRequest>("{}", "entries");
    missing::<CreateEventBusRequest>("{}", "name");
    missing::<DeleteEventBusRequest>("{}", "name");
    missing::<PutRuleRequest>("{}", "name");
    missing::<DeleteRuleRequest>("{}", "name");
    missing::<ListRuleNamesByTargetRequest>("{}", "targetArn");
    missing::<PutTargetsRequest>(r#"{"Rule":"r"}"#, "targets");
    missing::<RemoveTargetsRequest>(r#"{"Rule":"r"}"#, "ids");
    missing::<ListTargetsByRuleRequest>("{}", "rule");
    missing::<TestEventPatternRequest>(r#"{"EventPattern":"{}"}"#, "event");
    missing::<CreateConnectionRequest>(r#"{"Name":"c"}"#, "authorizationType");
    missing::<NameRef>("{}", "name");
    missing::<UpdateConnectionRequest>("{}", "name");
    missing::<CreateApiDestinationRequest>(r#"{"Name":"d"}"#, "connectionArn");
    missing::<UpdateApiDestinationRequest>("{}", "name");
    missing::<CreateArchiveRequest>(r#"{"ArchiveName":"a"}"#, "eventSourceArn");
    missing::<ArchiveRef>("{}", "archiveName");
    missing::<StartReplayRequest>(
        r#"{"ReplayName":"r","EventSourceArn":"a"}"#,
        "eventStartTime",
    );
    missing::<ReplayRef>("{}", "replayName");
    missing::<PutTargetsRequest>(
        r#"{"Rule":"r","Targets":[{"Id":"t","Arn":"a","InputTransformer":{}}]}"#,
        "targets.1.member.inputTransformer.inputTemplate",
    );

    // Inputs whose members are all optional accept an empty body.
    assert!(parse_input::<ListEventBusesRequest>(b"").is_ok());
    assert!(parse_input::<DescribeEventBusRequest>(b"{}").is_ok());
    assert!(parse_input::<ListRulesRequest>(b"{}").is_ok());
    assert!(parse_input::<ListConnectionsRequest>(b"{}").is_ok());
    assert!(parse_input::<ListApiDestinationsRequest>(b"{}").is_ok());
    assert!(parse_input::<ListArchivesRequest>(b"{}").is_ok());
    assert!(parse_input::<ListReplaysRequest>(b"{}").is_ok());
}

#[test]
fn constraint_messages() {
    let e = parse_input::<ListRulesRequest>(br#"{"Limit":0,"NextToken":""}"#).unwrap_err();
    assert_eq!(
        e.message,
        "2 validation errors detected: Value '' at 'nextToken' failed to satisfy constraint: \
         Member must have length greater than or equal to 1; Value '0' at 'limit' failed to \
         satisfy constraint: Member must have value greater than or equal to 1"
    );
    let long = "a".repeat(49);
    let e = parse_input::<CreateArchiveRequest>(
        format!(r#"{{"ArchiveName":"{long}","EventSourceArn":"arn"}}"#).as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "1 validation error detected: Value '{long}' at 'archiveName' failed to satisfy \
             constraint: Member must have length less than or equal to 48"
        )
    );
    let e = parse_input::<PutTargetsRequest>(
        br#"{"Rule":"r","Targets":[{"Id":"t","Arn":"a","RetryPolicy":{"MaximumRetryAttempts":186,"MaximumEventAgeInSeconds":59}}]}"#,
    )
    .unwrap_err();
    assert!(
        e.message.starts_with("2 validation errors detected"),
        "{}",
        e.message
    );
    assert!(e.message.contains(
        "Value '186' at 'targets.1.member.retryPolicy.maximumRetryAttempts' failed to satisfy \
         constraint: Member must have value less than or equal to 185"
    ));
    assert!(e.message.contains("maximumEventAgeInSeconds"));
    let e = parse_input::<PutTargetsRequest>(br#"{"Rule":"r","Targets":[]}"#).unwrap_err();
    assert!(
        e.message.contains("Value '[Target]' at 'targets'"),
        "{}",
        e.message
    );

    // Lengths count UTF-16 units, as the Java service does: 64 "😀" are 128.
    let name = "😀".repeat(40);
    let e = parse_input::<DescribeRuleRequest>(format!(r#"{{"Name":"{name}"}}"#).as_bytes())
        .unwrap_err();
    assert!(
        e.message.contains("less than or equal to 64"),
        "{}",
        e.message
    );

    // Quoted values are cut so a huge value does not make a huge message.
    let huge = "x".repeat(100_000);
    let e = parse_input::<PutRuleRequest>(
        format!(r#"{{"Name":"r","Description":"{huge}"}}"#).as_bytes(),
    )
    .unwrap_err();
    assert!(e.message.len() < 1000, "{}", e.message.len());
}

#[test]
fn bus_names_and_arns() {
    let ok = |s: &str| {
        parse_input::<DescribeRuleRequest>(
            format!(r#"{{"Name":"r","EventBusName":"{s}"}}"#).as_bytes(),
        )
        .is_ok()
    };
    assert!(ok("default"));
    assert!(ok("aws.partner/example.com/123/orders"));
    assert!(ok("arn:aws:events:us-east-1:123456789012:event-bus/orders"));
    assert!(ok(
        "arn:aws-cn:events:cn-north-1:123456789012:event-bus/orders"
    ));
    assert!(!ok("bad bus"));
    assert!(!ok("arn:aws:events:us-east-1:12345:event-bus/orders"));
    assert!(!ok("arn:aws:sqs:us-east-1:123456789012:event-bus/orders"));
    assert_eq!(
        bus_name_of("arn:aws:events:us-east-1:123456789012:event-bus/orders"),
        "orders"
    );
    assert_eq!(bus_name_of("orders"), "orders");
    assert_eq!(
        split_bus_arn("arn:aws:events:eu-west-1:123456789012:event-bus/b"),
        Some(("eu-west-1", "123456789012", "b"))
    );
    // PutEvents takes no partner bus names (no '/').
    let e =
        parse_input::<PutEventsRequest>(br#"{"Entries":[{"EventBusName":"a/b"}]}"#).unwrap_err();
    assert!(
        e.message.contains("entries.1.member.eventBusName"),
        "{}",
        e.message
    );
}

#[test]
fn enums_round_trip() {
    for v in RuleState::VALUES {
        let s: RuleState = serde_json::from_str(&format!("\"{v}\"")).unwrap();
        assert_eq!(s.as_str(), *v);
        assert_eq!(RuleState::parse(v), Some(s));
    }
    assert_eq!(RuleState::parse("enabled"), None);
    assert_eq!(ConnectionState::VALUES.len(), 9);
    assert_eq!(ReplayState::Cancelling.to_string(), "CANCELLING");
    assert_eq!(
        serde_json::to_string(&ApiDestinationHttpMethod::Patch).unwrap(),
        "\"PATCH\""
    );
}

#[test]
fn responses_leave_out_absent_members() {
    let r = DescribeRuleResponse {
        name: Some("r".into()),
        state: Some(RuleState::Enabled),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"Name":"r","State":"ENABLED"}"#
    );
    assert_eq!(
        serde_json::to_string(&ListRulesResponse::default()).unwrap(),
        r#"{"Rules":[]}"#
    );
    assert_eq!(serde_json::to_string(&Empty {}).unwrap(), "{}");
    let d: DescribeReplayResponse = serde_json::from_str(
        r#"{"ReplayName":"r","State":"RUNNING","EventStartTime":1.5,"Unknown":{}}"#,
    )
    .unwrap();
    assert_eq!(d.event_start_time.unwrap().millis(), 1500);
}
