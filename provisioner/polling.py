"""Bounded polling: wait for something the provider settles on its own time, then give up.

Certificates turn ISSUED or ACTIVE, distributions Deployed, invalidations Completed, DNS
changes INSYNC or done, a CDN serves the new policy: each wait polls, pauses a little
longer each round up to a cap, and stops at a deadline, so apply fails naming what it
waited for instead of hanging. The deadline is also capped by the run's own deadline
(`MTASTS_DEADLINE`), so no single wait outlives the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from provisioner.errors import ProviderError

T = TypeVar("T")

GROWTH = 1.5


@dataclass(frozen=True)
class Wait:
    """`timeout` seconds in all; pauses from `first_pause`, growing to `longest_pause`."""

    timeout: float
    first_pause: float = 1.0
    longest_pause: float = 15.0


class WaitTimedOut(ProviderError):
    """What was awaited did not happen within the wait's timeout."""


def poll(
    what: str,
    check: Callable[[], T | None],
    wait: Wait,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `check` until it returns a value (not None); raise WaitTimedOut naming `what`.

    `what` completes the sentence "gave up waiting for ...", e.g. "aws: example.com:
    certificate ISSUED". `check` may raise to stop at once (a FAILED certificate).
    """
    deadline = clock() + wait.timeout
    pause = wait.first_pause
    while True:
        result = check()
        if result is not None:
            return result
        if clock() + pause > deadline:
            raise WaitTimedOut(f"gave up waiting for {what} after {wait.timeout:g}s")
        sleep(pause)
        pause = min(pause * GROWTH, wait.longest_pause)
