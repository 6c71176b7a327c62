"""REST APIs' Update* operations through boto3 (`patchOperations` as botocore sends them):
resources (the paths under them follow), methods, integrations, method and integration
responses, authorizers — and the change reaching requests at the next deployment."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import error_of
from gateway_helpers import request
from test_apigw_rest import new_api, rest, rest_apis  # noqa: F401 (fixtures)


def mock(rest, api_id, resource_id, body):  # noqa: F811
    rest.put_method(restApiId=api_id, resourceId=resource_id, httpMethod="GET",
                    authorizationType="NONE")
    rest.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod="GET", type="MOCK",
                         requestTemplates={"application/json": '{"statusCode": 200}'})
    rest.put_method_response(restApiId=api_id, resourceId=resource_id, httpMethod="GET",
                             statusCode="200")
    rest.put_integration_response(restApiId=api_id, resourceId=resource_id, httpMethod="GET",
                                  statusCode="200",
                                  responseTemplates={"application/json": body})


def test_updates_of_resources_methods_integrations_and_responses(
        rest, rest_apis, endpoint):  # noqa: F811
    api = new_api(rest, rest_apis, "updates")
    api_id, root = api["id"], api["rootResourceId"]
    pets = rest.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    one = rest.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{id}")
    mock(rest, api_id, one["id"], '{"v": 1}')
    rest.create_deployment(restApiId=api_id, stageName="s")
    assert request(endpoint, "GET", f"/_api/{api_id}/s/pets/7").json == {"v": 1}

    # UpdateResource: renaming moves the children's paths.
    renamed = rest.update_resource(restApiId=api_id, resourceId=pets["id"], patchOperations=[
        {"op": "replace", "path": "/pathPart", "value": "animals"}])
    assert renamed["path"] == "/animals"
    assert rest.get_resource(restApiId=api_id, resourceId=one["id"])["path"] == "/animals/{id}"
    with pytest.raises(ClientError) as e:
        rest.update_resource(restApiId=api_id, resourceId=pets["id"], patchOperations=[
            {"op": "replace", "path": "/pathPart", "value": "bad/part"}])
    assert error_of(e)[:2] == ("BadRequestException", 400)

    # UpdateMethod, UpdateIntegration, UpdateIntegrationResponse, UpdateMethodResponse.
    method = rest.update_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET",
                                patchOperations=[
                                    {"op": "replace", "path": "/apiKeyRequired", "value": "true"},
                                    {"op": "replace", "path": "/operationName", "value": "GetPet"}])
    assert (method["apiKeyRequired"], method["operationName"]) == (True, "GetPet")
    assert "methodIntegration" in rest.get_method(restApiId=api_id, resourceId=one["id"],
                                                  httpMethod="GET")
    rest.update_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET",
                       patchOperations=[{"op": "replace", "path": "/apiKeyRequired",
                                         "value": "false"}])
    with pytest.raises(ClientError) as e:
        rest.update_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET",
                           patchOperations=[{"op": "replace", "path": "/authorizationType",
                                             "value": "CUSTOM"}])
    assert error_of(e)[:2] == ("BadRequestException", 400)
    integration = rest.update_integration(
        restApiId=api_id, resourceId=one["id"], httpMethod="GET", patchOperations=[
            {"op": "replace", "path": "/timeoutInMillis", "value": "5000"}])
    assert integration["timeoutInMillis"] == 5000
    assert "200" in integration["integrationResponses"]
    response = rest.update_integration_response(
        restApiId=api_id, resourceId=one["id"], httpMethod="GET", statusCode="200",
        patchOperations=[{"op": "replace", "path": "/responseTemplates/application~1json",
                          "value": '#set($n = 2){"v": $n, "id": "$context.stage"}'}])
    assert response["responseTemplates"]["application/json"].startswith("#set")
    with pytest.raises(ClientError) as e:
        rest.update_integration_response(
            restApiId=api_id, resourceId=one["id"], httpMethod="GET", statusCode="200",
            patchOperations=[{"op": "replace", "path": "/responseTemplates/application~1json",
                              "value": "#foreach($x in $y)"}])
    assert error_of(e)[:2] == ("BadRequestException", 400)
    assert "line 1" in error_of(e)[2]
    method_response = rest.update_method_response(
        restApiId=api_id, resourceId=one["id"], httpMethod="GET", statusCode="200",
        patchOperations=[{"op": "add", "path": "/responseParameters/method.response.header.X-A",
                          "value": "false"}])
    assert method_response["responseParameters"] == {"method.response.header.X-A": False}
    with pytest.raises(ClientError) as e:
        rest.update_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET",
                           patchOperations=[{"op": "replace", "path": "/httpMethod",
                                             "value": "POST"}])
    assert error_of(e)[:2] == ("BadRequestException", 400)

    # The deployed stage keeps answering as deployed until the next deployment.
    assert request(endpoint, "GET", f"/_api/{api_id}/s/pets/7").json == {"v": 1}
    rest.create_deployment(restApiId=api_id, stageName="s")
    assert request(endpoint, "GET", f"/_api/{api_id}/s/pets/7").status == 403
    r = request(endpoint, "GET", f"/_api/{api_id}/s/animals/7")
    assert r.status == 200, r
    assert r.json == {"v": 2, "id": "s"}


def test_update_authorizer(rest, rest_apis):  # noqa: F811
    api = new_api(rest, rest_apis, "update-authorizer")
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
           "arn:aws:lambda:us-east-1:000000000000:function:auth/invocations")
    authorizer = rest.create_authorizer(restApiId=api["id"], name="a", type="TOKEN",
                                        authorizerUri=uri,
                                        identitySource="method.request.header.Authorization")
    updated = rest.update_authorizer(restApiId=api["id"], authorizerId=authorizer["id"],
                                     patchOperations=[
                                         {"op": "replace", "path": "/name", "value": "b"},
                                         {"op": "replace", "path": "/authorizerResultTtlInSeconds",
                                          "value": "60"}])
    assert (updated["name"], updated["authorizerResultTtlInSeconds"]) == ("b", 60)
    with pytest.raises(ClientError) as e:
        rest.update_authorizer(restApiId=api["id"], authorizerId=authorizer["id"],
                               patchOperations=[{"op": "replace", "path": "/identitySource",
                                                 "value": "method.request.querystring.t"}])
    assert error_of(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        rest.update_authorizer(restApiId=api["id"], authorizerId="nope", patchOperations=[])
    assert error_of(e)[:2] == ("NotFoundException", 404)
