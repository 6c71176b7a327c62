"""Python environments forked from a started template (crates/lambda/src/sandbox/template.rs).

A fork must look like a plain start from inside (pid 1, uid 993, /var/task, Lambda's sys.path and
variables), carry nothing of another function (not even in its memory), report its exits as a plain
runtime does, and fall back to the plain start where the template cannot serve.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest

from conftest import ROLE, invoke, make_zip, unique_name, wait_updated

PROBE = r"""
import hashlib, os, sys

def scan_memory(prefix, length, digest):
    # Every writable mapping of this process, searched for prefix + `length` bytes hashing to
    # `digest` (the secret itself is never in this function's event).
    found = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "rw" not in fields[1] or (len(fields) > 5 and fields[5].startswith("[v")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            at = chunk.find(prefix)
            while at >= 0:
                candidate = chunk[at + len(prefix): at + len(prefix) + length]
                if hashlib.sha256(candidate).hexdigest() == digest:
                    found += 1
                at = chunk.find(prefix, at + 1)
    return found

def handler(event, context):
    action = event.get("action")
    if action == "exit":
        os._exit(event["code"])
    if action == "scan":
        return {"found": scan_memory(event["prefix"].encode(), event["length"], event["digest"])}
    main = sys.modules["__main__"]
    return {
        "forked": getattr(main, "__file__", "").endswith("template.py"),
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "path": sys.path[:6],
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "secret": os.environ.get("SECRET"),
        "variables": sorted(k for k in os.environ if k.startswith("FN_")),
        "tz": os.environ.get("TZ"),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "seccomp": [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")],
        "nnp": [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs:")],
    }
"""


@pytest.fixture(scope="module")
def templates(server) -> None:
    line = next((l for l in server.stdout_lines if l.startswith("nubo: isolation: ")), "")
    if "forked from a started template" not in line:
        pytest.skip(f"no templates on this server: {line}")


def forked_call(lam, name: str, payload: dict | None = None, attempts: int = 30):
    """Invokes until the environment serving it was forked (the first start after the server's
    start may be plain while the template starts): each retry retires the environment."""
    result = None
    for attempt in range(attempts):
        result = invoke(lam, name, {"action": "probe"}, log=True)
        assert result.function_error is None, result
        if result.json["forked"]:
            if payload is not None:
                result = invoke(lam, name, payload, log=True)
            return result
        lam.update_function_configuration(FunctionName=name, Description=f"retire {attempt}")
        wait_updated(lam, name)
        time.sleep(0.2)
    pytest.fail(f"never forked from the template: {result}")


def probe(make_function, **env) -> str:
    return make_function(
        {"app.py": PROBE}, Timeout=30, Environment={"Variables": env} if env else {"Variables": {}}
    )["FunctionName"]


def test_a_forked_environment_looks_like_a_plain_start(lam, make_function, templates):
    name = probe(make_function, FN_ONE="1", SECRET="mine")
    seen = forked_call(lam, name).json
    assert seen["pid"] == 1 and len(seen["pids"]) < 5, seen
    assert seen["uid"] == 993 and seen["gid"] == 993, seen
    assert seen["cwd"] == "/var/task", seen
    assert seen["argv"] == ["/var/runtime/bootstrap.py"], seen
    assert seen["path"][0] == "/var/task" and "/var/runtime" in seen["path"], seen
    assert seen["secret"] == "mine" and seen["variables"] == ["FN_ONE"] and seen["tz"] == ":UTC", seen
    # Nothing but stdio and what the bootstrap opened (its Runtime API socket, the listing itself).
    assert seen["fds"][:3] == [0, 1, 2] and len(seen["fds"]) <= 5, seen
    assert seen["seccomp"] == ["2"] and seen["nnp"] == ["1"], seen


def test_one_functions_secret_is_not_in_another_forked_environments_memory(lam, make_function, templates):
    prefix = f"NUBOSECRET{uuid.uuid4().hex[:8]}-"
    secret = uuid.uuid4().hex
    holder = probe(make_function, SECRET=prefix + secret)
    # The holder's secret is in its own memory (the scan finds what it should) ...
    found = forked_call(
        lam, holder, {"action": "scan", "prefix": prefix, "length": len(secret), "digest": digest(secret)}
    ).json
    assert found.get("found", 0) >= 1, found
    # ... and not in a function forked from the same template afterwards.
    other = probe(make_function, FN_OTHER="x")
    found = forked_call(
        lam, other, {"action": "scan", "prefix": prefix, "length": len(secret), "digest": digest(secret)}
    ).json
    assert found["found"] == 0, found


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def test_a_forked_runtime_exit_is_reported_as_a_plain_one(lam, make_function, templates):
    name = probe(make_function)
    result = forked_call(lam, name, {"action": "exit", "code": 3})
    assert result.function_error == "Unhandled", result
    assert "Runtime exited with error: exit status 3" in result.json["errorMessage"], result
    # The next invocation gets a fresh environment.
    assert invoke(lam, name, {"action": "probe"}).function_error is None


def test_an_import_error_in_a_forked_environment_is_the_usual_init_error(lam, make_function, templates):
    name = make_function({"app.py": "import not_a_module_anywhere\n"})["FunctionName"]
    # Plain or forked, the same error; the template is started by the earlier tests already.
    for attempt in range(3):
        result = invoke(lam, name, {})
        assert result.function_error == "Unhandled", result
        assert result.json["errorType"] == "Runtime.ImportModuleError", result
        assert "not_a_module_anywhere" in result.json["errorMessage"], result
        lam.update_function_configuration(FunctionName=name, Description=f"again {attempt}")
        wait_updated(lam, name)


def test_interpreter_variables_make_the_start_plain(lam, make_function, templates):
    name = probe(make_function, PYTHONDONTWRITEBYTECODE="1")
    for attempt in range(3):
        assert invoke(lam, name, {"action": "probe"}).json["forked"] is False
        lam.update_function_configuration(FunctionName=name, Description=f"again {attempt}")
        wait_updated(lam, name)


def test_templates_can_be_turned_off(start_server):
    srv = start_server(extra_args=["--templates", "off"])
    line = next(l for l in srv.stdout_lines if l.startswith("nubo: isolation: "))
    assert "template" not in line, line
    lam = srv.client("lambda")
    name = unique_name("plain")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": PROBE})},
    )
    for attempt in range(2):
        result = invoke(lam, name, {"action": "probe"})
        assert result.function_error is None, result
        assert result.json["forked"] is False, result
        lam.update_function_configuration(FunctionName=name, Description=f"again {attempt}")
        wait_updated(lam, name)
