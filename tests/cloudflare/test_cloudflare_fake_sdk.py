"""The Cloudflare fake checked against the official SDK's requests (issue 9, contract suite).

mtasts's own Cloudflare modules drive the installed `cloudflare` SDK, whose HTTP client
records every request it puts on the wire, against the fake. For every endpoint mtasts
uses, each test asserts that:
- the fake received exactly what the SDK sent (method, path, every query parameter, the
  body byte for byte), so neither side is checked only against itself;
- every query parameter the SDK sent is one the fake honours for that endpoint (a renamed
  parameter, say `account[id]` for `account.id`, would otherwise be silently ignored and
  the fake would answer as if unfiltered), and the body carries the field names the API
  reference names;
- the SDK parsed the fake's answer into its typed models (`Zone`, `TXTRecord`,
  `RecordBatchResponse`, `DomainListResponse`, ...).
Reference: https://developers.cloudflare.com/api/ (zones list, DNS records list and batch,
Workers scripts upload and content, Workers custom domains).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import cloudflare
import httpx
import pytest
from cf_fake_api import PREFIX, Call, FakeCloudflareApi
from cf_fake_state import ACCOUNT_ID, TOKEN
from cf_helpers import add_zones
from cloudflare.types.dns.record_batch_response import RecordBatchResponse
from cloudflare.types.dns.record_response import MXRecord, TXTRecord
from cloudflare.types.workers.domain_list_response import DomainListResponse
from cloudflare.types.zones.zone import Zone

from providers.cloudflare import dns
from providers.cloudflare.dns import DnsRecords, TxtRecord, operations_for
from providers.cloudflare.domains import CustomDomains
from providers.cloudflare.worker import MAIN_MODULE, PolicyEntry, WorkerScript
from providers.cloudflare.zones import ZoneIndex
from provisioner.plan import Action, Change
from provisioner.state import Resource

HONOURED = {
    ("GET", "/zones"): {"account.id", "name", "page", "per_page"},
    ("GET", "/zones/{id}/dns_records"): {
        "type",
        "match",
        "page",
        "per_page",
        *(f"{f}.{op}" for f in ("name", "content") for op in ("exact", "startswith")),
        *(f"{f}.{op}" for f in ("name", "content") for op in ("endswith", "contains")),
        "name",
        "content",
    },
}
"""Query parameters the fake filters or pages by, per endpoint (tests/cloudflare/cf_fake_api)."""


class Wire:
    """The SDK's HTTP client, recording each request as sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def client(self, fake: FakeCloudflareApi) -> cloudflare.Cloudflare:
        def record(request: httpx.Request) -> None:
            request.read()
            self.sent.append(request)

        http = httpx.Client(event_hooks={"request": [record]})
        return cloudflare.Cloudflare(
            api_token=TOKEN, base_url=fake.base_url, max_retries=0, http_client=http
        )


@pytest.fixture
def wire() -> Iterator[Wire]:
    yield Wire()


def same_exchange(wire: Wire, fake: FakeCloudflareApi) -> list[Call]:
    """Assert the fake logged exactly the SDK's requests; return the fake's calls."""
    assert len(wire.sent) == len(fake.calls), "every request reached the fake once"
    for sent, got in zip(wire.sent, fake.calls, strict=True):
        assert got.method == sent.method
        assert PREFIX + got.path == sent.url.path
        assert got.query == dict(sent.url.params.multi_items())
        assert got.body == sent.content
        assert got.headers["authorization"] == f"Bearer {TOKEN}"
    return list(fake.calls)


def endpoint(call: Call) -> tuple[str, str]:
    parts = call.path.split("/")
    if len(parts) > 2 and parts[1] == "zones":
        parts[2] = "{id}"
    return call.method, "/".join(parts)


def assert_honoured(call: Call) -> None:
    unknown = set(call.query) - HONOURED[endpoint(call)]
    assert not unknown, f"{call.method} {call.path}: the fake ignores {sorted(unknown)}"


def test_zone_listing_pages_by_account(cf_api, wire) -> None:
    for i in range(3):
        cf_api.state.add_zone(f"z{i}.example")
    sdk = wire.client(cf_api)
    index = ZoneIndex(sdk, "cf", ACCOUNT_ID)
    assert index.zone_for("a.z1.example")
    (call,) = same_exchange(wire, cf_api)
    assert (call.method, call.path) == ("GET", "/zones")
    assert call.query == {"account.id": ACCOUNT_ID, "page": "1", "per_page": "50"}
    assert_honoured(call)
    page = sdk.zones.list(account={"id": ACCOUNT_ID}, page=1, per_page=50)
    assert all(isinstance(z, Zone) for z in page.result) and len(page.result) == 3
    assert page.result_info.total_pages == 1 and page.result_info.per_page == 50


def test_record_listing_is_one_paged_request_per_zone_and_parses_typed(
    cf_api, wire, monkeypatch
) -> None:
    zone = add_zones(cf_api, "example.com")["example.com"]
    cf_api.state.add_record(zone, "TXT", "_mta-sts.example.com", '"v=STSv1; id=1"')
    cf_api.state.add_record(zone, "TXT", "_smtp._tls.example.com", '"a" "b"')
    monkeypatch.setattr(dns, "RECORDS_PER_PAGE", 2)
    sdk = wire.client(cf_api)
    records = DnsRecords(sdk, "cf", read_mx=True).read_zone(zone, "example.com")
    assert records.txt["_smtp._tls.example.com"][0].value == "ab"
    calls = same_exchange(wire, cf_api)
    assert [c.query for c in calls] == [
        {"page": str(n), "per_page": "2"} for n in range(1, len(calls) + 1)
    ]
    for call in calls:
        assert endpoint(call) == ("GET", "/zones/{id}/dns_records")
        assert_honoured(call)
    page = sdk.dns.records.list(zone_id=zone, page=1, per_page=50)
    kinds = {type(r) for r in page.result}
    assert kinds == {TXTRecord, MXRecord}
    assert page.result_info.total_pages == 1


def test_a_batch_sends_the_api_field_names_and_parses_the_answer(cf_api, wire) -> None:
    zone = add_zones(cf_api, "example.com")["example.com"]
    stale = cf_api.state.add_record(zone, "TXT", "_mta-sts.example.com", '"v=STSv1; id=old"')
    extra = cf_api.state.add_record(zone, "TXT", "_mta-sts.example.com", '"v=STSv1; id=two"')
    change = Change(
        "example.com",
        "cf",
        Resource.STS_RECORD,
        Action.UPDATE,
        "v=STSv1; id=old",
        "v=STSv1; id=new",
        "",
        rrset_after=("v=STSv1; id=new",),
    )
    tls = Change(
        "example.com",
        "cf",
        Resource.TLSRPT_RECORD,
        Action.CREATE,
        None,
        "v=TLSRPTv1; rua=mailto:t@example.net",
        "",
        rrset_after=("v=TLSRPTv1; rua=mailto:t@example.net",),
    )
    live = [TxtRecord(stale, "v=STSv1; id=old"), TxtRecord(extra, "v=STSv1; id=two")]
    ops = operations_for(change, live) + operations_for(tls, [])
    sdk = wire.client(cf_api)
    answer = sdk.dns.records.batch(
        zone_id=zone,
        deletes=list(ops.deletes),  # type: ignore[arg-type]
        patches=list(ops.patches),  # type: ignore[arg-type]
        posts=list(ops.posts),  # type: ignore[arg-type]
    )
    (call,) = same_exchange(wire, cf_api)
    assert endpoint(call) == ("POST", "/zones/{id}/dns_records/batch") and call.query == {}
    body = json.loads(call.body)
    assert set(body) == {"deletes", "patches", "posts"}
    assert [set(op) for op in body["deletes"]] == [{"id"}]
    assert [set(op) for op in body["patches"]] == [{"id", "type", "name", "content"}]
    assert [set(op) for op in body["posts"]] == [{"type", "name", "content", "ttl", "comment"}]
    assert isinstance(answer, RecordBatchResponse)
    assert answer.posts and isinstance(answer.posts[0], TXTRecord)
    assert answer.patches and answer.patches[0].id == stale
    assert answer.deletes and answer.deletes[0].id == extra
    assert cf_api.state.txt_values("_mta-sts.example.com") == ["v=STSv1; id=new"]


def test_a_script_upload_is_multipart_and_its_content_reads_back(cf_api, wire) -> None:
    sdk = wire.client(cf_api)
    script = WorkerScript(sdk, "cf", ACCOUNT_ID, "mtasts")
    assert script.fetch() is None
    published = datetime(2026, 1, 1, tzinfo=UTC)
    entry = PolicyEntry("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n", published)
    script.upload({"mta-sts.example.com": entry})
    calls = same_exchange(wire, cf_api)
    put = [c for c in calls if c.method == "PUT"]
    gets = [c for c in calls if c.method == "GET"]
    assert [c.path for c in put] == [f"/accounts/{ACCOUNT_ID}/workers/scripts/mtasts"]
    assert {c.path for c in gets} == {f"/accounts/{ACCOUNT_ID}/workers/scripts/mtasts/content/v2"}
    assert all(c.query == {} for c in calls)
    assert put[0].headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="metadata"' in put[0].body and f'filename="{MAIN_MODULE}"'.encode() in (
        put[0].body
    )
    assert b"application/javascript+module" in put[0].body
    assert script.fetch() == {"mta-sts.example.com": entry}


def test_custom_domains_list_put_and_delete(cf_api, wire) -> None:
    zone = add_zones(cf_api, "example.com")["example.com"]
    cf_api.state.put_script(
        "mtasts",
        {"main_module": "a.mjs", "compatibility_date": "2024-01-01"},
        {"a.mjs": ("application/javascript+module", b"export default {}")},
    )
    sdk = wire.client(cf_api)
    domains = CustomDomains(sdk, "cf", ACCOUNT_ID)
    domains.attach("mta-sts.example.com", "mtasts", zone, "example.com")
    fresh = CustomDomains(sdk, "cf", ACCOUNT_ID)
    assert set(fresh.by_host()) == {"mta-sts.example.com"}
    fresh.detach("mta-sts.example.com", "example.com")
    calls = same_exchange(wire, cf_api)
    base = f"/accounts/{ACCOUNT_ID}/workers/domains"
    shapes = [(c.method, c.path.replace(base, "~")) for c in calls]
    assert shapes[:3] == [("GET", "~"), ("PUT", "~"), ("GET", "~")], "list, bind, list again"
    assert shapes[-1][0] == "DELETE" and shapes[-1][1].startswith("~/")
    assert all(c.query == {} for c in calls)
    put = next(c for c in calls if c.method == "PUT")
    assert set(json.loads(put.body)) == {"hostname", "service", "zone_id"}
    listed: Any = sdk.workers.domains.list(account_id=ACCOUNT_ID)
    assert list(listed) == []
    domains.attach("mta-sts.example.com", "mtasts", zone, "example.com")
    (made,) = sdk.workers.domains.list(account_id=ACCOUNT_ID)
    assert (
        isinstance(made, DomainListResponse) and made.service == "mtasts" and made.zone_id == zone
    )
