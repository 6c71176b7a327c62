"""Resource-based policies: AddPermission, GetPolicy and RemovePermission with boto3, and their use
when someone other than the function's owner invokes — a user of the same account, the root of
another account, an HTTP API route and a Function URL with `AWS_IAM` — against the real server."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from aws_cli import aws
from conftest import (
    ACCOUNT,
    REGION,
    client_env_for,
    credentials_for,
    error_of,
    function_arn,
    invoke,
    make_zip,
    unique_name,
)
from gateway_helpers import api_host, apigw_client_for, request, url_host

ECHO = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
OTHER_ACCOUNT = "111122223333"


def client(service: str, endpoint: str, **creds):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        config=Config(retries={"max_attempts": 0}, read_timeout=120), **creds,
    )


@pytest.fixture
def function(make_function):
    return make_function(files={"app.py": ECHO})["FunctionName"]


@pytest.fixture
def user(endpoint):
    """A user of the server's account with an access key and no policy; deleted at teardown."""
    iam = client("iam", endpoint, **credentials_for(endpoint))
    name = unique_name("caller")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    yield {"name": name, "arn": arn, "creds": creds, "iam": iam}
    for policy in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=policy)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def signed(method: str, host: str, path: str, body: bytes, creds: dict, service: str) -> dict:
    """SigV4 headers for a raw request to `host`, as botocore signs."""
    req = AWSRequest(method=method, url=f"http://{host}{path}", data=body)
    SigV4Auth(
        Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), service, REGION
    ).add_auth(req)
    return {k: v for k, v in req.headers.items() if k.lower() != "host"}


# --------------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------------


def test_add_get_remove_permission(lam, function):
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=function)
    assert error_of(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")

    added = lam.add_permission(
        FunctionName=function, StatementId="s3-invoke", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::my-bucket", SourceAccount=ACCOUNT,
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "s3-invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": function_arn(function),
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"}},
    }
    lam.add_permission(FunctionName=function, StatementId="account", Action="lambda:GetFunction",
                       Principal=OTHER_ACCOUNT)
    got = lam.get_policy(FunctionName=function)
    policy = json.loads(got["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke", "account"]
    assert policy["Statement"][1]["Principal"] == {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}
    revision = got["RevisionId"]

    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=function, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                           Principal="*")
    assert error_of(e) == (
        "ResourceConflictException", 409,
        "The statement id (s3-invoke) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
    )
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=function, StatementId="late", Action="lambda:InvokeFunction",
                           Principal="*", RevisionId="not-the-revision")
    assert error_of(e)[:2] == ("PreconditionFailedException", 412)
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName=function, StatementId="nope")
    assert error_of(e) == ("ResourceNotFoundException", 404, "Statement nope is not found in resource policy.")

    lam.remove_permission(FunctionName=function, StatementId="s3-invoke", RevisionId=revision)
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=function)["Policy"])["Statement"]] == ["account"]
    lam.remove_permission(FunctionName=function, StatementId="account")
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=function)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName=function, StatementId="account")
    assert error_of(e) == ("ResourceNotFoundException", 404, "No policy is associated with the given resource.")


def test_the_aws_cli_adds_and_reads_permissions(endpoint, function):
    env = client_env_for(endpoint)
    proc = aws(["lambda", "add-permission", "--endpoint-url", endpoint, "--function-name", function,
                "--statement-id", "apigw", "--action", "lambda:InvokeFunction",
                "--principal", "apigateway.amazonaws.com",
                "--source-arn", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/*/*/items"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(json.loads(proc.stdout)["Statement"])["Condition"] == {
        "ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/*/*/items"}
    }
    proc = aws(["lambda", "get-policy", "--endpoint-url", endpoint, "--function-name", function], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(json.loads(proc.stdout)["Policy"])["Statement"][0]["Sid"] == "apigw"
    proc = aws(["lambda", "remove-permission", "--endpoint-url", endpoint, "--function-name", function,
                "--statement-id", "apigw"], env)
    assert proc.returncode == 0, proc.stderr
    proc = aws(["lambda", "get-policy", "--endpoint-url", endpoint, "--function-name", function], env)
    assert proc.returncode != 0 and "ResourceNotFoundException" in proc.stderr


def test_permission_errors(lam, lam_unvalidated, function):
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=function, StatementId="x", Action="lambda:InvokeFunction",
                           Principal="not-a-principal")
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=function, StatementId="x", Action="lambda:InvokeFunction",
                           Principal="*", Qualifier="$LATEST")
    assert error_of(e) == ("InvalidParameterValueException", 400,
                           "We currently do not support adding policies for $LATEST.")
    with pytest.raises(ClientError) as e:
        lam_unvalidated.add_permission(FunctionName=function, StatementId="bad id!", Action="s3:GetObject",
                                       Principal="*")
    code, status, message = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected"), message
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=unique_name("missing"), StatementId="x",
                           Action="lambda:InvokeFunction", Principal="*")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=function, StatementId="x", Action="lambda:InvokeFunction",
                           Principal="*", Qualifier="no-such-alias")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_policies_per_qualifier(lam, function, user):
    version = lam.publish_version(FunctionName=function)["Version"]
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=version)
    statement = lam.add_permission(FunctionName=function, Qualifier="live", StatementId="user",
                                   Action="lambda:InvokeFunction", Principal=user["arn"])["Statement"]
    assert json.loads(statement)["Resource"] == function_arn(function) + ":live"
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=function)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    assert json.loads(lam.get_policy(FunctionName=f"{function}:live")["Policy"])["Statement"][0]["Sid"] == "user"

    as_user = client("lambda", lam.meta.endpoint_url, **user["creds"])
    assert invoke(as_user, function, {}, Qualifier="live").status == 200
    with pytest.raises(ClientError) as e:
        invoke(as_user, function, {})
    assert error_of(e)[:2] == ("AccessDeniedException", 403)

    # The alias's policy goes with the alias.
    lam.delete_alias(FunctionName=function, Name="live")
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=version)
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=function, Qualifier="live")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_policies_persist_and_go_with_their_function(start_server):
    srv = start_server()
    lam = srv.client("lambda")
    name = unique_name("kept")
    role = f"arn:aws:iam::{ACCOUNT}:role/nubo-e2e"
    code = {"ZipFile": make_zip({"app.py": ECHO})}
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code=code)
    lam.add_permission(FunctionName=name, StatementId="kept", Action="lambda:InvokeFunction", Principal="*")
    revision = lam.get_policy(FunctionName=name)["RevisionId"]

    srv = start_server.restart(srv)
    lam = srv.client("lambda")
    assert lam.get_policy(FunctionName=name)["RevisionId"] == revision

    lam.delete_function(FunctionName=name)
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code=code)
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=name)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


# --------------------------------------------------------------------------------------------------
# Invoking as someone else
# --------------------------------------------------------------------------------------------------


def test_a_user_of_the_account_needs_an_identity_or_resource_policy(lam, endpoint, function, user):
    as_user = client("lambda", endpoint, **user["creds"])
    with pytest.raises(ClientError) as e:
        invoke(as_user, function, {})
    code, status, message = error_of(e)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (
        f"User: {user['arn']} is not authorized to perform: lambda:InvokeFunction on resource: "
        f"{function_arn(function)} because no identity-based policy allows the lambda:InvokeFunction action"
    )

    lam.add_permission(FunctionName=function, StatementId="user", Action="lambda:InvokeFunction",
                       Principal=user["arn"])
    assert invoke(as_user, function, {}).status == 200
    # The permission is for invoking, nothing else.
    with pytest.raises(ClientError) as e:
        as_user.get_function(FunctionName=function)
    assert error_of(e)[:2] == ("AccessDeniedException", 403)

    # An explicit deny in the caller's own policies wins over the function's grant.
    deny = {"Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}]}
    user["iam"].put_user_policy(UserName=user["name"], PolicyName="deny", PolicyDocument=json.dumps(deny))
    with pytest.raises(ClientError) as e:
        invoke(as_user, function, {})
    assert error_of(e)[2].endswith("with an explicit deny in an identity-based policy")


def test_another_account_needs_the_function_policy(start_server):
    srv = start_server(extra_args=["--dev-credentials"])
    lam = srv.client("lambda")
    name = unique_name("shared")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/nubo-e2e",
                        Handler="app.handler", Code={"ZipFile": make_zip({"app.py": ECHO})})
    arn = function_arn(name)
    other = client("lambda", srv.endpoint, aws_access_key_id=OTHER_ACCOUNT, aws_secret_access_key="test")
    with pytest.raises(ClientError) as e:
        invoke(other, arn, {})
    assert error_of(e) == (
        "AccessDeniedException", 403,
        f"User: arn:aws:iam::{OTHER_ACCOUNT}:root is not authorized to perform: lambda:InvokeFunction on "
        f"resource: {arn} because no resource-based policy allows the lambda:InvokeFunction action",
    )
    lam.add_permission(FunctionName=name, StatementId="other", Action="lambda:InvokeFunction",
                       Principal=OTHER_ACCOUNT)
    assert invoke(other, arn, {}).status == 200
    with pytest.raises(ClientError) as e:
        other.get_function(FunctionName=arn)
    assert error_of(e)[:2] == ("AccessDeniedException", 403)
    third = client("lambda", srv.endpoint, aws_access_key_id="444455556666", aws_secret_access_key="test")
    with pytest.raises(ClientError) as e:
        invoke(third, arn, {})
    assert error_of(e)[:2] == ("AccessDeniedException", 403)
    lam.remove_permission(FunctionName=name, StatementId="other")
    with pytest.raises(ClientError) as e:
        invoke(other, arn, {})
    assert error_of(e)[:2] == ("AccessDeniedException", 403)


# --------------------------------------------------------------------------------------------------
# API Gateway and Function URLs with AWS_IAM
# --------------------------------------------------------------------------------------------------


AUTHORIZER_ECHO = (
    "import json\n"
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'body': json.dumps(event['requestContext'].get('authorizer'))}\n"
)


def test_http_api_route_with_aws_iam(endpoint, make_function, user):
    function = make_function(files={"app.py": AUTHORIZER_ECHO})["FunctionName"]
    gw = apigw_client_for(endpoint)
    api_id = gw.create_api(Name="iam", ProtocolType="HTTP")["ApiId"]
    try:
        integration = gw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn(function),
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        gw.create_route(ApiId=api_id, RouteKey="GET /private", Target=f"integrations/{integration}",
                        AuthorizationType="AWS_IAM")
        gw.create_route(ApiId=api_id, RouteKey="GET /public", Target=f"integrations/{integration}")
        gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
        host = api_host(endpoint, api_id)

        assert request(endpoint, "GET", "/prod/public", host=host).status == 200
        unsigned = request(endpoint, "GET", "/prod/private", host=host)
        assert (unsigned.status, unsigned.json) == (403, {"message": "Missing Authentication Token"})

        admin = credentials_for(endpoint)
        reply = request(endpoint, "GET", "/prod/private", host=host,
                        headers=signed("GET", host, "/prod/private", b"", admin, "execute-api"))
        assert reply.status == 200, reply

        wrong = {**admin, "aws_secret_access_key": admin["aws_secret_access_key"][:-1] + "x"}
        reply = request(endpoint, "GET", "/prod/private", host=host,
                        headers=signed("GET", host, "/prod/private", b"", wrong, "execute-api"))
        assert reply.status == 403 and "signature" in reply.json["message"], reply
        reply = request(endpoint, "GET", "/prod/private", host=host,
                        headers=signed("GET", host, "/prod/private", b"", admin, "lambda"))
        assert reply.status == 403, reply

        headers = signed("GET", host, "/prod/private", b"", user["creds"], "execute-api")
        denied = request(endpoint, "GET", "/prod/private", host=host, headers=headers)
        assert (denied.status, denied.json) == (403, {"message": "Forbidden"})

        allow = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/prod/GET/private",
        }]}
        user["iam"].put_user_policy(UserName=user["name"], PolicyName="invoke", PolicyDocument=json.dumps(allow))
        headers = signed("GET", host, "/prod/private", b"", user["creds"], "execute-api")
        reply = request(endpoint, "GET", "/prod/private", host=host, headers=headers)
        assert reply.status == 200, reply
        iam = reply.json["iam"]
        assert (iam["userArn"], iam["accountId"], iam["accessKey"]) == (
            user["arn"], ACCOUNT, user["creds"]["aws_access_key_id"],
        )
        assert request(endpoint, "GET", "/prod/public", host=host).json is None
    finally:
        gw.delete_api(ApiId=api_id)


def test_function_url_with_aws_iam(lam, endpoint, function, user):
    url = lam.create_function_url_config(FunctionName=function, AuthType="AWS_IAM")["FunctionUrl"]
    host = url_host(endpoint, url)
    unsigned = request(endpoint, "GET", "/", host=host)
    assert (unsigned.status, unsigned.json) == (403, {"message": "Missing Authentication Token"})

    admin = credentials_for(endpoint)
    reply = request(endpoint, "POST", "/", body=b'{"a":1}', host=host,
                    headers=signed("POST", host, "/", b'{"a":1}', admin, "lambda"))
    assert reply.status == 200, reply
    # The body is signed: a changed one does not pass.
    reply = request(endpoint, "POST", "/", body=b'{"a":2}', host=host,
                    headers=signed("POST", host, "/", b'{"a":1}', admin, "lambda"))
    assert reply.status == 403, reply

    headers = signed("GET", host, "/", b"", user["creds"], "lambda")
    assert request(endpoint, "GET", "/", host=host, headers=headers).status == 403

    lam.add_permission(FunctionName=function, StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal=user["arn"], FunctionUrlAuthType="AWS_IAM")
    headers = signed("GET", host, "/", b"", user["creds"], "lambda")
    reply = request(endpoint, "GET", "/", host=host, headers=headers)
    assert reply.status == 200, reply


# --------------------------------------------------------------------------------------------------
# Recursive loops
# --------------------------------------------------------------------------------------------------

LOOPER = "def handler(event, context):\n    return {'hop': event.get('hop', 0) + 1}\n"
FAILURE_SINK = (
    "def handler(event, context):\n"
    "    assert event['requestContext']['condition'] == 'RecursiveInvocationException', event\n"
    "    return 'seen'\n"
)


def test_a_function_that_invokes_itself_through_destinations_stops_after_16(start_server):
    import time

    from test_async import metrics

    srv = start_server()
    lam = srv.client("lambda")
    role = f"arn:aws:iam::{ACCOUNT}:role/nubo-e2e"
    looper, sink = unique_name("looper"), unique_name("sink")
    for name, code in ((looper, LOOPER), (sink, FAILURE_SINK)):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": code})})
    lam.put_function_event_invoke_config(
        FunctionName=looper, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": function_arn(looper)},
                           "OnFailure": {"Destination": function_arn(sink)}},
    )
    lam.invoke(FunctionName=looper, InvocationType="Event", Payload=b"{}")

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        seen = metrics(srv.endpoint)
        done = seen.get("nubo_async_recursion_stopped_total", 0) >= 1 and seen.get("nubo_async_queue_depth") == 0
        if done:
            break
        time.sleep(0.2)
    seen = metrics(srv.endpoint)
    assert seen.get("nubo_async_recursion_stopped_total") == 1, seen
    # 16 runs of the looper, then the failure record in the sink; nothing after.
    assert seen.get("nubo_async_events_succeeded_total") == 17, seen
    assert seen.get("nubo_async_function_errors_total", 0) == 0, seen
    time.sleep(0.5)
    assert metrics(srv.endpoint).get("nubo_async_events_succeeded_total") == 17


def test_the_trace_header_carries_the_chain_of_an_sdk_call(start_server):
    """A function's SDK sends its `_X_AMZN_TRACE_ID` back as `X-Amzn-Trace-Id`: an Event Invoke
    whose chain already holds 16 invocations is stopped, one with 15 still runs."""
    import time

    from test_async import metrics

    srv = start_server()
    lam = srv.client("lambda")
    name = unique_name("traced")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/nubo-e2e",
                        Handler="app.handler", Code={"ZipFile": make_zip({"app.py": LOOPER})})

    def send(count: int) -> None:
        def add_header(request, **_):
            request.headers["X-Amzn-Trace-Id"] = f"Root=1-00000000-000000000000000000000000;Lineage=6e75626f:{count}"

        lam.meta.events.register_first("before-sign.lambda.Invoke", add_header)
        try:
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
        finally:
            lam.meta.events.unregister("before-sign.lambda.Invoke", add_header)

    send(16)
    send(15)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and metrics(srv.endpoint).get("nubo_async_queue_depth") != 0:
        time.sleep(0.2)
    seen = metrics(srv.endpoint)
    assert seen.get("nubo_async_recursion_stopped_total") == 1, seen
    assert seen.get("nubo_async_events_succeeded_total") == 1, seen


SELF_INVOKER = """
import os

import boto3

client = boto3.client("lambda")


def handler(event, context):
    # The SDK sends this invocation's _X_AMZN_TRACE_ID back as X-Amzn-Trace-Id.
    client.invoke(FunctionName=os.environ["AWS_LAMBDA_FUNCTION_NAME"], InvocationType="Event", Payload=b"{}")
    return "again"
"""


def test_a_function_that_invokes_itself_with_the_sdk_stops_after_16(start_server):
    import time

    from test_async import metrics

    srv = start_server()
    srv.runtime_sdk()
    lam = srv.client("lambda")
    name = unique_name("selfish")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/nubo-e2e",
                        Handler="app.handler", Timeout=30,
                        Code={"ZipFile": make_zip({"app.py": SELF_INVOKER})})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen = metrics(srv.endpoint)
        if seen.get("nubo_async_recursion_stopped_total", 0) >= 1 and seen.get("nubo_async_queue_depth") == 0:
            break
        time.sleep(0.25)
    seen = metrics(srv.endpoint)
    assert seen.get("nubo_async_recursion_stopped_total") == 1, seen
    assert seen.get("nubo_async_events_succeeded_total") == 16, seen
    assert seen.get("nubo_async_function_errors_total", 0) == 0, seen
