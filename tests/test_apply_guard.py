"""The id guard: no `_mta-sts` id moves unless it announces the policy the provider holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioner.apply import apply_plan
from provisioner.errors import ProviderError
from provisioner.plan import Change, diff
from provisioner.provider import Progress, Provider
from provisioner.registry import build_provider
from provisioner.rfc8461 import Mode, Policy
from provisioner.state import DesiredDomain, LiveDomain

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def desired(mode: Mode) -> DesiredDomain:
    policy = Policy(mode, 1_209_600, ("mx.example.com",))
    return DesiredDomain("example.com", "local", policy, policy.render(), None)


class RacingRun(Provider):
    """The local provider, with a second run publishing another policy after our policy phase."""

    def __init__(self, inner: Provider, root: Path) -> None:
        self.inner = inner
        self.root = root
        self.name = inner.name
        self.capabilities = inner.capabilities  # type: ignore[misc]

    def managed_domains(self) -> set[str]:
        return self.inner.managed_domains()

    def read(self, domains: Sequence[str], progress: Progress) -> dict[str, LiveDomain]:
        return self.inner.read(domains, progress)

    def apply(self, changes: Sequence[Change], progress: Progress) -> None:
        self.inner.apply(changes, progress)
        if any(c.phase == 1 for c in changes):
            other = desired(Mode.TESTING).policy_text
            path = self.root / "mta-sts.example.com" / ".well-known" / "mta-sts.txt"
            path.write_text(other, encoding="utf-8", newline="")


def test_a_policy_changed_by_another_run_between_phases_stops_the_id(tmp_path: Path) -> None:
    local = build_provider("local", "local", {"path": str(tmp_path)}, tmp_path)
    racing = RacingRun(local, tmp_path)
    plan = diff({"example.com": desired(Mode.ENFORCE)}, {}, NOW)

    with pytest.raises(ProviderError) as caught:
        apply_plan(plan, {"local": racing})

    assert "is not the one its new id announces" in str(caught.value)
    assert "no _mta-sts id was changed" in str(caught.value)
    live = local.read(["example.com"], _Quiet())["example.com"]
    assert live.sts_txt == (), "the id was not published"


def test_the_guard_passes_an_undisturbed_apply(tmp_path: Path) -> None:
    local = build_provider("local", "local", {"path": str(tmp_path)}, tmp_path)
    plan = diff({"example.com": desired(Mode.ENFORCE)}, {}, NOW)
    assert apply_plan(plan, {"local": local}) == len(plan.changes)


class _Quiet:
    def advance(self, amount: int = 1) -> None:
        return None
