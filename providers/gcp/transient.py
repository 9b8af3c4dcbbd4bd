"""Retrying what Google answers with "try again": 429 and 5xx, bounded, on the shared poller.

Neither google-cloud-compute nor google-cloud-certificate-manager retries a 429, and Compute
retries a 503 only on GET (tests/gcp/test_gcp_fake_compute.py and
test_gcp_fake_certmanager.py pin this down), yet Google documents both as retryable with
backoff (https://cloud.google.com/apis/design/errors#error_retries: RESOURCE_EXHAUSTED,
UNAVAILABLE, INTERNAL). So every endpoint call goes through `retried`: the call is repeated
with growing pauses (`provisioner.polling`) until it answers or `MTASTS_GCP_RETRY_TIMEOUT`
passes; then the last error is raised as it was, for `providers.gcp.errors.reported` to put
on one line (a quota named by the API's own message).

Writes are safe to repeat: Compute inserts carry a `requestId` (a repeat answers the first
operation), and a Certificate Manager create that was accepted before its answer was lost
answers 409 on the repeat, which the callers treat as "already there".

Timeouts (`requests` ReadTimeout, bounded by MTASTS_READ_TIMEOUT) are not retried: a hung
API must end the run in bounded time, not in a multiple of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.api_core import exceptions as google_exceptions

from providers.gcp.errors import describe
from provisioner import knobs
from provisioner.deadline import Deadline
from provisioner.errors import ProviderError
from provisioner.knobs import RUN_DEADLINE
from provisioner.polling import Wait, WaitTimedOut, poll

T = TypeVar("T")

RETRY_TIMEOUT = knobs.seconds("MTASTS_GCP_RETRY_TIMEOUT", 120.0, 3_600.0)
"""Seconds one call may keep being retried on 429/5xx: a per-minute quota refills in 60."""

RETRYABLE = (
    google_exceptions.TooManyRequests,
    google_exceptions.InternalServerError,
    google_exceptions.BadGateway,
    google_exceptions.ServiceUnavailable,
    google_exceptions.GatewayTimeout,
)


@dataclass(frozen=True)
class _Answer(Generic[T]):
    value: T


_RUN: list[Deadline] = []
"""The current run's MTASTS_DEADLINE (`start_run`); none for a client used on its own."""


def start_run() -> None:
    """Start the run's deadline now: called once a run builds its gcp provider."""
    _RUN[:] = [Deadline.from_knob()]


def retried(what: str, call: Callable[[], T], sleep: Callable[[float], None]) -> T:
    """`call()`, repeated on 429/5xx with growing pauses; the last such error once time is up.

    No pause starts past the run's deadline (MTASTS_DEADLINE, `provisioner.deadline`):
    then the line names the knob and the last answer (a quota by name).
    """
    last: list[BaseException] = []

    def attempt() -> _Answer[T] | None:
        try:
            return _Answer(call())
        except RETRYABLE as exc:
            last[:] = [exc]
            return None

    run = _RUN[0] if _RUN else None
    try:
        wait = Wait(RETRY_TIMEOUT.read(), 1.0, 20.0)
        return poll(what, attempt, wait, sleep=sleep, run=run).value
    except WaitTimedOut as exc:
        if RUN_DEADLINE.env in str(exc):
            raise ProviderError(f"{exc}; the last answer: {describe(last[0])}") from None
        raise last[0] from None
