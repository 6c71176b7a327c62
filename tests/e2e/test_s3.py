"""S3 through boto3 and the AWS CLI against the real server: buckets, objects (ranges,
conditions, metadata, checksums), listing, copy, multipart, tagging, CORS, and the unhappy paths
with S3's XML errors. Every request is signed with the server's administrator key (or a user's)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_cli import aws
from conftest import REGION, client_env_for, credentials_for


def s3_client(endpoint: str, **creds):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=120),
        **(creds or credentials_for(endpoint)),
    )


@pytest.fixture(scope="module")
def s3(endpoint):
    return s3_client(endpoint)


def bucket_name(prefix: str = "b") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    return name


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_bucket_lifecycle(s3):
    name = bucket_name()
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == REGION
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error(e) == ("BucketAlreadyOwnedByYou", 409)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error(e) == ("BucketNotEmpty", 409)
    assert e.value.response["Error"]["BucketName"] == name
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert error(e) == ("404", 404)
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert error(e) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert error(e) == ("InvalidBucketName", 400)


def test_location_constraints(endpoint, s3):
    name = bucket_name()
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error(e) == ("IllegalLocationConstraintException", 400)
    eu = boto3.client(
        "s3", endpoint_url=endpoint, region_name="eu-west-1", **credentials_for(endpoint)
    )
    eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    eu.delete_bucket(Bucket=name)


def test_put_get_head_with_metadata_and_headers(s3, bucket):
    body = b"hello, world\n" * 100
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/hello world+1.txt",
        Body=body,
        ContentType="text/plain",
        ContentDisposition="attachment",
        CacheControl="max-age=60",
        Metadata={"owner": "nubo", "Mixed-Case": "v"},
    )
    etag = '"' + hashlib.md5(body).hexdigest() + '"'
    assert put["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="dir/hello world+1.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == etag
    assert got["ContentType"] == "text/plain"
    assert got["ContentDisposition"] == "attachment"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"owner": "nubo", "mixed-case": "v"}
    head = s3.head_object(Bucket=bucket, Key="dir/hello world+1.txt")
    assert head["ContentLength"] == len(body) and head["ETag"] == etag
    assert head["LastModified"] == got["LastModified"]
    override = s3.get_object(Bucket=bucket, Key="dir/hello world+1.txt", ResponseContentType="application/x-test")
    assert override["ContentType"] == "application/x-test"
    # An empty object.
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""


def test_ranges_and_conditions(s3, bucket):
    body = bytes(range(256)) * 4
    etag = s3.put_object(Bucket=bucket, Key="r", Body=body)["ETag"]
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=5000-6000")
    assert error(e) == ("InvalidRange", 416)
    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfMatch='"0000"')
    assert error(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert error(e)[1] == 304
    modified = s3.head_object(Bucket=bucket, Key="r")["LastModified"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfModifiedSince=modified)
    assert error(e)[1] == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="r", IfMatch='"nope"')
    assert error(e) == ("412", 412)


def test_missing_keys_and_buckets(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error(e) == ("NoSuchKey", 404)
    assert e.value.response["Error"]["Key"] == "nope"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert error(e) == ("404", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket_name("missing"), Key="k", Body=b"x")
    assert error(e) == ("NoSuchBucket", 404)
    # Deleting a missing key is a success, as on S3.
    assert s3.delete_object(Bucket=bucket, Key="nope")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_wrong_md5_stores_nothing(s3, bucket):
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5=wrong)
    assert error(e) == ("BadDigest", 400)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5="notbase64!")
    assert error(e) == ("InvalidDigest", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="md5")
    right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=b"payload", ContentMD5=right)
    # Checksums the SDK computes are checked too.
    for algorithm in ("CRC32", "SHA1", "SHA256"):  # CRC32C needs botocore[crt]
        s3.put_object(Bucket=bucket, Key=f"sum-{algorithm}", Body=b"data", ChecksumAlgorithm=algorithm)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad-crc", Body=b"data", ChecksumCRC32="AAAAAA==")
    assert error(e) == ("BadDigest", 400)


def test_list_objects_v2_and_v1(s3, bucket):
    keys = ["a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt", "d e+f.txt", "z/ü.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert listed["KeyCount"] == len(keys)
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "z/"]
    assert [o["Key"] for o in top["Contents"]] == ["c.txt", "d e+f.txt"]
    inner = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in inner["Contents"]] == ["a/1.txt", "a/2.txt"]
    assert [p["Prefix"] for p in inner["CommonPrefixes"]] == ["a/b/"]
    # Pages of two through the paginator.
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    seen = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert seen == sorted(keys, key=lambda k: k.encode())
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="c.txt")
    assert [o["Key"] for o in after["Contents"]] == ["d e+f.txt", "z/ü.txt"]
    v1_pages = s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    assert [o["Key"] for page in v1_pages for o in page.get("Contents", [])] == sorted(keys, key=lambda k: k.encode())
    v1 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert v1["IsTruncated"] and v1["NextMarker"] == "a/"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="!!!")
    assert error(e) == ("InvalidArgument", 400)


def test_copy_and_delete_objects(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src key", Body=b"copy me", Metadata={"m": "1"}, ContentType="text/x")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src key"})
    assert copied["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(b"copy me").hexdigest() + '"'
    dst = s3.get_object(Bucket=bucket, Key="dst")
    assert dst["Body"].read() == b"copy me" and dst["Metadata"] == {"m": "1"} and dst["ContentType"] == "text/x"
    s3.copy_object(
        Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src key", MetadataDirective="REPLACE", Metadata={"n": "2"}
    )
    assert s3.head_object(Bucket=bucket, Key="dst2")["Metadata"] == {"n": "2"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src key", CopySource={"Bucket": bucket, "Key": "src key"})
    assert error(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert error(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src key"}, CopySourceIfMatch='"no"')
    assert error(e) == ("PreconditionFailed", 412)
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "dst"}, {"Key": "dst2"}, {"Key": "never"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["dst", "dst2", "never"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src key"]


def test_multipart_upload(s3, bucket):
    part1 = os.urandom(5 * 1024 * 1024)
    part2 = os.urandom(1234)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", ContentType="application/x-big")
    uid = upload["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    e1 = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=uid, PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=uid, PartNumber=2, Body=part2)["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(part1)), (2, len(part2))]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="big.bin", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]},
        )
    assert error(e) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="big.bin", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]},
        )
    assert error(e) == ("InvalidPart", 400)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    digest = hashlib.md5(bytes.fromhex(e1.strip('"')) + bytes.fromhex(e2.strip('"'))).hexdigest()
    assert done["ETag"] == f'"{digest}-2"'
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == part1 + part2
    assert got["ContentType"] == "application/x-big"
    span = s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={len(part1) - 3}-{len(part1) + 2}")
    assert span["Body"].read() == (part1 + part2)[len(part1) - 3 : len(part1) + 3]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=uid, PartNumber=3, Body=b"x")
    assert error(e) == ("NoSuchUpload", 404)
    # Abort, and a part copied from an object.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="copy.bin")["UploadId"]
    copied = s3.upload_part_copy(
        Bucket=bucket, Key="copy.bin", UploadId=uid, PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "big.bin"}, CopySourceRange="bytes=0-99",
    )
    assert copied["CopyPartResult"]["ETag"] == '"' + hashlib.md5(part1[:100]).hexdigest() + '"'
    s3.abort_multipart_upload(Bucket=bucket, Key="copy.bin", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key="copy.bin", UploadId=uid)
    assert error(e) == ("NoSuchUpload", 404)


def test_tagging_and_cors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two"}
    ]
    assert s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "c", "Value": "3"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error(e) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "x"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert error(e) == ("NoSuchCORSConfiguration", 404)
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 300}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(
            Bucket=bucket, CORSConfiguration={"CORSRules": [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]}
        )
    assert error(e) == ("InvalidRequest", 400)


def test_presigned_urls(endpoint, s3, bucket):
    import urllib.request

    # SigV4 query signatures (boto3 presigns S3 with SigV2 unless told otherwise).
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION,
        config=Config(signature_version="s3v4"), **credentials_for(endpoint)
    )
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"presigned"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.txt"}, ExpiresIn=60)
    request = urllib.request.Request(put_url, data=b"uploaded", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert s3.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"uploaded"
    tampered = url.replace("shared.txt", "up.txt")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()


def vhost_request(endpoint: str, method: str, bucket: str, path: str, body: bytes = b""):
    """A request signed for `{bucket}.s3.localhost` (the Host header names the bucket), sent to the
    server's loopback address (such names need not resolve on the test machine)."""
    import http.client

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = credentials_for(endpoint)
    port = int(endpoint.rsplit(":", 1)[1])
    host = f"{bucket}.s3.localhost:{port}"
    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body)
    S3SigV4Auth(Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), "s3", REGION).add_auth(request)
    headers = dict(request.headers.items())
    headers["Host"] = host
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def test_virtual_host_style(endpoint, s3, bucket):
    status, _ = vhost_request(endpoint, "PUT", bucket, "/v/h%20x.txt", b"virtual")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="v/h x.txt")["Body"].read() == b"virtual"
    assert vhost_request(endpoint, "GET", bucket, "/v/h%20x.txt") == (200, b"virtual")
    status, listing = vhost_request(endpoint, "GET", bucket, "/?list-type=2")
    assert status == 200 and b"<Key>v/h x.txt</Key>" in listing
    status, missing = vhost_request(endpoint, "GET", bucket, "/nope")
    assert status == 404 and b"<Code>NoSuchKey</Code>" in missing


def test_policies_limit_users(endpoint, server, s3, bucket):
    iam = server.client("iam")
    user = f"reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="read-one-bucket",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                 "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/public/*"]},
            ],
        }),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = s3_client(endpoint, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"ok")
    s3.put_object(Bucket=bucket, Key="private/b", Body=b"no")
    assert reader.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"ok"
    assert reader.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    with pytest.raises(ClientError) as e:
        reader.get_object(Bucket=bucket, Key="private/b")
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        reader.put_object(Bucket=bucket, Key="public/new", Body=b"x")
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        reader.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "public/a"}]})
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        reader.list_buckets()
    assert error(e) == ("AccessDenied", 403)


def test_unsupported_subresources_answer_not_implemented(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket=bucket)
    assert error(e) == ("NotImplemented", 501)


def test_aws_cli_cp_ls_sync_rm(endpoint, tmp_path, s3, bucket):
    env = client_env_for(endpoint)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over the CLI's 8 MB threshold: multipart
    small = tmp_path / "tree" / "small.txt"
    small.parent.mkdir()
    small.write_text("small file")
    (tmp_path / "tree" / "sub").mkdir()
    (tmp_path / "tree" / "sub" / "n.txt").write_text("nested")
    url = f"s3://{bucket}"
    run = lambda *args: aws(["--endpoint-url", endpoint, *args], env, timeout=120)
    cp = run("s3", "cp", str(big), f"{url}/big.bin")
    assert cp.returncode == 0, cp.stderr
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == big.stat().st_size and head["ETag"].endswith('-2"')
    down = tmp_path / "down.bin"
    cp = run("s3", "cp", f"{url}/big.bin", str(down))
    assert cp.returncode == 0, cp.stderr
    assert down.read_bytes() == big.read_bytes()
    sync = run("s3", "sync", str(tmp_path / "tree"), f"{url}/tree")
    assert sync.returncode == 0, sync.stderr
    ls = run("s3", "ls", f"{url}/tree/", "--recursive")
    assert ls.returncode == 0, ls.stderr
    assert "tree/small.txt" in ls.stdout and "tree/sub/n.txt" in ls.stdout
    ls = run("s3", "ls")
    assert bucket in ls.stdout
    rm = run("s3", "rm", f"{url}/tree", "--recursive")
    assert rm.returncode == 0, rm.stderr
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["big.bin"]
    missing = run("s3", "cp", f"{url}/nope", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "404" in missing.stderr


def test_sigv2_presigned_urls(s3, bucket):
    """boto3 presigns S3 URLs with SigV2 by default (`AWSAccessKeyId`, `Expires`, `Signature`)."""
    import urllib.request

    s3.put_object(Bucket=bucket, Key="v2 file.txt", Body=b"legacy")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "v2 file.txt", "ResponseContentType": "text/x-v2"}, ExpiresIn=60
    )
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"legacy"
        assert response.headers["Content-Type"] == "text/x-v2"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "v2-up"}, ExpiresIn=60)
    with urllib.request.urlopen(urllib.request.Request(put_url, data=b"up", method="PUT"), timeout=10) as response:
        assert response.status == 200
    assert s3.get_object(Bucket=bucket, Key="v2-up")["Body"].read() == b"up"
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2-up"}, ExpiresIn=-10)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(expired, timeout=10)
    assert e.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace("text%2Fx-v2", "text%2Fx-v3"), timeout=10)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()


def test_bucket_policies(endpoint, server, s3, bucket):
    """A bucket policy grants a user with no identity policy; a Deny in it stops even the
    administrator; it is stored, returned and deleted."""
    iam = server.client("iam")
    user = f"guest-{uuid.uuid4().hex[:8]}"
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    guest = s3_client(endpoint, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    s3.put_object(Bucket=bucket, Key="shared/a", Body=b"shared")
    s3.put_object(Bucket=bucket, Key="locked/b", Body=b"locked")
    with pytest.raises(ClientError) as e:
        guest.get_object(Bucket=bucket, Key="shared/a")
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert error(e) == ("NoSuchBucketPolicy", 404)
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/shared/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/locked/*"},
        ],
    })
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
    assert guest.get_object(Bucket=bucket, Key="shared/a")["Body"].read() == b"shared"
    with pytest.raises(ClientError) as e:
        guest.get_object(Bucket=bucket, Key="locked/b")
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="locked/b")
    assert error(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy="{not json")
    assert error(e) == ("MalformedPolicy", 400)
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="locked/b")["Body"].read() == b"locked"


def test_cors_rules_answer_browsers(endpoint, s3, bucket):
    """The bucket's CORS rules answer preflights (unsigned OPTIONS) and decorate actual answers."""
    import urllib.request

    def preflight(origin: str, method: str, headers: str = ""):
        request = urllib.request.Request(f"{endpoint}/{bucket}/photo.jpg", method="OPTIONS")
        request.add_header("Origin", origin)
        request.add_header("Access-Control-Request-Method", method)
        if headers:
            request.add_header("Access-Control-Request-Headers", headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), b""
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    status, _, body = preflight("https://app.example.com", "PUT")
    assert status == 403 and b"<Code>CORSResponse</Code>" in body
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
             "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600},
        ]},
    )
    status, headers, _ = preflight("https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
    assert status == 200, headers
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert "PUT" in headers["access-control-allow-methods"]
    assert headers["access-control-max-age"] == "600"
    assert preflight("https://evil.com", "PUT")[0] == 403
    assert preflight("https://app.example.com", "DELETE")[0] == 403
    assert preflight("https://app.example.com", "PUT", "authorization")[0] == 403
    # An actual (presigned) request from an allowed origin carries the grant.
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpg")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "photo.jpg"}, ExpiresIn=60)
    request = urllib.request.Request(url)
    request.add_header("Origin", "https://app.example.com")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert response.headers["Access-Control-Expose-Headers"] == "ETag"
