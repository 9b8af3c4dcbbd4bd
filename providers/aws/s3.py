"""S3: the bucket that holds the policies, the policy objects, and the bucket policy.

The bucket is created when missing: private (no ACL grants, Block Public Access on, object
ownership enforced) with versioning on, so a bad policy body can be rolled back from the
console. Only keys `mta-sts.<domain>/.well-known/mta-sts.txt` are ever written or deleted;
other objects in the bucket are never touched, and a policy's deletion removes every
version of that one key (what mtasts created, only that).

CloudFront reads the bucket through origin access control, so the bucket policy holds one
statement, Sid `mtasts-cloudfront`, granting `s3:GetObject` on the policy keys to the
CloudFront service principal for exactly the distributions mtasts made (`AWS:SourceArn`).
Other statements in the bucket policy are kept as they are.

`LastModified` of a policy object is when it was published: RFC 8461 section 8.3 removal
waits max_age from the moment `mode: none` went out.

ETags. The listing carries each object's ETag, which for an object uploaded in one
PutObject (as mtasts uploads: never multipart) and stored unencrypted or with SSE-S3 is the
hex MD5 of its bytes (S3's Object docs). So a plan that knows the body it wants compares
MD5s and fetches (GetObject) only a body that differs (`same_body`). A multipart ETag
(`...-N`) or an SSE-KMS one never equals an MD5: such a body is fetched, never guessed.
The bodies this process wrote (`written`) are candidates too: apply's id guard reads the
policies back right after writing them, and a fresh listing whose ETag is the MD5 of what
was written proves the object holds it, without a GetObject (nothing is taken on trust
from memory: the ETag is read anew).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from providers.aws.errors import error_code, reported
from provisioner.rfc8461 import POLICY_PATH
from provisioner.state import policy_host

CONTENT_TYPE = "text/plain; charset=utf-8"
CACHE_CONTROL = "max-age=300"
"""Short: CloudFront and browsers revalidate within minutes; senders never rely on it."""
STATEMENT_SID = "mtasts-cloudfront"
KEY_SUFFIX = POLICY_PATH  # "/.well-known/mta-sts.txt"
KEY_PREFIX = policy_host("")  # "mta-sts."


def policy_key(domain: str) -> str:
    return policy_host(domain) + KEY_SUFFIX


def domain_of_key(key: str) -> str | None:
    if key.startswith(KEY_PREFIX) and key.endswith(KEY_SUFFIX):
        domain = key[len(KEY_PREFIX) : -len(KEY_SUFFIX)]
        return domain if domain and "/" not in domain else None
    return None


@dataclass(frozen=True)
class StoredPolicy:
    key: str
    last_modified: datetime
    etag: str = ""
    """The listing's ETag without its quotes."""

    def same_body(self, body: str) -> bool:
        """Whether the stored bytes are `body` encoded as mtasts writes it (MD5 = ETag)."""
        return bool(self.etag) and self.etag == hashlib.md5(body.encode("utf-8")).hexdigest()


class PolicyBucket:
    def __init__(self, provider: str, client: Any, bucket: str, region: str) -> None:
        self.provider = provider
        self.client = client
        self.bucket = bucket
        self.region = region
        self._ensured = False
        self._listing: dict[str, StoredPolicy] | None = None
        self.written: dict[str, str] = {}
        """domain -> the body this process last wrote for it (see the module docstring)."""

    @property
    def origin_domain(self) -> str:
        """The regional REST endpoint CloudFront fetches from (never the website endpoint)."""
        return f"{self.bucket}.s3.{self.region}.amazonaws.com"

    def listing(self) -> dict[str, StoredPolicy]:
        """domain -> its policy object, from one paginated ListObjectsV2; {} if no bucket.

        Listed once per run (managed_domains() and read() both need it), again after a write.
        """
        if self._listing is None:
            self._listing = self._list()
        return self._listing

    def _list(self) -> dict[str, StoredPolicy]:
        found: dict[str, StoredPolicy] = {}
        with reported(self.provider, None, f"listing policies in s3://{self.bucket}"):
            try:
                pages = self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=KEY_PREFIX
                )
                for page in pages:
                    for obj in page.get("Contents", ()):
                        domain = domain_of_key(obj["Key"])
                        if domain is not None:
                            found[domain] = StoredPolicy(
                                obj["Key"], obj["LastModified"], str(obj.get("ETag", "")).strip('"')
                            )
            except ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    return {}
                raise
        return found

    def read(self, domain: str) -> tuple[str, datetime] | None:
        with reported(self.provider, domain, f"reading s3://{self.bucket}/{policy_key(domain)}"):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=policy_key(domain))
            except ClientError as exc:
                if error_code(exc) in ("NoSuchKey", "NoSuchBucket", "404"):
                    return None
                raise
            body = answer["Body"].read().decode("utf-8", errors="replace")
            return body, answer["LastModified"]

    def ensure_bucket(self) -> None:
        """Create the bucket (private, versioned) unless it exists; once per run."""
        if self._ensured:
            return
        with reported(self.provider, None, f"checking bucket {self.bucket}"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                self._ensured = True
                return
            except ClientError as exc:
                if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
        with reported(self.provider, None, f"creating bucket {self.bucket}"):
            params: dict[str, Any] = {
                "Bucket": self.bucket,
                "ObjectOwnership": "BucketOwnerEnforced",
            }
            if self.region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.client.create_bucket(**params)
            self.client.put_public_access_block(
                Bucket=self.bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            self.client.put_bucket_versioning(
                Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        self._ensured = True

    def write(self, domain: str, body: str) -> None:
        self._listing = None
        with reported(self.provider, domain, f"writing s3://{self.bucket}/{policy_key(domain)}"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=policy_key(domain),
                Body=body.encode("utf-8"),
                ContentType=CONTENT_TYPE,
                CacheControl=CACHE_CONTROL,
            )
        self.written[domain] = body

    def delete(self, domain: str) -> None:
        """Every version (and delete marker) of the domain's policy key, nothing else."""
        key = policy_key(domain)
        self._listing = None
        self.written.pop(domain, None)
        with reported(self.provider, domain, f"deleting s3://{self.bucket}/{key}"):
            versions: list[dict[str, str]] = []
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            for page in pages:
                for entry in [*page.get("Versions", ()), *page.get("DeleteMarkers", ())]:
                    if entry["Key"] == key:
                        versions.append({"Key": key, "VersionId": entry["VersionId"]})
            for start in range(0, len(versions), 1000):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": versions[start : start + 1000]}
                )
            if not versions:
                self.client.delete_object(Bucket=self.bucket, Key=key)

    # The bucket policy: exactly mtasts's distributions may read the policy keys.

    def granted_distributions(self) -> set[str] | None:
        """ARNs our statement grants; None when the bucket has no policy or no bucket."""
        document = self._policy_document()
        if document is None:
            return None
        for statement in document.get("Statement", []):
            if statement.get("Sid") == STATEMENT_SID:
                arns = (
                    statement.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceArn", [])
                )
                return {arns} if isinstance(arns, str) else set(arns)
        return set()

    def grant(self, distribution_arns: Iterable[str]) -> None:
        """Make our statement grant exactly these distributions (removed when none)."""
        arns = sorted(set(distribution_arns))
        document = self._policy_document() or {"Version": "2012-10-17", "Statement": []}
        others = [s for s in document.get("Statement", []) if s.get("Sid") != STATEMENT_SID]
        if arns:
            others.append(
                {
                    "Sid": STATEMENT_SID,
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{self.bucket}/{KEY_PREFIX}*{KEY_SUFFIX}",
                    "Condition": {"StringEquals": {"AWS:SourceArn": arns}},
                }
            )
        with reported(self.provider, None, f"setting the bucket policy of {self.bucket}"):
            if others:
                document["Statement"] = others
                self.client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(document))
            else:
                self.client.delete_bucket_policy(Bucket=self.bucket)

    def _policy_document(self) -> dict[str, Any] | None:
        with reported(self.provider, None, f"reading the bucket policy of {self.bucket}"):
            try:
                text = self.client.get_bucket_policy(Bucket=self.bucket)["Policy"]
            except ClientError as exc:
                if error_code(exc) in ("NoSuchBucketPolicy", "NoSuchBucket"):
                    return None
                raise
        document = json.loads(text)
        return document if isinstance(document, dict) else None
