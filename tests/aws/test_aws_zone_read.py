"""The zone read misses no owned name, whatever order the zone's names sort in (issue 8.1).

An apex and its subdomains in one hosted zone used to be read up to `mta-sts.<last domain>`,
which sorts before `mta-sts.<apex>`; with hyphens, the start could also skip a domain. A name
not read looks absent, and Route53's UPSERT then replaces the foreign values kept there.
"""

from __future__ import annotations

import json
import string

from aws_world import AwsWorld
from clihelpers import run
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY

from providers.aws.listing import ORDERS, ListingRange, common_ancestor, reach
from providers.aws.session import API_CALLS

ZONE = "example.com"
NESTED = [
    "example.com",
    "mail.example.com",
    "eu.mail.example.com",
    "a.example.com",
    "x.a.example.com",
    "a-b.example.com",
    "mail-relay.example.com",
]
"""Apex, sub, sub-sub; `a`/`a-b` sort differently in each reading of Route53's order."""


def _owned(domain: str) -> list[str]:
    return [domain, *reach(domain), f"_0123abcd.mta-sts.{domain}"]


def _read(order_key, names: list[str], span: ListingRange, escaped: bool) -> set[str]:
    """What a server sorting by `order_key` hands a reader that stops at `span.past`."""

    def spelled(name: str) -> str:
        return name.replace("*", "\\052") if escaped else name

    listed = sorted(names, key=lambda n: order_key(spelled(n)))
    out: set[str] = set()
    for name in listed:
        if order_key(spelled(name)) < order_key(span.start):
            continue
        if span.past(spelled(name), name):
            break
        out.add(name)
    return out


_domain_label = st.text(alphabet=string.ascii_lowercase[:3] + "-_0", min_size=1, max_size=4)
_foreign_label = st.text(alphabet=string.ascii_lowercase[:3] + "-_0*", min_size=1, max_size=4)


@PROPERTY
@given(
    st.lists(st.lists(_domain_label, min_size=0, max_size=3), min_size=1, max_size=5),
    st.lists(st.lists(_foreign_label, min_size=1, max_size=4), max_size=12),
)
def test_the_range_holds_every_owned_name_in_every_order(subs, foreign_labels):
    domains = sorted({".".join([*labels, ZONE]) for labels in subs})
    owned = {n for d in domains for n in _owned(d)}
    foreign = {".".join([*labels, ZONE]) for labels in foreign_labels}
    span = ListingRange.for_domains(domains)
    for order in ORDERS:
        for escaped in (False, True):
            got = _read(order.key, sorted(owned | foreign), span, escaped)
            assert owned <= got, (order, escaped, sorted(owned - got))


def test_start_is_the_first_domain_when_every_order_agrees():
    assert ListingRange.for_domains(["mail.example.com", "example.com"]).start == "example.com"
    assert ListingRange.for_domains(["b.example.com", "c.example.com"]).start == "b.example.com"
    # AWS puts a-b (com.example.a-b.) first, moto a (com.example.a): start above both
    assert ListingRange.for_domains(["a.example.com", "a-b.example.com"]).start == ZONE
    assert common_ancestor(["x.a.example.com", "y.a.example.com"]) == "a.example.com"


def test_nested_domains_in_one_zone_keep_every_foreign_value(aws: AwsWorld):
    zone = aws.create_zone(ZONE, mx=["mx1.example.com"])
    foreign: dict[tuple[str, str], list[str]] = {}
    for domain in NESTED:
        for name in (f"_mta-sts.{domain}", f"_smtp._tls.{domain}", f"mta-sts.{domain}"):
            value = f'"vendor-verification=keep {name}" "second \\"string\\""'
            foreign[(name, "TXT")] = [value]
        if domain != ZONE:
            foreign[(domain, "TXT")] = [f'"v=spf1 include:{domain} -all"']
    for (name, rtype), values in foreign.items():
        aws.upsert(zone, name, rtype, values)
    aws.upsert(zone, "www.example.com", "A", ["192.0.2.1"])
    spec = aws.spec({d: {"mx": ["mx1.example.com"]} for d in NESTED})

    plan = run("plan", "-c", spec, "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    for change in json.loads(plan.stdout)["changes"]:
        if change["resource"] == "sts_record":
            assert len(change["rrset_before"]) == 1, change  # the foreign value was read

    API_CALLS.reset()
    applied = run("apply", "-c", spec, "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    records = aws.rrsets(ZONE)
    for key, values in foreign.items():
        have = [r["Value"] for r in records[key]["ResourceRecords"]]
        for value in values:
            assert value in have, (key, have)  # byte for byte, as Route53 stores it
    for domain in NESTED:
        assert len([v for v in aws.txt(f"_mta-sts.{domain}") if v.startswith("v=STSv1")]) == 1
        assert ("mta-sts." + domain, "A") in records

    API_CALLS.reset()
    again = run("plan", "-c", spec, "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert API_CALLS.count("route53", "ListResourceRecordSets") == 1, "one run for the zone"
    solo = run("plan", "-c", spec, "-d", "example.com", "--detailed-exitcode")
    assert solo.exit_code == 0, solo.stdout + solo.stderr


def test_apex_and_sub_with_a_vendor_value_converge(aws: AwsWorld):
    """The field report: `example.com` and `mail.example.com` in one zone."""
    zone = aws.create_zone(ZONE, mx=["mx1.example.com"])
    aws.upsert(zone, "_mta-sts.example.com", "TXT", ['"vendor-verification=keep"'])
    spec = aws.spec({d: {"mx": ["mx1.example.com"]} for d in ("example.com", "mail.example.com")})
    applied = run("apply", "-c", spec, "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert aws.raw_txt("_mta-sts.example.com")[0] == '"vendor-verification=keep"'
    again = run("plan", "-c", spec, "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout
