"""Let no one in: every call is verified and authorized.

Each refusal is tried with boto3 and with the AWS CLI against the real server — a wrong secret, an
unknown key, a stale date, no signature at all, a body changed after signing — and each must get
AWS's error and change nothing. Then authorization: a user with a read-only policy lists but cannot
update, the execution role must trust Lambda, presigned URLs verify, and a function's own calls are
signed as its execution role and allowed only what that role allows.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_cli import aws
from conftest import (
    ACCOUNT,
    LAMBDA_TRUST,
    REGION,
    ROLE,
    credentials_for,
    error_of,
    function_arn,
    invoke,
    make_zip,
    unique_name,
)

ORIGINAL = "original description"
TAMPER = ("tamper-me", "tampered!")
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


def lambda_client(endpoint: str, **kwargs):
    config = kwargs.pop("config", Config(retries={"max_attempts": 0}))
    return boto3.client("lambda", endpoint_url=endpoint, region_name=REGION, config=config, **kwargs)


def iam_client(endpoint: str, **kwargs):
    config = kwargs.pop("config", Config(retries={"max_attempts": 0}))
    return boto3.client("iam", endpoint_url=endpoint, region_name=REGION, config=config, **kwargs)


@pytest.fixture(scope="module")
def victim(lam):
    """A function whose description only an authorized, correctly signed call may change."""
    name = unique_name("victim")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Description=ORIGINAL,
        Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return e\n"})},
    )
    yield name
    lam.delete_function(FunctionName=name)


def wrong_secret(endpoint):
    creds = credentials_for(endpoint)
    return {**creds, "aws_secret_access_key": creds["aws_secret_access_key"][:-1] + "x"}


def unknown_key(_endpoint):
    return {"aws_access_key_id": "AKIANUBOUNKNOWNKEY00", "aws_secret_access_key": "x" * 40}


# case → (credentials, clock skew, tamper, unsigned, expected code, message check)
CASES = {
    "wrong-secret": (wrong_secret, 0, None, False, "InvalidSignatureException", SIGNATURE_MISMATCH),
    "unknown-key": (unknown_key, 0, None, False, "UnrecognizedClientException", INVALID_TOKEN),
    "stale-date": (credentials_for, -400, None, False, "InvalidSignatureException", "Signature expired: "),
    "missing-signature": (credentials_for, 0, None, True, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    "tampered-body": (credentials_for, 0, TAMPER, False, "InvalidSignatureException", SIGNATURE_MISMATCH),
}


def assert_unchanged(lam, victim):
    assert lam.get_function_configuration(FunctionName=victim)["Description"] == ORIGINAL


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_boto3_and_nothing_changes(endpoint, lam, victim, case, monkeypatch):
    creds, skew, tamper, unsigned, code, message = CASES[case]
    config = Config(retries={"max_attempts": 0}, signature_version=botocore.UNSIGNED if unsigned else None)
    client = lambda_client(endpoint, config=config, **creds(endpoint))
    if skew:
        real_now = botocore.auth.get_current_datetime
        import datetime

        monkeypatch.setattr(
            botocore.auth, "get_current_datetime", lambda *a, **k: real_now(*a, **k) + datetime.timedelta(seconds=skew)
        )
    if tamper:

        def change_body(request, **kwargs):
            request.body = request.body.replace(tamper[0].encode(), tamper[1].encode())

        client.meta.events.register("before-send.lambda", change_body)
    with pytest.raises(ClientError) as excinfo:
        client.update_function_configuration(FunctionName=victim, Description=TAMPER[0])
    got_code, status, got_message = error_of(excinfo)
    assert (got_code, status) == (code, 403), excinfo.value.response
    assert got_message.startswith(message), got_message
    monkeypatch.undo()
    assert_unchanged(lam, victim)


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_the_aws_cli_and_nothing_changes(endpoint, lam, victim, case):
    creds, skew, tamper, unsigned, code, message = CASES[case]
    keys = creds(endpoint)
    env = {
        "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }
    args = ["lambda", "update-function-configuration", "--endpoint-url", endpoint, "--function-name", victim]
    args += ["--description", TAMPER[0]]
    if unsigned:
        args.append("--no-sign-request")
    proc = aws(args, env, skew=skew, tamper=tamper)
    assert proc.returncode != 0, proc.stdout
    assert f"({code})" in proc.stderr, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert_unchanged(lam, victim)


def test_query_services_refuse_in_their_own_words(endpoint):
    """IAM names the same refusals differently, and boto3 and the CLI read them."""
    with pytest.raises(ClientError) as excinfo:
        iam_client(endpoint, **wrong_secret(endpoint)).list_users()
    assert error_of(excinfo)[:2] == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as excinfo:
        iam_client(endpoint, **unknown_key(endpoint)).list_users()
    assert error_of(excinfo) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    with pytest.raises(ClientError) as excinfo:
        iam_client(endpoint, config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 0})).list_users()
    assert error_of(excinfo)[:2] == ("MissingAuthenticationToken", 403)

    proc = aws(["iam", "list-users", "--endpoint-url", endpoint], {
        "AWS_ACCESS_KEY_ID": "AKIANUBOUNKNOWNKEY00",
        "AWS_SECRET_ACCESS_KEY": "x" * 40,
        "AWS_DEFAULT_REGION": REGION,
    })
    assert proc.returncode != 0 and "(InvalidClientTokenId)" in proc.stderr, proc.stderr


def test_stale_date_message_is_awss(endpoint):
    """`Signature expired: <request time> is now earlier than <bound> (<now> - 5 min.)`."""
    creds = credentials_for(endpoint)
    proc = aws(["lambda", "list-functions", "--endpoint-url", endpoint], {
        "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }, skew=-400)
    assert proc.returncode != 0
    assert "is now earlier than" in proc.stderr and "- 5 min.)" in proc.stderr, proc.stderr


# --------------------------------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------------------------------


def make_user(iam, name: str, policy: dict | None = None, managed: str | None = None) -> dict:
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    if managed:
        iam.attach_user_policy(UserName=name, PolicyArn=managed)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def admin_iam(endpoint):
    return iam_client(endpoint, **credentials_for(endpoint))


@pytest.fixture(scope="module")
def runtime_sdk(server) -> str:
    """The functions below call back with boto3: wait until the runtimes' SDKs are in place."""
    return server.runtime_sdk()


def test_a_read_only_user_can_list_but_not_update(endpoint, admin_iam, victim, lam):
    reader_user = unique_name("reader")
    reader = make_user(admin_iam, reader_user, managed="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess")
    client = lambda_client(endpoint, **reader)
    names = {f["FunctionName"] for f in client.list_functions(MaxItems=1000)["Functions"]}
    assert victim in names
    assert client.get_function_configuration(FunctionName=victim)["Description"] == ORIGINAL
    with pytest.raises(ClientError) as excinfo:
        client.update_function_configuration(FunctionName=victim, Description="changed")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 403)
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{reader_user}"
    assert message == (
        f"User: {user_arn} is not authorized to perform: lambda:UpdateFunctionConfiguration on resource: "
        f"{function_arn(victim)} because no identity-based policy allows the lambda:UpdateFunctionConfiguration action"
    )
    assert_unchanged(lam, victim)

    # The same user through the AWS CLI.
    env = {
        "AWS_ACCESS_KEY_ID": reader["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": reader["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }
    proc = aws(["lambda", "list-functions", "--endpoint-url", endpoint, "--max-items", "1000"], env)
    assert proc.returncode == 0, proc.stderr
    proc = aws(["lambda", "delete-function", "--endpoint-url", endpoint, "--function-name", victim], env)
    assert proc.returncode != 0 and "(AccessDeniedException)" in proc.stderr, proc.stderr
    assert "lambda:DeleteFunction" in proc.stderr
    assert_unchanged(lam, victim)


def test_an_explicit_deny_wins(endpoint, admin_iam, victim):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "lambda:GetFunctionConfiguration", "Resource": function_arn(victim)},
        ],
    }
    creds = make_user(admin_iam, unique_name("denied"), policy=policy)
    client = lambda_client(endpoint, **creds)
    client.get_function(FunctionName=victim)
    with pytest.raises(ClientError) as excinfo:
        client.get_function_configuration(FunctionName=victim)
    code, _, message = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert message.endswith("with an explicit deny in an identity-based policy"), message


def test_create_function_needs_a_role_lambda_can_assume(endpoint, admin_iam, lam):
    ec2_only = unique_name("ec2role")
    admin_iam.create_role(
        RoleName=ec2_only,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )
    code = make_zip({"app.py": "def handler(e, c):\n    return e\n"})
    for role in (f"arn:aws:iam::{ACCOUNT}:role/{ec2_only}", f"arn:aws:iam::{ACCOUNT}:role/{unique_name('missing')}"):
        name = unique_name("norole")
        with pytest.raises(ClientError) as excinfo:
            lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": code})
        assert error_of(excinfo) == (
            "InvalidParameterValueException",
            400,
            "The role defined for the function cannot be assumed by Lambda.",
        )
        with pytest.raises(ClientError) as excinfo:
            lam.get_function(FunctionName=name)
        assert error_of(excinfo)[0] == "ResourceNotFoundException"
    # Once the role trusts Lambda, the same call succeeds.
    admin_iam.update_assume_role_policy(RoleName=ec2_only, PolicyDocument=LAMBDA_TRUST)
    name = unique_name("trusted")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/{ec2_only}",
        Handler="app.handler", Code={"ZipFile": code},
    )
    lam.delete_function(FunctionName=name)


def test_presigned_urls_verify_and_expire(endpoint, lam, victim, monkeypatch):
    url = lam.generate_presigned_url("get_function_configuration", Params={"FunctionName": victim}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url and "Authorization" not in url
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert json.loads(reply.read())["FunctionName"] == victim

    # One signed ten minutes ago for five minutes is over.
    import datetime

    real_now = botocore.auth.get_current_datetime
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda *a, **k: real_now(*a, **k) - datetime.timedelta(minutes=10)
    )
    stale = lam.generate_presigned_url("get_function_configuration", Params={"FunctionName": victim}, ExpiresIn=300)
    monkeypatch.undo()
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(stale, timeout=10)
    assert excinfo.value.code == 400
    assert excinfo.value.headers["x-amzn-errortype"].startswith("RequestExpired")

    # A presigned URL whose signature was altered is refused.
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(forged, timeout=10)
    assert excinfo.value.code == 403


def test_code_location_is_a_short_lived_presigned_url(endpoint, lam, victim):
    location = lam.get_function(FunctionName=victim)["Code"]["Location"]
    assert "/_nubo/code/" in location and "X-Amz-Expires=600" in location, location
    with urllib.request.urlopen(location, timeout=10) as reply:
        assert reply.read()[:2] == b"PK"
    bare = location.split("?", 1)[0]
    for url in (bare, location.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(url, timeout=10)
        assert excinfo.value.code == 403, url


CALLER_PY = """
import json, os
import boto3

def handler(event, context):
    client = boto3.client("lambda")
    out = {"identity": boto3.client("sts").get_caller_identity()["Arn"]}
    try:
        client.update_function_code(FunctionName=event["target"], ZipFile=b"PK\\x05\\x06" + b"\\x00" * 18)
        out["update"] = "allowed"
    except Exception as e:
        out["update"] = getattr(e, "response", {}).get("Error", {}).get("Code", repr(e))
    try:
        result = client.invoke(FunctionName=event["target"], Payload=json.dumps({"hello": "from a function"}))
        out["invoke"] = json.loads(result["Payload"].read())
    except Exception as e:
        out["invoke"] = getattr(e, "response", {}).get("Error", {}).get("Code", repr(e))
    return out
"""


def test_a_function_can_do_only_what_its_role_allows(endpoint, admin_iam, lam, make_function, runtime_sdk):
    """A function's SDK calls are signed with its execution role's session: allowed to invoke the
    second function, denied updating its code."""
    target = make_function(files={"app.py": "def handler(e, c):\n    return {'got': e}\n"})["FunctionName"]
    role = unique_name("invoker")
    admin_iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    admin_iam.put_role_policy(
        RoleName=role,
        PolicyName="invoke-only",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn(target)}]}
        ),
    )
    caller = make_function(
        files={"app.py": CALLER_PY}, Role=f"arn:aws:iam::{ACCOUNT}:role/{role}", Timeout=30
    )["FunctionName"]
    result = invoke(lam, caller, {"target": target})
    assert result.function_error is None, result
    assert result.json["identity"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{caller}"
    assert result.json["update"] == "AccessDeniedException", result.json
    assert result.json["invoke"] == {"got": {"hello": "from a function"}}, result.json
