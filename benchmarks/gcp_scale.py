"""Plan and apply N domains on the gcp provider against the local fakes; prints API calls.

Usage: python benchmarks/gcp_scale.py [N] [--zones Z] [--stub-endpoint]
                                      [--dns-pending-seconds S | --dns-pending-gets G]
(default N=1000, one public managed zone per domain; a Cloud DNS change reads `pending` for
2 s after it is created, the real API's way: its status follows time, not reads. With
--dns-pending-gets G instead, every change answers its first G reads `pending`, however
long mtasts waited: the worst case for the poll count)

Everything runs in this process, on loopback: the Cloud DNS fake, gcp-storage-emulator
behind its counting front, and (unless --stub-endpoint, or when providers/gcp/endpoint.py is
missing) the Compute and Certificate Manager fakes driven by the real endpoint half. The
fakes live in tests/gcp. Client-side pacing is lifted (the fakes never throttle), so the
times are mtasts's and the fakes' own; the Cloud DNS floor at its default quota is printed.

Stages: plan on an empty project, apply from empty (the CLI's apply: a plan, then the
phases), plan with nothing to change, and a mode change for every domain (plan + apply).
For each: API calls per domain by service and method, from the fakes' request logs (every
HTTP request, retries included). Goal (issue 10): a plan reads the whole deployment in at
most 1.1 calls per domain; an apply from empty in at most 8 per domain, polls included.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "gcp")]

PROJECT = "mtasts-test"
DNS_QUOTA_PER_MINUTE = 50  # provisioner.pacing.CLOUD_DNS's default


def gcs_method(method: str, path: str, query: dict[str, str]) -> str:
    if path.startswith("/upload/"):
        return "objects.insert"
    if path.startswith("/download/") or query.get("alt") == "media":
        return "objects.get (media)"
    if re.search(r"/o$", path):
        return "objects.list"
    if "/o/" in path:
        return {"GET": "objects.get", "DELETE": "objects.delete"}.get(method, method + " object")
    if path.endswith("/iam"):
        return "buckets.getIamPolicy" if method == "GET" else "buckets.setIamPolicy"
    if re.search(r"/b$", path):
        return "buckets.insert"
    return {"GET": "buckets.get", "PATCH": "buckets.patch"}.get(method, method + " bucket")


def google_method(method: str, path: str) -> str:
    """`GET urlMaps`, `POST operations/wait`, ...: the collection and the verb of a call."""
    parts = [p for p in path.split("/") if p and p not in ("global", "locations")]
    named = [p for p in parts if p[:1].islower() and not p.startswith(("mtasts", "projects"))]
    collection = next((p for p in reversed(named) if p.endswith("s") or ":" in p), parts[-1])
    return f"{method} {collection.split(':')[-1]}"


class Counters:
    def __init__(self, world: Any) -> None:
        self.world = world

    def reset(self) -> None:
        w = self.world
        w.dns.calls.clear()
        with w.gcs.lock:
            w.gcs.calls.clear()
        for fake in w.endpoint_fakes:
            with fake.lock:
                fake.calls.clear()

    def counts(self) -> Counter[tuple[str, str]]:
        w = self.world
        found: Counter[tuple[str, str]] = Counter()
        for call in list(w.dns.calls):
            found["clouddns", call.kind] += 1
        for gcs_call in list(w.gcs.calls):
            found["storage", gcs_method(gcs_call.method, gcs_call.path, gcs_call.query)] += 1
        for service, fake in zip(("compute", "certmanager"), w.endpoint_fakes, strict=False):
            for other in list(fake.calls):
                found[service, google_method(other.method, other.path)] += 1
        return found


class UrlMapClock:
    """Calls of providers.gcp.urlmap's functions and the seconds spent in them (the URL map's
    cost to mtasts itself: a plan once summarised the whole map per host, quadratic)."""

    NAMES = ("build", "served", "serves", "hosts_of")

    def __init__(self) -> None:
        import providers.gcp.urlmap as urlmap

        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.depth = 0
        for name in self.NAMES:
            setattr(urlmap, name, self._timed(name, getattr(urlmap, name)))

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.depth += 1
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
                self.calls[name] += 1
                if self.depth == 0:  # outermost only: serves() calls build() and served()
                    self.seconds[name] += time.perf_counter() - started

        return timed

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()

    def line(self) -> str:
        total = sum(self.seconds.values())
        parts = ", ".join(f"{name} {self.calls[name]}" for name in self.NAMES if self.calls[name])
        return f"  URL map work in mtasts: {total:.2f} s ({parts or 'no calls'})"


def report(stage: str, seconds: float, calls: Counter[tuple[str, str]], count: int) -> None:
    total = sum(calls.values())
    dns = sum(n for (s, _), n in calls.items() if s == "clouddns")
    print(
        f"\n{stage}: {seconds:.1f} s, {total} API calls, {total / count:.2f} per domain "
        f"(Cloud DNS {dns}: {dns / DNS_QUOTA_PER_MINUTE:.1f} min at its default pace)"
    )
    by_service: Counter[str] = Counter()
    for (service, _), n in calls.items():
        by_service[service] += n
    for service, n in sorted(by_service.items()):
        print(f"  {service:12} {n:7}  {n / count:6.2f} per domain")
        for (s, method), m in sorted(calls.items()):
            if s == service:
                print(f"      {method:34} {m:7}  {m / count:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", nargs="?", type=int, default=1000)
    parser.add_argument("--zones", type=int, default=0, help="zones (default: one a domain)")
    parser.add_argument("--stub-endpoint", action="store_true")
    pending = parser.add_mutually_exclusive_group()
    pending.add_argument("--dns-pending-seconds", type=float, default=2.0)
    pending.add_argument("--dns-pending-gets", type=int, default=None)
    args = parser.parse_args()
    count: int = args.count
    zones = args.zones or count
    os.environ.update(
        MTASTS_GCP_DNS_RATE="1000000/1",
        MTASTS_GCP_CERTIFICATE_MANAGER_RATE="1000000/1",
    )
    os.environ.pop("STORAGE_EMULATOR_HOST", None)
    with tempfile.TemporaryDirectory() as tmp, Bench(Path(tmp), args.stub_endpoint) as world:
        world.seed(count, zones)
        if args.dns_pending_gets is not None:
            world.dns.state.pending_gets = args.dns_pending_gets
            print(f"Cloud DNS changes: the first {args.dns_pending_gets} reads answer pending")
        else:
            world.dns.state.pending_seconds = args.dns_pending_seconds
            print(f"Cloud DNS changes: pending for {args.dns_pending_seconds:g} s after creation")
        counters = Counters(world)
        clock = None if world.stub else UrlMapClock()
        spec_path = world.spec(count, "enforce")

        def stage(name: str, run: Callable[[], Any]) -> Any:
            counters.reset()
            if clock is not None:
                clock.reset()
            started = time.perf_counter()
            result = run()
            report(name, time.perf_counter() - started, counters.counts(), count)
            if clock is not None:
                print(clock.line())
            return result

        result = stage("plan, empty project", lambda: world.plan(spec_path))
        print(f"  {result.plan.summary_line()}")
        applied = stage("apply from empty (plan + phases)", lambda: world.apply(spec_path))
        print(f"  {applied} changes applied")
        again = stage("plan, nothing to change", lambda: world.plan(spec_path))
        print(f"  {again.plan.summary_line()}")
        assert not again.plan.has_changes, "the second plan must be empty"
        spec_path = world.spec(count, "testing")
        changed = stage(
            "mode change enforce -> testing (plan + apply)", lambda: world.apply(spec_path)
        )
        print(f"  {changed} changes applied")


class Bench:
    """The fakes, started in this process, and the provider driven through the library."""

    def __init__(self, directory: Path, stub: bool) -> None:
        self.directory = directory
        self.stub = stub
        self.endpoint_fakes: list[Any] = []

    def __enter__(self) -> Bench:
        from gcp_fake_dns import FakeCloudDns
        from gcp_storage import GcsEmulator
        from gcp_storage_front import GcsFront

        self.dns = FakeCloudDns().start()
        self.emulator = GcsEmulator().start()
        self.gcs = GcsFront(self.emulator).start()
        self.extra: dict[str, str] = {}
        try:
            import providers.gcp.endpoint  # noqa: F401
        except ImportError:
            self.stub = True
        if self.stub:
            from gcp_world import StubEndpoints, StubLoadBalancer

            import providers.gcp.provider as provider_module

            lb = StubLoadBalancer()
            provider_module.make_endpoints = lambda name, settings: StubEndpoints(  # type: ignore[assignment]
                lb, name, settings
            )
            print("endpoint half: stubbed (tests/gcp/gcp_world.py StubEndpoints)")
        else:
            from gcp_fake_certmanager import FakeCertificateManager
            from gcp_fake_compute import FakeCompute

            compute, certs = FakeCompute().start(), FakeCertificateManager().start()
            compute.certificate_map_exists = certs.map_exists
            for fake in (compute, certs):
                fake.operation_polls = 1
            self.endpoint_fakes = [compute, certs]
            self.extra = {
                "compute_endpoint": compute.endpoint,
                "certificate_manager_endpoint": certs.endpoint,
            }
            print("endpoint half: providers/gcp/endpoint.py on the Compute and CM fakes")
        return self

    def __exit__(self, *exc: object) -> None:
        for fake in [*self.endpoint_fakes, self.gcs, self.dns]:
            fake.stop()
        self.emulator.stop()

    def seed(self, count: int, zones: int) -> None:
        started = time.perf_counter()
        state = self.dns.state
        for z in range(zones):
            state.add_zone(f"z{z}.example.com", name=f"z{z}")
        for i in range(count):
            domain = f"d{i}.z{i % zones}.example.com"
            state.add_rrset(f"z{i % zones}", domain, "MX", [f"10 mx1.{domain}."])
        print(f"{count} domains in {zones} zones seeded in {time.perf_counter() - started:.1f} s")

    def spec(self, count: int, mode: str) -> Path:
        zones = len(self.dns.state.list_zones(PROJECT))
        settings = {
            "type": "gcp",
            "project": PROJECT,
            "bucket": "mtasts-bench-policies",
            "dns_endpoint": self.dns.endpoint,
            "storage_endpoint": self.gcs.endpoint,
            **self.extra,
        }
        lines = [
            "version: 1",
            "defaults:",
            "  provider: gcp",
            f"  mode: {mode}",
            "  max_age: 1209600",
            "  tlsrpt: {rua: ['mailto:tlsrpt@example.net']}",
            "providers:",
            f"  gcp: {settings}",
            "domains:",
        ]
        for i in range(count):
            domain = f"d{i}.z{i % zones}.example.com"
            lines.append(f"  {domain}: {{mx: [mx1.{domain}]}}")
        path = self.directory / "mtasts.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def plan(self, spec_path: Path) -> Any:
        from provisioner.refresh import compute_plan
        from provisioner.registry import build_providers
        from provisioner.spec import load_spec

        spec = load_spec(spec_path)
        providers = build_providers(spec)
        try:
            return compute_plan(spec, providers)
        finally:
            for provider in providers.values():
                provider.close()

    def apply(self, spec_path: Path) -> int:
        from provisioner.apply import apply_plan
        from provisioner.refresh import compute_plan
        from provisioner.registry import build_providers
        from provisioner.spec import load_spec

        spec = load_spec(spec_path)
        providers = build_providers(spec)
        result = compute_plan(spec, providers)
        return apply_plan(result.plan, providers)


if __name__ == "__main__":
    main()
