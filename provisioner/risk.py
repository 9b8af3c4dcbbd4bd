"""What a domain's changes can break: one risk class per domain, as data.

A plan lists changes; reviewers need to know which of them can stop mail. Each domain of a
plan gets exactly one class, the most severe that applies, in this order:

- `blocks-mail`: after apply the domain serves an `enforce` policy that this plan publishes
  (a new policy or a changed one) while a live MX host matches none of its `mx` patterns
  (RFC 8461 section 4.1): senders that honour the policy refuse to deliver to that host.
  Apply refuses it unless `--allow-risk blocks-mail` is given. Only providers that can read
  the live MX set (`Capability.READ_MX`) can tell; elsewhere it cannot be known and is
  not claimed.
- `downgrade`: the mode goes down (enforce to testing or none, testing to none): senders
  stop enforcing, which is what an attacker stripping STARTTLS wants.
- `retire`: a removal step of a domain that left the spec (RFC 8461 section 8.3): first
  `mode: none` under a new id, then, max_age later, the records and policy deleted.
- `enforce`: the domain is newly enforced (it was testing, none or absent).
- `routine`: anything else: ids, max_age, mx lists that cover the live MX, TLS-RPT,
  endpoints.

Risk is a function of the changes and the live state they were computed against
(`classify`), so the planner and the saved-plan check (`provisioner.plantrust`) compute it
the same way: a saved plan's `risk` is recomputed at apply, never trusted from the file.
The one input a saved plan cannot rebuild is whether a domain left the spec (retire, not
downgrade): `classify` takes it as `retiring`, and the check accepts the file's claim only
when the changes are a removal step; it never lowers `blocks-mail`, which cannot apply to a
`mode: none` policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from provisioner.rfc8461 import GrammarError, Mode, Policy, parse_policy, uncovered_mx_hosts


class Risk(StrEnum):
    """A domain's risk class, most severe first (the order reviewers should read them)."""

    BLOCKS_MAIL = "blocks-mail"
    DOWNGRADE = "downgrade"
    RETIRE = "retire"
    ENFORCE = "enforce"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 for the most severe class; sorts risky domains first."""
        return list(Risk).index(self)

    @property
    def risky(self) -> bool:
        """What a reviewer must see: every class but `enforce` and `routine`."""
        return self in (Risk.BLOCKS_MAIL, Risk.DOWNGRADE, Risk.RETIRE)


_MODE_RANK = {Mode.NONE: 0, Mode.TESTING: 1, Mode.ENFORCE: 2}


def classify(
    *,
    policy_before: str | None,
    policy_after: str | None,
    policy_changes: bool,
    deletes: bool,
    mx_hosts: Sequence[str] | None,
    retiring: bool,
) -> tuple[Risk, tuple[str, ...]]:
    """The risk of one domain's changes, and the live MX hosts an enforce would block.

    `policy_before` is the live body (None: none, or not MTA-STS); `policy_after` the body
    served after apply (the new one when `policy_changes`, else the live one); `deletes` is
    true when a change removes something; `mx_hosts` is the live MX set or None when the
    provider cannot read it; `retiring` says the domain left the spec. A null MX (`0 .`,
    RFC 7505: the domain takes no mail) is no host: an enforce policy blocks nothing there;
    a host listed twice (two MX records, two preferences) is named once.
    """
    before, after = _parse(policy_before), _parse(policy_after)
    hosts = tuple(dict.fromkeys(h for h in mx_hosts or () if h.strip().rstrip(".")))
    if policy_changes and after is not None and after.mode is Mode.ENFORCE and hosts:
        blocked = tuple(uncovered_mx_hosts(hosts, after.mx))
        if blocked:
            return Risk.BLOCKS_MAIL, blocked
    if retiring or deletes:
        return Risk.RETIRE, ()
    if not policy_changes or after is None:
        return Risk.ROUTINE, ()
    if before is not None and _MODE_RANK[after.mode] < _MODE_RANK[before.mode]:
        return Risk.DOWNGRADE, ()
    if after.mode is Mode.ENFORCE and (before is None or before.mode is not Mode.ENFORCE):
        return Risk.ENFORCE, ()
    return Risk.ROUTINE, ()


def is_removal_step(policy_after: str | None, deletes: bool) -> bool:
    """Could these changes be a removal step: deletes, or a policy that is `mode: none`?"""
    if deletes:
        return True
    after = _parse(policy_after)
    return after is not None and after.mode is Mode.NONE


def removal_step(deletes: bool) -> int:
    """Step 1 publishes `mode: none`; step 2 deletes (RFC 8461 section 8.3)."""
    return 2 if deletes else 1


def parse_risk(value: object) -> Risk | None:
    """A risk class read from a file, or None for anything that is not one."""
    try:
        return Risk(str(value))
    except ValueError:
        return None


def most_severe(risks: Iterable[Risk]) -> Risk:
    return min(risks, key=lambda r: r.rank, default=Risk.ROUTINE)


def _parse(body: str | None) -> Policy | None:
    if body is None:
        return None
    try:
        return parse_policy(body).policy
    except GrammarError:
        return None
