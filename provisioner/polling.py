"""Bounded polling: wait for something the provider settles on its own time, then give up.

Certificates turn ISSUED or ACTIVE, distributions Deployed, invalidations Completed, DNS
changes INSYNC or done, a CDN serves the new policy: each wait polls, pauses a little
longer each round up to a cap, and stops at a deadline, so apply fails naming what it
waited for instead of hanging. Given the run's deadline (`provisioner.deadline`, from
`MTASTS_DEADLINE`), no pause starts that would outlive the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from provisioner.deadline import Deadline
from provisioner.errors import ProviderError
from provisioner.knobs import RUN_DEADLINE

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


_listeners: list[Callable[[str], None]] = []
_listeners_lock = threading.Lock()


@contextmanager
def waits_reported_to(listener: Callable[[str], None]) -> Iterator[None]:
    """Tell `listener` what every poll in this process waits for (its `what`), once per
    poll, when it first has to pause: apply shows it on the progress bar ("waiting for aws:
    distributions Deployed") so a wait of minutes is named, not a bar standing still.

    Process-wide rather than passed down, because the waits sit deep inside providers
    (in worker threads) that have no display of their own.
    """
    with _listeners_lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _listeners_lock:
            _listeners.remove(listener)


def _report_wait(what: str) -> None:
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(what)


def poll(
    what: str,
    check: Callable[[], T | None],
    wait: Wait,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    run: Deadline | None = None,
) -> T:
    """Call `check` until it returns a value (not None); raise WaitTimedOut naming `what`.

    `what` completes the sentence "gave up waiting for ...", e.g. "aws: example.com:
    certificate ISSUED". `check` may raise to stop at once (a FAILED certificate). With
    `run`, no pause starts that would end past the run's deadline.
    """
    deadline = clock() + wait.timeout
    pause = wait.first_pause
    reported = False
    while True:
        result = check()
        if result is not None:
            return result
        if clock() + pause > deadline:
            raise WaitTimedOut(f"gave up waiting for {what} after {wait.timeout:g}s")
        if run is not None and pause >= run.remaining():
            raise WaitTimedOut(
                f"gave up waiting for {what}: the run's deadline of {run.seconds:g}s comes "
                f"first ({RUN_DEADLINE.env})"
            )
        if not reported:
            _report_wait(what)
            reported = True
        sleep(pause)
        pause = min(pause * GROWTH, wait.longest_pause)


@dataclass(frozen=True)
class _Answer(Generic[T]):
    value: T


def retry(
    what: str,
    call: Callable[[], T],
    transient: Callable[[Exception], bool],
    wait: Wait,
    run: Deadline | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`call()`, again after a growing pause while it raises an error `transient` accepts
    (a 429, a 5xx), within `wait` and the run's deadline; any other error at once.

    For an API whose SDK does not retry on its own. The last transient error is not shown:
    the raised WaitTimedOut (a ProviderError, one line) names `what` and the limit that
    ended the retries, `wait.timeout` or `MTASTS_DEADLINE` (issue 9.2).
    """

    def attempt() -> _Answer[T] | None:
        try:
            return _Answer(call())
        except Exception as exc:
            if transient(exc):
                return None
            raise

    return poll(what, attempt, wait, sleep=sleep, clock=clock, run=run).value
