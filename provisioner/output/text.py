"""The plan as a terminal shows it: per domain, one line per change, Terraform's summary.

Colour comes from rich and disappears by itself when stdout is not a terminal (or when
NO_COLOR is set), so CI logs stay plain. Every value is markup-escaped: a TXT value may
hold `[`.
"""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.markup import escape

from provisioner.plan import Action, Change, Plan
from provisioner.rfc8461 import GrammarError, parse_policy
from provisioner.state import Resource

SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
}


def print_plan(plan: Plan, console: Console) -> None:
    if not plan.has_changes:
        console.print("No changes. The live state matches the spec.")
    stories = {(d.provider, d.domain): d.summary for d in plan.domains}
    ordered = sorted(plan.changes, key=lambda c: (c.provider, c.domain, c.phase))
    for (provider, domain), group in groupby(ordered, key=lambda c: (c.provider, c.domain)):
        story = stories.get((provider, domain), "")
        console.print(f"[bold]{escape(domain)}[/] [dim]({escape(provider)})[/]: {escape(story)}")
        for change in group:
            symbol, colour = SYMBOLS[change.action]
            console.print(
                f"  [{colour}]{symbol} {change.resource.value:<13}[/] {escape(describe(change))}"
            )
    for note in plan.notes:
        console.print(f"[cyan]note:[/] {escape(note)}")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if plan.unsafe:
        console.print(f"[bold red]unsafe:[/] {escape(unsafe_message(plan))}")
    if plan.has_changes:
        console.print(f"\n[bold]{plan.summary_line()}[/]")


def describe(change: Change) -> str:
    """One line on what a change does, in MTA-STS words."""
    if change.resource is Resource.POLICY:
        if change.action is Action.DELETE:
            return "delete the policy file"
        if change.action is Action.CREATE:
            return "publish " + _policy_fields(change.after)
        return f"{change.reason} ({_policy_fields(change.after)})"
    if change.resource is Resource.ENDPOINT:
        return f"{change.before or '(none)'} -> {change.after or '(deleted)'}"
    if change.action is Action.CREATE:
        return f'"{change.after}"'
    if change.action is Action.DELETE:
        return f'"{change.before}" ({change.reason})'
    return f'"{change.before}" -> "{change.after}"'


def unsafe_message(plan: Plan) -> str:
    count = len(plan.destructive_domains)
    return (
        f"{count} of {plan.managed_domains} managed domains would be removed or downgraded "
        f"at once ({', '.join(plan.destructive_domains[:5])}"
        f"{', ...' if count > 5 else ''}); apply refuses this without --allow-destroy"
    )


def _policy_fields(body: str | None) -> str:
    if body is None:
        return "(none)"
    try:
        policy = parse_policy(body).policy
    except GrammarError:
        return "(invalid policy)"
    mx = ", ".join(policy.mx) or "no mx"
    return f"mode {policy.mode}, max_age {policy.max_age}, mx {mx}"
