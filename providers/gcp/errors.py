"""Google API failures as mtasts's one-line ProviderError, naming provider, domain and call.

google-api-core raises one exception class per HTTP status (`Forbidden`, `Conflict`,
`TooManyRequests`...), with the API's message and, for quota errors, an ErrorInfo naming
the quota metric; `requests` raises its own timeouts and connection errors (they are not
api-core exceptions). Each is described on one line: what was being done, for which domain,
and what went wrong (a quota by name, a missing permission by name), never a traceback.
The text still goes through `provisioner.redact`: an error may echo a header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from google.api_core import exceptions as google_exceptions
from google.auth import exceptions as auth_exceptions

from provisioner.errors import MtastsError, ProviderError
from provisioner.redact import redact

_REQUEST_LINE = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE|HEAD) \S+: ")
"""google-cloud-core prefixes its messages with the request (`POST https://...?x=y: `):
the call is already named by `doing`, and a URL's query string is noise on one line."""

CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
NO_CREDENTIALS = (
    "no Google Cloud credentials found (Application Default Credentials: "
    "GOOGLE_APPLICATION_CREDENTIALS, 'gcloud auth application-default login', or the "
    "metadata server)"
)


def describe(exc: BaseException) -> str:
    """What went wrong, on one line."""
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        if os.environ.get(CREDENTIALS_ENV) and exc.args:
            # google-auth's first argument names the file and what is wrong with it; the
            # second is the parser's error, left out: it may quote the file's content.
            return redact(f"{CREDENTIALS_ENV} is set but unusable: {exc.args[0]}")
        return NO_CREDENTIALS
    if isinstance(exc, requests.exceptions.Timeout):
        return "no answer in time (MTASTS_READ_TIMEOUT sets the wait)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot reach the API endpoint (connection failed)"
    if isinstance(exc, google_exceptions.GoogleAPICallError):
        code = exc.code if exc.code is not None else "error"
        reason = getattr(exc, "reason", None)
        quota = (getattr(exc, "metadata", None) or {}).get("quota_metric")
        message = _REQUEST_LINE.sub("", exc.message or "")
        text = f"HTTP {code}" + (f" {reason}" if reason else "") + f": {message}"
        if quota:
            text += f" (quota {quota})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(" ".join(str(text).split()))


@contextmanager
def reported(provider: str, domain: str | None, doing: str) -> Iterator[None]:
    """Turn any Google API, auth or HTTP failure inside the block into one ProviderError."""
    try:
        yield
    except MtastsError:
        raise
    except (
        google_exceptions.GoogleAPIError,
        auth_exceptions.GoogleAuthError,
        requests.exceptions.RequestException,
    ) as exc:
        where = f"{provider}: {domain}: " if domain else f"{provider}: "
        raise ProviderError(f"{where}{doing} failed: {describe(exc)}") from None
