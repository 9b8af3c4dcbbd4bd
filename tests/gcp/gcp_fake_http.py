"""The HTTP half shared by the Compute and Certificate Manager fakes: Google's JSON error
envelope, a request log, injected faults and an optional server-side rate limit, on the
threaded loopback server every test fake shares (tests/fakehttp.py).

A fake subclasses `FakeGoogleApi`, sets `style` ("compute" for Compute's envelope with an
`errors` list of `{domain, reason, message}`; "aip" for the newer APIs' `status`, plus for
a quota error `details` with a `google.rpc.ErrorInfo` naming the quota) and implements
`route()` and `clear()`.
Everything is on loopback; nothing here knows any Google resource.

Faults:
- `inject("POST", r"/urlMaps", 503, times=2)`: the next two matching requests answer 503 in
  Google's envelope (429 names the quota, as Google's RESOURCE_EXHAUSTED errors do);
- `hang("GET", r"/operations/", times=1, hold=120.0)`: accept the request and never answer
  (the connection is closed unanswered after `hold` seconds, `stop()` or `reset()`);
- `fail_operations("POST", r"/urlMaps$", "Quota 'URL_MAPS' exceeded.", code=...)`: the
  mutation is accepted but changes nothing, and its operation ends in that error;
- `rate_limit(300, 60.0)`: more than 300 requests in a sliding minute answer 429.
`calls` logs every request (method, path, query, JSON body); `count()` counts them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fakehttp import FakeHttpServer, Request, Response

# HTTP status -> (google.rpc code name, Compute's `reason`, default message)
_STATUS: dict[int, tuple[str, str, str]] = {
    400: ("INVALID_ARGUMENT", "invalid", "Invalid value."),
    403: ("PERMISSION_DENIED", "forbidden", "The caller does not have permission"),
    404: ("NOT_FOUND", "notFound", "The resource was not found"),
    409: ("ALREADY_EXISTS", "alreadyExists", "The resource already exists"),
    412: ("FAILED_PRECONDITION", "conditionNotMet", "Precondition not met."),
    429: ("RESOURCE_EXHAUSTED", "rateLimitExceeded", "Quota exceeded."),
    500: ("INTERNAL", "backendError", "Internal error. Please try again."),
    503: ("UNAVAILABLE", "backendError", "The service is currently unavailable."),
}


class ApiError(Exception):
    """An error answer. `reason` is Compute's (`notFound`, `resourceInUseByAnotherResource`,
    ...); `rpc_status` the AIP one (`NOT_FOUND`, `FAILED_PRECONDITION`, ...)."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        reason: str | None = None,
        rpc_status: str | None = None,
        quota: str | None = None,
    ) -> None:
        default = _STATUS.get(status, ("UNKNOWN", "unknown", "Error"))
        super().__init__(message or default[2])
        self.status = status
        self.message = message or default[2]
        self.reason = reason or default[1]
        self.rpc_status = rpc_status or default[0]
        self.quota = quota

    def envelope(self, style: str, service: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message}
        if style == "compute":
            error["errors"] = [{"message": self.message, "domain": "global", "reason": self.reason}]
            return {"error": error}
        error["status"] = self.rpc_status
        if self.quota:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "domain": "googleapis.com",
                    "metadata": {"service": service, "quota_limit": self.quota},
                }
            ]
        return {"error": error}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any = None


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    message: str | None = None
    retry_after: float | None = None
    hold: float = 120.0
    code: str | int = ""


@dataclass
class _RateLimit:
    limit: int
    window: float
    sent: deque[float] = field(default_factory=deque)


class FakeGoogleApi(FakeHttpServer):
    """Start with `start()`; hand `endpoint` to the client library as `api_endpoint`."""

    style: ClassVar[str] = "aip"
    service: ClassVar[str] = "example.googleapis.com"
    quota_name: ClassVar[str] = "Requests per minute"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.hangs: list[Fault] = []
        self.failing_operations: list[Fault] = []
        self._local = threading.local()
        self.throttled = 0
        self._rate: _RateLimit | None = None
        self.lock = threading.RLock()
        self._release = threading.Event()

    # Lifecycle

    def stop(self) -> None:
        self._release.set()
        super().stop()

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`: the form `client_options={"api_endpoint": ...}` needs (the
        scheme is kept; without one the libraries assume https)."""
        return self.origin

    def reset(self) -> None:
        """Empty state, log, faults and limits; hung requests are let go."""
        with self.lock:
            self._release.set()
            self._release = threading.Event()
            self.calls.clear()
            self.faults.clear()
            self.hangs.clear()
            self.failing_operations.clear()
            self._rate = None
            self.throttled = 0
            self.clear()

    # For subclasses

    def clear(self) -> None:
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        raise NotImplementedError

    # Faults and counting

    def inject(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The next `times` requests whose method matches (or "*") and whose path matches
        the regex `path` (searched) answer `status` in Google's envelope."""
        with self.lock:
            self.faults.append(
                Fault(method.upper(), re.compile(path), status, times, message, retry_after)
            )

    def hang(self, method: str, path: str, *, times: int = 1, hold: float = 120.0) -> None:
        """Accept the next `times` matching requests and never answer them: the connection
        is closed unanswered after `hold` seconds (or at `reset()` / `stop()`)."""
        with self.lock:
            self.hangs.append(Fault(method.upper(), re.compile(path), 0, times, hold=hold))

    def fail_operations(
        self, method: str, path: str, message: str, *, code: str | int, times: int = 1
    ) -> None:
        """The next `times` matching mutations are accepted (an operation is answered) but
        change nothing, and their operation ends in error `code` with `message` (Compute:
        `QUOTA_EXCEEDED`-style codes; AIP: a google.rpc code number, 8 = exhausted)."""
        with self.lock:
            self.failing_operations.append(
                Fault(method.upper(), re.compile(path), 0, times, message, code=code)
            )

    def operation_failure(self) -> Fault | None:
        """The failure the request being routed (this thread) must end its operation with."""
        failure: Fault | None = getattr(self._local, "failure", None)
        return failure

    def rate_limit(self, limit: int, window: float = 60.0) -> None:
        with self.lock:
            self._rate = _RateLimit(limit, window)

    def count(self, method: str | None = None, path: str = "") -> int:
        pattern = re.compile(path)
        with self.lock:
            calls = list(self.calls)
        return sum(
            1 for c in calls if (method is None or c.method == method) and pattern.search(c.path)
        )

    def _take(self, faults: list[Fault], method: str, path: str) -> Fault | None:
        for fault in faults:
            if fault.times > 0 and fault.method in (method, "*") and fault.path.search(path):
                fault.times -= 1
                return fault
        return None

    def _before(self, method: str, path: str) -> tuple[str, Fault | ApiError | None]:
        """("hang", fault) / ("fault", error or None) for one request."""
        with self.lock:
            hang = self._take(self.hangs, method, path)
            if hang:
                return "hang", hang
            self._local.failure = None
            if method != "GET":
                self._local.failure = self._take(self.failing_operations, method, path)
            if self._rate is not None:
                now, sent = time.monotonic(), self._rate.sent
                while sent and sent[0] <= now - self._rate.window:
                    sent.popleft()
                if len(sent) >= self._rate.limit:
                    self.throttled += 1
                    return "fault", self.quota_error()
                sent.append(now)
            return "fault", self._take(self.faults, method, path)

    def quota_error(self, message: str | None = None) -> ApiError:
        text = message or (
            f"Quota exceeded for quota metric 'Requests' and limit '{self.quota_name}' "
            f"of service '{self.service}'."
        )
        return ApiError(429, text, quota=self.quota_name)

    # The server's side (tests/fakehttp.py)

    def handle(self, request: Request) -> Response | None:
        method, path, raw = request.method, request.path, request.body
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        with self.lock:
            self.calls.append(Call(method, path, request.query, body))
            release = self._release
        kind, fault = self._before(method, path)
        if kind == "hang":
            assert isinstance(fault, Fault)
            release.wait(fault.hold)
            return None
        if isinstance(fault, Fault):
            error = ApiError(fault.status, fault.message)
            if fault.status == 429:
                error = self.quota_error(fault.message)
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return self._json(fault.status, error.envelope(self.style, self.service), headers)
        if isinstance(fault, ApiError):
            return self._json(fault.status, fault.envelope(self.style, self.service))
        try:
            if raw.strip() and body is None:
                raise ApiError(400, "Invalid JSON payload received.")
            answer = self.route(method, path, request.query, body)
        except ApiError as exc:
            return self._json(exc.status, exc.envelope(self.style, self.service))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            error = ApiError(400, f"Invalid request: {exc}")
            return self._json(400, error.envelope(self.style, self.service))
        return self._json(200, answer)

    @staticmethod
    def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        raw = json.dumps(data).encode()
        return Response(status, raw, "application/json; charset=UTF-8", headers or {})


__all__ = ["ApiError", "Call", "FakeGoogleApi"]
