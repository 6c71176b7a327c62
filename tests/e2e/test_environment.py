"""The execution environment Lambda code expects: the runtimes' AWS SDKs with no packaging, `/opt`,
the variables Lambda defines with Lambda's values, its open-files limit, distinct credentials.

Paths are Lambda's (`/var/task`, `/var/runtime`, …) when the server got a mount namespace (its
`nubo: isolation:` line says so); otherwise the function sees the host's paths, and the tests
expect those.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROLE, invoke, lambda_client_for, make_zip, unique_name

LIST_FUNCTIONS_PY = """
import boto3

def handler(event, context):
    client = boto3.client("lambda")
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    return {"names": names, "boto3": boto3.__version__, "file": boto3.__file__}
"""

LIST_FUNCTIONS_ESM = """
import { LambdaClient, ListFunctionsCommand } from "@aws-sdk/client-lambda";

export const handler = async () => {
  const out = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  return { names: out.Functions.map((f) => f.FunctionName) };
};
"""

LIST_FUNCTIONS_CJS = """
const { LambdaClient, ListFunctionsCommand } = require("@aws-sdk/client-lambda");

exports.handler = async () => {
  const out = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  return { names: out.Functions.map((f) => f.FunctionName), from: require.resolve("@aws-sdk/client-lambda") };
};
"""

DUMP_PY = """
import os, resource, subprocess, sys

def handler(event, context):
    shell = subprocess.run(["/bin/sh", "-c", "ulimit -n; ulimit -Hn; command -v python3"],
                           capture_output=True, text=True)
    return {
        "env": dict(os.environ),
        "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "shell": shell.stdout.split(),
        "opt": {"dir": os.path.isdir("/opt"), "entries": sorted(os.listdir("/opt")),
                "writable": os.access("/opt", os.W_OK)},
        "sys_path": sys.path,
        "argv": sys.argv,
    }
"""

DUMP_NODE = """
export const handler = async () => ({ env: process.env, argv: process.argv.slice(1) });
"""

# A custom runtime written as a script: the Runtime API loop with the standard library only.
DUMP_PROVIDED = """#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as next_event:
        request_id = next_event.headers["Lambda-Runtime-Aws-Request-Id"]
    body = json.dumps({"env": dict(os.environ)}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body)).read()
"""

TRACE_ID = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]")
LOG_STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


@pytest.fixture(scope="session")
def lambda_layout(server) -> bool:
    """True when functions see Lambda's paths (the server's sandbox has a mount namespace)."""
    lines = [l for l in server.stdout_lines if l.startswith("nubo: isolation: ")]
    assert lines, f"the server did not say what isolation it got: {server.stdout_lines}"
    return bool(re.search(r"namespaces: \S*mount", lines[0]))


@pytest.fixture(scope="session")
def runtime_sdk(server) -> str:
    """The server's runtime SDK line, once they are ready (installed in the background)."""
    return server.runtime_sdk()


def test_python_imports_boto3_and_lists_functions_without_packaging(lam, make_function, runtime_sdk, lambda_layout):
    name = make_function({"app.py": LIST_FUNCTIONS_PY}, Timeout=30)["FunctionName"]
    result = invoke(lam, name, {})
    assert result.function_error is None, result
    assert name in result.json["names"]
    assert result.json["boto3"] == re.search(r"boto3 (\S+) \(python3\.10\+\)", runtime_sdk).group(1)
    if lambda_layout:
        # Where Lambda's python 3.11+ runtimes keep the SDK.
        assert result.json["file"].startswith("/var/lang/lib/python3."), result.json


@pytest.mark.parametrize("module, source", [("index.mjs", LIST_FUNCTIONS_ESM), ("index.js", LIST_FUNCTIONS_CJS)])
def test_node20_imports_the_sdk_v3_and_lists_functions_without_packaging(
    lam, make_function, runtime_sdk, lambda_layout, module, source
):
    name = make_function({module: source}, runtime="nodejs20.x", handler="index.handler", Timeout=30)[
        "FunctionName"
    ]
    result = invoke(lam, name, {})
    assert result.function_error is None, result
    assert name in result.json["names"]
    if lambda_layout and "from" in result.json:
        assert result.json["from"].startswith("/var/runtime/node_modules/@aws-sdk/client-lambda/")


PACKAGED_BOTO3_PY = """
import boto3, botocore

def handler(event, context):
    return {"boto3": boto3.__version__, "file": boto3.__file__, "botocore": botocore.__file__}
"""


def test_a_packaged_boto3_wins_over_the_runtimes(lam, make_function, runtime_sdk):
    files = {"app.py": PACKAGED_BOTO3_PY, "boto3/__init__.py": '__version__ = "0.0.0-packaged"\n'}
    config = make_function(files)
    result = invoke(lam, config["FunctionName"], {})
    assert result.function_error is None, result
    # The function's own copy, from its task root; what it did not package still comes from the
    # runtime.
    task_root = Path(result.json["file"]).parent.parent
    assert result.json["boto3"] == "0.0.0-packaged"
    assert not Path(result.json["botocore"]).is_relative_to(task_root), result.json


def test_python_environment_is_lambdas(lam, make_function, endpoint, lambda_layout):
    config = make_function({"app.py": DUMP_PY}, MemorySize=256, Timeout=30)
    name = config["FunctionName"]
    first = invoke(lam, name, {})
    assert first.function_error is None, first
    second = invoke(lam, name, {})
    env = first.json["env"]

    expected = {
        "_HANDLER": "app.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_ENDPOINT_URL": endpoint,
    }
    assert {k: env.get(k) for k in expected} == expected
    assert LOG_STREAM.match(env["AWS_LAMBDA_LOG_STREAM_NAME"]), env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert re.match(r"^127\.0\.0\.1:\d+$", env["AWS_LAMBDA_RUNTIME_API"])

    # Set per invocation from Lambda-Runtime-Trace-Id, as Lambda's runtimes do.
    trace, next_trace = env.get("_X_AMZN_TRACE_ID", ""), second.json["env"].get("_X_AMZN_TRACE_ID", "")
    assert TRACE_ID.match(trace) and TRACE_ID.match(next_trace), (trace, next_trace)
    assert trace != next_trace

    # The execution role's credentials: three different values.
    keys = [env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]]
    assert len(set(keys)) == 3, keys
    assert re.match(r"^ASIA[A-Z0-9]{16}$", keys[0]), keys[0]

    # Open files as on Lambda, seen by the function and by a shell it starts.
    assert first.json["nofile"] == [1024, 1024]
    assert first.json["shell"][:2] == ["1024", "1024"]
    assert first.json["argv"] == [env["LAMBDA_RUNTIME_DIR"] + "/bootstrap.py"]

    task, runtime = env["LAMBDA_TASK_ROOT"], env["LAMBDA_RUNTIME_DIR"]
    assert env["PYTHONPATH"] == runtime
    path = first.json["sys_path"]
    version = path[1].split("/")[-2]  # python3.N
    assert path[:3] == [task, f"/opt/python/lib/{version}/site-packages", "/opt/python"], path
    assert path.index(runtime) > 2
    if lambda_layout:
        assert (task, runtime) == ("/var/task", "/var/runtime")
        assert env["PATH"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
        assert env["LD_LIBRARY_PATH"] == (
            "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
        )
        # The interpreter answers to Lambda's /var/lang/bin, wherever the host installed it.
        assert first.json["shell"][2] == "/var/lang/bin/python3"
        # /opt is there, empty and read-only (layers land there later).
        assert first.json["opt"] == {"dir": True, "entries": [], "writable": False}
    else:
        assert env["PATH"].endswith(":/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        assert env["LD_LIBRARY_PATH"] == (
            f"/lib64:/usr/lib64:{runtime}:{runtime}/lib:{task}:{task}/lib:/opt/lib"
        )
        assert first.json["opt"]["dir"]


def test_node_environment_is_lambdas(lam, make_function, lambda_layout):
    name = make_function({"index.mjs": DUMP_NODE}, runtime="nodejs20.x", handler="index.handler")["FunctionName"]
    result = invoke(lam, name, {})
    assert result.function_error is None, result
    env = result.json["env"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["_HANDLER"] == "index.handler"
    assert TRACE_ID.match(env.get("_X_AMZN_TRACE_ID", "")), env.get("_X_AMZN_TRACE_ID")
    assert result.json["argv"] == [env["LAMBDA_RUNTIME_DIR"] + "/bootstrap.mjs"]
    if lambda_layout:
        assert env["NODE_PATH"] == (
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
        )
        assert env["PATH"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    else:
        runtime, task = env["LAMBDA_RUNTIME_DIR"], env["LAMBDA_TASK_ROOT"]
        assert env["NODE_PATH"].startswith("/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:")
        assert env["NODE_PATH"].endswith(f":{runtime}:{task}")


def test_custom_runtime_environment_is_lambdas(lam, make_function, lambda_layout):
    name = make_function(
        {"bootstrap": DUMP_PROVIDED}, runtime="provided.al2023", handler="function.handler"
    )["FunctionName"]
    result = invoke(lam, name, {})
    assert result.function_error is None, result
    env = result.json["env"]
    # Lambda leaves these to custom runtimes.
    assert "AWS_EXECUTION_ENV" not in env and "_X_AMZN_TRACE_ID" not in env
    assert env["_HANDLER"] == "function.handler"
    assert env["PATH"] == "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    if lambda_layout:
        assert env["LD_LIBRARY_PATH"] == (
            "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
        )


def test_a_failed_sdk_install_is_reported_once_and_functions_still_run(start_server, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # No package index and an empty npm cache, offline: both installers fail at once.
    offline = {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(empty),
        "npm_config_offline": "true",
        "npm_config_cache": str(empty / "npm-cache"),
    }
    srv = start_server(extra_args=["--runtime-sdk-dir", str(tmp_path / "sdk")], extra_env=offline)
    assert any(l.startswith("nubo: runtime SDKs: installing into") for l in srv.stdout_lines), srv.stdout_lines
    lam = lambda_client_for(srv.endpoint)
    name = unique_name("nosdk")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(event, context):\n    return 'ran'\n"})},
    )
    assert invoke(lam, name, {}).json == "ran"
    outcome = srv.runtime_sdk_outcome(timeout=120)
    assert "installation failed" in outcome, outcome
    failures = [l for l in srv.stdout_lines if "installation failed" in l]
    assert len(failures) == 1, srv.stdout_lines
    assert "python3.10+" in failures[0] and "nodejs" in failures[0], failures[0]
    # Not fatal: the server goes on serving, now that the install is over.
    assert invoke(lam, name, {}).json == "ran"
    assert not list((tmp_path / "sdk").glob(".staging-*"))


def test_runtime_sdks_can_be_turned_off(start_server):
    srv = start_server(extra_args=["--runtime-sdk-dir", "off"])
    lines = [l for l in srv.stdout_lines if l.startswith("nubo: runtime SDKs: ")]
    assert lines == ["nubo: runtime SDKs: off (functions run without boto3 and the AWS SDK for JavaScript)"]
