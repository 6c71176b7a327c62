"""EventBridge through boto3: rules with event patterns and schedule expressions (AWS's error for a
bad one), targets with Input/InputPath, PutEvents matched against patterns and delivered to a
Lambda target (and an SQS queue), Enable/DisableRule, DeleteRule with targets, and a
`rate(1 minute)` rule observed ticking on a shortened clock (a server whose minute lasts one
second), across a SIGKILL without firing a tick twice."""

from __future__ import annotations

import json
import signal
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, ROLE, credentials_for, lambda_client_for, make_zip, unique_name
from host_files import FUNCTION_SIDE, url_for

RECORDER = FUNCTION_SIDE + """
import json, os

def handler(event, context):
    write_out(os.environ["OUT"], json.dumps(event) + "\\n")
    return "ok"
"""

CONFIG = Config(retries={"max_attempts": 0})


def client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))


@pytest.fixture(scope="module")
def events(endpoint):
    return client("events", endpoint)


def lines(path) -> list[dict]:
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def recorder(lam, out) -> str:
    name = unique_name("rule-target")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": RECORDER})},
        Environment={"Variables": {"OUT": url_for(out)}},
    )
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def test_rule_lifecycle_and_errors(events):
    name = unique_name("rule")
    arn = events.put_rule(Name=name, ScheduleExpression="cron(0 12 * * ? *)", Description="noon")["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    described = events.describe_rule(Name=name)
    assert described["State"] == "ENABLED" and described["ScheduleExpression"] == "cron(0 12 * * ? *)"
    assert described["EventBusName"] == "default" and described["Description"] == "noon"
    assert name in [r["Name"] for r in events.list_rules(NamePrefix=name)["Rules"]]
    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    events.enable_rule(Name=name)

    target = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:whatever"
    put = events.put_targets(Rule=name, Targets=[{"Id": "t1", "Arn": target, "Input": '{"fixed": true}'}])
    assert put["FailedEntryCount"] == 0
    bad = events.put_targets(Rule=name, Targets=[{"Id": "t2", "Arn": target, "Input": "{not json"}])
    assert bad["FailedEntryCount"] == 1 and bad["FailedEntries"][0]["TargetId"] == "t2"
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [{"Id": "t1", "Arn": target, "Input": '{"fixed": true}'}]
    with pytest.raises(ClientError) as excinfo:
        events.delete_rule(Name=name)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    events.remove_targets(Rule=name, Ids=["t1"])
    events.delete_rule(Name=name)
    with pytest.raises(events.exceptions.ResourceNotFoundException) as excinfo:
        events.describe_rule(Name=name)
    assert excinfo.value.response["Error"]["Message"] == f"Rule {name} does not exist on EventBus default."

    for expression in ["cron(0 12 * * * *)", "cron(0 25 * * ? *)", "rate(1 minutes)", "rate(0 hours)", "every day"]:
        with pytest.raises(ClientError) as excinfo:
            events.put_rule(Name=unique_name("bad"), ScheduleExpression=expression)
        error = excinfo.value.response["Error"]
        assert (error["Code"], error["Message"]) == ("ValidationException", "Parameter ScheduleExpression is not valid."), expression
    with pytest.raises(events.exceptions.InvalidEventPatternException):
        events.put_rule(Name=unique_name("bad"), EventPattern='{"source": "not-a-list"}')
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_targets(Rule="no-such-rule", Targets=[{"Id": "t", "Arn": target}])


def test_put_events_matching_a_pattern_invoke_the_target(events, lam, tmp_path, endpoint):
    out = tmp_path / "matched.jsonl"
    function_arn = recorder(lam, out)
    sqs = client("sqs", endpoint)
    queue_url = sqs.create_queue(QueueName=unique_name("rule-q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = unique_name("orders")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["my.shop"], "detail": {"total": [{"numeric": [">", 100]}]}}))
    events.put_targets(
        Rule=name,
        Targets=[
            {"Id": "fn", "Arn": function_arn},
            {"Id": "detail-only", "Arn": queue_arn, "InputPath": "$.detail"},
        ],
    )
    result = events.put_events(
        Entries=[
            {"Source": "my.shop", "DetailType": "Order Placed", "Detail": json.dumps({"id": "big", "total": 250})},
            {"Source": "my.shop", "DetailType": "Order Placed", "Detail": json.dumps({"id": "small", "total": 5})},
            {"Source": "other", "DetailType": "Order Placed", "Detail": json.dumps({"id": "elsewhere", "total": 900})},
            {"Source": "my.shop", "DetailType": "Broken", "Detail": "not json"},
        ]
    )
    assert result["FailedEntryCount"] == 1
    assert result["Entries"][3]["ErrorCode"] == "MalformedDetail"
    assert all("EventId" in e for e in result["Entries"][:3])
    delivered = wait_for(lambda: lines(out))
    assert [e["detail"]["id"] for e in delivered] == ["big"]
    event = delivered[0]
    assert event["source"] == "my.shop" and event["detail-type"] == "Order Placed"
    assert event["account"] == ACCOUNT and event["region"] == REGION and event["version"] == "0"
    assert event["id"] == result["Entries"][0]["EventId"]
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"][0]
    assert json.loads(message["Body"]) == {"id": "big", "total": 250}
    time.sleep(0.5)
    assert len(lines(out)) == 1


def test_rate_rule_ticks_on_a_short_clock_and_survives_sigkill(start_server, tmp_path):
    data = tmp_path / "schedule"
    srv = start_server(data, extra_env={"NUBO_SCHEDULE_MINUTE_MS": "1000"})
    lam = lambda_client_for(srv.endpoint)
    events = client("events", srv.endpoint)
    out = tmp_path / "ticks.jsonl"
    function_arn = recorder(lam, out)
    name = unique_name("every-minute")
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": function_arn}])
    ticks = wait_for(lambda: len(lines(out)) >= 2 and lines(out), timeout=30)
    assert ticks, "the rule never ticked twice"
    first = ticks[0]
    assert first["detail-type"] == "Scheduled Event" and first["source"] == "aws.events"
    assert first["resources"] == [rule_arn] and first["detail"] == {}
    assert first["time"].endswith("Z") and len(first["time"]) == 20

    # Input replaces the event.
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": function_arn, "Input": '{"constant": 1}'}])
    assert wait_for(lambda: any(e == {"constant": 1} for e in lines(out)), timeout=15)

    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": function_arn}])
    time.sleep(2.5)

    srv.stop(sig=signal.SIGKILL)
    before = len(lines(out))
    restarted = start_server(data, extra_env={"NUBO_SCHEDULE_MINUTE_MS": "1000"})
    assert client("events", restarted.endpoint).describe_rule(Name=name)["ScheduleExpression"] == "rate(1 minute)"
    assert wait_for(lambda: len(lines(out)) >= before + 3, timeout=30), "the schedule did not resume after the restart"
    client("events", restarted.endpoint).disable_rule(Name=name)
    # Every tick fired once: no scheduled time twice, across the kill.
    times = [e["time"] for e in lines(out) if e.get("detail-type") == "Scheduled Event"]
    assert len(times) == len(set(times)), times
