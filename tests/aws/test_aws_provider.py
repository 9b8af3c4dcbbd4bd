"""The provider below the CLI: API-call bounds, zone choice, batching, TXT text, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_world import AwsWorld
from clihelpers import run
from pydantic import ValidationError

from providers.aws.provider import AwsProvider, AwsSettings, _check_rrset
from providers.aws.route53 import batches, normalize, txt_record, txt_strings, txt_value
from providers.aws.session import API_CALLS
from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import NoProgress
from provisioner.state import Resource

DOMAINS = ["a.example.com", "b.example.com", "c.test", "d.test"]


def provider(**settings) -> AwsProvider:
    model = AwsSettings(region="eu-west-1", bucket="mtasts-test-policies", **settings)
    return AwsProvider("aws", model, Path())


def zones(aws: AwsWorld) -> None:
    aws.create_zone("example.com", mx=["mx.example.com"])
    aws.create_zone("c.test", mx=["mx.c.test"])
    aws.create_zone("d.test", mx=["mx.d.test"])


def test_plan_reads_in_bulk_and_apply_writes_one_batch_per_zone_per_phase(aws: AwsWorld):
    zones(aws)
    spec = aws.spec({d: {"mx": ["mx.example.com", "mx.c.test", "mx.d.test"]} for d in DOMAINS})
    API_CALLS.reset()
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    # endpoint phase: validation CNAMEs, then alias records; TXT phase: one more, per zone
    assert API_CALLS.count("route53", "ChangeResourceRecordSets") == 3 * 3
    assert API_CALLS.count("route53", "ListHostedZones") == 1
    # one listing per zone to plan, and one more when apply's id guard reads the domains
    # back right before the TXT phase (provisioner.apply.guard_ids)
    assert API_CALLS.count("route53", "ListResourceRecordSets") == 3 + 3
    assert API_CALLS.count("s3", "GetObject") == 0, "the guard knows the bodies by their ETag"

    API_CALLS.reset()
    assert run("plan", "-c", spec, "--detailed-exitcode").exit_code == 0
    calls = dict(API_CALLS.calls)
    assert calls[("route53", "ListHostedZones")] == 1
    assert calls[("route53", "ListResourceRecordSets")] == 3, "one per zone, not per record"
    assert calls[("cloudfront", "ListDistributions")] == 1
    assert calls[("acm", "ListCertificates")] == 1
    assert calls[("s3", "ListObjectsV2")] == 1
    assert ("s3", "GetObject") not in calls, "every ETag is the MD5 of the rendered policy"
    assert calls[("s3", "GetBucketPolicy")] == 1
    reads = {"List", "Get", "Describe", "Head"}
    assert all(any(op.startswith(r) for r in reads) for (_, op) in calls), calls

    spec = aws.spec(
        {
            d: {"mx": ["mx.example.com", "mx.c.test", "mx.d.test"], "max_age": 172800}
            for d in DOMAINS
        }
    )
    API_CALLS.reset()
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    assert API_CALLS.count("route53", "ChangeResourceRecordSets") == 3
    assert API_CALLS.count("s3", "PutObject") == len(DOMAINS)
    assert API_CALLS.count("cloudfront", "CreateInvalidation") == 1, "one per distribution"
    # the plan fetches the old bodies (they differ from the spec's); the guard fetches none
    assert API_CALLS.count("s3", "GetObject") == len(DOMAINS)


def test_a_policy_changed_behind_mtasts_is_fetched_and_planned_back(aws: AwsWorld):
    """Issue 9.9: bodies are fetched only when the listing's ETag says they differ."""
    zones(aws)
    spec = aws.spec({"a.example.com": {"mx": ["mx.example.com"]}})
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    key = "mta-sts.a.example.com/.well-known/mta-sts.txt"
    aws.s3.put_object(Bucket="mtasts-test-policies", Key=key, Body=b"version: STSv1\r\nedited")
    API_CALLS.reset()
    result = run("plan", "-c", spec, "--detailed-exitcode")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert API_CALLS.count("s3", "GetObject") == 1
    assert "edited" in result.stdout or "policy" in result.stdout


def test_live_mx_hosts_are_read_and_enforce_warns_when_one_is_not_covered(aws: AwsWorld):
    aws.create_zone("example.com", mx=["mx1.example.com", "backup.other.net"])
    spec = aws.spec(
        {"example.com": {"mx": ["mx1.example.com"], "mode": "enforce", "max_age": 1209600}}
    )
    result = run("plan", "-c", spec)
    assert result.exit_code == 0, result.stderr
    assert "enforce would block mail to backup.other.net" in result.stdout + result.stderr
    live = provider().read(["example.com"], NoProgress())["example.com"]
    assert live.mx_hosts == ("mx1.example.com", "backup.other.net")
    assert live.endpoint is None and live.policy_text is None


def test_zone_is_the_longest_public_suffix_unless_zone_ids_says(aws: AwsWorld):
    parent = aws.create_zone("example.com")
    child = aws.create_zone("sub.example.com")
    aws.route53.create_hosted_zone(
        Name="deep.sub.example.com",
        CallerReference="private",
        HostedZoneConfig={"PrivateZone": True, "Comment": ""},
        VPC={"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"},
    )
    index = provider().zones
    assert index.zone_for("x.deep.sub.example.com").id == child
    assert index.zone_for("sub.example.com").id == child
    assert index.zone_for("other.example.com").id == parent
    pinned = provider(zone_ids={"X.Sub.Example.com.": f"/hostedzone/{parent}"}).zones
    assert pinned.zone_for("x.sub.example.com").id == parent
    idn = provider(zone_ids={"Bücher.Sub.Example.com": parent}).zones
    assert idn.zone_for("xn--bcher-kva.sub.example.com").id == parent, "an IDN pin is honoured"
    with pytest.raises(ProviderError, match=r"no Route53 hosted zone for example\.org"):
        index.zone_for("example.org")


def test_the_default_bucket_is_named_after_the_account_and_region(aws: AwsWorld):
    p = AwsProvider("aws", AwsSettings(region="eu-west-1"), Path())
    assert p.bucket.bucket == "mtasts-123456789012-eu-west-1"
    assert p.plan_settings() == {
        "region": "eu-west-1",
        "bucket": None,
        "zone_ids": {},
        "hosts_per_certificate": 10,
        "migrate_per_apply": 50,
    }


def test_settings_are_strict_and_hold_no_secrets():
    with pytest.raises(ValidationError):
        AwsSettings(region="eu-west-1", endpoint_url="http://x")
    with pytest.raises(ValidationError):
        AwsSettings(region="Europe")
    with pytest.raises(ValidationError):
        AwsSettings(bucket="Not_A_Bucket")
    for bad in (0, 101, -5, 10**12, "ten", 10.5, True):
        with pytest.raises(ValidationError):
            AwsSettings(hosts_per_certificate=bad)
    for bad in (0, 1001, "all"):
        with pytest.raises(ValidationError):
            AwsSettings(migrate_per_apply=bad)
    settings = provider(zone_ids={"Example.COM.": "/hostedzone/Z1"}).plan_settings()
    assert settings == {
        "region": "eu-west-1",
        "bucket": "mtasts-test-policies",
        "zone_ids": {"example.com": "Z1"},
        "hosts_per_certificate": 10,
        "migrate_per_apply": 50,
    }


def test_txt_values_are_quoted_split_and_read_back():
    long = "v=TLSRPTv1; rua=" + ",".join(f"mailto:r{i}@example.net" for i in range(30))
    stored = txt_record(long)
    strings = txt_strings(stored)
    assert len(strings) == 3 and all(len(s) <= 255 for s in strings)
    assert txt_value(stored) == long
    assert txt_record('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert txt_value('"say \\"hi\\" \\\\o/"') == 'say "hi" \\o/'
    assert txt_value('"a\\043b" "c"') == "a+bc", "\\DDD is decimal (RFC 1035 5.1), not octal"
    assert txt_value('"a\\059b"') == "a;b", "one reading of \\DDD for every provider"
    assert txt_value("unquoted") == "unquoted"
    assert txt_value("unquoted value") == "unquotedvalue", "zone-file text: two strings"
    assert txt_value('"caf\\195\\169"') == "café"
    assert txt_record("café") == '"caf\\195\\169"'
    assert txt_value('"unbalanced') == '"unbalanced', "moto stores anything: read as is"
    assert normalize("\\052.Example.COM.") == "*.example.com"


def _upsert(name: str, values: int = 1, size: int = 10) -> dict:
    records = [{"Value": "x" * size} for _ in range(values)]
    rrset = {"Name": name, "Type": "TXT", "TTL": 300, "ResourceRecords": records}
    return {"Action": "UPSERT", "ResourceRecordSet": rrset}


def test_batches_respect_route53_limits_counting_upserts_twice():
    assert len(batches([_upsert(f"n{i}") for i in range(500)])) == 1
    split = batches([_upsert(f"n{i}") for i in range(501)])
    assert [len(b) for b in split] == [500, 1]
    deletes = [{**_upsert(f"n{i}"), "Action": "DELETE"} for i in range(1000)]
    assert len(batches(deletes)) == 1
    big = batches([_upsert(f"n{i}", size=3000) for i in range(11)])
    assert [len(b) for b in big] == [5, 5, 1], "32,000 characters, UPSERT counted twice"


def test_two_sts_values_at_one_name_are_refused():
    change = Change(
        "example.com",
        "aws",
        Resource.STS_RECORD,
        Action.UPDATE,
        "v=STSv1; id=a",
        "v=STSv1; id=b",
        "test",
        ("v=STSv1; id=a",),
        ("v=STSv1; id=a", "v=STSv1; id=b"),
    )
    with pytest.raises(ProviderError, match="2 STS records"):
        _check_rrset("aws", change)
