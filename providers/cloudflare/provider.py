"""`type: cloudflare`: MTA-STS for domains whose DNS is on Cloudflare, from one Worker.

What a domain gets: its policy in the account's mtasts Worker (worker.py), the Workers
custom domain `mta-sts.<domain>` bound to that Worker (domains.py), and the `_mta-sts` and
`_smtp._tls` TXT records in its zone (dns.py). The token comes from `CLOUDFLARE_API_TOKEN`
only (client.py drops the other credentials the SDK would read); the SDK honours
`CLOUDFLARE_BASE_URL`, which is how tests reach the local fake. Every request has the
shared connect and read timeouts and the run a deadline (client.py, gate.py).

How a run spends API calls (the account-wide rate limit is ~1,200 per 5 minutes):
- read: the script content once (it is also `managed_domains`), the custom domains once,
  the zones once (N/50 pages, skipped for domains pinned in `zone_ids`), and ONE paginated
  listing of each zone's records (dns.py): about one call per domain on a plan, empty or
  not (issue 9.9; benchmarks/cloudflare_scale.py).
- apply, per phase: endpoints one call each (the API has no batch for them); every policy
  change of the phase in ONE upload (plus a read before it, to carry over what others
  wrote, and one after, to confirm it is live); TXT changes in one batch call per zone,
  after the core's id guard has read again (one more fetch of the script; zones, records
  and custom domains come from what this run already read and wrote).
Per-zone and per-domain calls run side by side (`provisioner.concurrency.each`, at most
`MTASTS_WORKERS` at once), all behind one gate (gate.py): the account's shared pacer, the
hold after a 429, the run's deadline.

Phase 0 also makes sure the script exists before a custom domain is bound to it (Cloudflare
refuses a custom domain for a missing script); that first upload carries the live map
unchanged, so no policy is served before phase 1.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cloudflare
from pydantic import BaseModel, ConfigDict, Field, field_validator

from provisioner.concurrency import each
from provisioner.deadline import Deadline
from provisioner.pacing import shared_pacer
from provisioner.plan import Action, Change
from provisioner.provider import HOSTED, Progress, Provider
from provisioner.state import (
    POLICY_HOST_PREFIX,
    Endpoint,
    LiveDomain,
    Resource,
    policy_host,
    record_name,
)

from .client import Knobs, make_client, read_token
from .dns import DnsRecords
from .domains import CustomDomains, worker_endpoint
from .gate import RequestGate, pacer_key
from .worker import PolicyEntry, PolicyMap, WorkerScript, now
from .zones import ZoneIndex


class CloudflareSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, pattern=r"^[0-9A-Za-z]+$")
    worker: str = Field(default="mtasts", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    """The Worker script serving every domain's policy (one per account)."""
    zone_ids: dict[str, str] = Field(default_factory=dict)
    """domain -> zone id, for domains the token cannot list zones for (or to skip it)."""
    read_mx: bool = True
    """Read MX records (one more call per zone) so a plan warns before enforce blocks mail."""

    @field_validator("zone_ids")
    @classmethod
    def _lower(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.lower().rstrip("."): v for k, v in value.items()}


@dataclass
class _Api:
    """Everything that talks to Cloudflare in one run, made on first use."""

    client: cloudflare.Cloudflare
    gate: RequestGate
    workers: int
    """Calls side by side at most (`MTASTS_WORKERS`): the pacer, not the pool, sets the rate."""
    zones: ZoneIndex
    dns: DnsRecords
    script: WorkerScript
    domains: CustomDomains


class CloudflareProvider(Provider):
    type_name = "cloudflare"
    capabilities = HOSTED
    Settings = CloudflareSettings
    settings: CloudflareSettings

    def __init__(self, name: str, settings: BaseModel, base_dir: Any) -> None:
        super().__init__(name, settings, base_dir)
        self._api_instance: _Api | None = None
        self._policies: PolicyMap | None = None
        self._script_exists = False
        self._read_since_fetch = False
        self._applying = False
        self._lock = threading.Lock()

    @property
    def config(self) -> CloudflareSettings:
        return self.settings

    @property
    def api(self) -> _Api:
        with self._lock:
            if self._api_instance is None:
                cfg = self.config
                knobs = Knobs.read(self.name)
                token = read_token(self.name)
                pacer = shared_pacer(pacer_key(token), "cloudflare", knobs.quota)
                gate = RequestGate(pacer, Deadline(knobs.deadline))
                client = make_client(self.name, token, gate, knobs)
                self._api_instance = _Api(
                    client,
                    gate,
                    knobs.workers,
                    ZoneIndex(client, self.name, cfg.account_id, cfg.zone_ids),
                    DnsRecords(client, self.name, cfg.read_mx),
                    WorkerScript(client, self.name, cfg.account_id, cfg.worker),
                    CustomDomains(client, self.name, cfg.account_id),
                )
            return self._api_instance

    def _live_policies(self, fresh: bool = False) -> PolicyMap:
        """The Worker's map: fetched when not yet known, or when `fresh` is asked for."""
        if self._policies is None or fresh:
            fetched = self.api.script.fetch()
            self._script_exists = fetched is not None
            self._policies = fetched or {}
            self._read_since_fetch = False
        return self._policies

    # Reading

    def managed_domains(self) -> set[str]:
        return {
            host[len(POLICY_HOST_PREFIX) :]
            for host in self._live_policies()
            if host.startswith(POLICY_HOST_PREFIX)
        }

    def endpoint_for(self, domain: str) -> Endpoint | None:
        return worker_endpoint(self.config.worker, policy_host(domain))

    def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
        api = self.api
        # A plan's managed_domains and read share one fetch of the script. A later read is
        # the core's id guard before the TXT phase (apply.guard_ids): it must see what is
        # served now, since another run may have uploaded since, so it fetches again.
        policies = self._live_policies(fresh=self._read_since_fetch)
        self._read_since_fetch = True
        zone_of = api.zones.zones_for(list(domains))
        first_domain = {zone: domain for domain, zone in reversed(zone_of.items())}
        api.domains.by_host()
        each(lambda z: api.dns.read_zone(z, first_domain[z]), sorted(first_domain), api.workers)
        live: dict[str, LiveDomain] = {}
        for domain in domains:
            zone = zone_of[domain]
            entry = policies.get(policy_host(domain))
            host = policy_host(domain)
            live[domain] = LiveDomain(
                domain=domain,
                policy_text=entry.body if entry else None,
                policy_published_at=entry.published if entry else None,
                sts_txt=api.dns.values(zone, record_name(Resource.STS_RECORD, domain)),
                tlsrpt_txt=api.dns.values(zone, record_name(Resource.TLSRPT_RECORD, domain)),
                endpoint=api.domains.endpoint(policy_host(domain)),
                mx_hosts=api.dns.mx_hosts(zone, domain),
                blocking=api.dns.blocking(zone, domain, host in api.domains.by_host()),
            )
            progress.advance()
        return live

    # Applying

    def apply(self, changes: Sequence[Change], progress: Progress) -> None:
        # A fresh deadline when the writes begin: the read's time (and a wait at the
        # approval prompt) is not charged to them. Once: apply runs phase by phase.
        if not self._applying:
            self.api.gate.deadline.restart()
            self._applying = True
        endpoints = [c for c in changes if c.resource is Resource.ENDPOINT]
        policies = [c for c in changes if c.resource is Resource.POLICY]
        records = [
            c for c in changes if c.resource in (Resource.STS_RECORD, Resource.TLSRPT_RECORD)
        ]
        attach = [c for c in endpoints if c.action is not Action.DELETE]
        if attach:
            self._ensure_script()
            self._attach(attach, progress)
        if policies:
            self._upload(policies)
            progress.advance(len(policies))
        if records:
            self._records(records, progress)
        detach = [c for c in endpoints if c.action is Action.DELETE]
        if detach:
            api = self.api
            each(lambda c: api.domains.detach(policy_host(c.domain), c.domain), detach, api.workers)
            progress.advance(len(detach))

    def _ensure_script(self) -> None:
        self._live_policies()
        if not self._script_exists:
            self.api.script.upload({})
            self._script_exists = True

    def _attach(self, changes: list[Change], progress: Progress) -> None:
        api = self.api
        zone_of = api.zones.zones_for([c.domain for c in changes])

        def one(change: Change) -> None:
            host = policy_host(change.domain)
            api.domains.attach(host, self.config.worker, zone_of[change.domain], change.domain)
            progress.advance()

        each(one, changes, api.workers)

    def _upload(self, changes: list[Change]) -> None:
        """One upload for the whole phase: the live map, with only these hosts changed."""
        current = self.api.script.fetch() or {}
        wanted = dict(current)
        stamp = now()
        for change in changes:
            host = policy_host(change.domain)
            if change.after is None:
                wanted.pop(host, None)
            elif host not in current or current[host].body != change.after:
                wanted[host] = PolicyEntry(change.after, stamp)
        if wanted != current or not self._script_exists:
            self.api.script.upload(wanted)
            self._script_exists = True
        self._policies = wanted

    def _records(self, changes: list[Change], progress: Progress) -> None:
        api = self.api
        zone_of = api.zones.zones_for(sorted({c.domain for c in changes}))
        by_zone: dict[str, list[Change]] = {}
        for change in changes:
            by_zone.setdefault(zone_of[change.domain], []).append(change)

        def one(item: tuple[str, list[Change]]) -> None:
            zone, zone_changes = item
            domains = sorted({c.domain for c in zone_changes})
            label = domains[0] if len(domains) == 1 else f"{domains[0]} (+{len(domains) - 1})"
            api.dns.apply_zone(zone, zone_changes, label)
            progress.advance(len(zone_changes))

        each(one, sorted(by_zone.items()), api.workers)

    def close(self) -> None:
        """Close the SDK client's connections (apply_plan calls this at the end of a run)."""
        with self._lock:
            if self._api_instance is not None:
                self._api_instance.client.close()
                self._api_instance = None
                self._policies = None
                self._applying = False
