"""Client-side pacing to each API's documented quota, one limiter per account and API.

Why pace when the SDKs retry a 429 or a `Throttling`: a retry is learned from a failure, so
a 1,000-domain run with many threads first burns retries (botocore's `standard` mode burns
its whole retry quota). Pacing every attempt to the documented rate makes throttling the
exception, and the SDKs' retries absorb what other tools on the same account spend.

The counting is pyrate-limiter's (a maintained sliding-window log): a request may go while
fewer than `rate.requests` went in the last `rate.seconds`, so a small run never waits and a
large one runs at the quota. Limiters are shared within the process per (account, API),
because the quota is the account's, not one client's. Each API's quota is a knob
(`provisioner.knobs`), overridable for a raised quota or an emulator.

Quotas (per account unless said): Route53 5 requests/s; Cloudflare 1,200 per 5 minutes per
user (1,100 leaves room for the user's other tools); Cloud DNS, per project and minute
(read defensively: 50 a minute); Certificate Manager 300 requests per minute.
"""

from __future__ import annotations

import threading
from typing import Any

from pyrate_limiter import Limiter, Rate

from provisioner.deadline import Deadline, DeadlinePassed
from provisioner.knobs import Rate as Quota
from provisioner.knobs import RateKnob

ROUTE53 = RateKnob("MTASTS_AWS_ROUTE53_RPS", Quota(5, 1.0))
CLOUDFLARE = RateKnob("MTASTS_CLOUDFLARE_RATE_LIMIT", Quota(1_100, 300.0))
CLOUD_DNS = RateKnob("MTASTS_GCP_DNS_RATE", Quota(50, 60.0))
"""Cloud DNS API requests per DNS project. https://cloud.google.com/dns/quotas names the
quota ("Read limit for a minute for a region": API requests an IAM user may make in one
minute; older pages: "Number of API queries per user, per 100 seconds") but publishes no
default value, only the console's Quotas page shows it; so the default stays defensive and
a project sets its own (e.g. `600/60`). A 429 beyond it is retried (providers/gcp/transient)."""
CERTIFICATE_MANAGER = RateKnob("MTASTS_GCP_CERTIFICATE_MANAGER_RATE", Quota(300, 60.0))


class Pacer:
    """Blocks the calling thread until one more request fits the quota; thread-safe."""

    def __init__(self, quota: Quota) -> None:
        self.quota = quota
        self._limiter = Limiter(Rate(quota.requests, max(1, round(quota.seconds * 1000))))
        self.sent = 0
        self._count_lock = threading.Lock()

    def acquire(self, run: Deadline | None = None) -> None:
        """Wait for a slot; with `run`, raise DeadlinePassed rather than wait past it."""
        if run is None:
            self._limiter.try_acquire("api", blocking=True)
        else:
            run.check()
            if not self._limiter.try_acquire("api", blocking=True, timeout=run.remaining()):
                raise DeadlinePassed(run.seconds, "waiting for the API's rate limit")
        with self._count_lock:
            self.sent += 1

    def before_send(self, **_: Any) -> None:
        """A botocore `before-send` hook: returns None, or botocore takes it as the response."""
        self.acquire()


_shared: dict[tuple[str, str], Pacer] = {}
_shared_lock = threading.Lock()


def shared_pacer(account: str, api: str, quota: Quota) -> Pacer:
    """The process-wide pacer for this account and API (a new quota replaces the old one)."""
    key = (account, api)
    with _shared_lock:
        pacer = _shared.get(key)
        if pacer is None or pacer.quota != quota:
            pacer = _shared[key] = Pacer(quota)
        return pacer


def calls_by_api() -> dict[str, int]:
    """Requests paced so far in this process, per API (`route53`, `cloudflare`, ...).

    Every request to a quota-limited API passes a pacer, so this is one honest count of
    them, for `-v`. Summed over accounts, which are not named: an account key may be an
    access key id or derived from a token.
    """
    totals: dict[str, int] = {}
    with _shared_lock:
        for (_, api), pacer in _shared.items():
            totals[api] = totals.get(api, 0) + pacer.sent
    return dict(sorted(totals.items()))
