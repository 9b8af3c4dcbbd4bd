"""What `-v` (or `MTASTS_LOG=debug`) adds on stderr: what was read, written, and API calls.

Lines start with `mtasts:` and go to stderr, so `plan --format json -v > plan.json` keeps
stdout a plan. Every value is passed through `redact` and shown literally by `styled`;
nothing here reads a credential: API calls are counted per API by the pacers
(`provisioner.pacing.calls_by_api`), never per account key. Only quota-paced APIs are
counted (Route53, Cloudflare, Cloud DNS, Certificate Manager); the line says so.

`MTASTS_LOG=debug` does not turn on the SDKs' own debug logs: botocore's log request
headers, signatures included.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from itertools import groupby

from rich.console import Console

from provisioner.apicalls import calls_by_service
from provisioner.output.text import styled
from provisioner.pacing import calls_by_api
from provisioner.plan import Change, Plan
from provisioner.redact import redact

LOG_VARIABLE = "MTASTS_LOG"


def verbose_from_env() -> bool:
    """True when `MTASTS_LOG` asks for debug (or info) output, as `-v` does."""
    return os.environ.get(LOG_VARIABLE, "").strip().lower() in {"debug", "info", "verbose"}


def _line(console: Console, message: str) -> None:
    console.print(styled(("mtasts:", "dim"), " ", redact(message)))


def report_reads(console: Console, scope: Mapping[str, Sequence[str]]) -> None:
    """One line per provider: how many domains were read from it."""
    for provider, domains in sorted(scope.items()):
        _line(console, f"read {_count(len(domains), 'domain')} from provider {provider}")


def report_api_calls(console: Console) -> None:
    """API requests sent so far: per paced API, and per service where a provider counts
    every call (`provisioner.apicalls`: AWS)."""
    calls = calls_by_api()
    if not calls:
        _line(console, "API calls: none to a rate-limited API")
    else:
        shown = ", ".join(f"{api} {number}" for api, number in calls.items())
        _line(console, f"API calls (rate-limited APIs): {shown}")
    services = calls_by_service()
    if services:
        shown = ", ".join(f"{name} {number}" for name, number in services.items())
        _line(console, f"API calls by service: {shown}")


def report_results(console: Console, plan: Plan, applied: int) -> None:
    """After apply: one line per domain, what was written (all of a domain's changes are
    applied, or the run stopped at a phase and said so)."""
    ordered = sorted(plan.changes, key=lambda c: (c.provider, c.domain, c.phase))
    risks = {(d.provider, d.domain): d.risk.value for d in plan.domains}
    for (provider, domain), group in groupby(ordered, key=lambda c: (c.provider, c.domain)):
        changes: list[Change] = list(group)
        done = ", ".join(f"{c.resource} {c.action}" for c in changes)
        risk = risks.get((provider, domain), "routine")
        _line(console, f"{domain} ({provider}, {risk}): {done}")
    _line(console, f"{_count(applied, 'change')} applied")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
