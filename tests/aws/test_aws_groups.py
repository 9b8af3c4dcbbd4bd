"""Shared distributions at scale, on moto's server (issue 13).

35 domains make 4 groups; a re-plan is empty; a domain joins a partial group, another opens
a group when every group is full, one is removed (RFC 8461 section 8.3, via the core), and a
per-domain deployment (the older layout) moves into groups over several applies. At every
step, and after every CloudFront update inside an apply, each domain's served path (alias
record -> the one distribution holding its alias -> the CloudFront Function, run in node ->
S3 key) returns its exact policy, and no alias is on two distributions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_world import BUCKET, AwsWorld
from clihelpers import run

from providers.aws.cloudfront import Distributions, caller_reference, desired_config
from providers.aws.s3 import PolicyBucket

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def names(n: int, start: int = 0) -> list[str]:
    return [f"d{i:02d}.example" for i in range(start, start + n)]


def spec_for(aws: AwsWorld, domains: list[str], **settings: Any):
    return aws.spec({d: {"mx": [f"mx.{d}"]} for d in domains}, **settings)


def zones(aws: AwsWorld, domains: list[str]) -> None:
    for domain in domains:
        aws.create_zone(domain, mx=[f"mx.{domain}"])


def apply(spec, env: dict[str, str] | None = None) -> str:
    result = run("apply", "-c", spec, "--auto-approve", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    return str(result.stdout + result.stderr)


def plan(spec, env: dict[str, str] | None = None) -> Any:
    return run("plan", "-c", spec, "--detailed-exitcode", env=env)


def assert_served(aws: AwsWorld, domains: list[str]) -> None:
    """Every domain serves exactly its stored policy; no alias on two distributions."""
    served = aws.served(domains)
    wrong = [d for d in domains if served[d] != aws.policy(d)["body"]]
    assert not wrong, f"not serving their policy: {wrong}"


def groups(aws: AwsWorld) -> dict[str, list[str]]:
    """Comment -> aliases of every distribution mtasts made."""
    return {
        d["DistributionConfig"]["Comment"] + f" ({d['Id']})": sorted(
            d["DistributionConfig"]["Aliases"].get("Items") or []
        )
        for d in aws.distributions()
    }


@contextmanager
def checked_after_every_update(
    aws: AwsWorld, domains: list[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """Check serving after each UpdateDistribution/CreateDistribution an apply makes.

    Yields the log of calls; a host that a migration releases from its per-domain
    distribution is exempt until its group's update (the move's window, see docs/aws.md)."""
    log: list[str] = []
    released: set[str] = set()

    def wrap(name: str) -> None:
        original: Callable[..., Any] = getattr(Distributions, name)

        def checked(self: Distributions, *args: Any, **kwargs: Any) -> Any:
            answer = original(self, *args, **kwargs)
            log.append(name)
            if name == "release":
                released.add(str(args[0]))
            else:
                live = [d for d in domains if aws.has_policy(d) and d not in released]
                assert_served(aws, live)
                released.clear()
            return answer

        monkeypatch.setattr(Distributions, name, checked)

    for name in ("update", "create", "release"):
        wrap(name)
    yield log


def test_35_domains_make_4_groups_and_joins_and_removals_touch_one_group(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
):
    domains = names(35)
    zones(aws, [*domains, *names(6, 35)])
    spec = spec_for(aws, domains)
    out = apply(spec)
    assert (
        "d34.example (aws) [routine]: endpoint: joins group 4 "
        "(new distribution, certificate for 5 hosts)" in out
    )
    layout = groups(aws)
    assert sorted(len(a) for a in layout.values()) == [5, 10, 10, 10]
    assert sorted(c.split(" (")[0] for c in layout) == [
        f"mtasts:managed group {n}" for n in (1, 2, 3, 4)
    ]
    assert len(aws.certificates()) == 4
    assert len(aws.functions.functions) == 1
    assert_served(aws, domains)
    assert plan(spec).exit_code == 0

    # joins the partial group 4: its certificate is re-issued, nothing else moves
    before = groups(aws)
    domains.append("d35.example")
    spec = spec_for(aws, domains)
    preview = plan(spec)
    assert "endpoint: joins group 4 (certificate re-issued for 6 hosts)" in preview.stdout
    with checked_after_every_update(aws, domains, monkeypatch) as log:
        apply(spec)
    assert log == ["update"], "one UpdateDistribution switches aliases and certificate"
    after = groups(aws)
    changed = [k for k in after if after[k] != before.get(k)]
    assert len(changed) == 1 and "group 4" in changed[0]
    assert len(aws.certificates()) == 4, "the replaced certificate is deleted"
    assert_served(aws, domains)
    assert plan(spec).exit_code == 0

    # fill group 4, then one more: every group is full, so it opens group 5
    domains += names(4, 36)
    apply(spec_for(aws, domains))
    domains.append("d40.example")
    spec = spec_for(aws, domains)
    assert "endpoint: joins group 5 (new distribution, certificate for 1 host)" in plan(spec).stdout
    apply(spec)
    assert sorted(len(a) for a in groups(aws).values()) == [1, 10, 10, 10, 10]
    assert_served(aws, domains)
    assert plan(spec).exit_code == 0

    # remove one from group 2: step 1 publishes mode none, step 2 (after max_age) leaves
    gone = "d12.example"
    domains.remove(gone)
    spec = spec_for(aws, domains)
    assert "removal step 1 of 2" in apply(spec)
    assert "mode: none" in aws.served([gone])[gone]
    later = {"MTASTS_NOW": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    before = groups(aws)
    with checked_after_every_update(aws, domains, monkeypatch):
        apply(spec, env=later)
    after = groups(aws)
    changed = [k for k in after if after[k] != before.get(k)]
    assert len(changed) == 1 and f"mta-sts.{gone}" not in after[changed[0]]
    assert aws.served([gone])[gone] is None and not aws.has_policy(gone)
    assert len(aws.certificates()) == 5
    assert_served(aws, domains)
    assert plan(spec, env=later).exit_code == 0

    # the hole is filled first
    domains.append("d12.example")
    apply(spec_for(aws, domains), env=later)
    assert next(k for k, v in groups(aws).items() if "mta-sts.d12.example" in v).startswith(
        "mtasts:managed group 2"
    )
    assert_served(aws, domains)


def per_domain_deployment(aws: AwsWorld, domains: list[str]) -> None:
    """What older versions deployed: a distribution and a certificate per domain."""
    bucket = PolicyBucket("aws", aws.s3, BUCKET, "eu-west-1")
    bucket.ensure_bucket()
    dists = Distributions("aws", aws.cloudfront)
    oac = dists.ensure_oac(BUCKET)
    arns = []
    for domain in domains:
        host = f"mta-sts.{domain}"
        cert = aws.acm.request_certificate(
            DomainName=host,
            ValidationMethod="DNS",
            Tags=[{"Key": "mtasts:managed", "Value": domain}],
        )["CertificateArn"]
        aws.acm.describe_certificate(CertificateArn=cert)  # moto issues it at this poll
        config = desired_config(host, cert, bucket.origin_domain, oac, caller_reference(host, cert))
        dist = dists.create(domain, config)
        arns.append(dist.arn)
        zone = aws.zone_id(domain)
        aws.route53.change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": host,
                            "Type": rtype,
                            "AliasTarget": {
                                "HostedZoneId": "Z2FDTNDATAQYW2",
                                "DNSName": dist.domain_name,
                                "EvaluateTargetHealth": False,
                            },
                        },
                    }
                    for rtype in ("A", "AAAA")
                ]
            },
        )
    bucket.grant(arns)


def test_a_per_domain_deployment_moves_into_groups_a_bounded_number_per_apply(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
):
    domains = names(12)
    zones(aws, domains)
    per_domain_deployment(aws, domains)
    spec = spec_for(aws, domains, migrate_per_apply=5)
    first = plan(spec)
    assert "12 domains still have their own CloudFront distribution; this apply moves 5" in (
        first.stdout + first.stderr
    )
    assert "3 applies remain" in first.stdout + first.stderr
    assert "d00.example (aws) [routine]: endpoint: moves into group 1 (new distribution" in (
        first.stdout
    )
    apply(spec)  # policies and ids for all; 5 endpoints move
    assert_served(aws, domains)
    layout = groups(aws)
    assert sum(1 for c in layout if "group" in c) == 1
    assert sum(1 for c in layout if "group" not in c) == 7, "moved ones' distributions deleted"

    remaining = []
    for _ in range(2):
        preview = plan(spec)
        assert preview.exit_code == 2
        remaining.append(preview.stdout + preview.stderr)
        with checked_after_every_update(aws, domains, monkeypatch) as log:
            apply(spec)
        assert log.count("release") <= 5
        assert_served(aws, domains)
    assert "2 applies remain" in remaining[0] and "1 apply remains" not in remaining[0]
    assert "1 apply remains (migrate_per_apply: 5)" in remaining[1]
    layout = groups(aws)
    assert all("group" in c for c in layout), layout
    assert sorted(len(a) for a in layout.values()) == [2, 10]
    assert len(aws.certificates()) == 2, "per-domain certificates deleted after the move"
    assert plan(spec).exit_code == 0
