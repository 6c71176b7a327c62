"""Services Nubo does not serve yet answer in their own protocol, so boto3 raises a ClientError
with a code (not a parse failure or a bare 400): XML for the query services (CloudFormation),
`__type` JSON for the json services (Kinesis). The requests are signed with a real key: verification comes first for every service."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, credentials_for

# (service, a call, expected code, expected HTTP status, protocol botocore uses for it)
CALLS = [
    ("kinesis", lambda c: c.list_streams(), "UnknownOperationException", 400, "json"),
    ("cloudformation", lambda c: c.list_stacks(), "InvalidAction", 400, "query"),
    ("xray", lambda c: c.get_sampling_rules(), "UnknownOperationException", 404, "rest-json"),
]


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=30),
        **credentials_for(endpoint),
    )


@pytest.mark.parametrize(
    "service,call,code,status,protocol",
    CALLS,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)],
)
def test_unserved_service_answers_in_its_protocol(endpoint, service, call, code, status, protocol):
    c = client(service, endpoint)
    assert c.meta.service_model.resolved_protocol == protocol  # what this test is about
    with pytest.raises(ClientError) as excinfo:
        call(c)
    response = excinfo.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    assert "does not serve" in response["Error"]["Message"], response
    assert response["ResponseMetadata"].get("RequestId"), response


def test_query_services_also_answer_cloudwatch_in_query_form(endpoint):
    """Older SDKs still speak query to CloudWatch; the same service answers them in XML."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data="Action=ListMetrics&Version=2010-08-01",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    creds = credentials_for(endpoint)
    SigV4Auth(Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), "monitoring", REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=prepared.body.encode(), headers=dict(prepared.headers), method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        pytest.fail("an unserved service answered 2xx")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 400
        assert body.startswith('<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'), body
        assert "<Code>InvalidAction</Code>" in body and "<Type>Sender</Type>" in body, body


def test_a_region_that_cannot_be_a_region_is_refused(endpoint):
    """The request's region becomes its scope; one that cannot be a region never gets that far."""
    lam = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="Mars-Central-1",
        config=Config(retries={"max_attempts": 0}),
        **credentials_for(endpoint),
    )
    with pytest.raises(ClientError) as excinfo:
        lam.list_functions()
    error = excinfo.value.response
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
