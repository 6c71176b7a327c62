"""`nubo serve` and SIGTERM: an idle server exits within 100 ms; requests in flight may finish within
`--shutdown-grace`; a client that never finishes its request cannot hold the exit past it."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from conftest import ROLE, invoke, lambda_client_for, make_zip, unique_name

IDLE_EXIT_SECONDS = 0.100


def sigterm_and_time(srv) -> tuple[float, int | None]:
    """Sends SIGTERM to the server alone and times its exit with a blocking wait (a wait with a
    timeout polls, which would add its own latency to the figure)."""
    proc = srv.proc
    exited = threading.Event()
    ended: list[float] = []

    def wait() -> None:
        proc.wait()
        ended.append(time.monotonic())
        exited.set()

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    assert exited.wait(30), "the server did not exit within 30 s of SIGTERM"
    return ended[0] - start, proc.returncode


def test_idle_server_exits_within_100ms_of_sigterm(start_server, tmp_path):
    srv = start_server(tmp_path / "idle")
    elapsed, code = sigterm_and_time(srv)
    assert code == 0, srv.stderr_text()
    assert elapsed < IDLE_EXIT_SECONDS, f"exited {elapsed * 1000:.1f} ms after SIGTERM"


def test_server_idle_after_work_exits_within_100ms(start_server, tmp_path):
    """A warm environment and the client's open keep-alive connection do not hold the exit."""
    srv = start_server(tmp_path / "after-work")
    lam = lambda_client_for(srv.endpoint)
    name = unique_name("shutdown")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(event, context):\n    return event\n"})},
    )
    result = invoke(lam, name, {"warm": True})
    assert result.function_error is None, result
    elapsed, code = sigterm_and_time(srv)
    assert code == 0, srv.stderr_text()
    assert elapsed < IDLE_EXIT_SECONDS, f"exited {elapsed * 1000:.1f} ms after SIGTERM"


def test_invocation_in_flight_finishes_before_exit(start_server, tmp_path):
    srv = start_server(tmp_path / "in-flight")
    lam = lambda_client_for(srv.endpoint)
    name = unique_name("drain")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Timeout=10,
        Code={"ZipFile": make_zip({"app.py": (
            "import time\n"
            "def handler(event, context):\n"
            "    if event.get('sleep'):\n"
            "        time.sleep(event['sleep'])\n"
            "    return {'slept': event.get('sleep', 0)}\n"
        )})},
    )
    assert invoke(lam, name, {}).function_error is None  # warm, so the next call is only the sleep
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(invoke, lam, name, {"sleep": 1.0})
        deadline = time.monotonic() + 10
        while not srv_has_active_invocation(srv) and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed, code = sigterm_and_time(srv)
        result = pending.result(timeout=30)
    assert result.function_error is None and result.json == {"slept": 1.0}, result
    assert code == 0, srv.stderr_text()
    assert elapsed < 5, f"exited {elapsed:.2f} s after SIGTERM"


def srv_has_active_invocation(srv) -> bool:
    with urllib.request.urlopen(srv.endpoint + "/_nubo/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return any(line.startswith("nubo_active_invocations ") and not line.endswith(" 0") for line in text.splitlines())


def test_a_request_never_finished_cannot_hold_the_exit_past_the_grace(start_server, tmp_path):
    srv = start_server(tmp_path / "half-sent", extra_args=["--shutdown-grace", "1"])
    address = urlparse(srv.endpoint)
    with socket.create_connection((address.hostname, address.port)) as half_sent:
        half_sent.sendall(b"GET /_nubo/health HTTP/1.1\r\nHost: localhost\r\n")  # no blank line
        # The test means something only once the server has read those bytes (else it would just
        # never accept the connection): poll the kernel's view of its receive queue.
        client_port = half_sent.getsockname()[1]
        deadline = time.monotonic() + 10
        while not server_has_read(address.port, client_port):
            assert time.monotonic() < deadline, "the server never read the request's first bytes"
            time.sleep(0.01)
        elapsed, code = sigterm_and_time(srv)
    assert code == 0, srv.stderr_text()
    assert 0.9 < elapsed < 3, f"exited {elapsed:.2f} s after SIGTERM with --shutdown-grace 1"


def server_has_read(server_port: int, client_port: int) -> bool:
    """Whether the server's end of the connection is established with nothing left unread."""
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if local.endswith(f":{server_port:04X}") and remote.endswith(f":{client_port:04X}") and state == "01":
            return int(queues.split(":")[1], 16) == 0
    return False
