"""`promote` and `import` results as a terminal shows them, and as JSON.

Blocked domains first (what needs a person), each gate on its own line with its evidence;
then the promoted ones; then what happened to the spec (edited, or the diff of a dry run).
Lines are built with `styled` (literal, printable) and messages pass through `redact`, as
every other output does: evidence quotes live records and HTTP answers.
"""

from __future__ import annotations

import json

from rich.console import Console

from provisioner.lifecycle.gates import GateStatus
from provisioner.lifecycle.importer import ImportResult
from provisioner.lifecycle.promote import DomainOutcome, PromoteResult
from provisioner.output.text import styled
from provisioner.redact import redact

_GATE_STYLE = {GateStatus.PASS: "green", GateStatus.FAIL: "bold red", GateStatus.SKIPPED: "dim"}


def print_promote(result: PromoteResult, console: Console) -> None:
    verb = "demoted" if result.command == "demote" else "promoted"
    ordered = sorted(result.outcomes, key=lambda o: o.promoted)
    for outcome in ordered:
        _print_outcome(outcome, verb, console)
    moved = sum(1 for o in result.outcomes if o.promoted)
    console.print(styled((f"{moved} of {len(result.outcomes)} domains {verb}.", "bold")))
    if result.safety:
        console.print(styled(("safety:", "yellow"), " ", result.safety))
    for note in result.notes:
        console.print(styled(("note:", "cyan"), " ", redact(note)))
    _print_edit(result.diff, result.written, result.dry_run, str(result.spec_path), console)


def _print_outcome(outcome: DomainOutcome, verb: str, console: Console) -> None:
    if outcome.promoted and outcome.current and outcome.target:
        console.print(
            styled(
                (outcome.domain, "bold"),
                f": {verb}: {outcome.current} -> {outcome.target}",
            )
        )
    else:
        blockers = ", ".join(g.gate for g in outcome.blockers) or "nothing to do"
        console.print(
            styled((outcome.domain, "bold"), ": ", ("blocked", "bold red"), f" by {blockers}")
        )
    for gate in outcome.gates:
        console.print(
            styled(
                "  ",
                (f"{gate.status.value:<7}", _GATE_STYLE[gate.status]),
                f" {gate.gate}: ",
                redact(gate.evidence),
            )
        )


def print_import(result: ImportResult, console: Console) -> None:
    for adoption in sorted(result.adoptions, key=lambda a: a.imported):
        if adoption.settings is None:
            console.print(
                styled(
                    (adoption.domain, "bold"),
                    ": ",
                    ("not imported", "bold red"),
                    ": ",
                    redact(adoption.reason or ""),
                )
            )
            continue
        policy = adoption.settings.policy
        rua = ", ".join(adoption.settings.rua) if adoption.settings.rua else "none"
        console.print(
            styled(
                (adoption.domain, "bold"),
                f": imported: mode {policy.mode}, max_age {policy.max_age}, "
                f"mx {', '.join(policy.mx) or 'none'}, tlsrpt {rua}",
            )
        )
        for note in adoption.notes:
            console.print(styled("  ", ("note:", "cyan"), " ", redact(note)))
    done = sum(1 for a in result.adoptions if a.imported)
    console.print(styled((f"{done} of {len(result.adoptions)} domains imported.", "bold")))
    _print_edit(
        result.diff, result.written, result.dry_run, str(result.spec_path), console, result.created
    )


def _print_edit(
    diff: str, written: bool, dry_run: bool, path: str, console: Console, created: bool = False
) -> None:
    if dry_run and diff:
        console.print(styled(f"--dry-run: {path} is not changed; the edit would be:"))
        for line in diff.splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            console.print(styled((line, style) if style else line))
    elif written:
        console.print(
            styled(
                f"{'wrote' if created else 'edited'} {path}; review it, then: mtasts plan -c {path}"
            )
        )
    elif created:  # nothing to write, and no spec existed: none is created
        console.print(styled(f"{path} is not created (no domain to write)."))
    else:
        console.print(styled(f"{path} is unchanged."))


def to_json(result: PromoteResult | ImportResult) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"
