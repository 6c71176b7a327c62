"""WebSocket APIs with a real WebSocket client (websocket-client): the control plane, `$connect`
allowing and refusing, route selection by `$request.body.action`, `$default`, two-way routes, a
handler that answers and broadcasts through `@connections` (boto3's apigatewaymanagementapi inside
the function, at the endpoint it builds from `requestContext`), the `$disconnect` event, GoneException
afterwards, a caller the policy refuses, and an oversized frame closed with 1009."""

from __future__ import annotations

import json
import struct
import time

import boto3
import pytest
import websocket
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import LAMBDA_TRUST, REGION, credentials_for, error_of, function_arn, unique_name
from gateway_helpers import apigw_client_for

CHAT_APP = r"""
import json
import boto3

def manager(ctx):
    # What AWS's examples do, with Nubo's scheme: the endpoint from the event.
    url = "http://" + ctx["domainName"] + "/" + ctx["stage"]
    return boto3.client("apigatewaymanagementapi", endpoint_url=url)

def handler(event, context):
    ctx = event["requestContext"]
    route = ctx["routeKey"]
    print("EVENT " + json.dumps({"routeKey": route, "eventType": ctx["eventType"],
                                 "connectionId": ctx["connectionId"],
                                 "disconnectStatusCode": ctx.get("disconnectStatusCode")}))
    if route == "$connect":
        query = event.get("queryStringParameters") or {}
        if query.get("token") == "bad":
            return {"statusCode": 403}
        return {"statusCode": 200}
    if route == "$disconnect":
        return {"statusCode": 200}
    body = json.loads(event["body"]) if event.get("body", "").startswith("{") else {}
    if route == "whoami":
        return {"statusCode": 200, "body": json.dumps({"route": route, "context": ctx, "event": event})}
    if route == "broadcast":
        api = manager(ctx)
        sent, gone = 0, 0
        for target in body["to"]:
            try:
                api.post_to_connection(ConnectionId=target, Data=json.dumps({"from": ctx["connectionId"], "text": body["text"]}).encode())
                sent += 1
            except api.exceptions.GoneException:
                gone += 1
        info = api.get_connection(ConnectionId=ctx["connectionId"])
        return {"statusCode": 200, "body": json.dumps({"sent": sent, "gone": gone, "sourceIp": info["Identity"]["SourceIp"]})}
    if route == "kick":
        manager(ctx).delete_connection(ConnectionId=body["id"])
        return {"statusCode": 200, "body": "kicked"}
    if route == "oneway":
        return {"statusCode": 200, "body": "never sent"}
    return {"statusCode": 200, "body": json.dumps({"route": route, "body": event.get("body")})}
"""

MANAGE_POLICY = "arn:aws:iam::aws:policy/AmazonAPIGatewayInvokeFullAccess"


def iam_client(endpoint, creds=None):
    return boto3.client("iam", endpoint_url=endpoint, region_name=REGION, **(creds or credentials_for(endpoint)))


def manager_for(endpoint: str, stage: str, creds=None):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{endpoint}/{stage}",
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}),
        **(creds or credentials_for(endpoint)),
    )


@pytest.fixture(scope="module")
def chat_role(endpoint):
    """An execution role that may manage connections (as AWS needs too)."""
    iam = iam_client(endpoint)
    name = unique_name("ws-role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=MANAGE_POLICY)
    return arn


@pytest.fixture
def chat(server, endpoint, make_function, chat_role):
    """A WebSocket API: $connect, $disconnect, $default and custom routes, all to one function;
    `whoami`, `broadcast`, `kick` and `$default` are two-way, `oneway` is not."""
    server.runtime_sdk()  # the function uses boto3
    gw = apigw_client_for(endpoint)
    name = make_function(files={"app.py": CHAT_APP}, Role=chat_role, Timeout=30)["FunctionName"]
    api = gw.create_api(Name=unique_name("chat"), ProtocolType="WEBSOCKET",
                        RouteSelectionExpression="$request.body.action")
    api_id = api["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                        IntegrationUri=function_arn(name))["IntegrationId"]
    for key in ["$connect", "$disconnect", "$default", "whoami", "broadcast", "kick", "oneway"]:
        extra = {} if key in ("$connect", "$disconnect", "oneway") else {"RouteResponseSelectionExpression": "$default"}
        route = gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}", **extra)
        if extra:
            gw.create_route_response(ApiId=api_id, RouteId=route["RouteId"], RouteResponseKey="$default")
    gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    yield {"api": api, "api_id": api_id, "function": name, "url": f"{endpoint.replace('http://', 'ws://')}/_api/{api_id}/prod"}
    gw.delete_api(ApiId=api_id)


def connect(url: str, query: str = "") -> websocket.WebSocket:
    return websocket.create_connection(url + query, timeout=60)


def ask(ws: websocket.WebSocket, message: dict | str) -> dict:
    ws.send(message if isinstance(message, str) else json.dumps(message))
    return json.loads(ws.recv())


def whoami(ws) -> str:
    return ask(ws, {"action": "whoami"})["context"]["connectionId"]


def close_code(ws: websocket.WebSocket) -> int:
    """Reads frames until the server's close frame; its status code."""
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005


def function_log(endpoint, function: str) -> str:
    logs = boto3.client("logs", endpoint_url=endpoint, region_name=REGION, **credentials_for(endpoint))
    return "\n".join(e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"])[-3000:]


def disconnect_events(endpoint, function: str, connection_id: str, timeout: float = 30) -> list[dict]:
    logs = boto3.client("logs", endpoint_url=endpoint, region_name=REGION, **credentials_for(endpoint))
    deadline = time.time() + timeout
    while True:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern="EVENT")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []  # the first lines are still on their way to the store
        found = [json.loads(e["message"].split("EVENT ", 1)[1]) for e in events if "EVENT " in e["message"]]
        found = [e for e in found if e["connectionId"] == connection_id and e["eventType"] == "DISCONNECT"]
        if found or time.time() > deadline:
            return found
        time.sleep(0.3)


def test_control_plane_speaks_websocket(endpoint, chat):
    gw = apigw_client_for(endpoint)
    api = gw.get_api(ApiId=chat["api_id"])
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    assert api["ApiEndpoint"] == f"{endpoint.replace('http://', 'ws://')}/_api/{chat['api_id']}"
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=chat["api_id"])["Items"]}
    assert set(routes) >= {"$connect", "$disconnect", "$default", "whoami"}
    responses = gw.get_route_responses(ApiId=chat["api_id"], RouteId=routes["whoami"]["RouteId"])["Items"]
    assert [r["RouteResponseKey"] for r in responses] == ["$default"]
    integration = gw.get_integrations(ApiId=chat["api_id"])["Items"][0]
    assert integration["PayloadFormatVersion"] == "1.0"
    with pytest.raises(ClientError) as excinfo:
        gw.create_api(Name="x", ProtocolType="WEBSOCKET")
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as excinfo:
        gw.create_route(ApiId=chat["api_id"], RouteKey="$bogus")
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)


def test_connect_allowed_and_refused(chat):
    ws = connect(chat["url"], "?token=good")
    assert whoami(ws)
    ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as excinfo:
        connect(chat["url"], "?token=bad")
    assert excinfo.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as excinfo:
        connect(chat["url"].replace("/prod", "/nostage"))
    assert excinfo.value.status_code in (403, 404)


def test_routes_by_action_default_and_one_way(chat):
    ws = connect(chat["url"])
    me = ask(ws, {"action": "whoami"})
    context = me["context"]
    assert context["routeKey"] == "whoami" and context["eventType"] == "MESSAGE"
    assert context["apiId"] == chat["api_id"] and context["stage"] == "prod"
    assert context["messageId"] and context["connectionId"] and context["connectedAt"] > 0
    assert context["requestTimeEpoch"] >= context["connectedAt"]
    assert "headers" not in me["event"] and me["event"]["isBase64Encoded"] is False
    assert ask(ws, {"action": "nothing-like-it", "x": 1}) == {"route": "$default", "body": '{"action": "nothing-like-it", "x": 1}'}
    assert ask(ws, "not json at all") == {"route": "$default", "body": "not json at all"}
    # A one-way route's answer is not sent: the next reply is the next two-way one.
    ws.send(json.dumps({"action": "oneway"}))
    assert ask(ws, {"action": "whoami"})["context"]["routeKey"] == "whoami"
    ws.close()


def test_broadcast_through_connections_then_gone(endpoint, chat):
    alice, bob, carol = connect(chat["url"]), connect(chat["url"]), connect(chat["url"])
    ids = [whoami(alice), whoami(bob), whoami(carol)]
    reply = ask(alice, {"action": "broadcast", "to": ids[1:], "text": "hi all"})
    assert reply.get("sent") == 2 and reply["gone"] == 0 and reply["sourceIp"] == "127.0.0.1", function_log(endpoint, chat["function"])
    for ws in (bob, carol):
        assert json.loads(ws.recv()) == {"from": ids[0], "text": "hi all"}

    # The same API from the test's side: GetConnection, PostToConnection, DeleteConnection.
    manager = manager_for(endpoint, "prod")
    info = manager.get_connection(ConnectionId=ids[1])
    assert info["Identity"]["SourceIp"] == "127.0.0.1" and info["ConnectedAt"].year >= 2024
    manager.post_to_connection(ConnectionId=ids[1], Data=b"direct")
    assert bob.recv() == "direct"
    manager.delete_connection(ConnectionId=ids[2])
    assert close_code(carol) == 1000

    # Bob leaves; his $disconnect runs, and posting to him or carol is GoneException afterwards.
    bob.close(status=1000)
    events = disconnect_events(endpoint, chat["function"], ids[1])
    assert events and events[0]["disconnectStatusCode"] == 1000
    for gone_id in ids[1:]:
        with pytest.raises(ClientError) as excinfo:
            manager.post_to_connection(ConnectionId=gone_id, Data=b"x")
        assert error_of(excinfo)[:2] == ("GoneException", 410)
    reply = ask(alice, {"action": "broadcast", "to": ids[1:], "text": "anyone?"})
    assert reply == {"sent": 0, "gone": 2, "sourceIp": "127.0.0.1"}
    alice.close()


def test_a_caller_the_policy_refuses_gets_forbidden(endpoint, chat):
    iam = iam_client(endpoint)
    user = unique_name("ws-user")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    ws = connect(chat["url"])
    me = whoami(ws)
    with pytest.raises(ClientError) as excinfo:
        manager_for(endpoint, "prod", creds).post_to_connection(ConnectionId=me, Data=b"x")
    assert error_of(excinfo)[:2] == ("ForbiddenException", 403)
    # Allowed on this API only: it may post.
    iam.put_user_policy(UserName=user, PolicyName="manage", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:ManageConnections",
                       "Resource": f"arn:aws:execute-api:{REGION}:*:{chat['api_id']}/prod/POST/@connections/*"}],
    }))
    manager_for(endpoint, "prod", creds).post_to_connection(ConnectionId=me, Data=b"allowed")
    assert ws.recv() == "allowed"
    ws.close()


def test_an_oversized_frame_is_closed_with_1009(endpoint, chat):
    ws = connect(chat["url"])
    me = whoami(ws)
    ws.send("x" * (33 * 1024))
    assert close_code(ws) == 1009
    events = disconnect_events(endpoint, chat["function"], me)
    assert events and events[0]["disconnectStatusCode"] == 1009


def test_chat_example(server, endpoint):
    """examples/chat/deploy.py in one command, then two members of a room and one elsewhere."""
    import os
    import subprocess
    import sys

    from conftest import REPO, client_env_for

    server.runtime_sdk()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **client_env_for(endpoint)}
    name = unique_name("chat")
    deployed = subprocess.run(
        [sys.executable, str(REPO / "examples" / "chat" / "deploy.py"), "--endpoint", endpoint,
         "--bucket", name.lower(), "--function", name],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    url = json.loads(deployed.stdout.strip().splitlines()[-1])["url"]
    ada, bob, eve = connect(url, "?name=ada"), connect(url, "?name=bob"), connect(url, "?name=eve")
    assert "help" in ask(ada, "hello?")
    assert ask(ada, {"action": "join", "room": "lobby"}) == {"joined": "lobby"}
    assert ask(bob, {"action": "join", "room": "lobby"}) == {"joined": "lobby"}
    assert ask(eve, {"action": "join", "room": "attic"}) == {"joined": "attic"}
    ada.send(json.dumps({"action": "send", "text": "hi bob"}))
    # Ada gets her own message and the delivery count, in either order; Bob gets the message.
    got = [json.loads(ada.recv()), json.loads(ada.recv())]
    assert {"room": "lobby", "from": "ada", "text": "hi bob"} in got and {"delivered": 2} in got
    assert json.loads(bob.recv()) == {"room": "lobby", "from": "ada", "text": "hi bob"}
    bob.close()
    time.sleep(1)  # Bob's $disconnect leaves the room
    assert ask(ada, {"action": "send", "text": "alone?"}) in ({"delivered": 1}, {"room": "lobby", "from": "ada", "text": "alone?"})
    eve.settimeout(0.5)
    with pytest.raises(websocket.WebSocketTimeoutException):
        eve.recv()
    ada.close()
    eve.close()


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server with short WebSocket limits: 2 s idle, 4 s lifetime, 1 KB frames, 8 queued frames."""
    from conftest import NuboServer

    srv = NuboServer(tmp_path_factory.mktemp("ws-limits") / "data",
                     ["--ws-idle-timeout", "2", "--ws-max-lifetime", "4", "--ws-max-frame-bytes", "1024",
                      "--ws-send-queue", "8"]).start()
    yield srv
    srv.stop()


def mock_api(endpoint: str, authorization: str = "NONE") -> str:
    """A WebSocket API without integrations (connect, ping-pong only) on stage `s`."""
    gw = apigw_client_for(endpoint)
    api_id = gw.create_api(Name=unique_name("bare"), ProtocolType="WEBSOCKET",
                           RouteSelectionExpression="${request.body.action}")["ApiId"]
    if authorization != "NONE":
        gw.create_route(ApiId=api_id, RouteKey="$connect", AuthorizationType=authorization)
    gw.create_stage(ApiId=api_id, StageName="s", AutoDeploy=True)
    return api_id


def test_idle_and_lifetime_limits_close_with_1001(limited):
    url = f"{limited.endpoint.replace('http://', 'ws://')}/_api/{mock_api(limited.endpoint)}/s"
    idle = connect(url)
    started = time.monotonic()
    assert close_code(idle) == 1001
    assert 1.5 < time.monotonic() - started < 4
    # Pings keep a connection alive until its lifetime ends.
    busy = connect(url)
    started = time.monotonic()
    busy.settimeout(0.5)
    code = None
    while code is None and time.monotonic() - started < 8:
        busy.ping("hi")
        try:
            opcode, frame = busy.recv_data_frame(control_frame=True)
        except websocket.WebSocketTimeoutException:
            continue
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", frame.data[:2])[0]
    assert code == 1001 and time.monotonic() - started > 3.5


def test_frame_limit_is_configurable_and_messages_without_routes_get_an_error(limited):
    url = f"{limited.endpoint.replace('http://', 'ws://')}/_api/{mock_api(limited.endpoint)}/s"
    ws = connect(url)
    answer = ask(ws, {"action": "nowhere"})
    assert answer["message"] == "Forbidden" and answer["connectionId"]
    ws.send("y" * 2000)
    assert close_code(ws) == 1009


def test_aws_iam_on_connect(limited):
    """`$connect` with AWS_IAM: an unsigned upgrade is refused, a SigV4-signed one is let in."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    endpoint = limited.endpoint
    api_id = mock_api(endpoint, "AWS_IAM")
    url = f"{endpoint.replace('http://', 'ws://')}/_api/{api_id}/s"
    with pytest.raises(websocket.WebSocketBadStatusException) as excinfo:
        connect(url)
    assert excinfo.value.status_code == 403
    creds = credentials_for(endpoint)
    signed = AWSRequest(method="GET", url=f"{endpoint}/_api/{api_id}/s")
    SigV4Auth(Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), "execute-api", REGION).add_auth(signed)
    headers = [f"{k}: {v}" for k, v in signed.headers.items() if k.lower() in ("authorization", "x-amz-date")]
    ws = websocket.create_connection(url, timeout=30, header=headers)
    ws.ping("x")
    assert ws.recv_data_frame(control_frame=True)[0] == websocket.ABNF.OPCODE_PONG
    ws.close()


def test_a_client_that_does_not_read_is_disconnected(limited):
    """Backpressure: posts to a client that reads nothing fill its bounded queue; then it is
    disconnected (1008) and further posts are GoneException, instead of the server buffering."""
    endpoint = limited.endpoint
    url = f"{endpoint.replace('http://', 'ws://')}/_api/{mock_api(endpoint)}/s"
    ws = connect(url)
    me = ask(ws, {"action": "who"})["connectionId"]
    manager = manager_for(endpoint, "s")
    data = b"z" * (100 * 1024)
    codes = []
    for _ in range(400):
        try:
            manager.post_to_connection(ConnectionId=me, Data=data)
        except ClientError as e:
            codes.append(error_of_response(e))
            break
    assert codes == [("GoneException", 410)]
    assert close_code(ws) == 1008


def error_of_response(e: ClientError) -> tuple[str, int]:
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
