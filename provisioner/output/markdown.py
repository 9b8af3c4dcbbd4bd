"""The plan as a pull-request comment: a table per provider, under GitHub's size limit.

A comment holds at most 65,536 characters. When the whole plan does not fit, every provider
keeps a table with its first domains (the largest count per provider that fits, found by
bisection), and a line says how many changes on how many domains were left out. Warnings
and notes are lists of their own, cut at `MAX_LISTED` with a count of the rest, so a spec
where every domain warns still leaves room for the tables.

Every value in the comment comes from outside the template (provider and domain names from
the spec, TXT values from live state, reasons, warnings), and GitHub acts on what it reads:
a backtick closes a code span, `<!--` hides the rest of the comment, `@name` notifies a user,
`$...$` becomes math, a `|` splits a table cell. So the Markdown environment escapes every
`{{ ... }}` through one function, `escape_markdown` (jinja2's `finalize` hook), headings
included; the templates hold the only Markdown syntax. A filter that produces Markdown on
purpose (`code`) returns `MarkdownText`, which `finalize` passes through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import groupby

import jinja2

from provisioner.output.text import describe, unsafe_message
from provisioner.plan import Change, Plan
from provisioner.redact import redact
from provisioner.sanitize import printable
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
    env = markdown_environment()
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
        unsafe=redact(unsafe_message(plan)) if plan.unsafe else "",
        hidden_changes=len(hidden),
        hidden_domains=len({(c.provider, c.domain) for c in hidden}),
        notes=[redact(note) for note in plan.notes[:MAX_LISTED]],
        more_notes=max(0, len(plan.notes) - MAX_LISTED),
        warnings=[redact(warning) for warning in plan.warnings[:MAX_LISTED]],
        more_warnings=max(0, len(plan.warnings) - MAX_LISTED),
    )


def _row(change: Change) -> _Row:
    return _Row(change.domain, change.resource.value, change.action.value, describe(change))


class MarkdownText(str):
    """Text that already is Markdown (made by a filter of this module): not escaped again."""


@cache
def markdown_environment() -> jinja2.Environment:
    """The template environment for Markdown: every `{{ value }}` goes through
    `escape_markdown` unless it is `MarkdownText`. One per process: the templates compile
    once, not once per bisection step of a large plan."""
    env = template_environment().overlay(finalize=_finalize)
    env.filters["code"] = code_span
    return env


def _finalize(value: object) -> str:
    return value if isinstance(value, MarkdownText) else escape_markdown(value)


_REPLACEMENTS = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "~": "\\~",
    "|": "\\|",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "$": "&#36;",
    "@": "@&#8203;",
    "#": "#&#8203;",
    ":": ":&#8203;",
}
"""Backslash escapes where they suffice; entities where not: GitHub finds `$` math
delimiters in the source, so `&#36;` is not one; it finds `@mentions`, `#123` references
and `:emoji:` codes in the rendered text, where an entity is the character again, so a
zero-width space (Renovate's and Dependabot's fix) breaks the pattern; `&lt;` keeps `<!--`
and HTML tags inert."""
_SPECIAL = re.compile(
    r"[\\`*\[\]~|&<>$@#]"
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"
    r"|:(?=[A-Za-z0-9_+-]+:)"
)
"""One pass over the text, so no escape is escaped again. An underscore between two
letters or digits cannot open or close emphasis (`max_age`, `sts_record` stay as they
are); a colon is only broken where it would open an emoji code."""
_LINE_START = re.compile(r"^(?:([-+=])|(\d{1,9})([.)]))")
"""What would start a list item or a setext underline where a value begins a line."""


def escape_markdown(value: object) -> str:
    """`value` as literal text anywhere inline in GitHub Markdown (a table cell, a list
    item, a heading, a blockquote): control characters made visible, whitespace collapsed
    to single spaces, and every character GitHub would act on escaped."""
    text = " ".join(printable(value).split())
    text = _SPECIAL.sub(lambda m: _REPLACEMENTS[m[0]], text)
    return _LINE_START.sub(lambda m: "\\" + m[1] if m[1] else m[2] + "\\" + m[3], text)


def code_span(value: object) -> MarkdownText:
    """`value` as a code span: fenced by more backticks than it holds in a row, padded when
    it starts or ends with a backtick, so nothing in it can close the span."""
    text = " ".join(printable(value).split())
    if not text:
        return MarkdownText("")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " "):
        text = f" {text} "
    return MarkdownText(f"{fence}{text}{fence}")
