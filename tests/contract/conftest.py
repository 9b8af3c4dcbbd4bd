"""The contract suite's worlds: one fixture per provider, gated by its capabilities."""

from __future__ import annotations

import pytest
from aws_contract_world import AwsContractWorld
from aws_faults import FaultProxy
from aws_fixtures import aws, fault_proxy, fault_proxy_server, moto_url  # noqa: F401
from cf_fake_api import FakeCloudflareApi
from cf_fixtures import cf_api, cf_server  # noqa: F401
from cloudflare_world import CloudflareWorld
from gcp_contract_world import GcpContractWorld
from local_world import LocalWorld


@pytest.fixture
def local_contract_world(tmp_path, monkeypatch) -> LocalWorld:
    return LocalWorld(tmp_path, monkeypatch)


@pytest.fixture
def cloudflare_contract_world(tmp_path, request) -> CloudflareWorld:
    """The fake Cloudflare API, emptied, with the SDK aimed at it (`cf_api`)."""
    api: FakeCloudflareApi = request.getfixturevalue("cf_api")
    return CloudflareWorld(tmp_path, api)


@pytest.fixture
def aws_contract_world(tmp_path, request) -> AwsContractWorld:
    """moto's server, reset, behind the fault proxy, with boto3 aimed at it (`aws`)."""
    request.getfixturevalue("aws")
    proxy: FaultProxy = request.getfixturevalue("fault_proxy")
    return AwsContractWorld(tmp_path, proxy)


@pytest.fixture
def gcp_contract_world(tmp_path, monkeypatch) -> GcpContractWorld:
    """The Cloud DNS, Compute and Certificate Manager fakes and the GCS emulator."""
    return GcpContractWorld(tmp_path, monkeypatch)


SUFFIX = "_contract_world"


def worlds(config: pytest.Config) -> list[str]:
    """Every world whose fixture `<name>_contract_world` is defined: in this file, in a
    conftest, or in a plugin (`pytest -p myprovider_world`). Adding a provider to the suite
    is adding that one fixture; nothing here lists providers."""
    found: set[str] = set()
    for plugin in config.pluginmanager.get_plugins():
        for attr in getattr(plugin, "__dict__", {}):
            if attr.endswith(SUFFIX) and attr != SUFFIX:
                found.add(attr.removesuffix(SUFFIX))
    return sorted(found)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "world" in metafunc.fixturenames:
        metafunc.parametrize("world", worlds(metafunc.config), indirect=True)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> object:
    return request.getfixturevalue(f"{request.param}{SUFFIX}")
