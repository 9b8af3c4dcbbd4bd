"""`mtasts reports`: the TLS-RPT summary as text, Markdown and JSON.

Domains with failures come first (highest failure rate first), then the clean ones, by name.
Organisation names, MX names, result types and file paths come from report senders, so the
text lines are built with `text.styled` and Markdown escapes every value: neither obeys an
escape sequence or markup in them. JSON keeps the exact values (`format_version` 1; fields
are only ever added).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console

from provisioner.output.markdown import escape_markdown
from provisioner.output.text import styled
from provisioner.reports import DomainSummary, ReportSet

FORMAT_VERSION = 1
TOP = 5
"""Failure types, MX hosts and reporters shown per domain in text and Markdown (JSON has all)."""


def ordered(summaries: Mapping[str, DomainSummary]) -> list[DomainSummary]:
    """Failing domains first, worst rate first; then clean ones by name."""
    return sorted(
        summaries.values(),
        key=lambda s: (s.failed_sessions == 0, -s.failure_rate, s.domain),
    )


def print_summary(
    report_set: ReportSet, summaries: Mapping[str, DomainSummary], console: Console
) -> None:
    for summary in ordered(summaries):
        failing = summary.failed_sessions > 0
        console.print(
            styled(
                (summary.domain, "bold"),
                ": ",
                (_rate_line(summary), "red" if failing else "green"),
                f", {_days(summary)}",
            )
        )
        for mode, (ok, failed) in summary.sessions_by_mode.items():
            console.print(
                styled(
                    f"  {'mode':<10} ",
                    mode,
                    f": {_count(len(summary.modes[mode]), 'day')}, {ok:,} ok, {failed:,} failed",
                )
            )
        for label, counts in (
            ("failures", summary.failure_types),
            ("by MX", summary.failures_by_mx),
            ("reporters", summary.reporters),
        ):
            if counts:
                console.print(styled(f"  {label:<10} ", _top(counts)))
        if failing:
            console.print(styled(f"  {'worst days':<10} ", _worst_days(summary)))
        if summary.failure_detail_sessions != summary.failed_sessions:
            console.print(styled(f"  {'note':<10} ", (_mismatch(summary), "yellow")))
    for item in report_set.unreadable:
        console.print(styled(("unreadable", "yellow"), ": ", item.path, ": ", item.error))
    if summaries or report_set.unreadable:
        console.print()
    console.print(styled(_totals(report_set, summaries)))


def summary_markdown(report_set: ReportSet, summaries: Mapping[str, DomainSummary]) -> str:
    failing = sum(1 for s in summaries.values() if s.failed_sessions)
    lines = [
        f"### mtasts reports: {failing} of {_count(len(summaries), 'domain')} with failures",
        "",
        escape_markdown(_totals(report_set, summaries)),
        "",
    ]
    if summaries:
        lines += [
            "| Domain | Sessions | Failed | Rate | Days | Modes | Failures | By MX | Reporters |",
            "|---|--:|--:|--:|--:|---|---|---|---|",
        ]
        for s in ordered(summaries):
            cells = [
                escape_markdown(s.domain),
                f"{s.sessions:,}",
                f"**{s.failed_sessions:,}**" if s.failed_sessions else "0",
                _percent(s.failure_rate),
                f"{len(s.days)} ({s.days[0]} to {s.days[-1]})" if s.days else "0",
                escape_markdown(", ".join(f"{m} {len(days)}d" for m, days in s.modes.items())),
                escape_markdown(_top(s.failure_types) + _mismatch_note(s)),
                escape_markdown(_top(s.failures_by_mx)),
                escape_markdown(_top(s.reporters)),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if report_set.unreadable:
        lines += [f"**Unreadable ({len(report_set.unreadable)}):**", ""]
        lines += [
            f"- {escape_markdown(item.path)}: {escape_markdown(item.error)}"
            for item in report_set.unreadable
        ]
        lines.append("")
    return "\n".join(lines)


def summary_json(report_set: ReportSet, summaries: Mapping[str, DomainSummary]) -> str:
    """The summary as JSON: `format_version`, `reports` (after de-duplication),
    `duplicates`, `unreadable` [{path, error}], and `domains` {domain: {...}} with session
    counts, `failure_rate` (0..1), `failure_types`, `failures_by_mx`, `reporters`
    ({name: sessions}), `days` (ISO dates), `modes` ({mode: [ISO dates]}),
    `sessions_by_mode` ({mode: {successful_sessions, failed_sessions}}) and `daily`
    ({ISO date: {successful_sessions, failed_sessions}}). ASCII with `\\u` escapes, so a
    file name that is not UTF-8 (a lone surrogate in Python) cannot break the output."""
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "reports": report_set.reports,
        "duplicates": report_set.duplicates,
        "unreadable": [{"path": u.path, "error": u.error} for u in report_set.unreadable],
        "domains": {s.domain: _domain_json(s) for s in ordered(summaries)},
    }
    return json.dumps(data, indent=2) + "\n"


def _domain_json(s: DomainSummary) -> dict[str, Any]:
    return {
        "successful_sessions": s.successful_sessions,
        "failed_sessions": s.failed_sessions,
        "failure_rate": s.failure_rate,
        "failure_detail_sessions": s.failure_detail_sessions,
        "failure_types": s.failure_types,
        "failures_by_mx": s.failures_by_mx,
        "reporters": s.reporters,
        "days": [d.isoformat() for d in s.days],
        "modes": {m: [d.isoformat() for d in days] for m, days in s.modes.items()},
        "sessions_by_mode": {
            m: {"successful_sessions": ok, "failed_sessions": failed}
            for m, (ok, failed) in s.sessions_by_mode.items()
        },
        "daily": {
            d.isoformat(): {"successful_sessions": ok, "failed_sessions": failed}
            for d, (ok, failed) in s.daily.items()
        },
    }


def _rate_line(s: DomainSummary) -> str:
    sessions = _count(s.sessions, "session")
    return f"{s.failed_sessions:,} of {sessions} failed ({_percent(s.failure_rate)})"


def _days(s: DomainSummary) -> str:
    if not s.days:
        return "no days"
    span = f"{s.days[0]}" if len(s.days) == 1 else f"{s.days[0]} to {s.days[-1]}"
    return f"{_count(len(s.days), 'day')} ({span})"


def _worst_days(s: DomainSummary) -> str:
    """The days with failures, highest rate first: when it went wrong, at a glance."""
    failing = [
        (failed / (ok + failed), day, failed, ok + failed)
        for day, (ok, failed) in s.daily.items()
        if failed
    ]
    failing.sort(key=lambda row: (-row[0], row[1]))
    shown = [f"{day} {failed:,}/{total:,}" for _, day, failed, total in failing[:TOP]]
    if len(failing) > TOP:
        shown.append(f"and {len(failing) - TOP} more")
    return ", ".join(shown)


def _percent(rate: float) -> str:
    return f"{rate * 100:.2f} %"


def _top(counts: Mapping[str, int]) -> str:
    shown = [f"{name} {number:,}" for name, number in list(counts.items())[:TOP]]
    if len(counts) > TOP:
        shown.append(f"and {len(counts) - TOP} more")
    return ", ".join(shown)


def _mismatch(s: DomainSummary) -> str:
    return (
        f"failure details add up to {s.failure_detail_sessions:,} of "
        f"{s.failed_sessions:,} failed sessions (as reported)"
    )


def _mismatch_note(s: DomainSummary) -> str:
    if s.failure_detail_sessions == s.failed_sessions:
        return ""
    return f" ({_mismatch(s)})"


def _totals(report_set: ReportSet, summaries: Mapping[str, DomainSummary]) -> str:
    parts = [
        _count(report_set.reports, "report"),
        f"{_count(report_set.duplicates, 'duplicate')} skipped",
        _count(len(summaries), "domain"),
    ]
    if report_set.unreadable:
        parts.append(f"{len(report_set.unreadable):,} unreadable")
    return ", ".join(parts) + "."


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
