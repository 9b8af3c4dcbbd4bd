"""The contract suite's worlds: one fixture per provider, gated by its capabilities."""

from __future__ import annotations

import pytest
from cf_fake_api import FakeCloudflareApi
from cf_fixtures import cf_api, cf_server  # noqa: F401
from cloudflare_world import CloudflareWorld
from local_world import LocalWorld


@pytest.fixture
def local_contract_world(tmp_path, monkeypatch) -> LocalWorld:
    return LocalWorld(tmp_path, monkeypatch)


@pytest.fixture
def cloudflare_contract_world(tmp_path, request) -> CloudflareWorld:
    """The fake Cloudflare API, emptied, with the SDK aimed at it (`cf_api`)."""
    api: FakeCloudflareApi = request.getfixturevalue("cf_api")
    return CloudflareWorld(tmp_path, api)


WORLDS = ["local", "cloudflare"]
"""Provider worlds the suite runs against; each names a fixture `<name>_contract_world`."""


@pytest.fixture(params=WORLDS)
def world(request):
    return request.getfixturevalue(f"{request.param}_contract_world")
