"""Sealed environments: a network of their own, a seccomp filter, CPU limits from the first
invocation, frozen while idle, gone with the server.

An attacker's function scans for other environments' Runtime APIs and the host's loopback services
and finds nothing; in `host-loopback` mode it reaches a server on the host's loopback (and still no
other environment); in `outbound` mode it reaches a test host in a network namespace of its own.
Each test is skipped, with the server's own words, where the server reported the piece unavailable.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import netns_hosts
from conftest import invoke, lambda_client_for, make_zip, unique_name, ROLE

SCANNER = r"""
import ctypes, json, os, socket, urllib.request

def listening():
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)

def connects(host, port, timeout=0.5):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        return s.connect_ex((host, port)) == 0
    except OSError:
        return False
    finally:
        s.close()

def sweep():
    # Every TCP port of 127.0.0.1, non-blocking, a few hundred at a time.
    import select
    open_ports = []
    for start in range(1, 65536, 512):
        pending = {}
        for port in range(start, min(start + 512, 65536)):
            s = socket.socket()
            s.setblocking(False)
            if s.connect_ex(("127.0.0.1", port)) in (0, 115):
                pending[s.fileno()] = (s, port)
            else:
                s.close()
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        waited = 0
        while pending and waited < 20:
            for fd, _ in poller.poll(100):
                s, port = pending.pop(fd)
                poller.unregister(fd)
                # A connection to itself (source port == destination port) is TCP's simultaneous
                # open, not a listener.
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and s.getsockname()[1] != port:
                    open_ports.append(port)
                s.close()
            waited += 1
        for s, _ in pending.values():
            s.close()
    return open_ports

def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:
            return reply.read().decode()
    except Exception as e:
        return "error: " + type(e).__name__

def handler(event, context):
    result = {
        "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "listening": listening(),
        "health": fetch(os.environ["AWS_ENDPOINT_URL"] + "/_nubo/health"),
        "probed": {str(p): connects("127.0.0.1", p) for p in event.get("ports", [])},
        "probed6": {str(p): connects("::1", p) for p in event.get("ports", [])},
        "data_dir": os.path.exists(event.get("data_dir", "/nonexistent")),
    }
    if event.get("sweep"):
        result["open"] = sweep()
    for url in event.get("urls", []):
        result.setdefault("fetched", {})[url] = fetch(url)
    return result
"""

SYSCALLS = r"""
import ctypes, os, platform

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER = 0x10000000
# keyctl and bpf have no libc wrappers: their numbers.
KEYCTL, BPF = {"x86_64": (250, 321), "aarch64": (219, 280)}[platform.machine()]

def errno_of(ret):
    return 0 if ret == 0 else ctypes.get_errno()

def handler(event, context):
    return {
        "unshare_user": errno_of(libc.unshare(CLONE_NEWUSER)),
        "unshare_net": errno_of(libc.unshare(0x40000000)),
        "mount": errno_of(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
        "ptrace": errno_of(libc.ptrace(0, 0, None, None)),  # PTRACE_TRACEME
        "keyctl": errno_of(libc.syscall(KEYCTL, 0, 0)),
        "bpf": errno_of(libc.syscall(BPF, 0, None, 0)),
        "pid": os.getpid(),
    }
"""

BUSY = r"""
import time

def handler(event, context):
    wall0, cpu0 = time.monotonic(), time.process_time()
    while time.monotonic() - wall0 < event["seconds"]:
        pass
    return {"cpu": time.process_time() - cpu0, "wall": time.monotonic() - wall0}
"""

BACKGROUND = r"""
import threading, time

counter = 0

def tick():
    global counter
    while True:
        counter += 1
        time.sleep(0.01)

threading.Thread(target=tick, daemon=True).start()

def handler(event, context):
    return counter
"""

@pytest.fixture(scope="session")
def isolation(server) -> str:
    lines = [l for l in server.stdout_lines if l.startswith("nubo: isolation: ")]
    assert lines, server.stdout_lines
    return lines[0]


def isolation_of(srv) -> str:
    lines = [l for l in srv.stdout_lines if l.startswith("nubo: isolation: ")]
    assert lines, srv.stdout_lines
    return lines[0]


def require(isolation: str, pattern: str, what: str) -> None:
    if not re.search(pattern, isolation):
        pytest.skip(f"{what} unavailable here; the server said: {isolation}")


def ok(result):
    assert result.function_error is None, result
    return result.json


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@pytest.fixture
def loopback_server():
    """A server on the host's loopback that answers GET with a marker."""
    marker = f"host-loopback-{os.getpid()}-{time.monotonic_ns()}".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(marker)))
            self.end_headers()
            self.wfile.write(marker)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], marker.decode()
    srv.shutdown()


def create(lam, source: str, **kwargs) -> str:
    name = unique_name("sealed")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": source})},
        Timeout=60,
        **kwargs,
    )
    return name


def host_listeners_of(pid: int) -> set[int]:
    """Ports the process listens on in the host's network namespace."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(name).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_a_scanning_function_finds_no_other_environment_no_host_service_and_no_data_dir(
    lam, server, isolation, loopback_server
):
    require(isolation, r"namespaces: [a-z,]*net", "a network namespace per environment")
    host_port, marker = loopback_server
    port = port_of(server.endpoint)
    # Another function's environment, warm, with its Runtime API somewhere.
    other = create(lam, "def handler(e, c):\n    return 'other'\n")
    assert ok(invoke(lam, other)) == "other"
    # The server listens on the host at its own port only: no environment's Runtime API is there.
    assert host_listeners_of(server.proc.pid) == {port}

    scanner = create(lam, SCANNER, MemorySize=1769)
    common = [5432, 6379, 4222, 3306, 5672, 1883, 9001, port, host_port]
    seen = ok(
        invoke(lam, scanner, {"ports": common, "sweep": True, "data_dir": str(server.data_dir)})
    )
    # Lambda's addresses: its own Runtime API at 127.0.0.1:9001; Nubo at AWS_ENDPOINT_URL.
    assert seen["runtime_api"] == "127.0.0.1:9001", seen
    assert seen["endpoint"] == f"http://127.0.0.1:{port}", seen
    assert not seen["health"].startswith("error"), seen
    # Its namespace holds its own two listeners and nothing else, on any address.
    assert seen["listening"] == sorted({9001, port}), seen
    assert sorted(seen["open"]) == sorted({9001, port}), seen["open"]
    for service in (5432, 6379, 4222, 3306, 5672, 1883, host_port):
        assert seen["probed"][str(service)] is False, (service, seen)
        assert seen["probed6"][str(service)] is False, (service, seen)
    assert seen["data_dir"] is False


def test_outbound_reaches_a_test_host_and_none_reaches_only_nubo(lam, isolation, start_server):
    require(isolation, r"outbound via", "outbound networking")
    if not netns_hosts.available():
        pytest.skip("test hosts need root and iproute2")
    host = netns_hosts.start("marker", "hello-from-the-test-host")
    scanner = create(lam, SCANNER)
    seen = ok(invoke(lam, scanner, {"urls": [host.url + "/"]}))
    assert seen["fetched"][host.url + "/"] == "hello-from-the-test-host", seen

    # --function-network none: the Nubo endpoint only.
    sealed = start_server(extra_args=["--function-network", "none"])
    assert "nothing else (--function-network none)" in isolation_of(sealed)
    lam_none = lambda_client_for(sealed.endpoint)
    scanner = create(lam_none, SCANNER)
    seen = ok(invoke(lam_none, scanner, {"urls": [host.url + "/"]}))
    assert seen["fetched"][host.url + "/"].startswith("error"), seen
    assert seen["endpoint"] == f"http://127.0.0.1:{port_of(sealed.endpoint)}", seen
    assert not seen["health"].startswith("error"), seen


def test_host_loopback_reaches_the_hosts_loopback_and_still_no_other_environment(
    start_server, loopback_server
):
    host_port, marker = loopback_server
    srv = start_server(extra_args=["--function-network", "host-loopback"])
    isolation = isolation_of(srv)
    require(isolation, r"127\.0\.0\.1:<port>", "host-loopback through pasta")
    lam = lambda_client_for(srv.endpoint)
    port = port_of(srv.endpoint)
    other = create(lam, "def handler(e, c):\n    return 'other'\n")
    assert ok(invoke(lam, other)) == "other"
    assert host_listeners_of(srv.proc.pid) == {port}

    scanner = create(lam, SCANNER)
    url = f"http://127.0.0.1:{host_port}/"
    seen = ok(invoke(lam, scanner, {"urls": [url], "ports": [9001, port]}))
    assert seen["fetched"][url] == marker, seen
    assert seen["runtime_api"] == "127.0.0.1:9001" and seen["probed"]["9001"] is True, seen
    assert not seen["health"].startswith("error"), seen


def test_seccomp_refuses_namespaces_mount_ptrace_keyrings_and_bpf_with_eperm(lam, isolation):
    require(isolation, r"seccomp: EPERM", "the seccomp filter")
    name = create(lam, SYSCALLS)
    seen = ok(invoke(lam, name))
    for call in ("unshare_user", "unshare_net", "mount", "ptrace", "keyctl", "bpf"):
        assert seen[call] == 1, (call, seen)  # EPERM, and the runtime lived to say so
    assert ok(invoke(lam, name))["pid"] == seen["pid"]  # same environment, still alive


def test_a_busy_first_invocation_of_a_128_mb_function_is_throttled(lam, isolation):
    require(isolation, r"cgroup v1: [a-z,]*cpu", "the CPU cgroup")
    small = create(lam, BUSY, MemorySize=128)
    big = create(lam, BUSY, MemorySize=1769)
    # Each invocation is its function's first: the quota applies from the end of init on.
    throttled = ok(invoke(lam, small, {"seconds": 1.5}))
    whole_cpu = ok(invoke(lam, big, {"seconds": 1.5}))
    # 128 MB buys 128/1769 of a CPU (~7%); 1769 MB a whole one, of which a busy loop gets what
    # the machine spares (all of it when idle, a third on a busy 2-core machine).
    share = throttled["cpu"] / throttled["wall"]
    assert share < 0.15, throttled
    assert whole_cpu["cpu"] / whole_cpu["wall"] > 1.5 * share, (throttled, whole_cpu)


def test_background_threads_do_not_run_between_invocations(lam, isolation):
    require(isolation, r"idle environments frozen", "the freezer")
    name = create(lam, BACKGROUND, MemorySize=512)
    first = ok(invoke(lam, name))
    idle_started = time.monotonic()
    # The environment sits idle; unfrozen, the thread would count ~100 a second.
    while time.monotonic() - idle_started < 1.5:
        time.sleep(0.1)
    second = ok(invoke(lam, name))
    assert second - first < 15, (first, second)
    third = ok(invoke(lam, name, {}))
    assert third >= second


def test_environments_do_not_outlive_a_sigkilled_server(start_server):
    srv = start_server()
    lam = lambda_client_for(srv.endpoint)
    name = create(lam, "def handler(e, c):\n    return 1\n")
    assert ok(invoke(lam, name)) == 1
    marker = str(srv.data_dir)

    def leftovers() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"__sandbox-init" in cmdline and marker.encode() in cmdline:
                found.append(int(entry.name))
        return found

    def children_of(pids: list[int]) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) in pids:
                found.append(int(entry.name))
        return found

    helpers = leftovers()
    if not helpers:
        pytest.skip("this server runs environments without the sandbox helper")
    # The runtime and the network stack (slirp4netns or pasta) are the helpers' children.
    everything = helpers + children_of(helpers)
    assert len(everything) > len(helpers)
    os.kill(srv.proc.pid, signal.SIGKILL)  # the server alone, not its process group
    deadline = time.monotonic() + 10
    alive = lambda: [pid for pid in everything if Path(f"/proc/{pid}").exists()]  # noqa: E731
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive() == [], "environment processes outlived the server"


def test_the_default_network_uses_slirp4netns_when_it_is_installed(isolation):
    require(isolation, r"namespaces: [a-z,]*net", "a network namespace per environment")
    if not shutil.which("slirp4netns"):
        pytest.skip("slirp4netns is not installed (scripts/test.sh installs it as root)")
    assert "outbound via slirp4netns (host loopback unreachable)" in isolation, isolation
    assert "refused:" not in isolation or "slirp4netns" not in isolation.split("refused:", 1)[1], isolation
