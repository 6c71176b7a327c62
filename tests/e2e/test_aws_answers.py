"""Nubo answers as AWS Lambda does: error bodies, validation, the state machine and shapes.

Each test asserts AWS's exact words or shape (recorded against real AWS, or the botocore model's
constraints as Lambda reports them). Creates and updates are waited for with boto3's waiters, as
deploy tools do; the state-machine tests use a server whose changes settle slowly enough to be seen
(`--settle-delay-ms`) and a client that does not wait on its own.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT,
    REGION,
    ROLE,
    credentials_for,
    error_of,
    function_arn,
    invoke,
    make_zip,
    observe_states_config,
    unique_name,
    wait_active,
    wait_updated,
)

import boto3

# --------------------------------------------------------------------------------------------------
# Error bodies
# --------------------------------------------------------------------------------------------------


def test_error_body_says_type_and_message(lam):
    """Lambda's error body is {"Type": "User", "Message": …} beside `x-amzn-ErrorType`."""
    name = unique_name("missing")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    response = e.value.response
    assert response["Type"] == "User"
    assert response["Message"] == f"Function not found: {function_arn(name)}"
    assert response["Error"]["Message"] == response["Message"]
    headers = {k.lower(): v for k, v in response["ResponseMetadata"]["HTTPHeaders"].items()}
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"


def test_not_found_words(lam, make_function):
    """Function URL configs and event-invoke configs have their own not-found texts."""
    name = make_function()["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=name)
    assert error_of(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"The function {function_arn(name)}:$LATEST doesn't have an EventInvokeConfig",
    )
    with pytest.raises(ClientError) as e:
        lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_another_regions_arn_is_not_reachable(lam):
    arn = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:anything"
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=arn)
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"Functions from 'eu-west-1' are not reachable in this region ('{REGION}')",
    )


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------

NAMESPACED_PATTERN = (
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
    "(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
FUNCTION_NAME_PATTERN = (
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
    "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
)


def test_a_long_name_is_not_found_on_get_and_invalid_on_create(lam_unvalidated):
    long = "x" * 65
    with pytest.raises(ClientError) as e:
        lam_unvalidated.get_function(FunctionName=long)
    assert error_of(e) == ("ResourceNotFoundException", 404, f"Function not found: {function_arn(long)}")
    with pytest.raises(ClientError) as e:
        lam_unvalidated.create_function(
            FunctionName=long, Runtime="python3.12", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": "def handler(e, c): return e"})},
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        f"1 validation error detected: Value '{long}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64",
    )


def test_every_broken_constraint_is_counted(lam_unvalidated):
    bad = "x" * 256 + "!"
    bodies = []

    def keep_body(response_dict, **kwargs):
        bodies.append(json.loads(response_dict["body"]))

    lam_unvalidated.meta.events.register("before-parse.lambda.GetFunction", keep_body)
    try:
        with pytest.raises(ClientError) as e:
            lam_unvalidated.get_function(FunctionName=bad)
    finally:
        lam_unvalidated.meta.events.unregister("before-parse.lambda.GetFunction", keep_body)
    # Refused before authorization, in Lambda's words too: {"Type", "Message"}.
    assert bodies == [{"Type": "User", "Message": error_of(e)[2]}]
    assert error_of(e) == (
        "ValidationException",
        400,
        "2 validation errors detected: "
        f"Value '{bad}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 256; "
        f"Value '{bad}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {NAMESPACED_PATTERN}",
    )


def test_each_operation_checks_its_own_shape(lam_unvalidated, make_function):
    name = make_function()["FunctionName"]
    # GetFunction takes a NamespacedFunctionName: a dot fits the model and names nothing.
    with pytest.raises(ClientError) as e:
        lam_unvalidated.get_function(FunctionName="my.fn")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    # PublishVersion takes a FunctionName: no dots.
    with pytest.raises(ClientError) as e:
        lam_unvalidated.publish_version(FunctionName="my.fn")
    assert error_of(e) == (
        "ValidationException",
        400,
        "1 validation error detected: Value 'my.fn' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
    )
    # Function URL configs point at aliases: a version number breaks FunctionUrlQualifier.
    with pytest.raises(ClientError) as e:
        lam_unvalidated.get_function_url_config(FunctionName=name, Qualifier="1")
    assert error_of(e) == (
        "ValidationException",
        400,
        "1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)",
    )


def test_latest_in_lower_case_or_published_is_not_found(lam_unvalidated, make_function):
    name = make_function()["FunctionName"]
    for params, qualifier in (
        ({"FunctionName": f"{name}:$latest"}, "$latest"),
        ({"FunctionName": name, "Qualifier": "$latest"}, "$latest"),
        ({"FunctionName": name, "Qualifier": "$LATEST.PUBLISHED"}, "$LATEST.PUBLISHED"),
    ):
        with pytest.raises(ClientError) as e:
            lam_unvalidated.get_function(**params)
        assert error_of(e) == (
            "ResourceNotFoundException",
            404,
            f"Function not found: {function_arn(name)}:{qualifier}",
        ), params


def test_create_alias_counts_every_member(lam_unvalidated, make_function):
    name = make_function()["FunctionName"]
    long = "a" * 129
    with pytest.raises(ClientError) as e:
        lam_unvalidated.create_alias(FunctionName=name, Name=long, FunctionVersion="v1")
    assert error_of(e) == (
        "ValidationException",
        400,
        "2 validation errors detected: "
        f"Value '{long}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 128; "
        "Value 'v1' at 'functionVersion' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (\\$LATEST(\\.PUBLISHED)?|[0-9]+)",
    )
    # `$LATEST.PUBLISHED` fits the model and names no version here.
    with pytest.raises(ClientError) as e:
        lam_unvalidated.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST.PUBLISHED")
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {function_arn(name)}:$LATEST.PUBLISHED",
    )


def test_tagging_names_its_member_resource(lam_unvalidated):
    with pytest.raises(ClientError) as e:
        lam_unvalidated.list_tags(Resource="not-an-arn")
    code, status, message = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value 'not-an-arn' at 'resource' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:"
    ), message


# --------------------------------------------------------------------------------------------------
# The state machine
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """A server whose changes stay Pending / InProgress for 1.5 s, so they can be seen."""
    from conftest import NuboServer

    srv = NuboServer(tmp_path_factory.mktemp("slow") / "data", ["--settle-delay-ms", "1500"]).start()
    yield srv
    srv.stop()


@pytest.fixture
def observer(slow_server):
    """A Lambda client that does not wait after changes."""
    return boto3.client(
        "lambda",
        endpoint_url=slow_server.endpoint,
        region_name=REGION,
        config=observe_states_config(retries={"max_attempts": 0}, read_timeout=60),
        **credentials_for(slow_server.endpoint),
    )


ECHO = make_zip({"app.py": "def handler(event, context):\n    return event\n"})


def test_create_is_pending_then_active(observer):
    name = unique_name("states")
    created = observer.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": ECHO}
    )
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert "LastUpdateStatus" not in created
    pending = "The operation cannot be performed at this time. The function is currently in the following state: Pending"
    with pytest.raises(ClientError) as e:
        observer.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(e) == ("ResourceConflictException", 409, pending)
    with pytest.raises(ClientError) as e:
        observer.update_function_configuration(FunctionName=name, Timeout=5)
    assert error_of(e) == ("ResourceConflictException", 409, pending)
    with pytest.raises(ClientError) as e:
        observer.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    assert error_of(e) == ("ResourceConflictException", 409, pending)

    wait_active(observer, name)
    active = observer.get_function(FunctionName=name)["Configuration"]
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in active
    assert active["RevisionId"] != created["RevisionId"]
    assert invoke(observer, name, {"hi": 1}).json == {"hi": 1}
    observer.get_waiter("function_exists").wait(FunctionName=name)
    observer.delete_function(FunctionName=name)


def test_update_is_in_progress_then_successful(observer):
    name = unique_name("updates")
    observer.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": ECHO}
    )
    wait_active(observer, name)
    before = observer.get_function_configuration(FunctionName=name)

    updated = observer.update_function_code(FunctionName=name, ZipFile=ECHO)
    assert (
        updated["State"],
        updated["LastUpdateStatus"],
        updated["LastUpdateStatusReason"],
        updated["LastUpdateStatusReasonCode"],
    ) == ("Active", "InProgress", "The function is being created.", "Creating")
    assert updated["RevisionId"] != before["RevisionId"]
    in_progress = (
        "The operation cannot be performed at this time. "
        f"An update is in progress for resource: {function_arn(name)}"
    )
    with pytest.raises(ClientError) as e:
        observer.update_function_configuration(FunctionName=name, Description="second")
    assert error_of(e) == ("ResourceConflictException", 409, in_progress)
    with pytest.raises(ClientError) as e:
        observer.publish_version(FunctionName=name)
    assert error_of(e) == ("ResourceConflictException", 409, in_progress)

    wait_updated(observer, name)
    settled = observer.get_function_configuration(FunctionName=name)
    assert settled["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in settled
    assert settled["RevisionId"] not in (before["RevisionId"], updated["RevisionId"])
    # Now the second update goes through, and a version can be published.
    observer.update_function_configuration(FunctionName=name, Description="second")
    wait_updated(observer, name)
    assert observer.publish_version(FunctionName=name)["Version"] == "1"
    observer.delete_function(FunctionName=name)


def test_settling_keeps_warm_environments(observer):
    """An environment started while an update is in progress keeps serving after it settles."""
    name = unique_name("warm")
    observer.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": ECHO}
    )
    wait_active(observer, name)
    observer.update_function_configuration(FunctionName=name, Description="changed")
    first = invoke(observer, name, {"n": 1}, log=True)
    assert "Init Duration" in first.log, first
    wait_updated(observer, name)
    second = invoke(observer, name, {"n": 2}, log=True)
    assert second.json == {"n": 2}
    assert "Init Duration" not in second.log, second
    observer.delete_function(FunctionName=name)


# --------------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------------


def test_an_empty_environment_is_echoed(lam, make_function):
    given = make_function(Environment={})
    assert given["Environment"] == {"Variables": {}}
    assert lam.get_function_configuration(FunctionName=given["FunctionName"])["Environment"] == {"Variables": {}}
    assert "Environment" not in make_function()


def test_json_logging_fills_levels_and_keeps_the_group(lam, make_function):
    created = make_function(LoggingConfig={"LogFormat": "JSON"})
    assert created["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{created['FunctionName']}",
    }
    custom = make_function(LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/group", "SystemLogLevel": "WARN"})
    assert custom["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "WARN",
        "LogGroup": "/custom/group",
    }
    text = lam.update_function_configuration(FunctionName=custom["FunctionName"], LoggingConfig={"LogFormat": "Text"})
    assert text["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/custom/group"}


def test_function_arn_is_qualified_as_aws_returns_it(lam, make_function):
    name = make_function()["FunctionName"]
    published = lam.update_function_code(FunctionName=name, ZipFile=ECHO, Publish=True)
    assert (published["Version"], published["FunctionArn"]) == ("1", f"{function_arn(name)}:1")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    by_alias = lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert (by_alias["Version"], by_alias["FunctionArn"]) == ("1", f"{function_arn(name)}:live")
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == function_arn(name)


def test_deleting_a_missing_version_is_a_no_op(lam, make_function):
    name = make_function()["FunctionName"]
    response = lam.delete_function(FunctionName=name, Qualifier="99")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_environment_over_4_kb_is_refused(lam, make_function):
    variables = {"BIG": "x" * 4090}
    with pytest.raises(ClientError) as e:
        make_function(Environment={"Variables": variables})
    measured = json.dumps(variables, separators=(",", ":"))
    assert error_of(e) == (
        "InvalidParameterValueException",
        400,
        "Lambda was unable to configure your environment variables because the environment variables you have "
        f"provided exceeded the 4KB limit. String measured: {measured}",
    )
    # Exactly 4 KB as Lambda measures it (the JSON, braces and quotes included) is accepted.
    exact = {"BIG": "x" * (4096 - len('{"BIG":""}'))}
    assert make_function(Environment={"Variables": exact})["Environment"]["Variables"] == exact


def test_more_than_50_tags_are_refused(lam, make_function):
    refused = ("InvalidParameterValueException", 400, "Number of tags exceeds resource tag limit.")
    with pytest.raises(ClientError) as e:
        make_function(Tags={f"k{i}": "v" for i in range(51)})
    assert error_of(e) == refused
    name = make_function(Tags={f"k{i}": "v" for i in range(50)})["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.tag_resource(Resource=function_arn(name), Tags={"one-more": "v"})
    assert error_of(e) == refused


SIZED = """
def handler(event, context):
    return "x" * (event["size"] - 2)
"""


def test_the_response_limit_is_6291556_bytes(lam, make_function):
    name = make_function({"app.py": SIZED}, MemorySize=512)["FunctionName"]
    exact = invoke(lam, name, {"size": 6_291_556})
    assert exact.function_error is None, exact
    assert len(exact.body) == 6_291_556
    over = invoke(lam, name, {"size": 6_291_557})
    assert over.function_error == "Unhandled"
    assert over.json == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_provisioned_concurrency_counts_against_the_reservation(lam, make_function):
    name = make_function()["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
