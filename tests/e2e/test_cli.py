"""Clients other than boto3: the aws CLI (v1), Nubo's own CLI, and raw HTTP for the edge's rules."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import NUBO, ROLE, client_env_for, credentials_for, unique_name


@pytest.fixture(scope="module")
def cli_fn(lam, rust_zip):
    """A provided.al2023 function (the Rust fixture) for the CLI tests."""
    name = unique_name("cli")
    lam.create_function(
        FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="bootstrap", Code={"ZipFile": rust_zip}
    )
    yield name
    lam.delete_function(FunctionName=name)


def client_env(endpoint: str, **extra) -> dict:
    """The environment of a client command signing as the server's administrator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NUBO_"))}
    env.update(client_env_for(endpoint))
    env.update(extra)
    return env


def run(args, env, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout)


AWS = Path(sys.executable).parent / "aws"


def _binary_format_flag() -> list[str]:
    """`--cli-binary-format raw-in-base64-out` for aws-cli v2.

    aws-cli v1 (what requirements.txt installs) has no such option (its help text shows it only in
    examples copied from v2) and already sends --payload as raw bytes — what raw-in-base64-out means in v2.
    """
    if not AWS.exists():
        return []
    version = subprocess.run([str(AWS), "--version"], capture_output=True, text=True, timeout=60)
    text = version.stdout + version.stderr
    return [] if text.startswith("aws-cli/1.") else ["--cli-binary-format", "raw-in-base64-out"]


BINARY_FORMAT = _binary_format_flag()


# --------------------------------------------------------------------------------------------------
# aws CLI v1
# --------------------------------------------------------------------------------------------------


def test_aws_cli_invoke(endpoint, cli_fn, tmp_path):
    assert AWS.exists(), f"{AWS} missing: install tests/e2e/requirements.txt"
    out = tmp_path / "out.json"
    proc = run(
        [
            AWS, "lambda", "invoke",
            "--endpoint-url", endpoint,
            "--function-name", cli_fn,
            "--payload", '{"from": "aws-cli"}',
            *BINARY_FORMAT,
            out,
        ],
        client_env(endpoint),
    )
    assert proc.returncode == 0, proc.stderr
    meta = json.loads(proc.stdout)
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in meta
    assert json.loads(out.read_text())["echo"] == {"from": "aws-cli"}


def test_aws_cli_control_plane(endpoint, cli_fn):
    proc = run([AWS, "lambda", "get-function-configuration", "--endpoint-url", endpoint, "--function-name", cli_fn], client_env(endpoint))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["FunctionName"] == cli_fn

    proc = run([AWS, "lambda", "list-functions", "--endpoint-url", endpoint, "--max-items", "1000"], client_env(endpoint))
    assert proc.returncode == 0, proc.stderr
    assert cli_fn in {f["FunctionName"] for f in json.loads(proc.stdout)["Functions"]}

    missing = unique_name("missing")
    proc = run([AWS, "lambda", "get-function", "--endpoint-url", endpoint, "--function-name", missing], client_env(endpoint))
    assert proc.returncode != 0
    assert "ResourceNotFoundException" in proc.stderr, proc.stderr


def test_aws_cli_reads_endpoint_from_env(endpoint, cli_fn, tmp_path):
    out = tmp_path / "out.json"
    proc = run(
        [AWS, "lambda", "invoke", "--function-name", cli_fn, "--payload", '{"via": "env"}', *BINARY_FORMAT, out],
        env=client_env(endpoint, AWS_ENDPOINT_URL=endpoint),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["echo"] == {"via": "env"}


# --------------------------------------------------------------------------------------------------
# nubo CLI
# --------------------------------------------------------------------------------------------------


def test_nubo_invoke_with_endpoint_flag(endpoint, cli_fn):
    proc = run([NUBO, "invoke", cli_fn, "--payload", '{"from": "nubo"}', "--endpoint", endpoint], client_env(endpoint))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["echo"] == {"from": "nubo"}


def test_nubo_invoke_with_env_endpoint(endpoint, cli_fn, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    proc = run([NUBO, "invoke", cli_fn, "-e", event, "--log"], env=client_env(endpoint, NUBO_ENDPOINT=endpoint))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["echo"] == {"from": "file"}
    assert "START RequestId:" in proc.stderr and "REPORT RequestId:" in proc.stderr, proc.stderr


def test_nubo_invoke_function_error_exit_code(endpoint, cli_fn):
    proc = run([NUBO, "invoke", cli_fn, "--payload", '{"fail": true}', "--endpoint", endpoint], client_env(endpoint))
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "asked to fail" in proc.stdout
    assert "Unhandled" in proc.stderr


def test_nubo_invoke_missing_function_exit_code(endpoint):
    proc = run([NUBO, "invoke", unique_name("missing"), "--endpoint", endpoint], client_env(endpoint))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "ResourceNotFoundException (404)" in proc.stderr


def test_nubo_functions_lists(endpoint, cli_fn):
    proc = run([NUBO, "functions", "--endpoint", endpoint], client_env(endpoint))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "RUNTIME"]
    row = next((line for line in lines if line.split()[0] == cli_fn), None)
    assert row, proc.stdout
    assert "provided.al2023" in row

    proc = run([NUBO, "functions"], env=client_env(endpoint, NUBO_ENDPOINT=endpoint))
    assert proc.returncode == 0, proc.stderr
    assert cli_fn in proc.stdout


def test_nubo_cli_acts_in_the_servers_region_unless_told(endpoint, cli_fn):
    """The CLI signs for the server's default region (`NUBO_REGION`, else us-east-1), whatever the
    AWS SDKs' region variables say; `--region` reaches another region's functions."""
    proc = run([NUBO, "functions", "--endpoint", endpoint], env=client_env(endpoint, AWS_REGION="eu-west-1"))
    assert proc.returncode == 0, proc.stderr
    assert cli_fn in proc.stdout
    proc = run([NUBO, "functions", "--endpoint", endpoint, "--region", "eu-west-1"], env=client_env(endpoint))
    assert proc.returncode == 0, proc.stderr
    assert cli_fn not in proc.stdout
    proc = run([NUBO, "invoke", cli_fn, "--endpoint", endpoint], env=client_env(endpoint, NUBO_REGION="eu-west-1"))
    assert proc.returncode != 0
    assert "ResourceNotFoundException (404)" in proc.stderr


# --------------------------------------------------------------------------------------------------
# Raw HTTP: signatures and health
# --------------------------------------------------------------------------------------------------


def http(method, url, headers=None, body=None):
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def test_health(endpoint):
    status, _, body = http("GET", endpoint + "/_nubo/health")
    assert status == 200
    assert body.strip() == b"ok"


def test_unsigned_request_is_403(endpoint):
    status, headers, body = http("GET", endpoint + "/2015-03-31/functions/")
    assert status == 403
    headers = lower(headers)
    assert headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException")
    assert headers.get("x-amzn-requestid")
    assert json.loads(body)["message"] == "Missing Authentication Token"


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 garbage",
        "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request",  # no SignedHeaders/Signature
        "Bearer abc.def",
        "AWS4-HMAC-SHA256 Credential=short, SignedHeaders=host, Signature=00",
    ],
)
def test_malformed_authorization_is_clean_aws_error(endpoint, authorization):
    status, headers, body = http(
        "GET",
        endpoint + "/2015-03-31/functions/",
        headers={"Authorization": authorization, "X-Amz-Date": "20240101T000000Z"},
    )
    assert 400 <= status < 500, (status, body)
    headers = lower(headers)
    assert headers.get("x-amzn-errortype"), headers
    assert headers.get("content-type", "").startswith("application/json")
    error = json.loads(body)
    assert error.get("message") or error.get("Message"), error


def test_signed_for_another_service(endpoint):
    authorization = (
        "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
    )
    status, headers, body = http(
        "GET", endpoint + "/", headers={"Authorization": authorization, "X-Amz-Date": "20240101T000000Z"}
    )
    assert 400 <= status < 500
    assert lower(headers).get("x-amzn-errortype")


def test_unknown_lambda_operation(endpoint, lam):
    """A signed lambda request to a route Nubo does not serve gets an AWS-shaped error, not a bare 404."""
    from botocore.awsrequest import AWSRequest
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=endpoint + "/2099-01-01/nothing-here")
    creds = credentials_for(endpoint)
    SigV4Auth(Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), "lambda", "us-east-1").add_auth(
        request
    )
    status, headers, body = http("GET", request.url, headers=dict(request.headers))
    assert 400 <= status < 500
    assert lower(headers).get("x-amzn-errortype")
    assert json.loads(body)
