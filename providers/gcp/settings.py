"""The `gcp` provider's settings (`providers: {g: {type: gcp, ...}}`), validated like the spec.

- `project` (required): where the policy bucket and the load balancer live.
- `dns_project` (default `project`): where the Cloud DNS managed zones are (shared-VPC
  organisations keep DNS in a host project).
- `bucket` (default `mtasts-<project>`): the policy bucket, created when missing.
- `zone_names`: `{domain: managed-zone name}` pins; otherwise the public managed zone with
  the longest `dnsName` suffix of the domain (private zones never match).
- `name_prefix` (default `mtasts`): prefix of every Compute and Certificate Manager
  resource mtasts creates, so two deployments can share a project.
- `*_endpoint`: API endpoints for emulators and fakes (`http://127.0.0.1:8085`), handed to
  each client library as `client_options={"api_endpoint": URL}`; a client whose endpoint
  is overridden uses anonymous credentials, as google-cloud-storage does for its emulator.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from provisioner.dnstext import normalize_pins

PROJECT_ID = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
"""Google Cloud project ids: 6-30 characters, lower case letters, digits, hyphens."""
BUCKET_NAME = r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$"
ZONE_NAME = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]?$"
NAME_PREFIX = r"^[a-z][a-z0-9-]{0,19}$"
"""Compute names are at most 63 characters; the prefix leaves room for the rest."""
ENDPOINT = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"


class GcpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(pattern=PROJECT_ID)
    dns_project: str | None = Field(default=None, pattern=PROJECT_ID)
    bucket: str | None = Field(default=None, pattern=BUCKET_NAME)
    zone_names: dict[str, str] = Field(default_factory=dict)
    name_prefix: str = Field(default="mtasts", pattern=NAME_PREFIX)
    dns_endpoint: str | None = Field(default=None, pattern=ENDPOINT)
    storage_endpoint: str | None = Field(default=None, pattern=ENDPOINT)
    compute_endpoint: str | None = Field(default=None, pattern=ENDPOINT)
    certificate_manager_endpoint: str | None = Field(default=None, pattern=ENDPOINT)

    @field_validator("zone_names")
    @classmethod
    def _pins(cls, value: dict[str, str]) -> dict[str, str]:
        pins = normalize_pins(value, "zone_names")
        for zone in pins.values():
            if not isinstance(zone, str) or not _matches(ZONE_NAME, zone):
                raise ValueError(f"zone_names: {zone!r} is not a managed zone name")
        return pins

    @property
    def dns_project_id(self) -> str:
        return self.dns_project or self.project

    @property
    def bucket_name(self) -> str:
        return self.bucket or f"mtasts-{self.project}"


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern.strip("^$"), value) is not None
