"""Test-side view of a Google Cloud project for the provider core's end-to-end tests.

`GcpWorld` writes specs aimed at the Cloud DNS fake and the GCS emulator (behind its
counting, fault-injecting front), looks at what mtasts deployed with its own clients, and
`serve_in(world, domain)` turns the project into what a sender sees: the Cloud DNS TXT and
MX rrsets into the harness's DNS server (strings as stored), the A record of the policy
host, and an HTTPS handler that answers as the load balancer's URL map does: exactly
`/.well-known/mta-sts.txt` of that host from the object `mta-sts.<d>/.well-known/mta-sts.txt`
with the object's own Content-Type, 404 elsewhere.

`StubEndpoints` stands in for the endpoint half (providers/gcp/endpoint.py, built and tested
separately on the Compute and Certificate Manager fakes) through the interface both halves
agreed: it keeps its "load balancer" in a `StubLoadBalancer` that outlives one CLI run, and
writes and removes its A/AAAA records through the provider's `write_dns` callbacks, so the
DNS path is the provider core's, for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from clihelpers import write_spec
from gcp_fake_dns import FakeCloudDns
from gcp_storage_front import GcsFront
from harness import MtaStsWorld, Response

from providers.gcp.clouddns import Rrset
from provisioner.state import Endpoint

PROJECT = "mtasts-test"
BUCKET = "mtasts-test-policies"
DEFAULTS: dict[str, Any] = {
    "provider": "gcp",
    "mode": "testing",
    "max_age": 86400,
    "tlsrpt": {"rua": ["mailto:tlsrpt@example.net"]},
}
LB_V4 = "203.0.113.7"
LB_V6 = "2001:db8::7"


@dataclass
class StubLoadBalancer:
    """What the stub endpoint half "deployed": hosts on the URL map, calls made."""

    hosts: set[str] = field(default_factory=set)
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    ttl: int = 300


class StubEndpoints:
    """The agreed `GcpEndpoints` interface, on a StubLoadBalancer."""

    def __init__(self, lb: StubLoadBalancer, provider: str, settings: Any) -> None:
        self.lb = lb
        self.provider = provider

    def wanted(self, domain: str) -> Endpoint:
        return Endpoint(f"mta-sts.{domain}", "load balancer", (("certificate", "ACTIVE"),))

    def read(self, domains: Sequence[str]) -> set[str]:
        self.lb.calls.append(("read", tuple(domains)))
        return set(self.lb.hosts)

    def describe(self, inventory: set[str], domain: str) -> Endpoint | None:
        return self.wanted(domain) if f"mta-sts.{domain}" in inventory else None

    def addresses(self, inventory: set[str]) -> tuple[str, ...]:
        return (LB_V4, LB_V6) if inventory else ()

    def dns_records(self, inventory: Any, domain: str) -> list[Rrset]:
        host = f"mta-sts.{domain}."
        return [
            Rrset(host, "A", self.lb.ttl, (LB_V4,)),
            Rrset(host, "AAAA", self.lb.ttl, (LB_V6,)),
        ]

    def converge(
        self,
        inventory: set[str],
        domains: Sequence[str],
        write_dns: Callable[[list[Rrset]], None],
    ) -> None:
        self.lb.calls.append(("converge", tuple(domains)))
        self.lb.hosts.update(f"mta-sts.{d}" for d in domains)
        inventory.update(f"mta-sts.{d}" for d in domains)
        write_dns([r for d in domains for r in self.dns_records(inventory, d)])

    def remove(
        self,
        inventory: set[str],
        domains: Sequence[str],
        write_dns_removal: Callable[[list[Rrset]], None],
    ) -> None:
        self.lb.calls.append(("remove", tuple(domains)))
        write_dns_removal([r for d in domains for r in self.dns_records(inventory, d)])
        self.lb.hosts.difference_update(f"mta-sts.{d}" for d in domains)

    def managed_hosts(self, inventory: set[str]) -> set[str]:
        return set(inventory)

    def close(self) -> None:
        return None


class GcpWorld:
    def __init__(self, tmp_path: Path, dns_fake: FakeCloudDns, gcs: GcsFront) -> None:
        self.tmp_path = tmp_path
        self.dns = dns_fake
        self.gcs = gcs
        self.lb = StubLoadBalancer()
        self.extra: dict[str, Any] = {}
        """More provider settings (the Compute and CM endpoints, for `gcp_full`)."""
        self.compute: Any = None
        self.certs: Any = None

    def provider_settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "type": "gcp",
            "project": PROJECT,
            "bucket": BUCKET,
            "dns_endpoint": self.dns.endpoint,
            "storage_endpoint": self.gcs.endpoint,
            **self.extra,
            **extra,
        }

    def spec(self, domains: dict[str, dict[str, Any]], **provider: Any) -> Path:
        providers = {"gcp": self.provider_settings(**provider)}
        return write_spec(self.tmp_path, domains, defaults=DEFAULTS, providers=providers)

    # Cloud DNS

    def zone(self, dns_name: str, *, mx: list[str] | None = None, **kw: Any) -> str:
        zone = self.dns.state.add_zone(dns_name, **kw)
        if mx:
            self.dns.state.add_rrset(
                zone["name"], dns_name, "MX", [f"{10 * (i + 1)} {h}." for i, h in enumerate(mx)]
            )
        self.dns.calls.clear()
        return str(zone["name"])

    def rrset(self, zone: str, name: str, rtype: str) -> dict[str, Any] | None:
        return self.dns.state.rrset(zone, name, rtype)

    def rrdatas(self, zone: str, name: str, rtype: str = "TXT") -> list[str]:
        found = self.rrset(zone, name, rtype)
        return list(found["rrdatas"]) if found else []

    def txt(self, zone: str, name: str) -> list[str]:
        return [_joined(text) for text in self.rrdatas(zone, name)]

    # GCS

    def policy(self, domain: str) -> dict[str, Any] | None:
        blob = (
            self.gcs.client().bucket(BUCKET).get_blob(f"mta-sts.{domain}/.well-known/mta-sts.txt")
        )
        if blob is None:
            return None
        # Metadata first: the emulator's download headers blank cache_control (gcp_storage.py).
        found = {
            "content_type": blob.content_type,
            "cache_control": blob.cache_control,
            "updated": blob.updated,
            "generation": blob.generation,
        }
        return {**found, "body": blob.download_as_bytes().decode()}

    # what a sender sees

    def serve_in(self, world: MtaStsWorld, zone: str, domain: str) -> None:
        """Publish the project's view of `domain` into the real-client harness."""
        for name in (f"_mta-sts.{domain}", f"_smtp._tls.{domain}"):
            texts = self.rrdatas(zone, name)
            if texts:
                world.publish_txt(name, [_strings(t) for t in texts])
        mx = self.rrdatas(zone, domain, "MX")
        if mx:
            world.publish_mx(domain, [(int(v.split()[0]), v.split()[1].rstrip(".")) for v in mx])
        host = f"mta-sts.{domain}"
        if self.rrdatas(zone, host, "A") != [LB_V4] or host not in self.lb.hosts:
            return
        world.publish_a(host)
        bucket = self.gcs.client().bucket(BUCKET)

        def load_balancer(method: str, path: str, headers: Any) -> Response:
            if path.split("?")[0] != "/.well-known/mta-sts.txt":
                return Response(404, (("Content-Type", "text/html"),), b"Not Found")
            blob = bucket.get_blob(f"{host}/.well-known/mta-sts.txt")
            if blob is None:
                return Response(404, (("Content-Type", "application/xml"),), b"NoSuchKey")
            body = blob.download_as_bytes()
            return Response(200, (("Content-Type", blob.content_type),), body)

        world.serve_handler(host, load_balancer)

    def serve_through_load_balancer(self, world: MtaStsWorld, zone: str, domain: str) -> None:
        """As `serve_in`, but the HTTPS answers come from the real endpoint half's load
        balancer on the Compute fake: the forwarding rule on 443 at the A record's address,
        its proxy (whose certificate map must hold an ACTIVE certificate for the host), the
        URL map's route to the backend bucket's object (`FakeCompute.resolve`)."""
        for name in (f"_mta-sts.{domain}", f"_smtp._tls.{domain}"):
            texts = self.rrdatas(zone, name)
            if texts:
                world.publish_txt(name, [_strings(t) for t in texts])
        mx = self.rrdatas(zone, domain, "MX")
        if mx:
            world.publish_mx(domain, [(int(v.split()[0]), v.split()[1].rstrip(".")) for v in mx])
        host = f"mta-sts.{domain}"
        [address] = self.rrdatas(zone, host, "A")
        _, proxy, _ = self.compute.frontend(443, address)
        assert self.certs.serving_certificate(proxy["certificateMap"], host) is not None
        world.publish_a(host)
        client = self.gcs.client()
        compute = self.compute

        def load_balancer(method: str, path: str, headers: Any) -> Response:
            route = compute.resolve(host, path, project=PROJECT, ip=address)
            if route.backend_bucket is None or route.object_key is None:
                return Response(404, (("Content-Type", "text/html"),), b"Not Found")
            blob = client.bucket(route.bucket).get_blob(route.object_key)
            if blob is None:
                return Response(404, (("Content-Type", "application/xml"),), b"NoSuchKey")
            content_type = blob.content_type
            return Response(200, (("Content-Type", content_type),), blob.download_as_bytes())

        world.serve_handler(host, load_balancer)


def _rdata(text: str) -> Any:
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)


def _strings(text: str) -> list[str]:
    return [s.decode() for s in _rdata(text).strings]


def _joined(text: str) -> str:
    return "".join(_strings(text))


@pytest.fixture
def gcp(
    tmp_path: Path,
    gcp_dns_fake: FakeCloudDns,
    gcp_storage_front: GcsFront,
    monkeypatch: pytest.MonkeyPatch,
) -> GcpWorld:
    """An empty project on the fakes, the stub endpoint half, pacing out of the way."""
    monkeypatch.setenv("MTASTS_GCP_DNS_RATE", "100000/1")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("MTASTS_READ_TIMEOUT", raising=False)
    world = GcpWorld(tmp_path, gcp_dns_fake, gcp_storage_front)
    monkeypatch.setattr(
        "providers.gcp.provider.make_endpoints",
        lambda name, settings: StubEndpoints(world.lb, name, settings),
    )
    return world


@pytest.fixture(scope="session")
def gcp_endpoint_servers() -> Iterator[tuple[Any, Any]]:
    """The Compute and Certificate Manager fakes, wired (a proxy may only name a map that
    exists), for tests that run the real endpoint half (providers/gcp/endpoint.py)."""
    from gcp_fake_certmanager import FakeCertificateManager
    from gcp_fake_compute import FakeCompute

    compute, certs = FakeCompute(), FakeCertificateManager()
    compute.start()
    certs.start()
    compute.certificate_map_exists = certs.map_exists
    try:
        yield compute, certs
    finally:
        compute.stop()
        certs.stop()


@pytest.fixture
def gcp_full(
    tmp_path: Path,
    gcp_dns_fake: FakeCloudDns,
    gcp_storage_front: GcsFront,
    gcp_endpoint_servers: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> GcpWorld:
    """An empty project on all four fakes, with the real endpoint half (skipped without it)."""
    pytest.importorskip("providers.gcp.endpoint")
    compute, certs = gcp_endpoint_servers
    for fake in (compute, certs):
        fake.reset()
        fake.operation_polls = 1
    certs.provisioning_polls = 2
    certs.provisioning_seconds = 0.0
    monkeypatch.setenv("MTASTS_GCP_DNS_RATE", "100000/1")
    monkeypatch.setenv("MTASTS_GCP_CERTIFICATE_MANAGER_RATE", "100000/1")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    world = GcpWorld(tmp_path, gcp_dns_fake, gcp_storage_front)
    world.compute, world.certs = compute, certs
    world.extra = {
        "compute_endpoint": compute.endpoint,
        "certificate_manager_endpoint": certs.endpoint,
    }
    return world
