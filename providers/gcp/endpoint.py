"""The HTTPS endpoint of every domain of a `gcp` provider: one shared load balancer, and per
policy host a certificate and a route.

The endpoint is one resource to the core, a structured `Endpoint` (provisioner/state.py).
`wanted()` is what a healthy endpoint reads as; `describe()` reads each part's live state,
so a plan shows `certificate PROVISIONING -> ACTIVE` (a plan line, not an error) and apply
completes it. Every step looks first, so an apply that stopped half-way is
completed by the next one, never duplicated.

Read (`read`): nine listings in all, side by side, whatever the number of domains: six
Compute collections (addresses, backend buckets, SSL policies, URL maps, HTTPS proxies,
forwarding rules; mtasts's names only) and three Certificate Manager ones (DNS
authorizations, certificates, entries of mtasts's map: a 404 there means no map).

Converge, for the phase's domains at once:
  1. addresses, backend bucket, SSL policy (Compute) and the certificate map, if missing;
  2. for all domains, one kind at a time (each names the one before; paced to Certificate
     Manager's 300 requests a minute): the DNS authorizations, the managed certificates
     using them, the map entries for the hosts; the creates of a kind go side by side and
     are awaited together by one listing a round (certmanager.py), three calls a domain;
  3. the URL map: created with every host, or ONE update adding the new hosts;
  4. the proxy and the 443 forwarding rules, if missing or wrong;
  5. ONE `write_dns` with, per domain, the authorization CNAME and A/AAAA to the addresses
     (one Cloud DNS change per zone: its 50-a-minute pace is the slowest API here, so the
     CNAME is not sent ahead on its own; issuance starts seconds later, not minutes);
  6. wait, bounded by MTASTS_GCP_CERT_TIMEOUT, until every certificate is ACTIVE.
A FAILED certificate, or an entry naming another certificate, is replaced at step 2.
Remove: the records (`write_dns_removal`), the host rules (one URL map update), then per
domain entry, certificate, authorization; the shared pieces only when no host is left and
the URL map holds no host rule of somebody else's (those are never deleted).

`describe` reads only Compute and Certificate Manager: whether the records of
`dns_records()` are live in Cloud DNS is the provider core's to compare (it holds the
rrsets). Names and ownership: `providers.gcp.loadbalancer` (shared pieces) and
`providers.gcp.certmanager` (per host); nothing without mtasts's exact name shape is read,
changed or deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from providers.gcp import urlmap
from providers.gcp.certmanager import Authorization, Certificate, CertificateManager, MapEntry
from providers.gcp.clouddns import Rrset
from providers.gcp.compute import COLLECTIONS, Compute
from providers.gcp.loadbalancer import LoadBalancer, Names
from providers.gcp.settings import GcpSettings
from provisioner.concurrency import each
from provisioner.state import Endpoint, policy_host

RECORD_TTL = 300


@dataclass
class EndpointInventory:
    """mtasts's endpoint resources as read: nothing of anyone else's."""

    compute: dict[str, dict[str, Any]] = field(default_factory=dict)
    """collection -> name -> resource (the shared load balancer pieces)."""
    authorizations: dict[str, Authorization] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    entries: dict[str, MapEntry] | None = None
    """host -> entry of mtasts's certificate map; None when the map does not exist."""


class GcpEndpoints:
    def __init__(
        self,
        provider_name: str,
        settings: GcpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider_name
        self.names = Names(settings.name_prefix)
        self.compute = Compute(provider_name, settings.project, settings.compute_endpoint, sleep)
        self.certs = CertificateManager(
            provider_name,
            settings.project,
            settings.name_prefix,
            settings.certificate_manager_endpoint,
            sleep,
        )
        self.lb = LoadBalancer(
            self.compute, self.names, settings.bucket_name, self.certs.map_reference()
        )

    def close(self) -> None:
        self.compute.close()
        self.certs.close()

    # Reading

    def wanted(self, domain: str) -> Endpoint:
        return Endpoint(
            policy_host(domain),
            "gcp-lb",
            (
                ("DNS authorization", "present"),
                ("certificate", "ACTIVE"),
                ("certificate map entry", "present"),
                ("host rule", "present"),
                ("load balancer", "complete"),
            ),
        )

    def read(self, domains: Sequence[str]) -> EndpointInventory:
        """Everything in a few listings; `domains` does not change what is read."""
        readers: list[Callable[[], Any]] = [
            *(partial(self.lb.read, collection) for collection in COLLECTIONS),
            self.certs.authorizations,
            self.certs.certificates,
            self.certs.entries,
        ]
        results = each(lambda read: read(), readers)
        compute = dict(zip(COLLECTIONS, results[: len(COLLECTIONS)], strict=True))
        authorizations, certificates, entries = results[len(COLLECTIONS) :]
        return EndpointInventory(compute, authorizations, certificates, entries)

    def describe(self, inventory: EndpointInventory, domain: str) -> Endpoint | None:
        """The live endpoint, part by part (an absent part left out); None when no piece of
        it exists. The shared load balancer is one part: "complete" or what it lacks."""
        host = policy_host(domain)
        auth = inventory.authorizations.get(host)
        cert = inventory.certificates.get(host)
        entry = (inventory.entries or {}).get(host)
        umap = inventory.compute.get("urlMaps", {}).get(self.names.url_map)
        routed = umap is not None and host in urlmap.hosts_of(umap)
        if not (auth or cert or entry or routed):
            return None
        parts: list[tuple[str, str]] = []
        if auth is not None:
            parts.append(("DNS authorization", "present"))
        if cert is not None:
            parts.append(("certificate", cert.state))
        if entry is not None:
            mapped = cert is not None and entry.certificates == (cert.name,)
            parts.append(("certificate map entry", "present" if mapped else "other certificate"))
        if umap is not None and urlmap.serves(umap, host, self.names.backend_bucket):
            parts.append(("host rule", "present"))
        elif routed:
            parts.append(("host rule", "elsewhere"))
        lacks = self.lb.needs(inventory.compute, inventory.entries is not None)
        parts.append(("load balancer", "lacks " + ", ".join(lacks) if lacks else "complete"))
        return Endpoint(host, "gcp-lb", tuple(parts))

    def addresses(self, inventory: EndpointInventory) -> tuple[str, ...]:
        return self.lb.ip_addresses(inventory.compute)

    def dns_records(self, inventory: EndpointInventory, domain: str) -> list[Rrset]:
        """A/AAAA of the host to the load balancer, and the authorization's CNAME."""
        host = policy_host(domain)
        records: list[Rrset] = []
        addresses = self.addresses(inventory)
        for rtype, ips in (
            ("A", tuple(a for a in addresses if ":" not in a)),
            ("AAAA", tuple(a for a in addresses if ":" in a)),
        ):
            if ips:
                records.append(Rrset(host + ".", rtype, RECORD_TTL, ips))
        auth = inventory.authorizations.get(host)
        if auth is not None:
            name = auth.record_name if auth.record_name.endswith(".") else auth.record_name + "."
            records.append(Rrset(name, "CNAME", RECORD_TTL, (auth.record_data,)))
        return records

    def managed_hosts(self, inventory: EndpointInventory) -> set[str]:
        """Policy hosts with any endpoint piece of mtasts's."""
        hosts = set(inventory.authorizations) | set(inventory.certificates)
        hosts |= set(inventory.entries or {})
        umap = inventory.compute.get("urlMaps", {}).get(self.names.url_map)
        if umap is not None:
            hosts |= urlmap.hosts_of(umap)
        return hosts

    # Creating

    def converge(
        self,
        inventory: EndpointInventory,
        domains: Sequence[str],
        write_dns: Callable[[list[Rrset]], None],
    ) -> None:
        if not domains:
            return
        live = inventory.compute
        for collection in COLLECTIONS:
            live.setdefault(collection, {})
        self.lb.ensure_base(live)
        if inventory.entries is None:
            self.certs.ensure_map()
            inventory.entries = {}
        self._certify(inventory, domains)
        self.lb.ensure_url_map(live, {policy_host(d) for d in domains}, set())
        self.lb.ensure_front(live)
        write_dns([record for domain in domains for record in self.dns_records(inventory, domain)])
        pending = [
            (domain, policy_host(domain))
            for domain in domains
            if inventory.certificates[policy_host(domain)].state != "ACTIVE"
        ]
        self.certs.wait_active(pending)
        for _, host in pending:
            cert = inventory.certificates[host]
            inventory.certificates[host] = Certificate(
                cert.name, host, "ACTIVE", cert.authorizations
            )

    def _certify(self, inventory: EndpointInventory, domains: Sequence[str]) -> None:
        """Each domain's authorization, certificate and map entry, each only if missing.

        One kind at a time for all domains (`CertificateManager.authorize_all`,
        `certify_all`, `map_all`: the creates side by side, then one listing a round),
        since each names the one before: three calls a new domain. A FAILED certificate is
        replaced (entry first: it is in use), since Google does not retry it
        (https://cloud.google.com/certificate-manager/docs/troubleshooting); an entry naming
        another certificate is replaced too. Those deletions are rare and awaited one by one.
        """
        hosts = [(domain, policy_host(domain)) for domain in domains]
        if inventory.entries is None:
            inventory.entries = {}
        entries = inventory.entries

        def clear_failed(item: tuple[str, str]) -> None:
            domain, host = item
            cert = inventory.certificates.get(host)
            if cert is not None and cert.state == "FAILED":
                entry = entries.get(host)
                if entry is not None:
                    self.certs.delete(domain, entry.name)
                self.certs.delete(domain, cert.name)

        each(clear_failed, hosts)
        for _, host in hosts:
            cert = inventory.certificates.get(host)
            if cert is not None and cert.state == "FAILED":
                entries.pop(host, None)
                del inventory.certificates[host]
        inventory.authorizations.update(
            self.certs.authorize_all(
                [(d, h) for d, h in hosts if h not in inventory.authorizations]
            )
        )
        inventory.certificates.update(
            self.certs.certify_all(
                [
                    (d, h, inventory.authorizations[h].name)
                    for d, h in hosts
                    if h not in inventory.certificates
                ]
            )
        )

        def wrong_entry(item: tuple[str, str]) -> bool:
            entry = entries.get(item[1])
            return entry is not None and entry.certificates != (
                inventory.certificates[item[1]].name,
            )

        wrong = [item for item in hosts if wrong_entry(item)]
        each(lambda item: self.certs.delete(item[0], entries[item[1]].name), wrong)
        for _, host in wrong:
            del entries[host]
        entries.update(
            self.certs.map_all(
                [(d, h, inventory.certificates[h].name) for d, h in hosts if h not in entries]
            )
        )

    # Removing

    def remove(
        self,
        inventory: EndpointInventory,
        domains: Sequence[str],
        write_dns_removal: Callable[[list[Rrset]], None],
    ) -> None:
        if not domains:
            return
        live = inventory.compute
        for collection in COLLECTIONS:
            live.setdefault(collection, {})
        hosts = {policy_host(d) for d in domains}
        left = self.managed_hosts(inventory) - hosts
        doomed = [record for domain in domains for record in self.dns_records(inventory, domain)]
        if doomed:
            write_dns_removal(doomed)
        umap = live["urlMaps"].get(self.names.url_map)
        shared = umap is not None and urlmap.has_foreign(umap)
        if left or shared:
            # Somebody else's host rule in the map serves through this load balancer:
            # only mtasts's hosts go, the load balancer and certificate map stay.
            self.lb.ensure_url_map(live, set(), hosts)
        else:
            self.lb.teardown(live)
        each(lambda domain: self._uncertify(inventory, domain), domains)
        if not left and not shared and inventory.entries is not None:
            self.certs.delete(None, self.certs.map_name)
            inventory.entries = None

    def _uncertify(self, inventory: EndpointInventory, domain: str) -> None:
        """Entry, certificate, authorization: each is in use by the one before."""
        host = policy_host(domain)
        entry = (inventory.entries or {}).pop(host, None)
        if entry is not None:
            self.certs.delete(domain, entry.name)
        cert = inventory.certificates.pop(host, None)
        if cert is not None:
            self.certs.delete(domain, cert.name)
        auth = inventory.authorizations.pop(host, None)
        if auth is not None:
            self.certs.delete(domain, auth.name)
