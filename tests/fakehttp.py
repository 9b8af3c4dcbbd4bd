"""The HTTP plumbing every API fake shares: a threaded server on 127.0.0.1 (random port).

A fake subclasses `FakeHttpServer` and implements `handle(request) -> Response | None`;
this module parses each request (method, path, query, lower-case headers, raw body) and
writes the answer with its Content-Length. `None` closes the connection unanswered (a
fake that "hangs" a request waits first, then returns None). Used by the Cloudflare fake
(tests/cloudflare/cf_fake_api.py) and the Google ones (tests/gcp/gcp_fake_http.py), so a
new provider's fake is its routes and state, not another server. Loopback only.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """The URL path, percent-encoding kept, no query."""
    query: dict[str, str]
    """Each query parameter's last value (`?a=1&a=2` gives "2"); blank values kept."""
    headers: dict[str, str]
    """Every request header, names in lower case."""
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json", headers or {})


class FakeHttpServer:
    """Start with `start()`, stop with `stop()`; `origin` is `http://127.0.0.1:PORT`."""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None

    def handle(self, request: Request) -> Response | None:
        raise NotImplementedError

    def start(self) -> Self:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def origin(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method,
            url.path,
            {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()},
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length) if length else b"",
        )
        answer = self.server_fake.handle(request)
        if answer is None:
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(answer.body)
