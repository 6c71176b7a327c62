#!/usr/bin/env python3
"""S3 PUT/GET throughput and latency, 4 KB and 64 MB objects, beside same-run baselines:
the same bytes written with write()+fsync() to a file on the same file system, and served by
nginx from disk. One client (this script, one keep-alive connection, `http.client`), sequential
requests, bounded by count. S3 requests are SigV4-signed with `UNSIGNED-PAYLOAD` (the storage
path is what is measured, not the client's SHA-256).

    python3 scripts/bench_s3.py --nubo target/release/nubo [--count 200] [--big-count 5]

Prints a Markdown table (the rows of BENCHMARKS.md's "Buckets" section).
"""

from __future__ import annotations

import argparse
import configparser
import datetime
import hashlib
import hmac
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REGION = "us-east-1"


class Signer:
    def __init__(self, key_id: str, secret: str, host: str):
        self.key_id, self.secret, self.host = key_id, secret, host

    def headers(self, method: str, path: str, extra: dict[str, str]) -> dict[str, str]:
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        scope = f"{day}/{REGION}/s3/aws4_request"
        headers = {"host": self.host, "x-amz-date": amz_date, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", **extra}
        names = sorted(headers)
        canonical = "\n".join(
            [method, path, "", *[f"{n}:{headers[n]}" for n in names], "", ";".join(names), "UNSIGNED-PAYLOAD"]
        )
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = hmac.new(f"AWS4{self.secret}".encode(), day.encode(), hashlib.sha256).digest()
        for part in (REGION, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.key_id}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nubo(binary: str, data: Path) -> tuple[subprocess.Popen, str, Signer]:
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data), "--runtime-sdk-dir", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "NUBO_LOG": "warn"},
    )
    for line in proc.stdout:
        match = re.search(rb"listening on http://(\S+)", line)
        if match:
            host = match.group(1).decode()
            break
    creds = configparser.ConfigParser()
    creds.read(data / "credentials")
    section = creds["nubo"]
    return proc, host, Signer(section["aws_access_key_id"], section["aws_secret_access_key"], host)


def start_nginx(root: Path, work: Path) -> tuple[subprocess.Popen, int, str] | None:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not binary:
        return None
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(
        f"daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {work}/error.log;\npid {work}/nginx.pid;\n"
        "events { worker_connections 64; }\n"
        f"http {{ access_log off; sendfile on; client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;\n"
        f" fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;\n"
        f" server {{ listen 127.0.0.1:{port}; root {root}; }} }}\n"
    )
    proc = subprocess.Popen([binary, "-p", str(work), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            version = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr.strip()
            return proc, port, version.replace("nginx version: ", "")
        except OSError:
            time.sleep(0.02)
    proc.kill()
    return None


def timed(count: int, one) -> list[float]:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        one(i)
        samples.append(time.perf_counter() - start)
    return samples


def request(conn: http.client.HTTPConnection, method: str, path: str, headers: dict, body: bytes | None = None) -> bytes:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def row(name: str, samples: list[float], size: int, baseline_name: str, baseline: list[float]) -> str:
    def stats(xs: list[float]) -> tuple[float, float, float]:
        xs = sorted(xs)
        p50 = statistics.median(xs)
        p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
        mbps = size * len(xs) / sum(xs) / 1e6
        return p50 * 1000, p99 * 1000, mbps

    a, b = stats(samples), stats(baseline)
    return (
        f"| {name} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.1f} | {baseline_name} | {b[0]:.3f} | {b[1]:.3f} | {b[2]:.1f} "
        f"| {a[0] / b[0]:.2f} | {a[2] / b[2]:.2f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nubo", default="target/release/nubo")
    parser.add_argument("--count", type=int, default=200, help="requests per 4 KB scenario")
    parser.add_argument("--big-count", type=int, default=5, help="requests per 64 MB scenario")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nubo-bench-s3-"))
    proc, host, signer = start_nubo(args.nubo, work / "data")
    files = work / "files"
    files.mkdir()
    nginx = start_nginx(files, work)
    rows = []
    try:
        conn = http.client.HTTPConnection(*host.split(":"), timeout=120)
        request(conn, "PUT", "/bench", signer.headers("PUT", "/bench", {}))
        for label, size, count in (("4 KB", 4096, args.count), ("64 MB", 64 * 1024 * 1024, args.big_count)):
            body = os.urandom(size)
            put = timed(count, lambda i: request(
                conn, "PUT", f"/bench/{label[:2].strip()}-{i}",
                signer.headers("PUT", f"/bench/{label[:2].strip()}-{i}", {"content-length": str(size)}), body,
            ))

            def write_fsync(i: int) -> None:
                path = files / f"{label[:2].strip()}-{i}"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.write(fd, body)
                    os.fsync(fd)
                finally:
                    os.close(fd)

            fsync = timed(count, write_fsync)
            rows.append(row(f"PUT {label} (signed, fsync'd, committed)", put, size, "write()+fsync() of the same bytes", fsync))
            get = timed(count, lambda i: request(
                conn, "GET", f"/bench/{label[:2].strip()}-{i}", signer.headers("GET", f"/bench/{label[:2].strip()}-{i}", {})
            ))
            if nginx:
                peer = http.client.HTTPConnection("127.0.0.1", nginx[1], timeout=120)
                served = timed(count, lambda i: request(peer, "GET", f"/{label[:2].strip()}-{i}", {}))
                rows.append(row(f"GET {label}", get, size, f"{nginx[2]} serving the file", served))
            else:
                rows.append(f"| GET {label} | (nginx not installed: no baseline) |")
    finally:
        proc.kill()
        if nginx:
            nginx[0].kill()
        shutil.rmtree(work, ignore_errors=True)
    print("| scenario | p50 ms | p99 ms | MB/s | baseline | baseline p50 ms | baseline p99 ms | baseline MB/s | p50 ratio | MB/s ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
