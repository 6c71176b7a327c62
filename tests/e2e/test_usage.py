"""Metering: a hand count of requests and GB-seconds (from each invocation's own REPORT line)
matches `/_nubo/usage` and `nubo usage`, errors are counted, prices are configurable, and the
counts survive a restart (flushed at shutdown)."""

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

from aws_cli import aws
from gateway_helpers import request
from conftest import NUBO, REGION, ROLE, client_env_for, credentials_for, invoke, lambda_client_for, make_zip, unique_name, wait_active

FAILS_ON_DEMAND = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"ok": True}
"""


def usage(endpoint: str, since: int | None = None) -> dict:
    url = f"{endpoint}/_nubo/usage" + (f"?since={since}" if since is not None else "")
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


def row_of(report: dict, name: str) -> dict:
    rows = [r for r in report["functions"] if r["function"] == name]
    assert len(rows) == 1, report
    return rows[0]


def billed_ms(log: str) -> int:
    found = re.findall(r"Billed Duration: (\d+) ms", log)
    assert len(found) == 1, log
    return int(found[0])


def hand_count(lam, name: str, events: list[dict]) -> tuple[int, int]:
    """Invokes once per event; returns (billed ms summed from the REPORT lines, function errors)."""
    total, errors = 0, 0
    for event in events:
        result = invoke(lam, name, event, log=True)
        assert result.status == 200, result
        total += billed_ms(result.log)
        errors += result.function_error is not None
    return total, errors


def create(lam, memory: int, architecture: str = "x86_64") -> str:
    name = unique_name("metered")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        MemorySize=memory,
        Architectures=[architecture],
        Code={"ZipFile": make_zip({"app.py": FAILS_ON_DEMAND})},
    )
    wait_active(lam, name)
    return name


def test_usage_matches_a_hand_count(lam, endpoint):
    name = create(lam, memory=256)
    billed, errors = hand_count(lam, name, [{}, {}, {"fail": True}, {}, {}])
    assert errors == 1
    row = row_of(usage(endpoint), name)
    assert (row["requests"], row["errors"], row["billedMs"]) == (5, 1, billed)
    gb_seconds = billed / 1000 * 256 / 1024
    assert row["gbSeconds"] == pytest.approx(gb_seconds, rel=1e-12)
    assert row["version"] == "$LATEST" and row["architecture"] == "x86_64"
    assert row["cost"] == pytest.approx(5 * 0.20 / 1e6 + gb_seconds * 0.0000166667, rel=1e-9)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    env.update(client_env_for(endpoint))
    env["NUBO_ENDPOINT"] = endpoint
    out = subprocess.run([str(NUBO), "usage", "--since", "1h"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith(name))
    assert line.split()[3:6] == ["5", "1", str(billed)], line
    assert out.stdout.splitlines()[-1].startswith("TOTAL")


def test_prices_are_configurable_and_usage_survives_a_restart(start_server, tmp_path):
    srv = start_server(
        extra_args=["--price-per-million-requests", "1000000", "--price-per-gb-second-arm64", "2"]
    )
    lam = lambda_client_for(srv.endpoint)
    name = create(lam, memory=1024, architecture="arm64")
    billed, _ = hand_count(lam, name, [{}, {}, {}])
    row = row_of(usage(srv.endpoint), name)
    assert (row["requests"], row["billedMs"], row["architecture"]) == (3, billed, "arm64")
    assert row["cost"] == pytest.approx(3 * 1.0 + billed / 1000 * 2, rel=1e-9)

    again = start_server.restart(srv)
    row = row_of(usage(again.endpoint), name)
    assert (row["requests"], row["billedMs"]) == (3, billed)
    # Usage from two hours from now on holds nothing yet.
    assert [r for r in usage(again.endpoint, since=int(time.time() * 1000) + 7_200_000)["functions"]] == []


def scrape(endpoint: str) -> str:
    with urllib.request.urlopen(f"{endpoint}/_nubo/metrics", timeout=10) as reply:
        return reply.read().decode()


def sample(text: str, metric: str, name: str) -> float:
    labels = f'{{region="us-east-1",function="{name}",version="$LATEST"}}'
    for line in text.splitlines():
        if line.startswith(metric + labels + " "):
            return float(line.split()[-1])
    return 0.0


def test_function_metrics_move_with_traffic(lam, endpoint):
    name = create(lam, memory=128)
    hand_count(lam, name, [{}, {"fail": True}, {}])
    text = scrape(endpoint)
    assert sample(text, "nubo_function_invocations_total", name) == 3
    assert sample(text, "nubo_function_errors_total", name) == 1
    assert sample(text, "nubo_function_cold_starts_total", name) == 1
    assert sample(text, "nubo_function_duration_seconds_count", name) == 3
    assert sample(text, "nubo_function_duration_seconds_sum", name) > 0

    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert sample(scrape(endpoint), "nubo_function_throttles_total", name) == 1


def test_cloudwatch_answers_for_aws_lambda(lam, endpoint):
    cw = boto3.client(
        "cloudwatch", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}),
        **credentials_for(endpoint),
    )
    name = create(lam, memory=128)
    hand_count(lam, name, [{}, {"fail": True}, {}, {}])
    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": name}])["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == ["Duration", "Errors", "Invocations", "Throttles"]
    now = time.time()
    stats = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - 600, EndTime=now + 60, Period=3600, Statistics=["Sum"],
    )
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 4
    errors = cw.get_metric_data(
        MetricDataQueries=[{
            "Id": "e",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                           "Dimensions": [{"Name": "FunctionName", "Value": name}]},
                "Period": 60, "Stat": "Sum",
            },
        }],
        StartTime=now - 600, EndTime=now + 60,
    )["MetricDataResults"][0]
    assert sum(errors["Values"]) == 1 and errors["StatusCode"] == "Complete"
    duration = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - 600, EndTime=now + 60, Period=3600, Statistics=["SampleCount", "Maximum"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in duration) == 4 and all(p["Unit"] == "Milliseconds" for p in duration)

    out = aws(
        ["--endpoint-url", endpoint, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda",
         "--metric-name", "Invocations", "--dimensions", f"Name=FunctionName,Value={name}",
         "--start-time", str(int(now - 600)), "--end-time", str(int(now + 60)), "--period", "3600",
         "--statistics", "Sum"],
        env=client_env_for(endpoint),
    )
    assert out.returncode == 0, out.stderr
    assert sum(p["Sum"] for p in json.loads(out.stdout)["Datapoints"]) == 4


def test_api_metrics_count_requests_by_route_and_status(lam, endpoint):
    gw = boto3.client(
        "apigatewayv2", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}),
        **credentials_for(endpoint),
    )
    name = create(lam, memory=128)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api_id = gw.create_api(Name="metered", ProtocolType="HTTP", Target=arn)["ApiId"]
    for _ in range(3):
        assert request(endpoint, "GET", f"/_api/{api_id}/anything").status == 200
    text = scrape(endpoint)
    base = f'api="{api_id}",stage="$default",route="$default"'
    assert f'nubo_api_requests_total{{{base},status="2xx"}} 3' in text, text[-3000:]
    assert f"nubo_api_latency_seconds_count{{{base}}} 3" in text


FAILS_ON_PATH = """
def handler(event, context):
    if event.get("rawPath", "").endswith("/fail"):
        raise RuntimeError("asked to fail")
    return {"statusCode": 200, "body": "ok"}
"""


def test_cloudwatch_answers_for_aws_api_gateway(lam, endpoint):
    cw = boto3.client(
        "cloudwatch", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}),
        **credentials_for(endpoint),
    )
    gw = boto3.client(
        "apigatewayv2", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}),
        **credentials_for(endpoint),
    )
    name = unique_name("gwmetrics")
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": FAILS_ON_PATH})},
    )["FunctionArn"]
    wait_active(lam, name)
    api_name = unique_name("cw-api")
    api_id = gw.create_api(Name=api_name, ProtocolType="HTTP")["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    for key in ("GET /ok", "GET /fail"):
        gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    statuses = [request(endpoint, "GET", f"/_api/{api_id}{path}").status
                for path in ("/ok", "/ok", "/ok", "/missing", "/fail")]
    assert statuses == [200, 200, 200, 404, 500]

    by_id = [{"Name": "ApiId", "Value": api_id}, {"Name": "Stage", "Value": "$default"}]
    listed = cw.list_metrics(Namespace="AWS/ApiGateway", Dimensions=[{"Name": "ApiId", "Value": api_id}])["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == ["4XXError", "5XXError", "Count", "IntegrationLatency", "Latency"]
    assert all(m["Dimensions"] == by_id for m in listed)
    now = time.time()

    def stat(metric: str, statistic: str, dimensions=by_id) -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/ApiGateway", MetricName=metric, Dimensions=dimensions,
            StartTime=now - 600, EndTime=now + 60, Period=3600, Statistics=[statistic],
        )["Datapoints"]
        return sum(p[statistic] for p in points)

    assert stat("Count", "Sum") == 5
    assert stat("4XXError", "Sum") == 1
    assert stat("5XXError", "Sum") == 1
    assert stat("Latency", "SampleCount") == 5
    # The 404 never reached the integration.
    assert stat("IntegrationLatency", "SampleCount") == 4
    assert stat("Latency", "Maximum") >= stat("IntegrationLatency", "Maximum") > 0
    # REST APIs' dimension (the API's name) selects the same stage.
    by_name = [{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": "$default"}]
    data = cw.get_metric_data(
        MetricDataQueries=[{"Id": "c", "MetricStat": {
            "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "Count", "Dimensions": by_name},
            "Period": 60, "Stat": "Sum"}}],
        StartTime=now - 600, EndTime=now + 60,
    )["MetricDataResults"][0]
    assert sum(data["Values"]) == 5
    # A dimension this namespace does not have selects nothing.
    assert stat("Count", "Sum", [{"Name": "Resource", "Value": "/ok"}]) == 0

    # Metered per API and stage (no API key here) in /_nubo/usage and `nubo usage --apis`.
    rows = [r for r in usage(endpoint)["apis"] if r["apiId"] == api_id]
    assert rows == [{"account": "000000000000", "region": REGION, "apiId": api_id, "stage": "$default",
                     "apiKey": "-", "requests": 5, "clientErrors": 1, "serverErrors": 1}], rows
    env = dict(os.environ)
    env.update(client_env_for(endpoint))
    env["NUBO_ENDPOINT"] = endpoint
    out = subprocess.run([str(NUBO), "usage", "--apis"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith(api_id))
    assert line.split()[1:] == ["$default", "-", "5", "1", "1"], line
    gw.delete_api(ApiId=api_id)
    lam.delete_function(FunctionName=name)
