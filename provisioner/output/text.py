"""The plan as a terminal shows it: per domain, one line per change, then the risk block
(domains that block mail, downgrade or retire, and why) and the summary lines: Terraform's
counts and the risk line. `print_summary` prints that tail alone, so `apply` can show it
again right above its prompt, not hundreds of lines up.

Colour comes from rich and disappears by itself when stdout is not a terminal (or when
NO_COLOR is set), so CI logs stay plain.

Every line is a `rich.text.Text` built by `styled`, never a markup string: values come from
outside (live TXT values, names found in a provider's tree, provider messages), and rich
would otherwise obey `[link=...]` or `[/]` in them and turn `:warning:` into an emoji.
`styled` also passes each piece through `sanitize.printable`, so an escape sequence in a
TXT value cannot clear the screen or forge a line; messages also go through `redact`.
"""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.text import Text

from provisioner.plan import Action, Change, Plan
from provisioner.redact import redact
from provisioner.rfc8461 import GrammarError, parse_policy
from provisioner.risk import Risk
from provisioner.sanitize import printable
from provisioner.state import Resource

SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
}


def styled(*pieces: str | tuple[str, str]) -> Text:
    """One line of terminal output: each piece shown literally and printably, optionally
    with a rich style (`("FAIL", "bold red")`). The only way renderers build lines."""
    text = Text()
    for piece in pieces:
        value, style = (piece, "") if isinstance(piece, str) else piece
        text.append(printable(value), style=style)
    return text


def print_plan(plan: Plan, console: Console) -> None:
    if not plan.has_changes:
        console.print(styled("No changes. The live state matches the spec."))
    stories = {(d.provider, d.domain): d.summary for d in plan.domains}
    risks = {(d.provider, d.domain): d.risk for d in plan.domains}
    ordered = sorted(plan.changes, key=lambda c: (c.provider, c.domain, c.phase))
    for (provider, domain), group in groupby(ordered, key=lambda c: (c.provider, c.domain)):
        story = stories.get((provider, domain), "")
        risk = risks.get((provider, domain), Risk.ROUTINE)
        console.print(
            styled(
                (domain, "bold"),
                " ",
                (f"({provider})", "dim"),
                " ",
                (f"[{risk}]", RISK_STYLES[risk]),
                ": ",
                story,
            )
        )
        for change in group:
            symbol, colour = SYMBOLS[change.action]
            console.print(
                styled(
                    "  ",
                    (f"{symbol} {change.resource.value:<13}", colour),
                    " ",
                    describe(change),
                )
            )
    for note in plan.notes:
        console.print(styled(("note:", "cyan"), " ", redact(note)))
    for warning in plan.warnings:
        console.print(styled(("warning:", "yellow"), " ", redact(warning)))
    if plan.has_changes:
        console.print()
    print_summary(plan, console)


RISK_STYLES = {
    Risk.BLOCKS_MAIL: "bold red",
    Risk.DOWNGRADE: "yellow",
    Risk.RETIRE: "yellow",
    Risk.ENFORCE: "green",
    Risk.ROUTINE: "dim",
}
MAX_RISK_LINES = 20
"""Domains listed per risk class in the block; the rest are counted."""


def print_summary(plan: Plan, console: Console) -> None:
    """The risk block and the two summary lines: what a reviewer must see last."""
    for risk, label in (
        (Risk.BLOCKS_MAIL, "blocks mail:"),
        (Risk.DOWNGRADE, "downgrade:"),
        (Risk.RETIRE, "retiring:"),
    ):
        domains = plan.risk_domains(risk)
        for d in domains[:MAX_RISK_LINES]:
            why = (
                f"enforce would refuse mail to live MX {', '.join(d.blocked_mx)} "
                f"(no mx pattern covers it); {d.summary}"
                if d.blocked_mx
                else d.summary
            )
            console.print(styled((label, RISK_STYLES[risk]), " ", d.domain, ": ", redact(why)))
        if len(domains) > MAX_RISK_LINES:
            more = len(domains) - MAX_RISK_LINES
            console.print(styled((label, RISK_STYLES[risk]), f" and {more} more (listed above)"))
    if plan.unsafe:
        console.print(styled(("unsafe:", "bold red"), " ", unsafe_message(plan)))
    if plan.has_changes:
        console.print(styled((plan.summary_line(), "bold")))
        console.print(styled((plan.risk_line(), "bold")))


def describe(change: Change) -> str:
    """One line on what a change does, in MTA-STS words."""
    if change.resource is Resource.POLICY:
        if change.action is Action.DELETE:
            return "delete the policy file"
        if change.action is Action.CREATE:
            return "publish " + _policy_fields(change.after)
        return f"{change.reason} ({_policy_fields(change.after)})"
    if change.resource is Resource.ENDPOINT:
        if change.action is Action.UPDATE and change.endpoint_after is not None:
            wanted = change.endpoint_after
            return f"{wanted.target} {wanted.host}: {change.reason}"
        return f"{change.before or '(none)'} -> {change.after or '(deleted)'}"
    if change.action is Action.CREATE:
        return f'"{change.after}"'
    if change.action is Action.DELETE:
        return f'"{change.before}" ({change.reason})'
    return f'"{change.before}" -> "{change.after}"'


def unsafe_message(plan: Plan) -> str:
    return plan.unsafe_reason()


def _policy_fields(body: str | None) -> str:
    if body is None:
        return "(none)"
    try:
        policy = parse_policy(body).policy
    except GrammarError:
        return "(invalid policy)"
    mx = ", ".join(policy.mx) or "no mx"
    return f"mode {policy.mode}, max_age {policy.max_age}, mx {mx}"
