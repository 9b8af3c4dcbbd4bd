"""Plan and apply N domains on the Cloudflare provider against the local fake API.

Usage: python benchmarks/cloudflare_scale.py [N] [--no-mx]   (default N=1000)

Each domain is a zone of its own (the expensive case: per-zone calls do not share).
Printed per run (plan from empty, apply, idempotent re-plan, the plan and the apply of a
mode change for every domain): wall time against the fake with client-side pacing out of the way
(`MTASTS_CLOUDFLARE_RATE_LIMIT=1000000/1`: the knob has no "off", and a rate this large
never waits), API calls in all, per domain and by endpoint, and the floor the real rate
limit puts under it (calls at 1,200 requests per 5 minutes; the pacer's default of 1,100 is
a little slower).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # tests/fakehttp.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "cloudflare"))

from cf_fake_api import FakeCloudflareApi
from cf_fake_state import ACCOUNT_ID, TOKEN

from provisioner.apply import apply_plan
from provisioner.refresh import compute_plan
from provisioner.registry import build_providers
from provisioner.spec import load_spec

CLOUDFLARE_RATE = 1200 / 300.0


def write_spec(directory: Path, count: int, mode: str, read_mx: bool) -> Path:
    lines = [
        "version: 1",
        "defaults:",
        "  provider: cf",
        f"  mode: {mode}",
        "  max_age: 1209600",
        "  tlsrpt: {rua: ['mailto:tlsrpt@example.net']}",
        "providers:",
        f"  cf: {{type: cloudflare, account_id: '{ACCOUNT_ID}', read_mx: {str(read_mx).lower()}}}",
        "domains:",
    ]
    lines += [f"  d{i}.example.com: {{mx: [mx.d{i}.example.com]}}" for i in range(count)]
    path = directory / "mtasts.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def kind(method: str, path: str) -> str:
    path = re.sub(r"/[0-9a-f]{32}", "/{id}", path)
    return f"{method} {path}"


def run(api: FakeCloudflareApi, label: str, spec: Path, count: int, *, apply: bool) -> int:
    api.calls.clear()
    started = time.perf_counter()
    spec_data = load_spec(spec)
    providers = build_providers(spec_data)
    result = compute_plan(spec_data, providers)
    changes = len(result.plan.changes)
    if apply and changes:
        apply_plan(result.plan, providers)
    elapsed = time.perf_counter() - started
    calls = len(api.calls)
    floor = calls / CLOUDFLARE_RATE
    print(
        f"{label:<24} {elapsed:7.2f} s  {changes:6d} changes  {calls:6d} calls "
        f"({calls / count:5.2f}/domain)  rate-limit floor {floor / 60:6.1f} min"
    )
    by_kind = Counter(kind(c.method, c.path) for c in api.calls)
    for name, number in by_kind.most_common():
        print(f"    {number:6d}  {name}")
    return changes


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 1000
    read_mx = "--no-mx" not in sys.argv
    api = FakeCloudflareApi().start()
    os.environ.update(
        CLOUDFLARE_API_TOKEN=TOKEN,
        CLOUDFLARE_BASE_URL=api.base_url,
        MTASTS_CLOUDFLARE_RATE_LIMIT="1000000/1",
    )
    for i in range(count):
        zone = api.state.add_zone(f"d{i}.example.com")
        api.state.add_record(zone, "MX", f"d{i}.example.com", f"mx.d{i}.example.com", priority=10)
    print(f"Cloudflare provider, N={count} domains, one zone each, read_mx={read_mx}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        spec = write_spec(directory, count, "testing", read_mx)
        run(api, "plan (empty)", spec, count, apply=False)
        run(api, "apply (from empty)", spec, count, apply=True)
        left = run(api, "plan (idempotent)", spec, count, apply=False)
        spec = write_spec(directory, count, "enforce", read_mx)
        run(api, "plan (mode change)", spec, count, apply=False)
        run(api, "apply (mode change)", spec, count, apply=True)
        script = api.state.script_text() or ""
        print(
            f"idempotent re-plan changes: {left}; Worker script size: {len(script) / 1024:.0f} KiB"
        )
    api.stop()


if __name__ == "__main__":
    main()
