"""Asynchronous delivery follows concurrency: an event is handed to its function only when a
concurrency slot is free, so events queued behind a busy function wait for a slot instead of
meeting throttles and backing off."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, credentials_for, error_of
from test_async import calls, create_recorder, metrics, send_event, wait_for

EVENTS = 25
SLEEP = 0.3


def throttles_of(endpoint: str, name: str) -> float:
    return sum(
        v
        for k, v in metrics(endpoint).items()
        if k.startswith("nubo_function_throttles") and f'function="{name}"' in k
    )


def test_reserved_concurrency_one_runs_queued_events_back_to_back(lam, endpoint, tmp_path):
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    lam.invoke(FunctionName=name, Payload=json.dumps({"id": "warm-up"}))  # a warm environment
    before = metrics(endpoint)

    started = time.monotonic()
    ids = [send_event(lam, name, {"id": i, "sleep": SLEEP}) for i in range(EVENTS)]

    # While the events hold the only slot, a synchronous call is refused (the one throttle).
    # Wait until they run (a loaded machine may take a moment to hand the first over); a call
    # that lands in the instant between two events may still get the slot, so try a few times.
    assert wait_for(lambda: len(calls(out)) >= 2, timeout=20, interval=0.02)
    refused = None
    for _ in range(5):
        try:
            lam.invoke(FunctionName=name, Payload=b"{}")
        except ClientError as e:
            refused = e
            break
    assert refused is not None, "no synchronous call was refused while the events ran"
    code = refused.response["Error"]["Code"]
    status = refused.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (code, status) == ("TooManyRequestsException", 429), refused

    done = wait_for(lambda: {c["request_id"] for c in calls(out)} >= set(ids), timeout=60, interval=0.05)
    elapsed = time.monotonic() - started
    assert done, f"{len(calls(out))} of {EVENTS} ran"
    print(f"\n{EVENTS} events of {SLEEP} s at reserved concurrency 1: {elapsed:.1f} s")
    # 25 × 0.3 s back to back is 7.5 s (about 8 s with each hand-over); throttle backoff (100 ms
    # doubling up to a minute) would take minutes. The margin is for a loaded machine.
    assert elapsed < EVENTS * SLEEP * 2, f"25 events took {elapsed:.1f} s"
    assert elapsed >= EVENTS * SLEEP * 0.9, f"ran faster than one at a time: {elapsed:.1f} s"

    after = metrics(endpoint)
    assert after["nubo_async_throttled_total"] == before["nubo_async_throttled_total"]
    assert throttles_of(endpoint, name) == 1  # the synchronous call above, nothing else
    assert wait_for(lambda: metrics(endpoint)["nubo_async_queue_depth"] == 0, timeout=10)


def test_events_for_a_disabled_function_wait_and_run_once_enabled(lam, endpoint, tmp_path):
    """Reserved concurrency 0 (the function is disabled): accepted events wait — none runs, none
    is throttled — and all run once the reservation is removed."""
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    before = metrics(endpoint)
    ids = [send_event(lam, name, {"id": i}) for i in range(3)]
    time.sleep(1.0)
    assert calls(out) == []
    lam.delete_function_concurrency(FunctionName=name)
    assert wait_for(lambda: {c["request_id"] for c in calls(out)} >= set(ids), timeout=20)
    assert metrics(endpoint)["nubo_async_throttled_total"] == before["nubo_async_throttled_total"]
    assert throttles_of(endpoint, name) == 0


def test_an_event_for_a_missing_function_is_refused_before_queueing(lam):
    name = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as missing:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    code, status, message = error_of(missing)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert name in message


def test_a_user_without_invoke_permission_cannot_queue_events(lam, endpoint, tmp_path):
    name = create_recorder(lam, tmp_path / "calls.jsonl")
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}),
        **credentials_for(endpoint),
    )
    user = f"async-reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = boto3.client(
        "lambda", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 0}),
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
    )
    reader.get_function(FunctionName=name)
    before = metrics(endpoint)["nubo_async_events_accepted_total"]
    with pytest.raises(ClientError) as refused:
        reader.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    code, status, _ = error_of(refused)
    assert (code, status) == ("AccessDeniedException", 403)
    assert metrics(endpoint)["nubo_async_events_accepted_total"] == before
