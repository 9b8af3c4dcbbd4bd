"""The plan refuses to write beside records someone else owns (delegations, vendor hosts)."""

from __future__ import annotations

import pytest

from provisioner.conflicts import ConflictError, refuse_conflicts
from provisioner.rfc8461 import Mode, Policy
from provisioner.state import BlockingRecord, DesiredDomain, Endpoint, LiveDomain, Resource


def want(domain: str, tlsrpt: str | None = None, endpoint: Endpoint | None = None) -> DesiredDomain:
    policy = Policy(Mode.TESTING, 86400, ("mx1." + domain,))
    return DesiredDomain(domain, "aws", policy, policy.render(), tlsrpt, endpoint)


DELEGATED = BlockingRecord(
    Resource.STS_RECORD, "_mta-sts.example.com", "CNAME", "_mta-sts.hosted.example.net"
)


def test_a_delegated_sts_name_is_one_line_naming_the_record_and_the_ways_out():
    live = {"example.com": LiveDomain("example.com", blocking=(DELEGATED,))}
    with pytest.raises(ConflictError) as caught:
        refuse_conflicts({"example.com": want("example.com")}, live)
    (line,) = [str(p) for p in caught.value.problems]
    assert line == (
        "example.com (aws): _mta-sts.example.com is a CNAME to _mta-sts.hosted.example.net: "
        "MTA-STS is delegated elsewhere; mtasts writes nothing for this domain. Remove that "
        "record to let mtasts manage it; to keep what senders see now, first copy the live "
        "mode, mx, max_age and rua into the spec with 'mtasts import example.com'"
    )


def test_every_blocked_domain_is_named_at_once():
    live = {
        d: LiveDomain(
            d,
            blocking=(
                BlockingRecord(Resource.STS_RECORD, "_mta-sts." + d, "CNAME", "x.example.net"),
            ),
        )
        for d in ("a.example", "b.example")
    }
    with pytest.raises(ConflictError) as caught:
        refuse_conflicts({d: want(d) for d in live}, live)
    assert [str(p).split(" ")[0] for p in caught.value.problems] == ["a.example", "b.example"]


def test_records_at_names_mtasts_will_not_write_do_not_block():
    tlsrpt_cname = BlockingRecord(
        Resource.TLSRPT_RECORD, "_smtp._tls.example.com", "CNAME", "r.example.net"
    )
    vendor_host = BlockingRecord(
        Resource.ENDPOINT, "mta-sts.example.com", "CNAME", "vendor.example.net"
    )
    live = {"example.com": LiveDomain("example.com", blocking=(tlsrpt_cname, vendor_host))}
    refuse_conflicts({"example.com": want("example.com")}, live)
    with pytest.raises(ConflictError):
        refuse_conflicts(
            {"example.com": want("example.com", tlsrpt="v=TLSRPTv1; rua=mailto:a@example.com")},
            live,
        )
    with pytest.raises(ConflictError):
        refuse_conflicts(
            {"example.com": want("example.com", endpoint=Endpoint("mta-sts.example.com", "cdn"))},
            live,
        )


def test_a_domain_leaving_the_spec_whose_sts_name_was_delegated_is_refused_too():
    live = {"gone.example": LiveDomain("gone.example", blocking=(DELEGATED,))}
    with pytest.raises(ConflictError) as caught:
        refuse_conflicts({}, live, {"gone.example": "aws"})
    [line] = [str(p) for p in caught.value.problems]
    assert line.startswith("gone.example (aws): _mta-sts.example.com is a CNAME")
