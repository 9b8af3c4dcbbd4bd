"""The data behind the fake Cloudflare API: zones, DNS records, Worker scripts, custom domains.

Kept apart from the HTTP layer (cf_fake_api.py) so tests can seed and inspect it directly, the
way one would look at the dashboard: `state.txt_values("_mta-sts.example.com")`.
Records carry every field the real API returns (`id`, `created_on`, `modified_on`, `meta`,
`proxiable`, ...): without them the SDK's union model silently parses a TXT record as
another record type.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "test-token-0123456789"

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def new_id() -> str:
    return uuid.uuid4().hex


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def joined_txt(content: str) -> str:
    """What a resolver would see for a TXT content: quoted strings joined, else as is."""
    text = content.strip()
    if not text.startswith('"'):
        return content
    return "".join(re.sub(r"\\(.)", r"\1", p) for p in _QUOTED.findall(text))


class ApiError(Exception):
    """An error answer: HTTP status, Cloudflare error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Script:
    name: str
    metadata: dict[str, Any]
    modules: dict[str, tuple[str, bytes]]
    """file name -> (content type, content)"""
    created_on: str
    modified_on: str
    etag: str

    @property
    def main(self) -> bytes:
        return self.modules[self.metadata["main_module"]][1]


@dataclass
class FakeCloudflareState:
    account_id: str = ACCOUNT_ID
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """zone id -> record id -> record"""
    scripts: dict[str, Script] = field(default_factory=dict)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # Seeding and looking, for tests

    def add_zone(self, name: str, zone_id: str | None = None) -> str:
        with self.lock:
            zid = zone_id or new_id()
            now = timestamp()
            self.zones[zid] = {
                "id": zid,
                "name": name,
                "status": "active",
                "paused": False,
                "type": "full",
                "development_mode": 0,
                "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
                "original_name_servers": None,
                "original_registrar": None,
                "original_dnshost": None,
                "created_on": now,
                "modified_on": now,
                "activated_on": now,
                "meta": {"step": 4, "phishing_detected": False},
                "owner": {"id": None, "type": "user", "email": None},
                "account": {"id": self.account_id, "name": "Test account"},
                "permissions": ["#zone:read", "#dns_records:edit"],
                "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website"},
                "vanity_name_servers": [],
            }
            self.records[zid] = {}
            return zid

    def zone_by_name(self, name: str) -> dict[str, Any]:
        return next(z for z in self.zones.values() if z["name"] == name)

    def add_record(self, zone_id: str, rtype: str, name: str, content: str, **extra: Any) -> str:
        with self.lock:
            return self.create_record(
                zone_id, {"type": rtype, "name": name, "content": content, **extra}
            )["id"]

    def all_records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(r) for recs in self.records.values() for r in recs.values()]

    def txt_values(self, name: str) -> list[str]:
        return sorted(
            joined_txt(r["content"])
            for r in self.all_records()
            if r["type"] == "TXT" and r["name"] == name
        )

    def script_text(self, name: str = "mtasts") -> str | None:
        script = self.scripts.get(name)
        return None if script is None else script.main.decode("utf-8")

    # Records

    def _zone(self, zone_id: str) -> dict[str, Any]:
        zone = self.zones.get(zone_id)
        if zone is None:
            raise ApiError(
                404,
                7003,
                "Could not route to /zones/"
                + zone_id
                + ", perhaps your object identifier is invalid?",
            )
        return zone

    def _full_name(self, zone: dict[str, Any], name: str) -> str:
        name = name.lower().rstrip(".")
        if name in ("@", ""):
            return zone["name"]
        if name == zone["name"] or name.endswith("." + zone["name"]):
            return name
        return f"{name}.{zone['name']}"

    def _validate(self, zone_id: str, body: dict[str, Any], exclude: str | None = None) -> None:
        rtype, content = body.get("type"), body.get("content")
        if rtype not in ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "CAA", "SRV"):
            raise ApiError(400, 9004, f"Invalid DNS record type: {rtype!r}")
        if not isinstance(content, str) or not content:
            raise ApiError(400, 9021, "Invalid or missing content")
        if rtype == "TXT" and content.startswith('"'):
            parts = _QUOTED.findall(content)
            if any(len(re.sub(r"\\(.)", r"\1", p).encode()) > 255 for p in parts):
                raise ApiError(400, 9100, "TXT character-string longer than 255 bytes")
        for rid, rec in self.records[zone_id].items():
            if rid == exclude:
                continue
            if rec["name"] == body["name"] and rec["type"] == rtype and rec["content"] == content:
                raise ApiError(400, 81058, "An identical record already exists.")
            if (
                rec["name"] == body["name"]
                and "CNAME" in (rec["type"], rtype)
                and rec["type"] != rtype
            ):
                raise ApiError(
                    400, 81053, "An A, AAAA, or CNAME record with that host already exists."
                )

    def create_record(self, zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            zone = self._zone(zone_id)
            body = dict(body)
            body["name"] = self._full_name(zone, str(body.get("name", "")))
            self._validate(zone_id, body)
            now = timestamp()
            rtype = body["type"]
            record: dict[str, Any] = {
                "id": new_id(),
                "zone_id": zone_id,
                "zone_name": zone["name"],
                "name": body["name"],
                "type": rtype,
                "content": body["content"],
                "proxiable": rtype in ("A", "AAAA", "CNAME"),
                "proxied": bool(body.get("proxied", False)),
                "ttl": int(body.get("ttl", 1)),
                "settings": {},
                "meta": {},
                "comment": body.get("comment"),
                "tags": list(body.get("tags", [])),
                "created_on": now,
                "modified_on": now,
            }
            if rtype == "MX":
                record["priority"] = int(body.get("priority", 10))
            self.records[zone_id][record["id"]] = record
            return copy.deepcopy(record)

    def _record(self, zone_id: str, record_id: str) -> dict[str, Any]:
        self._zone(zone_id)
        record = self.records[zone_id].get(record_id)
        if record is None:
            raise ApiError(404, 81044, "Record does not exist.")
        return record

    def update_record(
        self, zone_id: str, record_id: str, body: dict[str, Any], *, replace: bool
    ) -> dict[str, Any]:
        with self.lock:
            zone = self._zone(zone_id)
            record = self._record(zone_id, record_id)
            merged = (
                {}
                if replace
                else {
                    k: record[k]
                    for k in ("type", "name", "content", "ttl", "proxied", "comment", "tags")
                }
            )
            merged.update({k: v for k, v in body.items() if k != "id"})
            merged.setdefault("type", record["type"])
            merged["name"] = self._full_name(zone, str(merged.get("name", record["name"])))
            self._validate(zone_id, merged, exclude=record_id)
            for key in ("type", "name", "content", "ttl", "proxied", "comment", "tags"):
                if key in merged:
                    record[key] = merged[key]
            record["modified_on"] = timestamp()
            return copy.deepcopy(record)

    def delete_record(self, zone_id: str, record_id: str) -> dict[str, Any]:
        with self.lock:
            self._record(zone_id, record_id)
            return self.records[zone_id].pop(record_id)

    def batch(self, zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Deletes, patches, puts, posts, in that order, in one transaction (all or none)."""
        with self.lock:
            self._zone(zone_id)
            saved = copy.deepcopy(self.records[zone_id])
            try:
                result = {
                    "deletes": [
                        self.delete_record(zone_id, d["id"]) for d in body.get("deletes") or []
                    ],
                    "patches": [
                        self.update_record(zone_id, p["id"], p, replace=False)
                        for p in body.get("patches") or []
                    ],
                    "puts": [
                        self.update_record(zone_id, p["id"], p, replace=True)
                        for p in body.get("puts") or []
                    ],
                    "posts": [self.create_record(zone_id, p) for p in body.get("posts") or []],
                }
            except ApiError:
                self.records[zone_id] = saved
                raise
            return result

    # Workers

    def put_script(
        self, name: str, metadata: dict[str, Any], modules: dict[str, tuple[str, bytes]]
    ) -> Script:
        main = metadata.get("main_module")
        if not main or main not in modules:
            raise ApiError(400, 10021, "No such module: main_module must name an uploaded part")
        if modules[main][0] not in ("application/javascript+module", "text/javascript+module"):
            raise ApiError(400, 10021, f"main module {main} must be application/javascript+module")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(metadata.get("compatibility_date", ""))):
            raise ApiError(400, 10021, "compatibility_date is required")
        with self.lock:
            now = timestamp()
            old = self.scripts.get(name)
            script = Script(name, metadata, modules, old.created_on if old else now, now, new_id())
            self.scripts[name] = script
            return script

    def put_domain(self, body: dict[str, Any]) -> dict[str, Any]:
        hostname = str(body.get("hostname", "")).lower()
        service = body.get("service")
        with self.lock:
            if service not in self.scripts:
                raise ApiError(404, 10007, "workers.api.error.script_not_found")
            zone = self.zones.get(str(body.get("zone_id"))) or next(
                (z for z in self.zones.values() if z["name"] == body.get("zone_name")), None
            )
            if zone is None or not (
                hostname == zone["name"] or hostname.endswith("." + zone["name"])
            ):
                raise ApiError(400, 100116, "Hostname is not in the given zone")
            for rec in self.records[zone["id"]].values():
                if rec["name"] == hostname and rec["type"] in ("A", "AAAA", "CNAME"):
                    raise ApiError(
                        409, 100117, "Hostname already has externally managed DNS records"
                    )
            existing = next((d for d in self.domains.values() if d["hostname"] == hostname), None)
            domain = existing or {"id": new_id(), "cert_id": new_id()}
            domain.update(
                hostname=hostname,
                service=service,
                environment="production",
                zone_id=zone["id"],
                zone_name=zone["name"],
            )
            self.domains[domain["id"]] = domain
            return copy.deepcopy(domain)
