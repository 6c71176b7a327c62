"""SQS queues survive a SIGKILL: every message whose SendMessage was answered is there after a
restart on the same data dir (sent by several clients while the kill lands), a message received
before the kill stays invisible for the rest of its visibility timeout and then comes back with
its receive count, a receipt handle from before the kill still deletes, and deleted messages stay
deleted."""

from __future__ import annotations

import signal
import threading
import time

import boto3
from botocore.config import Config

from conftest import REGION, credentials_for


def client(endpoint: str):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=30),
        **credentials_for(endpoint),
    )


def drain(sqs, url: str) -> list[dict]:
    got: list[dict] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=300
        ).get("Messages", [])
        if not batch:
            return got
        got.extend(batch)


def test_acknowledged_messages_survive_sigkill(start_server, tmp_path):
    data = tmp_path / "crash"
    srv = start_server(data)
    sqs = client(srv.endpoint)
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    path = url.split("/", 3)[3]  # account/name: the URL's host changes with the port

    # Before the load: one message received (in flight, 4 s), one deleted.
    sqs.send_message(QueueUrl=url, MessageBody="in-flight")
    sqs.send_message(QueueUrl=url, MessageBody="deleted")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=4)["Messages"]
    held = next(m for m in first if m["Body"] == "in-flight")
    gone = next(m for m in first if m["Body"] == "deleted")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=gone["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=4)
    received_at = time.monotonic()

    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int):
        c = client(srv.endpoint)
        n = 0
        while not stop.is_set():
            n += 1
            body = f"{worker}-{n}"
            try:
                c.send_message(QueueUrl=url, MessageBody=body)
            except Exception:
                return  # the server is gone
            with lock:
                acked.append(body)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    srv.stop(sig=signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) > 20, f"only {len(acked)} sends were acknowledged before the kill"

    restarted = start_server(data)
    sqs = client(restarted.endpoint)
    url = f"{restarted.endpoint}/{path}"
    drained = drain(sqs, url)
    bodies = [m["Body"] for m in drained]
    missing = set(acked) - set(bodies)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged messages were lost"
    assert "deleted" not in bodies
    # The received message is still invisible until its timeout runs out, then comes back (on a
    # slow restart it may be back already).
    if time.monotonic() - received_at < 3.5:
        assert "in-flight" not in bodies
    back = [m for m in drained if m["Body"] == "in-flight"]
    deadline = time.monotonic() + 15
    while not back and time.monotonic() < deadline:
        back = [m for m in drain(sqs, url) if m["Body"] == "in-flight"]
    assert back, "the in-flight message never became visible again"
    assert back[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    # The handle from before the kill no longer deletes it (a newer receive holds it); the new one does.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=back[0]["ReceiptHandle"])
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    print(f"\nSQS SIGKILL test: {len(acked)} acknowledged sends, all present after restart")


def test_receipt_handles_survive_a_restart(start_server, tmp_path):
    srv = start_server(tmp_path / "handles")
    sqs = client(srv.endpoint)
    url = sqs.create_queue(QueueName="handles")["QueueUrl"]
    path = url.split("/", 3)[3]
    sqs.send_message(QueueUrl=url, MessageBody="keep me once")
    message = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"][0]
    srv.stop(sig=signal.SIGKILL)
    restarted = start_server(tmp_path / "handles")
    sqs = client(restarted.endpoint)
    url = f"{restarted.endpoint}/{path}"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
