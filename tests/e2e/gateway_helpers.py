"""Helpers shared by the API Gateway and Function URL tests: clients and raw HTTP calls."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from conftest import REGION, credentials_for


def apigw_client_for(endpoint: str, region: str = REGION):
    return boto3.client(
        "apigatewayv2",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10),
        **credentials_for(endpoint),
    )


class Reply:
    """A raw HTTP response: status, headers (lower-cased, repeated kept) and body."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.header_list = [(k.lower(), v) for k, v in headers]
        self.body = body

    def header(self, name: str) -> str | None:
        for k, v in self.header_list:
            if k == name.lower():
                return v
        return None

    def headers_named(self, name: str) -> list[str]:
        return [v for k, v in self.header_list if k == name.lower()]

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.header_list}, {self.body[:800]!r})"


def request(endpoint: str, method: str, path: str, body: bytes | str | None = None,
            headers: dict | list | None = None, host: str | None = None, timeout: float = 60) -> Reply:
    """Sends one request to the server at `endpoint`; `host` overrides the Host header."""
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or parts.netloc)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        for k, v in items:
            conn.putheader(k, v)
        data = body.encode() if isinstance(body, str) else body
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        return Reply(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def api_host(endpoint: str, api_id: str, region: str = REGION) -> str:
    """The host of an API's `ApiEndpoint`: it names the API's region, as AWS's does."""
    return f"{api_id}.execute-api.{region}.localhost:{urlsplit(endpoint).port}"


def url_id(function_url: str) -> str:
    """The id in a Function URL, path-style (`{endpoint}/_url/{id}/`, the default) or host-style."""
    parts = urlsplit(function_url)
    if parts.path.startswith("/_url/"):
        return parts.path.split("/")[2]
    return parts.hostname.split(".")[0]


def url_host(endpoint: str, function_url: str, region: str = REGION) -> str:
    """The `{id}.lambda-url.{region}.localhost` host of a Function URL (both forms route)."""
    return f"{url_id(function_url)}.lambda-url.{region}.localhost:{urlsplit(endpoint).port}"
