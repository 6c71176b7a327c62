"""Event-source mappings from SQS queues to functions: the Lambda API shapes
(Create/Get/Update/Delete/ListEventSourceMappings) and their errors, delivery of the SQS event
record, partial batch failures that come back and reach the queue's dead-letter queue after
`maxReceiveCount`, filter criteria, disabled mappings, and BatchSize/batching windows."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config

from conftest import ACCOUNT, REGION, ROLE, credentials_for, error_of, make_zip, unique_name
from host_files import FUNCTION_SIDE, url_for

# Records every SQS record it gets (one JSON line per record); reports the records whose body
# contains "fail" as batch item failures.
RECORDER = FUNCTION_SIDE + """
import json, os

def handler(event, context):
    lines = "".join(json.dumps({"record": r, "batch": len(event["Records"])}) + "\\n" for r in event["Records"])
    write_out(os.environ["OUT"], lines)
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]]}
"""


@pytest.fixture(scope="module")
def sqs(endpoint):
    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}), **credentials_for(endpoint)
    )


def records(path) -> list[dict]:
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def recorder(lam, out) -> str:
    name = unique_name("esm")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Timeout=30,
        Code={"ZipFile": make_zip({"app.py": RECORDER})},
        Environment={"Variables": {"OUT": url_for(out)}},
    )
    return name


def queue(sqs, **attributes) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique_name("src"), Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_mapping_crud_and_errors(lam, sqs, tmp_path):
    name = recorder(lam, tmp_path / "crud.jsonl")
    _, arn = queue(sqs)
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5, Enabled=False)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = created["UUID"]
    assert created["State"] == "Creating"
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    assert created["EventSourceArn"] == arn and created["BatchSize"] == 5
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Disabled"
    assert got["EventSourceMappingArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}"
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert [m["UUID"] for m in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uuid]
    updated = lam.update_event_source_mapping(
        UUID=uuid,
        BatchSize=20,
        MaximumBatchingWindowInSeconds=1,
        ScalingConfig={"MaximumConcurrency": 2},
        FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]},
    )
    assert updated["State"] == "Updating"
    assert updated["BatchSize"] == 20 and updated["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert updated["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_event_source_mapping(UUID=uuid, BatchSize=20, MaximumBatchingWindowInSeconds=0)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(EventSourceArn=arn + "-missing", FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name + "-missing")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_event_source_mapping(UUID=uuid, FilterCriteria={"Filters": [{"Pattern": "{not json"}]})

    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as excinfo:
        lam.get_event_source_mapping(UUID=uuid)
    assert error_of(excinfo)[1] == 404


def test_messages_reach_the_function_as_sqs_records(lam, sqs, tmp_path):
    out = tmp_path / "delivered.jsonl"
    name = recorder(lam, out)
    url, arn = queue(sqs)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    sent = [
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"n": i}),
            MessageAttributes={"Kind": {"DataType": "String", "StringValue": "test"}},
        )["MessageId"]
        for i in range(5)
    ]
    assert wait_for(lambda: len(records(out)) >= 5), records(out)
    got = {r["record"]["messageId"]: r["record"] for r in records(out)}
    assert set(got) == set(sent)
    record = got[sent[0]]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION
    assert json.loads(record["body"]) == {"n": 0}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record["attributes"]) >= {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert record["messageAttributes"]["Kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["md5OfBody"] and record["md5OfMessageAttributes"]
    # Done with: deleted from the queue.
    assert wait_for(
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"
    }


def test_reported_failures_come_back_then_reach_the_dead_letter_queue(lam, sqs, tmp_path):
    out = tmp_path / "partial.jsonl"
    name = recorder(lam, out)
    dlq_url, dlq_arn = queue(sqs)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = queue(sqs, VisibilityTimeout=2, RedrivePolicy=policy)
    # Both queued before the mapping starts: one batch.
    sqs.send_message(QueueUrl=url, MessageBody="good one")
    failing = sqs.send_message(QueueUrl=url, MessageBody="please fail")["MessageId"]
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, VisibilityTimeout=60).get("Messages"), timeout=40)
    assert moved and moved[0]["MessageId"] == failing and moved[0]["Body"] == "please fail"
    seen = [r["record"] for r in records(out)]
    attempts = [r["attributes"]["ApproximateReceiveCount"] for r in seen if r["messageId"] == failing]
    assert attempts == ["1", "2"], attempts
    assert sum(1 for r in seen if r["body"] == "good one") == 1


def test_filters_drop_what_they_do_not_match_and_disabled_mappings_wait(lam, sqs, tmp_path):
    out = tmp_path / "filtered.jsonl"
    name = recorder(lam, out)
    url, arn = queue(sqs)
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        Enabled=False,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]},
    )["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "keep", "n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "drop", "n": 2}))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    time.sleep(1.5)
    assert records(out) == []  # disabled
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert wait_for(lambda: records(out))
    assert wait_for(
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )
    bodies = [json.loads(r["record"]["body"]) for r in records(out)]
    assert bodies == [{"kind": "keep", "n": 1}]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_batch_size_and_window_gather_messages(lam, sqs, tmp_path):
    out = tmp_path / "batched.jsonl"
    name = recorder(lam, out)
    url, arn = queue(sqs)
    for chunk in range(3):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": f"{chunk}-{i}"} for i in range(10)]
        )
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=25, MaximumBatchingWindowInSeconds=2)
    assert wait_for(lambda: len(records(out)) >= 30, timeout=40)
    sizes = sorted({r["batch"] for r in records(out)}, reverse=True)
    assert sizes[0] == 25, sizes


SLOW = FUNCTION_SIDE + """
import json, os, time

def handler(event, context):
    start = time.time()
    time.sleep(0.4)
    write_out(os.environ["OUT"], json.dumps({"start": start, "end": time.time(),
        "bodies": [r["body"] for r in event["Records"]]}) + "\\n")
"""


def max_overlap(spans: list[dict]) -> int:
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    running = best = 0
    for _, delta in edges:
        running += delta
        best = max(best, running)
    return best


@pytest.mark.parametrize("limit", ["mapping", "reserved"])
def test_pollers_scale_up_to_the_limit_and_never_beyond(lam, sqs, tmp_path, limit):
    out = tmp_path / f"spans-{limit}.jsonl"
    name = unique_name("slow")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Timeout=30,
        Code={"ZipFile": make_zip({"app.py": SLOW})},
        Environment={"Variables": {"OUT": url_for(out)}},
    )
    url, arn = queue(sqs, VisibilityTimeout=60)
    # Enough work (16 × 0.4 s) that a second poller's cold start still finds some.
    for chunk in (range(0, 10), range(10, 16)):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": f"m{i}"} for i in chunk])
    if limit == "mapping":
        # At most two pollers at once, whatever the function could take.
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
        expected = 2
    else:
        # The function's reserved concurrency is the limit: pollers never take work it would throttle.
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
        expected = 1
    assert wait_for(lambda: len(records(out)) >= 16, timeout=90), records(out)
    spans = records(out)
    bodies = sorted(b for s in spans for b in s["bodies"])
    assert bodies == sorted(f"m{i}" for i in range(16)), bodies  # each once: nothing throttled back
    assert max_overlap(spans) <= expected, spans
    if expected > 1:
        assert max_overlap(spans) == expected, "the pollers never scaled past one"


def test_mappings_and_their_messages_survive_a_sigkill(start_server, tmp_path):
    import signal

    from conftest import lambda_client_for

    data = tmp_path / "mapped"
    srv = start_server(data)
    lam = lambda_client_for(srv.endpoint)
    sqs = boto3.client(
        "sqs", endpoint_url=srv.endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}), **credentials_for(srv.endpoint)
    )
    out = tmp_path / "after-restart.jsonl"
    name = recorder(lam, out)
    url, arn = queue(sqs)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"]
    srv.stop(sig=signal.SIGKILL)

    # Restarted: the mapping's poller runs again and takes what is sent now.
    restarted = start_server(data)
    lam = lambda_client_for(restarted.endpoint)
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    sqs = boto3.client(
        "sqs",
        endpoint_url=restarted.endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}),
        **credentials_for(restarted.endpoint),
    )
    sqs.send_message(QueueUrl=url.replace(srv.endpoint, restarted.endpoint), MessageBody="after the restart")
    assert wait_for(lambda: records(out)), "the mapping did not resume after the restart"
    assert [r["record"]["body"] for r in records(out)] == ["after the restart"]
