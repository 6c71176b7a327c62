"""The Lambda control plane through boto3: CRUD, listing, tags, account settings and validation errors."""

import base64
import hashlib
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT,
    PY_ECHO,
    REGION,
    ROLE,
    error_of,
    function_arn,
    invoke,
    make_zip,
    unique_name,
)


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_create_get_and_configuration(lam, make_function):
    code = make_zip({"app.py": PY_ECHO})
    name = unique_name("crud")
    created = make_function(
        name=name,
        zip_bytes=code,
        Description="first",
        MemorySize=256,
        Timeout=10,
        Environment={"Variables": {"GREETING": "hi"}},
        Tags={"team": "nubo"},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == function_arn(name)
    assert created["Runtime"] == "python3.12"
    assert created["Handler"] == "app.handler"
    assert created["Role"] == ROLE
    assert created["MemorySize"] == 256
    assert created["Timeout"] == 10
    assert created["Description"] == "first"
    assert created["Environment"]["Variables"] == {"GREETING": "hi"}
    assert created["CodeSize"] == len(code)
    assert created["CodeSha256"] == b64sha256(code)
    assert created["Version"] == "$LATEST"
    assert created["PackageType"] == "Zip"
    assert created["RevisionId"]

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["FunctionName"] == name
    assert got["Configuration"]["CodeSha256"] == b64sha256(code)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Tags"] == {"team": "nubo"}
    assert got["Code"]["RepositoryType"] == "S3"
    # Code.Location really serves the zip.
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as reply:
        assert reply.status == 200
        assert reply.read() == code

    config = lam.get_function_configuration(FunctionName=name)
    assert config["FunctionArn"] == function_arn(name)
    assert config["MemorySize"] == 256
    # Pending → Active issued a new revision; nothing changed since.
    assert config["RevisionId"] == got["Configuration"]["RevisionId"] != created["RevisionId"]

    # The function_active waiter polls State and must succeed at once.
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})


def test_list_functions_paginated(lam, make_function):
    names = {make_function(name=unique_name("list"))["FunctionName"] for _ in range(5)}
    paginator = lam.get_paginator("list_functions")
    seen = []
    pages = 0
    for page in paginator.paginate(PaginationConfig={"PageSize": 2}):
        pages += 1
        assert len(page["Functions"]) <= 2
        seen.extend(f["FunctionName"] for f in page["Functions"])
    assert names <= set(seen), f"missing from the listing: {names - set(seen)}"
    assert len(seen) == len(set(seen)), "a function was listed twice across pages"
    assert pages >= 3

    # Explicit MaxItems / Marker round trip.
    first = lam.list_functions(MaxItems=2)
    assert len(first["Functions"]) == 2
    assert first.get("NextMarker")
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert {f["FunctionName"] for f in first["Functions"]}.isdisjoint(
        f["FunctionName"] for f in second["Functions"]
    )


def test_update_code_changes_sha(lam, make_function):
    first = make_function(files={"app.py": PY_ECHO})
    name = first["FunctionName"]
    new_code = make_zip({"app.py": PY_ECHO + "\n# v2\n"})
    updated = lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert updated["CodeSha256"] == b64sha256(new_code)
    assert updated["CodeSha256"] != first["CodeSha256"]
    assert updated["CodeSize"] == len(new_code)
    assert updated["RevisionId"] != first["RevisionId"]
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == b64sha256(new_code)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})


def test_update_configuration(lam, make_function):
    first = make_function()
    name = first["FunctionName"]
    updated = lam.update_function_configuration(
        FunctionName=name,
        MemorySize=512,
        Timeout=30,
        Description="second",
        Environment={"Variables": {"A_VAR": "1", "B_VAR": "two"}},
    )
    assert updated["MemorySize"] == 512
    assert updated["Timeout"] == 30
    assert updated["Description"] == "second"
    assert updated["Environment"]["Variables"] == {"A_VAR": "1", "B_VAR": "two"}
    assert updated["RevisionId"] != first["RevisionId"]
    assert updated["CodeSha256"] == first["CodeSha256"]

    config = lam.get_function_configuration(FunctionName=name)
    assert (config["MemorySize"], config["Timeout"], config["Description"]) == (512, 30, "second")
    assert config["Environment"]["Variables"] == {"A_VAR": "1", "B_VAR": "two"}


def test_delete_then_get_is_404(lam, make_function):
    name = make_function()["FunctionName"]
    deleted = lam.delete_function(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    code, status, message = error_of(e)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert name in message
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_tags(lam, make_function):
    arn = make_function(Tags={"keep": "yes"})["FunctionArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"keep": "yes"}
    tagged = lam.tag_resource(Resource=arn, Tags={"env": "test", "owner": "e2e"})
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"keep": "yes", "env": "test", "owner": "e2e"}
    untagged = lam.untag_resource(Resource=arn, TagKeys=["env", "keep"])
    assert untagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"owner": "e2e"}
    with pytest.raises(ClientError) as e:
        lam.list_tags(Resource=function_arn(unique_name("no-such")))
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_account_settings(lam, make_function):
    make_function()
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["CodeSizeZipped"] == 50 * 1024 * 1024
    assert settings["AccountUsage"]["FunctionCount"] >= 1
    assert settings["AccountUsage"]["TotalCodeSize"] > 0


def test_partial_and_full_arn(lam, make_function):
    name = make_function()["FunctionName"]
    for ref in (name, f"{ACCOUNT}:function:{name}", function_arn(name)):
        assert lam.get_function(FunctionName=ref)["Configuration"]["FunctionName"] == name
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == name
    # An ARN in another region or account names a function that does not exist here.
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_partial_and_full_arn_invoke(lam, make_function, rust_zip):
    name = make_function(runtime="provided.al2023", handler="bootstrap", zip_bytes=rust_zip)["FunctionName"]
    for ref in (name, f"{ACCOUNT}:function:{name}", function_arn(name), f"{function_arn(name)}:$LATEST"):
        result = invoke(lam, ref, {"ref": ref})
        assert result.status == 200, result
        assert result.function_error is None, result
        assert result.json["echo"] == {"ref": ref}
    result = invoke(lam, name, {"q": 1}, Qualifier="$LATEST")
    assert result.executed_version == "$LATEST"


# --------------------------------------------------------------------------------------------------
# Validation errors
# --------------------------------------------------------------------------------------------------


def _create_error(client, **overrides):
    params = dict(
        FunctionName=unique_name("bad"),
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": PY_ECHO})},
    )
    params.update(overrides)
    with pytest.raises(ClientError) as e:
        client.create_function(**params)
    return error_of(e)


def test_unknown_runtime_is_validation_error(lam):
    # lambda-control-api.md: unknown runtime → ValidationException (400), as real AWS does.
    code, status, message = _create_error(lam, Runtime="python9.99")
    assert (code, status) == ("ValidationException", 400)
    assert "runtime" in message


def test_deprecated_runtime_is_invalid_parameter(lam):
    code, status, message = _create_error(lam, Runtime="python2.7")
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "python2.7" in message


@pytest.mark.parametrize(
    "member,value",
    [("MemorySize", 127), ("MemorySize", 10241), ("Timeout", 0), ("Timeout", 901)],
)
def test_out_of_range_members(lam_unvalidated, member, value):
    # botocore validates the lower bounds client-side; with that off the server must refuse too.
    code, status, message = _create_error(lam_unvalidated, **{member: value})
    assert (code, status) == ("ValidationException", 400), message
    assert str(value) in message


def test_boundary_values_accepted(lam, make_function):
    config = make_function(MemorySize=10240, Timeout=900)
    assert (config["MemorySize"], config["Timeout"]) == (10240, 900)
    config = make_function(MemorySize=128, Timeout=1)
    assert (config["MemorySize"], config["Timeout"]) == (128, 1)


def test_update_configuration_out_of_range(lam_unvalidated, make_function):
    name = make_function()["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam_unvalidated.update_function_configuration(FunctionName=name, MemorySize=10241)
    assert error_of(e)[:2] == ("ValidationException", 400)
    assert lam_unvalidated.get_function_configuration(FunctionName=name)["MemorySize"] == 128


def test_invalid_zip(lam):
    code, status, _ = _create_error(lam, Code={"ZipFile": b"this is not a zip file"})
    assert (code, status) == ("InvalidParameterValueException", 400)


def test_invalid_zip_on_update(lam, make_function):
    name = make_function()["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName=name, ZipFile=b"PK\x03\x04 truncated")
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)


def test_duplicate_create_conflicts(lam, make_function):
    name = make_function()["FunctionName"]
    code, status, message = _create_error(lam, FunctionName=name)
    assert (code, status) == ("ResourceConflictException", 409)
    assert name in message


def test_environment_over_4kb(lam):
    variables = {"BIG_ONE": "x" * 3000, "BIG_TWO": "y" * 1200}
    code, status, message = _create_error(lam, Environment={"Variables": variables})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "4KB" in message


def test_environment_exactly_4kb_accepted(make_function):
    # Lambda measures the variables as JSON: {"KEY":"vvv…"} of exactly 4096 bytes.
    value = "v" * (4096 - len('{"KEY":""}'))
    config = make_function(Environment={"Variables": {"KEY": value}})
    assert config["Environment"]["Variables"]["KEY"] == value


def test_reserved_environment_key(lam):
    code, status, message = _create_error(lam, Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "AWS_REGION" in message


def test_get_missing_function(lam):
    name = unique_name("missing")
    for call in (lam.get_function, lam.get_function_configuration):
        with pytest.raises(ClientError) as e:
            call(FunctionName=name)
        code, status, message = error_of(e)
        assert (code, status) == ("ResourceNotFoundException", 404)
        assert f"function:{name}" in message
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_bad_function_name(lam_unvalidated):
    with pytest.raises(ClientError) as e:
        lam_unvalidated.get_function(FunctionName="not a valid name!")
    assert error_of(e)[:2] == ("ValidationException", 400)


def test_error_wire_shape(endpoint, lam):
    """Errors are rest-json: x-amzn-ErrorType header, {"Type","message"} body and a request id."""
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=unique_name("missing"))
    meta = e.value.response["ResponseMetadata"]
    headers = {k.lower(): v for k, v in meta["HTTPHeaders"].items()}
    assert headers["x-amzn-errortype"].split(":")[0] == "ResourceNotFoundException"
    assert headers.get("x-amzn-requestid")
    assert meta.get("RequestId") == headers["x-amzn-requestid"]
    assert e.value.response["Error"]["Message"]


# --------------------------------------------------------------------------------------------------
# Wire corrections (documented AWS behaviour)
# --------------------------------------------------------------------------------------------------


def test_list_functions_all_versions(lam, make_function):
    """`FunctionVersion=ALL` lists $LATEST and every published version, each with its qualified ARN."""
    name = make_function()["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Description="second")
    lam.publish_version(FunctionName=name)
    listed = []
    for page in lam.get_paginator("list_functions").paginate(
        FunctionVersion="ALL", PaginationConfig={"PageSize": 2}
    ):
        listed.extend(f for f in page["Functions"] if f["FunctionName"] == name)
    assert [(f["Version"], f["FunctionArn"]) for f in listed] == [
        ("$LATEST", function_arn(name) + ":$LATEST"),
        ("1", function_arn(name) + ":1"),
        ("2", function_arn(name) + ":2"),
    ]
    # Without it, one entry per function with its unqualified ARN.
    plain = [f for f in lam.list_functions(MaxItems=10_000)["Functions"] if f["FunctionName"] == name]
    assert [f["FunctionArn"] for f in plain] == [function_arn(name)]


def test_create_checks_model_constraints_before_lambdas_rules(lam_unvalidated):
    """Every member outside its model constraints is reported at once, as a ValidationException,
    before any of Lambda's own rules (here: a deprecated runtime, a reserved variable)."""
    code, status, message = _create_error(
        lam_unvalidated,
        Runtime="python2.7",
        MemorySize=10241,
        Timeout=0,
        Environment={"Variables": {"AWS_REGION": "x"}},
    )
    assert (code, status) == ("ValidationException", 400), message
    assert message.startswith("2 validation errors detected: "), message
    assert "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1" in message
    assert "Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240" in message
    # A missing required member counts too.
    params = dict(FunctionName=unique_name("bad"), Runtime="python3.12", Handler="app.handler",
                  Code={"ZipFile": make_zip({"app.py": PY_ECHO})}, MemorySize=1)
    with pytest.raises(ClientError) as e:
        lam_unvalidated.create_function(**params)
    code, _, message = error_of(e)
    assert code == "ValidationException"
    assert "Value null at 'role' failed to satisfy constraint: Member must not be null" in message
    assert message.startswith("2 validation errors detected: "), message


def test_cross_account_role_is_refused(lam, make_function):
    other = "arn:aws:iam::123456789012:role/elsewhere"
    code, status, message = _create_error(lam, Role=other)
    assert (code, status, message) == (
        "InvalidParameterValueException", 400, "Cross-account pass role is not allowed."
    )
    name = make_function()["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Role=other)
    assert error_of(e) == ("InvalidParameterValueException", 400, "Cross-account pass role is not allowed.")


def test_tz_is_a_reserved_variable(lam):
    code, status, message = _create_error(lam, Environment={"Variables": {"TZ": "Europe/Paris"}})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.endswith("Reserved keys used in this request: TZ"), message


def test_an_arn_in_another_region_is_not_reachable(lam, make_function):
    name = make_function()["FunctionName"]
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}")
    assert error_of(e) == (
        "ResourceNotFoundException",
        404,
        f"Functions from 'eu-west-1' are not reachable in this region ('{REGION}')",
    )
