"""`nubo serve` flags: --concurrency and --idle-timeout (invocation behaviour), --store (where state lives)."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, error_of, invoke, lambda_client_for, make_zip, unique_name

SLEEPER = """
import time

def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"request_id": context.aws_request_id}
"""


def _create(lam, files=None, **kwargs):
    name = unique_name("opt")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip(files or {"app.py": SLEEPER})}, **kwargs,
    )
    return name


def test_account_concurrency_limit(start_server, tmp_path):
    srv = start_server(tmp_path / "conc", ["--concurrency", "2"])
    lam = lambda_client_for(srv.endpoint)
    assert lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 2
    name = _create(lam)
    barrier = threading.Barrier(3)

    def call(_):
        barrier.wait()
        try:
            return invoke(lam, name, {"seconds": 1.5})
        except ClientError as e:
            return e

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(call, range(3)))
    throttled = [o for o in outcomes if isinstance(o, ClientError)]
    served = [o for o in outcomes if not isinstance(o, ClientError)]
    assert len(served) == 2 and all(o.function_error is None for o in served), outcomes
    assert len(throttled) == 1, outcomes
    response = throttled[0].response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("TooManyRequestsException", 429)
    assert response.get("Reason") == "ConcurrentInvocationLimitExceeded", response
    # Capacity comes back once the calls finish.
    assert invoke(lam, name, {}).function_error is None


def test_idle_environments_are_reaped(start_server, tmp_path):
    srv = start_server(tmp_path / "idle", ["--idle-timeout", "1"])
    lam = lambda_client_for(srv.endpoint)
    name = _create(lam)
    assert "Init Duration" in invoke(lam, name, {}, log=True).log
    assert "Init Duration" not in invoke(lam, name, {}, log=True).log
    time.sleep(2.5)
    assert "Init Duration" in invoke(lam, name, {}, log=True).log, "the idle environment was not reaped"


def test_store_url_puts_the_database_elsewhere(start_server, tmp_path):
    db = tmp_path / "state" / "elsewhere.db"
    args = ["--store", f"sqlite:{db}"]
    srv = start_server(tmp_path / "store-url", args)
    assert f"nubo: store: SQLite (WAL) at {db}" in srv.stdout_lines, srv.stdout_lines
    lam = lambda_client_for(srv.endpoint)
    name = _create(lam)
    assert db.is_file() and not (tmp_path / "store-url" / "nubo.db").exists()
    again = start_server.restart(srv)
    assert invoke(lambda_client_for(again.endpoint), name, {}).function_error is None


def test_an_unknown_store_scheme_is_refused(tmp_path):
    import subprocess
    from conftest import NUBO

    result = subprocess.run(
        [str(NUBO), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
         "--store", "postgres://db/nubo"],
        capture_output=True, timeout=30,
    )
    assert result.returncode != 0
    assert b"unknown store URL scheme \"postgres\"" in result.stderr, result.stderr
