"""Plan and apply N domains on the aws provider against moto's server; prints the figures.

Usage: python benchmarks/aws_scale.py [N] [--rps R]   (default N=1000, R=5)

moto runs in a child process (so the memory figures are mtasts's and boto3's, not moto's),
with one public hosted zone and an MX record per domain. Printed: plan time on an empty
account, apply time (the CLI's apply: a plan, then the phases), plan time with nothing to
change, a mode change of every domain (plan + apply: policy, invalidation, id), peak Python
memory of a no-change plan (tracemalloc, its own pass) and the process's max RSS, and API
calls per domain by service and action for each stage, counted with botocore's `before-call`
hooks (HTTP attempts, retries included, from `before-send`).

Issue 13 (shared distributions): after the apply from empty, the script prints how many
distributions, certificates and CloudFront Functions the account holds, and the apply's
calls by service and its modelled wall time on AWS beside the same figures for the
per-domain layout before issue 13 (measured with this script at commit 12e3ea3, 1,000
domains; see OLD_APPLY). Deploy and issuance waits are modelled minutes (MODEL), not slept:
moto issues and deploys at once. moto has no CloudFront Functions, so the requests go
through the tests' fault proxy, which serves a small fake of them (tests/aws/aws_functions.py).

`--rps` is the Route53 pacing (the account quota is 5 requests a second; moto never
throttles, so a higher value measures mtasts's own overhead). The Route53 floor, calls / 5,
is printed beside each time: on AWS, that is the time a stage cannot go below.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

MOTO_CHILD = """
import os, sys, time
os.environ["MOTO_ACM_VALIDATION_WAIT"] = "0"
from moto.server import ThreadedMotoServer
import logging; logging.getLogger("werkzeug").setLevel(logging.ERROR)
s = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False); s.start()
print("%s:%s" % s.get_host_and_port(), flush=True)
sys.stdin.read()
"""


def start_moto() -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-c", MOTO_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # moto's own tracebacks (its races answer 500: retried)
        text=True,
    )
    assert child.stdout is not None
    address = child.stdout.readline().strip()
    return child, f"http://{address}"


def prepare_env(url: str, rps: float, workdir: Path) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(workdir / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        MTASTS_AWS_ROUTE53_RPS=f"{rps:g}",  # `5`, `0.5`, `500`: a rate the knob reads
    )
    os.environ.pop("AWS_PROFILE", None)


def create_zones(count: int) -> None:
    import boto3

    from provisioner.concurrency import each

    route53 = boto3.client("route53", region_name="us-east-1")

    def one(i: int) -> None:
        name = f"d{i}.example.com"
        zone = route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
        route53.change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": name,
                            "Type": "MX",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": f"10 mx1.{name}."}],
                        },
                    }
                ]
            },
        )

    each(one, range(count))


def write_spec(directory: Path, count: int, mode: str = "enforce") -> Path:
    lines = [
        "version: 1",
        "defaults:",
        "  provider: aws",
        f"  mode: {mode}",
        "  max_age: 1209600",
        "  tlsrpt: {rua: ['mailto:tlsrpt@example.net']}",
        "providers:",
        "  aws: {type: aws, region: eu-west-1, bucket: mtasts-bench-policies}",
        "domains:",
    ]
    for i in range(count):
        lines.append(f"  d{i}.example.com: {{mx: [mx1.d{i}.example.com, '*.mail.example.net']}}")
    path = directory / "mtasts.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


OLD_APPLY: dict[str, int] = {
    "acm:DescribeCertificate": 1000,
    "acm:ListCertificates": 3,
    "acm:RequestCertificate": 1000,
    "cloudfront:CreateDistributionWithTags": 1000,
    "cloudfront:CreateOriginAccessControl": 1,
    "cloudfront:GetDistribution": 1000,  # moto only (its listing lacks the config)
    "cloudfront:ListDistributions": 3,
    "cloudfront:ListOriginAccessControls": 1,
    "route53:ChangeResourceRecordSets": 3000,
    "route53:ListHostedZones": 10,
    "route53:ListResourceRecordSets": 2000,
    "s3:CreateBucket": 1,
    "s3:GetBucketPolicy": 3,
    "s3:HeadBucket": 1,
    "s3:ListObjectsV2": 2,
    "s3:PutBucketPolicy": 1,
    "s3:PutBucketVersioning": 1,
    "s3:PutObject": 1000,
    "s3:PutPublicAccessBlock": 1,
}
"""Apply from empty (plan + phases) of 1,000 domains with one distribution and one
certificate per domain: calls by service, measured with this script at commit 12e3ea3
(`python benchmarks/aws_scale.py 1000 --rps 500`: 10,028 calls, 854.9 s on moto)."""
OLD_RESOURCES = {"distributions": 1000, "certificates": 1000, "functions": 0}

MODEL = {
    "route53_per_s": 5.0,  # Route53's account quota
    "acm_request_per_s": 5.0,  # ACM RequestCertificate quota
    "acm_describe_per_s": 10.0,  # ACM DescribeCertificate quota
    "cloudfront_write_s": 1.0,  # assumed seconds per CloudFront write, 4 at a time
    "cloudfront_workers": 4.0,
    "issue_wait_min": 5.0,  # DNS validation: all certificates waited for together
    "deploy_wait_min": 5.0,  # CloudFront deployment: all distributions together
}
"""Assumptions of the modelled wall time; the waits happen once per apply, shared."""


def modelled_minutes(calls: dict[tuple[str, str], int]) -> float:
    """Wall time on AWS of an apply that made `calls`: each quota-bound kind of call at its
    quota, CloudFront writes a few at a time, plus one issuance and one deployment wait."""
    route53 = sum(n for (svc, _), n in calls.items() if svc == "route53")
    requests = calls.get(("acm", "RequestCertificate"), 0)
    describes = calls.get(("acm", "DescribeCertificate"), 0)
    writes = sum(
        n
        for (svc, op), n in calls.items()
        if svc == "cloudfront" and op.startswith(("Create", "Update", "Delete", "Publish"))
    )
    seconds = (
        route53 / MODEL["route53_per_s"]
        + requests / MODEL["acm_request_per_s"]
        + describes / MODEL["acm_describe_per_s"]
        + writes * MODEL["cloudfront_write_s"] / MODEL["cloudfront_workers"]
    )
    return seconds / 60 + MODEL["issue_wait_min"] + MODEL["deploy_wait_min"]


def by_service(calls: dict[tuple[str, str], int]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (service, _), n in calls.items():
        out[service] += n
    return out


def resources(functions: object) -> dict[str, int]:
    import boto3

    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    acm = boto3.client("acm", region_name="us-east-1")
    dists = sum(
        len(page["DistributionList"].get("Items") or [])
        for page in cloudfront.get_paginator("list_distributions").paginate()
    )
    certs = sum(
        len(page["CertificateSummaryList"])
        for page in acm.get_paginator("list_certificates").paginate()
    )
    return {
        "distributions": dists,
        "certificates": certs,
        "functions": len(getattr(functions, "functions", {})),
    }


def compare(count: int, calls: dict[tuple[str, str], int], now: dict[str, int]) -> None:
    """Old (per-domain) and new (grouped) apply from empty, side by side."""
    old_calls: dict[tuple[str, str], int] = {}
    for key, n in OLD_APPLY.items():
        service, operation = key.split(":", 1)
        old_calls[(service, operation)] = n
    print(f"\napply from empty, {count} domains: per-domain (before issue 13) vs grouped")
    if count != 1000:
        print("    (the per-domain figures are for 1,000 domains)")
    old_services, new_services = by_service(old_calls), by_service(calls)
    for service in sorted(set(old_services) | set(new_services)):
        print(f"    {service:12} calls {old_services[service]:7} -> {new_services[service]:7}")
    print(f"    {'all':12} calls {sum(old_calls.values()):7} -> {sum(calls.values()):7}")
    for key in ("distributions", "certificates", "functions"):
        print(f"    {key:12}       {OLD_RESOURCES[key]:7} -> {now[key]:7}")
    print(
        f"    modelled wall time on AWS: {modelled_minutes(old_calls):.1f} min -> "
        f"{modelled_minutes(calls):.1f} min (waits modelled, see MODEL)"
    )


MOTO_ONLY = (("cloudfront", "GetDistribution"), ("acm", "DescribeCertificate"))
"""In a plan, moto's ListDistributions (5.2) lacks each distribution's config, so the
provider fetches it (`cloudfront.Distributions._complete`), and its ListCertificates lacks
the names, so each group's certificate is described (`acm.Certificates.complete`); AWS's
listings carry both."""


def report(stage: str, seconds: float, count: int) -> None:
    from providers.aws.session import API_CALLS

    calls: Counter[tuple[str, str]] = API_CALLS.calls
    route53 = sum(n for (s, _), n in calls.items() if s == "route53")
    retries = sum(API_CALLS.attempts.values()) - sum(calls.values())
    print(
        f"\n{stage}: {seconds:.1f} s  ({sum(calls.values())} API calls, {retries} retries; "
        f"Route53 {route53}, its floor at 5 req/s {route53 / 5:.1f} s)"
    )
    for (service, action), n in sorted(calls.items()):
        print(f"    {service:10} {action:32} {n:6}  {n / count:6.2f} per domain")
    total = sum(calls.values())
    line = f"    all calls: {total / count:.2f} per domain"
    if stage.startswith("plan"):
        moto_only = sum(calls[key] for key in MOTO_ONLY)
        line += f" ({(total - moto_only) / count:.2f} on AWS, without moto's extra reads)"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", nargs="?", type=int, default=1000)
    parser.add_argument("--rps", type=float, default=5.0, help="Route53 requests a second")
    args = parser.parse_args()
    count: int = args.count

    child, moto_url = start_moto()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "aws"))
    from aws_faults import FaultProxy  # CloudFront Functions, which moto lacks

    proxy = FaultProxy(moto_url).start()
    url = proxy.url
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prepare_env(url, args.rps, Path(tmp))
            from providers.aws.session import API_CALLS
            from provisioner.apply import apply_plan
            from provisioner.refresh import compute_plan
            from provisioner.registry import build_providers
            from provisioner.spec import load_spec

            started = time.perf_counter()
            create_zones(count)
            print(f"{count} hosted zones on moto at {url} in {time.perf_counter() - started:.1f} s")
            print(f"Route53 pacing: {args.rps:g} requests a second")
            spec = load_spec(write_spec(Path(tmp), count))

            def plan():  # a fresh provider per stage: zones are cached per run, as in the CLI
                providers = build_providers(spec)
                return providers, compute_plan(spec, providers)

            API_CALLS.reset()
            started = time.perf_counter()
            _, first = plan()
            report("plan, empty account", time.perf_counter() - started, count)
            print(f"    {first.plan.summary_line()}")

            API_CALLS.reset()
            started = time.perf_counter()
            providers, result = plan()
            applied = apply_plan(result.plan, providers)
            report("apply (plan + phases)", time.perf_counter() - started, count)
            print(f"    {applied} changes applied")
            applied_calls = dict(API_CALLS.calls)
            compare(count, applied_calls, resources(proxy.functions))

            API_CALLS.reset()
            started = time.perf_counter()
            _, again = plan()
            report("plan, nothing to change", time.perf_counter() - started, count)
            print(f"    {again.plan.summary_line()}")
            assert not again.plan.has_changes, "the second plan must be empty"

            spec = load_spec(write_spec(Path(tmp), count, mode="testing"))
            API_CALLS.reset()
            started = time.perf_counter()
            providers, result = plan()
            applied = apply_plan(result.plan, providers)
            report("mode change (plan + phases)", time.perf_counter() - started, count)
            print(f"    {applied} changes applied")

            tracemalloc.start()
            plan()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"\npeak Python memory of a no-change plan: {peak / 1e6:.1f} MB")
            print(f"max RSS of this process (moto excluded): {rss:.0f} MB")
    finally:
        proxy.stop()
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


if __name__ == "__main__":
    main()
