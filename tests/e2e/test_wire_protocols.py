"""The protocol golden files of `crates/wire` (tests/golden/protocol), read by botocore itself.

Each `.http` file is a reply or error exactly as `nubo_wire::protocol` encodes it; here botocore's
parser for that protocol reads it, with the real service model's output shape, and the test checks
what a client would see. Each `.form` file is a query-protocol request body: the test checks that it
is byte for byte what botocore serializes today (`UPDATE_GOLDEN=1` rewrites it), and the Rust test
beside the encoder checks what `query::decode` makes of it. No server is involved.
"""

from __future__ import annotations

import os
from pathlib import Path

import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from conftest import REPO

GOLDEN = REPO / "crates" / "wire" / "tests" / "golden" / "protocol"
REQUEST_ID = "golden-request-id"

_session = botocore.session.get_session()


def read_http(path: Path) -> dict:
    """`HTTP/1.1 <status>`, headers, a blank line, the body — as botocore's parsers take a reply."""
    raw = path.read_bytes()
    head, body = raw.split(b"\n\n", 1)
    lines = head.decode().split("\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(": ", 1)
        headers[name.lower()] = value
    return {"status_code": status, "headers": headers, "body": body}


def parse(protocol: str, response: dict, service: str | None = None, operation: str | None = None) -> dict:
    shape = None
    if operation is not None:
        shape = _session.get_service_model(service).operation_model(operation).output_shape
    return create_parser(protocol).parse(response, shape)


def test_rest_json_error():
    parsed = parse("rest-json", read_http(GOLDEN / "rest_json_error.http"))
    assert parsed["Error"]["Code"] == "TooManyRequestsException"
    assert parsed["Error"]["Message"] == "Rate exceeded"


def test_json_error():
    parsed = parse("json", read_http(GOLDEN / "json_error.http"))
    assert parsed["Error"]["Code"] == "ResourceNotFoundException"
    assert parsed["Error"]["Message"] == 'Requested resource not found: Table: "orders" not found'


def test_json_reply():
    parsed = parse("json", read_http(GOLDEN / "json_reply.http"), "dynamodb", "ListTables")
    assert parsed["TableNames"] == ["a", "b"]
    assert parsed["LastEvaluatedTableName"] == "b"


def test_query_error():
    parsed = parse("query", read_http(GOLDEN / "query_error.http"))
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The user with name <a&b> cannot be found.",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_query_reply():
    parsed = parse("query", read_http(GOLDEN / "query_reply.http"), "sts", "GetCallerIdentity")
    assert parsed["UserId"] == "AIDANUBO"
    assert parsed["Account"] == "000000000000"
    assert parsed["Arn"] == "arn:aws:iam::000000000000:user/a&b"
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_query_reply_with_a_list():
    parsed = parse("query", read_http(GOLDEN / "query_reply_list.http"), "sns", "ListTopics")
    assert parsed["Topics"] == [
        {"TopicArn": "arn:aws:sns:us-east-1:000000000000:a"},
        {"TopicArn": "arn:aws:sns:us-east-1:000000000000:b"},
    ]


def test_rest_xml_error():
    parsed = parse("rest-xml", read_http(GOLDEN / "rest_xml_error.http"))
    assert parsed["Error"]["Code"] == "NoSuchBucket"
    assert parsed["Error"]["Message"] == "The specified bucket does not exist"
    assert parsed["Error"]["BucketName"] == "missing-bucket"
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_rest_xml_reply():
    parsed = parse("rest-xml", read_http(GOLDEN / "rest_xml_reply.http"), "s3", "ListBuckets")
    assert [b["Name"] for b in parsed["Buckets"]] == ["alpha", "beta"]
    assert parsed["Owner"] == {"DisplayName": "nubo <dev>", "ID": "000000000000"}


# Query requests: (golden file, service, operation, input). Together they use every flattening
# botocore does: structure members, `.member.N` lists of scalars and of structures, an empty list,
# `.entry.N.key/value` maps, and a map whose parts the model names `Name`/`Value`.
QUERY_REQUESTS = [
    (
        "query_request_create_stack.form",
        "cloudformation",
        "CreateStack",
        {
            "StackName": "orders",
            "TemplateBody": '{"Resources": {}}',
            "Parameters": [
                {"ParameterKey": "Stage", "ParameterValue": "prod & test"},
                {"ParameterKey": "Memory", "ParameterValue": "128"},
            ],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            "NotificationARNs": [],
            "Tags": [{"Key": "team", "Value": "ops"}],
            "TimeoutInMinutes": 5,
        },
    ),
    (
        "query_request_create_topic.form",
        "sns",
        "CreateTopic",
        {
            "Name": "orders",
            "Attributes": {"DisplayName": "Orders", "Policy": '{"Version": "2012-10-17"}'},
            "Tags": [{"Key": "k", "Value": "v=1"}],
        },
    ),
    (
        "query_request_publish.form",
        "sns",
        "Publish",
        {
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:orders",
            "Message": "hello, wörld",
            "MessageAttributes": {"color": {"DataType": "String", "StringValue": "blue"}},
        },
    ),
]


def botocore_body(service: str, operation: str, params: dict) -> bytes:
    model = _session.get_service_model(service)
    request = create_serializer("query").serialize_to_request(params, model.operation_model(operation))
    prepared = AWSRequest(method="POST", url="http://localhost/", data=request["body"]).prepare()
    return prepared.body.encode() if isinstance(prepared.body, str) else prepared.body


@pytest.mark.parametrize("name,service,operation,params", QUERY_REQUESTS, ids=[r[0] for r in QUERY_REQUESTS])
def test_query_request_golden_is_what_botocore_sends(name, service, operation, params):
    body = botocore_body(service, operation, params)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(body)
    assert path.read_bytes() == body, f"{name} is not what botocore sends (UPDATE_GOLDEN=1 rewrites it)"
    assert path.with_suffix(".json").is_file(), "run `UPDATE_GOLDEN=1 cargo test -p nubo-wire golden`"
