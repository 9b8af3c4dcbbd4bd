"""The `gcp` provider: Cloud DNS records, GCS policy objects, one shared HTTPS load balancer.

The thin translation the core's contract asks for (`provisioner.provider`): `read` builds
one bulk `GcpInventory` (inventory.py) and turns it into LiveDomains; `apply` receives one
phase and hands it to the module that owns that kind of resource:

  phase 0 endpoint create/update -> the endpoint half (endpoint.py: load balancer, URL map
                                    host rules, Certificate Manager), which writes its DNS
                                    (A/AAAA to the load balancer, the DNS-authorization
                                    CNAME) through `write_dns`: one change per zone, sent
                                    (awaited later, see below)
  phase 1 policy create/update   -> one object per domain (storage.py); no CDN cache to
                                    purge (Cloud CDN is off on the backend bucket)
  phase 2 TXT records            -> ONE Cloud DNS change per zone (clouddns.py): whole
                                    rrsets from `Change.rrset_after`, foreign rrdatas kept
                                    as their zone-file text, TTL kept, waited until done
  phase 3 policy delete          -> the policy objects
  phase 4 endpoint delete        -> the endpoint half's `remove` (the shared load balancer
                                    stays until no domain is left), DNS through
                                    `write_dns_removal`

Ownership: objects `mta-sts.<d>/.well-known/mta-sts.txt` (these ARE the managed domains),
the rrsets the endpoint half names, and at `_mta-sts.<d>` / `_smtp._tls.<d>` only the
`v=STSv1` / `v=TLSRPTv1` rrdatas; every other rrdata and rrset is left exactly as read.

Awaiting Cloud DNS changes. The endpoint's change of a zone is sent in phase 0 and not
polled there: what phase 0 waits for is the certificate ACTIVE, which is Google's own proof
that it resolved the CNAME. The zone's TXT change in phase 2 is polled until done, and since
the API applies a zone's changes in sequence (clouddns.py), that also settles the earlier
one; a zone with no later change has its phase 0 change awaited after the TXT phase, or at
`close` when the run had no TXT phase. One poll a zone per apply instead of two.

Reads: the first `read` after `managed_domains` reuses its bucket listing (one listing per
plan); any later read lists the policies again, so the core's id guard before the TXT phase
sees what another run may have published since. During an apply that guard read takes the
records and the endpoint from this run's snapshot (kept current by its own writes): one
object listing, not a second full read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from providers.gcp.clients import storage_endpoint
from providers.gcp.clouddns import (
    TXT_TTL,
    CloudDns,
    Rrset,
    SentChange,
    Zone,
    ZoneEdit,
    absolute,
    label_for,
)
from providers.gcp.inventory import EndpointReader, GcpInventory, read_inventory
from providers.gcp.settings import GcpSettings
from providers.gcp.storage import PolicyBucket
from providers.gcp.transient import start_run
from provisioner.concurrency import each
from provisioner.dnstext import txt_text, txt_value
from provisioner.errors import ProviderError
from provisioner.plan import Change
from provisioner.provider import HOSTED, Progress, Provider
from provisioner.rfc8460 import is_tlsrpt_record
from provisioner.rfc8461 import is_sts_record
from provisioner.state import Endpoint, LiveDomain, Resource, record_name

ENDPOINT_MODULE = "providers.gcp.endpoint"


def make_endpoints(provider: str, settings: GcpSettings) -> EndpointReader:
    """The endpoint half (`GcpEndpoints` in providers/gcp/endpoint.py), found at run time."""
    try:
        module = importlib.import_module(ENDPOINT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != ENDPOINT_MODULE:
            raise
        raise ProviderError(
            f"{provider}: this mtasts has no Google Cloud endpoint support "
            f"({ENDPOINT_MODULE} is missing)"
        ) from None
    endpoints: EndpointReader = module.GcpEndpoints(provider, settings)
    return endpoints


class GcpProvider(Provider):
    type_name = "gcp"
    capabilities = HOSTED
    Settings = GcpSettings
    settings: GcpSettings

    def __init__(self, name: str, settings: BaseModel, base_dir: Path) -> None:
        super().__init__(name, settings, base_dir)
        start_run()  # MTASTS_DEADLINE bounds every retry of this run's calls
        self.dns = CloudDns(name, self.settings.dns_project_id, self.settings.dns_endpoint)
        self.bucket = PolicyBucket(
            name,
            self.settings.project,
            self.settings.bucket_name,
            storage_endpoint(self.settings.storage_endpoint),
        )
        self._endpoints: EndpointReader | None = None
        self._inventory: GcpInventory | None = None
        self._inventory_domains: frozenset[str] = frozenset()
        self._reads = 0
        self._applying = False
        self._unsettled: list[SentChange] = []
        """Changes sent (phase 0) and not yet known done; see "Awaiting" above."""
        self._failed = False

    @property
    def endpoints(self) -> EndpointReader:
        if self._endpoints is None:
            self._endpoints = make_endpoints(self.name, self.settings)
        return self._endpoints

    # the contract: reading

    def endpoint_for(self, domain: str) -> Endpoint | None:
        return self.endpoints.wanted(domain)

    def managed_domains(self) -> set[str]:
        return set(self.bucket.listing())

    def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
        return self.read_expecting(domains, progress, {})

    def read_expecting(
        self, domains: Sequence[str], progress: Progress, expected: Mapping[str, str]
    ) -> dict[str, LiveDomain]:
        inventory = self._read(domains, expected)
        endpoints = self.endpoints
        live: dict[str, LiveDomain] = {}
        for domain in domains:
            body = inventory.bodies.get(domain)
            ours = endpoints.dns_records(inventory.endpoint, domain)
            live[domain] = LiveDomain(
                domain=domain,
                policy_text=body[0] if body else None,
                policy_published_at=body[1] if body else None,
                sts_txt=inventory.txt_values(record_name(Resource.STS_RECORD, domain)),
                tlsrpt_txt=inventory.txt_values(record_name(Resource.TLSRPT_RECORD, domain)),
                endpoint=endpoints.describe(inventory.endpoint, domain),
                mx_hosts=inventory.mx_hosts(domain),
                blocking=inventory.blocking(domain, ours),
            )
            progress.advance()
        return live

    def _read(
        self, domains: Sequence[str], expected: Mapping[str, str] | None = None
    ) -> GcpInventory:
        if self._reads:
            self.bucket.forget()
        self._reads += 1
        wanted = sorted(set(domains))
        inventory = self._inventory
        if self._applying and inventory is not None and set(wanted) <= self._inventory_domains:
            # The core's id guard, between two phases of this apply: the policies are listed
            # again (another run may have published since), while the records and the
            # endpoint come from this run's snapshot, which its own writes keep current (as
            # the Cloudflare provider does): one object listing instead of a full read.
            fresh = self.bucket.bodies(wanted, expected)
            for domain in wanted:
                if domain in fresh:
                    inventory.bodies[domain] = fresh[domain]
                else:
                    inventory.bodies.pop(domain, None)
            return inventory
        self._inventory = read_inventory(
            self.dns, self.settings.zone_names, self.bucket, self.endpoints, wanted, expected
        )
        self._inventory_domains = frozenset(wanted)
        return self._inventory

    def _fresh_inventory(self, domains: Sequence[str]) -> GcpInventory:
        """The snapshot apply works from: this run's read when it covers these domains."""
        if self._inventory is None or not set(domains) <= self._inventory_domains:
            return self._read(sorted(set(domains) | self._inventory_domains))
        return self._inventory

    # the contract: applying

    def apply(self, changes: Sequence[Change], progress: Progress) -> None:
        if not changes:
            return
        phases = {c.phase for c in changes}
        if len(phases) != 1:
            raise ProviderError(f"{self.name}: apply got changes of phases {sorted(phases)}")
        phase = phases.pop()
        handlers: dict[int, Callable[[GcpInventory, Sequence[Change], list[str]], None]] = {
            0: self._converge_endpoints,
            1: self._write_policies,
            2: self._write_txt,
            3: self._delete_policies,
            4: self._remove_endpoints,
        }
        domains = sorted({c.domain for c in changes})
        inventory = self._fresh_inventory(domains)
        self._applying = True
        try:
            handlers[phase](inventory, changes, domains)
        except BaseException:
            self._failed = True
            self._inventory = None  # a half-done phase: the next read starts afresh
            self.bucket.forget()
            raise
        progress.advance(len(changes))

    # the phases, in the order of the module docstring

    def _converge_endpoints(
        self, inventory: GcpInventory, changes: Sequence[Change], domains: list[str]
    ) -> None:
        self.endpoints.converge(
            inventory.endpoint, domains, lambda r: self._write_dns(inventory, r)
        )

    def _write_policies(
        self, inventory: GcpInventory, changes: Sequence[Change], domains: list[str]
    ) -> None:
        self.bucket.ensure_bucket()
        each(lambda c: self.bucket.write(c.domain, c.after or ""), changes)
        self.bucket.forget()

    def _delete_policies(
        self, inventory: GcpInventory, changes: Sequence[Change], domains: list[str]
    ) -> None:
        each(self.bucket.delete, domains)
        self.bucket.forget()

    def _remove_endpoints(
        self, inventory: GcpInventory, changes: Sequence[Change], domains: list[str]
    ) -> None:
        self.endpoints.remove(inventory.endpoint, domains, lambda r: self._remove_dns(inventory, r))

    def _zone_of(self, inventory: GcpInventory, name: str) -> tuple[Zone, str]:
        """The zone of an rrset name, and the domain it belongs to (for error lines)."""
        bare = name.rstrip(".").lower()
        labels = bare.split(".")
        for start in range(len(labels)):  # the longest domain of the run the name is under
            domain = ".".join(labels[start:])
            zone = inventory.zones.get(domain)
            if zone is not None:
                return zone, domain
        return self.dns.zone_for(bare, {}), bare

    def _edits(
        self, inventory: GcpInventory, pairs: Sequence[tuple[Rrset | None, Rrset | None, str]]
    ) -> list[ZoneEdit]:
        """(live, wanted, name) triples as one ZoneEdit per zone."""
        edits: dict[str, tuple[ZoneEdit, list[str]]] = {}
        for live, wanted, name in pairs:
            zone, domain = self._zone_of(inventory, name)
            entry = edits.setdefault(zone.name, (ZoneEdit(zone, ""), []))
            entry[1].append(domain)
            entry[0].replace(live, wanted)
        for edit, owners in edits.values():
            edit.label = label_for(owners)
        return [edit for edit, _ in edits.values()]

    def _commit(self, inventory: GcpInventory, edits: list[ZoneEdit], *, wait: bool = True) -> None:
        """Send one change per zone and note it in the snapshot; with `wait`, await it
        together with the earlier unsettled changes it does not settle (other zones)."""
        sent = self.dns.send(edits)
        if wait:
            zones = {change.edit.zone.name for change in sent}
            earlier = [c for c in self._unsettled if c.edit.zone.name not in zones]
            self.dns.wait([*sent, *earlier])
            self._unsettled = []
        else:
            self._unsettled.extend(sent)
        for edit in edits:
            for rrset in edit.deletions:
                inventory.drop(rrset)
            for rrset in edit.additions:
                inventory.put(rrset)

    def _write_dns(self, inventory: GcpInventory, rrsets: list[Rrset]) -> None:
        """The endpoint half's records exist exactly as given after this (one change a zone)."""
        pairs = [(inventory.rrset(r.name, r.type), _absolute(r), r.name) for r in rrsets]
        self._commit(inventory, self._edits(inventory, pairs), wait=False)

    def _remove_dns(self, inventory: GcpInventory, rrsets: list[Rrset]) -> None:
        """Delete the endpoint half's records where they still hold only what it wrote."""
        pairs: list[tuple[Rrset | None, Rrset | None, str]] = []
        for rrset in rrsets:
            live = inventory.rrset(rrset.name, rrset.type)
            if live is not None and not live.routed and set(live.rrdatas) <= set(rrset.rrdatas):
                pairs.append((live, None, rrset.name))
        self._commit(inventory, self._edits(inventory, pairs))

    def _write_txt(
        self, inventory: GcpInventory, changes: Sequence[Change], domains: list[str]
    ) -> None:
        pairs: list[tuple[Rrset | None, Rrset | None, str]] = []
        for change in changes:
            name = absolute(record_name(change.resource, change.domain))
            live = inventory.rrset(name, "TXT")
            pairs.append((live, _txt_rrset(self.name, change, name, live), name))
        self._commit(inventory, self._edits(inventory, pairs))

    def close(self) -> None:
        """Await what a run that ended after phase 0 left pending, then let go of the clients."""
        unsettled, self._unsettled = self._unsettled, []
        failed, self._failed = self._failed, False
        try:
            if unsettled and not failed:
                self.dns.wait(unsettled)
        finally:
            if self._endpoints is not None:
                self._endpoints.close()
                self._endpoints = None
            self._inventory = None
            self._reads = 0
            self._applying = False
            self.bucket.forget()


def _absolute(rrset: Rrset) -> Rrset:
    return Rrset(absolute(rrset.name), rrset.type, rrset.ttl, tuple(rrset.rrdatas))


def _txt_rrset(provider: str, change: Change, name: str, live: Rrset | None) -> Rrset | None:
    """The TXT rrset `change` wants at `name`: its `rrset_after` values, in order.

    A value already live keeps its stored zone-file text byte for byte (`"a" "b"` is not
    `"ab"` to a reader of character-strings); ours are rendered by `dnstext.txt_text`. A
    foreign value that appeared since the plan was made is kept too (never ours to drop),
    and the live TTL is kept.
    """
    owned: Callable[[str], bool] = (
        is_sts_record if change.resource is Resource.STS_RECORD else is_tlsrpt_record
    )
    stored = {_joined(text): text for text in (live.rrdatas if live else ())}
    values = list(change.rrset_after)
    values += [v for v in stored if not owned(v) and v not in values]
    if change.resource is Resource.STS_RECORD and sum(map(is_sts_record, values)) > 1:
        raise ProviderError(
            f"{provider}: {change.domain}: refusing to publish more than one STS record "
            "(senders would ignore them all)"
        )
    if not values:
        return None
    rrdatas = tuple(dict.fromkeys(stored.get(v) or txt_text(v) for v in values))
    return Rrset(name, "TXT", live.ttl if live else TXT_TTL, rrdatas)


def _joined(text: str) -> str:
    try:
        return txt_value(text)
    except ValueError:
        return text
