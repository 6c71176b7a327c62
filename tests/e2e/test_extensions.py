"""Lambda extensions: an external extension (a python script in a layer's `extensions/`) registers
with the Extensions API, receives INVOKE for each invocation and SHUTDOWN when its environment is
retired, and its Telemetry API subscription receives the platform's events and the function's log
lines. The extension reports what it got to a file on the test host (`host_files`), since its
environment is gone by the time SHUTDOWN has been handled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from conftest import ACCOUNT, REGION, credentials_for, invoke, make_zip, unique_name, wait_updated
from host_files import url_for

EXTENSION = r'''#!/usr/bin/env python3
import http.server, json, os, sys, threading, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
OUT = os.environ["PROBE_URL"]


def report(obj):
    request = urllib.request.Request(OUT, data=(json.dumps(obj) + "\n").encode(), method="POST")
    urllib.request.urlopen(request, timeout=10).read()


class Telemetry(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for event in batch:
            report({"telemetry": event["type"], "record": event["record"]})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Telemetry)
threading.Thread(target=listener.serve_forever, daemon=True).start()

registration = urllib.request.Request(API + "/2020-01-01/extension/register", method="POST",
                                      data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                                      headers={"Lambda-Extension-Name": "probe"})
with urllib.request.urlopen(registration) as response:
    me = response.headers["Lambda-Extension-Identifier"]
    report({"registered": json.load(response)})

subscription = {
    "schemaVersion": "2022-12-13",
    "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:%d" % listener.server_address[1]},
    "types": ["platform", "function"],
    "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
}
subscribe = urllib.request.Request(API + "/2022-07-01/telemetry", method="PUT", data=json.dumps(subscription).encode(),
                                   headers={"Lambda-Extension-Identifier": me})
urllib.request.urlopen(subscribe).read()

while True:
    next_event = urllib.request.Request(API + "/2020-01-01/extension/event/next",
                                        headers={"Lambda-Extension-Identifier": me})
    with urllib.request.urlopen(next_event) as response:
        event = json.load(response)
    report({"event": event})
    if event["eventType"] == "SHUTDOWN":
        print("probe: SHUTDOWN", event["shutdownReason"], flush=True)
        sys.exit(0)
'''

HANDLER = """
import os
def handler(event, context):
    print("hello from the handler", event.get("n"))
    return {"n": event.get("n"), "extensions": sorted(os.listdir("/opt/extensions"))}
"""


def client(service: str, endpoint: str, **creds):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **creds)


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(path: Path, done, timeout: float = 20.0) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        lines = read_lines(path)
        if done(lines) or time.time() > deadline:
            return lines
        time.sleep(0.1)


def test_an_external_extension_gets_invoke_shutdown_and_telemetry(lam, endpoint, make_function, tmp_path):
    out = tmp_path / "probe.jsonl"
    layer = lam.publish_layer_version(LayerName=unique_name("probe"),
                                      Content={"ZipFile": make_zip({"extensions/probe": EXTENSION},
                                                                   executable=("extensions/probe",))})
    try:
        config = make_function({"app.py": HANDLER}, Layers=[layer["LayerVersionArn"]],
                               Environment={"Variables": {"PROBE_URL": url_for(out)}}, Timeout=10)
        name = config["FunctionName"]
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        first = invoke(lam, name, {"n": 1}, log=True)
        assert first.status == 200 and first.function_error is None, first
        assert first.json == {"n": 1, "extensions": ["probe"]}
        assert "REPORT RequestId:" in first.log
        second = invoke(lam, name, {"n": 2})
        assert second.json["n"] == 2

        lines = wait_for(out, lambda ls: sum("event" in line for line in ls) >= 2)
        registered = [line["registered"] for line in lines if "registered" in line]
        assert registered == [{"functionName": name, "functionVersion": "$LATEST",
                               "handler": "app.handler", "accountId": ACCOUNT}]
        invokes = [line["event"] for line in lines if "event" in line]
        assert [e["eventType"] for e in invokes[:2]] == ["INVOKE", "INVOKE"]
        assert invokes[0]["invokedFunctionArn"] == arn
        assert invokes[0]["requestId"] != invokes[1]["requestId"]
        assert invokes[0]["deadlineMs"] > time.time() * 1000 - 60_000
        assert invokes[0]["tracing"]["type"] == "X-Amzn-Trace-Id"

        # Retiring the environment (a configuration change) sends SHUTDOWN.
        lam.update_function_configuration(FunctionName=name, Description="retire the environment")
        wait_updated(lam, name)
        lines = wait_for(out, lambda ls: any(line.get("event", {}).get("eventType") == "SHUTDOWN" for line in ls))
        shutdown = [line["event"] for line in lines if line.get("event", {}).get("eventType") == "SHUTDOWN"]
        assert shutdown and shutdown[0]["shutdownReason"] == "spindown", lines

        # What the extension printed while handling SHUTDOWN is in the function's log.
        logs = client("logs", endpoint, **credentials_for(endpoint))
        deadline = time.time() + 10
        while True:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
            if any("probe: SHUTDOWN spindown" in e["message"] for e in events) or time.time() > deadline:
                break
            time.sleep(0.2)
        assert any("probe: SHUTDOWN spindown" in e["message"] for e in events), [e["message"] for e in events]

        lines = wait_for(out, lambda ls: sum(line.get("telemetry") == "platform.report" for line in ls) >= 2)
        kinds = [line["telemetry"] for line in lines if "telemetry" in line]
        for kind in ("platform.initStart", "platform.initRuntimeDone", "platform.start",
                     "platform.runtimeDone", "platform.report", "function"):
            assert kind in kinds, kinds
        starts = [line["record"] for line in lines if line.get("telemetry") == "platform.start"]
        assert {s["requestId"] for s in starts} == {invokes[0]["requestId"], invokes[1]["requestId"]}
        reports = [line["record"] for line in lines if line.get("telemetry") == "platform.report"]
        assert reports[0]["status"] == "success" and reports[0]["metrics"]["durationMs"] > 0
        logs = [line["record"] for line in lines if line.get("telemetry") == "function"]
        assert any("hello from the handler 1" in record for record in logs), logs
    finally:
        lam.delete_layer_version(LayerName=layer["LayerArn"].rsplit(":", 1)[1], VersionNumber=layer["Version"])


WRAPPER = """#!/bin/sh
export WRAPPED_BY=nubo-wrapper
exec "$@"
"""


def test_an_exec_wrapper_runs_before_the_runtime(lam, make_function):
    code = make_zip({"app.py": "import os\ndef handler(e, c):\n    return os.environ.get('WRAPPED_BY')\n",
                     "wrapper.sh": WRAPPER}, executable=("wrapper.sh",))
    config = make_function(
        zip_bytes=code,
        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}},
    )
    out = invoke(lam, config["FunctionName"], {})
    assert out.status == 200 and out.json == "nubo-wrapper", out


@pytest.mark.parametrize("events", [["BOGUS"]])
def test_register_refuses_unknown_events(lam, make_function, events):
    """A function calling the Extensions API itself: an unknown event type is refused."""
    code = f"""
import json, os, urllib.request, urllib.error
def handler(event, context):
    request = urllib.request.Request("http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension/register",
                                     method="POST", data=json.dumps({{"events": {events!r}}}).encode(),
                                     headers={{"Lambda-Extension-Name": "late"}})
    try:
        urllib.request.urlopen(request)
        return "accepted"
    except urllib.error.HTTPError as e:
        return [e.code, json.load(e)["errorType"]]
"""
    config = make_function({"app.py": code})
    assert invoke(lam, config["FunctionName"], {}).json == [400, "Extension.InvalidEventType"]
