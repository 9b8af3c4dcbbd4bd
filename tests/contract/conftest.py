"""The contract suite's worlds: one fixture per provider, gated by its capabilities."""

from __future__ import annotations

import pytest
from local_world import LocalWorld


@pytest.fixture
def local_contract_world(tmp_path, monkeypatch) -> LocalWorld:
    return LocalWorld(tmp_path, monkeypatch)


WORLDS = ["local"]
"""Provider worlds the suite runs against; each names a fixture `<name>_contract_world`."""


@pytest.fixture(params=WORLDS)
def world(request):
    return request.getfixturevalue(f"{request.param}_contract_world")
