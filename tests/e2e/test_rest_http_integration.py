"""REST APIs' non-proxy `HTTP` integration end to end: boto3 builds a method whose integration
maps the path and query string onto a local backend's URL and renders a request template; the
backend's status picks the integration response (`selectionPattern` over the status), whose
template reshapes the backend's JSON and whose parameters map its headers; an unreachable backend
answers 500 as API Gateway does."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from gateway_helpers import request
from test_apigw_rest import rest_client_for


class Backend(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        missing = "/items/missing" in self.path
        payload = json.dumps({
            "method": self.command,
            "path": self.path,
            "body": body.decode(),
            "contentType": self.headers.get("Content-Type"),
            "tenant": self.headers.get("X-Tenant"),
            "error": "no such item" if missing else None,
        }).encode()
        self.send_response(404 if missing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend-Trace", "trace-1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

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


@pytest.fixture
def rest(endpoint):
    return rest_client_for(endpoint)


@pytest.fixture
def rest_apis(rest):
    created: list[str] = []
    yield created
    for api_id in created:
        try:
            rest.delete_rest_api(restApiId=api_id)
        except ClientError:
            pass


def http_method(rest, api_id, resource_id, uri):
    rest.put_method(restApiId=api_id, resourceId=resource_id, httpMethod="POST",
                    authorizationType="NONE",
                    requestParameters={"method.request.path.id": True,
                                       "method.request.querystring.verbose": False,
                                       "method.request.header.X-Tenant": False})
    rest.put_integration(
        restApiId=api_id, resourceId=resource_id, httpMethod="POST", type="HTTP",
        integrationHttpMethod="POST", uri=uri + "/items/{id}",
        requestParameters={
            "integration.request.path.id": "method.request.path.id",
            "integration.request.querystring.v": "method.request.querystring.verbose",
            "integration.request.header.X-Tenant": "method.request.header.X-Tenant",
            "integration.request.header.X-Static": "'fixed'",
        },
        requestTemplates={"application/json":
                          '{"name": "$input.path(\'$.name\')", "stage": "$context.stage"}'},
    )
    rest.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod="POST",
                             statusCode="200")
    rest.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod="POST",
                             statusCode="404",
                             responseParameters={"method.response.header.X-Trace": False,
                                                 "method.response.header.X-Kind": False})
    rest.put_integration_response(
        restApiId=api_id, resourceId=resource_id, httpMethod="POST", statusCode="200",
        responseTemplates={"application/json":
                           '#set($b = $input.path(\'$\'))'
                           '{"got": "$b.method $b.path", "sent": $b.body, "tenant": "$b.tenant"}'},
    )
    rest.put_integration_response(
        restApiId=api_id, resourceId=resource_id, httpMethod="POST", statusCode="404",
        selectionPattern="4\\d{2}",
        responseParameters={"method.response.header.X-Trace":
                            "integration.response.header.X-Backend-Trace",
                            "method.response.header.X-Kind": "'missing'"},
        responseTemplates={"application/json": '{"error": "$input.path(\'$.error\')"}'},
    )


def test_http_integration_maps_request_and_selects_response(rest, rest_apis, endpoint, backend):
    api = rest.create_rest_api(name="http-mapped")
    api_id = api["id"]
    rest_apis.append(api_id)
    items = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="items")
    item = rest.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    http_method(rest, api_id, item["id"], backend)
    got = rest.get_integration(restApiId=api_id, resourceId=item["id"], httpMethod="POST")
    assert got["type"] == "HTTP" and got["httpMethod"] == "POST"
    rest.create_deployment(restApiId=api_id, stageName="v1")

    # The default response: the backend's JSON reshaped by the response template.
    r = request(endpoint, "POST", f"/_api/{api_id}/v1/items/42?verbose=yes&other=no",
                body=json.dumps({"name": "widget"}),
                headers={"Content-Type": "application/json", "X-Tenant": "acme"})
    assert r.status == 200, r
    assert r.header("content-type") == "application/json"
    assert r.json == {"got": "POST /items/42?v=yes",
                      "sent": {"name": "widget", "stage": "v1"},
                      "tenant": "acme"}, r

    # A 404 from the backend picks the `4\d{2}` response, with its headers mapped.
    r = request(endpoint, "POST", f"/_api/{api_id}/v1/items/missing",
                body="{}", headers={"Content-Type": "application/json"})
    assert r.status == 404, r
    assert r.json == {"error": "no such item"}
    assert r.header("x-trace") == "trace-1"
    assert r.header("x-kind") == "missing"


def test_http_integration_refuses_bad_mapping_expressions(rest, rest_apis, backend):
    api = rest.create_rest_api(name="http-bad")
    rest_apis.append(api["id"])
    root = api["rootResourceId"]
    rest.put_method(restApiId=api["id"], resourceId=root, httpMethod="GET",
                    authorizationType="NONE")
    for to, source in [("integration.request.body.x", "method.request.path.id"),
                       ("integration.request.header.X", "method.request.nowhere.id")]:
        with pytest.raises(ClientError) as e:
            rest.put_integration(restApiId=api["id"], resourceId=root, httpMethod="GET",
                                 type="HTTP", integrationHttpMethod="GET", uri=backend,
                                 requestParameters={to: source})
        assert e.value.response["Error"]["Code"] == "BadRequestException"
        assert "Invalid mapping expression" in e.value.response["Error"]["Message"]


def test_http_integration_unreachable_backend_is_500(rest, rest_apis, endpoint):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = rest.create_rest_api(name="http-down")
    api_id = api["id"]
    rest_apis.append(api_id)
    items = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="items")
    item = rest.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    http_method(rest, api_id, item["id"], f"http://127.0.0.1:{port}")
    rest.create_deployment(restApiId=api_id, stageName="v1")
    r = request(endpoint, "POST", f"/_api/{api_id}/v1/items/1", body="{}",
                headers={"Content-Type": "application/json"})
    assert (r.status, r.json) == (500, {"message": "Internal server error"}), r
