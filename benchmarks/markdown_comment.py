"""Time to render the pull-request comment of a large plan, cut to GitHub's limit; prints it.

Usage: python benchmarks/markdown_comment.py [N ...]   (default 400 3000)

The plan is the planner's own (`tests/riskplans.py`): one domain of each risky class and N
routine domains with a max_age change (2 changes each). Printed per N: render seconds
(best of 3), the comment's length, domain rows kept, and that every risky row is there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from riskplans import mixed_plan

from provisioner.output.markdown import render_markdown


def main(sizes: list[int]) -> None:
    for size in sizes:
        plan = mixed_plan(routine=size)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            text = render_markdown(plan)
            best = min(best, time.perf_counter() - start)
        rows = [line for line in text.splitlines() if line.startswith("| ") and " | `" in line]
        risky = all(f"| {kind} |" in text for kind in ("blocks-mail", "downgrade", "retire"))
        print(
            f"{size + 4:>6} domains, {len(plan.changes):>6} changes: {best:6.2f} s, "
            f"{len(text):>6} chars, {len(rows):>5} domain rows, risky rows kept: {risky}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [400, 3000])
