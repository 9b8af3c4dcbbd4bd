"""`mtasts promote` and `mtasts promote --demote`: one ladder step, by editing the spec.

Promote never touches a provider (the spec edit goes through review, then `plan` and
`apply` as usual), so everything here is: load the spec, measure each named domain from the
outside (`check`, optionally STARTTLS and the TLS-RPT reports), judge the gates
(`gates.py`), and edit the spec for the domains that pass (`specedit.py`). A wave is judged
domain by domain: the ones that pass are promoted together in one edit, the blocked ones
are named with their failing gates.

`--demote` is the emergency brake: enforce -> testing at once, no gates. A downgrade is
what the plan's safety threshold guards (`provisioner.plan`, octoDNS-style), so the result
says whether the next apply will need `--allow-destroy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from provisioner.checks.verdict import CheckOptions, DomainReport, check_domains
from provisioner.errors import MtastsError
from provisioner.lifecycle.gates import (
    GateResult,
    GateStatus,
    ReportSummary,
    check_gate,
    mx_gate,
    reports_gate,
    smtp_gate,
)
from provisioner.lifecycle.ladder import DEFAULT_ENFORCE_STEPS, Step, next_step
from provisioner.lifecycle.specedit import (
    Value,
    read_spec_text,
    replace_file,
    set_fields,
    unified_diff,
    unlined,
    verified_text,
)
from provisioner.plan import (
    MAX_SAFE_DESTRUCTIVE_FRACTION,
    MIN_GUARDED_DESTRUCTIVE,
    DomainPlan,
    Plan,
)
from provisioner.render import normalize_domain_filter, render_spec
from provisioner.reports import read_reports
from provisioner.reports.parse import UNKNOWN_MODE
from provisioner.rfc8461 import Mode
from provisioner.spec import DomainSpec, Spec, load_spec

FORMAT_VERSION = 1
DEFAULT_MIN_DAYS = 14
DEFAULT_MAX_FAILURE_RATE = 0.001
"""0.1 %: a failure rate a sender-side glitch explains; above it, something is broken."""


@dataclass(frozen=True)
class PromoteOptions:
    """How to measure and how far to go; `check` holds the same options as `mtasts check`."""

    check: CheckOptions = field(default_factory=CheckOptions)
    report_paths: tuple[Path, ...] = ()
    min_days: int = DEFAULT_MIN_DAYS
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE
    """A fraction: 0.001 is 0.1 %."""
    steps: tuple[int, ...] = DEFAULT_ENFORCE_STEPS
    dry_run: bool = False


@dataclass(frozen=True)
class DomainOutcome:
    """One named domain: where it stands, where it goes, and the gates that decided."""

    domain: str
    promoted: bool
    current: Step | None
    target: Step | None
    gates: tuple[GateResult, ...]

    @property
    def blockers(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if g.status is GateStatus.FAIL)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "promoted": self.promoted,
            "from": self.current.to_json() if self.current else None,
            "to": self.target.to_json() if self.target else None,
            "gates": [g.to_json() for g in self.gates],
        }


@dataclass(frozen=True)
class PromoteResult:
    """What a run decided and did; `ok` (exit 0) only when every named domain moved."""

    command: str
    spec_path: Path
    outcomes: tuple[DomainOutcome, ...]
    diff: str
    written: bool
    dry_run: bool
    safety: str | None = None
    """For --demote: whether the next apply needs --allow-destroy, and why."""
    notes: tuple[str, ...] = ()
    """What the run found beside the gates (unreadable report files)."""

    @property
    def ok(self) -> bool:
        return all(o.promoted for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "command": self.command,
            "spec": str(self.spec_path),
            "dry_run": self.dry_run,
            "written": self.written,
            "ok": self.ok,
            "domains": [o.to_json() for o in self.outcomes],
            "diff": self.diff,
            "safety": self.safety,
            "notes": list(self.notes),
        }


def promote(config: Path, domains: Sequence[str], options: PromoteOptions) -> PromoteResult:
    """Judge each named domain's gates and move the passing ones one step up.

    Raises MtastsError (SpecError) for a spec that does not load, a DOMAIN that is not a
    domain name, unreadable --reports, or an edit that cannot be made safely; a domain
    that does not pass is an outcome, not an error.
    """
    spec = load_spec(config)
    names = _names(domains)
    positions = {name: _position(spec, name, options.steps) for name in names}
    movable = [n for n, (gate, _c, _t) in positions.items() if gate.status is GateStatus.PASS]
    reports = _check(spec, movable, options.check)
    current_modes = {n: step.mode for n in movable if (step := positions[n][1]) is not None}
    summaries, notes = _summaries(options.report_paths, current_modes)
    outcomes: list[DomainOutcome] = []
    for name in names:
        gate, current, target = positions[name]
        if gate.status is not GateStatus.PASS or current is None:
            not_run = GateResult("gates", GateStatus.SKIPPED, "not judged: the domain cannot move")
            outcomes.append(DomainOutcome(name, False, current, target, (gate, not_run)))
            continue
        report = reports[name]
        gates = (
            gate,
            check_gate(report),
            mx_gate(report, spec.domains[name].mx),
            smtp_gate(report, options.check.smtp),
            reports_gate(
                summaries.get(name),
                current.mode,
                asked=bool(options.report_paths),
                min_days=options.min_days,
                max_failure_rate=options.max_failure_rate,
            ),
        )
        passed = not any(g.status is GateStatus.FAIL for g in gates)
        outcomes.append(DomainOutcome(name, passed, current, target, gates))
    return replace(_edit(spec, "promote", outcomes, options.dry_run), notes=notes)


def demote(config: Path, domains: Sequence[str], *, dry_run: bool = False) -> PromoteResult:
    """enforce -> testing (same max_age) for every named domain in enforce, no gates.

    The result's `safety` says whether the next plan's downgrades cross the safety
    threshold (`Plan.unsafe`), counted against the spec's domains.
    """
    spec = load_spec(config)
    outcomes: list[DomainOutcome] = []
    for name in _names(domains):
        domain = spec.domains.get(name)
        current = Step(domain.mode, domain.max_age) if domain else None
        if domain is None:
            gate = GateResult("in_spec", GateStatus.FAIL, f"not in the spec {spec.path}")
        elif domain.mode is not Mode.ENFORCE:
            gate = GateResult("in_spec", GateStatus.FAIL, f"mode {domain.mode}: nothing to demote")
        else:
            gate = GateResult("in_spec", GateStatus.PASS, f"mode enforce, line {domain.line}")
        target = Step(Mode.TESTING, current.max_age) if current and gate.status == "pass" else None
        outcomes.append(
            DomainOutcome(name, gate.status is GateStatus.PASS, current, target, (gate,))
        )
    result = _edit(spec, "demote", outcomes, dry_run)
    return replace(result, safety=_safety(spec, [o for o in outcomes if o.promoted]))


# --- the parts --------------------------------------------------------------------------


def _names(domains: Sequence[str]) -> list[str]:
    if not domains:
        raise MtastsError("name at least one DOMAIN")
    ordered: list[str] = []
    for raw in domains:
        name = next(iter(normalize_domain_filter([raw], source="DOMAIN") or ()))
        if name not in ordered:
            ordered.append(name)
    return ordered


def _position(
    spec: Spec, name: str, steps: tuple[int, ...]
) -> tuple[GateResult, Step | None, Step | None]:
    """The `in_spec` gate: in the spec, on the ladder, not at its top."""
    domain = spec.domains.get(name)
    if domain is None:
        return GateResult("in_spec", GateStatus.FAIL, f"not in the spec {spec.path}"), None, None
    current = Step(domain.mode, domain.max_age)
    if domain.mode is Mode.NONE:
        why = "mode none (being removed, RFC 8461 section 8.3): set mode testing to start again"
        return GateResult("in_spec", GateStatus.FAIL, why), current, None
    target = next_step(current, steps)
    if target is None:
        why = f"already at the top step: {current} (steps: {', '.join(map(str, steps))})"
        return GateResult("in_spec", GateStatus.FAIL, why), current, None
    where = f"line {domain.line}" if domain.line else "in the spec"
    return (
        GateResult("in_spec", GateStatus.PASS, f"{current}, {where}; next step {target}"),
        current,
        target,
    )


def _check(spec: Spec, names: list[str], options: CheckOptions) -> dict[str, DomainReport]:
    if not names:
        return {}
    expected = {n: want.policy_text for n, want in render_spec(spec, set(names)).items()}
    return {r.domain: r for r in check_domains(names, options, expected)}


def _summaries(
    paths: tuple[Path, ...], current: Mapping[str, Mode]
) -> tuple[Mapping[str, ReportSummary], tuple[str, ...]]:
    """TLS-RPT summaries of the named domains from --reports (provisioner.reports), each of
    the sessions in the domain's current mode (and of `sts` reports naming no mode, which
    the gate mentions but does not count), so the failing MX and result types named are
    not a TLSA policy's or an earlier mode's, else of all its
    sessions (the gate then finds no day in the current mode); and a note when some
    inputs held no readable report (they are not evidence either way)."""
    if not paths or not current:
        return {}, ()
    for path in paths:
        if not path.exists():
            raise MtastsError(f"--reports {path}: no such file or directory")
    report_set = read_reports(list(paths))
    summary: dict[str, ReportSummary] = dict(report_set.summary(domains=list(current)))
    for mode in set(current.values()):
        names = [name for name, its in current.items() if its is mode]
        summary.update(report_set.summary(domains=names, modes={mode.value, UNKNOWN_MODE}))
    notes: tuple[str, ...] = ()
    if report_set.unreadable:
        count = len(report_set.unreadable)
        first = report_set.unreadable[0]
        notes = (
            f"--reports: {count} input{'s' if count != 1 else ''} held no readable report "
            f"(first: {first.path}: {first.error}); 'mtasts reports' lists them all",
        )
    return summary, notes


def _edit(spec: Spec, command: str, outcomes: list[DomainOutcome], dry_run: bool) -> PromoteResult:
    """One edit for every domain that moves, verified, then written (or shown)."""
    source = read_spec_text(spec.path)
    text = source.text
    expected: dict[str, Callable[[DomainSpec | None], bool]] = {}
    changes: dict[str, dict[str, Value]] = {}
    for outcome in outcomes:
        if not outcome.promoted or outcome.target is None:
            continue
        target = outcome.target
        changes[outcome.domain] = {"mode": target.mode.value, "max_age": target.max_age}
        expected[outcome.domain] = _moved_to(spec.domains[outcome.domain], target)
    text = set_fields(text, changes)
    if expected:
        verified_text(spec.path, spec.domains, text, expected)
    diff = unified_diff(spec.path, source.text, text)
    written = bool(expected) and not dry_run
    if written:
        replace_file(spec.path, text, source.data)
    return PromoteResult(command, spec.path, tuple(outcomes), diff, written, dry_run)


def _moved_to(before: DomainSpec, target: Step) -> Callable[[DomainSpec | None], bool]:
    """Whether a domain resolves to `before` moved to `target`, and nothing else changed."""
    wanted = unlined(replace(before, mode=target.mode, max_age=target.max_age))
    return lambda after: after is not None and unlined(after) == wanted


def _safety(spec: Spec, demoted: list[DomainOutcome]) -> str:
    """Whether the downgrades cross the plan's threshold (`Plan.unsafe`), in one sentence."""
    provider = {name: d.provider for name, d in spec.domains.items()}
    plan = Plan(
        changes=(),
        domains=tuple(DomainPlan(o.domain, provider[o.domain], "", True) for o in demoted),
        managed_domains=len(spec.domains),
    )
    threshold = (
        f"the plan's safety threshold is more than {MAX_SAFE_DESTRUCTIVE_FRACTION:.0%} of the "
        f"managed domains and at least {MIN_GUARDED_DESTRUCTIVE}"
    )
    count = f"{len(demoted)} of the spec's {len(spec.domains)} domains"
    if plan.unsafe:
        return (
            f"the next plan downgrades {count} at once; {threshold}, so apply needs "
            "--allow-destroy (mtasts apply --allow-destroy)"
        )
    return f"the next plan downgrades {count}; {threshold}, so apply needs no --allow-destroy"
