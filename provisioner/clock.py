"""The run's clock: what "now" is for a plan's removal waits, minted ids and saved plans.

Time enters mtasts in three places: the RFC 8461 section 8.3 removal wait (records go only
once a `mode: none` policy has outlived its max_age), the minting time inside each new
`_mta-sts` id, and the check that a saved plan's ids were not minted in the future. They all
ask `now()`, so one seam moves them together.

`MTASTS_NOW` (ISO 8601 with a UTC offset, e.g. `2026-12-24T00:00:00Z`) sets the clock for
one run: to preview what the plan will be once a removal wait is over, to make `render`
and `apply` produce the same ids in a test, or to move a test's clock without patching
code. A value that is not an aware ISO 8601 time is a one-line error, never ignored.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from provisioner.errors import MtastsError

ENV_VAR = "MTASTS_NOW"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def now() -> datetime:
    """The current time (aware, UTC), or `MTASTS_NOW` when set; raises MtastsError if bad."""
    value = os.environ.get(ENV_VAR)
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MtastsError(
            f"{ENV_VAR}: {value!r} is not an ISO 8601 time (e.g. 2026-12-24T00:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise MtastsError(f"{ENV_VAR}: {value!r} needs a UTC offset (e.g. a trailing Z)")
    parsed = parsed.astimezone(UTC)
    if not EARLIEST <= parsed <= LATEST:
        raise MtastsError(
            f"{ENV_VAR}: {value!r} is outside {EARLIEST.year}..{LATEST.year} (ids carry a "
            "four-digit year)"
        )
    return parsed
