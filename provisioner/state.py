"""The two sides of every diff: what the spec wants and what a provider holds.

`DesiredDomain` comes from `render` (never from a provider); `LiveDomain` comes from a
provider's bulk `read` (never from the spec). Both are plain frozen values, so a plan is a
pure function of the two and can be computed, saved and tested without any cloud.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from provisioner.rfc8461 import Policy


class Resource(StrEnum):
    """What a domain deploys (DESIGN section 4), in publish order."""

    ENDPOINT = "endpoint"
    POLICY = "policy"
    STS_RECORD = "sts_record"
    TLSRPT_RECORD = "tlsrpt_record"


STS_PREFIX = "_mta-sts."
TLSRPT_PREFIX = "_smtp._tls."
POLICY_HOST_PREFIX = "mta-sts."


def record_name(resource: Resource, domain: str) -> str:
    """The DNS owner name (no trailing dot) of a TXT resource."""
    if resource is Resource.STS_RECORD:
        return STS_PREFIX + domain
    if resource is Resource.TLSRPT_RECORD:
        return TLSRPT_PREFIX + domain
    raise ValueError(f"{resource} is not a DNS record")


def policy_host(domain: str) -> str:
    return POLICY_HOST_PREFIX + domain


MISSING = "missing"
"""The state of an endpoint part that does not exist at all."""


@dataclass(frozen=True)
class Endpoint:
    """The HTTPS host that serves `mta-sts.<domain>/.well-known/mta-sts.txt` (RFC 8461 3.3).

    `host` is the policy host; `target` what serves it (`worker <script>`, `cloudfront`,
    `gcp-lb`); `parts` each piece the provider checks, as (name, state) in the provider's
    order, e.g. ("certificate", "ISSUED"), ("alias AAAA", "present"). A provider's
    `endpoint_for` gives the healthy value; its `read` gives what is live, each wanted part
    with its live state (`MISSING` when absent). The planner compares the two by field, so a
    plan says what is missing or wrong ("certificate PENDING_VALIDATION -> ISSUED") and a
    saved plan carries the fields (`to_json`) rather than a sentence.
    """

    host: str
    target: str
    parts: tuple[tuple[str, str], ...] = ()

    def part(self, name: str) -> str:
        """The state of one part; `MISSING` when this value does not list it."""
        return dict(self.parts).get(name, MISSING)

    def differences(self, live: Endpoint | None) -> tuple[str, ...]:
        """What `live` lacks to be this endpoint, one phrase a field; () when it is it."""
        if live is None:
            return (f"{self.target} {self.host} missing",)
        out: list[str] = []
        for name, want, have in (
            ("host", self.host, live.host),
            ("target", self.target, live.target),
        ):
            if want != have:
                out.append(f"{name} {have} -> {want}")
        for name, want in self.parts:
            have = live.part(name)
            if have != want:
                out.append(f"{name} missing" if have == MISSING else f"{name} {have} -> {want}")
        names = {name for name, _ in self.parts}
        out.extend(f"{name} {have} -> (none)" for name, have in live.parts if name not in names)
        return tuple(out)

    def __str__(self) -> str:
        fields = ", ".join(f"{name} {state}" for name, state in self.parts)
        return f"{self.target} {self.host}" + (f" ({fields})" if fields else "")

    def to_json(self) -> dict[str, Any]:
        """`{"host": ..., "target": ..., "parts": {name: state}}` for plan JSON."""
        return {"host": self.host, "target": self.target, "parts": dict(self.parts)}

    @classmethod
    def from_json(cls, data: object) -> Endpoint:
        """The inverse of `to_json`; ValueError naming what is wrong (an old plan's text)."""
        if not isinstance(data, dict) or set(data) != {"host", "target", "parts"}:
            raise ValueError("an endpoint must be an object with host, target and parts")
        host, target, parts = data["host"], data["target"], data["parts"]
        if not isinstance(host, str) or not isinstance(target, str):
            raise ValueError("an endpoint's host and target must be text")
        if not isinstance(parts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parts.items()
        ):
            raise ValueError("an endpoint's parts must map names to text")
        return cls(host, target, tuple(parts.items()))


@dataclass(frozen=True)
class DesiredDomain:
    """Everything one domain should publish, rendered and validated."""

    domain: str
    provider: str
    policy: Policy
    policy_text: str
    tlsrpt_record: str | None
    """None: the spec sets no tlsrpt, so mtasts leaves `_smtp._tls` as it is."""
    endpoint: Endpoint | None = None
    """What the provider's HTTPS endpoint should be; None where mtasts does not host it."""


@dataclass(frozen=True)
class BlockingRecord:
    """A record someone else owns at a name mtasts would write, that it cannot write beside.

    The usual one is a delegation: `_mta-sts.<d>` as a CNAME to a hosted MTA-STS service
    (RFC 8461 section 8.2), or `mta-sts.<d>` as a CNAME to a vendor's web host. A TXT or an
    A/AAAA beside a CNAME is illegal DNS (RFC 1034 section 3.6.2), and writing over it would
    take the deployment over silently; the plan refuses instead (`provisioner.conflicts`).
    `resource` is what mtasts would publish at `name`; `rdtype` and `value` are what is there.
    """

    resource: Resource
    name: str
    rdtype: str
    value: str


@dataclass(frozen=True)
class LiveDomain:
    """What one provider holds for one domain, as read in bulk.

    TXT rrsets hold every value at the name, mtasts's and anyone else's, each joined from
    its character-strings; the diff keeps the foreign ones. `policy_published_at` is when
    the provider last wrote the policy body (an object's LastModified, a file's mtime):
    removal waits max_age from the moment `mode: none` went out (RFC 8461 section 8.3).
    `mx_hosts` is the live MX set when the provider can read it, else None.
    `blocking` lists foreign records at names mtasts would write (see `BlockingRecord`).
    """

    domain: str
    policy_text: str | None = None
    policy_published_at: datetime | None = None
    sts_txt: tuple[str, ...] = ()
    tlsrpt_txt: tuple[str, ...] = ()
    endpoint: Endpoint | None = None
    mx_hosts: tuple[str, ...] | None = None
    blocking: tuple[BlockingRecord, ...] = ()

    @property
    def exists(self) -> bool:
        return self.policy_text is not None or self.endpoint is not None

    def fingerprint(self) -> str:
        """A digest of everything a plan was computed from, to detect a stale saved plan."""
        data = asdict(self)
        if self.policy_published_at is not None:
            data["policy_published_at"] = self.policy_published_at.isoformat()
        blob = json.dumps(data, sort_keys=True, default=str).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]
