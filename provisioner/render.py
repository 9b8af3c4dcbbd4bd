"""Spec to desired state: each domain's policy body and `_smtp._tls` value.

Pure: no provider is called. The strings come from the RFC modules, which validate what
they render, so anything that reaches a plan is publishable. The `_mta-sts` id is not
rendered here: it depends on what is live (`provisioner.rfc8461.policy_id`), so the planner
mints it.
"""

from __future__ import annotations

from collections.abc import Iterable

from provisioner.errors import MtastsError
from provisioner.rfc8460 import render_tlsrpt_record
from provisioner.rfc8461 import Policy, normalize_hostname
from provisioner.spec import DomainSpec, Spec
from provisioner.state import DesiredDomain


def render_domain(domain: DomainSpec) -> DesiredDomain:
    policy = Policy(mode=domain.mode, max_age=domain.max_age, mx=domain.mx)
    body = policy.render()
    return DesiredDomain(
        domain=domain.name,
        provider=domain.provider,
        policy=policy,
        policy_text=body,
        tlsrpt_record=render_tlsrpt_record(domain.tlsrpt_rua) if domain.tlsrpt_rua else None,
    )


def render_spec(spec: Spec, only: set[str] | None = None) -> dict[str, DesiredDomain]:
    """Desired state of every spec domain, or of the `only` ones that are in the spec."""
    return {
        name: render_domain(domain)
        for name, domain in spec.domains.items()
        if only is None or name in only
    }


def normalize_domain_filter(names: Iterable[str], source: str = "--domain") -> set[str] | None:
    """Domains named on the command line, as the spec spells them; None when none were."""
    result: set[str] = set()
    for name in names:
        try:
            result.add(normalize_hostname(name))
        except ValueError as exc:
            raise MtastsError(f"{source}: {exc}") from None
    return result or None
