"""`apply --verify`: the new policy must be served before the `_mta-sts` id announces it.

Senders refetch a policy only when the id changes (RFC 8461 section 3.3). A provider's
apply returns when its storage holds the new body, but a CDN or a web server in front of it
may still serve the old one; an id changed then points senders at a stale policy for up to
max_age. So between the policy phase and the TXT phase, each changed domain's policy is
fetched from its real endpoint (as `mtasts check` fetches it) until the served bytes equal
the new body, within a bounded wait. If any is still stale, apply stops there: no id moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from provisioner.checks.httpsprobe import FetchResult, fetch_policy
from provisioner.errors import MtastsError
from provisioner.plan import Action, Change
from provisioner.state import Resource

POLICY_PHASE = 1


@dataclass(frozen=True)
class VerifyOptions:
    timeout: float = 120.0
    """How long each domain may take to serve its new policy."""
    interval: float = 2.0
    ca_bundle: str | None = None
    connect_to: tuple[str, int] | None = None
    request_timeout: float = 10.0


Fetcher = Callable[[str], FetchResult]


def policy_verifier(options: VerifyOptions) -> Callable[[int, Sequence[Change]], None]:
    """A hook for `apply_plan`: after the policy phase, wait until every new body is served."""

    def fetch(domain: str) -> FetchResult:
        return fetch_policy(
            domain,
            timeout=options.request_timeout,
            ca_bundle=options.ca_bundle,
            connect_to=options.connect_to,
        )

    def after_phase(phase: int, changes: Sequence[Change]) -> None:
        if phase != POLICY_PHASE:
            return
        wanted = {
            c.domain: c.after
            for c in changes
            if c.resource is Resource.POLICY and c.action is not Action.DELETE and c.after
        }
        wait_until_served(wanted, fetch, options)

    return after_phase


def wait_until_served(wanted: dict[str, str], fetch: Fetcher, options: VerifyOptions) -> None:
    if not wanted:
        return

    def one(domain: str) -> str | None:
        deadline = time.monotonic() + options.timeout
        while True:
            result = fetch(domain)
            if result.status == 200 and result.body == wanted[domain].encode("utf-8"):
                return None
            if time.monotonic() + options.interval > deadline:
                return f"{domain} ({_what_was_served(result)})"
            time.sleep(options.interval)

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(wanted)))) as pool:
        stale = [problem for problem in pool.map(one, sorted(wanted)) if problem]
    if stale:
        more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
        raise MtastsError(
            f"apply stopped before the TXT records: the new policy is not served after "
            f"{options.timeout:g}s for {', '.join(stale[:3])}{more}; no _mta-sts id was "
            "changed, so senders keep the old policy; apply again once the endpoint serves it"
        )


def _what_was_served(result: FetchResult) -> str:
    if result.error:
        return result.error
    if result.status != 200:
        return f"HTTP {result.status}"
    return "still the old policy"
