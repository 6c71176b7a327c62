"""The thumbnail example end to end: `examples/thumbnail/deploy.py` (one command: Pillow packaged
into the zip, buckets, role, function, notification), then boto3 uploads PNGs to the source bucket
and the test decodes the thumbnails the function wrote to the destination bucket."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import zlib

import pytest
from botocore.exceptions import ClientError

from conftest import REPO, client_env_for
from test_s3 import s3_client

DEPLOY = REPO / "examples" / "thumbnail" / "deploy.py"


def png(width: int, height: int, pixel) -> bytes:
    """An 8-bit RGB PNG whose pixel (x, y) is `pixel(x, y)`."""
    raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def decode_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """Width, height and rows of pixels of an 8-bit RGB/RGBA/grey PNG (all five row filters)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0, header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    stride = width * channels
    raw = zlib.decompress(idat)
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + predictor) & 0xFF
        rows.append([tuple(line[x * channels : (x + 1) * channels]) for x in range(width)])
        previous = line
    return width, height, rows


def test_png_helpers_round_trip():
    image = png(3, 2, lambda x, y: (x * 80, y * 100, 7))
    width, height, rows = decode_png(image)
    assert (width, height) == (3, 2) and rows[1][2] == (160, 100, 7)


def test_uploads_become_thumbnails(server, endpoint):
    server.runtime_sdk()  # the function's boto3 is the runtime's
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **client_env_for(endpoint)}
    deployed = subprocess.run(
        [sys.executable, str(DEPLOY), "--endpoint", endpoint, "--source-bucket", "photos", "--dest-bucket", "thumbs"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    s3 = s3_client(endpoint)
    red, blue = (220, 20, 20), (20, 20, 220)
    images = {
        "wide.png": png(400, 200, lambda x, y: red if x < 200 else blue),
        "in dir/tall image.png": png(60, 300, lambda x, y: blue),
    }
    for key, body in images.items():
        s3.put_object(Bucket="photos", Key=key, Body=body, ContentType="image/png")
    results = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(results) < len(images):
        for key in images:
            if key not in results:
                try:
                    results[key] = s3.get_object(Bucket="thumbs", Key=key)
                except ClientError as e:
                    if e.response["Error"]["Code"] != "NoSuchKey":
                        raise
        time.sleep(0.2)
    assert set(results) == set(images), f"thumbnails made: {sorted(results)}"
    wide = results["wide.png"]
    assert wide["ContentType"] == "image/png" and wide["Metadata"] == {"source": "photos/wide.png"}
    width, height, rows = decode_png(wide["Body"].read())
    assert (width, height) == (128, 64)
    assert rows[32][5][:3] == red and rows[32][122][:3] == blue
    width, height, rows = decode_png(results["in dir/tall image.png"]["Body"].read())
    assert (width, height) == (26, 128) or (width, height) == (25, 128)
    assert rows[64][10][:3] == blue
