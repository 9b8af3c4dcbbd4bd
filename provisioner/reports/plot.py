"""`mtasts reports --plot FILE`: the failure rate per domain over time, as PNG or SVG.

matplotlib is the optional extra `plot` (`pip install 'mta-sts-provisioner[plot]'`): it is
imported only here and only when a plot is asked for, so the command and everything else
work without it; missing, it is one line naming the extra.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from provisioner.errors import MtastsError
from provisioner.reports.model import DomainSummary

FORMATS = {".png": "png", ".svg": "svg"}
MAX_LINES = 20
"""Domains drawn: the worst by failure rate; a chart with more lines is unreadable."""


def check_plot_target(target: Path) -> str:
    """The image format `target`'s suffix asks for, once matplotlib is known to be there:
    called before any report is read, so a typo does not cost a long read. Raises
    MtastsError (one line) for another suffix or a missing extra."""
    image_format = FORMATS.get(target.suffix.lower())
    if image_format is None:
        raise MtastsError(f"--plot {target}: the file name must end in .png or .svg")
    try:
        import matplotlib
    except ImportError:
        raise MtastsError(
            "--plot needs matplotlib, the optional extra 'plot': "
            "pip install 'mta-sts-provisioner[plot]'"
        ) from None
    matplotlib.use("Agg")
    return image_format


def plot_failure_rates(summaries: Mapping[str, DomainSummary], target: Path) -> int:
    """Draw each domain's daily failure rate (percent of sessions) on one chart at `target`
    (its suffix picks PNG or SVG). Returns the number of domains drawn (the `MAX_LINES`
    worst when there are more). Raises MtastsError for a bad suffix or a missing extra."""
    image_format = check_plot_target(target)
    import matplotlib
    from matplotlib import pyplot

    chosen = sorted(summaries.values(), key=lambda s: (-s.failure_rate, s.domain))[:MAX_LINES]
    # Domain names come from report senders: never read them as $math$ markup.
    with matplotlib.rc_context({"text.parse_math": False}):
        _draw(pyplot, chosen, target, image_format)
    return len(chosen)


def _draw(pyplot: Any, chosen: list[DomainSummary], target: Path, image_format: str) -> None:
    figure, axes = pyplot.subplots(figsize=(10, 5))
    try:
        for summary in sorted(chosen, key=lambda s: s.domain):
            days = cast(Any, list(summary.daily))  # matplotlib draws dates; its stubs say floats
            rates = [
                100 * failed / (ok + failed) if ok + failed else 0.0
                for ok, failed in summary.daily.values()
            ]
            axes.plot(days, rates, marker="o", label=summary.domain)
        axes.set_title("TLS-RPT failure rate per domain")
        axes.set_ylabel("failed sessions (%)")
        axes.set_xlabel("day")
        axes.set_ylim(bottom=0)
        if chosen:
            axes.legend(loc="upper left", fontsize="small")
        figure.autofmt_xdate()
        figure.tight_layout()
        _save(figure, target, image_format)
    finally:
        pyplot.close(figure)


def _save(figure: Any, target: Path, image_format: str) -> None:
    """Write beside `target`, then rename over it: an interrupted run leaves the old file
    or the new one, never half an image."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        figure.savefig(partial, format=image_format)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise MtastsError(f"--plot {target}: {exc.strerror or exc}") from None
