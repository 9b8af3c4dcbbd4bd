"""The suite finds its worlds by fixture name: adding a provider is adding one fixture."""

from __future__ import annotations

import pytest
from conftest import worlds


def test_every_world_fixture_is_found(pytestconfig: pytest.Config) -> None:
    assert {"aws", "cloudflare", "gcp", "local"} <= set(worlds(pytestconfig))
