"""CloudFront: shared distributions (groups of policy hosts) serving S3 objects over HTTPS only.

A group's distribution has the group's `mta-sts.<domain>` hosts as aliases, one ACM SAN
certificate for exactly those names (SNI, minimum TLSv1.2_2021), the provider's CloudFront
Function on viewer requests (`function.py`: Host header -> the host's key prefix, 404 for any
other path), and the bucket as origin with an empty OriginPath. Its Comment is
`mtasts:managed group <n>`: the group's identity (`grouping.py`).

Older deployments have one distribution per domain (Comment `mtasts:managed`, one alias,
`OriginPath=/mta-sts.<domain>`): read, served, and moved into groups by migration (a
released one has no alias left, is disabled, and is deleted once Deployed). Both kinds have
viewer protocol `https-only` (never `redirect-to-https`: RFC 8461 section 3.3 forbids
senders to follow redirects, so plain HTTP simply fails), GET/HEAD only, and the bucket as
origin through origin access control. Cache TTLs are short (default 300 s), and every policy
change is followed by an invalidation that apply waits for.

Ownership: the distribution's Comment starts `mtasts:managed` (it comes back in the one
ListDistributions per run, so discovery needs no per-distribution tag reads) and it is
tagged `mtasts:managed=<domain or group n>` at creation for people and billing.
Distributions without the comment are never updated or deleted, even with the same alias.

Creation uses a CallerReference derived from host and certificate, so a CreateDistribution
retried after a lost answer returns the distribution already made instead of a second one.
Deletion is disable, wait until Deployed, delete (CloudFront refuses anything else).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from providers.aws.errors import reported
from providers.aws.tuning import DEPLOY_TIMEOUT
from provisioner.concurrency import each
from provisioner.errors import ProviderError
from provisioner.polling import Wait, WaitTimedOut, poll
from provisioner.rfc8461 import POLICY_PATH

COMMENT = "mtasts:managed"
TAG_KEY = "mtasts:managed"
ORIGIN_ID = "mtasts-policy-bucket"
MIN_TLS = "TLSv1.2_2021"
VIEWER_POLICY = "https-only"
DEFAULT_TTL = 300
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
"""The hosted zone id of every CloudFront alias target."""


@dataclass(frozen=True)
class Distribution:
    id: str
    arn: str
    hosts: tuple[str, ...]
    """Its aliases, lower case, sorted."""
    group: int | None
    """The group number; None for a per-domain distribution of an older deployment."""
    domain_name: str
    status: str
    enabled: bool
    cert_arn: str
    min_tls: str
    viewer_policy: str
    origin_domain: str
    origin_path: str
    oac_id: str | None
    """None when the API did not report it: AWS always does (empty when unset); moto 5.2
    drops OriginAccessControlId from stored origins, so it cannot be checked there."""
    function_arns: tuple[str, ...] = ()
    """Viewer-request function ARNs as reported (moto 5.2 drops them: always empty there)."""

    @property
    def host(self) -> str:
        """The first alias: the only one of a per-domain distribution ("" once released)."""
        return self.hosts[0] if self.hosts else ""


def deploy_timeout() -> float:
    """`MTASTS_AWS_DEPLOY_TIMEOUT`, validated (already checked when the session was built)."""
    return DEPLOY_TIMEOUT.read()


GROUP_COMMENT = re.compile(r"^mtasts:managed group ([1-9][0-9]{0,5})$")


def group_comment(number: int) -> str:
    return f"{COMMENT} group {number}"


def _summary(item: dict[str, Any]) -> Distribution | None:
    aliases = item.get("Aliases", {}).get("Items") or []
    comment = str(item.get("Comment") or "")
    grouped = GROUP_COMMENT.match(comment)
    if grouped is None and (comment != COMMENT or len(aliases) > 1):
        return None
    functions = (item.get("DefaultCacheBehavior", {}).get("FunctionAssociations") or {}).get(
        "Items"
    ) or []
    origins = item.get("Origins", {}).get("Items") or [{}]
    origin = origins[0]
    viewer = item.get("ViewerCertificate", {})
    behavior = item.get("DefaultCacheBehavior", {})
    return Distribution(
        id=item["Id"],
        arn=item["ARN"],
        hosts=tuple(sorted(a.lower() for a in aliases)),
        group=int(grouped.group(1)) if grouped else None,
        domain_name=item.get("DomainName", "").lower(),
        status=item.get("Status", ""),
        enabled=bool(item.get("Enabled")),
        cert_arn=viewer.get("ACMCertificateArn", ""),
        min_tls=viewer.get("MinimumProtocolVersion", ""),
        viewer_policy=behavior.get("ViewerProtocolPolicy", ""),
        origin_domain=origin.get("DomainName", ""),
        origin_path=origin.get("OriginPath", ""),
        oac_id=origin.get("OriginAccessControlId"),
        function_arns=tuple(
            f["FunctionARN"] for f in functions if f.get("EventType") == "viewer-request"
        ),
    )


def group_config(
    number: int,
    hosts: Sequence[str],
    cert_arn: str,
    origin_domain: str,
    oac_id: str,
    function_arn: str,
    caller_ref: str,
) -> dict[str, Any]:
    """A group's distribution: every host an alias, one certificate, the router function."""
    config = desired_config(sorted(hosts), cert_arn, origin_domain, oac_id, caller_ref, "")
    config["Comment"] = group_comment(number)
    config["DefaultCacheBehavior"]["FunctionAssociations"] = {
        "Quantity": 1,
        "Items": [{"FunctionARN": function_arn, "EventType": "viewer-request"}],
    }
    return config


def released_config(current: dict[str, Any]) -> dict[str, Any]:
    """A per-domain distribution's config without its alias, disabled (migration, step 1).

    CloudFront refuses one alias on two distributions (CNAMEAlreadyExists), so the alias
    must leave the old distribution before the group's takes it; disabling in the same
    update readies the old one for deletion. The certificate becomes CloudFront's default:
    a custom certificate needs an alias it covers.
    """
    config = dict(current)
    config["Aliases"] = {"Quantity": 0}
    config["Enabled"] = False
    config["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": True,
        "MinimumProtocolVersion": "TLSv1",
    }
    return config


def desired_config(
    hosts: Sequence[str] | str,
    cert_arn: str,
    origin_domain: str,
    oac_id: str,
    caller_reference: str,
    origin_path: str | None = None,
) -> dict[str, Any]:
    """A distribution serving `hosts` from the bucket; a per-domain one (a single host) by
    default has `OriginPath=/<host>`, a group's an empty one (its function adds the host)."""
    items = [hosts] if isinstance(hosts, str) else list(hosts)
    path = f"/{items[0]}" if origin_path is None else origin_path
    return {
        "CallerReference": caller_reference,
        "Aliases": {"Quantity": len(items), "Items": items},
        "DefaultRootObject": "",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": ORIGIN_ID,
                    "DomainName": origin_domain,
                    "OriginPath": path,
                    "CustomHeaders": {"Quantity": 0},
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                    "ConnectionAttempts": 3,
                    "ConnectionTimeout": 10,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": ORIGIN_ID,
            "ViewerProtocolPolicy": VIEWER_POLICY,
            "AllowedMethods": {
                "Quantity": 2,
                "Items": ["GET", "HEAD"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
            "Compress": False,
            "ForwardedValues": {
                "QueryString": False,
                "Cookies": {"Forward": "none"},
                "Headers": {"Quantity": 0},
                "QueryStringCacheKeys": {"Quantity": 0},
            },
            "MinTTL": 0,
            "DefaultTTL": DEFAULT_TTL,
            "MaxTTL": 3600,
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
            "SmoothStreaming": False,
            "LambdaFunctionAssociations": {"Quantity": 0},
            "FieldLevelEncryptionId": "",
        },
        "CacheBehaviors": {"Quantity": 0},
        "CustomErrorResponses": {"Quantity": 0},
        "Comment": COMMENT,
        "Logging": {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""},
        "PriceClass": "PriceClass_100",
        "Enabled": True,
        "ViewerCertificate": {
            "CloudFrontDefaultCertificate": False,
            "ACMCertificateArn": cert_arn,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": MIN_TLS,
        },
        "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
        "HttpVersion": "http2",
        "IsIPV6Enabled": True,
    }


class Distributions:
    def __init__(self, provider: str, client: Any) -> None:
        self.provider = provider
        self.client = client
        self.foreign: dict[str, str] = {}
        """alias (lower case) -> id of the distribution holding it that is not mtasts's,
        from the last `listing`: CloudFront refuses that alias on a group's distribution
        (CNAMEAlreadyExists), so the read names it as a conflict instead."""

    def listing(self) -> list[Distribution]:
        """mtasts's distributions (grouped and per-domain), from one paginated listing;
        the other distributions' aliases are kept in `foreign`."""
        found: list[Distribution] = []
        self.foreign = {}
        with reported(self.provider, None, "listing CloudFront distributions"):
            for page in self.client.get_paginator("list_distributions").paginate():
                items = page.get("DistributionList", {}).get("Items") or []
                for item in each(self._complete, items, workers=8):
                    dist = _summary(item)
                    if dist is not None:
                        found.append(dist)
                        continue
                    for alias in item.get("Aliases", {}).get("Items") or []:
                        self.foreign.setdefault(str(alias).lower().rstrip("."), item["Id"])
        return found

    def _complete(self, item: dict[str, Any]) -> dict[str, Any]:
        """A summary with its config fields. AWS's ListDistributions has them; moto's (5.2)
        returns only Id/ARN/Status/DomainName, so there, and only there, fetch the config."""
        if "Comment" in item or "Aliases" in item:
            return item
        full = self.client.get_distribution(Id=item["Id"])["Distribution"]
        return {**full["DistributionConfig"], **item, "Status": full.get("Status", "")}

    def ensure_oac(self, bucket: str) -> str:
        """The origin access control mtasts's distributions share for this bucket."""
        name = f"mtasts-{bucket}"[:64]
        with reported(self.provider, None, "setting up CloudFront origin access control"):
            pages = self.client.get_paginator("list_origin_access_controls").paginate()
            for page in pages:
                for item in page.get("OriginAccessControlList", {}).get("Items") or []:
                    if item.get("Name") == name:
                        return str(item["Id"])
            answer = self.client.create_origin_access_control(
                OriginAccessControlConfig={
                    "Name": name,
                    "Description": "mtasts: CloudFront reads MTA-STS policies from S3",
                    "SigningProtocol": "sigv4",
                    "SigningBehavior": "always",
                    "OriginAccessControlOriginType": "s3",
                }
            )
        return str(answer["OriginAccessControl"]["Id"])

    def create(self, domain: str, config: dict[str, Any], tag: str | None = None) -> Distribution:
        """Create with the tag `mtasts:managed=<tag or domain>` (`domain` names errors)."""
        with reported(self.provider, domain, f"creating a distribution for {domain}"):
            answer = self.client.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {"Items": [{"Key": TAG_KEY, "Value": tag or domain}]},
                }
            )
        item = answer["Distribution"]
        return self._from_full(item)

    def update(self, domain: str, dist_id: str, wanted: dict[str, Any]) -> Distribution:
        """Overlay mtasts's settings on the live config (keeping its CallerReference): one
        UpdateDistribution, so aliases and certificate change together."""
        with reported(self.provider, domain, f"updating distribution {dist_id}"):
            current = self.client.get_distribution_config(Id=dist_id)
            config = dict(current["DistributionConfig"])
            config.update({k: v for k, v in wanted.items() if k != "CallerReference"})
            answer = self.client.update_distribution(
                Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config
            )
        return self._from_full(answer["Distribution"])

    def release(self, domain: str, dist_id: str) -> None:
        """Take the alias off a per-domain distribution and disable it (`released_config`)."""
        with reported(self.provider, domain, f"releasing mta-sts.{domain} from {dist_id}"):
            current = self.client.get_distribution_config(Id=dist_id)
            config = released_config(current["DistributionConfig"])
            self.client.update_distribution(
                Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config
            )

    def _from_full(self, item: dict[str, Any]) -> Distribution:
        config = item["DistributionConfig"]
        flat = {**config, "Id": item["Id"], "ARN": item["ARN"], "DomainName": item["DomainName"]}
        flat["Status"] = item.get("Status", "")
        dist = _summary(flat)
        if dist is None:
            raise ProviderError(f"{self.provider}: distribution {item['Id']} lost its comment")
        return dist

    def wait_all_deployed(self, items: Sequence[tuple[str, str]]) -> None:
        """Wait until every (domain, distribution id) is Deployed, polling the list (one
        request per 100 distributions) instead of each distribution."""
        waiting = {dist_id: domain for domain, dist_id in items}
        if not waiting:
            return

        def all_deployed() -> bool | None:
            with reported(self.provider, min(waiting.values()), "waiting for distributions"):
                for page in self.client.get_paginator("list_distributions").paginate():
                    for item in page.get("DistributionList", {}).get("Items") or []:
                        if item.get("Status") == "Deployed":
                            waiting.pop(item["Id"], None)
            return True if not waiting else None

        try:
            poll(
                f"{self.provider}: distributions Deployed",
                all_deployed,
                Wait(deploy_timeout(), 0.5, 20.0),
            )
            return
        except WaitTimedOut:
            pass
        dist_id, domain = min(waiting.items(), key=lambda item: item[1])
        raise ProviderError(
            f"{self.provider}: {domain}: distribution {dist_id} not deployed after "
            f"{deploy_timeout():.0f} s; run apply again later to continue"
        )

    def invalidate(self, domain: str, dist_id: str, paths: Sequence[str] = (POLICY_PATH,)) -> str:
        """One invalidation of `paths` (cache-key paths: on a group's distribution the
        viewer-request function has already rewritten the URI to `/<host>/.well-known/...`,
        so that is what the cache holds; on a per-domain one, the policy path itself)."""
        with reported(self.provider, domain, f"invalidating the policy on {dist_id}"):
            answer = self.client.create_invalidation(
                DistributionId=dist_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": list(paths)},
                    "CallerReference": f"mtasts-{time.time_ns()}",
                },
            )
        return str(answer["Invalidation"]["Id"])

    def wait_invalidated(self, domain: str, dist_id: str, invalidation_id: str) -> None:
        def completed() -> bool | None:
            with reported(self.provider, domain, "waiting for the policy invalidation"):
                status = self.client.get_invalidation(DistributionId=dist_id, Id=invalidation_id)[
                    "Invalidation"
                ]["Status"]
            return True if str(status).lower() == "completed" else None

        try:
            poll(
                f"{self.provider}: {domain}: invalidation {invalidation_id} Completed",
                completed,
                Wait(deploy_timeout(), 0.5, 10.0),
            )
        except WaitTimedOut:
            raise ProviderError(
                f"{self.provider}: {domain}: invalidation {invalidation_id} not completed "
                f"after {deploy_timeout():.0f} s; the STS id was not changed"
            ) from None

    def disable(self, domain: str, dist_id: str) -> None:
        """Disable the distribution (a deployment to wait for) unless it already is."""
        with reported(self.provider, domain, f"disabling distribution {dist_id}"):
            current = self.client.get_distribution_config(Id=dist_id)
            config = current["DistributionConfig"]
            if not config.get("Enabled"):
                return
            config["Enabled"] = False
            self.client.update_distribution(
                Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config
            )

    def delete(self, domain: str, dist_id: str) -> None:
        with reported(self.provider, domain, f"deleting distribution {dist_id}"):
            etag = self.client.get_distribution(Id=dist_id)["ETag"]
            self.client.delete_distribution(Id=dist_id, IfMatch=etag)


def caller_reference(host: str, cert_arn: str) -> str:
    return "mtasts-" + hashlib.sha256(f"{host} {cert_arn}".encode()).hexdigest()[:32]
