"""The HTTPS endpoint of a domain: certificate, distribution, bucket grant, alias records.

The endpoint is one resource to the core, described by a string. `wanted()` is what a
healthy endpoint reads as; `describe()` reads what is live and names every missing or wrong
piece, so the plan shows `endpoint: ... (needs: cert PENDING_VALIDATION, alias AAAA)` and
apply repairs it. Convergence is idempotent: each step first looks at what exists, so an
apply that stopped half-way (a certificate still validating, a distribution not yet
deployed) is completed by the next plan/apply, never duplicated.

Create/update, for all of a phase's domains at once, in dependency order:
  1. bucket (private, versioned) and the shared origin access control;
  2. a certificate per host: the one the distribution uses if still usable, else one mtasts
     requested earlier (tagged), else a new request;
  3. validation CNAMEs of certificates not yet issued: one Route53 batch per zone; wait
     until every certificate is ISSUED (bounded);
  4. distributions created or updated (only when a setting differs);
  5. the bucket policy grants exactly mtasts's distributions;
  6. alias A and AAAA records (and the validation CNAMEs of issued certificates, kept for
     renewals): one Route53 batch per zone; wait until the distributions are Deployed.
Delete: alias and validation records (one batch per zone), then disable, wait and delete the
distribution, drop it from the bucket policy, and delete mtasts's certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from providers.aws.acm import USABLE, Certificate, Certificates, ValidationRecord
from providers.aws.cloudfront import (
    CLOUDFRONT_ZONE_ID,
    MIN_TLS,
    VIEWER_POLICY,
    Distribution,
    Distributions,
    caller_reference,
    desired_config,
)
from providers.aws.inventory import Inventory
from providers.aws.route53 import ChangeSet, RRSet, Zone, apply_changes, normalize
from providers.aws.s3 import PolicyBucket
from provisioner.concurrency import each
from provisioner.state import policy_host

ALIAS_TYPES = ("A", "AAAA")
VALIDATION_TTL = 300
CREATE_WORKERS = 4
"""CloudFront's control plane is slow and modestly rate limited: a few at a time."""


def wanted(domain: str) -> str:
    return (
        f"cloudfront {policy_host(domain)} (cert ISSUED, {MIN_TLS}, {VIEWER_POLICY}, alias A/AAAA)"
    )


def describe(inventory: Inventory, domain: str, origin_domain: str) -> str | None:
    """The live endpoint as a string; None when nothing of it exists."""
    host = policy_host(domain)
    dist = inventory.distributions.get(host)
    aliases = [t for t in ALIAS_TYPES if inventory.rrset(host, t) is not None]
    if dist is None:
        if not aliases:
            return None
        return f"cloudfront {host} (needs: distribution; records {'/'.join(aliases)} exist)"
    needs: list[str] = []
    status = inventory.certificate_status(dist.cert_arn, host)
    if status != "ISSUED":
        needs.append(f"cert {status}")
    if not dist.enabled:
        needs.append("distribution disabled")
    if dist.min_tls != MIN_TLS:
        needs.append(f"TLS minimum {dist.min_tls or 'unset'}")
    if dist.viewer_policy != VIEWER_POLICY:
        needs.append(f"viewer protocol {dist.viewer_policy}")
    if (
        dist.origin_domain != origin_domain
        or dist.origin_path != f"/{host}"
        or dist.oac_id == ""  # None: not reported (moto), see cloudfront.Distribution
    ):
        needs.append("origin")
    if inventory.granted is None or dist.arn not in inventory.granted:
        needs.append("bucket policy grant")
    for rtype in ALIAS_TYPES:
        rrset = inventory.rrset(host, rtype)
        target = (rrset or {}).get("AliasTarget", {}).get("DNSName", "")
        if normalize(target) != dist.domain_name.rstrip("."):
            needs.append(f"alias {rtype}")
    if not needs:
        return wanted(domain)
    return f"cloudfront {host} (needs: {', '.join(needs)})"


@dataclass
class _Plan:
    domain: str
    zone: Zone
    cert: Certificate
    validation: ValidationRecord | None = None
    dist: Distribution | None = None


class Endpoints:
    def __init__(
        self,
        provider: str,
        route53: object,
        bucket: PolicyBucket,
        distributions: Distributions,
        certificates: Certificates,
    ) -> None:
        self.provider = provider
        self.route53 = route53
        self.bucket = bucket
        self.distributions = distributions
        self.certificates = certificates

    # create / update

    def converge(self, inventory: Inventory, domains: Sequence[str]) -> None:
        self.bucket.ensure_bucket()
        oac_id = self.distributions.ensure_oac(self.bucket.bucket)

        # Request and describe in one task per domain, so the two ACM quotas (5 requests and
        # 10 describes a second) are used side by side rather than one after the other.
        def prepare(domain: str) -> _Plan:
            plan = self._certificate(inventory, domain)
            plan.validation = self.certificates.validation_record(plan.cert.arn, domain)
            return plan

        plans = each(prepare, domains)
        pending = [p for p in plans if p.cert.status != "ISSUED"]
        self._write(inventory, [(p, self._validation_changes(inventory, p)) for p in pending])
        self.certificates.wait_issued((p.domain, p.cert.arn) for p in pending)

        def distribution(plan: _Plan) -> None:
            plan.dist = self._distribution(inventory, plan, oac_id)

        each(distribution, plans, workers=CREATE_WORKERS)
        for plan in plans:
            assert plan.dist is not None
            host = policy_host(plan.domain)
            inventory.distributions[host] = plan.dist
            others = [c for c in inventory.certificates.get(host, []) if c.arn != plan.cert.arn]
            inventory.certificates[host] = [Certificate(plan.cert.arn, host, "ISSUED"), *others]
        ours = {
            d.arn
            for d in inventory.distributions.values()
            if d.origin_domain == self.bucket.origin_domain
        }
        ours |= {p.dist.arn for p in plans if p.dist is not None}
        if inventory.granted != ours:
            self.bucket.grant(ours)
            inventory.granted = ours
        issued = [p for p in plans if p.cert.status == "ISSUED"]
        self._write(
            inventory,
            [(p, self._alias_changes(inventory, p)) for p in plans]
            + [(p, self._validation_changes(inventory, p)) for p in issued],
        )
        self.distributions.wait_all_deployed(
            [(p.domain, p.dist.id) for p in plans if p.dist is not None]
        )

    def _certificate(self, inventory: Inventory, domain: str) -> _Plan:
        host = policy_host(domain)
        zone = inventory.zones[domain]
        dist = inventory.distributions.get(host)
        live = {c.arn: c for c in inventory.certificates.get(host, [])}
        if dist is not None and dist.cert_arn in live and live[dist.cert_arn].status in USABLE:
            return _Plan(domain, zone, live[dist.cert_arn], dist=dist)
        candidates = [c for c in live.values() if c.status in USABLE]
        owned = self.certificates.owned(candidates, domain) if candidates else []
        owned.sort(key=lambda c: c.status != "ISSUED")
        if owned:
            return _Plan(domain, zone, owned[0], dist=dist)
        arn = self.certificates.request(domain, host)
        return _Plan(domain, zone, Certificate(arn, host, "PENDING_VALIDATION"), dist=dist)

    def _distribution(self, inventory: Inventory, plan: _Plan, oac_id: str) -> Distribution:
        host = policy_host(plan.domain)
        config = desired_config(
            host,
            plan.cert.arn,
            self.bucket.origin_domain,
            oac_id,
            caller_reference(host, plan.cert.arn),
        )
        dist = plan.dist
        if dist is None:
            return self.distributions.create(plan.domain, config)
        if (
            dist.enabled
            and dist.cert_arn == plan.cert.arn
            and dist.min_tls == MIN_TLS
            and dist.viewer_policy == VIEWER_POLICY
            and dist.origin_domain == self.bucket.origin_domain
            and dist.origin_path == f"/{host}"
            and dist.oac_id in (oac_id, None)
        ):
            return dist
        return self.distributions.update(plan.domain, dist.id, config)

    def _validation_changes(self, inventory: Inventory, plan: _Plan) -> list[RRSet]:
        record = plan.validation
        if record is None:
            return []
        wanted_set: RRSet = {
            "Name": record.name + ".",
            "Type": "CNAME",
            "TTL": VALIDATION_TTL,
            "ResourceRecords": [{"Value": record.value + "."}],
        }
        live = inventory.rrset(record.name, "CNAME")
        values = [normalize(r["Value"]) for r in (live or {}).get("ResourceRecords", [])]
        return [] if values == [normalize(record.value)] else [wanted_set]

    def _alias_changes(self, inventory: Inventory, plan: _Plan) -> list[RRSet]:
        assert plan.dist is not None
        host = policy_host(plan.domain)
        target = plan.dist.domain_name.rstrip(".")
        out = []
        for rtype in ALIAS_TYPES:
            live = inventory.rrset(host, rtype)
            if (
                live is not None
                and normalize(live.get("AliasTarget", {}).get("DNSName", "")) == target
            ):
                continue
            out.append(
                {
                    "Name": host + ".",
                    "Type": rtype,
                    "AliasTarget": {
                        "HostedZoneId": CLOUDFRONT_ZONE_ID,
                        "DNSName": target + ".",
                        "EvaluateTargetHealth": False,
                    },
                }
            )
        return out

    def _write(self, inventory: Inventory, items: list[tuple[_Plan, list[RRSet]]]) -> None:
        """UPSERT the record sets, one batch per zone, zones side by side; wait INSYNC."""
        sets: dict[str, tuple[ChangeSet, str]] = {}
        for plan, rrsets in items:
            for rrset in rrsets:
                entry = sets.setdefault(plan.zone.id, (ChangeSet(plan.zone), plan.domain))
                entry[0].upsert(rrset)
                inventory.records[(normalize(rrset["Name"]), rrset["Type"])] = rrset
        apply_changes(self.provider, self.route53, list(sets.values()), "mtasts endpoint")

    # delete

    def remove(self, inventory: Inventory, domains: Sequence[str]) -> None:
        def records_of(domain: str) -> tuple[str, list[Certificate], list[RRSet]]:
            """The domain's certificates (tagged ours) and the records pointing at them."""
            host = policy_host(domain)
            dist = inventory.distributions.get(host)
            candidates = list(inventory.certificates.get(host, []))
            certs = self.certificates.owned(candidates, domain) if candidates else []
            doomed: list[RRSet] = []
            for rtype in ALIAS_TYPES:
                live = inventory.rrset(host, rtype)
                target = normalize((live or {}).get("AliasTarget", {}).get("DNSName", ""))
                if live is not None and dist is not None and target == dist.domain_name:
                    doomed.append(live)
            for cert in certs:
                record = self.certificates.current_validation_record(cert.arn, domain)
                live = inventory.rrset(record.name, "CNAME") if record else None
                if live is not None:
                    doomed.append(live)
            return domain, certs, doomed

        sets: dict[str, tuple[ChangeSet, str]] = {}
        owned_certs: dict[str, list[Certificate]] = {}
        for domain, certs, doomed in each(records_of, domains):
            owned_certs[domain] = certs
            zone = inventory.zones[domain]
            entry = sets.setdefault(zone.id, (ChangeSet(zone), domain))
            for rrset in doomed:
                entry[0].delete(rrset)
                inventory.records.pop((normalize(rrset["Name"]), rrset["Type"]), None)
        apply_changes(self.provider, self.route53, list(sets.values()), "mtasts endpoint removal")
        dists = [
            (d, inventory.distributions[policy_host(d)])
            for d in domains
            if policy_host(d) in inventory.distributions
        ]

        # Disable all, wait for all, delete all: CloudFront deletes only disabled, deployed
        # distributions, and deploying takes minutes that 1,000 removals should share.
        each(
            lambda item: self.distributions.disable(item[0], item[1].id),
            dists,
            workers=CREATE_WORKERS,
        )
        self.distributions.wait_all_deployed([(d, dist.id) for d, dist in dists])
        each(
            lambda item: self.distributions.delete(item[0], item[1].id),
            dists,
            workers=CREATE_WORKERS,
        )
        gone = {dist.arn for _, dist in dists}
        for _, dist in dists:
            inventory.distributions.pop(dist.host, None)
        if inventory.granted and inventory.granted & gone:
            self.bucket.grant(inventory.granted - gone)
            inventory.granted = inventory.granted - gone
        each(
            lambda item: self.certificates.delete(item[1].arn, item[0]),
            [(d, c) for d, certs in owned_certs.items() for c in certs],
        )
        for domain in domains:
            host = policy_host(domain)
            gone_certs = {c.arn for c in owned_certs[domain]}
            kept = [c for c in inventory.certificates.get(host, []) if c.arn not in gone_certs]
            inventory.certificates[host] = kept
