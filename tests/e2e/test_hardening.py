"""The edge against clients that misbehave, and the keys a server hands out.

Raw sockets play slowloris (headers that never end, a byte at a time) and flood the connection cap;
`/_nubo/metrics` is for loopback or a token; the administrator's key lands in the data dir with mode
0600 and never in the output; dev credentials are opt-in and loudly so beyond loopback; zips with
conflicting paths are refused; code nothing refers to, and half-finished uploads, are swept at start.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import NUBO, REGION, ROLE, error_of, lambda_client_for, make_zip, unique_name


def host_port(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def closed_by_server(sock: socket.socket, deadline: float, trickle: bytes = b"") -> bool:
    """Waits (sending `trickle` a byte at a time between waits) until the server closes `sock`."""
    sent = 0
    while time.monotonic() < deadline:
        if trickle:
            try:
                sock.sendall(trickle[sent % len(trickle) : sent % len(trickle) + 1])
                sent += 1
            except OSError:
                return True
        sock.settimeout(0.3)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            return True
        if data == b"" or data.startswith(b"HTTP/1.1 408"):
            return True
    return False


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_slow_headers_are_cut_off_and_extra_connections_refused(start_server):
    srv = start_server(extra_args=["--header-timeout", "2", "--max-connections", "4"])
    address = host_port(srv.endpoint)
    slow = []
    for _ in range(3):
        sock = socket.create_connection(address, timeout=5)
        sock.sendall(b"GET /_nubo/health HTTP/1.1\r\nHost: x\r\n")  # never finished
        slow.append(sock)
    trickler = socket.create_connection(address, timeout=5)
    slow.append(trickler)

    # The cap is reached: one more connection is told so and closed.
    deadline = time.monotonic() + 5
    while True:
        extra = socket.create_connection(address, timeout=5)
        extra.settimeout(5)
        reply = extra.recv(4096)
        extra.close()
        if reply.startswith(b"HTTP/1.1 503"):
            break
        assert time.monotonic() < deadline, reply  # the health checks' connections may still be closing

    # Each slow client is closed once its header time is up, also the one still sending.
    started = time.monotonic()
    assert closed_by_server(trickler, started + 10, trickle=b"X-Slow: yes\r\n")
    for sock in slow[:-1]:
        assert closed_by_server(sock, started + 10)
    assert time.monotonic() - started < 8
    for sock in slow:
        sock.close()

    # And the server serves again.
    deadline = time.monotonic() + 5
    while get(srv.endpoint + "/_nubo/health")[0] != 200:
        assert time.monotonic() < deadline


def test_metrics_need_the_token_when_one_is_set(start_server):
    srv = start_server(extra_args=["--metrics-token", "s3cret-token"])
    status, _ = get(srv.endpoint + "/_nubo/metrics")
    assert status == 401
    status, _ = get(srv.endpoint + "/_nubo/metrics", {"Authorization": "Bearer wrong"})
    assert status == 401
    status, body = get(srv.endpoint + "/_nubo/metrics", {"Authorization": "Bearer s3cret-token"})
    assert status == 200 and b"nubo_" in body
    assert get(srv.endpoint + "/_nubo/health")[0] == 200


def primary_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_beyond_loopback_dev_credentials_warn_and_metrics_stay_local(start_server):
    srv = start_server(listen="0.0.0.0:0", extra_env={"NUBO_DEV_CREDENTIALS": "1"})
    warning = [l for l in srv.stdout_lines if "WARNING: dev credentials" in l]
    assert warning and "anyone who can reach it" in warning[0], srv.stdout_lines
    port = host_port(srv.endpoint)[1]
    assert get(f"http://127.0.0.1:{port}/_nubo/metrics")[0] == 200
    address = primary_address()
    if address is None:
        pytest.skip("no non-loopback address to reach the server from")
    status, body = get(f"http://{address}:{port}/_nubo/metrics")
    assert status == 403 and b"loopback" in body
    assert get(f"http://{address}:{port}/_nubo/health")[0] == 200


def test_dev_credentials_are_opt_in(start_server, endpoint):
    dev = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    with pytest.raises(ClientError) as excinfo:
        boto3.client("lambda", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}), **dev).list_functions()
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)

    srv = start_server(extra_env={"NUBO_DEV_CREDENTIALS": "1"})
    assert any(l.startswith("nubo: dev credentials:") for l in srv.stdout_lines), srv.stdout_lines
    sts = boto3.client("sts", endpoint_url=srv.endpoint, region_name=REGION, **dev)
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    lam = boto3.client("lambda", endpoint_url=srv.endpoint, region_name=REGION, **dev)
    lam.create_function(
        FunctionName="dev-made", Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return 1\n"})},
    )
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["dev-made"]


def test_the_administrators_key_stays_in_the_data_dir(start_server, tmp_path):
    data = tmp_path / "keyed"
    srv = start_server(data_dir=data)
    credentials = data / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    text = credentials.read_text()
    assert "[nubo]" in text
    secret = srv.credentials["aws_secret_access_key"]
    assert secret in text
    assert any("profile `nubo`" in l and "written now" in l for l in srv.stdout_lines), srv.stdout_lines
    config = (data / "config").read_text()
    assert f"endpoint_url = {srv.endpoint}" in config and "[profile nubo]" in config

    # The AWS CLI needs nothing but the two files and the profile.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(credentials), AWS_CONFIG_FILE=str(data / "config"), AWS_PROFILE="nubo")
    aws = Path(os.sys.executable).parent / "aws"
    proc = subprocess.run([str(aws), "sts", "get-caller-identity"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"].endswith(":user/admin")

    # Nubo's own CLI finds the key through --data-dir alone.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    proc = subprocess.run(
        [str(NUBO), "functions", "--endpoint", srv.endpoint, "--data-dir", str(data)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr

    # A restart keeps the key; the secret never appears in the output or the log.
    again = start_server.restart(srv)
    assert credentials.read_text() == text
    assert again.credentials == srv.credentials
    assert any("profile `nubo`" in l and "kept" in l for l in again.stdout_lines)
    for server in (srv, again):
        assert secret not in "\n".join(server.stdout_lines)
        assert secret not in server.stderr_text()


def duplicate_name_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return 'first'\n")
        with pytest.warns(UserWarning):
            zf.writestr("app.py", "def handler(e, c):\n    return 'second'\n")
    return buf.getvalue()


def test_zips_with_conflicting_paths_are_refused(lam):
    file_and_dir = make_zip({"lib": "a file", "lib/x.py": "x = 1\n", "app.py": "def handler(e, c):\n    return 1\n"})
    for code in (duplicate_name_zip(), file_and_dir):
        name = unique_name("conflict")
        with pytest.raises(ClientError) as excinfo:
            lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code})
        assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_unreferenced_code_and_interrupted_uploads_are_swept_at_start(start_server, tmp_path):
    data = tmp_path / "sweep"
    srv = start_server(data_dir=data)
    lam = lambda_client_for(srv.endpoint)
    code = lambda v: make_zip({"app.py": f"def handler(e, c):\n    return {v}\n"})
    lam.create_function(FunctionName="kept", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code(1)})
    kept_sha = lam.get_function(FunctionName="kept")["Configuration"]["CodeSha256"]
    lam.create_function(FunctionName="gone", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code(2)})
    lam.update_function_code(FunctionName="kept", ZipFile=code(3), Publish=True)
    lam.delete_function(FunctionName="gone")
    code_dir = data / "code" / "sha256"
    (code_dir / ".staging-123-456-7").mkdir()
    (code_dir / ("0" * 64 + ".tmp-1-2-3")).write_bytes(b"half a zip")
    assert len([p for p in code_dir.iterdir() if p.suffix == ".zip"]) == 3

    srv = start_server.restart(srv)
    left = sorted(p.name for p in code_dir.iterdir())
    zips = [n for n in left if n.endswith(".zip")]
    # Code 1 was replaced (the update published version 1 with code 3) and code 2's function is
    # gone: code 3 alone is referenced, by $LATEST and version 1.
    assert len(zips) == 1, left
    assert not any(n.startswith(".staging-") or ".tmp-" in n for n in left), left
    assert all(n == zips[0] or n == zips[0][:-4] for n in left), left
    # What is referenced still runs.
    lam = lambda_client_for(srv.endpoint)
    assert json.loads(lam.invoke(FunctionName="kept")["Payload"].read()) == 3
    assert kept_sha != lam.get_function(FunctionName="kept")["Configuration"]["CodeSha256"]
