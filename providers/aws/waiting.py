"""Bounded polling with a growing pause, shared by every AWS wait.

Certificates (ISSUED), distributions (Deployed), invalidations (Completed) and Route53
changes (INSYNC) all settle on AWS's time, not ours: each wait polls, pauses a little longer
each round up to a cap, and gives up at a deadline so apply fails naming the domain instead
of hanging.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

GROWTH = 1.5


def attempts(timeout: float, first_pause: float, longest_pause: float) -> Iterator[int]:
    """Yield 0, 1, 2... once per poll; stop when `timeout` seconds have passed.

    The caller returns from inside the loop when it is done and raises its own error after
    the loop, when the deadline passed first.
    """
    deadline = time.monotonic() + timeout
    pause = first_pause
    attempt = 0
    while True:
        yield attempt
        if time.monotonic() > deadline:
            return
        time.sleep(pause)
        pause = min(pause * GROWTH, longest_pause)
        attempt += 1
