"""IAM and STS through boto3 and the AWS CLI: users and access keys, roles and trust policies, inline
and managed policies, groups, GetCallerIdentity, and AssumeRole with the session it returns used
for real calls. Shapes are botocore's (`iam/2010-05-08`, `sts/2011-06-15`): boto3 parsing them
into the expected Python values is what this file checks."""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_cli import aws
from conftest import ACCOUNT, LAMBDA_TRUST, REGION, credentials_for, error_of, unique_name

CONFIG = Config(retries={"max_attempts": 0})
LIST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["lambda:ListFunctions", "lambda:GetAccountSettings"], "Resource": "*"}],
}


def client(service: str, endpoint: str, creds: dict):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CONFIG, **creds)


@pytest.fixture(scope="module")
def iam(endpoint):
    return client("iam", endpoint, credentials_for(endpoint))


@pytest.fixture(scope="module")
def sts(endpoint):
    return client("sts", endpoint, credentials_for(endpoint))


def keys_of(created: dict) -> dict:
    key = created["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def cli_env(creds: dict, token: str | None = None) -> dict:
    env = {
        "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }
    if token:
        env["AWS_SESSION_TOKEN"] = token
    return env


def test_caller_identity_of_the_administrator(sts, endpoint):
    me = sts.get_caller_identity()
    assert me["Account"] == ACCOUNT
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert me["UserId"].startswith("AIDA")
    proc = aws(["sts", "get-caller-identity", "--endpoint-url", endpoint], cli_env(credentials_for(endpoint)))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"] == me["Arn"]


def test_users_and_access_keys(iam, endpoint):
    name = unique_name("user")
    created = iam.create_user(UserName=name, Path="/team/")["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    assert created["Path"] == "/team/" and created["UserId"].startswith("AIDA")
    assert isinstance(created["CreateDate"], datetime.datetime)
    assert iam.get_user(UserName=name)["User"]["UserId"] == created["UserId"]
    assert name in {u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]}

    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName=name)
    assert error_of(excinfo) == ("EntityAlreadyExists", 409, f"User with name {name} already exists.")
    with pytest.raises(ClientError) as excinfo:
        iam.get_user(UserName=unique_name("ghost"))
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)

    key = iam.create_access_key(UserName=name)
    creds = keys_of(key)
    assert key["AccessKey"]["AccessKeyId"].startswith("AKIA") and key["AccessKey"]["Status"] == "Active"
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [creds["aws_access_key_id"]]
    assert "SecretAccessKey" not in listed[0]

    # The key works at once; a user with no policy may still ask who it is …
    own_sts = client("sts", endpoint, creds)
    assert own_sts.get_caller_identity()["Arn"] == created["Arn"]
    # … but nothing else.
    with pytest.raises(ClientError) as excinfo:
        client("lambda", endpoint, creds).list_functions()
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 403)

    # Deactivated, it stops working on its next request; deleted, it is unknown.
    iam.update_access_key(UserName=name, AccessKeyId=creds["aws_access_key_id"], Status="Inactive")
    with pytest.raises(ClientError) as excinfo:
        own_sts.get_caller_identity()
    assert error_of(excinfo)[:2] == ("InvalidClientTokenId", 403)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=name)
    assert error_of(excinfo)[:2] == ("DeleteConflict", 409)
    iam.delete_access_key(UserName=name, AccessKeyId=creds["aws_access_key_id"])
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_user(UserName=name)
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)


def test_listing_pages_with_marker(iam):
    prefix = f"/page-{unique_name('p')}/"
    names = sorted(unique_name("paged") for _ in range(3))
    for name in names:
        iam.create_user(UserName=name, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Users"]) == 2
    rest = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    seen = [u["UserName"] for u in first["Users"] + rest["Users"]]
    assert sorted(seen) == names
    paginated = [u["UserName"] for page in iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 1}) for u in page["Users"]]
    assert sorted(paginated) == names


def test_inline_policies_of_users_and_roles(iam, endpoint):
    user = unique_name("inline")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="lister", PolicyDocument=json.dumps(LIST_LAMBDA))
    got = iam.get_user_policy(UserName=user, PolicyName="lister")
    assert got["PolicyDocument"] == LIST_LAMBDA  # returned URL-encoded; botocore decodes it
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["lister"]
    creds = keys_of(iam.create_access_key(UserName=user))
    client("lambda", endpoint, creds).list_functions()

    with pytest.raises(ClientError) as excinfo:
        iam.put_user_policy(UserName=user, PolicyName="bad", PolicyDocument='{"Statement": "nope"}')
    assert error_of(excinfo)[:2] == ("MalformedPolicyDocument", 400)

    iam.delete_user_policy(UserName=user, PolicyName="lister")
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    with pytest.raises(ClientError) as excinfo:
        client("lambda", endpoint, creds).list_functions()
    assert error_of(excinfo)[0] == "AccessDeniedException"

    role = unique_name("inline-role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="lister", PolicyDocument=json.dumps(LIST_LAMBDA))
    assert iam.get_role_policy(RoleName=role, PolicyName="lister")["PolicyDocument"] == LIST_LAMBDA
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["lister"]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=role)
    assert error_of(excinfo)[:2] == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=role, PolicyName="lister")
    iam.delete_role(RoleName=role)


def test_roles_and_trust_policies(iam, endpoint):
    role = unique_name("role")
    created = iam.create_role(
        RoleName=role, Path="/service/", AssumeRolePolicyDocument=LAMBDA_TRUST, Description="for tests", MaxSessionDuration=7200
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service/{role}"
    assert created["RoleId"].startswith("AROA")
    assert created["AssumeRolePolicyDocument"] == json.loads(LAMBDA_TRUST)
    got = iam.get_role(RoleName=role)["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("for tests", 7200)
    assert role in {r["RoleName"] for r in iam.list_roles(PathPrefix="/service/")["Roles"]}

    trust_admin = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"}, "Action": "sts:AssumeRole"}],
    }
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust_admin))
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == trust_admin

    proc = aws(["iam", "get-role", "--endpoint-url", endpoint, "--role-name", role], cli_env(credentials_for(endpoint)))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Role"]["AssumeRolePolicyDocument"] == trust_admin
    iam.delete_role(RoleName=role)


def test_managed_policies_attached_and_detached(iam, endpoint):
    name = unique_name("managed")
    policy = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(LIST_LAMBDA), Description="lists")["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    assert (policy["DefaultVersionId"], policy["AttachmentCount"], policy["IsAttachable"]) == ("v1", 0, True)
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == LIST_LAMBDA and version["IsDefaultVersion"] is True
    assert arn in {p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]}

    aws_managed = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]
    assert aws_managed["PolicyName"] == "AdministratorAccess"

    user = unique_name("attached")
    iam.create_user(UserName=user)
    creds = keys_of(iam.create_access_key(UserName=user))
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert attached == [{"PolicyName": name, "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    client("lambda", endpoint, creds).list_functions()

    role = unique_name("attached-role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == [{"PolicyName": name, "PolicyArn": arn}]

    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=arn)
    assert error_of(excinfo)[:2] == ("DeleteConflict", 409)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        client("lambda", endpoint, creds).list_functions()
    assert error_of(excinfo)[0] == "AccessDeniedException"
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.get_policy(PolicyArn=arn)
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)


def test_groups_give_their_members_policies(iam, endpoint):
    group = unique_name("group")
    created = iam.create_group(GroupName=group)["Group"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/{group}"
    user = unique_name("member")
    iam.create_user(UserName=user)
    creds = keys_of(iam.create_access_key(UserName=user))
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    iam.attach_group_policy(GroupName=group, PolicyArn="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess")
    client("lambda", endpoint, creds).list_functions()
    iam.remove_user_from_group(GroupName=group, UserName=user)
    with pytest.raises(ClientError) as excinfo:
        client("lambda", endpoint, creds).list_functions()
    assert error_of(excinfo)[0] == "AccessDeniedException"


def test_assume_role_and_use_the_session(iam, endpoint):
    """A user the trust policy names assumes the role; the session can do what the role allows
    and no more, with boto3 and with the AWS CLI (AWS_SESSION_TOKEN)."""
    user = unique_name("assumer")
    iam.create_user(UserName=user)
    creds = keys_of(iam.create_access_key(UserName=user))
    role = unique_name("assumed")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{user}"}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="lister", PolicyDocument=json.dumps(LIST_LAMBDA))

    assumed = client("sts", endpoint, creds).assume_role(RoleArn=role_arn, RoleSessionName="e2e-session", DurationSeconds=900)
    session = assumed["Credentials"]
    assert session["AccessKeyId"].startswith("ASIA")
    assert isinstance(session["Expiration"], datetime.datetime)
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/e2e-session"
    session_creds = {
        "aws_access_key_id": session["AccessKeyId"],
        "aws_secret_access_key": session["SecretAccessKey"],
        "aws_session_token": session["SessionToken"],
    }
    me = client("sts", endpoint, session_creds).get_caller_identity()
    assert me["Arn"] == assumed["AssumedRoleUser"]["Arn"]
    lam = client("lambda", endpoint, session_creds)
    lam.list_functions()
    with pytest.raises(ClientError) as excinfo:
        lam.delete_function(FunctionName=unique_name("nope"))
    code, _, message = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/e2e-session is not authorized")

    # A tampered session token is someone else's.
    forged = dict(session_creds, aws_session_token=session["SessionToken"][:-2] + "AA")
    with pytest.raises(ClientError) as excinfo:
        client("lambda", endpoint, forged).list_functions()
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)

    # The AWS CLI with the session in its environment.
    env = cli_env(session_creds, token=session["SessionToken"])
    proc = aws(["sts", "get-caller-identity", "--endpoint-url", endpoint], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"] == me["Arn"]
    proc = aws(["lambda", "list-functions", "--endpoint-url", endpoint], env)
    assert proc.returncode == 0, proc.stderr

    # Someone the trust policy does not name is refused.
    stranger = unique_name("stranger")
    iam.create_user(UserName=stranger)
    stranger_creds = keys_of(iam.create_access_key(UserName=stranger))
    with pytest.raises(ClientError) as excinfo:
        client("sts", endpoint, stranger_creds).assume_role(RoleArn=role_arn, RoleSessionName="nope")
    assert error_of(excinfo)[:2] == ("AccessDenied", 403)


def test_the_aws_cli_manages_users(endpoint):
    env = cli_env(credentials_for(endpoint))
    name = unique_name("cli-user")
    proc = aws(["iam", "create-user", "--endpoint-url", endpoint, "--user-name", name], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["User"]["UserName"] == name
    proc = aws(["iam", "create-access-key", "--endpoint-url", endpoint, "--user-name", name], env)
    assert proc.returncode == 0, proc.stderr
    key = json.loads(proc.stdout)["AccessKey"]
    proc = aws(["iam", "list-users", "--endpoint-url", endpoint], env)
    assert proc.returncode == 0 and name in proc.stdout, proc.stderr
    user_env = cli_env({"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    proc = aws(["sts", "get-caller-identity", "--endpoint-url", endpoint], user_env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    proc = aws(["iam", "get-user", "--endpoint-url", endpoint], user_env)
    assert proc.returncode != 0 and "(AccessDenied)" in proc.stderr, proc.stderr
