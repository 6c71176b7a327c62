"""DynamoDB Streams: the streams API (ListStreams, DescribeStream, GetShardIterator, GetRecords)
over a table's changes, and event-source mappings from a stream to a function — the DynamoDB
event shape, order per key, and a failing batch retried, bisected and sent to its on-failure
queue."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config

from conftest import REGION, ROLE, credentials_for, make_zip, unique_name
from host_files import FUNCTION_SIDE, url_for

CONFIG = Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=60)

# Records every batch it gets (one JSON line per batch); fails a batch holding a poison record.
RECORDER = FUNCTION_SIDE + """
import json, os

def handler(event, context):
    records = event["Records"]
    write_out(os.environ["OUT"], json.dumps({"records": records}) + "\\n")
    if any(r["dynamodb"].get("NewImage", {}).get("poison") for r in records):
        raise Exception("poison")
    return {}
"""


@pytest.fixture(scope="module")
def ddb(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))


@pytest.fixture(scope="module")
def streams(endpoint):
    return boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))


def batches(path) -> list[list[dict]]:
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line)["records"] for line in complete.splitlines() if line.strip()]


def wait_for(predicate, timeout=60.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def stream_table(ddb, view="NEW_AND_OLD_IMAGES") -> tuple[str, str]:
    name = unique_name("strm")
    table = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]
    return name, table["LatestStreamArn"]


def test_the_streams_api_reads_every_change(ddb, streams):
    name, arn = stream_table(ddb)
    assert ddb.describe_table(TableName=name)["Table"]["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    listed = streams.list_streams(TableName=name)["Streams"]
    assert [s["StreamArn"] for s in listed] == [arn]
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED" and description["TableName"] == name
    shard = description["Shards"][0]["ShardId"]
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]

    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :two", ExpressionAttributeValues={":two": {"N": "2"}})
    # An update that changes nothing writes no record.
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :two", ExpressionAttributeValues={":two": {"N": "2"}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}})

    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = streams.get_records(ShardIterator=iterator)
    records = got["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0]["eventSource"] == "aws:dynamodb"
    assert records[0]["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert "OldImage" not in records[0]["dynamodb"]
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"} and records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert records[2]["dynamodb"]["OldImage"]["v"] == {"N": "2"} and "NewImage" not in records[2]["dynamodb"]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences)
    assert streams.get_records(ShardIterator=got["NextShardIterator"])["Records"] == []
    assert len(streams.get_records(ShardIterator=latest)["Records"]) == 3
    after = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=records[1]["dynamodb"]["SequenceNumber"]
    )["ShardIterator"]
    assert [r["eventName"] for r in streams.get_records(ShardIterator=after)["Records"]] == ["REMOVE"]

    # KEYS_ONLY streams carry the keys alone; disabling the stream removes it.
    keys_name, keys_arn = stream_table(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=keys_name, Item={"pk": {"S": "k"}, "v": {"N": "1"}})
    shard = streams.describe_stream(StreamArn=keys_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=keys_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    record = streams.get_records(ShardIterator=iterator)["Records"][0]
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "k"}} and "NewImage" not in record["dynamodb"]
    ddb.update_table(TableName=keys_name, StreamSpecification={"StreamEnabled": False})
    assert "StreamSpecification" not in ddb.describe_table(TableName=keys_name)["Table"]
    with pytest.raises(streams.exceptions.ResourceNotFoundException):
        streams.describe_stream(StreamArn=keys_arn)


def mapped_function(lam, out) -> str:
    name = unique_name("ddbfn")
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


def test_a_write_invokes_the_mapped_function_in_order_per_key(ddb, lam, tmp_path):
    name, arn = stream_table(ddb)
    out = tmp_path / "calls.jsonl"
    function = mapped_function(lam, out)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=4)
    assert mapping["StartingPosition"] == "TRIM_HORIZON" and mapping["BatchSize"] == 4
    for v in range(5):
        for key in ("k1", "k2"):
            ddb.put_item(TableName=name, Item={"pk": {"S": key}, "v": {"N": str(v)}})
    seen = wait_for(lambda: (r := [rec for b in batches(out) for rec in b]) and len(r) >= 10 and r)
    assert len(seen) == 10, seen
    assert max(len(b) for b in batches(out)) <= 4
    first = seen[0]
    assert first["eventSource"] == "aws:dynamodb" and first["eventVersion"] == "1.1"
    assert first["eventName"] == "INSERT" and first["awsRegion"] == REGION
    assert first["eventSourceARN"] == arn
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert set(first["dynamodb"]) >= {"Keys", "NewImage", "SequenceNumber", "SizeBytes", "ApproximateCreationDateTime"}
    for key in ("k1", "k2"):
        values = [int(r["dynamodb"]["NewImage"]["v"]["N"]) for r in seen if r["dynamodb"]["Keys"]["pk"]["S"] == key]
        assert values == [0, 1, 2, 3, 4]
    assert [r["eventName"] for r in seen if r["dynamodb"]["Keys"]["pk"]["S"] == "k1"] == ["INSERT"] + ["MODIFY"] * 4
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_failing_batch_is_retried_bisected_and_sent_on(ddb, lam, endpoint, tmp_path):
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))
    url = sqs.create_queue(QueueName=unique_name("ddbfail"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name, arn = stream_table(ddb)
    out = tmp_path / "bisect.jsonl"
    function = mapped_function(lam, out)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function,
        StartingPosition="LATEST",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 2
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    items = [{"pk": {"S": f"i{i}"}} for i in range(4)]
    items[2]["poison"] = {"BOOL": True}
    ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": item}} for item in items]})

    def sent():
        return sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")

    messages = wait_for(sent, timeout=60)
    assert messages, batches(out)
    info = json.loads(messages[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1
    assert info["DDBStreamBatchInfo"]["streamArn"] == arn
    sizes = [len(b) for b in batches(out)]
    assert sizes[0] == 4 and 2 in sizes and 1 in sizes, sizes
    delivered = {r["dynamodb"]["Keys"]["pk"]["S"] for b in batches(out) for r in b}
    assert delivered == {"i0", "i1", "i2", "i3"}
    # The poison record was given up on: the next change is delivered after it.
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
    wait_for(lambda: any(r["dynamodb"]["Keys"]["pk"]["S"] == "after" for b in batches(out) for r in b))
    assert any(r["dynamodb"]["Keys"]["pk"]["S"] == "after" for b in batches(out) for r in b)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
