"""Queues as targets of asynchronous invocation: `OnSuccess`/`OnFailure` destinations that are SQS
queues get Lambda's invocation records as messages, and a function's `DeadLetterConfig` queue gets
a failed event itself with the `RequestID`, `ErrorCode` and `ErrorMessage` attributes."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config

from conftest import REGION, ROLE, credentials_for, make_zip, unique_name

CODE = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail: " + str(event.get("id")))
    return {"ok": event.get("id")}
"""


@pytest.fixture(scope="module")
def sqs(endpoint):
    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}), **credentials_for(endpoint)
    )


def new_queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique_name("target"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def wait_message(sqs, url: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages")
        if got:
            return got[0]
    pytest.fail(f"no message reached {url}")


def function(lam, **extra) -> str:
    name = unique_name("target")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": CODE})},
        **extra,
    )
    return name


def test_destinations_that_are_queues_get_invocation_records(lam, sqs):
    ok_url, ok_arn = new_queue(sqs)
    failed_url, failed_arn = new_queue(sqs)
    name = function(lam)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": ok_arn}, "OnFailure": {"Destination": failed_arn}},
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"id": "good"}))
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"id": "bad", "fail": True}))

    success = json.loads(wait_message(sqs, ok_url)["Body"])
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestPayload"] == {"id": "good"}
    assert success["responsePayload"] == {"ok": "good"}

    failure = json.loads(wait_message(sqs, failed_url)["Body"])
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestPayload"] == {"id": "bad", "fail": True}
    assert failure["responseContext"]["functionError"] == "Unhandled"


def test_a_failing_event_reaches_the_dead_letter_queue(lam, sqs):
    url, arn = new_queue(sqs)
    name = function(lam, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    sent = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"id": "dlq", "fail": True}))
    request_id = sent["ResponseMetadata"]["RequestId"]
    message = wait_message(sqs, url)
    assert json.loads(message["Body"]) == {"id": "dlq", "fail": True}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"]["DataType"] == "Number"
    assert "asked to fail: dlq" in attributes["ErrorMessage"]["StringValue"]


def test_sns_destinations_are_still_refused(lam):
    name = function(lam)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_event_invoke_config(
            FunctionName=name,
            DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sns:{REGION}:000000000000:topic"}},
        )
