"""The plan as a pull-request comment: a table per provider, under GitHub's size limit.

A comment holds at most 65,536 characters. When the whole plan does not fit, the tables
keep the first changes of each provider (the most domains that fit, found by bisection) and
a line says how many changes on how many domains were left out.
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


@dataclass(frozen=True)
class _Row:
    domain: str
    resource: str
    action: str
    detail: str


def render_markdown(plan: Plan, limit: int = GITHUB_COMMENT_LIMIT - COMMENT_HEADROOM) -> str:
    domains = sorted({(c.provider, c.domain) for c in plan.changes})
    full = _render(plan, set(domains))
    if len(full) <= limit:
        return full
    low, high = 0, len(domains)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_render(plan, set(domains[:middle]))) <= limit:
            low = middle
        else:
            high = middle - 1
    return _render(plan, set(domains[:low]))


def _render(plan: Plan, shown: set[tuple[str, str]]) -> str:
    env = template_environment()
    env.filters["cell"] = _cell
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
    )


def _row(change: Change) -> _Row:
    return _Row(change.domain, change.resource.value, change.action.value, describe(change))


def _cell(text: object) -> str:
    """Text safe inside a table cell: no pipe, no HTML, no emphasis, no line break."""
    value = str(text)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        value = value.replace(raw, safe)
    for special in "\\|*_`[]~":
        value = value.replace(special, "\\" + special)
    return " ".join(value.split())
