"""GCS: the policy bucket and one object per domain, read with ONE listing.

API reference: https://cloud.google.com/storage/docs/json_api/v1 (objects.list,
objects.insert, objects.get, objects.delete, buckets.insert, buckets.getIamPolicy,
buckets.setIamPolicy), through google-cloud-storage.

Objects. Key `mta-sts.<domain>/.well-known/mta-sts.txt`, `Content-Type: text/plain;
charset=utf-8` (set as `blob.content_type` before the upload, so it travels in the
object's metadata and not only as the media part's type), `Cache-Control: max-age=300`
(GCS's default for a public object is an hour of caching, which would keep senders and the
load balancer on the old policy after an update). mtasts owns only keys of that shape;
other objects in the bucket are never read, written or deleted.

Reading in one call per 1,000 objects (issue 9.9). The listing carries each object's
`md5Hash`, `updated`, `generation` and custom `metadata`. mtasts writes a copy of the body
into the metadata (`mtasts-policy`, base64; bodies over `HINT_MAX_BYTES` get none), and a
copy is believed only when its MD5 equals the object's `md5Hash`: then the listing alone
gives the exact body. A plan also knows the body the spec renders for each domain
(`Provider.read_expecting`): a listed `md5Hash` equal to that body's MD5 is that body. A
body is fetched only when neither check holds (an object written by someone else, edited by
hand, or a policy about to change whose copy is missing); the copy covers the reads that
have no rendered body to compare with (the id guard, domains leaving the spec).

Writes carry `ifGenerationMatch` (the generation read, 0 for a new object): a policy that
another writer changed since the read is refused (412) instead of overwritten, and the
condition also makes google-cloud-storage retry 429/5xx safely.

The bucket is created when missing, with uniform bucket-level access and `allUsers` as
`roles/storage.objectViewer` on this bucket only (a backend bucket serves public objects
only; policies are public by nature, and IAM conditions cannot narrow an allUsers grant).
`updated` of a policy object is when it was published (RFC 8461 section 8.3 removal wait).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.api_core import exceptions as google_exceptions

from providers.gcp.clients import client_options, credentials_for, http_timeout
from providers.gcp.errors import reported
from provisioner.concurrency import each
from provisioner.errors import ProviderError
from provisioner.rfc8461 import POLICY_PATH, normalize_hostname
from provisioner.state import POLICY_HOST_PREFIX, policy_host

CONTENT_TYPE = "text/plain; charset=utf-8"
CACHE_CONTROL = "max-age=300"
HINT_KEY = "mtasts-policy"
HINT_MAX_BYTES = 6 * 1024
"""Custom metadata is capped at 8 KiB per object; base64 grows a body by a third."""
PUBLIC_ROLE = "roles/storage.objectViewer"
PUBLIC_MEMBER = "allUsers"


def policy_key(domain: str) -> str:
    return policy_host(domain) + POLICY_PATH


def domain_of_key(key: str) -> str | None:
    """The domain a key holds the policy of; None for keys mtasts does not own.

    mtasts writes keys only for spec domains, which are A-label host names: a key of the
    shape around anything else (`mta-sts.a b/...`, a U-label, a 300-character name) is
    somebody's, neither a managed domain to remove nor a reason to stop the plan.
    """
    if key.startswith(POLICY_HOST_PREFIX) and key.endswith(POLICY_PATH):
        domain = key[len(POLICY_HOST_PREFIX) : -len(POLICY_PATH)]
        if domain and "/" not in domain and _hostname(domain) == domain:
            return domain
    return None


def _hostname(name: str) -> str | None:
    try:
        return normalize_hostname(name)
    except ValueError:
        return None


def md5_of(data: bytes) -> str:
    """GCS's `md5Hash`: base64 of the MD5 digest (an integrity check, not security)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


@dataclass(frozen=True)
class StoredPolicy:
    key: str
    generation: int
    updated: datetime
    md5: str | None
    hint: str | None
    """The body copy from the metadata, already checked against `md5` (else None)."""


class PolicyBucket:
    """The policy objects of one bucket; the listing is made once and kept for the run."""

    def __init__(self, provider: str, project: str, bucket: str, endpoint: str | None) -> None:
        self.provider = provider
        self.project = project
        self.name = bucket
        self.endpoint = endpoint
        self._client: Any = None
        self._listing: dict[str, StoredPolicy] | None = None
        self._ensured = False
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import google.cloud.storage as storage

                self._client = storage.Client(
                    project=self.project,
                    credentials=credentials_for(self.endpoint),
                    client_options=client_options(self.endpoint),
                )
            return self._client

    def forget(self) -> None:
        """The next listing is read afresh (after a write, or for the id guard's read)."""
        self._listing = None

    def listing(self) -> dict[str, StoredPolicy]:
        """domain -> its policy object, from one paged objects.list; {} without a bucket."""
        if self._listing is None:
            self._listing = self._list()
        return self._listing

    def _list(self) -> dict[str, StoredPolicy]:
        found: dict[str, StoredPolicy] = {}
        with reported(self.provider, None, f"listing policies in gs://{self.name}"):
            try:
                blobs = self.client.list_blobs(
                    self.name, prefix=POLICY_HOST_PREFIX, timeout=http_timeout()
                )
                for blob in blobs:
                    domain = domain_of_key(blob.name)
                    if domain is not None:
                        found[domain] = _stored(blob)
            except google_exceptions.NotFound:
                return {}
        return found

    def bodies(
        self, domains: list[str], expected: Mapping[str, str] | None = None
    ) -> dict[str, tuple[str, datetime]]:
        """domain -> (body, updated) for the listed domains, fetching only unverified ones.

        A body is known without a fetch when the listed `md5Hash` is the MD5 of the body the
        spec renders (`expected`, issue 9.9) or of the object's metadata copy.
        """
        listing = self.listing()
        known: dict[str, str] = {}
        for domain in domains:
            stored = listing.get(domain)
            if stored is None:
                continue
            want = (expected or {}).get(domain)
            if want is not None and stored.md5 == md5_of(want.encode("utf-8")):
                known[domain] = want
            elif stored.hint is not None:
                known[domain] = stored.hint
        fetch = [d for d in domains if d in listing and d not in known]
        for domain, body in zip(fetch, each(self._download, fetch), strict=True):
            if body is not None:
                known[domain] = body
        return {d: (known[d], listing[d].updated) for d in domains if d in known}

    def _download(self, domain: str) -> str | None:
        key = policy_key(domain)
        with reported(self.provider, domain, f"reading gs://{self.name}/{key}"):
            try:
                data = (
                    self.client.bucket(self.name)
                    .blob(key)
                    .download_as_bytes(timeout=http_timeout())
                )
            except google_exceptions.NotFound:
                return None
        return bytes(data).decode("utf-8", errors="replace")

    def ensure_bucket(self) -> None:
        """Create the bucket when missing (uniform access, public read); once per run."""
        if self._ensured:
            return
        timeout = http_timeout()
        with reported(self.provider, None, f"checking bucket gs://{self.name}"):
            bucket = self.client.lookup_bucket(self.name, timeout=timeout)
        if bucket is None:
            with reported(self.provider, None, f"creating bucket gs://{self.name}"):
                bucket = self.client.bucket(self.name)
                bucket.iam_configuration.uniform_bucket_level_access_enabled = True
                bucket = self.client.create_bucket(bucket, timeout=timeout)
                if not bucket.iam_configuration.uniform_bucket_level_access_enabled:
                    # gcp-storage-emulator drops the setting on insert; real GCS keeps it.
                    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
                    bucket.patch(timeout=timeout)
        self._grant_public_read(bucket)
        self._ensured = True

    def _grant_public_read(self, bucket: Any) -> None:
        timeout = http_timeout()
        with reported(self.provider, None, f"granting public read on gs://{self.name}"):
            policy = bucket.get_iam_policy(requested_policy_version=3, timeout=timeout)
            for binding in policy.bindings:
                if binding.get("role") == PUBLIC_ROLE and PUBLIC_MEMBER in binding.get(
                    "members", ()
                ):
                    return
            policy.bindings.append({"role": PUBLIC_ROLE, "members": {PUBLIC_MEMBER}})
            bucket.set_iam_policy(policy, timeout=timeout)

    def write(self, domain: str, body: str) -> None:
        """Upload the policy, only over the generation read (0: only if absent)."""
        key = policy_key(domain)
        data = body.encode("utf-8")
        live = self.listing().get(domain)
        blob = self.client.bucket(self.name).blob(key)
        blob.content_type = CONTENT_TYPE
        blob.cache_control = CACHE_CONTROL
        if len(data) <= HINT_MAX_BYTES:
            blob.metadata = {HINT_KEY: base64.b64encode(data).decode("ascii")}
        with reported(self.provider, domain, f"writing gs://{self.name}/{key}"):
            try:
                blob.upload_from_string(
                    data,
                    content_type=CONTENT_TYPE,
                    if_generation_match=live.generation if live else 0,
                    timeout=http_timeout(),
                )
            except google_exceptions.PreconditionFailed:
                raise self._changed(domain) from None

    def delete(self, domain: str) -> None:
        """Delete the policy object (the generation read; already gone is fine)."""
        key = policy_key(domain)
        live = self.listing().get(domain)
        with reported(self.provider, domain, f"deleting gs://{self.name}/{key}"):
            try:
                self.client.bucket(self.name).blob(key).delete(
                    if_generation_match=live.generation if live else None,
                    timeout=http_timeout(),
                )
            except google_exceptions.NotFound:
                return
            except google_exceptions.PreconditionFailed:
                raise self._changed(domain) from None

    def _changed(self, domain: str) -> ProviderError:
        return ProviderError(
            f"{self.provider}: {domain}: another writer changed gs://{self.name}/"
            f"{policy_key(domain)} since mtasts read it (GCS answered 412); nothing was "
            "overwritten; run 'mtasts plan' again"
        )


def _stored(blob: Any) -> StoredPolicy:
    md5 = blob.md5_hash
    hint = None
    copy = (blob.metadata or {}).get(HINT_KEY)
    if md5 and copy:
        try:
            data = base64.b64decode(copy, validate=True)
        except ValueError:
            data = None
        if data is not None and md5_of(data) == md5:
            hint = data.decode("utf-8", errors="replace")
    return StoredPolicy(blob.name, int(blob.generation or 0), blob.updated, md5, hint)
