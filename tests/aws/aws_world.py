"""Test-side view of the moto account, and the bridge to the real-client harness.

Tests look at what mtasts deployed with plain boto3 clients (not the provider's, so the
provider's API-call counter only counts the provider). `serve_in(world, domain)` turns the
account into what a sender would see: Route53's TXT and MX records into the local DNS
server (strings kept as split), the alias record into an A record for the policy host, and
the distribution into an HTTPS handler that answers from the S3 object the way CloudFront
would (origin path + request path, the object's Content-Type, HTTPS only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from aws_functions import FunctionStore
from cf_function import run as run_function
from clihelpers import write_spec
from harness import MtaStsWorld, Response

from providers.aws.route53 import normalize, txt_strings, txt_value
from provisioner.rfc8461 import POLICY_PATH

BUCKET = "mtasts-test-policies"
PROVIDERS = {"aws": {"type": "aws", "region": "eu-west-1", "bucket": BUCKET}}
DEFAULTS: dict[str, Any] = {
    "provider": "aws",
    "mode": "testing",
    "max_age": 86400,
    "tlsrpt": {"rua": ["mailto:tlsrpt@example.net"]},
}


class AwsWorld:
    def __init__(self, tmp_path: Path, functions: FunctionStore | None = None) -> None:
        self.tmp_path = tmp_path
        self.functions = functions or FunctionStore()
        self.route53 = boto3.client("route53", region_name="us-east-1")
        self.s3 = boto3.client("s3", region_name="eu-west-1")
        self.acm = boto3.client("acm", region_name="us-east-1")
        self.cloudfront = boto3.client("cloudfront", region_name="us-east-1")

    # spec

    def spec(self, domains: dict[str, dict[str, Any]], **provider: Any) -> Path:
        providers = {"aws": {**PROVIDERS["aws"], **provider}}
        return write_spec(self.tmp_path, domains, defaults=DEFAULTS, providers=providers)

    # Route53

    def create_zone(self, name: str, mx: list[str] | None = None) -> str:
        zone = self.route53.create_hosted_zone(Name=name, CallerReference=f"test-{name}")
        zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        if mx:
            self.upsert(
                zone_id,
                name,
                "MX",
                [f"{10 * (i + 1)} {host}." for i, host in enumerate(mx)],
            )
        return zone_id

    def zone_id(self, name: str) -> str:
        best = ""
        found = ""
        for zone in self.route53.list_hosted_zones()["HostedZones"]:
            zname = zone["Name"].rstrip(".")
            if (name == zname or name.endswith("." + zname)) and len(zname) > len(best):
                best, found = zname, zone["Id"].split("/")[-1]
        assert found, name
        return found

    def upsert(self, zone_id: str, name: str, rtype: str, values: list[str], ttl: int = 300):
        self.route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": name,
                            "Type": rtype,
                            "TTL": ttl,
                            "ResourceRecords": [{"Value": v} for v in values],
                        },
                    }
                ]
            },
        )

    def rrsets(self, name: str) -> dict[tuple[str, str], dict[str, Any]]:
        zone_id = self.zone_id(name)
        out = {}
        for page in self.route53.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=zone_id
        ):
            for rrset in page["ResourceRecordSets"]:
                out[(normalize(rrset["Name"]), rrset["Type"])] = rrset
        return out

    def raw_txt(self, name: str) -> list[str]:
        rrset = self.rrsets(name).get((name, "TXT"))
        return [r["Value"] for r in rrset["ResourceRecords"]] if rrset else []

    def txt(self, name: str) -> list[str]:
        return [txt_value(v) for v in self.raw_txt(name)]

    # S3, CloudFront, ACM

    def policy(self, domain: str) -> dict[str, Any]:
        answer = self.s3.get_object(Bucket=BUCKET, Key=f"mta-sts.{domain}/.well-known/mta-sts.txt")
        return {
            "body": answer["Body"].read().decode(),
            "content_type": answer.get("ContentType"),
            "cache_control": answer.get("CacheControl"),
            "last_modified": answer["LastModified"],
        }

    def has_policy(self, domain: str) -> bool:
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"mta-sts.{domain}/")
        return bool(listing.get("Contents"))

    def distributions(self) -> list[dict[str, Any]]:
        items = self.cloudfront.list_distributions()["DistributionList"].get("Items") or []
        return [self.cloudfront.get_distribution(Id=i["Id"])["Distribution"] for i in items]

    def distribution(self, domain: str) -> dict[str, Any] | None:
        for dist in self.distributions():
            aliases = dist["DistributionConfig"]["Aliases"].get("Items") or []
            if f"mta-sts.{domain}" in aliases:
                return dist
        return None

    def certificates(self) -> list[dict[str, Any]]:
        return self.acm.list_certificates()["CertificateSummaryList"]

    def bucket_policy(self) -> dict[str, Any]:
        return json.loads(self.s3.get_bucket_policy(Bucket=BUCKET)["Policy"])

    # what a sender sees

    def _one(self, zone_id: str, name: str, rtype: str) -> dict[str, Any] | None:
        page = self.route53.list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=name, StartRecordType=rtype, MaxItems="1"
        )
        for rrset in page["ResourceRecordSets"]:
            if normalize(rrset["Name"]) == name and rrset["Type"] == rtype:
                return dict(rrset)
        return None

    def aliases(self, dists: list[dict[str, Any]] | None = None) -> dict[str, str]:
        """alias -> the id of the one distribution holding it; fails on an alias held twice
        (CloudFront refuses that, moto does not: every test step checks it here)."""
        found: dict[str, str] = {}
        for dist in self.distributions() if dists is None else dists:
            for alias in dist["DistributionConfig"]["Aliases"].get("Items") or []:
                assert alias not in found, f"{alias} is on {found[alias]} and {dist['Id']}"
                found[alias] = dist["Id"]
        return found

    def route(self, dist: dict[str, Any], host: str, path: str) -> str | None:
        """The S3 key CloudFront reads for `path` on `host`, or None where it answers 404:
        a group's distribution runs its viewer-request function (for real, in node)."""
        config = dist["DistributionConfig"]
        origin_path = config["Origins"]["Items"][0]["OriginPath"]
        arns = self.functions.associations.get(dist["Id"], [])
        if arns:
            [arn] = arns
            code = self.functions.live_code(arn.rsplit("/", 1)[-1])
            assert code is not None, f"{arn} is not published"
            [answer] = run_function(code, [(host, path)])
            if "uri" not in answer:
                assert answer["status"] == 404, answer
                return None
            path = answer["uri"]
        return (origin_path + path.split("?")[0]).lstrip("/")

    def served(self, domains: list[str]) -> dict[str, str | None]:
        """domain -> the policy body a sender fetches (Host -> distribution -> function ->
        key), None where nothing is served; every alias on at most one distribution.
        The functions run in one node process per function for the whole batch."""
        every = self.distributions()
        aliases = self.aliases(every)
        dists = {d["Id"]: d for d in every}
        zones = {
            normalize(z["Name"]): z["Id"].split("/")[-1]
            for z in self.route53.list_hosted_zones()["HostedZones"]
        }
        routes: dict[str, tuple[str, str]] = {}  # domain -> (origin path, function name)
        out: dict[str, str | None] = {}
        for domain in domains:
            host = f"mta-sts.{domain}"
            alias = self._one(zones[domain], host, "A")
            dist = dists.get(aliases.get(host, ""))
            out[domain] = None
            if dist is None or alias is None or not dist["DistributionConfig"]["Enabled"]:
                continue
            assert normalize(alias["AliasTarget"]["DNSName"]) == dist["DomainName"].lower()
            origin_path = dist["DistributionConfig"]["Origins"]["Items"][0]["OriginPath"]
            arns = self.functions.associations.get(dist["Id"], [])
            routes[domain] = (origin_path, arns[0].rsplit("/", 1)[-1] if arns else "")
        keys: dict[str, str | None] = {}
        for name in {fn for _, fn in routes.values()}:
            mine = sorted(d for d, (_, fn) in routes.items() if fn == name)
            if not name:
                keys.update({d: routes[d][0] + POLICY_PATH for d in mine})
                continue
            code = self.functions.live_code(name)
            assert code is not None, f"function {name} is not published"
            answers = run_function(code, [(f"mta-sts.{d}", POLICY_PATH) for d in mine])
            for domain, answer in zip(mine, answers, strict=True):
                keys[domain] = routes[domain][0] + answer["uri"] if "uri" in answer else None
        for domain, key in keys.items():
            if key is None:
                continue
            try:
                body = self.s3.get_object(Bucket=BUCKET, Key=key.lstrip("/"))["Body"].read()
                out[domain] = body.decode()
            except self.s3.exceptions.NoSuchKey:
                pass
        return out

    def serve_in(self, world: MtaStsWorld, domain: str) -> None:
        """Publish the account's view of `domain` into the real-client harness."""
        records = self.rrsets(domain)
        for name in (f"_mta-sts.{domain}", f"_smtp._tls.{domain}"):
            rrset = records.get((name, "TXT"))
            if rrset:
                values = [r["Value"] for r in rrset["ResourceRecords"]]
                world.publish_txt(name, [[s.decode() for s in txt_strings(v)] for v in values])
        mx = records.get((domain, "MX"))
        if mx:
            world.publish_mx(
                domain,
                [(int(v.split()[0]), normalize(v.split()[1])) for v in _values(mx)],
            )
        host = f"mta-sts.{domain}"
        dist = self.distribution(domain)
        alias = records.get((host, "A"))
        if dist is None or alias is None:
            return
        assert normalize(alias["AliasTarget"]["DNSName"]) == dist["DomainName"].lower()
        world.publish_a(host)
        config = dist["DistributionConfig"]
        assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"
        s3 = self.s3
        world_view = self

        def cloudfront(method: str, path: str, headers: Any) -> Response:
            key = world_view.route(dist, host, path)
            if key is None:
                return Response(404, (("Content-Type", "text/plain"),), b"Not Found")
            try:
                answer = s3.get_object(Bucket=BUCKET, Key=key)
            except s3.exceptions.NoSuchKey:
                return Response(403, (("Content-Type", "application/xml"),), b"AccessDenied")
            body = answer["Body"].read()
            return Response(200, (("Content-Type", answer["ContentType"]),), body)

        world.serve_handler(host, cloudfront)


def _values(rrset: dict[str, Any]) -> list[str]:
    return [r["Value"] for r in rrset.get("ResourceRecords", [])]
