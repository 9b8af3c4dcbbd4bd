"""Where a probe opens its TCP connection: the check's resolver, or an override.

The policy fetch (`mta-sts.<domain>`:443) and the STARTTLS probe (each MX:25) connect by
host name. Letting the socket library resolve that name would ask the system's resolver,
not the one the check was aimed at (`--nameserver`): against a private resolver the fetch
then fails with "Name or service not known" although every record is in place. So the
address comes from the same resolver as every other look-up of the check (`resolve`), and
the host name is kept for SNI, the certificate check and `Host`.

`connect_to` works like curl's `--connect-to`: `(HOST, PORT)` connects there whatever the
name resolves to; `(None, PORT)` keeps the resolved address and only changes the port (a
test server on a random port, a tunnel).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from provisioner.checks.dnsprobe import DnsFailure

Resolve = Callable[[str], tuple[str, ...]]
"""Host name -> its addresses, () when it has none; raises DnsFailure."""

ConnectTo = tuple[str | None, int]
"""`(HOST, PORT)` to connect there instead; `(None, PORT)` for the resolved address."""


class ConnectError(Exception):
    """No TCP connection: the sentence names the host (and the address tried).

    `kind` is `dns` (no address, or the resolver failed), `timeout` or `connect`.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def open_connection(
    host: str,
    port: int,
    *,
    timeout: float,
    resolve: Resolve | None = None,
    connect_to: ConnectTo | None = None,
) -> socket.socket:
    """A connected socket to host (or its override), within `timeout` in all.

    Without `resolve`, the system resolves host (as `socket.create_connection` does); with
    it, each address it gives is tried in turn, as senders do. Raises ConnectError.
    """
    override_host, port = connect_to if connect_to is not None else (None, port)
    if override_host:
        return _connect(host, override_host, port, timeout, show_address=False)
    if resolve is None:
        return _connect(host, host, port, timeout, show_address=False)
    started = time.monotonic()
    try:
        addresses = resolve(host)
    except DnsFailure as exc:
        raise ConnectError(f"cannot resolve {host}: {exc}", "dns") from None
    if not addresses:
        raise ConnectError(f"{host} has no A or AAAA record", "dns")
    error: ConnectError | None = None
    for address in addresses:
        left = started + timeout - time.monotonic()
        if left <= 0:
            break
        try:
            return _connect(host, address, port, left, show_address=True)
        except ConnectError as exc:
            error = exc
    raise error or ConnectError(f"connecting to {host} timed out", "timeout")


def _connect(
    host: str, address: str, port: int, timeout: float, *, show_address: bool
) -> socket.socket:
    where = f"{host} ({address} port {port})" if show_address else host
    try:
        return socket.create_connection((address, port), timeout=timeout)
    except TimeoutError:
        raise ConnectError(f"connecting to {where} timed out", "timeout") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConnectError(f"cannot connect to {where}: {reason}", "connect") from None
