"""How long a run waits for Cloudflare: a timeout per request, a deadline per run.

Why both: an API that accepts the connection and never answers kept `plan` silent for
574 s, the SDK's 60 s read timeout times its retries. Every request attempt now waits at
most `request` seconds to connect and `request` seconds for each read, and an attempt that
timed out is tried once more only (`TIMEOUT_RETRIES`): a silent API costs a call about
twice the timeout, not minutes. The run deadline is the backstop for everything else that
can add up (retries of 5xx and 429, the limiter's waits, a slow API answering just in
time, over and over): once it has passed, no request, retry or wait starts, and the error
says so. It restarts when apply begins, so time spent reading a plan (or waiting for
someone to type "yes") is not charged to the apply.

Both come from ONE setting, `MTASTS_CLOUDFLARE_TIMEOUT`: `SECONDS` (per request) or
`SECONDS/RUN_SECONDS`, e.g. `30/3600`, the defaults. A value that does not parse, or is out
of range, is a one-line error: a typo must not silently give the defaults (or no timeout).
The default run deadline leaves room for the rate limit: 3,600 s at ~3.7 requests per
second is about 13,000 requests, several thousand domains.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from provisioner.errors import ProviderError

TIMEOUT_ENV = "MTASTS_CLOUDFLARE_TIMEOUT"
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_RUN_DEADLINE = 3600.0
MAX_REQUEST_TIMEOUT = 600.0
MAX_RUN_DEADLINE = 86_400.0
TIMEOUT_RETRIES = 1
"""Tries after an attempt that got no answer in time: one, for a connection lost once."""

_NUMBER = r"(\d+(?:\.\d+)?)"
_TIMEOUT_RE = re.compile(rf"{_NUMBER}(?:\s*/\s*{_NUMBER})?")


@dataclass(frozen=True)
class Timeouts:
    request: float = DEFAULT_REQUEST_TIMEOUT
    """Seconds to connect, and seconds per read, for every request attempt."""
    run: float = DEFAULT_RUN_DEADLINE
    """Seconds after which a run starts no more requests, retries or waits."""


def shown(raw: str) -> str:
    """An environment value as an error may show it: escaped, and cut when long."""
    text = raw if len(raw) <= 40 else raw[:40] + "..."
    return repr(text)


def timeouts_from_env(provider: str) -> Timeouts:
    """The timeouts `MTASTS_CLOUDFLARE_TIMEOUT` asks for (unset or empty: the defaults);
    anything else that is not a valid setting is a one-line ProviderError."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    if not raw.strip():
        return Timeouts()
    match = _TIMEOUT_RE.fullmatch(raw.strip())
    problem = "expected SECONDS or SECONDS/RUN_SECONDS, e.g. 30 or 30/3600"
    if match is not None:
        request = float(match.group(1))
        run = float(match.group(2)) if match.group(2) else DEFAULT_RUN_DEADLINE
        if not 0 < request <= MAX_REQUEST_TIMEOUT:
            problem = f"the request timeout must be more than 0 and at most {MAX_REQUEST_TIMEOUT:g}"
        elif not request <= run <= MAX_RUN_DEADLINE or not math.isfinite(run):
            problem = (
                "the run deadline must be at least the request timeout and at most "
                f"{MAX_RUN_DEADLINE:g}"
            )
        else:
            return Timeouts(request, run)
    raise ProviderError(f"{provider}: {TIMEOUT_ENV}={shown(raw)}: {problem} (seconds)")


class DeadlinePassed(Exception):
    """No request may start: the run's deadline has passed (or would, during a wait)."""

    def __init__(self, seconds: float, call: str = "") -> None:
        super().__init__(f"the run's deadline of {seconds:g} s has passed")
        self.seconds = seconds
        self.call = call


class Deadline:
    """A point in time a run must not wait past; thread-safe to read."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def restart(self) -> None:
        self._end = self._clock() + self.seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def check(self, wait: float = 0.0, call: str = "") -> None:
        """Raise DeadlinePassed unless a wait of `wait` seconds ends before the deadline."""
        if wait >= self.remaining():
            raise DeadlinePassed(self.seconds, call)


def api_call(request: httpx.Request) -> str:
    """`GET /zones`: the method and the path below the API's base (`/client/v4`)."""
    path = request.url.path
    base = path.find("/client/v4")
    return f"{request.method} {path[base + len('/client/v4') :] if base >= 0 else path}"
