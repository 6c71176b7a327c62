"""Versions, aliases (weighted routing), reserved and provisioned concurrency."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, error_of, function_arn, invoke, lambda_client_for, make_zip, unique_name

CODE = """
import os, time
def handler(event, context):
    if isinstance(event, dict) and event.get("sleep"):
        time.sleep(event["sleep"])
    return {"code": "%s", "version": context.function_version, "arn": context.invoked_function_arn,
            "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
"""


def code(tag: str) -> bytes:
    return make_zip({"app.py": CODE % tag})


@pytest.fixture
def function(lam):
    name = unique_name("ver")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": code("one")}, Timeout=10,
    )
    yield name
    try:
        lam.delete_function(FunctionName=name)
    except ClientError:
        pass


def publish_two(lam, name):
    v1 = lam.publish_version(FunctionName=name, Description="first")
    lam.update_function_code(FunctionName=name, ZipFile=code("two"))
    v2 = lam.publish_version(FunctionName=name)
    return v1, v2


def test_publish_invoke_list_and_delete_versions(lam, function):
    v1 = lam.publish_version(FunctionName=function, Description="first")
    assert v1["Version"] == "1" and v1["Description"] == "first"
    assert v1["FunctionArn"] == function_arn(function) + ":1"
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    # Nothing changed since: the same version comes back.
    assert lam.publish_version(FunctionName=function)["Version"] == "1"

    lam.update_function_code(FunctionName=function, ZipFile=code("two"))
    latest = lam.get_function_configuration(FunctionName=function)
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=function, CodeSha256="not-the-sha")
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        lam.publish_version(FunctionName=function, RevisionId="stale")
    assert error_of(e)[:2] == ("PreconditionFailedException", 412)
    v2 = lam.publish_version(FunctionName=function, CodeSha256=latest["CodeSha256"], RevisionId=latest["RevisionId"])
    assert v2["Version"] == "2" and v2["CodeSha256"] == latest["CodeSha256"]

    one = invoke(lam, function, {}, Qualifier="1")
    two = invoke(lam, f"{function}:2", {})
    head = invoke(lam, function, {})
    assert (one.json["code"], one.executed_version, one.json["version"]) == ("one", "1", "1")
    assert one.json["arn"] == function_arn(function) + ":1"
    assert (two.json["code"], two.executed_version) == ("two", "2")
    assert (head.json["code"], head.executed_version) == ("two", "$LATEST")

    assert lam.get_function(FunctionName=function, Qualifier="1")["Configuration"]["Version"] == "1"
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=function, PaginationConfig={"PageSize": 1})
    assert [v["Version"] for page in pages for v in page["Versions"]] == ["$LATEST", "1", "2"]

    with pytest.raises(ClientError) as e:
        invoke(lam, function, {}, Qualifier="9")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=function, Qualifier="$LATEST")
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)

    lam.delete_function(FunctionName=function, Qualifier="2")
    with pytest.raises(ClientError) as e:
        invoke(lam, function, {}, Qualifier="2")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    # Numbers are never reused.
    lam.update_function_configuration(FunctionName=function, Description="changed")
    assert lam.publish_version(FunctionName=function)["Version"] == "3"


def test_create_and_update_code_with_publish(lam):
    name = unique_name("pub")
    created = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": code("one")}, Publish=True,
    )
    try:
        assert created["Version"] == "1"
        updated = lam.update_function_code(FunctionName=name, ZipFile=code("two"), Publish=True)
        assert updated["Version"] == "2"
        assert invoke(lam, name, {}, Qualifier="2").json["code"] == "two"
    finally:
        lam.delete_function(FunctionName=name)


def test_aliases_and_weighted_routing(lam, lam_unvalidated, function):
    publish_two(lam, function)
    alias = lam.create_alias(FunctionName=function, Name="live", FunctionVersion="1", Description="prod")
    assert alias["AliasArn"] == function_arn(function) + ":live"
    assert (alias["FunctionVersion"], alias["Description"]) == ("1", "prod")
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    result = invoke(lam, function, {}, Qualifier="live")
    assert (result.json["code"], result.executed_version) == ("one", "1")
    assert result.json["arn"] == function_arn(function) + ":live"
    assert lam.get_alias(FunctionName=function, Name="live")["RevisionId"] == alias["RevisionId"]

    # 50/50 between 1 and 2: both run, in roughly equal shares.
    lam.update_alias(
        FunctionName=function, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    seen = Counter(invoke(lam, f"{function}:live", {}).executed_version for _ in range(200))
    assert set(seen) == {"1", "2"}, seen
    assert 60 <= seen["1"] <= 140, seen

    listed = lam.list_aliases(FunctionName=function)["Aliases"]
    assert [(a["Name"], a["RoutingConfig"]["AdditionalVersionWeights"]) for a in listed] == [("live", {"2": 0.5})]
    assert lam.list_aliases(FunctionName=function, FunctionVersion="2")["Aliases"][0]["Name"] == "live"

    # Misuse, each with Lambda's error.
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=function, Name="live", FunctionVersion="1")
    assert error_of(e)[:2] == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as e:
        lam.create_alias(FunctionName=function, Name="ghost", FunctionVersion="7")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        lam_unvalidated.create_alias(
            FunctionName=function, Name="heavy", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}},
        )
    assert error_of(e)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        lam.create_alias(
            FunctionName=function, Name="self", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        lam_unvalidated.create_alias(FunctionName=function, Name="123", FunctionVersion="1")
    assert error_of(e)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName=function, Name="live", FunctionVersion="1", RevisionId="stale")
    assert error_of(e)[:2] == ("PreconditionFailedException", 412)
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=function, Qualifier="2")
    code_, status, message = error_of(e)
    assert (code_, status) == ("ResourceConflictException", 409) and "live" in message

    lam.delete_alias(FunctionName=function, Name="live")
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName=function, Name="live")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    lam.delete_function(FunctionName=function, Qualifier="2")  # no longer referenced


def test_reserved_concurrency_throttles_exactly_the_excess(lam, function):
    assert lam.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions") is None
    # Other tests on the shared server may hold reservations of their own: compare before and after.
    unreserved_before = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=2)["ReservedConcurrentExecutions"] == 2
    assert lam.get_function_concurrency(FunctionName=function)["ReservedConcurrentExecutions"] == 2
    assert lam.get_function(FunctionName=function)["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    limits = lam.get_account_settings()["AccountLimit"]
    assert limits["UnreservedConcurrentExecutions"] == unreserved_before - 2

    n, k = 2, 2
    barrier = threading.Barrier(n + k)

    def call(_):
        barrier.wait()
        try:
            return invoke(lam, function, {"sleep": 1.5})
        except ClientError as e:
            return e

    with ThreadPoolExecutor(n + k) as pool:
        outcomes = list(pool.map(call, range(n + k)))
    throttled = [o for o in outcomes if isinstance(o, ClientError)]
    assert len(throttled) == k, outcomes
    for t in throttled:
        assert error_of_response(t) == ("TooManyRequestsException", 429)
        assert t.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"

    # Zero disables the function; deleting the setting restores it.
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        invoke(lam, function, {})
    assert error_of(e)[:2] == ("TooManyRequestsException", 429)
    lam.delete_function_concurrency(FunctionName=function)
    assert invoke(lam, function, {}).function_error is None

    # The unreserved pool keeps its minimum.
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=limits["ConcurrentExecutions"])
    code_, status, message = error_of(e)
    assert (code_, status) == ("InvalidParameterValueException", 400) and "UnreservedConcurrentExecution" in message


def error_of_response(error: ClientError):
    return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]


def test_provisioned_concurrency(lam, function):
    publish_two(lam, function)
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=function, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName=function, Qualifier="1")
    assert error_of(e)[:2] == ("ProvisionedConcurrencyConfigNotFoundException", 404)

    put = lam.put_provisioned_concurrency_config(FunctionName=function, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = lam.get_provisioned_concurrency_config(FunctionName=function, Qualifier="1")
        if got["Status"] == "READY":
            break
        time.sleep(0.1)
    assert got["Status"] == "READY" and got["AvailableProvisionedConcurrentExecutions"] == 2, got

    # Served by an environment initialized ahead: no Init Duration, and it knows how it started.
    first = invoke(lam, function, {}, Qualifier="1", log=True)
    assert first.json["init"] == "provisioned-concurrency"
    assert "REPORT RequestId" in first.log and "Init Duration" not in first.log, first.log
    # Through the alias that points at version 1 too.
    assert invoke(lam, function, {}, Qualifier="live").json["init"] == "provisioned-concurrency"

    lam.put_provisioned_concurrency_config(FunctionName=function, Qualifier="live", ProvisionedConcurrentExecutions=1)
    listed = lam.list_provisioned_concurrency_configs(FunctionName=function)["ProvisionedConcurrencyConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == [function_arn(function) + ":1", function_arn(function) + ":live"]

    lam.delete_provisioned_concurrency_config(FunctionName=function, Qualifier="1")
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName=function, Qualifier="1")
    assert error_of(e)[:2] == ("ProvisionedConcurrencyConfigNotFoundException", 404)


def test_versions_aliases_and_settings_survive_restart(start_server, tmp_path):
    srv = start_server(tmp_path / "restart")
    lam = lambda_client_for(srv.endpoint)
    name = unique_name("keep")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code("one")}
    )
    publish_two(lam, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)

    restarted = start_server.restart(srv)
    lam = lambda_client_for(restarted.endpoint)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1", "2"]
    assert invoke(lam, name, {}, Qualifier="live").json["code"] == "two"
    assert invoke(lam, name, {}, Qualifier="1").json["code"] == "one"
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")["RequestedProvisionedConcurrentExecutions"] == 1
    # The next publish continues the numbering.
    lam.update_function_configuration(FunctionName=name, Description="later")
    assert lam.publish_version(FunctionName=name)["Version"] == "3"
