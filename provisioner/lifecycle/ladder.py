"""The promotion ladder: testing, then enforce with a growing max_age, one step per run.

Why steps: RFC 8461 section 5 has a sender that fetched an enforce policy keep it for
max_age, so a mistake made in enforce lasts as long as max_age says. Starting enforce at a
week and raising it only after each step held caps what one mistake can cost. The default
steps (604800, 1209600, 31557600 seconds: a week, two weeks, the RFC's maximum) are
`DEFAULT_ENFORCE_STEPS`; `mtasts promote --steps` replaces them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from provisioner.errors import MtastsError
from provisioner.rfc8461 import Mode, validate_max_age

DEFAULT_ENFORCE_STEPS = (604_800, 1_209_600, 31_557_600)
"""max_age (seconds) of each enforce step, lowest first."""


@dataclass(frozen=True)
class Step:
    """Where a domain stands: its policy mode and max_age (seconds)."""

    mode: Mode
    max_age: int

    def to_json(self) -> dict[str, str | int]:
        return {"mode": self.mode.value, "max_age": self.max_age}

    def __str__(self) -> str:
        return f"{self.mode} (max_age {self.max_age})"


def parse_steps(text: str) -> tuple[int, ...]:
    """`--steps 604800,1209600`: comma-separated max_age seconds, strictly ascending.

    Raises MtastsError naming the bad value (not a whole number, out of RFC 8461's range
    0..31557600, or not above the step before it).
    """
    steps: list[int] = []
    for part in text.split(","):
        value = part.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise MtastsError(f"--steps: {value[:20]!r} is not a whole number of seconds")
        try:
            seconds = validate_max_age(int(value))
        except ValueError as exc:
            raise MtastsError(f"--steps: {exc}") from None
        if steps and seconds <= steps[-1]:
            raise MtastsError(f"--steps: {seconds} is not above the step before it ({steps[-1]})")
        steps.append(seconds)
    return tuple(steps)


def next_step(current: Step, steps: Sequence[int] = DEFAULT_ENFORCE_STEPS) -> Step | None:
    """The step above `current`; None at the top (enforce at or above the last max_age).

    testing goes to enforce at the first step whatever its max_age; enforce goes to the
    first step whose max_age is above the current one. `none` is not on the ladder: a
    domain in mode none is being removed (RFC 8461 section 8.3), and promote refuses it.
    """
    if current.mode is Mode.TESTING:
        return Step(Mode.ENFORCE, steps[0])
    if current.mode is Mode.ENFORCE:
        for seconds in steps:
            if seconds > current.max_age:
                return Step(Mode.ENFORCE, seconds)
    return None
