"""`mtasts check` reports: a verdict per domain with the failing checks first.

The findings quote the party being checked (its TXT values, status line, `Location` and
`Content-Type`, SMTP replies), so the text report builds its lines with `text.styled` and the
Markdown one escapes every value through the Markdown environment: neither prints a
hostile server's escape sequences, newlines or markup. JSON keeps the exact values.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from provisioner.checks.verdict import DomainReport, Status
from provisioner.output.markdown import markdown_environment
from provisioner.output.text import styled

FORMAT_VERSION = 1
_MARKS = {
    Status.FAIL: ("FAIL", "red"),
    Status.WARN: ("warn", "yellow"),
    Status.PASS: ("ok", "green"),
}


def print_reports(reports: list[DomainReport], console: Console) -> None:
    for report in reports:
        verdict = ("PASS", "green") if report.ok else ("FAIL", "bold red")
        console.print(styled((report.domain, "bold"), ": ", verdict))
        for finding in report.ordered():
            word, colour = _MARKS[finding.status]
            console.print(
                styled("  ", (f"{word:<4}", colour), f" {finding.check:<18} ", finding.message)
            )
    failed = sum(1 for r in reports if not r.ok)
    console.print()
    console.print(styled(f"{len(reports) - failed} of {len(reports)} domains pass."))


def reports_json(reports: list[DomainReport]) -> str:
    """The reports as JSON (`format_version` 1; fields are only ever added).

    `mx_hosts` are the names in the MX records; `delivery_hosts` those senders connect to
    (the domain itself when it has no MX record, none for a null MX).
    """
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
                "delivery_hosts": list(r.delivery_hosts),
                "null_mx": r.route is not None and r.route.null_mx,
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
    return markdown_environment().get_template("check.md.j2").render(reports=reports, marks=_MARKS)
