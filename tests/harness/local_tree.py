"""Read what mtasts's ``local`` provider wrote, so the real clients can be pointed at it.

The layout is the provider's contract:

- ``<root>/mta-sts.<domain>/.well-known/mta-sts.txt``: the policy body, served verbatim at
  ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` as ``text/plain; charset=utf-8``;
- ``<root>/zones/<domain>.zone``: a BIND zone fragment with absolute owner names (no SOA),
  whose TXT values may be split into several quoted strings.

Parsing uses dnspython, and TXT values keep their character-strings exactly as written, so a
split value reaches the clients split on the wire too. Reading is separate from publishing
(``read_local_tree`` is pure) so a test can also assert on the files themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import dns.rdatatype
import dns.zone

POLICY_PATH = "/.well-known/mta-sts.txt"
POLICY_CONTENT_TYPE = "text/plain; charset=utf-8"
ENDPOINT_ADDRESS = "127.0.0.1"

_SUPPORTED = ("TXT", "A", "MX", "CNAME")


@dataclass(frozen=True)
class ZoneRecord:
    """One record of a zone file: owner (no trailing dot), type and value.

    TXT values are tuples of strings (one per quoted string), MX values ``(preference, host)``.
    """

    owner: str
    rtype: str
    value: tuple[str, ...] | tuple[int, str] | str


@dataclass(frozen=True)
class LocalTree:
    """Everything one local provider directory holds, by domain."""

    root: Path
    policies: dict[str, bytes] = field(default_factory=dict)
    records: dict[str, list[ZoneRecord]] = field(default_factory=dict)

    @property
    def domains(self) -> list[str]:
        return sorted(set(self.policies) | set(self.records))

    @property
    def unpublished(self) -> list[ZoneRecord]:
        """Records of types the harness DNS server does not serve (kept by the provider as
        "other records"); loading skips them, a test may assert on them."""
        return [r for rs in self.records.values() for r in rs if r.rtype not in _SUPPORTED]

    def txt(self, owner: str) -> list[str]:
        """The TXT values at owner, each joined with no separator as a client reads it."""
        owner = owner.rstrip(".").lower()
        return [
            "".join(r.value)  # type: ignore[arg-type]
            for records in self.records.values()
            for r in records
            if r.owner == owner and r.rtype == "TXT"
        ]


class _Publisher(Protocol):
    """The part of MtaStsWorld a tree is loaded into (kept structural to avoid a cycle)."""

    def publish_txt(self, name: str, values: list[tuple[str, ...]]) -> None: ...
    def publish_a(self, name: str, addresses: list[str]) -> None: ...
    def publish_mx(self, domain: str, hosts: list[tuple[int, str]]) -> None: ...
    def publish_cname(self, name: str, target: str) -> None: ...
    def serve(
        self, host: str, path: str, body: bytes, status: int = ..., content_type: str | None = ...
    ) -> None: ...


def parse_zone(domain: str, text: str) -> list[ZoneRecord]:
    """Records of one zone fragment (types the DNS server cannot serve keep their text)."""
    zone = dns.zone.from_text(text, origin=domain, relativize=False, check_origin=False)
    records: list[ZoneRecord] = []
    for name, node in sorted(zone.nodes.items()):
        owner = name.to_text(omit_final_dot=True).lower()
        for rdataset in node.rdatasets:
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            for rdata in rdataset:
                value: tuple[str, ...] | tuple[int, str] | str
                if rtype == "TXT":
                    value = tuple(s.decode() for s in rdata.strings)
                elif rtype == "MX":
                    value = (rdata.preference, rdata.exchange.to_text(omit_final_dot=True))
                elif rtype == "CNAME":
                    value = rdata.target.to_text(omit_final_dot=True)
                elif rtype == "A":
                    value = rdata.address
                else:
                    value = rdata.to_text()
                records.append(ZoneRecord(owner, rtype, value))
    return records


def read_local_tree(root: Path) -> LocalTree:
    """Parse a local provider directory without publishing anything."""
    root = Path(root)
    tree = LocalTree(root)
    for policy in sorted(root.glob("mta-sts.*/.well-known/mta-sts.txt")):
        domain = policy.parent.parent.name.removeprefix("mta-sts.").lower()
        tree.policies[domain] = policy.read_bytes()
    for zone_file in sorted((root / "zones").glob("*.zone")):
        domain = zone_file.name.removesuffix(".zone").lower()
        tree.records[domain] = parse_zone(domain, zone_file.read_text(encoding="utf-8"))
    return tree


def publish_local_tree(world: _Publisher, tree: LocalTree) -> LocalTree:
    """Publish a tree's records and policies; ``mta-sts.<domain>`` gets A 127.0.0.1 unless
    its zone already says where it points."""
    by_rrset: dict[tuple[str, str], list[ZoneRecord]] = {}
    for records in tree.records.values():
        for record in records:
            if record.rtype in _SUPPORTED:
                by_rrset.setdefault((record.owner, record.rtype), []).append(record)
    for (owner, rtype), records in by_rrset.items():
        if rtype == "TXT":
            world.publish_txt(owner, [r.value for r in records])  # type: ignore[misc]
        elif rtype == "A":
            world.publish_a(owner, [str(r.value) for r in records])
        elif rtype == "MX":
            world.publish_mx(owner, [r.value for r in records])  # type: ignore[misc]
        else:
            world.publish_cname(owner, str(records[0].value))
    for domain, body in tree.policies.items():
        host = f"mta-sts.{domain}"
        if (host, "A") not in by_rrset and (host, "CNAME") not in by_rrset:
            world.publish_a(host, [ENDPOINT_ADDRESS])
        world.serve(host, POLICY_PATH, body, content_type=POLICY_CONTENT_TYPE)
    return tree


def load_local_tree(world: _Publisher, root: Path) -> LocalTree:
    """Read a local provider directory and publish it into the world."""
    return publish_local_tree(world, read_local_tree(root))
