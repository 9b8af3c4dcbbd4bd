"""botocore failures as mtasts's one-line ProviderError, naming provider, domain and call.

The CLI prints `str(error)` and exits 1, so the message must say what was being done, for
which domain, and what went wrong, on one line, with no traceback.

What goes wrong is NAMED, not quoted, wherever the exception's own text may carry a
credential: botocore refuses a header holding a `\\r` (a CRLF `.env` file) with a message
quoting the whole header value, i.e. the session token; AWS answers a signature mismatch
with the canonical request, which holds the `x-amz-security-token` header. So:
connection, timeout and HTTP-client errors are described from their type and endpoint
only; AWS's own error message is cut before any canonical request; everything else still
goes through `provisioner.redact` (the scrubber of every printed line) as a second guard.
The session checks credentials for such characters before any request is signed
(`session.check_credentials`), so the usual case never reaches an HTTP client at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from provisioner.errors import MtastsError, ProviderError
from provisioner.redact import redact

NO_CREDENTIALS = (
    "no AWS credentials found (boto3's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE and ~/.aws, SSO, instance or container role)"
)

_SIGNING_DETAIL = ("The Canonical String", "The String-to-Sign", "\n\n")
"""Where AWS's message starts quoting the signed request (headers, token included)."""


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def endpoint_of(url: object) -> str:
    """`scheme://host:port` of a request URL: no path, query or user info (they may sign)."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the AWS endpoint"
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "the AWS endpoint"


def _os_reason(exc: BaseException) -> str:
    """The operating system's word for a failed connection (`connection refused`), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        inner = getattr(current, "kwargs", {}).get("error")
        current = inner if isinstance(inner, BaseException) else current.__context__
    return ""


def describe(exc: BaseException) -> str:
    """What went wrong, on one line, with nothing a credential could hide in."""
    if isinstance(exc, NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(exc, PartialCredentialsError):
        missing = exc.kwargs.get("cred_var", "part of them")
        source = exc.kwargs.get("provider", "?")
        return f"partial AWS credentials: {missing} is missing (credentials from {source})"
    if isinstance(exc, ConnectTimeoutError):
        return f"could not connect to {endpoint_of(exc.kwargs.get('endpoint_url'))} in time"
    if isinstance(exc, ReadTimeoutError):
        return f"no answer from {endpoint_of(exc.kwargs.get('endpoint_url'))} in time"
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
        reason = _os_reason(exc) or "the connection failed"
        return f"cannot reach {endpoint_of(exc.kwargs.get('endpoint_url'))}: {reason}"
    if isinstance(exc, HTTPClientError):
        return "the HTTP client refused the request (a header value it cannot send?)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or exc.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode", "error"
        )
        message = str(error.get("Message") or "")
        for marker in _SIGNING_DETAIL:
            message = message.split(marker, 1)[0]
        message = message.strip()
        text = f"{code}: {message}" if message else str(code)
    else:
        text = str(exc)
    return redact(" ".join(text.split()))


@contextmanager
def reported(provider: str, domain: str | None, doing: str) -> Iterator[None]:
    """Turn any botocore failure inside the block into one ProviderError line."""
    try:
        yield
    except MtastsError:
        raise
    except (ClientError, BotoCoreError) as exc:
        where = f"{provider}: {domain}: " if domain else f"{provider}: "
        raise ProviderError(f"{where}{doing} failed: {describe(exc)}") from None
