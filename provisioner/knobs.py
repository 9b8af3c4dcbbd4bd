"""Run-time knobs read from the environment, validated like the spec, in one place.

Rates, timeouts and pool sizes are not part of a spec (they describe the machine and the
account, not what is published), so they come from `MTASTS_*` variables. Each knob is
declared once here with its unit, default and bounds; reading it validates the value, and a
bad one is a one-line error naming the variable, never a silent default: a typo in
`MTASTS_AWS_ROUTE53_RPS` must not quietly run at a rate nobody chose.

Rates are written `N/SECONDS` (`1200/300`: 1,200 requests in any 300 seconds), as the APIs
document them; a bare number means per second, fractions allowed (`0.5` is one request in
any two seconds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

from provisioner.errors import MtastsError

T = TypeVar("T", int, float)


class KnobError(MtastsError):
    """An `MTASTS_*` variable holds a value its knob refuses."""


MIN_WINDOW = 0.001
"""The shortest rate window, in seconds: the limiter counts in whole milliseconds, so a
shorter one (`5/0.0001`) would be a window of 0 ms, which pyrate-limiter refuses with an
assertion (an internal error) instead of pacing."""


@dataclass(frozen=True)
class Rate:
    """`requests` in any window of `seconds`; the unit of every API quota mtasts paces to."""

    requests: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}s"


@dataclass(frozen=True)
class NumberKnob(Generic[T]):
    env: str
    kind: type[T]
    default: T
    low: T
    high: T
    unit: str

    def read(self) -> T:
        raw = os.environ.get(self.env)
        if raw is None or raw.strip() == "":
            return self.default
        text = raw.strip()
        try:
            if not text.isascii() or len(text) > 32:
                raise ValueError(text)
            value = self.kind(text)
        except ValueError:
            raise KnobError(f"{self.env}: {_shown(raw)} is not a number of {self.unit}") from None
        if not self.low <= value <= self.high:
            raise KnobError(
                f"{self.env}: {text} is outside {self.low:g}..{self.high:g} {self.unit}"
            )
        return value


@dataclass(frozen=True)
class RateKnob:
    env: str
    default: Rate

    def read(self) -> Rate:
        raw = os.environ.get(self.env)
        if raw is None or raw.strip() == "":
            return self.default
        text = raw.strip()
        count, slash, window = text.partition("/")
        try:
            if not text.isascii() or len(text) > 32 or (slash and not window.strip()):
                raise ValueError(text)
            per = Fraction(count) / Fraction(window or "1")
            requests, seconds = per.numerator, float(per.denominator)
            if Fraction(count) == int(Fraction(count)) and window:
                requests, seconds = int(Fraction(count)), float(window)
        except (ValueError, ZeroDivisionError):
            raise KnobError(
                f"{self.env}: {_shown(raw)} is not a rate (N or N/SECONDS, e.g. 1200/300)"
            ) from None
        if requests < 1 or not MIN_WINDOW <= seconds <= 86_400:
            raise KnobError(
                f"{self.env}: {text} needs at least 1 request in a window of "
                f"{MIN_WINDOW:g}..86400 seconds"
            )
        return Rate(requests, seconds)


def _shown(raw: str) -> str:
    """A bad value as an error shows it: quoted, and cut short (it may be a whole file)."""
    return repr(raw) if len(raw) <= 40 else repr(raw[:40]) + "..."


def seconds(env: str, default: float, high: float = 86_400.0) -> NumberKnob[float]:
    return NumberKnob(env, float, default, 0.001, high, "seconds")


def count(env: str, default: int, high: int) -> NumberKnob[int]:
    return NumberKnob(env, int, default, 1, high, "workers")


CONNECT_TIMEOUT = seconds("MTASTS_CONNECT_TIMEOUT", 10.0, 600.0)
"""Seconds to open a connection to any provider API."""
READ_TIMEOUT = seconds("MTASTS_READ_TIMEOUT", 60.0, 3_600.0)
"""Seconds to wait for any provider API to answer one request."""
RUN_DEADLINE = seconds("MTASTS_DEADLINE", 3 * 3_600.0, 7 * 86_400.0)
"""Seconds a whole plan or apply may take before it stops with an error naming the wait."""
WORKERS = count("MTASTS_WORKERS", 16, 256)
"""Concurrent requests per provider: bounded so pacing, not thread count, sets the rate."""
