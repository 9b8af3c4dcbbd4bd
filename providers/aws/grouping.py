"""Which shared CloudFront distribution (group) serves which policy host: a pure model.

Why groups: one distribution and one certificate per domain runs into CloudFront's default
quota of 200 distributions per account, and each new distribution takes minutes to deploy.
Hosts are packed instead into groups of at most `hosts_per_certificate` names (ACM's default
quota of names per certificate is 10; it can be raised to 100), each group one distribution
with one SAN certificate.

The rules, so that a change touches as little as possible:
  * a host in a group stays in it (hosts never move between groups, except when migrated
    from a per-domain distribution, which is a join);
  * a host that leaves is dropped from its group; an emptied group is deleted and its number
    may be reused;
  * joining hosts, in sorted order, fill the lowest-numbered group with room, then open new
    groups numbered from the lowest free number.
So adding or removing one domain changes exactly one group, and the assignment depends only
on the live groups and the set of joining hosts (not on the order of calls), which lets a
plan and the apply after it compute the same groups from the same snapshot.

A group's number is its identity: it is kept in the distribution's Comment
(`mtasts:managed group 7`) and the certificate's tag, so it survives reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_GROUP_SIZE = 10
"""ACM's default quota of domain names per certificate."""
MAX_GROUP_SIZE = 100
"""ACM's largest names-per-certificate quota (after an increase)."""

Groups = Mapping[int, frozenset[str]]
"""group number (1, 2, ...) -> the policy hosts (`mta-sts.<domain>`) it serves."""


@dataclass(frozen=True)
class GroupChange:
    """One group's membership before and after: what a plan shows and apply converges."""

    number: int
    before: frozenset[str]
    after: frozenset[str]

    @property
    def joining(self) -> frozenset[str]:
        return self.after - self.before

    @property
    def leaving(self) -> frozenset[str]:
        return self.before - self.after

    def story(self) -> str:
        """`group 7: 1 host joins (certificate re-issued for 10 hosts)`, in MTA-STS words."""
        parts = []
        if self.joining:
            parts.append(_count(len(self.joining), "joins", "join"))
        if self.leaving:
            parts.append(_count(len(self.leaving), "leaves", "leave"))
        what = " and ".join(parts) or "unchanged"
        return f"group {self.number}: {what} ({self.certificate_story()})"

    def certificate_story(self) -> str:
        """What the change does to the group's distribution and certificate."""
        if not self.after:
            return "distribution and certificate deleted"
        if not self.before:
            return f"new distribution, certificate for {_hosts(len(self.after))}"
        return f"certificate re-issued for {_hosts(len(self.after))}"


def _hosts(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"


def _count(n: int, one: str, many: str) -> str:
    return f"{_hosts(n)} {one if n == 1 else many}"


def check_size(size: int) -> int:
    """`size` if it is a valid group size (1..100), else ValueError naming the bounds."""
    if not 1 <= size <= MAX_GROUP_SIZE:
        raise ValueError(f"hosts_per_certificate must be 1..{MAX_GROUP_SIZE}, not {size}")
    return size


def assign(
    current: Groups, joining: Iterable[str], leaving: Iterable[str], size: int
) -> dict[int, frozenset[str]]:
    """The groups after `leaving` hosts go and `joining` hosts come (see the module rules).

    A joining host already in a group stays where it is; a leaving host in no group is
    ignored. A group already larger than `size` (the setting was lowered) keeps its hosts
    and takes no more. Raises ValueError for a bad `size`.
    """
    check_size(size)
    gone = set(leaving)
    groups: dict[int, set[str]] = {n: set(hosts) - gone for n, hosts in current.items()}
    groups = {n: hosts for n, hosts in groups.items() if hosts}
    placed = {host for hosts in groups.values() for host in hosts}
    for host in sorted(set(joining) - placed - gone):
        number = next((n for n in sorted(groups) if len(groups[n]) < size), None)
        if number is None:
            number = next(n for n in range(1, len(groups) + 2) if n not in groups)
            groups[number] = set()
        groups[number].add(host)
    return {n: frozenset(hosts) for n, hosts in sorted(groups.items())}


def changes(before: Groups, after: Groups) -> list[GroupChange]:
    """The groups whose membership differs, by number."""
    numbers = sorted(set(before) | set(after))
    found = [
        GroupChange(n, frozenset(before.get(n, ())), frozenset(after.get(n, ()))) for n in numbers
    ]
    return [c for c in found if c.before != c.after]


def group_of(groups: Groups, host: str) -> int | None:
    return next((n for n, hosts in groups.items() if host in hosts), None)


def applies_remaining(legacy: int, per_apply: int) -> int:
    """Applies needed to move `legacy` per-domain hosts into groups, `per_apply` at a time."""
    return -(-legacy // per_apply) if legacy > 0 else 0
