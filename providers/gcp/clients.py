"""How every Google Cloud client is built: endpoint, credentials, timeouts. One place.

Credentials are Application Default Credentials (the standard chain: the
`GOOGLE_APPLICATION_CREDENTIALS` file, gcloud's user credentials, the metadata server),
except for a client aimed at an emulator or fake through a `*_endpoint` setting (or
`STORAGE_EMULATOR_HOST` for GCS): that one uses anonymous credentials, as
google-cloud-storage does for its emulator. mtasts never reads or prints a key itself.

Timeouts: the libraries' defaults reach 600 s per call (Compute) and none of them bounds a
single poll, so every call passes `timeout=request_timeout()` (the validated
`MTASTS_READ_TIMEOUT` knob), and waits go through `provisioner.polling`.
"""

from __future__ import annotations

import os
from typing import Any

from google.auth.credentials import AnonymousCredentials, Credentials

from provisioner.knobs import CONNECT_TIMEOUT, READ_TIMEOUT

STORAGE_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"


def client_options(endpoint: str | None) -> dict[str, Any] | None:
    """`client_options` for a client library: the endpoint override, or None for Google's."""
    return {"api_endpoint": endpoint} if endpoint else None


def credentials_for(endpoint: str | None) -> Credentials | None:
    """Anonymous for an overridden endpoint; None lets the library use ADC."""
    return AnonymousCredentials() if endpoint else None  # type: ignore[no-untyped-call]


def storage_endpoint(configured: str | None) -> str | None:
    """The GCS endpoint: the setting, else `STORAGE_EMULATOR_HOST` (as the library reads it)."""
    if configured:
        return configured
    emulator = os.environ.get(STORAGE_EMULATOR_ENV, "").strip()
    if not emulator:
        return None
    return emulator if "://" in emulator else f"http://{emulator}"


def request_timeout() -> float:
    """Seconds any one API request may take (the MTASTS_READ_TIMEOUT knob)."""
    return READ_TIMEOUT.read()


def http_timeout() -> tuple[float, float]:
    """(connect, read) seconds for a `requests`-based client (Cloud DNS, GCS): the two knobs.

    Both libraries hand `timeout` to `requests`, which takes this pair; a hung API then fails
    after MTASTS_READ_TIMEOUT instead of the libraries' 60 s default.
    """
    return CONNECT_TIMEOUT.read(), READ_TIMEOUT.read()
