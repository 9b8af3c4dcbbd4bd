"""Fixtures for the Google Cloud provider: the Cloud DNS fake and the GCS emulator, one of
each per session (per xdist worker), reset for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gcp_fake_dns import FakeCloudDns
from gcp_storage import GcsEmulator
from gcp_storage_front import GcsFront

from providers.gcp import transient


@pytest.fixture(autouse=True)
def _no_run_deadline_left_over() -> Iterator[None]:
    """A CLI run in this process left its MTASTS_DEADLINE behind (`transient.start_run`):
    a test of the clients alone must not inherit it."""
    transient._RUN.clear()
    yield
    transient._RUN.clear()


@pytest.fixture(scope="session")
def gcp_dns_server() -> Iterator[FakeCloudDns]:
    """The started fake; prefer ``gcp_dns_fake``, which also resets it."""
    fake = FakeCloudDns().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def gcp_dns_fake(gcp_dns_server: FakeCloudDns) -> Iterator[FakeCloudDns]:
    """The Cloud DNS fake with no zones, calls or faults (hanging requests let go after)."""
    gcp_dns_server.reset()
    yield gcp_dns_server
    gcp_dns_server.reset()


@pytest.fixture(scope="session")
def gcp_storage_server() -> Iterator[GcsEmulator]:
    """The started GCS emulator; prefer ``gcp_storage``, which also wipes it."""
    emulator = GcsEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def gcp_storage(gcp_storage_server: GcsEmulator) -> GcsEmulator:
    """The GCS emulator with no buckets; `gcp_storage.client()` is a storage.Client on it."""
    gcp_storage_server.wipe()
    return gcp_storage_server


@pytest.fixture(scope="session")
def gcp_storage_front_server(gcp_storage_server: GcsEmulator) -> Iterator[GcsFront]:
    front = GcsFront(gcp_storage_server).start()
    try:
        yield front
    finally:
        front.stop()


@pytest.fixture
def gcp_storage_front(gcp_storage_front_server: GcsFront) -> GcsFront:
    """The emulator behind a front that logs requests, injects faults, and applies GCS's
    generation preconditions and listing pages; `gcp_storage_front.client()`."""
    gcp_storage_front_server.reset()
    return gcp_storage_front_server
