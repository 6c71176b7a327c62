"""Bucket notifications to SQS queues: configuration round trip (beside Lambda targets), the
`s3:TestEvent` S3 sends when a queue becomes a destination, object events as messages carrying
S3's event record (filtered by event type and key), and the refusal of a queue that does not exist
or whose policy does not let S3 send for the bucket (as on AWS, a queue without a policy refuses)."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_cli import aws
from conftest import ACCOUNT, REGION, client_env_for, credentials_for
from test_s3 import s3_client

CONFIG = Config(retries={"max_attempts": 0}, read_timeout=60)


@pytest.fixture(scope="module")
def s3(endpoint):
    return s3_client(endpoint)


@pytest.fixture(scope="module")
def sqs(endpoint):
    return boto3.client("sqs", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))


def new_bucket(s3) -> str:
    name = f"toq-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def s3_policy(queue_arn: str, bucket: str) -> str:
    """The queue policy AWS's S3 guide shows: S3, acting for `bucket`, may SendMessage."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SQS:SendMessage",
            "Resource": queue_arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": f"arn:aws:s3:*:*:{bucket}"},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        }],
    })


def new_queue(sqs, bucket: str | None) -> tuple[str, str]:
    """A queue; with `bucket`, one whose policy lets S3 send that bucket's events."""
    url = sqs.create_queue(QueueName=f"s3-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if bucket is not None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": s3_policy(arn, bucket)})
    return url, arn


def queue_config(arn: str, events: list[str], prefix=None, suffix=None, id: str = "q1") -> dict:
    entry = {"Id": id, "QueueArn": arn, "Events": events}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v is not None]
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": rules}}
    return entry


def drain(sqs, url: str, want: int, timeout: float = 10) -> list[dict]:
    """Every message body (parsed) that arrives within `timeout`, stopping once `want` arrived."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in answer.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_round_trip_test_event_and_missing_queue(s3, sqs):
    bucket = new_bucket(s3)
    url, arn = new_queue(sqs, bucket)
    wanted = {"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"], prefix="in/", suffix=".csv")]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"] == wanted["QueueConfigurations"]
    assert got.get("LambdaFunctionConfigurations") is None

    [test_event] = drain(sqs, url, 1)
    assert test_event["Service"] == "Amazon S3" and test_event["Event"] == "s3:TestEvent"
    assert test_event["Bucket"] == bucket
    assert test_event["Time"].endswith("Z") and test_event["RequestId"] and test_event["HostId"]

    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue-{uuid.uuid4().hex[:6]}"
    _, unpolicied = new_queue(sqs, None)
    _, other_bucket = new_queue(sqs, "some-other-bucket")
    # S3 does not deliver to FIFO queues (AWS refuses them as destinations).
    fifo_url = sqs.create_queue(QueueName=f"s3-events-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fifo = sqs.get_queue_attributes(QueueUrl=fifo_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=fifo_url, Attributes={"Policy": s3_policy(fifo, bucket)})
    for refused in [missing, unpolicied, other_bucket, fifo]:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue_config(refused, ["s3:ObjectCreated:*"])]}
            )
        error = e.value.response["Error"]
        assert error["Code"] == "InvalidArgument"
        assert error["Message"] == "Unable to validate the following destination configurations"
        assert error["ArgumentName"] == refused
    # The refused configuration changed nothing; an empty one removes it.
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"] == wanted["QueueConfigurations"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations") is None


def test_matching_uploads_arrive_as_records(s3, sqs):
    bucket = new_bucket(s3)
    url, arn = new_queue(sqs, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], suffix=".csv")]
        },
    )
    assert drain(sqs, url, 1)[0]["Event"] == "s3:TestEvent"

    put = s3.put_object(Bucket=bucket, Key="reports/day 1.csv", Body=b"a,b\n1,2\n")
    # Sent before the PUT was answered: the message is there at once.
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    [message] = answer["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    [record] = json.loads(message["Body"])["Records"]
    assert record["eventSource"] == "aws:s3" and record["awsRegion"] == REGION
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "q1"
    assert record["s3"]["bucket"]["name"] == bucket and record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    assert obj["key"] == "reports/day+1.csv"
    assert obj["size"] == len(b"a,b\n1,2\n") and obj["eTag"] == put["ETag"].strip('"')

    s3.put_object(Bucket=bucket, Key="reports/day1.txt", Body=b"not matching")
    s3.delete_object(Bucket=bucket, Key="reports/day 1.csv")
    got = drain(sqs, url, 2, timeout=3)
    assert [r["Records"][0]["eventName"] for r in got] == ["ObjectRemoved:Delete"]
    assert "size" not in got[0]["Records"][0]["s3"]["object"]

    # A policy that no longer lets S3 send stops delivery (the event is dropped, as on AWS).
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": s3_policy(arn, "some-other-bucket")})
    s3.put_object(Bucket=bucket, Key="late.csv", Body=b"x")
    assert drain(sqs, url, 1, timeout=2) == []


def test_several_configurations_round_trip(s3, sqs):
    """Several configurations (one queue, different events and filters) come back as sent."""
    bucket = new_bucket(s3)
    _, arn = new_queue(sqs, bucket)
    wanted = [
        queue_config(arn, ["s3:ObjectCreated:Put"], id="a"),
        queue_config(arn, ["s3:ObjectRemoved:*"], prefix="logs/", id="b"),
    ]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": wanted})
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"] == wanted


def test_put_latency_with_a_queue_destination(s3, sqs):
    """What sending the event before answering costs a PUT: p50 with a queue destination beside
    p50 without (the send waits for the queue's group commit)."""
    import statistics

    plain = new_bucket(s3)
    wired = new_bucket(s3)
    url, arn = new_queue(sqs, wired)
    s3.put_bucket_notification_configuration(
        Bucket=wired, NotificationConfiguration={"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]}
    )

    def p50(bucket: str) -> float:
        times = []
        for i in range(20):
            start = time.monotonic()
            s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x" * 1024)
            times.append(time.monotonic() - start)
        return statistics.median(times)

    without, with_queue = p50(plain), p50(wired)
    print(f"PUT 1 KB p50: {without * 1000:.1f} ms without notifications, {with_queue * 1000:.1f} ms with a queue destination")
    assert len(drain(sqs, url, 21)) == 21  # the TestEvent and every upload


def test_aws_cli_wires_a_bucket_to_a_queue(endpoint, s3, sqs, tmp_path):
    """The AWS guide's walkthrough with the real CLI: set the queue policy, configure the bucket,
    upload with `aws s3 cp`, receive the record."""
    env = client_env_for(endpoint)
    run = lambda *args: aws(["--endpoint-url", endpoint, "--region", REGION, *args], env)
    bucket = new_bucket(s3)
    url, arn = new_queue(sqs, None)
    policy = run("sqs", "set-queue-attributes", "--queue-url", url, "--attributes", json.dumps({"Policy": s3_policy(arn, bucket)}))
    assert policy.returncode == 0, policy.stderr
    configuration = {"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"], prefix="images/")]}
    put = run(
        "s3api", "put-bucket-notification-configuration", "--bucket", bucket,
        "--notification-configuration", json.dumps(configuration),
    )
    assert put.returncode == 0, put.stderr
    got = run("s3api", "get-bucket-notification-configuration", "--bucket", bucket)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["QueueConfigurations"] == configuration["QueueConfigurations"]
    assert drain(sqs, url, 1)[0]["Event"] == "s3:TestEvent"
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG not really")
    cp = run("s3", "cp", str(image), f"s3://{bucket}/images/cat.png")
    assert cp.returncode == 0, cp.stderr
    [message] = drain(sqs, url, 1)
    record = message["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["object"]["key"] == "images/cat.png"
