"""The plan as a pull-request comment: risk first, one row per domain, under GitHub's limit.

What a reviewer reads, top to bottom: an optional header line (`--markdown-header`, e.g.
the commit the plan was made from, so a stale comment shows it is stale); the Terraform
counts and the risk line ("2 domains to enforce, 1 retiring (step 1 of 2), 12 routine;
0 blocking mail"); a `> [!CAUTION]` alert for domains whose enforce would block mail (and
an unsafe plan), a `> [!WARNING]` alert for downgrades and retirements, each naming the
domains and why; then one row per domain with its MTA-STS story, risky domains first; then
the record-level changes, collapsed in a `<details>` per provider.

Names. An IDN domain is shown as its U-label with the A-label (what DNS holds) beside it.
Every hyphen of a shown name is U+2011 NON-BREAKING HYPHEN: browsers break lines after an
ASCII hyphen, so `mta-sts-staging.example` would wrap in a narrow table column and read as
two names. GitHub's sanitiser strips `style` attributes and `<nobr>` is not on its
allowlist, so a character is the only fix that survives; it looks like a hyphen. The cost:
a name copied from a row holds U+2011; the record-level details keep ASCII names, and the
JSON plan (the workflow's artifact) holds every exact value.

The budget. A comment holds at most 65,536 characters (`GITHUB_COMMENT_LIMIT`, less
`COMMENT_HEADROOM` for the workflow's marker; `limit` is a parameter). When the whole plan
does not fit, routine domains are cut first (the most that fit, found by bisection), then
the record-level details of what is left; a risky row (any class but `routine`) is kept.
Only when the risky rows alone are past the limit (a mass retirement of 400 domains is
100,000 characters) are they shortened (stories and alert lines cut, warnings and notes
only counted), then cut, most severe kept first: GitHub refuses a longer comment whole,
and a review with no comment is worse than one with a count. The comment then says how
many domains (per risk class) and changes were left out and where to see them all (the
plan artifact, `mtasts show PLANFILE`). Warnings and
notes are lists of their own, cut at `MAX_LISTED` with a count of the rest.

Every value in the comment comes from outside the template (provider and domain names from
the spec, TXT values from live state, reasons, warnings), and GitHub acts on what it reads:
a backtick closes a code span, `<!--` hides the rest of the comment, `@name` notifies a user,
`$...$` becomes math, a `|` splits a table cell. So the Markdown environment escapes every
`{{ ... }}` through one function, `escape_markdown` (jinja2's `finalize` hook), headings
included; the templates hold the only Markdown syntax. A filter that produces Markdown on
purpose (`code`) returns `MarkdownText`, which `finalize` passes through.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from functools import cache, lru_cache

import idna
import jinja2

from provisioner.output.text import describe, unsafe_message
from provisioner.plan import Change, DomainPlan, Plan
from provisioner.redact import redact
from provisioner.risk import Risk
from provisioner.sanitize import printable
from provisioner.templating import template_environment

GITHUB_COMMENT_LIMIT = 65_536
COMMENT_HEADROOM = 512
"""Room left for what a workflow adds around the plan (a marker to find the comment again)."""
MAX_LISTED = 50
"""Warnings, notes, or domains of one class in an alert, listed in a comment; the rest are
counted (risky domains are all still in the table)."""
COMPACT_LISTED = 5
"""Domains per alert when risky rows alone are past the limit (warnings and notes: none)."""
COMPACT_TEXT = 60
"""Characters kept of a risky row's story in that compact comment (the row's domain, class
and provider are whole; 400 retiring domains then fit one comment)."""
COMPACT_ALERT = 200
"""Characters kept of an alert line in that compact comment (the blocked MX hosts fit)."""
MAX_HEADER = 200
"""Characters kept of `--markdown-header` (a commit and a title fit)."""
NON_BREAKING_HYPHEN = "\u2011"
WHERE_TO_SEE_ALL = (
    "the saved plan (the workflow's plan artifact), shown in full with "
    "`mtasts show PLANFILE`, or `mtasts plan`"
)


@dataclass(frozen=True)
class _Row:
    domain: str
    resource: str
    action: str
    detail: str


@dataclass(frozen=True)
class _DomainRow:
    name: str
    a_label: str
    provider: str
    risk: str
    story: str


@dataclass(frozen=True)
class _Alert:
    title: str
    lines: list[str]
    more: int


def render_markdown(
    plan: Plan, limit: int = GITHUB_COMMENT_LIMIT - COMMENT_HEADROOM, header: str = ""
) -> str:
    """The comment for `plan`, at most `limit` characters (unless its counts and alerts alone
    are longer: `limit` below about 1,000). `header` is one line shown first (escaped, at
    most `MAX_HEADER` characters of it)."""
    parts = _Parts.of(plan, header)
    kept = [d for d in plan.domains if d.risk.risky]
    optional = _cut_order([d for d in plan.domains if not d.risk.risky])
    full = parts.render(kept + optional, details=True)
    if len(full) <= limit:
        return full
    for details in (False, None):
        text, fits = _most_that_fit(parts, kept, optional, details, limit)
        if fits:
            return text
    # The risky rows alone, with their alerts, are past the limit, and GitHub refuses such
    # a comment whole (no review at all). Shorten what repeats the plan, then cut risky
    # rows too (the least severe last listed first): still counted, and where to see them.
    compact = parts.compact(COMPACT_LISTED)
    text, fits = _most_that_fit(compact, kept, optional, None, limit)
    if fits:
        return text
    risky = sorted(kept, key=lambda d: (d.risk.rank, d.provider, d.domain))
    text, fits = _most_that_fit(compact, [], risky, None, limit)
    if fits:
        return text
    return _most_that_fit(parts.compact(0), [], risky, None, limit)[0]


def _most_that_fit(
    parts: _Parts,
    kept: list[DomainPlan],
    optional: list[DomainPlan],
    details: bool | None,
    limit: int,
) -> tuple[str, bool]:
    """The comment with `kept` and the longest head of `optional` within `limit` (found by
    bisection), and whether it fits at all."""
    low, high = 0, len(optional)
    while low < high:
        middle = (low + high + 1) // 2
        if len(parts.render(kept + optional[:middle], details)) <= limit:
            low = middle
        else:
            high = middle - 1
    text = parts.render(kept + optional[:low], details)
    return text, len(text) <= limit


def _cut_order(domains: list[DomainPlan]) -> list[DomainPlan]:
    """Domains that may be cut, the first to keep first: `enforce` before `routine`, and
    within a class the providers in turn, so a cut leaves every provider some rows."""
    by_class: dict[tuple[int, str], list[DomainPlan]] = {}
    for d in sorted(domains, key=lambda d: (d.risk.rank, d.provider, d.domain)):
        by_class.setdefault((d.risk.rank, d.provider), []).append(d)
    order: list[tuple[int, int, str, DomainPlan]] = []
    for (rank, provider), group in by_class.items():
        order.extend((rank, turn, provider, d) for turn, d in enumerate(group))
    return [d for *_, d in sorted(order, key=lambda item: item[:3])]


@dataclass(frozen=True)
class _Parts:
    """What every bisection step shares, computed once per comment (rows, alerts, lists):
    `redact` and the policy parsing behind `describe` cost more than the template."""

    plan: Plan
    values: dict[str, object]
    rows: dict[tuple[str, str], _DomainRow]
    changes: dict[tuple[str, str], list[_Row]]
    change_count: dict[tuple[str, str], int]

    @classmethod
    def of(cls, plan: Plan, header: str) -> _Parts:
        changes: dict[tuple[str, str], list[_Row]] = {}
        for change in sorted(plan.changes, key=lambda c: (c.provider, c.domain, c.phase)):
            changes.setdefault((change.provider, change.domain), []).append(_row(change))
        values: dict[str, object] = {
            "plan": plan,
            "header": _short(redact(header), MAX_HEADER),
            "counts": plan.summary_line().removeprefix("Plan: ").rstrip("."),
            "risk_line": plan.risk_line(),
            "cautions": _alerts(plan, (Risk.BLOCKS_MAIL,)),
            "alert_warnings": _alerts(plan, (Risk.DOWNGRADE, Risk.RETIRE)),
            "unsafe": redact(unsafe_message(plan)) if plan.unsafe else "",
            "where_to_see_all": MarkdownText(WHERE_TO_SEE_ALL),
            "notes": [redact(note) for note in plan.notes[:MAX_LISTED]],
            "more_notes": max(0, len(plan.notes) - MAX_LISTED),
            "warnings": [redact(warning) for warning in plan.warnings[:MAX_LISTED]],
            "more_warnings": max(0, len(plan.warnings) - MAX_LISTED),
        }
        return cls(
            plan,
            values,
            {(d.provider, d.domain): _domain_row(d) for d in plan.domains},
            changes,
            {key: len(rows) for key, rows in changes.items()},
        )

    def compact(self, listed: int) -> _Parts:
        """The same comment for when risky rows alone are past the limit: each row's story
        cut to `COMPACT_TEXT`, alert lines to `COMPACT_ALERT`, alerts to `listed` domains
        (the rest counted), warnings and notes only counted (the plan artifact holds all)."""
        values = {
            **self.values,
            "cautions": _compact_alerts(self.values["cautions"], listed),
            "alert_warnings": _compact_alerts(self.values["alert_warnings"], listed),
            "notes": [],
            "more_notes": len(self.plan.notes),
            "warnings": [],
            "more_warnings": len(self.plan.warnings),
        }
        rows = {
            key: replace(row, story=_short(row.story, COMPACT_TEXT))
            for key, row in self.rows.items()
        }
        return _Parts(self.plan, values, rows, self.changes, self.change_count)

    def render(self, chosen: list[DomainPlan], details: bool | None) -> str:
        """`chosen` as rows; record-level details for all of them (True), for the risky
        ones only (False: routine details go before routine rows), or for none (None)."""
        shown = sorted(chosen, key=lambda d: (d.risk.rank, d.provider, d.domain))
        names = {(d.provider, d.domain) for d in shown}
        detailed = (
            names
            if details
            else {(d.provider, d.domain) for d in shown if d.risk.risky}
            if details is False
            else set()
        )
        tables: list[tuple[str, list[_Row]]] = []
        if detailed:
            for key in sorted(detailed & set(self.changes)):
                if not tables or tables[-1][0] != key[0]:
                    tables.append((key[0], []))
                tables[-1][1].extend(self.changes[key])
        hidden = [d for d in self.plan.domains if (d.provider, d.domain) not in names]
        hidden_keys = (set(self.changes) - names) | {(d.provider, d.domain) for d in hidden}
        by_risk = {risk: sum(1 for d in hidden if d.risk is risk) for risk in Risk}
        return (
            markdown_environment()
            .get_template("plan.md.j2")
            .render(
                **self.values,
                rows=[self.rows[(d.provider, d.domain)] for d in shown],
                tables=tables,
                details_cut=sum(1 for key in names - detailed if key in self.changes),
                hidden_changes=sum(self.change_count.get(key, 0) for key in hidden_keys),
                hidden_domains=len(hidden_keys),
                hidden_by_risk=", ".join(f"{n} {risk}" for risk, n in by_risk.items() if n),
                risky_cut=any(d.risk.risky for d in hidden),
            )
        )


_ALERT_TITLES = {
    Risk.BLOCKS_MAIL: "Blocks mail: apply refuses this without --allow-risk blocks-mail",
    Risk.DOWNGRADE: "Downgrades: senders stop refusing mail over unchecked TLS",
    Risk.RETIRE: "Retiring (RFC 8461 section 8.3 removal)",
}


def _alerts(plan: Plan, risks: tuple[Risk, ...]) -> list[_Alert]:
    alerts = []
    for risk in risks:
        domains = plan.risk_domains(risk)
        if domains:
            lines = [f"{display_name(d.domain)}: {_why(d)}" for d in domains[:MAX_LISTED]]
            alerts.append(_Alert(_ALERT_TITLES[risk], lines, max(0, len(domains) - MAX_LISTED)))
    return alerts


def _compact_alerts(alerts: object, listed: int) -> list[_Alert]:
    if not isinstance(alerts, list):
        return []
    return [
        _Alert(
            alert.title,
            [_short(line, COMPACT_ALERT) for line in alert.lines[:listed]],
            alert.more + max(0, len(alert.lines) - listed),
        )
        for alert in alerts
    ]


def _short(text: str, most: int) -> str:
    """`text` cut to `most` characters, an ellipsis marking the cut."""
    return text if len(text) <= most else text[: most - 1] + "…"


def _why(domain: DomainPlan) -> str:
    if domain.risk is Risk.BLOCKS_MAIL:
        hosts = ", ".join(domain.blocked_mx)
        return (
            f"enforce would refuse mail to live MX {hosts}: no mx pattern covers it"
            f" ({redact(domain.summary)})"
        )
    return redact(domain.summary)


def _domain_row(domain: DomainPlan) -> _DomainRow:
    shown = display_name(domain.domain)
    a_label = domain.domain if shown.replace(NON_BREAKING_HYPHEN, "-") != domain.domain else ""
    return _DomainRow(
        shown,
        a_label.replace("-", NON_BREAKING_HYPHEN),
        domain.provider,
        domain.risk.value,
        redact(domain.summary),
    )


def display_name(domain: str) -> str:
    """`domain` for people: its U-label when it is an IDN (A-labels that do not decode are
    shown as they are), every hyphen a non-breaking one."""
    name = domain
    if "xn--" in domain.lower():
        try:
            name = idna.decode(domain)
        except (idna.IDNAError, UnicodeError, ValueError):
            name = domain
    return name.replace("-", NON_BREAKING_HYPHEN)


def count(number: int, noun: str) -> str:
    """ "1 change", "2 changes": English plurals for the comment's counts."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


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
    env.filters["count"] = count
    env.filters["html"] = html_text
    return env


def _finalize(value: object) -> str:
    if isinstance(value, MarkdownText):
        return value
    return _escape_text(value) if isinstance(value, str) else escape_markdown(value)


@lru_cache(maxsize=1 << 16)
def _escape_text(text: str) -> str:
    """`escape_markdown` remembered: a cut comment renders each cell once per bisection step."""
    return escape_markdown(text)


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


_HTML_SPECIAL = re.compile(r"""[&<>"'@#$]|:(?=[A-Za-z0-9_+-]+:)""")


def html_text(value: object) -> MarkdownText:
    """`value` as text inside an HTML block (a `<summary>`), where GitHub reads no Markdown
    but still links `@mentions`, `#123` and `:emoji:`: HTML-escaped, whitespace collapsed,
    and those patterns broken as `escape_markdown` breaks them (one pass)."""
    text = " ".join(printable(value).split())
    return MarkdownText(
        _HTML_SPECIAL.sub(lambda m: _REPLACEMENTS.get(m[0]) or html.escape(m[0], quote=True), text)
    )


_CELL_PIPE = re.compile(r"(\\*)\|")


def code_span(value: object) -> MarkdownText:
    """`value` as a code span in a table cell: fenced by more backticks than it holds in a
    row, padded when it starts or ends with a backtick, so nothing in it can close the
    span; each `|` backslash-escaped (after an even run of backslashes), since GitHub splits
    table cells at a pipe before it reads code spans (GFM spec, tables extension)."""
    text = " ".join(printable(value).split())
    if not text:
        return MarkdownText("")
    text = _CELL_PIPE.sub(lambda m: m[1] + "\\" * (len(m[1]) % 2 == 0) + "|", text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " "):
        text = f" {text} "
    return MarkdownText(f"{fence}{text}{fence}")
