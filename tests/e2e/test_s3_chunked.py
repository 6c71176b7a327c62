"""aws-chunked uploads as SDKs send them: `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a trailing
`x-amz-checksum-crc32` (boto3 and the JS SDK over TLS), and `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
with a signature per chunk (the Java SDK). Signed here by hand, byte for byte as the SigV4 spec
says; a tampered chunk or a wrong trailer stores nothing."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.client
import uuid
import zlib

import pytest

from conftest import REGION, credentials_for
from test_s3 import s3_client

EMPTY = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class Signer:
    def __init__(self, endpoint: str):
        creds = credentials_for(endpoint)
        self.key_id, self.secret = creds["aws_access_key_id"], creds["aws_secret_access_key"]
        self.host = endpoint.removeprefix("http://")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        self.day = now.strftime("%Y%m%d")
        self.scope = f"{self.day}/{REGION}/s3/aws4_request"
        key = _hmac(f"AWS4{self.secret}".encode(), self.day)
        for part in (REGION, "s3", "aws4_request"):
            key = _hmac(key, part)
        self.signing_key = key

    def sign(self, text: str) -> str:
        return hmac.new(self.signing_key, text.encode(), hashlib.sha256).hexdigest()

    def headers(self, method: str, path: str, payload: str, extra: dict[str, str]) -> tuple[dict[str, str], str]:
        headers = {"host": self.host, "x-amz-date": self.amz_date, "x-amz-content-sha256": payload, **extra}
        names = sorted(headers)
        canonical = "\n".join(
            [method, path, "", *[f"{n}:{headers[n].strip()}" for n in names], "", ";".join(names), payload]
        )
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", self.amz_date, self.scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signature = self.sign(to_sign)
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.key_id}/{self.scope}, SignedHeaders={';'.join(names)}, "
            f"Signature={signature}"
        )
        return headers, signature

    def chunk_signature(self, previous: str, data: bytes) -> str:
        return self.sign(
            "\n".join(
                ["AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, previous, EMPTY, hashlib.sha256(data).hexdigest()]
            )
        )


def send(endpoint: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    host, port = endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("PUT", path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture(scope="module")
def bucket(endpoint):
    name = f"chunked-{uuid.uuid4().hex[:10]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def unsigned_trailer_body(data: bytes, piece: int, checksum: str) -> bytes:
    out = b""
    for i in range(0, len(data), piece):
        chunk = data[i : i + piece]
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    return out + b"0\r\n" + f"x-amz-checksum-crc32:{checksum}\r\n\r\n".encode()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_unsigned_payload_with_a_checksum_trailer(endpoint, bucket):
    data = bytes(range(256)) * 300
    signer = Signer(endpoint)
    extra = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    headers, _ = signer.headers("PUT", f"/{bucket}/trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", extra)
    status, reply = send(endpoint, f"/{bucket}/trailer", headers, unsigned_trailer_body(data, 8192, crc32_b64(data)))
    assert status == 200, reply
    got = s3_client(endpoint).get_object(Bucket=bucket, Key="trailer")
    assert got["Body"].read() == data
    assert got.get("ContentEncoding") is None  # aws-chunked is how it travelled, not what it is
    # A trailer that does not match the bytes: BadDigest, nothing stored.
    headers, _ = signer.headers("PUT", f"/{bucket}/bad-trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", extra)
    status, reply = send(endpoint, f"/{bucket}/bad-trailer", headers, unsigned_trailer_body(data, 8192, "AAAAAA=="))
    assert status == 400 and b"<Code>BadDigest</Code>" in reply, reply
    listed = s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix="bad")
    assert listed["KeyCount"] == 0


def signed_chunks(signer: Signer, seed: str, data: bytes, piece: int, tamper: bool = False) -> bytes:
    out, previous = b"", seed
    chunks = [data[i : i + piece] for i in range(0, len(data), piece)] + [b""]
    for n, chunk in enumerate(chunks):
        signature = signer.chunk_signature(previous, chunk)
        previous = signature
        sent = chunk
        if tamper and n == 1:
            sent = bytes([chunk[0] ^ 1]) + chunk[1:]
        out += f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + sent + b"\r\n"
    return out


def test_signed_chunks(endpoint, bucket):
    data = b"0123456789abcdef" * 5000
    signer = Signer(endpoint)
    extra = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    headers, seed = signer.headers("PUT", f"/{bucket}/signed", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", extra)
    status, reply = send(endpoint, f"/{bucket}/signed", headers, signed_chunks(signer, seed, data, 16384))
    assert status == 200, reply
    assert s3_client(endpoint).get_object(Bucket=bucket, Key="signed")["Body"].read() == data
    # One byte changed in the second chunk: refused, nothing stored.
    headers, seed = signer.headers("PUT", f"/{bucket}/tampered", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", extra)
    status, reply = send(endpoint, f"/{bucket}/tampered", headers, signed_chunks(signer, seed, data, 16384, tamper=True))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in reply, reply
    assert s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix="tampered")["KeyCount"] == 0


def test_signed_payload_hash_is_checked(endpoint, bucket):
    signer = Signer(endpoint)
    claimed = hashlib.sha256(b"what was signed").hexdigest()
    headers, _ = signer.headers("PUT", f"/{bucket}/hash", claimed, {})
    status, reply = send(endpoint, f"/{bucket}/hash", headers, b"something else!")
    assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in reply, reply
    assert s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix="hash")["KeyCount"] == 0
