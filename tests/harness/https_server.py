"""A local HTTPS server with a test CA that picks its certificate by SNI.

Senders check that the policy host's certificate is valid for ``mta-sts.<domain>``, so the
server issues one certificate per SNI name on demand from a trustme CA; a test can instead
make a host present a certificate for another name, from an untrusted CA, or expired, to see
how clients treat a broken endpoint. Content is a mapping host -> path -> Response, chosen by
the Host header (SNI when it is missing), or a handler per host (e.g. ``upstream_handler``
forwarding to an emulator or a Worker runtime, as a CDN would); anything else answers 404.

Stdlib only (ssl + http.server), one thread per connection, and the TLS handshake runs in that
connection's thread so a client that aborts the handshake (as it should on a bad certificate)
never blocks the server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

import trustme

CertProblem = Literal["wrong-name", "untrusted", "expired", "expiring"]

EXPIRING_DAYS = 5
"""An ``expiring`` certificate is valid now and ends this many days from now."""


@dataclass(frozen=True)
class Response:
    """What one (host, path) answers: exact status, headers and body bytes."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    trickle: float = 0.0
    """Seconds to wait before each byte of the body (0: send it at once): an endpoint that
    answers, but too slowly for any client to wait for the end."""


Handler = Callable[[str, str, Mapping[str, str]], Response]
"""Dynamic content for a host: (method, path with query, request headers) -> Response."""

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


def upstream_handler(base_url: str, timeout: float = 10.0) -> Handler:
    """Forward requests to a plain-HTTP origin (an emulator, a Worker runtime), as a CDN
    would: path appended to the base URL's path, the original Host header kept, redirects
    and errors passed through untouched."""
    base = urlsplit(base_url)
    if base.scheme != "http" or base.hostname is None:
        raise ValueError(f"upstream must be an http:// URL, not {base_url!r}")
    prefix = base.path.rstrip("/")

    def forward(method: str, path: str, headers: Mapping[str, str]) -> Response:
        conn = http.client.HTTPConnection(base.hostname, base.port or 80, timeout=timeout)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            sent["X-Forwarded-Proto"] = "https"
            conn.request(method, prefix + path, headers=sent)
            answer = conn.getresponse()
            body = answer.read()
            kept = tuple((k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP)
            return Response(answer.status, kept, body)
        finally:
            conn.close()

    return forward


@dataclass(frozen=True)
class RequestLog:
    """One request as the server saw it, for assertions (SNI, Host, path, User-Agent)."""

    sni: str | None
    host: str
    path: str
    method: str
    user_agent: str


@dataclass
class _State:
    content: dict[str, dict[str, Response]] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    cert_problems: dict[str, CertProblem] = field(default_factory=dict)
    requests: list[RequestLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self, send_body: bool) -> None:
        state = self.server.state
        sni = getattr(self.connection, "harness_sni", None)
        host = (self.headers.get("Host") or sni or "").rsplit(":", 1)[0].lower()
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.requests.append(
                RequestLog(sni, host, path, self.command, self.headers.get("User-Agent", ""))
            )
            response = state.content.get(host, {}).get(path)
            handler = state.handlers.get(host)
        if response is None and handler is not None:
            try:
                response = handler(self.command, self.path, dict(self.headers.items()))
            except Exception as exc:  # an origin that is down looks like a CDN's 502
                response = Response(502, (("Content-Type", "text/plain"),), f"{exc}\n".encode())
        if response is None:
            response = Response(404, (("Content-Type", "text/plain"),), b"not found\n")
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if send_body and response.trickle > 0:
            self.wfile.flush()
            for index in range(len(response.body)):
                time.sleep(response.trickle)
                self.wfile.write(response.body[index : index + 1])
                self.wfile.flush()
        elif send_body:
            self.wfile.write(response.body)
        self.close_connection = True

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging to stderr."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State
    tls: ssl.SSLContext

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        """Handshake in the connection's own thread; a refused certificate just ends it."""
        request.settimeout(30)  # a client that stalls mid-handshake must not pin a thread
        try:
            tls_sock = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls_sock, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls_sock.close()

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up mid-response are normal here; do not print tracebacks."""


class LocalHttpsServer:
    """HTTPS on 127.0.0.1:<random port>, certificate per SNI name from a test CA."""

    host = "127.0.0.1"

    def __init__(self, ca: trustme.CA | None = None) -> None:
        self.ca = ca or trustme.CA(organization_name="mtasts test CA")
        self._untrusted_ca: trustme.CA | None = None
        self.state = _State()
        self._contexts: dict[tuple[str, CertProblem | None], ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Certificates

    def _context(self, name: str, problem: CertProblem | None) -> ssl.SSLContext:
        key = (name, problem)
        with self._contexts_lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                self._issue(name, problem).configure_cert(ctx)
                self._contexts[key] = ctx
            return ctx

    def _issue(self, name: str, problem: CertProblem | None) -> trustme.LeafCert:
        if problem == "wrong-name":
            return self.ca.issue_cert(f"wrong-name.{name}.invalid", "not-the-host.invalid")
        if problem == "untrusted":
            if self._untrusted_ca is None:
                self._untrusted_ca = trustme.CA(organization_name="untrusted CA")
            return self._untrusted_ca.issue_cert(name)
        if problem == "expiring":
            now = dt.datetime.now(dt.UTC)
            return self.ca.issue_cert(
                name,
                not_before=now - dt.timedelta(days=30),
                not_after=now + dt.timedelta(days=EXPIRING_DAYS),
            )
        if problem == "expired":
            now = dt.datetime.now(dt.UTC)
            return self.ca.issue_cert(
                name, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
            )
        return self.ca.issue_cert(name)

    def _sni_callback(
        self, sock: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        name = (server_name or "localhost").lower()
        sock.harness_sni = server_name  # type: ignore[attr-defined]
        with self.state.lock:
            problem = self.state.cert_problems.get(name)
        sock.context = self._context(name, problem)

    def ca_pem(self) -> bytes:
        """The CA certificate clients must trust (SSL_CERT_FILE / REQUESTS_CA_BUNDLE)."""
        return self.ca.cert_pem.bytes()

    # Lifecycle

    def start(self) -> LocalHttpsServer:
        # The listening context answers clients without SNI; the callback swaps in the
        # context of the name they asked for.
        default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        default.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ca.issue_cert("localhost").configure_cert(default)
        default.sni_callback = self._sni_callback
        server = _Server((self.host, 0), _Handler, bind_and_activate=True)
        server.state = self.state
        server.tls = default
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="https", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    # Content

    def reset(self) -> None:
        with self.state.lock:
            self.state.content.clear()
            self.state.handlers.clear()
            self.state.cert_problems.clear()
            self.state.requests.clear()

    def set(self, host: str, path: str, response: Response) -> None:
        with self.state.lock:
            self.state.content.setdefault(host.lower(), {})[path] = response

    def set_handler(self, host: str, handler: Handler | None) -> None:
        """Answer every path of host not set statically from handler (None removes it)."""
        with self.state.lock:
            if handler is None:
                self.state.handlers.pop(host.lower(), None)
            else:
                self.state.handlers[host.lower()] = handler

    def remove(self, host: str, path: str | None = None) -> None:
        with self.state.lock:
            if path is None:
                self.state.content.pop(host.lower(), None)
                self.state.handlers.pop(host.lower(), None)
            else:
                self.state.content.get(host.lower(), {}).pop(path, None)

    def set_cert_problem(self, host: str, problem: CertProblem | None) -> None:
        with self.state.lock:
            if problem is None:
                self.state.cert_problems.pop(host.lower(), None)
            else:
                self.state.cert_problems[host.lower()] = problem

    @property
    def requests(self) -> list[RequestLog]:
        with self.state.lock:
            return list(self.state.requests)


def _still_open(conn: socket.socket) -> bool:
    """Whether the client has not hung up yet (a closed peer reads as b"" at once)."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return True
    try:
        return conn.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


class SilentServer:
    """A dead endpoint: accepts TCP connections on 127.0.0.1:<random port>, then never says a
    word (no TLS handshake, no HTTP, no SMTP greeting) until ``reset()`` or ``stop()``.

    A client must give up on its own timeout; the listen backlog is large, so many clients
    can be stuck here at once."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._accepted: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.peak_open = 0
        """The most client connections open at once: 1 means the clients came one by one."""

    def start(self) -> SilentServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.host, 0))
        listener.listen(128)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, name="silent", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            with self._lock:
                open_now = 1 + sum(1 for c in self._accepted if _still_open(c))
                self.peak_open = max(self.peak_open, open_now)
                self._accepted.append(conn)

    @property
    def port(self) -> int:
        assert self._listener is not None, "server not started"
        return int(self._listener.getsockname()[1])

    @property
    def connections(self) -> int:
        """Connections accepted since the last reset."""
        with self._lock:
            return len(self._accepted)

    def reset(self) -> None:
        """Hang up on every client still waiting."""
        with self._lock:
            accepted, self._accepted = self._accepted, []
            self.peak_open = 0
        for conn in accepted:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.reset()
