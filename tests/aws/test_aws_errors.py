"""Failures a user meets: one clear line, exit 1, nothing half-applied; and what AWS does to
busy clients (throttling, 5xx), injected by the proxy in front of moto."""

from __future__ import annotations

import time

from aws_faults import FaultProxy, Rule
from aws_world import AwsWorld
from clihelpers import run

from providers.aws.session import API_CALLS
from provisioner.pacing import Pacer


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_domain_without_a_hosted_zone_is_one_line(aws: AwsWorld):
    aws.create_zone("example.com")
    spec = aws.spec(
        {"example.com": {"mx": ["mx.example.com"]}, "nozone.test": {"mx": ["mx.x.net"]}}
    )
    line = one_line_error(run("plan", "-c", spec))
    assert line.startswith("error: aws: nozone.test: no Route53 hosted zone for nozone.test"), line


def test_zone_ids_naming_a_missing_zone_is_one_line(aws: AwsWorld):
    aws.create_zone("example.com")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}}, zone_ids={"example.com": "ZNOPE"})
    line = one_line_error(run("plan", "-c", spec))
    assert "zone_ids names hosted zone ZNOPE" in line, line


def test_missing_credentials_are_one_line(aws: AwsWorld, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    assert run("validate", "-c", spec).exit_code == 0, "validate needs no credentials"
    line = one_line_error(run("plan", "-c", spec))
    assert line.startswith("error: aws: no AWS credentials found"), line


def test_an_api_refusal_names_the_domain_and_the_call(aws: AwsWorld, fault_proxy: FaultProxy):
    aws.create_zone("example.com")
    spec = aws.spec({"example.com": {"mx": ["mx.example.com"]}})
    denied = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
    fault_proxy.rules.append(Rule("s3", 403, denied, "application/xml", every=1, limit=100))
    line = one_line_error(run("plan", "-c", spec))
    assert "AccessDenied" in line and line.startswith("error: aws: "), line


def test_throttling_and_server_errors_are_survived(aws: AwsWorld, fault_proxy: FaultProxy):
    for i in range(3):
        aws.create_zone(f"d{i}.example", mx=[f"mx.d{i}.example"])
    spec = aws.spec({f"d{i}.example": {"mx": [f"mx.d{i}.example"]} for i in range(3)})
    route53 = fault_proxy.throttle("route53", every=3, limit=2)
    failures = [
        fault_proxy.server_error("s3", every=4, limit=1),
        fault_proxy.server_error("cloudfront", every=4, limit=1, status=500),
        fault_proxy.server_error("acm", every=4, limit=1),
    ]
    result = run("apply", "-c", spec, "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert route53.fired == 2
    assert all(rule.fired == 1 for rule in failures)
    assert sum(API_CALLS.attempts.values()) == sum(API_CALLS.calls.values()) + 5
    again = run("plan", "-c", spec, "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout + again.stderr


def test_route53_is_paced_to_five_requests_a_second(
    aws: AwsWorld, fault_proxy: FaultProxy, monkeypatch
):
    monkeypatch.delenv("MTASTS_AWS_ROUTE53_RPS")
    for i in range(8):
        aws.create_zone(f"p{i}.example")
    spec = aws.spec({f"p{i}.example": {"mx": [f"mx.p{i}.example"]} for i in range(8)})
    sent: list[float] = []
    real_acquire = Pacer.acquire

    def acquire(self: Pacer) -> None:
        real_acquire(self)
        if self.quota.requests == 5:
            sent.append(time.monotonic())

    monkeypatch.setattr(Pacer, "acquire", acquire)
    fault_proxy.arrivals.clear()
    result = run("plan", "-c", spec)
    assert result.exit_code == 0, result.stderr
    assert API_CALLS.count("route53") == len(sent) == 9
    assert max(sum(1 for t in sent if s <= t < s + 1.0) for s in sent) <= 5
    # what arrives at the server, with some network and scheduling jitter
    assert fault_proxy.max_per_second("route53") <= 6
