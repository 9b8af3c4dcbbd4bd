"""End to end through the real CLI against moto's server: apply, change, remove, refuse.

Every scenario ends with the idempotence check (plan --detailed-exitcode exits 0), and what
a sender would see goes through postfix-mta-sts-resolver via the real-client harness.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aws_world import BUCKET, AwsWorld
from clihelpers import run
from harness import MtaStsWorld

from providers.aws.session import API_CALLS

ENFORCE = {"mode": "enforce", "max_age": 1209600}


def apply(spec, *extra: str, env: dict[str, str] | None = None) -> str:
    result = run("apply", "-c", spec, "--auto-approve", *extra, env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def assert_idempotent(spec) -> None:
    result = run("plan", "-c", spec, "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No changes" in result.stdout or "0 to add, 0 to change, 0 to destroy" in result.stdout


def sts_id(aws: AwsWorld, domain: str) -> str:
    [value] = [v for v in aws.txt(f"_mta-sts.{domain}") if v.startswith("v=STSv1")]
    return value.split("id=", 1)[1]


def test_apply_from_empty_deploys_everything_a_sender_needs(
    aws: AwsWorld, mta_sts_world: MtaStsWorld
):
    aws.create_zone("example.com", mx=["mx1.example.com"])
    aws.create_zone("example.org", mx=["mx.example.org"])
    spec = aws.spec(
        {
            "example.com": {"mx": ["mx1.example.com"], **ENFORCE},
            "example.org": {"mx": ["mx.example.org"]},
        }
    )
    apply(spec)
    assert_idempotent(spec)

    policy = aws.policy("example.com")
    assert policy["body"].startswith("version: STSv1\r\nmode: enforce\r\n")
    assert policy["content_type"] == "text/plain; charset=utf-8"
    assert policy["cache_control"] == "max-age=300"
    assert aws.txt("_smtp._tls.example.com") == ["v=TLSRPTv1; rua=mailto:tlsrpt@example.net"]
    assert aws.raw_txt("_mta-sts.example.com")[0].startswith('"v=STSv1; id=')

    bucket = aws.s3
    assert bucket.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    block = bucket.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())

    [cert] = [c for c in aws.certificates() if c["DomainName"] == "mta-sts.example.com"]
    assert cert["Status"] == "ISSUED"
    tags = aws.acm.list_tags_for_certificate(CertificateArn=cert["CertificateArn"])["Tags"]
    assert {"Key": "mtasts:managed", "Value": "group 1"} in tags
    records = aws.rrsets("example.com")
    validation = aws.acm.describe_certificate(CertificateArn=cert["CertificateArn"])
    for option in validation["Certificate"]["DomainValidationOptions"]:
        name = option["ResourceRecord"]["Name"].rstrip(".").lower()
        assert (name, "CNAME") in aws.rrsets(name.split(".mta-sts.")[-1])

    dist = aws.distribution("example.com")
    assert aws.distribution("example.org") == dist, "one shared distribution"
    config = dist["DistributionConfig"]
    assert config["Aliases"]["Items"] == ["mta-sts.example.com", "mta-sts.example.org"]
    assert config["Comment"] == "mtasts:managed group 1"
    [function_arn] = aws.functions.associations[dist["Id"]]
    assert aws.functions.live_code(function_arn.rsplit("/", 1)[-1])
    assert config["ViewerCertificate"]["ACMCertificateArn"] == cert["CertificateArn"]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert config["ViewerCertificate"]["SSLSupportMethod"] == "sni-only"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"
    assert config["Origins"]["Items"][0]["OriginPath"] == ""
    for rtype in ("A", "AAAA"):
        alias = records[("mta-sts.example.com", rtype)]["AliasTarget"]
        assert alias["DNSName"].rstrip(".") == dist["DomainName"]
        assert alias["HostedZoneId"] == "Z2FDTNDATAQYW2"
    [grant] = aws.bucket_policy()["Statement"]
    assert grant["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    arns = grant["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert sorted(arns) == sorted(d["ARN"] for d in aws.distributions())

    for domain, mode in (("example.com", "enforce"), ("example.org", "testing")):
        aws.serve_in(mta_sts_world, domain)
        seen = mta_sts_world.resolve_with_postfix_client(domain)
        assert (seen.status, seen.mode) == ("VALID", mode), seen.log
        assert seen.policy_id == sts_id(aws, domain)


def test_mode_change_writes_object_then_invalidates_then_changes_the_id(
    aws: AwsWorld, mta_sts_world: MtaStsWorld
):
    aws.create_zone("example.net", mx=["in.mail.example.net"])
    spec = aws.spec({"example.net": {"mx": ["*.mail.example.net"]}})
    apply(spec)
    aws.serve_in(mta_sts_world, "example.net")
    before = mta_sts_world.resolve_with_postfix_client("example.net")
    assert (before.status, before.mode) == ("VALID", "testing"), before.log

    spec = aws.spec({"example.net": {"mx": ["*.mail.example.net"], **ENFORCE}})
    API_CALLS.reset()
    apply(spec)
    log = API_CALLS.log
    put = log.index(("s3", "PutObject"))
    invalidate = log.index(("cloudfront", "CreateInvalidation"))
    waited = max(i for i, call in enumerate(log) if call == ("cloudfront", "GetInvalidation"))
    txt = log.index(("route53", "ChangeResourceRecordSets"))
    assert put < invalidate < waited < txt, log
    dist = aws.distribution("example.net")
    [done] = aws.cloudfront.list_invalidations(DistributionId=dist["Id"])["InvalidationList"][
        "Items"
    ]
    batch = aws.cloudfront.get_invalidation(DistributionId=dist["Id"], Id=done["Id"])
    paths = batch["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]
    assert paths == ["/mta-sts.example.net/.well-known/mta-sts.txt"], "the cache key's path"
    assert API_CALLS.count("cloudfront", "CreateDistributionWithTags") == 0
    assert API_CALLS.count("acm", "RequestCertificate") == 0
    assert_idempotent(spec)

    aws.serve_in(mta_sts_world, "example.net")
    after = mta_sts_world.resolve_with_postfix_client("example.net", before.policy_id)
    assert (after.status, after.mode) == ("VALID", "enforce"), after.log
    assert after.policy_id != before.policy_id


def test_foreign_values_records_and_objects_are_preserved(aws: AwsWorld):
    zone = aws.create_zone("example.com", mx=["mx1.example.com"])
    aws.upsert(zone, "_mta-sts.example.com", "TXT", ['"foreign \\"quoted\\" value"'])
    aws.upsert(
        zone, "_smtp._tls.example.com", "TXT", ['"v=TLSRPTv1; rua=mailto:old@x.net"', '"keep"']
    )
    aws.upsert(zone, "www.example.com", "A", ["192.0.2.1"])
    aws.upsert(zone, "example.com", "TXT", ['"v=spf1 -all"'])
    aws.s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    aws.s3.put_object(Bucket=BUCKET, Key="index.html", Body=b"other")
    aws.s3.put_object(Bucket=BUCKET, Key="mta-sts.example.com/other.txt", Body=b"other")
    spec = aws.spec({"example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)
    assert_idempotent(spec)

    raw = aws.raw_txt("_mta-sts.example.com")
    assert raw[0] == '"foreign \\"quoted\\" value"'
    assert len([v for v in aws.txt("_mta-sts.example.com") if v.startswith("v=STSv1")]) == 1
    assert aws.txt("_smtp._tls.example.com") == [
        "keep",
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.net",
    ]
    records = aws.rrsets("example.com")
    assert records[("www.example.com", "A")]["ResourceRecords"] == [{"Value": "192.0.2.1"}]
    assert aws.txt("example.com") == ["v=spf1 -all"]
    assert aws.s3.get_object(Bucket=BUCKET, Key="index.html")["Body"].read() == b"other"
    assert aws.s3.get_object(Bucket=BUCKET, Key="mta-sts.example.com/other.txt")


def test_two_sts_records_become_one_and_long_values_are_split(
    aws: AwsWorld, mta_sts_world: MtaStsWorld
):
    zone = aws.create_zone("example.com", mx=["mx1.example.com"])
    aws.upsert(zone, "_mta-sts.example.com", "TXT", ['"v=STSv1; id=old1"', '"v=STSv1; id=old2"'])
    rua = [f"mailto:tlsrpt-{i:02d}@reports.example.net" for i in range(12)]
    spec = aws.spec({"example.com": {"mx": ["mx1.example.com"], "tlsrpt": {"rua": rua}}})
    plan = run("plan", "-c", spec)
    assert "2 records at this name" in plan.stdout
    apply(spec)
    assert_idempotent(spec)

    assert len(aws.raw_txt("_mta-sts.example.com")) == 1
    [raw] = aws.raw_txt("_smtp._tls.example.com")
    from providers.aws.route53 import txt_strings

    strings = txt_strings(raw)
    assert len(strings) > 1 and all(len(s) <= 255 for s in strings)
    assert raw == " ".join(f'"{s.decode()}"' for s in strings)
    assert b"".join(strings).decode() == "v=TLSRPTv1; rua=" + ",".join(rua)
    aws.serve_in(mta_sts_world, "example.com")
    checked = mta_sts_world.check_with_checkdmarc("example.com")
    assert checked.tlsrpt["tags"]["rua"]["value"] == rua, checked.tlsrpt


def test_removal_waits_max_age_then_deletes_only_what_mtasts_made(
    aws: AwsWorld, mta_sts_world: MtaStsWorld
):
    zone = aws.create_zone("example.com", mx=["mx1.example.com"])
    aws.create_zone("example.org", mx=["mx.example.org"])
    aws.upsert(zone, "_mta-sts.example.com", "TXT", ['"foreign"'])
    both = {
        "example.com": {"mx": ["mx1.example.com"]},
        "example.org": {"mx": ["mx.example.org"]},
    }
    apply(aws.spec(both))
    kept_dist = aws.distribution("example.org")

    spec = aws.spec({"example.org": both["example.org"]})
    out = apply(spec)
    assert "removal step 1 of 2" in out
    assert "mode: none" in aws.policy("example.com")["body"]
    aws.serve_in(mta_sts_world, "example.com")
    step_one = mta_sts_world.resolve_with_postfix_client("example.com")
    assert (step_one.status, step_one.mode) == ("VALID", "none"), step_one.log
    waiting = run("plan", "-c", spec, "--detailed-exitcode")
    assert waiting.exit_code == 0, waiting.stdout
    assert "removal waits until" in waiting.stdout + waiting.stderr

    later = {"MTASTS_NOW": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    apply(spec, env=later)  # the run's clock (provisioner.clock), two days on
    result = run("plan", "-c", spec, "--detailed-exitcode", env=later)
    assert result.exit_code == 0, result.stdout + result.stderr

    assert not aws.has_policy("example.com")
    assert aws.txt("_mta-sts.example.com") == ["foreign"]
    assert aws.txt("_smtp._tls.example.com"), "the TLSRPT record is left in place"
    records = aws.rrsets("example.com")
    assert ("mta-sts.example.com", "A") not in records
    assert ("mta-sts.example.com", "AAAA") not in records
    assert not [n for (n, t) in records if t == "CNAME"], "validation CNAME deleted"
    assert aws.distribution("example.com") is None
    assert [c["DomainName"] for c in aws.certificates()] == ["mta-sts.example.org"]
    [grant] = aws.bucket_policy()["Statement"]
    assert grant["Condition"]["StringEquals"]["AWS:SourceArn"] == [kept_dist["ARN"]]
    assert aws.distribution("example.org") is not None
    mta_sts_world.reset()
    aws.serve_in(mta_sts_world, "example.com")
    assert mta_sts_world.resolve_with_postfix_client("example.com").status == "NONE"


def test_a_stale_saved_plan_is_refused_and_a_fresh_one_applies(aws: AwsWorld, tmp_path):
    zone = aws.create_zone("example.com", mx=["mx1.example.com"])
    spec = aws.spec({"example.com": {"mx": ["mx1.example.com"]}})
    saved = tmp_path / "plan.json"
    assert run("plan", "-c", spec, "--out", saved).exit_code == 0
    text = saved.read_text()
    assert "mtasts-test-secret" not in text and "AKIAMTASTS" not in text
    aws.upsert(zone, "_mta-sts.example.com", "TXT", ['"someone else"'])
    refused = run("apply", "--auto-approve", saved)
    assert refused.exit_code == 1
    assert "saved plan is stale" in refused.stderr and "example.com" in refused.stderr
    assert not aws.has_policy("example.com") if _bucket_exists(aws) else True
    assert run("plan", "-c", spec, "--out", saved).exit_code == 0
    applied = run("apply", "--auto-approve", saved)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert aws.txt("_mta-sts.example.com")[0] == "someone else"
    assert_idempotent(spec)


def _bucket_exists(aws: AwsWorld) -> bool:
    return any(b["Name"] == BUCKET for b in aws.s3.list_buckets().get("Buckets", []))


def test_a_broken_endpoint_piece_is_planned_and_repaired(aws: AwsWorld):
    zone = aws.create_zone("example.com", mx=["mx1.example.com"])
    spec = aws.spec({"example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)
    aaaa = aws.rrsets("example.com")[("mta-sts.example.com", "AAAA")]
    aws.route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": aaaa}]},
    )
    plan = run("plan", "-c", spec, "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "alias AAAA missing" in plan.stdout
    API_CALLS.reset()
    apply(spec)
    assert API_CALLS.count("cloudfront", "CreateDistributionWithTags") == 0
    assert API_CALLS.count("acm", "RequestCertificate") == 0
    assert ("mta-sts.example.com", "AAAA") in aws.rrsets("example.com")
    assert_idempotent(spec)


def test_a_certificate_left_by_an_interrupted_apply_is_reused(aws: AwsWorld):
    aws.create_zone("example.com", mx=["mx1.example.com"])
    left = aws.acm.request_certificate(
        DomainName="mta-sts.example.com",
        ValidationMethod="DNS",
        Tags=[{"Key": "mtasts:managed", "Value": "group 1"}],
    )["CertificateArn"]
    aws.acm.request_certificate(DomainName="mta-sts.example.com", ValidationMethod="DNS")
    spec = aws.spec({"example.com": {"mx": ["mx1.example.com"]}})
    apply(spec)
    assert_idempotent(spec)
    dist = aws.distribution("example.com")
    assert dist["DistributionConfig"]["ViewerCertificate"]["ACMCertificateArn"] == left
    assert len(aws.certificates()) == 2, "the untagged certificate is someone else's"


def test_a_certificate_wait_that_runs_out_stops_clearly_and_the_next_apply_completes(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
):
    from moto import settings as moto_settings

    aws.create_zone("example.com", mx=["mx1.example.com"])
    spec = aws.spec({"example.com": {"mx": ["mx1.example.com"]}})
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 3600)
    monkeypatch.setenv("MTASTS_AWS_CERT_TIMEOUT", "1")
    stopped = run("apply", "-c", spec, "--auto-approve")
    assert stopped.exit_code == 1
    [line] = stopped.stderr.strip().splitlines()
    assert "apply stopped in phase 'endpoints'" in line
    assert "group 1: certificate still PENDING_VALIDATION" in line
    assert not aws.txt("_mta-sts.example.com"), "no id published before the policy is served"
    plan = run("plan", "-c", spec)
    # nothing of it serves yet: the host still joins its group
    assert "endpoint: joins group 1 (new distribution, certificate for 1 host)" in plan.stdout
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 0)
    API_CALLS.reset()
    apply(spec)
    assert API_CALLS.count("acm", "RequestCertificate") == 0, "the pending one is reused"
    assert len(aws.certificates()) == 1
    assert_idempotent(spec)


def test_verbose_plan_counts_api_calls_by_service(aws: AwsWorld):
    """`-v` says what the run cost: every AWS call by service (issue 11), never a secret."""
    aws.create_zone("example.com", mx=["mx1.example.com"])
    spec = aws.spec({"example.com": {"mx": ["mx1.example.com"]}})

    result = run("-v", "plan", "-c", spec)

    assert result.exit_code == 0, result.stdout + result.stderr
    [line] = [x for x in result.stderr.splitlines() if "API calls by service:" in x]
    for service in ("aws route53", "aws s3", "aws cloudfront", "aws acm"):
        assert service in line
    assert "AKIA" not in result.stderr and "secret" not in result.stderr.lower()
