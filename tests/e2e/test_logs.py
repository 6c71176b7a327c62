"""CloudWatch Logs through boto3 and the AWS CLI (`logs/2014-03-28`, json 1.1): a function's
output in `/aws/lambda/NAME` with a stream per environment, groups and streams created by hand,
PutLogEvents, GetLogEvents, FilterLogEvents with CloudWatch's filter patterns, the follow loop
`aws logs tail --follow` runs (FilterLogEvents from a start time, dropping seen event ids),
retention removing old events, DeleteLogGroup, scoping by region, and a user the policy refuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_cli import aws
from conftest import (
    ACCOUNT,
    NUBO,
    REGION,
    ROLE,
    client_env_for,
    credentials_for,
    error_of,
    invoke,
    lambda_client_for,
    make_zip,
    unique_name,
    wait_active,
)

CONFIG = Config(retries={"max_attempts": 0})

PRINTER = """
import json
def handler(event, context):
    print("hello from", event.get("who", "nobody"))
    print(json.dumps({"level": event.get("level", "INFO"), "latency": event.get("latency", 0)}))
    return "ok"
"""


def logs_client(endpoint, region=REGION, creds=None):
    return boto3.client(
        "logs", endpoint_url=endpoint, region_name=region, config=CONFIG, **(creds or credentials_for(endpoint))
    )


@pytest.fixture(scope="module")
def logs(endpoint):
    return logs_client(endpoint)


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def messages(events) -> list[str]:
    return [e["message"] for e in events]


def test_function_output_reaches_its_log_group_and_stream(logs, lam, make_function):
    name = make_function(files={"app.py": PRINTER})["FunctionName"]
    group = f"/aws/lambda/{name}"
    started = now_ms()
    assert invoke(lam, name, {"who": "first"}).status == 200

    def found():
        try:
            return logs.filter_log_events(logGroupName=group, startTime=started - 1000)["events"]
        except ClientError:
            return None

    events = wait_for(lambda: [e for e in (found() or []) if "hello from first" in e["message"]])
    assert events, found()
    stream = events[0]["logStreamName"]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]+", stream), stream
    all_messages = messages(found())
    assert any(m.startswith("START RequestId:") for m in all_messages)
    assert any(m.startswith("REPORT RequestId:") for m in all_messages)

    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    assert groups[0]["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    assert streams[0]["logStreamName"] == stream
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    assert "hello from first" in "\n".join(messages(got["events"]))

    # The follow loop of `aws logs tail --follow`: poll from the last timestamp seen, drop seen ids.
    seen = {e["eventId"] for e in found()}
    last = max(e["timestamp"] for e in found())
    t0 = time.monotonic()
    assert invoke(lam, name, {"who": "second"}).status == 200

    def new_lines():
        page = logs.filter_log_events(logGroupName=group, startTime=last)["events"]
        return [e for e in page if e["eventId"] not in seen and "hello from second" in e["message"]]

    assert wait_for(new_lines, timeout=5), "the second invocation's line never arrived"
    assert time.monotonic() - t0 < 3.0

    # Other regions see nothing of it.
    with pytest.raises(ClientError) as excinfo:
        logs_client(logs.meta.endpoint_url, region="eu-west-1").filter_log_events(logGroupName=group)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_groups_streams_put_and_get(logs):
    group = f"/test/{unique_name('g')}"
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_group(logGroupName=group)
    assert error_of(excinfo)[:2] == ("ResourceAlreadyExistsException", 400)
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_stream(logGroupName=group + "-missing", logStreamName="s")
    assert error_of(excinfo) == ("ResourceNotFoundException", 400, "The specified log group does not exist.")
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    with pytest.raises(ClientError) as excinfo:
        logs.put_log_events(logGroupName=group, logStreamName="nope", logEvents=[{"timestamp": now_ms(), "message": "x"}])
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["app"] and "firstEventTimestamp" not in streams[0]

    t = now_ms()
    logs.put_log_events(
        logGroupName=group,
        logStreamName="app",
        logEvents=[{"timestamp": t + i, "message": f"line {i}"} for i in range(5)],
    )
    head = logs.get_log_events(logGroupName=group, logStreamName="app", startFromHead=True, limit=2)
    assert messages(head["events"]) == ["line 0", "line 1"]
    rest = logs.get_log_events(logGroupName=group, logStreamName="app", nextToken=head["nextForwardToken"])
    assert messages(rest["events"]) == ["line 2", "line 3", "line 4"]
    again = logs.get_log_events(logGroupName=group, logStreamName="app", nextToken=rest["nextForwardToken"])
    assert again["events"] == [] and again["nextForwardToken"] == rest["nextForwardToken"]
    newest = logs.get_log_events(logGroupName=group, logStreamName="app", limit=2)
    assert messages(newest["events"]) == ["line 3", "line 4"]

    with pytest.raises(ClientError) as excinfo:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="app",
            logEvents=[{"timestamp": t + 10, "message": "b"}, {"timestamp": t, "message": "a"}],
        )
    assert error_of(excinfo)[0] == "InvalidParameterException"

    paged = [
        e["message"]
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 2})
        for e in page["events"]
    ]
    assert paged == [f"line {i}" for i in range(5)]

    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    with pytest.raises(ClientError) as excinfo:
        logs.delete_log_group(logGroupName=group)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_filter_patterns_select_as_cloudwatch_does(logs):
    group = f"/test/{unique_name('f')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    lines = [
        "ERROR request timeout",
        "WARN disk almost full",
        "INFO all good",
        "ERROR will retry",
        json.dumps({"level": "ERROR", "latency": 250, "user": {"id": "u-1"}}),
        json.dumps({"level": "INFO", "latency": 20}),
    ]
    t = now_ms()
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(lines)]
    )

    def select(pattern):
        return messages(logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"])

    assert select("ERROR") == [lines[0], lines[3], lines[4]]
    assert select("ERROR -retry") == [lines[0], lines[4]]
    assert select('"disk almost"') == [lines[1]]
    assert select("?WARN ?timeout") == [lines[0], lines[1]]
    assert select('{ $.level = "ERROR" }') == [lines[4]]
    assert select("{ $.latency > 100 || $.level = INFO }") == [lines[4], lines[5]]
    assert select('{ $.user.id = "u-*" && $.latency >= 250 }') == [lines[4]]

    with pytest.raises(ClientError) as excinfo:
        select("{ $.level = ")
    assert error_of(excinfo)[0] == "InvalidParameterException"

    # The AWS CLI's filter-log-events, as a user would run it.
    out = aws(
        ["--endpoint-url", logs.meta.endpoint_url, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "?WARN ?timeout", "--output", "json"],
        env=client_env_for(logs.meta.endpoint_url),
    )
    assert out.returncode == 0, out.stderr
    assert messages(json.loads(out.stdout)["events"]) == [lines[0], lines[1]]


def test_space_delimited_patterns_select_fields(logs):
    group = f"/test/{unique_name('d')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="access")
    lines = [
        '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 200 1534',
        '10.0.0.2 - - [10/Oct/2000:13:25:16 -0700] "POST /api HTTP/1.1" 503 12',
        '10.0.0.3 - bob [10/Oct/2000:13:25:17 -0700] "GET /big.iso HTTP/1.1" 500 99999',
        '10.0.0.4 - bob [10/Oct/2000:13:25:18 -0700] "GET /missing HTTP/1.1" 404 210',
        "not an access line",
    ]
    t = now_ms()
    logs.put_log_events(
        logGroupName=group, logStreamName="access", logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(lines)]
    )

    def select(pattern):
        return messages(logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"])

    assert select("[ip, identity, user, timestamp, request, status, bytes]") == lines[:4]
    assert select("[ip, user, ..., status=5*, bytes>1000]") == [lines[2]]
    assert select("[..., status=5*, bytes]") == [lines[1], lines[2]]
    assert select("[ip, ..., status=404 || status=503, bytes]") == [lines[1], lines[3]]
    assert select('[ip, id, user="bob", ...]') == [lines[2], lines[3]]
    assert select('[..., request="GET *", status<400, bytes]') == [lines[0]]
    assert select("[w1, w2, w3, w4]") == [lines[4]]
    with pytest.raises(ClientError) as excinfo:
        select("[ip, status>x]")
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_retention_removes_old_events(logs):
    group = f"/test/{unique_name('r')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    day = 86_400_000
    t = now_ms()
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": t - 3 * day, "message": "three days old"},
            {"timestamp": t - 2 * day, "message": "two days old"},
            {"timestamp": t, "message": "fresh"},
        ],
    )
    with pytest.raises(ClientError) as excinfo:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert error_of(excinfo)[0] == "InvalidParameterException"
    out = aws(
        ["--endpoint-url", logs.meta.endpoint_url, "logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "1"],
        env=client_env_for(logs.meta.endpoint_url),
    )
    assert out.returncode == 0, out.stderr
    assert messages(logs.filter_log_events(logGroupName=group)["events"]) == ["fresh"]
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["retentionInDays"] == 1
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_a_user_without_logs_permissions_is_refused(endpoint, logs):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))
    user = unique_name("logreader")
    iam.create_user(UserName=user)
    group = f"/test/{unique_name('p')}"
    logs.create_log_group(logGroupName=group)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:FilterLogEvents", "logs:DescribeLogGroups"],
                "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}",
            }
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    reader = logs_client(endpoint, creds=creds)
    assert reader.filter_log_events(logGroupName=group)["events"] == []
    with pytest.raises(ClientError) as excinfo:
        reader.delete_log_group(logGroupName=group)
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 400)
    with pytest.raises(ClientError) as excinfo:
        reader.filter_log_events(logGroupName=group + "-other")
    assert error_of(excinfo)[0] == "AccessDeniedException"


def nubo_env(endpoint: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    env.update(client_env_for(endpoint))
    env["NUBO_ENDPOINT"] = endpoint
    return env


def test_nubo_logs_prints_and_follows(lam, make_function, endpoint):
    name = make_function(files={"app.py": PRINTER})["FunctionName"]
    assert invoke(lam, name, {"who": "before"}).status == 200
    env = nubo_env(endpoint)

    def printed():
        out = subprocess.run([str(NUBO), "logs", name, "--since", "5m"], capture_output=True, text=True, env=env, timeout=30)
        if out.returncode != 0:  # no group until the writer's first batch lands
            assert "ResourceNotFoundException" in out.stderr, out.stderr
            return None
        return out.stdout if "hello from before" in out.stdout else None

    text = wait_for(printed)
    assert text and "START RequestId:" in text, text
    filtered = subprocess.run(
        [str(NUBO), "logs", name, "--filter-pattern", "REPORT"], capture_output=True, text=True, env=env, timeout=30
    )
    assert filtered.returncode == 0 and "REPORT RequestId:" in filtered.stdout
    assert "hello from" not in filtered.stdout

    follower = subprocess.Popen(
        [str(NUBO), "logs", name, "--follow", "--since", "1s"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        time.sleep(0.3)  # let the first poll pass: the line must come from a later one
        t0 = time.monotonic()
        assert invoke(lam, name, {"who": "followed"}).status == 200
        lines = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = follower.stdout.readline()
            lines.append(line)
            if "hello from followed" in line:
                break
        assert any("hello from followed" in line for line in lines), lines
        assert time.monotonic() - t0 < 3.0
        assert sum("hello from followed" in line for line in lines) == 1
    finally:
        follower.kill()
        follower.wait()


def test_json_log_format_writes_platform_records_to_the_configured_group(logs, lam, make_function):
    custom = f"/custom/{unique_name('json')}"
    name = make_function(files={"app.py": PRINTER}, LoggingConfig={"LogFormat": "JSON", "LogGroup": custom})[
        "FunctionName"
    ]
    assert invoke(lam, name, {"who": "json"}).status == 200

    def reports():
        try:
            page = logs.filter_log_events(logGroupName=custom, filterPattern='{ $.type = "platform.report" }')
        except ClientError:
            return None
        return page["events"]

    found = wait_for(reports)
    assert found, "no platform.report record"
    record = json.loads(found[0]["message"])
    assert record["record"]["metrics"]["billedDurationMs"] >= 1
    assert record["record"]["metrics"]["memorySizeMB"] == 128
    starts = logs.filter_log_events(logGroupName=custom, filterPattern='{ $.type = "platform.start" }')["events"]
    assert json.loads(starts[0]["message"])["record"]["version"] == "$LATEST"
    # Nothing went to the default group.
    with pytest.raises(ClientError):
        logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")


def test_the_last_lines_and_usage_survive_a_prompt_shutdown(start_server):
    srv = start_server()
    lam = lambda_client_for(srv.endpoint)
    name = unique_name("flushed")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": PRINTER})},
    )
    wait_active(lam, name)
    assert invoke(lam, name, {"who": "last words"}).status == 200
    srv.stop()  # SIGTERM at once: the writer's batch and the meter's counts are written on the way out
    again = start_server.restart(srv)
    events = logs_client(again.endpoint).filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert any("hello from last words" in e["message"] for e in events), events
    with urllib.request.urlopen(f"{again.endpoint}/_nubo/usage", timeout=10) as reply:
        rows = [r for r in json.loads(reply.read())["functions"] if r["function"] == name]
    assert rows and rows[0]["requests"] == 1
