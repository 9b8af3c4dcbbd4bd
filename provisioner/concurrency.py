"""Run one call per item side by side, bounded, and re-raise the first failure in input order.

Providers make per-domain calls (read an object, request a certificate) and the core reads
providers and fetches policies concurrently. One helper keeps the rules the same
everywhere: a bounded pool (`MTASTS_WORKERS`, so pacing and not thread count sets the
request rate), results in input order, every task allowed to finish (no half-cancelled
batch), then the first error in input order raised, so the message a user sees does not
depend on thread timing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from provisioner.knobs import WORKERS

T = TypeVar("T")
R = TypeVar("R")


def each(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
    """`[fn(x) for x in items]`, concurrently with at most `workers` threads (default knob)."""
    todo = list(items)
    limit = workers if workers is not None else WORKERS.read()
    if len(todo) <= 1 or limit <= 1:
        return [fn(item) for item in todo]
    with ThreadPoolExecutor(max_workers=min(limit, len(todo))) as pool:
        futures = [pool.submit(fn, item) for item in todo]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]
