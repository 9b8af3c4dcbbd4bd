"""STARTTLS on an MX, as an MTA-STS sender needs it: offered, and a certificate for the name.

Under `mode: enforce` a sender delivers only to an MX whose STARTTLS certificate is valid for
the MX host name (RFC 8461 section 4.2), so this checks exactly that and nothing more.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass

SMTP_PORT = 25


@dataclass(frozen=True)
class StarttlsResult:
    host: str
    offered: bool
    ok: bool
    detail: str


def probe_starttls(
    host: str,
    *,
    timeout: float,
    ca_bundle: str | None = None,
    connect_to: tuple[str, int] | None = None,
) -> StarttlsResult:
    address, port = connect_to or (host, SMTP_PORT)
    context = ssl.create_default_context(cafile=ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        with smtplib.SMTP(timeout=timeout, local_hostname="mtasts-check.invalid") as smtp:
            smtp._host = host  # type: ignore[attr-defined]  # the name for SNI and the cert check
            smtp.connect(address, port)
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
    except ssl.SSLCertVerificationError as exc:
        return StarttlsResult(
            host, offered=True, ok=False, detail=f"certificate: {exc.verify_message or exc.reason}"
        )
    except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
        return StarttlsResult(host, offered=False, ok=False, detail=f"SMTP failed: {exc}")
