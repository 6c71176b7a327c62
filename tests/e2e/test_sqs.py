"""SQS through boto3 (json protocol), the AWS CLI, and raw query-protocol requests: queues and
their attributes and tags, messages with attributes and the digests SQS computes, visibility
timeouts and receive counts, long polling, batches, FIFO queues, redrive to a dead-letter queue,
and AWS's errors for the unhappy paths. Shapes are botocore's (`sqs/2012-11-05`)."""

from __future__ import annotations

import hashlib
import json
import struct
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from aws_cli import aws
from conftest import ACCOUNT, REGION, client_env_for, credentials_for, unique_name

CONFIG = Config(retries={"max_attempts": 0}, read_timeout=60)


@pytest.fixture(scope="module")
def sqs(endpoint):
    return boto3.client("sqs", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))


def md5_of_attributes(attributes: dict) -> str:
    """SQS's algorithm, as its developer guide describes it."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]

        def field(b: bytes):
            digest.update(struct.pack(">I", len(b)) + b)

        field(name.encode())
        field(data_type.encode())
        if data_type.startswith("Binary"):
            digest.update(b"\x02")
            field(value["BinaryValue"])
        else:
            digest.update(b"\x01")
            field(value["StringValue"].encode())
    return digest.hexdigest()


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_queue_lifecycle_attributes_and_tags(sqs, endpoint):
    name = unique_name("q")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"}, tags={"team": "a"})["QueueUrl"]
    assert url == f"{endpoint}/{ACCOUNT}/{name}"
    # Idempotent with the same attributes; another value is QueueNameExists.
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as excinfo:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert code_of(excinfo) == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["MaximumMessageSize"] == "262144"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2", "MessageRetentionPeriod": "600"})
    only = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]
    assert only == {"DelaySeconds": "2"}

    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}

    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as excinfo:
        sqs.get_queue_url(QueueName=name)
    assert code_of(excinfo) == "AWS.SimpleQueueService.NonExistentQueue"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_send_receive_delete_with_attributes_and_digests(sqs):
    url = sqs.create_queue(QueueName=unique_name("msg"))["QueueUrl"]
    attributes = {
        "Priority": {"DataType": "String", "StringValue": "high"},
        "Count": {"DataType": "Number", "StringValue": "12"},
        "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01bytes"},
    }
    body = "héllo wörld"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attributes)

    got = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"], VisibilityTimeout=30
    )["Messages"]
    assert len(got) == 1
    message = got[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == body
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"]["Blob"]["BinaryValue"] == b"\x00\x01bytes"
    assert message["MessageAttributes"]["Priority"] == {"DataType": "String", "StringValue": "high"}
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(message["Attributes"]["SentTimestamp"]) <= int(time.time() * 1000)
    assert message["Attributes"]["SenderId"]

    # In flight: nobody else gets it, and the counts say so.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    # Visible again at once, received a second time with a new count.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_long_polling_returns_when_a_message_arrives(sqs, endpoint):
    url = sqs.create_queue(QueueName=unique_name("poll"))["QueueUrl"]
    other = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))
    import threading

    def late_send():
        time.sleep(1)
        other.send_message(QueueUrl=url, MessageBody="late")

    threading.Thread(target=late_send).start()
    started = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    elapsed = time.monotonic() - started
    assert got[0]["Body"] == "late"
    assert 0.8 < elapsed < 5, elapsed
    # Nothing there: the full wait, then an empty answer.
    started = time.monotonic()
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    assert time.monotonic() - started >= 1.9


def test_batches(sqs):
    url = sqs.create_queue(QueueName=unique_name("batch"))["QueueUrl"]
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "one"},
            {"Id": "b", "MessageBody": "two", "DelaySeconds": 0},
            {"Id": "c", "MessageBody": "bad \x01 body"},
        ],
    )
    assert sorted(e["Id"] for e in result["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in result["Failed"]] == [("c", "InvalidMessageContents", True)]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 60} for i, m in enumerate(got)],
    )
    assert len(changed["Successful"]) == 2 and changed["Failed"] == []
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    assert len(deleted["Successful"]) == 2
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}])
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "m"} for i in range(11)])
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.delete_message_batch(QueueUrl=url, Entries=[])


def test_unhappy_paths(sqs, endpoint):
    url = sqs.create_queue(QueueName=unique_name("bad"))["QueueUrl"]
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 262_145)
    assert code_of(excinfo) == "InvalidParameterValue"
    assert "Message must be shorter than 262144 bytes" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="bogus", VisibilityTimeout=5)
    assert code_of(excinfo) == "ReceiptHandleIsInvalid"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"{endpoint}/{ACCOUNT}/no-such-queue", MessageBody="x")
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99999"})
    assert code_of(excinfo) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert code_of(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName="bad name!")
    assert code_of(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}})
    assert code_of(excinfo) == "InvalidParameterValue"
    # A message not in flight cannot have its visibility changed.
    sqs.send_message(QueueUrl=url, MessageBody="m")
    got = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    with pytest.raises(sqs.exceptions.MessageNotInflight):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"], VisibilityTimeout=5)


def test_fifo_order_groups_and_deduplication(sqs):
    name = unique_name("order") + ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="no group", MessageDeduplicationId="d0")
    assert code_of(excinfo) == "MissingParameter"
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="no dedup", MessageGroupId="g")
    assert code_of(excinfo) == "InvalidParameterValue"
    first = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a", MessageDeduplicationId="1")
    duplicate = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a", MessageDeduplicationId="1")
    assert duplicate["MessageId"] == first["MessageId"]
    second = sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="a", MessageDeduplicationId="2")
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b", MessageDeduplicationId="3")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
    assert got[0]["Body"] == "a1"
    assert got[0]["Attributes"]["MessageGroupId"] == "a"
    assert got[0]["Attributes"]["SequenceNumber"] == first["SequenceNumber"]
    # a1 in flight holds back a2; b1 is free.
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["a2"]


def test_redrive_to_dead_letter_queue(sqs):
    dlq = sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    src = sqs.create_queue(QueueName=unique_name("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        got = sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]
        assert got[0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert moved[0]["Body"] == "poison"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(
            QueueUrl=src,
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn + "-gone", "maxReceiveCount": 1})},
        )
    assert code_of(excinfo) == "InvalidParameterValue"


def test_purge(sqs):
    url = sqs.create_queue(QueueName=unique_name("purge"))["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress):
        sqs.purge_queue(QueueUrl=url)


def test_the_aws_cli_uses_the_urls_nubo_returns(endpoint):
    env = client_env_for(endpoint)
    name = unique_name("cli")
    created = aws(["--endpoint-url", endpoint, "sqs", "create-queue", "--queue-name", name], env)
    assert created.returncode == 0, created.stderr
    url = json.loads(created.stdout)["QueueUrl"]
    sent = aws(["--endpoint-url", endpoint, "sqs", "send-message", "--queue-url", url, "--message-body", "from cli"], env)
    assert sent.returncode == 0, sent.stderr
    received = aws(["--endpoint-url", endpoint, "sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "1"], env)
    assert received.returncode == 0, received.stderr
    message = json.loads(received.stdout)["Messages"][0]
    assert message["Body"] == "from cli"
    deleted = aws(
        ["--endpoint-url", endpoint, "sqs", "delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"]],
        env,
    )
    assert deleted.returncode == 0, deleted.stderr
    missing = aws(["--endpoint-url", endpoint, "sqs", "get-queue-url", "--queue-name", name + "-missing"], env)
    assert missing.returncode != 0
    assert "NonExistentQueue" in missing.stderr, missing.stderr


def query(endpoint: str, body: str, path: str = "/", creds: dict | None = None) -> tuple[int, str]:
    """A signed query-protocol request, as older SDKs send it."""
    creds = creds or credentials_for(endpoint)
    request = AWSRequest(
        method="POST",
        url=endpoint + path,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), "sqs", REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=prepared.body.encode(), headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_query_protocol(sqs, endpoint):
    from urllib.parse import quote

    name = unique_name("query")
    status, body = query(endpoint, f"Action=CreateQueue&Version=2012-11-05&QueueName={name}&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40")
    assert status == 200, body
    assert body.startswith('<CreateQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">'), body
    url = f"{endpoint}/{ACCOUNT}/{name}"
    assert f"<QueueUrl>{url}</QueueUrl>" in body
    status, body = query(
        endpoint,
        "Action=SendMessage&Version=2012-11-05&QueueUrl=" + quote(url, safe="")
        + "&MessageBody=hi&MessageAttribute.1.Name=p&MessageAttribute.1.Value.DataType=String"
        + "&MessageAttribute.1.Value.StringValue=high",
    )
    assert status == 200, body
    assert "<MD5OfMessageBody>49f68a5c8493ec2c0bf489821c21fc3b</MD5OfMessageBody>" in body
    # Sent to the queue URL itself, without QueueUrl.
    status, body = query(
        endpoint,
        "Action=ReceiveMessage&Version=2012-11-05&AttributeName.1=All&MessageAttributeName.1=All",
        path=f"/{ACCOUNT}/{name}",
    )
    assert status == 200, body
    assert "<Body>hi</Body>" in body and "<Name>ApproximateReceiveCount</Name><Value>1</Value>" in body, body
    assert "<MessageAttribute><Name>p</Name><Value>" in body, body
    # The same queue through json.
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes == {"VisibilityTimeout": "40"}
    # Batches: entries flattened in, result entries flattened out.
    status, body = query(
        endpoint,
        "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=" + quote(url, safe="")
        + "&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one"
        + "&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two"
        + "&SendMessageBatchRequestEntry.2.DelaySeconds=901",
    )
    assert status == 200, body
    assert "<SendMessageBatchResultEntry><Id>a</Id>" in body, body
    assert "<BatchResultErrorEntry>" in body and "<Id>b</Id>" in body and "<Code>InvalidParameterValue</Code>" in body, body
    status, body = query(
        endpoint,
        "Action=ReceiveMessage&Version=2012-11-05&MaxNumberOfMessages=10&VisibilityTimeout=30&QueueUrl=" + quote(url, safe=""),
    )
    assert status == 200 and "<Body>one</Body>" in body, body
    handle = body.split("<ReceiptHandle>")[1].split("</ReceiptHandle>")[0]
    status, body = query(
        endpoint,
        "Action=DeleteMessageBatch&Version=2012-11-05&QueueUrl=" + quote(url, safe="")
        + "&DeleteMessageBatchRequestEntry.1.Id=x&DeleteMessageBatchRequestEntry.1.ReceiptHandle=" + quote(handle, safe=""),
    )
    assert status == 200 and "<DeleteMessageBatchResultEntry><Id>x</Id></DeleteMessageBatchResultEntry>" in body, body
    status, body = query(endpoint, "Action=GetQueueUrl&Version=2012-11-05&QueueName=nope-" + name)
    assert status == 400
    assert "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in body and "<Type>Sender</Type>" in body, body


def test_policies_decide_who_sends_and_receives(sqs, endpoint):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))
    name = unique_name("guarded")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    user = unique_name("sender")
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="send-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    sender = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **creds)
    sender.send_message(QueueUrl=url, MessageBody="allowed")
    sender.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "batch too"}])
    with pytest.raises(ClientError) as excinfo:
        sender.receive_message(QueueUrl=url)
    assert code_of(excinfo) == "AccessDenied"  # the legacy code, from x-amzn-query-error
    assert excinfo.value.response["Error"]["QueryErrorCode"] == "AccessDeniedException"
    assert "sqs:ReceiveMessage" in excinfo.value.response["Error"]["Message"]
    status, body = query(endpoint, "Action=ListQueues&Version=2012-11-05", creds=creds)
    assert status == 403, body
    assert "<Code>AccessDenied</Code>" in body and "sqs:ListQueues" in body, body


def test_metrics_count_queues_and_messages(sqs, endpoint):
    url = sqs.create_queue(QueueName=unique_name("metered"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="counted")
    with urllib.request.urlopen(endpoint + "/_nubo/metrics", timeout=5) as reply:
        text = reply.read().decode()
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("nubo_sqs_") and " " in line
    }
    assert values["nubo_sqs_queues"] >= 1, text
    assert values["nubo_sqs_messages_visible"] >= 1, text
    assert "nubo_sqs_messages_in_flight" in values and "nubo_sqs_messages_delayed" in values
