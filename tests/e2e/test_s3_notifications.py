"""Bucket notifications to Lambda: configuration round trip and refusals, event-type wildcards and
key filters, S3's event record (URL-encoded keys, size, eTag, sequencer), delete events, and the
latency from an acknowledged upload to the function."""

from __future__ import annotations

import statistics
import time
import uuid
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, function_arn
from test_async import calls, create_recorder, wait_for
from test_s3 import s3_client


@pytest.fixture(scope="module")
def s3(endpoint):
    return s3_client(endpoint)


def config(arn: str, events: list[str], prefix: str | None = None, suffix: str | None = None, id: str = "c1"):
    entry = {"Id": id, "LambdaFunctionArn": arn, "Events": events}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v is not None]
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": rules}}
    return {"LambdaFunctionConfigurations": [entry]}


def new_bucket(s3) -> str:
    name = f"events-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def s3_recorder(lam, bucket: str, out) -> str:
    """A recorder function S3 may invoke for `bucket`: the permission `aws lambda add-permission
    --principal s3.amazonaws.com --source-arn arn:aws:s3:::BUCKET` grants, as on AWS."""
    name = create_recorder(lam, out)
    lam.add_permission(
        FunctionName=name,
        StatementId=f"s3-{bucket}",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    return name


def records(path) -> list[dict]:
    return [c["event"]["Records"][0] for c in calls(path)]


def test_configuration_round_trip_and_refusals(s3, lam, tmp_path):
    bucket = new_bucket(s3)
    unpermitted = function_arn(create_recorder(lam, tmp_path / "unpermitted.jsonl"))
    name = s3_recorder(lam, bucket, tmp_path / "unused.jsonl")
    arn = function_arn(name)
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations") is None
    wanted = config(arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], prefix="in/", suffix=".jpg")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["LambdaFunctionConfigurations"] == wanted["LambdaFunctionConfigurations"]
    for bad, code in [
        (config(function_arn("no-such-function"), ["s3:ObjectCreated:*"]), "InvalidArgument"),
        (config(arn, ["s3:ObjectInvented:*"]), "InvalidArgument"),
        # S3 may invoke only a function whose policy lets it (AddPermission), as on AWS.
        (config(unpermitted, ["s3:ObjectCreated:*"]), "InvalidArgument"),
        ({"QueueConfigurations": [{"QueueArn": f"arn:aws:sqs:{REGION}:000000000000:q", "Events": ["s3:ObjectCreated:*"]}]}, "InvalidArgument"),
    ]:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=bad)
        assert e.value.response["Error"]["Code"] == code
    # A refused configuration changed nothing; an empty one removes it.
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations") is None


def test_uploads_and_deletes_reach_the_function_filtered(s3, lam, tmp_path):
    bucket = new_bucket(s3)
    out = tmp_path / "events.jsonl"
    arn = function_arn(s3_recorder(lam, bucket, out))
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration=config(arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], prefix="uploads/", suffix=".jpg"),
    )
    put = s3.put_object(Bucket=bucket, Key="uploads/Happy Face+1.jpg", Body=b"jpeg bytes")
    s3.put_object(Bucket=bucket, Key="other/a.jpg", Body=b"x")
    s3.put_object(Bucket=bucket, Key="uploads/b.png", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="uploads/copy.jpg", CopySource={"Bucket": bucket, "Key": "uploads/Happy Face+1.jpg"})
    s3.delete_object(Bucket=bucket, Key="uploads/copy.jpg")
    seen = wait_for(lambda: len(records(out)) >= 3 and records(out), timeout=60)
    assert seen, "no events arrived"
    time.sleep(0.5)  # nothing else may arrive
    got = records(out)
    assert sorted(r["eventName"] for r in got) == ["ObjectCreated:Copy", "ObjectCreated:Put", "ObjectRemoved:Delete"]
    created = next(r for r in got if r["eventName"] == "ObjectCreated:Put")
    assert created["eventSource"] == "aws:s3" and created["awsRegion"] == REGION
    assert created["s3"]["configurationId"] == "c1"
    assert created["s3"]["bucket"] == {
        "name": bucket, "ownerIdentity": created["s3"]["bucket"]["ownerIdentity"], "arn": f"arn:aws:s3:::{bucket}"
    }
    obj = created["s3"]["object"]
    assert obj["key"] == "uploads/Happy+Face%2B1.jpg"
    assert urllib.parse.unquote_plus(obj["key"]) == "uploads/Happy Face+1.jpg"
    assert obj["size"] == len(b"jpeg bytes") and obj["eTag"] == put["ETag"].strip('"')
    assert int(obj["sequencer"], 16) > 0
    removed = next(r for r in got if r["eventName"] == "ObjectRemoved:Delete")
    assert "size" not in removed["s3"]["object"] and removed["s3"]["object"]["key"] == "uploads/copy.jpg"


def test_multipart_completion_is_one_event(s3, lam, tmp_path):
    bucket = new_bucket(s3)
    out = tmp_path / "events.jsonl"
    arn = function_arn(s3_recorder(lam, bucket, out))
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=config(arn, ["s3:ObjectCreated:CompleteMultipartUpload"])
    )
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=1, Body=b"only part")["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    s3.put_object(Bucket=bucket, Key="plain", Body=b"not this one")
    assert wait_for(lambda: records(out), timeout=60)
    time.sleep(0.5)
    got = records(out)
    assert [r["eventName"] for r in got] == ["ObjectCreated:CompleteMultipartUpload"]
    assert got[0]["s3"]["object"]["eTag"].endswith("-1")


def test_upload_reaches_the_function_quickly(s3, lam, tmp_path):
    """From the acknowledged PutObject to the (warm) function receiving the event: p50 < 100 ms."""
    from test_async import RECORDER  # noqa: F401 (the recorder stamps nothing; we time on the host)

    bucket = new_bucket(s3)
    out = tmp_path / "events.jsonl"
    arn = function_arn(s3_recorder(lam, bucket, out))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config(arn, ["s3:ObjectCreated:Put"]))
    s3.put_object(Bucket=bucket, Key="warm-up", Body=b"x")  # the cold start is not what is measured
    assert wait_for(lambda: len(calls(out)) >= 1, timeout=60)
    latencies = []
    for i in range(15):
        before = len(calls(out))
        start = time.monotonic()
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
        acknowledged = time.monotonic()
        assert wait_for(lambda: len(calls(out)) > before, timeout=30, interval=0.002)
        latencies.append(time.monotonic() - acknowledged)
        del start
    p50 = statistics.median(latencies)
    print(f"S3 event latency after the PUT's answer: p50 {p50 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    assert p50 < 0.1, latencies
