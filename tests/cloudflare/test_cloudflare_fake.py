"""The fake Cloudflare API is faithful where the SDK depends on it: driven here with the
official SDK alone (no mtasts code), so a fake bug cannot hide behind a provider bug."""

from __future__ import annotations

import cloudflare
import pytest
from cf_fake_state import ACCOUNT_ID, TOKEN
from cloudflare.types.dns.record_response import MXRecord, TXTRecord


@pytest.fixture
def sdk(cf_api):
    return cloudflare.Cloudflare(api_token=TOKEN, base_url=cf_api.base_url, max_retries=0)


def test_auto_paging_ends_on_the_empty_page_past_the_last(cf_api, sdk):
    for i in range(120):
        cf_api.state.add_zone(f"z{i:03d}.example")
    names = [z.name for z in sdk.zones.list(per_page=50)]
    assert len(names) == 120
    assert cf_api.count("GET", r"^/zones$") == 4, "three pages and the empty fourth"
    page = sdk.zones.list(page=3, per_page=50)
    assert page.result_info.total_pages == 3 and len(page.result) == 20


def test_records_parse_as_their_own_type_with_every_field(cf_api, sdk):
    zone = cf_api.state.add_zone("example.com")
    cf_api.state.add_record(zone, "TXT", "_mta-sts.example.com", '"v=STSv1; id=1"')
    cf_api.state.add_record(zone, "MX", "example.com", "mx.example.com", priority=5)
    txt = list(
        sdk.dns.records.list(zone_id=zone, type="TXT", name={"exact": "_MTA-STS.example.com"})
    )
    assert len(txt) == 1 and isinstance(txt[0], TXTRecord)
    assert txt[0].content == '"v=STSv1; id=1"' and txt[0].id and txt[0].created_on
    (mx,) = sdk.dns.records.list(zone_id=zone, type="MX")
    assert isinstance(mx, MXRecord) and mx.priority == 5


def test_filters_combine_with_match_all_or_any(cf_api, sdk):
    zone = cf_api.state.add_zone("example.com")
    cf_api.state.add_record(zone, "TXT", "_dmarc.example.com", "v=DMARC1")
    cf_api.state.add_record(zone, "TXT", "example.com", "v=spf1 -all")
    cf_api.state.add_record(zone, "MX", "example.com", "mx.example.com")
    underscore = sdk.dns.records.list(zone_id=zone, type="TXT", name={"startswith": "_"})
    assert [r.name for r in underscore] == ["_dmarc.example.com"]
    either = sdk.dns.records.list(zone_id=zone, type="MX", name={"startswith": "_"}, match="any")
    assert sorted(r.type for r in either) == ["MX", "TXT"]


def test_a_bad_token_is_401_in_the_envelope(cf_api):
    bad = cloudflare.Cloudflare(api_token="nope", base_url=cf_api.base_url, max_retries=0)
    with pytest.raises(cloudflare.AuthenticationError) as caught:
        bad.zones.list()
    assert caught.value.body["errors"][0]["code"] == 10000


def test_a_batch_is_one_transaction(cf_api, sdk):
    zone = cf_api.state.add_zone("example.com")
    keep = cf_api.state.add_record(zone, "TXT", "_x.example.com", "a")
    cf_api.state.add_record(zone, "TXT", "_y.example.com", "b")
    with pytest.raises(cloudflare.BadRequestError):
        sdk.dns.records.batch(
            zone_id=zone,
            deletes=[{"id": keep}],
            posts=[{"type": "TXT", "name": "_y.example.com", "content": "b", "ttl": 1}],
        )
    assert cf_api.state.txt_values("_x.example.com") == ["a"], "the delete was rolled back"
    done = sdk.dns.records.batch(
        zone_id=zone,
        deletes=[{"id": keep}],
        posts=[{"type": "TXT", "name": "_z", "content": "c", "ttl": 1}],
    )
    assert (
        done.posts[0].name == "_z.example.com" and cf_api.state.txt_values("_x.example.com") == []
    )


def test_scripts_upload_as_multipart_and_read_back(cf_api, sdk):
    with pytest.raises(cloudflare.NotFoundError):
        sdk.workers.scripts.content.get("w", account_id=ACCOUNT_ID)
    sdk.workers.scripts.update(
        "w",
        account_id=ACCOUNT_ID,
        metadata={"main_module": "w.mjs", "compatibility_date": "2025-09-01"},
        files=[("w.mjs", b"export default {}", "application/javascript+module")],
    )
    assert (
        sdk.workers.scripts.content.get("w", account_id=ACCOUNT_ID).read() == b"export default {}"
    )
    with pytest.raises(cloudflare.BadRequestError):
        sdk.workers.scripts.update(
            "w",
            account_id=ACCOUNT_ID,
            metadata={"main_module": "missing.mjs", "compatibility_date": "2025-09-01"},
            files=[("w.mjs", b"export default {}", "application/javascript+module")],
        )


def test_custom_domains_need_the_script_and_repoint_by_hostname(cf_api, sdk):
    zone = cf_api.state.add_zone("example.com")
    with pytest.raises(cloudflare.NotFoundError):
        sdk.workers.domains.update(
            account_id=ACCOUNT_ID, hostname="mta-sts.example.com", service="w", zone_id=zone
        )
    for name in ("w", "v"):
        cf_api.state.put_script(
            name,
            {"main_module": "m.mjs", "compatibility_date": "2025-09-01"},
            {"m.mjs": ("application/javascript+module", b"")},
        )
    first = sdk.workers.domains.update(
        account_id=ACCOUNT_ID, hostname="mta-sts.example.com", service="w", zone_id=zone
    )
    again = sdk.workers.domains.update(
        account_id=ACCOUNT_ID, hostname="mta-sts.example.com", service="v", zone_id=zone
    )
    assert first.id == again.id and again.service == "v"
    assert [d.hostname for d in sdk.workers.domains.list(account_id=ACCOUNT_ID)] == [
        "mta-sts.example.com"
    ]
    sdk.workers.domains.delete(first.id, account_id=ACCOUNT_ID)
    assert list(sdk.workers.domains.list(account_id=ACCOUNT_ID)) == []


def test_injected_429_carries_retry_after(cf_api, sdk):
    cf_api.inject("GET", r"^/zones$", 429, retry_after=7)
    with pytest.raises(cloudflare.RateLimitError) as caught:
        sdk.zones.list()
    assert caught.value.response.headers["Retry-After"] == "7"
