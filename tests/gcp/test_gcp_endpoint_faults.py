"""Failures of the endpoint half's APIs on the fakes: 429 and 5xx retried (bounded), 403 and
quotas as one line, a hung API bounded by MTASTS_READ_TIMEOUT, a stale URL map fingerprint
re-read once, operations that end in error, and Certificate Manager's pace."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gcp_endpoint_testing import POLICY_PATH, PROJECT, Dns, Fakes, converge, fresh, opened, started

from providers.gcp import certmanager
from providers.gcp.endpoint import GcpEndpoints
from providers.gcp.settings import GcpSettings
from provisioner.errors import ProviderError
from provisioner.knobs import Rate
from provisioner.pacing import shared_pacer


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    yield from started()


@pytest.fixture
def fakes(servers, monkeypatch) -> Iterator[Fakes]:
    yield from fresh(servers, monkeypatch)


@pytest.fixture
def endpoints(fakes):
    yield from opened(fakes)


def one_line_error(endpoints, domains=("example.com",)) -> str:
    with pytest.raises(ProviderError) as caught:
        converge(endpoints, list(domains))
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("g: ")
    return message


def served(fakes, domain: str = "example.com") -> bool:
    route = fakes.compute.resolve(f"mta-sts.{domain}", POLICY_PATH, project=PROJECT)
    return route.object_key == f"mta-sts.{domain}{POLICY_PATH}"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_certificate_manager_errors_are_retried(fakes, endpoints, status):
    fakes.certs.inject("POST", r"/certificates$", status, times=2)
    fakes.certs.inject("GET", r"/operations/", status, times=1)
    converge(endpoints, ["example.com"])
    assert served(fakes)
    assert fakes.certs.count("POST", r"/certificates$") == 3


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_compute_errors_are_retried(fakes, endpoints, status):
    fakes.compute.inject("POST", r"/global/urlMaps$", status, times=2)
    fakes.compute.inject("GET", r"/global/operations/", status, times=1)
    fakes.compute.inject("GET", r"/global/addresses$", status, times=1)
    converge(endpoints, ["example.com"])
    assert served(fakes)
    assert fakes.compute.names("urlMaps", project=PROJECT) == ["mtasts-lb-urls"]


def test_a_retried_insert_makes_one_resource(fakes, endpoints):
    """The requestId makes a repeated insert answer the first operation."""
    converge(endpoints, ["example.com"])
    ids = {c.query.get("requestId") for c in fakes.compute.calls if c.method == "POST"}
    assert None not in ids


def test_persistent_429_ends_in_one_line_naming_the_quota(fakes, endpoints, monkeypatch):
    monkeypatch.setenv("MTASTS_GCP_RETRY_TIMEOUT", "0.2")
    fakes.certs.inject("POST", r"/dnsAuthorizations$", 429, times=10**6)
    message = one_line_error(endpoints)
    assert "example.com" in message and "HTTP 429" in message
    assert "Quota exceeded" in message and "Requests per minute" in message


def test_a_resource_quota_is_one_line(fakes, endpoints, monkeypatch):
    monkeypatch.setenv("MTASTS_GCP_RETRY_TIMEOUT", "0.2")
    fakes.certs.quotas["certificates"] = 1
    message = one_line_error(endpoints, ["example.com", "example.org"])
    assert "Quota 'certificates' exceeded" in message


@pytest.mark.parametrize(
    ("fake", "method", "path", "doing"),
    [
        ("certs", "POST", r"/certificateMapEntries$", "creating certificate map entry"),
        ("certs", "GET", r"/dnsAuthorizations$", "listing DNS authorizations"),
        ("compute", "POST", r"/global/targetHttpsProxies$", "creating target HTTPS proxy"),
        ("compute", "GET", r"/global/forwardingRules$", "listing global forwarding rules"),
    ],
)
def test_permission_denied_is_one_line_not_retried(fakes, endpoints, fake, method, path, doing):
    getattr(fakes, fake).inject(method, path, 403, times=10**6, message="Permission denied")
    message = one_line_error(endpoints)
    assert doing in message and "HTTP 403" in message and "Permission denied" in message
    assert getattr(fakes, fake).count(method, path) == 1


def test_a_hung_api_is_bounded_by_the_read_timeout(fakes, endpoints, monkeypatch):
    monkeypatch.setenv("MTASTS_READ_TIMEOUT", "0.5")
    fakes.compute.hang("GET", r"/global/urlMaps$", hold=30.0)
    started_at = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        endpoints.read(["example.com"])
    assert time.monotonic() - started_at < 10
    assert "no answer in time" in str(caught.value) and "URL map" in str(caught.value)


def test_a_hung_operation_poll_is_bounded(fakes, endpoints, monkeypatch):
    monkeypatch.setenv("MTASTS_READ_TIMEOUT", "0.5")
    fakes.certs.hang("GET", r"/operations/", hold=30.0)
    started_at = time.monotonic()
    message = one_line_error(endpoints)
    assert time.monotonic() - started_at < 10
    assert "no answer in time" in message


def test_a_failed_operation_is_one_line(fakes, endpoints):
    fakes.compute.fail_operations(
        "POST",
        r"/global/urlMaps$",
        "Quota 'URL_MAPS' exceeded. Limit: 0.0 globally.",
        code="QUOTA_EXCEEDED",
    )
    message = one_line_error(endpoints)
    assert "creating URL map mtasts-lb-urls failed" in message
    assert "QUOTA_EXCEEDED" in message and "URL_MAPS" in message


def test_a_failed_certificate_manager_operation_is_one_line(fakes, endpoints):
    fakes.certs.fail_operations("POST", r"/certificates$", "Quota exhausted", code=8)
    message = one_line_error(endpoints)
    assert "example.com" in message and "Quota exhausted" in message


def test_url_map_over_its_size_limit_is_one_line(fakes, endpoints):
    converge(endpoints, ["example.com"])
    fakes.compute.url_map_max_bytes = 4_000
    domains = [f"d{i}.example" for i in range(5)]
    message = one_line_error(endpoints, domains)
    assert "updating URL map" in message and "maximum size" in message
    assert served(fakes)  # nothing of the refused update was applied


def test_a_stale_fingerprint_is_read_again_once_keeping_the_other_writers_rule(fakes, endpoints):
    converge(endpoints, ["example.com"])
    inventory = endpoints.read([])
    with fakes.compute.lock:  # someone else adds a host rule after our read
        umap = fakes.compute.resources["urlMaps"][f"{PROJECT}/mtasts-lb-urls"]
        umap["hostRules"].append({"hosts": ["www.example.net"], "pathMatcher": "theirs"})
        umap["pathMatchers"].append({"name": "theirs", "defaultService": umap["defaultService"]})
        umap["fingerprint"] = "new"
    fakes.forget_calls()
    endpoints.converge(inventory, ["example.com", "example.org"], Dns().write)
    assert fakes.compute.count("PATCH", r"/urlMaps/") == 2
    assert fakes.compute.count("GET", r"/urlMaps/mtasts-lb-urls$") == 1
    assert served(fakes, "example.org") and served(fakes, "example.com")
    umap = fakes.compute.get("urlMaps", "mtasts-lb-urls", project=PROJECT)
    assert {"hosts": ["www.example.net"], "pathMatcher": "theirs"} in umap["hostRules"]


def test_a_fingerprint_stale_twice_is_one_line(fakes, endpoints):
    converge(endpoints, ["example.com"])
    fakes.compute.inject("PATCH", r"/urlMaps/", 412, times=2)
    message = one_line_error(endpoints, ["example.com", "example.org"])
    assert "URL map mtasts-lb-urls changed again" in message and "HTTP 412" in message
    assert "nothing of mtasts's change was applied" in message
    assert fakes.compute.count("PATCH", r"/urlMaps/") == 2
    assert not served(fakes, "example.org") and served(fakes, "example.com")


def test_every_certificate_manager_request_is_paced(fakes, endpoints, monkeypatch):
    monkeypatch.setenv("MTASTS_GCP_CERTIFICATE_MANAGER_RATE", "1000/60")
    pacer = shared_pacer(PROJECT, "certificatemanager", Rate(1000, 60.0))
    before = pacer.sent
    converge(endpoints, ["example.com", "example.org"])
    assert pacer.sent - before == len(fakes.certs.calls)


def test_listings_page_and_each_page_is_paced(fakes, endpoints, monkeypatch):
    names = ["a.example", "b.example", "c.example", "d.example", "e.example"]
    converge(endpoints, names)
    monkeypatch.setattr(certmanager, "PAGE", 2)
    monkeypatch.setenv("MTASTS_GCP_CERTIFICATE_MANAGER_RATE", "1000/60")
    pacer = shared_pacer(PROJECT, "certificatemanager", Rate(1000, 60.0))
    before = pacer.sent
    fakes.forget_calls()
    inventory = endpoints.read(names)
    # three listings of three pages each, and the certificate map's ownership get
    assert len(fakes.certs.calls) == 3 * 3 + 1
    assert pacer.sent - before == len(fakes.certs.calls)
    assert endpoints.managed_hosts(inventory) == {f"mta-sts.{d}" for d in names}
    for domain in names:
        assert endpoints.describe(inventory, domain) == endpoints.wanted(domain)


def test_no_credentials_is_one_line(monkeypatch, tmp_path):
    """Without an endpoint override the clients use Application Default Credentials."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    ep = GcpEndpoints("g", GcpSettings(project=PROJECT))
    try:
        with pytest.raises(ProviderError) as caught:
            ep.read(["example.com"])
    finally:
        ep.close()
    message = str(caught.value)
    assert "\n" not in message and message.startswith("g: ")
    assert "credentials" in message


def test_an_operation_answered_failed_is_one_line(fakes, endpoints):
    fakes.compute.operation_polls = 0
    fakes.certs.operation_polls = 0
    fakes.compute.fail_operations(
        "POST", r"/global/urlMaps$", "Quota 'URL_MAPS' exceeded.", code="QUOTA_EXCEEDED"
    )
    message = one_line_error(endpoints)
    assert "creating URL map mtasts-lb-urls failed" in message and "URL_MAPS" in message
    fakes.certs.fail_operations("POST", r"/certificates$", "Quota exhausted", code=8)
    message = one_line_error(endpoints, ["example.org"])
    assert "example.org" in message and "Quota exhausted" in message
