"""Fetching a policy the way RFC 8461 section 3.3 says senders do, and noting what broke.

Plain `ssl` + `http.client`, so every rule is explicit: TLS 1.2 or newer, SNI and the
certificate checked for `mta-sts.<domain>`, one GET, redirects reported and never followed,
at most 64 KB read, one timeout for the whole fetch. The policy host's address comes from
`resolve` (the check's own resolver, see connect.py), or from the system when there is none.
`connect_to` works like curl's `--connect-to`: the TCP connection goes elsewhere (a test
server, a private network) while the name in SNI, in the certificate check and in `Host`
stays the real one.
"""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from provisioner.checks.connect import ConnectError, ConnectTo, Resolve, open_connection
from provisioner.rfc8461 import POLICY_MAX_BYTES, POLICY_PATH

USER_AGENT = "mtasts-check (+RFC 8461)"
HTTPS_PORT = 443


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int | None = None
    content_type: str | None = None
    location: str | None = None
    body: bytes | None = None
    too_large: bool = False
    seconds: float = 0.0
    tls_version: str | None = None
    cert_not_after: datetime | None = None
    error: str | None = None
    """Why no HTTP answer came: DNS, TCP, TLS (with the certificate problem named)."""
    error_kind: str | None = None
    """`dns`, `connect`, `tls`, `certificate`, `timeout` or `http`, for the verdict."""


def policy_url(domain: str) -> str:
    return f"https://mta-sts.{domain}{POLICY_PATH}"


def fetch_policy(
    domain: str,
    *,
    timeout: float,
    ca_bundle: str | None = None,
    connect_to: ConnectTo | None = None,
    resolve: Resolve | None = None,
) -> FetchResult:
    """GET the policy of domain as a sender would; every failure is a FetchResult.error."""
    host = f"mta-sts.{domain}"
    url = policy_url(domain)
    started = time.monotonic()
    context = _tls_context(ca_bundle)
    try:
        raw = open_connection(
            host, HTTPS_PORT, timeout=timeout, resolve=resolve, connect_to=connect_to
        )
    except ConnectError as exc:
        return FetchResult(url, error=str(exc), error_kind=exc.kind)
    try:
        raw.settimeout(_remaining(started, timeout))
        tls = context.wrap_socket(raw, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        return FetchResult(
            url, error=f"certificate: {exc.verify_message or exc.reason}", error_kind="certificate"
        )
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        kind = "timeout" if isinstance(exc, TimeoutError) else "tls"
        return FetchResult(url, error=f"TLS handshake failed: {_reason(exc)}", error_kind=kind)
    try:
        return _get(tls, host, url, started, timeout)
    finally:
        tls.close()


def _get(tls: ssl.SSLSocket, host: str, url: str, started: float, timeout: float) -> FetchResult:
    cert_not_after = _not_after(tls.getpeercert())
    version = tls.version()
    connection = http.client.HTTPConnection(host, timeout=timeout)
    connection.sock = tls
    try:
        connection.request(
            "GET", POLICY_PATH, headers={"User-Agent": USER_AGENT, "Accept": "text/plain"}
        )
        tls.settimeout(_remaining(started, timeout))
        response = connection.getresponse()
        body = _read_body(response, tls, started, timeout)
    except TimeoutError:
        return FetchResult(
            url,
            error=f"no complete answer within the {timeout:g}s timeout",
            error_kind="timeout",
            tls_version=version,
            cert_not_after=cert_not_after,
        )
    except (http.client.HTTPException, OSError) as exc:
        return FetchResult(
            url,
            error=f"HTTP failed: {_reason(exc)}",
            error_kind="http",
            tls_version=version,
            cert_not_after=cert_not_after,
        )
    return FetchResult(
        url,
        status=response.status,
        content_type=response.getheader("Content-Type"),
        location=response.getheader("Location"),
        body=body[:POLICY_MAX_BYTES],
        too_large=len(body) > POLICY_MAX_BYTES,
        seconds=time.monotonic() - started,
        tls_version=version,
        cert_not_after=cert_not_after,
    )


def _read_body(
    response: http.client.HTTPResponse, tls: ssl.SSLSocket, started: float, timeout: float
) -> bytes:
    """At most 64 KB + 1 byte, within what is left of the one timeout for the fetch.

    A socket timeout bounds each read, not their sum: a server that trickles a byte at a
    time would hold the check for ever without this deadline.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= POLICY_MAX_BYTES:
        tls.settimeout(_remaining(started, timeout))
        chunk = response.read1(POLICY_MAX_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size <= POLICY_MAX_BYTES and response.length:
        # The connection closed before the Content-Length promised: a sender's HTTP client
        # fails such a read, so a truncated policy must not pass.
        raise http.client.IncompleteRead(b"".join(chunks), response.length)
    return b"".join(chunks)


def _remaining(started: float, timeout: float) -> float:
    left = started + timeout - time.monotonic()
    if left <= 0:
        raise TimeoutError("the whole fetch took longer than the timeout")
    return left


def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _not_after(cert: dict | None) -> datetime | None:  # type: ignore[type-arg]
    if not cert or "notAfter" not in cert:
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), UTC)


def _reason(exc: BaseException) -> str:
    return (
        getattr(exc, "strerror", None)
        or getattr(exc, "reason", None)
        or str(exc)
        or (type(exc).__name__)
    )
