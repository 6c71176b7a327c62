"""Every region and account in one server: Lambda's resources live in the scope (account, region) a
request is signed for, as they do on AWS — same-named functions side by side in two regions, each
with its own ARNs, environments, settings and events."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, credentials_for, ROLE, error_of, lambda_client_for, make_zip, unique_name
from host_files import FUNCTION_SIDE, url_for

WHERE_AM_I = """
import os
MARK = {mark!r}

def handler(event, context):
    return {{"mark": MARK, "region": os.environ["AWS_REGION"], "arn": context.invoked_function_arn}}
"""

RECORDER = FUNCTION_SIDE + """
import json, os

def handler(event, context):
    write_out(os.environ["OUT"], json.dumps({"event": event, "arn": context.invoked_function_arn}) + "\\n")
    return {"ok": True}
"""


def client_in(endpoint: str, region: str):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"max_attempts": 0}, read_timeout=120),
        **credentials_for(endpoint),
    )


def arn(region: str, name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def create(client, name: str, mark: str, **kwargs) -> dict:
    return client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": WHERE_AM_I.format(mark=mark)})},
        **kwargs,
    )


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def test_same_name_in_two_regions_lives_side_by_side(endpoint, lam):
    west = client_in(endpoint, "eu-west-1")
    name = unique_name("scoped")
    try:
        east_config = create(lam, name, "east")
        assert east_config["FunctionArn"] == arn(REGION, name)
        with pytest.raises(ClientError) as e:
            west.get_function(FunctionName=name)
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)

        west_config = create(west, name, "west")
        assert west_config["FunctionArn"] == arn("eu-west-1", name)
        assert west.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn("eu-west-1", name)
        assert west.get_function(FunctionName=arn("eu-west-1", name))["Configuration"]["FunctionName"] == name
        listed = [f["FunctionArn"] for f in west.list_functions(MaxItems=10_000)["Functions"]]
        assert arn("eu-west-1", name) in listed and arn(REGION, name) not in listed

        # Each runs its own code, in an environment of its own region.
        for client, region, mark in ((lam, REGION, "east"), (west, "eu-west-1", "west")):
            result = json.loads(client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
            assert result == {"mark": mark, "region": region, "arn": arn(region, name)}

        # Versions, aliases and settings are the region's too.
        version = west.publish_version(FunctionName=name)
        assert version["FunctionArn"] == arn("eu-west-1", name, "1")
        alias = west.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        assert alias["AliasArn"] == arn("eu-west-1", name, "live")
        settings = west.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=0)
        assert settings["FunctionArn"] == arn("eu-west-1", name, "live")
        assert west.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)[
            "ReservedConcurrentExecutions"
        ] == 5
        assert "Concurrency" not in lam.get_function(FunctionName=name)
        provisioned = west.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        )
        assert provisioned["RequestedProvisionedConcurrentExecutions"] == 1
        listed = west.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
        assert [c["FunctionArn"] for c in listed] == [arn("eu-west-1", name, "1")]
        assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
        with pytest.raises(ClientError) as e:
            lam.get_alias(FunctionName=name, Name="live")
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)

        # Deleting one leaves the other.
        west.delete_function(FunctionName=name)
        assert lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn(REGION, name)
        with pytest.raises(ClientError) as e:
            west.get_function_event_invoke_config(FunctionName=name, Qualifier="live")
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    finally:
        for client in (lam, west):
            try:
                client.delete_function(FunctionName=name)
            except ClientError:
                pass


def test_an_arn_names_its_own_region(endpoint):
    west = client_in(endpoint, "us-west-2")
    with pytest.raises(ClientError) as e:
        west.invoke(FunctionName=arn(REGION, unique_name("elsewhere")), Payload=b"{}")
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"Functions from '{REGION}' are not reachable in this region ('us-west-2')",
    )


def test_events_run_in_their_region(endpoint, tmp_path):
    west = client_in(endpoint, "us-west-2")
    name = unique_name("scoped-async")
    out = tmp_path / "calls.jsonl"
    west.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": RECORDER})},
        Environment={"Variables": {"OUT": url_for(out)}},
    )
    try:
        response = west.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))
        assert response["StatusCode"] == 202
        seen = wait_for(lambda: out.exists() and out.read_text().count("\n") >= 1)
        assert seen, "the event never ran"
        call = json.loads(out.read_text().splitlines()[0])
        assert call == {"event": {"n": 1}, "arn": arn("us-west-2", name)}
    finally:
        west.delete_function(FunctionName=name)


def test_account_settings_count_the_region(endpoint):
    fresh = client_in(endpoint, "ap-southeast-2")
    before = fresh.get_account_settings()["AccountUsage"]["FunctionCount"]
    name = unique_name("counted")
    create(fresh, name, "counted")
    try:
        assert fresh.get_account_settings()["AccountUsage"]["FunctionCount"] == before + 1
    finally:
        fresh.delete_function(FunctionName=name)


def test_scoped_functions_survive_a_restart(start_server, tmp_path):
    srv = start_server(tmp_path / "scopes")
    name = unique_name("persisted")
    create(client_in(srv.endpoint, "eu-central-1"), name, "central")
    srv = start_server.restart(srv)
    central = client_in(srv.endpoint, "eu-central-1")
    assert central.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn("eu-central-1", name)
    with pytest.raises(ClientError) as e:
        lambda_client_for(srv.endpoint).get_function(FunctionName=name)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
