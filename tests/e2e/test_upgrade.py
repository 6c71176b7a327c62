"""A data dir written by an earlier Nubo keeps working with this one.

Needs the earlier release's binary: `NUBO_PREVIOUS_BINARY=/path/to/old/nubo` (build it from the
commit before a storage change, e.g. in a `git worktree`). Without it the test is skipped and says
so; run it whenever the store's schema changes.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import NuboServer, ROLE, function_arn, invoke, lambda_client_for, make_zip, unique_name
from gateway_helpers import apigw_client_for, request, url_id

PREVIOUS = os.environ.get("NUBO_PREVIOUS_BINARY")

ECHO = """
def handler(event, context):
    return {"statusCode": 200, "body": "echo"}
"""


def metrics(endpoint) -> dict[str, float]:
    with urllib.request.urlopen(endpoint + "/_nubo/metrics", timeout=5) as reply:
        text = reply.read().decode()
    values = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.eE+-]+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.skipif(not PREVIOUS, reason="set NUBO_PREVIOUS_BINARY to an earlier nubo binary")
def test_state_written_by_the_previous_release_is_kept(tmp_path):
    data = tmp_path / "upgrade"
    old = NuboServer(data, binary=Path(PREVIOUS)).start()
    try:
        lam = lambda_client_for(old.endpoint)
        name = unique_name("upgrade")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": ECHO})},
        )
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
        api = apigw_client_for(old.endpoint).create_api(
            Name="upgrade", ProtocolType="HTTP", Target=function_arn(name)
        )
        # No concurrency: the events stay queued across the upgrade.
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        for i in range(3):
            reply = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"i": i}))
            assert reply["StatusCode"] == 202
    finally:
        old.stop()

    new = NuboServer(data).start()
    try:
        assert "nubo: 3 queued asynchronous events to deliver" in new.stdout_lines, new.stdout_lines
        lam = lambda_client_for(new.endpoint)
        assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
        versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
        assert versions == ["$LATEST", version]
        assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == version
        assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0
        assert url_id(lam.get_function_url_config(FunctionName=name)["FunctionUrl"]) == url_id(url)
        apis = apigw_client_for(new.endpoint).get_apis()["Items"]
        assert api["ApiId"] in {a["ApiId"] for a in apis}

        lam.delete_function_concurrency(FunctionName=name)
        assert wait_for(lambda: metrics(new.endpoint)["nubo_async_events_succeeded_total"] == 3)
        assert metrics(new.endpoint)["nubo_async_queue_depth"] == 0
        reply = request(new.endpoint, "GET", f"/_api/{api['ApiId']}/")
        assert (reply.status, reply.body) == (200, b"echo")
        assert invoke(lam, name, {}, Qualifier="live").function_error is None
    finally:
        new.stop()
