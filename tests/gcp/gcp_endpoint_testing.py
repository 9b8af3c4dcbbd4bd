"""Shared pieces of the endpoint tests: the Compute and Certificate Manager fakes wired to each
other (a proxy may only name a map that exists), settings aimed at them, a recording DNS
writer, and call counting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from gcp_fake_certmanager import FakeCertificateManager
from gcp_fake_compute import FakeCompute

from providers.gcp.clouddns import Rrset
from providers.gcp.endpoint import GcpEndpoints
from providers.gcp.settings import GcpSettings

PROJECT = "mtasts-test"
PARENT = f"projects/{PROJECT}/locations/global"
POLICY_PATH = "/.well-known/mta-sts.txt"


@dataclass
class Dns:
    """A recording `write_dns` / `write_dns_removal`."""

    written: list[list[Rrset]] = field(default_factory=list)
    removed: list[list[Rrset]] = field(default_factory=list)

    def write(self, records: list[Rrset]) -> None:
        self.written.append(list(records))

    def remove(self, records: list[Rrset]) -> None:
        self.removed.append(list(records))


@dataclass
class Fakes:
    compute: FakeCompute
    certs: FakeCertificateManager

    def reset(self) -> None:
        for fake in (self.compute, self.certs):
            fake.reset()
        self.compute.operation_polls = 1
        self.compute.wait_advance = None
        self.compute.url_map_max_bytes = 1_000_000
        self.certs.operation_polls = 1
        self.certs.provisioning_polls = 2
        self.certs.provisioning_seconds = 0.0
        self.certs.public_cname = None
        self.certs.quotas.clear()

    def calls(self) -> int:
        return len(self.compute.calls) + len(self.certs.calls)

    def writes(self) -> int:
        return sum(1 for c in self.compute.calls + self.certs.calls if c.method != "GET")

    def forget_calls(self) -> None:
        for fake in (self.compute, self.certs):
            with fake.lock:
                fake.calls.clear()

    def settings(self, prefix: str = "mtasts") -> GcpSettings:
        return GcpSettings(
            project=PROJECT,
            name_prefix=prefix,
            compute_endpoint=self.compute.endpoint,
            certificate_manager_endpoint=self.certs.endpoint,
        )

    def endpoints(self, prefix: str = "mtasts") -> GcpEndpoints:
        return GcpEndpoints("g", self.settings(prefix), sleep=lambda _: None)


def started() -> Iterator[Fakes]:
    """Body of a module-scoped `servers` fixture: both fakes started, wired, stopped after."""
    compute, certs = FakeCompute(), FakeCertificateManager()
    compute.start()
    certs.start()
    compute.certificate_map_exists = certs.map_exists
    try:
        yield Fakes(compute, certs)
    finally:
        compute.stop()
        certs.stop()


def fresh(servers: Fakes, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    """Body of a `fakes` fixture: the fakes, empty; Certificate Manager's client-side pace
    lifted (these tests make more than its 300 requests a minute in all)."""
    monkeypatch.setenv("MTASTS_GCP_CERTIFICATE_MANAGER_RATE", "100000/1")
    servers.reset()
    yield servers
    servers.reset()


def opened(fakes: Fakes) -> Iterator[GcpEndpoints]:
    """Body of an `endpoints` fixture: GcpEndpoints on the fakes, closed after."""
    ep = fakes.endpoints()
    try:
        yield ep
    finally:
        ep.close()


def converge(ep: GcpEndpoints, domains: list[str], dns: Dns | None = None) -> Dns:
    dns = dns or Dns()
    inventory = ep.read(domains)
    ep.converge(inventory, domains, dns.write)
    return dns


def proxy_map(fakes: Fakes) -> str:
    proxy = fakes.compute.get("targetHttpsProxies", "mtasts-lb-https", project=PROJECT)
    assert proxy is not None
    return str(proxy["certificateMap"])
