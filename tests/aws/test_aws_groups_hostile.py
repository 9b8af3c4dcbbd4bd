"""Shared distributions under hostile or careless input: odd Host headers and paths, a
listing CloudFront would never give (one alias on two distributions, a group number twice),
and an apply killed in the middle of a migration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_world import BUCKET, DEFAULTS, AwsWorld
from cf_function import run as run_function
from clihelpers import write_spec
from test_aws_groups import (
    apply,
    assert_served,
    groups,
    names,
    per_domain_deployment,
    plan,
    spec_for,
    zones,
)

from providers.aws.acm import Certificate, Certificates
from providers.aws.cloudfront import Distribution, Distributions, desired_config
from providers.aws.endpoint import describe, migrating, wanted
from providers.aws.function import CODE, function_name
from providers.aws.inventory import Inventory
from providers.aws.provider import AwsProvider, AwsSettings
from provisioner.errors import ProviderError

POLICY = "/.well-known/mta-sts.txt"


def test_the_function_serves_only_policy_hosts_at_the_policy_path_and_never_redirects():
    cases: list[tuple[str | None, str]] = [
        ("mta-sts.example.com", POLICY),
        ("MTA-STS.Example.COM.", POLICY),
        ("mta-sts.example.com:443", POLICY),
        ("mta-sts.example.com", "/"),
        ("mta-sts.example.com", "/.well-known/mta-sts.txt/"),
        ("mta-sts.example.com", "/.well-known/../.well-known/mta-sts.txt"),
        ("mta-sts.example.com", "/.WELL-KNOWN/MTA-STS.TXT"),
        ("www.example.com", POLICY),
        ("d111111abcdef8.cloudfront.net", POLICY),
        ("mta-sts.", POLICY),
        ("mta-sts.a/../../etc", POLICY),
        ("mta-sts.a..b", POLICY),
        ("mta-sts.exa mple.com", POLICY),
        ("mta-sts." + "a" * 250 + ".com", POLICY),
        ("", POLICY),
        (None, POLICY),
    ]
    answers = run_function(CODE, cases)
    assert answers[0] == {"uri": "/mta-sts.example.com" + POLICY}
    assert answers[1] == answers[2] == answers[0], "case, trailing dot and port are ignored"
    assert all(a == {"status": 404} for a in answers[3:]), answers


def dist(dist_id: str, hosts: tuple[str, ...], group: int | None) -> Distribution:
    return Distribution(
        dist_id, f"arn:{dist_id}", hosts, group, f"{dist_id}.cloudfront.net", "Deployed",
        True, "arn:cert", "TLSv1.2_2021", "https-only", "b.s3", "", None,
    )  # fmt: skip


def test_a_listing_with_one_alias_on_two_distributions_is_refused_in_one_line():
    inventory = Inventory()
    found = [dist("E1", ("mta-sts.a.example",), 1), dist("E2", ("mta-sts.a.example",), None)]
    with pytest.raises(ProviderError, match=r"^aws: mta-sts\.a\.example is an alias of two "):
        inventory.set_distributions(found, "aws")


def test_a_group_number_claimed_twice_is_refused_in_one_line():
    inventory = Inventory()
    found = [dist("E1", ("mta-sts.a.example",), 3), dist("E2", ("mta-sts.b.example",), 3)]
    with pytest.raises(ProviderError, match=r"^aws: distributions E1 and E2 both claim group 3"):
        inventory.set_distributions(found, "aws")


def test_an_apply_killed_between_release_and_the_group_update_is_completed_by_the_next(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
):
    domains = names(3)
    zones(aws, domains)
    per_domain_deployment(aws, domains)
    spec = spec_for(aws, domains)
    apply(spec)  # policies and ids; all three move into group 1
    domains.append("d03.example")
    zones(aws, ["d03.example"])
    per_domain_deployment(aws, ["d03.example"])
    spec = spec_for(aws, domains)
    original = Distributions.update

    def killed(self: Distributions, *args: Any, **kwargs: Any) -> Any:
        raise ProviderError("aws: group 1: killed mid-apply (test)")

    monkeypatch.setattr(Distributions, "update", killed)
    failed = plan(spec)
    assert failed.exit_code == 2
    from clihelpers import run

    stopped = run("apply", "-c", spec, "--auto-approve")
    assert stopped.exit_code == 1 and "killed mid-apply" in stopped.stderr
    monkeypatch.setattr(Distributions, "update", original)
    aws.aliases()  # never one alias on two distributions, even half-way
    again = plan(spec)
    assert again.exit_code == 2, again.stdout + again.stderr
    apply(spec)
    assert_served(aws, domains)
    layout = groups(aws)
    assert list(layout.values()) == [[f"mta-sts.{d}" for d in domains]], layout
    assert len(aws.certificates()) == 1, "the stopped move's per-domain certificate is gone"
    assert plan(spec).exit_code == 0


def test_a_failed_group_certificate_is_replaced_by_a_new_one_on_the_next_apply(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
):
    """ACM answers a token it saw within the hour with the certificate it made then: the
    retry the error line asks for must not get the FAILED certificate back."""
    domains = names(2)
    zones(aws, domains)
    spec = spec_for(aws, domains)
    failed: set[str] = set()
    original_request = Certificates.request_group
    original_listing = Certificates.by_host

    def request_fails_once(self: Certificates, *args: Any, **kwargs: Any) -> str:
        arn = original_request(self, *args, **kwargs)
        if not failed:
            failed.add(arn)
        return arn

    def listing(self: Certificates) -> dict[str, list[Certificate]]:
        found = original_listing(self)
        return {
            name: [replace(c, status="FAILED") if c.arn in failed else c for c in certs]
            for name, certs in found.items()
        }

    monkeypatch.setattr(Certificates, "request_group", request_fails_once)
    monkeypatch.setattr(Certificates, "by_host", listing)
    from clihelpers import run

    stopped = run("apply", "-c", spec, "--auto-approve")
    assert stopped.exit_code == 1, stopped.stdout + stopped.stderr
    [line] = stopped.stderr.strip().splitlines()
    assert "is FAILED; delete it or run apply again to request a new one" in line
    assert aws.served(domains) == {d: None for d in domains}

    apply(spec)  # the FAILED certificate stays FAILED, as on AWS
    assert_served(aws, domains)
    [cert] = aws.certificates()
    assert cert["CertificateArn"] not in failed, "the FAILED certificate is deleted"
    assert plan(spec).exit_code == 0


def test_a_certificate_left_by_a_stopped_apply_is_deleted_when_the_group_changes_again(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
):
    domains = names(2)
    zones(aws, names(4))
    apply(spec_for(aws, domains))
    original = Distributions.update

    def killed(self: Distributions, *args: Any, **kwargs: Any) -> Any:
        raise ProviderError("aws: group 1: killed mid-apply (test)")

    monkeypatch.setattr(Distributions, "update", killed)
    from clihelpers import run

    stopped = run("apply", "-c", spec_for(aws, names(3)), "--auto-approve")
    assert stopped.exit_code == 1 and "killed mid-apply" in stopped.stderr
    assert len(aws.certificates()) == 2, "the new certificate was requested, never used"
    monkeypatch.setattr(Distributions, "update", original)
    assert_served(aws, domains)  # the old certificate still serves

    domains = names(4)  # the host set changed since: that certificate is never reused
    apply(spec_for(aws, domains))
    assert_served(aws, domains)
    assert len(aws.certificates()) == 1, "the stopped apply's certificate is not left behind"
    assert plan(spec_for(aws, domains)).exit_code == 0


def test_a_host_that_is_an_alias_of_someone_elses_distribution_is_a_conflict_never_taken(
    aws: AwsWorld,
):
    """CloudFront refuses one alias on two distributions (moto does not): the group's
    update would fail for every host in it, or take the alias from its owner."""
    domains = names(2)
    zones(aws, domains)
    config = desired_config("mta-sts.d01.example", "", "www.s3.amazonaws.com", "", "someone-else")
    config["Comment"] = "www site"
    config["ViewerCertificate"] = {"CloudFrontDefaultCertificate": True}
    theirs = aws.cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    from clihelpers import run

    spec = spec_for(aws, domains)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = run(*command, "-c", spec)
        assert result.exit_code == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert (
            f"mta-sts.d01.example is a CloudFront alias (of distribution {theirs}): "
            "another deployment owns it"
        ) in result.stderr, result.stderr
    assert [d["Id"] for d in aws.distributions()] == [theirs], "nothing created or changed"
    assert aws.aliases() == {"mta-sts.d01.example": theirs}


@pytest.mark.parametrize(
    ("legacy", "said"),
    [
        (7, "7 domains still have their own CloudFront distribution; this apply moves 5 into "
            "groups, 2 applies remain (migrate_per_apply: 5)"),
        (2, "2 domains still have their own CloudFront distribution; this apply moves 2 into "
            "groups, 1 apply remains (migrate_per_apply: 5)"),
    ],
)  # fmt: skip
def test_the_plan_says_how_many_applies_the_migration_needs_in_plain_words(legacy: int, said: str):
    provider = AwsProvider("aws", AwsSettings(migrate_per_apply=5), Path())
    inventory = Inventory()
    domains = names(legacy)
    inventory.set_distributions(
        [dist(f"E{i}", (f"mta-sts.{d}",), None) for i, d in enumerate(domains)], "aws"
    )
    moving = migrating(inventory, domains, 5)
    assert provider._group_notices(inventory, domains, moving) == (f"aws: {said}",)


def test_a_broken_per_domain_endpoint_outside_this_applys_moves_is_shown_moving(aws: AwsWorld):
    """Apply repairs an endpoint by putting it into a group (it builds nothing else): a
    per-domain one that needs a repair moves now, whatever migrate_per_apply says, and the
    plan must say so, not just `alias AAAA missing`."""
    domains = names(3)
    zones(aws, domains)
    per_domain_deployment(aws, domains)
    zone = aws.zone_id("d02.example")
    [aaaa] = [r for k, r in aws.rrsets("d02.example").items() if k[1] == "AAAA"]
    aws.route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": aaaa}]},
    )
    spec = spec_for(aws, domains, migrate_per_apply=1)
    preview = plan(spec)
    text = preview.stdout + preview.stderr
    assert "d00.example (aws) [routine]: endpoint: moves into group 1" in text, text
    assert "d02.example (aws) [routine]: endpoint: moves into group 1" in text, text
    assert "this apply moves 2 into groups" in text, text
    apply(spec)
    assert_served(aws, domains)
    layout = groups(aws)
    [grouped] = [hosts for comment, hosts in layout.items() if "group" in comment]
    assert grouped == ["mta-sts.d00.example", "mta-sts.d02.example"], layout


def test_a_host_whose_group_is_still_deploying_is_an_endpoint_change_not_served_yet():
    """An apply that stopped waiting for Deployed (its time ran out) left the alias in the
    group's configuration: the next plan must not take the endpoint as done and publish
    the policy and move the id before every edge serves the host (the publish order)."""
    inventory = Inventory()
    deploying = replace(dist("E1", ("mta-sts.d00.example",), 1), status="InProgress")
    inventory.set_distributions([deploying], "aws")
    live = describe(inventory, "d00.example", "b.s3")
    assert live is not None
    assert wanted("d00.example").differences(live)[0] == "distribution deploying -> serving"
    inventory.set_distributions([replace(deploying, status="Deployed")], "aws")
    done = describe(inventory, "d00.example", "b.s3")
    assert done is not None and done.part("distribution") == "serving"


def test_a_router_function_created_but_never_published_is_published_by_the_next_apply(
    aws: AwsWorld,
):
    """An apply stopped between CreateFunction and PublishFunction leaves a function that
    is not LIVE: the next apply must not stop on FunctionAlreadyExists forever."""
    domains = names(1)
    zones(aws, domains)
    name = function_name(BUCKET)
    aws.cloudfront.create_function(
        Name=name,
        FunctionConfig={"Comment": "mtasts policy host router 0", "Runtime": "cloudfront-js-2.0"},
        FunctionCode=b"function handler(event) { return event.request; }",
    )
    assert aws.functions.live_code(name) is None
    apply(spec_for(aws, domains))
    assert aws.functions.live_code(name) == CODE
    assert_served(aws, domains)


def test_two_aws_providers_in_one_account_keep_their_own_groups(aws: AwsWorld):
    """Group numbers are per provider: the second provider's first host must not join the
    first's group 1 (and re-point it at its own bucket, serving 404 to the first's hosts)."""
    zones(aws, names(2))
    other = "mtasts-test-policies-two"
    providers = {
        "aws": {"type": "aws", "region": "eu-west-1", "bucket": BUCKET},
        "aws2": {"type": "aws", "region": "eu-west-1", "bucket": other},
    }
    domains = {"d00.example": {"mx": ["mx.d00.example"]}}
    domains["d01.example"] = {"mx": ["mx.d01.example"], "provider": "aws2"}
    spec = write_spec(aws.tmp_path, domains, defaults=DEFAULTS, providers=providers)
    apply(spec)
    origins = {
        tuple(d["DistributionConfig"]["Aliases"]["Items"]): d["DistributionConfig"]["Origins"][
            "Items"
        ][0]["DomainName"]
        for d in aws.distributions()
    }
    assert origins == {
        ("mta-sts.d00.example",): f"{BUCKET}.s3.eu-west-1.amazonaws.com",
        ("mta-sts.d01.example",): f"{other}.s3.eu-west-1.amazonaws.com",
    }
    assert_served(aws, ["d00.example"])
    assert plan(spec).exit_code == 0
