"""What the project holds for a set of domains, read in bulk: the provider's one snapshot.

A read costs, whatever the number of domains: the managed zones once (cached for the run),
ONE paged rrset listing per zone holding a domain, ONE paged object listing of the bucket
(bodies only where the listing cannot vouch for them, see `storage`), and the endpoint
half's few list calls (`EndpointReader.read`). The three run side by side.

The snapshot is kept by the provider for apply: a Cloud DNS deletion must repeat the live
rrset exactly (ttl and rrdatas), and the endpoint half converges from it. Writes update it
(`put`/`drop`), so later phases of the same apply see what was written.

`EndpointReader` is the part of the endpoint half's `GcpEndpoints` (providers/gcp/
endpoint.py) the snapshot needs; `inventory.endpoint` is its opaque `EndpointInventory`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from providers.gcp.clouddns import CloudDns, Rrset, Zone, absolute, label_for
from providers.gcp.storage import PolicyBucket
from provisioner.concurrency import each
from provisioner.dnstext import DnsTextError, txt_value
from provisioner.errors import ProviderError
from provisioner.state import BlockingRecord, Endpoint, Resource, policy_host, record_name

DELEGATING = ("CNAME", "NS", "DNAME")
"""At a TXT name nothing can be written beside these (RFC 1034 section 3.6.2)."""
HOST_TYPES = ("A", "AAAA", "CNAME", "NS", "DNAME")
ACME_LABEL = "_acme-challenge"
"""Certificate Manager's DNS authorization record is `_acme-challenge.<host>` (a CNAME)."""
"""At a policy host: what would be served instead of (or beside) the load balancer."""


class EndpointReader(Protocol):
    """The endpoint half, as the provider core uses it (see providers/gcp/endpoint.py)."""

    def wanted(self, domain: str) -> Endpoint: ...

    def read(self, domains: Sequence[str]) -> Any: ...

    def describe(self, inventory: Any, domain: str) -> Endpoint | None: ...

    def addresses(self, inventory: Any) -> tuple[str, ...]: ...

    def dns_records(self, inventory: Any, domain: str) -> list[Rrset]: ...

    def converge(
        self,
        inventory: Any,
        domains: Sequence[str],
        write_dns: Callable[[list[Rrset]], None],
    ) -> None: ...

    def remove(
        self,
        inventory: Any,
        domains: Sequence[str],
        write_dns_removal: Callable[[list[Rrset]], None],
    ) -> None: ...

    def managed_hosts(self, inventory: Any) -> set[str]: ...

    def close(self) -> None: ...


@dataclass
class GcpInventory:
    zones: dict[str, Zone] = field(default_factory=dict)
    """domain -> its managed zone."""
    rrsets: dict[tuple[str, str], Rrset] = field(default_factory=dict)
    """(absolute name, type) -> the live rrset, for every zone read."""
    by_name: dict[str, dict[str, Rrset]] = field(default_factory=dict)
    """absolute name -> type -> rrset: the same rrsets, found by name in one step."""
    bodies: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    """domain -> (policy body, when it was published)."""
    endpoint: Any = None
    """The endpoint half's EndpointInventory."""

    def rrset(self, name: str, rtype: str) -> Rrset | None:
        return self.rrsets.get((absolute(name), rtype))

    def at(self, name: str) -> list[Rrset]:
        return list(self.by_name.get(absolute(name), {}).values())

    def put(self, rrset: Rrset) -> None:
        self.rrsets[rrset.key] = rrset
        self.by_name.setdefault(rrset.name, {})[rrset.type] = rrset

    def drop(self, rrset: Rrset) -> None:
        self.rrsets.pop(rrset.key, None)
        self.by_name.get(rrset.name, {}).pop(rrset.type, None)

    def txt_values(self, name: str) -> tuple[str, ...]:
        """Every TXT value at `name`, joined as senders join them."""
        rrset = self.rrset(name, "TXT")
        return tuple(_value(text) for text in rrset.rrdatas) if rrset else ()

    def mx_hosts(self, domain: str) -> tuple[str, ...]:
        rrset = self.rrset(domain, "MX")
        if rrset is None:
            return ()
        return tuple(r.split()[-1].rstrip(".").lower() for r in rrset.rrdatas if r.split())

    def blocking(self, domain: str, ours: Sequence[Rrset]) -> tuple[BlockingRecord, ...]:
        """Records at names mtasts would write that belong to someone else.

        At `_mta-sts.<d>` and `_smtp._tls.<d>`: a CNAME, NS or DNAME (a delegation, usually
        to a hosted MTA-STS service) and a TXT with a routing policy (it has no plain rrdatas
        to keep). At `mta-sts.<d>`: an A/AAAA/CNAME/NS/DNAME that is not one of the endpoint
        half's own rrsets (`ours`: the A/AAAA to the load balancer's addresses). Other types
        at the host (a TXT site verification, a CAA) are left alone and do not block. At
        `_acme-challenge.mta-sts.<d>`, where the DNS authorization's CNAME goes: any rrset
        but that CNAME of an authorization of ours (another project's authorization, an ACME
        DNS-01 delegation or TXT of another server), which the CNAME would replace.
        """
        found: list[BlockingRecord] = []
        for resource in (Resource.STS_RECORD, Resource.TLSRPT_RECORD):
            name = record_name(resource, domain)
            for rrset in self.at(name):
                if rrset.type in DELEGATING or (rrset.type == "TXT" and rrset.routed):
                    found.append(BlockingRecord(resource, name, rrset.type, _shown(rrset)))
        host = policy_host(domain)
        mine = {(r.name, r.type): set(r.rrdatas) for r in ours}
        for rrset in self.at(host):
            if rrset.type not in HOST_TYPES:
                continue
            wanted = mine.get(rrset.key)
            if rrset.routed or wanted is None or not set(rrset.rrdatas) <= wanted:
                found.append(BlockingRecord(Resource.ENDPOINT, host, rrset.type, _shown(rrset)))
        challenge = absolute(f"{ACME_LABEL}.{host}")
        for rrset in self.at(challenge):  # a CNAME there excludes every other type
            wanted = mine.get(rrset.key)
            if rrset.routed or wanted is None or not set(rrset.rrdatas) <= wanted:
                name = challenge.rstrip(".")
                found.append(BlockingRecord(Resource.ENDPOINT, name, rrset.type, _shown(rrset)))
        return tuple(found)


def _value(text: str) -> str:
    try:
        return txt_value(text)
    except DnsTextError:
        return text


def _shown(rrset: Rrset) -> str:
    if rrset.routed:
        return "a routing policy"
    values = [r.rstrip(".") if rrset.type in DELEGATING else r for r in rrset.rrdatas]
    return ", ".join(values)


def _refuse_delegated(inventory: GcpInventory, domain: str, zone: Zone, provider: str) -> None:
    """ProviderError when `domain` (or a name between it and the zone's apex) is delegated
    away by an NS rrset in its zone: records mtasts wrote below it would never be served
    (RFC 1034 section 4.2.1: data below a zone cut is not authoritative)."""
    labels = domain.split(".")
    apex = zone.dns_name.count(".") + 1
    for start in range(len(labels) - apex):
        name = ".".join(labels[start:])
        ns = inventory.rrset(name, "NS")
        if ns is not None:
            raise ProviderError(
                f"{provider}: {domain}: {name} is delegated by NS in managed zone {zone.name} "
                f"({_shown(ns)}): records mtasts wrote there would not be served; manage "
                "it where it is delegated to, or pin a zone with zone_names"
            )


SIDES = 3
"""Cloud DNS, GCS and the endpoint's APIs are read side by side, one thread each (each side
bounds its own fan-out with `MTASTS_WORKERS`, and its pacer its rate)."""


def read_inventory(
    dns: CloudDns,
    pins: Mapping[str, str],
    bucket: PolicyBucket,
    endpoints: EndpointReader,
    domains: Sequence[str],
    expected: Mapping[str, str] | None = None,
) -> GcpInventory:
    """Read everything a plan of `domains` needs, DNS, GCS and endpoint side by side."""
    inventory = GcpInventory()
    by_zone: dict[str, tuple[Zone, list[str]]] = {}

    def records() -> None:
        for domain in domains:
            zone = dns.zone_for(domain, pins)
            inventory.zones[domain] = zone
            by_zone.setdefault(zone.name, (zone, []))[1].append(domain)
        listings = each(
            lambda item: dns.list_rrsets(item[0], label_for(item[1])), list(by_zone.values())
        )
        for listing in listings:
            for rrset in listing:
                inventory.put(rrset)
        for domain in domains:
            if domain not in pins:  # a pin is the user's word for where the records go
                _refuse_delegated(inventory, domain, inventory.zones[domain], dns.provider)

    def policies() -> None:
        inventory.bodies = bucket.bodies(list(domains), expected)

    def endpoint() -> None:
        inventory.endpoint = endpoints.read(domains)

    each(lambda read: read(), (records, policies, endpoint), workers=SIDES)
    return inventory
