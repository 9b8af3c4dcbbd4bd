"""Executing a plan: exactly its changes, phase by phase, stopping at the first failure.

Phases (see `provisioner.plan`) run in order across all providers; within a phase each
provider gets all of its changes in one call, so it can batch, and providers run side by
side. Nothing starts before every change is known to have a provider that can carry it, and
a failed phase stops the run, so an STS id never points at a policy that is not yet served.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby

from provisioner.errors import MtastsError, ProviderError
from provisioner.plan import Change, Plan
from provisioner.provider import NoProgress, Progress, Provider

PHASE_NAMES = {
    0: "endpoints",
    1: "policies",
    2: "TXT records",
    3: "policy removal",
    4: "endpoint removal",
}


def check_applicable(plan: Plan, providers: Mapping[str, Provider]) -> None:
    for change in plan.changes:
        provider = providers.get(change.provider)
        if provider is None:
            raise MtastsError(
                f"{change.domain}: the plan names provider {change.provider!r}, "
                "which is not configured"
            )
        if change.resource.value not in provider.capabilities:
            raise MtastsError(
                f"{change.domain}: provider {change.provider!r} cannot manage {change.resource}"
            )


PhaseHook = Callable[[int, Sequence[Change]], None]
"""Called after each phase succeeded, with its changes; raising stops the run there."""


def apply_plan(
    plan: Plan,
    providers: Mapping[str, Provider],
    progress: Progress | None = None,
    after_phase: PhaseHook | None = None,
) -> int:
    """Apply every change; returns how many were applied. Raises ProviderError on failure."""
    check_applicable(plan, providers)
    sink = progress or NoProgress()
    applied = 0
    ordered = sorted(plan.changes, key=Change.sort_key)
    for phase, phase_changes in groupby(ordered, key=lambda c: c.phase):
        batch = list(phase_changes)
        by_provider = {
            name: list(group) for name, group in groupby(batch, key=lambda c: c.provider)
        }
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(by_provider)))) as pool:
            futures = {
                name: pool.submit(providers[name].apply, changes, sink)
                for name, changes in by_provider.items()
            }
        failures = []
        for name, future in futures.items():
            error = future.exception()
            if error is None:
                applied += len(by_provider[name])
            elif isinstance(error, MtastsError):
                failures.append(str(error))
            else:
                failures.append(f"{name}: {type(error).__name__}: {error}")
        if failures:
            raise ProviderError(
                f"apply stopped in phase '{PHASE_NAMES[phase]}': {failures[0]}"
                f"{f' (and {len(failures) - 1} more)' if len(failures) > 1 else ''}; "
                f"{applied} changes were applied before it, later phases were not started; "
                "run 'mtasts plan' to see what is left"
            )
        if after_phase is not None:
            after_phase(phase, batch)
    return applied
