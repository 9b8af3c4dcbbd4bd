"""`mtasts check` reports: a verdict per domain with the failing checks first."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from provisioner.checks.verdict import DomainReport, Status
from provisioner.output.markdown import escape_cell
from provisioner.templating import template_environment

FORMAT_VERSION = 1
_MARKS = {
    Status.FAIL: ("FAIL", "red"),
    Status.WARN: ("warn", "yellow"),
    Status.PASS: ("ok", "green"),
}


def print_reports(reports: list[DomainReport], console: Console) -> None:
    for report in reports:
        verdict = "[green]PASS[/]" if report.ok else "[bold red]FAIL[/]"
        console.print(f"[bold]{escape(report.domain)}[/]: {verdict}")
        for finding in report.ordered():
            word, colour = _MARKS[finding.status]
            console.print(f"  [{colour}]{word:<4}[/] {finding.check:<18} {escape(finding.message)}")
    failed = sum(1 for r in reports if not r.ok)
    console.print(f"\n{len(reports) - failed} of {len(reports)} domains pass.")


def reports_json(reports: list[DomainReport]) -> str:
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "ok": all(r.ok for r in reports),
        "domains": [
            {
                "domain": r.domain,
                "ok": r.ok,
                "sts_id": r.sts_id,
                "policy": None
                if r.policy is None
                else {
                    "mode": r.policy.mode.value,
                    "max_age": r.policy.max_age,
                    "mx": list(r.policy.mx),
                },
                "mx_hosts": list(r.mx_hosts),
                "fetch_seconds": r.fetch_seconds,
                "findings": [
                    {"check": f.check, "status": f.status.value, "message": f.message}
                    for f in r.ordered()
                ],
            }
            for r in reports
        ],
    }
    return json.dumps(data, indent=2) + "\n"


def reports_markdown(reports: list[DomainReport]) -> str:
    env = template_environment()
    env.filters["cell"] = escape_cell
    return env.get_template("check.md.j2").render(reports=reports, marks=_MARKS)
