"""STARTTLS on an MX, as an MTA-STS sender needs it: offered, and a certificate for the name.

Under `mode: enforce` a sender delivers only to an MX whose STARTTLS certificate is valid for
the MX host name (RFC 8461 section 4.2), so this checks exactly that and nothing more. The
MX host's address comes from `resolve` (the check's own resolver, see connect.py); the
name stays the MX name for SNI and the certificate check.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass

from provisioner.checks.connect import ConnectError, ConnectTo, Resolve, open_connection

SMTP_PORT = 25


@dataclass(frozen=True)
class StarttlsResult:
    host: str
    offered: bool
    ok: bool
    detail: str


class _Smtp(smtplib.SMTP):
    """smtplib's client, connecting through `open_connection` rather than by name.

    smtplib would resolve the host itself, with the system's resolver.
    """

    def __init__(
        self, host: str, *, timeout: float, resolve: Resolve | None, connect_to: ConnectTo | None
    ) -> None:
        super().__init__(timeout=timeout, local_hostname="mtasts-check.invalid")
        self._host = host  # the name for SNI and the certificate check in starttls()
        self._resolve = resolve
        self._connect_to = connect_to

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return open_connection(
            self._host, port, timeout=timeout, resolve=self._resolve, connect_to=self._connect_to
        )


def probe_starttls(
    host: str,
    *,
    timeout: float,
    ca_bundle: str | None = None,
    connect_to: ConnectTo | None = None,
    resolve: Resolve | None = None,
) -> StarttlsResult:
    """EHLO, STARTTLS, EHLO on host's port 25 (or the override); failures are results."""
    context = ssl.create_default_context(cafile=ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        with _Smtp(host, timeout=timeout, resolve=resolve, connect_to=connect_to) as smtp:
            smtp.connect(host, SMTP_PORT)
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                return StarttlsResult(
                    host, offered=False, ok=False, detail="does not offer STARTTLS"
                )
            smtp.starttls(context=context)
            smtp.ehlo()
            return StarttlsResult(
                host, offered=True, ok=True, detail="STARTTLS with a valid certificate"
            )
    except ConnectError as exc:
        return StarttlsResult(host, offered=False, ok=False, detail=str(exc))
    except ssl.SSLCertVerificationError as exc:
        return StarttlsResult(
            host, offered=True, ok=False, detail=f"certificate: {exc.verify_message or exc.reason}"
        )
    except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
        return StarttlsResult(host, offered=False, ok=False, detail=f"SMTP failed: {exc}")
