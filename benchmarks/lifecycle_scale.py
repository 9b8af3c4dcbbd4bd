"""The spec edit behind `mtasts promote`/`--demote` and `mtasts import` at scale; prints figures.

Usage: python benchmarks/lifecycle_scale.py [N] [K]   (default N=5000 domains, K=500 edited)

A spec of N domains (block mappings, comments every tenth one) is written to a temporary
directory; then `mtasts promote --demote` of K of them (all in enforce), timed end to end in
process (load, edit, verify, atomic write), beside `load_spec` alone (the floor: the edit
parses the spec three times: to load it, to locate the nodes, to verify the result).
Printed: seconds, peak Python memory (tracemalloc), and the lines that changed (exactly one
removed and one added per demoted domain: every other byte is kept).
"""

from __future__ import annotations

import difflib
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from provisioner.lifecycle.promote import demote
from provisioner.spec import load_spec


def spec_text(n: int) -> str:
    lines = [
        "version: 1",
        "defaults: {provider: local, tlsrpt: {rua: ['mailto:tlsrpt@example.net']}}",
        "providers: {local: {type: local, path: ./out}}",
        "domains:",
    ]
    for i in range(n):
        if i % 10 == 0:
            lines.append(f"  # group {i // 10}")
        lines += [
            f"  d{i}.example:",
            f"    mx: [mx1.d{i}.example, '*.mx.d{i}.example']",
            "    mode: enforce",
            "    max_age: 1209600   # two weeks",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "mtasts.yaml"
        before = spec_text(n)
        spec.write_text(before)
        names = [f"d{i}.example" for i in range(0, n, max(1, n // k))][:k]
        started = time.perf_counter()
        load_spec(spec)
        floor = time.perf_counter() - started
        started = time.perf_counter()
        result = demote(spec, names, dry_run=True)
        seconds = time.perf_counter() - started
        tracemalloc.start()  # its own pass: tracing slows allocation-heavy code severalfold
        demote(spec, names)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        after = spec.read_text()
        changed = [
            line
            for line in difflib.ndiff(before.splitlines(), after.splitlines())
            if line[:1] in "+-"
        ]
        print(f"spec: {n:,} domains, {len(before):,} bytes; demoted {len(names):,} at once")
        print(f"load_spec alone (the floor: validate costs this): {floor:.2f} s")
        print(
            f"demote: {seconds:.2f} s ({seconds / floor:.1f}x the floor); peak Python memory "
            f"{peak / 2**20:.1f} MiB"
        )
        print(
            f"lines changed: {len(changed):,} (expected {2 * len(names):,}: one - and one + "
            f"per domain); ok={result.ok}"
        )


if __name__ == "__main__":
    main()
