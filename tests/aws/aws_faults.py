"""An HTTP proxy in front of moto's server that injects what moto never answers.

AWS throttles Route53 at 5 requests a second (HTTP 400 `Throttling`) and any service can
answer a 5xx; moto does neither. boto3 is aimed at this proxy (AWS_ENDPOINT_URL), which
forwards every request to moto unchanged unless a rule says to fail it. The service of a
request is read from the SigV4 credential scope in its Authorization header, as AWS does.

It also records when each Route53 request arrived, so a test can check that the provider's
client-side limiter keeps any one-second window within the quota.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from aws_functions import FunctionStore

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")

THROTTLE_XML = (
    b'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/'
    b'2013-04-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded'
    b"</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
    b"</ErrorResponse>"
)


@dataclass
class Rule:
    """Fail every `every`-th request of `service`, at most `limit` times.

    `method` and `path` (a substring of the request path) narrow it to one operation, e.g.
    `POST` and `/rrset` for Route53's ChangeResourceRecordSets.
    """

    service: str
    status: int
    body: bytes
    content_type: str
    every: int
    limit: int
    seen: int = 0
    fired: int = 0
    method: str | None = None
    path: str | None = None

    def matches(self, service: str, method: str, path: str) -> bool:
        return (
            self.service == service
            and self.fired < self.limit
            and (self.method is None or self.method == method)
            and (self.path is None or self.path in path)
        )


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    functions: FunctionStore = field(default_factory=FunctionStore)
    """CloudFront Functions, which moto lacks (see `aws_functions`)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def throttle(self, service: str = "route53", every: int = 3, limit: int = 4) -> Rule:
        rule = Rule(service, 400, THROTTLE_XML, "text/xml", every, limit)
        self.rules.append(rule)
        return rule

    def server_error(
        self,
        service: str,
        every: int = 3,
        limit: int = 3,
        status: int = 503,
        method: str | None = None,
        path: str | None = None,
    ) -> Rule:
        body = (
            b"<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"
            if status == 503
            else b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
        )
        rule = Rule(service, status, body, "text/xml", every, limit, method=method, path=path)
        self.rules.append(rule)
        return rule

    def max_per_second(self, service: str) -> int:
        """The most requests of `service` that arrived within any one-second window."""
        times = sorted(self.arrivals.get(service, []))
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def _fault(self, service: str, method: str = "", path: str = "") -> Rule | None:
        with self._lock:
            self.arrivals.setdefault(service, []).append(time.monotonic())
            for rule in self.rules:
                if not rule.matches(service, method, path):
                    continue
                rule.seen += 1
                if rule.seen % rule.every == 0:
                    rule.fired += 1
                    return rule
        return None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        proxy = self
        target = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                match = _SCOPE.search(self.headers.get("Authorization", ""))
                rule = proxy._fault(match.group(1) if match else "?", self.command, self.path)
                if rule is not None:
                    self.send_response(rule.status)
                    self.send_header("Content-Type", rule.content_type)
                    self.send_header("Content-Length", str(len(rule.body)))
                    self.end_headers()
                    self.wfile.write(rule.body)
                    return
                if proxy.functions.handles(self.path):
                    lowered = {k.lower(): v for k, v in self.headers.items()}
                    status, extra, data = proxy.functions.handle(
                        self.command, self.path, lowered, body
                    )
                    self.send_response(status)
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                    if self.path.startswith("/2020-05-31/distribution") and self.command in (
                        "POST",
                        "PUT",
                    ):
                        proxy.functions.note_distribution(body, data)
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
