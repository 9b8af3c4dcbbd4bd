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


WORLDS = ["local", "cloudflare", "aws", "gcp"]
"""Provider worlds the suite runs against; each names a fixture `<name>_contract_world`."""


@pytest.fixture(params=WORLDS)
def world(request):
    return request.getfixturevalue(f"{request.param}_contract_world")
