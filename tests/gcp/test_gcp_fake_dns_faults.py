"""The Cloud DNS fake's injected faults, hangs, rate limit and request log, checked through
google-cloud-dns."""

from __future__ import annotations

import pytest
import requests
from gcp_dns_testing import ZONE, client, raw, seed_example, the_zone
from gcp_fake_dns import FakeCloudDns
from gcp_fake_dns_state import DEFAULT_PROJECT
from google.api_core import exceptions as gexc


@pytest.fixture
def seeded(gcp_dns_fake: FakeCloudDns) -> FakeCloudDns:
    return seed_example(gcp_dns_fake)


@pytest.mark.parametrize(
    "status, exc, google_status, reason",
    [
        (429, gexc.TooManyRequests, "RESOURCE_EXHAUSTED", "rateLimitExceeded"),
        (500, gexc.InternalServerError, "INTERNAL", "backendError"),
        (503, gexc.ServiceUnavailable, "UNAVAILABLE", "backendError"),
        (403, gexc.Forbidden, "PERMISSION_DENIED", "forbidden"),
    ],
)
def test_injected_faults_hit_the_next_n_matching_requests(
    seeded: FakeCloudDns, status, exc, google_status, reason
):
    seeded.inject("POST", r"/changes$", status, times=2)
    zone = the_zone(seeded)
    list(zone.list_resource_record_sets())  # another path: untouched
    for _ in range(2):
        change = zone.changes()
        change.add_record_set(zone.resource_record_set("f.example.com.", "A", 300, ["192.0.2.1"]))
        with pytest.raises(exc) as caught:
            change.create()
        assert caught.value.errors[0]["reason"] == reason
    change.create()  # the third goes through
    assert seeded.count("POST", r"/changes$") == 3
    assert [c.status for c in seeded.calls if c.kind == "changes.create"] == [status, status, 200]
    seeded.inject("*", r"", status)
    code, body = raw(seeded, f"/projects/{DEFAULT_PROJECT}/managedZones")
    assert code == status and body["error"]["status"] == google_status
    if status == 429:
        assert "Quota exceeded for quota metric" in body["error"]["message"]
        assert body["error"]["details"][0]["metadata"]["quota_limit"] == "Read requests per minute"
    if status == 403:
        assert "dns.managedZones.list" in body["error"]["message"]


def test_a_hanging_request_times_out_and_reset_lets_it_go(gcp_dns_fake: FakeCloudDns):
    gcp_dns_fake.state.add_zone("example.com.")
    gcp_dns_fake.hang("GET", r"/rrsets$")
    connection = client(gcp_dns_fake)._connection
    path = f"/projects/{DEFAULT_PROJECT}/managedZones/{ZONE}/rrsets"
    with pytest.raises(requests.exceptions.ReadTimeout):
        connection.api_request(method="GET", path=path, timeout=0.5)
    assert connection.api_request(method="GET", path=path, timeout=5)["rrsets"]
    assert [c.status for c in gcp_dns_fake.calls] == [None, 200]


def test_rate_limit_answers_429_beyond_the_limit(gcp_dns_fake: FakeCloudDns):
    gcp_dns_fake.state.add_zone("example.com.")
    gcp_dns_fake.rate_limit(3, 60.0)
    c = client(gcp_dns_fake)
    for _ in range(3):
        list(c.list_zones())
    with pytest.raises(gexc.TooManyRequests):
        list(c.list_zones())
    assert gcp_dns_fake.throttled == 1
    assert gcp_dns_fake.counts() == {"managedZones.list": 4}


def test_the_log_keeps_method_path_query_body_and_headers(seeded: FakeCloudDns):
    zone = the_zone(seeded)
    list(zone.list_resource_record_sets(max_results=7))
    call = seeded.calls[-1]
    assert (call.method, call.path, call.kind) == (
        "GET",
        f"/projects/{DEFAULT_PROJECT}/managedZones/{ZONE}/rrsets",
        "resourceRecordSets.list",
    )
    assert call.query["maxResults"] == "7" and call.body is None
    assert "authorization" not in call.headers  # anonymous credentials send no token
    assert "google-cloud-dns" in call.headers["user-agent"] or call.headers["x-goog-api-client"]
