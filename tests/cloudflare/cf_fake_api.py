"""A local fake of the Cloudflare v4 REST API, as much of it as mtasts uses, over real HTTP.

Faithful where the SDK and mtasts depend on it:
- the envelope (`success`, `errors`, `messages`, `result`, `result_info`) on every answer,
  errors as `{"code", "message"}` with the real HTTP status;
- `Authorization: Bearer <token>`, 401 with code 10000 for a bad or missing token;
- pagination (`page`, `per_page`, `result_info.total_pages`), an empty page past the last
  one (the SDK's auto-paging stops only there), `per_page` limits (zones at most 50);
- DNS record filters (`type`, `name`/`name.exact|startswith|endswith|contains`,
  `content.*`, `match=all|any`), full record fields, 81058 for an identical record,
  the batch endpoint (deletes, patches, puts, posts; one transaction);
- Workers scripts as multipart uploads (a `metadata` JSON part naming `main_module`, the
  module as `application/javascript+module`), `content/v2` returning the main module;
- Workers custom domains (`PUT` creates or re-points, refused for a missing script or a
  host with its own A/AAAA/CNAME; `DELETE` by id);
- faults: injected statuses (429 with `Retry-After`, 5xx) per method and path, and an
  optional server-side rate limit (N requests per window, then 429 + `Retry-After`).

Not emulated: zone creation, the DNS record types mtasts never writes beyond basic
validation, certificate issuance timing, Workers versions/deployments, and propagation
delays (everything is live as soon as the API answers).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cf_fake_state import ApiError, FakeCloudflareState, Script, joined_txt
from fakehttp import FakeHttpServer, Request, Response

PREFIX = "/client/v4"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    """Every request header, names in lower case (tests check which credential went)."""
    body: bytes = b""
    """The raw request body, as the client sent it."""


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    retry_after: float | None = None
    echo_headers: bool = False


@dataclass
class _RateLimit:
    limit: int
    window: float
    retry_after: float
    sent: deque[float] = field(default_factory=deque)


def envelope(result: Any, *, info: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if info is not None:
        body["result_info"] = info
    return body


def error_body(code: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }


def paginate(
    items: list[Any], query: dict[str, str], max_per_page: int, default: int
) -> dict[str, Any]:
    page = int(float(query.get("page", 1)))
    per_page = int(float(query.get("per_page", default)))
    if page < 1 or per_page < 1 or per_page > max_per_page:
        raise ApiError(400, 1001, f"per_page must be between 1 and {max_per_page}")
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    total_pages = max(1, -(-len(items) // per_page))
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": total_pages,
    }
    return envelope(chunk, info=info)


def _matches(value: str, query: dict[str, str], field_name: str, fold: bool = True) -> list[bool]:
    """One bool per filter on field_name present in the query (case-insensitive)."""
    results = []
    v = value.lower() if fold else value
    for op in ("exact", "contains", "startswith", "endswith"):
        key = f"{field_name}.{op}"
        if key not in query:
            continue
        q = query[key].lower() if fold else query[key]
        results.append(
            {
                "exact": v == q,
                "contains": q in v,
                "startswith": v.startswith(q),
                "endswith": v.endswith(q),
            }[op]
        )
    if field_name in query:
        results.append(v == (query[field_name].lower() if fold else query[field_name]))
    return results


class FakeCloudflareApi(FakeHttpServer):
    """Start with `start()`; aim the SDK at `base_url` (or `CLOUDFLARE_BASE_URL`). The
    server itself is the shared test plumbing (tests/fakehttp.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.state = FakeCloudflareState()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._rate: _RateLimit | None = None
        self.throttled = 0
        """How many requests the server-side rate limit answered with 429."""
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.origin + PREFIX

    def reset(self) -> None:
        with self._lock:
            self.state = FakeCloudflareState()
            self.calls.clear()
            self.faults.clear()
            self._rate = None
            self.throttled = 0

    # Faults and counting

    def inject(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        echo_headers: bool = False,
    ) -> None:
        """The next `times` requests matching method and path (a regex searched in the path
        after /client/v4) answer `status`, with `Retry-After` when given; `echo_headers`
        puts the request's headers in the error message, as some proxies and error pages
        do (a client must not print that as is)."""
        self.faults.append(
            Fault(method.upper(), re.compile(path), status, times, retry_after, echo_headers)
        )

    def rate_limit(self, limit: int, window: float, retry_after: float = 1.0) -> None:
        """At most `limit` requests per `window` seconds; more answer 429 + Retry-After."""
        self._rate = _RateLimit(limit, window, retry_after)

    def count(self, method: str | None = None, path: str = "") -> int:
        pattern = re.compile(path)
        return sum(
            1
            for c in list(self.calls)
            if (method is None or c.method == method) and pattern.search(c.path)
        )

    def _fault_for(self, method: str, path: str) -> tuple[int, float | None, bool] | None:
        with self._lock:
            if self._rate is not None:
                now = time.monotonic()
                sent = self._rate.sent
                while sent and sent[0] <= now - self._rate.window:
                    sent.popleft()
                if len(sent) >= self._rate.limit:
                    self.throttled += 1
                    return 429, self._rate.retry_after, False
                sent.append(now)
            for fault in self.faults:
                if fault.times > 0 and fault.method in (method, "*") and fault.path.search(path):
                    fault.times -= 1
                    return fault.status, fault.retry_after, fault.echo_headers
        return None

    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix(PREFIX)
        self.calls.append(Call(request.method, path, request.query, request.headers, request.body))
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.state.tokens:
            return Response.json(401, error_body(10000, "Authentication error"))
        fault = self._fault_for(request.method, path)
        if fault is not None:
            status, retry_after, echo = fault
            headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
            message = (
                "Rate limited. Please wait and consider throttling your request speed"
                if status == 429
                else "Internal Server Error"
            )
            if echo:
                message += " for request with headers: " + "; ".join(
                    f"{k}: {v}" for k, v in request.headers.items()
                )
            code = 971 if status == 429 else 10013
            return Response.json(status, error_body(code, message), headers)
        try:
            answer = _route(
                self.state, request.method, path, request.query, request.body, request.content_type
            )
        except ApiError as exc:
            return Response.json(exc.status, error_body(exc.code, exc.message))
        except (ValueError, KeyError, TypeError) as exc:
            return Response.json(400, error_body(1004, f"Bad request: {exc}"))
        if isinstance(answer, bytes):
            return Response(200, answer, "application/javascript+module")
        return Response.json(200, answer)


def _route(
    state: FakeCloudflareState,
    method: str,
    path: str,
    query: dict[str, str],
    raw: bytes,
    ctype: str,
) -> Any:
    parts = [p for p in path.split("/") if p]
    body = json.loads(raw) if raw and ctype.startswith("application/json") else {}
    if parts[:1] == ["zones"]:
        return _zones(state, method, parts[1:], query, body)
    if parts[:1] == ["accounts"] and len(parts) >= 3:
        if parts[1] != state.account_id:
            raise ApiError(403, 9109, "Unauthorized to access requested resource")
        if parts[2:4] == ["workers", "scripts"]:
            return _scripts(state, method, parts[4:], raw, ctype)
        if parts[2:4] == ["workers", "domains"]:
            return _domains(state, method, parts[4:], query, body)
    raise ApiError(404, 7000, f"No route for that URI: {method} {path}")


def _zones(
    state: FakeCloudflareState, method: str, rest: list[str], query: dict[str, str], body: Any
) -> Any:
    with state.lock:
        if not rest and method == "GET":
            zones = sorted(state.zones.values(), key=lambda z: z["name"])
            if "name" in query:
                zones = [z for z in zones if z["name"] == query["name"].lower()]
            if "account.id" in query:
                zones = [z for z in zones if z["account"]["id"] == query["account.id"]]
            return paginate(zones, query, 50, 20)
        zone_id = rest[0]
        state._zone(zone_id)
        if len(rest) == 1 and method == "GET":
            return envelope(state.zones[zone_id])
        if rest[1:] == ["dns_records"] and method == "GET":
            return paginate(_filter_records(state, zone_id, query), query, 5_000_000, 100)
        if rest[1:] == ["dns_records"] and method == "POST":
            return envelope(state.create_record(zone_id, body))
        if rest[1:] == ["dns_records", "batch"] and method == "POST":
            return envelope(state.batch(zone_id, body))
        if len(rest) == 3 and rest[1] == "dns_records":
            if method == "GET":
                return envelope(dict(state._record(zone_id, rest[2])))
            if method == "DELETE":
                return envelope({"id": state.delete_record(zone_id, rest[2])["id"]})
            if method in ("PATCH", "PUT"):
                return envelope(
                    state.update_record(zone_id, rest[2], body, replace=method == "PUT")
                )
    raise ApiError(404, 7000, "No route for that URI")


def _filter_records(
    state: FakeCloudflareState, zone_id: str, query: dict[str, str]
) -> list[dict[str, Any]]:
    match_any = query.get("match", "all") == "any"
    out = []
    for record in state.records[zone_id].values():
        checks: list[bool] = []
        if "type" in query:
            checks.append(record["type"] == query["type"].upper())
        checks += _matches(record["name"], query, "name")
        checks += _matches(record["content"], query, "content")
        if not checks or (any(checks) if match_any else all(checks)):
            out.append(dict(record))
    return sorted(out, key=lambda r: (r["type"], r["name"], r["content"], r["created_on"]))


def _parse_multipart(raw: bytes, ctype: str) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(400, 10021, "Content-Type must be multipart/form-data")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
    )
    metadata: dict[str, Any] | None = None
    modules: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if name == "metadata":
            metadata = json.loads(payload)
        elif filename:
            modules[filename] = (part.get_content_type(), payload)
    if metadata is None:
        raise ApiError(400, 10021, "Missing metadata part")
    return metadata, modules


def _script_result(script: Script) -> dict[str, Any]:
    return {
        "id": script.name,
        "etag": script.etag,
        "created_on": script.created_on,
        "modified_on": script.modified_on,
        "compatibility_date": script.metadata.get("compatibility_date"),
        "handlers": ["fetch"],
        "has_modules": True,
        "usage_model": "standard",
    }


def _scripts(
    state: FakeCloudflareState, method: str, rest: list[str], raw: bytes, ctype: str
) -> Any:
    if not rest and method == "GET":
        return envelope([_script_result(s) for s in state.scripts.values()])
    name = rest[0]
    if len(rest) == 1 and method == "PUT":
        metadata, modules = _parse_multipart(raw, ctype)
        return envelope(_script_result(state.put_script(name, metadata, modules)))
    script = state.scripts.get(name)
    if script is None:
        raise ApiError(404, 10007, "workers.api.error.script_not_found")
    if rest[1:] == ["content", "v2"] and method == "GET":
        return script.main
    if len(rest) == 1 and method == "DELETE":
        del state.scripts[name]
        return envelope(None)
    raise ApiError(404, 7000, "No route for that URI")


def _domains(
    state: FakeCloudflareState, method: str, rest: list[str], query: dict[str, str], body: Any
) -> Any:
    with state.lock:
        if not rest and method == "GET":
            found = [
                dict(d)
                for d in state.domains.values()
                if all(
                    d.get(k) == query[k]
                    for k in ("hostname", "service", "zone_id", "zone_name")
                    if k in query
                )
            ]
            return envelope(sorted(found, key=lambda d: d["hostname"]))
        if not rest and method == "PUT":
            return envelope(state.put_domain(body))
        if len(rest) == 1:
            domain = state.domains.get(rest[0])
            if domain is None:
                raise ApiError(404, 100114, "Domain not found")
            if method == "GET":
                return envelope(dict(domain))
            if method == "DELETE":
                del state.domains[rest[0]]
                return envelope(None)
    raise ApiError(404, 7000, "No route for that URI")


__all__ = ["Call", "FakeCloudflareApi", "joined_txt"]
