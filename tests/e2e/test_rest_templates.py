"""REST API mapping templates end to end: an `AWS` Lambda integration whose request and response
templates use the Velocity subset (`#set`, `#if/#elseif/#else`, `#foreach` with
`$foreach.hasNext`, `$util`, `$input.params()`, `$context`, `$stageVariables`), and templates that
do not parse refused with their line."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, error_of, function_arn
from gateway_helpers import request
from test_apigw_rest import new_api, rest, rest_apis  # noqa: F401 (fixtures)

ORDERS = r'''
def handler(event, context):
    return {"event": event,
            "items": [{"sku": "a1", "qty": 3, "price": 2.5}, {"sku": "b2", "qty": 0, "price": 4},
                      {"sku": "c\"3", "qty": 12, "price": 1}]}
'''

REQUEST_TEMPLATE = r'''#set($body = $input.path('$'))
#set($limit = 2)
{
  "user": "$util.escapeJavaScript($input.params('user'))",
  "stage": "$context.stage",
  "color": "$stageVariables.color",
  "method": "$context.httpMethod",
  "count": $body.lines.size(),
  "big": [
  #foreach($line in $body.lines)
    #if($line.n > $limit)
    $line.n#if($foreach.hasNext),#end
    #end
  #end
  ],
  "encoded": "$util.urlEncode($input.params('q'))",
  "b64": "$util.base64Encode($input.params('q'))",
  "headers": {
  #foreach($name in $input.params().header.keySet())
    #if($name == "x-tag")
    "$name": "$util.escapeJavaScript($input.params().header.get($name))"
    #end
  #end
  }
}'''

RESPONSE_TEMPLATE = r'''#set($root = $input.path('$'))
{
  "seen": $input.json('$.event'),
  "items": [
#foreach($item in $root.items)
    ## Arithmetic is evaluated in directives, not in text.
    #set($total = $item.price * $item.qty)
    {"sku": "$util.escapeJavaScript($item.sku)", "status": #if($item.qty == 0)"out"#elseif($item.qty >= 10)"bulk"#else"in"#end, "total": $total}#if($foreach.hasNext),#end
#end
  ]
}'''


def test_templates_with_directives_map_request_and_response(
        rest, rest_apis, endpoint, make_function):  # noqa: F811
    name = make_function(files={"app.py": ORDERS}, Timeout=10)["FunctionName"]
    api = new_api(rest, rest_apis, "templates")
    api_id = api["id"]
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="orders")
    rest.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="POST",
                    authorizationType="NONE")
    uri = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
           f"{function_arn(name)}/invocations")
    rest.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="POST", type="AWS",
                         integrationHttpMethod="POST", uri=uri,
                         requestTemplates={"application/json": REQUEST_TEMPLATE})
    rest.put_method_response(restApiId=api_id, resourceId=res["id"], httpMethod="POST",
                             statusCode="200")
    rest.put_integration_response(restApiId=api_id, resourceId=res["id"], httpMethod="POST",
                                  statusCode="200",
                                  responseTemplates={"application/json": RESPONSE_TEMPLATE})
    rest.create_deployment(restApiId=api_id, stageName="live", variables={"color": "teal"})

    body = json.dumps({"lines": [{"n": 1}, {"n": 5}, {"n": 2}, {"n": 9}]})
    r = request(endpoint, "POST", f"/_api/{api_id}/live/orders?user=ann%20o&q=a%20b%26c",
                body=body, headers={"Content-Type": "application/json", "X-Tag": 'say "hi"'})
    assert r.status == 200, r
    out = r.json
    assert out["seen"] == {
        "user": "ann o", "stage": "live", "color": "teal", "method": "POST", "count": 4,
        "big": [5, 9], "encoded": "a+b%26c", "b64": "YSBiJmM=", "headers": {"x-tag": 'say "hi"'},
    }
    assert out["items"] == [
        {"sku": "a1", "status": "in", "total": 7.5},
        {"sku": "b2", "status": "out", "total": 0},
        {"sku": 'c"3', "status": "bulk", "total": 12},
    ]


def test_templates_that_do_not_parse_are_refused_with_their_line(
        rest, rest_apis, make_function):  # noqa: F811
    api = new_api(rest, rest_apis, "bad-templates")
    api_id = api["id"]
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="x")
    rest.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                    authorizationType="NONE")
    uri = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
           f"{function_arn('f')}/invocations")
    with pytest.raises(ClientError) as e:
        rest.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="AWS",
                             integrationHttpMethod="POST", uri=uri,
                             requestTemplates={"application/json": '{\n  #if($a)\n  "x": 1\n}'})
    code, status, message = error_of(e)[:3]
    assert (code, status) == ("BadRequestException", 400)
    assert "request template application/json" in message and "line 2" in message, message
    assert "#if without #end" in message, message

    rest.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET", type="AWS",
                         integrationHttpMethod="POST", uri=uri)
    rest.put_method_response(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                             statusCode="200")
    with pytest.raises(ClientError) as e:
        rest.put_integration_response(
            restApiId=api_id, resourceId=res["id"], httpMethod="GET", statusCode="200",
            responseTemplates={"application/json": "ok\n\n#set($x = 'open)"})
    code, status, message = error_of(e)[:3]
    assert (code, status) == ("BadRequestException", 400)
    assert "response template application/json, line 3: unterminated string" in message, message
