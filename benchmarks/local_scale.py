"""Plan and apply N domains on the local provider; prints time, memory and file operations.

Usage: python benchmarks/local_scale.py [N]   (default N=1000)

Figures printed: spec load + render time, plan time on an empty tree, apply time, plan
time with nothing to change, peak Python memory (tracemalloc), and files read and written
per domain through the provider's tree accessor (the local provider's "API calls").
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from unittest import mock

from providers.localtree import LocalTree
from provisioner.apply import apply_plan
from provisioner.refresh import compute_plan
from provisioner.registry import build_providers
from provisioner.spec import load_spec


def write_spec(directory: Path, count: int) -> Path:
    lines = [
        "version: 1",
        "defaults:",
        "  mode: enforce",
        "  max_age: 1209600",
        "  tlsrpt: {rua: ['mailto:tlsrpt@example.net']}",
        "providers:",
        "  local: {type: local, path: ./out}",
        "domains:",
    ]
    for i in range(count):
        lines.append(f"  d{i}.example.com: {{mx: [mx1.d{i}.example.com, '*.mail.example.net']}}")
    path = directory / "mtasts.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def peak_memory_of_plan(spec_path: Path) -> int:
    """Peak Python memory of load + plan, measured in a pass of its own (tracemalloc is slow)."""
    tracemalloc.start()
    spec = load_spec(spec_path)
    compute_plan(spec, build_providers(spec))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    calls: Counter[str] = Counter()
    real_read, real_write = LocalTree.read, LocalTree.write

    def counted(name: str, real):  # type: ignore[no-untyped-def]
        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return real(self, *args, **kwargs)

        return wrapper

    with tempfile.TemporaryDirectory() as tmp:
        spec_path = write_spec(Path(tmp), count)
        started = time.perf_counter()
        spec = load_spec(spec_path)
        providers = build_providers(spec)
        loaded = time.perf_counter()
        with (
            mock.patch.object(LocalTree, "read", counted("read", real_read)),
            mock.patch.object(LocalTree, "write", counted("write", real_write)),
        ):
            first = compute_plan(spec, providers)
            planned = time.perf_counter()
            reads_plan = calls["read"]
            apply_plan(first.plan, providers)
            applied = time.perf_counter()
            writes = calls["write"]
            calls.clear()
            second = compute_plan(spec, providers)
            replanned = time.perf_counter()
        assert not second.plan.has_changes, "second plan should be empty"
        peak = peak_memory_of_plan(spec_path)
        cli_started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "provisioner", "plan", "-c", str(spec_path)],
            check=True,
            capture_output=True,
        )
        cli_seconds = time.perf_counter() - cli_started
    print(f"domains:                  {count}")
    print(f"load spec + providers:    {loaded - started:.3f} s")
    print(
        f"plan (empty tree):        {planned - loaded:.3f} s  ({len(first.plan.changes)} changes)"
    )
    print(f"apply:                    {applied - planned:.3f} s")
    print(f"plan (nothing to change): {replanned - applied:.3f} s")
    print(f"mtasts plan, whole CLI:   {cli_seconds:.3f} s (new process, nothing to change)")
    print(f"peak Python memory:       {peak / 2**20:.1f} MiB (load + plan, nothing to change)")
    print(f"file reads per domain:    {reads_plan / count:.2f} (plan on empty tree)")
    print(f"file reads per domain:    {calls['read'] / count:.2f} (plan, nothing to change)")
    print(f"file writes per domain:   {writes / count:.2f} (apply)")


if __name__ == "__main__":
    main()
