"""Existing deployments are never taken over silently (issue 8.2).

A vendor's `mta-sts.<d>` CNAME, a delegated `_mta-sts` or `_smtp._tls` (CNAME to a hosted
MTA-STS service), or an A/AAAA at `mta-sts.<d>` that is not mtasts's alias to its own
distribution: the AWS read reports each as `LiveDomain.blocking`, and the plan refuses with
one line per domain naming the record, before anything is written. Before this, the plan
added A/AAAA beside the CNAME and Route53 refused the whole batch, for every domain.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_world import BUCKET, AwsWorld
from clihelpers import run

from providers.aws.provider import AwsProvider, AwsSettings
from providers.aws.session import API_CALLS
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import NoProgress
from provisioner.state import BlockingRecord, Resource

FOREIGN_DISTRIBUTION = "d111111abcdef8.cloudfront.net"


def provider() -> AwsProvider:
    return AwsProvider("aws", AwsSettings(region="eu-west-1", bucket=BUCKET), Path())


def alias(aws: AwsWorld, zone: str, name: str, rtype: str, target: str) -> None:
    aws.route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": rtype,
                        "AliasTarget": {
                            "HostedZoneId": "Z2FDTNDATAQYW2",
                            "DNSName": target,
                            "EvaluateTargetHealth": False,
                        },
                    },
                }
            ]
        },
    )


def test_the_read_reports_every_record_it_cannot_write_beside(aws: AwsWorld):
    com = aws.create_zone("example.com", mx=["mx.example.com"])
    aws.upsert(com, "mta-sts.example.com", "CNAME", ["mta-sts.vendor.example."])
    aws.upsert(com, "_mta-sts.example.com", "CNAME", ["_mta-sts.hosted.example."])
    org = aws.create_zone("example.org", mx=["mx.example.org"])
    aws.upsert(org, "_smtp._tls.example.org", "CNAME", ["_smtp._tls.hosted.example."])
    net = aws.create_zone("example.net", mx=["mx.example.net"])
    aws.upsert(net, "mta-sts.example.net", "A", ["192.0.2.10"])
    aws.upsert(net, "mta-sts.example.net", "AAAA", ["2001:db8::10"])
    info = aws.create_zone("example.info", mx=["mx.example.info"])
    alias(aws, info, "mta-sts.example.info", "A", FOREIGN_DISTRIBUTION)
    aws.upsert(info, "_mta-sts.example.info", "NS", ["ns1.hosted.example."])
    calm = aws.create_zone("example.dev", mx=["mx.example.dev"])
    aws.upsert(calm, "_mta-sts.example.dev", "TXT", ['"v=STSv1; id=vendor1"'])
    aws.upsert(calm, "mta-sts.example.dev", "TXT", ['"site-verification=ok"'])

    domains = ["example.com", "example.org", "example.net", "example.info", "example.dev"]
    live = provider().read(domains, NoProgress())

    assert set(live["example.com"].blocking) == {
        BlockingRecord(Resource.ENDPOINT, "mta-sts.example.com", "CNAME", "mta-sts.vendor.example"),
        BlockingRecord(
            Resource.STS_RECORD, "_mta-sts.example.com", "CNAME", "_mta-sts.hosted.example"
        ),
    }
    assert live["example.org"].blocking == (
        BlockingRecord(
            Resource.TLSRPT_RECORD, "_smtp._tls.example.org", "CNAME", "_smtp._tls.hosted.example"
        ),
    )
    assert set(live["example.net"].blocking) == {
        BlockingRecord(Resource.ENDPOINT, "mta-sts.example.net", "A", "192.0.2.10"),
        BlockingRecord(Resource.ENDPOINT, "mta-sts.example.net", "AAAA", "2001:db8::10"),
    }
    assert set(live["example.info"].blocking) == {
        BlockingRecord(
            Resource.ENDPOINT, "mta-sts.example.info", "A", f"alias to {FOREIGN_DISTRIBUTION}"
        ),
        BlockingRecord(Resource.STS_RECORD, "_mta-sts.example.info", "NS", "ns1.hosted.example"),
    }
    # a foreign STS value or a TXT beside the policy host is kept, not a conflict
    assert live["example.dev"].blocking == ()


def test_mtasts_own_alias_is_not_a_conflict(aws: AwsWorld):
    aws.create_zone("example.com", mx=["mx.example.com"])
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    assert provider().read(["example.com"], NoProgress())["example.com"].blocking == ()


def test_plan_and_apply_refuse_a_delegation_naming_the_record_and_write_nothing(aws: AwsWorld):
    com = aws.create_zone("example.com", mx=["mx.example.com"])
    aws.upsert(com, "mta-sts.example.com", "CNAME", ["mta-sts.vendor.example."])
    aws.upsert(com, "_mta-sts.example.com", "TXT", ['"v=STSv1; id=vendor1"'])
    org = aws.create_zone("example.org", mx=["mx.example.org"])
    aws.upsert(org, "_mta-sts.example.org", "CNAME", ["_mta-sts.hosted.example."])
    aws.create_zone("example.net", mx=["mx.example.net"])
    spec = aws.spec({d: {"mx": [f"mx.{d}"]} for d in ("example.com", "example.org", "example.net")})
    before = {d: aws.rrsets(d) for d in ("example.com", "example.org", "example.net")}

    for command in (("plan",), ("apply", "--auto-approve")):
        API_CALLS.reset()
        result = run(*command, "-c", spec)
        assert result.exit_code == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        text = "\n".join(lines)
        assert any(
            "example.com" in line
            and "mta-sts.example.com is a CNAME to mta-sts.vendor.example" in line
            for line in lines
        ), text
        assert any(
            "example.org" in line
            and "_mta-sts.example.org is a CNAME to _mta-sts.hosted.example" in line
            for line in lines
        ), text
        assert not any("example.net" in line for line in lines), text
        writes = [op for (_, op) in API_CALLS.calls if not op.startswith(("List", "Get", "Head"))]
        assert not writes, writes

    assert {d: aws.rrsets(d) for d in before} == before
    assert not any(b["Name"] == BUCKET for b in aws.s3.list_buckets().get("Buckets", []))
    assert aws.certificates() == [] and aws.distributions() == []


def test_apply_sends_nothing_beside_a_blocking_record_even_when_the_plan_did_not_refuse(
    aws: AwsWorld,
):
    """A removal's `mode: none` id (the plan checks spec domains only) or a stale saved plan."""
    zone = aws.create_zone("example.com", mx=["mx.example.com"])
    aws.upsert(zone, "_mta-sts.example.com", "CNAME", ["_mta-sts.hosted.example."])
    value = "v=STSv1; id=0123456789ab20260101000000"
    change = Change(
        "example.com", "aws", Resource.STS_RECORD, Action.CREATE, None, value, "test", (), (value,)
    )
    API_CALLS.reset()
    with pytest.raises(ProviderError) as refused:
        provider().apply([change], NoProgress())
    assert str(refused.value) == (
        "aws: example.com: _mta-sts.example.com is a CNAME (_mta-sts.hosted.example) that "
        "mtasts cannot write beside; nothing of this phase was sent"
    )
    assert API_CALLS.count("route53", "ChangeResourceRecordSets") == 0
    assert aws.rrsets("example.com")[("_mta-sts.example.com", "CNAME")]
