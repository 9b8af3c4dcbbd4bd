"""A client-side limiter for Cloudflare's API rate limit, shared by every request of a run.

Cloudflare allows about 1,200 requests per five minutes per user (across all of that user's
tokens and tools) and answers more with HTTP 429 and `Retry-After`. Retrying after a 429 is
the SDK's job (it honours `Retry-After`); this limiter's job is not to get there: a sliding
window that lets a request go only while fewer than `limit` requests went in the last
`window` seconds. A sliding window, not a token bucket refilled at 4 per second, because the
server counts a window: short bursts are allowed, so small runs never wait.

It hooks into httpx's `request` event, so retries are counted too, and it counts every
request, which is how the benchmark and the tests measure API calls per domain. Its
`response` hook reads `Retry-After` from a 429 and holds EVERY thread until then: the SDK
honours `Retry-After` only up to 60 seconds and only for the request that got the 429,
while Cloudflare may ask for up to the rest of its 5-minute window, for all requests.

A wait never runs past the run's deadline (timeouts.py): the request that would have to
wait longer fails at once with `DeadlinePassed`, instead of sleeping into a certain error.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable

import httpx

from provisioner.errors import ProviderError

from .timeouts import Deadline, api_call, shown

DEFAULT_LIMIT = 1_100
"""Requests per window: Cloudflare's 1,200 less a margin for the user's other tools."""
DEFAULT_WINDOW = 300.0
MAX_PAUSE = 600.0
"""A longer Retry-After is not believed (a clock skew or a bug); the SDK's backoff applies."""
MAX_WINDOW = 86_400.0
RATE_ENV = "MTASTS_CLOUDFLARE_RATE_LIMIT"
"""`REQUESTS/SECONDS` (e.g. `600/300`, or `0/1` for no limit): for shared tokens and tests."""


class SlidingWindowLimiter:
    """Blocks the calling thread until a request fits in the window; thread-safe."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self.requests = 0
        self.waited = 0.0
        self.deadline: Deadline | None = None
        """When set, no wait may end past it (DeadlinePassed names `call` instead)."""

    def acquire(self, call: str = "") -> None:
        while True:
            with self._lock:
                delay = self._take_or_wait()
            if self.deadline is not None:
                self.deadline.check(delay, call)
            if delay <= 0:
                return
            with self._lock:
                self.waited += delay
            self._sleep(delay)

    def _take_or_wait(self) -> float:
        """Take a slot now (0) or say how long to wait; called under the lock."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        if self.limit > 0:
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                return self._sent[0] + self.window - now
            self._sent.append(now)
        self.requests += 1
        return 0.0

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (a 429's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def on_request(self, request: httpx.Request) -> None:
        """httpx `request` event hook."""
        self.acquire(api_call(request))

    def on_response(self, response: httpx.Response) -> None:
        """httpx `response` event hook: a 429's Retry-After pauses everyone."""
        if response.status_code != httpx.codes.TOO_MANY_REQUESTS:
            return
        try:
            seconds = float(response.headers.get("Retry-After", ""))
        except ValueError:
            return
        if 0 < seconds <= MAX_PAUSE:
            self.pause(seconds)


def limiter_from_env(provider: str) -> SlidingWindowLimiter:
    """The default limiter (unset or empty), or the one `MTASTS_CLOUDFLARE_RATE_LIMIT` asks
    for; a value that is not `REQUESTS/SECONDS` is a one-line ProviderError, never a silent
    default (a typo would otherwise run a shared token at full speed)."""
    raw = os.environ.get(RATE_ENV, "")
    if not raw.strip():
        return SlidingWindowLimiter()
    match = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)", raw.strip())
    problem = "expected REQUESTS/SECONDS, e.g. 600/300 (0/1: no limit)"
    if match is not None:
        limit, window = int(match.group(1)), float(match.group(2))
        if not 0 < window <= MAX_WINDOW:
            problem = f"SECONDS must be more than 0 and at most {MAX_WINDOW:g}"
        else:
            return SlidingWindowLimiter(limit, window)
    raise ProviderError(f"{provider}: {RATE_ENV}={shown(raw)}: {problem}")
