"""The sandbox: memory limit and OOM, pids limit, private filesystem view, private /tmp.

Each test needs one isolation piece; it is skipped (with the server's own words) when the server
reported that piece as unavailable on its `nubo: isolation:` line.
"""

from __future__ import annotations

import glob
import os
import re
import threading
import time
import uuid

import pytest

from conftest import invoke, make_zip

PROBE = r"""
import json, os, time

def handler(event, context):
    action = event.get("action")
    if action == "alloc":
        block = bytearray(event["mb"] * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        return len(block)
    if action == "write":
        with open(event["path"], "w") as f:
            f.write(event.get("text", "x"))
        return "written"
    if action == "read":
        try:
            with open(event["path"]) as f:
                return {"text": f.read()}
        except OSError as e:
            return {"error": type(e).__name__}
    if action == "listdir":
        try:
            return {"entries": sorted(os.listdir(event["path"]))}
        except OSError as e:
            return {"error": type(e).__name__}
    if action == "statvfs":
        st = os.statvfs(event["path"])
        return {"total_mb": st.f_blocks * st.f_frsize // (1024 * 1024)}
    if action == "fork":
        forked, blocked = 0, None
        for _ in range(event["max"]):
            try:
                pid = os.fork()
            except OSError as e:
                blocked = type(e).__name__
                break
            if pid == 0:
                time.sleep(event.get("sleep", 5))
                os._exit(0)
            forked += 1
        return {"forked": forked, "blocked": blocked}
    return {
        "uid": os.getuid(),
        "pid": os.getpid(),
        "file": __file__,
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    }
"""


@pytest.fixture(scope="session")
def isolation(server) -> str:
    lines = [l for l in server.stdout_lines if l.startswith("nubo: isolation: ")]
    assert lines, f"the server did not say what isolation it got: {server.stdout_lines}"
    return lines[0].removeprefix("nubo: isolation: ")


def require(isolation: str, pattern: str, what: str) -> None:
    if not re.search(pattern, isolation):
        pytest.skip(f"{what} unavailable here; the server said: {isolation}")


def namespaces(isolation: str) -> set[str]:
    match = re.search(r"namespaces: ([a-z,]+)", isolation)
    return set(match.group(1).split(",")) if match else set()


def cgroups(isolation: str) -> set[str]:
    match = re.search(r"cgroup v1: ([a-z,]+)", isolation)
    return set(match.group(1).split(",")) if match else set()


@pytest.fixture
def probe_fn(make_function):
    def create(**kwargs) -> str:
        return make_function({"app.py": PROBE}, Timeout=30, **kwargs)["FunctionName"]

    return create


def ok(result):
    assert result.function_error is None, result
    return result.json


def report_value(log: str, field: str) -> int:
    match = re.search(rf"{field}: (\d+) MB", log)
    assert match, log
    return int(match.group(1))


def test_isolation_line_names_every_piece(isolation):
    assert isolation.startswith("namespaces: ") or isolation.startswith("plain child processes"), isolation


def test_process_sandbox_is_selectable(start_server, tmp_path):
    srv = start_server(tmp_path / "plain", ["--sandbox", "process"])
    lines = [l for l in srv.stdout_lines if l.startswith("nubo: isolation: ")]
    assert lines and "plain child processes" in lines[0], srv.stdout_lines


def test_allocation_past_memory_size_is_out_of_memory_and_next_call_works(lam, probe_fn, isolation):
    if "memory" not in cgroups(isolation):
        pytest.skip(f"memory cgroup unavailable; the server said: {isolation}")
    name = probe_fn(MemorySize=128)
    # Below the limit: works, and REPORT's Max Memory Used is the measured peak, not a guess.
    within = invoke(lam, name, {"action": "alloc", "mb": 40}, log=True)
    assert ok(within) == 40 * 1024 * 1024
    assert report_value(within.log, "Max Memory Used") >= 40, within.log

    over = invoke(lam, name, {"action": "alloc", "mb": 300}, log=True)
    assert over.function_error == "Unhandled", over
    assert over.json["errorType"] == "Runtime.OutOfMemory", over
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed", over.json["errorMessage"]
    ), over
    assert "Runtime.OutOfMemory" in over.log, over.log
    assert report_value(over.log, "Max Memory Used") >= 120, over.log

    # The environment was replaced: the next call works, in a fresh (cold) environment.
    after = invoke(lam, name, {}, log=True)
    assert ok(after)["uid"] is not None
    assert "Init Duration" in after.log, after.log


def test_fork_bomb_stays_inside_its_environment(lam, probe_fn, isolation):
    if "pids" not in cgroups(isolation):
        pytest.skip(f"pids cgroup unavailable; the server said: {isolation}")
    limit = int(re.search(r"pids\.max (\d+)", isolation).group(1))
    bomb = probe_fn(MemorySize=1024)
    other = probe_fn()
    ok(invoke(lam, other, {}))  # warm

    outcome = {}

    def explode():
        outcome["result"] = invoke(lam, bomb, {"action": "fork", "max": limit * 3, "sleep": 8})

    thread = threading.Thread(target=explode)
    thread.start()
    latencies = []
    while thread.is_alive() or not latencies:
        started = time.monotonic()
        ok(invoke(lam, other, {}))
        latencies.append(time.monotonic() - started)
        time.sleep(0.05)
    thread.join()
    result = ok(outcome["result"])
    # The bomb hit its own pids limit (the runtime and the helper take a few of the slots) ...
    assert result["blocked"] == "BlockingIOError", result
    assert limit - 16 <= result["forked"] < limit, result
    # ... while the other function kept answering.
    assert max(latencies) < 5.0, latencies
    # And the other function can still fork.
    assert ok(invoke(lam, other, {"action": "fork", "max": 3, "sleep": 0})) == {"forked": 3, "blocked": None}


def test_one_function_cannot_see_another_functions_code_or_the_data_dir(lam, probe_fn, isolation, server):
    if "mount" not in namespaces(isolation):
        pytest.skip(f"mount namespace unavailable; the server said: {isolation}")
    a, b = probe_fn(), probe_fn()
    seen_by_a = ok(invoke(lam, a, {}))
    assert seen_by_a["task_root"] == "/var/task" and seen_by_a["file"] == "/var/task/app.py", seen_by_a
    # A's code on the host (content-addressed under the data dir): invisible to B, as is the data dir.
    data_dir = str(server.data_dir)
    code_trees = glob.glob(os.path.join(data_dir, "code", "sha256", "*", "app.py"))
    assert code_trees, "no unpacked code found on the host"
    for path in code_trees[:3] + [os.path.join(data_dir, "nubo.db")]:
        assert ok(invoke(lam, b, {"action": "read", "path": path})) == {"error": "FileNotFoundError"}, path
    assert ok(invoke(lam, b, {"action": "listdir", "path": data_dir})) == {"error": "FileNotFoundError"}
    # B's /var/task is its own; the code is read-only; the root skeleton too.
    assert ok(invoke(lam, b, {"action": "listdir", "path": "/var/task"})) == {"entries": ["app.py"]}
    for path in ["/var/task/app.py", "/var/task/new.py", "/evil"]:
        result = invoke(lam, b, {"action": "write", "path": path})
        assert result.function_error == "Unhandled", (path, result)
        assert result.json["errorType"] in ("OSError", "PermissionError"), (path, result)
    # The pid namespace: B sees its own processes only (its runtime is pid 1), not the server.
    seen_by_b = ok(invoke(lam, b, {}))
    if "pid" in namespaces(isolation):
        assert seen_by_b["pid"] == 1 and server.proc.pid not in seen_by_b["pids"], seen_by_b
        assert len(seen_by_b["pids"]) < 5, seen_by_b
    if "user" in namespaces(isolation):
        assert seen_by_b["uid"] != 0, seen_by_b
        assert ok(invoke(lam, b, {"action": "read", "path": "/etc/shadow"})) == {"error": "PermissionError"}


def test_tmp_is_private(lam, probe_fn, isolation):
    if "mount" not in namespaces(isolation):
        pytest.skip(f"mount namespace unavailable; the server said: {isolation}")
    a, b = probe_fn(), probe_fn(EphemeralStorage={"Size": 1024})
    secret = f"/tmp/secret-{uuid.uuid4().hex}"
    assert ok(invoke(lam, a, {"action": "write", "path": secret, "text": "from a"})) == "written"
    # A warm environment keeps its /tmp, as on Lambda ...
    assert ok(invoke(lam, a, {"action": "read", "path": secret})) == {"text": "from a"}
    # ... which nobody else sees: not function B, not the host.
    assert ok(invoke(lam, b, {"action": "read", "path": secret})) == {"error": "FileNotFoundError"}
    assert ok(invoke(lam, b, {"action": "listdir", "path": "/tmp"})) == {"entries": []}
    assert not os.path.exists(secret)
    # /tmp is sized by EphemeralStorage.
    assert ok(invoke(lam, a, {"action": "statvfs", "path": "/tmp"}))["total_mb"] == 512
    assert ok(invoke(lam, b, {"action": "statvfs", "path": "/tmp"}))["total_mb"] == 1024
