"""Every AWS call bounded in time: silence is not retried for minutes, the run has a deadline.

botocore's connect and read timeouts (`MTASTS_CONNECT_TIMEOUT`, `MTASTS_READ_TIMEOUT`) end one
attempt; its retry machinery would then try again, up to `TOTAL_MAX_ATTEMPTS` times with
backoff: right for throttling and 5xx (AWS answered, and asks us to slow down), wrong for an
endpoint that accepts connections and never answers, where twelve 60-second attempts kept a
plan silent for twelve minutes before "internal error: ReadTimeoutError". So a `needs-retry`
hook lets a silent or unreachable endpoint be tried `SILENT_ATTEMPTS` times in all, then
stops the call with a line naming the provider, the service and the operation:

    aws: Route53 ListResourceRecordSets: no answer within 20 s (MTASTS_READ_TIMEOUT)

A `before-call` hook (and the same retry hook) also holds the whole run to `MTASTS_DEADLINE`,
counted from the session's first use: however the waits and retries add up, a run ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from providers.aws.errors import describe
from provisioner.deadline import Deadline, DeadlinePassed
from provisioner.errors import ProviderError
from provisioner.knobs import CONNECT_TIMEOUT, READ_TIMEOUT, RUN_DEADLINE

SILENT_ATTEMPTS = 2
"""Tries for a call that timed out or could not connect: one retry for a blip, no more."""

_SILENT = (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError, ConnectionClosedError)

_SERVICE_NAMES = {"route-53": "Route53", "cloudfront": "CloudFront", "acm": "ACM", "s3": "S3"}


@dataclass(frozen=True)
class Timeouts:
    """The shared knobs every call is held to, read once per session."""

    connect: float
    read: float
    deadline: float

    @classmethod
    def read_knobs(cls) -> Timeouts:
        """Raises `provisioner.knobs.KnobError` naming the variable of a bad value."""
        return cls(CONNECT_TIMEOUT.read(), READ_TIMEOUT.read(), RUN_DEADLINE.read())


class CallTimedOut(ProviderError):
    """An AWS endpoint did not answer (or accept a connection) within the timeout."""


class RunDeadline(ProviderError):
    """The run used up `MTASTS_DEADLINE`."""


def call_name(event_name: str) -> str:
    """`before-call.route-53.ListHostedZones` -> `Route53 ListHostedZones`."""
    parts = event_name.split(".")
    service = parts[1] if len(parts) > 1 else "?"
    operation = parts[2] if len(parts) > 2 else "?"
    return f"{_SERVICE_NAMES.get(service, service.upper())} {operation}"


class CallGuard:
    """The botocore hooks that bound every call of one provider's clients."""

    def __init__(self, provider: str, timeouts: Timeouts) -> None:
        self.provider = provider
        self.timeouts = timeouts
        self.deadline = Deadline(timeouts.deadline)
        """The core's run deadline (`provisioner.deadline`), counted from the first call."""

    def check_deadline(self, call: str) -> None:
        try:
            self.deadline.check(0.0, call)
        except DeadlinePassed:
            raise RunDeadline(
                f"{self.provider}: {call}: the run's deadline of {self.timeouts.deadline:g} s "
                "passed (MTASTS_DEADLINE); nothing more was sent"
            ) from None

    def before_call(self, event_name: str, **_: Any) -> None:
        """`before-call` hook: returns None (a value would stand in for AWS's answer)."""
        self.check_deadline(call_name(event_name))

    def needs_retry(
        self,
        event_name: str,
        attempts: int,
        response: Any = None,
        caught_exception: Any = None,
        **_: Any,
    ) -> None:
        """`needs-retry` hook, run before botocore's own: stop what retrying cannot fix.

        Returns None so botocore's retry handler decides everything else (throttling, 5xx).
        A successful answer is never turned into an error here, even past the deadline: the
        change it made is live, and the next call's `before_call` stops the run instead.
        """
        call = call_name(event_name)
        if caught_exception is None:
            status = getattr(response[0], "status_code", 0) if response else 0
            if status >= 400:
                self.check_deadline(call)
            return
        if isinstance(caught_exception, _SILENT) and attempts >= SILENT_ATTEMPTS:
            raise self._stopped(call, caught_exception, attempts)
        self.check_deadline(call)

    def _stopped(self, call: str, exc: BaseException, attempts: int) -> ProviderError:
        tries = f"{attempts} tries"
        if isinstance(exc, ReadTimeoutError):
            return CallTimedOut(
                f"{self.provider}: {call}: no answer within {self.timeouts.read:g} s "
                f"({tries}; MTASTS_READ_TIMEOUT)"
            )
        if isinstance(exc, ConnectTimeoutError):
            return CallTimedOut(
                f"{self.provider}: {call}: no connection within "
                f"{self.timeouts.connect:g} s ({tries}; MTASTS_CONNECT_TIMEOUT)"
            )
        return ProviderError(f"{self.provider}: {call}: {describe(exc)} ({tries})")
