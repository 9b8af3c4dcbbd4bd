"""The `aws` provider: Route53 records, S3 policy objects, ACM + CloudFront endpoints.

This module is the thin translation the core's contract asks for (see
`provisioner.provider`): `read` builds one bulk `Inventory` and turns it into LiveDomains;
`apply` receives one phase and dispatches it to the module that owns that kind of resource:

  phase 0 endpoint create/update -> endpoint.Endpoints.converge (cert, distribution, alias)
  phase 1 policy create/update   -> PutObject, then invalidate and WAIT for completion, so
                                    the STS id (phase 2) changes only once CloudFront serves
                                    the new body
  phase 2 TXT records            -> one ChangeResourceRecordSets per zone, whole rrsets
                                    (`Change.rrset_after`), foreign values kept, INSYNC
  phase 3 policy delete          -> every version of the policy key
  phase 4 endpoint delete        -> endpoint.Endpoints.remove

Ownership: policy objects under `mta-sts.<d>/.well-known/mta-sts.txt` (these ARE the
managed domains), distributions with the `mtasts:managed` comment, certificates tagged
`mtasts:managed=<domain>`, and only the record names mtasts owns.

The bucket defaults to `mtasts-<account id>-<region>` (bucket names are global, so the
account id keeps two accounts from colliding); naming one is recommended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from providers.aws.acm import Certificates
from providers.aws.cloudfront import Distributions
from providers.aws.endpoint import Endpoints, describe, migrating, needing_repair, wanted
from providers.aws.errors import reported
from providers.aws.function import Functions
from providers.aws.grouping import (
    DEFAULT_GROUP_SIZE,
    MAX_GROUP_SIZE,
    applies_remaining,
    assign,
    changes,
)
from providers.aws.inventory import Inventory, read_inventory
from providers.aws.route53 import (
    TXT_TTL,
    ChangeSet,
    ZoneIndex,
    apply_changes,
    normalize,
    txt_rrset,
)
from providers.aws.s3 import PolicyBucket
from providers.aws.session import AwsClients
from provisioner.concurrency import each
from provisioner.dnstext import normalize_pins
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import HOSTED, Progress, Provider
from provisioner.rfc8461 import POLICY_PATH, is_sts_record
from provisioner.state import Endpoint, LiveDomain, Resource, policy_host, record_name


class AwsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    zone_ids: dict[str, str] = Field(default_factory=dict)
    hosts_per_certificate: int = Field(
        default=DEFAULT_GROUP_SIZE, ge=1, le=MAX_GROUP_SIZE, strict=True
    )
    """Policy hosts per shared distribution and certificate: ACM's names-per-certificate
    quota (10 by default; up to 100 once the account's quota is raised)."""
    migrate_per_apply: int = Field(default=50, ge=1, le=1000, strict=True)
    """Per-domain endpoints (older deployments) moved into groups per apply."""

    @field_validator("zone_ids")
    @classmethod
    def _normalise(cls, value: dict[str, str]) -> dict[str, str]:
        """Keys as spec domains are (lower case, IDN to A-labels: an IDN pin must match its
        domain, not be silently ignored); values as zone ids (`/hostedzone/Z1` -> `Z1`)."""
        pins = normalize_pins(value, "zone_ids")
        return {domain: zone.split("/")[-1] for domain, zone in pins.items()}


class AwsProvider(Provider):
    type_name = "aws"
    capabilities = HOSTED
    Settings = AwsSettings
    settings: AwsSettings

    def __init__(self, name: str, settings: BaseModel, base_dir: Any) -> None:
        super().__init__(name, settings, base_dir)
        self.config = self.settings
        self.clients = AwsClients(name, self.settings.region)
        self._zones: ZoneIndex | None = None
        self._bucket: PolicyBucket | None = None
        self._inventory: Inventory | None = None
        self._inventory_domains: frozenset[str] = frozenset()
        self._notices: tuple[str, ...] = ()
        self._stories: dict[str, str] = {}

    # the pieces, built on first use (no credentials needed before a call)

    @property
    def zones(self) -> ZoneIndex:
        if self._zones is None:
            self._zones = ZoneIndex(self.name, self.clients.route53, self.config.zone_ids)
        return self._zones

    @property
    def bucket(self) -> PolicyBucket:
        if self._bucket is None:
            name = self.config.bucket
            if name is None:
                with reported(self.name, None, "finding the account id (sts)"):
                    account = self.clients.sts.get_caller_identity()["Account"]
                name = f"mtasts-{account}-{self.config.region}"
            self._bucket = PolicyBucket(self.name, self.clients.s3, name, self.config.region)
        return self._bucket

    def _endpoints(self) -> Endpoints:
        return Endpoints(
            self.name,
            self.clients.route53,
            self.bucket,
            Distributions(self.name, self.clients.cloudfront),
            Certificates(self.name, self.clients.acm),
            Functions(self.name, self.clients.cloudfront),
            self.config.hosts_per_certificate,
        )

    # the contract

    def endpoint_for(self, domain: str) -> Endpoint | None:
        return wanted(domain)

    def managed_domains(self) -> set[str]:
        return set(self.bucket.listing())

    def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
        return self.read_expecting(domains, progress, {})

    def read_expecting(
        self, domains: Sequence[str], progress: Progress, expected: Mapping[str, str]
    ) -> dict[str, LiveDomain]:
        """One bulk read; a policy whose listed ETag is the MD5 of its expected body, or of
        the body this process wrote, is not fetched (issue 9.9: about one call per domain)."""
        inventory = self._read(domains, expected)
        moving = migrating(inventory, domains, self.config.migrate_per_apply)
        moving |= needing_repair(inventory, domains, self.bucket.origin_domain)
        self._notices = self._group_notices(inventory, domains, moving)
        self._stories = self._joining_stories(inventory, domains, moving)
        live: dict[str, LiveDomain] = {}
        for domain in domains:
            body = inventory.bodies.get(domain)
            live[domain] = LiveDomain(
                domain=domain,
                policy_text=body[0] if body else None,
                policy_published_at=body[1] if body else None,
                sts_txt=inventory.txt_values(record_name(Resource.STS_RECORD, domain)),
                tlsrpt_txt=inventory.txt_values(record_name(Resource.TLSRPT_RECORD, domain)),
                endpoint=describe(inventory, domain, self.bucket.origin_domain, moving),
                mx_hosts=inventory.mx_hosts(domain),
                blocking=inventory.blocking(domain),
            )
            progress.advance()
        return live

    def notices(self) -> tuple[str, ...]:
        return self._notices

    def endpoint_story(self, domain: str) -> str | None:
        """`joins group 7 (certificate re-issued for 10 hosts)` for a domain the next apply
        puts into a shared distribution (`moves into group 7 ...` from its own one)."""
        return self._stories.get(domain)

    def _joining_stories(
        self, inventory: Inventory, domains: Sequence[str], moving: frozenset[str]
    ) -> dict[str, str]:
        """Domain -> its group change, for hosts with no endpoint yet or moving now. The
        read cannot tell a domain being removed from one being added: hosts leaving show
        in the plan's removals."""
        domain_of = {policy_host(d): d for d in domains}
        current = inventory.group_hosts()
        joining = {h for h in domain_of if h not in inventory.distributions or h in moving}
        after = assign(current, joining, (), self.config.hosts_per_certificate)
        stories: dict[str, str] = {}
        for change in changes(current, after):
            for host in sorted(change.joining & joining):
                verb = "moves into" if host in moving else "joins"
                stories[domain_of[host]] = (
                    f"{verb} group {change.number} ({change.certificate_story()})"
                )
        return stories

    def _group_notices(
        self, inventory: Inventory, domains: Sequence[str], moving: frozenset[str]
    ) -> tuple[str, ...]:
        """How many applies the migration of per-domain endpoints still needs (what each
        domain's endpoint change does is its own plan line: `endpoint_story`)."""
        notes: list[str] = []
        legacy = len(inventory.legacy())
        if legacy:
            remaining = applies_remaining(legacy, self.config.migrate_per_apply)
            notes.append(
                f"{self.name}: {legacy} domains still have their own CloudFront distribution; "
                f"this apply moves {len(moving)} into groups, {remaining} "
                f"{'apply remains' if remaining == 1 else 'applies remain'}"
                f" (migrate_per_apply: {self.config.migrate_per_apply})"
            )
        return tuple(notes)

    def _read(self, domains: Sequence[str], expected: Mapping[str, str] | None = None) -> Inventory:
        candidates: dict[str, tuple[str, ...]] = {}
        for domain, body in (expected or {}).items():
            candidates[domain] = (body,)
        for domain, body in self.bucket.written.items():
            candidates[domain] = (*candidates.get(domain, ()), body)
        self._inventory = read_inventory(
            self.zones,
            self.clients.route53,
            self.bucket,
            Distributions(self.name, self.clients.cloudfront),
            Certificates(self.name, self.clients.acm),
            sorted(set(domains)),
            self.name,
            candidates,
        )
        self._inventory_domains = frozenset(domains)
        return self._inventory

    def _fresh_inventory(self, domains: Sequence[str]) -> Inventory:
        """The snapshot apply works from: the plan's read when it covers these domains."""
        if self._inventory is None or not set(domains) <= self._inventory_domains:
            return self._read(sorted(set(domains) | self._inventory_domains))
        return self._inventory

    def apply(self, changes: Sequence[Change], progress: Progress) -> None:
        if not changes:
            return
        phases = {c.phase for c in changes}
        if len(phases) != 1:
            raise ProviderError(f"{self.name}: apply got changes of phases {sorted(phases)}")
        phase = phases.pop()
        domains = sorted({c.domain for c in changes})
        inventory = self._fresh_inventory(domains)
        if phase in (0, 2):
            _refuse_blocked(self.name, inventory, changes)
        try:
            if phase == 0:
                self._endpoints().converge(inventory, domains)
            elif phase == 1:
                self._write_policies(inventory, changes)
            elif phase == 2:
                self._write_records(inventory, changes)
            elif phase == 3:
                self.bucket.ensure_bucket()
                each(self.bucket.delete, domains)
            elif phase == 4:
                self._endpoints().remove(inventory, domains)
        except BaseException:
            self._inventory = None  # a half-done phase: the next read starts afresh
            raise
        progress.advance(len(changes))

    def _write_policies(self, inventory: Inventory, changes: Sequence[Change]) -> None:
        self.bucket.ensure_bucket()
        each(lambda c: self.bucket.write(c.domain, c.after or ""), changes)
        dists = Distributions(self.name, self.clients.cloudfront)
        # A new policy can only be cached if an older body was: invalidate updates only,
        # one invalidation per distribution (a group's holds many hosts) with the paths its
        # cache keys on (`cloudfront.Distributions.invalidate`).
        batches: dict[str, tuple[str, list[str]]] = {}
        for change in changes:
            host = policy_host(change.domain)
            dist = inventory.distributions.get(host)
            if change.action is not Action.UPDATE or dist is None:
                continue
            path = f"/{host}{POLICY_PATH}" if dist.group is not None else POLICY_PATH
            batches.setdefault(dist.id, (change.domain, []))[1].append(path)
        items = sorted(batches.items())
        started = each(
            lambda item: dists.invalidate(item[1][0], item[0], sorted(item[1][1])), items
        )
        each(
            lambda pair: dists.wait_invalidated(pair[0][1][0], pair[0][0], pair[1]),
            list(zip(items, started, strict=True)),
        )

    def _write_records(self, inventory: Inventory, changes: Sequence[Change]) -> None:
        sets: dict[str, tuple[ChangeSet, str]] = {}
        for change in changes:
            name = record_name(change.resource, change.domain)
            _check_rrset(self.name, change)
            zone = inventory.zones.get(change.domain) or self.zones.zone_for(change.domain)
            entry = sets.setdefault(zone.id, (ChangeSet(zone), change.domain))
            live = inventory.rrset(name, "TXT")
            if change.rrset_after:
                ttl = int(live["TTL"]) if live and "TTL" in live else TXT_TTL
                entry[0].upsert(txt_rrset(name, change.rrset_after, ttl, live))
            elif live is not None:
                entry[0].delete(live)
        apply_changes(self.name, self.clients.route53, list(sets.values()), "mtasts TXT records")
        for change_set, _ in sets.values():
            for item in change_set.changes:
                rrset = item["ResourceRecordSet"]
                key = (normalize(rrset["Name"]), rrset["Type"])
                if item["Action"] == "DELETE":
                    inventory.records.pop(key, None)
                else:
                    inventory.records[key] = rrset


def _refuse_blocked(provider: str, inventory: Inventory, changes: Sequence[Change]) -> None:
    """Send nothing in a phase that would write beside a record someone else owns.

    The plan already refuses such domains (`provisioner.conflicts`), but only those in the
    spec: a removal's `mode: none` id, or a saved plan applied after someone delegated the
    name, would still reach here, and Route53 would refuse the whole batch with an error
    about one name. Named here instead, before any request.
    """
    found = [
        (change.domain, record)
        for change in changes
        if change.action is not Action.DELETE
        for record in inventory.blocking(change.domain)
        if record.resource is change.resource
    ]
    if found:
        domain, record = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ProviderError(
            f"{provider}: {domain}: {record.name} is a {record.rdtype} ({record.value}) that "
            f"mtasts cannot write beside{more}; nothing of this phase was sent"
        )


def _check_rrset(provider: str, change: Change) -> None:
    """What moto does not check but senders do: one STS value per name.

    Non-ASCII values need no check: a foreign one is written back as the text Route53 gave
    (its `\\ddd` escapes), and any other is rendered by `provisioner.dnstext` with them.
    """
    if change.resource is Resource.STS_RECORD:
        count = sum(1 for v in change.rrset_after if is_sts_record(v))
        if count > 1:
            raise ProviderError(
                f"{provider}: {change.domain}: refusing to publish {count} STS records "
                "(senders would ignore them all)"
            )
