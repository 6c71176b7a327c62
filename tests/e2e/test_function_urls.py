"""Function URLs: the Lambda control API (Create/Get/Update/Delete/ListFunctionUrlConfigs) and the
URL itself, served with payload 2.0 on `{url-id}.lambda-url[.{region}].localhost` and
`/_url/{url-id}/`."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from conftest import error_of, function_arn
from gateway_helpers import request, url_host
from gateway_helpers import url_id as url_id_of

URL_APP = r'''
import json

def handler(event, context):
    if event.get("rawPath") == "/fail":
        raise RuntimeError("boom")
    if event.get("rawPath") == "/plain":
        return {"plain": True}
    return {"statusCode": 200, "headers": {"content-type": "application/json",
            "access-control-allow-origin": "https://ignored.example"}, "body": json.dumps(event)}
'''


@pytest.fixture
def url_function(make_function):
    return make_function(files={"app.py": URL_APP})["FunctionName"]


def test_function_url_lifecycle_and_event(lam, url_function, endpoint):
    created = lam.create_function_url_config(FunctionName=url_function, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    # Handed out path-style on the listen address (resolves in every client); the host form
    # `{id}.lambda-url.{region}.localhost` routes too.
    url_id = url_id_of(url)
    assert url == f"{endpoint}/_url/{url_id}/"
    parts = urlsplit("http://" + url_host(endpoint, url) + "/")
    assert created["FunctionArn"] == function_arn(url_function)
    assert (created["AuthType"], created["InvokeMode"]) == ("NONE", "BUFFERED")

    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName=url_function, AuthType="NONE")
    assert error_of(e)[:2] == ("ResourceConflictException", 409)

    reply = request(endpoint, "POST", "/path/x?a=1&a=2", body='{"k":1}',
                    headers={"Content-Type": "application/json", "Cookie": "c=1"}, host=parts.netloc)
    assert reply.status == 200, reply
    event = reply.json
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "$default", "/path/x")
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["cookies"] == ["c=1"]
    assert event["body"] == '{"k":1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert (ctx["apiId"], ctx["stage"], ctx["routeKey"]) == (url_id, "$default", "$default")
    assert ctx["domainName"] == parts.netloc and ctx["domainPrefix"] == url_id
    assert ctx["http"]["method"] == "POST" and ctx["http"]["path"] == "/path/x"

    # The path form reaches the same function; plain values map as in payload 2.0.
    reply = request(endpoint, "GET", f"/_url/{url_id}/plain")
    assert (reply.status, reply.json) == (200, {"plain": True})
    reply = request(endpoint, "GET", f"/_url/{url_id}/fail")
    assert reply.status == 502

    got = lam.get_function_url_config(FunctionName=url_function)
    assert got["FunctionUrl"] == url and "LastModifiedTime" in got
    listed = lam.list_function_url_configs(FunctionName=url_function)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]

    lam.delete_function_url_config(FunctionName=url_function)
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=url_function)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    assert request(endpoint, "GET", "/", host=parts.netloc).status == 404


def test_function_url_cors(lam, url_function, endpoint):
    config = lam.create_function_url_config(
        FunctionName=url_function, AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET"], "MaxAge": 60},
    )
    assert config["Cors"]["AllowOrigins"] == ["https://app.example.com"]
    host = url_host(endpoint, config["FunctionUrl"])
    pre = request(endpoint, "OPTIONS", "/", host=host, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert pre.status == 200
    assert pre.header("access-control-allow-origin") == "https://app.example.com"
    assert pre.header("access-control-max-age") == "60"
    reply = request(endpoint, "GET", "/", host=host, headers={"Origin": "https://app.example.com"})
    assert reply.headers_named("access-control-allow-origin") == ["https://app.example.com"]

    updated = lam.update_function_url_config(FunctionName=url_function, Cors={"AllowOrigins": ["*"]})
    assert updated["Cors"] == {"AllowOrigins": ["*"]}
    reply = request(endpoint, "GET", "/", host=host, headers={"Origin": "https://other.example"})
    assert reply.header("access-control-allow-origin") == "*"


def test_function_url_errors_and_cleanup(lam, make_function, endpoint):
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName="no-such-function-xyz", AuthType="NONE")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    name = make_function(files={"app.py": URL_APP})["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=name)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.delete_function(FunctionName=name)
    assert request(endpoint, "GET", "/", host=url_host(endpoint, url)).status == 404
