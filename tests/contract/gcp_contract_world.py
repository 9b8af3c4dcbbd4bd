"""The `gcp` provider's contract world: the Cloud DNS fake and the GCS emulator (behind its
front), started once per process, emptied for each world; the endpoint half stubbed as in
tests/gcp/gcp_world.py (the real one is tested on the Compute and Certificate Manager fakes
in tests/gcp, and end to end with the provider in tests/gcp/test_gcp_provider_docs.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from gcp_fake_dns import FakeCloudDns
from gcp_fake_dns_state import DEFAULT_PROJECT, fqdn
from gcp_storage import GcsEmulator
from gcp_storage_front import GcsFront
from gcp_world import StubEndpoints, StubLoadBalancer

from providers.gcp import clouddns
from providers.gcp.provider import GcpProvider
from provisioner.dnstext import zone_for

BUCKET = "mtasts-contract-policies"
_servers: dict[str, Any] = {}


def _started() -> tuple[FakeCloudDns, GcsFront]:
    """The fakes of this process, started on first use and stopped when it ends.

    gcp-storage-emulator serves from a non-daemon thread, which the interpreter would wait
    for forever at exit, and atexit handlers run only after that wait: so the stop is
    registered with `threading._register_atexit`, which runs before it (concurrent.futures
    uses it for the same reason). A session fixture in the suite's conftest would do too.
    """
    if not _servers:
        emulator = GcsEmulator().start()
        _servers.update(
            dns=FakeCloudDns().start(), emulator=emulator, gcs=GcsFront(emulator).start()
        )
        threading._register_atexit(_stop)  # type: ignore[attr-defined]
    return _servers["dns"], _servers["gcs"]


def _stop() -> None:
    for name in ("gcs", "dns", "emulator"):
        _servers.pop(name).stop()


class GcpContractWorld:
    provider_name = "g"
    capabilities = GcpProvider.capabilities
    injects_faults = True

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directory = directory
        self.monkeypatch = monkeypatch
        self.dns, self.gcs = _started()
        self.dns.reset()
        self.gcs.reset()
        self.lb = StubLoadBalancer()
        monkeypatch.setenv("MTASTS_GCP_DNS_RATE", "100000/1")
        monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
        monkeypatch.setattr(
            "providers.gcp.provider.make_endpoints",
            lambda name, settings: StubEndpoints(self.lb, name, settings),
        )

    def provider_settings(self) -> dict[str, Any]:
        return {
            "type": "gcp",
            "project": DEFAULT_PROJECT,
            "bucket": BUCKET,
            "dns_endpoint": self.dns.endpoint,
            "storage_endpoint": self.gcs.endpoint,
        }

    def _zone(self, name: str) -> str:
        zones = {z["dnsName"]: z["name"] for z in self.dns.state.list_zones(DEFAULT_PROJECT)}
        found = zone_for(name, list(zones))
        assert found is not None, f"no zone for {name}"
        return str(zones[found])

    def add_zone(self, zone: str) -> None:
        made = self.dns.state.add_zone(zone)
        self.dns.state.add_rrset(made["name"], zone, "MX", [f"10 mx.{zone}."])

    def add_record(self, name: str, rtype: str, text: str, ttl: int) -> None:
        zone = self._zone(name)
        live = self.dns.state.rrset(zone, name, rtype)
        change: dict[str, Any] = {
            "additions": [
                {
                    "name": fqdn(name),
                    "type": rtype,
                    "ttl": live["ttl"] if live else ttl,
                    "rrdatas": [*(live["rrdatas"] if live else ()), text],
                }
            ]
        }
        if live:
            change["deletions"] = [live]
        self.dns.state.create_change(DEFAULT_PROJECT, zone, change, done=True)

    def records(self, name: str, rtype: str) -> list[tuple[str, int]]:
        live = self.dns.state.rrset(self._zone(name), name, rtype)
        return sorted((str(t), int(live["ttl"])) for t in live["rrdatas"]) if live else []

    def served(self, domain: str) -> bytes | None:
        blob = (
            self.gcs.client().bucket(BUCKET).get_blob(f"mta-sts.{domain}/.well-known/mta-sts.txt")
        )
        return None if blob is None else bytes(blob.download_as_bytes())

    def fail_writes(self, status: int, count: int) -> None:
        self.dns.inject("POST", r"/changes$", status, times=count)

    def fail_txt_writes_forever(self) -> None:
        """Every Cloud DNS change touching a TXT rrset is refused (403, as a missing
        permission would be), from now on."""
        send = clouddns.CloudDns._send

        def refusing(dns: clouddns.CloudDns, edit: clouddns.ZoneEdit) -> Any:
            if any(r.type == "TXT" for r in [*edit.additions, *edit.deletions]):
                self.dns.inject("POST", r"/changes$", 403, times=1)
            return send(dns, edit)

        self.monkeypatch.setattr(clouddns.CloudDns, "_send", refusing)
