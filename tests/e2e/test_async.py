"""Asynchronous invocation: durable accept, retries, destinations, throttles, crash recovery."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, ROLE, error_of, function_arn, invoke, lambda_client_for, make_zip, unique_name
from host_files import FUNCTION_SIDE, url_for

# Appends one JSON line per call to $OUT, through the host-files channel (sandboxed functions do not
# see the host's files); the collector appends each line whole, so concurrent calls don't mix.
RECORDER = FUNCTION_SIDE + """
import json, os, time

def handler(event, context):
    write_out(os.environ["OUT"], json.dumps({"event": event, "request_id": context.aws_request_id}) + "\\n")
    if isinstance(event, dict):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise RuntimeError("asked to fail")
    return {"ok": event.get("id") if isinstance(event, dict) else None}
"""


def create_recorder(lam, out_path, name=None):
    name = name or unique_name("async")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Timeout=30,
        Code={"ZipFile": make_zip({"app.py": RECORDER})},
        Environment={"Variables": {"OUT": url_for(out_path)}},
    )
    return name


def calls(path) -> list[dict]:
    if not path.exists():
        return []
    text = path.read_text()
    # A line still being appended (no newline yet) is read on the next poll.
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for(predicate, timeout=30.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def send_event(lam, name, payload, **kwargs):
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload), **kwargs)
    assert response["StatusCode"] == 202, response
    assert response["Payload"].read() == b""
    return response["ResponseMetadata"]["RequestId"]


def metrics(endpoint) -> dict[str, float]:
    with urllib.request.urlopen(endpoint + "/_nubo/metrics", timeout=5) as reply:
        assert reply.status == 200
        text = reply.read().decode()
    values = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.eE+-]+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


@pytest.fixture
def fast_retry_server(start_server, tmp_path):
    """A server whose asynchronous retries wait 100 ms (then 200 ms) instead of Lambda's minutes."""
    return start_server(tmp_path / "fast", ["--async-retry-delay-ms", "100"])


def test_event_is_accepted_with_202_and_runs_under_its_request_id(lam, tmp_path):
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    try:
        request_id = send_event(lam, name, {"id": "one"})
        seen = wait_for(lambda: calls(out))
        assert [c["event"] for c in seen] == [{"id": "one"}]
        assert seen[0]["request_id"] == request_id
    finally:
        lam.delete_function(FunctionName=name)


def test_invoke_async_is_queued_like_an_event(lam, tmp_path):
    """InvokeAsync (deprecated, still in botocore) queues its InvokeArgs as an Event invocation."""
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    try:
        response = lam.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"id": "legacy"}))
        assert response["Status"] == 202
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
        seen = wait_for(lambda: calls(out))
        assert [c["event"] for c in seen] == [{"id": "legacy"}]
        assert seen[0]["request_id"] == response["ResponseMetadata"]["RequestId"]
        with pytest.raises(ClientError) as e:
            lam.invoke_async(FunctionName=name + "-missing", InvokeArgs=b"{}")
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    finally:
        lam.delete_function(FunctionName=name)


def test_event_errors_before_queueing(lam, lam_unvalidated, tmp_path):
    name = create_recorder(lam, tmp_path / "calls.jsonl")
    try:
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"x" * (1024 * 1024 + 1))
        assert error_of(e)[1] == 413
        assert e.value.response["Error"]["Code"] in ("RequestEntityTooLargeException", "RequestTooLargeException")
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{not json")
        assert error_of(e)[:2] == ("InvalidRequestContentException", 400)
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=name + "-missing", InvocationType="Event", Payload=b"{}")
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
        # Just under the limit is fine.
        big = json.dumps({"pad": "x" * (1024 * 1024 - 100)})
        assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=big)["StatusCode"] == 202
    finally:
        lam.delete_function(FunctionName=name)


def test_event_invoke_config_api(lam, lam_unvalidated, tmp_path):
    name = create_recorder(lam, tmp_path / "calls.jsonl")
    target = create_recorder(lam, tmp_path / "dest.jsonl")
    try:
        with pytest.raises(ClientError) as e:
            lam.get_function_event_invoke_config(FunctionName=name)
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)

        put = lam.put_function_event_invoke_config(
            FunctionName=name,
            MaximumRetryAttempts=1,
            MaximumEventAgeInSeconds=120,
            DestinationConfig={"OnFailure": {"Destination": function_arn(target)}},
        )
        assert put["FunctionArn"] == function_arn(name) + ":$LATEST"
        assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 120
        assert put["DestinationConfig"]["OnFailure"] == {"Destination": function_arn(target)}
        assert put["LastModified"] is not None

        updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        assert updated["MaximumRetryAttempts"] == 0
        assert updated["MaximumEventAgeInSeconds"] == 120  # kept
        assert updated["DestinationConfig"]["OnFailure"] == {"Destination": function_arn(target)}

        # Put replaces: fields not given are gone.
        replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
        assert "MaximumEventAgeInSeconds" not in replaced
        assert "Destination" not in replaced["DestinationConfig"].get("OnFailure", {})

        got = lam.get_function_event_invoke_config(FunctionName=function_arn(name))
        assert got["MaximumRetryAttempts"] == 2
        listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        assert [c["FunctionArn"] for c in listed] == [function_arn(name) + ":$LATEST"]

        for bad, member in (({"MaximumRetryAttempts": 3}, "maximumRetryAttempts"),
                            ({"MaximumEventAgeInSeconds": 59}, "maximumEventAgeInSeconds"),
                            ({"MaximumEventAgeInSeconds": 21601}, "maximumEventAgeInSeconds")):
            with pytest.raises(ClientError) as e:
                lam_unvalidated.put_function_event_invoke_config(FunctionName=name, **bad)
            code, status, message = error_of(e)
            assert (code, status) == ("ValidationException", 400) and member in message
        # Not an ARN at all: the model's pattern (ValidationException); an ARN of a service Nubo
        # cannot deliver to yet: Lambda's own refusal.
        with pytest.raises(ClientError) as e:
            lam.put_function_event_invoke_config(
                FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": "not-an-arn"}}
            )
        code, status, message = error_of(e)
        assert (code, status) == ("ValidationException", 400)
        assert message.startswith(
            "1 validation error detected: Value 'not-an-arn' at 'destinationConfig.onSuccess.destination' "
            "failed to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://"
        ), message
        with pytest.raises(ClientError) as e:
            lam.put_function_event_invoke_config(
                FunctionName=name,
                DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"}},
            )
        assert error_of(e)[:2] == ("InvalidParameterValueException", 400)
        with pytest.raises(ClientError) as e:
            lam.put_function_event_invoke_config(FunctionName=name + "-missing", MaximumRetryAttempts=1)
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)

        lam.delete_function_event_invoke_config(FunctionName=name)
        with pytest.raises(ClientError) as e:
            lam.delete_function_event_invoke_config(FunctionName=name)
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)

        # Deleting the function takes its settings with it.
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        lam.delete_function(FunctionName=name)
        create_recorder(lam, tmp_path / "calls.jsonl", name=name)
        with pytest.raises(ClientError) as e:
            lam.get_function_event_invoke_config(FunctionName=name)
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    finally:
        for n in (name, target):
            try:
                lam.delete_function(FunctionName=n)
            except ClientError:
                pass


@pytest.mark.parametrize("retries", [None, 0, 1])
def test_failing_event_is_retried_then_sent_to_on_failure(fast_retry_server, tmp_path, retries):
    lam = lambda_client_for(fast_retry_server.endpoint)
    out, dest = tmp_path / "calls.jsonl", tmp_path / "dest.jsonl"
    name = create_recorder(lam, out)
    target = create_recorder(lam, dest)
    config = {"DestinationConfig": {"OnFailure": {"Destination": function_arn(target)}}}
    if retries is not None:
        config["MaximumRetryAttempts"] = retries
    lam.put_function_event_invoke_config(FunctionName=name, **config)
    expected_calls = 1 + (2 if retries is None else retries)

    request_id = send_event(lam, name, {"id": "bad", "fail": True})
    records = wait_for(lambda: calls(dest), timeout=20)
    assert len(records) == 1, records
    assert len(calls(out)) == expected_calls
    assert {c["request_id"] for c in calls(out)} == {request_id}  # every attempt is the same invocation

    record = records[0]["event"]
    assert record["version"] == "1.0"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": function_arn(name) + ":$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": expected_calls,
    }
    assert record["requestPayload"] == {"id": "bad", "fail": True}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "asked to fail"

    time.sleep(0.5)  # nothing more arrives
    assert len(calls(out)) == expected_calls and len(calls(dest)) == 1
    m = metrics(fast_retry_server.endpoint)
    assert m["nubo_async_retries_total"] == expected_calls - 1
    assert m["nubo_async_function_errors_total"] == expected_calls


def test_success_goes_to_on_success(fast_retry_server, tmp_path):
    lam = lambda_client_for(fast_retry_server.endpoint)
    out, dest = tmp_path / "calls.jsonl", tmp_path / "dest.jsonl"
    name = create_recorder(lam, out)
    target = create_recorder(lam, dest)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": function_arn(target)}}
    )
    request_id = send_event(lam, name, {"id": "good"})
    records = wait_for(lambda: calls(dest))
    record = records[0]["event"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"id": "good"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": "good"}


def test_failure_without_destination_is_counted_as_dropped(fast_retry_server, tmp_path):
    lam = lambda_client_for(fast_retry_server.endpoint)
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    send_event(lam, name, {"fail": True})
    assert wait_for(lambda: metrics(fast_retry_server.endpoint)["nubo_async_events_dropped_total"] == 1)
    assert len(calls(out)) == 1


def test_throttled_events_wait_instead_of_being_dropped(start_server, tmp_path):
    srv = start_server(tmp_path / "one", ["--concurrency", "1"])
    lam = lambda_client_for(srv.endpoint)
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    # A synchronous call holds the only slot while the events arrive.
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(invoke, lam, name, {"id": "sync", "sleep": 1.0})
        time.sleep(0.3)
        ids = [send_event(lam, name, {"id": i}) for i in range(5)]
        assert busy.result().function_error is None
    done = wait_for(lambda: {c["request_id"] for c in calls(out)} >= set(ids), timeout=30)
    assert done, calls(out)
    m = metrics(srv.endpoint)
    # They waited for the slot rather than meeting throttles (test_async_concurrency.py).
    assert m["nubo_async_throttled_total"] == 0
    assert m["nubo_async_events_dropped_total"] == 0
    assert m["nubo_async_queue_depth"] == 0


def test_metrics_describe_the_queue(lam, endpoint):
    m = metrics(endpoint)
    for key in (
        "nubo_async_queue_depth",
        "nubo_async_oldest_event_age_seconds",
        "nubo_async_events_accepted_total",
        "nubo_async_retries_total",
        "nubo_async_events_dropped_total",
        'nubo_async_end_to_end_seconds{quantile="0.5"}',
    ):
        assert key in m, key


def test_sigkill_under_load_loses_no_acknowledged_event(start_server, tmp_path):
    """Events are sent by several clients while the server is SIGKILLed; after a restart on the
    same data dir every event that got a 202 is processed (at least once)."""
    data = tmp_path / "crash"
    srv = start_server(data)
    lam = lambda_client_for(srv.endpoint)
    out = tmp_path / "calls.jsonl"
    name = create_recorder(lam, out)
    invoke(lam, name, {"id": "warm-up"})

    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker):
        client = lambda_client_for(srv.endpoint)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                # A little work per event keeps a backlog queued when the kill lands.
                request_id = send_event(client, name, {"id": f"{worker}-{n}", "sleep": 0.01})
            except Exception:
                return  # the server is gone
            with lock:
                acked.append(request_id)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    # Kill once a backlog has been acknowledged (time-based waits fail on a loaded machine).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(acked) > 40:
                break
        time.sleep(0.05)
    srv.stop(sig=signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) > 20, f"only {len(acked)} events were acknowledged before the kill"
    processed_before = {c["request_id"] for c in calls(out)}

    restarted = start_server(data)
    expected = set(acked)
    done = wait_for(lambda: expected <= {c["request_id"] for c in calls(out)}, timeout=90)
    seen = Counter(c["request_id"] for c in calls(out) if c["request_id"] in expected)
    missing = expected - set(seen)
    assert done and not missing, f"{len(missing)} of {len(expected)} acknowledged events never ran"
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    print(
        f"\nSIGKILL test: {len(expected)} acknowledged, {len(processed_before & expected)} processed "
        f"before the kill, {len(expected - processed_before)} after restart, {duplicates} duplicates"
    )
    assert wait_for(lambda: metrics(restarted.endpoint)["nubo_async_queue_depth"] == 0, timeout=30)
