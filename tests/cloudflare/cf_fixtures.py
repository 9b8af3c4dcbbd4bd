"""Fixtures for the Cloudflare provider: the fake API (one per xdist worker, reset for each
test), the environment that aims the SDK at it, and the Worker runtime (miniflare).

A module of their own (not only `conftest.py`) so that other suites, the provider contract
suite in `tests/contract/` first, can import them by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cf_fake_api import FakeCloudflareApi
from cf_fake_state import ACCOUNT_ID, TOKEN
from cf_miniflare import MiniflareRunner, miniflare_available_or_skip


@pytest.fixture(scope="session")
def cf_server() -> Iterator[FakeCloudflareApi]:
    api = FakeCloudflareApi().start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def cf_api(cf_server: FakeCloudflareApi, monkeypatch: pytest.MonkeyPatch) -> FakeCloudflareApi:
    """The fake with no zones, records, scripts or faults, and the SDK aimed at it."""
    cf_server.reset()
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", cf_server.base_url)
    monkeypatch.delenv("MTASTS_CLOUDFLARE_RATE_LIMIT", raising=False)  # the default limiter
    monkeypatch.delenv("CLOUDFLARE_API_KEY", raising=False)
    monkeypatch.delenv("CLOUDFLARE_EMAIL", raising=False)
    return cf_server


@pytest.fixture
def cf_provider_settings() -> dict[str, str]:
    return {"type": "cloudflare", "account_id": ACCOUNT_ID}


@pytest.fixture(scope="session")
def miniflare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniflareRunner]:
    """Runs a Worker script in workerd; skipped (or failed under CI) without node_modules."""
    miniflare_available_or_skip()
    runner = MiniflareRunner(Path(tmp_path_factory.mktemp("miniflare")))
    try:
        yield runner
    finally:
        runner.stop()
