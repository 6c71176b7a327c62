"""Invoke through boto3 against python, node and provided (Rust lambda_runtime) functions."""

import json
import os
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, credentials_for, error_of, function_arn, invoke, lambda_client_for, make_zip
from host_files import FUNCTION_SIDE, url_for

# --------------------------------------------------------------------------------------------------
# Function sources. Each runtime's handler understands the same small set of "actions".
# --------------------------------------------------------------------------------------------------

PY_APP = FUNCTION_SIDE + r'''
import json, os, sys, time

COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    action = event.get("action") if isinstance(event, dict) else None
    if action == "raise":
        raise ValueError("boom: " + str(event.get("msg")))
    if action == "sleep":
        started = time.time()
        time.sleep(event["seconds"])
        return {"started": started, "ended": time.time(), "request_id": context.aws_request_id}
    if action == "exit":
        sys.exit(1)
    if action == "print":
        print(event["text"])
        return "printed"
    if action == "big":
        return "x" * event["size"]
    if action == "env":
        return {k: os.environ.get(k) for k in event["keys"]}
    if action == "touch":
        write_out(event["path"], context.aws_request_id, mode="w")
        return None
    return {
        "echo": event,
        "count": COUNT,
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
        },
    }
'''

NODE_BODY = r'''
let count = 0;
const actions = async (event, context) => {
  count += 1;
  const action = event && typeof event === "object" ? event.action : undefined;
  if (action === "raise") throw new Error("boom: " + event.msg);
  if (action === "sleep") {
    const started = Date.now() / 1000;
    await new Promise((r) => setTimeout(r, event.seconds * 1000));
    return { started, ended: Date.now() / 1000, request_id: context.awsRequestId };
  }
  if (action === "exit") process.exit(1);
  if (action === "print") { console.log(event.text); return "printed"; }
  if (action === "big") return "x".repeat(event.size);
  if (action === "env") return Object.fromEntries(event.keys.map((k) => [k, process.env[k] ?? null]));
  return {
    echo: event,
    count,
    context: {
      aws_request_id: context.awsRequestId,
      function_name: context.functionName,
      function_version: context.functionVersion,
      invoked_function_arn: context.invokedFunctionArn,
      memory_limit_in_mb: context.memoryLimitInMB,
      remaining_ms: context.getRemainingTimeInMillis(),
      log_group_name: context.logGroupName,
      log_stream_name: context.logStreamName,
    },
  };
};
'''

NODE_CJS = NODE_BODY + "\nexports.handler = async (event, context) => actions(event, context);\n"
NODE_MJS = NODE_BODY + "\nexport const handler = async (event, context) => actions(event, context);\n"
NODE_CALLBACK = NODE_BODY + r'''
exports.handler = (event, context, callback) => {
  actions(event, context).then((value) => callback(null, value), (err) => callback(err));
};
'''

# (id, runtime, handler, files)
FLAVOURS = {
    "python": ("python3.12", "app.handler", {"app.py": PY_APP}),
    "node-cjs": ("nodejs20.x", "index.handler", {"index.js": NODE_CJS}),
    "node-mjs": ("nodejs22.x", "index.handler", {"index.mjs": NODE_MJS}),
    "node-callback": ("nodejs18.x", "lib/cb.handler", {"lib/cb.js": NODE_CALLBACK}),
}
SCRIPTED = list(FLAVOURS)


@pytest.fixture
def flavour_fn(request, make_function):
    """A fresh function of the parametrized flavour (fresh → its first invoke is a cold start)."""

    def create(flavour: str, **kwargs) -> str:
        runtime, handler, files = FLAVOURS[flavour]
        return make_function(files=files, runtime=runtime, handler=handler, **kwargs)["FunctionName"]

    return create


def ok(result):
    assert result.status == 200, result
    assert result.function_error is None, result
    return result.json


# --------------------------------------------------------------------------------------------------
# Round trip and context
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", SCRIPTED)
def test_payload_round_trip_and_context(lam, flavour_fn, flavour):
    name = flavour_fn(flavour, MemorySize=256, Timeout=5)
    event = {"hello": "wörld", "n": [1, 2.5, None, True], "nested": {"a": {"b": "c"}}}
    result = invoke(lam, name, event)
    body = ok(result)
    assert body["echo"] == event
    ctx = body["context"]
    assert re.fullmatch(r"[0-9a-f-]{36}", ctx["aws_request_id"]), ctx
    assert ctx["function_name"] == name
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == function_arn(name)
    assert int(ctx["memory_limit_in_mb"]) == 256
    assert 0 < ctx["remaining_ms"] <= 5000
    assert ctx["log_group_name"] == f"/aws/lambda/{name}"
    assert ctx["log_stream_name"]
    assert result.executed_version == "$LATEST"


@pytest.mark.parametrize("flavour", SCRIPTED)
def test_non_object_payloads(lam, flavour_fn, flavour):
    name = flavour_fn(flavour)
    for event in ([1, 2, 3], "just a string", 42, None):
        assert ok(invoke(lam, name, json.dumps(event)))["echo"] == event


def test_empty_payload_is_empty_object(lam, flavour_fn):
    name = flavour_fn("python")
    assert ok(invoke(lam, name))["echo"] == {}


def test_invalid_json_payload(lam, flavour_fn):
    name = flavour_fn("python")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert error_of(e)[:2] == ("InvalidRequestContentException", 400)


def test_invoke_request_id_matches_context(lam, make_function, rust_zip):
    """The Invoke reply's x-amzn-RequestId is the invocation's request id (as on AWS)."""
    name = make_function(runtime="provided.al2023", handler="bootstrap", zip_bytes=rust_zip)["FunctionName"]
    response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    body = json.loads(response["Payload"].read())
    assert f"START RequestId: {body['request_id']}" in _tail(response)
    assert response["ResponseMetadata"]["RequestId"] == body["request_id"]


def _tail(response) -> str:
    import base64

    return base64.b64decode(response["LogResult"]).decode()


# --------------------------------------------------------------------------------------------------
# Function errors
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", SCRIPTED)
def test_raised_exception_is_unhandled(lam, flavour_fn, flavour):
    name = flavour_fn(flavour)
    result = invoke(lam, name, {"action": "raise", "msg": "kaput"})
    assert result.status == 200
    assert result.function_error == "Unhandled", result
    body = result.json
    assert body["errorType"] == ("ValueError" if flavour == "python" else "Error"), body
    assert "boom: kaput" in body["errorMessage"]
    assert isinstance(body["stackTrace"], list) and body["stackTrace"], body
    # The environment survives a handled-by-runtime error.
    assert ok(invoke(lam, name, {"after": "error"}))["echo"] == {"after": "error"}


@pytest.mark.parametrize("flavour", SCRIPTED)
def test_timeout(lam, flavour_fn, flavour):
    name = flavour_fn(flavour, Timeout=1)
    started = time.monotonic()
    result = invoke(lam, name, {"action": "sleep", "seconds": 5}, log=True)
    elapsed = time.monotonic() - started
    assert result.function_error == "Unhandled", result
    assert "Task timed out after 1.00 seconds" in result.json["errorMessage"], result
    assert result.json["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after" in result.log
    assert elapsed < 4.5, f"timeout took {elapsed:.1f}s"
    # A fresh environment serves the next call.
    assert ok(invoke(lam, name, {"after": "timeout"}))["echo"] == {"after": "timeout"}


@pytest.mark.parametrize("flavour", SCRIPTED)
def test_exit_mid_invoke(lam, flavour_fn, flavour):
    name = flavour_fn(flavour)
    result = invoke(lam, name, {"action": "exit"})
    assert result.function_error == "Unhandled", result
    assert result.json["errorType"] == "Runtime.ExitError", result
    assert "Runtime exited with error: exit status 1" in result.json["errorMessage"]
    assert ok(invoke(lam, name, {"after": "exit"}))["echo"] == {"after": "exit"}


@pytest.mark.parametrize("flavour", SCRIPTED)
def test_warm_invokes_keep_module_state(lam, flavour_fn, flavour):
    name = flavour_fn(flavour)
    counts = [ok(invoke(lam, name, {"i": i}))["count"] for i in range(4)]
    assert counts == [1, 2, 3, 4]


# --------------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------------


def _check_framing(log: str):
    start = re.search(r"^START RequestId: ([0-9a-f-]{36}) Version: \$LATEST$", log, re.M)
    assert start, log
    request_id = start.group(1)
    assert re.search(rf"^END RequestId: {request_id}$", log, re.M), log
    report = re.search(rf"^REPORT RequestId: {request_id}\t(.*)$", log, re.M)
    assert report, log
    assert "Duration: " in report.group(1) and "Billed Duration: " in report.group(1)
    assert "Memory Size: 128 MB" in report.group(1)
    return report.group(1)


@pytest.mark.parametrize("flavour", SCRIPTED)
def test_log_tail(lam, flavour_fn, flavour):
    name = flavour_fn(flavour)
    marker = f"hello-from-{flavour}-{uuid.uuid4().hex[:6]}"
    cold = invoke(lam, name, {"action": "print", "text": marker}, log=True)
    assert ok(cold) == "printed"
    assert marker in cold.log, cold.log
    assert "Init Duration" in _check_framing(cold.log)
    warm = invoke(lam, name, {"action": "print", "text": marker + "-warm"}, log=True)
    assert marker + "-warm" in warm.log
    assert "Init Duration" not in _check_framing(warm.log)
    assert marker + "-warm" not in cold.log and "Init Duration" not in warm.log


def test_no_log_without_tail(lam, flavour_fn):
    name = flavour_fn("python")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "LogResult" not in response


def test_log_tail_is_last_4kb(lam, flavour_fn):
    name = flavour_fn("python")
    result = invoke(lam, name, {"action": "print", "text": "\n".join(f"line {i:05d}" for i in range(2000))}, log=True)
    assert ok(result) == "printed"
    assert len(result.log.encode()) <= 4096
    assert "line 01999" in result.log and "line 00000" not in result.log
    assert "REPORT RequestId" in result.log


# --------------------------------------------------------------------------------------------------
# Invocation types
# --------------------------------------------------------------------------------------------------


def test_dry_run(lam, flavour_fn):
    name = flavour_fn("python")
    response = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name + "-nope", InvocationType="DryRun")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_event_invocation_runs(lam, flavour_fn, tmp_path):
    name = flavour_fn("python")
    marker = tmp_path / "touched"
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"action": "touch", "path": url_for(marker)}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the Event invocation never ran"
    assert re.fullmatch(r"[0-9a-f-]{36}", marker.read_text())


# --------------------------------------------------------------------------------------------------
# Init errors
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "runtime,handler,files,expected",
    [
        ("python3.12", "missing.handler", {"app.py": PY_APP}, "Runtime.ImportModuleError"),
        ("python3.12", "app.nope", {"app.py": PY_APP}, "Runtime.HandlerNotFound"),
        ("python3.12", "app.handler", {"app.py": "def handler(:\n"}, "Runtime.UserCodeSyntaxError"),
        ("nodejs20.x", "missing.handler", {"index.js": NODE_CJS}, "Runtime.ImportModuleError"),
        ("nodejs20.x", "index.nope", {"index.js": NODE_CJS}, "Runtime.HandlerNotFound"),
    ],
    ids=["py-missing-module", "py-missing-function", "py-syntax", "node-missing-file", "node-missing-export"],
)
def test_init_errors(lam, make_function, runtime, handler, files, expected):
    name = make_function(files=files, runtime=runtime, handler=handler)["FunctionName"]
    result = invoke(lam, name, {}, log=True)
    assert result.status == 200
    assert result.function_error == "Unhandled", result
    assert result.json["errorType"] == expected, result
    assert result.json["errorMessage"], result
    # Still failing the same way on the next call (not a hang, not a 5xx).
    again = invoke(lam, name, {})
    assert again.function_error == "Unhandled" and again.json["errorType"] == expected, again


def test_provided_without_bootstrap(lam, make_function):
    from conftest import make_zip

    name = make_function(runtime="provided.al2023", handler="x", zip_bytes=make_zip({"README": "no bootstrap"}))["FunctionName"]
    result = invoke(lam, name, {})
    assert result.function_error == "Unhandled", result
    assert result.json["errorType"] == "Runtime.InvalidEntrypoint"


# --------------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------------

SIX_MB = 6 * 1024 * 1024


def test_request_over_6mb(lam, flavour_fn):
    name = flavour_fn("python")
    payload = json.dumps({"blob": "x" * (SIX_MB + 10)})
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=payload)
    code, status, _ = error_of(e)
    assert status == 413, (code, status)
    assert code in ("RequestEntityTooLargeException", "RequestTooLargeException")


def test_request_just_under_6mb(lam, flavour_fn):
    name = flavour_fn("python")
    blob = "x" * (SIX_MB - 100)
    result = invoke(lam, name, {"action": "env", "keys": [], "blob": blob})
    assert ok(result) == {}


@pytest.mark.parametrize("flavour", ["python", "node-cjs"])
def test_response_over_6mb(lam, flavour_fn, flavour):
    name = flavour_fn(flavour)
    result = invoke(lam, name, {"action": "big", "size": SIX_MB + 1000})
    assert result.status == 200
    assert result.function_error == "Unhandled", result
    assert result.json["errorType"] == "Function.ResponseSizeTooLarge", result
    # The function still works afterwards.
    assert ok(invoke(lam, name, {"action": "big", "size": 10})) == "x" * 10


# --------------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["python", "node-mjs"])
def test_environment_variables(lam, flavour_fn, endpoint, flavour):
    name = flavour_fn(flavour, Environment={"Variables": {"MY_SETTING": "sétting-42"}})
    keys = [
        "MY_SETTING",
        "AWS_ENDPOINT_URL",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_REGION",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "AWS_LAMBDA_RUNTIME_API",
    ]
    env = ok(invoke(lam, name, {"action": "env", "keys": keys}))
    assert env["MY_SETTING"] == "sétting-42"
    assert env["AWS_ENDPOINT_URL"] == endpoint
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == FLAVOURS[flavour][1]
    # The code tree on the host, or /var/task where the sandbox gives the function its own root.
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" or os.path.isdir(env["LAMBDA_TASK_ROOT"]), env
    assert re.fullmatch(r"[\w.\-]+:\d+", env["AWS_LAMBDA_RUNTIME_API"]), env


def test_configuration_update_reaches_new_invokes(lam, flavour_fn):
    name = flavour_fn("python", Environment={"Variables": {"MY_SETTING": "one"}})
    assert ok(invoke(lam, name, {"action": "env", "keys": ["MY_SETTING"]}))["MY_SETTING"] == "one"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MY_SETTING": "two"}})
    assert ok(invoke(lam, name, {"action": "env", "keys": ["MY_SETTING"]}))["MY_SETTING"] == "two"


def test_code_update_reaches_new_invokes(lam, flavour_fn):
    from conftest import make_zip

    name = flavour_fn("python")
    assert ok(invoke(lam, name, {"v": 1}))["echo"] == {"v": 1}
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    assert ok(invoke(lam, name, {"v": 2})) == "v2"


# --------------------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["python", "node-cjs"])
def test_concurrent_invokes(lam, flavour_fn, flavour):
    name = flavour_fn(flavour)
    barrier = threading.Barrier(4)

    def call(_):
        barrier.wait()
        return invoke(lam, name, {"action": "sleep", "seconds": 0.5})

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4)))
    bodies = [ok(r) for r in results]
    assert len({b["request_id"] for b in bodies}) == 4
    # All four ran at the same time: every one started before any finished.
    assert max(b["started"] for b in bodies) < min(b["ended"] for b in bodies), bodies


# --------------------------------------------------------------------------------------------------
# provided.al2023: the Rust lambda_runtime crate, unmodified
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rust_fn(lam, rust_zip):
    from conftest import ROLE, unique_name

    name = unique_name("rust")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="bootstrap",
        Code={"ZipFile": rust_zip},
        MemorySize=256,
    )
    yield name
    lam.delete_function(FunctionName=name)


def test_rust_round_trip(lam, rust_fn):
    event = {"k": "v", "list": [1, 2, 3]}
    result = invoke(lam, rust_fn, event, log=True)
    body = ok(result)
    assert body["echo"] == event
    assert body["runtime"] == "rust-lambda_runtime"
    assert body["function_arn"] == function_arn(rust_fn)
    assert re.fullmatch(r"[0-9a-f-]{36}", body["request_id"])
    assert f"rust handler saw request {body['request_id']}" in result.log
    _check_framing(result.log.replace("Memory Size: 256 MB", "Memory Size: 128 MB"))


def test_rust_function_error(lam, rust_fn):
    result = invoke(lam, rust_fn, {"fail": True})
    assert result.function_error == "Unhandled", result
    assert "asked to fail" in result.json["errorMessage"], result
    assert result.json["errorType"]


def test_rust_null_response(lam, rust_fn):
    result = invoke(lam, rust_fn, {"noop": 1})
    assert result.function_error is None, result
    assert result.body == b"null"


def test_rust_cold_then_warm(lam, make_function, rust_zip):
    name = make_function(runtime="provided.al2", handler="bootstrap", zip_bytes=rust_zip)["FunctionName"]
    cold = invoke(lam, name, {"n": 1}, log=True)
    warm = invoke(lam, name, {"n": 2}, log=True)
    assert "Init Duration" in _check_framing(cold.log)
    assert "Init Duration" not in _check_framing(warm.log)


def test_rust_qualified_arn_is_invoked_arn(lam, rust_fn):
    body = ok(invoke(lam, rust_fn, {}, Qualifier="$LATEST"))
    assert body["function_arn"] == function_arn(rust_fn) + ":$LATEST"


# --------------------------------------------------------------------------------------------------
# Smaller contract points
# --------------------------------------------------------------------------------------------------

PY_CONTEXT_AND_STDERR = r'''
import sys

def handler(event, context):
    print("to-stdout", flush=True)
    print("to-stderr", file=sys.stderr, flush=True)
    cc = context.client_context
    return {"custom": getattr(cc, "custom", None) if cc is not None else None}
'''


def test_stderr_in_log_and_client_context(lam, make_function):
    import base64

    name = make_function(files={"app.py": PY_CONTEXT_AND_STDERR})["FunctionName"]
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    result = invoke(lam, name, {}, log=True, ClientContext=client_context)
    assert ok(result) == {"custom": {"k": "v"}}
    assert "to-stdout" in result.log and "to-stderr" in result.log, result.log


def test_conflicting_qualifiers(lam, rust_fn):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=f"{rust_fn}:$LATEST", Qualifier="1", Payload=b"{}")
    code, status, _ = error_of(e)
    assert status == 400, (code, status)  # lambda-invoke-api.md: conflicting qualifiers → 400


def test_invoke_after_delete_is_404(lam, make_function):
    name = make_function()["FunctionName"]
    assert ok(invoke(lam, name, {"a": 1}))["echo"] == {"a": 1}
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def _signed_request(conn, endpoint, method, path, body=b"", headers=None):
    """Sends one SigV4-signed request on an open connection and reads the whole reply."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    creds = credentials_for(endpoint)
    SigV4Auth(Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), "lambda", "us-east-1").add_auth(request)
    conn.request(method, path, body=body, headers=dict(request.headers.items()))
    reply = conn.getresponse()
    return reply.status, reply.read()


def test_early_errors_keep_the_connection_usable(endpoint, make_function):
    """Errors answered before a handler reads the request body (conflicting qualifiers, a payload
    over the limit) must not close the keep-alive connection: boto3 reuses it for its next call
    and would fail with ConnectionClosedError."""
    import http.client
    from urllib.parse import urlparse

    name = make_function()["FunctionName"]
    url = urlparse(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        body = json.dumps({"pad": "x" * 200_000}).encode()
        status, reply = _signed_request(
            conn, endpoint, "POST", f"/2015-03-31/functions/{name}:1/invocations?Qualifier=2", body
        )
        assert status == 400, reply
        assert b"does not match the specified qualifier" in reply
        status, reply = _signed_request(conn, endpoint, "GET", f"/2015-03-31/functions/{name}")
        assert status == 200, reply

        # Over the 1 MB limit of an asynchronous invocation.
        too_big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
        status, _ = _signed_request(
            conn,
            endpoint,
            "POST",
            f"/2015-03-31/functions/{name}/invocations",
            too_big,
            {"X-Amz-Invocation-Type": "Event"},
        )
        assert status == 413
        status, reply = _signed_request(conn, endpoint, "GET", f"/2015-03-31/functions/{name}/configuration")
        assert status == 200, reply
    finally:
        conn.close()


SLOW_TO_RETURN_BOOTSTRAP = """#!/usr/bin/env python3
# A provided runtime that takes its time between posting a response and asking for the next event.
import os, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as event:
        request_id = event.headers["Lambda-Runtime-Aws-Request-Id"]
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=b'"done"', method="POST")).read()
    time.sleep(0.5)
"""


def test_warm_environment_still_finishing_is_waited_for(start_server, tmp_path):
    """A warm environment older than the init limit that has not yet come back to `next` is
    waited for, not reported as an init timeout."""
    srv = start_server(tmp_path / "init", ["--init-timeout", "1"])
    lam = lambda_client_for(srv.endpoint)
    name = "slow-to-return"
    lam.create_function(
        FunctionName=name, Runtime="provided.al2023", Handler="x", Role=ROLE, Timeout=5,
        Code={"ZipFile": make_zip({"bootstrap": SLOW_TO_RETURN_BOOTSTRAP})},
    )
    assert invoke(lam, name, {}).json == "done"
    time.sleep(1.2)  # the environment is now older than the init limit, and back in `next`
    for _ in range(3):  # each call finds the runtime still sleeping after its last response
        result = invoke(lam, name, {})
        assert result.function_error is None, result
        assert result.json == "done"
