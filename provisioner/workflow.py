"""mtasts as a library: the steps the CLI runs, callable from Python without typer.

A CI bot, a test or another tool drives mtasts through these functions; `provisioner.cli`
only adds arguments, prompts and printing around them. Each step is one call, returns plain
values, and raises `MtastsError` (one line, or a `SpecError` of located problems) for
anything a user can cause:

    spec = workflow.load("mtasts.yaml")
    providers, result = workflow.plan(spec)
    workflow.save(Path("plan.json"), result, providers)
    ...
    plan, providers = workflow.load_saved(Path("plan.json"))
    workflow.apply(plan, providers)

Every step asks `provisioner.clock.now()` for the time unless it is given one, so the
`MTASTS_NOW` seam moves them all together. Nothing here keeps state between calls: a saved
plan applied in a fresh process behaves exactly as in the process that made it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from provisioner import clock
from provisioner.apply import PhaseHook, apply_plan
from provisioner.errors import MtastsError
from provisioner.plan import Change, Plan, diff
from provisioner.planfile import build_saved_providers, check_fresh, load_plan, save_plan
from provisioner.plantrust import check_names, check_providers, trusted_plan
from provisioner.provider import NoProgress, Progress, Provider
from provisioner.refresh import PlanResult, compute_plan, fingerprints, read_live
from provisioner.registry import build_provider, build_providers
from provisioner.render import normalize_domain_filter, render_spec
from provisioner.spec import Spec, load_spec

if TYPE_CHECKING:
    # verify pulls in the HTTPS/DNS probes (dnspython, httpx): imported only by runs that
    # verify, so plan and apply start without them.
    from provisioner.verify import VerifyOptions


def load(config: Path | str) -> Spec:
    """The spec at `config`, validated; raises SpecError with every located problem."""
    return load_spec(Path(config))


def validate(spec: Spec) -> dict[str, Provider]:
    """The spec's providers, built and their settings checked; no provider is called."""
    return build_providers(spec)


def plan(
    spec: Spec,
    domains: Iterable[str] = (),
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, Provider], PlanResult]:
    """Read every provider and diff against the spec (or only `domains`)."""
    providers = build_providers(spec)
    only = normalize_domain_filter(domains)
    result = compute_plan(spec, providers, only, now=now or clock.now(), progress=progress)
    return providers, result


def planned_domains(spec: Spec, domains: Iterable[str] = ()) -> int:
    """How many domains a plan of `domains` reads: for sizing a progress display."""
    only = normalize_domain_filter(domains)
    return len(only) if only else len(spec.domains)


def save(path: Path, result: PlanResult, providers: dict[str, Provider]) -> None:
    """Write a plan for `load_saved`: the plan, provider settings, scope, fingerprints."""
    save_plan(path, result, providers)


def load_saved(
    path: Path, *, spec: Spec | None = None, now: datetime | None = None
) -> tuple[Plan, dict[str, Provider]]:
    """A saved plan, only once the live state is unchanged and every value is checked.

    With `spec`, the plan's providers must be the spec's, setting for setting: the plan file
    is input from outside, and an edited provider setting (a local `path`, a bucket) would
    send every write somewhere no spec named. Names are checked before any provider reads
    them; the live state is read again for the plan's scope; a moved fingerprint is a
    StalePlanError; every value must be one a plan computed now could hold
    (`provisioner.plantrust`).
    """
    saved = load_plan(path)
    providers = build_saved_providers(saved, path)
    if spec is not None:
        check_providers(providers, build_providers(spec, set(providers)), str(path))
    check_names(saved.plan, saved.scope, providers, str(path))
    live = read_live(providers, saved.scope)
    check_fresh(saved, fingerprints(live))
    checked = trusted_plan(saved.plan, saved.scope, providers, live, now or clock.now(), str(path))
    return checked, providers


def show_saved(path: Path) -> Plan:
    """A saved plan as it was saved, for display only: no provider is built or read.

    Its risk classes, destructive flags and texts are the file's word, unchecked; only
    `load_saved` (what apply uses) recomputes them against the live state.
    """
    return load_plan(path).plan


def apply(
    the_plan: Plan,
    providers: dict[str, Provider],
    *,
    progress: Progress | None = None,
    verify: VerifyOptions | None = None,
    allow_destroy: bool = False,
    allow_risk: Iterable[str] = (),
) -> int:
    """Apply exactly `the_plan`; returns how many changes were applied.

    Refuses, before any provider is written, an unsafe plan (too many removals or
    downgrades) unless `allow_destroy`, and a plan holding a guarded risk class
    (`blocks-mail`) unless that class is in `allow_risk`. With `verify`, no `_mta-sts` id
    moves until its policy is served from its endpoint.
    """
    refuse_risky(the_plan, allow_destroy=allow_destroy, allow_risk=allow_risk)
    hook: PhaseHook | None = None
    if verify is not None:
        from provisioner.verify import policy_verifier

        hook = policy_verifier(verify)
    return apply_plan(the_plan, providers, progress, before_phase=hook)


def refuse_risky(
    the_plan: Plan, *, allow_destroy: bool = False, allow_risk: Iterable[str] = ()
) -> None:
    """Raise MtastsError (one line, naming domains and the flag) for what needs consent."""
    if the_plan.unsafe and not allow_destroy:
        raise MtastsError("refusing to apply: " + the_plan.unsafe_reason())
    refused = the_plan.refused_risks(allow_risk)
    if refused:
        raise MtastsError("refusing to apply: " + the_plan.risk_reason(refused[0]))


def render_to(
    spec: Spec, out: Path, domains: Iterable[str] = (), *, now: datetime | None = None
) -> int:
    """Write the spec's files in the local provider's layout under `out`; no provider read.

    Returns how many domains were written.
    """
    only = normalize_domain_filter(domains)
    missing = sorted((only or set()) - set(spec.domains))
    if missing:
        raise MtastsError(f"--domain {missing[0]}: not in the spec")
    writer = build_provider("--out", "local", {"path": str(out.resolve())}, Path.cwd())
    desired = {
        name: replace(want, provider=writer.name) for name, want in render_spec(spec, only).items()
    }
    changes = diff(desired, {}, now or clock.now()).changes
    try:
        writer.apply(sorted(changes, key=Change.sort_key), NoProgress())
    finally:
        writer.close()
    return len(desired)
