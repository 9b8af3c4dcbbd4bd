"""The HTTPS endpoint of a domain: its place in a shared distribution (group), the group's
certificate, the bucket grant, the alias records.

The endpoint is one resource to the core, a structured `Endpoint` (provisioner/state.py).
`wanted()` is what a healthy endpoint reads as; `describe()` reads each part's live state,
so the plan shows `certificate PENDING_VALIDATION -> ISSUED` or `alias AAAA missing` and
apply repairs it. Hosts are packed into groups (`grouping.py`): one CloudFront distribution
with one ACM SAN certificate per group, and one CloudFront Function for all (`function.py`).

Create/update (phase 0), for the phase's domains at once:
  1. bucket, origin access control, the router function (created once);
  2. the new groups (`grouping.assign`): for each group whose hosts change, a certificate
     covering exactly its new hosts (an existing one if it does, else a request), the
     validation CNAMEs of names that lack them (one Route53 batch per zone; each name's
     CNAME is the same for every certificate covering it, so it is written once and kept),
     and a bounded wait until every new certificate is ISSUED;
  3. per group, ONE UpdateDistribution switching aliases and certificate together (or a
     CreateDistribution for a new group); a host migrating from a per-domain distribution is
     first released from it (alias removed and the old one disabled in one update: CloudFront
     refuses one alias on two distributions), right before the group takes it;
  4. the bucket policy grants exactly mtasts's distributions; alias A/AAAA records point at
     the group's distribution; wait until everything touched is Deployed;
  5. only then: delete the replaced certificates and the released per-domain distributions.
The old certificate keeps serving until the switch is deployed, so a host already in a group
never loses its endpoint. Apply is idempotent: a run stopped half-way is completed by the
next plan/apply (a certificate already requested for the same hosts is reused).

Delete (phase 4): the hosts leave their groups the same way (new certificate for the rest,
one update, then the old certificate goes); an emptied group's distribution is disabled,
waited for and deleted. Per-domain distributions of older deployments are removed as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from providers.aws.acm import USABLE, Certificate, Certificates, ValidationRecord
from providers.aws.cloudfront import (
    CLOUDFRONT_ZONE_ID,
    MIN_TLS,
    VIEWER_POLICY,
    Distribution,
    Distributions,
    caller_reference,
    group_config,
)
from providers.aws.function import Functions, function_name
from providers.aws.grouping import GroupChange, assign, changes, group_of
from providers.aws.inventory import Inventory
from providers.aws.route53 import ChangeSet, RRSet, Zone, apply_changes, normalize
from providers.aws.s3 import PolicyBucket
from provisioner.concurrency import each
from provisioner.state import POLICY_HOST_PREFIX, Endpoint, policy_host

ALIAS_TYPES = ("A", "AAAA")
VALIDATION_TTL = 300
CREATE_WORKERS = 4
"""CloudFront's control plane is slow and modestly rate limited: a few at a time."""


SERVING = "serving"
MOVING = "per-domain, moves into a group"
DEPLOYING = "deploying"
"""A group's distribution not yet Deployed (an apply stopped waiting for it): its hosts
are not served everywhere yet, so their policy and id wait for apply to see it Deployed."""


def wanted(domain: str) -> Endpoint:
    """The healthy endpoint: served by a distribution (a group's), an ISSUED certificate
    covering the host, TLS and viewer settings, the bucket grant, both alias records."""
    return Endpoint(
        policy_host(domain),
        "cloudfront",
        (
            ("distribution", SERVING),
            ("certificate", "ISSUED"),
            ("TLS minimum", MIN_TLS),
            ("viewer protocol", VIEWER_POLICY),
            ("origin", "policy bucket"),
            ("bucket grant", "present"),
            ("alias A", "present"),
            ("alias AAAA", "present"),
        ),
    )


def migrating(inventory: Inventory, domains: Sequence[str], per_apply: int) -> frozenset[str]:
    """The per-domain hosts among `domains` this apply moves into groups: the first
    `per_apply` in sorted order, so a plan and its apply pick the same ones."""
    legacy = inventory.legacy()
    hosts = sorted(policy_host(d) for d in domains if policy_host(d) in legacy)
    return frozenset(hosts[:per_apply])


def needing_repair(
    inventory: Inventory, domains: Sequence[str], origin_domain: str
) -> frozenset[str]:
    """The per-domain hosts among `domains` whose endpoint is not healthy (an alias record
    gone, a certificate not ISSUED, ...). Apply repairs an endpoint by giving it its place
    in a group (it builds nothing per-domain any more), so these move in this apply
    whatever `migrate_per_apply` says, and the plan must show them moving."""
    legacy = inventory.legacy()
    return frozenset(
        policy_host(d)
        for d in domains
        if policy_host(d) in legacy and wanted(d).differences(describe(inventory, d, origin_domain))
    )


def describe(
    inventory: Inventory,
    domain: str,
    origin_domain: str,
    moving: frozenset[str] = frozenset(),
) -> Endpoint | None:
    """The live endpoint, part by part (absent parts left out); None when nothing of it
    exists. A per-domain host in `moving` reads as `per-domain, moves into a group`, so the
    plan shows the move and apply makes it; other per-domain hosts serve until their turn."""
    host = policy_host(domain)
    dist = inventory.distributions.get(host)
    parts: list[tuple[str, str]] = []
    if dist is not None:
        if not dist.enabled:
            parts.append(("distribution", "disabled"))
        elif dist.group is None and host in moving:
            parts.append(("distribution", MOVING))
        elif dist.group is not None and dist.status != "Deployed":
            parts.append(("distribution", DEPLOYING))
        else:
            parts.append(("distribution", SERVING))
        cert = inventory.certificate(dist.cert_arn)
        if cert is None:
            parts.append(("certificate", "MISSING" if dist.cert_arn else "NONE"))
        elif host not in cert.covers():
            parts.append(("certificate", "not covering the host"))
        else:
            parts.append(("certificate", cert.status))
        parts.append(("TLS minimum", dist.min_tls or "unset"))
        parts.append(("viewer protocol", dist.viewer_policy or "unset"))
        path = "" if dist.group is not None else f"/{host}"
        right = (
            dist.origin_domain == origin_domain
            and dist.origin_path == path
            and dist.oac_id != ""  # None: not reported (moto), see cloudfront.Distribution
        )
        parts.append(("origin", "policy bucket" if right else "elsewhere"))
        if inventory.granted is not None and dist.arn in inventory.granted:
            parts.append(("bucket grant", "present"))
    target = dist.domain_name.rstrip(".") if dist is not None else None
    for rtype in ALIAS_TYPES:
        rrset = inventory.rrset(host, rtype)
        if rrset is None:
            continue
        alias = normalize(rrset.get("AliasTarget", {}).get("DNSName", ""))
        parts.append((f"alias {rtype}", "present" if alias == target else "elsewhere"))
    if not parts:
        return None
    return Endpoint(host, "cloudfront", tuple(parts))


def domain_of(host: str) -> str:
    return host[len(POLICY_HOST_PREFIX) :]


@dataclass
class _Group:
    """One group being converged: its change, certificate and distribution."""

    change: GroupChange
    dist: Distribution | None
    cert: Certificate | None = None
    old_cert: str | None = None
    validation: list[ValidationRecord] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.change.number

    @property
    def label(self) -> str:
        return f"group {self.number}"


class Endpoints:
    def __init__(
        self,
        provider: str,
        route53: object,
        bucket: PolicyBucket,
        distributions: Distributions,
        certificates: Certificates,
        functions: Functions,
        group_size: int,
    ) -> None:
        self.provider = provider
        self.route53 = route53
        self.bucket = bucket
        self.distributions = distributions
        self.certificates = certificates
        self.functions = functions
        self.group_size = group_size

    # create / update

    def converge(self, inventory: Inventory, domains: Sequence[str]) -> None:
        """Give every domain a healthy place in a group (see the module's steps)."""
        self.bucket.ensure_bucket()
        oac_id = self.distributions.ensure_oac(self.bucket.bucket)
        function_arn = self.functions.ensure(function_name(self.bucket.bucket))
        hosts = {policy_host(d) for d in domains}
        legacy = inventory.legacy()
        current = inventory.group_hosts()
        after = assign(current, hosts, (), self.group_size)
        touched = {c.number: c for c in changes(current, after)}
        for host in sorted(hosts):
            number = group_of(after, host)
            if number is not None and number not in touched:
                same = frozenset(after[number])
                touched[number] = GroupChange(number, same, same)  # a repair
        groups = [_Group(c, inventory.groups.get(c.number)) for _, c in sorted(touched.items())]
        self._certificates(inventory, groups)

        def switch(group: _Group) -> None:
            assert group.cert is not None
            for host in sorted(group.change.joining & set(legacy)):
                self.distributions.release(domain_of(host), legacy[host].id)
            hosts_after = sorted(group.change.after)
            dist = group.dist
            config = group_config(
                group.number,
                hosts_after,
                group.cert.arn,
                self.bucket.origin_domain,
                oac_id,
                function_arn,
                caller_reference(f"group {group.number}", group.cert.arn),
            )
            if dist is None:
                group.dist = self.distributions.create(group.label, config, group.label)
            elif not self._healthy(dist, group, oac_id, function_arn):
                group.old_cert = dist.cert_arn if dist.cert_arn != group.cert.arn else None
                group.dist = self.distributions.update(group.label, dist.id, config)

        each(switch, groups, workers=CREATE_WORKERS)
        released = [legacy[h] for g in groups for h in sorted(g.change.joining & set(legacy))]
        for group in groups:
            assert group.dist is not None
            inventory.groups[group.number] = group.dist
            for host in group.dist.hosts:
                inventory.distributions[host] = group.dist
        self._grant(inventory, gone=frozenset(d.arn for d in released))
        self._write(
            inventory,
            [
                rrset
                for group in groups
                for host in sorted(group.change.after)
                for rrset in self._alias_changes(inventory, host, group.dist)
            ]
            + [
                rrset
                for group in groups
                for record in group.validation
                for rrset in self._validation_changes(inventory, record)
            ],
            "mtasts endpoint",
        )
        self.distributions.wait_all_deployed(
            [(g.label, g.dist.id) for g in groups if g.dist is not None]
            + [(d.host or d.id, d.id) for d in released]
        )
        self._retire(inventory, groups, released)

    def _healthy(self, dist: Distribution, group: _Group, oac_id: str, function_arn: str) -> bool:
        assert group.cert is not None
        return (
            dist.enabled
            and frozenset(dist.hosts) == group.change.after
            and dist.cert_arn == group.cert.arn
            and dist.min_tls == MIN_TLS
            and dist.viewer_policy == VIEWER_POLICY
            and dist.origin_domain == self.bucket.origin_domain
            and dist.origin_path == ""
            and dist.oac_id in (oac_id, None)
            and (not dist.function_arns or dist.function_arns == (function_arn,))
        )

    def _certificates(self, inventory: Inventory, groups: Sequence[_Group]) -> None:
        """A usable certificate covering exactly each group's new hosts; new ones validated
        (missing CNAMEs written) and waited for until ISSUED."""

        def choose(group: _Group) -> None:
            want = group.change.after
            live = inventory.certificate(group.dist.cert_arn) if group.dist else None
            if live is not None and live.covers() == want and live.status in USABLE:
                group.cert = live
            else:
                first = sorted(want)[0]
                candidates = [
                    c
                    for c in inventory.certificates.get(first, [])
                    if c.covers() == want and c.status in USABLE
                ]
                owned = self.certificates.owned(candidates, group.label) if candidates else []
                owned.sort(key=lambda c: c.status != "ISSUED")
                if owned:
                    group.cert = owned[0]
                else:
                    spent = [
                        c.arn
                        for c in inventory.certificates.get(first, [])
                        if c.status not in USABLE
                    ]
                    arn = self.certificates.request_group(
                        group.number,
                        sorted(want),
                        group.dist.cert_arn if group.dist else "",
                        spent,
                    )
                    group.cert = Certificate(arn, first, "PENDING_VALIDATION", want)
            if group.cert.status != "ISSUED":
                group.validation = self.certificates.wait_validation_records(
                    group.cert.arn, group.label
                )

        each(choose, groups)
        pending = [g for g in groups if g.cert is not None and g.cert.status != "ISSUED"]
        self._write(
            inventory,
            [
                rrset
                for g in pending
                for record in g.validation
                for rrset in self._validation_changes(inventory, record)
            ],
            "mtasts certificate validation",
        )
        self.certificates.wait_issued((g.label, g.cert.arn) for g in pending if g.cert is not None)
        for group in groups:
            assert group.cert is not None
            cert = Certificate(group.cert.arn, group.cert.host, "ISSUED", group.change.after)
            group.cert = cert
            for name in cert.covers():
                others = [c for c in inventory.certificates.get(name, []) if c.arn != cert.arn]
                inventory.certificates[name] = [cert, *others]

    def _grant(self, inventory: Inventory, gone: frozenset[str] = frozenset()) -> None:
        ours = {
            d.arn
            for d in inventory.distributions.values()
            if d.origin_domain == self.bucket.origin_domain and d.arn not in gone
        }
        if inventory.granted != ours:
            self.bucket.grant(ours)
            inventory.granted = ours

    def _retire(
        self, inventory: Inventory, groups: Sequence[_Group], released: Sequence[Distribution]
    ) -> None:
        """After the switch is Deployed: the replaced group certificates (tagged ours), and
        the released per-domain distributions with their certificates, go."""
        old = [(g.label, g.old_cert) for g in groups if g.old_cert]
        doomed = [
            (label, c) for label, arn in old for c in [inventory.certificate(arn)] if c is not None
        ]
        owned = [(label, c) for label, c in doomed if self.certificates.owned([c], label)]
        each(lambda item: self.certificates.delete(item[1].arn, item[0]), owned)
        stale = list(released) + [d for d in inventory.released if d not in released]
        if stale:
            self.distributions.wait_all_deployed([(d.host or d.id, d.id) for d in stale])
            each(
                lambda d: self.distributions.delete(d.host or d.id, d.id),
                stale,
                workers=CREATE_WORKERS,
            )
            inventory.released = []
        # Per-domain certificates of hosts now in a group (a move, possibly one an earlier
        # apply stopped in): tagged with the domain, covering only its host, used by none.
        in_use = {d.cert_arn for d in inventory.distributions.values()}
        joined = sorted({h for g in groups for h in g.change.joining})
        legacy_certs = [
            (domain_of(host), c)
            for host in joined
            for c in inventory.certificates.get(host, [])
            if c.covers() == {host} and c.arn not in in_use
        ]
        tagged = [(domain, c) for domain, c in legacy_certs if self.certificates.owned([c], domain)]
        handled = in_use | {c.arn for _, c in doomed} | {c.arn for _, c in tagged}
        tagged += self._leftovers(inventory, groups, handled)
        each(lambda item: self.certificates.delete(item[1].arn, item[0]), tagged)
        owned += tagged
        self._drop_certificates(inventory, {c.arn for _, c in owned})

    def _leftovers(
        self, inventory: Inventory, groups: Sequence[_Group], keep: set[str]
    ) -> list[tuple[str, Certificate]]:
        """Certificates an earlier apply left behind for a changed group: tagged `group
        <n>`, naming one of its hosts, used by no distribution and not the one it now has
        (a request whose switch never came because the apply was stopped or the host set
        changed since; a FAILED one). Without this they would pile up in the account. From
        the listing already read: one ListTagsForCertificate per such certificate, none in
        a steady state."""
        found: dict[str, tuple[str, Certificate]] = {}
        for group in groups:
            current = group.cert.arn if group.cert is not None else ""
            for host in sorted(group.change.before | group.change.after):
                for cert in inventory.certificates.get(host, []):
                    if cert.arn not in keep and cert.arn != current:
                        found.setdefault(cert.arn, (group.label, cert))
        items = list(found.values())
        flags = each(lambda item: bool(self.certificates.owned([item[1]], item[0])), items)
        return [item for item, ok in zip(items, flags, strict=True) if ok]

    def _drop_certificates(self, inventory: Inventory, arns: set[str]) -> None:
        for name, certs in inventory.certificates.items():
            inventory.certificates[name] = [c for c in certs if c.arn not in arns]

    def _validation_changes(self, inventory: Inventory, record: ValidationRecord) -> list[RRSet]:
        """The record to UPSERT for a validation CNAME, where its zone was read and it is
        not already there (a name's CNAME is the same for every certificate covering it)."""
        if self._zone_of(inventory, record.name) is None:
            return []
        live = inventory.rrset(record.name, "CNAME")
        values = [normalize(r["Value"]) for r in (live or {}).get("ResourceRecords", [])]
        if values == [normalize(record.value)]:
            return []
        return [
            {
                "Name": record.name + ".",
                "Type": "CNAME",
                "TTL": VALIDATION_TTL,
                "ResourceRecords": [{"Value": record.value + "."}],
            }
        ]

    def _alias_changes(
        self, inventory: Inventory, host: str, dist: Distribution | None
    ) -> list[RRSet]:
        if dist is None or self._zone_of(inventory, host) is None:
            return []
        target = dist.domain_name.rstrip(".")
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

    def _zone_of(self, inventory: Inventory, name: str) -> tuple[str, Zone] | None:
        """(domain, zone) of a policy host or a name under it, if that domain was read.

        A group's other hosts may lie outside this run's domains (`-d`): their records were
        written when they joined and are kept, so nothing is written for them."""
        labels = name.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate.startswith(POLICY_HOST_PREFIX):
                domain = domain_of(candidate)
                zone = inventory.zones.get(domain)
                if zone is not None:
                    return domain, zone
        return None

    def _write(self, inventory: Inventory, rrsets: list[RRSet], comment: str) -> None:
        """UPSERT the record sets, one batch per zone, zones side by side; wait INSYNC."""
        sets: dict[str, tuple[ChangeSet, str]] = {}
        for rrset in rrsets:
            found = self._zone_of(inventory, normalize(rrset["Name"]))
            assert found is not None
            domain, zone = found
            entry = sets.setdefault(zone.id, (ChangeSet(zone), domain))
            entry[0].upsert(rrset)
            inventory.records[(normalize(rrset["Name"]), rrset["Type"])] = rrset
        apply_changes(self.provider, self.route53, list(sets.values()), comment)

    # delete

    def remove(self, inventory: Inventory, domains: Sequence[str]) -> None:
        """Take the domains' endpoints away: grouped hosts leave their groups, per-domain
        endpoints of older deployments go as before."""
        grouped = [d for d in domains if inventory.distributions.get(policy_host(d), None)]
        grouped = [d for d in grouped if inventory.distributions[policy_host(d)].group]
        legacy = [d for d in domains if d not in set(grouped)]
        if grouped:
            self._leave(inventory, grouped)
        if legacy:
            self._remove_legacy(inventory, legacy)

    def _leave(self, inventory: Inventory, domains: Sequence[str]) -> None:
        leaving = {policy_host(d) for d in domains}
        current = inventory.group_hosts()
        after = assign(current, (), leaving, self.group_size)
        groups = [_Group(c, inventory.groups.get(c.number)) for c in changes(current, after)]
        # DNS first: the leaving hosts' alias and validation records (ours only).
        sets: dict[str, tuple[ChangeSet, str]] = {}
        for group in groups:
            dist = group.dist
            assert dist is not None
            cert = inventory.certificate(dist.cert_arn)
            records = (
                self.certificates.validation_records(cert.arn, group.label) or []
                if cert is not None
                else []
            )
            for host in sorted(group.change.leaving):
                domain = domain_of(host)
                zone = inventory.zones[domain]
                entry = sets.setdefault(zone.id, (ChangeSet(zone), domain))
                doomed = [
                    live
                    for rtype in ALIAS_TYPES
                    for live in [inventory.rrset(host, rtype)]
                    if live is not None
                    and normalize(live.get("AliasTarget", {}).get("DNSName", ""))
                    == dist.domain_name.rstrip(".")
                ]
                doomed += [
                    live
                    for record in records
                    if record.name == host or record.name.endswith("." + host)
                    for live in [inventory.rrset(record.name, "CNAME")]
                    if live is not None
                ]
                for rrset in doomed:
                    entry[0].delete(rrset)
                    inventory.records.pop((normalize(rrset["Name"]), rrset["Type"]), None)
        apply_changes(self.provider, self.route53, list(sets.values()), "mtasts endpoint removal")
        emptied = [g for g in groups if not g.change.after]
        shrunk = [g for g in groups if g.change.after]
        if shrunk:
            self._certificates(inventory, shrunk)

            def switch(group: _Group) -> None:
                assert group.dist is not None and group.cert is not None
                config = group_config(
                    group.number,
                    sorted(group.change.after),
                    group.cert.arn,
                    group.dist.origin_domain,
                    group.dist.oac_id or self.distributions.ensure_oac(self.bucket.bucket),
                    self.functions.ensure(function_name(self.bucket.bucket)),
                    caller_reference(f"group {group.number}", group.cert.arn),
                )
                group.old_cert = group.dist.cert_arn
                group.dist = self.distributions.update(group.label, group.dist.id, config)

            each(switch, shrunk, workers=CREATE_WORKERS)
        emptied_ids = [(g.label, g.dist.id) for g in emptied if g.dist is not None]
        each(lambda item: self.distributions.disable(*item), emptied_ids, workers=CREATE_WORKERS)
        self.distributions.wait_all_deployed(
            [(g.label, g.dist.id) for g in groups if g.dist is not None]
        )
        each(lambda item: self.distributions.delete(*item), emptied_ids, workers=CREATE_WORKERS)
        for group in emptied:
            assert group.dist is not None
            group.old_cert = group.dist.cert_arn
            inventory.groups.pop(group.number, None)
        for group in shrunk:
            assert group.dist is not None
            inventory.groups[group.number] = group.dist
            for host in group.dist.hosts:
                inventory.distributions[host] = group.dist
        for host in leaving:
            inventory.distributions.pop(host, None)
        self._grant(inventory)
        self._retire(inventory, groups, [])

    def _remove_legacy(self, inventory: Inventory, domains: Sequence[str]) -> None:
        """Remove per-domain endpoints of an older deployment (one distribution each)."""

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
