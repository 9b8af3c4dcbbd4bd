"""Running one AWS call per domain side by side, with the first failure re-raised.

S3, ACM and CloudFront allow tens of requests a second, so per-domain calls (GetObject,
PutObject, DescribeCertificate, CreateInvalidation) run in a small thread pool; Route53 calls
go through the same pool but are paced by the rate limiter. The pool is bounded so a
1,000-domain run keeps a bounded number of connections (botocore's pool is sized to match).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 16


def each(fn: Callable[[T], R], items: Iterable[T], workers: int = MAX_WORKERS) -> list[R]:
    """`[fn(x) for x in items]`, concurrently; results in input order.

    Every task is allowed to finish (no half-cancelled batch), then the first error in input
    order is raised, so the message a user sees does not depend on thread timing.
    """
    todo = list(items)
    if len(todo) <= 1 or workers <= 1:
        return [fn(item) for item in todo]
    with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        futures = [pool.submit(fn, item) for item in todo]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]
