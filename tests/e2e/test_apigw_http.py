"""HTTP APIs (apigatewayv2) end to end: boto3 defines them, raw HTTP calls them, handlers echo the
event they received so the tests check its exact fields, and each response style is mapped."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, error_of, function_arn, make_zip
from gateway_helpers import api_host, apigw_client_for, request

# A handler that echoes the event, or answers in the style the path or body asks for.
GW_APP = r'''
import base64, json, time

def handler(event, context):
    params = event.get("pathParameters") or {}
    style = params.get("style")
    if style == "explicit":
        return {"statusCode": 201, "headers": {"x-a": "1", "content-type": "text/plain"},
                "cookies": ["a=1; Path=/", "b=2"], "body": "created", "isBase64Encoded": False}
    if style == "dict":
        return {"hello": "world"}
    if style == "string":
        return "Hello from Lambda!"
    if style == "binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(b"\x00\x01\xff").decode(), "isBase64Encoded": True}
    if style == "v1multi":
        return {"statusCode": 202, "headers": {"x-one": "1"},
                "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}, "body": "multi"}
    if style == "nostatus":
        return {"body": "missing statusCode"}
    if style == "error":
        raise RuntimeError("boom")
    if style == "sleep":
        time.sleep(2)
        return "late"
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
'''


@pytest.fixture(scope="session")
def gw(endpoint):
    return apigw_client_for(endpoint)


@pytest.fixture
def gw_function(make_function):
    return make_function(files={"app.py": GW_APP}, Timeout=10)["FunctionName"]


@pytest.fixture
def apis(gw):
    created: list[str] = []
    yield created
    for api_id in created:
        try:
            gw.delete_api(ApiId=api_id)
        except ClientError:
            pass


def lambda_integration(gw, api_id, name, version="2.0", **kwargs):
    return gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn(name),
        PayloadFormatVersion=version, **kwargs,
    )["IntegrationId"]


def explicit_api(gw, apis, name, routes, version="2.0", stage="prod", **stage_kwargs):
    """An API with one Lambda integration behind `routes`, deployed explicitly to `stage`."""
    api_id = gw.create_api(Name="explicit", ProtocolType="HTTP")["ApiId"]
    apis.append(api_id)
    integration = lambda_integration(gw, api_id, name, version)
    for key in routes:
        gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    gw.create_stage(ApiId=api_id, StageName=stage, **stage_kwargs)
    gw.create_deployment(ApiId=api_id, StageName=stage)
    return api_id


# ------------------------------------------------------------------------------------------------
# Quick create and the 2.0 event
# ------------------------------------------------------------------------------------------------


def test_quick_create_serves_the_v2_event_on_the_api_host(gw, apis, gw_function, endpoint):
    api = gw.create_api(Name="quick", ProtocolType="HTTP", Target=function_arn(gw_function))
    apis.append(api["ApiId"])
    api_id = api["ApiId"]
    assert api["ProtocolType"] == "HTTP"
    # Path-style on the listen address by default (`--public-url host` hands out the host form).
    assert api["ApiEndpoint"] == f"{endpoint}/_api/{api_id}"
    stages = gw.get_stages(ApiId=api_id)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    assert gw.get_stage(ApiId=api_id, StageName="$default")["ApiGatewayManaged"] is True
    routes = gw.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    integration = gw.get_integrations(ApiId=api_id)["Items"][0]
    assert (integration["IntegrationType"], integration["PayloadFormatVersion"]) == ("AWS_PROXY", "2.0")

    host = api_host(endpoint, api_id)
    reply = request(
        endpoint, "POST", "/items/42?tag=a&tag=b&q=x%20y",
        body='{"a":1}',
        headers=[("Content-Type", "application/json"), ("X-Custom", "one"), ("X-Custom", "two"),
                 ("Cookie", "session=abc; theme=dark"), ("User-Agent", "e2e/1.0")],
        host=host,
    )
    assert reply.status == 200, reply
    event = reply.json
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "tag=a&tag=b&q=x%20y"
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "one,two"
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["host"] == host
    assert all(k == k.lower() for k in event["headers"])
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}
    assert "pathParameters" not in event and "stageVariables" not in event
    assert event["body"] == '{"a":1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/items/42", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "e2e/1.0"}
    assert (ctx["apiId"], ctx["stage"], ctx["routeKey"]) == (api_id, "$default", "$default")
    assert ctx["domainName"] == host and ctx["domainPrefix"] == api_id
    assert ctx["accountId"] == "000000000000"
    assert reply.header("x-amzn-requestid") == ctx["requestId"] == reply.header("apigw-requestid")
    assert isinstance(ctx["timeEpoch"], int) and ctx["time"].endswith(" +0000")

    # The same API through the path form, and a binary body arrives base64-encoded.
    reply = request(endpoint, "PUT", f"/_api/{api_id}/bin", body=b"\x00\xff\x10",
                    headers={"Content-Type": "application/octet-stream"})
    event = reply.json
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff\x10"
    assert event["requestContext"]["domainName"] == host


def test_unknown_api_stage_and_route_are_404(gw, apis, gw_function, endpoint):
    reply = request(endpoint, "GET", "/_api/nosuchapi0/x")
    assert (reply.status, reply.json) == (404, {"message": "Not Found"})
    api_id = explicit_api(gw, apis, gw_function, ["GET /only"])
    assert request(endpoint, "GET", f"/_api/{api_id}/other/only").status == 404  # no such stage
    assert request(endpoint, "GET", f"/_api/{api_id}/prod/nope").json == {"message": "Not Found"}
    assert request(endpoint, "GET", f"/_api/{api_id}/prod/only").status == 200


# ------------------------------------------------------------------------------------------------
# Explicit routes, stages and deployments
# ------------------------------------------------------------------------------------------------


def test_routes_precedence_path_parameters_and_stage_variables(gw, apis, gw_function, endpoint):
    api_id = explicit_api(
        gw, apis, gw_function,
        ["GET /items/{id}", "GET /items/special", "ANY /{proxy+}", "GET /pets/{proxy+}"],
        StageVariables={"env": "test", "table": "items"},
    )

    def event(method, path):
        reply = request(endpoint, method, f"/_api/{api_id}{path}")
        assert reply.status == 200, reply
        return reply.json

    e = event("GET", "/prod/items/42")
    assert (e["routeKey"], e["pathParameters"]) == ("GET /items/{id}", {"id": "42"})
    assert e["rawPath"] == "/prod/items/42"
    assert e["requestContext"]["http"]["path"] == "/prod/items/42"
    assert e["requestContext"]["stage"] == "prod"
    assert e["stageVariables"] == {"env": "test", "table": "items"}
    assert event("GET", "/prod/items/special")["routeKey"] == "GET /items/special"
    e = event("DELETE", "/prod/items/42")
    assert (e["routeKey"], e["pathParameters"]) == ("ANY /{proxy+}", {"proxy": "items/42"})
    e = event("GET", "/prod/pets/cat/1")
    assert (e["routeKey"], e["pathParameters"]) == ("GET /pets/{proxy+}", {"proxy": "cat/1"})
    assert event("POST", "/prod/a/b/c")["pathParameters"] == {"proxy": "a/b/c"}

    # A deployment is a snapshot: a new route is served only after the next deployment.
    integration = gw.get_integrations(ApiId=api_id)["Items"][0]["IntegrationId"]
    gw.create_route(ApiId=api_id, RouteKey="GET /items/{id}/tags", Target=f"integrations/{integration}")
    assert event("GET", "/prod/items/1/tags")["routeKey"] == "ANY /{proxy+}"
    deployment = gw.create_deployment(ApiId=api_id, StageName="prod", Description="second")
    assert deployment["DeploymentStatus"] == "DEPLOYED"
    assert event("GET", "/prod/items/1/tags")["routeKey"] == "GET /items/{id}/tags"
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == deployment["DeploymentId"]
    assert len(gw.get_deployments(ApiId=api_id)["Items"]) == 2


def test_auto_deploy_stage_follows_changes(gw, apis, gw_function, endpoint):
    api_id = gw.create_api(Name="auto", ProtocolType="HTTP")["ApiId"]
    apis.append(api_id)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    integration = lambda_integration(gw, api_id, gw_function)
    assert request(endpoint, "GET", f"/_api/{api_id}/x").status == 404
    route = gw.create_route(ApiId=api_id, RouteKey="GET /x", Target=f"integrations/{integration}")
    assert request(endpoint, "GET", f"/_api/{api_id}/x").json["routeKey"] == "GET /x"
    gw.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="GET /y")
    assert request(endpoint, "GET", f"/_api/{api_id}/x").status == 404
    assert request(endpoint, "GET", f"/_api/{api_id}/y").json["routeKey"] == "GET /y"


def test_payload_v1_event(gw, apis, gw_function, endpoint):
    api_id = explicit_api(gw, apis, gw_function, ["ANY /v1/{proxy+}"], version="1.0",
                          StageVariables={"k": "v"})
    reply = request(
        endpoint, "POST", f"/_api/{api_id}/prod/v1/a/b?x=1&x=2&y=3", body="hello",
        headers=[("Content-Type", "text/plain"), ("X-Multi", "1"), ("X-Multi", "2")],
    )
    assert reply.status == 200, reply
    e = reply.json
    assert e["version"] == "1.0"
    assert e["resource"] == "/v1/{proxy+}"
    assert e["path"] == "/v1/a/b"
    assert e["httpMethod"] == "POST"
    assert e["headers"]["x-multi"] == "2"
    assert e["multiValueHeaders"]["x-multi"] == ["1", "2"]
    assert e["queryStringParameters"] == {"x": "2", "y": "3"}
    assert e["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["3"]}
    assert e["pathParameters"] == {"proxy": "a/b"}
    assert e["stageVariables"] == {"k": "v"}
    assert (e["body"], e["isBase64Encoded"]) == ("hello", False)
    ctx = e["requestContext"]
    assert ctx["path"] == "/prod/v1/a/b"
    assert (ctx["httpMethod"], ctx["stage"], ctx["apiId"]) == ("POST", "prod", api_id)
    assert ctx["resourcePath"] == "/v1/{proxy+}"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(ctx["requestTimeEpoch"], int)

    e = request(endpoint, "GET", f"/_api/{api_id}/prod/v1/z").json
    assert e["queryStringParameters"] is None and e["multiValueQueryStringParameters"] is None
    assert e["body"] is None


# ------------------------------------------------------------------------------------------------
# Response mapping
# ------------------------------------------------------------------------------------------------


def test_v2_response_styles(gw, apis, gw_function, endpoint):
    api_id = explicit_api(gw, apis, gw_function, ["GET /style/{style}"])

    def call(style):
        return request(endpoint, "GET", f"/_api/{api_id}/prod/style/{style}")

    r = call("explicit")
    assert (r.status, r.body, r.header("x-a"), r.header("content-type")) == (201, b"created", "1", "text/plain")
    assert r.headers_named("set-cookie") == ["a=1; Path=/", "b=2"]
    r = call("dict")
    assert (r.status, r.header("content-type"), r.json) == (200, "application/json", {"hello": "world"})
    r = call("string")
    assert (r.status, r.body) == (200, b"Hello from Lambda!")
    r = call("binary")
    assert (r.status, r.body) == (200, b"\x00\x01\xff")
    r = call("error")
    assert (r.status, r.json) == (500, {"message": "Internal Server Error"})


def test_v1_response_needs_a_status_code(gw, apis, gw_function, endpoint):
    api_id = explicit_api(gw, apis, gw_function, ["GET /style/{style}"], version="1.0")
    r = request(endpoint, "GET", f"/_api/{api_id}/prod/style/v1multi")
    assert (r.status, r.body, r.header("x-one")) == (202, b"multi", "1")
    assert r.headers_named("set-cookie") == ["a=1", "b=2"]
    for style in ("nostatus", "dict", "string", "error"):
        r = request(endpoint, "GET", f"/_api/{api_id}/prod/style/{style}")
        assert (r.status, r.json) == (500, {"message": "Internal Server Error"}), style


def test_integration_timeout_is_503(gw, apis, gw_function, endpoint):
    api_id = gw.create_api(Name="slow", ProtocolType="HTTP")["ApiId"]
    apis.append(api_id)
    integration = lambda_integration(gw, api_id, gw_function, TimeoutInMillis=500)
    gw.create_route(ApiId=api_id, RouteKey="GET /style/{style}", Target=f"integrations/{integration}")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    request(endpoint, "GET", f"/_api/{api_id}/style/dict")  # warm up: a cold start is not the point
    started = time.monotonic()
    r = request(endpoint, "GET", f"/_api/{api_id}/style/sleep")
    assert (r.status, r.json) == (503, {"message": "Service Unavailable"})
    assert time.monotonic() - started < 1.8


def test_function_timeout_is_a_function_error(gw, apis, make_function, endpoint):
    name = make_function(files={"app.py": GW_APP}, Timeout=1)["FunctionName"]
    api_id = gw.create_api(Name="t", ProtocolType="HTTP", Target=function_arn(name))["ApiId"]
    apis.append(api_id)
    r = request(endpoint, "GET", f"/_api/{api_id}/x", body=None)
    assert r.status == 200
    api2 = explicit_api(gw, apis, name, ["GET /style/{style}"], stage="$default")
    r = request(endpoint, "GET", f"/_api/{api2}/style/sleep")
    assert (r.status, r.json) == (500, {"message": "Internal Server Error"})


def test_payload_over_10_mb_is_413(gw, apis, gw_function, endpoint):
    api_id = gw.create_api(Name="big", ProtocolType="HTTP", Target=function_arn(gw_function))["ApiId"]
    apis.append(api_id)
    r = request(endpoint, "POST", f"/_api/{api_id}/big", body=b"x" * (10 * 1024 * 1024 + 1),
                headers={"Content-Type": "text/plain"})
    assert r.status == 413


# ------------------------------------------------------------------------------------------------
# Throttling and CORS
# ------------------------------------------------------------------------------------------------


def test_stage_and_route_throttling(gw, apis, gw_function, endpoint):
    api_id = explicit_api(
        gw, apis, gw_function, ["GET /free", "GET /limited"],
        DefaultRouteSettings={"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 1.0},
        RouteSettings={"GET /limited": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.01}},
    )
    stage = gw.get_stage(ApiId=api_id, StageName="prod")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 2
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: request(endpoint, "GET", f"/_api/{api_id}/prod/free"), range(6)))
    statuses = sorted(r.status for r in replies)
    assert statuses.count(429) >= 3 and statuses.count(200) >= 2, statuses
    throttled = next(r for r in replies if r.status == 429)
    assert throttled.json == {"message": "Too Many Requests"}

    first = request(endpoint, "GET", f"/_api/{api_id}/prod/limited")
    second = request(endpoint, "GET", f"/_api/{api_id}/prod/limited")
    assert (first.status, second.status) == (200, 429)
    # The stage's bucket refills at 1/s; the route's own bucket does not share it.
    time.sleep(1.1)
    assert request(endpoint, "GET", f"/_api/{api_id}/prod/free").status == 200


def test_cors_preflight_and_response_headers(gw, apis, gw_function, endpoint):
    api = gw.create_api(
        Name="cors", ProtocolType="HTTP", Target=function_arn(gw_function),
        CorsConfiguration={"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET", "POST"],
                           "AllowHeaders": ["content-type", "x-token"], "ExposeHeaders": ["x-a"],
                           "MaxAge": 300},
    )
    apis.append(api["ApiId"])
    assert api["CorsConfiguration"]["AllowOrigins"] == ["https://app.example.com"]
    path = f"/_api/{api['ApiId']}/style/explicit"
    pre = request(endpoint, "OPTIONS", path, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert pre.status == 204, pre
    assert pre.header("access-control-allow-origin") == "https://app.example.com"
    assert pre.header("access-control-allow-methods") == "GET,POST"
    assert pre.header("access-control-allow-headers") == "content-type,x-token"
    assert pre.header("access-control-max-age") == "300"

    denied = request(endpoint, "OPTIONS", path, headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"})
    assert denied.status == 204 and denied.header("access-control-allow-origin") is None

    r = request(endpoint, "GET", path, headers={"Origin": "https://app.example.com"})
    assert r.status == 200
    assert r.header("access-control-allow-origin") == "https://app.example.com"
    assert r.header("access-control-expose-headers") == "x-a"
    r = request(endpoint, "GET", path, headers={"Origin": "https://evil.example.com"})
    assert r.header("access-control-allow-origin") is None


# ------------------------------------------------------------------------------------------------
# HTTP_PROXY
# ------------------------------------------------------------------------------------------------


class Backend(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps({
            "method": self.command, "path": self.path, "body": body.decode(),
            "x-test": self.headers.get("X-Test"), "x-forwarded-for": self.headers.get("X-Forwarded-For"),
        }).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "yes")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def backend():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_proxy_forwards_and_streams_back(gw, apis, backend, endpoint):
    api_id = gw.create_api(Name="proxy", ProtocolType="HTTP")["ApiId"]
    apis.append(api_id)
    integration = gw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=backend + "/backend/{proxy}",
        IntegrationMethod="ANY", PayloadFormatVersion="1.0",
    )
    assert integration["PayloadFormatVersion"] == "1.0"
    gw.create_route(ApiId=api_id, RouteKey="ANY /svc/{proxy+}",
                    Target=f"integrations/{integration['IntegrationId']}")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    r = request(endpoint, "POST", f"/_api/{api_id}/svc/a/b?q=1", body="payload",
                headers={"X-Test": "t1", "Content-Type": "text/plain"})
    assert r.status == 202, r
    assert r.header("x-backend") == "yes"
    got = r.json
    assert got["method"] == "POST"
    assert got["path"] == "/backend/a/b?q=1"
    assert got["body"] == "payload"
    assert got["x-test"] == "t1"
    assert got["x-forwarded-for"] == "127.0.0.1"

    # Quick create with a URL target makes an HTTP_PROXY integration too.
    quick = gw.create_api(Name="quick-proxy", ProtocolType="HTTP", Target=backend + "/fixed")
    apis.append(quick["ApiId"])
    r = request(endpoint, "GET", f"/_api/{quick['ApiId']}/anything")
    assert (r.status, r.json["path"]) == (202, "/fixed")


# ------------------------------------------------------------------------------------------------
# OpenAPI import / export
# ------------------------------------------------------------------------------------------------


def openapi_doc(function_name: str, extra_paths: dict | None = None) -> dict:
    integration = {
        "type": "AWS_PROXY", "httpMethod": "POST", "payloadFormatVersion": "2.0",
        "uri": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn(function_name)}/invocations",
    }
    paths = {
        "/items/{id}": {"get": {"x-amazon-apigateway-integration": integration}},
        "/{proxy+}": {"x-amazon-apigateway-any-method": {
            "x-amazon-apigateway-integration": dict(integration, payloadFormatVersion="1.0")}},
    }
    paths.update(extra_paths or {})
    return {
        "openapi": "3.0.1",
        "info": {"title": "imported", "version": "1.2"},
        "x-amazon-apigateway-cors": {"allowOrigins": ["*"], "allowMethods": ["GET"]},
        "paths": paths,
    }


def test_import_openapi_then_serve_export_and_reimport(gw, apis, gw_function, endpoint):
    api = gw.import_api(Body=json.dumps(openapi_doc(gw_function)))
    apis.append(api["ApiId"])
    api_id = api["ApiId"]
    assert (api["Name"], api["Version"]) == ("imported", "1.2")
    keys = sorted(r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"])
    assert keys == ["ANY /{proxy+}", "GET /items/{id}"]
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    e = request(endpoint, "GET", f"/_api/{api_id}/items/7").json
    assert (e["version"], e["routeKey"], e["pathParameters"]) == ("2.0", "GET /items/{id}", {"id": "7"})
    e = request(endpoint, "GET", f"/_api/{api_id}/other/path").json
    assert (e["version"], e["resource"]) == ("1.0", "/{proxy+}")
    pre = request(endpoint, "OPTIONS", f"/_api/{api_id}/items/7",
                  headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"})
    assert pre.header("access-control-allow-origin") == "*"

    exported = json.loads(gw.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON")["body"].read())
    assert exported["openapi"].startswith("3.0")
    assert set(exported["paths"]) == {"/items/{id}", "/{proxy+}"}
    ext = exported["paths"]["/items/{id}"]["get"]["x-amazon-apigateway-integration"]
    assert (ext["type"], ext["payloadFormatVersion"]) == ("aws_proxy", "2.0")
    yaml_text = gw.export_api(ApiId=api_id, Specification="OAS30", OutputType="YAML")["body"].read().decode()
    assert "openapi: 3.0.1" in yaml_text and "/items/{id}" in yaml_text

    # Reimport (YAML this time) replaces the routes; the auto-deploying stage follows.
    doc = openapi_doc(gw_function)
    doc["paths"] = {"/v2/things": doc["paths"]["/items/{id}"]}
    import_yaml = "openapi: 3.0.1\ninfo: {title: again, version: '2'}\npaths:\n  /v2/things:\n    get:\n      x-amazon-apigateway-integration: " + json.dumps(doc["paths"]["/v2/things"]["get"]["x-amazon-apigateway-integration"]) + "\n"
    gw.reimport_api(ApiId=api_id, Body=import_yaml)
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["GET /v2/things"]
    assert request(endpoint, "GET", f"/_api/{api_id}/v2/things").json["routeKey"] == "GET /v2/things"
    assert request(endpoint, "GET", f"/_api/{api_id}/items/7").status == 404


def test_import_rejects_swagger_and_warnings_when_asked(gw, gw_function):
    with pytest.raises(ClientError) as e:
        gw.import_api(Body=json.dumps({"swagger": "2.0", "info": {"title": "x"}, "paths": {}}))
    assert error_of(e)[:2] == ("BadRequestException", 400)
    doc = openapi_doc(gw_function)
    doc["components"] = {"securitySchemes": {"jwt": {"type": "oauth2"}}}
    with pytest.raises(ClientError) as e:
        gw.import_api(Body=json.dumps(doc), FailOnWarnings=True)
    assert error_of(e)[:2] == ("BadRequestException", 400)


# ------------------------------------------------------------------------------------------------
# Control-plane contract
# ------------------------------------------------------------------------------------------------


def test_control_plane_errors_and_updates(gw, apis, gw_function):
    with pytest.raises(ClientError) as e:
        gw.get_api(ApiId="nosuchapi0")
    assert error_of(e)[:2] == ("NotFoundException", 404)
    # WebSocket APIs (tests/e2e/test_websocket.py) need a selection expression Nubo can evaluate.
    with pytest.raises(ClientError) as e:
        gw.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.header.x")
    assert error_of(e)[:2] == ("BadRequestException", 400)

    api_id = gw.create_api(Name="errors", ProtocolType="HTTP", Description="d")["ApiId"]
    apis.append(api_id)
    for bad in ("GET items", "FETCH /x", "GET /{a+}/b"):
        with pytest.raises(ClientError) as e:
            gw.create_route(ApiId=api_id, RouteKey=bad)
        assert error_of(e)[:2] == ("BadRequestException", 400), bad
    route = gw.create_route(ApiId=api_id, RouteKey="GET /a")
    with pytest.raises(ClientError) as e:
        gw.create_route(ApiId=api_id, RouteKey="GET /a")
    assert error_of(e)[:2] == ("ConflictException", 409)
    with pytest.raises(ClientError) as e:
        gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                              IntegrationUri=function_arn(gw_function), PayloadFormatVersion="3.0")
    assert error_of(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn(gw_function),
                              PayloadFormatVersion="2.0", TimeoutInMillis=40000)
    assert error_of(e)[:2] == ("BadRequestException", 400)
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                        IntegrationUri=function_arn(gw_function) + ":$LATEST",
                                        PayloadFormatVersion="2.0")
    assert integration["TimeoutInMillis"] == 30000
    updated = gw.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"], TimeoutInMillis=1000)
    assert updated["TimeoutInMillis"] == 1000
    gw.update_route(ApiId=api_id, RouteId=route["RouteId"], Target=f"integrations/{integration['IntegrationId']}")
    with pytest.raises(ClientError) as e:
        gw.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    assert error_of(e)[:2] == ("ConflictException", 409)
    gw.create_stage(ApiId=api_id, StageName="dev")
    with pytest.raises(ClientError) as e:
        gw.create_stage(ApiId=api_id, StageName="dev")
    assert error_of(e)[:2] == ("ConflictException", 409)
    stage = gw.update_stage(ApiId=api_id, StageName="dev", StageVariables={"a": "b"},
                            AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:gw",
                                               "Format": "$context.requestId $context.status"})
    assert stage["StageVariables"] == {"a": "b"}
    assert stage["AccessLogSettings"]["Format"] == "$context.requestId $context.status"
    assert gw.update_api(ApiId=api_id, Name="renamed")["Name"] == "renamed"
    page = gw.get_apis(MaxResults="1")
    assert len(page["Items"]) == 1
    gw.delete_stage(ApiId=api_id, StageName="dev")
    with pytest.raises(ClientError) as e:
        gw.get_stage(ApiId=api_id, StageName="dev")
    assert error_of(e)[:2] == ("NotFoundException", 404)
    gw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    gw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as e:
        gw.get_routes(ApiId=api_id)
    assert error_of(e)[:2] == ("NotFoundException", 404)


def test_apis_survive_a_restart(start_server, tmp_path):
    from conftest import lambda_client_for, make_zip as mz
    srv = start_server()
    lam = lambda_client_for(srv.endpoint)
    lam.create_function(FunctionName="persisted", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": mz({"app.py": GW_APP})})
    gw = apigw_client_for(srv.endpoint)
    api_id = explicit_api(gw, [], "persisted", ["GET /p/{id}"])
    srv = start_server.restart(srv)
    reply = request(srv.endpoint, "GET", f"/_api/{api_id}/prod/p/9")
    assert reply.status == 200, reply
    assert reply.json["pathParameters"] == {"id": "9"}
    assert apigw_client_for(srv.endpoint).get_api(ApiId=api_id)["Name"] == "explicit"


def test_access_log_lines_fill_context_variables(gw, apis, gw_function, server, endpoint):
    marker = f"acc-{time.time_ns()}"
    api_id = explicit_api(
        gw, apis, gw_function, ["GET /items/{id}"],
        AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:gw-access",
                           "Format": marker + " $context.requestId $context.routeKey $context.status "
                                              "$context.httpMethod $context.identity.sourceIp $context.stage"},
    )
    reply = request(endpoint, "GET", f"/_api/{api_id}/prod/items/1")
    assert reply.status == 200
    expected = f"{marker} {reply.header('x-amzn-requestid')} GET /items/{{id}} 200 GET 127.0.0.1 prod"
    deadline = time.monotonic() + 10
    while expected not in server.stderr_text():
        assert time.monotonic() < deadline, server.stderr_text()[-2000:]
        time.sleep(0.05)
