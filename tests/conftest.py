"""Shared fixtures. The MTA-STS world's servers live for the session (one set per xdist
worker, all on random 127.0.0.1 ports); each test gets them with every record reset."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelpers import QUICKSTART
from harness import MtaStsWorld
from harness.smtp_server import LocalSmtpServer


@pytest.fixture(scope="session")
def mta_sts_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MtaStsWorld]:
    """The started servers; prefer ``mta_sts_world``, which also resets their data."""
    world = MtaStsWorld(tmp_path_factory.mktemp("mta-sts-world")).start()
    try:
        yield world
    finally:
        world.stop()


@pytest.fixture
def mta_sts_world(mta_sts_servers: MtaStsWorld) -> Iterator[MtaStsWorld]:
    """A fresh world: no DNS records, nothing served, no certificate problems, empty logs."""
    mta_sts_servers.reset()
    yield mta_sts_servers
    mta_sts_servers.reset()


@pytest.fixture(scope="session")
def smtp_servers(mta_sts_servers: MtaStsWorld) -> Iterator[LocalSmtpServer]:
    """The started STARTTLS SMTP server (certificates from the world's CA); prefer
    ``smtp_server``, which also resets it."""
    server = LocalSmtpServer(mta_sts_servers.https.ca).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server(smtp_servers: LocalSmtpServer) -> Iterator[LocalSmtpServer]:
    """A local SMTP server offering STARTTLS with a good certificate; set ``mode`` to
    ``no-starttls`` or ``wrong-name`` to break it."""
    smtp_servers.reset()
    yield smtp_servers
    smtp_servers.reset()


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """examples/quickstart.yaml copied into tmp_path, so the repository is never written."""
    spec = tmp_path / "quickstart.yaml"
    shutil.copy(QUICKSTART, spec)
    return spec
