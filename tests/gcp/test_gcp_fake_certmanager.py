"""The Certificate Manager fake, driven by google-cloud-certificate-manager's REST client.

What these tests pin down about the library (google-cloud-certificate-manager 1.16):
- `CertificateManagerClient(transport="rest", client_options={"api_endpoint":
  "http://127.0.0.1:PORT"}, credentials=AnonymousCredentials())`; as for Compute the scheme
  must be given;
- `create_*(...).result()` polls `GET /v1/{operation name}` through an operations client
  built on the SAME host: unlike Compute's `insert().result()`, it honours client_options;
- every call carries `$alt=json;enum-encoding=int` and request bodies carry enums as
  numbers (`"type": 1` for FIXED_RECORD); the fake takes both and answers enum names, which
  the library parses too;
- a 503 is retried on EVERY resource method, creates and deletes included (exponential
  backoff, 60 s deadline; TESTING-NOTES said GET only), and on operation polls by
  `.result()`; 429 is not retried and arrives as `TooManyRequests` with
  `reason == "RATE_LIMIT_EXCEEDED"` and the quota in `metadata`; FAILED_PRECONDITION arrives
  as `BadRequest` (the HTTP status decides the class);
- `.result(timeout=T)` does not bound one poll: an operation GET that never answers blocks
  it until the connection drops (the per-request timeout is not T); a direct call's
  `timeout=` does bound it, raising `requests.exceptions.ReadTimeout`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from gcp_fake_certmanager import FakeCertificateManager

cm = pytest.importorskip("google.cloud.certificate_manager_v1")
from google.api_core import exceptions  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402

PARENT = "projects/p/locations/global"
HOST = "mta-sts.example.com"
PROVISIONING = cm.Certificate.ManagedCertificate.State.PROVISIONING
ACTIVE = cm.Certificate.ManagedCertificate.State.ACTIVE
FAILED = cm.Certificate.ManagedCertificate.State.FAILED


@pytest.fixture(scope="module")
def server() -> Iterator[FakeCertificateManager]:
    fake = FakeCertificateManager().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake(server: FakeCertificateManager) -> Iterator[FakeCertificateManager]:
    server.reset()
    server.operation_polls, server.provisioning_polls = 1, 2
    server.provisioning_seconds, server.public_cname = 0.0, None
    server.quotas.clear()
    yield server
    server.reset()


@pytest.fixture
def api(fake: FakeCertificateManager):
    return cm.CertificateManagerClient(
        transport="rest",
        client_options={"api_endpoint": fake.endpoint},
        credentials=AnonymousCredentials(),
    )


def authorize(api, domain: str = HOST, rid: str = "auth"):
    return api.create_dns_authorization(
        parent=PARENT,
        dns_authorization_id=rid,
        dns_authorization=cm.DnsAuthorization(domain=domain),
    ).result(timeout=10)


def certificate(api, auths: list[str], domains: list[str] | None = None, rid: str = "cert"):
    managed = cm.Certificate.ManagedCertificate(domains=domains or [HOST], dns_authorizations=auths)
    return api.create_certificate(
        parent=PARENT, certificate_id=rid, certificate=cm.Certificate(managed=managed)
    ).result(timeout=10)


def test_operations_are_polled_on_the_given_endpoint(fake, api):
    fake.operation_polls = 2
    op = api.create_certificate_map(
        parent=PARENT, certificate_map_id="map", certificate_map=cm.CertificateMap()
    )
    assert not op.done()
    assert op.result(timeout=10).name == f"{PARENT}/certificateMaps/map"
    assert fake.count("GET", f"^/v1/{PARENT}/operations/operation-") >= 2
    assert fake.calls[0].query["certificateMapId"] == "map"
    assert api._transport.operations_client._transport._host == fake.endpoint
    deleted = api.delete_certificate_map(name=f"{PARENT}/certificateMaps/map")
    deleted.result(timeout=10)
    assert fake.names("certificateMaps") == []


def test_dns_authorization_record(fake, api):
    auth = api.create_dns_authorization(
        parent=PARENT,
        dns_authorization_id="auth",
        dns_authorization=cm.DnsAuthorization(
            domain=HOST, type_=cm.DnsAuthorization.Type.FIXED_RECORD
        ),
    ).result(timeout=10)
    assert fake.calls[0].body["type"] == 1
    record = auth.dns_resource_record
    assert record.name == f"_acme-challenge.{HOST}." and record.type_ == "CNAME"
    assert record.data.endswith(".authorize.certificatemanager.goog.")
    token, n = record.data.split(".")[:2]
    assert len(token) == 36 and n.isdigit()
    assert auth.type_ == cm.DnsAuthorization.Type.FIXED_RECORD
    again = authorize(api, rid="auth2")
    assert again.dns_resource_record.data == record.data
    assert api.get_dns_authorization(name=auth.name).domain == HOST
    with pytest.raises(exceptions.Conflict):
        authorize(api)
    with pytest.raises(exceptions.BadRequest):
        authorize(api, domain="not a domain", rid="bad")


def test_certificate_provisions_after_reads_then_map_entry_turns_active(fake, api):
    auth = authorize(api)
    cert = certificate(api, [auth.name])
    assert cert.managed.state == PROVISIONING and list(cert.san_dnsnames) == [HOST]
    assert cert.managed.authorization_attempt_info[0].domain == HOST
    the_map = api.create_certificate_map(
        parent=PARENT, certificate_map_id="map", certificate_map=cm.CertificateMap()
    ).result(timeout=10)
    entry = api.create_certificate_map_entry(
        parent=the_map.name,
        certificate_map_entry_id="e",
        certificate_map_entry=cm.CertificateMapEntry(hostname=HOST, certificates=[cert.name]),
    ).result(timeout=10)
    assert entry.state == cm.ServingState.PENDING
    assert api.get_certificate(name=cert.name).managed.state == PROVISIONING
    got = api.get_certificate(name=cert.name)
    assert got.managed.state == ACTIVE and got.expire_time
    assert got.managed.authorization_attempt_info[0].state.name == "AUTHORIZED"
    assert api.get_certificate_map_entry(name=entry.name).state == cm.ServingState.ACTIVE
    with pytest.raises(exceptions.Conflict):
        api.create_certificate_map_entry(
            parent=the_map.name,
            certificate_map_entry_id="e2",
            certificate_map_entry=cm.CertificateMapEntry(hostname=HOST, certificates=[cert.name]),
        )


def test_provisioning_waits_for_time_and_public_cname(fake, api):
    fake.provisioning_polls, fake.provisioning_seconds = 0, 0.3
    published: dict[str, str] = {}
    fake.public_cname = published.get
    auth = authorize(api)
    cert = certificate(api, [auth.name])
    assert api.get_certificate(name=cert.name).managed.state == PROVISIONING
    time.sleep(0.35)
    assert api.get_certificate(name=cert.name).managed.state == PROVISIONING
    published[auth.dns_resource_record.name] = auth.dns_resource_record.data.upper()
    assert api.get_certificate(name=cert.name).managed.state == ACTIVE


def test_certificate_failure_and_missing_authorization(fake, api):
    auth = authorize(api)
    fake.fail(HOST, "AUTHORIZATION_ISSUE")
    cert = certificate(api, [auth.name])
    got = api.get_certificate(name=cert.name)
    assert got.managed.state == FAILED
    assert got.managed.provisioning_issue.reason.name == "AUTHORIZATION_ISSUE"
    with pytest.raises(exceptions.BadRequest, match="no DNS authorization"):
        certificate(api, [auth.name], domains=[HOST, "mta-sts.other.example"], rid="c2")
    with pytest.raises(exceptions.BadRequest, match="not found"):
        certificate(api, [f"{PARENT}/dnsAuthorizations/nope"], rid="c3")


def test_in_use_deletes_are_failed_precondition(fake, api):
    auth = authorize(api)
    cert = certificate(api, [auth.name])
    the_map = api.create_certificate_map(
        parent=PARENT, certificate_map_id="map", certificate_map=cm.CertificateMap()
    ).result(timeout=10)
    entry = api.create_certificate_map_entry(
        parent=the_map.name,
        certificate_map_entry_id="e",
        certificate_map_entry=cm.CertificateMapEntry(hostname=HOST, certificates=[cert.name]),
    ).result(timeout=10)
    for name, delete in [
        (cert.name, api.delete_certificate),
        (auth.name, api.delete_dns_authorization),
        (the_map.name, api.delete_certificate_map),
    ]:
        with pytest.raises(exceptions.BadRequest) as info:
            delete(name=name)
        assert info.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    api.delete_certificate_map_entry(name=entry.name).result(timeout=10)
    api.delete_certificate(name=cert.name).result(timeout=10)
    api.delete_dns_authorization(name=auth.name).result(timeout=10)
    api.delete_certificate_map(name=the_map.name).result(timeout=10)
    assert fake.resources == {}
    with pytest.raises(exceptions.NotFound):
        api.get_certificate(name=cert.name)


def test_update_map_entry_certificates_with_mask(fake, api):
    auth = authorize(api)
    old, new = certificate(api, [auth.name]), certificate(api, [auth.name], rid="new")
    the_map = api.create_certificate_map(
        parent=PARENT, certificate_map_id="map", certificate_map=cm.CertificateMap()
    ).result(timeout=10)
    entry = api.create_certificate_map_entry(
        parent=the_map.name,
        certificate_map_entry_id="e",
        certificate_map_entry=cm.CertificateMapEntry(hostname=HOST, certificates=[old.name]),
    ).result(timeout=10)
    entry.certificates[:] = [new.name]
    updated = api.update_certificate_map_entry(
        certificate_map_entry=entry, update_mask={"paths": ["certificates"]}
    ).result(timeout=10)
    assert list(updated.certificates) == [new.name]
    assert fake.calls[-2].method == "PATCH"
    api.delete_certificate(name=old.name).result(timeout=10)


def test_lists_page(fake, api):
    auth = authorize(api)
    for i in range(5):
        certificate(api, [auth.name], rid=f"c{i}")
    fake.calls.clear()
    request = cm.ListCertificatesRequest(parent=PARENT, page_size=2)
    names = [c.name.rsplit("/", 1)[1] for c in api.list_certificates(request=request)]
    assert names == ["c0", "c1", "c2", "c3", "c4"]
    assert fake.count("GET", "/certificates$") == 3
    assert [a.name for a in api.list_dns_authorizations(parent=PARENT)] == [auth.name]


def test_quota_errors_retries_and_hangs(fake, api):
    fake.inject("GET", "/certificates$", 503, times=2)
    assert list(api.list_certificates(parent=PARENT)) == []
    assert fake.count("GET", "/certificates$") == 3
    fake.inject("POST", "/dnsAuthorizations$", 503)
    authorize(api)
    assert fake.count("POST", "/dnsAuthorizations$") == 2
    fake.inject("GET", "/operations/", 503)
    authorize(api, rid="auth2")
    fake.inject("POST", "/dnsAuthorizations$", 429)
    with pytest.raises(exceptions.TooManyRequests) as info:
        authorize(api, rid="auth3")
    assert info.value.reason == "RATE_LIMIT_EXCEEDED"
    assert info.value.metadata["quota_limit"] == "Requests per minute"
    fake.calls.clear()
    fake.rate_limit(2, 60.0)
    api.list_certificates(parent=PARENT)
    api.list_certificate_maps(parent=PARENT)
    with pytest.raises(exceptions.TooManyRequests):
        api.list_dns_authorizations(parent=PARENT)
    assert fake.throttled == 1
    fake.reset()
    fake.hang("GET", "/certificates$")
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.list_certificates(parent=PARENT, timeout=0.5)
    fake.hang("GET", "/operations/", hold=1.5)
    op = api.create_certificate_map(
        parent=PARENT, certificate_map_id="map", certificate_map=cm.CertificateMap()
    )
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        op.result(timeout=0.3)
    assert time.monotonic() - started >= 1.4


def test_seed_and_what_a_proxy_would_serve(fake, api):
    auth = fake.seed("dnsAuthorizations", "auth", {"domain": HOST})
    cert = fake.seed(
        "certificates", "cert", {"managed": {"domains": [HOST], "dnsAuthorizations": ["auth"]}}
    )
    assert cert["managed"]["dnsAuthorizations"] == [auth["name"]]
    fake.seed("certificateMaps", "map", {})
    fake.seed(
        "certificateMapEntries",
        "e",
        {"hostname": "MTA-STS.example.com", "certificates": [cert["name"]]},
        parent=f"{PARENT}/certificateMaps/map",
    )
    ref = f"//certificatemanager.googleapis.com/{PARENT}/certificateMaps/map"
    assert fake.map_exists(ref) and not fake.map_exists(ref + "x")
    assert fake.serving_certificate(ref, HOST) is None  # still PROVISIONING
    fake.finish_provisioning()
    api.get_certificate(name=cert["name"])
    assert fake.serving_certificate(ref, HOST)["name"] == cert["name"]
    assert fake.serving_certificate(ref, "mta-sts.other.example") is None
    assert [
        e.hostname for e in api.list_certificate_map_entries(parent=f"{PARENT}/certificateMaps/map")
    ] == [HOST]


def test_resource_quota(fake, api):
    fake.quotas["dnsAuthorizations"] = 1
    authorize(api)
    with pytest.raises(exceptions.TooManyRequests, match="dnsAuthorizations"):
        authorize(api, domain="mta-sts.other.example", rid="auth2")


def test_an_accepted_mutation_whose_operation_fails(fake, api):
    fake.fail_operations("POST", "/certificateMaps$", "Quota exceeded: certificate maps", code=8)
    op = api.create_certificate_map(
        parent=PARENT, certificate_map_id="map", certificate_map=cm.CertificateMap()
    )
    with pytest.raises(exceptions.ResourceExhausted, match="certificate maps"):
        op.result(timeout=10)
    assert fake.names("certificateMaps") == []
