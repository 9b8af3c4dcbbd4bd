"""The `cloudflare` provider's contract world: the fake v4 API (tests/cloudflare/cf_fake_api.py).

Records are seeded and read in the fake's state, the way the dashboard shows them. A TXT
record's `content` is RFC 1035 presentation text (quoted character-strings, `\\"`, `\\\\`
and `\\DDD` escapes, as Cloudflare documents it and as `providers/cloudflare/dns.py` writes
it with `zone_quoted`), so zone-file rdata goes into `content` as it is and comes back out
as it is: a foreign value is compared byte for byte, string split and escapes included.
Names in `content` (CNAME, NS, MX targets) carry no trailing dot on Cloudflare; an MX
record's preference is the `priority` field. The policy served for a host is the entry
of the Worker's embedded map, provided the host is a custom domain bound to that Worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cf_fake_api import FakeCloudflareApi
from cf_fake_state import ACCOUNT_ID
from cf_helpers import add_zones, bound_hosts

from providers.cloudflare.provider import CloudflareProvider
from providers.cloudflare.worker import parse_script

WORKER = "mtasts"
"""The Worker script's name: the provider's default (`worker` setting)."""
DNS_WRITES = r"^/zones/[^/]+/dns_records(/batch)?$"
"""Where the provider writes records: the batch endpoint (and, were it used, the single
record POST). Both are POSTs."""
NAME_TYPES = frozenset({"CNAME", "NS"})


class CloudflareWorld:
    provider_name = "cf"
    capabilities = CloudflareProvider.capabilities
    injects_faults = True

    def __init__(self, directory: Path, api: FakeCloudflareApi) -> None:
        self.directory = directory
        self.api = api

    def provider_settings(self) -> dict[str, Any]:
        return {"type": "cloudflare", "account_id": ACCOUNT_ID}

    def add_zone(self, zone: str) -> None:
        add_zones(self.api, zone)

    def _zone_id(self, name: str) -> str:
        """The zone holding `name`: the longest zone name that is a suffix of it."""
        zones = [
            z
            for z in self.api.state.zones.values()
            if name == z["name"] or name.endswith("." + z["name"])
        ]
        assert zones, f"no zone in the fake holds {name}"
        return str(max(zones, key=lambda z: len(z["name"]))["id"])

    def add_record(self, name: str, rtype: str, text: str, ttl: int) -> None:
        extra: dict[str, Any] = {"ttl": ttl}
        content = text
        if rtype in NAME_TYPES:
            content = text.rstrip(".")
        elif rtype == "MX":
            priority, host = text.split()
            content = host.rstrip(".")
            extra["priority"] = int(priority)
        self.api.state.add_record(self._zone_id(name), rtype, name, content, **extra)

    def records(self, name: str, rtype: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for record in self.api.state.all_records():
            if record["name"] != name or record["type"] != rtype:
                continue
            content = str(record["content"])
            if rtype in NAME_TYPES:
                content += "."
            elif rtype == "MX":
                content = f"{record['priority']} {content}."
            found.append((content, int(record["ttl"])))
        return sorted(found)

    def served(self, domain: str) -> bytes | None:
        host = f"mta-sts.{domain}"
        if bound_hosts(self.api).get(host) != WORKER:
            return None
        text = self.api.state.script_text(WORKER)
        policies = None if text is None else parse_script(text)
        entry = None if policies is None else policies.get(host)
        return None if entry is None else entry.body.encode()

    def fail_writes(self, status: int, count: int) -> None:
        """The next `count` record writes answer `status`; a 429 says `Retry-After: 1`, as
        Cloudflare's does, a 5xx says nothing (the SDK backs off on its own)."""
        retry_after = 1.0 if status == 429 else None
        self.api.inject("POST", DNS_WRITES, status, times=count, retry_after=retry_after)

    def fail_txt_writes_forever(self) -> None:
        """Every batch of record writes answers 500 (with a short `Retry-After`, so the
        SDK's retries are spent in a moment rather than in its minute of backoff)."""
        self.api.inject("POST", DNS_WRITES, 500, times=10**9, retry_after=0.01)
