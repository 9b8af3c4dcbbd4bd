"""The Cloudflare provider's parts on their own: request gate, record diffing, TXT content,
zone matching, settings, and the provider contract (no secrets in a plan, errors as one
line naming provider and domain)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from cf_fake_state import ACCOUNT_ID, TOKEN
from cf_helpers import add_zones, live_map
from pydantic import ValidationError

from providers.cloudflare import worker
from providers.cloudflare.client import Knobs
from providers.cloudflare.dns import Operations, TxtRecord, operations_for, txt_value
from providers.cloudflare.gate import RequestGate
from providers.cloudflare.worker import PolicyEntry
from provisioner.deadline import Deadline
from provisioner.errors import ProviderError
from provisioner.knobs import Rate
from provisioner.pacing import Pacer
from provisioner.plan import Action, Change
from provisioner.polling import Wait
from provisioner.provider import NoProgress
from provisioner.registry import build_provider
from provisioner.state import Endpoint, Resource


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def unpaced_gate(clock: FakeClock) -> RequestGate:
    return RequestGate(Pacer(Rate(1_000_000, 1.0)), Deadline(10_000.0, clock), clock, clock.sleep)


def test_the_rate_knob_keeps_its_format(monkeypatch):
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "600/300")
    assert Knobs.read("cf").quota == Rate(600, 300.0)
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "")
    assert Knobs.read("cf").quota == Rate(1100, 300.0), "empty is unset: the default"
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "nonsense")
    with pytest.raises(ProviderError, match=r"^cf: MTASTS_CLOUDFLARE_RATE_LIMIT: 'nonsense' "):
        Knobs.read("cf")


def test_the_pacer_is_shared_per_token_not_per_account(cf_api, tmp_path, monkeypatch):
    """Cloudflare's quota is the user's: two providers with one token spend one quota."""
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "600/300")
    one = build_provider("a", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    two = build_provider("b", "cloudflare", {"account_id": "0ther"}, tmp_path)
    assert one.api.gate.pacer is two.api.gate.pacer
    assert one.api.gate.pacer.quota == Rate(600, 300.0)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN + "-other-user")
    three = build_provider("c", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    assert three.api.gate.pacer is not one.api.gate.pacer


@pytest.mark.parametrize(
    ("content", "value"),
    [
        ("v=STSv1; id=abc", "v=STSv1; id=abc"),
        ('"v=STSv1; id=abc"', "v=STSv1; id=abc"),
        ('"v=TLSRPTv1; rua=mailto:a@b" "x,mailto:c@d"', "v=TLSRPTv1; rua=mailto:a@bx,mailto:c@d"),
        ('"say \\"hi\\""', 'say "hi"'),
        ('"open', '"open'),
        ('"a" "b', '"a" "b'),
    ],
)
def test_txt_content_is_read_as_senders_join_it(content, value):
    assert txt_value(content) == value


def change(before, after, rrset_after, resource=Resource.STS_RECORD):
    action = Action.CREATE if before is None else Action.UPDATE if after else Action.DELETE
    return Change("example.com", "cf", resource, action, before, after, "", (), rrset_after)


def test_operations_keep_foreign_values_and_patch_the_stale_one():
    live = [
        TxtRecord("f1", "foreign"),
        TxtRecord("s1", "v=STSv1; id=old"),
        TxtRecord("s2", "v=STSv1; id=old2"),
        TxtRecord("f2", "appeared-after-the-plan"),
    ]
    ops = operations_for(
        change("v=STSv1; id=old", "v=STSv1; id=new", ("foreign", "v=STSv1; id=new")), live
    )
    assert [p["id"] for p in ops.patches] == ["s1"]
    assert ops.patches[0]["content"] == '"v=STSv1; id=new"'
    assert [d["id"] for d in ops.deletes] == ["s2"]
    assert ops.posts == ()


def test_operations_for_a_new_record_and_a_removal():
    created = operations_for(change(None, "v=STSv1; id=a", ("v=STSv1; id=a",)), [])
    assert [p["name"] for p in created.posts] == ["_mta-sts.example.com"]
    removed = operations_for(
        change("v=STSv1; id=a", None, ("x",)),
        [TxtRecord("1", "v=STSv1; id=a"), TxtRecord("2", "x")],
    )
    assert [d["id"] for d in removed.deletes] == ["1"] and not removed.posts


def test_a_long_value_is_sent_as_several_strings():
    value = "v=TLSRPTv1; rua=" + ",".join(f"mailto:r{i:02d}@reports.example.net" for i in range(12))
    ops = operations_for(change(None, value, (value,), Resource.TLSRPT_RECORD), [])
    content = ops.posts[0]["content"]
    assert content.count('" "') == 1 and txt_value(content) == value


def test_batches_are_split_at_the_limit():
    ops = Operations(tuple({"id": str(i)} for i in range(250)), (), tuple({} for _ in range(200)))
    chunks = ops.chunks(200)
    assert [len(c) for c in chunks] == [200, 200, 50]
    assert len(chunks[0].deletes) == 200 and len(chunks[1].deletes) == 50


def test_settings_are_strict_and_hold_no_secret(tmp_path):
    with pytest.raises(ValidationError):
        build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID, "api_token": "x"}, tmp_path)
    with pytest.raises(ValidationError):
        build_provider(
            "cf", "cloudflare", {"account_id": ACCOUNT_ID, "worker": "Bad Name"}, tmp_path
        )
    provider = build_provider(
        "cf", "cloudflare", {"account_id": ACCOUNT_ID, "zone_ids": {"Example.COM.": "z"}}, tmp_path
    )
    assert provider.plan_settings() == {
        "account_id": ACCOUNT_ID,
        "worker": "mtasts",
        "zone_ids": {"example.com": "z"},
        "read_mx": True,
    }
    assert provider.endpoint_for("example.com") == Endpoint(
        "mta-sts.example.com", "worker", (("script", "mtasts"),)
    )


def test_zones_match_the_longest_suffix_and_pins_skip_the_listing(cf_api, tmp_path):
    zones = add_zones(cf_api, "example.com", "sub.example.com", mx=False)
    provider = build_provider(
        "cf",
        "cloudflare",
        {"account_id": ACCOUNT_ID, "zone_ids": {"pinned.example": zones["example.com"]}},
        tmp_path,
    )
    index = provider.api.zones
    assert index.zone_for("pinned.example") == zones["example.com"]
    assert cf_api.count("GET", r"^/zones$") == 0
    assert index.zone_for("a.sub.example.com") == zones["sub.example.com"]
    assert index.zone_for("example.com") == zones["example.com"]
    assert index.zone_for("mail.example.com") == zones["example.com"]
    assert cf_api.count("GET", r"^/zones$") == 1
    with pytest.raises(ProviderError, match=r"example\.org: no zone"):
        index.zone_for("example.org")


def test_zone_listing_pages_without_an_extra_empty_page(cf_api, tmp_path):
    names = [f"z{i:03d}.example" for i in range(120)]
    add_zones(cf_api, *names, mx=False)
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    assert provider.api.zones.zone_for("z119.example")
    assert cf_api.count("GET", r"^/zones$") == 3, "50 + 50 + 20, and no empty 4th page"


def test_provider_reads_in_bulk_and_reports_mx(cf_api, tmp_path):
    add_zones(cf_api, "example.com")
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    assert provider.managed_domains() == set()
    live = provider.read(["example.com", "a.example.com"], NoProgress())
    assert live["example.com"].mx_hosts == ("mx.example.com",)
    assert live["a.example.com"].mx_hosts == ()
    assert live["example.com"].policy_text is None and live["example.com"].endpoint is None
    assert cf_api.count("GET", "content/v2") == 1, "the script is fetched once per run"


def test_an_api_error_names_provider_and_domain(cf_api, tmp_path):
    add_zones(cf_api, "example.com")
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    provider.read(["example.com"], NoProgress())
    cf_api.inject("PUT", r"/workers/domains$", 403)
    endpoint = Change(
        "example.com",
        "cf",
        Resource.ENDPOINT,
        Action.CREATE,
        None,
        "worker mtasts on mta-sts.example.com",
        "",
    )
    with pytest.raises(ProviderError) as caught:
        provider.apply([endpoint], NoProgress())
    message = str(caught.value)
    assert message.startswith("cf: example.com: attaching custom domain mta-sts.example.com")
    assert "\n" not in message


def test_a_policy_upload_carries_over_what_changed_since_the_read(cf_api, tmp_path):
    add_zones(cf_api, "a.example", "b.example", mx=False)
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    provider.read(["a.example"], NoProgress())
    body = "version: STSv1\r\nmode: testing\r\nmx: mx.a.example\r\nmax_age: 86400\r\n"
    create = Change("a.example", "cf", Resource.POLICY, Action.CREATE, None, body, "")
    provider.apply([create], NoProgress())

    other = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    other.read(["b.example"], NoProgress())
    other.apply(
        [Change("b.example", "cf", Resource.POLICY, Action.CREATE, None, body, "")], NoProgress()
    )
    update = Change("a.example", "cf", Resource.POLICY, Action.UPDATE, body, body + "x", "")
    provider.apply([update], NoProgress())

    policies = live_map(cf_api)
    assert policies["mta-sts.a.example"].body == body + "x"
    assert policies["mta-sts.b.example"].body == body, "a host written by another run survives"


def test_a_429_retry_after_holds_every_request():
    clock = FakeClock()
    gate = unpaced_gate(clock)
    gate.admit()
    gate.on_response(httpx.Response(429, headers={"Retry-After": "120"}))
    gate.on_response(httpx.Response(429, headers={"Retry-After": "later"}))
    gate.on_response(httpx.Response(429, headers={"Retry-After": "86400"}))
    gate.on_response(httpx.Response(200, headers={"Retry-After": "999"}))
    gate.admit()
    assert clock.sleeps == [120.0], "longer than the SDK's 60 s cap, and for every thread"
    gate.admit()
    assert clock.sleeps == [120.0]
    assert gate.sent == 3


def test_every_request_goes_through_the_gate_and_the_pacer(cf_api, tmp_path, monkeypatch):
    monkeypatch.setenv("MTASTS_CLOUDFLARE_RATE_LIMIT", "1000/300")
    add_zones(cf_api, "a.example", "b.example")
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    gate = provider.api.gate
    paced_before = gate.pacer.sent
    cf_api.inject("GET", r"^/zones$", 503)
    provider.read(["a.example", "b.example"], NoProgress())
    assert gate.pacer.quota == Rate(1000, 300.0)
    assert gate.sent == len(cf_api.calls) == 6, "retries are counted too"
    assert gate.pacer.sent - paced_before == 6, "and paced too"


def stale_then_live(monkeypatch, script, stale: int) -> list[int]:
    """`script.fetch` answers an empty map `stale` times, then what the fake holds."""
    real_fetch = script.fetch
    fetches = [0]

    def fetch():
        fetches[0] += 1
        return {} if fetches[0] <= stale else real_fetch()

    monkeypatch.setattr(script, "fetch", fetch)
    return fetches


def test_an_upload_is_read_back_until_it_is_served(cf_api, tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "READ_BACK", Wait(5.0, 0.01, 0.02))
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    script = provider.api.script
    fetches = stale_then_live(monkeypatch, script, stale=2)
    entry = PolicyEntry("version: STSv1\nmode: testing\n", datetime(2026, 1, 1, tzinfo=UTC))
    script.upload({"mta-sts.a.example": entry})
    assert fetches[0] == 3, "two stale answers, then the uploaded map"


def test_an_upload_never_served_back_is_one_line_naming_the_script(cf_api, tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "READ_BACK", Wait(0.05, 0.01, 0.02))
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    script = provider.api.script
    stale_then_live(monkeypatch, script, stale=1_000)
    entry = PolicyEntry("version: STSv1\nmode: testing\n", datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ProviderError) as caught:
        script.upload({"mta-sts.a.example": entry})
    assert str(caught.value) == (
        "cf: Worker script 'mtasts' was uploaded but the API still serves another version "
        "after 0.05 s; run 'mtasts plan' again"
    )
