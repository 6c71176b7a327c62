"""apigatewayv2 behaviour AWS documents and an outside test suite checks: parameter-mapping
removal, UpdateApi members, the one route selection expression of HTTP APIs, DeleteCorsConfiguration,
ReimportApi's numeric `info.version` and `FailOnWarnings` for unresolvable `$ref`s, GetIntegration
and UpdateDeployment — each through boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_of, function_arn
from gateway_helpers import apigw_client_for, request


@pytest.fixture(scope="module")
def gw(endpoint):
    return apigw_client_for(endpoint)


@pytest.fixture
def api_id(gw):
    api_id = gw.create_api(Name="corrections", ProtocolType="HTTP")["ApiId"]
    yield api_id
    try:
        gw.delete_api(ApiId=api_id)
    except ClientError:
        pass


def test_update_integration_removes_a_request_parameter_sent_empty(gw, api_id):
    created = gw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri="http://127.0.0.1:9/x",
        IntegrationMethod="GET", PayloadFormatVersion="1.0",
        RequestParameters={"append:header.a": "static value", "overwrite:header.b": "$request.header.foo",
                           "remove:header.c": "''", "append:header.d": ""},
    )
    # An empty mapping is not stored on create.
    assert created["RequestParameters"] == {
        "append:header.a": "static value", "overwrite:header.b": "$request.header.foo", "remove:header.c": "''"}
    updated = gw.update_integration(
        ApiId=api_id, IntegrationId=created["IntegrationId"],
        RequestParameters={"remove:header.c": "", "append:header.a": "${request.header.bar}"},
    )
    assert updated["RequestParameters"] == {
        "append:header.a": "${request.header.bar}", "overwrite:header.b": "$request.header.foo"}
    got = gw.get_integration(ApiId=api_id, IntegrationId=created["IntegrationId"])
    assert got["RequestParameters"] == updated["RequestParameters"]
    assert got["IntegrationId"] == created["IntegrationId"]
    with pytest.raises(ClientError) as e:
        gw.get_integration(ApiId=api_id, IntegrationId="nosuchid")
    assert error_of(e)[:2] == ("NotFoundException", 404)


def test_update_api_applies_the_api_key_selection_expression(gw, api_id):
    assert gw.get_api(ApiId=api_id)["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    updated = gw.update_api(ApiId=api_id, ApiKeySelectionExpression="$context.authorizer.usageIdentifierKey")
    assert updated["ApiKeySelectionExpression"] == "$context.authorizer.usageIdentifierKey"
    assert gw.get_api(ApiId=api_id)["ApiKeySelectionExpression"] == "$context.authorizer.usageIdentifierKey"


def test_http_apis_have_one_route_selection_expression(gw, api_id):
    with pytest.raises(ClientError) as e:
        gw.create_api(Name="rse", ProtocolType="HTTP", RouteSelectionExpression="$request.body.action")
    code, status, message = error_of(e)
    assert (code, status) == ("BadRequestException", 400)
    assert "${request.method} ${request.path}" in message
    with pytest.raises(ClientError) as e:
        gw.update_api(ApiId=api_id, RouteSelectionExpression="${request.path}")
    assert error_of(e)[:2] == ("BadRequestException", 400)
    ok = gw.update_api(ApiId=api_id, RouteSelectionExpression="${request.method} ${request.path}")
    assert ok["RouteSelectionExpression"] == "$request.method $request.path"
    braces = gw.create_api(Name="rse", ProtocolType="HTTP", RouteSelectionExpression="${request.method} ${request.path}")
    gw.delete_api(ApiId=braces["ApiId"])
    assert braces["RouteSelectionExpression"] == "$request.method $request.path"


def test_delete_cors_configuration(gw, make_function, endpoint):
    name = make_function()["FunctionName"]
    api = gw.create_api(Name="cors", ProtocolType="HTTP", Target=function_arn(name),
                        CorsConfiguration={"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"]})
    api_id = api["ApiId"]
    try:
        preflight = {"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
        before = request(endpoint, "OPTIONS", f"/_api/{api_id}/x", headers=preflight)
        assert before.header("access-control-allow-origin") == "https://a.example", before
        reply = gw.delete_cors_configuration(ApiId=api_id)
        assert reply["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert "CorsConfiguration" not in gw.get_api(ApiId=api_id)
        # The auto-deploying $default stage serves the API without CORS at once.
        after = request(endpoint, "OPTIONS", f"/_api/{api_id}/x", headers=preflight)
        assert after.header("access-control-allow-origin") is None
        with pytest.raises(ClientError) as e:
            gw.delete_cors_configuration(ApiId="nosuchapi0")
        assert error_of(e)[:2] == ("NotFoundException", 404)
    finally:
        gw.delete_api(ApiId=api_id)


REIMPORT_YAML = """---
openapi: 3.0.1
info:
  title: reimported
  version: 2.0
paths:
  "/test":
    get:
      x-amazon-apigateway-integration:
        type: HTTP_PROXY
        httpMethod: GET
        payloadFormatVersion: '1.0'
        uri: http://127.0.0.1:9/x
"""


def missing_ref_document(title: str) -> str:
    return json.dumps({
        "openapi": "3.0.1",
        "info": {"title": title, "version": "2.0"},
        "paths": {"/update": {"get": {
            "x-amazon-apigateway-integration": {"type": "HTTP_PROXY", "httpMethod": "GET",
                                                "payloadFormatVersion": "1.0", "uri": "http://127.0.0.1:9/x"},
            "responses": {"200": {"description": "d", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ModelThatDoesNotExist"}}}}},
        }}},
    })


def test_reimport_keeps_a_numeric_version_and_fails_on_unresolvable_refs(gw, api_id):
    reimported = gw.reimport_api(ApiId=api_id, Body=REIMPORT_YAML)
    assert (reimported["Name"], reimported["Version"]) == ("reimported", "2.0")
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["GET /test"]

    with pytest.raises(ClientError) as e:
        gw.reimport_api(ApiId=api_id, Body=missing_ref_document("strict"), FailOnWarnings=True)
    code, status, message = error_of(e)
    assert (code, status) == ("BadRequestException", 400)
    assert message == (
        "Warnings found during import:\n\tParse issue: attribute "
        "paths.'/update'(get).responses.200.content.schema.#/components/schemas/ModelThatDoesNotExist is missing"
    )
    assert gw.get_api(ApiId=api_id)["Name"] == "reimported", "a failed reimport changes nothing"

    lenient = gw.reimport_api(ApiId=api_id, Body=missing_ref_document("lenient"), FailOnWarnings=False)
    assert lenient["Name"] == "lenient"
    assert any("ModelThatDoesNotExist" in w for w in lenient["Warnings"])


def test_update_deployment_changes_its_description(gw, api_id):
    deployment = gw.create_deployment(ApiId=api_id, Description="first")
    updated = gw.update_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"], Description="second")
    assert (updated["DeploymentId"], updated["Description"]) == (deployment["DeploymentId"], "second")
    assert gw.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])["Description"] == "second"
