"""End-to-end fixtures: a real `nubo serve` process, real boto3 clients, zips built in memory.

Run through `scripts/test.sh` (which builds `target/debug/nubo` and the Rust fixture `bootstrap`), or
directly with `.venv/bin/python -m pytest tests/e2e` after `cargo build -p nubo -p rust-runtime-fixture`.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
NUBO = REPO / "target" / "debug" / "nubo"
RUST_BOOTSTRAP = REPO / "target" / "debug" / "bootstrap"
EXAMPLES = REPO / "examples"

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE_NAME = "nubo-e2e"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
# Every server verifies signatures: clients sign with the administrator's key each server writes to
# its data dir at first start (`<data>/credentials`, profile `nubo`), looked up by endpoint.
_CREDENTIALS_BY_ENDPOINT: dict[str, dict[str, str]] = {}


def credentials_for(endpoint: str) -> dict[str, str]:
    """boto3 keyword arguments with the administrator's key of the server at `endpoint`."""
    try:
        return dict(_CREDENTIALS_BY_ENDPOINT[endpoint.rstrip("/")])
    except KeyError:
        pytest.fail(f"no credentials known for {endpoint}: was it started through NuboServer?")


def client_env_for(endpoint: str) -> dict[str, str]:
    """Environment variables that make the AWS CLI and `nubo` sign as the server's administrator."""
    creds = credentials_for(endpoint)
    return {
        "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def read_credentials(path: Path, profile: str = "nubo") -> dict[str, str] | None:
    """The key of `profile` in an AWS shared-credentials file."""
    import configparser

    if not path.is_file():
        return None
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section(profile):
        return None
    section = parser[profile]
    return {
        "aws_access_key_id": section["aws_access_key_id"],
        "aws_secret_access_key": section["aws_secret_access_key"],
    }

# --------------------------------------------------------------------------------------------------
# Waiting as deploy tools do
# --------------------------------------------------------------------------------------------------
#
# As on AWS, CreateFunction answers `State: Pending` and an update `LastUpdateStatus: InProgress`; a
# Pending function cannot be invoked and an update in progress refuses the next one, for the few
# milliseconds Nubo takes to settle them. Real tools wait with boto3's waiters (Terraform and CDK do
# the same); so do the tests: every boto3 Lambda client of this session waits after
# CreateFunction (`function_active_v2`) and after UpdateFunctionCode/Configuration
# (`function_updated_v2`), polling every 20 ms. A client made with `observe_states_config()` does
# not, so a test can see the states themselves.

WAIT_CONFIG = {"Delay": 0.02, "MaxAttempts": 500}
OBSERVE_STATES = "nubo-observe-states"


def observe_states_config(**kwargs) -> Config:
    """A botocore Config for a Lambda client that does not wait after changes."""
    return Config(user_agent_extra=OBSERVE_STATES, **kwargs)


def wait_active(lam, name: str) -> None:
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT_CONFIG)


def wait_updated(lam, name: str) -> None:
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT_CONFIG)


class _WaitsAfterChanges:
    """Mixed into boto3's Lambda client class: waits after each successful change."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if OBSERVE_STATES in (self.meta.config.user_agent_extra or ""):
            return
        self.meta.events.register("after-call.lambda.CreateFunction", self._nubo_after_create)
        self.meta.events.register("after-call.lambda.UpdateFunctionCode", self._nubo_after_update)
        self.meta.events.register("after-call.lambda.UpdateFunctionConfiguration", self._nubo_after_update)

    def _nubo_after_create(self, http_response, parsed, **kwargs):
        if http_response.status_code < 300 and parsed.get("FunctionName"):
            wait_active(self, parsed["FunctionName"])

    def _nubo_after_update(self, http_response, parsed, **kwargs):
        if http_response.status_code < 300 and parsed.get("FunctionName"):
            wait_updated(self, parsed["FunctionName"])


def _add_waiting(base_classes, **kwargs):
    base_classes.insert(0, _WaitsAfterChanges)


boto3.setup_default_session()
boto3.DEFAULT_SESSION.events.register("creating-client-class.lambda", _add_waiting)


LISTENING = re.compile(r"^nubo: listening on (http://\S+)\s*$")
START_TIMEOUT = 30.0

# The runtimes' AWS SDKs (boto3, the SDK for JavaScript) are installed by the servers themselves, in
# the background, into one directory every test server shares: the first server of a session on a
# fresh machine installs them, the others find them (servers take turns with a lock), and later
# sessions reuse them (`cargo clean` removes them).
RUNTIME_SDK_DIR = REPO / "target" / "e2e-runtime-sdk"
RUNTIME_SDK_LINE = "nubo: runtime SDKs: "
RUNTIME_SDK_TIMEOUT = 600.0


# --------------------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------------------


class NuboServer:
    """One `nubo serve` process in its own process group, on a free port."""

    def __init__(
        self,
        data_dir: Path,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
        extra_env: dict[str, str] | None = None,
        binary: Path | None = None,
        listen: str = "127.0.0.1:0",
    ):
        self.binary = Path(binary or NUBO)
        self.listen = listen
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args or [])
        self.extra_env = dict(extra_env or {})
        self.log_path = log_path or (self.data_dir.parent / f"{self.data_dir.name}-server-{uuid.uuid4().hex[:6]}.log")
        self.proc: subprocess.Popen | None = None
        self.endpoint: str = ""
        self.stdout_lines: list[str] = []
        self.credentials: dict[str, str] = {}
        self._listening = threading.Event()

    def start(self) -> "NuboServer":
        if not self.binary.is_file():
            pytest.fail(f"{self.binary} is missing: run `cargo build -p nubo -p rust-runtime-fixture` first")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.setdefault("NUBO_LOG", "info")
        for var in ("NUBO_LISTEN", "NUBO_DATA_DIR", "NUBO_ENDPOINT"):
            env.pop(var, None)
        env.setdefault("NUBO_RUNTIME_SDK_DIR", str(RUNTIME_SDK_DIR))
        env.update(self.extra_env)
        self._stderr = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--listen", self.listen, "--data-dir", str(self.data_dir), *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            cwd=str(REPO),
            env=env,
            start_new_session=True,  # own process group: teardown kills everything it started
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        if not self._listening.wait(START_TIMEOUT) or not self.endpoint:
            output = "\n".join(self.stdout_lines)
            self.stop()
            pytest.fail(
                f"nubo serve did not print its listening line within {START_TIMEOUT}s "
                f"(exit={self.proc.returncode}).\nstdout:\n{output}\nstderr:\n{self.stderr_text()}"
            )
        self._wait_healthy()
        self._admit_tests()
        return self

    def _admit_tests(self) -> None:
        """Reads the administrator's key the server wrote and makes sure the execution role the
        tests name exists (trusting Lambda, with Lambda's full access so functions may call back)."""
        from botocore.exceptions import ClientError

        creds = read_credentials(self.data_dir / "credentials")
        if creds is None:
            # A binary from before identities (the upgrade test's previous release) accepts any key.
            creds = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        self.credentials = creds
        _CREDENTIALS_BY_ENDPOINT[self.endpoint.rstrip("/")] = creds
        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=30),
            **creds,
        )
        try:
            iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=LAMBDA_TRUST)
            iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn="arn:aws:iam::aws:policy/AWSLambda_FullAccess")
        except ClientError as e:
            # Kept from an earlier start on this data dir; or an old binary without IAM.
            if e.response["Error"]["Code"] not in ("EntityAlreadyExists", "InvalidAction"):
                raise

    def client(self, service: str, **config):
        """A boto3 client of this server signing as its administrator."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(**{"retries": {"max_attempts": 0}, "connect_timeout": 10, "read_timeout": 120, **config}),
            **self.credentials,
        )

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            match = LISTENING.match(line)
            if match and not self.endpoint:
                self.endpoint = match.group(1)
                self._listening.set()
        self._listening.set()  # EOF: wake the waiter; it sees no endpoint

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.endpoint + "/_nubo/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError) as e:  # not up yet
                last = e
            time.sleep(0.05)
        pytest.fail(f"{self.endpoint}/_nubo/health never answered 200: {last}\n{self.stderr_text()}")

    def stderr_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Signals the process group, waits, and SIGKILLs whatever is left."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self._stderr.close()
        except Exception:
            pass
        return proc.returncode

    def restart(self) -> "NuboServer":
        """Stops this server (SIGTERM) and starts a new one on the same data dir and arguments."""
        self.stop()
        return NuboServer(self.data_dir, self.extra_args, extra_env=self.extra_env, listen=self.listen).start()

    def runtime_sdk_outcome(self, timeout: float = RUNTIME_SDK_TIMEOUT) -> str:
        """Waits until the server says how its runtime SDKs stand (ready at start, or the end of its
        background install, successful or not) and returns that line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout_lines:
                if line.startswith(RUNTIME_SDK_LINE) and "installing into" not in line:
                    return line
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"no runtime SDKs within {timeout}s: {self.stdout_lines}\n{self.stderr_text()}")

    def runtime_sdk(self, timeout: float = RUNTIME_SDK_TIMEOUT) -> str:
        """The runtime SDK line once they are ready; fails the test if the install failed."""
        line = self.runtime_sdk_outcome(timeout)
        if "installation failed" in line:
            pytest.fail(f"the runtime SDKs could not be installed: {line}\n{self.stderr_text()}")
        return line


def lambda_client_for(endpoint: str, validate: bool = True):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(
            retries={"max_attempts": 0},
            read_timeout=120,
            connect_timeout=10,
            parameter_validation=validate,
        ),
        **credentials_for(endpoint),
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server for the session."""
    data_dir = tmp_path_factory.mktemp("nubo") / "data"
    srv = NuboServer(data_dir).start()
    yield srv
    srv.stop()


@pytest.fixture
def start_server(tmp_path):
    """Starts extra servers (e.g. on a given data dir or with --deploy-examples); all stopped at teardown."""
    started: list[NuboServer] = []

    def start(
        data_dir: Path | None = None,
        extra_args: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
        listen: str = "127.0.0.1:0",
    ) -> NuboServer:
        srv = NuboServer(
            data_dir or (tmp_path / f"data-{len(started)}"), extra_args, extra_env=extra_env, listen=listen
        ).start()
        started.append(srv)
        return srv

    def restart(srv: NuboServer) -> NuboServer:
        new = srv.restart()
        started.append(new)
        return new

    start.restart = restart  # type: ignore[attr-defined]
    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def endpoint(server) -> str:
    return server.endpoint


@pytest.fixture(scope="session")
def lam(endpoint):
    """boto3 Lambda client against the session server; no retries, generous read timeout."""
    return lambda_client_for(endpoint)


@pytest.fixture(scope="session")
def lam_unvalidated(endpoint):
    """Same, with botocore's client-side parameter validation off, so the server sees bad values."""
    return lambda_client_for(endpoint, validate=False)


# --------------------------------------------------------------------------------------------------
# Zips and functions
# --------------------------------------------------------------------------------------------------


def make_zip(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> bytes:
    """A zip built in memory from {path: source}; paths in `executable` (and `bootstrap`) get 0o755."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if (name in executable or name.rsplit("/", 1)[-1] == "bootstrap") else 0o644
            info.external_attr = (0o100000 | mode) << 16  # regular file + permissions
            info.create_system = 3  # unix, so the mode is honoured
            zf.writestr(info, content.encode() if isinstance(content, str) else content)
    return buf.getvalue()


class ZipBytes(bytes):
    """Zip bytes with a short repr, so failing tests do not print megabytes."""

    def __repr__(self) -> str:
        return f"<zip: {len(self)} bytes>"


def rust_fixture_zip() -> bytes:
    if not RUST_BOOTSTRAP.is_file():
        pytest.fail(f"{RUST_BOOTSTRAP} is missing: run `cargo build -p rust-runtime-fixture`")
    return ZipBytes(make_zip({"bootstrap": RUST_BOOTSTRAP.read_bytes()}))


@pytest.fixture(scope="session")
def rust_zip() -> bytes:
    """The Rust lambda_runtime fixture as a provided.al2023 zip (built once per session)."""
    return rust_fixture_zip()


_counter = itertools.count()


def unique_name(prefix: str = "fn") -> str:
    """A function name unique to this run (1–64 chars of [A-Za-z0-9-_])."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{next(_counter)}"[:64]


PY_ECHO = """
def handler(event, context):
    return {"echo": event}
"""


@pytest.fixture
def make_function(lam):
    """Creates functions with sensible defaults; deletes them at teardown."""
    created: list[str] = []

    def create(
        files: dict[str, str | bytes] | None = None,
        runtime: str = "python3.12",
        handler: str | None = "app.handler",
        name: str | None = None,
        zip_bytes: bytes | None = None,
        **kwargs,
    ) -> dict:
        name = name or unique_name(runtime.replace(".", "").replace("al2023", "").replace("al2", ""))
        code = zip_bytes if zip_bytes is not None else make_zip(files or {"app.py": PY_ECHO})
        params = {"FunctionName": name, "Runtime": runtime, "Role": ROLE, "Code": {"ZipFile": code}, **kwargs}
        if handler is not None:
            params["Handler"] = handler
        config = lam.create_function(**params)
        created.append(name)
        # As a deploy tool would (the session's clients already wait; this says so here too).
        wait_active(lam, name)
        return config

    yield create
    for name in created:
        try:
            lam.delete_function(FunctionName=name)
        except Exception:
            pass


# --------------------------------------------------------------------------------------------------
# Invocation helpers
# --------------------------------------------------------------------------------------------------


class Invocation:
    """A decoded Invoke response."""

    def __init__(self, response: dict):
        self.raw = response
        self.status = response["StatusCode"]
        self.function_error = response.get("FunctionError")
        self.executed_version = response.get("ExecutedVersion")
        self.body = response["Payload"].read() if "Payload" in response else b""
        tail = response.get("LogResult")
        self.log = base64.b64decode(tail).decode("utf-8", "replace") if tail else ""

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        return (
            f"Invocation(status={self.status}, error={self.function_error!r}, "
            f"body={self.body[:500]!r}, log={self.log[-1500:]!r})"
        )


def invoke(lam, name: str, payload=None, log: bool = False, **kwargs) -> Invocation:
    params = dict(FunctionName=name, **kwargs)
    if payload is not None:
        params["Payload"] = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    if log:
        params["LogType"] = "Tail"
    return Invocation(lam.invoke(**params))


def error_of(excinfo) -> tuple[str, int, str]:
    """(Code, HTTP status, message) of a botocore ClientError."""
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
