"""The data behind the fake Cloud DNS v1 API: projects, managed zones, rrsets, changes.

Kept apart from the HTTP layer (gcp_fake_dns.py) so tests can seed and inspect it directly:
`state.add_zone("example.com.")`, `state.add_rrset("example-com", "_mta-sts.example.com.",
"TXT", ['"v=STSv1; id=1"'])`, `state.rrset("example-com", "_mta-sts.example.com.", "TXT")`.

The rules of a change, as the real API applies them (one change is atomic: checked in
full, then applied, or refused with nothing applied):
- deletions first, each naming a whole live rrset exactly: an unknown (name, type) is 404
  `notFound`; a ttl or rrdatas that differ from the live rrset is 412 `conditionNotMet`
  (rrdatas compared as a multiset, strings byte for byte, so `"a" "b"` != `"a b"`); the
  answer has the first failure's status and message, and every failing rrset in `errors`
  (as the real API lists them); additions likewise;
- then additions: an rrset whose (name, type) is live (or added twice) is 409
  `alreadyExists`; a CNAME next to another type at one name is 400
  `cnameResourceRecordSetConflict`; a name outside the zone or without its trailing dot is
  400 `invalid`; the apex SOA and NS may be replaced, not removed;
- ttl may come as a string (google-cloud-dns sends `"300"`) and is answered as an integer;
- TXT rrdatas are stored exactly as given (zone-file text, quoted strings kept);
- names are stored in lower case; rrdatas are checked as gcp_fake_dns_rdata.py says (A/AAAA
  addresses, one CNAME target, TXT character-strings of at most 255 bytes);
- limits from the Cloud DNS quotas page, answered 403 `quotaExceeded`: 1,000 additions
  and 1,000 deletions per change, 100,000 bytes of rrdata per change, 10,000 rrsets per
  zone, 100 rrdatas per rrset (`state.quota`, also served by `GET /projects/{p}`); the
  limits are the documented ones, the 403 `quotaExceeded` answer for them is assumed.
A change is `pending` when created and on the next `pending_gets` GETs (default 1), then
`done`; or, with `pending_seconds` set, `pending` until that many seconds after it was
created, however often it is read (the real API's way: its status follows the time the
update takes, not the reads). The rrsets are changed at once (pending only means "not on
every name server yet").

Not emulated: the SOA serial bump, DNSSEC, routing policies, response policies, peering
and forwarding zones, labels, `fields=` partial answers, and IAM (see the HTTP layer's
fault injection for 403).
"""

from __future__ import annotations

import copy
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gcp_fake_dns_errors import DnsApiError
from gcp_fake_dns_rdata import RRSET_TYPES, parse_rrset, rrset_resource

DEFAULT_PROJECT = "mtasts-test"
NAME_SERVERS = [f"ns-cloud-a{i}.googledomains.com." for i in range(1, 5)]
_ZONE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")

DEFAULT_QUOTA: dict[str, Any] = {
    "kind": "dns#quota",
    "managedZones": 10_000,
    "rrsetsPerManagedZone": 10_000,
    "rrsetAdditionsPerChange": 1_000,
    "rrsetDeletionsPerChange": 1_000,
    "totalRrdataSizePerChange": 100_000,
    "resourceRecordsPerRrset": 100,
}


def timestamp() -> str:
    """RFC 3339 in UTC with milliseconds and a Z, as Cloud DNS writes it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fqdn(name: str) -> str:
    return name.lower() if name.endswith(".") else name.lower() + "."


@dataclass
class Zone:
    project: str
    resource: dict[str, Any]
    rrsets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    gets_left: dict[str, int] = field(default_factory=dict)
    done_at: dict[str, float] = field(default_factory=dict)
    """change id -> GETs still answered `pending`"""

    @property
    def name(self) -> str:
        return str(self.resource["name"])

    @property
    def dns_name(self) -> str:
        return str(self.resource["dnsName"])

    def sorted_rrsets(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.rrsets[k]) for k in sorted(self.rrsets)]

    def listing(self, name: str | None, rtype: str | None) -> list[dict[str, Any]]:
        """The rrsets a list request sees, by (name, type), not copied: a stored rrset is
        never changed in place (a change swaps whole rrsets), so it can be sent as is."""
        return [
            self.rrsets[k]
            for k in sorted(self.rrsets)
            if (name is None or k[0] == name) and (rtype is None or k[1] == rtype)
        ]


@dataclass
class FakeCloudDnsState:
    zones: dict[tuple[str, str], Zone] = field(default_factory=dict)
    """(project, zone name) -> zone"""
    quota: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_QUOTA))
    pending_gets: int = 1
    """GETs of a new change answered `pending` before it reads `done` (0: done at once)."""
    pending_seconds: float | None = None
    """When set, a new change reads `pending` this many seconds, whatever the GETs."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    # Seeding and looking, for tests

    def add_zone(
        self,
        dns_name: str,
        name: str | None = None,
        *,
        project: str = DEFAULT_PROJECT,
        visibility: str = "public",
        description: str = "",
    ) -> dict[str, Any]:
        """A managed zone with its apex SOA and NS; `name` defaults to `example-com`."""
        dns_name = fqdn(dns_name)
        body = {
            "name": name or dns_name.rstrip(".").replace(".", "-"),
            "dnsName": dns_name,
            "description": description,
            "visibility": visibility,
        }
        return self.create_zone(project, body)

    def add_rrset(
        self,
        zone: str,
        name: str,
        rtype: str,
        rrdatas: list[str],
        ttl: int = 300,
        *,
        project: str = DEFAULT_PROJECT,
    ) -> dict[str, Any]:
        """Seed one rrset through the change rules (409 if it exists); returns the change."""
        addition = rrset_resource(fqdn(name), rtype, ttl, rrdatas)
        return self.create_change(project, zone, {"additions": [addition]}, done=True)

    def rrsets(self, zone: str, *, project: str = DEFAULT_PROJECT) -> list[dict[str, Any]]:
        with self.lock:
            return self.zone(project, zone).sorted_rrsets()

    def rrset(
        self, zone: str, name: str, rtype: str, *, project: str = DEFAULT_PROJECT
    ) -> dict[str, Any] | None:
        with self.lock:
            found = self.zone(project, zone).rrsets.get((fqdn(name), rtype))
            return copy.deepcopy(found)

    def changes(self, zone: str, *, project: str = DEFAULT_PROJECT) -> list[dict[str, Any]]:
        """Every change of the zone, oldest first (change "0" created the zone)."""
        with self.lock:
            return copy.deepcopy(self.zone(project, zone).changes)

    # Zones

    def zone(self, project: str, name_or_id: str) -> Zone:
        zone = self.zones.get((project, name_or_id))
        if zone is None:
            zone = next(
                (
                    z
                    for (p, _), z in self.zones.items()
                    if p == project and z.resource["id"] == name_or_id
                ),
                None,
            )
        if zone is None:
            raise DnsApiError(
                404,
                "notFound",
                f"The 'parameters.managedZone' resource named '{name_or_id}' does not exist.",
            )
        return zone

    def list_zones(self, project: str, dns_name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            found = [
                copy.deepcopy(z.resource)
                for (p, n), z in sorted(self.zones.items())
                if p == project and (dns_name is None or z.dns_name == fqdn(dns_name))
            ]
            return found

    def create_zone(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name") or "")
        dns_name = str(body.get("dnsName") or "")
        visibility = str(body.get("visibility") or "public")
        if not _ZONE_NAME.fullmatch(name):
            raise DnsApiError(
                400, "invalid", f"Invalid value for 'entity.managedZone.name': '{name}'"
            )
        if not dns_name.endswith(".") or len(dns_name) < 2:
            raise DnsApiError(
                400, "invalid", f"Invalid value for 'entity.managedZone.dnsName': '{dns_name}'"
            )
        if visibility not in ("public", "private"):
            raise DnsApiError(
                400, "invalid", f"Invalid value for 'entity.managedZone.visibility': '{visibility}'"
            )
        with self.lock:
            if (project, name) in self.zones:
                raise DnsApiError(
                    409,
                    "alreadyExists",
                    f"The resource 'entity.managedZone' named '{name}' already exists",
                )
            if sum(1 for p, _ in self.zones if p == project) >= self.quota["managedZones"]:
                raise DnsApiError(403, "quotaExceeded", "Quota exceeded for quota managedZones.")
            dns_name = dns_name.lower()
            servers = (
                NAME_SERVERS if visibility == "public" else ["ns-gcp-private.googledomains.com."]
            )
            resource: dict[str, Any] = {
                "kind": "dns#managedZone",
                "name": name,
                "dnsName": dns_name,
                "description": str(body.get("description") or ""),
                "id": str(random.randrange(10**18, 10**19)),
                "nameServers": list(servers),
                "creationTime": timestamp(),
                "visibility": visibility,
                "dnssecConfig": {"kind": "dns#managedZoneDnsSecConfig", "state": "off"},
            }
            if visibility == "private":
                resource["privateVisibilityConfig"] = {
                    "kind": "dns#managedZonePrivateVisibilityConfig",
                    "networks": list(body.get("privateVisibilityConfig", {}).get("networks", [])),
                }
            if body.get("nameServerSet"):
                resource["nameServerSet"] = body["nameServerSet"]
            zone = Zone(project, resource)
            soa = f"{servers[0]} cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"
            apex = [
                rrset_resource(dns_name, "NS", 21600, servers),
                rrset_resource(dns_name, "SOA", 21600, [soa]),
            ]
            for rrset in apex:
                zone.rrsets[(dns_name, rrset["type"])] = rrset
            zone.changes.append(self._change_resource("0", apex, [], "done"))
            self.zones[(project, name)] = zone
            return copy.deepcopy(resource)

    def delete_zone(self, project: str, name_or_id: str) -> None:
        with self.lock:
            zone = self.zone(project, name_or_id)
            apex = {(zone.dns_name, "SOA"), (zone.dns_name, "NS")}
            if any(key not in apex for key in zone.rrsets):
                raise DnsApiError(
                    400,
                    "containerNotEmpty",
                    f"The resource named '{zone.name}' cannot be deleted because it is not empty",
                )
            del self.zones[(project, zone.name)]

    # Changes

    @staticmethod
    def _change_resource(
        change_id: str,
        additions: list[dict[str, Any]],
        deletions: list[dict[str, Any]],
        status: str,
    ) -> dict[str, Any]:
        return {
            "kind": "dns#change",
            "id": change_id,
            "startTime": timestamp(),
            "status": status,
            "isServing": True,
            "additions": copy.deepcopy(additions),
            "deletions": copy.deepcopy(deletions),
        }

    def create_change(
        self, project: str, zone_name: str, body: Any, *, done: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            zone = self.zone(project, zone_name)
            if not isinstance(body, dict):
                raise DnsApiError(400, "invalid", "Invalid value for 'entity.change'")
            raw_add = body.get("additions") or []
            raw_del = body.get("deletions") or []
            if not raw_add and not raw_del:
                raise DnsApiError(
                    400, "required", "The 'entity.change' parameter is required but was missing."
                )
            for key, items in (("Additions", raw_add), ("Deletions", raw_del)):
                if len(items) > self.quota[f"rrset{key}PerChange"]:
                    raise DnsApiError(
                        403,
                        "quotaExceeded",
                        f"The change would exceed quota for {key.lower()} per change.",
                    )
            additions = [
                parse_rrset(
                    zone.dns_name,
                    a,
                    f"entity.change.additions[{i}]",
                    self.quota["resourceRecordsPerRrset"],
                )
                for i, a in enumerate(raw_add)
            ]
            deletions = [
                parse_rrset(
                    zone.dns_name,
                    d,
                    f"entity.change.deletions[{i}]",
                    self.quota["resourceRecordsPerRrset"],
                )
                for i, d in enumerate(raw_del)
            ]
            size = sum(len(r.encode()) for s in additions + deletions for r in s["rrdatas"])
            if size > self.quota["totalRrdataSizePerChange"]:
                raise DnsApiError(
                    403,
                    "quotaExceeded",
                    "The change would exceed quota for rrdata size per change.",
                )
            after = dict(zone.rrsets)
            problems: list[tuple[int, str, str]] = []
            for i, old in enumerate(deletions):
                key = (old["name"], old["type"])
                where = f"entity.change.deletions[{i}]"
                live = after.get(key)
                if live is None:
                    named = f"named '{key[0]} ({key[1]})'"
                    problems.append(
                        (404, "notFound", f"The '{where}' resource {named} does not exist.")
                    )
                elif live["ttl"] != old["ttl"] or Counter(live["rrdatas"]) != Counter(
                    old["rrdatas"]
                ):
                    problems.append((412, "conditionNotMet", f"Precondition not met for '{where}'"))
                else:
                    del after[key]
            if problems:
                raise DnsApiError.first_of(problems)
            for i, new in enumerate(additions):
                key = (new["name"], new["type"])
                where = f"entity.change.additions[{i}]"
                if key in after:
                    named = f"named '{key[0]} ({key[1]})'"
                    problems.append(
                        (409, "alreadyExists", f"The resource '{where}' {named} already exists")
                    )
                    continue
                types = {t for t in RRSET_TYPES if (new["name"], t) in after}
                if types and ("CNAME" in types or new["type"] == "CNAME"):
                    raise DnsApiError(
                        400,
                        "cnameResourceRecordSetConflict",
                        f"The resource record set '{where}' is invalid because the DNS name "
                        f"'{key[0]}' may have either one CNAME resource record set or resource "
                        "record sets of other types, but not both.",
                    )
                after[key] = new
            if problems:
                raise DnsApiError.first_of(problems)
            for rtype in ("SOA", "NS"):
                if (zone.dns_name, rtype) not in after:
                    raise DnsApiError(
                        400,
                        "invalid",
                        f"The change would remove the apex {rtype} of '{zone.dns_name}'",
                    )
            if len(after) > self.quota["rrsetsPerManagedZone"]:
                raise DnsApiError(
                    403, "quotaExceeded", "The change would exceed quota for rrsets per zone."
                )
            zone.rrsets = after
            change_id = str(len(zone.changes))
            timed = self.pending_seconds is not None
            pending = not done and (
                self.pending_gets > 0 if not timed else bool(self.pending_seconds)
            )
            change = self._change_resource(
                change_id, additions, deletions, "pending" if pending else "done"
            )
            zone.changes.append(change)
            if timed:
                zone.done_at[change_id] = time.monotonic() + (self.pending_seconds or 0.0)
            zone.gets_left[change_id] = self.pending_gets if pending and not timed else 0
            return copy.deepcopy(change)

    def get_change(self, project: str, zone_name: str, change_id: str) -> dict[str, Any]:
        """The change; each GET spends one of its `pending` answers."""
        with self.lock:
            zone = self.zone(project, zone_name)
            if not change_id.isdigit() or int(change_id) >= len(zone.changes):
                raise DnsApiError(
                    404,
                    "notFound",
                    f"The 'parameters.changeId' resource named '{change_id}' does not exist.",
                )
            change = zone.changes[int(change_id)]
            left = zone.gets_left.get(change_id, 0)
            if change_id in zone.done_at:
                if time.monotonic() >= zone.done_at[change_id]:
                    change["status"] = "done"
            elif left > 0:
                zone.gets_left[change_id] = left - 1
            else:
                change["status"] = "done"
            return copy.deepcopy(change)

    def list_changes(self, project: str, zone_name: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.zone(project, zone_name).changes)
