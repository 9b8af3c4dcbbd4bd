"""Which run of a hosted zone's listing holds every name mtasts owns, whatever their order.

ListResourceRecordSets returns a zone in one fixed order and can start anywhere
(`StartRecordName`) but cannot stop: the reader decides when it has gone far enough. Stopping
too early is data loss, not a cost: a `_mta-sts` TXT not read looks absent, the plan creates
it, and Route53's UPSERT replaces the whole record set, deleting the values others keep
there; the next plan reads the same gap and plans the same change forever.

The order is "labels reversed" (`com.example._mta-sts`), but three readings of that differ
on names with a character below `.` in a label (in host names: `-`):

  * AWS documents a string comparison of the reversed name WITH its trailing dot, so
    `a-b.example.com.` (`com.example.a-b.`) sorts before `a.example.com.` (`com.example.a.`)
    and before everything under it;
  * moto compares the reversed name without the trailing dot (`com.example.a` first);
  * a label-by-label comparison (tuples) puts `a` and all of its subtree before `a-b`.

Names may also be compared escaped (`\\052` for `*`) or not. Rather than bet on one reading,
`ListingRange` is correct under all of them: it starts at a name that sorts no later than
every owned name in each order (the first domain when all orders agree on it, else the
deepest common ancestor of the candidates, which sorts before its whole subtree in every
order), and stops only at a name that is past the last owned subtree in every order. The
cost of the caution is reading a few foreign names, never a second listing: one run per zone.

Owned names per domain `d`: `d` (its MX), `_mta-sts.d`, `_smtp._tls.d`, and `mta-sts.d` with
everything under it (the ACM validation CNAME `_<hash>.mta-sts.d`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from provisioner.state import POLICY_HOST_PREFIX, STS_PREFIX, TLSRPT_PREFIX

_LAST = "\U0010ffff"
"""Sorts after any label: closes a subtree in the label-by-label order."""
_AFTER_DOT = chr(ord(".") + 1)
"""`/`: closes a subtree in the string orders (every name under E starts `E.`)."""


def _reversed_labels(name: str) -> list[str]:
    return list(reversed(name.lower().rstrip(".").split(".")))


@dataclass(frozen=True)
class _Order:
    """One reading of Route53's order: a sort key, and a key above a name's whole subtree."""

    key: Callable[[str], Any]
    subtree_end: Callable[[str], Any]


ORDERS: tuple[_Order, ...] = (
    _Order(  # AWS's documented order: reversed, with the trailing dot
        key=lambda n: ".".join(_reversed_labels(n)) + ".",
        subtree_end=lambda n: ".".join(_reversed_labels(n)) + _AFTER_DOT,
    ),
    _Order(  # moto's: reversed, no trailing dot
        key=lambda n: ".".join(_reversed_labels(n)),
        subtree_end=lambda n: ".".join(_reversed_labels(n)) + _AFTER_DOT,
    ),
    _Order(  # label by label
        key=lambda n: tuple(_reversed_labels(n)),
        subtree_end=lambda n: (*_reversed_labels(n), _LAST),
    ),
)


def reach(domain: str) -> list[str]:
    """The names of `domain` whose subtree the listing must cover (its apex sorts first)."""
    return [STS_PREFIX + domain, TLSRPT_PREFIX + domain, POLICY_HOST_PREFIX + domain]


def common_ancestor(names: Sequence[str]) -> str:
    """The deepest name that is `n` or above it for every `n` (their shared label suffix)."""
    split = [_reversed_labels(n) for n in names]
    shared: list[str] = []
    for labels in zip(*split, strict=False):
        if any(label != labels[0] for label in labels):
            break
        shared.append(labels[0])
    return ".".join(reversed(shared))


@dataclass(frozen=True)
class ListingRange:
    """Where to start listing a zone, and when the listing has passed every owned name."""

    start: str
    ends: tuple[Any, ...]
    """Per order in ORDERS: the key above the last owned subtree."""

    @classmethod
    def for_domains(cls, domains: Sequence[str]) -> ListingRange:
        if not domains:
            raise ValueError("a listing range needs at least one domain")
        firsts = {min(domains, key=order.key) for order in ORDERS}
        start = firsts.pop() if len(firsts) == 1 else common_ancestor(sorted(firsts))
        names = [name for domain in domains for name in reach(domain)]
        ends = tuple(max(order.subtree_end(n) for n in names) for order in ORDERS)
        return cls(start, ends)

    def past(self, *spellings: str) -> bool:
        """True once a listed name (in each given spelling) is beyond the range in every order.

        Pass the name as Route53 returned it and unescaped: whichever spelling and order the
        server sorts by, a name past the range in all of them is past it in the server's.
        """
        return all(
            order.key(spelling) > end
            for order, end in zip(ORDERS, self.ends, strict=True)
            for spelling in spellings
        )
