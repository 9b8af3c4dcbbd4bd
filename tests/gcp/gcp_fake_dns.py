"""A local fake of the Cloud DNS v1 REST API over real HTTP, as much of it as mtasts uses.

Start it and aim google-cloud-dns at it:

    fake = FakeCloudDns().start()
    client = dns.Client(project="mtasts-test", credentials=AnonymousCredentials(),
                        client_options={"api_endpoint": fake.endpoint})

Served under `/dns/v1/projects/{project}` (the rules of zones and changes are in
gcp_fake_dns_state.py): `GET` the project (its `quota`), `GET|POST /managedZones`
(`dnsName` filter), `GET|DELETE /managedZones/{zone}` (name or id), `GET .../rrsets`
(`name` exact and `type` filters; `type` needs `name`), `GET|POST .../changes`,
`GET .../changes/{id}`. Lists page with `maxResults` (at most `max_page_size`, else
`page_size` items) and an opaque `pageToken` / `nextPageToken`; the last page has no
`nextPageToken`. Errors use Google's envelope
`{"error": {"code", "message", "status", "errors": [{"message", "domain", "reason"}]}}`,
which google-api-core turns into its exceptions (409 Conflict, 412 PreconditionFailed, ...).

For tests: `fake.state` seeds and reads zones (`add_zone`, `add_rrset`, `rrsets`, `rrset`,
`changes`, `pending_gets`, `quota`); `fake.calls` logs every request (method, path after
/dns/v1, query, JSON body, headers, the API method name as `kind`, the status answered);
`fake.count(method, path, kind=...)` and `fake.counts()` count them; `fake.inject(...)`
answers the next N matching requests with 429 / 5xx / 403 (or any status) in the same
envelope; `fake.hang(...)` accepts the next N matching requests and never answers them
(until `reset()`, `stop()` or `hold` seconds); `fake.rate_limit(N, 60.0)` answers 429 to
requests beyond N a minute.

Not emulated: authentication (anonymous credentials send no token; every request is
allowed unless a 403 is injected), `fields=` partial answers, `resourceRecordSets`
create/get/patch/delete by name (the v1 API has them; google-cloud-dns does not use them),
zone PATCH/UPDATE, operations, policies and DNS keys.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from gcp_fake_dns_errors import DnsApiError, error_body, injected_error
from gcp_fake_dns_state import DEFAULT_QUOTA, FakeCloudDnsState, fqdn

PREFIX = "/dns/v1"


@dataclass
class Call:
    method: str
    path: str
    """The path after /dns/v1, e.g. /projects/p/managedZones/example-com/rrsets"""
    query: dict[str, str]
    body: Any
    """The JSON body, or None"""
    kind: str
    """The API method: managedZones.list, resourceRecordSets.list, changes.create, ..."""
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    """The status answered (None while hanging, or when never answered)."""


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    times: int
    status: int | None
    """None: hang (accept, never answer)"""
    reason: str | None = None
    message: str | None = None
    hold: float = 60.0
    """How long a hanging request is held before its connection is closed"""


def _kind(method: str, parts: list[str]) -> str:
    rest = parts[2:]
    if not rest:
        return "projects.get" if method == "GET" else "unknown"
    if rest[0] != "managedZones":
        return "unknown"
    names = {
        (1, "GET"): "managedZones.list",
        (1, "POST"): "managedZones.create",
        (2, "GET"): "managedZones.get",
        (2, "DELETE"): "managedZones.delete",
    }
    if len(rest) <= 2:
        return names.get((len(rest), method), "unknown")
    if rest[2:] == ["rrsets"] and method == "GET":
        return "resourceRecordSets.list"
    if rest[2:] == ["changes"] and method in ("GET", "POST"):
        return "changes.list" if method == "GET" else "changes.create"
    if len(rest) == 4 and rest[2] == "changes" and method == "GET":
        return "changes.get"
    return "unknown"


class FakeCloudDns:
    """Start with `start()`; aim the client at `endpoint` (it appends /dns/v1)."""

    def __init__(self, *, page_size: int = 100, max_page_size: int = 1000) -> None:
        self.state = FakeCloudDnsState()
        self._page_sizes = (page_size, max_page_size)
        self.page_size = page_size
        """Items per page when the request gives no maxResults."""
        self.max_page_size = max_page_size
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.throttled = 0
        self._rate: tuple[int, float] | None = None
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # Lifecycle

    def start(self) -> FakeCloudDns:
        fake = self

        class Handler(_Handler):
            dns = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`, for `client_options={"api_endpoint": ...}`."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """No zones, calls, faults or rate limit, the page sizes and the state's quota and
        `pending_gets` back to their defaults; hanging requests are let go (closed
        unanswered)."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()
            self.state = FakeCloudDnsState(quota=dict(DEFAULT_QUOTA))
            self.calls.clear()
            self.faults.clear()
            self.page_size, self.max_page_size = self._page_sizes
            self.throttled, self._rate = 0, None
            self._sent.clear()

    # Faults and counting

    def inject(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        """The next `times` requests whose method is `method` ("*" for any) and whose path
        after /dns/v1 matches the regex `path` (searched) answer `status` in Google's
        envelope: 429 RESOURCE_EXHAUSTED `rateLimitExceeded` naming the quota metric, 403
        PERMISSION_DENIED naming the permission, 500/503 `backendError`; `reason` and
        `message` override (e.g. 403 `quotaExceeded`)."""
        with self._lock:
            self.faults.append(
                Fault(method.upper(), re.compile(path), times, status, reason, message)
            )

    def hang(self, method: str, path: str, *, times: int = 1, hold: float = 60.0) -> None:
        """The next `times` matching requests are read and never answered: the connection
        stays open until `reset()`/`stop()` or `hold` seconds, then closes (for timeouts)."""
        with self._lock:
            self.faults.append(Fault(method.upper(), re.compile(path), times, None, hold=hold))

    def count(self, method: str | None = None, path: str = "", *, kind: str | None = None) -> int:
        """Requests received (faulted ones included) by method, path regex and/or API method
        name (`kind`, e.g. "changes.create")."""
        pattern = re.compile(path)
        with self._lock:
            calls = list(self.calls)
        return sum(
            1
            for c in calls
            if (kind is None or c.kind == kind)
            and (method is None or c.method == method)
            and pattern.search(c.path)
        )

    def rate_limit(self, limit: int, window: float = 60.0) -> None:
        """More than `limit` requests in a sliding `window` (seconds) answer 429
        RESOURCE_EXHAUSTED, as the per-minute API quotas do; `throttled` counts them."""
        with self._lock:
            self._rate = (limit, window)
            self._sent.clear()

    def counts(self) -> Counter[str]:
        """Requests received by API method name: {"resourceRecordSets.list": 3, ...}."""
        return Counter(c.kind for c in list(self.calls))

    def _fault_for(self, method: str, path: str) -> tuple[Fault, threading.Event] | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method in (method, "*") and fault.path.search(path):
                    fault.times -= 1
                    return fault, self._release
            if self._rate is not None:
                limit, window = self._rate
                now = time.monotonic()
                while self._sent and self._sent[0] <= now - window:
                    self._sent.popleft()
                if len(self._sent) >= limit:
                    self.throttled += 1
                    return Fault(method, re.compile(""), 0, 429), self._release
                self._sent.append(now)
        return None


class _Handler(BaseHTTPRequestHandler):
    dns: FakeCloudDns
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _json(self, call: Call, status: int, data: Any) -> None:
        call.status = status
        body = b"" if data is None else json.dumps(data).encode()
        self.send_response(status)
        if data is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        fake = self.dns
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path.removeprefix(PREFIX) if url.path.startswith(PREFIX + "/") else url.path
        parts = [unquote(p) for p in path.split("/") if p]
        is_api = url.path.startswith(PREFIX + "/") and parts[:1] == ["projects"] and len(parts) > 1
        kind = _kind(method, parts) if is_api else "unknown"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(
            method, path, query, body, kind, {k.lower(): v for k, v in self.headers.items()}
        )
        with fake._lock:
            fake.calls.append(call)
        found = fake._fault_for(method, path)
        if found is not None:
            fault, release = found
            if fault.status is None:
                release.wait(fault.hold)
                self.close_connection = True
                return
            error = injected_error(fault.status, kind, method, path, fault.reason, fault.message)
            self._json(call, fault.status, error)
            return
        try:
            if kind == "unknown":
                raise DnsApiError(404, "notFound", f"No such method: {method} {url.path}")
            if raw and body is None:
                raise DnsApiError(400, "parseError", "This API does not support parsing JSON.")
            status, answer = _route(fake, method, kind, parts, query, body)
        except DnsApiError as exc:
            error = error_body(exc.status, exc.reason, exc.message, more=exc.more)
            self._json(call, exc.status, error)
            return
        self._json(call, status, answer)


def _page(
    fake: FakeCloudDns, items: list[Any], query: dict[str, str], key: str, list_kind: str
) -> dict[str, Any]:
    raw_max = query.get("maxResults")
    if raw_max is not None and (not raw_max.isdigit() or int(raw_max) < 1):
        raise DnsApiError(400, "invalid", f"Invalid value for 'parameters.maxResults': '{raw_max}'")
    size = min(int(raw_max), fake.max_page_size) if raw_max else fake.page_size
    start = 0
    if query.get("pageToken"):
        token = query["pageToken"]
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DnsApiError(
                400, "invalid", f"Invalid value for 'parameters.pageToken': '{token}'"
            ) from exc
    answer: dict[str, Any] = {"kind": list_kind, key: items[start : start + size]}
    if start + size < len(items):
        marker = json.dumps({"offset": start + size, "list": key}).encode()
        answer["nextPageToken"] = base64.urlsafe_b64encode(marker).decode()
    return answer


def _route(
    fake: FakeCloudDns,
    method: str,
    kind: str,
    parts: list[str],
    query: dict[str, str],
    body: Any,
) -> tuple[int, Any]:
    state = fake.state
    project = parts[1]
    zone = parts[3] if len(parts) > 3 else ""
    if kind == "projects.get":
        quota = dict(state.quota)
        return 200, {"kind": "dns#project", "id": project, "number": "123456789012", "quota": quota}
    if kind == "managedZones.list":
        zones = state.list_zones(project, query.get("dnsName"))
        return 200, _page(fake, zones, query, "managedZones", "dns#managedZonesListResponse")
    if kind == "managedZones.create":
        return 200, state.create_zone(project, body if isinstance(body, dict) else {})
    if kind == "managedZones.get":
        with state.lock:
            return 200, dict(state.zone(project, zone).resource)
    if kind == "managedZones.delete":
        state.delete_zone(project, zone)
        return 204, None
    if kind == "resourceRecordSets.list":
        name, rtype = query.get("name"), query.get("type")
        if rtype and not name:
            raise DnsApiError(
                400, "invalid", "Invalid value for 'parameters.name': a type filter needs a name"
            )
        with state.lock:
            rrsets = state.zone(project, zone).listing(fqdn(name) if name else None, rtype or None)
        return 200, _page(fake, rrsets, query, "rrsets", "dns#resourceRecordSetsListResponse")
    if kind == "changes.create":
        return 200, state.create_change(project, zone, body)
    if kind == "changes.get":
        return 200, state.get_change(project, zone, parts[5])
    # changes.list
    changes = state.list_changes(project, zone)
    if query.get("sortOrder") == "descending":
        changes.reverse()
    return 200, _page(fake, changes, query, "changes", "dns#changesListResponse")
