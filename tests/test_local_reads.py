"""The local provider reads each policy once per plan (issue 9.9): `managed_domains` hands the
bodies it read to the `read` right after it, once; any later read goes to the files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from clihelpers import policy_file, simple_domains, write_spec

from providers.localtree import LocalTree
from provisioner.apply import apply_plan
from provisioner.provider import NoProgress
from provisioner.refresh import compute_plan
from provisioner.registry import build_provider, build_providers
from provisioner.spec import load_spec

DOMAINS = ["a.example", "b.example", "c.example"]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Files read through the tree, by file name (`mta-sts.txt`, `<domain>.zone`)."""
    counted: Counter[str] = Counter()
    real = LocalTree.read

    def read(self: LocalTree, parts, limit):  # type: ignore[no-untyped-def]
        counted[parts[-1]] += 1
        return real(self, parts, limit)

    monkeypatch.setattr(LocalTree, "read", read)
    yield counted


def plan_and_apply(tmp_path):  # type: ignore[no-untyped-def]
    spec = load_spec(write_spec(tmp_path, simple_domains(DOMAINS)))
    built = build_providers(spec)
    result = compute_plan(spec, built)
    apply_plan(result.plan, built)
    return spec


def test_a_plan_reads_each_policy_and_each_fragment_once(tmp_path, reads) -> None:
    spec = plan_and_apply(tmp_path)
    reads.clear()
    result = compute_plan(spec, build_providers(spec))
    assert not result.plan.has_changes
    assert reads == {"mta-sts.txt": len(DOMAINS), **{f"{d}.zone": 1 for d in DOMAINS}}


def test_an_empty_tree_reads_no_policy_at_all(tmp_path, reads) -> None:
    spec = load_spec(write_spec(tmp_path, simple_domains(DOMAINS)))
    compute_plan(spec, build_providers(spec))
    assert reads["mta-sts.txt"] == 0, "the listing already says there is no web root"


def test_the_handover_is_used_once_and_a_later_read_sees_the_files(tmp_path) -> None:
    plan_and_apply(tmp_path)
    provider = build_provider("local", "local", {"path": "out"}, tmp_path)
    assert provider.managed_domains() == set(DOMAINS)
    first = provider.read(DOMAINS, NoProgress())
    changed = policy_file(tmp_path / "out", "a.example")
    changed.write_bytes(changed.read_bytes().replace(b"86400", b"86401"))
    again = provider.read(DOMAINS, NoProgress())
    assert first["a.example"].policy_text != again["a.example"].policy_text
    assert "86401" in (again["a.example"].policy_text or "")


def test_a_web_root_made_after_the_listing_is_read_by_a_later_read(tmp_path) -> None:
    provider = build_provider("local", "local", {"path": "out"}, tmp_path)
    assert provider.managed_domains() == set()
    assert provider.read(["a.example"], NoProgress())["a.example"].policy_text is None
    plan_and_apply(tmp_path)
    live = provider.read(["a.example"], NoProgress())["a.example"]
    assert live.policy_text is not None and live.policy_text.startswith("version: STSv1")
