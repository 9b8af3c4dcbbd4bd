"""Zones holding several domains of the spec, and records mtasts must not write beside
(issue 8, items 1 and 2), on the Cloudflare provider against the fake API.

- Nested domains in one zone (`example.com`, `mail.example.com`, `a.mail.example.com`)
  with someone else's TXT value at every name mtasts owns: apply keeps each foreign record
  exactly (id, content, TTL, comment, tags, modified_on), and the next plan is empty; also
  with the listing split into many pages, where a read that stops early would lose names.
- A delegation or a vendor's host at a name mtasts would write (`_mta-sts`/`_smtp._tls` as
  a CNAME, `mta-sts.<d>` as a CNAME or A/AAAA that is not a Workers custom domain) reads
  as `LiveDomain.blocking` from the one listing per zone, and the plan refuses with
  one line per domain, exit 1, nothing written.
"""

from __future__ import annotations

import copy

import pytest
from cf_fake_state import ACCOUNT_ID
from cf_helpers import CF_DEFAULTS, add_zones, bound_hosts, cf_spec, domains_spec, live_map
from clihelpers import RUA, run, write_spec

from providers.cloudflare import dns
from providers.cloudflare.worker import MAIN_MODULE, render_script
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import NoProgress
from provisioner.registry import build_provider
from provisioner.state import BlockingRecord, Resource

NESTED = ["example.com", "mail.example.com", "a.mail.example.com"]
LISTINGS = r"^/zones/\w+/dns_records$"
DEFAULT_PER_PAGE = dns.RECORDS_PER_PAGE


def writes(api) -> int:
    return api.count("PUT") + api.count("POST") + api.count("PATCH") + api.count("DELETE")


def seed_foreign(api, zone: str, names: list[str]) -> dict[str, dict]:
    """A foreign TXT value, with its own TTL, comment and tags, at every name mtasts owns."""
    ids = []
    for domain in names:
        for owner, value in ((f"_mta-sts.{domain}", "vendor-verification=keep"),
                             (f"_smtp._tls.{domain}", '"other-tool=1" "; keep"')):  # fmt: skip
            ids.append(
                api.state.add_record(
                    zone,
                    "TXT",
                    owner,
                    value,
                    ttl=300,
                    comment=f"owned by vendor ({domain})",
                    tags=["team:mail"],
                )
            )
    records = {r["id"]: r for r in api.state.all_records()}
    return {i: copy.deepcopy(records[i]) for i in ids}


@pytest.mark.parametrize("per_page", [DEFAULT_PER_PAGE, 2])
def test_nested_domains_in_one_zone_keep_every_foreign_value(
    cf_api, tmp_path, monkeypatch, per_page
):
    monkeypatch.setattr(dns, "RECORDS_PER_PAGE", per_page)
    zone = add_zones(cf_api, "example.com")["example.com"]
    for name in NESTED[1:]:
        cf_api.state.add_record(zone, "MX", name, f"mx.{name}", priority=10)
    # names that sort between and around the owned ones, so a read that stops early shows
    cf_api.state.add_record(zone, "TXT", "_dmarc.mail.example.com", "v=DMARC1; p=none")
    cf_api.state.add_record(zone, "TXT", "_a.example.com", "first")
    cf_api.state.add_record(zone, "TXT", "_zz.a.mail.example.com", "last")
    foreign = seed_foreign(cf_api, zone, NESTED)
    spec = cf_spec(tmp_path, domains_spec(NESTED))

    planned = run("plan", "-c", spec, "--detailed-exitcode")
    assert planned.exit_code == 2, planned.stderr
    assert "Plan: 12 to add, 0 to change, 0 to destroy." in planned.stdout
    applied = run("apply", "-c", spec, "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr

    now = {r["id"]: r for r in cf_api.state.all_records()}
    for record_id, before in foreign.items():
        assert now.get(record_id) == before, f"{before['name']} changed"
    for domain in NESTED:
        sts = cf_api.state.txt_values(f"_mta-sts.{domain}")
        assert "vendor-verification=keep" in sts
        assert len([v for v in sts if v.startswith("v=STSv1; id=")]) == 1
        assert cf_api.state.txt_values(f"_smtp._tls.{domain}") == [
            "other-tool=1; keep",
            f"v=TLSRPTv1; rua={RUA}",
        ]
    assert sorted(live_map(cf_api)) == sorted(f"mta-sts.{d}" for d in NESTED)

    cf_api.calls.clear()
    again = run("plan", "-c", spec, "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout
    assert writes(cf_api) == 0
    if per_page == DEFAULT_PER_PAGE:
        assert cf_api.count("GET", LISTINGS) == 1, "one listing for the one zone"
    for domain in NESTED:
        alone = run("plan", "-c", spec, "-d", domain, "--detailed-exitcode")
        assert alone.exit_code == 0, alone.stdout


def test_blocking_records_are_read_in_the_one_listing_per_zone(cf_api, tmp_path):
    zones = add_zones(cf_api, "example.com", "example.org")
    z, o = zones["example.com"], zones["example.org"]
    state = cf_api.state
    state.add_record(z, "CNAME", "_mta-sts.deleg.example.com", "_mta-sts.hosted.example.net")
    state.add_record(z, "CNAME", "_smtp._tls.deleg.example.com", "_smtp._tls.hosted.example.net")
    state.add_record(z, "CNAME", "mta-sts.vendor.example.com", "mta-sts.vendor.example.net")
    state.add_record(z, "TXT", "_mta-sts.vendor.example.com", "v=STSv1; id=vendor1")
    state.add_record(o, "A", "mta-sts.example.org", "192.0.2.10")
    state.add_record(o, "AAAA", "mta-sts.example.org", "2001:db8::10")
    state.add_record(o, "TXT", "mta-sts.example.org", "a TXT at the host blocks nothing")
    state.add_record(z, "CNAME", "www.example.com", "elsewhere.example.net")
    state.put_script(
        "mtasts",
        {"main_module": MAIN_MODULE, "compatibility_date": "2025-09-01"},
        {MAIN_MODULE: ("application/javascript+module", render_script({}).encode())},
    )
    state.put_domain({"hostname": "mta-sts.example.com", "service": "mtasts", "zone_id": z})
    state.add_record(z, "A", "mta-sts.example.com", "192.0.2.99")  # the custom domain's own
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)

    cf_api.calls.clear()
    names = ["example.com", "deleg.example.com", "vendor.example.com", "example.org"]
    live = provider.read(names, NoProgress())

    sts, tlsrpt, endpoint = Resource.STS_RECORD, Resource.TLSRPT_RECORD, Resource.ENDPOINT
    assert live["deleg.example.com"].blocking == (
        BlockingRecord(sts, "_mta-sts.deleg.example.com", "CNAME", "_mta-sts.hosted.example.net"),
        BlockingRecord(
            tlsrpt, "_smtp._tls.deleg.example.com", "CNAME", "_smtp._tls.hosted.example.net"
        ),
    )
    assert live["vendor.example.com"].blocking == (
        BlockingRecord(
            endpoint, "mta-sts.vendor.example.com", "CNAME", "mta-sts.vendor.example.net"
        ),
    )
    assert live["vendor.example.com"].sts_txt == ("v=STSv1; id=vendor1",)
    assert set(live["example.org"].blocking) == {
        BlockingRecord(endpoint, "mta-sts.example.org", "A", "192.0.2.10"),
        BlockingRecord(endpoint, "mta-sts.example.org", "AAAA", "2001:db8::10"),
    }
    assert live["example.com"].blocking == (), "a Workers custom domain is mtasts's endpoint"
    assert live["example.com"].mx_hosts == ("mx.example.com",), "MX still read"
    assert cf_api.count("GET", LISTINGS) == 2, "one listing per zone"


def test_read_mx_false_still_finds_the_vendor_host(cf_api, tmp_path):
    zone = add_zones(cf_api, "example.com")["example.com"]
    cf_api.state.add_record(zone, "CNAME", "mta-sts.example.com", "mta-sts.vendor.example.net")
    provider = build_provider(
        "cf", "cloudflare", {"account_id": ACCOUNT_ID, "read_mx": False}, tmp_path
    )
    live = provider.read(["example.com"], NoProgress())
    assert [b.rdtype for b in live["example.com"].blocking] == ["CNAME"]
    assert live["example.com"].mx_hosts is None
    assert cf_api.count("GET", LISTINGS) == 1


def test_every_plan_lists_each_zone_once_with_or_without_mx(cf_api, tmp_path):
    """One listing per zone whatever the plan: new domains, deployed ones, MX or not."""
    names = ["a.example", "b.example", "c.example"]
    add_zones(cf_api, *names)
    spec = cf_spec(tmp_path, domains_spec(names[:2]), read_mx=False)
    cf_api.calls.clear()
    assert run("plan", "-c", spec).exit_code == 0
    assert cf_api.count("GET", LISTINGS) == 2, "new domains: one listing per zone"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0

    cf_api.calls.clear()
    assert run("plan", "-c", spec, "--detailed-exitcode").exit_code == 0
    assert cf_api.count("GET", LISTINGS) == 2, "deployed: one listing per zone"

    spec = cf_spec(tmp_path, domains_spec(names), read_mx=False)
    cf_api.calls.clear()
    assert run("plan", "-c", spec, "--detailed-exitcode").exit_code == 2
    assert cf_api.count("GET", LISTINGS) == 3, "one listing per zone"


def test_plan_refuses_a_delegated_domain_naming_the_record_and_writes_nothing(cf_api, tmp_path):
    zones = add_zones(cf_api, "example.com", "example.net")
    cf_api.state.add_record(
        zones["example.com"], "CNAME", "_mta-sts.example.com", "_mta-sts.hosted.example.org"
    )
    cf_api.state.add_record(
        zones["example.com"], "CNAME", "mta-sts.example.com", "mta-sts.hosted.example.org"
    )
    cf_api.state.add_record(zones["example.net"], "A", "mta-sts.example.net", "192.0.2.7")
    spec = cf_spec(tmp_path, domains_spec(["example.com", "example.net"]))

    for command in (("plan",), ("apply", "--auto-approve")):
        result = run(*command, "-c", spec)
        assert result.exit_code == 1, result.stdout
        lines = [line.removeprefix("error: ") for line in result.stderr.strip().splitlines()]
        assert len(lines) == 2, result.stderr
        com, net = sorted(lines)
        assert com.startswith("example.com (cf): ")
        assert "_mta-sts.example.com is a CNAME to _mta-sts.hosted.example.org" in com
        assert "mta-sts.example.com is a CNAME to mta-sts.hosted.example.org" in com
        assert "mtasts import example.com" in com
        assert net.startswith("example.net (cf): mta-sts.example.net is an A (192.0.2.7)")
        assert writes(cf_api) == 0, "nothing written"
    assert cf_api.state.scripts == {} and bound_hosts(cf_api) == {}


def test_a_tlsrpt_delegation_blocks_only_when_the_spec_manages_tlsrpt(cf_api, tmp_path):
    zone = add_zones(cf_api, "example.com")["example.com"]
    cf_api.state.add_record(zone, "CNAME", "_smtp._tls.example.com", "_smtp._tls.vendor.example")
    blocked = run("plan", "-c", cf_spec(tmp_path, domains_spec(["example.com"])))
    assert blocked.exit_code == 1
    assert "_smtp._tls.example.com is a CNAME to _smtp._tls.vendor.example" in blocked.stderr
    no_tlsrpt = {k: v for k, v in CF_DEFAULTS.items() if k != "tlsrpt"}
    provider = {"cf": {"type": "cloudflare", "account_id": ACCOUNT_ID}}
    spec = write_spec(
        tmp_path, domains_spec(["example.com"]), defaults=no_tlsrpt, providers=provider
    )
    applied = run("apply", "-c", spec, "--auto-approve")
    assert applied.exit_code == 0, applied.stderr
    assert cf_api.state.txt_values("_smtp._tls.example.com") == []


def test_a_host_record_that_appears_after_the_plan_stops_attach_in_one_line(cf_api, tmp_path):
    """The race the plan-time check cannot see: Cloudflare's 409, not retried, one line."""
    zones = add_zones(cf_api, "example.com", "example.net")
    provider = build_provider("cf", "cloudflare", {"account_id": ACCOUNT_ID}, tmp_path)
    provider.read(["example.com", "example.net"], NoProgress())
    cf_api.state.add_record(zones["example.com"], "CNAME", "mta-sts.example.com", "x.example.org")
    attach = [
        Change(d, "cf", Resource.ENDPOINT, Action.CREATE, None, f"worker mtasts on mta-sts.{d}", "")
        for d in ("example.com", "example.net")
    ]
    cf_api.calls.clear()
    with pytest.raises(ProviderError) as caught:
        provider.apply(attach, NoProgress())
    message = str(caught.value)
    assert message.startswith("cf: example.com: attaching custom domain mta-sts.example.com")
    assert "externally managed DNS records" in message and "\n" not in message
    assert cf_api.count("PUT", r"/workers/domains$") == 2, "409 is not retried"
    assert bound_hosts(cf_api) == {"mta-sts.example.net": "mtasts"}, "the other domain went on"
