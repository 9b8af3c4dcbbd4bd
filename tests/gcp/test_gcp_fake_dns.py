"""The Cloud DNS fake, checked through the real client library (google-cloud-dns) and, for
what the library cannot send (filters, raw error envelopes), through plain HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from gcp_dns_testing import STS, ZONE, client, raw, rrset, seed_example, the_zone
from gcp_fake_dns import FakeCloudDns
from gcp_fake_dns_errors import DnsApiError
from gcp_fake_dns_state import DEFAULT_PROJECT
from google.api_core import exceptions as gexc


@pytest.fixture
def seeded(gcp_dns_fake: FakeCloudDns) -> FakeCloudDns:
    return seed_example(gcp_dns_fake)


# Zones


def test_list_zones_pages_with_page_tokens(gcp_dns_fake: FakeCloudDns):
    for i in range(5):
        gcp_dns_fake.state.add_zone(f"d{i}.example.")
    gcp_dns_fake.state.add_zone("internal.example.", visibility="private")
    gcp_dns_fake.state.add_zone("other.example.", project="another-project")
    gcp_dns_fake.page_size = 2
    pages = [list(page) for page in client(gcp_dns_fake).list_zones().pages]
    assert [len(p) for p in pages] == [2, 2, 2]
    zones = {z.name: z for page in pages for z in page}
    assert sorted(zones) == [f"d{i}-example" for i in range(5)] + ["internal-example"]
    assert zones["d0-example"].dns_name == "d0.example."
    assert zones["internal-example"]._properties["visibility"] == "private"
    assert zones["d0-example"]._properties["visibility"] == "public"
    assert zones["d0-example"].zone_id.isdigit()
    assert zones["d0-example"].created is not None
    queries = [c.query for c in gcp_dns_fake.calls]
    assert gcp_dns_fake.count(kind="managedZones.list") == 3
    assert "pageToken" not in queries[0] and all("pageToken" in q for q in queries[1:])
    status, last = raw(gcp_dns_fake, f"/projects/{DEFAULT_PROJECT}/managedZones?maxResults=6")
    assert status == 200 and len(last["managedZones"]) == 6 and "nextPageToken" not in last
    assert last["kind"] == "dns#managedZonesListResponse"
    assert {z["kind"] for z in last["managedZones"]} == {"dns#managedZone"}


def test_list_zones_filters_by_dns_name_and_rejects_a_bad_page_token(gcp_dns_fake):
    gcp_dns_fake.state.add_zone("example.com.")
    gcp_dns_fake.state.add_zone("example.org.")
    base = f"/projects/{DEFAULT_PROJECT}/managedZones"
    _, found = raw(gcp_dns_fake, base + "?dnsName=example.org.")
    assert [z["name"] for z in found["managedZones"]] == ["example-org"]
    status, error = raw(gcp_dns_fake, base + "?pageToken=garbage")
    assert status == 400 and error["error"]["errors"][0]["reason"] == "invalid"


def test_zone_create_get_delete_through_the_library(gcp_dns_fake: FakeCloudDns):
    c = client(gcp_dns_fake)
    zone = c.zone("new-zone", "new.example.", description="made by a test")
    assert not zone.exists()
    zone.create()
    assert zone.exists() and zone.zone_id and zone.name_servers
    by_id = c.zone(zone.zone_id, "new.example.")
    by_id.reload()
    assert by_id._properties["name"] == "new-zone"
    with pytest.raises(gexc.Conflict):
        c.zone("new-zone", "new.example.").create()
    with pytest.raises(gexc.BadRequest):
        c.zone("Bad_Name", "bad.example.").create()
    apex = {(r.name, r.record_type) for r in zone.list_resource_record_sets()}
    assert apex == {("new.example.", "SOA"), ("new.example.", "NS")}
    changes = list(zone.list_changes())
    assert [(ch.name, ch.status) for ch in changes] == [("0", "done")]
    zone.delete()
    assert not zone.exists()


def test_a_zone_with_records_cannot_be_deleted(seeded: FakeCloudDns):
    with pytest.raises(gexc.BadRequest, match="not empty"):
        the_zone(seeded).delete()


def test_unknown_zone_is_404_in_googles_envelope(gcp_dns_fake: FakeCloudDns):
    with pytest.raises(gexc.NotFound):
        list(client(gcp_dns_fake).zone("nope", "nope.example.").list_resource_record_sets())
    status, body = raw(gcp_dns_fake, f"/projects/{DEFAULT_PROJECT}/managedZones/nope/rrsets")
    assert status == 404
    error = body["error"]
    assert error["code"] == 404 and error["status"] == "NOT_FOUND"
    assert error["errors"][0]["reason"] == "notFound" and "nope" in error["message"]


# Record sets


def test_rrsets_are_listed_as_given_with_paging(seeded: FakeCloudDns):
    seeded.page_size = 2
    zone = the_zone(seeded)
    pages = [list(p) for p in zone.list_resource_record_sets().pages]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert seeded.count("GET", r"/rrsets$", kind="resourceRecordSets.list") == 3
    found = {(r.name, r.record_type): (r.ttl, r.rrdatas) for p in pages for r in p}
    assert found[("example.com.", "TXT")] == (3600, ['"v=spf1 -all"', '"a" "b"'])
    assert found[(STS, "TXT")] == (300, ['"v=STSv1; id=20240101"'])
    assert found[("www.example.com.", "CNAME")] == (60, ["example.com."])
    assert {("example.com.", "SOA"), ("example.com.", "NS")} <= set(found)
    _, body = raw(seeded, f"/projects/{DEFAULT_PROJECT}/managedZones/{ZONE}/rrsets")
    assert {r["kind"] for r in body["rrsets"]} == {"dns#resourceRecordSet"}
    assert all(isinstance(r["ttl"], int) for r in body["rrsets"])


def test_rrsets_filter_by_name_and_type(seeded: FakeCloudDns):
    base = f"/projects/{DEFAULT_PROJECT}/managedZones/{ZONE}/rrsets"
    _, by_name = raw(seeded, base + "?name=example.com.")
    assert sorted(r["type"] for r in by_name["rrsets"]) == ["NS", "SOA", "TXT"]
    _, by_both = raw(seeded, base + "?name=example.com.&type=TXT")
    assert [r["rrdatas"] for r in by_both["rrsets"]] == [['"v=spf1 -all"', '"a" "b"']]
    _, none = raw(seeded, base + "?name=missing.example.com.")
    assert none["rrsets"] == []
    status, _ = raw(seeded, base + "?type=TXT")
    assert status == 400


# Changes


def test_a_change_replaces_an_rrset_and_reads_done_after_one_pending_get(seeded: FakeCloudDns):
    zone = the_zone(seeded)
    old = rrset(zone, STS, "TXT")
    change = zone.changes()
    change.delete_record_set(old)
    change.add_record_set(zone.resource_record_set(STS, "TXT", 600, ['"v=STSv1; id=2"']))
    change.add_record_set(zone.resource_record_set("mta-sts.example.com.", "A", 300, ["192.0.2.1"]))
    change.create()
    assert change.status == "pending" and change.name and change.started is not None
    assert [(a.name, a.ttl) for a in change.additions] == [
        (STS, 600),
        ("mta-sts.example.com.", 300),
    ]
    assert [d.rrdatas for d in change.deletions] == [['"v=STSv1; id=20240101"']]
    statuses = []
    while change.status != "done":
        change.reload()
        statuses.append(change.status)
    assert statuses == ["pending", "done"]
    assert seeded.state.rrset(ZONE, STS, "TXT")["rrdatas"] == ['"v=STSv1; id=2"']
    assert seeded.state.rrset(ZONE, STS, "TXT")["ttl"] == 600
    sent = next(c for c in seeded.calls if c.kind == "changes.create")
    assert sent.body["additions"][0]["ttl"] == "600"  # the library sends ttl as a string
    assert seeded.counts()["changes.get"] == 2


@pytest.mark.parametrize("pending_gets, expected", [(0, []), (3, ["pending"] * 3 + ["done"])])
def test_pending_gets_are_configurable(seeded: FakeCloudDns, pending_gets, expected):
    seeded.state.pending_gets = pending_gets
    zone = the_zone(seeded)
    change = zone.changes()
    change.add_record_set(zone.resource_record_set("x.example.com.", "TXT", 300, ['"x"']))
    change.create()
    statuses = []
    while change.status != "done":
        change.reload()
        statuses.append(change.status)
    assert statuses == expected


def test_adding_an_existing_rrset_is_409_and_nothing_is_applied(seeded: FakeCloudDns):
    zone = the_zone(seeded)
    change = zone.changes()
    change.delete_record_set(rrset(zone, "www.example.com.", "CNAME"))
    change.add_record_set(zone.resource_record_set(STS, "TXT", 300, ['"v=STSv1; id=3"']))
    with pytest.raises(gexc.Conflict, match="already exists"):
        change.create()
    assert seeded.state.rrset(ZONE, "www.example.com.", "CNAME") is not None
    assert len(seeded.state.changes(ZONE)) == 4  # zone creation + 3 seeded


@pytest.mark.parametrize(
    "ttl, rrdatas",
    [
        (301, ['"v=STSv1; id=20240101"']),
        (300, ['"v=STSv1; id=other"']),
        (300, ['"v=STSv1;" "id=20240101"']),
    ],
)
def test_deleting_a_stale_rrset_is_412(seeded: FakeCloudDns, ttl, rrdatas):
    zone = the_zone(seeded)
    change = zone.changes()
    change.delete_record_set(zone.resource_record_set(STS, "TXT", ttl, rrdatas))
    change.add_record_set(zone.resource_record_set(STS, "TXT", 300, ['"v=STSv1; id=4"']))
    with pytest.raises(gexc.PreconditionFailed) as caught:
        change.create()
    assert caught.value.errors[0]["reason"] == "conditionNotMet"
    assert seeded.state.rrset(ZONE, STS, "TXT")["rrdatas"] == ['"v=STSv1; id=20240101"']


def test_deleting_in_another_rrdata_order_matches(seeded: FakeCloudDns):
    zone = the_zone(seeded)
    change = zone.changes()
    change.delete_record_set(
        zone.resource_record_set("example.com.", "TXT", 3600, ['"a" "b"', '"v=spf1 -all"'])
    )
    change.create()
    assert seeded.state.rrset(ZONE, "example.com.", "TXT") is None


def test_every_failing_deletion_is_listed_in_errors(seeded: FakeCloudDns):
    zone = the_zone(seeded)
    change = zone.changes()
    change.delete_record_set(zone.resource_record_set("a.example.com.", "TXT", 300, ['"x"']))
    change.delete_record_set(zone.resource_record_set(STS, "TXT", 1, ['"v=STSv1; id=20240101"']))
    change.delete_record_set(zone.resource_record_set("b.example.com.", "A", 300, ["192.0.2.1"]))
    with pytest.raises(gexc.NotFound) as caught:
        change.create()
    reasons = [(e["reason"], e["message"].split("'")[1]) for e in caught.value.errors]
    assert reasons == [
        ("notFound", "entity.change.deletions[0]"),
        ("conditionNotMet", "entity.change.deletions[1]"),
        ("notFound", "entity.change.deletions[2]"),
    ]
    _, body = raw(
        seeded,
        f"/projects/{DEFAULT_PROJECT}/managedZones/{ZONE}/changes",
        "POST",
        {"additions": []},
    )
    assert body["error"]["errors"][0]["reason"] == "required"


def test_deleting_a_missing_rrset_is_404(seeded: FakeCloudDns):
    zone = the_zone(seeded)
    change = zone.changes()
    change.delete_record_set(zone.resource_record_set("gone.example.com.", "TXT", 300, ['"x"']))
    with pytest.raises(gexc.NotFound, match="does not exist"):
        change.create()


@pytest.mark.parametrize(
    "name, rtype, rrdatas, reason",
    [
        ("www.example.com.", "A", ["192.0.2.1"], "cnameResourceRecordSetConflict"),
        ("x.example.org.", "TXT", ['"x"'], "invalid"),
        ("x.example.com", "TXT", ['"x"'], "invalid"),
        ("x.example.com.", "BOGUS", ["x"], "invalid"),
        ("mta-sts.example.com.", "A", ["2001:db8::1"], "invalid"),
        ("mta-sts.example.com.", "AAAA", ["192.0.2.1"], "invalid"),
        ("c.example.com.", "CNAME", ["a.example.", "b.example."], "invalid"),
        ("t.example.com.", "TXT", ['"' + "x" * 256 + '"'], "invalid"),
        ("t.example.com.", "TXT", ['"v=STSv1; id=1'], "invalid"),
    ],
)
def test_invalid_additions_are_400(seeded: FakeCloudDns, name, rtype, rrdatas, reason):
    zone = the_zone(seeded)
    change = zone.changes()
    change.add_record_set(zone.resource_record_set(name, rtype, 300, rrdatas))
    with pytest.raises(gexc.BadRequest) as caught:
        change.create()
    assert caught.value.errors[0]["reason"] == reason


def test_txt_is_kept_as_given_up_to_255_bytes_a_string(seeded: FakeCloudDns):
    long_txt = '"' + "a" * 255 + '" "' + "b" * 255 + '"'
    escaped = r'"v=TLSRPTv1; rua=mailto:\"q\"@example.com"'
    zone = the_zone(seeded)
    change = zone.changes()
    for name, rrdatas in [("long", [long_txt]), ("bare", ["v=spf1"]), ("esc", [escaped])]:
        change.add_record_set(zone.resource_record_set(f"{name}.example.com.", "TXT", 300, rrdatas))
    change.create()
    assert seeded.state.rrset(ZONE, "long.example.com.", "TXT")["rrdatas"] == [long_txt]
    assert seeded.state.rrset(ZONE, "bare.example.com.", "TXT")["rrdatas"] == ["v=spf1"]
    assert seeded.state.rrset(ZONE, "esc.example.com.", "TXT")["rrdatas"] == [escaped]


def test_concurrent_changes_are_each_applied_once(seeded: FakeCloudDns):
    zone = the_zone(seeded)

    def add(i: int) -> str:
        change = zone.changes()
        change.add_record_set(
            zone.resource_record_set(f"c{i}.example.com.", "A", 300, ["192.0.2.1"])
        )
        change.create()
        return change.name

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(add, range(16)))
    assert len(set(ids)) == 16
    assert all(seeded.state.rrset(ZONE, f"c{i}.example.com.", "A") for i in range(16))


def test_seeding_follows_the_change_rules(gcp_dns_fake: FakeCloudDns):
    state = gcp_dns_fake.state
    state.add_zone("Example.COM", name="main")
    state.add_rrset("main", "Mta-Sts.Example.com", "A", ["192.0.2.1"])
    assert state.rrset("main", "mta-sts.example.com.", "A")["ttl"] == 300
    with pytest.raises(DnsApiError) as caught:
        state.add_rrset("main", "mta-sts.example.com.", "A", ["192.0.2.2"])
    assert caught.value.status == 409
    assert [c["id"] for c in state.changes("main")] == ["0", "1"]
    assert gcp_dns_fake.calls == []  # seeding is not an API call


def test_the_apex_soa_cannot_be_removed_and_unknown_changes_are_404(seeded: FakeCloudDns):
    zone = the_zone(seeded)
    change = zone.changes()
    change.delete_record_set(rrset(zone, "example.com.", "SOA"))
    with pytest.raises(gexc.BadRequest):
        change.create()
    missing = zone.changes()
    missing.name = "99"
    assert not missing.exists()


def test_quotas_are_served_and_enforced(seeded: FakeCloudDns):
    assert client(seeded).quotas()["rrsetAdditionsPerChange"] == 1000
    seeded.state.quota["rrsetAdditionsPerChange"] = 2
    zone = the_zone(seeded)
    change = zone.changes()
    for i in range(3):
        change.add_record_set(
            zone.resource_record_set(f"q{i}.example.com.", "A", 300, ["192.0.2.1"])
        )
    with pytest.raises(gexc.Forbidden) as caught:
        change.create()
    assert caught.value.errors[0]["reason"] == "quotaExceeded"
