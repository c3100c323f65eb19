"""Writes botocore_signed.json: EventBridge requests signed by real botocore.

The Rust tests in host/src/aws/sigv4/tests.rs verify each request's
signature and check that a one-byte change to the body, a header or the path
breaks it.

Run from the repository root with boto3 installed (tests/.venv has it):

    tests/.venv/bin/python tests/aws/make_botocore_fixtures.py

The credentials are made up; the signing time is fixed so the file is stable.
"""

import datetime
import json
import os
from unittest import mock

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDSIGNALBOXTEST01"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSIGNALBOX"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLE//session+token=="
SIGNED_AT = datetime.datetime(2026, 3, 1, 12, 34, 56, tzinfo=datetime.timezone.utc)
ENDPOINT = "http://127.0.0.1:8080"

# (name, operation, params, region, credentials)
CASES = [
    (
        "put-events",
        "PutEvents",
        {
            "Entries": [
                {
                    "Source": "com.example.orders",
                    "DetailType": "Order Placed",
                    "Detail": json.dumps({"orderId": "o-1", "amount": 42, "note": "grüße ✓"}),
                    "Resources": ["arn:aws:s3:::bucket"],
                    "Time": datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc),
                    "EventBusName": "orders",
                }
            ]
        },
        "us-east-1",
        Credentials(ACCESS_KEY, SECRET_KEY),
    ),
    (
        "list-rules",
        "ListRules",
        {"EventBusName": "default", "NamePrefix": "ord", "Limit": 10},
        "eu-west-1",
        Credentials(ACCESS_KEY, SECRET_KEY),
    ),
    (
        "put-rule-with-session-token",
        "PutRule",
        {"Name": "orders-rule", "EventPattern": json.dumps({"source": ["com.example.orders"]})},
        "us-west-2",
        Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN),
    ),
    (
        "account-id-as-access-key",
        "ListEventBuses",
        {},
        "us-east-1",
        Credentials("123456789012", "test"),
    ),
]


def build(operation, params, region):
    """Serializes a call the way a boto3 client does, without sending it."""
    session = botocore.session.get_session()
    client = session.create_client(
        "events",
        region_name=region,
        endpoint_url=ENDPOINT,
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
    )
    model = client.meta.service_model.operation_model(operation)
    request_dict = client._serializer.serialize_to_request(params, model)
    request_dict["url_path"] = request_dict.get("url_path") or "/"
    request_dict["url"] = ENDPOINT + request_dict["url_path"]
    request = AWSRequest(
        method=request_dict["method"],
        url=request_dict["url"],
        data=request_dict["body"],
        headers=request_dict["headers"],
    )
    return request


def main():
    out = []
    for name, operation, params, region, creds in CASES:
        request = build(operation, params, region)
        with mock.patch.object(botocore.auth.datetime, "datetime", wraps=datetime.datetime) as dt:
            dt.now.return_value = SIGNED_AT.replace(tzinfo=None)
            dt.utcnow.return_value = SIGNED_AT.replace(tzinfo=None)
            botocore.auth.SigV4Auth(creds, "events", region).add_auth(request)
        prepared = request.prepare()
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = [[k, v if isinstance(v, str) else v.decode("utf-8")] for k, v in prepared.headers.items()]
        # Host is added by the HTTP client when sending; botocore signs it from the URL.
        if not any(k.lower() == "host" for k, _ in headers):
            headers.append(["Host", "127.0.0.1:8080"])
        out.append(
            {
                "name": name,
                "operation": operation,
                "access_key_id": creds.access_key,
                "secret_access_key": creds.secret_key,
                "region": region,
                "signed_at": SIGNED_AT.strftime("%Y%m%dT%H%M%SZ"),
                "method": prepared.method,
                "path": "/",
                "query": "",
                "headers": headers,
                "body": body.decode("utf-8"),
            }
        )
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = os.path.join(here, "..", "fixtures", "aws", "botocore_signed.json")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"botocore_version": botocore.__version__, "requests": out}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out)} requests to {out_path}")


if __name__ == "__main__":
    main()
