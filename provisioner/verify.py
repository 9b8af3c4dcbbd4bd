"""`apply --verify`: no `_mta-sts` id moves until the policy it announces is served.

Senders refetch a policy only when the id changes (RFC 8461 section 3.3). A provider's
apply returns when its storage holds the new body, but a CDN or a web server in front of it
may still serve the old one; an id changed then points senders at a stale policy for up to
max_age. So right before the TXT phase, the policy of every domain whose id is about to
move is fetched from its real endpoint (as `mtasts check` fetches it) until the served
bytes are the body the new id names (`id_names_body`), within a bounded wait. If any is
still stale, apply stops there: no id moves. The gate is keyed on the id, not on a policy
change in the same run: a run that finds only the id change left (because an earlier run
stopped here) verifies just the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from provisioner.apply import TXT_PHASE, announced_ids
from provisioner.checks.httpsprobe import FetchResult, fetch_policy
from provisioner.concurrency import each
from provisioner.errors import MtastsError
from provisioner.plan import Change
from provisioner.polling import Wait, WaitTimedOut, poll
from provisioner.rfc8461 import id_names_body


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
    """A hook for `apply_plan`: before the TXT phase, wait until each announced body is served."""

    def fetch(domain: str) -> FetchResult:
        return fetch_policy(
            domain,
            timeout=options.request_timeout,
            ca_bundle=options.ca_bundle,
            connect_to=options.connect_to,
        )

    def before_phase(phase: int, changes: Sequence[Change]) -> None:
        if phase == TXT_PHASE:
            wait_until_served(announced_ids(changes), fetch, options)

    return before_phase


def wait_until_served(ids: dict[str, str], fetch: Fetcher, options: VerifyOptions) -> None:
    """Wait until each domain serves the body its new id names; `ids` is domain -> id."""
    if not ids:
        return

    def one(domain: str) -> str | None:
        last: list[FetchResult] = []

        def served() -> bool | None:
            last[:] = [fetch(domain)]
            return True if _acceptable(last[0]) and _names(ids[domain], last[0].body) else None

        wait = Wait(options.timeout, options.interval, options.interval)
        try:
            poll(f"{domain} to serve its new policy", served, wait)
        except WaitTimedOut:
            return f"{domain} ({_what_was_served(last[0])})"
        return None

    stale = [problem for problem in each(one, sorted(ids)) if problem]
    if stale:
        more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
        raise MtastsError(
            f"apply stopped before the TXT records: the new policy is not served after "
            f"{options.timeout:g}s for {', '.join(stale[:3])}{more}; no _mta-sts id was "
            "changed, so senders keep the old policy; apply again once the endpoint serves it"
        )


def _acceptable(result: FetchResult) -> bool:
    """What a sender accepts (RFC 8461 section 3.3): HTTP 200, text/plain, within 64 KB.

    The same rules `mtasts check` judges a fetch by: an id must not move to a policy that
    senders will refuse to read (served as text/html by a misconfigured CDN, say).
    """
    media = (result.content_type or "").split(";", 1)[0].strip().lower()
    return result.status == 200 and media == "text/plain" and not result.too_large


def _names(record_id: str, body: bytes | None) -> bool:
    if body is None:
        return False
    try:
        return id_names_body(record_id, body.decode("utf-8"))
    except UnicodeDecodeError:
        return False


def _what_was_served(result: FetchResult) -> str:
    if result.error:
        return result.error
    if result.status != 200:
        return f"HTTP {result.status}"
    if not _acceptable(result):
        return f"served as {result.content_type or '(no Content-Type)'}, senders need text/plain"
    return "not the policy the new id announces"
