"""REST APIs (apigateway v1) end to end: boto3 builds them (resources, methods, integrations,
deployments, stages), raw HTTP calls them at `/_api/{id}/{stage}/…` and the execute-api host —
a MOCK answering with no function, AWS_PROXY with the 1.0 event, HTTP_PROXY to a local backend —
and API keys with usage plans enforce their quota exactly, across a restart."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, credentials_for, error_of, function_arn
from gateway_helpers import api_host, request

ECHO = r'''
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
'''


def rest_client_for(endpoint: str):
    return boto3.client(
        "apigateway",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10),
        **credentials_for(endpoint),
    )


@pytest.fixture(scope="session")
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


def new_api(rest, rest_apis, name="rest"):
    api = rest.create_rest_api(name=name, description="d", tags={"team": "a"})
    rest_apis.append(api["id"])
    return api


def add_method(rest, api_id, resource_id, method="GET", key_required=False):
    rest.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=method,
                    authorizationType="NONE", apiKeyRequired=key_required)


def mock_method(rest, api_id, resource_id, key_required=False):
    add_method(rest, api_id, resource_id, key_required=key_required)
    rest.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod="GET", type="MOCK",
                         requestTemplates={"application/json": '{"statusCode": 200}'})
    rest.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod="GET",
                             statusCode="200",
                             responseParameters={"method.response.header.X-Mock": False})
    rest.put_integration_response(
        restApiId=api_id, resourceId=resource_id, httpMethod="GET", statusCode="200",
        responseTemplates={"application/json": '{"hello": "from a mock"}'},
        responseParameters={"method.response.header.X-Mock": "'yes'"},
    )


def test_control_plane_round_trip(rest, rest_apis):
    api = new_api(rest, rest_apis)
    api_id = api["id"]
    assert api["name"] == "rest" and api["apiKeySource"] == "HEADER"
    assert api["tags"] == {"team": "a"}
    assert isinstance(api["createdDate"].year, int)
    assert api_id in [a["id"] for a in rest.get_rest_apis()["items"]]
    assert rest.get_rest_api(restApiId=api_id)["rootResourceId"] == api["rootResourceId"]

    root = api["rootResourceId"]
    items = rest.create_resource(restApiId=api_id, parentId=root, pathPart="items")
    assert items["path"] == "/items"
    one = rest.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    assert one["path"] == "/items/{id}"
    with pytest.raises(ClientError) as e:
        rest.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{other}")
    assert error_of(e)[:2] == ("ConflictException", 409)
    paths = sorted(r["path"] for r in rest.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/items", "/items/{id}"]

    mock_method(rest, api_id, one["id"])
    method = rest.get_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET")
    assert method["authorizationType"] == "NONE"
    assert method["methodIntegration"]["type"] == "MOCK"
    assert method["methodIntegration"]["integrationResponses"]["200"]["responseTemplates"]
    integration = rest.get_integration(restApiId=api_id, resourceId=one["id"], httpMethod="GET")
    assert integration["requestTemplates"] == {"application/json": '{"statusCode": 200}'}

    with pytest.raises(ClientError) as e:
        rest.put_integration(restApiId=api_id, resourceId=one["id"], httpMethod="GET",
                             type="AWS_PROXY", integrationHttpMethod="POST", uri="not-an-arn:x:y")
    assert error_of(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        rest.get_method(restApiId=api_id, resourceId=one["id"], httpMethod="POST")
    assert error_of(e)[:2] == ("NotFoundException", 404)

    deployment = rest.create_deployment(restApiId=api_id, stageName="prod", description="first")
    assert deployment["description"] == "first"
    stages = rest.get_stages(restApiId=api_id)["item"]
    assert [(s["stageName"], s["deploymentId"]) for s in stages] == [("prod", deployment["id"])]
    rest.create_stage(restApiId=api_id, stageName="beta", deploymentId=deployment["id"],
                      variables={"v": "1"})
    assert rest.get_stage(restApiId=api_id, stageName="beta")["variables"] == {"v": "1"}
    with pytest.raises(ClientError) as e:
        rest.create_stage(restApiId=api_id, stageName="beta", deploymentId=deployment["id"])
    assert error_of(e)[:2] == ("ConflictException", 409)

    arn = f"arn:aws:apigateway:{REGION}::/restapis/{api_id}"
    rest.tag_resource(resourceArn=arn, tags={"env": "test"})
    assert rest.get_tags(resourceArn=arn)["tags"] == {"team": "a", "env": "test"}
    rest.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert rest.get_tags(resourceArn=arn)["tags"] == {"env": "test"}

    rest.delete_stage(restApiId=api_id, stageName="beta")
    rest.delete_resource(restApiId=api_id, resourceId=items["id"])
    assert [r["path"] for r in rest.get_resources(restApiId=api_id)["items"]] == ["/"]
    rest.delete_rest_api(restApiId=api_id)
    with pytest.raises(ClientError) as e:
        rest.get_rest_api(restApiId=api_id)
    assert error_of(e)[:2] == ("NotFoundException", 404)


def test_mock_serves_a_static_response_without_a_function(rest, rest_apis, endpoint):
    api = new_api(rest, rest_apis, "mock")
    api_id = api["id"]
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="hello")
    mock_method(rest, api_id, res["id"])
    # Not served before a deployment: an unknown stage, resource or method is AWS's 403.
    r = request(endpoint, "GET", f"/_api/{api_id}/prod/hello")
    assert (r.status, r.json) == (403, {"message": "Missing Authentication Token"}), r
    rest.create_deployment(restApiId=api_id, stageName="prod")
    r = request(endpoint, "GET", f"/_api/{api_id}/prod/hello")
    assert r.status == 200, r
    assert r.json == {"hello": "from a mock"}
    assert r.header("x-mock") == "yes"
    r = request(endpoint, "GET", "/prod/hello", host=api_host(endpoint, api_id))
    assert (r.status, r.json) == (200, {"hello": "from a mock"})
    assert request(endpoint, "GET", f"/_api/{api_id}/prod/nope").status == 403
    assert request(endpoint, "POST", f"/_api/{api_id}/prod/hello").status == 403


def test_aws_proxy_sends_the_1_0_event(rest, rest_apis, endpoint, make_function):
    name = make_function(files={"app.py": ECHO}, Timeout=10)["FunctionName"]
    api = new_api(rest, rest_apis, "proxy")
    api_id = api["id"]
    items = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="items")
    proxy = rest.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{proxy+}")
    add_method(rest, api_id, proxy["id"], "ANY")
    uri = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
           f"{function_arn(name)}/invocations")
    rest.put_integration(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY",
                         type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    rest.create_deployment(restApiId=api_id, stageName="dev", variables={"color": "blue"})
    r = request(endpoint, "POST", f"/_api/{api_id}/dev/items/a/b?q=1", body='{"x": 1}',
                headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    event = r.json
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{proxy+}"
    assert event["path"] == "/items/a/b"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["queryStringParameters"] == {"q": "1"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["body"] == '{"x": 1}'
    assert event["requestContext"]["stage"] == "dev"


class Backend(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps({"method": self.command, "path": self.path, "body": body.decode()}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
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


def test_http_proxy_forwards(rest, rest_apis, endpoint, backend):
    api = new_api(rest, rest_apis, "http")
    api_id = api["id"]
    proxy = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="{proxy+}")
    add_method(rest, api_id, proxy["id"], "ANY")
    rest.put_integration(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY",
                         type="HTTP_PROXY", integrationHttpMethod="ANY", uri=backend + "/up/{proxy}")
    rest.create_deployment(restApiId=api_id, stageName="v1")
    r = request(endpoint, "POST", f"/_api/{api_id}/v1/a/b?q=2", body="payload")
    assert r.status == 201, r
    assert r.json == {"method": "POST", "path": "/up/a/b?q=2", "body": "payload"}


def keyed_api(rest, quota_limit):
    """A MOCK method requiring a key, deployed to `prod`, a plan with a daily quota and one key."""
    api = rest.create_rest_api(name="keyed")
    api_id = api["id"]
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="paid")
    mock_method(rest, api_id, res["id"], key_required=True)
    assert rest.get_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET")["apiKeyRequired"]
    rest.create_deployment(restApiId=api_id, stageName="prod")
    key = rest.create_api_key(name="customer", enabled=True)
    assert len(key["value"]) >= 20
    plan = rest.create_usage_plan(
        name="basic", apiStages=[{"apiId": api_id, "stage": "prod"}],
        quota={"limit": quota_limit, "period": "DAY"},
    )
    return api_id, key, plan


def test_api_keys_and_quota_enforce_exactly_across_a_restart(start_server):
    import datetime

    srv = start_server()
    rest = rest_client_for(srv.endpoint)
    limit = 5
    api_id, key, plan = keyed_api(rest, limit)
    path = f"/_api/{api_id}/prod/paid"
    # No key, an unknown key, and a key no plan holds: 403 Forbidden.
    r = request(srv.endpoint, "GET", path)
    assert (r.status, r.json) == (403, {"message": "Forbidden"}), r
    assert request(srv.endpoint, "GET", path, headers={"x-api-key": "x" * 30}).status == 403
    assert request(srv.endpoint, "GET", path, headers={"x-api-key": key["value"]}).status == 403

    added = rest.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert (added["id"], added["type"]) == (key["id"], "API_KEY")
    assert [k["id"] for k in rest.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]
    assert rest.get_api_key(apiKey=key["id"], includeValue=True)["value"] == key["value"]
    assert "value" not in rest.get_api_key(apiKey=key["id"])

    headers = {"x-api-key": key["value"]}
    for _ in range(limit - 2):
        r = request(srv.endpoint, "GET", path, headers=headers)
        assert (r.status, r.json) == (200, {"hello": "from a mock"}), r

    srv = start_server.restart(srv)
    rest = rest_client_for(srv.endpoint)
    for _ in range(2):
        assert request(srv.endpoint, "GET", path, headers=headers).status == 200
    r = request(srv.endpoint, "GET", path, headers=headers)
    assert (r.status, r.json) == (429, {"message": "Limit Exceeded"}), r

    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    usage = rest.get_usage(usagePlanId=plan["id"], startDate=today, endDate=today)
    assert usage["items"] == {key["id"]: [[limit, 0]]}
    # Nubo's own metering counts per API, stage and key too (across the restart): the admitted
    # requests under the key, the refused ones (403, 429) under none.
    import json as _json
    import urllib.request as _urlreq

    with _urlreq.urlopen(srv.endpoint + "/_nubo/usage", timeout=10) as reply:
        metered = {r["apiKey"]: r for r in _json.loads(reply.read())["apis"] if r["apiId"] == api_id}
    assert (metered[key["id"]]["requests"], metered[key["id"]]["clientErrors"]) == (limit, 0), metered
    assert (metered["-"]["requests"], metered["-"]["clientErrors"]) == (4, 4), metered

    # A disabled or deleted key is refused again.
    rest.delete_api_key(apiKey=key["id"])
    assert request(srv.endpoint, "GET", path, headers=headers).status == 403


def test_key_and_plan_errors(rest, rest_apis):
    with pytest.raises(ClientError) as e:
        rest.create_api_key(name="short", value="too-short")
    assert error_of(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        rest.create_usage_plan(name="p", apiStages=[{"apiId": "nope", "stage": "prod"}])
    assert error_of(e)[:2] == ("NotFoundException", 404)
    plan = rest.create_usage_plan(name="p")
    with pytest.raises(ClientError) as e:
        rest.create_usage_plan_key(usagePlanId=plan["id"], keyId="nokey", keyType="API_KEY")
    assert error_of(e)[:2] == ("NotFoundException", 404)
    assert plan["id"] in [p["id"] for p in rest.get_usage_plans()["items"]]
    rest.delete_usage_plan(usagePlanId=plan["id"])
    with pytest.raises(ClientError) as e:
        rest.get_usage_plan(usagePlanId=plan["id"])
    assert error_of(e)[:2] == ("NotFoundException", 404)


def test_a_user_without_permission_is_refused(rest, rest_apis, endpoint):
    """The IAM table names every REST operation: a user allowed only GET cannot create."""
    import uuid

    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                       config=Config(retries={"max_attempts": 0}), **credentials_for(endpoint))
    user = f"rest-reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "apigateway:GET",
                       "Resource": f"arn:aws:apigateway:{REGION}::/restapis*"}],
    }))
    creds = iam.create_access_key(UserName=user)["AccessKey"]
    reader = boto3.client("apigateway", endpoint_url=endpoint, region_name=REGION,
                          config=Config(retries={"max_attempts": 0}),
                          aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"])
    reader.get_rest_apis()
    with pytest.raises(ClientError) as e:
        reader.create_rest_api(name="nope")
    assert error_of(e)[1] == 403
    with pytest.raises(ClientError) as e:
        reader.create_api_key(name="nope")
    assert error_of(e)[1] == 403


MAPPED = r'''
def handler(event, context):
    if event.get("name") == "missing":
        raise Exception("Not Found: no one called missing")
    return {"greeting": "hi " + event["name"], "stage": event["stage"]}
'''


def test_aws_integration_maps_request_and_response(rest, rest_apis, endpoint, make_function):
    name = make_function(files={"app.py": MAPPED}, Timeout=10)["FunctionName"]
    api = new_api(rest, rest_apis, "mapped")
    api_id = api["id"]
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="{name}")
    add_method(rest, api_id, res["id"])
    uri = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
           f"{function_arn(name)}/invocations")
    rest.put_integration(
        restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="AWS",
        integrationHttpMethod="POST", uri=uri,
        requestTemplates={"application/json":
                          '{"name": "$input.params(\'name\')", "stage": "$context.stage"}'},
    )
    for status in ("200", "404"):
        rest.put_method_response(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                                 statusCode=status)
    rest.put_integration_response(
        restApiId=api_id, resourceId=res["id"], httpMethod="GET", statusCode="200",
        responseTemplates={"application/json": '{"message": $input.json(\'$.greeting\'), "at": "$input.path(\'$.stage\')"}'},
    )
    rest.put_integration_response(
        restApiId=api_id, resourceId=res["id"], httpMethod="GET", statusCode="404",
        selectionPattern=".*Not Found.*",
        responseTemplates={"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'},
    )
    rest.create_deployment(restApiId=api_id, stageName="live")
    r = request(endpoint, "GET", f"/_api/{api_id}/live/ann")
    assert (r.status, r.json) == (200, {"message": "hi ann", "at": "live"}), r
    r = request(endpoint, "GET", f"/_api/{api_id}/live/missing")
    assert (r.status, r.json) == (404, {"error": "Not Found: no one called missing"}), r


AUTHORIZER = r'''
import uuid

def handler(event, context):
    token = event.get("authorizationToken") or (event.get("headers") or {}).get("x-token")
    usage_key = None
    if token and token.startswith("key:"):
        token, usage_key = "allow", token[4:]
    if token == "allow":
        effect = "Allow"
    elif token == "deny":
        effect = "Deny"
    else:
        raise Exception("Unauthorized")
    out = {"principalId": "user-" + token,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
            "context": {"nonce": uuid.uuid4().hex, "kind": event["type"]}}
    if usage_key:
        out["usageIdentifierKey"] = usage_key
    return out
'''


def lambda_uri(name):
    return (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
            f"{function_arn(name)}/invocations")


@pytest.mark.parametrize("kind", ["TOKEN", "REQUEST"])
def test_lambda_authorizers_allow_deny_and_cache(kind, rest, rest_apis, endpoint, make_function):
    auth_fn = make_function(files={"app.py": AUTHORIZER}, Timeout=10)["FunctionName"]
    echo_fn = make_function(files={"app.py": ECHO}, Timeout=10)["FunctionName"]
    api = new_api(rest, rest_apis, "authz")
    api_id = api["id"]
    ttl = 300 if kind == "TOKEN" else 0
    source = "method.request.header.Authorization" if kind == "TOKEN" else "method.request.header.X-Token"
    authorizer = rest.create_authorizer(
        restApiId=api_id, name="gate", type=kind, authorizerUri=lambda_uri(auth_fn),
        identitySource=source, authorizerResultTtlInSeconds=ttl,
    )
    assert rest.get_authorizer(restApiId=api_id, authorizerId=authorizer["id"])["type"] == kind
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="secret")
    rest.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                    authorizationType="CUSTOM", authorizerId=authorizer["id"])
    rest.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                         type="AWS_PROXY", integrationHttpMethod="POST", uri=lambda_uri(echo_fn))
    rest.create_deployment(restApiId=api_id, stageName="prod")
    path = f"/_api/{api_id}/prod/secret"
    header = "Authorization" if kind == "TOKEN" else "X-Token"

    r = request(endpoint, "GET", path)
    assert (r.status, r.json) == (401, {"message": "Unauthorized"}), r
    r = request(endpoint, "GET", path, headers={header: "nobody"})
    assert (r.status, r.json) == (401, {"message": "Unauthorized"}), r
    r = request(endpoint, "GET", path, headers={header: "deny"})
    assert r.status == 403, r

    nonces = set()
    for _ in range(3):
        r = request(endpoint, "GET", path, headers={header: "allow"})
        assert r.status == 200, r
        context = r.json["requestContext"]["authorizer"]
        assert (context["principalId"], context["kind"]) == ("user-allow", kind)
        nonces.add(context["nonce"])
    # Cached for its TTL: the authorizer ran once for the three; with a TTL of 0, every time.
    assert len(nonces) == (1 if ttl else 3)

    with pytest.raises(ClientError) as e:
        rest.delete_authorizer(restApiId=api_id, authorizerId=authorizer["id"])
    assert error_of(e)[:2] == ("ConflictException", 409)


def test_api_key_from_the_authorizer(rest, rest_apis, endpoint, make_function):
    auth_fn = make_function(files={"app.py": AUTHORIZER}, Timeout=10)["FunctionName"]
    api = rest.create_rest_api(name="keyed-by-authorizer", apiKeySource="AUTHORIZER")
    rest_apis.append(api["id"])
    api_id = api["id"]
    authorizer = rest.create_authorizer(
        restApiId=api_id, name="gate", type="TOKEN", authorizerUri=lambda_uri(auth_fn),
        identitySource="method.request.header.Authorization",
    )
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="paid")
    rest.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                    authorizationType="CUSTOM", authorizerId=authorizer["id"], apiKeyRequired=True)
    rest.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="MOCK",
                         requestTemplates={"application/json": '{"statusCode": 200}'})
    rest.put_method_response(restApiId=api_id, resourceId=res["id"], httpMethod="GET", statusCode="200")
    rest.put_integration_response(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                                  statusCode="200", responseTemplates={"application/json": '{"ok": true}'})
    rest.create_deployment(restApiId=api_id, stageName="prod")
    key = rest.create_api_key(name="k", enabled=True)
    plan = rest.create_usage_plan(name="p", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                  quota={"limit": 1, "period": "MONTH"})
    rest.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    path = f"/_api/{api_id}/prod/paid"
    # Allowed by the authorizer but without a usage key: 403; an x-api-key header does not count.
    r = request(endpoint, "GET", path, headers={"Authorization": "allow", "x-api-key": key["value"]})
    assert r.status == 403, r
    r = request(endpoint, "GET", path, headers={"Authorization": "key:" + key["value"]})
    assert (r.status, r.json) == (200, {"ok": True}), r
    r = request(endpoint, "GET", path, headers={"Authorization": "key:" + key["value"]})
    assert (r.status, r.json) == (429, {"message": "Limit Exceeded"}), r


def test_patch_operations_update_api_stage_key_and_plan(rest, rest_apis, endpoint):
    api = new_api(rest, rest_apis, "patched")
    api_id = api["id"]
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="paid")
    mock_method(rest, api_id, res["id"], key_required=True)
    rest.create_deployment(restApiId=api_id, stageName="prod")
    updated = rest.update_rest_api(restApiId=api_id, patchOperations=[
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "replace", "path": "/description", "value": "new"},
    ])
    assert (updated["name"], updated["description"]) == ("renamed", "new")
    stage = rest.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/variables/color", "value": "red"},
        {"op": "replace", "path": "/description", "value": "live"},
    ])
    assert (stage["variables"], stage["description"]) == ({"color": "red"}, "live")
    with pytest.raises(ClientError) as e:
        rest.update_stage(restApiId=api_id, stageName="prod",
                          patchOperations=[{"op": "replace", "path": "/stageName", "value": "x"}])
    assert error_of(e)[:2] == ("BadRequestException", 400)

    key = rest.create_api_key(name="k", enabled=True)
    plan = rest.create_usage_plan(name="p", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                  quota={"limit": 1, "period": "WEEK"})
    rest.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    path = f"/_api/{api_id}/prod/paid"
    headers = {"x-api-key": key["value"]}
    assert request(endpoint, "GET", path, headers=headers).status == 200
    assert request(endpoint, "GET", path, headers=headers).status == 429
    plan = rest.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "replace", "path": "/quota/limit", "value": "2"}])
    assert plan["quota"]["limit"] == 2
    assert request(endpoint, "GET", path, headers=headers).status == 200
    disabled = rest.update_api_key(apiKey=key["id"], patchOperations=[
        {"op": "replace", "path": "/enabled", "value": "false"}])
    assert disabled["enabled"] is False
    assert request(endpoint, "GET", path, headers=headers).status == 403


def test_usage_plan_throttle_per_key(rest, rest_apis, endpoint):
    api = new_api(rest, rest_apis, "throttled")
    api_id = api["id"]
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="paid")
    mock_method(rest, api_id, res["id"], key_required=True)
    rest.create_deployment(restApiId=api_id, stageName="prod")
    plan = rest.create_usage_plan(name="slow", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                  throttle={"burstLimit": 2, "rateLimit": 0.01})
    assert plan["throttle"]["burstLimit"] == 2
    keys = [rest.create_api_key(name=f"k{i}", enabled=True) for i in range(2)]
    for key in keys:
        rest.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    path = f"/_api/{api_id}/prod/paid"
    first = {"x-api-key": keys[0]["value"]}
    assert [request(endpoint, "GET", path, headers=first).status for _ in range(3)] == [200, 200, 429]
    # Another key has its own bucket.
    assert request(endpoint, "GET", path, headers={"x-api-key": keys[1]["value"]}).status == 200
