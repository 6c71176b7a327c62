"""Test hosts: small HTTP servers in network namespaces of their own, reached over a veth pair.

Sandboxed functions have a network of their own: they reach non-loopback destinations the host has
a route to, never the host's loopback. A test that wants a function to reach a server starts one
here: `ip netns add` + a veth pair with a /30 of 10.231.0.0/16 (the host routes to it), and a
python process inside serving one of the handlers below. Needs root and iproute2; `available()`
says whether this machine has them. Everything is removed when the test process exits.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

_lock = threading.Lock()
_hosts: list["NetnsHost"] = []
_counter = 0
PREFIX = "nubo-e2e-"


def available() -> bool:
    """True when this process may create network namespaces (root with iproute2)."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _remove_stale() -> None:
    """Namespaces left by test processes that died without cleaning up."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 of 10.231.0.0/16 no interface of this machine uses yet."""
    listing = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    used = set(re.findall(r"inet (10\.231\.\d+\.\d+)/", listing))
    base = int(ipaddress.IPv4Address("10.231.0.0"))
    first = (os.getpid() % 16384) * 4
    for i in range(16384):
        net = ipaddress.IPv4Network((base + (first + 4 * i) % 65536, 30))
        if not {str(net.network_address + 1), str(net.network_address + 2)} & used:
            return net
    raise RuntimeError("no free /30 in 10.231.0.0/16")


class NetnsHost:
    """A network namespace with a veth to the host and one HTTP server process inside."""

    def __init__(self, server_args: list[str]):
        global _counter
        with _lock:
            if not _hosts:
                _remove_stale()
                atexit.register(_cleanup_all)
            _counter += 1
            index = _counter
            self.name = f"{PREFIX}{os.getpid()}-{index}"
            # Interface names are at most 15 characters.
            self.host_if = f"nb{os.getpid() % 100000}h{index}"[:15]
            net = _free_subnet()
            self.gateway = str(net.network_address + 1)
            self.address = str(net.network_address + 2)
            _ip("netns", "add", self.name)
            _hosts.append(self)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.name)
        _ip("addr", "add", f"{self.gateway}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("-n", self.name, "addr", "add", f"{self.address}/30", "dev", "eth0")
        _ip("-n", self.name, "link", "set", "eth0", "up")
        _ip("-n", self.name, "link", "set", "lo", "up")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.name, sys.executable, str(Path(__file__).resolve()), self.address, *server_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("port "):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.close()
            raise RuntimeError(f"the test host's server did not start: {line!r} {err}")
        self.port = int(line.split()[1])
        self.url = f"http://{self.address}:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def _cleanup_all() -> None:
    for host in _hosts:
        try:
            host.close()
        except Exception:
            pass


def start(*server_args: str) -> NetnsHost:
    """A test host serving `marker TEXT` (GET answers TEXT) or `files` (host_files' collector)."""
    return NetnsHost(list(server_args))


# --------------------------------------------------------------------------------------------------
# Inside the namespace: `python netns_hosts.py ADDRESS marker TEXT` or `... ADDRESS files`.
# --------------------------------------------------------------------------------------------------


def _serve(address: str, kind: str, rest: list[str]) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if kind == "files":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from host_files import Append as handler  # the same collector, writing host files
    else:
        text = rest[0].encode()

        class handler(BaseHTTPRequestHandler):  # noqa: N801
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

    server = ThreadingHTTPServer((address, 0), handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.argv[3:])
