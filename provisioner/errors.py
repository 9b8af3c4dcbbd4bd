"""Errors are values with a location until the CLI prints them.

Every failure a user can cause (a bad spec, a provider refusing a call, a stale plan) is an
`MtastsError`: the CLI prints its one-line message and exits 1, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class MtastsError(Exception):
    """A failure the user can act on; `str()` is the whole one-line message."""


class ProviderError(MtastsError):
    """A provider's API or storage refused or failed; the message names provider and domain."""


class StalePlanError(MtastsError):
    """The live state moved since a saved plan was made, so applying it could undo someone."""


@dataclass(frozen=True)
class Problem:
    """One finding in a file: `path:line: where: message`."""

    path: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        location = f"{self.path}:{self.line}" if self.line is not None else self.path
        prefix = f"{location}: {self.where}: " if self.where else f"{location}: "
        return one_line(prefix + self.message)


def one_line(text: str) -> str:
    """Control characters (a key holding a newline, say) escaped, so one problem is one line."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


class SpecError(MtastsError):
    """All problems of a spec at once: a user fixing 40 domains wants all 40 errors."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
