"""Traces: with `--otlp-endpoint`, Nubo exports a span per request (edge), gateway route, invocation,
cold start and run over OTLP/HTTP JSON to a real receiver (a tiny HTTP server in this test that
decodes what arrives); an incoming `X-Amzn-Trace-Id` or `traceparent` is continued, and the function's
`_X_AMZN_TRACE_ID` names the run's span as `Parent`, so the function's own spans join the trace."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import NuboServer, function_arn, make_zip, unique_name, wait_active, ROLE
from gateway_helpers import api_host, request

TRACE_ECHO = """
import os

def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID", ""), "event": event}
"""

HTTP_ECHO = """
import json, os

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"trace": os.environ.get("_X_AMZN_TRACE_ID", "")})}
"""


class Collector:
    """An OTLP/HTTP receiver: keeps every span POSTed to /v1/traces as JSON."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.requests: list[tuple[str, str]] = []  # (path, content type)
        self.resources: list[dict] = []
        lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    collector.requests.append((self.path, self.headers.get("Content-Type", "")))
                    decoded = json.loads(body)
                    for resource_spans in decoded["resourceSpans"]:
                        collector.resources.append(resource_spans["resource"])
                        for scope_spans in resource_spans["scopeSpans"]:
                            collector.spans.extend(scope_spans["spans"])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def trace(self, trace_id: str, want: int, timeout: float = 10.0) -> list[dict]:
        """The spans of one trace, once at least `want` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in self.spans if s["traceId"] == trace_id]
            if len(found) >= want or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def close(self) -> None:
        self.httpd.shutdown()


def attrs(span: dict) -> dict:
    out = {}
    for kv in span.get("attributes", []):
        value = kv["value"]
        out[kv["key"]] = next(iter(value.values()))
    return out


def by_name(spans: list[dict], prefix: str) -> dict:
    found = [s for s in spans if s["name"].startswith(prefix)]
    assert len(found) == 1, (prefix, [s["name"] for s in spans])
    return found[0]


def xray_fields(header: str) -> dict:
    return dict(part.split("=", 1) for part in header.split(";") if "=" in part)


@pytest.fixture(scope="module")
def collector():
    c = Collector()
    yield c
    c.close()


@pytest.fixture(scope="module")
def traced(collector, tmp_path_factory):
    srv = NuboServer(tmp_path_factory.mktemp("traced") / "data", ["--otlp-endpoint", collector.url]).start()
    yield srv
    srv.stop()


def create(srv: NuboServer, code: str) -> str:
    lam = srv.client("lambda")
    name = unique_name("traced")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": code})}, MemorySize=256,
    )
    wait_active(lam, name)
    return name


def test_an_invoke_continues_the_callers_xray_trace_down_to_the_function(traced, collector):
    assert any(line.startswith("nubo: traces: OTLP/HTTP JSON to ") for line in traced.stdout_lines)
    lam = traced.client("lambda")
    name = create(traced, TRACE_ECHO)
    root = "1-5759e988-bd862e3fe1be46a994272793"
    caller_parent = "53995c3f42cd8ad8"

    def add_trace_header(request, **_):
        request.headers["X-Amzn-Trace-Id"] = f"Root={root};Parent={caller_parent};Sampled=1"

    lam.meta.events.register("before-sign.lambda.Invoke", add_trace_header)
    for _ in range(2):  # a cold start, then a warm one
        reply = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')
        assert reply["StatusCode"] == 200
    seen = json.loads(reply["Payload"].read())["trace"]
    trace_id = "5759e988bd862e3fe1be46a994272793"
    spans = collector.trace(trace_id, want=7)

    # Per invocation: edge (server) → Invoke (internal) → the run (server); the first also has Init.
    edges = [s for s in spans if s["name"] == "POST lambda"]
    invokes = [s for s in spans if s["name"] == f"Invoke {name}"]
    runs = [s for s in spans if s["name"] == name]
    inits = [s for s in spans if s["name"] == f"Init {name}"]
    assert (len(edges), len(invokes), len(runs), len(inits)) == (2, 2, 2, 1), [s["name"] for s in spans]
    edge_ids = {e["spanId"] for e in edges}
    for edge in edges:
        assert edge["parentSpanId"] == caller_parent
        assert edge["kind"] == 2
        assert attrs(edge)["http.response.status_code"] == "200"
        assert attrs(edge)["url.path"] == f"/2015-03-31/functions/{name}/invocations"
    invoke_ids = {i["spanId"] for i in invokes}
    assert {i["parentSpanId"] for i in invokes} == edge_ids
    assert {r["parentSpanId"] for r in runs} == invoke_ids
    assert inits[0]["parentSpanId"] in invoke_ids
    cold = [r for r in runs if attrs(r)["faas.coldstart"] is True]
    assert len(cold) == 1
    for span in runs:
        a = attrs(span)
        assert a["faas.name"] == name and a["faas.version"] == "$LATEST"
        assert a["faas.max_memory"] == str(256 << 20)
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"]) > 0
        assert span["status"]["code"] == 0

    # The function saw the same trace, with the run's span as its parent: its own spans join in.
    fields = xray_fields(seen)
    assert fields["Root"] == root
    assert fields["Sampled"] == "1"
    assert fields["Parent"] in {r["spanId"] for r in runs}
    assert fields["Lineage"].endswith(":1")

    # Exported as OTLP/HTTP JSON with the resource naming the service.
    assert all(path == "/v1/traces" and ctype == "application/json" for path, ctype in collector.requests)
    names = {attrs(r).get("service.name") for r in collector.resources}
    assert names == {"nubo"}


def test_a_function_error_marks_its_spans(traced, collector):
    lam = traced.client("lambda")
    name = create(traced, "def handler(event, context):\n    raise RuntimeError('no')\n")
    traceparent_id = "0af7651916cd43dd8448eb211c80319c"

    def add_traceparent(request, **_):
        request.headers["traceparent"] = f"00-{traceparent_id}-b7ad6b7169203331-01"

    lam.meta.events.register("before-sign.lambda.Invoke", add_traceparent)
    reply = lam.invoke(FunctionName=name, Payload=b"{}")
    assert reply.get("FunctionError") == "Unhandled"
    spans = collector.trace(traceparent_id, want=4)
    edge = by_name(spans, "POST lambda")
    assert edge["parentSpanId"] == "b7ad6b7169203331"
    assert by_name(spans, "Invoke ")["status"]["code"] == 2
    assert by_name(spans, name)["status"]["code"] == 2


def test_an_http_api_request_is_traced_through_the_gateway(traced, collector):
    name = create(traced, HTTP_ECHO)
    gw = traced.client("apigatewayv2")
    lam = traced.client("lambda")
    api = gw.create_api(Name=unique_name("traced"), ProtocolType="HTTP", Target=function_arn(name))
    api_id = api["ApiId"]
    lam.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    reply = request(traced.endpoint, "GET", "/hello", host=api_host(traced.endpoint, api_id),
                    headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    assert reply.status == 200, reply
    seen = reply.json["trace"]
    spans = collector.trace(trace_id, want=5)
    edge = by_name(spans, "GET http")
    gateway = by_name(spans, "api ")
    invoke = by_name(spans, "Invoke ")
    run = by_name(spans, name)
    assert edge["parentSpanId"] == "00f067aa0ba902b7"
    assert gateway["parentSpanId"] == edge["spanId"]
    assert invoke["parentSpanId"] == gateway["spanId"]
    assert run["parentSpanId"] == invoke["spanId"]
    assert gateway["name"] == "api $default"
    g = attrs(gateway)
    assert (g["nubo.gateway.id"], g["nubo.gateway.stage"], g["http.response.status_code"]) == (api_id, "$default", "200")
    fields = xray_fields(seen)
    assert fields["Root"] == f"1-{trace_id[:8]}-{trace_id[8:]}"
    assert fields["Parent"] == run["spanId"]
    gw.delete_api(ApiId=api_id)


def test_a_request_without_a_trace_header_starts_its_own_trace(traced, collector):
    lam = traced.client("lambda")
    name = create(traced, TRACE_ECHO)
    reply = lam.invoke(FunctionName=name, Payload=b"{}")
    root = xray_fields(json.loads(reply["Payload"].read())["trace"])["Root"]
    _, epoch, rest = root.split("-")
    assert abs(int(epoch, 16) - time.time()) < 60
    spans = collector.trace(epoch + rest, want=3)
    edge = by_name(spans, "POST lambda")
    assert "parentSpanId" not in edge or edge["parentSpanId"] in ("", None)


def test_an_unreachable_collector_slows_nothing_and_https_is_refused(start_server, tmp_path):
    srv = start_server(extra_args=["--otlp-endpoint", "http://127.0.0.1:9"])  # discard port: refused
    lam = srv.client("lambda")
    name = create(srv, TRACE_ECHO)
    for _ in range(3):
        assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    import subprocess
    from conftest import NUBO

    refused = subprocess.run(
        [str(NUBO), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "https"),
         "--otlp-endpoint", "https://collector.example:4318"],
        capture_output=True, text=True, timeout=30,
    )
    assert refused.returncode != 0
    assert "is not an http:// URL" in refused.stderr
