"""What every Cloudflare request passes before it is sent, and what only Cloudflare needs.

Pacing to the quota is the toolkit's: `provisioner.pacing.shared_pacer` (pyrate-limiter's
sliding window, `MTASTS_CLOUDFLARE_RATE_LIMIT`, 1,100 requests per 300 s by default),
shared per API token, because Cloudflare counts its ~1,200 requests per 5 minutes per user
and a token belongs to one user (the account id does not say whose quota a request
spends). The key is a digest of the token, so the secret never becomes a dictionary key.

What stays here, and why the shared pacer cannot do it:

- **The hold after a 429.** Cloudflare answers a request over its limit with HTTP 429 and a
  `Retry-After` that may reach the rest of its 5-minute window, and the limit is the
  user's, so every request would get the same answer. The SDK honours `Retry-After` only up
  to 60 s and only for the request that got it: the other threads would keep sending into
  certain 429s, each one spending a retry. So a 429's `Retry-After` holds EVERY request of
  the run until then (`MAX_HOLD` at most: a longer one is not believed).
- **The run's deadline** (`MTASTS_DEADLINE`). It starts with the first request and starts
  again when apply begins (the provider restarts it), so time spent reading a plan, or
  waiting for someone to type "yes", is not charged to the writes. Past it, no request
  starts: a hold that would end past it fails at once, naming the call (`DeadlinePassed`).
  A wait for the pacer cannot be bounded from here (`Pacer.acquire` has no timeout), so it
  is checked after the wait: at most one quota window late, and nothing is sent.
- **A count of this run's requests**, retries included: the shared pacer counts every
  client of the token in the process, while tests count what one provider sent.

It hooks into httpx's `request` and `response` events, so every attempt, retries too,
passes through it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import httpx

from provisioner.deadline import Deadline
from provisioner.pacing import Pacer

MAX_HOLD = 600.0
"""A longer Retry-After is not believed (a clock skew or a bug); the SDK's backoff applies."""


def pacer_key(token: str) -> str:
    """The shared pacer's account key for a token: a digest, never the token itself."""
    return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def api_call(request: httpx.Request) -> str:
    """`GET /zones`: the method and the path below the API's base (`/client/v4`)."""
    path = request.url.path
    base = path.find("/client/v4")
    return f"{request.method} {path[base + len('/client/v4') :] if base >= 0 else path}"


class RequestGate:
    """The deadline, the 429 hold and the shared pacer, in that order; thread-safe."""

    def __init__(
        self,
        pacer: Pacer,
        deadline: Deadline,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pacer = pacer
        self.deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._held_until = 0.0
        self._started = False
        self.sent = 0
        """Requests this run let through, retries included."""

    def admit(self, call: str = "") -> None:
        """Return when `call` may be sent; raise DeadlinePassed when it may not.

        The run's deadline counts from the first request, as AWS's does: building the
        SDK's client (an import of seconds on a busy machine) is not the API's time.
        """
        with self._lock:
            if not self._started:
                self._started = True
                self.deadline.restart()
        self.deadline.check(0.0, call)
        while (hold := self._hold_left()) > 0:
            self.deadline.check(hold, call)
            self._sleep(hold)
        self.pacer.acquire()
        self.deadline.check(0.0, call)
        with self._lock:
            self.sent += 1

    def hold(self, seconds: float) -> None:
        """Hold every request for `seconds` (a 429's Retry-After)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)

    def _hold_left(self) -> float:
        with self._lock:
            return self._held_until - self._clock()

    def on_request(self, request: httpx.Request) -> None:
        """httpx `request` event hook."""
        self.admit(api_call(request))

    def on_response(self, response: httpx.Response) -> None:
        """httpx `response` event hook: a 429's Retry-After holds everyone."""
        if response.status_code != httpx.codes.TOO_MANY_REQUESTS:
            return
        try:
            seconds = float(response.headers.get("Retry-After", ""))
        except ValueError:
            return
        if 0 < seconds <= MAX_HOLD:
            self.hold(seconds)
