"""Executing a plan: exactly its changes, phase by phase, stopping at the first failure.

Phases (see `provisioner.plan`) run in order across all providers; within a phase each
provider gets all of its changes in one call, so it can batch, and providers run side by
side. Nothing starts before every change is known to have a provider that can carry it, and
a failed phase stops the run, so an STS id never points at a policy that is not yet served.

The id guard. Right before the TXT phase, the policy of every domain whose `_mta-sts` id
is about to move is read back from its provider, and the new id must announce exactly that
body (`id_names_body`). This catches what the plan alone cannot: another run (a second CI
job, a colleague) that published a different policy between this run's policy phase and
its TXT phase. Without it, both runs report success and the id announces a policy that is
not the one served. It costs one read of those domains, and no id moves when it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import groupby

from provisioner.concurrency import each
from provisioner.errors import MtastsError, ProviderError
from provisioner.plan import Action, Change, Plan
from provisioner.polling import waits_reported_to
from provisioner.provider import NoProgress, Progress, Provider, announce_phase
from provisioner.rfc8461 import GrammarError, id_names_body, parse_sts_record
from provisioner.state import Resource

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


TXT_PHASE = 2


PhaseHook = Callable[[int, Sequence[Change]], None]
"""Called before each phase starts, with its changes; raising stops the run there."""


def announced_ids(changes: Sequence[Change]) -> dict[str, str]:
    """domain -> the id each `_mta-sts` create/update of `changes` publishes."""
    ids: dict[str, str] = {}
    for change in changes:
        if change.resource is Resource.STS_RECORD and change.action is not Action.DELETE:
            try:
                ids[change.domain] = parse_sts_record(change.after or "").id
            except GrammarError as exc:
                raise MtastsError(f"{change.domain}: sts_record: {exc}") from None
    return ids


def guard_ids(changes: Sequence[Change], providers: Mapping[str, Provider]) -> None:
    """Refuse to move an id that would not announce the policy the provider holds now."""
    by_provider: dict[str, dict[str, str]] = {}
    ids = announced_ids(changes)
    for change in changes:
        if change.domain in ids:
            by_provider.setdefault(change.provider, {})[change.domain] = ids[change.domain]
    wrong: list[str] = []
    for name, wanted in sorted(by_provider.items()):
        live = providers[name].read(sorted(wanted), NoProgress())
        for domain, new_id in sorted(wanted.items()):
            state = live.get(domain)
            body = state.policy_text if state is not None else None
            if body is None or not id_names_body(new_id, body):
                wrong.append(domain)
    if wrong:
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise ProviderError(
            f"apply stopped before the TXT records: the policy now held for "
            f"{', '.join(wrong[:3])}{more} is not the one its new id announces (another run "
            "changed it since this one published?); no _mta-sts id was changed; run "
            "'mtasts plan' again"
        )


def apply_plan(
    plan: Plan,
    providers: Mapping[str, Provider],
    progress: Progress | None = None,
    before_phase: PhaseHook | None = None,
) -> int:
    """Apply every change; returns how many were applied. Raises ProviderError on failure.

    `before_phase` runs before each phase (after the id guard for the TXT phase); `apply
    --verify` uses it to wait until each announced policy is served from its endpoint.
    """
    check_applicable(plan, providers)
    sink = progress or NoProgress()
    try:
        with waits_reported_to(lambda what: announce_phase(sink, f"waiting for {what}")):
            return _apply_phases(plan, providers, sink, before_phase)
    finally:
        for provider in providers.values():
            provider.close()


def _apply_phases(
    plan: Plan,
    providers: Mapping[str, Provider],
    sink: Progress,
    before_phase: PhaseHook | None,
) -> int:
    applied = 0
    ordered = sorted(plan.changes, key=Change.sort_key)
    for phase, phase_changes in groupby(ordered, key=lambda c: c.phase):
        batch = list(phase_changes)
        if phase == TXT_PHASE and announced_ids(batch):
            guard_ids(batch, providers)
        if before_phase is not None:
            if phase == TXT_PHASE:
                announce_phase(sink, "waiting for the new policies to be served")
            before_phase(phase, batch)
        announce_phase(sink, PHASE_NAMES[phase])
        by_provider = {
            name: list(group) for name, group in groupby(batch, key=lambda c: c.provider)
        }
        # Providers side by side, as many at once as the MTASTS_WORKERS knob allows.
        jobs = [(providers[name], changes, sink) for name, changes in by_provider.items()]
        outcomes = each(_apply_one, jobs)
        failures = []
        for name, error in zip(by_provider, outcomes, strict=True):
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
    return applied


def _apply_one(job: tuple[Provider, list[Change], Progress]) -> Exception | None:
    """One provider's phase; its failure is returned, so every provider's is reported."""
    provider, changes, sink = job
    try:
        provider.apply(changes, sink)
    except Exception as exc:
        return exc
    return None
