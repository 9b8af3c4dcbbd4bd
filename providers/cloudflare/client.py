"""The SDK client for one run: token, base URL, timeouts, pacing, retries, one-line errors.

The official `cloudflare` SDK does the HTTP: it reads `CLOUDFLARE_BASE_URL` (how tests aim it
at the local fake), retries 429 honouring `Retry-After` (up to 60 s) and 5xx/connection
errors with exponential backoff. We raise its retry budget, since a 1,000-domain apply can
meet several 429s in a row, and put the request gate (gate.py: the shared pacer, the hold
after a 429, the run's deadline) in front so 429s stay rare.

Credentials: exactly `CLOUDFLARE_API_TOKEN`, sent as `Authorization: Bearer`. The SDK would
also read `CLOUDFLARE_API_KEY`, `CLOUDFLARE_EMAIL` and `CLOUDFLARE_API_USER_SERVICE_KEY`
from the environment and PREFER them (with both set, a run would authenticate with the
account's Global API Key, which can do anything the account can), and would add any header
`CLOUDFLARE_CUSTOM_HEADERS` names; `_Client` drops all of those, so the documented token is
the only credential a request carries. The token is never stored in settings or a plan
file, and `scrub` takes every credential value out of an error message (an error page or a
proxy may echo the request's headers).

Waiting: the knobs every provider shares (`provisioner.knobs`): `MTASTS_CONNECT_TIMEOUT`
and `MTASTS_READ_TIMEOUT` on every attempt, `MTASTS_DEADLINE` on the run (gate.py). Why an
attempt that got no answer is tried once more only (`TIMEOUT_RETRIES`), not eight times: an
API that accepts the connection and never answers kept `plan` silent for 574 s, the SDK's
60 s read timeout times its retries; now it costs about twice the timeout. No retry sleeps
past the deadline. The errors name the call: `GET /zones: no answer within 60 s, twice`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import cloudflare
import httpx
from cloudflare._models import FinalRequestOptions

from provisioner.deadline import Deadline, DeadlinePassed
from provisioner.errors import ProviderError
from provisioner.knobs import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    RUN_DEADLINE,
    WORKERS,
    KnobError,
    Rate,
)
from provisioner.pacing import CLOUDFLARE

from .gate import RequestGate, api_call

TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
IGNORED_CREDENTIALS = (
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_API_USER_SERVICE_KEY",
)
"""What the SDK would read besides the token; mtasts never sends them."""
AUTH_HEADERS = frozenset({"authorization", "x-auth-key", "x-auth-email", "x-auth-user-service-key"})
RETIRED_TIMEOUT_ENV = "MTASTS_CLOUDFLARE_TIMEOUT"
"""The Cloudflare-only timeout knob of earlier releases, replaced by the shared ones: a run
that still sets it is refused, since ignoring it would run with deadlines nobody chose."""
MAX_RETRIES = 8
TIMEOUT_RETRIES = 1
"""Tries after an attempt that got no answer in time: one, for a connection lost once."""
MASK = "***"

_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
"""What a token can hold: visible ASCII. A `\\r` from a CRLF .env file is stripped first."""


@dataclass(frozen=True)
class Knobs:
    """The shared knobs a Cloudflare run reads, all validated before its first request."""

    connect_timeout: float
    read_timeout: float
    deadline: float
    quota: Rate
    workers: int

    @classmethod
    def read(cls, provider: str) -> Knobs:
        """Every knob, or a one-line ProviderError naming the provider and the variable (a
        typo must not run with a silent default, nor stop a run half-way)."""
        if os.environ.get(RETIRED_TIMEOUT_ENV, "").strip():
            raise ProviderError(
                f"{provider}: {RETIRED_TIMEOUT_ENV} is no longer read: set "
                f"{CONNECT_TIMEOUT.env}, {READ_TIMEOUT.env} and {RUN_DEADLINE.env} instead "
                "(docs/cloudflare.md)"
            )
        try:
            return cls(
                connect_timeout=CONNECT_TIMEOUT.read(),
                read_timeout=READ_TIMEOUT.read(),
                deadline=RUN_DEADLINE.read(),
                quota=CLOUDFLARE.read(),
                workers=WORKERS.read(),
            )
        except KnobError as exc:
            raise ProviderError(f"{provider}: {exc}") from None


class _Client(cloudflare.Cloudflare):
    """The SDK client with exactly one credential, a deadline, and no retries of 409.

    409: Cloudflare answers it for lasting conflicts (a host that already has its own DNS
    record cannot become a custom domain), which retrying with backoff would only delay by
    half a minute before the same error.
    """

    deadline: Deadline | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The SDK filled these from the environment when they were not given; the token
        # is the only credential mtasts documents, so the others must not ride along.
        self.api_key = None
        self.api_email = None
        self.user_service_key = None
        self._custom_headers = {
            k: v for k, v in self._custom_headers.items() if k.lower() not in AUTH_HEADERS
        }

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}

    def _should_retry(self, response: httpx.Response) -> bool:
        if response.status_code == httpx.codes.CONFLICT:
            return False
        return super()._should_retry(response)

    def _sleep_for_retry(
        self,
        *,
        retries_taken: int,
        max_retries: int,
        options: FinalRequestOptions,
        response: httpx.Response | None,
    ) -> None:
        """The SDK calls this inside its `except` block before each retry, so the error
        being handled tells which kind of failure it is: a passed deadline is raised on,
        a timeout is retried `TIMEOUT_RETRIES` times only, and no sleep ends past the
        deadline."""
        error = sys.exc_info()[1]
        if isinstance(error, DeadlinePassed):
            raise error
        if isinstance(error, httpx.TimeoutException) and retries_taken >= TIMEOUT_RETRIES:
            raise cloudflare.APITimeoutError(request=error.request) from error
        headers = response.headers if response is not None else None
        wait = self._calculate_retry_timeout(max_retries - retries_taken, options, headers)
        if self.deadline is not None:
            call = f"{options.method.upper()} {options.url}"
            self.deadline.check(wait, call)
        time.sleep(wait)


def read_token(provider: str) -> str:
    """The token from `CLOUDFLARE_API_TOKEN`; missing or malformed is a one-line error that
    never shows the value."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ProviderError(
            f"{provider}: {TOKEN_ENV} is not set: create an API token with the permissions "
            "listed in docs/cloudflare.md and export it"
        )
    if not _TOKEN_RE.fullmatch(token):
        raise ProviderError(
            f"{provider}: {TOKEN_ENV} holds spaces or control characters no API token has "
            "(a value pasted with its line end?): export the token alone"
        )
    return token


def make_client(
    provider: str, token: str, gate: RequestGate, knobs: Knobs
) -> cloudflare.Cloudflare:
    """An SDK client for `token` behind `gate`, with the knobs' timeouts on every attempt
    and the gate's deadline on every retry."""
    timeout = httpx.Timeout(knobs.read_timeout, connect=knobs.connect_timeout)
    http = cloudflare.DefaultHttpxClient(
        timeout=timeout,
        event_hooks={"request": [gate.on_request], "response": [gate.on_response]},
    )
    client = _Client(api_token=token, timeout=timeout, max_retries=MAX_RETRIES, http_client=http)
    client.deadline = gate.deadline
    return client


def scrub(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` without any Cloudflare credential value (the token, and what the SDK would
    have read), nor what follows a `Bearer` or an `X-Auth-*` header name."""
    env = os.environ if environ is None else environ
    values = {env.get(name, "").strip() for name in (TOKEN_ENV, *IGNORED_CREDENTIALS)}
    for value in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, MASK)
    text = re.sub(r"(?i)(\bBearer\s+)\S+", rf"\1{MASK}", text)
    return re.sub(r"(?i)(\bx-auth-[a-z-]+['\"]?\s*[:=]\s*)['\"]?[^\s'\",}]+", rf"\1{MASK}", text)


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
    """Turn SDK exceptions into one-line ProviderErrors naming the provider, the target and,
    for a call that got no answer, the call; credentials scrubbed from every message."""
    try:
        yield
    except DeadlinePassed as exc:
        raise ProviderError(scrub(_deadline_text(provider, what, exc))) from None
    except cloudflare.AuthenticationError:
        raise ProviderError(
            f"{provider}: {what}: Cloudflare refused the API token (HTTP 401): check {TOKEN_ENV}"
        ) from None
    except cloudflare.PermissionDeniedError as exc:
        raise ProviderError(
            scrub(
                f"{provider}: {what}: the API token lacks a permission ({describe(exc)}); see "
                "docs/cloudflare.md for the exact list"
            )
        ) from None
    except cloudflare.APITimeoutError as exc:
        call = api_call(exc.request)
        if isinstance(exc.__cause__, httpx.ConnectTimeout):
            waited = f"no connection within {_timeout(exc.request, 'connect')}, twice"
            knob = CONNECT_TIMEOUT.env
        else:
            waited = f"no answer within {_timeout(exc.request, 'read')}, twice"
            knob = READ_TIMEOUT.env
        raise ProviderError(
            scrub(f"{provider}: {what}: Cloudflare API {call}: {waited} ({knob} sets the wait)")
        ) from None
    except cloudflare.APIConnectionError as exc:
        cause = exc.__cause__
        if isinstance(cause, DeadlinePassed):
            cause.call = cause.call or api_call(exc.request)
            raise ProviderError(scrub(_deadline_text(provider, what, cause))) from None
        reason = " ".join(str(cause or exc).split()) or type(cause).__name__
        raise ProviderError(
            scrub(
                f"{provider}: {what}: cannot reach the Cloudflare API "
                f"({api_call(exc.request)}: {reason})"
            )
        ) from None
    except cloudflare.APIError as exc:
        raise ProviderError(scrub(f"{provider}: {what}: {describe(exc)}")) from None


def _deadline_text(provider: str, what: str, exc: DeadlinePassed) -> str:
    call = f"Cloudflare API {exc.call}: " if exc.call else ""
    return (
        f"{provider}: {what}: {call}{exc} before the call could finish ({RUN_DEADLINE.env} sets it)"
    )


def _timeout(request: httpx.Request, which: str) -> str:
    """The `connect` or `read` timeout the request was sent with, as `60 s` or `0.5 s`."""
    timeout = request.extensions.get("timeout") or {}
    seconds = timeout.get(which) if isinstance(timeout, dict) else None
    return f"{seconds:g} s" if isinstance(seconds, int | float) else "the timeout"


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
