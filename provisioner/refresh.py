"""Reading what is live, and turning spec plus live state into a plan.

Each provider is read once per run, with every domain it must report on (its spec domains
plus the managed ones that left the spec), and providers are read concurrently: bulk reads
are where the API calls go. The same scope is read again when a saved plan is applied, and
the fingerprints of the two reads are compared to refuse a stale plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from provisioner.apply import check_applicable
from provisioner.concurrency import each
from provisioner.conflicts import refuse_conflicts
from provisioner.errors import MtastsError
from provisioner.plan import Plan, diff
from provisioner.provider import NoProgress, Progress, Provider
from provisioner.render import render_spec
from provisioner.spec import Spec
from provisioner.state import DesiredDomain, LiveDomain

Live = dict[str, dict[str, LiveDomain]]
"""provider name -> domain -> live state."""


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    scope: dict[str, tuple[str, ...]]
    """provider name -> the domains read from it: what a saved plan re-reads."""
    live: Live

    def fingerprints(self) -> dict[str, dict[str, str]]:
        return fingerprints(self.live)


def fingerprints(live: Live) -> dict[str, dict[str, str]]:
    return {
        provider: {domain: state.fingerprint() for domain, state in sorted(states.items())}
        for provider, states in sorted(live.items())
    }


def read_live(
    providers: Mapping[str, Provider],
    scope: Mapping[str, tuple[str, ...]],
    progress: Progress | None = None,
    expected: Mapping[str, Mapping[str, str]] | None = None,
) -> Live:
    """Read each provider's scope, providers in parallel; missing domains read as empty.

    `expected` (provider name -> domain -> the policy body the spec renders) lets a provider
    whose bulk listing carries content hashes skip fetching bodies that already match
    (`Provider.read_expecting`); a saved plan's re-read passes none and reads every body.
    """
    sink = progress or NoProgress()

    def read_one(name: str) -> tuple[str, dict[str, LiveDomain]]:
        domains = scope[name]
        bodies = (expected or {}).get(name)
        provider = providers[name]
        if not domains:
            states: dict[str, LiveDomain] = {}
        elif bodies:
            states = provider.read_expecting(domains, sink, bodies)
        else:
            states = provider.read(domains, sink)
        return name, {d: states.get(d) or LiveDomain(d) for d in domains}

    names = [n for n in scope if n in providers]
    return dict(each(read_one, names))


def compute_plan(
    spec: Spec,
    providers: Mapping[str, Provider],
    only: set[str] | None = None,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    desired = _with_endpoints(render_spec(spec, only), providers)
    managed = {name: provider.managed_domains() for name, provider in providers.items()}
    removals, moved = _removals(desired, managed, only, spec)
    scope: dict[str, set[str]] = {name: set() for name in providers}
    for name, want in desired.items():
        scope[want.provider].add(name)
    for name, provider in removals.items():
        scope[provider].add(name)
    frozen_scope = {p: tuple(sorted(d)) for p, d in scope.items()}
    expected: dict[str, dict[str, str]] = {}
    for name, want in desired.items():
        expected.setdefault(want.provider, {})[name] = want.policy_text
    live = read_live(providers, frozen_scope, progress, expected)
    flat = {
        domain: state
        for provider, states in live.items()
        for domain, state in states.items()
        if (domain in desired and desired[domain].provider == provider)
        or removals.get(domain) == provider
    }
    refuse_conflicts(desired, flat, removals)
    stories = {
        name: story
        for name, want in desired.items()
        if (story := providers[want.provider].endpoint_story(name)) is not None
    }
    plan = diff(
        desired,
        flat,
        now or datetime.now(UTC),
        removals=removals,
        warnings=[
            *spec.warnings_for(only),
            *moved,
            *(notice for provider in providers.values() for notice in provider.notices()),
        ],
        managed_count=sum(len(domains) for domains in managed.values()),
        endpoint_stories=stories,
    )
    check_applicable(plan, providers)  # refused now, not after a reviewer approved it
    return PlanResult(plan, frozen_scope, live)


def _with_endpoints(
    desired: dict[str, DesiredDomain], providers: Mapping[str, Provider]
) -> dict[str, DesiredDomain]:
    return {
        name: replace(want, endpoint=providers[want.provider].endpoint_for(name))
        for name, want in desired.items()
    }


def _removals(
    desired: Mapping[str, DesiredDomain],
    managed: Mapping[str, set[str]],
    only: set[str] | None,
    spec: Spec,
) -> tuple[dict[str, str], list[str]]:
    """Managed domains no longer in the spec (within the -d filter), and provider moves.

    A domain the spec now gives to another provider is not torn down on the old one: both
    may publish the same DNS names, and a `mode: none` there could undo the new provider's
    policy. The plan warns instead, and the old copy is removed by hand.
    """
    removals: dict[str, str] = {}
    moved: list[str] = []
    for name, domains in managed.items():
        for domain in sorted(domains):
            if only is not None and domain not in only:
                continue
            in_spec = spec.domains.get(domain)
            if in_spec is None:
                removals.setdefault(domain, name)
            elif in_spec.provider != name:
                moved.append(
                    f"{domain}: now on provider {in_spec.provider!r}; mtasts leaves the copy "
                    f"on provider {name!r} as it is (remove it there by hand once the new one "
                    "serves)"
                )
    if only:
        unknown = sorted(only - set(desired) - set(removals))
        if unknown:
            raise MtastsError(
                f"--domain {unknown[0]}: not in the spec and not managed by any provider"
            )
    return removals, moved
