"""`nubo deploy` with SAM templates written the way AWS's samples are (tests/e2e/sam_apps/): an HTTP
API app, a REST API app, an S3-triggered function, an SQS consumer and a scheduled function deploy
unchanged and answer at the URLs printed; a redeploy touches only what changed; a failed deploy rolls
back; `nubo delete` removes everything; `nubo dev` picks up an edited handler; templates with errors
name their line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import NUBO, REGION, NuboServer, credentials_for

APPS = Path(__file__).resolve().parent / "sam_apps"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A server of this module's own, with a 500 ms schedule minute (rate(1 minute) ticks fast)."""
    server = NuboServer(tmp_path_factory.mktemp("sam") / "data", extra_env={"NUBO_SCHEDULE_MINUTE_MS": "500"}).start()
    yield server
    server.stop()


def client(srv, service):
    return boto3.client(service, endpoint_url=srv.endpoint, region_name=REGION, **credentials_for(srv.endpoint))


def env_for(srv, **extra) -> dict:
    creds = credentials_for(srv.endpoint)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    env.update(
        AWS_ACCESS_KEY_ID=creds["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=creds["aws_secret_access_key"],
        NUBO_ENDPOINT=srv.endpoint,
        RUST_BACKTRACE="0",
    )
    env.update(extra)
    return env


def nubo(srv, *args, cwd, check=True, env=None, timeout=120) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(NUBO), *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env or env_for(srv), timeout=timeout
    )
    if check and done.returncode != 0:
        pytest.fail(f"nubo {' '.join(map(str, args))} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def app(name: str, tmp_path: Path) -> Path:
    """A copy of a sample app (tests edit handlers)."""
    target = tmp_path / name
    shutil.copytree(APPS / name, target)
    return target


def stack_name(prefix: str) -> str:
    return f"{prefix}-{os.urandom(3).hex()}"


def record(srv, stack: str, cwd) -> dict:
    return json.loads(nubo(srv, "stacks", stack, "--json", cwd=cwd).stdout)


def get(url: str, method: str = "GET", attempts: int = 50) -> tuple[int, dict]:
    """urllib, as a user's script would: no Host tricks, no /etc/hosts."""
    last = None
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as r:
                return r.status, json.loads(r.read())
        except Exception as e:  # a function still starting answers 5xx once in a while
            last = e
            time.sleep(0.2)
    raise AssertionError(f"{url}: {last}")


def preflight(url: str, origin: str) -> dict:
    req = urllib.request.Request(
        url, method="OPTIONS", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def wait_for_log(srv, function: str, needle: str, timeout: float = 30.0) -> str:
    logs = client(srv, "logs")
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        except ClientError:
            events = []
        for e in events:
            if needle in e["message"]:
                return e["message"]
        time.sleep(0.3)
    raise AssertionError(f"no log line with {needle!r} from {function}")


def changes(output: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s+[+*-] (Add|Modify|Delete)\s+(\S+)", output, re.M)


# --------------------------------------------------------------------------------------------------


def test_http_api_app_deploys_answers_redeploys_one_function_and_deletes(srv, tmp_path):
    root = app("http_api", tmp_path)
    stack = stack_name("httpapp")
    first = nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    assert ("Add", "HelloWorldFunction") in changes(first.stdout)
    outputs = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    # URLs as printed work from urllib: path-style on the endpoint, the AWS-style output rewritten.
    assert outputs["HelloWorldApi"].startswith(f"{srv.endpoint}/_api/"), outputs
    assert get(outputs["HelloWorldApi"]) == (200, {"message": "hello world", "version": 1})
    assert get(outputs["ApiEndpoint"] + "/greet/ana") == (200, {"message": "hello ana"})
    assert get(outputs["GreeterUrl"])[1] == {"message": "hello you"}
    assert preflight(outputs["HelloWorldApi"], "https://example.com") == {
        "access-control-allow-origin": "https://example.com", "access-control-allow-methods": "GET",
        "access-control-max-age": "300",
    }

    lam = client(srv, "lambda")
    functions = {f: lam.get_function(FunctionName=f"{outputs['HelloWorldFunction'].split(':')[-1]}") for f in ["hello"]}
    greeter = [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith(f"{stack}-GreeterFunction")][0]

    # Unchanged: nothing to do.
    again = nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    assert "No changes to deploy" in again.stdout

    # An edited handler: only that function changes.
    handler = root / "hello_world" / "app.py"
    handler.write_text(handler.read_text().replace('"version": 1', '"version": 2'))
    second = nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    assert changes(second.stdout) == [("Modify", "HelloWorldFunction")], second.stdout
    assert get(outputs["HelloWorldApi"])[1]["version"] == 2
    after = lam.get_function(FunctionName=greeter["FunctionName"])["Configuration"]
    assert after["LastModified"] == greeter["LastModified"] and after["CodeSha256"] == greeter["CodeSha256"]
    assert functions["hello"]["Configuration"]["CodeSha256"] != lam.get_function(FunctionName=functions["hello"]["Configuration"]["FunctionName"])["Configuration"]["CodeSha256"]

    # A parameter override reaches both functions' environment through Globals.
    third = nubo(srv, "deploy", "--stack-name", stack, "--parameter-overrides", "Greeting=howdy", cwd=root)
    assert sorted(changes(third.stdout)) == [("Modify", "GreeterFunction"), ("Modify", "HelloWorldFunction")]
    assert get(outputs["ApiEndpoint"] + "/greet/ana")[1] == {"message": "howdy ana"}
    bad = nubo(srv, "deploy", "--stack-name", stack, "--parameter-overrides", "Greeting=yo", cwd=root, check=False)
    assert bad.returncode != 0 and "AllowedValues" in bad.stderr

    resources = record(srv, stack, root)["resources"]
    listed = nubo(srv, "stacks", cwd=root).stdout
    assert stack in listed
    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    assert stack not in nubo(srv, "stacks", cwd=root).stdout
    for logical, r in resources.items():
        if r["kind"] == "AWS::Lambda::Function":
            with pytest.raises(ClientError) as e:
                lam.get_function(FunctionName=r["physical_id"])
            assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
        if r["kind"] == "AWS::IAM::Role":
            with pytest.raises(ClientError):
                client(srv, "iam").get_role(RoleName=r["physical_id"])
        if r["kind"] == "AWS::ApiGatewayV2::Api":
            with pytest.raises(ClientError):
                client(srv, "apigatewayv2").get_api(ApiId=r["physical_id"])


def test_rest_api_app_answers_at_its_prod_stage(srv, tmp_path):
    root = app("rest_api", tmp_path)
    stack = stack_name("restapp")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    url = record(srv, stack, root)["outputs"]["HelloWorldApi"]["value"]
    assert re.fullmatch(re.escape(srv.endpoint) + r"/_api/\w+/Prod/hello/", url), url
    status, body = get(url)
    assert status == 200 and body["message"] == "hello world"
    assert get(url.replace("/hello/", "/items/7"), method="DELETE")[1]["id"] == "7"
    # Globals.Api.Cors: an OPTIONS method per path (MOCK), as SAM generates.
    assert preflight(url, "http://any.example") == {
        "access-control-allow-origin": "*", "access-control-allow-methods": "GET,OPTIONS",
        "access-control-allow-headers": "Content-Type,X-Api-Key", "access-control-max-age": "600",
    }
    nubo(srv, "delete", "--stack-name", stack, cwd=root)


def status_of(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_rest_api_lambda_authorizer_guards_all_but_the_public_route(srv, tmp_path):
    root = app("rest_auth", tmp_path)
    stack = stack_name("restauth")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    url = record(srv, stack, root)["outputs"]["ApiUrl"]["value"]
    assert status_of(f"{url}/public") == 200
    assert status_of(f"{url}/secret") == 401
    assert status_of(f"{url}/secret", {"Authorization": "deny"}) == 403
    assert get_with(f"{url}/secret", {"Authorization": "allow"}) == {"path": "/secret"}
    # A changed route rebuilds the API in place (same id), authorizer included.
    (root / "template.yaml").write_text((root / "template.yaml").read_text().replace("Path: /public", "Path: /open"))
    redeployed = nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    assert ("Modify", "MyApi") in changes(redeployed.stdout)
    assert status_of(f"{url}/open") == 200 and status_of(f"{url}/public") in (403, 404)
    assert status_of(f"{url}/secret") == 401
    assert get_with(f"{url}/secret", {"Authorization": "allow"}) == {"path": "/secret"}
    nubo(srv, "delete", "--stack-name", stack, cwd=root)


def test_rest_api_keys_and_a_per_api_usage_plan(srv, tmp_path):
    root = app("rest_keys", tmp_path)
    stack = stack_name("restkeys")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    out = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    apigw = client(srv, "apigateway")
    value = apigw.get_api_key(apiKey=out["ApiKeyId"], includeValue=True)["value"]
    plans = [p for p in apigw.get_usage_plans()["items"] if any(s["stage"] == "v1" and s["apiId"] in out["ApiUrl"] for s in p.get("apiStages", []))]
    assert len(plans) == 1 and plans[0]["quota"]["limit"] == 1000
    assert status_of(f"{out['ApiUrl']}/items") == 403
    assert get_with(f"{out['ApiUrl']}/items", {"x-api-key": value}) == {"path": "/items"}
    assert status_of(f"{out['ApiUrl']}/health") == 200  # the event's ApiKeyRequired: false
    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    with pytest.raises(ClientError):
        apigw.get_api_key(apiKey=out["ApiKeyId"])


def get_with(url: str, headers: dict) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
        return json.loads(r.read())


def test_s3_triggered_function_sees_matching_uploads(srv, tmp_path):
    root = app("s3_trigger", tmp_path)
    stack = stack_name("s3app")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    out = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    assert out["BucketName"] == f"{stack}-uploads"
    s3 = client(srv, "s3")
    s3.put_object(Bucket=out["BucketName"], Key="skipped.csv", Body=b"x")
    s3.put_object(Bucket=out["BucketName"], Key="incoming/a.txt", Body=b"hello")
    line = wait_for_log(srv, out["ProcessorFunction"], "processed s3://")
    assert f"processed s3://{out['BucketName']}/incoming/a.txt" in line

    # generate-event + invoke -e: the same function with a sample event.
    event = tmp_path / "event.json"
    event.write_text(nubo(srv, "generate-event", "s3", "put", "--bucket", "b", "--key", "k.txt", cwd=root).stdout)
    invoked = nubo(srv, "invoke", out["ProcessorFunction"], "-e", event, cwd=root)
    assert json.loads(invoked.stdout) == {"processed": 1}
    # As `sam local invoke LogicalId`: the logical id of the stack's function.
    by_logical_id = nubo(srv, "invoke", "ProcessorFunction", "--stack-name", stack, "-e", event, cwd=root)
    assert json.loads(by_logical_id.stdout) == {"processed": 1}

    # A bucket with objects is not emptied for you (as CloudFormation): delete fails, says why.
    failed = nubo(srv, "delete", "--stack-name", stack, cwd=root, check=False)
    assert failed.returncode != 0 and "not empty" in failed.stderr
    for key in ("skipped.csv", "incoming/a.txt"):
        s3.delete_object(Bucket=out["BucketName"], Key=key)
    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=out["BucketName"])


def test_sqs_consumer_consumes(srv, tmp_path):
    root = app("sqs_consumer", tmp_path)
    stack = stack_name("sqsapp")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    out = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    assert out["QueueUrl"].startswith(srv.endpoint + "/")
    sqs = client(srv, "sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=out["QueueUrl"], AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30" and json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] in (3, "3")
    sqs.send_message(QueueUrl=out["QueueUrl"], MessageBody="order-17")
    assert "consumed order-17" in wait_for_log(srv, out["ConsumerFunction"], "consumed order-17")
    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    with pytest.raises(ClientError):
        sqs.get_queue_attributes(QueueUrl=out["QueueUrl"])


def test_simple_table_app_writes_items_streams_updates_in_place_and_deletes(srv, tmp_path):
    root = app("table_app", tmp_path)
    stack = stack_name("tableapp")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    out = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    table = out["TableName"]
    assert table.startswith(f"{stack}-Table-"), out
    ddb = client(srv, "dynamodb")
    described = ddb.describe_table(TableName=table)["Table"]
    assert described["TableArn"] == out["TableArn"]
    assert described["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    audit = ddb.describe_table(TableName=out["AuditTable"])["Table"]
    assert audit["LatestStreamArn"] == out["AuditStreamArn"]
    ttl = ddb.describe_time_to_live(TableName=out["AuditTable"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires" and ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")

    assert get(out["ApiEndpoint"] + "/items/a1", method="POST") == (200, {"stored": "a1"})
    assert ddb.get_item(TableName=table, Key={"id": {"S": "a1"}})["Item"] == {"id": {"S": "a1"}, "name": {"S": ""}}
    assert "audited INSERT put#a1" in wait_for_log(srv, out["AuditFunction"], "audited INSERT put#a1")

    # Tags change in place: same table, same items.
    template = root / "template.yaml"
    template.write_text(template.read_text().replace(
        "        Type: String\n", "        Type: String\n      Tags:\n        team: shop\n", 1))
    redeployed = nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    assert ("Modify", "Table") in changes(redeployed.stdout), redeployed.stdout
    assert record(srv, stack, root)["outputs"]["TableName"]["value"] == table
    assert ddb.list_tags_of_resource(ResourceArn=out["TableArn"])["Tags"] == [{"Key": "team", "Value": "shop"}]
    assert "Item" in ddb.get_item(TableName=table, Key={"id": {"S": "a1"}})

    # A GSI, a new stream view (a new stream ARN, so a new mapping) and no TTL: still in place;
    # a new primary key replaces the SimpleTable.
    text = template.read_text()
    text = text.replace("        StreamViewType: NEW_IMAGE\n", "        StreamViewType: NEW_AND_OLD_IMAGES\n")
    text = text.replace("      TimeToLiveSpecification:\n        AttributeName: expires\n        Enabled: true\n", (
        "      GlobalSecondaryIndexes:\n        - IndexName: byPk\n          KeySchema:\n"
        "            - AttributeName: pk\n              KeyType: HASH\n          Projection:\n"
        "            ProjectionType: KEYS_ONLY\n"))
    text = text.replace("        Name: id\n", "        Name: key\n")
    template.write_text(text)
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    out2 = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    assert out2["AuditTable"] == out["AuditTable"] and out2["AuditStreamArn"] != out["AuditStreamArn"]
    audit = ddb.describe_table(TableName=out["AuditTable"])["Table"]
    assert [i["IndexName"] for i in audit["GlobalSecondaryIndexes"]] == ["byPk"]
    assert audit["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    ttl = ddb.describe_time_to_live(TableName=out["AuditTable"])["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("DISABLED", "DISABLING"), ttl
    assert out2["TableName"] != table and table not in ddb.list_tables()["TableNames"]
    assert ddb.describe_table(TableName=out2["TableName"])["Table"]["KeySchema"][0]["AttributeName"] == "key"
    table = out2["TableName"]

    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    names = ddb.list_tables()["TableNames"]
    assert table not in names and out["AuditTable"] not in names


def test_scheduled_function_ticks_and_conditions_apply(srv, tmp_path):
    root = app("scheduled", tmp_path)
    stack = stack_name("schedapp")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    out = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    wait_for_log(srv, out["TickFunction"], "tick tick")
    lam = client(srv, "lambda")
    assert lam.get_function_configuration(FunctionName=out["TickFunction"])["MemorySize"] == 256  # Fn::FindInMap
    assert "Concurrency" not in lam.get_function(FunctionName=out["TickFunction"])  # !If → AWS::NoValue
    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    with pytest.raises(ClientError):
        client(srv, "events").describe_rule(Name=out["Rule"])


def test_auto_publish_alias_targets_the_alias_and_moves_on_redeploy(srv, tmp_path):
    root = app("alias_app", tmp_path)
    stack = stack_name("aliasapp")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    out = {k: v["value"] for k, v in record(srv, stack, root)["outputs"].items()}
    function, alias = out["Alias"].split(":")[-2:]
    assert alias == "live"
    lam = client(srv, "lambda")
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "1"
    assert lam.get_function_concurrency(FunctionName=function)["ReservedConcurrentExecutions"] == 5
    pc = lam.get_provisioned_concurrency_config(FunctionName=function, Qualifier="live")
    assert pc["RequestedProvisionedConcurrentExecutions"] == 1
    eic = lam.get_function_event_invoke_config(FunctionName=function, Qualifier="live")
    assert eic["MaximumRetryAttempts"] == 0 and "DestQueue" in eic["DestinationConfig"]["OnSuccess"]["Destination"]
    with urllib.request.urlopen(out["Api"], timeout=30) as r:
        assert r.read() == b"1 v1"
    with urllib.request.urlopen(out["Url"], timeout=30) as r:
        assert r.read() == b"1 v1"

    handler = root / "src" / "app.py"
    handler.write_text(handler.read_text().replace(" v1", " v2"))
    redeployed = nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    assert sorted(changes(redeployed.stdout)) == [
        ("Modify", "LiveFunction"), ("Modify", "LiveFunctionAliaslive"), ("Modify", "LiveFunctionVersion"),
    ], redeployed.stdout
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "2"
    for url in (out["Api"], out["Url"]):
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.read() == b"2 v2"
    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=function)


def make_wheel(directory: Path) -> Path:
    """A tiny pure-python wheel, so `pip install -r requirements.txt` needs no index."""
    import zipfile

    wheel = directory / "tinygreet-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("tinygreet.py", "def greet(name):\n    return f'greetings, {name}'\n")
        z.writestr("tinygreet-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinygreet\nVersion: 1.0\n")
        z.writestr(
            "tinygreet-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        z.writestr("tinygreet-1.0.dist-info/RECORD", "")
    return wheel


def test_build_installs_requirements_into_the_package(srv, tmp_path):
    root = tmp_path / "built"
    (root / "fn").mkdir(parents=True)
    wheel = make_wheel(tmp_path)
    (root / "fn" / "requirements.txt").write_text(f"{wheel}\n")
    (root / "fn" / "app.py").write_text(
        "import tinygreet\n\ndef handler(event, context):\n    return tinygreet.greet(event['name'])\n"
    )
    (root / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  GreetFunction:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: fn/\n"
        "      Handler: app.handler\n      Runtime: python3.12\n"
    )
    built = nubo(srv, "build", cwd=root, env=env_for(srv, PIP_NO_INDEX="1"))
    assert "Building GreetFunction (python3.12)" in built.stdout and "pip install -r requirements.txt" in built.stdout
    assert (root / ".nubo" / "build" / "GreetFunction" / "tinygreet.py").is_file()
    stack = stack_name("built")
    nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    function = record(srv, stack, root)["resources"]["GreetFunction"]["physical_id"]
    event = tmp_path / "event.json"
    event.write_text('{"name": "Ada"}')
    assert json.loads(nubo(srv, "invoke", function, "-e", event, cwd=root).stdout) == "greetings, Ada"
    # A handler edited after the build deploys over the built dependencies, no rebuild needed.
    app_py = root / "fn" / "app.py"
    app_py.write_text(app_py.read_text().replace("tinygreet.greet(event['name'])", "tinygreet.greet(event['name']).upper()"))
    assert changes(nubo(srv, "deploy", "--stack-name", stack, cwd=root).stdout) == [("Modify", "GreetFunction")]
    assert json.loads(nubo(srv, "invoke", function, "-e", event, cwd=root).stdout) == "GREETINGS, ADA"
    nubo(srv, "delete", "--stack-name", stack, cwd=root)


def test_samconfig_toml_supplies_stack_name_and_parameters(srv, tmp_path):
    root = app("http_api", tmp_path)
    stack = stack_name("cfgapp")
    (root / "samconfig.toml").write_text(
        f'version = 0.1\n[default.deploy.parameters]\nstack_name = "{stack}"\n'
        'capabilities = "CAPABILITY_IAM"\nparameter_overrides = "Greeting=howdy"\n'
    )
    nubo(srv, "deploy", cwd=root)
    url = record(srv, stack, root)["outputs"]["ApiEndpoint"]["value"]
    assert get(url + "/greet/bo")[1] == {"message": "howdy bo"}
    nubo(srv, "delete", "--stack-name", stack, cwd=root)


def test_template_errors_name_file_line_and_resource(srv, tmp_path):
    malformed = nubo(srv, "deploy", "--stack-name", "bad", cwd=APPS / "malformed", check=False)
    assert malformed.returncode != 0
    assert "template.yaml:9:" in malformed.stderr, malformed.stderr

    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
        "  Stream:\n    Type: AWS::Kinesis::Stream\n    Properties: {}\n"
    )
    unknown = nubo(srv, "deploy", "--stack-name", "unknown-type", cwd=tmp_path, check=False)
    assert unknown.returncode != 0
    assert "template.yaml:5: resource Stream: type AWS::Kinesis::Stream is not a resource type Nubo serves" in unknown.stderr
    assert "unknown-type" not in nubo(srv, "stacks", cwd=tmp_path).stdout  # nothing was created


ROLLBACK_V1 = """Transform: AWS::Serverless-2016-10-31
Resources:
  AQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
"""

ROLLBACK_V2 = """Transform: AWS::Serverless-2016-10-31
Resources:
  AQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 99
  BrokenFunction:
    Type: AWS::Serverless::Function
    DependsOn: AQueue
    Properties:
      InlineCode: "def handler(e, c): return 1"
      Handler: index.handler
      Runtime: python3.12
      Role: arn:aws:iam::000000000000:role/no-such-role
"""


def test_a_failed_step_rolls_back_to_the_previous_state(srv, tmp_path):
    stack = stack_name("rollback")
    (tmp_path / "template.yaml").write_text(ROLLBACK_V1)
    nubo(srv, "deploy", "--stack-name", stack, cwd=tmp_path)
    url = record(srv, stack, tmp_path)["resources"]["AQueue"]["physical_id"]
    (tmp_path / "template.yaml").write_text(ROLLBACK_V2)
    failed = nubo(srv, "deploy", "--stack-name", stack, cwd=tmp_path, check=False)
    assert failed.returncode != 0
    assert "resource BrokenFunction" in failed.stderr and "rolled back" in failed.stderr, failed.stderr
    assert re.search(r"template\.yaml:7: resource BrokenFunction", failed.stderr), failed.stderr
    attrs = client(srv, "sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30"
    rec = record(srv, stack, tmp_path)
    assert rec["status"] == "UPDATE_ROLLBACK_COMPLETE" and set(rec["resources"]) == {"AQueue"}
    nubo(srv, "delete", "--stack-name", stack, cwd=tmp_path)


def test_a_principal_without_permissions_is_refused(srv, tmp_path):
    iam = client(srv, "iam")
    user = f"deployer-{os.urandom(3).hex()}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    root = app("sqs_consumer", tmp_path)
    env = env_for(srv, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    denied = nubo(srv, "deploy", "--stack-name", stack_name("denied"), cwd=root, env=env, check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr


def test_dev_redeploys_an_edited_handler(srv, tmp_path):
    root = app("http_api", tmp_path)
    stack = stack_name("devapp")
    proc = subprocess.Popen(
        [str(NUBO), "dev", "--stack-name", stack, "--poll-ms", "50"],
        cwd=root, env=env_for(srv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []

    def read_until(pattern: str, timeout: float = 60.0) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no {pattern!r} in:\n{''.join(lines)}")

    try:
        read_until("Watching")
        url = record(srv, stack, root)["outputs"]["HelloWorldApi"]["value"]
        assert get(url)[1]["version"] == 1
        handler = root / "hello_world" / "app.py"
        edited = time.monotonic()
        handler.write_text(handler.read_text().replace('"version": 1', '"version": 3'))
        line = read_until(r"Redeployed in \d+ ms")
        while get(url)[1]["version"] != 3:
            time.sleep(0.02)
        elapsed = time.monotonic() - edited
        print(f"nubo dev: {line.strip()}; edit → new answer {elapsed * 1000:.0f} ms")
        assert int(re.search(r"(\d+) ms", line).group(1)) < 5000  # < 1 s on a quiet machine
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    nubo(srv, "delete", "--stack-name", stack, cwd=root)


def test_readme_first_function_in_five_commands(start_server, tmp_path):
    """README: `nubo serve` in a folder, then nubo init → cd → nubo deploy → curl the printed URL,
    with no keys or endpoint in the environment (the CLI finds ../.nubo as git finds .git). The URL
    also answers python's urllib and node's fetch."""
    srv = start_server(data_dir=tmp_path / ".nubo")
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    nubo(srv, "init", "--name", "my-first-app", cwd=tmp_path, env=bare)
    root = tmp_path / "my-first-app"
    deployed = nubo(srv, "deploy", cwd=root, env=bare)
    url = re.search(r"HelloWorldApi\s+(\S+)", deployed.stdout).group(1)
    assert url.startswith(srv.endpoint)
    assert get(url)[1] == {"message": "hello world"}
    if shutil.which("curl"):
        curl = subprocess.run(["curl", "-s", "--retry", "3", url], capture_output=True, text=True, timeout=60)
        assert json.loads(curl.stdout) == {"message": "hello world"}
    if shutil.which("node"):
        script = f"fetch({json.dumps(url)}).then(r => r.json()).then(j => console.log(JSON.stringify(j)))"
        node = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
        assert json.loads(node.stdout) == {"message": "hello world"}, node.stderr
    assert "my-first-app" in nubo(srv, "stacks", cwd=root, env=bare).stdout
    nubo(srv, "delete", "--stack-name", "my-first-app", cwd=root, env=bare)


def test_init_node_and_rust_projects(srv, tmp_path):
    nubo(srv, "init", "--runtime", "nodejs20.x", "--name", "node-app", cwd=tmp_path)
    root = tmp_path / "node-app"
    stack = stack_name("nodeapp")
    deployed = nubo(srv, "deploy", "--stack-name", stack, cwd=root)
    url = re.search(r"HelloWorldApi\s+(\S+)", deployed.stdout).group(1)
    assert get(url)[1] == {"message": "hello world"}
    nubo(srv, "delete", "--stack-name", stack, cwd=root)
    nubo(srv, "init", "--runtime", "rust", "--name", "rust-app", cwd=tmp_path)
    rust = tmp_path / "rust-app"
    assert (rust / "rust_app" / "Cargo.toml").is_file() and (rust / "rust_app" / "src" / "main.rs").is_file()
    assert "provided.al2023" in (rust / "template.yaml").read_text()
    again = nubo(srv, "init", "--name", "node-app", cwd=tmp_path, check=False)
    assert again.returncode != 0 and "exists already" in again.stderr


def test_public_url_path_style_endpoints_work_as_returned(start_server, tmp_path):
    """`nubo serve --public-url path`: the ApiEndpoint and FunctionUrl the APIs return are path-style
    on the listen address, and work from urllib as returned; the host forms keep working."""
    other = start_server(extra_args=["--public-url", "path"])
    root = app("http_api", tmp_path)
    stack = stack_name("public")
    nubo(other, "deploy", "--stack-name", stack, cwd=root)
    resources = record(other, stack, root)["resources"]
    api_id = resources["ServerlessHttpApi"]["physical_id"]
    api = client(other, "apigatewayv2").get_api(ApiId=api_id)
    assert api["ApiEndpoint"] == f"{other.endpoint}/_api/{api_id}"
    assert get(api["ApiEndpoint"] + "/hello")[1]["message"] == "hello world"
    greeter = resources["GreeterFunction"]["physical_id"]
    url = client(other, "lambda").get_function_url_config(FunctionName=greeter)["FunctionUrl"]
    assert url.startswith(f"{other.endpoint}/_url/") and url.endswith("/")
    assert get(url + "?x=1")[1] == {"message": "hello you"}
    # The Host form still routes.
    port = other.endpoint.rsplit(":", 1)[1]
    req = urllib.request.Request(f"{other.endpoint}/hello", headers={"Host": f"{api_id}.execute-api.localhost:{port}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.loads(r.read())["message"] == "hello world"


def test_deploy_examples_applies_changed_settings_on_restart(start_server, tmp_path):
    """`nubo serve --deploy-examples` used to keep an existing function's old settings."""
    examples = tmp_path / "examples"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "hello-python", examples / "hello-python")
    data = tmp_path / "data"
    first = start_server(data, ["--deploy-examples", str(examples)])
    first.stop()
    config_path = examples / "hello-python" / "function.json"
    config = json.loads(config_path.read_text())
    config["Timeout"], config["MemorySize"] = 17, 256
    config_path.write_text(json.dumps(config))
    again = start_server(data, ["--deploy-examples", str(examples)])
    got = client(again, "lambda").get_function_configuration(FunctionName=config["FunctionName"])
    assert (got["Timeout"], got["MemorySize"]) == (17, 256)


def test_dev_starts_a_server_when_none_answers(tmp_path):
    """`nubo dev` with nothing listening: it serves (data dir ./.nubo), deploys, and stops the
    server it started when it is stopped."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = app("http_api", tmp_path)
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    bare.update(NUBO_LISTEN=f"127.0.0.1:{port}", RUST_BACKTRACE="0")
    proc = subprocess.Popen(
        [str(NUBO), "dev", "--stack-name", "selfserved"], cwd=root, env=bare,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        output = []
        deadline = time.time() + 90
        while time.time() < deadline:
            line = proc.stdout.readline()
            output.append(line)
            if not line or "Watching" in line:
                break
        text = "".join(output)
        assert "Starting `nubo serve" in text and "Watching" in text, text
        url = re.search(r"HelloWorldApi\s+(\S+)", text).group(1)
        assert url.startswith(f"http://127.0.0.1:{port}/_api/")
        assert get(url)[1]["message"] == "hello world"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
