"""AWS fixtures: moto's real HTTP server (one per xdist worker, port 0) behind a fault proxy.

Importable from other suites (tests/contract/conftest.py imports them for the contract
suite's AWS world); tests/aws/conftest.py re-exports them for the AWS tests.

Every test gets a reset moto (empty account), dummy credentials, AWS_ENDPOINT_URL aimed at
the proxy, Route53 pacing raised to keep tests fast (the limiter has its own test at the
real 5 requests a second), ACM certificates issued at their first poll (PENDING_VALIDATION
when requested), and a zeroed API-call counter.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator

os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "0")  # read when moto.settings is imported

import pytest
from aws_faults import FaultProxy
from aws_world import AwsWorld
from moto import settings as moto_settings
from moto.server import ThreadedMotoServer

from providers.aws.session import API_CALLS

ACCESS_KEY = "AKIAMTASTSTESTKEY000"
SECRET_KEY = "mtasts-test-secret-Zx9Yw8Vu7Ts6"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    moto_settings.ACM_VALIDATION_WAIT = 0  # PENDING_VALIDATION until the first poll
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fault_proxy_server(moto_url: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_url).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def fault_proxy(fault_proxy_server: FaultProxy) -> FaultProxy:
    fault_proxy_server.rules.clear()
    fault_proxy_server.functions.clear()
    fault_proxy_server.arrivals.clear()
    return fault_proxy_server


@pytest.fixture
def aws(
    moto_url: str, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> AwsWorld:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.url)
    monkeypatch.setenv("MTASTS_AWS_ROUTE53_RPS", "500")
    monkeypatch.setenv("MTASTS_AWS_CERT_TIMEOUT", "30")
    monkeypatch.setenv("MTASTS_AWS_DEPLOY_TIMEOUT", "30")
    API_CALLS.reset()
    return AwsWorld(tmp_path, fault_proxy.functions)
