"""The `aws` provider's contract world: moto's server behind the fault proxy (tests/aws).

Named `aws_contract_world` rather than `aws_world` because tests/aws/aws_world.py (the AWS
tests' own view of the account) is importable under that name from the same process.

Records are seeded and read with a plain boto3 client, as Route53's API shows them: a
record set's values are zone-file rdata (TXT as quoted character-strings, names with their
trailing dot) and one TTL per record set, so a foreign value is compared byte for byte,
string split and escapes included. Route53 keeps one record set per name and type, so a
second value at a name joins the first (UPSERT of the whole set, at the set's TTL). The
policy served for a domain is the S3 object CloudFront serves it from.

Faults are injected by the proxy in front of moto, on ChangeResourceRecordSets (`POST
.../rrset`): Route53 says "slow down" with a `Throttling` error code, which botocore retries
whatever the status, so a 429 is answered with that code; a 5xx is a bare server error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from aws_faults import THROTTLE_XML, FaultProxy, Rule

from providers.aws.provider import AwsProvider
from providers.aws.route53 import normalize

BUCKET = "mtasts-contract-policies"
RRSET_WRITES = ("POST", "/rrset")
"""ChangeResourceRecordSets: `POST /2013-04-01/hostedzone/<id>/rrset/`."""
REFUSED_XML = (
    b'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/'
    b'2013-04-01/"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>'
    b"injected: the batch is refused</Message></Error><RequestId>"
    b"00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)
"""What Route53 answers to a batch it refuses: a 400 botocore does not retry."""


class AwsContractWorld:
    provider_name = "aws"
    capabilities = AwsProvider.capabilities
    injects_faults = True

    def __init__(self, directory: Path, proxy: FaultProxy) -> None:
        self.directory = directory
        self.proxy = proxy
        self.route53 = boto3.client("route53", region_name="us-east-1")
        self.s3 = boto3.client("s3", region_name="eu-west-1")

    def provider_settings(self) -> dict[str, Any]:
        return {"type": "aws", "region": "eu-west-1", "bucket": BUCKET}

    # Route53

    def add_zone(self, zone: str) -> None:
        self.route53.create_hosted_zone(Name=zone, CallerReference=f"contract-{zone}")
        self.add_record(zone, "MX", f"10 mx.{zone}.", 300)

    def _zone_id(self, name: str) -> str:
        """The zone holding `name`: the longest zone name that is a suffix of it."""
        zones = [
            (normalize(z["Name"]), z["Id"].split("/")[-1])
            for z in self.route53.list_hosted_zones()["HostedZones"]
        ]
        held = [(zone, zid) for zone, zid in zones if name == zone or name.endswith("." + zone)]
        assert held, f"no hosted zone holds {name}"
        return max(held, key=lambda item: len(item[0]))[1]

    def _rrset(self, name: str, rtype: str) -> dict[str, Any] | None:
        page = self.route53.list_resource_record_sets(
            HostedZoneId=self._zone_id(name),
            StartRecordName=name + ".",
            StartRecordType=rtype,
            MaxItems="1",
        )
        for rrset in page["ResourceRecordSets"]:
            if normalize(rrset["Name"]) == name and rrset["Type"] == rtype:
                return dict(rrset)
        return None

    def add_record(self, name: str, rtype: str, text: str, ttl: int) -> None:
        live = self._rrset(name, rtype)
        values = [r["Value"] for r in (live or {}).get("ResourceRecords", ())]
        self.route53.change_resource_record_sets(
            HostedZoneId=self._zone_id(name),
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": name + ".",
                            "Type": rtype,
                            "TTL": int(live["TTL"]) if live else ttl,
                            "ResourceRecords": [{"Value": v} for v in [*values, text]],
                        },
                    }
                ]
            },
        )

    def records(self, name: str, rtype: str) -> list[tuple[str, int]]:
        rrset = self._rrset(name, rtype)
        if rrset is None:
            return []
        ttl = int(rrset.get("TTL", 0))
        return sorted((r["Value"], ttl) for r in rrset.get("ResourceRecords", ()))

    # S3: what CloudFront serves for mta-sts.<domain>

    def served(self, domain: str) -> bytes | None:
        key = f"mta-sts.{domain}/.well-known/mta-sts.txt"
        try:
            answer = self.s3.get_object(Bucket=BUCKET, Key=key)
        except (self.s3.exceptions.NoSuchKey, self.s3.exceptions.NoSuchBucket):
            return None
        body: bytes = answer["Body"].read()
        return body

    # faults

    def _rule(self, status: int, body: bytes, count: int) -> None:
        method, path = RRSET_WRITES
        self.proxy.rules.append(
            Rule("route53", status, body, "text/xml", 1, count, method=method, path=path)
        )

    def fail_writes(self, status: int, count: int) -> None:
        if status == 429:
            self._rule(429, THROTTLE_XML, count)
        else:
            self.proxy.server_error(
                "route53", every=1, limit=count, status=status, method="POST", path="/rrset"
            )

    def fail_txt_writes_forever(self) -> None:
        """Every record change batch is refused (400 InvalidChangeBatch, not retried): in
        the test that calls this, the only batch left to send is the TXT phase's."""
        self._rule(400, REFUSED_XML, 10**9)
