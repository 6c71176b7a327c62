"""Group commit across callers survives a SIGKILL: asynchronous-invocation accepts (8 clients, as
the benchmark drives them) and SQS sends (4 clients) share the store's commits; the server is
SIGKILLed mid-write, and after a restart on the same data dir every event that got a 202 runs and
every message whose SendMessage was answered is there. A 202 or a SendMessage answer is sent only
after the fsync that holds it."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import boto3
from botocore.config import Config

from conftest import REGION, credentials_for, invoke, lambda_client_for
from test_async import calls, create_recorder, metrics, send_event, wait_for


def sqs_client(endpoint: str):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=30),
        **credentials_for(endpoint),
    )


def test_sigkill_during_mixed_group_commits_loses_nothing_acknowledged(start_server, tmp_path):
    data = tmp_path / "crash"
    srv = start_server(data)
    lam = lambda_client_for(srv.endpoint)
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    invoke(lam, name, {"id": "warm-up"})
    url = sqs_client(srv.endpoint).create_queue(QueueName="group-commit")["QueueUrl"]
    path = url.split("/", 3)[3]  # account/name: the URL's host changes with the port

    events: list[str] = []
    messages: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def event_sender(worker: int):
        client = lambda_client_for(srv.endpoint)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                request_id = send_event(client, name, {"id": f"{worker}-{n}"})
            except Exception:
                return  # the server is gone
            with lock:
                events.append(request_id)

    def message_sender(worker: int):
        client = sqs_client(srv.endpoint)
        n = 0
        while not stop.is_set():
            n += 1
            body = f"m{worker}-{n}"
            try:
                client.send_message(QueueUrl=url, MessageBody=body)
            except Exception:
                return
            with lock:
                messages.append(body)

    threads = [threading.Thread(target=event_sender, args=(w,)) for w in range(8)]
    threads += [threading.Thread(target=message_sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    # Kill mid-stream: once both streams are flowing (boto3 clients take a while to start on a
    # busy machine), and while they still are.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (len(events) < 40 or len(messages) < 20):
        time.sleep(0.1)
    srv.stop(sig=signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(events) > 20 and len(messages) > 10, (len(events), len(messages))

    restarted = start_server(data)
    expected = set(events)
    done = wait_for(lambda: expected <= {c["request_id"] for c in calls(out)}, timeout=90)
    seen = Counter(c["request_id"] for c in calls(out) if c["request_id"] in expected)
    missing = expected - set(seen)
    assert done and not missing, f"{len(missing)} of {len(expected)} acknowledged events never ran"

    sqs = sqs_client(restarted.endpoint)
    url = sqs.get_queue_url(QueueName=path.split("/")[1])["QueueUrl"]
    got: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not batch:
            break
        got.extend(m["Body"] for m in batch)
    lost = set(messages) - set(got)
    assert not lost, f"{len(lost)} of {len(messages)} acknowledged messages are gone"
    print(f"\ngroup-commit SIGKILL: {len(expected)} events and {len(messages)} messages acknowledged, none lost")
    assert wait_for(lambda: metrics(restarted.endpoint)["nubo_async_queue_depth"] == 0, timeout=30)
