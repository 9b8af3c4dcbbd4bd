"""Apply runs each phase's providers side by side through `provisioner.concurrency.each`
(pool size: the MTASTS_WORKERS knob), and reports every provider that failed, in order."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from provisioner.apply import apply_plan
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change, Plan
from provisioner.provider import Progress
from provisioner.registry import build_provider
from provisioner.state import Resource


def policy_change(domain: str, provider: str) -> Change:
    return Change(domain, provider, Resource.POLICY, Action.CREATE, None, "body", "new domain")


class Recording:
    """Stands in for a provider's `apply`: records the thread, optionally fails."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.threads: list[str] = []
        self.barrier: threading.Barrier | None = None

    def __call__(self, changes: Sequence[Change], progress: Progress) -> None:
        self.threads.append(threading.current_thread().name)
        if self.barrier is not None:
            self.barrier.wait(timeout=5)  # both providers inside apply at once
        if self.error is not None:
            raise self.error


def providers(tmp_path, monkeypatch, *applies: Recording):  # type: ignore[no-untyped-def]
    built = {}
    for i, fake in enumerate(applies):
        provider = build_provider(f"p{i}", "local", {"path": f"out{i}"}, tmp_path)
        monkeypatch.setattr(provider, "apply", fake)
        built[f"p{i}"] = provider
    return built


def test_providers_of_a_phase_run_side_by_side(tmp_path, monkeypatch) -> None:
    a, b = Recording(), Recording()
    a.barrier = b.barrier = threading.Barrier(2)
    built = providers(tmp_path, monkeypatch, a, b)
    plan = Plan((policy_change("a.example", "p0"), policy_change("b.example", "p1")))
    assert apply_plan(plan, built) == 2


def test_every_failed_provider_is_counted_and_the_first_named(tmp_path, monkeypatch) -> None:
    built = providers(
        tmp_path,
        monkeypatch,
        Recording(ProviderError("p0: a.example: denied")),
        Recording(),
        Recording(RuntimeError("boom")),
    )
    plan = Plan(tuple(policy_change(f"{n}.example", f"p{i}") for i, n in enumerate("abc")))
    with pytest.raises(ProviderError) as caught:
        apply_plan(plan, built)
    message = str(caught.value)
    assert message.startswith("apply stopped in phase 'policies': p0: a.example: denied")
    assert "(and 1 more)" in message and "1 changes were applied before it" in message


def test_one_worker_runs_providers_one_after_the_other(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MTASTS_WORKERS", "1")
    a, b = Recording(), Recording()
    built = providers(tmp_path, monkeypatch, a, b)
    plan = Plan((policy_change("a.example", "p0"), policy_change("b.example", "p1")))
    assert apply_plan(plan, built) == 2
    assert a.threads == b.threads == [threading.current_thread().name]
