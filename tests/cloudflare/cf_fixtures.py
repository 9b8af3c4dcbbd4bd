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

UNPACED = "1000000/1"
"""`MTASTS_CLOUDFLARE_RATE_LIMIT` for runs against the fake: no pacing wait in practice."""


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
    # The pacer is shared per token for the whole process (as in a run), and every test
    # here uses the same token: at the default 1,100 per 300 s, a worker's tests would start
    # waiting minutes after their first thousand requests. A rate this large never waits;
    # tests of pacing set their own.
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", UNPACED)
    for knob in (
        "MTASTS_CONNECT_TIMEOUT",
        "MTASTS_READ_TIMEOUT",
        "MTASTS_DEADLINE",
        "MTASTS_WORKERS",
        "MTASTS_CLOUDFLARE_TIMEOUT",
    ):
        monkeypatch.delenv(knob, raising=False)  # the defaults, whatever the shell has set
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
