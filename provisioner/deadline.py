"""The run's deadline: a point in time no request may start after, and no wait may pass.

`MTASTS_DEADLINE` (seconds, default three hours) bounds a whole plan or apply, so a CI job
never hangs on an API that accepts connections and never answers, a certificate that never
issues, or a quota that never frees. Each provider checks it before every request and every
retry; `provisioner.polling` and `provisioner.pacing` refuse to start a wait that would end
past it, failing at once with a message that names the knob instead of sleeping into a
certain error.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from provisioner.errors import MtastsError
from provisioner.knobs import RUN_DEADLINE


class DeadlinePassed(MtastsError):
    """No request may start: the run's deadline has passed (or would, during a wait).

    An MtastsError, so one that escapes a provider (from `Pacer.acquire(run)` or
    `Deadline.check`) is the user's one line, not an "internal error ... please report it".
    """

    def __init__(self, seconds: float, call: str = "") -> None:
        super().__init__(f"the run's deadline of {seconds:g} s has passed ({RUN_DEADLINE.env})")
        self.seconds = seconds
        self.call = call


class Deadline:
    """A point in time a run must not wait past; thread-safe to read."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    @classmethod
    def from_knob(cls) -> Deadline:
        """A deadline `MTASTS_DEADLINE` seconds from now (validated; KnobError if bad)."""
        return cls(RUN_DEADLINE.read())

    def restart(self) -> None:
        self._end = self._clock() + self.seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def check(self, wait: float = 0.0, call: str = "") -> None:
        """Raise DeadlinePassed unless a wait of `wait` seconds ends before the deadline."""
        if wait >= self.remaining():
            raise DeadlinePassed(self.seconds, call)
