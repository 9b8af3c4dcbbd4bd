"""The plan as a pull-request comment: a table per provider, under GitHub's size limit.

A comment holds at most 65,536 characters. When the whole plan does not fit, every provider
keeps a table with its first domains (the largest count per provider that fits, found by
bisection), and a line says how many changes on how many domains were left out. Warnings
and notes are lists of their own, cut at `MAX_LISTED` with a count of the rest, so a spec
where every domain warns still leaves room for the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from provisioner.output.text import describe, unsafe_message
from provisioner.plan import Change, Plan
from provisioner.templating import template_environment

GITHUB_COMMENT_LIMIT = 65_536
COMMENT_HEADROOM = 512
"""Room left for what a workflow adds around the plan (a marker to find the comment again)."""
MAX_LISTED = 50
"""Warnings or notes listed in a comment; the rest are counted."""


@dataclass(frozen=True)
class _Row:
    domain: str
    resource: str
    action: str
    detail: str


def render_markdown(plan: Plan, limit: int = GITHUB_COMMENT_LIMIT - COMMENT_HEADROOM) -> str:
    per_provider: dict[str, list[str]] = {}
    for provider, domain in sorted({(c.provider, c.domain) for c in plan.changes}):
        per_provider.setdefault(provider, []).append(domain)
    most = max((len(domains) for domains in per_provider.values()), default=0)
    full = _render(plan, per_provider, most)
    if len(full) <= limit:
        return full
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if len(_render(plan, per_provider, middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return _render(plan, per_provider, low)


def _render(plan: Plan, per_provider: dict[str, list[str]], per_table: int) -> str:
    env = template_environment()
    env.filters["cell"] = escape_cell
    shown = {(p, d) for p, domains in per_provider.items() for d in domains[:per_table]}
    visible = [c for c in plan.changes if (c.provider, c.domain) in shown]
    ordered = sorted(visible, key=lambda c: (c.provider, c.domain, c.phase))
    tables = [
        (provider, [_row(c) for c in group])
        for provider, group in groupby(ordered, key=lambda c: c.provider)
    ]
    hidden = [c for c in plan.changes if (c.provider, c.domain) not in shown]
    return env.get_template("plan.md.j2").render(
        plan=plan,
        tables=tables,
        unsafe=unsafe_message(plan) if plan.unsafe else "",
        hidden_changes=len(hidden),
        hidden_domains=len({(c.provider, c.domain) for c in hidden}),
        notes=plan.notes[:MAX_LISTED],
        more_notes=max(0, len(plan.notes) - MAX_LISTED),
        warnings=plan.warnings[:MAX_LISTED],
        more_warnings=max(0, len(plan.warnings) - MAX_LISTED),
    )


def _row(change: Change) -> _Row:
    return _Row(change.domain, change.resource.value, change.action.value, describe(change))


def escape_cell(text: object) -> str:
    """Text safe inside a table cell: no pipe, no HTML, no emphasis, no line break."""
    value = str(text)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        value = value.replace(raw, safe)
    for special in "\\|*_`[]~":
        value = value.replace(special, "\\" + special)
    return " ".join(value.split())
