"""The SDK client for one run: token, base URL, limiter, retries, and errors as one line.

The official `cloudflare` SDK does the HTTP: it reads `CLOUDFLARE_BASE_URL` (how tests aim it
at the local fake), retries 429 honouring `Retry-After` (up to 60 s) and 5xx/connection
errors with exponential backoff. We raise its retry budget, since a 1,000-domain apply can
meet several 429s in a row, and put our limiter in front so 429s stay rare.

The token comes only from `CLOUDFLARE_API_TOKEN`, is never stored in settings or a plan
file, and never appears in an error message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import cloudflare
import httpx

from provisioner.errors import ProviderError

from .ratelimit import SlidingWindowLimiter

TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
MAX_RETRIES = 8
TIMEOUT = httpx.Timeout(60.0, connect=10.0)

T = TypeVar("T")


class _Client(cloudflare.Cloudflare):
    """The SDK client, minus its retries of 409: Cloudflare answers 409 for lasting
    conflicts (a host that already has its own DNS record cannot become a custom domain),
    which retrying with backoff would only delay by half a minute before the same error."""

    def _should_retry(self, response: httpx.Response) -> bool:
        if response.status_code == httpx.codes.CONFLICT:
            return False
        return super()._should_retry(response)


def make_client(provider: str, limiter: SlidingWindowLimiter) -> cloudflare.Cloudflare:
    """An SDK client behind `limiter`; a missing token is a one-line ProviderError."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ProviderError(
            f"{provider}: {TOKEN_ENV} is not set: create an API token with the permissions "
            "listed in docs/cloudflare.md and export it"
        )
    http = cloudflare.DefaultHttpxClient(
        timeout=TIMEOUT,
        event_hooks={"request": [limiter.on_request], "response": [limiter.on_response]},
    )
    return _Client(api_token=token, max_retries=MAX_RETRIES, http_client=http)


def describe(exc: cloudflare.APIError) -> str:
    """`HTTP 403 (code 10000: Authentication error)`: the status and Cloudflare's first error."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    detail = ""
    if isinstance(body, dict):
        errors = body.get("errors") or []
        if errors and isinstance(errors[0], dict):
            first = errors[0]
            detail = f"code {first.get('code')}: {first.get('message')}"
    if not detail:
        detail = str(getattr(exc, "message", "") or type(exc).__name__)
    detail = " ".join(detail.split())
    return f"HTTP {status} ({detail})" if status is not None else detail


@contextmanager
def api_errors(provider: str, what: str) -> Iterator[None]:
    """Turn SDK exceptions into one-line ProviderErrors naming the provider and the target."""
    try:
        yield
    except cloudflare.AuthenticationError:
        raise ProviderError(
            f"{provider}: {what}: Cloudflare refused the API token (HTTP 401): check {TOKEN_ENV}"
        ) from None
    except cloudflare.PermissionDeniedError as exc:
        raise ProviderError(
            f"{provider}: {what}: the API token lacks a permission ({describe(exc)}); see "
            "docs/cloudflare.md for the exact list"
        ) from None
    except cloudflare.APIConnectionError as exc:
        raise ProviderError(f"{provider}: {what}: cannot reach the Cloudflare API: {exc}") from None
    except cloudflare.APIError as exc:
        raise ProviderError(f"{provider}: {what}: {describe(exc)}") from None


def all_pages(fetch: Callable[[int], Any]) -> list[Any]:
    """Every item of a v4 paginated listing, stopping at `total_pages`.

    The SDK's auto-paging stops only on an empty page, which costs one more request per
    listing (a 1,000-zone read would pay 1,000 extra calls); `result_info` tells us when to
    stop, and a short page stops us when it is missing.
    """
    items: list[Any] = []
    page = 1
    while True:
        answer = fetch(page)
        result = list(answer.result or [])
        items.extend(result)
        info = answer.result_info
        total_pages = getattr(info, "total_pages", None) if info is not None else None
        per_page = getattr(info, "per_page", None) if info is not None else None
        if not result:
            return items
        if total_pages is not None:
            if page >= int(total_pages):
                return items
        elif per_page is not None and len(result) < int(per_page):
            return items
        page += 1
