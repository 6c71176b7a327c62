"""Every region in one server: HTTP APIs and Function URLs live in the region a control request is
signed for, their endpoints name it, and the data plane finds them by id alone."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, credentials_for, error_of, function_arn, lambda_client_for
from gateway_helpers import api_host, apigw_client_for, request
from gateway_helpers import url_id as url_id_of

EU = "eu-west-1"


@pytest.fixture(scope="module")
def gw_us(endpoint):
    return apigw_client_for(endpoint)


@pytest.fixture(scope="module")
def gw_eu(endpoint):
    return apigw_client_for(endpoint, EU)


def test_apis_live_in_the_region_they_were_created_in(gw_us, gw_eu, make_function, endpoint):
    name = make_function()["FunctionName"]
    # An API in eu-west-1 may integrate a function of us-east-1: the ARN says where it lives.
    api = gw_eu.create_api(Name="eu", ProtocolType="HTTP", Target=function_arn(name))
    api_id = api["ApiId"]
    try:
        port = endpoint.rsplit(":", 1)[1]
        assert api["ApiEndpoint"] == f"{endpoint}/_api/{api_id}"
        assert [a["ApiId"] for a in gw_eu.get_apis()["Items"]] == [api_id]
        assert api_id not in [a["ApiId"] for a in gw_us.get_apis()["Items"]]
        with pytest.raises(ClientError) as e:
            gw_us.get_api(ApiId=api_id)
        assert error_of(e)[:2] == ("NotFoundException", 404)
        with pytest.raises(ClientError) as e:
            gw_us.get_routes(ApiId=api_id)
        assert error_of(e)[:2] == ("NotFoundException", 404)
        assert len(gw_eu.get_routes(ApiId=api_id)["Items"]) == 1

        # The data plane: the host the endpoint names, the host without a region, the path form.
        eu_host = api_host(endpoint, api_id, EU)
        reply = request(endpoint, "GET", "/x", host=eu_host)
        assert reply.status == 200, reply
        assert reply.json["echo"]["requestContext"]["accountId"] == ACCOUNT
        assert reply.json["echo"]["requestContext"]["domainName"] == eu_host
        assert request(endpoint, "GET", "/x", host=f"{api_id}.execute-api.localhost:{port}").status == 200
        assert request(endpoint, "GET", "/x", host=api_host(endpoint, api_id, REGION)).status == 404
        reply = request(endpoint, "GET", f"/_api/{api_id}/x")
        assert reply.json["echo"]["requestContext"]["domainName"] == eu_host
    finally:
        gw_eu.delete_api(ApiId=api_id)


def test_a_function_arn_resolves_in_its_own_region(gw_eu, make_function, endpoint):
    name = make_function()["FunctionName"]
    arn = f"arn:aws:lambda:{EU}:{ACCOUNT}:function:{name}"
    api_id = gw_eu.create_api(Name="eu-fn", ProtocolType="HTTP", Target=arn)["ApiId"]
    try:
        # The function lives in us-east-1, so eu-west-1 has none of that name.
        reply = request(endpoint, "GET", f"/_api/{api_id}/x")
        assert (reply.status, reply.json) == (500, {"message": "Internal Server Error"})
    finally:
        gw_eu.delete_api(ApiId=api_id)


def test_function_urls_live_in_their_functions_region(make_function, endpoint):
    name = make_function()["FunctionName"]
    eu = boto3.client("lambda", endpoint_url=endpoint, region_name=EU,
                      config=Config(retries={"max_attempts": 0}), **credentials_for(endpoint))
    with pytest.raises(ClientError) as e:
        eu.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    us = lambda_client_for(endpoint)
    created = us.create_function_url_config(FunctionName=name, AuthType="NONE")
    try:
        with pytest.raises(ClientError) as e:
            eu.get_function_url_config(FunctionName=name)
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
        url_id = url_id_of(created["FunctionUrl"])
        assert request(endpoint, "GET", "/", host=f"{url_id}.lambda-url.{REGION}.localhost:{endpoint.rsplit(':', 1)[1]}").status == 200
        assert request(endpoint, "GET", f"/_url/{url_id}/").status == 200
    finally:
        us.delete_function_url_config(FunctionName=name)
