"""Cloud DNS errors as the fake answers them: Google's JSON envelope
`{"error": {"code", "message", "status", "errors": [{"message", "domain", "reason"}]}}`
(plus `details` with a `google.rpc.ErrorInfo` on a 429), and the reason and message the
real API gives for each injected status."""

from __future__ import annotations

from typing import Any


class DnsApiError(Exception):
    """An error answer: HTTP status, the `errors[].reason`, the message."""

    def __init__(
        self, status: int, reason: str, message: str, more: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.more = more or []
        """Further (reason, message) pairs: the real API lists every failing rrset."""

    @classmethod
    def first_of(cls, problems: list[tuple[int, str, str]]) -> DnsApiError:
        """One answer for several failing rrsets: the first one's status and message,
        each of them in `errors`."""
        status, reason, message = problems[0]
        return cls(status, reason, message, [(r, m) for _, r, m in problems[1:]])


STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
PERMISSIONS = {
    "projects.get": "dns.projects.get",
    "managedZones.list": "dns.managedZones.list",
    "managedZones.create": "dns.managedZones.create",
    "managedZones.get": "dns.managedZones.get",
    "managedZones.delete": "dns.managedZones.delete",
    "resourceRecordSets.list": "dns.resourceRecordSets.list",
    "changes.create": "dns.changes.create",
    "changes.get": "dns.changes.get",
    "changes.list": "dns.changes.list",
}


def error_body(
    status: int,
    reason: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    more: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    def entry(reason: str, message: str) -> dict[str, str]:
        domain = "usageLimits" if reason in ("rateLimitExceeded", "quotaExceeded") else "global"
        return {"message": message, "domain": domain, "reason": reason}

    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "errors": [entry(reason, message)] + [entry(r, m) for r, m in more or []],
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def injected_error(
    status: int,
    kind: str,
    method: str,
    path: str,
    given_reason: str | None = None,
    given_message: str | None = None,
) -> dict[str, Any]:
    """Google's answer for an injected status: the reason and message the real API uses."""
    project = path.split("/")[2] if path.startswith("/projects/") else "?"
    details = None
    if status == 429:
        what = "Read" if method == "GET" else "Write"
        metric = f"dns.googleapis.com/{what.lower()}_requests"
        limit = f"{what} requests per minute"
        reason = "rateLimitExceeded"
        message = (
            f"Quota exceeded for quota metric '{metric}' and limit '{limit}' of service "
            f"'dns.googleapis.com' for consumer 'project_number:123456789012'."
        )
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": "dns.googleapis.com",
                    "quota_metric": metric,
                    "quota_limit": limit,
                    "consumer": "projects/123456789012",
                },
            }
        ]
    elif status == 403:
        reason = "forbidden"
        permission = PERMISSIONS.get(kind, "dns.unknown")
        message = f"Forbidden: permission '{permission}' denied on 'projects/{project}'."
    elif status == 503:
        reason, message = "backendError", "The service is currently unavailable."
    elif status >= 500:
        reason, message = "backendError", "Internal error encountered."
    else:
        reason, message = "invalid", "Injected error."
    return error_body(status, given_reason or reason, given_message or message, details)
