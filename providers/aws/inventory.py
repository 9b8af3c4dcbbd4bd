"""What the account holds for a set of domains, read in bulk: the provider's one snapshot.

A plan reads, per run: hosted zones once, one targeted record listing per zone, the policy
objects with one ListObjectsV2 (whose ETags tell which bodies are the ones the spec renders,
`s3.StoredPolicy.same_body`) plus one GetObject per policy that differs, every CloudFront
distribution and ACM certificate with one paginated listing each, and the bucket policy
once. These reads are independent, so they run side by side; per-zone and per-object reads
run concurrently too (Route53's are paced to its 5 requests a second).

The same listing tells what stands in mtasts's way (`Inventory.blocking`): a delegation or
a vendor's host at a name mtasts would write, reported as `LiveDomain.blocking` so the plan
refuses before anything is written (`provisioner.conflicts`).

The snapshot is kept by the provider: apply needs the exact live record sets (a Route53
DELETE must repeat the values and TTL) and the distributions it will touch. Apply marks it
stale, so the next read starts afresh; hosted zones stay cached for the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers.aws.acm import Certificate, Certificates
from providers.aws.cloudfront import Distribution, Distributions
from providers.aws.route53 import RRSet, Zone, ZoneIndex, list_zone, normalize, txt_value
from providers.aws.s3 import PolicyBucket, StoredPolicy
from provisioner.concurrency import each
from provisioner.errors import ProviderError
from provisioner.state import BlockingRecord, Resource, policy_host, record_name


@dataclass
class Inventory:
    zones: dict[str, Zone] = field(default_factory=dict)
    """domain -> its hosted zone."""
    records: dict[tuple[str, str], RRSet] = field(default_factory=dict)
    """(name, type) -> the live record set, for every zone read."""
    by_name: dict[str, list[RRSet]] = field(default_factory=dict)
    """name -> every record set read at it, routing-policy sets (SetIdentifier) included."""
    policies: dict[str, StoredPolicy] = field(default_factory=dict)
    bodies: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    """policy host -> mtasts's distribution serving it (a group's or a per-domain one)."""
    groups: dict[int, Distribution] = field(default_factory=dict)
    """group number -> its shared distribution."""
    released: list[Distribution] = field(default_factory=list)
    """Per-domain distributions whose alias migration took off: to delete once Deployed."""
    certificates: dict[str, list[Certificate]] = field(default_factory=dict)
    """policy host -> certificates for that name (anyone's)."""
    granted: set[str] | None = None
    """distribution ARNs the bucket policy grants; None: no bucket policy."""
    foreign: dict[str, str] = field(default_factory=dict)
    """alias -> id of a distribution that is not mtasts's holding it (`blocking`)."""

    def rrset(self, name: str, rtype: str) -> RRSet | None:
        return self.records.get((name, rtype))

    def txt_values(self, name: str) -> tuple[str, ...]:
        rrset = self.rrset(name, "TXT")
        if rrset is None:
            return ()
        return tuple(txt_value(r["Value"]) for r in rrset.get("ResourceRecords", ()))

    def mx_hosts(self, domain: str) -> tuple[str, ...]:
        rrset = self.rrset(domain, "MX")
        if rrset is None:
            return ()
        hosts = []
        for record in rrset.get("ResourceRecords", ()):
            parts = record["Value"].split()
            if parts:
                hosts.append(normalize(parts[-1]))
        return tuple(hosts)

    def blocking(self, domain: str) -> tuple[BlockingRecord, ...]:
        """Records at names mtasts would write that are someone else's and cannot stay beside.

        At `_mta-sts.d` and `_smtp._tls.d`: a CNAME (the usual delegation to a hosted
        MTA-STS service), an NS (the name is delegated to another zone) or a TXT with a
        routing policy (an UPSERT of a plain TXT there fails). At `mta-sts.d`: a CNAME or NS,
        and any A/AAAA that is not a plain alias to mtasts's own distribution for that host,
        or to one a migration released (a vendor's web host, another CloudFront
        distribution, a fixed address), and the host as an alternate domain name of a
        CloudFront distribution that is not mtasts's (CloudFront refuses one alias on two
        distributions: the group's update would fail for all its hosts, or worse, take it).
        """
        found: list[BlockingRecord] = []
        for resource, name in (
            (Resource.STS_RECORD, record_name(Resource.STS_RECORD, domain)),
            (Resource.TLSRPT_RECORD, record_name(Resource.TLSRPT_RECORD, domain)),
        ):
            for rrset in self.by_name.get(name, ()):
                if rrset["Type"] in _DELEGATION or (
                    rrset["Type"] == "TXT" and "SetIdentifier" in rrset
                ):
                    found.append(BlockingRecord(resource, name, rrset["Type"], _shown(rrset)))
        host = policy_host(domain)
        ours = self.distributions.get(host)
        targets = {ours.domain_name} if ours else set()
        targets |= {d.domain_name for d in self.released}  # a move stopped half-way
        for rrset in self.by_name.get(host, ()):
            rtype = rrset["Type"]
            if rtype in _DELEGATION or (
                rtype in ("A", "AAAA") and not any(_alias_to(rrset, t) for t in targets)
            ):
                found.append(BlockingRecord(Resource.ENDPOINT, host, rtype, _shown(rrset)))
        other = self.foreign.get(host)
        if other is not None:
            found.append(
                BlockingRecord(
                    Resource.ENDPOINT, host, "CloudFront alias", f"of distribution {other}"
                )
            )
        return tuple(found)

    def group_hosts(self) -> dict[int, frozenset[str]]:
        """group number -> the hosts its distribution serves (`grouping.Groups`)."""
        return {n: frozenset(d.hosts) for n, d in sorted(self.groups.items())}

    def legacy(self) -> dict[str, Distribution]:
        """policy host -> its per-domain distribution (an older deployment's)."""
        return {h: d for h, d in self.distributions.items() if d.group is None}

    def set_distributions(self, found: Sequence[Distribution], provider: str) -> None:
        """Index a listing; one alias on two of mtasts's distributions is refused (AWS
        refuses it too, CNAMEAlreadyExists; moto does not, so it is checked here)."""
        self.distributions, self.groups, self.released = {}, {}, []
        for dist in found:
            if dist.group is not None:
                if dist.group in self.groups:
                    raise ProviderError(
                        f"{provider}: distributions {self.groups[dist.group].id} and {dist.id} "
                        f"both claim group {dist.group}; remove one of them"
                    )
                self.groups[dist.group] = dist
            elif not dist.hosts:
                self.released.append(dist)
            for host in dist.hosts:
                other = self.distributions.get(host)
                if other is not None:
                    raise ProviderError(
                        f"{provider}: {host} is an alias of two distributions ({other.id}, "
                        f"{dist.id}), which CloudFront refuses; remove it from one"
                    )
                self.distributions[host] = dist

    def certificate(self, arn: str) -> Certificate | None:
        return next(
            (c for certs in self.certificates.values() for c in certs if c.arn == arn), None
        )

    def certificate_status(self, arn: str, host: str) -> str:
        """Status of the certificate a distribution for `host` uses (MISSING: not found)."""
        for cert in self.certificates.get(host, ()):
            if cert.arn == arn:
                return cert.status
        return "MISSING" if arn else "NONE"


_DELEGATION = ("CNAME", "NS")


def _alias_to(rrset: RRSet, target: str | None) -> bool:
    """Whether `rrset` is a plain alias (no routing policy) to the distribution `target`."""
    alias = normalize(rrset.get("AliasTarget", {}).get("DNSName", ""))
    return bool(target) and "SetIdentifier" not in rrset and alias == (target or "").rstrip(".")


def _shown(rrset: RRSet) -> str:
    """A record set's data as a plan line shows it: the alias target or the values."""
    alias = rrset.get("AliasTarget")
    if alias:
        text = f"alias to {normalize(alias.get('DNSName', ''))}"
    else:
        values = [r["Value"] for r in rrset.get("ResourceRecords", ())]
        text = ", ".join(normalize(v) if rrset["Type"] in _DELEGATION else v for v in values)
    routing = rrset.get("SetIdentifier")
    return f"{text}, routing policy {routing}" if routing else text


def read_inventory(
    zones: ZoneIndex,
    route53: Any,
    bucket: PolicyBucket,
    distributions: Distributions,
    certificates: Certificates,
    domains: Sequence[str],
    provider: str,
    expected: Mapping[str, Sequence[str]] | None = None,
) -> Inventory:
    """Everything mtasts reads for `domains`; `expected` (domain -> bodies it may hold: the
    one the spec renders, the one this process wrote) spares the GetObject of every policy
    whose listed ETag is the MD5 of one of them."""
    inventory = Inventory()
    by_zone: dict[str, tuple[Zone, list[str]]] = {}
    for domain in domains:
        zone = zones.zone_for(domain)
        inventory.zones[domain] = zone
        by_zone.setdefault(zone.id, (zone, []))[1].append(domain)

    def records() -> None:
        listings = each(
            lambda item: list_zone(provider, route53, item[0], item[1]), list(by_zone.values())
        )
        for listing in listings:
            for rrset in listing:
                name = normalize(rrset["Name"])
                inventory.records[(name, rrset["Type"])] = rrset
                inventory.by_name.setdefault(name, []).append(rrset)

    def policies() -> None:
        listing = bucket.listing()
        inventory.policies = listing
        known = expected or {}
        wanted = []
        for domain in domains:
            stored = listing.get(domain)
            if stored is None:
                continue
            body = next((b for b in known.get(domain, ()) if stored.same_body(b)), None)
            if body is not None:
                inventory.bodies[domain] = (body, stored.last_modified)
            else:
                wanted.append(domain)
        for domain, found in zip(wanted, each(bucket.read, wanted), strict=True):
            if found is not None:
                inventory.bodies[domain] = found

    def cloudfront() -> None:
        # A distribution serving another bucket is another aws provider's in the same
        # account (group numbers are per provider): never joined, updated, counted as
        # left to migrate or deleted from here; its hosts are a conflict if listed here.
        found = distributions.listing()
        others = [d for d in found if d.origin_domain != bucket.origin_domain]
        inventory.set_distributions([d for d in found if d not in others], provider)
        inventory.foreign = dict(distributions.foreign)
        inventory.foreign.update({host: d.id for d in others for host in d.hosts})

    def acm() -> None:
        inventory.certificates = certificates.by_host()

    def bucket_policy() -> None:
        inventory.granted = bucket.granted_distributions()

    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(job) for job in (records, policies, cloudfront, acm, bucket_policy)]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    _complete_names(inventory, certificates)
    return inventory


def _complete_names(inventory: Inventory, certificates: Certificates) -> None:
    """Give the certificates of group distributions their names where the listing lacked
    them (AWS lists SANs, moto 5.2 does not): one DescribeCertificate per such group."""
    used = {d.cert_arn for d in inventory.groups.values()}
    unknown = {
        c.arn: c
        for certs in inventory.certificates.values()
        for c in certs
        if c.arn in used and not c.names
    }
    for cert in each(certificates.complete, list(unknown.values())):
        for name in cert.covers():
            others = [c for c in inventory.certificates.get(name, []) if c.arn != cert.arn]
            inventory.certificates[name] = [cert, *others]
        inventory.certificates[cert.host] = [
            c if c.arn != cert.arn else cert for c in inventory.certificates.get(cert.host, [])
        ]
