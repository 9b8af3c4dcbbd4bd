"""Stub: the reader is being written; returns an empty set that lists every path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from provisioner.reports.model import ReportSet, Unreadable


def read_reports(paths: Sequence[Path]) -> ReportSet:
    return ReportSet(
        reports=0,
        duplicates=0,
        unreadable=tuple(Unreadable(str(p), "reader not written yet") for p in paths),
    )
