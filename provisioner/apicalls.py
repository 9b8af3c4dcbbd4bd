"""API calls counted by service for `-v` (issue 11): what a run really cost.

API calls are mtasts's real cost (quotas, rate limits, money), so `-v` reports them. The
paced APIs are counted where they are paced (`provisioner.pacing.calls_by_api`); a provider
whose SDK gives one hook for every call (botocore's `before-call` event) also records each
call here by service, e.g. `aws S3` or `aws CloudFront`, APIs without a quota pacer
included. Counts only: no arguments, names or credentials are kept.
"""

from __future__ import annotations

import threading
from collections import Counter

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def record(service: str) -> None:
    """Count one call to `service` (a display name such as `aws Route53`)."""
    with _lock:
        _counts[service] += 1


def reset() -> None:
    """Start counting afresh: each CLI command counts its own calls."""
    with _lock:
        _counts.clear()


def calls_by_service() -> dict[str, int]:
    """Calls recorded so far in this process, by service, sorted by name."""
    with _lock:
        return dict(sorted(_counts.items()))
