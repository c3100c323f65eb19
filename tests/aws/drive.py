"""Drives Signalbox's AWS front with the real boto3, for tests/e2e/aws.rs.

    tests/.venv/bin/python tests/aws/drive.py COMMAND

Settings come from the environment: SIGNALBOX_URL (the server),
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (any values when the server has no
tokens), AWS_DEFAULT_REGION, and per command the URLs it needs. Input, where
a command takes any, is JSON on stdin; the result is one JSON document on
stdout. Errors are reported the way boto3 raises them: the ClientError's
code, HTTP status and request id, so the Rust test can check that the client
understood each answer.
"""

import json
import os
import sys
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["SIGNALBOX_URL"]


def client(**overrides):
    # One attempt: a retried error would only slow the test down, and the
    # test wants to see the first answer.
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, **overrides)
    return boto3.client("events", endpoint_url=ENDPOINT, config=config)


def error_of(call):
    """Runs call(); returns None or what boto3 made of the error."""
    try:
        call()
    except ClientError as e:
        return {
            "code": e.response["Error"]["Code"],
            "message": e.response["Error"].get("Message", ""),
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            "request_id": e.response["ResponseMetadata"].get("RequestId", ""),
        }
    return None


def plain(value):
    """JSON-able: datetimes as epoch seconds, ResponseMetadata dropped."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return value


def flow():
    """A bus, connections, API destinations, a rule with an AWS pattern and
    targets of every kind, events, then an archive and a replay."""
    events = client()
    receiver = os.environ["RECEIVER_URL"]
    token_url = os.environ["TOKEN_URL"]
    out = {}
    out["orders"] = plain(events.create_event_bus(Name="orders", Description="Orders"))
    out["audit"] = plain(events.create_event_bus(Name="audit"))
    out["buses"] = plain(events.list_event_buses())

    key = events.create_connection(
        Name="receiver-key",
        AuthorizationType="API_KEY",
        AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "key-123"},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "x-tenant", "Value": "acme", "IsValueSecret": False}]
            },
        },
    )
    basic = events.create_connection(
        Name="receiver-basic",
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "ann", "Password": "s3cret"}},
    )
    oauth = events.create_connection(
        Name="receiver-oauth",
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "client-1", "ClientSecret": "client-secret"},
                "AuthorizationEndpoint": token_url,
                "HttpMethod": "POST",
                "OAuthHttpParameters": {
                    "BodyParameters": [{"Key": "scope", "Value": "events", "IsValueSecret": False}]
                },
            }
        },
    )
    out["connection"] = plain(events.describe_connection(Name="receiver-key"))
    dest_key = events.create_api_destination(
        Name="apikey",
        ConnectionArn=key["ConnectionArn"],
        InvocationEndpoint=receiver + "/apikey",
        HttpMethod="POST",
    )
    dest_basic = events.create_api_destination(
        Name="basic",
        ConnectionArn=basic["ConnectionArn"],
        InvocationEndpoint=receiver + "/basic/*/items",
        HttpMethod="POST",
        InvocationRateLimitPerSecond=50,
    )
    dest_oauth = events.create_api_destination(
        Name="oauth",
        ConnectionArn=oauth["ConnectionArn"],
        InvocationEndpoint=receiver + "/oauth",
        HttpMethod="POST",
    )
    out["destinations"] = plain(events.list_api_destinations())

    pattern = {
        "source": ["com.example.orders"],
        "detail-type": ["Order Placed"],
        "account": ["123456789012"],
        "region": ["eu-west-1"],
        "resources": ["arn:aws:s3:::bucket"],
        "detail": {"amount": [{"numeric": [">", 10]}]},
    }
    out["rule"] = plain(
        events.put_rule(
            Name="OrderPlaced",
            EventBusName="orders",
            EventPattern=json.dumps(pattern),
            Description="big orders",
        )
    )
    bus_arn = out["audit"]["EventBusArn"]
    out["targets"] = plain(
        events.put_targets(
            Rule="OrderPlaced",
            EventBusName="orders",
            Targets=[
                {"Id": "Key", "Arn": dest_key["ApiDestinationArn"]},
                {
                    "Id": "Basic",
                    "Arn": dest_basic["ApiDestinationArn"],
                    "HttpParameters": {
                        "PathParameterValues": ["o 1"],
                        "QueryStringParameters": {"via": "signalbox"},
                        "HeaderParameters": {"x-extra": "yes"},
                    },
                    "InputTransformer": {
                        "InputPathsMap": {"order": "$.detail.orderId", "amount": "$.detail.amount"},
                        "InputTemplate": '{"order": <order>, "amount": <amount>, '
                        '"text": "Order <order> by <aws.events.rule-name>"}',
                    },
                    "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
                    "DeadLetterConfig": {"Arn": "arn:aws:sqs:eu-west-1:123456789012:dlq"},
                },
                {"Id": "oauth", "Arn": dest_oauth["ApiDestinationArn"], "InputPath": "$.detail"},
                {"Id": "audit", "Arn": bus_arn},
                {"Id": "queue", "Arn": "arn:aws:sqs:eu-west-1:123456789012:orders"},
            ],
        )
    )
    out["listed_targets"] = plain(events.list_targets_by_rule(Rule="OrderPlaced", EventBusName="orders"))
    out["described_rule"] = plain(events.describe_rule(Name="OrderPlaced", EventBusName="orders"))
    out["rules"] = plain(events.list_rules(EventBusName="orders"))
    out["by_target"] = plain(
        events.list_rule_names_by_target(TargetArn=bus_arn, EventBusName="orders")
    )

    detail = {"orderId": "o-1", "amount": 42, "note": "grüße ✓"}
    out["put"] = plain(
        events.put_events(
            Entries=[
                {
                    "Source": "com.example.orders",
                    "DetailType": "Order Placed",
                    "Detail": json.dumps(detail),
                    "Resources": ["arn:aws:s3:::bucket"],
                    "EventBusName": "orders",
                    "Time": 1772366400,
                },
                {
                    "Source": "com.example.orders",
                    "DetailType": "Order Placed",
                    "Detail": json.dumps({"orderId": "o-2", "amount": 5}),
                    "Resources": ["arn:aws:s3:::bucket"],
                    "EventBusName": "orders",
                },
                {"Source": "com.example.orders", "DetailType": "Order Placed", "EventBusName": "orders"},
            ]
        )
    )

    # An archive of the bus and a replay of what it holds, into the rule.
    archive = events.create_archive(
        ArchiveName="orders-archive",
        EventSourceArn=out["orders"]["EventBusArn"],
        EventPattern=json.dumps({"detail-type": ["Order Placed"]}),
        RetentionDays=30,
    )
    out["archive"] = plain(events.describe_archive(ArchiveName="orders-archive"))
    now = time.time()
    out["replay"] = plain(
        events.start_replay(
            ReplayName="again",
            EventSourceArn=archive["ArchiveArn"],
            EventStartTime=now - 3600,
            EventEndTime=now + 60,
            Destination={"Arn": out["orders"]["EventBusArn"], "FilterArns": [out["rule"]["RuleArn"]]},
        )
    )
    for _ in range(600):
        described = events.describe_replay(ReplayName="again")
        if described["State"] not in ("STARTING", "RUNNING"):
            break
        time.sleep(0.05)
    out["replay_done"] = plain(described)
    out["replays"] = plain(events.list_replays())
    out["cancel_finished"] = error_of(lambda: events.cancel_replay(ReplayName="again"))
    print(json.dumps(out))


def schedule():
    """A scheduled rule on the default bus with an API destination target,
    in the phase PHASE names: "put" (create it, describe and list it),
    "disable", or "delete" (remove its target, delete it)."""
    events = client()
    out = {}
    phase = os.environ["PHASE"]
    if phase == "put":
        conn = events.create_connection(
            Name="tick-conn",
            AuthorizationType="API_KEY",
            AuthParameters={
                "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}
            },
        )
        dest = events.create_api_destination(
            Name="tick",
            ConnectionArn=conn["ConnectionArn"],
            InvocationEndpoint=os.environ["RECEIVER_URL"] + "/tick",
            HttpMethod="POST",
        )
        out["rule"] = plain(
            events.put_rule(Name="EverySecond", ScheduleExpression="rate(1 second)")
        )
        events.put_targets(
            Rule="EverySecond", Targets=[{"Id": "tick", "Arn": dest["ApiDestinationArn"]}]
        )
        out["described"] = plain(events.describe_rule(Name="EverySecond"))
        out["listed"] = plain(events.list_rules(NamePrefix="Every"))
    elif phase == "disable":
        events.disable_rule(Name="EverySecond")
        out["disabled"] = plain(events.describe_rule(Name="EverySecond"))
    else:
        events.remove_targets(Rule="EverySecond", Ids=["tick"])
        events.delete_rule(Name="EverySecond")
        out["deleted"] = error_of(lambda: events.describe_rule(Name="EverySecond"))
    print(json.dumps(out))


def patterns():
    """TestEventPattern for each {"pattern", "event"} on stdin: the result,
    or the error boto3 raised."""
    events = client()
    out = []
    for case in json.load(sys.stdin):
        try:
            r = events.test_event_pattern(
                EventPattern=json.dumps(case["pattern"]), Event=json.dumps(case["event"])
            )
            out.append({"result": r["Result"]})
        except ClientError as e:
            out.append({"error": e.response["Error"]["Code"]})
    print(json.dumps(out))


def errors():
    """Every error a client can trigger, as boto3 raises it."""
    events = client()
    out = {}
    events.create_event_bus(Name="errors")
    events.put_rule(Name="r1", EventBusName="errors", EventPattern='{"source": ["x"]}')
    events.put_targets(
        Rule="r1",
        EventBusName="errors",
        Targets=[{"Id": "t", "Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default"}],
    )
    out["bus_exists"] = error_of(lambda: events.create_event_bus(Name="errors"))
    out["bad_bus_name"] = error_of(lambda: events.create_event_bus(Name="MyBus"))
    out["no_bus"] = error_of(lambda: events.describe_event_bus(Name="nope"))
    out["delete_default"] = error_of(lambda: events.delete_event_bus(Name="default"))
    out["no_rule"] = error_of(lambda: events.describe_rule(Name="nope", EventBusName="errors"))
    out["rule_no_bus"] = error_of(
        lambda: events.put_rule(Name="r", EventBusName="nope", EventPattern='{"source": ["x"]}')
    )
    out["bad_pattern"] = error_of(
        lambda: events.put_rule(Name="r2", EventBusName="errors", EventPattern='{"source": "x"}')
    )
    out["bad_operator"] = error_of(
        lambda: events.put_rule(
            Name="r2", EventBusName="errors", EventPattern='{"a": [{"numbr": [">", 1]}]}'
        )
    )
    out["schedule_bus"] = error_of(
        lambda: events.put_rule(
            Name="r3", EventBusName="errors", ScheduleExpression="rate(5 minutes)"
        )
    )
    out["bad_schedule"] = error_of(
        lambda: events.put_rule(Name="r3", ScheduleExpression="rate(5 fortnights)")
    )
    out["no_pattern"] = error_of(lambda: events.put_rule(Name="r3"))
    out["bad_rule_name"] = error_of(
        lambda: events.put_rule(Name="bad name", EventPattern='{"source": ["x"]}')
    )
    out["bad_state"] = error_of(
        lambda: events.put_rule(Name="r4", EventPattern='{"source": ["x"]}', State="ON")
    )
    out["delete_with_targets"] = error_of(
        lambda: events.delete_rule(Name="r1", EventBusName="errors")
    )
    out["targets_no_rule"] = error_of(
        lambda: events.put_targets(
            Rule="nope", Targets=[{"Id": "t", "Arn": "arn:aws:events:us-east-1:0:event-bus/x"}]
        )
    )
    out["two_inputs"] = error_of(
        lambda: events.put_targets(
            Rule="r1",
            EventBusName="errors",
            Targets=[
                {
                    "Id": "t2",
                    "Arn": "arn:aws:events:us-east-1:000000000000:api-destination/x/1",
                    "Input": "{}",
                    "InputPath": "$.detail",
                }
            ],
        )
    )
    out["bad_placeholder"] = error_of(
        lambda: events.put_targets(
            Rule="r1",
            EventBusName="errors",
            Targets=[
                {
                    "Id": "t3",
                    "Arn": "arn:aws:events:us-east-1:000000000000:api-destination/x/1",
                    "InputTransformer": {"InputTemplate": "<nope>"},
                }
            ],
        )
    )
    failed = events.put_targets(
        Rule="r1",
        EventBusName="errors",
        Targets=[
            {"Id": "lambda", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f"},
            {"Id": "dest", "Arn": "arn:aws:events:us-east-1:000000000000:api-destination/nope/1"},
        ],
    )
    out["failed_targets"] = plain(failed)
    out["eleven"] = error_of(
        lambda: events.put_events(
            Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 11
        )
    )
    big = json.dumps({"x": "y" * (256 * 1024)})
    out["too_big"] = error_of(
        lambda: events.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": big}])
    )
    out["entries"] = plain(
        events.put_events(
            Entries=[
                {"Source": "s", "DetailType": "t", "Detail": "{}"},
                {"DetailType": "t", "Detail": "{}"},
                {"Source": "s", "Detail": "{}"},
                {"Source": "s", "DetailType": "t"},
                {"Source": "s", "DetailType": "t", "Detail": "[1, 2]"},
                {"Source": "s", "DetailType": "t", "Detail": "{not json"},
                {"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"},
                {"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "Bad"},
            ]
        )
    )
    out["bad_test_event"] = error_of(
        lambda: events.test_event_pattern(EventPattern='{"source": ["x"]}', Event='{"id": "1"}')
    )
    out["bad_test_pattern"] = error_of(
        lambda: events.test_event_pattern(EventPattern="{", Event="{}")
    )
    events.create_connection(
        Name="c1",
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
    )
    out["connection_exists"] = error_of(
        lambda: events.create_connection(
            Name="c1",
            AuthorizationType="BASIC",
            AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
        )
    )
    out["connection_mismatch"] = error_of(
        lambda: events.create_connection(
            Name="c2",
            AuthorizationType="API_KEY",
            AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
        )
    )
    out["no_connection"] = error_of(lambda: events.describe_connection(Name="nope"))
    out["destination_no_connection"] = error_of(
        lambda: events.create_api_destination(
            Name="d",
            ConnectionArn="arn:aws:events:us-east-1:000000000000:connection/nope/1",
            InvocationEndpoint="https://example.com",
            HttpMethod="POST",
        )
    )
    out["no_archive"] = error_of(
        lambda: events.start_replay(
            ReplayName="r",
            EventSourceArn="arn:aws:events:us-east-1:000000000000:archive/nope",
            EventStartTime=0,
            EventEndTime=1,
            Destination={"Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default"},
        )
    )
    out["no_replay"] = error_of(lambda: events.describe_replay(ReplayName="nope"))
    # Operations of the service model Signalbox does not implement.
    out["unimplemented"] = error_of(lambda: events.list_endpoints())
    out["unimplemented_permission"] = error_of(
        lambda: events.put_permission(Action="events:PutEvents", Principal="*", StatementId="s")
    )
    print(json.dumps(out))


def auth():
    """With tokens enforced: the keys in the environment (GOOD_*, READ_*)
    against what they may do."""
    out = {}
    good = boto3.client(
        "events",
        endpoint_url=ENDPOINT,
        aws_access_key_id=os.environ["GOOD_KEY"],
        aws_secret_access_key=os.environ["GOOD_SECRET"],
        config=Config(retries={"max_attempts": 1}),
    )
    out["good_buses"] = plain(good.list_event_buses())
    out["good_put"] = plain(
        good.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}])
    )
    out["good_rule"] = plain(good.put_rule(Name="signed", EventPattern='{"source": ["s"]}'))
    wrong = boto3.client(
        "events",
        endpoint_url=ENDPOINT,
        aws_access_key_id=os.environ["GOOD_KEY"],
        aws_secret_access_key=os.environ["GOOD_SECRET"] + "x",
        config=Config(retries={"max_attempts": 1}),
    )
    out["wrong_secret"] = error_of(lambda: wrong.list_event_buses())
    unknown = boto3.client(
        "events",
        endpoint_url=ENDPOINT,
        aws_access_key_id="SBXAAAAAAAAAAAAAAAAA",
        aws_secret_access_key="whatever",
        config=Config(retries={"max_attempts": 1}),
    )
    out["unknown_key"] = error_of(lambda: unknown.list_event_buses())
    unsigned = client(signature_version=botocore.UNSIGNED)
    out["unsigned"] = error_of(lambda: unsigned.list_event_buses())
    reader = boto3.client(
        "events",
        endpoint_url=ENDPOINT,
        aws_access_key_id=os.environ["READ_KEY"],
        aws_secret_access_key=os.environ["READ_SECRET"],
        config=Config(retries={"max_attempts": 1}),
    )
    out["read_buses"] = plain(reader.list_event_buses())
    out["read_describe"] = plain(reader.describe_event_bus(Name="default"))
    out["read_put"] = error_of(
        lambda: reader.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}])
    )
    out["read_rule"] = error_of(
        lambda: reader.put_rule(Name="nope", EventPattern='{"source": ["s"]}')
    )
    out["read_test_pattern"] = plain(
        reader.test_event_pattern(
            EventPattern='{"source": ["s"]}',
            Event=json.dumps(
                {
                    "id": "1",
                    "detail-type": "t",
                    "source": "s",
                    "account": "000000000000",
                    "time": "2026-01-01T00:00:00Z",
                    "region": "us-east-1",
                    "resources": [],
                    "detail": {},
                }
            ),
        )
    )
    print(json.dumps(out))


def check():
    """Whether the key in KEY / SECRET works: {"error": null} or the error."""
    events = boto3.client(
        "events",
        endpoint_url=ENDPOINT,
        aws_access_key_id=os.environ["KEY"],
        aws_secret_access_key=os.environ["SECRET"],
        config=Config(retries={"max_attempts": 1}),
    )
    print(json.dumps({"error": error_of(lambda: events.list_event_buses())}))


if __name__ == "__main__":
    commands = {
        "flow": flow,
        "schedule": schedule,
        "patterns": patterns,
        "errors": errors,
        "auth": auth,
        "check": check,
    }
    commands[sys.argv[1]]()
