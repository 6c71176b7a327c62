"""SIGKILL in the middle of uploads: after a restart on the same data dir no partial object is
visible (listed, served or left on disk), and every acknowledged object reads back
byte-identical. Single PUTs and multipart uploads, each killed while its bytes stream in."""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import time
import urllib.parse
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, credentials_for

MB = 1024 * 1024


def client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(signature_version="s3v4", retries={"max_attempts": 0}, read_timeout=60),
        **credentials_for(endpoint),
    )


def start_slow_put(url: str, total: int, sent: int) -> http.client.HTTPConnection:
    """Starts a presigned PUT of `total` bytes and sends only the first `sent`: the server is then
    mid-write, waiting for the rest."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}", skip_accept_encoding=True)
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    chunk = os.urandom(MB)
    for _ in range(sent // MB):
        conn.send(chunk)
    return conn


def wait_for_upload_file(objects_dir: Path, timeout: float = 10.0) -> None:
    """Polls until the server has an upload in progress on disk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.name.startswith(".upload-") and p.stat().st_size > 0 for p in objects_dir.iterdir()):
            return
        time.sleep(0.05)
    pytest.fail(f"no upload in progress appeared in {objects_dir}: {list(objects_dir.iterdir())}")


def test_sigkill_mid_upload_leaves_no_partial_object(start_server):
    srv = start_server()
    s3 = client(srv.endpoint)
    bucket = "crash-test"
    s3.create_bucket(Bucket=bucket)
    acknowledged = {}
    for i in range(5):
        body = os.urandom(100_000 + i)
        s3.put_object(Bucket=bucket, Key=f"done/{i}", Body=body)
        acknowledged[f"done/{i}"] = hashlib.sha256(body).hexdigest()
    # A completed multipart upload, and an overwritten object (the first version's data must go).
    part = os.urandom(5 * MB)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="done/multi")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="done/multi", UploadId=uid, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="done/multi", UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="done/multi", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    acknowledged["done/multi"] = hashlib.sha256(part + b"tail").hexdigest()
    s3.put_object(Bucket=bucket, Key="done/0", Body=b"second version")
    acknowledged["done/0"] = hashlib.sha256(b"second version").hexdigest()

    # A multipart upload with one part acknowledged, a second one in flight.
    pending = s3.create_multipart_upload(Bucket=bucket, Key="partial/multi")["UploadId"]
    first = os.urandom(5 * MB)
    s3.upload_part(Bucket=bucket, Key="partial/multi", UploadId=pending, PartNumber=1, Body=first)
    objects_dir = srv.data_dir / "objects"

    single_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "partial/single"}, ExpiresIn=300
    )
    part_url = s3.generate_presigned_url(
        "upload_part",
        Params={"Bucket": bucket, "Key": "partial/multi", "UploadId": pending, "PartNumber": 2},
        ExpiresIn=300,
    )
    single = start_slow_put(single_url, total=64 * MB, sent=8 * MB)
    second = start_slow_put(part_url, total=64 * MB, sent=6 * MB)
    wait_for_upload_file(objects_dir)
    time.sleep(0.3)
    srv.stop(signal.SIGKILL)
    single.close()
    second.close()

    srv = start_server(data_dir=srv.data_dir)
    s3 = client(srv.endpoint)
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == set(acknowledged), listed
    for key, digest in acknowledged.items():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest, key
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="partial/single")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    parts = s3.list_parts(Bucket=bucket, Key="partial/multi", UploadId=pending)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 5 * MB)]
    # Nothing half-written stays on disk: no upload files, one data file per stored piece
    # (one per single object, one per part of the multipart object, the pending upload's part).
    files = sorted(p.name for p in objects_dir.iterdir())
    assert not [f for f in files if f.startswith(".")], files
    assert len(files) == (len(acknowledged) - 1) + 2 + 1, files
    # The pending upload can still be finished after the restart.
    e2 = s3.upload_part(Bucket=bucket, Key="partial/multi", UploadId=pending, PartNumber=2, Body=b"end")["ETag"]
    e1 = parts[0]["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="partial/multi", UploadId=pending,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert s3.get_object(Bucket=bucket, Key="partial/multi")["Body"].read() == first + b"end"
