"""A channel from functions to files on the test host.

Sandboxed functions have no view of the host's filesystem (their root is a private skeleton with
the code at /var/task), so a test that wants a function to leave a trace on the host hands it a URL
instead of a path: the function POSTs to it and this server appends the body to the file the URL
names. Functions reach non-loopback destinations only (their own network namespace has no route to
the host's loopback), so where this machine allows it the server runs on a test host of its own
(`netns_hosts`: a network namespace behind a veth pair, sharing the host's files); elsewhere (no
root, so no namespaces for functions either) it runs in the test process on 127.0.0.1.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_lock = threading.Lock()
_server: ThreadingHTTPServer | None = None
_base: str | None = None


class Append(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        path = Path(urllib.parse.unquote(self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _lock:
            if self.headers.get("X-Mode") == "write":
                # Readers poll for the file: it appears whole or not at all.
                partial = path.with_name(path.name + ".partial")
                partial.write_text(body.decode())
                os.replace(partial, path)
            else:
                with open(path, "a") as f:
                    f.write(body.decode())
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


def url_for(path: Path) -> str:
    """A URL that appends what is POSTed to it to `path` (the server starts on first use)."""
    global _server, _base
    with _lock:
        if _base is None:
            import netns_hosts

            if netns_hosts.available():
                _base = netns_hosts.start("files").url
            else:
                _server = ThreadingHTTPServer(("127.0.0.1", 0), Append)
                threading.Thread(target=_server.serve_forever, daemon=True).start()
                _base = f"http://127.0.0.1:{_server.server_address[1]}"
    return f"{_base}{urllib.parse.quote(str(path))}"


# The function side, pasted into function sources: write(target, text) appends to a local file or
# POSTs to a URL from url_for().
FUNCTION_SIDE = '''
import urllib.request as _urlrequest

def write_out(target, text, mode="a"):
    if target.startswith("http://"):
        request = _urlrequest.Request(target, data=text.encode(), method="POST", headers={"X-Mode": "write" if mode == "w" else "append"})
        _urlrequest.urlopen(request, timeout=10).read()
    else:
        with open(target, mode) as f:
            f.write(text)
'''
