"""Client-side pacing for Route53, whose API allows 5 requests a second per account.

Why pace at all when botocore's `adaptive` retry mode already slows down after a
`Throttling` answer: adaptive mode learns the rate from failures, so a 1,000-zone plan with
16 threads first burns retries (and, in `standard` mode, the whole retry quota). Pacing every
HTTP attempt to the documented rate means throttling is the exception, and adaptive retries
are left to absorb what other tools on the same account spend.

The limiter paces each attempt (botocore's `before-send` event fires once per HTTP try,
retries included) with a sliding window: a send waits until the one `rate` sends before it
is more than a second (plus a small margin for network jitter) in the past. Any one-second
window then holds at most `rate` requests, while a small run (a plan of three zones) still
goes out at once. Limiters are shared per (credentials, service) in the process, because the
quota is the account's, not one client's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

ROUTE53_RPS_ENV = "MTASTS_AWS_ROUTE53_RPS"
"""Route53's quota, overridable (a raised quota, an emulator): `provisioner.pacing.ROUTE53`,
read and validated with the other knobs in `tuning.py`."""


class RateLimiter:
    """At most `rate` sends in any one-second window across every thread that shares it."""

    WINDOW = 1.0
    MARGIN = 0.1
    """Seconds added to the window: requests arrive later than they leave, unevenly."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.size = max(1, int(rate))
        self.window = self.WINDOW * self.size / rate + self.MARGIN
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = now
            if len(self._sent) >= self.size:
                slot = max(now, self._sent[0] + self.window)
                self._sent.popleft()
            self._sent.append(slot)
        delay = slot - now
        if delay > 0:
            time.sleep(delay)

    def before_send(self, **_: Any) -> None:
        """botocore `before-send` hook: must return None, or botocore takes it as the response."""
        self.acquire()


_shared: dict[tuple[str, str], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(account_key: str, service: str, rate: float) -> RateLimiter:
    """The process-wide limiter for this account and service (rate fixed at first use)."""
    key = (account_key, service)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None or limiter.rate != rate:
            limiter = _shared[key] = RateLimiter(rate)
        return limiter
